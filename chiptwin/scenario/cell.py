"""One cell of a scenario (a checkpoint under one policy with one programming seed) on one SimPy clock.

The cell's clock is a SimPy environment in integer nanoseconds starting when the weights are programmed.
One process walks the cell's schedule: compensation passes, reprogrammings and accuracy probes, in time
order (at equal times: reprogram, then compensate, then probe, so a probe sees the pass made for it).
At every step the functional twin is moved to the device age of that moment,
``age_s = (now_ns - programmed_at_ns) / 1e9`` (under a ``[temperature]``, to the drift-equivalent age of
that age at the chip's temperatures, :func:`chiptwin.device.temperature.drift_age_s`; the probe rows
record both and the temperature):

- a compensation pass runs GDC (and AdaBS) at that age and its factors stay in force until the next pass;
- a probe measures accuracy with whatever compensation is in force (a GDC made 50 minutes earlier, not a
  fresh one), so a periodic policy shows the saw-tooth it really has;
- a reprogramming programs fresh devices (a new seed derived from the cell's) on the same silicon:
  stuck devices, ADC errors and dead tiles stay, and the age restarts;
- a tile failure kills the tile's blocks (they read 0; GDC leaves them alone), and its repair programs
  them on a spare tile with their own device age.

Latency and energy come from the timing layer over the same clock and schedule: the workload's
inferences and the compensation passes are served by :func:`chiptwin.timing.simulate_batched`, which
also sees the tile failure (the dead tile does no work) and the repair (the spare is programmed and
then serves, :func:`plan_changes`); every (re)programming is charged with
:func:`chiptwin.timing.programming_cost`. The start of the run is also played activity by activity by
the event engine (:mod:`chiptwin.scenario.detail`): the cell's ``detail`` rows, for timelines only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import simpy
import torch

from chiptwin.compensation import compensation_spec, get_policy
from chiptwin.device.models import noise_model
from chiptwin.device.temperature import TemperatureLaw, drift_age_s
from chiptwin.errors import SpecError
from chiptwin.functional import program_chip
from chiptwin.functional.analog_layer import BlockRange
from chiptwin.functional.chip import AnalogChip, placed_block
from chiptwin.functional.evaluate import accuracy, batches
from chiptwin.mapping import Mapping
from chiptwin.mapping.repair import replace_dead_tile
from chiptwin.scenario.detail import detail_window
from chiptwin.scenario.prepare import Prepared, PreparedModel
from chiptwin.scenario.spec import PolicySpec, TileFailureSpec
from chiptwin.seeding import derive_seed
from chiptwin.spec.figures import chip_area
from chiptwin.timing import (
    EventKind,
    EventRecord,
    PeriodicWorkload,
    PipelinePlan,
    PlanChange,
    PoissonWorkload,
    ProgrammingResult,
    TimingResult,
    Workload,
    build_plan,
    programming_cost,
    simulate_batched,
)
from chiptwin.units import NS_PER_S

__all__ = ["CellResult", "CellTiming", "cell_id", "run_cell", "schedule", "time_cell"]

REPROGRAM, FAIL, RECOVER, COMPENSATE, PROBE = 0, 1, 2, 3, 4
"""Order of the actions that fall on the same nanosecond."""

CHUNK_NS = 60 * NS_PER_S
"""Inferences served per batched-mode record (one ``batch`` event per minute of traffic)."""


def cell_id(checkpoint: str, policy: str, seed: int) -> str:
    """The id of a cell, also its part-file name: ``CHECKPOINT.POLICY.seedN``."""
    return f"{checkpoint}.{policy}.seed{seed}"


def _ns(seconds: float) -> int:
    return round(seconds * NS_PER_S)


def schedule(
    policy: PolicySpec,
    probes_s: tuple[float, ...],
    failure: TileFailureSpec | None = None,
    *,
    t0_s: float | None = None,
) -> list[tuple[int, int]]:
    """The cell's actions as ``(time_ns, action)``, in the order they run; ``t0_s`` (the device model's
    reference time) places the passes of an ``every_factor`` policy.

    Raises:
        SpecError: an ``every_factor`` policy without ``t0_s``.
    """
    end = _ns(probes_s[-1])
    actions = [(_ns(t), PROBE) for t in probes_s]
    if failure is not None and _ns(failure.at_s) <= end:
        actions.append((_ns(failure.at_s), FAIL))
        if failure.recover_after_s is not None and _ns(failure.at_s + failure.recover_after_s) <= end:
            actions.append((_ns(failure.at_s + failure.recover_after_s), RECOVER))
    if get_policy(policy.compensation).acts:
        if policy.every == "probe":
            actions += [(_ns(t), COMPENSATE) for t in probes_s]
        elif policy.every_s is not None:
            step = _ns(policy.every_s)
            actions += [(t, COMPENSATE) for t in range(step, end + 1, step)]
        elif policy.every_factor is not None:
            if t0_s is None:
                raise SpecError(f"policy {policy.name!r}: every_factor needs the device model's t0_s")
            # In logs: t0 F^k and end / t0 may overflow (t0 is any positive number). Powers, not a running
            # product: no rounding builds up over thousands of passes.
            log_t0, log_f = math.log(t0_s), math.log(policy.every_factor)
            count = max(math.floor((math.log(end / NS_PER_S) - log_t0) / log_f), 0) if end else 0
            passes = (_ns(math.exp(log_t0 + k * log_f)) for k in range(1, count + 2))
            actions += [(t, COMPENSATE) for t in passes if t <= end]
    if policy.reprogram_after_s is not None:
        step = _ns(policy.reprogram_after_s)
        actions += [(t, REPROGRAM) for t in range(step, end + 1, step)]
    return sorted(actions)


@dataclass(slots=True)
class _CellState:
    """What changes on a cell's clock: the programmed chip and the compensation bookkeeping."""

    chip: AnalogChip | None
    programmed_at_ns: int = 0
    reprograms: int = 0
    compensations: int = 0
    last_compensation_ns: int = -1
    gdc_skipped_blocks: int = 0
    """Blocks the compensation pass in force left without a GDC factor because they read nothing."""


