"""Layer graphs and chips built by hand from spec records, so the mapping tests run without torch.

``cifar_resnet_graph`` writes down the layer graph of the zoo's CIFAR-style ResNet (3x3 stem, stages of
basic blocks with 1x1 projection shortcuts where the shape changes, global pool, FC) from the same
arithmetic the tracer uses; ``tests/network/test_graph.py`` checks the traced zoo graph against the same
numbers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import networkx as nx

from chiptwin.spec.chip import ChipSpec, NoCSpec, TileSpec
from chiptwin.spec.graph import EdgeSpec, LayerSpec


def conv(
    name: str, c_in: int, c_out: int, k: int, size_in: int, stride: int = 1, groups: int = 1
) -> LayerSpec:
    """A conv layer record with 'same' padding for odd k (padding k // 2)."""
    pad = k // 2
    size_out = (size_in + 2 * pad - k) // stride + 1
    rows = c_in // groups * k * k
    return LayerSpec(
        name=name, kind="conv", analog=True, input_shape=(c_in, size_in, size_in),
        output_shape=(c_out, size_out, size_out), in_channels=c_in, out_channels=c_out, kernel_h=k,
        kernel_w=k, stride=(stride, stride), padding=(pad, pad), groups=groups, has_bias=False, rows=rows,
        cols=c_out, mvms_per_inference=size_out * size_out,
        ops_per_inference=rows * c_out * size_out * size_out,
    )  # fmt: skip


def linear(name: str, f_in: int, f_out: int) -> LayerSpec:
    return LayerSpec(
        name=name, kind="linear", analog=True, input_shape=(f_in,), output_shape=(f_out,), in_channels=f_in,
        out_channels=f_out, kernel_h=1, kernel_w=1, stride=(1, 1), padding=(0, 0), groups=1, has_bias=True,
        rows=f_in, cols=f_out, mvms_per_inference=1, ops_per_inference=f_in * f_out,
    )  # fmt: skip


def digital(
    name: str, kind: str, shape_in: tuple[int, ...], shape_out: tuple[int, ...] | None = None
) -> LayerSpec:
    shape_out = shape_in if shape_out is None else shape_out
    ops = (
        0 if kind in ("input", "output", "flatten") else math.prod(shape_in if kind == "pool" else shape_out)
    )
    return LayerSpec(
        name=name,
        kind=kind,
        analog=False,
        input_shape=shape_in,
        output_shape=shape_out,
        ops_per_inference=ops,
    )


class GraphBuilder:
    """Adds layer records and edges (bytes at 8 bits) to a DiGraph in execution order."""

    def __init__(self, model: str) -> None:
        self.graph = nx.DiGraph(model=model, activation_bits=8)

    def add(self, layer: LayerSpec, *inputs: str) -> str:
        self.graph.add_node(layer.name, layer=layer)
        for src in inputs:
            shape = self.graph.nodes[src]["layer"].output_shape
            edge = EdgeSpec(src=src, dst=layer.name, shape=shape, bytes_per_inference=math.prod(shape))
            self.graph.add_edge(src, layer.name, edge=edge)
        return layer.name


def cifar_resnet_graph(
    widths: Sequence[int] = (16, 28, 56), blocks: int = 5, in_channels: int = 1, classes: int = 10
) -> nx.DiGraph:
    """The layer graph of the zoo's CIFAR-style ResNet-(6*blocks+2) at 32x32 (default: resnet32_pcm)."""
    g = GraphBuilder(f"cifar_resnet{6 * blocks + 2}")
    x = g.add(digital("x", "input", (in_channels, 32, 32)))
    x = g.add(conv("conv1", in_channels, widths[0], 3, 32), x)
    x = g.add(digital("bn1", "batchnorm", (widths[0], 32, 32)), x)
    x = g.add(digital("relu", "relu", (widths[0], 32, 32)), x)
    c_in, size, adds = widths[0], 32, 0
    for s, c_out in enumerate(widths, start=1):
        for b in range(blocks):
            stride = 2 if (s > 1 and b == 0) else 1
            p = f"layer{s}.{b}."
            out = size // stride
            y = g.add(conv(p + "conv1", c_in, c_out, 3, size, stride), x)
            y = g.add(digital(p + "bn1", "batchnorm", (c_out, out, out)), y)
            y = g.add(digital(p + "relu1", "relu", (c_out, out, out)), y)
            y = g.add(conv(p + "conv2", c_out, c_out, 3, out), y)
            y = g.add(digital(p + "bn2", "batchnorm", (c_out, out, out)), y)
            short = x
            if stride != 1 or c_in != c_out:
                short = g.add(conv(p + "shortcut.0", c_in, c_out, 1, size, stride), x)
                short = g.add(digital(p + "shortcut.1", "batchnorm", (c_out, out, out)), short)
            name = "add" if adds == 0 else f"add_{adds}"
            adds += 1
            y = g.add(digital(name, "add", (c_out, out, out)), y, short)
            x = g.add(digital(p + "relu2", "relu", (c_out, out, out)), y)
            c_in, size = c_out, out
    x = g.add(digital("pool", "pool", (c_in, size, size), (c_in, 1, 1)), x)
    x = g.add(digital("flatten", "flatten", (c_in, 1, 1), (c_in,)), x)
    x = g.add(linear("fc", c_in, classes), x)
    g.add(digital("output", "output", (classes,)), x)
    return g.graph


def chain_graph(layers: Sequence[LayerSpec]) -> nx.DiGraph:
    """Analog layers in a chain (shapes are not checked): input -> layers... -> output."""
    g = GraphBuilder("chain")
    x = g.add(digital("x", "input", layers[0].input_shape))
    for layer in layers:
        x = g.add(layer, x)
    g.add(digital("output", "output", layers[-1].output_shape), x)
    return g.graph


def make_chip(rows: int, cols: int, count: int, *, name: str = "test_chip") -> ChipSpec:
    """A chip of ``count`` tiles of ``rows x cols`` weights (unit cells) on a near-square mesh."""
    mesh_cols = math.ceil(math.sqrt(count))
    mesh_rows = math.ceil(count / mesh_cols)
    return dataclasses.replace(
        ChipSpec(name=name),
        tiles=TileSpec(count=count, rows=rows, cols=cols),
        noc=NoCSpec(mesh_rows=mesh_rows, mesh_cols=mesh_cols),
    )
