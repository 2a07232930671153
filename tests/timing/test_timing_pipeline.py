"""Pipelining: the steady-state interval is the bottleneck, replication shortens it by the predicted
factor, and the batched formula equals the event engine."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from timing_graphs import chain_graph, cifar_resnet_graph, conv, plan_of

from chiptwin.errors import TimingError
from chiptwin.mapping import map_graph
from chiptwin.spec.chip import ChipSpec
from chiptwin.timing import (
    EventKind,
    EventRecord,
    PeriodicWorkload,
    ReplayWorkload,
    pipeline_makespan_ns,
    serve_jobs,
    simulate_batched,
    simulate_events,
)


def _completions(plan, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    records: list[EventRecord] = []
    simulate_events(plan, ReplayWorkload(np.zeros(n, dtype=np.int64)), duration_ns=1, record=records.append)
    return sorted(r.time_ns + r.duration_ns for r in records if r.kind is EventKind.DONE)


@pytest.fixture(scope="module")
def fast_tiny(tiny: ChipSpec) -> ChipSpec:
    # tiny_4 with a fast digital unit and mesh, so the crossbars set the pace.
    return dataclasses.replace(
        tiny,
        digital=dataclasses.replace(tiny.digital, ops_per_ns=1000.0),
        noc=dataclasses.replace(tiny.noc, link_bandwidth_bytes_per_ns=1000.0),
    )


def test_replicating_the_bottleneck_raises_throughput_by_the_predicted_factor(fast_tiny: ChipSpec) -> None:
    # a: 4 -> 16, 3x3 on 8x8: 64 MVMs; b: 16 -> 16, 1x1, stride 2: 16 MVMs. One block each.
    graph = chain_graph([conv("a", 4, 16, 3, 8), conv("b", 16, 16, 1, 8, stride=2)])
    dense = plan_of(graph, fast_tiny, "dense")
    assert dense.bottleneck == "crossbar 0"
    assert dense.bottleneck_ns == 64 * 18 == 1152
    # balanced spends the 2 spare tiles on layer a: 3 replicas of 21, 21 and 22 MVMs.
    assert map_graph(graph, fast_tiny, "balanced").replication == {"a": 3, "b": 1}
    balanced = plan_of(graph, fast_tiny, "balanced")
    assert balanced.bottleneck_ns == 22 * 18 == 396
    factor = 1152 / 396
    # The event engine's steady state: results leave every bottleneck interval.
    n = 40
    slow, fast = _completions(dense, n), _completions(balanced, n)
    assert set(np.diff(slow[n // 2 :]).tolist()) == {1152}
    assert set(np.diff(fast[n // 2 :]).tolist()) == {396}
    measured = (slow[-1] - slow[n // 2]) / (fast[-1] - fast[n // 2])
    assert measured == pytest.approx(factor, rel=1e-12)


def test_makespan_formula() -> None:
    assert pipeline_makespan_ns(100, 30, 1) == 100
    assert pipeline_makespan_ns(100, 30, 1000) == 100 + 999 * 30
    assert pipeline_makespan_ns(100, 30, 0) == 0
    with pytest.raises(TimingError, match=r"n\(=-1\)"):
        pipeline_makespan_ns(100, 30, -1)


def test_serve_jobs_is_the_single_server_recurrence() -> None:
    rng = np.random.default_rng(0)
    a = np.sort(rng.integers(0, 1000, 50)).astype(np.int64)
    b = rng.integers(1, 40, 50).astype(np.int64)
    f = b + rng.integers(0, 100, 50)
    entries, exits, free = serve_jobs(a, b, f, free_at_ns=7)
    s, expected = 7, []
    for aj, bj in zip(a.tolist(), b.tolist(), strict=True):
        s = max(aj, s)
        expected.append(s)
        s += bj
    assert entries.tolist() == expected
    assert (exits - entries).tolist() == f.tolist()
    assert free == s
    # Split in two chunks, carrying free_at: the same entries.
    e1, _, free1 = serve_jobs(a[:20], b[:20], f[:20], free_at_ns=7)
    e2, _, _ = serve_jobs(a[20:], b[20:], f[20:], free_at_ns=free1)
    assert np.concatenate([e1, e2]).tolist() == expected


@pytest.fixture(scope="module")
def resnet8_plan(hermes: ChipSpec):  # type: ignore[no-untyped-def]
    # A residual net with projection shortcuts (ResNet-8, widths 4/8/16), dense on hermes_64.
    return plan_of(cifar_resnet_graph(widths=(4, 8, 16), blocks=1), hermes)


def test_batched_equals_events_for_1000_inferences(resnet8_plan) -> None:  # type: ignore[no-untyped-def]
    together = ReplayWorkload(np.zeros(1000, dtype=np.int64))
    events = simulate_events(resnet8_plan, together, duration_ns=1)
    batched = simulate_batched(resnet8_plan, together, duration_ns=1)
    # The last result leaves F + (N - 1) * B after the common arrival: exactly, this pipeline being a
    # flow shop (each resource serves one activity per inference; the bottleneck is crossbar 0).
    fill, b = events.latency_single_ns, resnet8_plan.bottleneck_ns
    assert events.latency_max_ns == pipeline_makespan_ns(fill, b, 1000) == fill + 999 * b
    for key in ("latency_max_ns", "latency_mean_ns", "elapsed_ns", "energy_per_inference_total_pj"):
        assert getattr(batched, key) == pytest.approx(getattr(events, key), rel=1e-3), key
    for comp, pj in events.energy_per_inference_pj.items():
        assert batched.energy_per_inference_pj[comp] == pytest.approx(pj, rel=1e-3), comp
    assert batched.inferences == events.inferences == 1000


def test_batched_equals_events_under_periodic_and_saturating_traffic(resnet8_plan) -> None:  # type: ignore[no-untyped-def]
    b = resnet8_plan.bottleneck_ns
    for period in (3 * b, b - 1000):  # below and above saturation
        workload = PeriodicWorkload(1e9 / period)
        events = simulate_events(resnet8_plan, workload, duration_ns=200 * period)
        batched = simulate_batched(resnet8_plan, workload, duration_ns=200 * period)
        assert batched.inferences == events.inferences == 200
        assert batched.latency_mean_ns == pytest.approx(events.latency_mean_ns, rel=1e-3)
        assert batched.throughput_per_s == pytest.approx(events.throughput_per_s, rel=1e-3)
