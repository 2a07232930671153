"""Unit constants.

Code is SI (seconds, joules, watts) unless a name says otherwise with a suffix: ``_ns``, ``_ps``,
``_pj``, ``_fj``, ``_mw``, ``_us`` (microseconds). Conductances are in microsiemens (µS), because PCM
papers state every device constant in µS, and say so with the suffix ``_usiemens`` (``g_max_usiemens``):
``_us`` is only ever microseconds.

The one way an energy and a count are printed lives here too: :func:`format_energy` (a unit per value)
and :func:`energy_unit` (one unit for a whole table or axis), :func:`plural` (``1 tile``, ``2 tiles``).
"""

from __future__ import annotations

__all__ = [
    "BITS_PER_BYTE",
    "ENERGY_UNITS",
    "FJ_PER_PJ",
    "NS_PER_S",
    "PJ_PER_J",
    "PS_PER_NS",
    "SECONDS_PER_DAY",
    "SECONDS_PER_HOUR",
    "SECONDS_PER_YEAR",
    "energy_unit",
    "format_energy",
    "plural",
]

NS_PER_S = 1_000_000_000
"""Nanoseconds per second (the SimPy clock counts integer nanoseconds)."""

PS_PER_NS = 1_000
"""Picoseconds per nanosecond."""

PJ_PER_J = 1e12
"""Picojoules per joule."""

FJ_PER_PJ = 1e3
"""Femtojoules per picojoule."""

SECONDS_PER_HOUR = 3_600.0
SECONDS_PER_DAY = 86_400.0
SECONDS_PER_YEAR = 365.0 * SECONDS_PER_DAY

BITS_PER_BYTE = 8


ENERGY_UNITS = (("J", 1e12), ("mJ", 1e9), ("µJ", 1e6), ("nJ", 1e3), ("pJ", 1.0))
"""Energy units and the picojoules in one of each, largest first."""


def energy_unit(largest_pj: float) -> tuple[str, float]:
    """The unit (and pJ in one of it) in which ``largest_pj`` reads at least 1: one unit for a whole table
    column or chart axis, chosen from its largest value.

    >>> energy_unit(2.5e6), energy_unit(0.2)
    (('µJ', 1000000.0), ('pJ', 1.0))
    """
    for unit, scale in ENERGY_UNITS:
        if abs(largest_pj) >= scale:
            return unit, scale
    return "pJ", 1.0


def format_energy(pj: float, *, digits: int = 3) -> str:
    """An energy given in pJ, in the largest unit (pJ ... J) in which it reads at least 1, ``digits``
    significant digits.

    >>> [format_energy(e) for e in (0.5, 999.96, 1234.0, 2.5e6)]
    ['0.5 pJ', '1 nJ', '1.23 nJ', '2.5 µJ']
    """
    for unit, scale in ENERGY_UNITS:
        text = f"{pj / scale:.{digits}g}"
        if abs(float(text)) >= 1.0 or scale == 1.0:
            return f"{text} {unit}"
    raise AssertionError("unreachable: the pJ unit always matches")


def plural(count: float, noun: str, nouns: str | None = None) -> str:
    """``count`` and ``noun``, the noun in the plural unless the count is exactly one (``nouns``: an
    irregular plural; default ``noun + "s"``). Integers print with thousands separators.

    >>> plural(1, "tile"), plural(2, "tile"), plural(0, "seed"), plural(1_000, "image")
    ('1 tile', '2 tiles', '0 seeds', '1,000 images')
    >>> plural(2, "pass", "passes"), plural(2.5, "pass", "passes")
    ('2 passes', '2.5 passes')
    """
    number = f"{int(count):,}" if float(count).is_integer() else f"{count:.3g}"
    return f"{number} {noun if count == 1 else (nouns or noun + 's')}"
