"""One-layer networks on tiny_4 against latency and energy computed by hand.

tiny_4 (the shipped tiny_4.toml): 64 x 32 weights per tile, 2x2 mesh (tiles 0 1 / 2 3, snake order
0, 1, 3, 2), 10 ns integration, 4 columns per ADC at 2 ns, 1 pJ per MAC, 1 pJ per DAC row, 2 pJ per
conversion, digital 1 op/ns at 1 pJ/op, NoC 1 byte/ns, 1 ns/hop, 1 pJ/bit/hop, static 1 mW.
One MVM: 10 + 4 * 2 = 18 ns.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from timing_graphs import chain_graph, conv, plan_of

from chiptwin.spec.chip import ChipSpec
from chiptwin.timing import (
    EventKind,
    EventRecord,
    ReplayWorkload,
    gdc_work,
    programming_cost,
    simulate_batched,
    simulate_events,
    single_inference_ns,
)

ONE = ReplayWorkload(np.array([0]))


def test_one_block_conv_latency_and_energy_by_hand(tiny: ChipSpec) -> None:
    # conv 4 -> 16 channels, 3x3, 8x8 output: rows 4*9 = 36, cols 16, M = 64 MVMs, one block on tile 0.
    plan = plan_of(chain_graph([conv("conv", 4, 16, 3, 8)]), tiny)
    mvm = 64 * (10 + 4 * 2)  # 1152 ns on the crossbar
    digital = 16 * 64 // 1  # 1024 scale ops (one per output), 1 op/ns
    latency = mvm + digital  # 2176 ns; input and output stay on tile 0 (0 hops: free)
    result = simulate_events(plan, ONE, duration_ns=1)
    assert result.latency_single_ns == result.latency_max_ns == latency == 2176
    dynamic = {
        "array": 36 * 16 * 64 * 1.0,  # 36,864 pJ
        "dac": 36 * 64 * 1.0,  # 2,304 pJ: every row, every MVM
        "adc": 16 * 64 * 2.0,  # 2,048 pJ: every column, every MVM
        "digital.scale": 1024 * 1.0,
    }
    for comp, pj in dynamic.items():
        assert result.energy_per_inference_pj[comp] == pj
    assert result.energy_per_inference_pj["static"] == 1.0 * 2176  # 1 mW * 2176 ns = 2176 pJ
    assert result.energy_per_inference_total_pj == 36864 + 2304 + 2048 + 1024 + 2176 == 44416


def test_two_row_blocks_with_mesh_traffic_by_hand(tiny: ChipSpec) -> None:
    # conv 8 -> 16, 3x3, 8x8: rows 72 > 64, so 2 row blocks of 4 channels (36 rows) on tiles 0 and 1;
    # the host (tile 0) adds the partial sums. Input 8*8*8 = 512 bytes, half to each block.
    plan = plan_of(chain_graph([conv("conv", 8, 16, 3, 8)]), tiny)
    to_tile1 = 256 // 1 + 1 * 1  # 256 bytes at 1 byte/ns + 1 hop at 1 ns = 257 ns
    mvm = 64 * 18  # 1152 ns on each tile, in parallel
    back = 16 * 64 // 1 + 1  # 1024 bytes of block outputs, 1 hop: 1025 ns
    digital = (1 * 16 * 64 + 16 * 64) // 1  # psum 1024 + scale 1024 ops: 2048 ns
    latency = max(0 + mvm + 0, to_tile1 + mvm + back) + digital
    assert latency == 4482
    assert plan.fill_ns == latency
    assert single_inference_ns(plan) == latency
    records: list[EventRecord] = []
    result = simulate_events(plan, ONE, duration_ns=1, record=records.append)
    assert result.latency_single_ns == result.latency_mean_ns == latency
    e = result.energy_per_inference_pj
    assert e["array"] == 72 * 16 * 64 * 1.0 == 73728
    assert e["dac"] == 2 * 36 * 64 * 1.0 == 4608
    assert e["adc"] == 2 * 16 * 64 * 2.0 == 4096
    assert e["noc"] == (256 + 1024) * 8 * 1 * 1.0 == 10240  # bits x hops x 1 pJ
    assert e["digital.psum"] == e["digital.scale"] == 1024
    assert e["static"] == latency * 1.0
    assert result.energy_per_inference_total_pj == 73728 + 4608 + 4096 + 10240 + 2048 + 4482 == 99202
    # The events tell the same story: the transfer to tile 1, its MVMs from 257 ns, the gather from 1409 ns.
    mvms = sorted((r.tile, r.time_ns, r.duration_ns) for r in records if r.kind is EventKind.MVM)
    assert mvms == [(0, 0, 1152), (1, 257, 1152)]
    moves = sorted(
        (r.time_ns, r.duration_ns, r.tile, r.dst_tile) for r in records if r.kind is EventKind.TRANSFER
    )
    assert moves == [(0, 257, 0, 1), (1409, 1025, 1, 0)]
    # Utilisation over one window of the whole run: tile 0 busy 1152 of 4482 ns.
    util = simulate_events(plan, ONE, duration_ns=1, window_ns=latency).utilisation
    assert util.busy_fraction.shape == (1, 2)
    assert util.mean_by_tile() == {0: 1152 / 4482, 1: 1152 / 4482}


def test_doubling_the_adc_conversion_time_adds_m_conversions(tiny: ChipSpec) -> None:
    graph = chain_graph([conv("conv", 8, 16, 3, 8)])
    slow = dataclasses.replace(tiny, adc=dataclasses.replace(tiny.adc, conversion_time_ns=4.0))
    base = simulate_events(plan_of(graph, tiny), ONE, duration_ns=1)
    doubled = simulate_events(plan_of(graph, slow), ONE, duration_ns=1)
    # Each of the M = 64 MVMs of the critical block waits for columns_per_adc = 4 more conversions of 2 ns.
    assert doubled.latency_single_ns - base.latency_single_ns == 64 * 4 * (4.0 - 2.0) == 512
    # The crossbars now hold 64 * (10 + 4 * 4) = 1664 ns, still below the host's 2048 ns of digital work.
    assert plan_of(graph, slow).crossbar_busy_ns == {0: 1664, 1: 1664}
    assert doubled.interval_ns == base.interval_ns == 2048
    # Energy per conversion is unchanged; only static energy grows with the latency.
    assert doubled.energy_per_inference_pj["adc"] == base.energy_per_inference_pj["adc"]


def test_batched_single_inference_equals_hand_numbers(tiny: ChipSpec) -> None:
    plan = plan_of(chain_graph([conv("conv", 8, 16, 3, 8)]), tiny)
    result = simulate_batched(plan, ONE, duration_ns=1)
    assert result.latency_single_ns == result.latency_max_ns == 4482
    assert result.energy_per_inference_total_pj == 99202


def test_programming_cost_by_hand(tiny: ChipSpec) -> None:
    # 36 x 16 weights x 2 devices = 1152 devices; 64 at a time: 18 rounds x 10 iterations x 100 ns.
    plan = plan_of(chain_graph([conv("conv", 4, 16, 3, 8)]), tiny)
    cost = programming_cost(plan)
    assert cost.devices_by_tile == {0: 1152}
    assert cost.time_ns == 18 * 10 * 100 == 18_000
    assert cost.energy_pj == 1152 * 10 * 10.0
    # The first inference waits for its tile to be programmed.
    result = simulate_events(plan, ONE, duration_ns=1, program=True)
    assert result.latency_max_ns == 18_000 + 2176
    assert result.programming == cost


def test_gdc_work_by_hand(tiny: ChipSpec) -> None:
    plan = plan_of(chain_graph([conv("conv", 4, 16, 3, 8)]), tiny)
    (work,) = gdc_work(plan, reads_per_block=10)
    assert (work.tile, work.mvms, work.read_ns) == (0, 10, 10 * 18)
    assert (work.array_pj, work.dac_pj, work.adc_pj) == (10 * 36 * 16 * 1.0, 10 * 36 * 1.0, 10 * 16 * 2.0)
    assert work.digital is not None
    assert work.digital.ops == (("scale", 16 * 11),)  # |y| of 16 columns over 10 reads, then 16 divides


@pytest.mark.parametrize("size", [8, 16])
def test_latency_scales_with_output_positions(tiny: ChipSpec, size: int) -> None:
    plan = plan_of(chain_graph([conv("conv", 4, 16, 3, size)]), tiny)
    m = size * size
    assert single_inference_ns(plan) == m * 18 + 16 * m
