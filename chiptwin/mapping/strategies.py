"""The placement strategies: ``dense``, ``packed``, ``balanced`` and ``search`` (all :class:`Placer`).

- ``dense``: one block per tile, blocks in topological order along the snake. Simple and fast to
  program; wastes the cells a small block leaves free.
- ``packed``: blocks share crossbars, packed as rectangles (:func:`pack_rectangles`); the crossbars are
  then laid along the snake in the topological order of their first block. Never more tiles than dense.
- ``balanced``: ``dense`` plus replicas of the bottleneck layers on the spare tiles. The bottleneck is
  the layer with the most MVMs per image per replica (a pipeline stage's time: every MVM takes one
  crossbar integration whatever the block size). Replicas split the layer's MVMs (NeuroSim-style weight
  duplication). A round replicates *every* layer at the current maximum so that the maximum drops; it is
  done only if all its blocks fit on the spare tiles, so no tile is spent without shortening the
  slowest stage.
- ``search``: replication, crossbar sharing and placement searched for a score
  (:mod:`chiptwin.mapping.search`).
"""

from __future__ import annotations

import math
from collections import Counter

from chiptwin.errors import MappingError
from chiptwin.mapping.blocks import BlockSpec
from chiptwin.mapping.packing import pack_rectangles
from chiptwin.mapping.placement import (
    BlockPlacement,
    Mapping,
    Placer,
    no_fit_message,
    snake_order,
    tile_position,
)
from chiptwin.mapping.search import SearchPlacer
from chiptwin.spec.chip import ChipSpec

__all__ = [
    "QUICK_SEARCH_EVALUATIONS",
    "STRATEGIES",
    "BalancedPlacer",
    "DensePlacer",
    "PackedPlacer",
    "balance_replication",
    "placer_for",
]


def _mapping(
    chip: ChipSpec,
    strategy: str,
    blocks: tuple[BlockSpec, ...],
    placements: list[BlockPlacement],
    replication: dict[str, int] | None = None,
) -> Mapping:
    layers = dict.fromkeys(b.layer for b in blocks)
    return Mapping(
        chip=chip.name,
        strategy=strategy,
        weight_rows=chip.tiles.weight_rows,
        weight_cols=chip.tiles.weight_cols,
        blocks=blocks,
        placements=tuple(placements),
        replication={name: (replication or {}).get(name, 1) for name in layers},
        positions={t: tile_position(chip, t) for t in range(chip.tiles.count)},
    )


def _one_per_tile(
    blocks: tuple[BlockSpec, ...], chip: ChipSpec, strategy: str, replication: dict[str, int]
) -> Mapping:
    by_layer: dict[str, list[BlockSpec]] = {}
    for b in blocks:
        by_layer.setdefault(b.layer, []).append(b)
    copies = [(b, k) for layer, own in by_layer.items() for k in range(replication[layer]) for b in own]
    if len(copies) > chip.tiles.count:
        raise MappingError(no_fit_message(blocks, chip, strategy, len(copies)))
    tiles = snake_order(chip)
    placements = [
        BlockPlacement(block=b, replica=k, tile=tiles[i], row_offset=0, col_offset=0)
        for i, (b, k) in enumerate(copies)
    ]
    return _mapping(chip, strategy, blocks, placements, replication)


class DensePlacer:
    """One block per tile, in topological order along the snake."""

    name = "dense"

    def place(self, blocks: tuple[BlockSpec, ...], chip: ChipSpec) -> Mapping:
        """Place each block alone on its own tile (raises MappingError if blocks outnumber tiles)."""
        return _one_per_tile(blocks, chip, self.name, {b.layer: 1 for b in blocks})


