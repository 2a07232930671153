"""The event engine: one SimPy environment plays a pipeline plan for every job of a workload.

The clock counts integer nanoseconds (``env.now`` is ``now_ns``). Resources (:class:`Server`, FIFO,
capacity one): each tile's crossbar, its ADC bank and its digital unit, and each directed mesh link.
Jobs are user inferences from the workload and, with compensation, AdaBS calibration images; each walks
its layer stages in topological order, a stage starting when all its predecessors are done (a fork
starts one process per branch; the branch finishing a join carries on). Activities are those of
:mod:`chiptwin.timing.plan`, one SimPy event each; successive jobs pipeline through the layers because
each activity queues only for its own resource.

Programming (``program=True``) holds every used tile's crossbar from time 0 for its program-and-verify
time, so the first inferences wait for it. Compensation (:mod:`chiptwin.timing.compensation`) runs at
its scheduled times and queues for the same resources as inferences.

The run drains: every job that arrived before ``duration_ns`` finishes, so the run's elapsed time is at
least ``duration_ns``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from chiptwin.errors import TimingError
from chiptwin.timing.compensation import CompensationSpec, GDCTileWork, compensation_times_ns, gdc_work
from chiptwin.timing.programming import programming_cost
from chiptwin.timing.records import EventBuffer, EventKind, RecordFn, Task
from chiptwin.timing.results import Tally, TimingResult, summarise
from chiptwin.timing.server import Server, reserve
from chiptwin.timing.stages import BlockWork, DigitalWork, LayerStage, PipelinePlan, Transfer
from chiptwin.timing.workload import Workload
from chiptwin.units import NS_PER_S

__all__ = [
    "adapt_batchnorm",
    "calibrate_tile",
    "calibrate_tile_shared",
    "check_duration",
    "check_window",
    "compensate",
    "inject_arrivals",
    "run_block",
    "simulate_events",
    "single_inference_ns",
    "walk_layers",
]

_ARRIVAL_WINDOW_NS = NS_PER_S // 10
"""Arrivals are taken from the workload 0.1 s of device time at a time."""

Process = Generator[simpy.Event, Any, None]

_TRANSFER, _MVM, _CONVERT = EventKind.TRANSFER, EventKind.MVM, EventKind.CONVERT
_ARRIVAL, _DONE = EventKind.ARRIVAL, EventKind.DONE


class _Countdown:
    """Jobs still to finish before ``event`` fires (the images of one AdaBS pass)."""

    __slots__ = ("event", "left")

    def __init__(self, left: int, event: simpy.Event) -> None:
        self.left, self.event = left, event


class _Job:
    __slots__ = ("arrival_ns", "done", "ident", "plan", "remaining", "sinks_left", "task")

    def __init__(
        self, task: Task, ident: int, plan: PipelinePlan, arrival_ns: int, done: _Countdown | None
    ) -> None:
        self.task, self.ident, self.plan, self.arrival_ns, self.done = task, ident, plan, arrival_ns, done
        self.remaining = [len(s.preds) for s in plan.stages]
        self.sinks_left = len(plan.sinks)


class _Run:
    """What the processes of one run share: environment, resources, plans, tally, record sink."""

    __slots__ = (
        "adabs",
        "adc",
        "buffer",
        "crossbar",
        "digital",
        "env",
        "gdc",
        "ids",
        "links",
        "plan",
        "rec",
        "stage_runs",
        "tally",
    )

    def __init__(
        self,
        plan: PipelinePlan,
        adabs: PipelinePlan | None,
        record: RecordFn | None,
        gdc: tuple[GDCTileWork, ...] = (),
    ) -> None:
        if adabs is not None and adabs.links != plan.links:
            raise TimingError("the AdaBS plan must be built from the same graph and mapping as the plan")
        tiles = range(plan.chip.tiles.count)
        self.env = simpy.Environment()
        self.plan, self.adabs, self.gdc = plan, adabs, gdc
        # Records go to columns (records.py); a sink that is not a buffer gets them after the run.
        self.buffer: EventBuffer | None = None
        if record is not None:
            self.buffer = record if isinstance(record, EventBuffer) else EventBuffer()
        self.rec = None if self.buffer is None else self.buffer.add
        self.crossbar = [Server(f"crossbar {t}") for t in tiles]
        self.adc = [Server(f"adc {t}") for t in tiles]
        self.digital = [Server(f"digital {t}") for t in tiles]
        self.links = [Server(f"link {name}") for name in plan.links]
        self.tally = Tally(plan.tiles_used)
        self.ids = dict.fromkeys(Task, 0)
        # Stage completions per task; their energy is booked at the end (every stage's energy is fixed).
        self.stage_runs = {task: [0] * len(plan.stages) for task in (Task.INFERENCE, Task.ADABS)}

    def book_stage_runs(self) -> None:
        """Add the energy of every completed stage to the tally."""
        for task, plan in ((Task.INFERENCE, self.plan), (Task.ADABS, self.adabs)):
            if plan is None:
                continue
            energy = self.tally.energy[task]
            for stage, n in zip(plan.stages, self.stage_runs[task], strict=True):
                if not n:
                    continue
                for comp, pj in stage.energy_pj:
                    energy[comp] += n * pj
                if task is Task.INFERENCE:
                    layers = self.tally.layer_energy
                    layers[stage.layer] = layers.get(stage.layer, 0.0) + n * sum(
                        pj for _, pj in stage.energy_pj
                    )

    @property
    def now(self) -> int:
        """The clock, integer ns (every delay of the twin is a whole ns, so it stays an int)."""
        return self.env.now  # type: ignore[return-value]


def _move(run: _Run, job: _Job, layer: str, t: Transfer) -> int:
    now = run.now
    links = run.links
    start = reserve([links[i] for i in t.links], now, t.duration_ns)
    run.tally.activities += 1
    if run.rec is not None:
        run.rec(
            start, t.duration_ns, _TRANSFER, job.task, job.ident, layer, t.src_tile, t.dst_tile, t.size_bytes,
            t.hops, "", t.energy_pj,
        )  # fmt: skip
    return start + t.duration_ns


def _compute(run: _Run, task: Task, ident: int, layer: str, work: DigitalWork, kind: EventKind) -> int:
    start = run.digital[work.tile].reserve(run.now, work.duration_ns)
    run.tally.activities += 1
    if run.rec is not None:
        run.rec(
            start, work.duration_ns, kind, task, ident, layer, work.tile, -1, work.total_ops, 0, work.main_op,
            work.total_pj,
        )  # fmt: skip
    return start + work.duration_ns


def _block_steps(env: simpy.Environment, run: _Run, job: _Job, stage: LayerStage, b: BlockWork) -> Process:
    if b.inputs:
        end = max(_move(run, job, stage.layer, t) for t in b.inputs)
        if end > env.now:
            yield env.timeout(end - env.now)
    if b.duration_ns:
        t = b.tile
        start = reserve((run.crossbar[t], run.adc[t]), run.now, b.duration_ns)
        run.tally.activities += 1
        run.tally.add_busy(t, start, b.duration_ns, job.task)
        rec = run.rec
        if rec is not None:
            task, ident, layer = job.task, job.ident, stage.layer
            rec(start, b.duration_ns, _MVM, task, ident, layer, t, -1, b.mvms, 0, "", b.array_pj + b.dac_pj)
            rec(start, b.convert_ns, _CONVERT, task, ident, layer, t, -1, b.mvms * b.cols, 0, "", b.adc_pj)
        yield env.timeout(start + b.duration_ns - env.now)
    if b.output is not None:
        end = _move(run, job, stage.layer, b.output)
        yield env.timeout(end - env.now)


def run_block(env: simpy.Environment, run: _Run, job: _Job, stage: LayerStage, b: BlockWork) -> Process:
    """SimPy process: one placed block of a layer receives its inputs, does its MVMs, sends its outputs."""
    yield from _block_steps(env, run, job, stage, b)


def walk_layers(env: simpy.Environment, run: _Run, job: _Job, index: int) -> Process:
    """SimPy process: one job walks its layer stages from ``index`` on, forking a process per branch.

    A stage runs when its last predecessor is done; the process finishing a stage carries on with the
    first successor that became ready and starts a process for each other one. The process that
    finishes the job's last sink stage records its latency.
    """
    stages = job.plan.stages
    runs = run.stage_runs[job.task]
    while True:
        stage = stages[index]
        blocks = stage.blocks
        if blocks:
            others = [env.process(run_block(env, run, job, stage, b)) for b in blocks[1:]]
            yield from _block_steps(env, run, job, stage, blocks[0])
            if others:
                yield env.all_of(others)
        elif stage.inputs:
            end = max(_move(run, job, stage.layer, t) for t in stage.inputs)
            if end > env.now:
                yield env.timeout(end - env.now)
        if stage.digital is not None:
            end = _compute(run, job.task, job.ident, stage.layer, stage.digital, EventKind.DIGITAL)
            yield env.timeout(end - env.now)
        runs[index] += 1
        nxt = -1
        for s in stage.succs:
            job.remaining[s] -= 1
            if job.remaining[s] == 0:
                if nxt < 0:
                    nxt = s
                else:
                    env.process(walk_layers(env, run, job, s))
        if not stage.succs:
            job.sinks_left -= 1
            if job.sinks_left == 0:
                _finish(run, job)
        if nxt < 0:
            return
        index = nxt


def _finish(run: _Run, job: _Job) -> None:
    now, tally = run.now, run.tally
    tally.jobs[job.task] += 1
    if job.task is Task.INFERENCE:
        tally.add_latency(now - job.arrival_ns)
    if now > tally.last_done_ns:
        tally.last_done_ns = now
    if run.rec is not None:
        run.rec(job.arrival_ns, now - job.arrival_ns, _DONE, job.task, job.ident, "", -1, -1, 1, 0, "", 0.0)
    if job.done is not None:
        job.done.left -= 1
        if job.done.left == 0:
            job.done.event.succeed()


def _start_job(run: _Run, task: Task, plan: PipelinePlan, done: _Countdown | None = None) -> None:
    ident = run.ids[task]
    run.ids[task] = ident + 1
    env = run.env
    job = _Job(task, ident, plan, run.now, done)
    if run.rec is not None:
        run.rec(job.arrival_ns, 0, _ARRIVAL, task, ident, "", -1, -1, 1, 0, "", 0.0)
    for s in plan.sources:
        env.process(walk_layers(env, run, job, s))


def inject_arrivals(env: simpy.Environment, run: _Run, workload: Workload, duration_ns: int) -> Process:
    """SimPy process: take the workload's arrivals window by window and start an inference at each."""
    for w0 in range(0, duration_ns, _ARRIVAL_WINDOW_NS):
        for t in workload.arrivals_ns(w0, min(w0 + _ARRIVAL_WINDOW_NS, duration_ns)).tolist():
            if t > env.now:
                yield env.timeout(t - env.now)
            _start_job(run, Task.INFERENCE, run.plan)


