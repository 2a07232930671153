"""Quiet stretches of traffic served without a job at a time: what keeps a year of batched timing in seconds.

The batched engine (:mod:`chiptwin.timing.batched`) serves jobs one numpy element each, so its wall time
grows linearly with the horizon: about 50 ns per arrival (a year at 100 images/s is 3.2e9 arrivals, a
few minutes). Between compensation passes nothing but user traffic reaches the pipeline, and there the
queue of the pipeline formula (a single server: service ``B``, the bottleneck; latency ``F + wait``) can
be served by the *piece* (a stretch of the run cut at the chunk and utilisation-window edges): what the
engine books per piece is its job count, its first entry, its last exit, and the sum, minimum and
maximum of the latencies. A stretch starts on an empty pipeline (the engine serves chunks one job at a
time until it is) and ends where the next compensation job's chunk begins.

**Periodic traffic** (gaps of at least ``B``): a job that finds the pipeline empty leaves it empty for
the next, so every job of the stretch waits 0 and the pieces follow from the arrival indices alone
(:meth:`~chiptwin.timing.workload.PeriodicWorkload.count_before_ns`): the same numbers as serving every
job, to the nanosecond.

**Poisson traffic** at load ``rho = rate * B`` (at most :data:`MAX_LOAD`): the queue is an M/D/1 queue
and its busy periods are independent. A busy period is a *singleton* (one job, no arrival during its
service ``B``) with probability ``exp(-rho)``; the stretch is drawn as *runs*, each a geometric number
``R`` of singletons (waits 0, their ``R`` idle gaps drawn as one Gamma(R) sum: gaps of a Poisson process),
an idle gap, and one busy period of two or more jobs, drawn job by job (the first gap conditioned below
``B``, then exponential gaps while the pipeline is still busy; by memorylessness a gap that ends the
busy period is drawn afresh as the next idle time). Runs crossing a piece edge (and the next one, where
the edge falls after the run's last job) have their singletons placed one by one (the gaps given their
Gamma sum are a Dirichlet split), so every piece's first and last job is explicit. This is the same
process as the engine's arrivals (a Poisson process restarted at the stretch's start, memoryless),
another draw of it: counts, latencies and maxima have the same distributions, not the same values
(``tests/timing/test_timing_aggregate.py`` compares them with the exact engine). Its cost grows with
the number of busy periods of two or more jobs, ``rate * (1 - exp(-rho))`` per second: at 100 images/s
and ``B`` = 131 us, 1.3 per second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from chiptwin.seeding import derive_seed
from chiptwin.timing.workload import PeriodicWorkload, PoissonWorkload
from chiptwin.units import NS_PER_S

__all__ = ["MAX_LOAD", "Pieces", "periodic_pieces", "poisson_pieces"]

MAX_LOAD = 0.5
"""Poisson stretches are aggregated up to this load ``rate * B`` (assumed: above it busy periods grow long,
drawing them job by job saves little, and near 1 the queue never empties)."""

_RUNS_PER_DRAW = 1 << 20
"""Runs drawn per numpy pass (bounds the memory of one pass)."""


@dataclass(frozen=True, slots=True)
class Pieces:
    """Per piece ``[edges[i], edges[i + 1])`` of a stretch: what the user jobs arriving in it did."""

    edges: np.ndarray
    """Piece edges, int64 ns (the stretch's start first, its end last)."""

    count: np.ndarray
    first_entry: np.ndarray
    """Pipeline entry of the piece's first job (undefined where ``count`` is 0)."""

    last_exit: np.ndarray
    """Exit of its last job (the latest: entries and the fill are both in arrival order)."""

    latency_sum: np.ndarray
    latency_min: np.ndarray
    latency_max: np.ndarray
    free_ns: int
    """When the pipeline takes the next job after the stretch."""

    latencies: tuple[np.ndarray, np.ndarray]
    """Every latency of the stretch and how many jobs had it (for the percentiles)."""


def periodic_pieces(
    workload: PeriodicWorkload, edges: np.ndarray, service_ns: int, fill_ns: int, free_ns: int
) -> Pieces | None:
    """The pieces of a periodic stretch, exactly; None where a job could wait (a gap below ``B``, or the
    pipeline still busy at the stretch's start)."""
    if free_ns > int(edges[0]) or math.floor(workload.period_ns) - 1 < service_ns:
        return None
    k = workload.count_before_ns(edges)
    count = np.diff(k)
    has = count > 0
    first = np.where(has, workload.times_of(k[:-1]), 0)
    last = np.where(has, workload.times_of(np.maximum(k[1:] - 1, 0)), 0)
    latency = np.where(has, fill_ns, 0)
    free = int(last[has][-1]) + service_ns if has.any() else free_ns
    jobs = np.array([int(count.sum())], dtype=np.int64)
    return Pieces(
        edges,
        count,
        first,
        last + latency,
        count * fill_ns,
        latency,
        latency,
        free,
        (jobs * 0 + fill_ns, jobs),
    )


def _truncated_exponential(rng: np.random.Generator, scale: float, below: float, n: int) -> np.ndarray:
    """``n`` exponential draws of mean ``scale`` conditioned below ``below`` (inverse CDF)."""
    return -scale * np.log1p(-rng.random(n) * -np.expm1(-below / scale))


@dataclass(frozen=True, slots=True)
class _Busy:
    """Busy periods of two or more jobs (one per run). Job ``k`` (from 0) of a period enters the pipeline
    ``k B`` after the period's first arrival, so a period is booked whole; its jobs one by one only where
    an edge cuts it (:meth:`jobs`)."""

    count: np.ndarray
    second: np.ndarray
    """Arrival offset of each period's second job from its first, ns."""

    last: np.ndarray
    """Arrival offset of its last job, ns."""

    wait_sum: np.ndarray
    wait_max: np.ndarray
    later: tuple[tuple[np.ndarray, int, np.ndarray, np.ndarray], ...]
    """Third and later jobs: (periods, job index, arrival offsets, waits) per index."""

    def take(self, keep: int, shift: int) -> _Busy:
        """The first ``keep`` periods, numbered from ``shift``."""
        later = tuple((p[p < keep] + shift, k, a[p < keep], w[p < keep]) for p, k, a, w in self.later)
        return _Busy(
            self.count[:keep], self.second[:keep], self.last[:keep], self.wait_sum[:keep],
            self.wait_max[:keep], later,
        )  # fmt: skip

    @staticmethod
    def join(parts: list[_Busy]) -> _Busy:
        count, second, last, wait_sum, wait_max = (
            np.concatenate([getattr(p, f) for p in parts]) for f in _BUSY_ARRAYS
        )
        return _Busy(count, second, last, wait_sum, wait_max, tuple(x for p in parts for x in p.later))

    def jobs(self, periods: np.ndarray, service_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every job of ``periods`` (ascending): its period, its arrival offset and its wait."""
        period = [periods, periods]
        offset = [np.zeros(periods.size, dtype=np.int64), self.second[periods]]
        wait = [np.zeros(periods.size, dtype=np.int64), service_ns - self.second[periods]]
        for p, _, a, w in self.later:
            pick = np.isin(p, periods)
            period.append(p[pick])
            offset.append(a[pick])
            wait.append(w[pick])
        all_p, all_o, all_w = (np.concatenate(x) for x in (period, offset, wait))
        order = np.lexsort((all_o, all_p))
        return all_p[order], all_o[order], all_w[order]


_BUSY_ARRAYS = ("count", "second", "last", "wait_sum", "wait_max")


def _busy_periods(rng: np.random.Generator, n: int, scale: float, service_ns: int) -> _Busy:
    """``n`` busy periods of two or more jobs (module docstring)."""
    gap = np.minimum(np.rint(_truncated_exponential(rng, scale, service_ns - 0.5, n)), service_ns - 1)
    second = gap.astype(np.int64)
    count = np.full(n, 2, dtype=np.int64)
    wait_sum = service_ns - second
    wait_max = wait_sum.copy()
    last_at = second.copy()
    later: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []
    active, last, free = np.arange(n, dtype=np.int64), second, np.full(n, 2 * service_ns, dtype=np.int64)
    k = 2
    while active.size:  # a third job and later ones: rare at low load
        at = last + np.rint(rng.exponential(scale, active.size)).astype(np.int64)
        joins = at < free
        active, at, free = active[joins], at[joins], free[joins]
        if active.size:
            w = free - at
            later.append((active, k, at, w))
            count[active] = k + 1
            wait_sum[active] += w
            np.maximum.at(wait_max, active, w)
            last_at[active] = at
        last, free = at, free + service_ns
        k += 1
    return _Busy(count, second, last_at, wait_sum, wait_max, tuple(later))


def poisson_pieces(
    workload: PoissonWorkload, edges: np.ndarray, service_ns: int, fill_ns: int, free_ns: int
) -> Pieces | None:
    """The pieces of a Poisson stretch, drawn run by run (module docstring), a span of at most
    :data:`_RUNS_PER_DRAW` expected runs at a time; None where the load is above :data:`MAX_LOAD`."""
    rate = workload.rate_per_s / NS_PER_S
    if rate * service_ns > MAX_LOAD:
        return None
    rng = np.random.default_rng(derive_seed(workload.seed, "workload", "poisson-stretch", int(edges[0])))
    span = _RUNS_PER_DRAW * _mean_run_ns(rate, service_ns)
    parts: list[Pieces] = []
    i = 0
    while i < edges.size - 1:
        j = max(i + 1, int(np.searchsorted(edges, edges[i] + span, side="right")) - 1)
        part = _poisson_span(rng, rate, edges[i : j + 1], service_ns, fill_ns, free_ns)
        parts.append(part)
        free_ns, i = part.free_ns, j
    if len(parts) == 1:
        return parts[0]
    fields = ("count", "first_entry", "last_exit", "latency_sum", "latency_min", "latency_max")
    joined = {f: np.concatenate([getattr(p, f) for p in parts]) for f in fields}
    latencies = tuple(np.concatenate([p.latencies[i] for p in parts]) for i in (0, 1))
    return Pieces(edges=edges, free_ns=free_ns, latencies=latencies, **joined)  # type: ignore[arg-type]


def _mean_run_ns(rate: float, service_ns: int) -> float:
    """Mean length of a run (singletons, an idle gap, a busy period of two or more), ns (a guide only)."""
    single = math.exp(-rate * service_ns)
    return (1.0 / (1.0 - single)) * (1.0 / rate + service_ns) + 2 * service_ns


def _carry_over(
    rng: np.random.Generator, rate: float, t0: int, free_ns: int, service_ns: int
) -> tuple[list[int], list[int], int]:
    """Arrivals from ``t0`` while the pipeline is still busy until ``free_ns``, one by one: their times
    and waits, and when the pipeline empties (the next gap, memoryless, starts afresh there)."""
    at: list[int] = []
    waits: list[int] = []
    t = t0
    while True:
        t += round(rng.exponential(1.0 / rate))
        if t >= free_ns:
            return at, waits, free_ns
        at.append(t)
        waits.append(free_ns - t)
        free_ns += service_ns


def _poisson_span(
    rng: np.random.Generator, rate: float, edges: np.ndarray, service_ns: int, fill_ns: int, free_ns: int
) -> Pieces:
    """One span of :func:`poisson_pieces`: the pipeline may still be busy at its start (``free_ns``)."""
    t0, t1 = int(edges[0]), int(edges[-1])
    carried_at: list[int] = []
    carried_wait: list[int] = []
    if free_ns > t0:
        carried_at, carried_wait, t0 = _carry_over(rng, rate, t0, free_ns, service_ns)
    jobs_at = [np.array(carried_at, dtype=np.int64)]
    jobs_wait = [np.array(carried_wait, dtype=np.int64)]
    none = np.empty(0, dtype=np.int64)
    units = _Units(none, none, none, none, none, none)
    lump_piece, lump_count = none, none
    period_waits: list[np.ndarray] = []  # waits of the later jobs of whole busy periods
    if t0 < t1:
        scale = 1.0 / rate
        single = math.exp(-rate * (service_ns - 0.5))  # a gap rounds to >= B when it is >= B - 0.5 ns
        # Runs: R singletons (R ~ geometric), an idle gap, a busy period of two or more jobs.
        starts: list[np.ndarray] = []
        runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        busy_parts: list[_Busy] = []
        at, first_run = t0, 0
        mean_run = _mean_run_ns(rate, service_ns)
        while at < t1:
            n = int(min(_RUNS_PER_DRAW, (t1 - at) / mean_run * 1.1 + 16))
            singles = rng.geometric(1.0 - single, n) - 1
            gaps = np.rint(rng.standard_gamma(np.maximum(singles, 1)) * scale * (singles > 0)).astype(
                np.int64
            )
            idle = np.rint(rng.exponential(scale, n)).astype(np.int64)
            busy = _busy_periods(rng, n, scale, service_ns)
            length = (singles + busy.count) * service_ns + gaps + idle
            start = at + np.cumsum(length) - length
            keep = int(np.searchsorted(start, t1, side="left"))
            starts.append(start[:keep])
            runs.append((singles[:keep], gaps[:keep], idle[:keep]))
            busy_parts.append(busy.take(keep, first_run))
            at = int(start[-1] + length[-1]) if keep == n else t1
            first_run += keep
        start = np.concatenate(starts)
        singles, gaps, idle = (np.concatenate([r[i] for r in runs]) for i in range(3))
        busy = _Busy.join(busy_parts)
        busy_at = start + singles * service_ns + gaps + idle  # arrival of each busy period's first job
        # The piece of each busy period's first job (that of the whole run unless an edge cuts the run).
        after = np.searchsorted(edges, busy_at, side="right")
        single_at, lump_piece, lump_count = _place_singles(
            rng, edges, start, singles, gaps, busy_at, busy.count, service_ns, after - 1
        )
        jobs_at.append(single_at)
        jobs_wait.append(np.zeros(single_at.size, dtype=np.int64))
        # Busy periods whole, but those an edge cuts (t1 included), job by job.
        cut = edges[np.minimum(after, edges.size - 1)] <= busy_at + busy.last
        cut &= after < edges.size
        cut_runs = np.flatnonzero(cut)
        if cut_runs.size:
            p, offset, wait = busy.jobs(cut_runs, service_ns)
            jobs_at.append(busy_at[p] + offset)
            jobs_wait.append(wait)
        whole = ~cut & (busy_at < t1)
        period_waits.append(service_ns - busy.second[whole])
        period_waits += [w[whole[p]] for p, _, _, w in busy.later]
        first_in = busy_at[whole]
        units = _Units(
            first_in,
            busy.count[whole],
            first_in,
            first_in + (busy.count[whole] - 1) * service_ns,
            busy.wait_sum[whole],
            busy.wait_max[whole],
        )
    arrival, waits = np.concatenate(jobs_at), np.concatenate(jobs_wait)
    order = np.argsort(arrival, kind="stable")
    arrival, waits = arrival[order], waits[order]
    inside = arrival < t1
    arrival, waits = arrival[inside], waits[inside]
    jobs = _Units(
        arrival, np.ones(arrival.size, dtype=np.int64), arrival + waits, arrival + waits, waits, waits
    )
    # Latencies: F for every job that waits 0 (lumps, first jobs of whole periods), F + wait otherwise.
    zero = int(lump_count.sum()) + units.time.size
    waits_all = np.concatenate([jobs.wait_max, *period_waits])
    latencies = (
        np.concatenate([[fill_ns], waits_all + fill_ns]),
        np.concatenate([[zero], np.ones(waits_all.size, dtype=np.int64)]),
    )
    return _book(edges, (jobs, units), lump_piece, lump_count, service_ns, fill_ns, free_ns, latencies)


@dataclass(frozen=True, slots=True)
class _Units:
    """Jobs booked together (a busy period, or one job), sorted by ``time`` (their first arrival)."""

    time: np.ndarray
    count: np.ndarray
    first_entry: np.ndarray
    last_entry: np.ndarray
    wait_sum: np.ndarray
    wait_max: np.ndarray


def _place_singles(
    rng: np.random.Generator,
    edges: np.ndarray,
    start: np.ndarray,
    singles: np.ndarray,
    gaps: np.ndarray,
    busy_at: np.ndarray,
    size: np.ndarray,
    service_ns: int,
    piece_of_run: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which singletons of the runs must be placed one by one, and where; the rest go by the lump.

    Singleton ``k`` (1..R) of a run arrives at ``start + G V_k + (k - 1) B``, ``V_R = 1`` and ``V_1 <
    ... < V_{R-1}`` the order statistics of ``R - 1`` uniforms (the idle gaps given their sum ``G``).
    Placed: a run's first singleton where a piece's first job may be it (the span's first run, the run
    after one whose busy period an edge follows); the last singleton before and the first after an
    edge crossing a run (a bisection over ``k`` drawing only the order statistics it visits: given
    ``V_lo`` and ``V_hi``, ``V_m = V_lo + (V_hi - V_lo) Beta(m - lo, hi - m)``); every singleton of a run
    holding two edges, or an edge and a first job to place.

    Returns:
        the arrivals of the placed singletons, and lumps (a piece, a count) for the others
        (``piece_of_run``: the piece of each run's busy period, that of the whole run where no edge
        cuts it).
    """
    runs = start.size
    end = np.append(start[1:], busy_at[-1] + size[-1] * service_ns)
    inner = edges[1:]
    crossing = np.searchsorted(start, inner, side="right") - 1
    hit = (crossing >= 0) & (inner < end[crossing.clip(min=0)])
    crossing, inner = crossing[hit], inner[hit]
    cuts = np.bincount(crossing, minlength=runs)
    needs_first = np.zeros(runs, dtype=bool)
    needs_first[0] = True  # the span may start busy: its first piece's first job may be this one
    late = crossing[inner >= busy_at[crossing]]  # an edge past a run's busy period: the next run's first
    needs_first[np.minimum(late + 1, runs - 1)] = True
    some = singles > 0
    full = some & ((cuts >= 2) | ((cuts == 1) & needs_first))
    search = some & (cuts == 1) & ~needs_first
    first = some & needs_first & (cuts == 0)
    plain = some & (cuts == 0) & ~needs_first
    parts_at: list[np.ndarray] = []
    lumps_at, lumps_n = [piece_of_run[plain]], [singles[plain]]
    # Every singleton of the full runs (Dirichlet split of G: normalised cumulative exponentials).
    runs_x = np.flatnonzero(full)
    r = singles[runs_x]
    owner = np.repeat(runs_x, r)
    cum = np.cumsum(rng.exponential(1.0, owner.size))
    ends = np.cumsum(r)
    before = np.repeat(np.concatenate([[0.0], cum[ends[:-1] - 1]]), r) if r.size else cum
    total = np.repeat(cum[ends - 1], r) - before if r.size else cum
    k = np.arange(owner.size, dtype=np.int64) - np.repeat(ends - r, r)
    parts_at.append(
        start[owner] + np.rint((cum - before) / total * gaps[owner]).astype(np.int64) + k * service_ns
    )
    # The first singleton only: V_1 ~ Beta(1, R - 1) (1 when R = 1).
    runs_f = np.flatnonzero(first)
    r = singles[runs_f]
    v1 = np.where(r > 1, rng.beta(1.0, np.maximum(r - 1, 1).astype(np.float64)), 1.0)
    parts_at.append(start[runs_f] + np.rint(v1 * gaps[runs_f]).astype(np.int64))
    lumps_at.append(piece_of_run[runs_f])
    lumps_n.append(r - 1)
    # Bisection around the one edge of a run.
    runs_s = np.flatnonzero(search)
    edge_of = np.zeros(runs, dtype=np.int64)
    edge_of[crossing] = inner
    e = edge_of[runs_s]
    r, s0, g = singles[runs_s], start[runs_s], gaps[runs_s].astype(np.float64)

    def at(k: np.ndarray, v: np.ndarray) -> np.ndarray:
        return s0 + np.rint(g * v).astype(np.int64) + (k - 1) * service_ns

    lo, hi = np.zeros(r.size, dtype=np.int64), r.copy()
    v_lo, v_hi = np.zeros(r.size), np.ones(r.size)
    last_before = at(hi, v_hi) < e  # every singleton before the edge
    lo[last_before] = hi[last_before]
    v_lo[last_before] = 1.0
    hi[last_before] += 1  # past the last: the first job after the edge is not a singleton
    while (open_ := np.flatnonzero(hi - lo > 1)).size:
        a, b = lo[open_], hi[open_]
        m = (a + b) // 2
        split = rng.beta((m - a).astype(np.float64), (b - m).astype(np.float64))
        v = v_lo[open_] + (v_hi[open_] - v_lo[open_]) * split
        below = s0[open_] + np.rint(g[open_] * v).astype(np.int64) + (m - 1) * service_ns < e[open_]
        lo[open_[below]], v_lo[open_[below]] = m[below], v[below]
        hi[open_[~below]], v_hi[open_[~below]] = m[~below], v[~below]
    has_lo, has_hi = lo >= 1, hi <= r
    parts_at += [at(lo, v_lo)[has_lo], at(hi, v_hi)[has_hi]]
    lumps_at += [np.searchsorted(edges, s0, side="right") - 1, np.searchsorted(edges, e, side="right") - 1]
    lumps_n += [np.maximum(lo - 1, 0), np.maximum(r - hi, 0)]
    pieces, counts = np.concatenate(lumps_at), np.concatenate(lumps_n)
    inside = pieces < edges.size - 1  # a run starting past the span's end has no job in it
    return np.concatenate(parts_at), pieces[inside], counts[inside]


def _book(
    edges: np.ndarray,
    streams: tuple[_Units, ...],
    lump_piece: np.ndarray,
    lump_count: np.ndarray,
    service_ns: int,
    fill_ns: int,
    free_ns: int,
    latencies: tuple[np.ndarray, np.ndarray],
) -> Pieces:
    """Per-piece figures of streams of units and of lumps of jobs waiting 0 (the first job of every
    busy period waits 0 too, so only a lone job can make a piece's least wait positive)."""
    pieces = edges.size - 1
    count = np.bincount(lump_piece, weights=lump_count, minlength=pieces).astype(np.int64)
    wait_zero = count > 0
    wait_sum = np.zeros(pieces, dtype=np.int64)
    wait_max = np.zeros(pieces, dtype=np.int64)
    wait_min = np.full(pieces, np.iinfo(np.int64).max, dtype=np.int64)
    first = np.full(pieces, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(pieces, -1, dtype=np.int64)
    for u in streams:
        if not u.time.size:
            continue
        bounds = np.searchsorted(u.time, edges)
        n = np.diff(bounds)
        has = np.flatnonzero(n > 0)
        heads = bounds[:-1][has]
        cum = np.concatenate([[0], np.cumsum(u.count)])
        count += cum[bounds[1:]] - cum[bounds[:-1]]
        cum = np.concatenate([[0], np.cumsum(u.wait_sum)])
        wait_sum += cum[bounds[1:]] - cum[bounds[:-1]]
        wait_max[has] = np.maximum(wait_max[has], np.maximum.reduceat(u.wait_max, heads))
        lone = np.where(u.count > 1, 0, u.wait_max)  # a period's least wait is its first job's, 0
        wait_min[has] = np.minimum(wait_min[has], np.minimum.reduceat(lone, heads))
        first[has] = np.minimum(first[has], u.first_entry[heads])
        last[has] = np.maximum(last[has], u.last_entry[bounds[1:][has] - 1])
    on = count > 0
    wait_min = np.where(wait_zero, 0, wait_min)
    free = max(free_ns, int(last.max()) + service_ns) if (last >= 0).any() else free_ns
    return Pieces(
        edges,
        count,
        np.where(on & (last >= 0), first, 0),
        np.where(on & (last >= 0), last + fill_ns, 0),
        count * fill_ns + wait_sum,
        np.where(on, wait_min + fill_ns, 0),
        np.where(on, wait_max + fill_ns, 0),
        free,
        latencies,
    )