class PackedPlacer:
    """Several blocks per crossbar (MaxRects bin packing), crossbars in topological order on the snake."""

    name = "packed"

    def place(self, blocks: tuple[BlockSpec, ...], chip: ChipSpec) -> Mapping:
        """Pack the blocks into as few crossbars as the packer finds (raises MappingError if too many)."""
        t = chip.tiles
        # Cheap bound first: a model with more weights than the chip never packs.
        at_least = math.ceil(sum(b.cells for b in blocks) / (t.weight_rows * t.weight_cols))
        if at_least > t.count:
            raise MappingError(no_fit_message(blocks, chip, self.name, f"at least {at_least}"))
        spots = pack_rectangles(
            [(b.rows, b.cols) for b in blocks], t.weight_rows, t.weight_cols, max_bins=t.count
        )
        if spots is None:
            raise MappingError(no_fit_message(blocks, chip, self.name, f"more than {t.count}"))
        first_block: dict[int, int] = {}
        for i, (b, _, _) in enumerate(spots):
            first_block.setdefault(b, i)
        tiles = snake_order(chip)
        tile_of_bin = {b: tiles[n] for n, b in enumerate(sorted(first_block, key=first_block.__getitem__))}
        placements = [
            BlockPlacement(block=block, replica=0, tile=tile_of_bin[b], row_offset=r, col_offset=c)
            for block, (b, r, c) in zip(blocks, spots, strict=True)
        ]
        return _mapping(chip, self.name, blocks, placements)


def balance_replication(blocks: tuple[BlockSpec, ...], spare_tiles: int) -> dict[str, int]:
    """Replicas per layer for ``balanced``: lower the largest MVMs-per-replica while spare tiles last.

    Each round takes every layer whose ``ceil(M / r)`` equals the current maximum ``m`` and raises its
    ``r`` to ``ceil(M / (m - 1))`` (the fewest replicas that bring it below ``m``), costing its block count
    per extra replica; a round that does not fit in ``spare_tiles`` ends the search.
    """
    n_blocks = Counter(b.layer for b in blocks)
    mvms = {b.layer: b.mvms_per_inference for b in blocks}
    reps = dict.fromkeys(n_blocks, 1)
    while True:
        per = {layer: math.ceil(mvms[layer] / reps[layer]) for layer in reps}
        worst = max(per.values())
        if worst <= 1:
            return reps
        wanted = {layer: math.ceil(mvms[layer] / (worst - 1)) for layer, m in per.items() if m == worst}
        cost = sum(n_blocks[layer] * (r - reps[layer]) for layer, r in wanted.items())
        if cost > spare_tiles:
            return reps
        spare_tiles -= cost
        reps.update(wanted)


class BalancedPlacer:
    """``dense`` plus replicas of the bottleneck layers on the spare tiles (module docstring)."""

    name = "balanced"

    def place(self, blocks: tuple[BlockSpec, ...], chip: ChipSpec) -> Mapping:
        """One block per tile, a layer's replicas after it on the snake (MappingError if too many)."""
        replication = balance_replication(blocks, max(chip.tiles.count - len(blocks), 0))
        return _one_per_tile(blocks, chip, self.name, replication)


_RECIPES = (DensePlacer(), PackedPlacer(), BalancedPlacer())

QUICK_SEARCH_EVALUATIONS = 40
"""Candidates the registry's ``search`` scores at most: its replication levels, the recipes and a few
placement moves (~0.2 s for ResNet-32 on hermes_64)."""

STRATEGIES: dict[str, Placer] = {
    **{p.name: p for p in _RECIPES},
    "search": SearchPlacer(recipes=_RECIPES, max_evaluations=QUICK_SEARCH_EVALUATIONS),
}
"""The built-in placers by name. ``search`` here is the quick one: scored by the mapping's own measure
(:func:`~chiptwin.mapping.search.measure_score`), at most :data:`QUICK_SEARCH_EVALUATIONS` candidates;
``chiptwin.timing.search`` scores it with the timing plan (what ``map``, ``timing``, ``evaluate`` and
scenarios use)."""


def placer_for(strategy: str | Placer) -> Placer:
    """The placer named ``strategy`` (a Placer is returned as is).

    Raises:
        MappingError: an unknown name.
    """
    if not isinstance(strategy, str):
        return strategy
    try:
        return STRATEGIES[strategy]
    except KeyError:
        raise MappingError(f"strategy(={strategy!r}) must be one of {', '.join(STRATEGIES)}") from None
