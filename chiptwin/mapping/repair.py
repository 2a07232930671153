"""Repair a mapping when a tile dies: its blocks move to a spare tile.

A spare is a tile of the chip that holds no block (and is not itself dead); the nearest one on the mesh
(Manhattan distance, then lowest number) is chosen so the layer's traffic changes as little as possible.
Every placement of the dead tile keeps its row and column offsets: the spare's crossbar is identical.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from chiptwin.errors import MappingError
from chiptwin.mapping.placement import BlockPlacement, Mapping, validate_mapping

__all__ = ["replace_dead_tile"]


def replace_dead_tile(
    mapping: Mapping, dead: int, *, also_dead: Collection[int] = ()
) -> tuple[Mapping, int, tuple[BlockPlacement, ...]]:
    """Move every block of tile ``dead`` to the nearest spare tile.

    Args:
        mapping: the current mapping.
        dead: the tile that failed.
        also_dead: tiles that failed earlier (never chosen as spares).

    Returns:
        ``(new mapping, spare tile, the moved placements as they are in the new mapping)``.

    Raises:
        MappingError: ``dead`` holds no block, or the chip has no spare tile left.
    """
    used = set(mapping.tiles_used)
    if dead not in used:
        raise MappingError(f"tile_failure.tile(={dead}) holds no block (used tiles: {sorted(used)})")
    excluded = used | set(also_dead) | {dead}
    spares = [t for t in mapping.positions if t not in excluded]
    if not spares:
        raise MappingError(
            f"no spare tile to replace tile {dead}: all {len(mapping.positions)} tiles of {mapping.chip!r} "
            "are used or dead"
        )
    (r0, c0) = mapping.positions[dead]
    spare = min(
        spares, key=lambda t: (abs(mapping.positions[t][0] - r0) + abs(mapping.positions[t][1] - c0), t)
    )
    placements = tuple(
        dataclasses.replace(p, tile=spare) if p.tile == dead else p for p in mapping.placements
    )
    repaired = dataclasses.replace(mapping, placements=placements)
    validate_mapping(repaired)
    return repaired, spare, tuple(p for p in placements if p.tile == spare)
