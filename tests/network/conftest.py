"""Shared fixtures of the network tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from torch_threads import one_torch_thread


@pytest.fixture
def single_torch_thread() -> Iterator[None]:
    """Fixture form of :func:`one_torch_thread` (use with ``pytest.mark.usefixtures``)."""
    with one_torch_thread():
        yield
