"""Torch thread control for the network tests (imported by their conftest and test modules)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread, then restore the thread count.

    These tests run tiny tensors; with several OpenMP threads on a busy machine the threads wait for
    each other and a resnet20 forward takes 10-20x longer than on one thread.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