@dataclass(slots=True)
class CellResult:
    """The rows a finished cell contributes to the trace tables."""

    cell: str
    probes: list[dict[str, Any]]
    events: list[dict[str, Any]]
    detail: list[dict[str, Any]]
    """The rows of the cell's detail window (:mod:`chiptwin.scenario.detail`); not part of any total."""
    cell_row: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CellTiming:
    """The timing layer's account of a cell's run (:func:`time_cell`), shared by its seeds."""

    result: TimingResult
    records: list[EventRecord]
    """The batched engine's records of the whole run (the ``events`` rows)."""
    detail: list[EventRecord]
    """The event engine's records of the detail window (the ``detail`` rows)."""


def _workload(prepared: Prepared) -> Workload:
    w = prepared.spec.workload
    if w.kind == "periodic":
        return PeriodicWorkload(w.rate_per_s)
    return PoissonWorkload(w.rate_per_s, seed=w.seed)


def time_cell(prepared: Prepared, model: PreparedModel, policy: PolicySpec) -> CellTiming:
    """Serve the scenario's workload over the run with this policy's compensation passes (timing layer),
    and play its detail window (:func:`~chiptwin.scenario.detail.detail_window`).

    Independent of the programming seed, so a scenario computes it once per (model, policy).
    """
    actions = schedule(policy, prepared.spec.probes_s, t0_s=prepared.chip.device.t0_s)
    passes = tuple(t / NS_PER_S for t, a in actions if a == COMPENSATE)
    comp = compensation_spec(
        get_policy(policy.compensation),
        adabs_images=prepared.spec.n_adabs,
        gdc_reads_per_block=prepared.chip.gdc.reads_per_block,
        times_s=passes,
        mode=policy.compensation_mode,
    )
    if not passes:
        comp = None
    events: list[EventRecord] = []
    duration_ns = _ns(prepared.spec.duration_s) + 1
    changes = plan_changes(prepared, model)
    result = simulate_batched(
        model.plan,
        _workload(prepared),
        duration_ns=duration_ns,
        compensation=comp,
        adabs_plan=model.adabs_plan,
        program=True,
        record=events.append,
        chunk_ns=CHUNK_NS,
        changes=changes,
    )
    detail = detail_window(
        model.plan,
        _workload(prepared),  # a fresh one: the same arrivals, drawn again
        duration_ns=duration_ns,
        compensation=comp,
        adabs_plan=model.adabs_plan,
        program=True,
        changes_ns=tuple(c.at_ns for c in changes),
    )
    return CellTiming(result, events, detail)


