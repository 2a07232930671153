"""The record stream and the result agree; records are flat; runs are deterministic; bad arguments fail."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from timing_graphs import cifar_resnet_graph, plan_of

from chiptwin.errors import TimingError
from chiptwin.mapping import map_graph
from chiptwin.spec.chip import ChipSpec
from chiptwin.timing import (
    COMPONENTS,
    CompensationSpec,
    EventBuffer,
    EventKind,
    EventRecord,
    PipelinePlan,
    PoissonWorkload,
    ReplayWorkload,
    Task,
    simulate,
    simulate_batched,
    simulate_events,
)


@pytest.fixture(scope="module")
def plan(hermes: ChipSpec) -> PipelinePlan:
    return plan_of(cifar_resnet_graph(widths=(4, 8, 16), blocks=1), hermes)


def test_records_are_flat_and_add_up_to_the_result(plan: PipelinePlan) -> None:
    records: list[EventRecord] = []
    workload = PoissonWorkload(20_000, seed=3)
    spec = CompensationSpec(policy="gdc", period_s=1e-3, gdc_reads_per_block=4)
    result = simulate_events(
        plan, workload, duration_ns=3_000_000, compensation=spec, program=True, record=records.append
    )
    for r in records[:200]:
        for f in dataclasses.fields(r):
            assert type(getattr(r, f.name)) in (int, float, str, EventKind, Task), f.name
        assert isinstance(r.kind, str) and isinstance(r.task, str)  # StrEnum: written as text
    done = [r for r in records if r.kind is EventKind.DONE and r.task is Task.INFERENCE]
    assert len(done) == result.inferences > 0
    assert sum(r.duration_ns for r in done) / len(done) == pytest.approx(result.latency_mean_ns)
    work = [r for r in records if r.kind not in (EventKind.ARRIVAL, EventKind.DONE, EventKind.PROGRAM)]
    user = sum(r.energy_pj for r in work if r.task is Task.INFERENCE)
    dynamic = sum(result.energy_per_inference_pj[c] for c in COMPONENTS) * result.inferences
    assert user == pytest.approx(dynamic)
    gdc = sum(r.energy_pj for r in work if r.task is Task.GDC)
    assert result.compensation is not None
    assert gdc == pytest.approx(sum(result.compensation.energy_pj.values()))
    assert result.compensation.gdc_passes == 2
    programmed = [r for r in records if r.kind is EventKind.PROGRAM]
    assert result.programming is not None
    assert sum(r.energy_pj for r in programmed) == pytest.approx(result.programming.energy_pj)
    assert result.events == sum(
        1 for r in records if r.kind not in (EventKind.ARRIVAL, EventKind.DONE, EventKind.CONVERT)
    )
    # Utilisation: fractions in [0, 1]; crossbar busy time matches the MVM, calibration and program events.
    util = result.utilisation
    assert util.busy_fraction.min() >= 0 and util.busy_fraction.max() <= 1 + 1e-12
    lengths = np.minimum(
        util.window_ns, result.elapsed_ns - np.arange(util.busy_fraction.shape[0]) * util.window_ns
    )
    busy = (util.busy_fraction * lengths[:, None]).sum()
    held = sum(
        r.duration_ns for r in records if r.kind in (EventKind.MVM, EventKind.CALIBRATE, EventKind.PROGRAM)
    )
    assert busy == pytest.approx(held)


def test_runs_are_deterministic(plan: PipelinePlan) -> None:
    def run() -> list[EventRecord]:
        records: list[EventRecord] = []
        simulate_events(plan, PoissonWorkload(50_000, seed=11), duration_ns=500_000, record=records.append)
        return records

    assert run() == run()


def test_a_buffer_holds_the_records_a_callback_gets_as_columns(plan: PipelinePlan) -> None:
    """The columnar buffer (the fast path) and a plain callback see the same records in the same order."""
    spec = CompensationSpec(policy="gdc", period_s=1e-3, gdc_reads_per_block=2)
    kwargs = {"duration_ns": 2_000_000, "compensation": spec, "program": True}
    objects: list[EventRecord] = []
    buffer = EventBuffer()
    a = simulate_events(plan, PoissonWorkload(20_000, seed=5), record=objects.append, **kwargs)  # type: ignore[arg-type]
    b = simulate_events(plan, PoissonWorkload(20_000, seed=5), record=buffer, **kwargs)  # type: ignore[arg-type]
    assert (a.latency_mean_ns, a.latency_max_ns, a.events) == (b.latency_mean_ns, b.latency_max_ns, b.events)
    assert len(buffer) == len(objects) > 1000
    assert list(buffer) == objects
    columns = buffer.columns()
    assert list(columns) == [f.name for f in dataclasses.fields(EventRecord)]
    assert columns["time_ns"] == [r.time_ns for r in objects]
    assert columns["kind"] == [r.kind for r in objects] and columns["op"] == [r.op for r in objects]
    assert {EventKind.TRANSFER, EventKind.MVM, EventKind.CONVERT, EventKind.CALIBRATE} <= set(columns["kind"])
    # A buffer is a sink too: it takes an EventRecord (the batched engine hands it objects).
    again = EventBuffer()
    for r in objects[:3]:
        again(r)
    assert list(again) == objects[:3]


def test_batched_records_one_batch_per_chunk(plan: PipelinePlan) -> None:
    records: list[EventRecord] = []
    result = simulate_batched(
        plan,
        PoissonWorkload(1000, seed=0),
        duration_ns=3_000_000_000,
        chunk_ns=1_000_000_000,
        record=records.append,
    )
    batches = [r for r in records if r.kind is EventKind.BATCH]
    assert len(batches) == 3
    assert sum(r.count for r in batches) == result.inferences
    assert sum(r.energy_pj for r in batches) == pytest.approx(result.inferences * plan.dynamic_energy_pj)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"duration_ns": 0}, r"duration_ns\(=0\) must be an integer >= 1"),
        ({"duration_ns": 1.5}, r"duration_ns\(=1.5\)"),
        ({"duration_ns": 10, "window_ns": 0}, r"window_ns\(=0\)"),
        ({"duration_ns": 10**9, "window_ns": 1}, "windows"),
    ],
)
def test_bad_run_arguments(plan: PipelinePlan, kwargs: dict[str, object], fragment: str) -> None:
    for engine in (simulate_events, simulate_batched):
        with pytest.raises(TimingError, match=fragment):
            engine(plan, ReplayWorkload(np.array([0])), **kwargs)  # type: ignore[arg-type]


def test_simulate_checks_mode_and_chip(hermes: ChipSpec, tiny: ChipSpec) -> None:
    graph = cifar_resnet_graph(widths=(4, 8, 16), blocks=1)
    mapping = map_graph(graph, hermes, "dense")
    with pytest.raises(TimingError, match=r"mode\(='fast'\) must be one of"):
        simulate(graph, mapping, hermes, ReplayWorkload(np.array([0])), duration_ns=1, mode="fast")
    with pytest.raises(TimingError, match="mapping is for chip 'hermes_64'"):
        simulate(graph, mapping, tiny, ReplayWorkload(np.array([0])), duration_ns=1)
    result = simulate(graph, mapping, hermes, ReplayWorkload(np.array([0])), duration_ns=1, mode="batched")
    assert result.mode == "batched" and result.inferences == 1
