"""The ``search`` strategy: exact replica counts against enumeration, a 3-layer chain by hand, the lower
bounds, determinism and bad budgets (mapping layer only: scored by the mapping's own measure)."""

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
    BlockSpec,
    SearchPlacer,
    SearchResult,
    fewest_mvms_per_tile,
    map_graph,
    measure_mapping,
    measure_score,
    search_mapping,
    shared_tiles_bound,
    split_graph,
    validate_mapping,
)


def _block(layer: str, mvms: int, index: int = 0) -> BlockSpec:
    return BlockSpec(
        layer=layer, index=index, row_start=0, row_stop=8, col_start=0, col_stop=8, mvms_per_inference=mvms
    )


def _enumerate(mvms: list[int], nblocks: list[int], budget: int) -> int | None:
    """min over replica vectors with sum(b * r) <= budget of max ceil(M / r), by brute force."""
    best = None
    for reps in itertools.product(range(1, budget + 1), repeat=len(mvms)):
        if sum(b * r for b, r in zip(nblocks, reps, strict=True)) <= budget:
            worst = max(math.ceil(m / r) for m, r in zip(mvms, reps, strict=True))
            best = worst if best is None else min(best, worst)
    return best


def test_replica_counts_match_enumeration_on_small_chains() -> None:
    rng = np.random.default_rng(27)
    for _ in range(60):
        n = int(rng.integers(1, 4))
        mvms = [int(m) for m in rng.integers(1, 40, size=n)]
        nblocks = [int(b) for b in rng.integers(1, 4, size=n)]
        budget = int(rng.integers(1, 9))
        blocks = [
            _block(f"l{i}", m, k)
            for i, (m, b) in enumerate(zip(mvms, nblocks, strict=True))
            for k in range(b)
        ]
        found = fewest_mvms_per_tile(blocks, budget)
        expected = _enumerate(mvms, nblocks, budget)
        if expected is None:
            assert found is None
            continue
        assert found is not None
        t, reps = found
        assert t == expected, (mvms, nblocks, budget)
        assert sum(nb * reps[f"l{i}"] for i, nb in enumerate(nblocks)) <= budget
        assert max(math.ceil(m / reps[f"l{i}"]) for i, m in enumerate(mvms)) == t


# A 3-layer chain: a (3x3 conv, 1 -> 8 channels, 4x4 output: 16 MVMs, 9 x 8 weights), b (3x3 conv, 8 -> 8,
# stride 2: 2x2 = 4 MVMs, 72 x 8) and c (linear 8 -> 4: 1 MVM). Six tiles of 64 x 64 weights, 3 x 2 mesh.
CHAIN = [conv("a", 1, 8, 3, 4), conv("b", 8, 8, 3, 4, stride=2), linear("c", 8, 4)]


def test_three_layer_chain_by_hand() -> None:
    graph, chip = chain_graph(CHAIN), make_chip(64, 64, 6)
    blocks = split_graph(graph, chip)
    # b's 72 rows are 2 row blocks of 4 channels (36 rows each): 4 blocks in all.
    assert [(b.layer, b.rows, b.cols, b.mvms_per_inference) for b in blocks] == [
        ("a", 9, 8, 16), ("b", 36, 8, 4), ("b", 36, 8, 4), ("c", 8, 4, 1),
    ]  # fmt: skip
    # One block per tile: T = 4 or 5 needs a in 4 replicas, 4 + 2 + 1 = 7 tiles > 6; T = 6: a in
    # ceil(16 / 6) = 3 replicas, 3 + 2 + 1 = 6 tiles.
    assert fewest_mvms_per_tile(blocks, 6) == (6, {"a": 3, "b": 1, "c": 1})
    assert fewest_mvms_per_tile(blocks, 3) is None
    # Shared crossbars: the work is 16 + 4 + 4 + 1 = 25 MVMs, so 6 tiles carry at least ceil(25/6) = 5
    # per tile; T = 5: a needs 4 replicas (4 MVMs each), b's blocks 4, c 1: loads 4,4,4,4,4,4,1 pack as
    # six tiles (c joins one of the 4s). Nothing reaches 4: ceil(25/4) = 7 tiles.
    assert shared_tiles_bound(blocks, 4, 64 * 64) == 7
    assert shared_tiles_bound(blocks, 5, 64 * 64) == 5
    result = search_mapping(graph, blocks, chip, seed=0)
    assert result.mvms_per_tile == result.mvms_per_tile_bound == 5
    assert result.mapping.replication == {"a": 4, "b": 1, "c": 1}
    assert measure_mapping(graph, result.mapping).busiest_tile_mvms == 5
    validate_mapping(result.mapping)
    assert result.origin == "search" and result.mapping.strategy == "search"