def calibrate_tile(env: simpy.Environment, run: _Run, n: int, work: GDCTileWork) -> Process:
    """SimPy process: one tile's GDC calibration reads (crossbar and ADCs), then its new scale factors."""
    t = work.tile
    start = reserve((run.crossbar[t], run.adc[t]), run.now, work.read_ns)
    tally = run.tally
    tally.activities += 1
    tally.add_busy(t, start, work.read_ns, Task.GDC)
    _book_gdc_reads(tally, work)
    if run.rec is not None:
        run.rec(
            start, work.read_ns, EventKind.CALIBRATE, Task.GDC, n, "", t, -1, work.mvms, 0, "",
            work.array_pj + work.dac_pj + work.adc_pj,
        )  # fmt: skip
    yield env.timeout(start + work.read_ns - env.now)
    yield from _gdc_scales(env, run, n, work)


def _book_gdc_reads(tally: Tally, work: GDCTileWork) -> None:
    """The energy of one tile's GDC calibration reads (array, DACs, ADCs), pJ."""
    energy = tally.energy[Task.GDC]
    energy["array"] += work.array_pj
    energy["dac"] += work.dac_pj
    energy["adc"] += work.adc_pj


def _gdc_scales(env: simpy.Environment, run: _Run, n: int, work: GDCTileWork) -> Process:
    """The digital unit computes the tile's new scale factors after its calibration reads (if it must)."""
    if work.digital is not None:
        end = _compute(run, Task.GDC, n, "", work.digital, EventKind.DIGITAL)
        energy = run.tally.energy[Task.GDC]
        for comp, pj in work.digital.energy_pj:
            energy[f"digital.{comp}"] += pj
        yield env.timeout(end - env.now)


