"""Faults on a programmed chip: bit-identity without them, ADC codes by hand, stuck devices in every read.

The by-hand ADC cases use the one-layer chip of ``test_analog_chip.py``: a Linear with weight [[1, 1]],
ideal devices, calibrated on the input [1, 1], so the block's full scale is 2 (normalised output units)
and a 3-bit ADC has n = 3 levels per sign: an output y reads as code ``round(1.5 y)`` and the digital
unit turns the code back into ``code * 2 / 3``.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch
from small_model import model_and_data
from torch import nn

from chiptwin.compensation import get_policy
from chiptwin.device.faults import stuck_mask
from chiptwin.device.models import noise_model
from chiptwin.device.noise import IdealNoiseModel
from chiptwin.functional import (
    AnalogChip,
    ConverterBits,
    apply_gdc,
    program_chip,
    whole_layer_blocks,
)
from chiptwin.functional.analog_layer import RowGroup
from chiptwin.spec.chip import ADCSpec, ChipSpec, GDCSpec, TileSpec
from chiptwin.spec.faults import FaultSpec
from chiptwin.units import SECONDS_PER_DAY, SECONDS_PER_HOUR

NO_CONVERTERS = ConverterBits(dac_bits=None, adc_bits=None)
ADC_3BIT = ConverterBits(dac_bits=None, adc_bits=3)
CHIP = ChipSpec()
CHIP_UNIT_HEADROOM = ChipSpec(adc=ADCSpec(range_headroom=1.0))
G_MAX = CHIP.device.g_max_usiemens


def _ones_linear() -> nn.Linear:
    fc = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        fc.weight.copy_(torch.tensor([[1.0, 1.0]]))
    return fc


def _ones_chip(faults: FaultSpec | None, bits: ConverterBits = ADC_3BIT, seed: int = 0) -> AnalogChip:
    fc = _ones_linear()
    blocks, calibration = whole_layer_blocks(fc), [torch.tensor([[1.0, 1.0]])]
    return program_chip(
        fc, CHIP_UNIT_HEADROOM, blocks, IdealNoiseModel(), seed, calibration, bits=bits, faults=faults
    )


def _group(chip: AnalogChip, layer: str = "") -> RowGroup:
    return chip.layers[layer].row_groups[0]


def _pcm_outputs(faults: FaultSpec | None) -> torch.Tensor:
    model, x = model_and_data()
    noise = noise_model(CHIP)
    chip = program_chip(model, CHIP, whole_layer_blocks(model), noise, 7, [x], faults=faults)
    chip.set_age(SECONDS_PER_HOUR)
    get_policy("gdc+adabs").compensate(chip, [x])
    return chip(x)


def test_no_faults_and_all_zero_faults_are_bit_identical_to_a_chip_without_them() -> None:
    model, x = model_and_data()
    chip = program_chip(model, CHIP, whole_layer_blocks(model), noise_model(CHIP), 7, [x])
    chip.set_age(SECONDS_PER_HOUR)
    get_policy("gdc+adabs").compensate(chip, [x])
    reference = chip(x)
    assert torch.equal(_pcm_outputs(None), reference)
    assert torch.equal(_pcm_outputs(FaultSpec()), reference)
    assert torch.equal(_pcm_outputs(FaultSpec(stuck_high_fraction=0.9)), reference)  # no rate: no faults


def test_zero_fault_spec_draws_nothing() -> None:
    model, x = model_and_data()
    chip = program_chip(model, CHIP, whole_layer_blocks(model), IdealNoiseModel(), 0, [x], faults=FaultSpec())
    for layer in chip.layers.values():
        for group in layer.row_groups:
            assert group.crossbar.pos_faults is None and group.crossbar.neg_faults is None
            assert group.adc_gain is None and group.adc_offset is None


def test_programming_noise_is_the_same_with_and_without_faults() -> None:
    model, x = model_and_data()
    blocks, noise = whole_layer_blocks(model), noise_model(CHIP)
    clean = program_chip(model, CHIP, blocks, noise, 3, [x])
    faulty = program_chip(
        model, CHIP, blocks, noise, 3, [x], faults=FaultSpec(stuck_rate=0.1, adc_gain_std=0.05)
    )
    for name, layer in clean.layers.items():
        for a, b in zip(layer.row_groups, faulty.layers[name].row_groups, strict=True):
            assert torch.equal(
                a.crossbar.pos.g_prog_usiemens, b.crossbar.pos.g_prog_usiemens
            ) and torch.equal(a.crossbar.neg.drift_coeff, b.crossbar.neg.drift_coeff)
            assert b.crossbar.pos_faults is not None and b.adc_gain is not None and b.adc_offset is None


def test_adc_faults_do_not_change_which_devices_are_stuck() -> None:
    # Device faults and ADC errors draw from separate seeds.
    model, x = model_and_data()
    blocks = whole_layer_blocks(model)
    a = program_chip(model, CHIP, blocks, IdealNoiseModel(), 5, [x], faults=FaultSpec(stuck_rate=0.1))
    b = program_chip(
        model, CHIP, blocks, IdealNoiseModel(), 5, [x], faults=FaultSpec(stuck_rate=0.1, adc_offset_std=0.1)
    )
    fa, fb = _group(a, "conv2").crossbar.pos_faults, _group(b, "conv2").crossbar.pos_faults
    assert fa is not None and fb is not None
    assert torch.equal(fa.stuck_at_prog, fb.stuck_at_prog) and torch.equal(fa.stuck_high, fb.stuck_high)


@pytest.mark.parametrize(
    ("gain", "x", "expected"),
    [
        # y = 0.8 reads as round(1.2) = 1 without an error; a gain of 1.3 makes it round(1.56) = 2.
        (1.0, [0.8, 0.0], 2 / 3),
        (1.3, [0.8, 0.0], 4 / 3),
        (1.3, [1.0, 1.0], 2.0),  # round(3 * 1.3 = 3.9) saturates at the largest code, 3
        (0.8, [1.0, 1.0], 4 / 3),  # a low gain loses the top of the range: round(2.4) = 2
        (0.8, [-1.0, -1.0], -4 / 3),
    ],
)
def test_adc_gain_error_by_hand(gain: float, x: list[float], expected: float) -> None:
    chip = _ones_chip(FaultSpec(adc_gain_std=0.1))
    group = _group(chip)
    assert float(group.adc_range[0]) == pytest.approx(2.0)
    group.adc_gain = torch.tensor([gain])
    assert float(chip(torch.tensor([x]))[0, 0]) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("offset", "x", "expected"),
    [
        # An offset of 0.2 of the full scale is 0.2 * 3 = 0.6 codes: a zero output reads as one LSB.
        (0.2, [0.0, 0.0], 2 / 3),
        (-0.2, [0.0, 0.0], -2 / 3),
        (0.2, [0.4, 0.0], 2 / 3),  # round(0.6 + 0.6) = 1
        (0.2, [0.8, 0.0], 4 / 3),  # round(1.2 + 0.6) = 2
        (0.2, [1.0, 1.0], 2.0),  # round(3 + 0.6) saturates at 3
        (0.1, [0.2, 0.0], 2 / 3),  # y = 0.2 alone reads 0 (round(0.3)); with 0.3 codes, round(0.6) = 1
        (-0.1, [0.4, 0.0], 0.0),  # round(0.6 - 0.3) = 0
    ],
)
def test_adc_offset_error_by_hand(offset: float, x: list[float], expected: float) -> None:
    chip = _ones_chip(FaultSpec(adc_offset_std=0.1))
    group = _group(chip)
    group.adc_offset = torch.tensor([offset])
    assert float(chip(torch.tensor([x]))[0, 0]) == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_drawn_adc_errors_give_the_hand_computed_code() -> None:
    chip = _ones_chip(FaultSpec(adc_gain_std=0.1, adc_offset_std=0.05), seed=11)
    group = _group(chip)
    assert group.adc_gain is not None and group.adc_offset is not None
    gain, offset = float(group.adc_gain[0]), float(group.adc_offset[0])
    for x in ([0.8, 0.0], [0.3, 0.2], [-1.0, -0.4], [1.0, 1.0]):
        code = max(-3, min(3, round(1.5 * sum(x) * gain + 3 * offset)))
        assert float(chip(torch.tensor([x]))[0, 0]) == pytest.approx(code * 2 / 3, rel=1e-6, abs=1e-7)


def test_adc_gain_and_offset_without_quantisation_by_hand() -> None:
    # Quantisation off, the same column errors: y * gain + offset * full scale (2), in weight units.
    chip = _ones_chip(FaultSpec(adc_gain_std=0.1, adc_offset_std=0.1), bits=NO_CONVERTERS)
    group = _group(chip)
    group.adc_gain, group.adc_offset = torch.tensor([1.1]), torch.tensor([0.05])
    assert float(chip(torch.tensor([[0.5, 0.25]]))[0, 0]) == pytest.approx(0.75 * 1.1 + 0.05 * 2.0, rel=1e-6)


def test_drawn_adc_errors_have_the_spec_std() -> None:
    # 20,000 columns: a sample std is good to 1/sqrt(2 n) = 0.5 %; 4 sigma is 2 %.
    fc = nn.Linear(2, 20_000, bias=False)
    spec = FaultSpec(adc_gain_std=0.03, adc_offset_std=0.01)
    chip = program_chip(fc, CHIP, whole_layer_blocks(fc), IdealNoiseModel(), 0, [], faults=spec)
    group = _group(chip)
    assert group.adc_gain is not None and group.adc_offset is not None
    assert float(group.adc_gain.std()) == pytest.approx(0.03, rel=0.02)
    assert float(group.adc_offset.std()) == pytest.approx(0.01, rel=0.02)
    # Means within 4 standard errors (std / sqrt(n)) of 1 and 0.
    assert float(group.adc_gain.mean()) == pytest.approx(1.0, abs=4 * 0.03 / 20_000**0.5)
    assert float(group.adc_offset.mean()) == pytest.approx(0.0, abs=4 * 0.01 / 20_000**0.5)


def _expected_polarities(group: RowGroup, age_s: float) -> list[torch.Tensor]:
    """Ideal devices by hand: targets, except stuck devices at 0 or g_max; mean over each polarity;
    G+ / g_max and G- / g_max."""
    out = []
    for state, faults in (
        (group.crossbar.pos, group.crossbar.pos_faults),
        (group.crossbar.neg, group.crossbar.neg_faults),
    ):
        assert faults is not None
        stuck = stuck_mask(faults, age_s)
        value = torch.where(faults.stuck_high, G_MAX, 0.0)
        out.append(torch.where(stuck, value, state.g_prog_usiemens).mean(0) / G_MAX)
    return out


def _expected_read(group: RowGroup, age_s: float) -> torch.Tensor:
    g_pos, g_neg = _expected_polarities(group, age_s)
    return g_pos - g_neg


def _expected_gdc_read(group: RowGroup, age_s: float, read: str) -> torch.Tensor:
    """The GDC read by hand: sum(G+) + sum(G-) (polarities) or sum |column sums of G+ - G-|."""
    g_pos, g_neg = _expected_polarities(group, age_s)
    return (g_pos + g_neg).sum() if read == "polarities" else (g_pos - g_neg).sum(0).abs().sum()


@pytest.mark.parametrize(
    "chip_spec", [CHIP, ChipSpec(tiles=TileSpec(devices_per_weight=2, pair_layout="columns"))]
)
def test_stuck_devices_enter_every_read_at_every_age(chip_spec: ChipSpec) -> None:
    model, x = model_and_data()
    spec = FaultSpec(stuck_rate=0.05, stuck_high_fraction=0.3, stuck_arrival_per_day=0.01)
    chip = program_chip(model, chip_spec, whole_layer_blocks(model), IdealNoiseModel(), 0, [x], faults=spec)
    group = _group(chip, "conv2")
    assert group.crossbar.pos.g_prog_usiemens.shape[0] == chip_spec.tiles.devices_per_weight // 2
    for age in (chip_spec.device.t0_s, SECONDS_PER_DAY, 100 * SECONDS_PER_DAY):
        chip.set_age(age)
        torch.testing.assert_close(
            group.read_normalised(chip.ctx), _expected_read(group, age), rtol=0, atol=1e-7
        )


@pytest.mark.parametrize("read", ["polarities", "differential"])
def test_calibration_and_gdc_see_the_stuck_devices(read: str) -> None:
    model, x = model_and_data()
    spec = FaultSpec(stuck_rate=0.05, stuck_arrival_per_day=0.01)
    bits = NO_CONVERTERS
    chip_spec = dataclasses.replace(CHIP, gdc=GDCSpec(read=read))
    chip = program_chip(
        model, chip_spec, whole_layer_blocks(model), IdealNoiseModel(), 0, [x], bits=bits, faults=spec
    )
    fc = chip.layers["fc"]
    group = _group(chip, "fc")
    g_t0 = _expected_read(group, CHIP.device.t0_s)
    # The ADC range of the one fc block: headroom x the largest |normalised output| on the fc inputs
    # seen in calibration (the chip's own pooled features), through the faulty conductances.
    features: dict[str, torch.Tensor] = {}
    hook = fc.register_forward_pre_hook(lambda _m, args: features.setdefault("x", args[0]))
    chip(x)
    hook.remove()
    x_n = features["x"] / fc.input_range
    expected_range = (x_n @ g_t0).abs().max() * CHIP.adc.range_headroom
    torch.testing.assert_close(
        group.adc_range, expected_range.expand(group.adc_range.shape), rtol=1e-5, atol=0
    )
    # GDC reference: the chip's calibration read of the faulty devices at t0.
    reference = _expected_gdc_read(group, CHIP.device.t0_s, read)
    torch.testing.assert_close(group.gdc_reference, reference.view(1), rtol=1e-5, atol=0)
    # Ideal devices do not drift, but devices failing by 100 days change the read: GDC measures that.
    chip.set_age(100 * SECONDS_PER_DAY)
    apply_gdc(chip)
    now = _expected_gdc_read(group, chip.age_s, read)
    torch.testing.assert_close(group.gdc_alpha[0], group.gdc_reference[0] / now, rtol=1e-5, atol=0)
    assert float(group.gdc_alpha[0]) != 1.0


def _relative_error(chip: AnalogChip, model: nn.Module, x: torch.Tensor) -> float:
    ref = model(x).detach()
    return float((chip(x) - ref).norm() / ref.norm())


def test_output_error_grows_with_the_stuck_rate() -> None:
    # Ideal devices, the chip's 8-bit converters: the only growing error is the stuck devices. A tiny
    # model has few devices (conv1: 216 weights), so the proxy is the mean over five fault seeds.
    model, x = model_and_data()
    blocks = whole_layer_blocks(model)
    rates = (0.0, 0.01, 0.05, 0.2)
    errors = []
    for rate in rates:
        per_seed = [
            _relative_error(
                program_chip(
                    model, CHIP, blocks, IdealNoiseModel(), seed, [x], faults=FaultSpec(stuck_rate=rate)
                ),
                model,
                x,
            )
            for seed in range(5)
        ]
        errors.append(sum(per_seed) / len(per_seed))
    assert errors[0] < 0.01  # 8-bit converters alone
    assert all(a < b for a, b in itertools.pairwise(errors)), errors


def test_output_error_grows_with_age_as_devices_fail() -> None:
    model, x = model_and_data()
    spec = FaultSpec(stuck_arrival_per_day=0.01)
    chip = program_chip(model, CHIP, whole_layer_blocks(model), IdealNoiseModel(), 0, [x], faults=spec)
    errors = []
    for days in (0.0, 1.0, 10.0, 100.0):
        chip.set_age(days * SECONDS_PER_DAY)
        errors.append(_relative_error(chip, model, x))
    assert errors[0] < 0.01
    assert all(a < b for a, b in itertools.pairwise(errors)), errors


def test_faults_are_deterministic_per_seed() -> None:
    model, x = model_and_data()
    blocks = whole_layer_blocks(model)
    spec = FaultSpec(stuck_rate=0.1, adc_gain_std=0.05)
    a, b, c = (program_chip(model, CHIP, blocks, IdealNoiseModel(), s, [x], faults=spec) for s in (1, 1, 2))
    assert torch.equal(a(x), b(x)) and not torch.equal(a(x), c(x))
