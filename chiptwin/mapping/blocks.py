"""Split each analog layer's unrolled weight matrix into blocks that fit one crossbar.

A block is a rectangle ``[row_start, row_stop) x [col_start, col_stop)`` of a layer's unrolled weight
matrix (row order: see :mod:`chiptwin.spec.graph`), at most ``chip.tiles.weight_rows`` by
``chip.tiles.weight_cols`` (the crossbar's weight capacity, the spec's devices per weight counted).

- **Rows** split on whole input channels: a block holds ``floor(weight_rows / (k_h * k_w))`` channels at
  most, and the layer's channels are spread evenly over ``ceil(C_in / groups / that)`` row blocks (sizes
  differ by at most one channel), so a 3x3 kernel's 9 rows never straddle two crossbars. When one
  channel's ``k_h * k_w`` rows exceed the crossbar rows, the rows are cut evenly into
  ``ceil(rows / weight_rows)`` pieces and a channel's kernel does straddle crossbars.
- **Columns** split evenly into ``ceil(C_out / weight_cols)`` pieces; for a grouped convolution each
  group's columns are split on their own, so a block never mixes groups (each group sees other inputs).

Blocks of one layer that share columns but not rows hold partial sums: the digital unit adds them.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import networkx as nx

from chiptwin.errors import MappingError
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.graph import LayerSpec

__all__ = ["BlockSpec", "analog_layers", "ordered_layers", "split_graph", "split_layer"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockSpec:
    """A rectangle of one layer's unrolled weight matrix that one crossbar holds.

    The weights are ``W.reshape(out_channels, -1).T[row_start:row_stop, col_start:col_stop]``.
    """

    layer: str
    """Name of the layer (node of the layer graph)."""

    index: int
    """Index of the block within its layer (0, 1, ...: groups, then row blocks, then column blocks)."""

    row_start: int
    row_stop: int
    col_start: int
    col_stop: int

    mvms_per_inference: int
    """MVMs the layer does per image (every block of the layer does them all, replicas share them)."""

    def __post_init__(self) -> None:
        if not (0 <= self.row_start < self.row_stop and 0 <= self.col_start < self.col_stop):
            raise MappingError(
                f"block {self.layer}[{self.index}]: rows [{self.row_start}, {self.row_stop}) and columns "
                f"[{self.col_start}, {self.col_stop}) must be non-empty ranges"
            )
        if self.mvms_per_inference < 1:
            raise MappingError(
                f"block {self.layer}[{self.index}]: mvms_per_inference(={self.mvms_per_inference}) "
                "must be >= 1"
            )

    @property
    def rows(self) -> int:
        """Weight rows of the block."""
        return self.row_stop - self.row_start

    @property
    def cols(self) -> int:
        """Weight columns of the block."""
        return self.col_stop - self.col_start

    @property
    def cells(self) -> int:
        """Crossbar weight cells the block occupies (``rows * cols``)."""
        return self.rows * self.cols


def ordered_layers(graph: nx.DiGraph) -> list[LayerSpec]:
    """Every layer of the graph in a topological order that follows node insertion order (deterministic)."""
    position = {name: i for i, name in enumerate(graph.nodes)}
    try:
        order = nx.lexicographical_topological_sort(graph, key=position.__getitem__)
        return [graph.nodes[name]["layer"] for name in order]
    except nx.NetworkXUnfeasible:
        raise MappingError("the layer graph has a cycle; it must be a DAG") from None
    except KeyError as exc:
        raise MappingError(f"layer graph node {exc.args[0]!r} has no 'layer' attribute") from None


def analog_layers(graph: nx.DiGraph) -> list[LayerSpec]:
    """The analog (Conv2d / Linear) layers in topological order."""
    return [layer for layer in ordered_layers(graph) if layer.analog]


def _even(start: int, total: int, pieces: int) -> list[tuple[int, int]]:
    bounds = [start + i * total // pieces for i in range(pieces + 1)]
    return list(itertools.pairwise(bounds))


def _row_ranges(layer: LayerSpec, max_rows: int) -> list[tuple[int, int]]:
    k = layer.kernel_size
    if k > max_rows:  # one channel's kernel does not fit: cut rows evenly, channels straddle
        return _even(0, layer.rows, math.ceil(layer.rows / max_rows))
    channels = layer.in_channels // layer.groups
    pieces = math.ceil(channels / (max_rows // k))
    return [(a * k, b * k) for a, b in _even(0, channels, pieces)]


def split_layer(layer: LayerSpec, chip: ChipSpec) -> tuple[BlockSpec, ...]:
    """The crossbar blocks of one analog layer (module docstring for the rules).

    Raises:
        MappingError: the layer is not analog.
    """
    if not layer.analog:
        raise MappingError(f"layer {layer.name!r} is {layer.kind!r}, not an analog layer; nothing to split")
    max_rows, max_cols = chip.tiles.weight_rows, chip.tiles.weight_cols
    rows = _row_ranges(layer, max_rows)
    group_cols = layer.cols // layer.groups
    blocks: list[BlockSpec] = []
    for g in range(layer.groups):
        cols = _even(g * group_cols, group_cols, math.ceil(group_cols / max_cols))
        for r0, r1 in rows:
            for c0, c1 in cols:
                blocks.append(
                    BlockSpec(
                        layer=layer.name,
                        index=len(blocks),
                        row_start=r0,
                        row_stop=r1,
                        col_start=c0,
                        col_stop=c1,
                        mvms_per_inference=layer.mvms_per_inference,
                    )
                )
    return tuple(blocks)


def split_graph(graph: nx.DiGraph, chip: ChipSpec) -> tuple[BlockSpec, ...]:
    """The blocks of every analog layer, layers in topological order.

    Raises:
        MappingError: the graph has no analog layer, or is not a DAG of LayerSpec nodes.
    """
    layers = analog_layers(graph)
    if not layers:
        model = graph.graph.get("model", "the model")
        raise MappingError(f"{model} has no Conv2d or Linear layer to place on crossbars")
    return tuple(block for layer in layers for block in split_layer(layer, chip))
