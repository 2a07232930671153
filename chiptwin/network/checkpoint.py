"""Checkpoints: safetensors weights plus a JSON model card. Loading never unpickles.

A checkpoint named ``NAME`` is two files side by side: ``NAME.safetensors`` (the state dict, batch-norm
statistics included) and ``NAME.json`` (the model card: architecture, dataset, training recipe and
hyper-parameters, seed, digital test accuracy, wall time and the exact command that produced it).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from chiptwin.errors import CheckpointError
from chiptwin.files import check_regular_file, load_json
from chiptwin.network.model_file import is_model_file, load_model_file
from chiptwin.network.resnet import ModelSpec, build_model

__all__ = [
    "SHIPPED_CHECKPOINTS",
    "load_checkpoint",
    "read_card",
    "resolve_checkpoint",
    "save_checkpoint",
    "save_weights",
    "write_atomic",
]

SHIPPED_CHECKPOINTS = (
    "resnet32_pcm_fmnist_fp",
    "resnet32_pcm_fmnist_hwa",
    "vit4_fmnist_fp",
    "vit4_fmnist_hwa",
    "vit4_fmnist_hermes_64_hwa",
)
"""Checkpoints shipped in ``chiptwin/network/checkpoints`` (FP32 and hardware-aware fine-tuned, ResNet-32
and the vision transformer vit4; ``vit4_fmnist_hermes_64_hwa`` fine-tuned against ``hermes_64``'s own
noise, :mod:`chiptwin.functional.hwa`)."""

_CARD_REQUIRED = ("model", "dataset")


def write_atomic(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``, so a crash never leaves a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def save_checkpoint(model: nn.Module, spec: ModelSpec, card: dict[str, Any], path: Path | str) -> Path:
    """Write ``path.safetensors`` and ``path.json``; returns the safetensors path.

    ``card`` is merged into the model card after the ``model`` entry (the :class:`ModelSpec`).
    """
    return save_weights(model, {"model": asdict(spec), **card}, path)


def save_weights(model: nn.Module, card: dict[str, Any], path: Path | str) -> Path:
    """Write ``model``'s state dict to ``path.safetensors`` and ``card`` to ``path.json``; returns the
    safetensors path. Without a ``model`` entry (a network of the user's own, built by a model file) the
    weights load through ``FILE.py@path.safetensors`` (:mod:`chiptwin.network.model_file`)."""
    base = Path(path).with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    full_card = card
    weights = base.with_suffix(".safetensors")
    write_atomic(weights, lambda p: save_file(tensors, str(p), metadata={"format": "pt"}))
    write_atomic(
        base.with_suffix(".json"),
        lambda p: p.write_text(json.dumps(full_card, indent=2, sort_keys=False) + "\n"),
    )
    return weights


def resolve_checkpoint(name_or_path: str | Path) -> Path:
    """Map a shipped checkpoint name to its file, or return a user path as given (without suffix).

    Raises:
        CheckpointError: the path names no file (empty, ``.``, ``/``).
    """
    if not Path(name_or_path).name:
        raise CheckpointError(f"checkpoint {str(name_or_path)!r}: not a checkpoint name or file path")
    if str(name_or_path) in SHIPPED_CHECKPOINTS:
        ref = resources.files("chiptwin.network") / "checkpoints" / f"{name_or_path}.safetensors"
        return Path(str(ref)).with_suffix("")
    return (
        Path(name_or_path).with_suffix("")
        if str(name_or_path).endswith((".safetensors", ".json"))
        else Path(name_or_path)
    )


def read_card(path: Path | str) -> dict[str, Any]:
    """Read and check the JSON model card of a checkpoint.

    Raises:
        CheckpointError: the card is missing, not JSON, or lacks a required entry.
    """
    card_path = resolve_checkpoint(path).with_suffix(".json")
    if not card_path.exists() and not card_path.is_symlink():
        bare = Path(str(path)).name == str(path) and not Path(str(path)).suffix
        hint = (
            f" ({str(path)!r} is not a shipped checkpoint: {', '.join(SHIPPED_CHECKPOINTS)})" if bare else ""
        )
        raise CheckpointError(f"{card_path}: model card not found{hint}")
    card = load_json(card_path, "model card", CheckpointError)
    if not isinstance(card, dict):
        raise CheckpointError(f"{card_path}: model card must be a JSON object, got {type(card).__name__}")
    for key in _CARD_REQUIRED:
        if key not in card:
            raise CheckpointError(f"{card_path}: model card lacks key {key!r}")
    return card


def _model_spec_from_card(card: dict[str, Any], card_path: Path) -> ModelSpec:
    entry = card["model"]
    try:
        # As the card gives them: ModelSpec checks each is an integer in its bounds (int() would
        # truncate 32.9 to 32 and overflow on Infinity).
        return ModelSpec(
            arch=entry["arch"],
            depth=entry["depth"],
            widths=tuple(entry["widths"]),
            in_channels=entry["in_channels"],
            num_classes=entry["num_classes"],
            # ViT hyper-parameters (cards written before they existed describe ResNets: 0)
            patch=entry.get("patch", 0),
            heads=entry.get("heads", 0),
            mlp_dim=entry.get("mlp_dim", 0),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{card_path}: key 'model' is malformed ({entry!r}: {exc})") from None


def load_checkpoint(path: Path | str) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model of a checkpoint and load its weights; returns ``(model in eval mode, card)``.

    ``path`` is a shipped checkpoint name (see :data:`SHIPPED_CHECKPOINTS`), a path with or without
    the ``.safetensors`` suffix, or a model file ``FILE.py[:NAME]``
    (:func:`chiptwin.network.model_file.load_model_file`: its card names the file, not a zoo model).

    Raises:
        CheckpointError: a file is missing or corrupt, or the weights do not fit the card's model.
    """
    if is_model_file(path):
        return load_model_file(path)
    base = resolve_checkpoint(path)
    card = read_card(base)
    spec = _model_spec_from_card(card, base.with_suffix(".json"))
    try:
        model = build_model(spec)
    except ValueError as exc:
        raise CheckpointError(f"{base.with_suffix('.json')}: key 'model': {exc}") from None
    weights = base.with_suffix(".safetensors")
    if not weights.exists() and not weights.is_symlink():
        raise CheckpointError(f"{weights}: weights file not found")
    check_regular_file(weights, "checkpoint", CheckpointError)
    try:
        tensors = load_file(str(weights))
    except FileNotFoundError:
        raise CheckpointError(f"{weights}: weights file not found") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: corrupt safetensors file ({exc})") from None
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise CheckpointError(f"{weights}: weights do not match the card's model ({detail})") from None
    # load_state_dict casts silently: an integer tensor where the model has floats is a corrupt file, and a
    # NaN or infinite weight would only show up as a chance-level accuracy much later.
    expected = model.state_dict()
    for key, tensor in tensors.items():
        if tensor.dtype != expected[key].dtype:
            raise CheckpointError(
                f"{weights}: tensor {key!r} is {tensor.dtype}, the card's model has {expected[key].dtype}"
            )
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{weights}: tensor {key!r} holds NaN or infinite values")
    model.eval()
    return model, card
