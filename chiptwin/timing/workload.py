"""Workloads: when inferences arrive, behind the small :class:`Workload` protocol.

A workload answers one question, ``arrivals_ns(start_ns, stop_ns)``: the arrival times in
``[start_ns, stop_ns)`` as a sorted ``int64`` numpy array of run-clock nanoseconds. Engines ask window by
window, so a day of traffic never sits in memory at once, and the answer for a window does not depend
on which windows were asked before (random workloads draw per fixed epoch, each epoch from its own
generator ``numpy.random.default_rng(derive_seed(seed, "workload", <kind>, epoch))``; a Poisson epoch
holds about 10,000 expected arrivals, a bursty one is one on/off cycle).

Replays take the arrival times as a numpy array (:class:`ReplayWorkload`). :func:`load_arrivals_csv`
reads a CSV file; a Parquet file is read by the caller (the timing layer does not import pyarrow: the
command line and the scenario layer read the column with pyarrow and hand the array over).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from chiptwin.errors import TimingError
from chiptwin.files import read_text
from chiptwin.limits import MAX_AGE_S
from chiptwin.seeding import derive_seed
from chiptwin.units import NS_PER_S

__all__ = [
    "ARRIVAL_COLUMNS",
    "BurstyWorkload",
    "PeriodicWorkload",
    "PoissonWorkload",
    "ReplayWorkload",
    "Workload",
    "arrivals_from_seconds",
    "check_arrivals",
    "default_epoch_ns",
    "load_arrivals_csv",
]

ARRIVAL_COLUMNS = ("arrival_ns", "arrival_s")
"""Accepted replay columns: integer nanoseconds, or seconds (rounded to the nearest ns)."""


class Workload(Protocol):
    """Arrival times of inferences on the run clock."""

    def arrivals_ns(self, start_ns: int, stop_ns: int) -> np.ndarray:
        """Sorted ``int64`` arrival times ``t`` with ``start_ns <= t < stop_ns``, ns."""
        ...


def _window(start_ns: int, stop_ns: int) -> None:
    if not 0 <= start_ns <= stop_ns:
        raise TimingError(f"arrival window [{start_ns}, {stop_ns}) ns must satisfy 0 <= start <= stop")


def _rate(rate_per_s: float) -> float:
    if not (math.isfinite(rate_per_s) and rate_per_s > 0):
        raise TimingError(f"rate_per_s(={rate_per_s!r}) must be a finite number > 0")
    return float(rate_per_s)


class PeriodicWorkload:
    """One arrival every ``1 / rate_per_s``: at ``phase_ns + floor(k * 1e9 / rate_per_s)``, k = 0, 1, ...

    Integer rates are computed in integer arithmetic (exact over any horizon); other rates in float64
    (exact to the ns for about 100 days of device time).
    """

    def __init__(self, rate_per_s: float, *, phase_ns: int = 0) -> None:
        """Args: rate_per_s: arrivals per second (> 0); phase_ns: time of the first arrival (>= 0).

        Raises:
            TimingError: a rate that is not > 0, or a negative phase.
        """
        self.rate_per_s = _rate(rate_per_s)
        if phase_ns < 0:
            raise TimingError(f"phase_ns(={phase_ns}) must be >= 0")
        self.phase_ns = int(phase_ns)
        self.period_ns = NS_PER_S / self.rate_per_s

    def _times(self, k: np.ndarray) -> np.ndarray:
        rate = self.rate_per_s
        if rate.is_integer() and k.size and int(k[-1]) * rate < 2**62:
            q, r = divmod(NS_PER_S, int(rate))  # floor(k * 1e9 / rate) = k * q + floor(k * r / rate)
            return self.phase_ns + k * q + (k * r) // int(rate)
        return self.phase_ns + np.floor(k.astype(np.float64) * self.period_ns).astype(np.int64)

    def times_of(self, k: np.ndarray) -> np.ndarray:
        """Times of arrivals number ``k`` (sorted int64, from 0), ns."""
        return self._times(np.asarray(k, dtype=np.int64))

    def count_before_ns(self, times_ns: np.ndarray) -> np.ndarray:
        """How many arrivals come before each of ``times_ns`` (sorted int64 ns): the arrival indices at
        those times, exact (a float estimate corrected against :meth:`times_of`)."""
        x = np.asarray(times_ns, dtype=np.int64)
        k = np.maximum(0, np.ceil((x - self.phase_ns) / self.period_ns)).astype(np.int64)
        for _ in range(3):  # the estimate is off by one at most; the loop makes sure
            k += self._times(k) < x
            k -= (k > 0) & (self._times(np.maximum(k - 1, 0)) >= x)
        return k

    def arrivals_ns(self, start_ns: int, stop_ns: int) -> np.ndarray:
        """Arrivals in ``[start_ns, stop_ns)`` (protocol)."""
        _window(start_ns, stop_ns)
        lo = max(0, math.floor((start_ns - self.phase_ns) / self.period_ns) - 1)
        hi = max(0, math.ceil((stop_ns - self.phase_ns) / self.period_ns) + 1)
        times = self._times(np.arange(lo, hi, dtype=np.int64))
        return times[(times >= start_ns) & (times < stop_ns)]


def _poisson_times(rng: np.random.Generator, rate_per_s: float, span_ns: int) -> np.ndarray:
    """Arrival times in ``[0, span_ns)`` of a Poisson process (cumulated exponential gaps), int64 ns."""
    gap_ns = NS_PER_S / rate_per_s
    expected = span_ns / gap_ns
    parts, t = [], 0.0
    while t < span_ns:  # usually one draw: the expected count plus six standard deviations
        times = t + np.cumsum(rng.exponential(gap_ns, int((span_ns - t) / gap_ns + 6 * expected**0.5 + 16)))
        parts.append(times)
        t = float(times[-1])
    times = np.concatenate(parts) if parts else np.empty(0)
    return np.floor(times[times < span_ns]).astype(np.int64)


class _Epochs:
    """Draws a random workload one fixed epoch at a time, each from its own generator, keeping the
    last epoch (engines ask for consecutive windows, often several per epoch).

    ``draw(rng)`` gives one epoch's arrival times relative to its start (sorted int64 ns).
    """

    def __init__(
        self, seed: int, kind: str, epoch_ns: int, draw: Callable[[np.random.Generator], np.ndarray]
    ) -> None:
        self.seed, self.kind, self.epoch_ns, self.draw = seed, kind, epoch_ns, draw
        self._last: tuple[int, np.ndarray] = (-1, np.empty(0, dtype=np.int64))

    def epoch(self, e: int) -> np.ndarray:
        if self._last[0] != e:
            rng = np.random.default_rng(derive_seed(self.seed, "workload", self.kind, e))
            self._last = (e, e * self.epoch_ns + self.draw(rng))
        return self._last[1]

    def window(self, start_ns: int, stop_ns: int) -> np.ndarray:
        _window(start_ns, stop_ns)
        if start_ns == stop_ns:
            return np.empty(0, dtype=np.int64)
        first, last = start_ns // self.epoch_ns, (stop_ns - 1) // self.epoch_ns
        parts = [self.epoch(e) for e in range(first, last + 1)]
        times = parts[0] if len(parts) == 1 else np.concatenate(parts)
        lo, hi = np.searchsorted(times, [start_ns, stop_ns], side="left")
        return times[lo:hi]


def default_epoch_ns(rate_per_s: float) -> int:
    """Epoch of a random workload: about 10,000 expected arrivals, between 1 ms and 100 s."""
    return int(min(max(1e4 / rate_per_s, 1e-3), 100.0) * NS_PER_S)


class PoissonWorkload:
    """A Poisson process of ``rate_per_s``: exponential gaps, restarted at each epoch (memoryless)."""

    def __init__(self, rate_per_s: float, *, seed: int, epoch_ns: int | None = None) -> None:
        """Args: rate_per_s: mean arrivals per second (> 0); seed: run seed; epoch_ns: draw unit (> 0;
        default :func:`default_epoch_ns`).

        Raises:
            TimingError: a rate that is not > 0, or an epoch that is not > 0.
        """
        self.rate_per_s = _rate(rate_per_s)
        epoch = default_epoch_ns(self.rate_per_s) if epoch_ns is None else epoch_ns
        if epoch <= 0:
            raise TimingError(f"epoch_ns(={epoch_ns}) must be > 0")
        self.seed, self.epoch_ns = int(seed), int(epoch)
        self._epochs = _Epochs(
            self.seed,
            "poisson",
            self.epoch_ns,
            lambda rng: _poisson_times(rng, self.rate_per_s, self.epoch_ns),
        )

    def arrivals_ns(self, start_ns: int, stop_ns: int) -> np.ndarray:
        """Arrivals in ``[start_ns, stop_ns)`` (protocol)."""
        return self._epochs.window(start_ns, stop_ns)


class BurstyWorkload:
    """On/off traffic: Poisson arrivals at ``rate_per_s`` during ``on_s``, none during ``off_s``, repeated.

    The duty cycle is ``on_s / (on_s + off_s)``; cycle ``k`` is on during
    ``[k * cycle, k * cycle + on)`` ns and draws from its own generator.
    """

    def __init__(self, rate_per_s: float, *, on_s: float, off_s: float, seed: int) -> None:
        """Raises: TimingError: a rate that is not > 0, an on time that is not > 0, or a negative off time."""
        self.rate_per_s = _rate(rate_per_s)
        if not (math.isfinite(on_s) and on_s > 0):
            raise TimingError(f"on_s(={on_s!r}) must be a finite number > 0")
        if not (math.isfinite(off_s) and off_s >= 0):
            raise TimingError(f"off_s(={off_s!r}) must be a finite number >= 0")
        self.on_ns = round(on_s * NS_PER_S)
        if self.on_ns < 1:
            raise TimingError(f"on_s(={on_s!r}) must be at least 1 ns")
        self.cycle_ns = self.on_ns + round(off_s * NS_PER_S)
        self.seed = int(seed)
        self._epochs = _Epochs(
            self.seed, "bursty", self.cycle_ns, lambda rng: _poisson_times(rng, self.rate_per_s, self.on_ns)
        )

    @property
    def duty_cycle(self) -> float:
        """Fraction of time the source is on."""
        return self.on_ns / self.cycle_ns

    def arrivals_ns(self, start_ns: int, stop_ns: int) -> np.ndarray:
        """Arrivals in ``[start_ns, stop_ns)`` (protocol)."""
        return self._epochs.window(start_ns, stop_ns)


_LATEST_NS = int(MAX_AGE_S * NS_PER_S)
"""Latest arrival time, ns: :data:`~chiptwin.limits.MAX_AGE_S` on the run clock."""


def check_arrivals(times: np.ndarray, source: str = "arrivals") -> np.ndarray:
    """``times`` as a read-only sorted int64 array of ns, checked.

    Raises:
        TimingError: not one-dimensional, not integer ns, negative, later than
            :data:`~chiptwin.limits.MAX_AGE_S`, or not sorted; the message names ``source``, the first
            offending arrival (counted from 1) and its value.
    """
    arr = np.asarray(times)
    if arr.ndim != 1:
        raise TimingError(f"{source}: arrival times must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TimingError(f"{source}: arrival times must be integer ns, got dtype {arr.dtype}")
    if arr.size and np.issubdtype(arr.dtype, np.unsignedinteger) and int(arr.max()) > _LATEST_NS:
        i = int(np.argmax(arr))  # before the cast to int64 would wrap it
        raise TimingError(f"{source}: arrival {i + 1} (={int(arr[i])} ns) must be <= {_LATEST_NS} ns")
    arr = arr.astype(np.int64, copy=True)
    if arr.size and (bad := np.flatnonzero((arr < 0) | (arr > _LATEST_NS))).size:
        i = int(bad[0])
        raise TimingError(f"{source}: arrival {i + 1} (={arr[i]} ns) must be in 0..{_LATEST_NS} ns")
    if arr.size > 1 and (bad := np.flatnonzero(np.diff(arr) < 0)).size:
        i = bad[0] + 1
        raise TimingError(
            f"{source}: arrival times must be sorted; arrival {i + 1} (={arr[i]} ns) comes before "
            f"arrival {i} (={arr[i - 1]} ns)"
        )
    arr.flags.writeable = False
    return arr


def arrivals_from_seconds(seconds: np.ndarray, source: str = "arrivals") -> np.ndarray:
    """Arrival times given in seconds as int64 ns (rounded to the nearest ns), checked while they are
    still floats: a NaN, an infinity or 1e300 s would not survive the cast (NaN became
    -9223372036854775808 ns, with a numpy warning first).

    Raises:
        TimingError: a time that is not finite or not in ``0..MAX_AGE_S`` s (the first one named, counted
            from 1); then as :func:`check_arrivals`.
    """
    s = np.asarray(seconds, dtype=np.float64)
    if s.ndim == 1 and (bad := np.flatnonzero(~(np.isfinite(s) & (s >= 0) & (s <= MAX_AGE_S)))).size:
        i = int(bad[0])
        value = float(s[i])
        raise TimingError(f"{source}: arrival {i + 1} (arrival_s={value!r}) must be in 0..{MAX_AGE_S:g} s")
    return check_arrivals(np.round(s * NS_PER_S).astype(np.int64), source)


class ReplayWorkload:
    """Replay of recorded arrival times (a numpy array of int64 ns, sorted)."""

    def __init__(self, arrivals_ns: np.ndarray, *, source: str = "replay") -> None:
        """Raises: TimingError: see :func:`check_arrivals`."""
        self.times = check_arrivals(arrivals_ns, source)
        self.source = source

    @property
    def end_ns(self) -> int:
        """One ns after the last arrival (0 for an empty replay): the natural duration of a run."""
        return int(self.times[-1]) + 1 if self.times.size else 0

    def arrivals_ns(self, start_ns: int, stop_ns: int) -> np.ndarray:
        """Arrivals in ``[start_ns, stop_ns)`` (protocol)."""
        _window(start_ns, stop_ns)
        lo, hi = np.searchsorted(self.times, [start_ns, stop_ns], side="left")
        return self.times[lo:hi]


def load_arrivals_csv(path: str | Path) -> np.ndarray:
    """Arrival times from a CSV file with a header naming one of :data:`ARRIVAL_COLUMNS`.

    ``arrival_ns`` holds integers; ``arrival_s`` holds seconds (rounded to the nearest ns). Other
    columns are ignored. Returns a sorted int64 array of ns (see :func:`check_arrivals`).

    Raises:
        TimingError: missing file, no header or no arrival column, a value that is not a number (with its
            line), or arrivals that are negative or unsorted.
    """
    path = Path(path)
    text = read_text(path, "replay file", TimingError)
    reader = csv.reader(text.splitlines())
    header = [h.strip() for h in next(reader, [])]
    column = next((c for c in ARRIVAL_COLUMNS if c in header), None)
    if column is None:
        raise TimingError(f"{path}: header {header!r} has no column {' or '.join(ARRIVAL_COLUMNS)}")
    at = header.index(column)
    values: list[int] = []
    for line, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        cell = row[at].strip() if at < len(row) else ""
        try:
            if column == "arrival_ns":
                value = int(cell)
                if not 0 <= value <= _LATEST_NS:
                    raise ValueError(cell)
                values.append(value)
            else:
                seconds = float(cell)
                if not (math.isfinite(seconds) and 0 <= seconds <= MAX_AGE_S):
                    raise ValueError(cell)
                values.append(round(seconds * NS_PER_S))
        except ValueError:
            kind = f"an integer in 0..{_LATEST_NS}" if column == "arrival_ns" else f"in 0..{MAX_AGE_S:g}"
            kind = kind if column == "arrival_ns" else f"a number {kind}"
            raise TimingError(f"{path}:{line}: {column}(={cell!r}) must be {kind}") from None
    return check_arrivals(np.array(values, dtype=np.int64), str(path))
