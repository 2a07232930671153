"""Unit constants.

Code is SI (seconds, joules, watts) unless a name says otherwise with a suffix: ``_ns``, ``_ps``,
``_pj``, ``_fj``, ``_mw``, ``_us`` (microseconds). Conductances are in microsiemens (µS), because PCM
papers state every device constant in µS, and say so with the suffix ``_usiemens`` (``g_max_usiemens``):
``_us`` is only ever microseconds.
"""

from __future__ import annotations

__all__ = [
    "BITS_PER_BYTE",
    "FJ_PER_PJ",
    "NS_PER_S",
    "PJ_PER_J",
    "PS_PER_NS",
    "SECONDS_PER_DAY",
    "SECONDS_PER_HOUR",
    "SECONDS_PER_YEAR",
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
