"""Fixtures of the timing tests: the shipped chips and small hand-built layer graphs (no torch).

The layer-graph builders of ``tests/mapping/layer_graphs.py`` are reused through :mod:`timing_graphs`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chiptwin.mapping.mapper import ARCHITECTURES_DIR
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.load import load_chip


@pytest.fixture(scope="session")
def arch() -> Callable[[str], ChipSpec]:
    return lambda name: load_chip(ARCHITECTURES_DIR / f"{name}.toml")


@pytest.fixture(scope="session")
def tiny(arch: Callable[[str], ChipSpec]) -> ChipSpec:
    return arch("tiny_4")


@pytest.fixture(scope="session")
def hermes(arch: Callable[[str], ChipSpec]) -> ChipSpec:
    return arch("hermes_64")
