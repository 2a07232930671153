"""A model of your own from the command line: a Python file that builds an ``nn.Module``.

Where a command takes a checkpoint (``evaluate --checkpoint``, ``accuracy --checkpoint``) or a zoo
model (``map`` / ``timing --model``), it also takes ``FILE.py`` or ``FILE.py:NAME``; ``run SCENARIO
--model FILE.py[:NAME]`` and ``sweep SWEEP --model ...`` give it to the checkpoint named ``FILE``
(``FILE-NAME``; :mod:`chiptwin.cli.user_models`). A scenario or sweep file never names one itself: those
files are data, and running one runs no code.

- ``NAME`` (default ``build_model``) is a function of no arguments that returns the model, trained
  weights loaded (e.g. ``model.load_state_dict(safetensors.torch.load_file("net.safetensors"))``), or
  an ``nn.Module`` itself;
- an optional module-level ``DATASET`` names the data it was trained on (``"fashion-mnist"``, the
  default, or ``"cifar10"``): its test and calibration images, and the input shape ``map`` and
  ``timing`` trace it at.

A bare ``FILE.py`` that is not in the current folder is a shipped example model file
(:mod:`chiptwin.shipped`: ``dwcnn.py``); a file of the user's own always wins.

The file is imported and run as Python code, as ``python FILE.py`` would run it (its folder first on
``sys.path`` meanwhile, so its own helper modules import): only give files you trust (this loader
never unpickles anything itself). Every failure (no file, a syntax error, an exception while
importing or building, no such name, not a module, a non-finite weight, an unknown ``DATASET``) is one
:class:`~chiptwin.errors.CheckpointError` naming the file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from chiptwin.errors import CheckpointError
from chiptwin.files import check_regular_file
from chiptwin.network.data import DATASETS
from chiptwin.shipped import shipped_path

__all__ = ["DEFAULT_FACTORY", "is_model_file", "load_model_file", "model_file_label", "model_file_parts"]

DEFAULT_FACTORY = "build_model"
"""The name a model file's builder has when the reference does not name one."""

_DEFAULT_DATASET = "fashion-mnist"


def is_model_file(ref: str | Path) -> bool:
    """Whether ``ref`` names a model file (``FILE.py`` or ``FILE.py:NAME``) rather than a checkpoint."""
    return model_file_parts(ref)[0].suffix == ".py"


def model_file_parts(ref: str | Path) -> tuple[Path, str]:
    """``(file, name)`` of ``FILE.py[:NAME]`` (``name`` defaults to :data:`DEFAULT_FACTORY`)."""
    text = str(ref)
    head, sep, tail = text.rpartition(":")
    if sep and head.endswith(".py") and tail.isidentifier():
        return Path(head), tail
    return Path(text), DEFAULT_FACTORY


def model_file_label(ref: str | Path) -> str:
    """The name a model file's model goes by (tables, cell ids, output folders): ``FILE`` for
    ``FILE.py``, ``FILE-NAME`` for a builder other than :data:`DEFAULT_FACTORY`."""
    path, name = model_file_parts(ref)
    return path.stem if name == DEFAULT_FACTORY else f"{path.stem}-{name}"


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _build(module: Any, spec: Any, path: Path, name: str) -> nn.Module:
    """Import the file into ``module`` and return what ``name`` builds (see :func:`load_model_file`)."""
    where = f"{path}:{name}"
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise CheckpointError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:  # the user's code: any failure is a bad input, reported in one line
        raise CheckpointError(f"{path}: importing it raised {_one_line(exc)}") from None
    dataset = getattr(module, "DATASET", _DEFAULT_DATASET)
    if dataset not in DATASETS:
        raise CheckpointError(f"{path}: DATASET(={dataset!r}) must be one of {', '.join(DATASETS)}")
    if not hasattr(module, name):
        raise CheckpointError(
            f"{where}: the file defines no {name!r} (a function returning an nn.Module, or a module; "
            "give FILE.py:NAME for another name)"
        )
    built = getattr(module, name)
    if isinstance(built, nn.Module):
        return built
    if not callable(built):
        raise CheckpointError(f"{where}: is a {type(built).__name__}, not an nn.Module or a function")
    try:
        built = built()
    except Exception as exc:  # the user's code
        raise CheckpointError(f"{where}: calling it raised {_one_line(exc)}") from None
    if not isinstance(built, nn.Module):
        raise CheckpointError(f"{where}: returned a {type(built).__name__}, not an nn.Module")
    return built


def load_model_file(ref: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Import ``FILE.py[:NAME]`` and build its model; returns ``(model in eval mode, card)``.

    The card holds what a checkpoint's card would for a run: ``dataset``, ``model_file`` (the path as
    given), ``factory``, ``class`` and ``file_sha256`` (a hash of the file's text; the weights' hash is
    the scenario's, :func:`chiptwin.scenario.prepare.weights_sha256`).

    Raises:
        CheckpointError: see the module docstring.
    """
    path, name = model_file_parts(ref)
    if not path.exists() and not path.is_symlink() and len(path.parts) == 1:
        path = shipped_path("examples", path.name) or path  # a shipped example (chiptwin.shipped)
    if not path.exists() and not path.is_symlink():
        raise CheckpointError(f"{path}: model file not found")
    where = f"{path}:{name}"
    check_regular_file(path, "model file", CheckpointError)
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the model file ({_one_line(exc)})") from None
    module_name = f"chiptwin_user_model_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise CheckpointError(f"{path}: not a Python file that can be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling-free torch code look their module up
    # As `python FILE.py` runs it: the file's folder first on sys.path (its own helper modules import),
    # while it is imported and its builder runs.
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        built = _build(module, spec, path, name)
    except CheckpointError:
        sys.modules.pop(module_name, None)
        raise
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    dataset = getattr(module, "DATASET", _DEFAULT_DATASET)
    for key, tensor in built.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{where}: tensor {key!r} holds NaN or infinite values")
    built.eval()
    card = {
        "dataset": dataset,
        "model_file": str(path),
        "factory": name,
        "class": type(built).__name__,
        "file_sha256": hashlib.sha256(source).hexdigest(),
    }
    return built, card
