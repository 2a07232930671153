"""A dead tile's blocks move to the nearest spare tile, offsets kept."""

from __future__ import annotations

import pytest

from chiptwin.errors import MappingError
from chiptwin.mapping import map_graph, validate_mapping
from chiptwin.mapping.repair import replace_dead_tile
from chiptwin.network.graph import zoo_layer_graph
from chiptwin.spec.chip import ChipSpec


@pytest.fixture(scope="module")
def mapping():  # type: ignore[no-untyped-def]
    return map_graph(zoo_layer_graph("resnet32_pcm", in_channels=1), ChipSpec(), "dense")


def test_blocks_move_to_the_nearest_spare(mapping) -> None:  # type: ignore[no-untyped-def]
    dead = mapping.tiles_used[0]
    repaired, spare, moved = replace_dead_tile(mapping, dead)
    validate_mapping(repaired)
    assert dead not in repaired.tiles_used and spare in repaired.tiles_used
    assert spare not in mapping.tiles_used
    before = [(p.block, p.row_offset, p.col_offset) for p in mapping.placements_on(dead)]
    assert [(p.block, p.row_offset, p.col_offset) for p in moved] == before
    # No spare is nearer on the mesh than the one chosen.
    spares = [t for t in mapping.positions if t not in mapping.tiles_used]

    def hops(t: int) -> int:
        return sum(abs(a - b) for a, b in zip(mapping.positions[t], mapping.positions[dead], strict=True))

    assert hops(spare) == min(hops(t) for t in spares)


def test_unused_tile_and_no_spare(mapping) -> None:  # type: ignore[no-untyped-def]
    unused = next(t for t in mapping.positions if t not in mapping.tiles_used)
    with pytest.raises(MappingError, match=f"tile_failure.tile\\(={unused}\\) holds no block"):
        replace_dead_tile(mapping, unused)
    spares = [t for t in mapping.positions if t not in mapping.tiles_used]
    with pytest.raises(MappingError, match="no spare tile"):
        replace_dead_tile(mapping, mapping.tiles_used[0], also_dead=spares)
