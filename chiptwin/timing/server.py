"""A FIFO resource of capacity one whose holders know their holding time: the chip's crossbars, ADC
banks, digital units and mesh links.

Every activity of the twin knows how long it will hold its resource when it asks for it (the durations
come from the spec, see :mod:`chiptwin.timing.plan`), so first-come-first-served queueing needs no queue:
the grant time is ``max(now, free_at_ns)`` and the resource is then busy until ``grant + duration``.
For one resource this is exactly ``simpy.Resource(env, capacity=1)`` used as
``with res.request() as req: yield req; yield env.timeout(duration)`` (requests made at the same instant
are served in the order they were made, as in SimPy; ``tests/timing/test_timing_server.py`` checks the
grant times against ``simpy.Resource``), but it costs one SimPy event per holding (the process's
timeout) instead of three (request, timeout, release), which is what lets a day of traffic run.

An activity needing several resources at once (a transfer over every link of its route, an MVM on the
crossbar and its ADCs) reserves them together: it starts when all are free and holds all for its
duration (for links: a circuit over the whole route, deadlock-free by construction).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from chiptwin.errors import TimingError

__all__ = ["Server", "ceil_ns", "reserve"]


def ceil_ns(value: float) -> int:
    """The smallest whole ns not below ``value`` (ns).

    The value is rounded to 1e-6 ns first so that float noise (``130.00000000000003``) does not add a
    nanosecond. Every duration of the twin is rounded up this way, once per activity.

    Raises:
        TimingError: ``value`` is negative or not finite.
    """
    if not (value >= 0 and math.isfinite(value)):
        raise TimingError(f"duration(={value!r} ns) must be finite and >= 0")
    return math.ceil(round(value, 6))


class Server:
    """One FIFO resource of capacity one (module docstring)."""

    __slots__ = ("busy_ns", "free_at_ns", "name")

    def __init__(self, name: str, free_at_ns: int = 0) -> None:
        self.name = name
        """Resource name, e.g. ``crossbar 3`` or ``link 3->4``."""

        self.free_at_ns = free_at_ns
        """When the last holder granted so far releases it, ns."""

        self.busy_ns = 0
        """Total holding time granted so far, ns."""

    def reserve(self, now_ns: int, duration_ns: int) -> int:
        """Queue a holder asking at ``now_ns`` for ``duration_ns``; returns its start time, ns."""
        start = self.free_at_ns if self.free_at_ns > now_ns else now_ns
        self.free_at_ns = start + duration_ns
        self.busy_ns += duration_ns
        return start

    def __repr__(self) -> str:
        return f"Server({self.name!r}, free_at_ns={self.free_at_ns})"


def reserve(servers: Sequence[Server], now_ns: int, duration_ns: int) -> int:
    """Hold every server of ``servers`` together for ``duration_ns``; returns the common start, ns."""
    start = now_ns
    for s in servers:
        if s.free_at_ns > start:
            start = s.free_at_ns
    stop = start + duration_ns
    for s in servers:
        s.free_at_ns = stop
        s.busy_ns += duration_ns
    return start