def calibrate_tile_shared(env: simpy.Environment, run: _Run, n: int, work: GDCTileWork) -> Process:
    """SimPy process: one tile's GDC calibration in slices of one MVM (``mode = "shared"``), each taken
    only when the tile's crossbar and ADCs are idle (a request already queued there goes first), then
    its new scale factors. The slices' times add up to the blocking read's."""
    t = work.tile
    servers = (run.crossbar[t], run.adc[t])
    tally = run.tally
    base, extra = divmod(work.read_ns, work.mvms)
    for k in range(work.mvms):
        while (busy := max(s.free_at_ns for s in servers)) > env.now:
            yield env.timeout(busy - env.now)
        ns = base + (k < extra)
        start = reserve(servers, run.now, ns)
        tally.activities += 1
        tally.add_busy(t, start, ns, Task.GDC)
        if run.rec is not None:
            run.rec(
                start, ns, EventKind.CALIBRATE, Task.GDC, n, "", t, -1, 1, 0, "",
                (work.array_pj + work.dac_pj + work.adc_pj) / work.mvms,
            )  # fmt: skip
        yield env.timeout(start + ns - env.now)
    _book_gdc_reads(tally, work)
    yield from _gdc_scales(env, run, n, work)


def _server(run: _Run, name: str) -> Server:
    """The resource a plan calls ``name`` (``crossbar 3``, ``digital 0``, ``link 3->4``)."""
    kind, _, rest = name.partition(" ")
    if kind == "link":
        return run.links[run.plan.links.index(rest)]
    return {"crossbar": run.crossbar, "digital": run.digital}[kind][int(rest)]


