"""Splitting layers into crossbar blocks: hand-computed counts and the row/column rules."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from layer_graphs import chain_graph, conv, digital, linear, make_chip

from chiptwin.errors import MappingError
from chiptwin.mapping import split_graph, split_layer


def _blocks_per_layer(graph, chip) -> Counter[str]:
    return Counter(b.layer for b in split_graph(graph, chip))


def test_resnet32_pcm_on_256x256_crossbars_has_43_blocks(resnet32_pcm_graph, arch) -> None:
    per_layer = _blocks_per_layer(resnet32_pcm_graph, arch("hermes_64"))
    # 256 rows hold floor(256 / 9) = 28 channels of a 3x3 kernel.
    assert per_layer["conv1"] == 1  # 1 channel x 9 = 9 rows, 16 cols
    assert [per_layer[f"layer1.{b}.conv{i}"] for b in range(5) for i in (1, 2)] == [1] * 10  # 16 x 9 = 144
    assert per_layer["layer2.0.conv1"] == 1  # 144 rows x 28
    assert [per_layer[f"layer2.{b}.conv2"] for b in range(5)] == [1] * 5  # 28 x 9 = 252 <= 256 rows
    assert per_layer["layer2.0.shortcut.0"] == 1  # 1x1: 16 rows
    assert per_layer["layer3.0.conv1"] == 1  # 28 x 9 = 252 rows x 56
    # 56 x 9 = 504 rows: ceil(56 / 28) = 2 row blocks of 28 channels = 252 rows each.
    assert [per_layer[f"layer3.{b}.conv2"] for b in range(5)] == [2] * 5
    assert per_layer["layer3.0.shortcut.0"] == 1  # 28 rows
    assert per_layer["fc"] == 1  # 56 x 10
    # 1 + 10 (stage 1) + 1 + 9 + 1 (stage 2) + 1 + 9 * 2 + 1 (stage 3) + 1 (fc) = 43
    assert sum(per_layer.values()) == 43
    assert len(per_layer) == 34


def test_resnet32_pcm_on_512x512_crossbars_has_one_block_per_layer(resnet32_pcm_graph, arch) -> None:
    # The largest matrix is 504 x 56 (56 channels x 9): it fits 512 rows, so 34 layers = 34 blocks.
    per_layer = _blocks_per_layer(resnet32_pcm_graph, arch("large_512"))
    assert set(per_layer.values()) == {1}
    assert sum(per_layer.values()) == 34


def test_resnet32_pcm_on_tiny_4_crossbars(resnet32_pcm_graph, arch) -> None:
    # tiny_4: 64 rows, 64 bit lines / 2 devices = 32 weight columns; 64 // 9 = 7 channels per row block.
    per_layer = _blocks_per_layer(resnet32_pcm_graph, arch("tiny_4"))
    assert per_layer["layer1.0.conv1"] == 3  # ceil(16 / 7) = 3 row blocks, 16 cols
    assert per_layer["layer2.1.conv1"] == 4  # ceil(28 / 7) = 4, 28 cols
    assert per_layer["layer3.1.conv1"] == 16  # ceil(56 / 7) = 8 row blocks x ceil(56 / 32) = 2 col blocks
    assert per_layer["layer3.0.shortcut.0"] == 2  # 28 rows, 2 col blocks
    # 1 + 10 * 3 + 3 + 9 * 4 + 1 + (4 * 2) + 9 * 16 + 2 + 1 = 226
    assert sum(per_layer.values()) == 226


def test_row_blocks_hold_whole_channels_and_are_even() -> None:
    chip = make_chip(256, 256, 4)
    blocks = split_layer(conv("c", 57, 16, 3, 8), chip)
    # 57 channels, 28 per crossbar at most: ceil(57 / 28) = 3 blocks of 19 channels (171 rows) each.
    assert [(b.row_start, b.row_stop) for b in blocks] == [(0, 171), (171, 342), (342, 513)]
    assert all(b.row_start % 9 == 0 and b.row_stop % 9 == 0 for b in blocks)


def test_kernel_larger_than_crossbar_rows_splits_inside_channels() -> None:
    # A 7x7 kernel has 49 rows per channel; 32 crossbar rows cannot hold one, so rows are cut evenly:
    # 2 channels x 49 = 98 rows -> ceil(98 / 32) = 4 blocks of 24 or 25 rows.
    blocks = split_layer(conv("c", 2, 8, 7, 16), make_chip(32, 32, 4))
    assert [(b.row_start, b.row_stop) for b in blocks] == [(0, 24), (24, 49), (49, 73), (73, 98)]


def test_columns_split_evenly_and_per_group() -> None:
    chip = make_chip(64, 32, 4)
    blocks = split_layer(linear("fc", 10, 70), chip)  # ceil(70 / 32) = 3 column blocks of 23-24
    assert [(b.col_start, b.col_stop) for b in blocks] == [(0, 23), (23, 46), (46, 70)]
    grouped = split_layer(conv("g", 8, 8, 3, 8, groups=4), chip)  # 4 groups of 2 out channels
    assert [(b.col_start, b.col_stop) for b in grouped] == [(0, 2), (2, 4), (4, 6), (6, 8)]
    assert {(b.row_start, b.row_stop) for b in grouped} == {(0, 18)}  # 2 channels per group x 9


def test_blocks_cover_the_matrix_exactly_once(resnet32_pcm_graph, arch) -> None:
    graph, chip = resnet32_pcm_graph, arch("tiny_4")
    blocks = split_graph(graph, chip)
    for name in {b.layer for b in blocks}:
        layer = graph.nodes[name]["layer"]
        cover = np.zeros((layer.rows, layer.cols), dtype=int)
        for b in (b for b in blocks if b.layer == name):
            assert b.rows <= chip.tiles.weight_rows and b.cols <= chip.tiles.weight_cols
            cover[b.row_start : b.row_stop, b.col_start : b.col_stop] += 1
        assert (cover == 1).all(), name


def test_split_errors_name_the_value() -> None:
    with pytest.raises(MappingError, match="'relu' is 'relu'"):
        split_layer(digital("relu", "relu", (4,)), make_chip(8, 8, 1))
    graph = chain_graph([linear("fc", 4, 4)])
    graph.remove_node("fc")
    with pytest.raises(MappingError, match="no Conv2d or Linear"):
        split_graph(graph, make_chip(8, 8, 1))
