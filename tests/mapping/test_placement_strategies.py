"""Placement strategies: hand-computed tile counts for resnet32_pcm and the placement invariants."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from layer_graphs import chain_graph, conv, linear, make_chip

from chiptwin.errors import MappingError
from chiptwin.mapping import (
    STRATEGIES,
    Mapping,
    balance_replication,
    map_graph,
    measure_mapping,
    pack_rectangles,
    placer_for,
    replica_share,
    snake_order,
    split_graph,
    validate_mapping,
)

RESNET32_PCM_WEIGHTS = 361_424  # the paper's 361,722 with 1 input channel (361,434) minus the FC bias (10)


def _check_every_weight_placed(graph, mapping: Mapping) -> None:
    """Each weight of each layer sits on exactly `replicas` crossbar cells; no cell holds two weights."""
    cover: dict[str, np.ndarray] = {}
    cells: dict[int, np.ndarray] = {}
    for p in mapping.placements:
        layer = graph.nodes[p.block.layer]["layer"]
        c = cover.setdefault(layer.name, np.zeros((layer.rows, layer.cols), dtype=int))
        c[p.block.row_start : p.block.row_stop, p.block.col_start : p.block.col_stop] += 1
        t = cells.setdefault(p.tile, np.zeros((mapping.weight_rows, mapping.weight_cols), dtype=int))
        t[p.row_offset : p.row_offset + p.block.rows, p.col_offset : p.col_offset + p.block.cols] += 1
    for name, c in cover.items():
        assert (c == mapping.replication[name]).all(), name
    for tile, t in cells.items():
        assert t.max() == 1, f"tile {tile} has a cell used twice"


@pytest.mark.parametrize(
    ("arch_name", "strategy", "tiles"),
    [
        # 256 x 256: 43 blocks (test_split_blocks), one per tile.
        ("hermes_64", "dense", 43),
        # 361,424 weights / 65,536 cells = 5.51 -> at least 6 crossbars; the packer reaches 6.
        ("hermes_64", "packed", 6),
        # 64 - 43 = 21 spare tiles. The 11 layers at 32x32 (conv1 and stage 1, 1 block each) do 1,024
        # MVMs; replicating all 11 costs 11 tiles -> 512 each, 10 spare; the next round (11 more to get
        # below 512) does not fit. 43 + 11 = 54.
        ("hermes_64", "balanced", 54),
        # 512 x 512: 34 layers, one block each.
        ("large_512", "dense", 34),
        # 361,424 / 262,144 = 1.38 -> at least 2 crossbars; the packer reaches 2.
        ("large_512", "packed", 2),
        # 30 spare: 11 tiles -> 2 replicas (512 MVMs), 11 more -> 3 replicas (ceil(1024/3) = 342),
        # 8 left < 11 for 4 replicas. 34 + 22 = 56.
        ("large_512", "balanced", 56),
    ],
)
def test_resnet32_pcm_tile_counts(
    resnet32_pcm_graph, arch, arch_name: str, strategy: str, tiles: int
) -> None:
    chip = arch(arch_name)
    mapping = map_graph(resnet32_pcm_graph, chip, strategy)
    result = measure_mapping(resnet32_pcm_graph, mapping)
    assert result.tiles_used == len(mapping.tiles_used) == tiles
    assert result.tiles_available == 64
    assert sum(lr.cells // lr.replicas for lr in result.layers) == RESNET32_PCM_WEIGHTS
    cells = chip.tiles.weight_rows * chip.tiles.weight_cols
    assert result.utilisation == pytest.approx(result.cells_used / (tiles * cells))
    _check_every_weight_placed(resnet32_pcm_graph, mapping)
    validate_mapping(mapping)


def test_balanced_replicates_the_bottleneck_layers(resnet32_pcm_graph, arch) -> None:
    mapping = map_graph(resnet32_pcm_graph, arch("hermes_64"), "balanced")
    result = measure_mapping(resnet32_pcm_graph, mapping)
    stem = ["conv1"] + [f"layer1.{b}.conv{i}" for b in range(5) for i in (1, 2)]
    assert {name for name, r in mapping.replication.items() if r > 1} == set(stem)
    assert {mapping.replication[n] for n in stem} == {2}
    assert (result.bottleneck_layer, result.bottleneck_mvms) == ("conv1", 512)
    dense = measure_mapping(resnet32_pcm_graph, map_graph(resnet32_pcm_graph, arch("hermes_64"), "dense"))
    assert dense.bottleneck_mvms == 1024


def test_packed_never_uses_more_tiles_than_dense(resnet32_pcm_graph, arch) -> None:
    for name in ("hermes_64", "large_512"):
        chip = arch(name)
        dense = map_graph(resnet32_pcm_graph, chip, "dense")
        packed = map_graph(resnet32_pcm_graph, chip, "packed")
        assert len(packed.tiles_used) <= len(dense.tiles_used)
        packed_use = measure_mapping(resnet32_pcm_graph, packed).utilisation
        assert packed_use > measure_mapping(resnet32_pcm_graph, dense).utilisation


def test_dense_follows_the_snake_in_topological_order(resnet32_pcm_graph, arch) -> None:
    chip = arch("hermes_64")
    mapping = map_graph(resnet32_pcm_graph, chip, "dense")
    snake = snake_order(chip)
    assert snake[:10] == (0, 1, 2, 3, 4, 5, 6, 7, 15, 14)
    assert [p.tile for p in mapping.placements] == list(snake[:43])
    # consecutive tiles on the snake are mesh neighbours
    assert all(mapping.hops(a, b) == 1 for a, b in itertools.pairwise(snake))


def test_balance_replication_stops_when_a_round_does_not_fit() -> None:
    chip = make_chip(64, 64, 16)
    blocks = split_graph(
        chain_graph([conv("a", 4, 8, 3, 16), conv("b", 8, 8, 3, 8), linear("c", 8, 4)]), chip
    )
    # a: 256 MVMs, 1 block; b: 64 MVMs, 72 rows = 2 row blocks (64 // 9 = 7 channels a block, so 8
    # channels spread 4 + 4); c: 1 MVM.
    # Rounds: a -> 2 replicas (128 MVMs), -> 3 (ceil(256/3) = 86), -> 4 (64), one tile each; then a and b
    # both sit at 64: a -> ceil(256/63) = 5 (1 tile) and b -> ceil(64/63) = 2 (2 tiles) in one round of 3.
    assert balance_replication(blocks, 0) == {"a": 1, "b": 1, "c": 1}
    assert balance_replication(blocks, 3) == {"a": 4, "b": 1, "c": 1}
    assert balance_replication(blocks, 5) == {"a": 4, "b": 1, "c": 1}
    assert balance_replication(blocks, 6) == {"a": 5, "b": 2, "c": 1}
    assert balance_replication(blocks, 10_000)["c"] == 1  # one MVM cannot be shared


def test_replica_shares_partition_the_mvms() -> None:
    shares = [replica_share(1024, 3, k) for k in range(3)]
    assert shares == [(0, 341), (341, 682), (682, 1024)]
    with pytest.raises(MappingError, match="replica"):
        replica_share(10, 2, 2)


def test_pack_rectangles_fills_a_crossbar_before_opening_another() -> None:
    # Four 32x32 squares fill one 64x64 crossbar exactly; a fifth opens a second.
    spots = pack_rectangles([(32, 32)] * 5, 64, 64)
    assert spots is not None
    assert sorted((r, c) for b, r, c in spots if b == 0) == [(0, 0), (0, 32), (32, 0), (32, 32)]
    assert [b for b, _, _ in spots].count(1) == 1
    assert pack_rectangles([(32, 32)] * 5, 64, 64, max_bins=1) is None
    with pytest.raises(MappingError, match="65x1"):
        pack_rectangles([(65, 1)], 64, 64)


def test_unknown_strategy_is_named() -> None:
    with pytest.raises(MappingError, match="'sparse'"):
        placer_for("sparse")
    assert set(STRATEGIES) == {"dense", "packed", "balanced", "search"}


def test_validate_mapping_catches_overlap_and_missing_blocks(resnet32_pcm_graph, arch) -> None:
    mapping = map_graph(resnet32_pcm_graph, arch("large_512"), "packed")
    first, second = mapping.placements[1], mapping.placements[2]  # layer1.0.conv1 and conv2: 144 x 16 each
    assert (first.block.rows, first.block.cols) == (second.block.rows, second.block.cols)
    clash = dataclasses.replace(
        second, tile=first.tile, row_offset=first.row_offset, col_offset=first.col_offset
    )
    rest = [p for p in mapping.placements if p not in (first, second)]
    with pytest.raises(MappingError, match="overlaps"):
        validate_mapping(dataclasses.replace(mapping, placements=(first, clash, *rest)))
    with pytest.raises(MappingError, match="not placed exactly once"):
        validate_mapping(dataclasses.replace(mapping, placements=mapping.placements[1:]))
    overrun = dataclasses.replace(mapping.placements[0], row_offset=mapping.weight_rows - 1)
    with pytest.raises(MappingError, match="overruns"):
        validate_mapping(dataclasses.replace(mapping, placements=(overrun, *mapping.placements[1:])))


def test_no_tile_holds_more_cells_than_it_has(resnet32_pcm_graph, arch) -> None:
    for strategy in STRATEGIES:
        mapping = map_graph(resnet32_pcm_graph, arch("hermes_64"), strategy)
        per_tile: dict[int, int] = {}
        for p in mapping.placements:
            per_tile[p.tile] = per_tile.get(p.tile, 0) + p.block.cells
        assert max(per_tile.values()) <= 256 * 256
        assert math.isclose(sum(per_tile.values()), sum(p.block.cells for p in mapping.placements))
