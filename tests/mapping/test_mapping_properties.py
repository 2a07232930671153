"""Hypothesis: invariants of splitting and placement over random layer shapes and crossbar sizes."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from layer_graphs import chain_graph, conv, linear, make_chip

from chiptwin.mapping import STRATEGIES, map_graph, split_graph, validate_mapping


@st.composite
def layers_and_crossbar(draw: st.DrawFn) -> tuple[list, int, int]:
    rows = draw(st.integers(8, 64))
    cols = draw(st.integers(4, 48))
    layers = []
    for i in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            groups = draw(st.sampled_from([1, 2, 4]))
            c_in = groups * draw(st.integers(1, 6))
            c_out = groups * draw(st.integers(1, 8))
            k = draw(st.sampled_from([1, 3, 5]))
            layers.append(conv(f"c{i}", c_in, c_out, k, draw(st.integers(k, 12)), groups=groups))
        else:
            layers.append(linear(f"l{i}", draw(st.integers(1, 80)), draw(st.integers(1, 40))))
    return layers, rows, cols


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers_and_crossbar(), st.integers(0, 6))
def test_split_and_place_invariants(case: tuple[list, int, int], spare: int) -> None:
    layers, rows, cols = case
    graph = chain_graph(layers)
    probe = make_chip(rows, cols, 1)
    blocks = split_graph(graph, probe)
    chip = make_chip(rows, cols, len(blocks) + spare)
    for layer in layers:
        own = [b for b in blocks if b.layer == layer.name]
        cover = np.zeros((layer.rows, layer.cols), dtype=int)
        group_cols = layer.cols // layer.groups
        for b in own:
            assert b.rows <= rows and b.cols <= cols
            cover[b.row_start : b.row_stop, b.col_start : b.col_stop] += 1
            assert b.col_start // group_cols == (b.col_stop - 1) // group_cols  # one group per block
            if layer.kernel_size <= rows:  # whole channels per block
                assert b.row_start % layer.kernel_size == 0 and b.row_stop % layer.kernel_size == 0
        # Groups share the row range of the matrix, each its own columns: every cell covered once.
        assert (cover == 1).all()
    used = {}
    for name in STRATEGIES:
        mapping = map_graph(graph, chip, name, architectures_dir=None)
        validate_mapping(mapping)  # each block exactly r times, inside its crossbar, no cell twice
        weights = sum(layer.rows * layer.cols * mapping.replication[layer.name] for layer in layers)
        assert sum(p.block.cells for p in mapping.placements) == weights
        used[name] = len(mapping.tiles_used)
        assert used[name] <= chip.tiles.count
    assert used["packed"] <= used["dense"] == len(blocks)
    assert used["balanced"] >= used["dense"]
    area = sum(layer.rows * layer.cols for layer in layers)
    assert used["packed"] >= math.ceil(area / (rows * cols))