def adapt_batchnorm(env: simpy.Environment, run: _Run, n: int, images: int, shared: bool = False) -> Process:
    """SimPy process: an AdaBS pass: ``images`` calibration images through the chip, then the BN update
    (``shared``: the images one at a time into free slots, see below)."""
    plan = run.adabs
    assert plan is not None
    countdown = _Countdown(images, env.event())
    if shared:
        # One image at a time, each when the AdaBS plan's bottleneck is idle and the previous image has
        # had its turn there: images take the free slots of the pipeline, inferences keep theirs.
        neck = _server(run, plan.bottleneck)
        entered = -plan.bottleneck_ns
        for _ in range(images):
            while (ready := max(neck.free_at_ns, entered + plan.bottleneck_ns)) > env.now:
                yield env.timeout(ready - env.now)
            entered = run.now
            _start_job(run, Task.ADABS, plan, countdown)
    else:
        for _ in range(images):
            _start_job(run, Task.ADABS, plan, countdown)
    yield countdown.event
    energy = run.tally.energy[Task.ADABS]
    end = env.now
    for layer, work in plan.bn_updates:
        end = max(end, _compute(run, Task.ADABS, n, layer, work, EventKind.BN_UPDATE))
        for comp, pj in work.energy_pj:
            energy[f"digital.{comp}"] += pj
    if end > env.now:
        yield env.timeout(end - env.now)
    run.tally.passes[Task.ADABS] += 1


def compensate(env: simpy.Environment, run: _Run, spec: CompensationSpec, times_ns: list[int]) -> Process:
    """SimPy process: at each scheduled time a GDC calibration of every used tile (if the policy's pass
    takes one), then an AdaBS pass (if it takes one); a pass that is still running delays the next one."""
    calibrate = calibrate_tile_shared if spec.shared else calibrate_tile
    for n, t in enumerate(times_ns):
        if t > env.now:
            yield env.timeout(t - env.now)
        if spec.gdc:
            yield env.all_of([env.process(calibrate(env, run, n, w)) for w in run.gdc])
            run.tally.passes[Task.GDC] += 1
        if spec.adabs:
            yield env.process(adapt_batchnorm(env, run, n, spec.adabs_images, spec.shared))
        run.tally.pass_ns.append(run.now - t)  # from its scheduled time (a late start counts)


