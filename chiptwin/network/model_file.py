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

``FILE.py[:NAME]@WEIGHTS`` builds the model and then loads the safetensors state dict ``WEIGHTS``
into it (every key and shape must match): how weights that ``chiptwin train --model FILE.py`` wrote
(hardware-aware for a chip, say) reach every command; the model keeps the label of ``FILE.py[:NAME]``.
A bare ``WEIGHTS`` name that is not in the current folder is one shipped next to the example model
files (``dwcnn.py@dwcnn_hermes_64_hwa.safetensors``).

A bare ``FILE.py`` that is not in the current folder is a shipped example model file
(:mod:`chiptwin.shipped`: ``dwcnn.py``); a file of the user's own always wins.

The file is imported and run as Python code, as ``python FILE.py`` would run it (its folder first on
``sys.path`` meanwhile, so its own helper modules import): only give files you trust (this loader
never unpickles anything itself). Every failure (no file, a syntax error, an exception, a
``sys.exit()`` or a ``KeyboardInterrupt`` raised while importing or building, no such name, not a
module, a weight that is not float32 or not finite, an unknown ``DATASET``) is one
:class:`~chiptwin.errors.CheckpointError` naming the file; a Ctrl-C meanwhile stays an interruption.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from chiptwin.errors import CheckpointError
from chiptwin.files import check_regular_file
from chiptwin.network.data import DATASETS
from chiptwin.shipped import shipped_dir, shipped_path

__all__ = [
    "DEFAULT_FACTORY",
    "is_model_file",
    "load_model_file",
    "model_file_label",
    "model_file_parts",
    "model_file_weights",
]

DEFAULT_FACTORY = "build_model"
"""The name a model file's builder has when the reference does not name one."""

_DEFAULT_DATASET = "fashion-mnist"


def is_model_file(ref: str | Path) -> bool:
    """Whether ``ref`` names a model file (``FILE.py`` or ``FILE.py:NAME``) rather than a checkpoint."""
    return model_file_parts(ref)[0].suffix == ".py"


def model_file_weights(ref: str | Path) -> tuple[str, Path | None]:
    """``(FILE.py[:NAME], WEIGHTS)`` of ``FILE.py[:NAME]@WEIGHTS`` (weights None without ``@``).

    ``WEIGHTS`` is a safetensors state dict (e.g. what ``chiptwin train --model FILE.py`` wrote) loaded
    into the model the file builds, in place of the weights the file loads itself.
    """
    text = str(ref)
    head, sep, tail = text.rpartition("@")
    if sep and tail and _split_name(head)[0].suffix == ".py":
        return head, Path(tail)
    return text, None


def model_file_parts(ref: str | Path) -> tuple[Path, str]:
    """``(file, name)`` of ``FILE.py[:NAME][@WEIGHTS]`` (``name`` defaults to :data:`DEFAULT_FACTORY`)."""
    return _split_name(model_file_weights(ref)[0])


def _split_name(text: str) -> tuple[Path, str]:
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


@contextlib.contextmanager
def _user_code(where: str, doing: str) -> Iterator[None]:
    """Run a model file's code: whatever it raises or exits with is one :class:`CheckpointError` naming
    ``where`` and what it was ``doing``, but a Ctrl-C (a SIGINT that arrived meanwhile, seen by a handler
    installed for the block in the main thread) stays a ``KeyboardInterrupt``: the user stopped chiptwin,
    the file did not fail."""
    interrupted: list[int] = []

    def on_sigint(signum: int, frame: object) -> None:
        interrupted.append(signum)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: signals arrive there anyway
        previous = None
    try:
        yield
    except SyntaxError as exc:
        raise CheckpointError(f"{where}:{exc.lineno}: syntax error: {exc.msg}") from None
    except SystemExit as exc:  # sys.exit() in the user's file: not chiptwin's exit status to give
        raise CheckpointError(f"{where}: {doing} called sys.exit({exc.code!r})") from None
    except KeyboardInterrupt as exc:
        if interrupted:
            raise
        raise CheckpointError(f"{where}: {doing} raised {_one_line(exc)} (no Ctrl-C was pressed)") from None
    except Exception as exc:  # the user's code: any failure is a bad input, reported in one line
        raise CheckpointError(f"{where}: {doing} raised {_one_line(exc)}") from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _build(module: Any, spec: Any, path: Path, name: str) -> nn.Module:
    """Import the file into ``module`` and return what ``name`` builds (see :func:`load_model_file`)."""
    where = f"{path}:{name}"
    with _user_code(str(path), "importing it"):
        spec.loader.exec_module(module)
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
    with _user_code(where, "calling it"):
        built = built()
    if not isinstance(built, nn.Module):
        raise CheckpointError(f"{where}: returned a {type(built).__name__}, not an nn.Module")
    return built


def load_model_file(ref: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Import ``FILE.py[:NAME]`` and build its model (with ``@WEIGHTS``: then load those weights into
    it, :func:`model_file_weights`); returns ``(model in eval mode, card)``.

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
    weights = model_file_weights(ref)[1]
    if weights is not None:
        if not weights.exists() and not weights.is_symlink() and len(weights.parts) == 1:
            shipped = shipped_dir("examples") / weights.name  # weights shipped next to the example
            weights = shipped if weights.suffix == ".safetensors" and shipped.is_file() else weights
        _load_weights(built, weights, where)
        where = f"{where}@{weights}"
    for key, tensor in built.state_dict().items():
        if tensor.is_floating_point() and tensor.dtype != torch.float32:
            raise CheckpointError(
                f"{where}: tensor {key!r} is {tensor.dtype}; chiptwin computes in torch.float32 "
                "(return model.float())"
            )
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{where}: tensor {key!r} holds NaN or infinite values")
    built.eval()
    card = {
        "dataset": dataset,
        "model_file": str(path),
        "factory": name,
        "class": type(built).__name__,
        "file_sha256": hashlib.sha256(source).hexdigest(),
        **({"weights": str(weights)} if weights is not None else {}),
    }
    return built, card


def _load_weights(model: nn.Module, weights: Path, where: str) -> None:
    """Load the safetensors state dict ``weights`` into ``model`` (every key, every shape)."""
    check_regular_file(weights, "checkpoint", CheckpointError)
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: corrupt weights ({_one_line(exc)})") from None
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise CheckpointError(f"{weights}: not the weights of {where} ({detail[:300]})") from None
