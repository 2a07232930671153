"""The batched engine: the pipeline as one server, so a day of sustained traffic runs in seconds.

**The formula.** The plan gives two stage-time figures: the *fill* ``F`` (latency of one inference on the
idle chip, :func:`~chiptwin.timing.engine.single_inference_ns`) and the *bottleneck* ``B`` (the largest
busy time per inference of any crossbar, digital unit or link, :attr:`PipelinePlan.bottleneck_ns`).
A job ``j`` arriving at ``a_j`` enters the pipeline at ``s_j = max(a_j, s_{j-1} + B_{j-1})`` and leaves
at ``c_j = s_j + F_j``. For ``N`` inferences arriving together this is exactly

    makespan(N) = F + (N - 1) * B            (:func:`pipeline_makespan_ns`)

and for any arrivals it is computed without a loop, per chunk of arrivals, as
``s = P + cummax(a - P)`` with ``P`` the prefix sums of the service times (:func:`serve_jobs`).

It equals the event engine's result when the bottleneck resource serves one activity per inference
and lies on the path of every job (a pipeline of distinct resources, e.g. a dense mapping); where
several stages share the busiest resource, FIFO interleaving can leave it idle and the event engine is
slower (the formula is then a lower bound). ``tests/timing/test_timing_batched.py`` shows the two
engines agree within 0.1 % for 1,000 inferences of a residual network.

**Compensation** enters the same queue: a GDC pass is one job holding the pipeline for the longest tile
calibration, arriving at the pass's scheduled time (ahead of a user arrival at that instant); an AdaBS
pass is ``adabs_images`` calibration jobs (their own ``F`` and ``B`` from the ``bn_statistics`` plan)
and one batch-norm update job, arriving when the GDC calibration is done on an idle chip.
**Programming** holds the pipeline until the slowest tile is programmed.

**Energy** is exact: jobs times the plan's energy per job, plus static power times elapsed time.
**Utilisation** books a job's crossbar time to the window in which it enters the pipeline (exact when
windows are much longer than the fill).
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from chiptwin.errors import TimingError
from chiptwin.timing.aggregate import Pieces, periodic_pieces, poisson_pieces
from chiptwin.timing.compensation import CompensationSpec, compensation_times_ns, gdc_work
from chiptwin.timing.engine import check_duration, check_window, single_inference_ns
from chiptwin.timing.programming import ProgrammingResult, programming_cost
from chiptwin.timing.records import EventKind, EventRecord, RecordFn, Task
from chiptwin.timing.results import (
    MAX_UTILISATION_WINDOWS,
    UTILISATION_WINDOWS,
    Tally,
    TimingResult,
    summarise,
)
from chiptwin.timing.stages import PipelinePlan
from chiptwin.timing.workload import PeriodicWorkload, PoissonWorkload, Workload
from chiptwin.units import NS_PER_S

__all__ = ["PlanChange", "pipeline_makespan_ns", "serve_jobs", "simulate_batched"]

DEFAULT_CHUNK_NS = 10 * NS_PER_S
"""Arrivals are served 10 s of device time at a time."""

AGGREGATE_MIN_ARRIVALS = 1_000_000
"""With ``aggregate=None``, a run of Poisson traffic is served by the piece between compensation passes
from this many expected arrivals on (below it, job by job: the very arrivals of the event engine)."""

_USER, _GDC, _IMAGE, _UPDATE, _SLICE, _LAST_SLICE = 0, 1, 2, 3, 4, 5
_KINDS = 6


def pipeline_makespan_ns(fill_ns: int, bottleneck_ns: int, n: int) -> int:
    """Time from the common arrival of ``n`` inferences to the last result: ``F + (n - 1) * B`` (0 if n=0)."""
    if n < 0:
        raise TimingError(f"n(={n}) must be >= 0")
    return fill_ns + (n - 1) * bottleneck_ns if n else 0


def serve_jobs(
    arrivals_ns: np.ndarray, service_ns: np.ndarray, latency_ns: np.ndarray, free_at_ns: int = 0
) -> tuple[np.ndarray, np.ndarray, int]:
    """Pipeline entry and exit times of jobs in arrival order (module docstring).

    Args:
        arrivals_ns: sorted arrival times (int64).
        service_ns: each job's bottleneck time ``B_j`` (int64, same length).
        latency_ns: each job's fill ``F_j`` (int64, same length).
        free_at_ns: when the pipeline accepts the first job (the previous chunk's last entry plus its
            service time).

    Returns:
        ``(entries, exits, free_at_ns)`` with ``free_at_ns`` for the next chunk.
    """
    if not arrivals_ns.size:
        return arrivals_ns, arrivals_ns, free_at_ns
    prefix = np.cumsum(service_ns) - service_ns
    ready = arrivals_ns.astype(np.int64, copy=True)
    ready[0] = max(int(ready[0]), free_at_ns)
    entries = prefix + np.maximum.accumulate(ready - prefix)
    return entries, entries + latency_ns, int(entries[-1] + service_ns[-1])


class _Batches:
    """One batched run: the plans, the compensation job figures, the tally and the record sink."""

    def __init__(
        self,
        plan: PipelinePlan,
        adabs: PipelinePlan | None,
        compensation: CompensationSpec | None,
        tally: Tally,
        record: RecordFn | None,
    ) -> None:
        self.plan, self.adabs, self.comp, self.tally, self.record = plan, adabs, compensation, tally, record
        self.jobs_before = dict(tally.jobs)  # jobs of earlier plans (a run whose plan changed)
        self.fill = single_inference_ns(plan)
        self.gdc = (
            gdc_work(plan, compensation.gdc_reads_per_block) if compensation and compensation.gdc else ()
        )
        gdc_latency = [w.read_ns + (w.digital.duration_ns if w.digital else 0) for w in self.gdc]
        self.busy_rows = {Task.INFERENCE: tally.busy_row(plan.crossbar_busy_ns)}
        if adabs is not None:
            self.busy_rows[Task.ADABS] = tally.busy_row(adabs.crossbar_busy_ns)
        self.figures = {  # kind -> (service, latency) in ns
            _USER: (plan.bottleneck_ns, self.fill),
            _GDC: (max((w.read_ns for w in self.gdc), default=0), max(gdc_latency, default=0)),
        }
        # Shared passes: GDC in slices of one calibration read of every block (all tiles at once), the
        # last one followed by the scale computation.
        self.slices = max((w.mvms for w in self.gdc), default=0)
        if self.slices:
            read, total = self.figures[_GDC]
            piece = -(-read // self.slices)  # one slice's read, rounded up
            self.figures[_SLICE] = (piece, piece)
            self.figures[_LAST_SLICE] = (piece, piece + total - read)
        self.open_passes: collections.deque[int] = collections.deque()
        if adabs is not None:
            update = max((w.duration_ns for _, w in adabs.bn_updates), default=0)
            self.figures[_IMAGE] = (adabs.bottleneck_ns, single_inference_ns(adabs))
            self.figures[_UPDATE] = (update, update)

    def compensation_jobs(self, times_ns: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Arrival times and kinds of every compensation job of the run."""
        at: list[np.ndarray] = []
        kinds: list[np.ndarray] = []
        gdc = self.comp is not None and self.comp.gdc
        gdc_latency = self.figures[_GDC][1] if gdc else 0
        if gdc:
            at.append(np.zeros(1, dtype=np.int64))
            kinds.append(np.array([_GDC], dtype=np.int8))
        if self.comp is not None and self.comp.adabs:
            # AdaBS starts when the GDC calibration is done (on an idle chip: its latency later).
            images = self.comp.adabs_images
            at.append(np.full(images + 1, gdc_latency, dtype=np.int64))
            kinds.append(np.array([_IMAGE] * images + [_UPDATE], dtype=np.int8))
        if not at or not times_ns:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int8)
        # One pass's jobs (offsets from its time), repeated at every pass time, in pass order.
        offsets, pass_kinds = np.concatenate(at), np.concatenate(kinds)
        times = np.asarray(times_ns, dtype=np.int64)
        all_at = (times[:, None] + offsets[None, :]).ravel()
        all_kinds = np.tile(pass_kinds, times.size)
        order = np.argsort(all_at, kind="stable")
        return all_at[order], all_kinds[order]

    def book_users(self, entries: np.ndarray, exits: np.ndarray, arrivals: np.ndarray) -> None:
        n, tally = int(entries.size), self.tally
        if not n:
            return
        latency = exits - arrivals
        lo, hi = int(latency.min()), int(latency.max())
        if tally.latency_count == 0 or lo < tally.latency_min:
            tally.latency_min = lo
        tally.latency_max = max(tally.latency_max, hi)
        tally.latency_sum += int(latency.sum())
        tally.latency_count += n
        tally.add_latency_bins(latency)
        tally.jobs[Task.INFERENCE] += n
        tally.activities += n
        self.book_busy(entries, self.plan, Task.INFERENCE)
        if self.record is not None:
            first = int(entries[0])
            self.record(
                EventRecord(
                    time_ns=first, duration_ns=int(exits.max()) - first, kind=EventKind.BATCH,
                    task=Task.INFERENCE, job=-1, layer="", tile=-1, dst_tile=-1, count=n, hops=0, op="",
                    energy_pj=n * self.plan.dynamic_energy_pj,
                )
            )  # fmt: skip

    def book_pieces(self, pieces: Pieces, start_ns: int, chunk_ns: int) -> None:
        """Book a quiet stretch served by the piece as :meth:`book_users` books its chunks one by one:
        the same tally, the same utilisation windows, one ``BATCH`` record per chunk with arrivals."""
        on = pieces.count > 0
        if not on.any():
            return
        tally = self.tally
        starts = pieces.edges[:-1][on]
        count, first, last = pieces.count[on], pieces.first_entry[on], pieces.last_exit[on]
        n = int(count.sum())
        lo, hi = int(pieces.latency_min[on].min()), int(pieces.latency_max[on].max())
        if tally.latency_count == 0 or lo < tally.latency_min:
            tally.latency_min = lo
        tally.latency_max = max(tally.latency_max, hi)
        tally.latency_sum += int(pieces.latency_sum[on].sum())
        tally.latency_count += n
        tally.add_latency_bins(*pieces.latencies)
        tally.jobs[Task.INFERENCE] += n
        tally.activities += n
        tally.last_done_ns = max(tally.last_done_ns, int(last.max()))
        # Crossbar time to the window of each piece (a piece lies in one window), integer ns.
        windows, at = _runs_of(starts // tally.base_window_ns)
        for k, jobs in zip(windows.tolist(), np.add.reduceat(count, at).tolist(), strict=True):
            tally.add_window_jobs(k, jobs, self.busy_rows[Task.INFERENCE], Task.INFERENCE)
        if self.record is None:
            return
        _, at = _runs_of((starts - start_ns) // chunk_ns)
        heads = first[at].tolist()
        tails = np.maximum.reduceat(last, at).tolist()
        jobs = np.add.reduceat(count, at).tolist()
        energy = self.plan.dynamic_energy_pj
        for s, c, m in zip(heads, tails, jobs, strict=True):
            self.record(
                EventRecord(
                    time_ns=s, duration_ns=c - s, kind=EventKind.BATCH, task=Task.INFERENCE, job=-1, layer="",
                    tile=-1, dst_tile=-1, count=m, hops=0, op="", energy_pj=m * energy,
                )
            )  # fmt: skip

    def book_busy(self, entries: np.ndarray, plan: PipelinePlan, task: Task) -> None:
        """Book the crossbar time of jobs entering at ``entries`` (sorted) to their entry windows."""
        base = self.tally.base_window_ns
        first, last = int(entries[0]) // base, int(entries[-1]) // base
        if last - first < 64:  # the usual case: a chunk spans a few windows; count by bisection
            edges = np.searchsorted(entries, np.arange(first, last + 2, dtype=np.int64) * base)
            windows, counts = range(first, last + 1), np.diff(edges).tolist()
        else:
            uniq, cnt = np.unique(entries // base, return_counts=True)
            windows, counts = uniq.tolist(), cnt.tolist()
        for k, n in zip(windows, counts, strict=True):
            if n:
                self.tally.add_window_jobs(k, n, self.busy_rows[task], task)

    def book_energy(self) -> None:
        """Jobs times the plans' energies (every job of a kind costs the same), when the plan's time ends."""
        tally = self.tally
        n = tally.jobs[Task.INFERENCE] - self.jobs_before[Task.INFERENCE]
        for comp, pj in self.plan.energy_pj.items():
            tally.energy[Task.INFERENCE][comp] += n * pj
        for layer, pj in self.plan.layer_energy_pj.items():
            tally.layer_energy[layer] = tally.layer_energy.get(layer, 0.0) + n * pj
        if self.adabs is not None:
            images = tally.jobs[Task.ADABS] - self.jobs_before[Task.ADABS]
            for comp, pj in self.adabs.energy_pj.items():
                tally.energy[Task.ADABS][comp] += images * pj

    def book_programming(self, at_ns: int, cost: ProgrammingResult) -> int:
        """Program the tiles of ``cost`` from ``at_ns`` (busy time, records); returns when all are done."""
        for t, ns in cost.time_by_tile_ns.items():
            self.tally.add_window_busy(at_ns // self.tally.base_window_ns, t, ns, Task.PROGRAM)
            if self.record is not None:
                self.record(
                    EventRecord(
                        time_ns=at_ns, duration_ns=ns, kind=EventKind.PROGRAM, task=Task.PROGRAM, job=0,
                        layer="", tile=t, dst_tile=-1, count=cost.devices_by_tile[t], hops=0, op="",
                        energy_pj=cost.energy_by_tile_pj[t],
                    )
                )  # fmt: skip
        return at_ns + cost.time_ns

    def book_compensation(
        self, kinds: np.ndarray, entries: np.ndarray, exits: np.ndarray, *, count_passes: bool = True
    ) -> None:
        """Book compensation jobs (``count_passes``: time each pass ending here against its scheduled
        time, the blocking mode's FIFO order)."""
        tally = self.tally
        images = kinds == _IMAGE
        if images.any():
            assert self.adabs is not None
            n = int(images.sum())
            tally.jobs[Task.ADABS] += n
            tally.activities += n
            self.book_busy(entries[images], self.adabs, Task.ADABS)
            first = int(entries[images][0])
            self._emit(
                EventKind.BATCH,
                Task.ADABS,
                tally.passes[Task.ADABS],
                first,
                int(exits[images].max()),
                n * self.adabs.dynamic_energy_pj,
            )
        ends_pass = _UPDATE if self.adabs is not None else _GDC
        for kind, s, c in zip(
            kinds[~images].tolist(), entries[~images].tolist(), exits[~images].tolist(), strict=True
        ):
            tally.activities += 1
            if count_passes and kind == ends_pass and self.open_passes:
                tally.pass_ns.append(c - self.open_passes.popleft())
            if kind == _GDC:
                self._gdc(s, c)
            else:
                assert self.adabs is not None
                tally.passes[Task.ADABS] += 1
                for _, work in self.adabs.bn_updates:
                    for comp, pj in work.energy_pj:
                        tally.energy[Task.ADABS][f"digital.{comp}"] += pj
                pj = sum(w.total_pj for _, w in self.adabs.bn_updates)
                self._emit(EventKind.BN_UPDATE, Task.ADABS, tally.passes[Task.ADABS] - 1, s, c, pj)
        tally.last_done_ns = max(tally.last_done_ns, int(exits.max()))

    def _gdc(self, s: int, c: int) -> None:
        tally = self.tally
        tally.passes[Task.GDC] += 1
        energy = tally.energy[Task.GDC]
        total = 0.0
        for w in self.gdc:
            tally.add_window_busy(s // tally.base_window_ns, w.tile, w.read_ns, Task.GDC)
            energy["array"] += w.array_pj
            energy["dac"] += w.dac_pj
            energy["adc"] += w.adc_pj
            total += w.array_pj + w.dac_pj + w.adc_pj
            if w.digital is not None:
                for comp, pj in w.digital.energy_pj:
                    energy[f"digital.{comp}"] += pj
                total += w.digital.total_pj
        self._emit(EventKind.CALIBRATE, Task.GDC, tally.passes[Task.GDC] - 1, s, c, total)

    def _emit(self, kind: EventKind, task: Task, job: int, s: int, c: int, pj: float) -> None:
        if self.record is not None:
            self.record(
                EventRecord(
                    time_ns=s, duration_ns=c - s, kind=kind, task=task, job=job,
                    layer="", tile=-1, dst_tile=-1, count=1, hops=0, op="", energy_pj=pj,
                )
            )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanChange:
    """From ``at_ns`` on the chip serves with another plan: a tile died, or its blocks moved to a spare.

    The batched engine switches plans between jobs: a job that entered the pipeline before ``at_ns``
    is charged as the old plan's. Compensation passes from ``at_ns`` on calibrate the new plan's tiles.
    """

    at_ns: int
    """When the change happens on the run's clock, ns (> 0)."""

    plan: PipelinePlan
    """The plan in force from ``at_ns`` on (e.g. ``build_plan(..., dead_tiles=...)``, or the repaired
    mapping's plan)."""

    adabs_plan: PipelinePlan | None = None
    """Its AdaBS variant (needed when the compensation runs AdaBS)."""

    program: ProgrammingResult | None = None
    """Tiles programmed at ``at_ns`` before the new plan serves (a repair,
    :func:`~chiptwin.timing.programming.programming_cost` with ``tiles``): charged, and the pipeline
    is held until the slowest of them is done."""


def simulate_batched(
    plan: PipelinePlan,
    workload: Workload,
    *,
    duration_ns: int,
    compensation: CompensationSpec | None = None,
    adabs_plan: PipelinePlan | None = None,
    program: bool = False,
    record: RecordFn | None = None,
    window_ns: int | None = None,
    chunk_ns: int = DEFAULT_CHUNK_NS,
    changes: Sequence[PlanChange] = (),
    aggregate: bool | None = None,
) -> TimingResult:
    """Serve the workload's arrivals in ``[0, duration_ns)`` with the pipeline formula (module docstring).

    Same arguments and result as :func:`~chiptwin.timing.engine.simulate_events`, plus ``chunk_ns``
    (device time served per numpy pass) and ``changes`` (the plan changes of a tile failure and its
    repair, in time order; those at or after ``duration_ns`` do not happen). Records: one ``BATCH``
    record per chunk of user inferences, one per compensation job (``CALIBRATE``, ``BATCH`` of
    calibration images, ``BN_UPDATE``) and one ``PROGRAM`` record per programmed tile. The result's
    stage figures (latency of one inference, peak throughput) are those of ``plan``; its energies,
    utilisation and latencies are of the plans in force.

    ``aggregate``: serve the quiet stretches between compensation jobs by the piece
    (:mod:`chiptwin.timing.aggregate`). Periodic traffic always is (the same numbers to the ns).
    Poisson traffic is when ``aggregate`` is True, or None and the run expects at least
    :data:`AGGREGATE_MIN_ARRIVALS` arrivals: then it is another draw of the same process (the same
    distributions, not the same values); False serves every arrival of the workload one by one.

    **Cost against the horizon.** Served job by job, wall time grows linearly with the number of
    arrivals (about 50 ns each, plus a few hundred us per chunk and per compensation pass): a year at
    100 images/s took minutes. By the piece, periodic traffic costs per chunk and per pass only, and
    Poisson traffic per busy period of two or more jobs (``rate * (1 - exp(-rate * B))`` per second:
    1.3 per second at 100 images/s on ``hermes_64``); ``bench/timing_speed.py`` prints both for a year.

    Raises:
        TimingError: a bad duration, window or chunk, AdaBS without ``adabs_plan``, or changes out of
            order.
    """
    check_duration(duration_ns)
    check_window(window_ns)
    if chunk_ns < 1:
        raise TimingError(f"chunk_ns(={chunk_ns}) must be >= 1")
    if (
        compensation is not None
        and compensation.adabs
        and (adabs_plan is None or any(c.adabs_plan is None for c in changes))
    ):
        raise TimingError(
            f"compensation {compensation.policy!r} runs AdaBS: it needs adabs_plan "
            "(build_plan(..., bn_statistics=True)), for every plan change too"
        )
    adabs = compensation is not None and compensation.adabs
    times = [c.at_ns for c in changes]
    if any(t <= 0 for t in times) or any(b <= a for a, b in itertools.pairwise(times)):
        raise TimingError(f"plan changes at {times} ns must be > 0 and strictly ascending")
    segments = [PlanChange(at_ns=0, plan=plan, adabs_plan=adabs_plan, program=None)]
    segments += [c for c in changes if c.at_ns < duration_ns]
    # Busy time is booked to windows of ``base``; the result's windows are whole multiples of it.
    base = window_ns if window_ns is not None else max(1, duration_ns // UTILISATION_WINDOWS)
    tally = Tally(tuple(sorted({t for seg in segments for t in seg.plan.tiles_used})), base)
    passes = compensation_times_ns(compensation, duration_ns)
    if aggregate is None:
        rate = getattr(workload, "rate_per_s", 0.0)
        aggregate = (
            isinstance(workload, PoissonWorkload) and rate * duration_ns / NS_PER_S >= AGGREGATE_MIN_ARRIVALS
        )
    free = 0
    cost = None
    fill = 0
    for i, seg in enumerate(segments):
        end = segments[i + 1].at_ns if i + 1 < len(segments) else duration_ns
        run = _Batches(seg.plan, seg.adabs_plan if adabs else None, compensation, tally, record)
        if i == 0:
            fill = run.fill
            if program:
                cost = programming_cost(plan)
                free = run.book_programming(0, cost)
        elif seg.program is not None:
            free = max(free, run.book_programming(seg.at_ns, seg.program))
        free = _serve(
            run,
            workload,
            [t for t in passes if seg.at_ns <= t < end],
            seg.at_ns,
            end,
            chunk_ns,
            free,
            aggregate,
        )
        run.book_energy()
    elapsed = max(duration_ns, tally.last_done_ns)
    return summarise(
        plan,
        tally,
        mode="batched",
        duration_ns=duration_ns,
        elapsed_ns=elapsed,
        fill_ns=fill,
        policy=compensation.policy if compensation is not None else None,
        programming=cost,
        window_ns=window_ns,
        mode_of_passes=compensation.mode if compensation is not None else "blocking",
    )


def _runs_of(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of sorted ``keys`` and where each first appears (``np.unique`` for sorted)."""
    at = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[at], at


def _piece_edges(start_ns: int, stop_ns: int, chunk_ns: int, window_ns: int) -> np.ndarray:
    """Edges of the pieces of ``[start_ns, stop_ns)``: its chunks (from ``start_ns``, a chunk edge) cut at
    the utilisation windows' edges."""
    chunks = np.arange(start_ns, stop_ns, chunk_ns, dtype=np.int64)
    first = -(-start_ns // window_ns)
    windows = np.arange(first, -(-stop_ns // window_ns), dtype=np.int64) * window_ns
    return np.union1d(np.union1d(chunks, windows), [stop_ns])


def _aggregatable(workload: Workload, aggregate: bool) -> bool:
    return type(workload) is PeriodicWorkload or (type(workload) is PoissonWorkload and aggregate)


def _quiet_pieces(
    run: _Batches, workload: Workload, edges: np.ndarray, free: int, aggregate: bool
) -> Pieces | None:
    """The stretch ``[edges[0], edges[-1])`` served by the piece (:mod:`chiptwin.timing.aggregate`), or
    None where it is served job by job: another workload, Poisson traffic without ``aggregate``, a
    pipeline still busy, or a load the piece cannot take."""
    b, f = run.figures[_USER]
    if type(workload) is PeriodicWorkload:
        return periodic_pieces(workload, edges, b, f, free)
    if type(workload) is PoissonWorkload and aggregate:
        return poisson_pieces(workload, edges, b, f, free)
    return None


def _serve(
    run: _Batches,
    workload: Workload,
    passes: list[int],
    start_ns: int,
    end_ns: int,
    chunk_ns: int,
    free: int,
    aggregate: bool,
) -> int:
    """Serve the arrivals in ``[start_ns, end_ns)`` and the compensation passes at ``passes`` on one plan.

    Returns when the pipeline is free again. Compensation jobs of a pass that spill past ``end_ns``
    (AdaBS images right before a plan change) are served with the last chunk. Chunks without
    compensation jobs that start on an empty pipeline are served together, by the piece, where
    :func:`_quiet_pieces` allows.
    """
    tally = run.tally
    shared = _SharedPasses(run) if run.comp is not None and run.comp.shared else None
    if shared is None:
        comp_at, comp_kind = run.compensation_jobs(passes)
        run.open_passes.extend(passes)
    else:  # passes are queued as they come (:class:`_SharedPasses`); their times mark the busy chunks
        comp_at, comp_kind = np.asarray(passes, dtype=np.int64), np.empty(0, dtype=np.int8)
    service_of = np.array([run.figures.get(k, (0, 0))[0] for k in range(_KINDS)], dtype=np.int64)
    latency_of = np.array([run.figures.get(k, (0, 0))[1] for k in range(_KINDS)], dtype=np.int64)
    b, f = run.figures[_USER]
    w0 = start_ns
    while w0 < end_ns:
        w1 = min(w0 + chunk_ns, end_ns)
        lo, hi = np.searchsorted(comp_at, [w0, w1], side="left")
        if w1 == end_ns:
            hi = comp_at.size
        if shared is not None and (lo < hi or shared.pending):
            arrivals = workload.arrivals_ns(w0, w1)
            free = shared.serve(arrivals, comp_at[lo:hi].tolist(), free, w1, last=w1 == end_ns)
            w0 = w1
            continue
        if lo == hi and free <= w0:
            # Quiet chunks up to the one holding the next compensation job (or the end).
            # (compensation jobs past the end are served with the last chunk: it is never quiet then).
            nxt = end_ns if lo == comp_at.size else min(int(comp_at[lo]), end_ns - 1)
            stop = min(end_ns, start_ns + (nxt - start_ns) // chunk_ns * chunk_ns if nxt < end_ns else end_ns)
            windows = stop // tally.base_window_ns - w0 // tally.base_window_ns
            if stop > w0 and _aggregatable(workload, aggregate) and windows <= MAX_UTILISATION_WINDOWS:
                edges = _piece_edges(w0, stop, chunk_ns, tally.base_window_ns)
                pieces = _quiet_pieces(run, workload, edges, free, aggregate)
                if pieces is not None:
                    run.book_pieces(pieces, start_ns, chunk_ns)
                    free = pieces.free_ns
                    w0 = stop
                    continue
        arrivals = workload.arrivals_ns(w0, w1)
        w0 = w1
        if lo == hi:
            n = arrivals.size
            if not n:
                continue
            service = np.full(n, b, dtype=np.int64)
            entries, exits, free = serve_jobs(arrivals, service, np.full(n, f, dtype=np.int64), free)
            run.book_users(entries, exits, arrivals)
            tally.last_done_ns = max(tally.last_done_ns, int(exits[-1]))
            continue
        times = np.concatenate([comp_at[lo:hi], arrivals])
        kinds = np.concatenate([comp_kind[lo:hi], np.zeros(arrivals.size, dtype=np.int8)])
        order = np.argsort(times, kind="stable")
        times, kinds = times[order], kinds[order]
        entries, exits, free = serve_jobs(times, service_of[kinds], latency_of[kinds], free)
        user = kinds == _USER
        run.book_users(entries[user], exits[user], times[user])
        run.book_compensation(kinds[~user], entries[~user], exits[~user])
        tally.last_done_ns = max(tally.last_done_ns, int(exits.max()))
    return free


class _SharedPasses:
    """Compensation passes that share the pipeline (``mode = "shared"``): a non-preemptive priority queue.

    A pass is a chain of calibration jobs: its GDC slices (one calibration read of every block each,
    from the pass's time; the last one also computes the scale factors), then its AdaBS images (from
    when the last slice is out), then the batch-norm update (from when the last image entered). A
    calibration job enters the pipeline only when no user inference is waiting for it: whenever the
    pipeline frees, a waiting inference goes first (ties included), else the next calibration job if it
    may start, else the pipeline idles until one of them comes. An inference arriving while a
    calibration job is in the pipeline waits for that one job (its service time) only. Passes run one
    after the other, as in blocking mode.
    """

    def __init__(self, run: _Batches) -> None:
        assert run.comp is not None
        self.run, self.comp = run, run.comp
        # Each pending job: [kind, not before (ns), pass time, pass number].
        self.pending: collections.deque[list[int]] = collections.deque()
        self.passes = 0
        self.slice_start: dict[int, int] = {}

    def queue(self, at_ns: int) -> None:
        """A pass scheduled at ``at_ns``: its jobs join the end of the calibration queue."""
        n, comp = self.passes, self.comp
        self.passes += 1
        jobs = []
        if comp.gdc:
            slices = self.run.slices
            jobs += [[_SLICE, at_ns, at_ns, n] for _ in range(slices - 1)] + [[_LAST_SLICE, at_ns, at_ns, n]]
        if comp.adabs:
            jobs += [[_IMAGE, at_ns, at_ns, n] for _ in range(comp.adabs_images)] + [
                [_UPDATE, at_ns, at_ns, n]
            ]
        self.pending.extend(jobs)

    def serve(self, arrivals: np.ndarray, passes: list[int], free: int, end_ns: int, *, last: bool) -> int:
        """Serve one chunk's arrivals (before ``end_ns``) and the calibration jobs that may start in it;
        returns when the pipeline frees. ``last``: the segment's last chunk (every pending job runs)."""
        run, tally = self.run, self.run.tally
        for t in passes:
            self.queue(t)
        b, f = run.figures[_USER]
        users = arrivals.tolist()
        entries: list[int] = []
        cal: list[tuple[int, int, int]] = []  # kind, entry, exit
        i, n = 0, len(users)
        pending = self.pending
        while pending:
            job = pending[0]
            start = max(free, job[1])
            if i < n and users[i] <= start:  # an inference is waiting when the pipeline frees: it goes
                e = max(free, users[i])
                entries.append(e)
                free = e + b
                i += 1
                continue
            if start >= end_ns and not last:  # a later chunk's inference may come first: decide there
                break
            pending.popleft()
            kind, at, number = job[0], job[2], job[3]
            service, latency = run.figures[kind]
            free = start + service
            exit_ = start + latency
            cal.append((kind, start, exit_))
            nxt = pending[0] if pending else None
            if kind == _SLICE:
                self.slice_start.setdefault(number, start)
            elif kind == _LAST_SLICE:
                first = self.slice_start.pop(number, start)
                tally.activities += 1
                run._gdc(first, exit_)
                if nxt is not None and nxt[3] == number:
                    nxt[1] = exit_  # AdaBS starts when the GDC calibration is done
                elif not self.comp.adabs:
                    tally.pass_ns.append(exit_ - at)
            elif kind == _UPDATE:
                tally.pass_ns.append(exit_ - at)
            tally.last_done_ns = max(tally.last_done_ns, exit_)
        user_entries = np.array(entries, dtype=np.int64)
        if i < n:  # the calibration queue is empty: the rest of the chunk by the formula
            rest = arrivals[i:]
            more, _, free = serve_jobs(rest, np.full(rest.size, b, dtype=np.int64), rest * 0 + f, free)
            user_entries = np.concatenate([user_entries, more])
        if n:
            exits = user_entries + f
            run.book_users(user_entries, exits, arrivals)
            tally.last_done_ns = max(tally.last_done_ns, int(exits.max()))
        images = [(k, s, c) for k, s, c in cal if k in (_IMAGE, _UPDATE)]
        if images:
            kinds = np.array([k for k, _, _ in images], dtype=np.int8)
            starts = np.array([s for _, s, _ in images], dtype=np.int64)
            ends = np.array([c for _, _, c in images], dtype=np.int64)
            run.book_compensation(kinds, starts, ends, count_passes=False)
        tally.activities += sum(1 for k, _, _ in cal if k == _SLICE)
        return free
