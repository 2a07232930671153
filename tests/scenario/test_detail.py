"""The detail window of a scenario cell: what the event engine records for the first inferences of the
whole run, cut where a pass it does not play (or a plan change) would change them.

A small residual network on hermes_64 (no torch), inferences every 50 µs so that they queue behind
each other: the window must still equal the whole run's records of the same jobs.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from chiptwin.mapping import map_graph
from chiptwin.mapping.mapper import ARCHITECTURES_DIR
from chiptwin.scenario.detail import (
    DETAIL_INFERENCES,
    DETAIL_MAX_ADABS_IMAGES,
    detail_window,
    first_arrivals_ns,
)
from chiptwin.spec.load import load_chip
from chiptwin.timing import (
    CompensationSpec,
    EventKind,
    EventRecord,
    PeriodicWorkload,
    PipelinePlan,
    Task,
    build_plan,
    programming_cost,
    simulate_events,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "timing"))

from timing_graphs import cifar_resnet_graph

US = 1_000
PERIOD_NS = 50 * US
RUN_NS = 10_000 * US
"""The whole run: the programming, then an arrival every 50 µs."""


@dataclass(frozen=True)
class Setup:
    plan: PipelinePlan
    adabs: PipelinePlan
    start_ns: int
    """The first arrival, when the programming is done (the others every 50 µs)."""

    def workload(self) -> PeriodicWorkload:
        return PeriodicWorkload(1e9 / PERIOD_NS, phase_ns=self.start_ns)


@pytest.fixture(scope="module")
def setup() -> Setup:
    chip = load_chip(ARCHITECTURES_DIR / "hermes_64.toml")
    graph = cifar_resnet_graph(widths=(4, 8, 16), blocks=1)
    mapping = map_graph(graph, chip, "dense", architectures_dir=None)
    plan = build_plan(graph, mapping, chip)
    adabs = build_plan(graph, mapping, chip, bn_statistics=True)
    return Setup(plan, adabs, programming_cost(plan).time_ns)


def _whole_run(setup: Setup, comp: CompensationSpec | None) -> list[EventRecord]:
    records: list[EventRecord] = []
    simulate_events(
        setup.plan,
        setup.workload(),
        duration_ns=RUN_NS,
        compensation=comp,
        adabs_plan=setup.adabs,
        program=True,
        record=records.append,
    )
    return records


def _s(ns: int) -> float:
    return ns / 1e9


def _ninth(setup: Setup) -> int:
    """The ninth arrival: a window that plays a pass is cut there."""
    return setup.start_ns + DETAIL_INFERENCES * PERIOD_NS


def _window_jobs(records: list[EventRecord], cut: int | None = None) -> Counter[EventRecord]:
    """The whole run's records of the window: programming, the first inferences and the compensation
    work, before ``cut`` (results only of jobs done by then)."""

    def before(r: EventRecord) -> bool:
        end = r.time_ns + r.duration_ns
        return cut is None or (r.time_ns < cut and (r.kind is not EventKind.DONE or end <= cut))

    first = [r for r in records if r.task is not Task.INFERENCE or r.job < DETAIL_INFERENCES]
    return Counter(r for r in first if before(r))


def _window(setup: Setup, comp: CompensationSpec | None, **kw) -> list[EventRecord]:  # type: ignore[no-untyped-def]
    return detail_window(
        setup.plan, setup.workload(), duration_ns=RUN_NS, compensation=comp, adabs_plan=setup.adabs, **kw
    )


def test_the_window_is_the_whole_runs_first_inferences(setup: Setup) -> None:
    window = _window(setup, None)
    assert Counter(window) == _window_jobs(_whole_run(setup, None))
    done = [r for r in window if r.kind is EventKind.DONE]
    assert [r.job for r in done] == list(range(DETAIL_INFERENCES))
    # They queue: conv1's MVMs (131 µs) take longer than the 50 µs between arrivals.
    assert len({r.duration_ns for r in done}) > 1
    assert sum(r.kind is EventKind.PROGRAM for r in window) == len(setup.plan.tiles_used)


def test_a_gdc_pass_in_the_window_is_played(setup: Setup) -> None:
    # A GDC pass right after the third arrival: cheap, so it is in the window, as in the whole run.
    comp = CompensationSpec(policy="gdc", times_s=(_s(setup.start_ns + 120 * US),), gdc_reads_per_block=4)
    window = _window(setup, comp)
    # Cut at the ninth arrival: the pass's jobs are not ordered with the inferences left out.
    assert Counter(window) == _window_jobs(_whole_run(setup, comp), _ninth(setup))
    assert sum(r.kind is EventKind.CALIBRATE for r in window) == len(setup.plan.tiles_used)
    assert sum(r.kind is EventKind.ARRIVAL for r in window) == DETAIL_INFERENCES


def test_a_large_adabs_pass_cuts_the_window(setup: Setup) -> None:
    cut = setup.start_ns + 120 * US
    images = DETAIL_MAX_ADABS_IMAGES + 1
    comp = CompensationSpec(
        policy="gdc+adabs", times_s=(_s(cut),), gdc_reads_per_block=4, adabs_images=images
    )
    window = _window(setup, comp)
    assert Counter(window) == _window_jobs(_whole_run(setup, comp), cut)
    assert all(r.task in (Task.INFERENCE, Task.PROGRAM) for r in window)
    assert {r.job for r in window if r.kind is EventKind.ARRIVAL} == {0, 1, 2}  # before the pass
    # The same pass with few images is played whole.
    small = CompensationSpec(policy="gdc+adabs", times_s=(_s(cut),), gdc_reads_per_block=4, adabs_images=2)
    played = _window(setup, small)
    assert Counter(played) == _window_jobs(_whole_run(setup, small), _ninth(setup))
    assert sum(r.kind is EventKind.ARRIVAL and r.task is Task.ADABS for r in played) == 2


def test_a_pass_after_the_last_arrival_or_a_plan_change_cuts_it(setup: Setup) -> None:
    last = setup.start_ns + (DETAIL_INFERENCES - 1) * PERIOD_NS
    comp = CompensationSpec(policy="gdc", times_s=(_s(last + 1_000),), gdc_reads_per_block=4)
    window = _window(setup, comp)
    assert Counter(window) == _window_jobs(_whole_run(setup, comp), last + 1_000)
    assert all(r.time_ns < last + 1_000 for r in window) and not any(r.task is Task.GDC for r in window)
    # A tile failure 120 µs after the first arrival: the window ends there, on the plan before it.
    fail = setup.start_ns + 120 * US
    cut = _window(setup, None, changes_ns=(fail, fail + 400 * US))
    assert Counter(cut) == _window_jobs(_whole_run(setup, None), fail)
    assert sum(r.kind is EventKind.ARRIVAL for r in cut) == 3


def test_first_arrivals_of_a_slow_workload() -> None:
    hour = 3_600 * 10**9
    hourly = PeriodicWorkload(1 / 3_600)
    assert first_arrivals_ns(hourly, 8, 24 * hour).tolist() == [k * hour for k in range(8)]
    assert first_arrivals_ns(hourly, 8, 2 * hour + hour // 2).tolist() == [0, hour, 2 * hour]
    assert first_arrivals_ns(hourly, 8, 1).tolist() == [0]