def _byte_hops_by_enumeration(graph, mapping) -> int:
    """The fewest byte-hops over every assignment of the mapping's crossbars to distinct tiles."""
    crossbars = sorted(mapping.tiles_used)
    best = None
    for tiles in itertools.permutations(range(len(mapping.positions)), len(crossbars)):
        where = dict(zip(crossbars, tiles, strict=True))
        moved = tuple(dataclasses.replace(p, tile=where[p.tile]) for p in mapping.placements)
        hops = measure_mapping(graph, dataclasses.replace(mapping, placements=moved))
        best = min(best or hops.noc_byte_hops_per_inference, hops.noc_byte_hops_per_inference)
    assert best is not None
    return best


def test_placement_reaches_the_enumerated_optimum_on_the_chain() -> None:
    # Budget 3 on a 3 x 2 mesh: one copy of each layer, shared crossbars; the placement of the 3 (or
    # fewer) crossbars on 6 tiles is enumerated (120 assignments).
    graph, chip = chain_graph(CHAIN), make_chip(64, 64, 6)
    blocks = split_graph(graph, chip)
    result = search_mapping(graph, blocks, chip, budget=3, seed=1)
    assert result.converged
    assert result.byte_hops == _byte_hops_by_enumeration(graph, result.mapping)
    assert result.byte_hops >= result.byte_hops_bound


def test_search_is_deterministic_per_seed(resnet32_pcm_graph, arch) -> None:
    chip = arch("hermes_64")
    blocks = split_graph(resnet32_pcm_graph, chip)
    runs = [search_mapping(resnet32_pcm_graph, blocks, chip, seed=3, max_evaluations=30) for _ in range(2)]
    assert runs[0].mapping == runs[1].mapping and runs[0].score == runs[1].score
    assert runs[0].evaluations == 30


def test_search_on_resnet32_pcm_beats_the_recipes(resnet32_pcm_graph, arch) -> None:
    # The bottleneck: 11 layers of 1,024 MVMs (conv1, stage 1), 11 of 256, 11 of 64 and the FC (1): 14,785
    # MVMs of work. T = 256 gives 44 + 11 tiles at 256 and the 12 small ones packed 4 a tile; balanced
    # stops at 512 (test_placement_strategies). The bound: ceil(14,785 / 64 tiles) = 232, and below 256
    # stage 1 needs 5 replicas of 36 x 16... the cells stay small, so the work term binds up to T = 241.
    chip = arch("hermes_64")
    blocks = split_graph(resnet32_pcm_graph, chip)
    result = search_mapping(
        resnet32_pcm_graph,
        blocks,
        chip,
        max_evaluations=80,
        recipes=tuple(STRATEGIES[n] for n in ("dense", "packed", "balanced")),
    )
    assert result.mvms_per_tile == 256
    assert result.unshared_optimum_mvms == 512
    assert result.mvms_per_tile_bound <= 256
    validate_mapping(result.mapping)
    score = measure_score(resnet32_pcm_graph)
    for name in ("dense", "packed", "balanced"):
        assert result.score <= score(map_graph(resnet32_pcm_graph, chip, name))


def test_bad_budgets_are_one_line_errors(resnet32_pcm_graph, arch) -> None:
    chip = arch("hermes_64")
    blocks = split_graph(resnet32_pcm_graph, chip)
    with pytest.raises(MappingError, match=r"budget\(=5\) is below the 6 tiles the model needs at least"):
        search_mapping(resnet32_pcm_graph, blocks, chip, budget=5)
    with pytest.raises(MappingError, match=r"budget\(=65\) must be in 1..64"):
        search_mapping(resnet32_pcm_graph, blocks, chip, budget=65)
    with pytest.raises(MappingError, match=r"resnet32.*budget\(=2\)") as err:
        map_graph(resnet32_pcm_graph, chip, SearchPlacer(budget=2), architectures_dir=None)
    assert "\n" not in str(err.value)


def test_a_result_reaches_the_caller_and_the_registry_entry_needs_the_graph(arch) -> None:
    graph, chip = chain_graph(CHAIN), make_chip(64, 64, 6)
    seen: list[SearchResult] = []
    mapping = map_graph(graph, chip, SearchPlacer(on_result=seen.append), architectures_dir=None)
    assert len(seen) == 1 and seen[0].mapping == mapping
    with pytest.raises(MappingError, match="needs the layer graph"):
        STRATEGIES["search"].place(split_graph(graph, chip), chip)
