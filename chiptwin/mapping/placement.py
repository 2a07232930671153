"""Where every block lives: placements on tiles, the frozen :class:`Mapping`, and the ``Placer`` seam.

**Tiles and mesh.** Tile ``t`` of a chip sits on the 2D mesh at ``(t // mesh_cols, t % mesh_cols)`` (row
major); the NoC routes XY, so a transfer between two tiles takes their Manhattan distance in hops.
Placers fill tiles in *snake order* (row 0 left to right, row 1 right to left, ...), so consecutive
tiles are always mesh neighbours and consecutive layers land near each other.

**Replication.** A layer replicated ``r`` times has ``r`` copies of each of its blocks on different
crossbar cells; replica ``k`` computes the output positions ``[k*M//r, (k+1)*M//r)`` of the layer's
``M`` MVMs per image (:func:`replica_share`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from chiptwin.errors import MappingError
from chiptwin.mapping.blocks import BlockSpec
from chiptwin.spec.chip import ChipSpec

__all__ = [
    "BlockPlacement",
    "GraphPlacer",
    "Mapping",
    "Placer",
    "no_fit_message",
    "replica_share",
    "snake_order",
    "tile_position",
    "validate_mapping",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockPlacement:
    """One replica of one block on one tile, at a cell offset of the crossbar."""

    block: BlockSpec
    replica: int
    """Replica number, 0 .. replication - 1."""

    tile: int
    """Tile (crossbar) index, 0 .. chip.tiles.count - 1."""

    row_offset: int
    """Crossbar weight row of the block's first row."""

    col_offset: int
    """Crossbar weight column of the block's first column."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Mapping:
    """A model placed on a chip: which crossbar cells hold which weights (treat the dicts as read-only)."""

    chip: str
    """Name of the chip spec."""

    strategy: str
    """Name of the placer that made the mapping (``dense``, ``packed``, ``balanced``, ...)."""

    model: str = ""
    """Name of the mapped model (set by :func:`chiptwin.mapping.mapper.map_graph`)."""

    weight_rows: int
    """Weight rows of one crossbar."""

    weight_cols: int
    """Weight columns of one crossbar."""

    blocks: tuple[BlockSpec, ...]
    """Every block, layers in topological order."""

    placements: tuple[BlockPlacement, ...]
    """Every placed replica of every block."""

    replication: dict[str, int] = field(default_factory=dict)
    """Replicas per analog layer (1 unless the strategy replicates)."""

    positions: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Mesh (row, column) of every tile of the chip, used or not."""

    @property
    def tiles_used(self) -> tuple[int, ...]:
        """Tiles holding at least one block, ascending."""
        return tuple(sorted({p.tile for p in self.placements}))

    def placements_of(self, layer: str) -> tuple[BlockPlacement, ...]:
        """Placements of one layer's blocks (all replicas)."""
        return tuple(p for p in self.placements if p.block.layer == layer)

    def placements_on(self, tile: int) -> tuple[BlockPlacement, ...]:
        """Placements on one tile."""
        return tuple(p for p in self.placements if p.tile == tile)

    def hops(self, tile_a: int, tile_b: int) -> int:
        """Mesh hops between two tiles (XY routing: Manhattan distance)."""
        (ra, ca), (rb, cb) = self.positions[tile_a], self.positions[tile_b]
        return abs(ra - rb) + abs(ca - cb)


class Placer(Protocol):
    """A placement strategy: puts blocks on a chip's tiles."""

    name: str
    """Short name, stored in :attr:`Mapping.strategy`."""

    def place(self, blocks: tuple[BlockSpec, ...], chip: ChipSpec) -> Mapping:
        """Place ``blocks`` (layers in topological order) on ``chip``.

        Raises:
            MappingError: the blocks do not fit; the message gives tiles needed and available
                (see :func:`no_fit_message`).
        """
        ...


@runtime_checkable
class GraphPlacer(Protocol):
    """A placer that needs the layer graph (its edges) as well as the blocks: ``map_graph`` binds it."""

    def for_graph(self, graph: Any) -> Placer:
        """The placer bound to ``graph``."""
        ...


