"""The one duration grammar of chiptwin, and the one way an age is printed.

A duration is a non-negative decimal number and an optional unit, with optional spaces between:
``250ms``, ``1.5 h``, ``2e3us``, ``20`` (a bare number is seconds). Units:

==========  =================================================
``ns``      nanosecond
``us``      microsecond (``µs`` is accepted too)
``ms``      millisecond
``s``       second
``min``     minute (60 s)
``h``       hour (3,600 s)
``d``       day (86,400 s)
``y``       year of 365 days = 31,536,000 s (:data:`chiptwin.units.SECONDS_PER_YEAR`)
==========  =================================================

The number is read exactly (as a fraction), so ``1.5h`` is 5,400 s and ``1y`` is exactly
31,536,000,000,000,000 ns. ``m`` is refused: minute or milli? Write ``min`` or ``ms``.

:func:`format_age` prints what :func:`parse_duration_s` reads: ``1.5 min``, ``1 d``.

    >>> parse_duration_ns("250ms"), parse_duration_s("1.5h"), format_age(parse_duration_s("1y"))
    (250000000, 5400.0, '1 y')
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from chiptwin.errors import DataError, SpecError
from chiptwin.units import NS_PER_S, SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_YEAR

__all__ = [
    "MAX_DURATION_NS",
    "NS_PER_UNIT",
    "format_age",
    "format_time_ns",
    "parse_duration_ns",
    "parse_duration_s",
    "time_unit",
]

NS_PER_UNIT: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": NS_PER_S,
    "min": 60 * NS_PER_S,
    "h": int(SECONDS_PER_HOUR) * NS_PER_S,
    "d": int(SECONDS_PER_DAY) * NS_PER_S,
    "y": int(SECONDS_PER_YEAR) * NS_PER_S,
}
"""Nanoseconds in one of each unit of the grammar (a year is 365 days)."""

MAX_DURATION_NS = 2**63 - 1
"""The longest duration, ns (~292 years): the range of the int64 clock columns of the trace."""

_GRAMMAR = re.compile(r"\s*(?P<number>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(?P<unit>[a-zµ]*)\s*")
_UNIT_LIST = ", ".join(dict.fromkeys(NS_PER_UNIT))

_AGE_UNITS = (("y", SECONDS_PER_YEAR), ("d", SECONDS_PER_DAY), ("h", SECONDS_PER_HOUR), ("min", 60.0))


def _parse_ns(text: str, name: str) -> Fraction:
    """``text`` as an exact, non-negative number of nanoseconds (not yet rounded)."""
    match = _GRAMMAR.fullmatch(text)
    if match is None or match["unit"] not in {"", *NS_PER_UNIT}:
        if text.strip().startswith("-"):
            raise SpecError(f"{name}(={text!r}) must not be negative")
        if match is not None and match["unit"] == "m":
            raise SpecError(f"{name}(={text!r}): unit 'm' is ambiguous; write min (minutes) or ms")
        raise SpecError(
            f"{name}(={text!r}) must be a number and a unit ({_UNIT_LIST}; a bare number is seconds), "
            "e.g. 250ms or 1.5h"
        )
    scale = NS_PER_UNIT[match["unit"] or "s"]
    # Screen with a float first: an exact Fraction of "1e999999999" would take minutes to build.
    rough = float(match["number"]) * scale
    if rough > MAX_DURATION_NS:
        raise SpecError(f"{name}(={text!r}) must be at most {MAX_DURATION_NS:,} ns (~292 y)")
    if rough == 0.0:
        return Fraction(0)
    ns = Fraction(match["number"]) * scale
    if ns > MAX_DURATION_NS:
        raise SpecError(f"{name}(={text!r}) must be at most {MAX_DURATION_NS:,} ns (~292 y)")
    return ns


def parse_duration_ns(text: str, *, name: str = "duration") -> int:
    """A duration of the grammar above as whole nanoseconds (the SimPy clock's unit), rounded to nearest.

    Args:
        text: e.g. ``"250ms"``, ``"1.5h"``, ``"1y"``, ``"20"`` (seconds).
        name: what the value is, for the error message (``"duration"``, ``"--period"``).

    Raises:
        SpecError: ``text`` is empty, negative, not finite, not a number, has an unknown unit or is
            longer than :data:`MAX_DURATION_NS`; the message names ``name`` and ``text``.

    >>> parse_duration_ns("1.5h"), parse_duration_ns("500 µs"), parse_duration_ns("2")
    (5400000000000, 500000, 2000000000)
    """
    return round(_parse_ns(text, name))


def parse_duration_s(text: str, *, name: str = "duration") -> float:
    """A duration of the grammar above in seconds (a device age, a period).

    Sub-nanosecond parts are kept (``"0.1ns"`` is 1e-10 s), unlike :func:`parse_duration_ns`.

    Raises:
        SpecError: as :func:`parse_duration_ns`.

    >>> parse_duration_s("1.5h"), parse_duration_s("1y"), parse_duration_s("20")
    (5400.0, 31536000.0, 20.0)
    """
    return float(_parse_ns(text, name) / NS_PER_S)


def format_age(seconds: float) -> str:
    """A device age in the largest unit (min, h, d, y) in which it reads at least 1, else seconds.

    One rule in every unit, so the ages of a table read alike: whole numbers from 10 (``20 s``, ``30 d``),
    one decimal below (``1.5 h``) with no trailing zero (``1 h``, not ``1.0 h``), three significant digits
    below 1 s. The text is itself a duration of the grammar above.

    >>> [format_age(s) for s in (0.5, 1, 16, 90, 3600, 5400, 86400, 3.15e7)]
    ['0.5 s', '1 s', '16 s', '1.5 min', '1 h', '1.5 h', '1 d', '1 y']

    Raises:
        DataError: ``seconds`` is negative or not finite (a trace or result with such an age is corrupt).
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise DataError(f"device age(={seconds!r} s) must be finite and >= 0")
    for unit, scale in _AGE_UNITS:
        if float(f"{seconds / scale:.1f}") >= 1.0:
            return f"{_number(seconds / scale)} {unit}"
    return f"{_number(seconds) if seconds >= 1.0 else f'{seconds:.3g}'} s"


def _number(value: float) -> str:
    """``value`` (at least 1) whole from 10, else with one decimal, no trailing zero."""
    if round(value, 1) >= 10:
        return f"{value:.0f}"
    return f"{value:.1f}".removesuffix(".0")


_TIME_UNITS = (("s", 1e9), ("ms", 1e6), ("µs", 1e3), ("ns", 1.0))


def time_unit(largest_ns: float) -> tuple[str, float]:
    """The unit (and ns in one of it) in which ``largest_ns`` reads at least 1: one unit for a table row
    or an axis of spans.

    >>> time_unit(1_882_000), time_unit(12.0)
    (('ms', 1000000.0), ('ns', 1.0))
    """
    return next((u, s) for u, s in _TIME_UNITS if abs(largest_ns) >= s or s == 1.0)


def format_time_ns(ns: float) -> str:
    """A short span of the run clock (a latency, a stage, a window) given in ns, in the largest of s, ms,
    µs and ns in which it reads at least 1 (:func:`time_unit`), four significant digits; text of the
    grammar above.

    >>> [format_time_ns(t) for t in (131.1, 7_653_000, 6.98e9, 0)]
    ['131.1 ns', '7.653 ms', '6.98 s', '0 ns']
    """
    unit, scale = time_unit(ns)
    return f"{ns / scale:.4g} {unit}"
