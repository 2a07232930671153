"""Hooks and settings every test shares.

- Torch runs on one thread: ``OMP_NUM_THREADS=1``, set here before torch is first imported (below), so
  the subprocesses the tests start inherit it too. The tests run small tensors: on two cores, torch's
  default of one OpenMP thread per core makes every small operation wait for the other thread, and
  whenever anything else runs on the machine a scenario cell takes 5-10x longer than on one thread
  (``tests/network/torch_threads.py`` saw the same for a resnet20 forward). One thread each also lets
  ``.ci/run`` run the slow tests in two processes. Tests of the thread handling set the count they test
  (``tests/functional/test_gaussian.py``); ``OMP_NUM_THREADS=N pytest`` runs the suite on N threads.
- Tests marked ``cuda`` skip, with the reason, on a machine without a CUDA GPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported: it reads the setting once

import pytest
import torch


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU: torch.cuda.is_available() is false on this machine")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)
