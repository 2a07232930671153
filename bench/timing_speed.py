"""Benchmark: speed of the timing twin, per-inference (event) and batched modes.

resnet32_pcm (zoo, traced once, not timed) dense on hermes_64. Measures, in one run:

- a reference: a plain SimPy loop (processes taking a ``simpy.Resource`` and a timeout), SimPy events
  per wall second, so the twin's figure can be read against this machine's speed;
- event mode: ``--events-inferences`` inferences at 1,000/s: twin events (activities, one SimPy event
  and one trace record each) per wall second, all SimPy events per wall second, inferences per wall
  second; without records, with records into a columnar :class:`~chiptwin.timing.EventBuffer` (the
  trace path), and with records as one :class:`~chiptwin.timing.EventRecord` object each (a list's
  ``append``, for comparison);
- batched mode: one day of device time at 1,000 inferences/s, periodic and Poisson (by the piece, and
  Poisson job by job), and Poisson with hourly GDC + AdaBS compensation: wall time;
- compensation blocking vs shared: a day at 1,000 images/s with hourly GDC + AdaBS passes: latency
  p50, p99 and max, and each pass's duration;
- the horizon: a scenario cell's traffic (Poisson at 100 images/s, a record a minute, GDC + AdaBS
  passes) served job by job for 1 and 2 days (the wall time per day of traffic, extrapolated to
  ``--year-days``), and by the piece for ``--year-days`` (periodic and Poisson with hourly passes,
  Poisson with passes at ten log-spaced probe times).

Targets: >= 200,000 events per wall second (event mode), and with records >= 0.7 x the reference; one
day at 1,000 inferences/s in <= 60 s.

    python bench/timing_speed.py [--events-inferences 1000] [--days 1] [--year-days 365]
"""

from __future__ import annotations

import argparse
import time
from typing import Any, ClassVar

import numpy as np
import simpy

from chiptwin.mapping import map_graph
from chiptwin.mapping.mapper import ARCHITECTURES_DIR
from chiptwin.network.graph import zoo_layer_graph
from chiptwin.spec.load import load_chip
from chiptwin.timing import (
    COMPENSATION_MODES,
    CompensationSpec,
    EventBuffer,
    EventRecord,
    PeriodicWorkload,
    PoissonWorkload,
    TimingResult,
    build_plan,
    simulate_batched,
    simulate_events,
)
from chiptwin.timing.batched import DEFAULT_CHUNK_NS
from chiptwin.units import NS_PER_S, SECONDS_PER_DAY

MIN_EVENTS_PER_S = 200_000
"""Target: twin events per wall second in event mode."""

MIN_RECORDED_RATIO = 0.7
"""Target: twin events per wall second with records, over the reference's SimPy events per wall second."""

MAX_DAY_S = 60.0
"""Target: wall seconds for one day of device time at 1,000 inferences/s (batched)."""

MAX_CELL_S = 10.0
"""Target: wall seconds of batched timing for a scenario cell probing at 1 year (Poisson 100 images/s
with compensation, one record a minute)."""

RATE_PER_S = 1000.0


