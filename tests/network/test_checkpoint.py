"""Checkpoints: bit-exact safetensors round trip, the model card, and every corrupt-file error path."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import torch

from chiptwin.errors import CheckpointError
from chiptwin.network.checkpoint import load_checkpoint, read_card, resolve_checkpoint, save_checkpoint
from chiptwin.network.resnet import ModelSpec, build_model, model_spec

pytestmark = pytest.mark.usefixtures("single_torch_thread")


_CARD: dict[str, Any] = {
    "dataset": "fashion-mnist",
    "recipe": "FP32",
    "seed": 3,
    "digital_test_accuracy": 0.9123,
    "history": [{"epoch": 1, "train_loss": 0.5}],
    "command": "chiptwin train --model resnet20",
}


@pytest.fixture
def spec() -> ModelSpec:
    return model_spec("resnet20")


@pytest.fixture
def saved(tmp_path: Path, spec: ModelSpec) -> tuple[torch.nn.Module, Path]:
    """A resnet20 with non-trivial batch-norm statistics, saved as ``tmp_path/net``."""
    torch.manual_seed(0)
    # Saved as train() leaves it: channels_last (torch accepts memory_format, its stubs do not).
    model = build_model(spec).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 1, 8, 8).contiguous(memory_format=torch.channels_last))  # any size: fully conv.
    save_checkpoint(model, spec, _CARD, tmp_path / "net")
    return model, tmp_path / "net"


def test_round_trip_is_bit_exact(saved: tuple[torch.nn.Module, Path], spec: ModelSpec) -> None:
    model, base = saved
    assert base.with_suffix(".safetensors").exists()
    assert base.with_suffix(".json").exists()
    loaded, card = load_checkpoint(base)
    assert not loaded.training
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    # Running statistics moved away from their initial 0/1, so the check covers them too.
    assert not torch.equal(original["bn1.running_mean"], torch.zeros(16))
    assert int(original["bn1.num_batches_tracked"]) == 1
    for key, tensor in original.items():
        assert restored[key].dtype == tensor.dtype, key
        assert torch.equal(restored[key], tensor), key
    assert card == {"model": asdict(spec) | {"widths": list(spec.widths)}, **_CARD}


@pytest.mark.parametrize("suffix", ["", ".safetensors", ".json"])
def test_path_with_or_without_suffix(saved: tuple[torch.nn.Module, Path], suffix: str) -> None:
    _, base = saved
    assert resolve_checkpoint(f"{base}{suffix}") == base
    assert read_card(f"{base}{suffix}")["seed"] == 3


def test_no_temporary_files_are_left(saved: tuple[torch.nn.Module, Path]) -> None:
    _, base = saved
    assert sorted(p.name for p in base.parent.iterdir()) == ["net.json", "net.safetensors"]


def _raises_naming(path: Path, match: str) -> Any:
    # The message must name the file (escaped for the regular expression), then give the reason.
    return pytest.raises(CheckpointError, match=rf"{re.escape(str(path))}.*{match}")


def test_missing_weights_file(saved: tuple[torch.nn.Module, Path]) -> None:
    _, base = saved
    weights = base.with_suffix(".safetensors")
    weights.unlink()
    with _raises_naming(weights, "not found"):
        load_checkpoint(base)


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(
            lambda raw: bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8).tolist()), id="random"
        ),
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
        pytest.param(lambda raw: raw[:5], id="shorter-than-header"),
        pytest.param(lambda raw: b"", id="empty"),
    ],
)
def test_corrupt_weights_file(saved: tuple[torch.nn.Module, Path], corrupt: Callable[[bytes], bytes]) -> None:
    _, base = saved
    weights = base.with_suffix(".safetensors")
    torch.manual_seed(1)
    weights.write_bytes(corrupt(weights.read_bytes()))
    with _raises_naming(weights, "corrupt safetensors"):
        load_checkpoint(base)


def test_torch_pickle_is_refused_not_unpickled(
    saved: tuple[torch.nn.Module, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, base = saved
    weights = base.with_suffix(".safetensors")
    torch.save(model.state_dict(), weights)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("load_checkpoint must never unpickle")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr("pickle.load", forbidden)
    monkeypatch.setattr("pickle.loads", forbidden)
    with _raises_naming(weights, "corrupt safetensors"):
        load_checkpoint(base)


def test_missing_card(saved: tuple[torch.nn.Module, Path]) -> None:
    _, base = saved
    card = base.with_suffix(".json")
    card.unlink()
    with _raises_naming(card, "not found"):
        load_checkpoint(base)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"model": ', "not valid JSON"),
        ("\xff\xfe", "not UTF-8"),
        ('["model", "dataset"]', "must be a JSON object"),
        ('{"dataset": "fashion-mnist"}', "lacks key 'model'"),
        ('{"model": {"arch": "cifar_resnet"}}', "lacks key 'dataset'"),
        ('{"model": {"arch": "cifar_resnet", "depth": 20}, "dataset": "x"}', "key 'model' is malformed"),
        (
            '{"model": {"arch": "cifar_resnet", "depth": "deep", "widths": [16, 32, 64], '
            '"in_channels": 1, "num_classes": 10}, "dataset": "x"}',
            "key 'model' is malformed",
        ),
        (
            '{"model": {"arch": "cifar_resnet", "depth": 21, "widths": [16, 32, 64], '
            '"in_channels": 1, "num_classes": 10}, "dataset": "x"}',
            r"key 'model': depth\(=21\)",
        ),
    ],
)
def test_invalid_card(saved: tuple[torch.nn.Module, Path], text: str, match: str) -> None:
    _, base = saved
    card = base.with_suffix(".json")
    card.write_bytes(text.encode("latin-1"))
    with _raises_naming(card, match):
        load_checkpoint(base)


def test_weights_of_another_architecture(saved: tuple[torch.nn.Module, Path], tmp_path: Path) -> None:
    _, base = saved
    other = model_spec("resnet32_pcm")
    save_checkpoint(build_model(other), other, _CARD, tmp_path / "other")
    # Pair the resnet32_pcm weights with the resnet20 card.
    weights = base.with_suffix(".safetensors")
    weights.write_bytes((tmp_path / "other.safetensors").read_bytes())
    with _raises_naming(weights, "do not match the card's model"):
        load_checkpoint(base)


def test_card_of_another_input_size(saved: tuple[torch.nn.Module, Path]) -> None:
    # Same layer names, different conv1 shape: caught by the strict state-dict load.
    _, base = saved
    card_path = base.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["model"]["in_channels"] = 3
    card_path.write_text(json.dumps(card))
    with _raises_naming(base.with_suffix(".safetensors"), "do not match"):
        load_checkpoint(base)
