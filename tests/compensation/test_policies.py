"""Compensation policies: one object per policy, its chip side and its clock side, from one registry."""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import pytest
import torch

import chiptwin.compensation
from chiptwin.compensation import POLICIES, POLICY_NAMES, CompensationPolicy, compensation_spec, get_policy
from chiptwin.device.models import noise_model
from chiptwin.errors import DeviceError, SpecError
from chiptwin.functional import program_chip, whole_layer_blocks
from chiptwin.spec.chip import ChipSpec
from chiptwin.units import SECONDS_PER_HOUR

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functional"))
from small_model import model_and_data

CHIP = ChipSpec()


def test_registry_and_docstring_examples() -> None:
    assert POLICY_NAMES == ("none", "gdc", "gdc+adabs")
    assert all(isinstance(p, CompensationPolicy) and POLICIES[p.name] is p for p in POLICIES.values())
    assert doctest.testmod(chiptwin.compensation).failed == 0
    with pytest.raises(SpecError, match=r"compensation policy\(='adabs'\) must be one of"):
        get_policy("adabs")


def test_each_policy_says_what_a_pass_holds_on_the_clock() -> None:
    assert compensation_spec(get_policy("none"), adabs_images=100) is None
    gdc = compensation_spec(get_policy("gdc"), adabs_images=100, gdc_reads_per_block=3, times_s=(1.0, 2.0))
    assert gdc is not None and (gdc.gdc_reads_per_block, gdc.adabs_images, gdc.times_s) == (3, 0, (1.0, 2.0))
    both = compensation_spec(get_policy("gdc+adabs"), adabs_images=100, period_s=60.0)
    assert both is not None and (both.gdc, both.adabs, both.adabs_images, both.period_s) == (
        True,
        True,
        100,
        60.0,
    )
    assert both.policy == "gdc+adabs"


def test_each_policy_starts_from_the_programmed_state() -> None:
    model, x = model_and_data()
    chip = program_chip(model, CHIP, whole_layer_blocks(model), noise_model(CHIP), 5, [x])
    chip.set_age(SECONDS_PER_HOUR)
    programmed_mean = chip.model.get_submodule("bn1").running_mean.clone()
    alpha = chip.layers["conv1"].row_groups[0].gdc_alpha
    assert get_policy("gdc+adabs").compensate(chip, [x]) == 0
    assert not torch.equal(chip.model.get_submodule("bn1").running_mean, programmed_mean)  # AdaBS ran
    gdc_alpha = chip.layers["conv1"].row_groups[0].gdc_alpha.clone()
    assert bool((gdc_alpha > 1).all()) and torch.equal(alpha, torch.ones_like(alpha))
    get_policy("gdc").compensate(chip, None)  # GDC alone: the statistics of the programmed model
    assert torch.equal(chip.model.get_submodule("bn1").running_mean, programmed_mean)
    # A second GDC read at the same age: the same factor up to fresh read noise (one all-ones read of a
    # 27-row block, whose column sums partly cancel: a few % here).
    torch.testing.assert_close(chip.layers["conv1"].row_groups[0].gdc_alpha, gdc_alpha, rtol=0.05, atol=0)
    get_policy("none").compensate(chip, None)
    assert torch.equal(chip.layers["conv1"].row_groups[0].gdc_alpha, torch.ones_like(gdc_alpha))
    with pytest.raises(DeviceError, match="'gdc\\+adabs' needs calibration images"):
        get_policy("gdc+adabs").compensate(chip, None)
