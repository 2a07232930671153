"""A tile failure and its repair as the timing layer sees them: the dead tile does no work, the spare is
programmed (holding the pipeline) and then serves; energy is each plan's per-inference energy times the
inferences it served."""

from __future__ import annotations

import dataclasses

import pytest
from timing_graphs import chain_graph, conv

from chiptwin.errors import TimingError
from chiptwin.mapping import map_graph
from chiptwin.mapping.repair import replace_dead_tile
from chiptwin.spec.chip import ChipSpec
from chiptwin.timing import (
    EventKind,
    EventRecord,
    PeriodicWorkload,
    PlanChange,
    Task,
    build_plan,
    programming_cost,
    simulate_batched,
)
from chiptwin.units import NS_PER_S


@pytest.fixture(scope="module")
def setup(tiny: ChipSpec):  # type: ignore[no-untyped-def]
    # a: 4 -> 16, 3x3 on 8x8 on tile 0; b: 16 -> 16, 1x1 on tile 1 (dense); tiles 2 and 3 spare.
    graph = chain_graph([conv("a", 4, 16, 3, 8), conv("b", 16, 16, 1, 8)])
    mapping = map_graph(graph, tiny, "dense", architectures_dir=None)
    return graph, mapping, tiny


def test_a_dead_tile_does_no_work(setup) -> None:  # type: ignore[no-untyped-def]
    graph, mapping, chip = setup
    healthy = build_plan(graph, mapping, chip)
    dead = build_plan(graph, mapping, chip, dead_tiles=(1,))
    assert healthy.crossbar_busy_ns[1] > 0 and dead.crossbar_busy_ns[1] == 0
    assert dead.crossbar_busy_ns[0] == healthy.crossbar_busy_ns[0]
    [block_b] = [b for s in healthy.stages for b in s.blocks if b.tile == 1]
    # The chip saves exactly the dead block's crossbar, DAC and ADC energy.
    for comp, pj in (("array", block_b.array_pj), ("dac", block_b.dac_pj), ("adc", block_b.adc_pj)):
        assert healthy.energy_pj[comp] - dead.energy_pj[comp] == pytest.approx(pj, rel=1e-12)


def test_failure_and_repair_switch_plans_and_hold_the_pipeline_for_the_repair(setup) -> None:  # type: ignore[no-untyped-def]
    graph, mapping, chip = setup
    healthy = build_plan(graph, mapping, chip)
    dead = build_plan(graph, mapping, chip, dead_tiles=(1,))
    repaired_mapping, spare, _ = replace_dead_tile(mapping, 1)
    repaired = build_plan(graph, repaired_mapping, chip)
    repair = programming_cost(repaired, tiles=(spare,))
    assert spare in (2, 3) and set(repair.devices_by_tile) == {spare}
    assert repair.devices == 16 * 16 * chip.tiles.devices_per_weight  # layer b's weights only
    fail_ns, fix_ns, end_ns = 2 * NS_PER_S, 5 * NS_PER_S, 10 * NS_PER_S
    records: list[EventRecord] = []
    result = simulate_batched(
        healthy,
        PeriodicWorkload(100.0),
        duration_ns=end_ns,
        record=records.append,
        changes=(
            PlanChange(at_ns=fail_ns, plan=dead),
            PlanChange(at_ns=fix_ns, plan=repaired, program=repair),
        ),
    )
    # 100 images/s for 10 s: 200 on the healthy plan, 300 with the dead tile, 500 repaired.
    assert result.inferences == 1000
    expected = {
        comp: (200 * healthy.energy_pj[comp] + 300 * dead.energy_pj[comp] + 500 * repaired.energy_pj[comp])
        / 1000
        for comp in ("array", "dac", "adc", "noc")
    }
    for comp, pj in expected.items():
        assert result.energy_per_inference_pj[comp] == pytest.approx(pj, rel=1e-12)
    [program] = [r for r in records if r.kind is EventKind.PROGRAM]
    assert (program.time_ns, program.tile, program.task) == (fix_ns, spare, Task.PROGRAM)
    assert program.duration_ns == repair.time_ns and program.energy_pj == repair.energy_pj
    # The image arriving at the repair waits for the spare's programming (when it exceeds 10 ms, the
    # period of arrivals, a queue builds up behind it).
    assert result.latency_max_ns >= repair.time_ns
    assert set(result.utilisation.tiles) == {0, 1, spare}


def test_plan_changes_out_of_order_are_refused(setup) -> None:  # type: ignore[no-untyped-def]
    graph, mapping, chip = setup
    plan = build_plan(graph, mapping, chip)
    change = PlanChange(at_ns=5, plan=plan)
    with pytest.raises(TimingError, match="strictly ascending"):
        simulate_batched(plan, PeriodicWorkload(1.0), duration_ns=10, changes=(change, change))
    with pytest.raises(TimingError, match="must be > 0"):
        simulate_batched(
            plan, PeriodicWorkload(1.0), duration_ns=10, changes=(dataclasses.replace(change, at_ns=0),)
        )
    with pytest.raises(TimingError, match="hold no weights"):
        programming_cost(plan, tiles=(3,))
