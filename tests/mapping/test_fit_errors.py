"""A model that does not fit: the error gives the numbers and what would fit."""

from __future__ import annotations

import dataclasses

import pytest
from layer_graphs import chain_graph, linear

from chiptwin.errors import MappingError
from chiptwin.mapping import map_graph


def test_too_big_for_tiny_4_names_the_numbers_and_the_chips_that_fit(resnet32_pcm_graph, arch) -> None:
    # 226 blocks on tiny_4 (test_split_blocks) against 4 tiles.
    with pytest.raises(MappingError) as err:
        map_graph(resnet32_pcm_graph, arch("tiny_4"), "dense")
    text = str(err.value)
    assert "'dense' placement needs 226 tiles of 64x32 weights but chip 'tiny_4' has 4" in text
    assert "layer3.1.conv1 16" in text  # blocks by layer, the largest first
    # What would fit, found by loading the shipped chips: 43 dense blocks on hermes_64, 34 on large_512
    assert "--arch hermes_64 ('dense', 43 of 64 tiles)" in text
    assert "--arch large_512 ('dense', 34 of 64 tiles)" in text
    assert "\n" not in text


def test_packed_failure_reports_the_weight_bound(resnet32_pcm_graph, arch) -> None:
    # 361,424 weights / (64 x 32 = 2,048 cells) = 176.5 -> at least 177 tiles.
    with pytest.raises(MappingError, match="'packed' placement needs at least 177 tiles"):
        map_graph(resnet32_pcm_graph, arch("tiny_4"), "packed")


def test_another_strategy_is_suggested_when_it_fits(resnet32_pcm_graph, arch) -> None:
    # hermes_64 cut to 8 tiles: dense needs 43, packed fits on 6 (test_placement_strategies).
    chip = dataclasses.replace(arch("hermes_64"), tiles=dataclasses.replace(arch("hermes_64").tiles, count=8))
    with pytest.raises(MappingError, match=r"needs 43 tiles .* has 8; .*--strategy packed \(6 of 8 tiles\)"):
        map_graph(resnet32_pcm_graph, chip, "dense", architectures_dir=None)


def test_nothing_fits_says_how_many_tiles_it_would_take(arch) -> None:
    # An 8192 x 4608 matrix: 32 x 18 = 576 crossbars of 256 x 256 (every one full), more than the 512 of
    # the hermes_64x8 system; 16 x 9 = 144 > 64 of 512 x 512 on large_512, 16 x 5 = 80 > 36 of 512 x 1024
    # on joshi2020: no shipped chip or system holds it.
    graph = chain_graph([linear("huge", 8192, 4608)])
    with pytest.raises(MappingError, match=r"no strategy fits .* at least 576 tiles of 256x256 weights"):
        map_graph(graph, arch("hermes_64"), "dense")
    # 4096 x 4608 (288 crossbars) fits the system of eight HERMES chips.
    with pytest.raises(MappingError, match=r"would fit: --arch hermes_64x8 \('dense', 288 of 512 tiles\)"):
        map_graph(chain_graph([linear("huge", 4096, 4608)]), arch("hermes_64"), "dense")
