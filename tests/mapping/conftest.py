"""Fixtures of the mapping tests: the hand-built resnet32_pcm layer graph and the shipped chips."""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import pytest
from layer_graphs import cifar_resnet_graph

from chiptwin.mapping.mapper import ARCHITECTURES_DIR
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.load import load_chip


@pytest.fixture(scope="session")
def resnet32_pcm_graph() -> nx.DiGraph:
    return cifar_resnet_graph()


@pytest.fixture(scope="session")
def arch() -> Callable[[str], ChipSpec]:
    return lambda name: load_chip(ARCHITECTURES_DIR / f"{name}.toml")
