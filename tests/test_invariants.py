"""Hypothesis: invariants of mapping and timing over random valid chips and small layer graphs.

Each example draws a layer graph (a chain of convolutions, or a CIFAR-style ResNet-8 of random widths with
its batch-norm, ReLU, residual adds, pooling and FC) and a chip (crossbar size, devices per weight and their
layout, converters, digital unit, mesh and energies), maps the graph with every strategy, and checks:

- mapping: every weight of every analog layer sits in exactly one crossbar cell per replica, blocks lie
  inside their crossbar and never overlap, only the chip's tiles are used, ``validate_mapping`` passes (a
  graph that does not fit may raise ``MappingError``, nothing else);
- timing: latency under load >= single-inference latency > 0; energy per inference > 0, its dynamic
  components those of the plan and of the per-layer split, its total the sum of its components; throughput
  never above the pipeline's peak; the event engine and the batched formula serve the same inferences;
  doubling a periodic rate (a superset of the arrivals) never lowers the mean latency.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent / "timing"))

from timing_graphs import chain_graph, cifar_resnet_graph, conv

from chiptwin.errors import MappingError
from chiptwin.limits import MIN_OP_TIME_NS
from chiptwin.mapping import Mapping, analog_layers, map_graph, split_graph, validate_mapping
from chiptwin.mapping.strategies import STRATEGIES
from chiptwin.spec.chip import (
    PAIR_LAYOUTS,
    ADCSpec,
    ChipSpec,
    DACSpec,
    DigitalSpec,
    NoCSpec,
    ProgrammingSpec,
    TileSpec,
)
from chiptwin.timing import (
    COMPONENTS,
    PeriodicWorkload,
    TimingResult,
    build_plan,
    simulate_batched,
    simulate_events,
)
from chiptwin.units import NS_PER_S

REL = 1e-9
"""Relative tolerance of sums of floats that must agree."""

BASE_ARRIVALS = 6
"""Inferences of the base periodic workload (the doubled one serves twice as many)."""

MAX_TILES = 96
"""Largest chip drawn; keeps the event engine to well under a second per example."""


def floats(low: float, high: float) -> st.SearchStrategy[float]:
    # No subnormals: the CLI's torch.set_flush_denormal(True), run by other tests in the same process,
    # makes hypothesis refuse to draw them.
    return st.floats(low, high, allow_subnormal=False)


energies_pj = floats(0.001, 10.0)


@st.composite
def layer_graphs(draw: st.DrawFn) -> nx.DiGraph:
    """A conv chain with consistent shapes, or a ResNet-8 (one basic block per stage) of random widths."""
    if draw(st.booleans()):
        widths = tuple(draw(st.integers(1, 12)) for _ in range(3))
        in_channels, classes = draw(st.integers(1, 3)), draw(st.integers(2, 10))
        return cifar_resnet_graph(widths=widths, blocks=1, in_channels=in_channels, classes=classes)
    channels, size = draw(st.integers(1, 8)), draw(st.sampled_from([4, 8, 16]))
    layers = []
    for i in range(draw(st.integers(1, 4))):
        k = draw(st.sampled_from([1, 3]))
        stride = draw(st.sampled_from([1, 2])) if size >= 4 else 1
        out = draw(st.integers(1, 24))
        layers.append(conv(f"conv{i}", channels, out, k, size, stride))
        channels, size = out, (size + 2 * (k // 2) - k) // stride + 1
    return chain_graph(layers)


@st.composite
def chips_for(draw: st.DrawFn, graph: nx.DiGraph) -> ChipSpec:
    """A valid chip; usually with enough tiles for one block per tile (plus spares), sometimes too few."""
    dpw = draw(st.sampled_from([2, 4]))
    layout = draw(st.sampled_from(PAIR_LAYOUTS))
    weight_rows, weight_cols = draw(st.integers(8, 96)), draw(st.integers(4, 64))
    probe = TileSpec(
        count=1,
        rows=weight_rows * (dpw if layout == "rows" else 1),
        cols=weight_cols * (dpw if layout == "columns" else 1),
        devices_per_weight=dpw,
        pair_layout=layout,
        array_energy_per_mac_fj=draw(floats(1.0, 1000.0)),
    )
    blocks = len(split_graph(graph, ChipSpec(tiles=probe)))
    fits = draw(st.integers(0, 4)) > 0
    count = min(blocks + draw(st.integers(0, 8)), MAX_TILES) if fits else draw(st.integers(1, 8))
    mesh_cols = draw(st.integers(1, count))
    mesh_rows = math.ceil(count / mesh_cols) + draw(st.integers(0, 2))
    return ChipSpec(
        name="drawn",
        static_power_mw=draw(floats(0.0, 200.0)),
        tiles=dataclasses.replace(probe, count=count),
        dac=DACSpec(
            bits=draw(st.integers(1, 16)),
            integration_time_ns=draw(floats(1.0, 200.0)),
            energy_per_row_pj=draw(energies_pj),
        ),
        adc=ADCSpec(
            bits=draw(st.integers(1, 16)),
            columns_per_adc=draw(st.integers(1, 8)),
            conversion_time_ns=draw(floats(0.1, 50.0)),
            energy_per_conversion_pj=draw(energies_pj),
            range_headroom=draw(floats(0.5, 4.0)),
        ),
        digital=DigitalSpec(
            ops_per_ns=draw(floats(0.5, 128.0)),
            energy_per_scale_op_pj=draw(energies_pj),
            energy_per_bn_op_pj=draw(energies_pj),
            energy_per_relu_op_pj=draw(energies_pj),
            energy_per_add_op_pj=draw(energies_pj),
            energy_per_psum_op_pj=draw(energies_pj),
            energy_per_pool_op_pj=draw(energies_pj),
        ),
        noc=NoCSpec(
            mesh_rows=mesh_rows,
            mesh_cols=mesh_cols,
            link_bandwidth_bytes_per_ns=draw(floats(0.5, 64.0)),
            # 0 or at least MIN_OP_TIME_NS: the spec refuses a nonzero hop shorter than that.
            hop_latency_ns=draw(st.one_of(st.just(0.0), floats(MIN_OP_TIME_NS, 5.0))),
            energy_per_bit_hop_pj=draw(energies_pj),
        ),
        programming=ProgrammingSpec(),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[nx.DiGraph, ChipSpec, float]:
    graph = draw(layer_graphs())
    return graph, draw(chips_for(graph)), draw(floats(0.2, 1.5))


def check_mapping(graph: nx.DiGraph, chip: ChipSpec, mapping: Mapping) -> None:
    validate_mapping(mapping)
    rows, cols = chip.tiles.weight_rows, chip.tiles.weight_cols
    assert (mapping.weight_rows, mapping.weight_cols) == (rows, cols)
    assert len(mapping.tiles_used) <= chip.tiles.count
    assert all(0 <= t < chip.tiles.count for t in mapping.tiles_used)
    for layer in analog_layers(graph):
        for replica in range(mapping.replication[layer.name]):
            own = [p for p in mapping.placements_of(layer.name) if p.replica == replica]
            assert sum(p.block.cells for p in own) == layer.rows * layer.cols
            cover = np.zeros((layer.rows, layer.cols), dtype=np.int64)
            for p in own:
                cover[p.block.row_start : p.block.row_stop, p.block.col_start : p.block.col_stop] += 1
            assert (cover == 1).all(), f"{layer.name} replica {replica}: a weight placed {cover.max()} times"
    for tile in mapping.tiles_used:
        cells = np.zeros((rows, cols), dtype=np.int64)
        for p in mapping.placements_on(tile):
            assert p.row_offset >= 0 and p.col_offset >= 0
            assert p.row_offset + p.block.rows <= rows and p.col_offset + p.block.cols <= cols
            cells[p.row_offset : p.row_offset + p.block.rows, p.col_offset : p.col_offset + p.block.cols] += 1
        assert cells.max() <= 1, f"blocks overlap on tile {tile}"


def check_result(result: TimingResult, dynamic_pj: dict[str, float], static_power_mw: float) -> None:
    assert result.latency_single_ns > 0
    assert result.latency_min_ns >= result.latency_single_ns
    assert result.latency_mean_ns >= result.latency_single_ns
    assert result.throughput_per_s <= result.peak_throughput_per_s * (1 + REL)
    energy = result.energy_per_inference_pj
    assert set(energy) == {*COMPONENTS, "static", "compensation"}
    assert result.energy_per_inference_total_pj > 0
    assert result.energy_per_inference_total_pj == pytest.approx(sum(energy.values()), rel=REL)
    for component in COMPONENTS:
        assert energy[component] == pytest.approx(dynamic_pj[component], rel=REL, abs=1e-12), component
    dynamic = sum(energy[c] for c in COMPONENTS)
    assert sum(result.energy_by_layer_pj.values()) == pytest.approx(dynamic, rel=REL)
    static = static_power_mw * result.elapsed_ns / result.inferences
    assert energy["static"] == pytest.approx(static, rel=REL, abs=1e-12)
    assert energy["compensation"] == 0.0


@pytest.mark.slow  # 60 random chips and graphs through every strategy and the engine: ~4 s
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cases())
def test_mapping_and_timing_invariants(case: tuple[nx.DiGraph, ChipSpec, float]) -> None:
    graph, chip, load = case
    note(f"{graph.graph['model']}: {graph.number_of_nodes()} layers; tiles {chip.tiles}; mesh {chip.noc}")
    for strategy in STRATEGIES:
        try:
            mapping = map_graph(graph, chip, strategy, architectures_dir=None)
        except MappingError:
            event(f"{strategy}: does not fit")
            continue  # the graph does not fit this chip with this strategy: an allowed outcome
        event(f"{strategy}: mapped")
        check_mapping(graph, chip, mapping)
        plan = build_plan(graph, mapping, chip)
        assert plan.dynamic_energy_pj > 0 and plan.ops_per_inference > 0
        # An integer rate at `load` x the peak: the doubled rate's arrivals include the base ones.
        rate = max(1, round(load * NS_PER_S / plan.bottleneck_ns))
        duration_ns = math.ceil(BASE_ARRIVALS * NS_PER_S / rate)
        arrivals = PeriodicWorkload(rate).arrivals_ns(0, duration_ns).size
        events = simulate_events(plan, PeriodicWorkload(rate), duration_ns=duration_ns)
        batched = simulate_batched(plan, PeriodicWorkload(rate), duration_ns=duration_ns)
        doubled = simulate_events(plan, PeriodicWorkload(2 * rate), duration_ns=duration_ns)
        assert events.inferences == batched.inferences == arrivals >= 1
        assert doubled.inferences >= events.inferences
        for result in (events, batched, doubled):
            check_result(result, plan.energy_pj, chip.static_power_mw)
        # The plan's fill is the longest path without contention; one inference alone may still wait
        # for a link or digital unit its own branches share.
        assert plan.fill_ns <= events.latency_single_ns == batched.latency_single_ns
        assert doubled.latency_mean_ns >= events.latency_mean_ns * (1 - REL)