def plan_changes(prepared: Prepared, model: PreparedModel) -> tuple[PlanChange, ...]:
    """The timing side of the scenario's tile failure: the plans in force after it and after its repair.

    From the failure on, the dead tile's blocks do no work (``build_plan(..., dead_tiles=...)``); at the
    repair its blocks are programmed on the nearest spare tile (:func:`~chiptwin.mapping.repair.
    replace_dead_tile`, charged and holding the pipeline until done) and the repaired mapping serves.
    """
    failure = prepared.spec.tile_failure
    if failure is None:
        return ()
    chip, graph = prepared.chip, model.graph

    def plans(mapping: Mapping, dead: tuple[int, ...]) -> tuple[PipelinePlan, PipelinePlan]:
        return (
            build_plan(graph, mapping, chip, dead_tiles=dead),
            build_plan(graph, mapping, chip, bn_statistics=True, dead_tiles=dead),
        )

    plan, adabs = plans(model.mapping, (failure.tile,))
    changes = [PlanChange(at_ns=_ns(failure.at_s), plan=plan, adabs_plan=adabs)]
    if failure.recover_after_s is not None:
        repaired, spare, _ = replace_dead_tile(model.mapping, failure.tile)
        plan, adabs = plans(repaired, ())
        at_ns = _ns(failure.at_s + failure.recover_after_s)
        cost = programming_cost(plan, tiles=(spare,))
        changes.append(PlanChange(at_ns=at_ns, plan=plan, adabs_plan=adabs, program=cost))
    return tuple(changes)


def _program(
    prepared: Prepared,
    model: PreparedModel,
    seed: int,
    cell_seed: int,
    inherit: tuple[AnalogChip, float] | None = None,
) -> AnalogChip:
    """Program the cell's chip with programming seed ``seed`` on the run's torch device; its faults belong
    to the cell's silicon (``cell_seed``), and a reprogrammed chip ``inherit``s them from the chip it
    replaces."""
    spec = prepared.spec
    return program_chip(
        model.model,
        prepared.chip,
        model.blocks,
        noise_model(prepared.chip),
        seed,
        batches(prepared.calibration[: spec.n_range_calibration], spec.batch_size),
        device=prepared.device,
        faults=spec.faults,
        fault_seed=cell_seed,
        inherit=inherit,
    )


def _failed_blocks(model: PreparedModel, tile: int) -> list[tuple[str, BlockRange]]:
    """The weight blocks a tile holds, each of its own replica (other replicas live on other tiles)."""
    blocks = {(p.block.layer, placed_block(p)) for p in model.mapping.placements_on(tile)}
    return sorted(blocks, key=lambda b: (b[0], b[1].replica, b[1].row_start, b[1].col_start))


