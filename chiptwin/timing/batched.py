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

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from chiptwin.errors import TimingError
from chiptwin.timing.compensation import CompensationSpec, compensation_times_ns, gdc_work
from chiptwin.timing.engine import check_duration, check_window, single_inference_ns
from chiptwin.timing.programming import ProgrammingResult, programming_cost
from chiptwin.timing.records import EventKind, EventRecord, RecordFn, Task
from chiptwin.timing.results import UTILISATION_WINDOWS, Tally, TimingResult, summarise
from chiptwin.timing.stages import PipelinePlan
from chiptwin.timing.workload import Workload
from chiptwin.units import NS_PER_S

__all__ = ["PlanChange", "pipeline_makespan_ns", "serve_jobs", "simulate_batched"]

DEFAULT_CHUNK_NS = 10 * NS_PER_S
"""Arrivals are served 10 s of device time at a time."""

_USER, _GDC, _IMAGE, _UPDATE = 0, 1, 2, 3


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
        self.figures = {  # kind -> (service, latency) in ns
            _USER: (plan.bottleneck_ns, self.fill),
            _GDC: (max((w.read_ns for w in self.gdc), default=0), max(gdc_latency, default=0)),
        }
        if adabs is not None:
            update = max((w.duration_ns for _, w in adabs.bn_updates), default=0)
            self.figures[_IMAGE] = (adabs.bottleneck_ns, single_inference_ns(adabs))
            self.figures[_UPDATE] = (update, update)

    def compensation_jobs(self, times_ns: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Arrival times and kinds of every compensation job of the run."""
        at: list[int] = []
        kinds: list[int] = []
        gdc = self.comp is not None and self.comp.gdc
        gdc_latency = self.figures[_GDC][1] if gdc else 0
        for t in times_ns:
            if gdc:
                at.append(t)
                kinds.append(_GDC)
            if self.comp is not None and self.comp.adabs:
                # AdaBS starts when the GDC calibration is done (on an idle chip: its latency later).
                at += [t + gdc_latency] * (self.comp.adabs_images + 1)
                kinds += [_IMAGE] * self.comp.adabs_images + [_UPDATE]
        order = np.argsort(np.array(at, dtype=np.int64), kind="stable")
        return np.array(at, dtype=np.int64)[order], np.array(kinds, dtype=np.int8)[order]

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
                for t, ns in plan.crossbar_busy_ns.items():
                    self.tally.add_window_busy(k, t, n * ns, task)

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

    def book_compensation(self, kinds: np.ndarray, entries: np.ndarray, exits: np.ndarray) -> None:
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
        for kind, s, c in zip(
            kinds[~images].tolist(), entries[~images].tolist(), exits[~images].tolist(), strict=True
        ):
            tally.activities += 1
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
) -> TimingResult:
    """Serve the workload's arrivals in ``[0, duration_ns)`` with the pipeline formula (module docstring).

    Same arguments and result as :func:`~chiptwin.timing.engine.simulate_events`, plus ``chunk_ns``
    (device time served per numpy pass) and ``changes`` (the plan changes of a tile failure and its
    repair, in time order; those at or after ``duration_ns`` do not happen). Records: one ``BATCH``
    record per chunk of user inferences, one per compensation job (``CALIBRATE``, ``BATCH`` of
    calibration images, ``BN_UPDATE``) and one ``PROGRAM`` record per programmed tile. The result's
    stage figures (latency of one inference, peak throughput) are those of ``plan``; its energies,
    utilisation and latencies are of the plans in force.

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
            run, workload, [t for t in passes if seg.at_ns <= t < end], seg.at_ns, end, chunk_ns, free
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
    )


def _serve(
    run: _Batches, workload: Workload, passes: list[int], start_ns: int, end_ns: int, chunk_ns: int, free: int
) -> int:
    """Serve the arrivals in ``[start_ns, end_ns)`` and the compensation passes at ``passes`` on one plan.

    Returns when the pipeline is free again. Compensation jobs of a pass that spill past ``end_ns``
    (AdaBS images right before a plan change) are served with the last chunk.
    """
    tally = run.tally
    comp_at, comp_kind = run.compensation_jobs(passes)
    service_of = np.array([run.figures.get(k, (0, 0))[0] for k in range(4)], dtype=np.int64)
    latency_of = np.array([run.figures.get(k, (0, 0))[1] for k in range(4)], dtype=np.int64)
    b, f = run.figures[_USER]
    for w0 in range(start_ns, end_ns, chunk_ns):
        w1 = min(w0 + chunk_ns, end_ns)
        arrivals = workload.arrivals_ns(w0, w1)
        lo, hi = np.searchsorted(comp_at, [w0, w1], side="left")
        if w1 == end_ns:
            hi = comp_at.size
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