def tile_position(chip: ChipSpec, tile: int) -> tuple[int, int]:
    """Mesh (row, column) of a tile: row-major over the mesh."""
    if not 0 <= tile < chip.tiles.count:
        raise MappingError(f"tile(={tile}) must be in 0..{chip.tiles.count - 1} on chip {chip.name!r}")
    return divmod(tile, chip.noc.mesh_cols)


def snake_order(chip: ChipSpec) -> tuple[int, ...]:
    """The chip's tiles in snake (boustrophedon) order over the mesh rows; a system's chip by chip (chips
    in snake order too), so consecutive tiles leave a chip only once it is full."""
    cols = chip.noc.mesh_cols
    system = chip.system
    rows, width = (
        (chip.noc.mesh_rows, cols) if system is None else (system.chip_mesh_rows, system.chip_mesh_cols)
    )
    chips_rows, chips_cols = (1, 1) if system is None else (system.chips_rows, system.chips_cols)
    order = []
    for chip_row in range(chips_rows):
        line_of_chips = range(chips_cols) if chip_row % 2 == 0 else range(chips_cols - 1, -1, -1)
        for chip_col in line_of_chips:
            for row in range(rows):
                r = chip_row * rows + row
                line = [r * cols + chip_col * width + c for c in range(width)]
                order += [t for t in (line if row % 2 == 0 else line[::-1]) if t < chip.tiles.count]
    return tuple(order)


def replica_share(mvms: int, replicas: int, replica: int) -> tuple[int, int]:
    """Output positions ``[start, stop)`` that replica ``replica`` of ``replicas`` computes."""
    if not 0 <= replica < replicas:
        raise MappingError(f"replica(={replica}) must be in 0..{replicas - 1}")
    return replica * mvms // replicas, (replica + 1) * mvms // replicas


def no_fit_message(blocks: tuple[BlockSpec, ...], chip: ChipSpec, strategy: str, needed: int | str) -> str:
    """``strategy needs N tiles but chip has M; blocks by layer, largest first: ...`` (one line)."""
    per_layer = Counter(b.layer for b in blocks)
    largest = ", ".join(f"{name} {n}" for name, n in per_layer.most_common(6))
    more = f", ... ({len(per_layer)} layers, {len(blocks)} blocks)" if len(per_layer) > 6 else ""
    t = chip.tiles
    return (
        f"'{strategy}' placement needs {needed} tiles of {t.weight_rows}x{t.weight_cols} weights but chip "
        f"{chip.name!r} has {t.count}; blocks by layer, largest first: {largest}{more}"
    )


def validate_mapping(mapping: Mapping) -> None:
    """Check the invariants every placer must keep.

    Every block is placed exactly ``replication[layer]`` times (replicas 0..r-1, on distinct tiles is not
    required), every placement lies inside its crossbar, and no crossbar cell holds two weights.

    Raises:
        MappingError: naming the first offending block or tile.
    """
    counts = Counter((p.block, p.replica) for p in mapping.placements)
    for block in mapping.blocks:
        r = mapping.replication.get(block.layer, 1)
        for k in range(r):
            if counts.pop((block, k), 0) != 1:
                raise MappingError(
                    f"block {block.layer}[{block.index}] replica {k} is not placed exactly once"
                )
    if counts:
        block, k = next(iter(counts))
        raise MappingError(f"block {block.layer}[{block.index}] replica {k} is placed but not expected")
    used: dict[int, np.ndarray] = {}
    for p in mapping.placements:
        if p.tile not in mapping.positions:
            raise MappingError(f"block {p.block.layer}[{p.block.index}] is on tile {p.tile}, not on the chip")
        r0, c0 = p.row_offset, p.col_offset
        r1, c1 = r0 + p.block.rows, c0 + p.block.cols
        if r0 < 0 or c0 < 0 or r1 > mapping.weight_rows or c1 > mapping.weight_cols:
            raise MappingError(
                f"block {p.block.layer}[{p.block.index}] at ({r0}, {c0}) overruns the "
                f"{mapping.weight_rows}x{mapping.weight_cols} crossbar of tile {p.tile}"
            )
        cells = used.setdefault(p.tile, np.zeros((mapping.weight_rows, mapping.weight_cols), dtype=bool))
        if cells[r0:r1, c0:c1].any():
            raise MappingError(
                f"block {p.block.layer}[{p.block.index}] overlaps another block on tile {p.tile}"
            )
        cells[r0:r1, c0:c1] = True
