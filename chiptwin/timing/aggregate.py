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


def _empty(edges: np.ndarray, free_ns: int) -> Pieces:
    z = np.zeros(edges.size - 1, dtype=np.int64)
    return Pieces(edges, z, z, z, z, z, z, free_ns)


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
    return Pieces(edges, count, first, last + latency, count * fill_ns, latency, latency, free)


def _truncated_exponential(rng: np.random.Generator, scale: float, below: float, n: int) -> np.ndarray:
    """``n`` exponential draws of mean ``scale`` conditioned below ``below`` (inverse CDF)."""
    return -scale * np.log1p(-rng.random(n) * -np.expm1(-below / scale))


def _busy_periods(
    rng: np.random.Generator, n: int, scale: float, service_ns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` busy periods of two or more jobs: per period its job count; per job (period by period, in
    arrival order) its period, its arrival offset from the period's first job and its wait, int64 ns."""
    gap = np.minimum(np.rint(_truncated_exponential(rng, scale, service_ns - 0.5, n)), service_ns - 1)
    second = gap.astype(np.int64)
    count = np.full(n, 2, dtype=np.int64)
    extra: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []  # (periods, job index, offset, wait)
    active, last, free = np.arange(n, dtype=np.int64), second, np.full(n, 2 * service_ns, dtype=np.int64)
    k = 2
    while active.size:  # a third job and later ones: rare at low load
        at = last + np.rint(rng.exponential(scale, active.size)).astype(np.int64)
        joins = at < free
        active, at, free = active[joins], at[joins], free[joins]
        if active.size:
            extra.append((active, k, at, free - at))
            count[active] = k + 1
        last, free = at, free + service_ns
        k += 1
    starts = np.cumsum(count) - count
    total = int(count.sum())
    period = np.repeat(np.arange(n, dtype=np.int64), count)
    offset = np.zeros(total, dtype=np.int64)
    wait = np.zeros(total, dtype=np.int64)
    offset[starts + 1] = second
    wait[starts + 1] = service_ns - second
    for periods, index, at, waits in extra:
        offset[starts[periods] + index] = at
        wait[starts[periods] + index] = waits
    return count, period, offset, wait


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
    return Pieces(edges=edges, free_ns=free_ns, **joined)


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
        if t0 >= t1:
            kept_i = [i for i, t in enumerate(carried_at) if t < t1]
            arrival = np.array([carried_at[i] for i in kept_i], dtype=np.int64)
            waits = np.array([carried_wait[i] for i in kept_i], dtype=np.int64)
            none = np.empty(0, dtype=np.int64)
            return _book(edges, arrival, waits, none, none, service_ns, fill_ns, free_ns)
    scale = 1.0 / rate
    single = math.exp(-rate * (service_ns - 0.5))  # a gap rounds to >= B when it is >= B - 0.5 ns
    # Runs: R singletons (R ~ geometric), an idle gap, a busy period of two or more jobs.
    starts: list[np.ndarray] = []
    runs: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    jobs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    at, first_run = t0, 0
    mean_run = _mean_run_ns(rate, service_ns)
    while at < t1:
        n = int(min(_RUNS_PER_DRAW, (t1 - at) / mean_run * 1.1 + 16))
        singles = rng.geometric(1.0 - single, n) - 1
        gaps = np.rint(rng.standard_gamma(np.maximum(singles, 1)) * scale * (singles > 0)).astype(np.int64)
        idle = np.rint(rng.exponential(scale, n)).astype(np.int64)
        size, period, offset, wait = _busy_periods(rng, n, scale, service_ns)
        length = singles * service_ns + gaps + idle + size * service_ns
        start = at + np.cumsum(length) - length
        keep = int(np.searchsorted(start, t1, side="left"))
        starts.append(start[:keep])
        runs.append((singles[:keep], gaps[:keep], idle[:keep], size[:keep]))
        kept = period < keep
        jobs.append((period[kept] + first_run, offset[kept], wait[kept]))
        at = int(start[-1] + length[-1]) if keep == n else t1
        first_run += keep
    start = np.concatenate(starts)
    singles, gaps, idle, size = (np.concatenate([r[i] for r in runs]) for i in range(4))
    period, offset, wait = (np.concatenate([j[i] for j in jobs]) for i in range(3))
    busy_at = start + singles * service_ns + gaps + idle  # arrival of each busy period's first job
    run_of, rank, single_at, nx, lump_at, lump_count = _place_singles(
        rng, edges, start, singles, gaps, busy_at, size, service_ns
    )
    # Every explicit job in arrival order: a run's singletons, then its busy period.
    per_run = nx + size
    base = np.cumsum(per_run) - per_run
    n_x = int(per_run.sum())
    arrival = np.empty(n_x, dtype=np.int64)
    waits = np.zeros(n_x, dtype=np.int64)
    arrival[base[run_of] + rank] = single_at
    job_rank = np.arange(period.size, dtype=np.int64) - np.repeat(np.cumsum(size) - size, size)
    slot = base[period] + nx[period] + job_rank
    arrival[slot] = busy_at[period] + offset
    waits[slot] = wait
    inside = arrival < t1
    arrival, waits = arrival[inside], waits[inside]
    if carried_at:
        arrival = np.concatenate([np.array(carried_at, dtype=np.int64), arrival])
        waits = np.concatenate([np.array(carried_wait, dtype=np.int64), waits])
    inside = lump_at < t1
    lump_piece = np.searchsorted(edges, lump_at[inside], side="right") - 1
    return _book(edges, arrival, waits, lump_piece, lump_count[inside], service_ns, fill_ns, free_ns)


def _place_singles(
    rng: np.random.Generator,
    edges: np.ndarray,
    start: np.ndarray,
    singles: np.ndarray,
    gaps: np.ndarray,
    busy_at: np.ndarray,
    size: np.ndarray,
    service_ns: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Which singletons of the runs must be placed one by one, and where; the rest go by the lump.

    Singleton ``k`` (1..R) of a run arrives at ``start + G V_k + (k - 1) B``, ``V_R = 1`` and ``V_1 <
    ... < V_{R-1}`` the order statistics of ``R - 1`` uniforms (the idle gaps given their sum ``G``).
    Placed: a run's first singleton where a piece's first job may be it (the span's first run, the run
    after one whose busy period an edge follows); the last singleton before and the first after an
    edge crossing a run (a bisection over ``k`` drawing only the order statistics it visits: given
    ``V_lo`` and ``V_hi``, ``V_m = V_lo + (V_hi - V_lo) Beta(m - lo, hi - m)``); every singleton of a run
    holding two edges, or an edge and a first job to place.

    Returns:
        per placed singleton its run, its rank among the run's placed ones, its arrival; per run how
        many are placed; and lumps (a time inside the piece, a count) for the others.
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
    parts_run, parts_rank, parts_at = [], [], []
    lumps_at, lumps_n = [start[plain]], [singles[plain]]
    # Every singleton of the full runs (Dirichlet split of G: normalised cumulative exponentials).
    runs_x = np.flatnonzero(full)
    r = singles[runs_x]
    owner = np.repeat(runs_x, r)
    cum = np.cumsum(rng.exponential(1.0, owner.size))
    ends = np.cumsum(r)
    before = np.repeat(np.concatenate([[0.0], cum[ends[:-1] - 1]]), r) if r.size else cum
    total = np.repeat(cum[ends - 1], r) - before if r.size else cum
    k = np.arange(owner.size, dtype=np.int64) - np.repeat(ends - r, r)
    parts_run.append(owner)
    parts_rank.append(k)
    parts_at.append(
        start[owner] + np.rint((cum - before) / total * gaps[owner]).astype(np.int64) + k * service_ns
    )
    # The first singleton only: V_1 ~ Beta(1, R - 1) (1 when R = 1).
    runs_f = np.flatnonzero(first)
    r = singles[runs_f]
    v1 = np.where(r > 1, rng.beta(1.0, np.maximum(r - 1, 1).astype(np.float64)), 1.0)
    parts_run.append(runs_f)
    parts_rank.append(np.zeros(runs_f.size, dtype=np.int64))
    parts_at.append(start[runs_f] + np.rint(v1 * gaps[runs_f]).astype(np.int64))
    lumps_at.append(start[runs_f])
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
    parts_run += [runs_s[has_lo], runs_s[has_hi]]
    parts_rank += [np.zeros(int(has_lo.sum()), dtype=np.int64), has_lo[has_hi].astype(np.int64)]
    parts_at += [at(lo, v_lo)[has_lo], at(hi, v_hi)[has_hi]]
    lumps_at += [s0, e]
    lumps_n += [np.maximum(lo - 1, 0), np.maximum(r - hi, 0)]
    nx = np.zeros(runs, dtype=np.int64)
    nx[full] = singles[full]
    nx[first] = 1
    nx[runs_s] = has_lo.astype(np.int64) + has_hi
    return (
        np.concatenate(parts_run),
        np.concatenate(parts_rank),
        np.concatenate(parts_at),
        nx,
        np.concatenate(lumps_at),
        np.concatenate(lumps_n),
    )


def _book(
    edges: np.ndarray,
    arrival: np.ndarray,
    waits: np.ndarray,
    lump_piece: np.ndarray,
    lump_count: np.ndarray,
    service_ns: int,
    fill_ns: int,
    free_ns: int,
) -> Pieces:
    """Per-piece figures of explicit jobs (sorted arrivals and their waits) and lumps of jobs waiting 0."""
    pieces = edges.size - 1
    if not arrival.size:
        return _empty(edges, free_ns)
    bounds = np.searchsorted(arrival, edges)
    explicit = np.diff(bounds)
    lumped = np.bincount(lump_piece, weights=lump_count, minlength=pieces).astype(np.int64)
    count = explicit + lumped
    has = explicit > 0
    entry = arrival + waits
    heads = bounds[:-1].clip(max=arrival.size - 1)
    tails = (bounds[1:] - 1).clip(min=0)
    first = np.where(has, entry[heads], 0)
    last = np.where(has, entry[tails] + fill_ns, 0)
    segs = np.flatnonzero(has)
    wait_max = np.zeros(pieces, dtype=np.int64)
    wait_min = np.zeros(pieces, dtype=np.int64)
    wait_max[segs] = np.maximum.reduceat(waits, bounds[:-1][segs])
    wait_min[segs] = np.minimum.reduceat(waits, bounds[:-1][segs])
    wait_min[lumped > 0] = 0
    wait_sum = np.zeros(pieces, dtype=np.int64)
    cum = np.concatenate([[0], np.cumsum(waits)])
    wait_sum = cum[bounds[1:]] - cum[bounds[:-1]]
    on = count > 0
    return Pieces(
        edges,
        count,
        first,
        last,
        count * fill_ns + wait_sum,
        np.where(on, wait_min + fill_ns, 0),
        np.where(on, wait_max + fill_ns, 0),
        max(free_ns, int(entry[-1]) + service_ns),
    )
