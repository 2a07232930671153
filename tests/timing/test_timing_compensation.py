"""Compensation competes with inference for the same resources: exact delays, counts and energy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from timing_graphs import chain_graph, conv, conv_bn_graph, plan_of

from chiptwin.errors import TimingError
from chiptwin.mapping import map_graph
from chiptwin.spec.chip import ChipSpec
from chiptwin.timing import (
    CompensationSpec,
    EventKind,
    EventRecord,
    PeriodicWorkload,
    ReplayWorkload,
    compensation_times_ns,
    simulate,
    simulate_batched,
    simulate_events,
)


def _latencies(plan, workload, duration_ns: int, compensation=None) -> list[int]:  # type: ignore[no-untyped-def]
    records: list[EventRecord] = []
    simulate_events(plan, workload, duration_ns=duration_ns, compensation=compensation, record=records.append)
    return [r.duration_ns for r in sorted(records, key=lambda r: r.job) if r.kind is EventKind.DONE]


def test_gdc_calibration_delays_the_overlapping_inference_by_hand(tiny: ChipSpec) -> None:
    # One block on tile 0: an inference holds the crossbar 64 * 18 = 1152 ns, then the digital unit
    # 1024 ns (latency 2176). GDC at 500 ns reads the block 10 times (10 * 18 = 180 ns of crossbar),
    # then computes 16 * 11 = 176 scale ops.
    plan = plan_of(chain_graph([conv("conv", 4, 16, 3, 8)]), tiny)
    arrivals = ReplayWorkload(np.array([0, 600]))
    gdc = CompensationSpec(policy="gdc", period_s=1.0, first_s=500e-9, gdc_reads_per_block=10)
    base = _latencies(plan, arrivals, 1000)
    # Without GDC, inference 1 (at 600) gets the crossbar at 1152, the digital unit at 2304: done 3328.
    assert base == [2176, 3328 - 600]
    # GDC asks for the crossbar at 500 and gets it at 1152, before inference 1 (which asked at 600):
    # inference 1 starts its MVMs at 1332 and finishes 180 ns later; inference 0 is not delayed.
    with_gdc = _latencies(plan, arrivals, 1000, gdc)
    assert with_gdc == [2176, 3328 - 600 + 180]
    result = simulate_events(plan, arrivals, duration_ns=1000, compensation=gdc)
    assert result.compensation is not None
    assert result.compensation.gdc_passes == 1
    assert result.compensation.crossbar_busy_ns == 180
    assert sum(result.compensation.energy_pj.values()) == 10 * (36 * 16 + 36 * 1 + 16 * 2) + 176 * 1.0
    assert result.energy_per_inference_pj["compensation"] == pytest.approx(6616 / 2)


def test_adabs_pass_runs_calibration_images_then_updates_batchnorm(tiny: ChipSpec) -> None:
    graph = conv_bn_graph()
    plan, adabs = plan_of(graph, tiny), plan_of(graph, tiny, bn_statistics=True)
    spec = CompensationSpec(policy="gdc+adabs", period_s=1e-3, first_s=0.0, adabs_images=5)
    records: list[EventRecord] = []
    workload = PeriodicWorkload(2000)  # one inference every 500 us
    result = simulate_events(
        plan, workload, duration_ns=1_000_000, compensation=spec, adabs_plan=adabs, record=records.append
    )
    comp = result.compensation
    assert comp is not None
    assert (comp.gdc_passes, comp.adabs_passes, comp.calibration_images) == (1, 1, 5)
    # Calibration batch-norm accumulates two more ops per element: 3 * 16*8*8 ops instead of 1024.
    bn_stage = next(s for s in adabs.stages if s.layer == "bn")
    assert bn_stage.digital is not None and bn_stage.digital.total_ops == 3 * 1024
    update = [r for r in records if r.kind is EventKind.BN_UPDATE]
    assert [(r.layer, r.count) for r in update] == [("bn", 2 * 16)]
    # The update waits for the last calibration image.
    last_image = max(
        r.time_ns + r.duration_ns for r in records if r.kind is EventKind.DONE and r.task == "adabs"
    )
    assert update[0].time_ns >= last_image
    gdc = (36 * 16 * 1.0 + 36 * 1.0 + 16 * 2.0) + 16 * 2 * 1.0  # one read of the block; 32 scale ops
    expected = gdc + 5 * adabs.dynamic_energy_pj + 2 * 16 * 1.0  # + five images + the update (1 pJ per op)
    assert sum(comp.energy_pj.values()) == pytest.approx(expected)
    assert result.inferences == 2


def test_batched_compensation_matches_events(tiny: ChipSpec) -> None:
    # A fast digital unit, so the crossbar (1152 ns per image) is the bottleneck of images and
    # inferences alike: the pipeline is a flow shop and the batched queue is exact but for the fill.
    fast = dataclasses.replace(tiny, digital=dataclasses.replace(tiny.digital, ops_per_ns=100.0))
    graph = conv_bn_graph()
    plan, adabs = plan_of(graph, fast), plan_of(graph, fast, bn_statistics=True)
    assert plan.bottleneck == adabs.bottleneck == "crossbar 0"
    spec = CompensationSpec(policy="gdc+adabs", period_s=2e-3, first_s=1e-3, adabs_images=20)
    workload = PeriodicWorkload(100_000)  # every 10 us
    args = {"duration_ns": 10_000_000, "compensation": spec, "adabs_plan": adabs}
    events = simulate_events(plan, workload, **args)  # type: ignore[arg-type]
    batched = simulate_batched(plan, workload, **args)  # type: ignore[arg-type]
    ce, cb = events.compensation, batched.compensation
    assert ce is not None and cb is not None
    assert (cb.gdc_passes, cb.adabs_passes, cb.calibration_images) == (ce.gdc_passes, ce.adabs_passes, 100)
    assert cb.energy_pj == pytest.approx(ce.energy_pj)
    assert batched.inferences == events.inferences == 1000
    assert batched.energy_per_inference_total_pj == pytest.approx(
        events.energy_per_inference_total_pj, rel=1e-3
    )
    # The queue behind each pass is the same to within the fill of one image.
    assert batched.latency_max_ns == pytest.approx(events.latency_max_ns, abs=plan.fill_ns)
    assert batched.latency_mean_ns == pytest.approx(events.latency_mean_ns, rel=0.01)
    no_comp = simulate_batched(plan, workload, duration_ns=10_000_000)
    assert batched.latency_mean_ns > no_comp.latency_mean_ns


def test_compensation_schedule() -> None:
    assert compensation_times_ns(CompensationSpec(period_s=1.0), 3_500_000_000) == [
        1_000_000_000,
        2_000_000_000,
        3_000_000_000,
    ]
    assert compensation_times_ns(CompensationSpec(period_s=1.0, first_s=0.0), 1_500_000_000) == [
        0,
        1_000_000_000,
    ]
    assert compensation_times_ns(None, 10**12) == []
    # Explicit times: rounded to ns, those at or after the end dropped, the period ignored.
    explicit = CompensationSpec(period_s=5.0, times_s=(0.5, 1.0, 2.0))
    assert compensation_times_ns(explicit, 2_000_000_000) == [500_000_000, 1_000_000_000]


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"policy": ""}, r"policy\(=''\) must be a non-empty name"),
        ({"gdc_reads_per_block": 0}, r"a pass with no GDC read and no AdaBS image does nothing"),
        ({"period_s": 0.0}, r"period_s\(=0.0\)"),
        ({"first_s": -1.0}, r"first_s\(=-1.0\)"),
        ({"gdc_reads_per_block": -1}, r"gdc_reads_per_block\(=-1\)"),
        ({"adabs_images": -1}, r"adabs_images\(=-1\)"),
        ({"times_s": (1.0, 1.0)}, r"strictly ascending"),
        ({"times_s": (-1.0,)}, r"times_s\(=\(-1.0,\)\)"),
    ],
)
def test_bad_compensation_spec(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(TimingError, match=fragment):
        CompensationSpec(**kwargs)  # type: ignore[arg-type]


def test_adabs_needs_its_plan_and_simulate_builds_it(tiny: ChipSpec) -> None:
    graph = conv_bn_graph()
    plan = plan_of(graph, tiny)
    spec = CompensationSpec(policy="gdc+adabs", period_s=1e-3, adabs_images=2)
    for engine in (simulate_events, simulate_batched):
        with pytest.raises(TimingError, match="runs AdaBS: it needs adabs_plan"):
            engine(plan, PeriodicWorkload(1000), duration_ns=2_000_000, compensation=spec)
    mapping = map_graph(graph, tiny, "dense")
    result = simulate(graph, mapping, tiny, PeriodicWorkload(1000), duration_ns=2_000_000, compensation=spec)
    assert result.compensation is not None and result.compensation.calibration_images == 2