class _CountingEnvironment(simpy.Environment):
    """A SimPy environment that remembers every instance, to read its event counter after a run."""

    made: ClassVar[list[simpy.Environment]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _CountingEnvironment.made.append(self)


def simpy_reference(jobs: int = 20_000) -> float:
    """SimPy events per wall second of a plain resource-and-timeout loop."""
    env = simpy.Environment()
    res = [simpy.Resource(env, 1) for _ in range(4)]

    def job() -> Any:
        for r in res:
            with r.request() as req:
                yield req
                yield env.timeout(10)

    def source() -> Any:
        for _ in range(jobs):
            env.process(job())
            yield env.timeout(5)

    env.process(source())
    start = time.perf_counter()
    env.run()
    wall = time.perf_counter() - start
    return next(env._eid) / wall  # SimPy's event counter (private): events scheduled in the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events-inferences", type=int, default=1000)
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--year-days", type=float, default=365.0, help="horizon of the long runs, days")
    args = parser.parse_args()

    chip = load_chip(ARCHITECTURES_DIR / "hermes_64.toml")
    graph = zoo_layer_graph("resnet32_pcm", activation_bits=8)
    mapping = map_graph(graph, chip, "dense")
    plan = build_plan(graph, mapping, chip)
    adabs = build_plan(graph, mapping, chip, bn_statistics=True)
    print(
        f"resnet32_pcm dense on hermes_64: {len(plan.stages)} layer stages, {len(mapping.tiles_used)} tiles, "
        f"bottleneck {plan.bottleneck} {plan.bottleneck_ns:,} ns, fill {plan.fill_ns:,} ns"
    )
    ref = simpy_reference()
    print(f"reference   plain SimPy loop: {ref:,.0f} SimPy events/s on this machine")

    duration = round(args.events_inferences / RATE_PER_S * NS_PER_S)
    simpy.Environment = _CountingEnvironment  # type: ignore[misc]  # count the engine's SimPy events
    try:
        for label, sink in (("events", None), ("events+rec", "buffer"), ("events+objs", "objects")):
            _CountingEnvironment.made.clear()
            objects: list[EventRecord] = []
            buffer = EventBuffer()
            record = None if sink is None else buffer if sink == "buffer" else objects.append
            start = time.perf_counter()
            result = simulate_events(plan, PeriodicWorkload(RATE_PER_S), duration_ns=duration, record=record)
            wall = time.perf_counter() - start
            simpy_events = sum(next(env._eid) for env in _CountingEnvironment.made)
            rate = result.events / wall
            kept = len(buffer) + len(objects)
            print(
                f"{label:<11} {result.inferences:,} inferences in {wall:.2f} s: {rate:,.0f} twin events/s "
                f"({result.events / result.inferences:.0f} per inference), {simpy_events / wall:,.0f} SimPy "
                f"events/s, {result.inferences / wall:,.0f} inferences/s; {rate / ref:.2f} x the reference"
                + (f"; {kept:,} records" if sink is not None else "")
                + (" (columns)" if sink == "buffer" else " (one object each)" if sink else "")
            )
            if sink is None:
                verdict = "meets" if rate >= MIN_EVENTS_PER_S else "misses"
                print(f"            {verdict} the target of {MIN_EVENTS_PER_S:,} events/s")
            elif sink == "buffer":
                verdict = "meets" if rate / ref >= MIN_RECORDED_RATIO else "misses"
                print(f"            {verdict} the target of {MIN_RECORDED_RATIO} x the reference (records)")
    finally:
        simpy.Environment = _CountingEnvironment.__mro__[1]  # type: ignore[misc]

    day = round(args.days * SECONDS_PER_DAY * NS_PER_S)
    hourly = CompensationSpec(policy="gdc+adabs", period_s=3600, adabs_images=2600)
    runs: list[tuple[str, Any, CompensationSpec | None, bool | None]] = [
        ("periodic", PeriodicWorkload(RATE_PER_S), None, None),
        ("poisson", PoissonWorkload(RATE_PER_S, seed=0), None, None),
        ("poisson 1by1", PoissonWorkload(RATE_PER_S, seed=0), None, False),
        ("poisson+comp", PoissonWorkload(RATE_PER_S, seed=0), hourly, None),
    ]
    for label, workload, comp, aggregate in runs:
        result, wall = _batched(plan, adabs, workload, day, comp, aggregate, DEFAULT_CHUNK_NS, program=False)
        verdict = "meets" if wall * (1.0 / args.days) <= MAX_DAY_S else "misses"
        print(
            f"batched     {label:<13} {args.days:g} day: {_describe(result, wall)}; {verdict} the "
            f"{MAX_DAY_S:.0f} s/day target"
        )
    sharing(plan, adabs, day, args.days)
    horizon(plan, adabs, args.year_days)


def sharing(plan: Any, adabs: Any, day: int, days: float) -> None:
    """Blocking vs shared compensation: Poisson traffic at 1,000 images/s with hourly GDC + AdaBS passes
    of 2,600 images: the latency's median, 99th percentile and worst, and how long a pass takes."""
    for mode in COMPENSATION_MODES:
        comp = CompensationSpec(policy="gdc+adabs", period_s=3600, adabs_images=2600, mode=mode)
        workload = PoissonWorkload(RATE_PER_S, seed=0)
        result, wall = _batched(plan, adabs, workload, day, comp, None, DEFAULT_CHUNK_NS, program=False)
        c = result.compensation
        assert c is not None
        print(
            f"compensation {mode:<8} {days:g} day, hourly GDC+AdaBS (2,600 images): latency p50 "
            f"{result.latency_p50_ns / 1e6:.3f} ms, p99 {result.latency_p99_ns / 1e6:.3f} ms, max "
            f"{result.latency_max_ns / 1e6:.3f} ms; a pass takes {c.pass_mean_ns / 1e6:.1f} ms on average, "
            f"{c.pass_max_ns / 1e6:.1f} ms at most ({c.adabs_passes} passes; {wall:.2f} s wall)"
        )


def _batched(
    plan: Any,
    adabs: Any,
    workload: Any,
    duration_ns: int,
    comp: CompensationSpec | None,
    aggregate: bool | None,
    chunk_ns: int,
    program: bool = True,
) -> tuple[TimingResult, float]:
    """One batched run keeping its records as a scenario cell does (a list of records; ``program``: the
    tiles programmed at time 0 first, as a cell is), and its wall time."""
    records: list[EventRecord] = []
    start = time.perf_counter()
    result = simulate_batched(
        plan,
        workload,
        duration_ns=duration_ns,
        compensation=comp,
        adabs_plan=adabs,
        program=program,
        record=records.append,
        chunk_ns=chunk_ns,
        aggregate=aggregate,
    )
    return result, time.perf_counter() - start


def _describe(result: TimingResult, wall: float) -> str:
    extra = ""
    if result.compensation is not None:
        c = result.compensation
        extra = f"; {c.gdc_passes:,} GDC + {c.adabs_passes:,} AdaBS passes ({c.calibration_images:,} images)"
    mean, worst = result.latency_mean_ns / 1e6, result.latency_max_ns / 1e6
    return (
        f"{result.inferences:,} inferences in {wall:.2f} s wall, latency mean {mean:.4f} ms, max "
        f"{worst:.3f} ms{extra}"
    )


def horizon(plan: Any, adabs: Any, days: float) -> None:
    """How batched wall time grows with the horizon: a scenario cell's traffic (Poisson at 100 images/s,
    one record a minute) served job by job over 1 and 2 days, and by the piece over ``days``, with
    GDC+AdaBS passes hourly or at ten log-spaced probe times (a retention cell compensating at its
    probes)."""
    rate, minute = 100.0, 60 * NS_PER_S
    hourly = CompensationSpec(policy="gdc+adabs", period_s=3600, adabs_images=2600)
    probes = tuple(float(t) for t in np.geomspace(60, days * SECONDS_PER_DAY, 10))
    at_probes = CompensationSpec(policy="gdc+adabs", times_s=probes, adabs_images=2600)
    walls = []
    for n in (1, 2):
        workload = PoissonWorkload(rate, seed=0)
        result, wall = _batched(
            plan, adabs, workload, round(n * SECONDS_PER_DAY * NS_PER_S), hourly, False, minute
        )
        walls.append(wall)
        print(f"horizon     job by job   {n} day: {_describe(result, wall)}")
    slope = walls[1] - walls[0]
    print(
        f"            job by job: wall time grows linearly with the horizon, {slope:.2f} s per day of "
        f"traffic: {slope * days:,.0f} s for {days:g} days"
    )
    span = round(days * SECONDS_PER_DAY * NS_PER_S)
    cells = [
        ("periodic hourly", PeriodicWorkload(rate), hourly),
        ("poisson hourly", PoissonWorkload(rate, seed=0), hourly),
        ("poisson probes", PoissonWorkload(rate, seed=0), at_probes),
    ]
    for label, workload, comp in cells:
        result, wall = _batched(plan, adabs, workload, span, comp, None, minute)
        verdict = "meets" if wall <= MAX_CELL_S else "misses"
        print(
            f"horizon     {label:<16} {days:g} days by the piece: {_describe(result, wall)}; {verdict} the "
            f"{MAX_CELL_S:.0f} s target"
        )


if __name__ == "__main__":
    main()
