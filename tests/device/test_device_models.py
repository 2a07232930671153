"""The device-model seam: one registry per layer that agree, the chip file's ``[device]`` table, and the
default PCM model bit-identical to the Joshi 2020 functions it wraps (the path before the seam)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
import torch

from chiptwin.device import NoiseModel, PCMNoiseModel, RRAMNoiseModel, noise_model
from chiptwin.device import pcm as pcm_law
from chiptwin.device.models import NOISE_MODELS
from chiptwin.errors import SpecError
from chiptwin.functional import program_chip, whole_layer_blocks
from chiptwin.shipped import shipped_dir
from chiptwin.spec.chip import ChipSpec, describe_chip
from chiptwin.spec.device import DEVICE_MODELS, device_model_name
from chiptwin.spec.load import apply_overrides, chip_from_dict, chip_to_dict, load_chip
from chiptwin.spec.pcm import PCMSpec
from chiptwin.spec.rram import RRAMSpec

ARCH = shipped_dir("architectures")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functional"))
from small_model import model_and_data  # noqa: E402


def test_the_two_registries_name_the_same_models() -> None:
    assert set(NOISE_MODELS) == set(DEVICE_MODELS)
    tables = [entry.table for entry in DEVICE_MODELS.values()]
    assert len(set(tables)) == len(tables)
    for name, entry in DEVICE_MODELS.items():
        params = entry.params()
        assert device_model_name(params) == name
        chip = ChipSpec(device=params)
        assert chip.device_model == name
        assert isinstance(noise_model(chip), NoiseModel)


def test_default_model_is_joshi2020_pcm() -> None:
    assert ChipSpec().device_model == "pcm_joshi2020"
    assert isinstance(noise_model(ChipSpec()), PCMNoiseModel)
    assert isinstance(noise_model(load_chip(ARCH / "rram_64.toml")), RRAMNoiseModel)


def test_explicit_device_table_equals_the_implicit_default() -> None:
    data = chip_to_dict(load_chip(ARCH / "tiny_4.toml"))
    del data["device"], data["pcm"]
    implicit = chip_from_dict(data)
    explicit = chip_from_dict({**data, "device": {"model": "pcm_joshi2020"}})
    assert implicit == explicit and implicit.device == PCMSpec()


@pytest.mark.parametrize("arch", ["hermes_64", "joshi2020", "tiny_4", "large_512", "rram_64"])
def test_chip_to_dict_round_trips(arch: str) -> None:
    chip = load_chip(ARCH / f"{arch}.toml")
    assert chip_from_dict(chip_to_dict(chip)) == chip


def test_overrides_reach_the_model_table_and_switch_models() -> None:
    chip = load_chip(ARCH / "tiny_4.toml")
    column = apply_overrides(chip, {"pcm.weight_scale": "column"}, Path("s.toml"))
    assert column.device == dataclasses.replace(chip.device, weight_scale="column")
    rram = apply_overrides(chip, {"device.model": "rram_cmo_falcone2025", "rram.t0_s": 2.0}, Path("s.toml"))
    assert rram.device == RRAMSpec(t0_s=2.0)
    with pytest.raises(SpecError, match=r"s.toml with arch_overrides: .*device.model\(='flash'\)"):
        apply_overrides(chip, {"device.model": "flash"}, Path("s.toml"))
    with pytest.raises(SpecError, match="names no field"):
        apply_overrides(chip, {"rram.t0_s": 2.0}, Path("s.toml"))


def test_describe_chip_names_the_model() -> None:
    assert "2 rram_cmo_falcone2025 devices per weight" in describe_chip(load_chip(ARCH / "rram_64.toml"))
    assert "4 pcm_joshi2020 devices per weight" in describe_chip(load_chip(ARCH / "hermes_64.toml"))


def test_registry_pcm_model_is_bit_identical_to_the_joshi2020_functions() -> None:
    """The pre-seam path called ``chiptwin.device.pcm.program/drift/read`` with the chip's ``[pcm]`` table."""
    chip = load_chip(ARCH / "hermes_64.toml")
    model = noise_model(chip)
    target = torch.linspace(0.0, 25.0, 10_001)
    new = model.program(target, torch.Generator().manual_seed(11))
    old = pcm_law.program(target, PCMSpec(), torch.Generator().manual_seed(11))
    assert torch.equal(new.g_prog_usiemens, old.g_prog_usiemens)
    assert torch.equal(new.drift_coeff, old.drift_coeff)
    for age in (0.0, 20.0, 3600.0, 86400.0, 3.15e7):
        assert torch.equal(model.conductance(new, age), pcm_law.drift(old, age, PCMSpec()))
        a = model.read(new, age, torch.Generator().manual_seed(5))
        b = pcm_law.read(old, age, PCMSpec(), torch.Generator().manual_seed(5))
        assert torch.equal(a, b)
    # ... and the programming law from first principles (Joshi 2020), same draws, float64 reference.
    g_hat = target.double() / 25.0
    sigma = 0.26348 + 1.9650 * g_hat - 1.1731 * g_hat**2
    draws = torch.empty(target.shape).normal_(generator=torch.Generator().manual_seed(11)).double()
    expected = (target.double() + sigma * draws).clamp_min(0.0)
    torch.testing.assert_close(new.g_prog_usiemens.double(), expected, rtol=0, atol=1e-5)


def test_programmed_chip_outputs_bit_identical_through_the_factory() -> None:
    model, x = model_and_data()
    chip = load_chip(ARCH / "hermes_64.toml")
    blocks = whole_layer_blocks(model)
    a = program_chip(model, chip, blocks, noise_model(chip), 7, [x])
    b = program_chip(model, chip, blocks, PCMNoiseModel(PCMSpec()), 7, [x])
    for age in (0.0, 3600.0, 86400.0):
        a.set_age(age)
        b.set_age(age)
        assert torch.equal(a(x), b(x))
