"""From a layer graph to a checked :class:`Mapping`, and what would fit when it does not.

``map_graph`` splits the analog layers into blocks, hands them to a placer and checks the result. When
the model does not fit, the :class:`MappingError` gives the tiles needed by layer against the tiles
available, then what would fit: another strategy on the same chip, or the shipped architecture files
(:mod:`chiptwin.shipped`, where bare chip names are resolved) that hold the model.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import networkx as nx

from chiptwin.errors import MappingError, SpecError
from chiptwin.mapping.blocks import split_graph
from chiptwin.mapping.placement import GraphPlacer, Mapping, Placer, validate_mapping
from chiptwin.mapping.strategies import STRATEGIES, placer_for
from chiptwin.shipped import resolve, shipped_dir
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.load import load_chip

__all__ = ["ARCHITECTURES_DIR", "fit_suggestions", "map_graph", "resolve_arch"]

ARCHITECTURES_DIR = shipped_dir("architectures")
"""The shipped architecture files (bare chip names), searched for a chip that fits."""


def resolve_arch(name_or_path: str | Path) -> Path:
    """A path as given if it exists or looks like one; else the shipped ``NAME.toml``
    (:func:`chiptwin.shipped.resolve`).

    Raises:
        SpecError: a bare name that is not a shipped architecture.
    """
    return resolve("architectures", name_or_path)


def _tiles_needed(graph: nx.DiGraph, chip: ChipSpec, placer: Placer) -> int | None:
    try:
        return len(placer.place(split_graph(graph, chip), chip).tiles_used)
    except MappingError:
        return None


def fit_suggestions(
    graph: nx.DiGraph, chip: ChipSpec, strategy: str, architectures_dir: Path | None = ARCHITECTURES_DIR
) -> str:
    """One clause saying what would fit: other strategies on ``chip``, then architecture files."""
    hints = []
    for name, placer in STRATEGIES.items():
        if name != strategy and (n := _tiles_needed(graph, chip, placer)) is not None:
            hints.append(f"--strategy {name} ({n} of {chip.tiles.count} tiles)")
    paths = sorted(architectures_dir.glob("*.toml")) if architectures_dir is not None else []
    for path in paths:
        try:
            other = load_chip(path)
        except SpecError:
            continue
        if other.name == chip.name:
            continue
        for name in dict.fromkeys((strategy, "packed")):
            n = _tiles_needed(graph, other, STRATEGIES[name]) if name in STRATEGIES else None
            if n is not None:
                hints.append(f"--arch {path.stem} ('{name}', {n} of {other.tiles.count} tiles)")
                break
    if hints:
        return "would fit: " + ", ".join(hints)
    blocks = split_graph(graph, chip)
    t = chip.tiles
    at_least = math.ceil(sum(b.cells for b in blocks) / (t.weight_rows * t.weight_cols))
    searched = f" nor in {architectures_dir}" if architectures_dir is not None else ""
    return (
        f"no strategy fits on {chip.name!r}{searched}: by weight count alone it needs at least {at_least} "
        f"tiles of {t.weight_rows}x{t.weight_cols} weights (one block per tile: {len(blocks)})"
    )


def map_graph(
    graph: nx.DiGraph,
    chip: ChipSpec,
    strategy: str | Placer = "dense",
    *,
    architectures_dir: Path | None = ARCHITECTURES_DIR,
    source: Path | str | None = None,
) -> Mapping:
    """Split the graph's analog layers into blocks and place them on ``chip`` with ``strategy``.

    Args:
        graph: the layer graph (``chiptwin.network.graph.build_layer_graph``).
        chip: the chip to map onto.
        strategy: a name in :data:`~chiptwin.mapping.strategies.STRATEGIES` or a :class:`Placer`.
        architectures_dir: where to look for chips that would fit when this one does not (None: skip).
        source: the architecture file ``chip`` came from; a model that does not fit names it.

    Raises:
        MappingError: unknown strategy, no analog layer, the model does not fit (with the numbers and
            what would fit), or a placer broke an invariant.
    """
    placer = placer_for(strategy)
    if isinstance(placer, GraphPlacer):
        placer = placer.for_graph(graph)
    blocks = split_graph(graph, chip)
    model = str(graph.graph.get("model", ""))
    try:
        mapping = placer.place(blocks, chip)
    except MappingError as exc:
        hint = fit_suggestions(graph, chip, placer.name, architectures_dir)
        where = f"{source}: " if source is not None else ""
        raise MappingError(f"{where}{model or 'model'}: {exc}; {hint}") from None
    mapping = dataclasses.replace(mapping, model=model)
    validate_mapping(mapping)
    return mapping
