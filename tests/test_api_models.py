"""Models people bring, through the public API: a depthwise-separable CNN and a small transformer go
through ``map_model``, ``time_model``, ``program``/``accuracy`` and a scenario."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import chiptwin as ct
from chiptwin.errors import MappingError, UsageError
from chiptwin.functional.chip import ConverterBits
from chiptwin.network.vit import VisionTransformer


class DepthwiseCNN(nn.Module):
    """A user's MobileNet-style network: stem, depthwise 3x3 + pointwise 1x1 (Howard et al. 2017)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU()
        )
        self.dw = nn.Sequential(
            nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU()
        )
        self.pw = nn.Sequential(nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pw(self.dw(self.stem(x))).mean(dim=(2, 3)))


def _models() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    vit = VisionTransformer(image_size=32, patch=8, dim=16, depth=1, heads=2, mlp_dim=32)
    return {"depthwise": DepthwiseCNN().eval(), "vit": vit.eval()}


@pytest.mark.parametrize("name", ["depthwise", "vit"])
def test_map_and_time_a_model_of_your_own(name: str) -> None:
    model, chip = _models()[name], ct.load_chip("hermes_64")
    placed = ct.map_model(model, chip, (1, 32, 32))
    analog = [layer.name for layer in placed.result.layers]
    if name == "depthwise":
        # the depthwise layer is one 9 x 1 block per channel: 8 blocks
        assert analog == ["stem.0", "dw.0", "pw.0", "head"]
        assert placed.result.layers[1].blocks == 8
    else:
        # patch embedding, q, k, v, proj, fc1, fc2, head
        assert len(analog) == 8 and placed.result.layers[1].mvms_per_inference == 16  # 16 tokens
    cost = ct.time_model(placed, chip, rate_per_s=100.0, duration_s=0.1)
    assert cost.inferences == 10 and cost.latency_single_ns > 0
    energy = cost.energy_per_inference_pj
    assert energy["array"] > 0
    if name == "vit":  # attention's products, softmax, LayerNorm and GELU cost the digital units
        assert all(energy[f"digital.{op}"] > 0 for op in ("matmul", "softmax", "layernorm", "gelu"))
    else:
        assert energy["digital.matmul"] == 0 and energy["digital.bn"] > 0
    with pytest.raises(UsageError, match=r"rate_per_s\(=0\)"):
        ct.time_model(placed, chip, rate_per_s=0)
    with pytest.raises(UsageError, match="input_shape"):
        ct.time_model(model, chip)
    with pytest.raises(UsageError, match="placed on chip 'hermes_64', not on 'joshi2020'"):
        ct.time_model(placed, ct.load_chip("joshi2020"))


def test_a_model_of_your_own_searched_for_an_objective_of_your_own() -> None:
    from chiptwin.timing.search import search_placer

    model, chip = _models()["depthwise"], ct.load_chip("hermes_64")
    placed = ct.map_model(model, chip, (1, 32, 32), strategy="search")  # throughput on the timing plan
    assert placed.result.strategy == "search"
    # The stem, depthwise and pointwise layers do 256 MVMs each (16 x 16 outputs): the search replicates.
    assert placed.result.layers[0].replicas > 1
    fewest = ct.map_model(model, chip, (1, 32, 32), strategy=search_placer(lambda plan: len(plan.tiles_used)))
    # 9 x 8 (stem), 8 blocks of 9 x 1 (depthwise), 8 x 16 and 16 x 10 weights share one crossbar
    assert fewest.result.tiles_used == 1


@pytest.mark.slow  # ~3 s each
@pytest.mark.parametrize("name", ["depthwise", "vit"])
def test_program_a_model_of_your_own_on_ideal_parts_is_exact(name: str) -> None:
    images, labels = ct.load_images("fashion-mnist", "test", n=40)
    model = _models()[name]
    chip = ct.load_chip("joshi2020")
    ideal = ct.program(
        model,
        chip,
        images,
        strategy="packed",
        ideal_devices=True,
        bits=ConverterBits(dac_bits=None, adc_bits=None),
    )
    with torch.no_grad():
        torch.testing.assert_close(ideal(images), model(images), rtol=1e-4, atol=1e-4)
    assert ct.accuracy(ideal, (images, labels)) == ct.accuracy(model, (images, labels))


@pytest.mark.slow  # ~2 s
def test_a_scenario_runs_on_a_transformer_and_a_depthwise_cnn(tmp_path: Path) -> None:
    spec = ct.ScenarioSpec(
        name="mine",
        arch="hermes_64",
        checkpoints=("depthwise", "vit"),
        policies=(ct.PolicySpec(name="gdc", compensation="gdc", every="probe"),),
        probes_s=(60.0,),
        n_images=20,
        n_adabs=20,
        n_range_calibration=20,
        batch_size=20,
    )
    run = ct.run_scenario(spec, tmp_path / "t", progress=False, models=_models())
    assert run.cells_run == 2
    probes = ct.read_table(tmp_path / "t", "probes").to_pylist()
    assert sorted(p["checkpoint"] for p in probes) == ["depthwise", "vit"]
    cells = {c["checkpoint"]: c for c in ct.read_table(tmp_path / "t", "cells").to_pylist()}
    assert cells["vit"]["energy_digital_pj"] > 0 and cells["depthwise"]["energy_digital_pj"] > 0
    assert all(0.0 <= p["accuracy"] <= 1.0 for p in probes)


def test_nn_multihead_attention_is_named_not_placed() -> None:
    class TorchAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Linear(32, 8)
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.embed(x)
            return self.attn(h, h, h)[0]

    with pytest.raises(MappingError, match=r"module 'attn' \(MultiheadAttention\)"):
        ct.map_model(TorchAttention(), ct.load_chip("hermes_64"), (4, 32))  # 4 tokens of 32


@pytest.mark.slow  # a subprocess that imports torch: ~5 s
def test_the_readme_models_example_runs_as_written(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "guides" / "ml.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- models example[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert match is not None, "docs/guides/ml.md lost its models example"
    result = subprocess.run(
        [sys.executable, "-c", match.group(1)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    tiles, cost = result.stdout.splitlines()
    # the depthwise layer ('2') is 16 blocks of 9 x 1, one per channel
    assert tiles.startswith("19 ") and "('2', 16)" in tiles
    assert cost.endswith("nJ per image") and float(cost.split()[0]) > 0
