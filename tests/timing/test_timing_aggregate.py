"""Quiet stretches served by the piece (chiptwin.timing.aggregate): periodic traffic gives the very numbers
of serving every job; Poisson traffic gives the same distributions (counts, mean and worst latency) as
the job-by-job engine and as the M/D/1 queue's Pollaczek-Khinchine mean."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from timing_graphs import conv_bn_graph, plan_of

from chiptwin.spec.chip import ChipSpec
from chiptwin.timing import (
    CompensationSpec,
    EventKind,
    EventRecord,
    PeriodicWorkload,
    PipelinePlan,
    PlanChange,
    PoissonWorkload,
    TimingResult,
    simulate_batched,
    single_inference_ns,
)
from chiptwin.timing import aggregate as aggregate_module
from chiptwin.timing import batched as batched_module
from chiptwin.units import NS_PER_S


@pytest.fixture(scope="module")
def plans(hermes: ChipSpec) -> tuple[PipelinePlan, PipelinePlan]:
    return plan_of(conv_bn_graph(), hermes), plan_of(conv_bn_graph(), hermes, bn_statistics=True)


def test_the_plan_of_these_tests(plans: tuple[PipelinePlan, PipelinePlan]) -> None:
    plan, _ = plans
    # B: the conv's 64 MVMs of 128 ns on crossbar 0; F: B plus 48 ns of digital work (batch-norm, ReLU).
    assert (plan.bottleneck_ns, single_inference_ns(plan)) == (8192, 8240)


def test_periodic_pieces_by_hand(plans: tuple[PipelinePlan, PipelinePlan]) -> None:
    """1,000 inferences a second for 1 s in chunks of 0.25 s: every one waits 0 (gap 1 ms >> B), so each
    chunk's record starts at its first arrival and ends at its last arrival (249 ms later) plus F."""
    plan, _ = plans
    records: list[EventRecord] = []
    result = simulate_batched(
        plan, PeriodicWorkload(1000), duration_ns=NS_PER_S, chunk_ns=NS_PER_S // 4, record=records.append
    )
    assert result.inferences == 1000
    assert (result.latency_min_ns, result.latency_max_ns, result.latency_mean_ns) == (8240, 8240, 8240.0)
    assert [(r.time_ns, r.duration_ns, r.count) for r in records] == [
        (k * 250_000_000, 249_000_000 + 8240, 250) for k in range(4)
    ]
    assert result.elapsed_ns == NS_PER_S  # the last result at 999 ms + 8,240 ns, before the end
    assert result.events == 1000


def test_count_before_is_exact() -> None:
    for workload in (PeriodicWorkload(333.3, phase_ns=7), PeriodicWorkload(1000), PeriodicWorkload(7e5)):
        times = workload.arrivals_ns(0, 50_000_000)
        probes = np.array([0, 1, 6, 7, 8, *times[:5].tolist(), 3_000_001, 49_999_999, 50_000_000])
        probes = np.unique(np.concatenate([probes, times[::97], times[::89] + 1]))
        assert workload.count_before_ns(probes).tolist() == np.searchsorted(times, probes).tolist()
        assert workload.times_of(np.arange(times.size)).tolist() == times.tolist()


def _periodic_run(
    plans: tuple[PipelinePlan, PipelinePlan], hermes: ChipSpec, aggregate: bool | None
) -> tuple[TimingResult, list[EventRecord]]:
    plan, adabs = plans
    # A plan change to a fresh build of the same plan: the run splits into two segments there.
    again, again_adabs = (plan_of(conv_bn_graph(), hermes, **kw) for kw in ({}, {"bn_statistics": True}))
    records: list[EventRecord] = []
    result = simulate_batched(
        plan,
        PeriodicWorkload(50_000, phase_ns=3),
        duration_ns=NS_PER_S // 2,
        compensation=CompensationSpec(policy="gdc+adabs", times_s=(0.1, 0.1004, 0.37), adabs_images=300),
        adabs_plan=adabs,
        program=True,
        record=records.append,
        window_ns=7_000_001,
        chunk_ns=10_000_000,
        changes=[PlanChange(at_ns=230_000_003, plan=again, adabs_plan=again_adabs)],
        aggregate=aggregate,
    )
    return result, records