def run_cell(
    prepared: Prepared,
    model: PreparedModel,
    policy: PolicySpec,
    seed: int,
    timing: CellTiming,
    *,
    on_step: Callable[[], None] | None = None,
) -> CellResult:
    """Run one cell: program, then walk the schedule on the SimPy clock; returns its trace rows.

    ``on_step`` is called after every action of the schedule (:func:`schedule`: a probe, a compensation
    pass, a reprogramming, a tile failing or recovering), so a progress bar moves while a policy's passes
    run between two probes.
    """
    start = time.perf_counter()
    spec = prepared.spec
    keys: dict[str, Any] = {"cell": cell_id(model.label, policy.name, seed), "checkpoint": model.label}
    keys |= {"policy": policy.name, "seed": seed}
    probes: list[dict[str, Any]] = []
    t0_s = prepared.chip.device.t0_s
    # Timing-only scenarios program nothing and probe nothing.
    state = _CellState(chip=_program(prepared, model, seed, seed) if spec.accuracy else None)

    def set_age(chip: AnalogChip, now_ns: int) -> float:
        """Move the chip to the device age of ``now_ns`` (the drift-equivalent age under a temperature);
        returns the age since programming."""
        age_s = (now_ns - state.programmed_at_ns) / NS_PER_S
        history, device = prepared.temperature, prepared.chip.device
        if history is None or not isinstance(device, TemperatureLaw):
            chip.set_age(age_s)
        else:
            chip.set_age(drift_age_s(history, state.programmed_at_ns / NS_PER_S, age_s, device))
        return age_s

    def act(action: int, env: simpy.Environment) -> None:
        """Do one action of the schedule at ``env.now``."""
        if action == REPROGRAM:
            # The same silicon programmed again: new devices, the same faults (and dead tiles).
            old = state.chip
            assert old is not None
            state.reprograms += 1
            elapsed_s = (env.now - state.programmed_at_ns) / NS_PER_S
            new_seed = derive_seed(seed, "reprogram", state.reprograms)
            state.chip = _program(prepared, model, new_seed, seed, (old, elapsed_s))
            state.programmed_at_ns = int(env.now)
            state.gdc_skipped_blocks = 0
            return
        chip = state.chip
        assert chip is not None
        if action in (FAIL, RECOVER):
            assert spec.tile_failure is not None
            set_age(chip, int(env.now))
            blocks = _failed_blocks(model, spec.tile_failure.tile)
            if action == FAIL:
                chip.fail_blocks(blocks)
            else:
                chip.reprogram_blocks(blocks, derive_seed(seed, "repair"))  # charged by the timing layer
            return
        age_s = set_age(chip, int(env.now))
        if action == COMPENSATE:
            calibration = batches(prepared.calibration[: spec.n_adabs], spec.batch_size)
            state.gdc_skipped_blocks = get_policy(policy.compensation).compensate(chip, calibration)
            state.compensations += 1
            state.last_compensation_ns = int(env.now)
            return
        acc = accuracy(chip, prepared.images, prepared.labels, spec.batch_size)
        probes.append(
            keys
            | {
                "time_ns": int(env.now),
                "age_s": age_s,
                "drift_age_s": chip.age_s,
                "temperature_c": prepared.temperature_c(int(env.now) / NS_PER_S),
                "accuracy": acc,
                "n_images": int(prepared.labels.shape[0]),
                "compensations": state.compensations,
                "last_compensation_ns": state.last_compensation_ns,
                "programmed_at_ns": state.programmed_at_ns,
                "gdc_skipped_blocks": state.gdc_skipped_blocks,
            }
        )

    def walk(env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        for at_ns, action in schedule(policy, spec.probes_s, spec.tile_failure, t0_s=t0_s):
            yield env.timeout(at_ns - env.now)
            act(action, env)
            if on_step is not None:
                on_step()

    if spec.accuracy:
        env = simpy.Environment()
        env.process(walk(env))
        with torch.no_grad():
            env.run()
    result, records = timing.result, timing.records
    events = [keys | _event_row(r) for r in records]
    detail = [keys | _event_row(r) for r in timing.detail]
    program = programming_cost(model.plan)
    events += [
        keys
        | _program_row(at_ns, tile, program.time_by_tile_ns[tile], program.energy_by_tile_pj[tile], devices)
        for at_ns, action in schedule(policy, spec.probes_s, t0_s=t0_s)
        if action == REPROGRAM
        for tile, devices in program.devices_by_tile.items()
    ]
    # Repairs are the timing layer's PROGRAM records after time 0 (the spare tiles, plan_changes): tiles
    # of one repair program in parallel, so a repair takes its slowest tile's time.
    repair_ns_at: dict[int, int] = {}
    repair_pj = 0.0
    for r in records:
        if r.kind is EventKind.PROGRAM and r.time_ns > 0:
            repair_ns_at[r.time_ns] = max(repair_ns_at.get(r.time_ns, 0), r.duration_ns)
            repair_pj += r.energy_pj
    reprogram_pj = state.reprograms * program.energy_pj + repair_pj
    repair_ns = sum(repair_ns_at.values())
    wall_s = time.perf_counter() - start
    row = _cell_row(prepared, model, result, program, state.reprograms, reprogram_pj, repair_ns, wall_s)
    return CellResult(cell=keys["cell"], probes=probes, events=events, detail=detail, cell_row=keys | row)


def _event_row(r: EventRecord) -> dict[str, Any]:
    return {
        "time_ns": r.time_ns,
        "duration_ns": r.duration_ns,
        "kind": str(r.kind),
        "task": str(r.task),
        "job": r.job,
        "layer": r.layer,
        "tile": r.tile,
        "dst_tile": r.dst_tile,
        "count": r.count,
        "hops": r.hops,
        "op": r.op,
        "energy_pj": r.energy_pj,
    }


def _program_row(at_ns: int, tile: int, duration_ns: int, energy_pj: float, devices: int) -> dict[str, Any]:
    return {
        "time_ns": at_ns,
        "duration_ns": duration_ns,
        "kind": "program",
        "task": "program",
        "job": -1,
        "layer": "",
        "tile": tile,
        "dst_tile": -1,
        "count": devices,
        "hops": 0,
        "op": "",
        "energy_pj": energy_pj,
    }


def _cell_row(
    prepared: Prepared,
    model: PreparedModel,
    result: TimingResult,
    program: ProgrammingResult,
    reprograms: int,
    reprogram_pj: float,
    repair_ns: int,
    wall_s: float,
) -> dict[str, Any]:
    """The cell's cost row; ``reprogram_pj``: energy of every reprogramming and repair after the first;
    ``repair_ns``: program-and-verify time of the repairs (in ``programming_ns``, as their energy is)."""
    per = result.energy_per_inference_pj
    digital = sum(v for k, v in per.items() if k.startswith("digital."))
    comp = result.compensation
    first = result.programming.energy_pj if result.programming is not None else program.energy_pj
    return {
        "arch": prepared.chip.name,
        "strategy": prepared.spec.strategy,
        "tiles_used": len(model.mapping.tiles_used),
        "area_mm2": chip_area(prepared.chip).total_mm2,
        "duration_ns": result.duration_ns,
        "inferences": result.inferences,
        "latency_single_ns": result.latency_single_ns,
        "latency_mean_ns": float(result.latency_mean_ns),
        "throughput_per_s": float(result.throughput_per_s),
        "peak_throughput_per_s": float(result.peak_throughput_per_s),
        "energy_per_inference_pj": float(result.energy_per_inference_total_pj),
        "energy_array_pj": float(per.get("array", 0.0)),
        "energy_dac_pj": float(per.get("dac", 0.0)),
        "energy_adc_pj": float(per.get("adc", 0.0)),
        "energy_noc_pj": float(per.get("noc", 0.0)),
        "energy_digital_pj": float(digital),
        "energy_static_pj": float(per.get("static", 0.0)),
        "energy_compensation_pj": float(per.get("compensation", 0.0)),
        "compensations": (comp.gdc_passes if comp is not None else 0),
        "compensation_energy_pj": float(sum(comp.energy_pj.values())) if comp is not None else 0.0,
        "programming_energy_pj": float(first + reprogram_pj),
        "programming_ns": int(program.time_ns * (1 + reprograms) + repair_ns),
        "wall_s": float(wall_s),
    }
