"""The functional twin: exactness with ideal devices, converters, compensation, determinism."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from small_model import model_and_data
from torch import nn

from chiptwin.compensation import get_policy
from chiptwin.device.models import noise_model
from chiptwin.device.noise import IdealNoiseModel
from chiptwin.errors import MappingError
from chiptwin.functional import (
    BlockRange,
    ConverterBits,
    apply_adabs,
    apply_gdc,
    program_chip,
    whole_layer_blocks,
)
from chiptwin.spec.chip import ADCSpec, ChipSpec, TileSpec

NO_CONVERTERS = ConverterBits(dac_bits=None, adc_bits=None)
CHIP = ChipSpec()
CHIP_2DEV = ChipSpec(tiles=TileSpec(devices_per_weight=2, pair_layout="columns"))


# conv2 has 8*9 = 72 rows: split at 36 (whole channels: 4 x 9) and inside a kernel at 40, columns at 3.
SPLIT_BLOCKS = {
    "conv1": [BlockRange(0, 27, 0, 5), BlockRange(0, 27, 5, 8)],
    "conv2": [
        BlockRange(0, 36, 0, 3),
        BlockRange(0, 36, 3, 8),
        BlockRange(36, 40, 0, 8),
        BlockRange(40, 72, 0, 8),
    ],
    "fc": [BlockRange(0, 5, 0, 5), BlockRange(5, 8, 0, 5)],
}


@pytest.mark.parametrize("blocks", [None, SPLIT_BLOCKS], ids=["whole", "split"])
def test_ideal_devices_without_converters_are_exact(blocks) -> None:
    model, x = model_and_data()
    blocks = blocks or whole_layer_blocks(model)
    chip = program_chip(model, CHIP, blocks, IdealNoiseModel(), 0, [x], bits=NO_CONVERTERS)
    ref = model(x).detach()
    torch.testing.assert_close(chip(x), ref, rtol=1e-5, atol=1e-5)


def test_ideal_devices_with_16_bit_converters_within_1e3() -> None:
    model, x = model_and_data()
    chip = program_chip(
        model, CHIP, SPLIT_BLOCKS, IdealNoiseModel(), 0, [x], bits=ConverterBits(dac_bits=16, adc_bits=16)
    )
    ref = model(x).detach()
    assert float((chip(x) - ref).abs().max() / ref.abs().max()) < 1e-3


def test_adc_saturates_at_calibrated_range() -> None:
    model, x = model_and_data()
    chip = program_chip(model, CHIP, whole_layer_blocks(model), IdealNoiseModel(), 0, [x[:4]])
    # Inputs 10x larger than the calibration data saturate the DAC at its range: the output of the
    # first layer cannot exceed what the calibrated full-scale input gives.
    first = chip.layers["conv1"]
    out_small = first(x[:4])
    out_big = first(10 * x[:4])
    assert float(out_big.abs().max()) <= float(out_small.abs().max()) * 1.0001 + 1e-6


@pytest.mark.parametrize(
    ("headroom", "x", "expected"),
    [
        # Calibrated on [1, 1]: the block's largest output is 2 (normalised), so a 3-bit ADC (3 levels
        # per sign) over +/-2 has a step of 2/3: 0.5 reads as code round(0.75) = 1, i.e. 2/3.
        (1.0, [0.5, 0.0], 2 / 3),
        (1.0, [3.0, 3.0], 2.0),  # 6 saturates at the largest code, 2
        (1.0, [-0.4, 0.0], -2 / 3),  # code round(-0.6) = -1
        # Headroom 2: full scale 4, step 4/3; 0.5 is code round(0.375) = 0 and 6 saturates at 4.
        (2.0, [0.5, 0.0], 0.0),
        (2.0, [3.0, 3.0], 4.0),
    ],
)
def test_adc_codes_by_hand(headroom: float, x: list[float], expected: float) -> None:
    fc = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        fc.weight.copy_(torch.tensor([[1.0, 1.0]]))
    chip_spec = ChipSpec(adc=ADCSpec(range_headroom=headroom))
    bits = ConverterBits(dac_bits=None, adc_bits=3)
    calibration = [torch.tensor([[1.0, 1.0]])]
    chip = program_chip(fc, chip_spec, whole_layer_blocks(fc), IdealNoiseModel(), 0, calibration, bits=bits)
    assert float(chip.layers[""].row_groups[0].adc_range[0]) == pytest.approx(2.0 * headroom)
    assert float(chip(torch.tensor([x]))[0, 0]) == pytest.approx(expected, rel=1e-6)


def test_same_seed_is_bit_identical_and_other_seed_differs() -> None:
    model, x = model_and_data()
    blocks = whole_layer_blocks(model)

    def run(seed: int) -> torch.Tensor:
        chip = program_chip(model, CHIP, blocks, noise_model(CHIP), seed, [x])
        chip.set_age(3600.0)
        get_policy("gdc+adabs").compensate(chip, [x])
        return chip(x)

    a, b, c = run(7), run(7), run(8)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_gdc_factor_undoes_the_mean_drift() -> None:
    model, x = model_and_data()
    chip = program_chip(model, CHIP, whole_layer_blocks(model), noise_model(CHIP), 0, [x])
    chip.set_age(86_400.0)
    apply_gdc(chip)
    alpha = chip.layers["conv2"].row_groups[0].gdc_alpha
    # Drift exponents are >= 0.049, so after a day every block has lost at least (4320)^-0.049 = 0.664:
    # alpha >= 1 / 0.664 = 1.506 on average (read noise spreads it by a few %).
    assert float(alpha.mean()) > 1.45
    assert torch.all(alpha == alpha[0])  # one factor per block


def test_gdc_is_identity_for_ideal_devices() -> None:
    model, x = model_and_data()
    chip = program_chip(model, CHIP, SPLIT_BLOCKS, IdealNoiseModel(), 0, [x])
    chip.set_age(1e7)
    apply_gdc(chip)
    for layer in chip.layers.values():
        for group in layer.row_groups:
            assert torch.equal(group.gdc_alpha, torch.ones_like(group.gdc_alpha))


def test_adabs_matches_batch_statistics_of_the_digital_model() -> None:
    # With ideal devices and no converters the chip computes the digital model, so AdaBS over a set of
    # images must give the batch-norm statistics of that set: mean and unbiased variance per channel.
    model, x = model_and_data()
    chip = program_chip(model, CHIP, whole_layer_blocks(model), IdealNoiseModel(), 0, [x], bits=NO_CONVERTERS)
    n = apply_adabs(chip, [x[:16], x[16:]])
    assert n == 32
    pre_bn = model.conv1(x)
    bn1 = chip.model.bn1
    torch.testing.assert_close(bn1.running_mean, pre_bn.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)
    var = pre_bn.var(dim=(0, 2, 3), unbiased=True)
    # Cumulative average over two batches of the per-batch unbiased variances (torch's momentum=None).
    per_batch = [model.conv1(b).var(dim=(0, 2, 3), unbiased=True) for b in (x[:16], x[16:])]
    torch.testing.assert_close(bn1.running_var, sum(per_batch) / 2, rtol=1e-4, atol=1e-5)
    assert var.shape == bn1.running_var.shape
    # gamma and beta unchanged
    assert torch.equal(bn1.weight, model.bn1.weight) and torch.equal(bn1.bias, model.bn1.bias)


def test_policy_none_restores_programmed_state() -> None:
    model, x = model_and_data()
    chip = program_chip(model, CHIP, whole_layer_blocks(model), IdealNoiseModel(), 0, [x], bits=NO_CONVERTERS)
    before = chip(x)
    get_policy("gdc+adabs").compensate(chip, [x])
    get_policy("none").compensate(chip, None)
    torch.testing.assert_close(chip(x), before)


def test_two_devices_per_polarity_halve_programming_variance() -> None:
    # A polarity of n devices reads as their mean: the weight error std falls by sqrt(2) from n=1 to 2.
    torch.manual_seed(0)
    big = nn.Linear(512, 512, bias=False)
    blocks = whole_layer_blocks(big)
    errors = {}
    for chip in (CHIP_2DEV, CHIP):
        analog = program_chip(big, chip, {"": blocks[""]}, noise_model(chip), 0, [], bits=NO_CONVERTERS)
        group = analog.layers[""].row_groups[0]
        g = group.read_normalised(analog.ctx)
        w_read = g * group.g_max_usiemens / group.beta
        errors[chip.tiles.devices_per_weight] = float((w_read - big.weight.detach().T).std())
    assert errors[4] / errors[2] == pytest.approx(1 / math.sqrt(2), rel=0.05)


@pytest.mark.parametrize(
    "blocks, fragment",
    [
        ({"fc": [BlockRange(0, 4, 0, 5)]}, "row blocks"),
        ({"fc": [BlockRange(0, 8, 0, 3)]}, "column"),
        ({"fc": [BlockRange(0, 5, 0, 5), BlockRange(4, 8, 0, 5)]}, "row blocks"),
    ],
)
def test_blocks_that_do_not_tile_the_weight_raise(blocks, fragment) -> None:
    model, x = model_and_data()
    full = {**whole_layer_blocks(model), **blocks}
    with pytest.raises(MappingError, match=fragment):
        program_chip(model, CHIP, full, IdealNoiseModel(), 0, [x])


def test_missing_layer_in_mapping_raises() -> None:
    model, x = model_and_data()
    blocks = whole_layer_blocks(model)
    del blocks["fc"]
    with pytest.raises(MappingError, match="'fc' has no crossbar blocks"):
        program_chip(model, CHIP, blocks, IdealNoiseModel(), 0, [x])


def test_run_headroom_widens_the_dac_range_and_with_it_the_adc_range() -> None:
    fc = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        fc.weight.copy_(torch.tensor([[1.0, 1.0]]))
    calibration = [torch.tensor([[1.0, 1.0]])]
    blocks = whole_layer_blocks(fc)
    plain = program_chip(
        fc, CHIP, blocks, IdealNoiseModel(), 0, calibration, bits=ConverterBits(dac_bits=8, adc_bits=3)
    )
    wide = program_chip(
        fc,
        CHIP,
        blocks,
        IdealNoiseModel(),
        0,
        calibration,
        bits=ConverterBits(dac_bits=8, adc_bits=3, headroom=2.0),
    )
    assert float(plain.layers[""].input_range) == 1.0 and float(wide.layers[""].input_range) == 2.0
    # The ADC range is calibrated with the DAC range fixed: [1, 1] through a DAC of range 2 is code
    # round(63.5) = 64 each, normalised output 2 * 64 / 127, times the run's headroom 2: 256/127 in units
    # of the DAC full scale, so in absolute terms it doubled too. Without headroom [3, 3] saturates at
    # 2. With it, [1.5, 1.5] is DAC code round(1.5 / 2 * 127) = 95 each, normalised output
    # 2 * 95 / 127 = 1.496, ADC step (256/127) / 3 = 0.672: code 2, i.e. 2 * 0.672 x full scale 2.
    assert float(plain(torch.tensor([[3.0, 3.0]]))[0, 0]) == pytest.approx(2.0)
    assert float(wide(torch.tensor([[1.5, 1.5]]))[0, 0]) == pytest.approx(2 * (256 / 127) / 3 * 2, rel=1e-6)


def test_column_scaling_is_exact_with_ideal_devices_and_maps_each_column_max_to_g_max() -> None:
    fc = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        fc.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.1, 0.05, -0.2]]))  # column 1 is 10x smaller
    x = torch.tensor([[1.0, 2.0, -1.0], [0.5, -0.5, 0.25]])
    spec = dataclasses.replace(CHIP, device=dataclasses.replace(CHIP.device, weight_scale="column"))
    off = ConverterBits(dac_bits=None, adc_bits=None)
    chip = program_chip(fc, spec, whole_layer_blocks(fc), IdealNoiseModel(), 0, [x], bits=off)
    torch.testing.assert_close(chip(x), fc(x).detach())
    group = chip.layers[""].row_groups[0]
    g_max = spec.device.g_max_usiemens
    # beta = g_max / max|W| of each output column (the crossbar stores W^T: columns are outputs).
    torch.testing.assert_close(group.beta, torch.tensor([g_max / 2.0, g_max / 0.2]))
    xbar = group.crossbar
    small = torch.cat([xbar.pos.g_prog_usiemens[0][:, 1], xbar.neg.g_prog_usiemens[0][:, 1]])
    assert float(small.max()) == pytest.approx(g_max)  # the small column's -0.2 reaches g_max too (G-)
    block = program_chip(fc, CHIP, whole_layer_blocks(fc), IdealNoiseModel(), 0, [x], bits=off)
    neg = block.layers[""].row_groups[0].crossbar.neg.g_prog_usiemens[0]
    assert float(neg[:, 1].max()) == pytest.approx(g_max * 0.2 / 2.0)  # one scale per block: 2.5 µS


def test_a_chip_file_with_ideal_converters_computes_unquantised() -> None:
    ideal = dataclasses.replace(
        CHIP, dac=dataclasses.replace(CHIP.dac, ideal=True), adc=dataclasses.replace(CHIP.adc, ideal=True)
    )
    assert ConverterBits.of(ideal) == ConverterBits(dac_bits=None, adc_bits=None)
    assert ConverterBits.of(CHIP, headroom=2.0) == ConverterBits(dac_bits=8, adc_bits=8, headroom=2.0)
    model, x = model_and_data()
    chip = program_chip(model, ideal, whole_layer_blocks(model), IdealNoiseModel(), 0, [x])
    torch.testing.assert_close(chip(x), model(x).detach())  # ideal devices, no converters: exact


def test_output_noise_has_the_spec_std_in_normalised_units() -> None:
    # W = I (max|W| = 1 -> g_max), inputs calibrated to full scale 1: one normalised unit is one output
    # unit, so zero inputs read pure output noise of std sigma.
    fc = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        fc.weight.copy_(torch.eye(2))
    sigma = 0.04
    noisy = dataclasses.replace(CHIP, adc=dataclasses.replace(CHIP.adc, output_noise=sigma))
    off = ConverterBits(dac_bits=None, adc_bits=None)
    chip = program_chip(fc, noisy, whole_layer_blocks(fc), IdealNoiseModel(), 0, [torch.ones(1, 2)], bits=off)
    out = chip(torch.zeros(20_000, 2))
    assert float(out.std()) == pytest.approx(sigma, rel=0.02)  # 40,000 draws: std known to ~0.4 %
    assert abs(float(out.mean())) < 5 * sigma / 200
    quiet = program_chip(fc, CHIP, whole_layer_blocks(fc), IdealNoiseModel(), 0, [torch.ones(1, 2)], bits=off)
    assert torch.equal(quiet(torch.zeros(4, 2)), torch.zeros(4, 2))  # default: no output noise