def test_periodic_by_the_piece_is_what_serving_every_job_gives(
    plans: tuple[PipelinePlan, PipelinePlan], hermes: ChipSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compensation passes (two close together), a plan change, windows across chunks: the same result
    and the same records, field by field, as serving every job (``aggregate=False``)."""
    calls: list[int] = []
    pieces = batched_module.periodic_pieces

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return pieces(*args, **kwargs)  # type: ignore[arg-type]

    exact, exact_records = _periodic_run(plans, hermes, aggregate=False)
    assert not calls
    monkeypatch.setattr(batched_module, "periodic_pieces", counted)
    fast, fast_records = _periodic_run(plans, hermes, aggregate=None)
    assert len(calls) >= 3  # a stretch before each pass's chunk and after the last
    assert fast_records == exact_records
    assert len(exact_records) > 50 and exact.inferences == 25_000
    for field in dataclasses.fields(exact):
        a, b = getattr(exact, field.name), getattr(fast, field.name)
        if field.name == "utilisation":
            assert np.array_equal(a.busy_fraction, b.busy_fraction) and a.window_ns == b.window_ns
        else:
            assert a == b, field.name


RHO = 0.3
"""Load of the Poisson tests: a quarter of the busy periods hold two or more jobs."""


def _poisson_figures(plan: PipelinePlan, aggregate: bool, seeds: range) -> np.ndarray:
    """Per seed: inferences, mean latency, worst latency and records' count over 2 s at load RHO, with a
    GDC pass at 0.7 s and 1.3 s (stretches end and start around them) in chunks of 0.1 s."""
    rate = RHO * NS_PER_S / plan.bottleneck_ns
    rows = []
    for seed in seeds:
        records: list[EventRecord] = []
        r = simulate_batched(
            plan,
            PoissonWorkload(rate, seed=seed),
            duration_ns=2 * NS_PER_S,
            compensation=CompensationSpec(policy="gdc", times_s=(0.7, 1.3)),
            chunk_ns=NS_PER_S // 10,
            window_ns=33_333_333,
            record=records.append,
            aggregate=aggregate,
        )
        batches = sum(x.count for x in records if x.kind is EventKind.BATCH)
        rows.append((r.inferences, r.latency_mean_ns, r.latency_max_ns, batches, r.latency_min_ns))
    return np.array(rows, dtype=np.float64)


def test_poisson_by_the_piece_has_the_distributions_of_every_job(
    plans: tuple[PipelinePlan, PipelinePlan],
) -> None:
    """Twelve seeds each way: the means of the count, the mean latency and the worst latency agree
    within four standard errors (of the difference of two means of twelve), and both mean latencies
    agree with F + E[W], the Pollaczek-Khinchine mean wait of an M/D/1 queue rho B / (2 (1 - rho))."""
    plan, _ = plans
    b, f = plan.bottleneck_ns, single_inference_ns(plan)
    seeds = range(12)
    exact = _poisson_figures(plan, aggregate=False, seeds=seeds)
    fast = _poisson_figures(plan, aggregate=True, seeds=range(100, 112))
    expected_n = RHO * 2 * NS_PER_S / b
    for figures in (exact, fast):
        n = figures[:, 0]
        assert np.all(np.abs(n - expected_n) < 4 * math.sqrt(expected_n))  # Poisson counts
        assert np.array_equal(figures[:, 3], n)  # the records hold every inference
        assert np.all(figures[:, 4] == f)  # someone always finds the pipeline empty
    for column in (0, 1, 2):
        a, c = exact[:, column], fast[:, column]
        se = math.sqrt(a.var(ddof=1) / a.size + c.var(ddof=1) / c.size)
        assert abs(a.mean() - c.mean()) < 4 * se, (column, a.mean(), c.mean(), se)
    wait = RHO * b / (2 * (1 - RHO))  # 1,755 ns; the passes add a few hundred ns to a handful of jobs
    for figures in (exact, fast):
        means = figures[:, 1]
        se = means.std(ddof=1) / math.sqrt(means.size)
        assert abs(means.mean() - (f + wait)) < 4 * se + 5, (means.mean(), f + wait, se)
    # The worst latency is several services deep, far beyond the mean (a real queue, not a constant).
    assert fast[:, 2].mean() > f + 5 * b


def test_poisson_by_the_piece_is_deterministic_and_default_for_long_runs(
    plans: tuple[PipelinePlan, PipelinePlan],
) -> None:
    plan, _ = plans
    one, two = (_poisson_figures(plan, aggregate=True, seeds=range(3, 4)) for _ in range(2))
    assert np.array_equal(one, two)
    # A short run is served job by job (aggregate=None: below AGGREGATE_MIN_ARRIVALS expected arrivals).
    w = PoissonWorkload(1000, seed=0)
    short = simulate_batched(plan, w, duration_ns=NS_PER_S)
    assert short.inferences == w.arrivals_ns(0, NS_PER_S).size
    assert batched_module.AGGREGATE_MIN_ARRIVALS == 1_000_000


@pytest.mark.parametrize("aggregate", [False, True])
def test_poisson_pieces_place_the_first_and_last_job_of_every_chunk(
    plans: tuple[PipelinePlan, PipelinePlan], aggregate: bool
) -> None:
    """At load 0.02 a run holds about fifty singletons, so the chunk edges (every 10 ms for 20 s) fall
    inside runs and the bisection places the jobs around them. Per chunk of length C the count is
    Poisson(rate C), and the first arrival after the chunk's start and the gap from its last arrival to
    the chunk's end are exponential of mean 1 / rate (the pipeline is almost never busy at an edge):
    their means agree within four standard errors."""
    plan, _ = plans
    b, f = plan.bottleneck_ns, single_inference_ns(plan)
    rate = 0.02 * NS_PER_S / b  # 2,441 per second
    chunk = NS_PER_S // 100
    records: list[EventRecord] = []
    simulate_batched(
        plan,
        PoissonWorkload(rate, seed=7),
        duration_ns=20 * NS_PER_S,
        chunk_ns=chunk,
        record=records.append,
        aggregate=aggregate,
    )
    batches = [r for r in records if r.kind is EventKind.BATCH]
    assert len(batches) == 2000  # no chunk of 10 ms is empty at 24 expected arrivals (P = 2.5e-11)
    counts = np.array([r.count for r in batches], dtype=np.float64)
    mean_n = rate * chunk / NS_PER_S
    assert abs(counts.mean() - mean_n) < 4 * math.sqrt(mean_n / counts.size)
    assert abs(counts.var(ddof=1) / mean_n - 1) < 4 * math.sqrt(2 / counts.size)  # Poisson: var = mean
    starts = np.array([r.time_ns % chunk for r in batches], dtype=np.float64)  # first entry after the edge
    tails = np.array([chunk - (r.time_ns + r.duration_ns - f) % chunk for r in batches], dtype=np.float64)
    gap = NS_PER_S / rate
    for sample in (starts, tails):
        assert abs(sample.mean() - gap) < 4 * gap / math.sqrt(sample.size), (sample.mean(), gap)


def test_poisson_pieces_place_the_first_job_after_each_pass(plans: tuple[PipelinePlan, PipelinePlan]) -> None:
    """A GDC pass every 30 ms, chunks of 10 ms: each pass's chunk is served job by job and the two quiet
    chunks after it by the piece, from an empty pipeline. The first job of such a stretch is its first
    run's first singleton (placed by its own order statistic): it comes an exponential time of mean
    1 / rate after the stretch's start, as in the job-by-job engine."""
    plan, _ = plans
    rate = 0.02 * NS_PER_S / plan.bottleneck_ns
    chunk = NS_PER_S // 100
    firsts = {}
    for aggregate in (False, True):
        records: list[EventRecord] = []
        simulate_batched(
            plan,
            PoissonWorkload(rate, seed=11),
            duration_ns=10 * NS_PER_S,
            compensation=CompensationSpec(policy="gdc", period_s=0.03, first_s=0.0),
            chunk_ns=chunk,
            record=records.append,
            aggregate=aggregate,
        )
        batches = [r for r in records if r.kind is EventKind.BATCH]
        # Chunks right after a pass's chunk: time from the chunk's start to its first job's entry.
        firsts[aggregate] = np.array(
            [r.time_ns % chunk for r in batches if (r.time_ns // chunk) % 3 == 1], dtype=np.float64
        )
    gap = NS_PER_S / rate
    for sample in firsts.values():
        assert sample.size > 300
        assert abs(sample.mean() - gap) < 4 * gap / math.sqrt(sample.size), (sample.mean(), gap)


def test_poisson_spans_carry_a_busy_pipeline(
    plans: tuple[PipelinePlan, PipelinePlan], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spans of a few dozen runs (instead of a million): a span often starts while the previous one's last
    busy period still runs (load 0.3), and its arrivals queue behind it one by one. Counts and mean
    latency keep the distributions of the job-by-job engine."""
    plan, _ = plans
    carried: list[int] = []
    carry_over = aggregate_module._carry_over

    def counted(*args: object) -> tuple[list[int], list[int], int]:
        out = carry_over(*args)  # type: ignore[arg-type]
        carried.append(len(out[0]))
        return out

    monkeypatch.setattr(aggregate_module, "_RUNS_PER_DRAW", 150)
    monkeypatch.setattr(aggregate_module, "_carry_over", counted)
    exact = _poisson_figures(plan, aggregate=False, seeds=range(8))
    fast = _poisson_figures(plan, aggregate=True, seeds=range(200, 208))
    assert sum(n > 0 for n in carried) > 15  # spans that began with arrivals queued behind the last one
    for column in (0, 1, 2):
        a, c = exact[:, column], fast[:, column]
        se = math.sqrt(a.var(ddof=1) / a.size + c.var(ddof=1) / c.size)
        assert abs(a.mean() - c.mean()) < 4 * se, (column, a.mean(), c.mean(), se)
    assert np.array_equal(fast[:, 3], fast[:, 0])
