"""Small layer graphs and plans for the timing tests, built from spec records (no torch).

Re-exports the builders of ``tests/mapping/layer_graphs.py`` (one copy of that arithmetic).
"""

from __future__ import annotations

import sys
from pathlib import Path

import networkx as nx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mapping"))

from layer_graphs import GraphBuilder, chain_graph, cifar_resnet_graph, conv, digital

from chiptwin.mapping import map_graph
from chiptwin.spec.chip import ChipSpec
from chiptwin.timing import PipelinePlan, build_plan

__all__ = ["GraphBuilder", "chain_graph", "cifar_resnet_graph", "conv", "conv_bn_graph", "digital", "plan_of"]


def conv_bn_graph() -> nx.DiGraph:
    """input -> conv (4 -> 16, 3x3, 8x8) -> batch-norm -> ReLU -> output."""
    g = GraphBuilder("conv_bn")
    x = g.add(digital("x", "input", (4, 8, 8)))
    x = g.add(conv("conv", 4, 16, 3, 8), x)
    x = g.add(digital("bn", "batchnorm", (16, 8, 8)), x)
    x = g.add(digital("relu", "relu", (16, 8, 8)), x)
    g.add(digital("output", "output", (16, 8, 8)), x)
    return g.graph


def plan_of(graph: nx.DiGraph, chip: ChipSpec, strategy: str = "dense", **kw: bool) -> PipelinePlan:
    """The pipeline plan of ``graph`` mapped on ``chip`` with ``strategy``."""
    return build_plan(graph, map_graph(graph, chip, strategy, architectures_dir=None), chip, **kw)