def _program(run: _Run, plan: PipelinePlan) -> None:
    cost = programming_cost(plan)
    for t, ns in cost.time_by_tile_ns.items():
        start = reserve((run.crossbar[t], run.adc[t]), 0, ns)
        run.tally.add_busy(t, start, ns, Task.PROGRAM)
        run.tally.activities += 1
        if run.rec is not None:
            run.rec(
                start, ns, EventKind.PROGRAM, Task.PROGRAM, 0, "", t, -1, cost.devices_by_tile[t], 0, "",
                cost.energy_by_tile_pj[t],
            )  # fmt: skip


def single_inference_ns(plan: PipelinePlan) -> int:
    """Latency of one inference on the idle chip (the pipeline fill), by the event engine, ns."""
    run = _Run(plan, None, None)
    _start_job(run, Task.INFERENCE, plan)
    run.env.run()
    return run.tally.latency_max


def check_duration(duration_ns: int) -> None:
    """Raises: TimingError: ``duration_ns`` is not an integer >= 1."""
    if not (isinstance(duration_ns, int) and duration_ns >= 1):
        raise TimingError(f"duration_ns(={duration_ns!r}) must be an integer >= 1")


def check_window(window_ns: int | None) -> None:
    """Raises: TimingError: ``window_ns`` is neither None nor an integer >= 1."""
    if window_ns is not None and not (isinstance(window_ns, int) and window_ns >= 1):
        raise TimingError(f"window_ns(={window_ns!r}) must be an integer >= 1")


def simulate_events(
    plan: PipelinePlan,
    workload: Workload,
    *,
    duration_ns: int,
    compensation: CompensationSpec | None = None,
    adabs_plan: PipelinePlan | None = None,
    program: bool = False,
    record: RecordFn | None = None,
    window_ns: int | None = None,
) -> TimingResult:
    """Simulate every activity of the workload's inferences arriving in ``[0, duration_ns)``.

    Args:
        plan: the pipeline plan (:func:`~chiptwin.timing.plan.build_plan`).
        workload: arrival times.
        duration_ns: window of arrivals, ns; the run drains after it.
        compensation: periodic compensation (None: none).
        adabs_plan: the ``bn_statistics=True`` plan, required when the policy runs AdaBS.
        program: program every used tile at time 0 first.
        record: sink for every event (None: no records are built). An
            :class:`~chiptwin.timing.records.EventBuffer` receives them as columns during the run (the
            fast path); any other callable gets one :class:`~chiptwin.timing.records.EventRecord` per
            event after the run, in the order they were scheduled.
        window_ns: utilisation window, ns (default: a hundredth of the run).

    Raises:
        TimingError: a bad duration or window, or AdaBS without ``adabs_plan``.
    """
    check_duration(duration_ns)
    check_window(window_ns)
    if compensation is not None and compensation.adabs and adabs_plan is None:
        raise TimingError(
            f"compensation {compensation.policy!r} runs AdaBS: it needs adabs_plan "
            "(build_plan(..., bn_statistics=True))"
        )
    gdc = gdc_work(plan, compensation.gdc_reads_per_block) if compensation and compensation.gdc else ()
    run = _Run(plan, adabs_plan, record, gdc)
    cost = None
    if program:
        cost = programming_cost(plan)
        _program(run, plan)
    env = run.env
    times = compensation_times_ns(compensation, duration_ns)
    if compensation is not None and times:
        # Started first, so a pass asks for its resources before an arrival at the same instant.
        env.process(compensate(env, run, compensation, times))
    env.process(inject_arrivals(env, run, workload, duration_ns))
    env.run()
    if record is not None and run.buffer is not record:
        assert run.buffer is not None
        run.buffer.replay(record)
    run.book_stage_runs()
    fill = single_inference_ns(plan)
    elapsed = max(duration_ns, int(env.now))
    return summarise(
        plan,
        run.tally,
        mode="events",
        duration_ns=duration_ns,
        elapsed_ns=elapsed,
        fill_ns=fill,
        policy=compensation.policy if compensation is not None else None,
        programming=cost,
        window_ns=window_ns,
        mode_of_passes=compensation.mode if compensation is not None else "blocking",
    )
