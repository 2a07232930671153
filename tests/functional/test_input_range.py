"""The input-range convention (``[dac] input_range``): calibrated ranges vs per-vector rescaling.

Every expected number is computed by hand below. The devices are ideal (read back exactly), so a layer's
output is the digital product of its DAC-quantised inputs: with a 3-bit DAC (3 levels per sign, ties to
even) an input ``x`` over full scale ``s`` reads as ``s * round(3 x / s) / 3``. Calibrated: ``s`` is the
layer's range from the calibration images; per-vector: each input vector's own max |x| over the rows of
its crossbar block row.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from small_model import model_and_data
from torch import nn

from chiptwin.device.noise import IdealNoiseModel
from chiptwin.functional import BlockRange, ConverterBits, analog_layer, program_chip, whole_layer_blocks
from chiptwin.functional.hwa import NoiseRecipe, hardware_aware
from chiptwin.spec.chip import ADCSpec, ChipSpec, DACSpec, describe_chip
from chiptwin.spec.load import chip_from_dict, chip_to_dict

DAC3 = ConverterBits(dac_bits=3, adc_bits=None)
CALIBRATED = ChipSpec()
PER_VECTOR = dataclasses.replace(ChipSpec(), dac=DACSpec(input_range="per_vector"))


def _linear(weight: list[list[float]]) -> nn.Linear:
    layer = nn.Linear(len(weight[0]), len(weight), bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
    return layer


def _conv(weight: list[float], in_channels: int, groups: int) -> nn.Conv2d:
    """A 1x2 kernel, no padding: ``weight`` flat in ``Conv2d.weight`` order."""
    out = len(weight) // (2 * in_channels // groups)
    layer = nn.Conv2d(in_channels, out, (1, 2), bias=False, groups=groups)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight).view_as(layer.weight))
    return layer


def _chip_output(layer: nn.Module, chip: ChipSpec, x: torch.Tensor, blocks=None, bits=DAC3) -> torch.Tensor:
    blocks = blocks or whole_layer_blocks(nn.Sequential(layer))["0"]
    programmed = program_chip(layer, chip, {"": blocks}, IdealNoiseModel(), 0, [x], bits=bits)
    return programmed(x)


# x = [[0.5, -1.0, 0.2], [0.1, 0.05, -0.02]] through W = [[1, 2, -1], [0.5, -1, 3]], 3-bit DAC.
# Per-vector: vector 1 (s = 1): 3x = [1.5, -3, 0.6] -> [2, -3, 1] -> [2/3, -1, 1/3] -> W q = [-5/3, 7/3];
#   vector 2 (s = 0.1): 3x/s = [3, 1.5, -0.6] -> [3, 2, -1], q = 0.1/3 [3, 2, -1] -> W q = 0.1/3 [8, -3.5].
# Calibrated (range 1, the largest |x| of the calibration batch): vector 1 as above; vector 2:
#   3x = [0.3, 0.15, -0.06] -> all 0 -> output 0.
LINEAR_W = [[1.0, 2.0, -1.0], [0.5, -1.0, 3.0]]
LINEAR_X = [[0.5, -1.0, 0.2], [0.1, 0.05, -0.02]]
LINEAR_PER_VECTOR = [[-5 / 3, 7 / 3], [0.8 / 3, -0.35 / 3]]
LINEAR_CALIBRATED = [[-5 / 3, 7 / 3], [0.0, 0.0]]


@pytest.mark.parametrize(
    ("chip", "expected"), [(PER_VECTOR, LINEAR_PER_VECTOR), (CALIBRATED, LINEAR_CALIBRATED)]
)
def test_linear_by_hand(chip: ChipSpec, expected: list[list[float]]) -> None:
    y = _chip_output(_linear(LINEAR_W), chip, torch.tensor(LINEAR_X))
    torch.testing.assert_close(y, torch.tensor(expected), rtol=1e-5, atol=1e-6)


def test_linear_tokens_rescale_each_token() -> None:
    """A Linear on (batch, tokens, features): each token is its own vector (the same numbers as above)."""
    y = _chip_output(_linear(LINEAR_W), PER_VECTOR, torch.tensor([LINEAR_X]))
    torch.testing.assert_close(y, torch.tensor([LINEAR_PER_VECTOR]), rtol=1e-5, atol=1e-6)


def test_each_block_row_sees_only_its_rows() -> None:
    """x = [1, 0.5, 0.1, -0.05] through W = [1, 1, 1, 1] split over rows [0, 2) and [2, 4) (two tiles).

    Tile 1 (s = 1): 3x = [3, 1.5] -> [3, 2] -> 1 + 2/3. Tile 2 (s = 0.1): 3x/s = [3, -1.5] -> [3, -2] ->
    0.1 - 0.2/3. Sum 1.7. (With the whole vector's max, 1, tile 2 would read [0.3, -0.15] -> 0: 5/3.)
    """
    blocks = [BlockRange(0, 2, 0, 1), BlockRange(2, 4, 0, 1)]
    y = _chip_output(
        _linear([[1.0, 1.0, 1.0, 1.0]]), PER_VECTOR, torch.tensor([[1.0, 0.5, 0.1, -0.05]]), blocks
    )
    torch.testing.assert_close(y, torch.tensor([[1.7]]), rtol=1e-5, atol=1e-6)


def test_conv_patches_by_hand() -> None:
    """One channel [0.9, -0.3, 0.1], a 1x2 kernel [2, 1]: two patches (the columns of F.unfold).

    Per-vector: [0.9, -0.3] (s = 0.9): 3x/s = [3, -1] -> exact, 1.8 - 0.3 = 1.5; [-0.3, 0.1] (s = 0.3):
    [-3, 1] -> exact, -0.6 + 0.1 = -0.5. Calibrated (range 0.9): the second patch reads
    3x/0.9 = [-1, 0.33] -> [-1, 0] -> [-0.3, 0] -> -0.6.
    """
    x = torch.tensor([[[[0.9, -0.3, 0.1]]]])
    layer = _conv([2.0, 1.0], 1, 1)
    torch.testing.assert_close(_chip_output(layer, PER_VECTOR, x), torch.tensor([[[[1.5, -0.5]]]]))
    torch.testing.assert_close(_chip_output(layer, CALIBRATED, x), torch.tensor([[[[1.5, -0.6]]]]))


def test_depthwise_conv_rescales_each_channel() -> None:
    """A depthwise 1x2 conv: each channel's patch is its own vector (its column sees only its channel).

    Channel 0 [0.9, -0.3] (s = 0.9) -> exact: 0.9 - 0.3 = 0.6; channel 1 [0.1, 0.05] (s = 0.1): 3x/s =
    [3, 1.5] -> [3, 2] -> 0.1 + 0.2/3. With the patch's max over both channels (0.9), channel 1 would
    read [0.33, 0.17] -> 0.
    """
    x = torch.tensor([[[[0.9, -0.3]], [[0.1, 0.05]]]])
    y = _chip_output(_conv([1.0, 1.0, 1.0, 1.0], 2, 2), PER_VECTOR, x)
    torch.testing.assert_close(y, torch.tensor([[[[0.6]], [[0.1 + 0.2 / 3]]]]), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")  # torch's own conv
def test_unfolded_patches_match_the_convolution() -> None:
    """Padding (also "same", uneven), stride, dilation, groups, a row split inside a kernel: with 16-bit
    converters per-vector rescaling stays within 1e-3 of the digital model (the patches are the
    convolution's)."""
    model, x = model_and_data()
    blocks = {
        "conv1": [BlockRange(0, 27, 0, 8)],
        "conv2": [BlockRange(0, 36, 0, 8), BlockRange(36, 40, 0, 8), BlockRange(40, 72, 0, 8)],
        "fc": [BlockRange(0, 5, 0, 5), BlockRange(5, 8, 0, 5)],
    }
    bits = ConverterBits(dac_bits=16, adc_bits=16)
    chip = program_chip(model, PER_VECTOR, blocks, IdealNoiseModel(), 0, [x], bits=bits)
    ref = model(x).detach()
    assert float((chip(x) - ref).abs().max() / ref.abs().max()) < 1e-3
    strided = nn.Conv2d(3, 4, 3, stride=2, padding=2, dilation=2, bias=False)
    grouped = nn.Conv2d(4, 6, 2, groups=2, padding="same", bias=False)  # padded 0 before, 1 after
    for layer, inputs in ((strided, x), (grouped, torch.randn(2, 4, 5, 5))):
        digital = layer(inputs).detach()
        y = _chip_output(layer, PER_VECTOR, inputs, bits=bits)
        assert y.shape == digital.shape
        assert float((y - digital).abs().max() / digital.abs().max()) < 1e-3


def test_a_batch_split_into_chunks_computes_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """A per-vector convolution unrolls a few images at a time (PATCH_CHUNK_BYTES): the same outputs."""
    model, x = model_and_data()
    chip = program_chip(model, PER_VECTOR, whole_layer_blocks(model), IdealNoiseModel(), 0, [x])
    whole = chip(x)
    monkeypatch.setattr(analog_layer, "PATCH_CHUNK_BYTES", 3 * 8 * 8 * 9 * 4 * 5)  # 5 images of conv1
    torch.testing.assert_close(chip(x), whole, rtol=1e-6, atol=1e-6)


def test_adc_range_is_calibrated_on_rescaled_outputs() -> None:
    """The ADC full scale is the largest normalised output of the rescaled vectors (block weight scale:
    G / g_max = W / max|W| = W / 3). Per-vector: vector 2 at full scale, 3x/s = [3, 2, -1] / 3, gives
    W q / 3 = [8, -3.5] / 9, the largest 8/9; vector 1 gives [-5, 7] / 9. Calibrated: vector 2 reads 0,
    so the range is 7/9."""
    layer = _linear(LINEAR_W)
    x = torch.tensor(LINEAR_X)
    bits = ConverterBits(dac_bits=3, adc_bits=8)
    for chip, expected in ((PER_VECTOR, 8 / 9), (CALIBRATED, 7 / 9)):
        programmed = program_chip(layer, chip, {"": whole_layer_blocks(nn.Sequential(layer))["0"]},
                                  IdealNoiseModel(), 0, [x], bits=bits)  # fmt: skip
        ranges = programmed.layers[""].row_groups[0].adc_range
        torch.testing.assert_close(ranges, torch.full((2,), expected))


def test_output_noise_scales_with_each_vector() -> None:
    """Output noise 0.1 in normalised units, W = [[2]] (beta = g_max / 2: one unit of normalised output
    is 2 weight units). Per-vector: a vector of max |x| = s carries noise std 0.1 x s x 2 in weight units
    (0.2 at s = 1, 0.002 at s = 0.01); calibrated (range 1): 0.2 for both."""
    n = 4000
    x = torch.cat([torch.ones(n, 1), torch.full((n, 1), 0.01)])
    layer = _linear([[2.0]])
    bits = ConverterBits(dac_bits=None, adc_bits=None)
    for chip, small in ((PER_VECTOR, 0.002), (CALIBRATED, 0.2)):
        noisy = dataclasses.replace(chip, adc=ADCSpec(output_noise=0.1))
        err = (_chip_output(layer, noisy, x, bits=bits) - 2 * x)[:, 0]
        assert float(err[:n].std()) == pytest.approx(0.2, rel=0.05)
        assert float(err[n:].std()) == pytest.approx(small, rel=0.05)


def test_an_all_zero_vector_reads_zero() -> None:
    layer = _linear(LINEAR_W)
    noisy = dataclasses.replace(PER_VECTOR, adc=ADCSpec(output_noise=0.1))
    x = torch.tensor([LINEAR_X[0], [0.0, 0.0, 0.0]])
    y = _chip_output(layer, noisy, x, bits=ConverterBits(dac_bits=8, adc_bits=8))
    assert torch.equal(y[1], torch.zeros(2)) and bool(torch.isfinite(y).all())


def test_calibrated_is_the_default_bit_for_bit() -> None:
    """An explicit ``calibrated`` is the chip without the key (noisy devices, converters, output noise)."""
    from chiptwin.device.models import noise_model

    model, x = model_and_data()
    base = dataclasses.replace(ChipSpec(), adc=ADCSpec(output_noise=0.04))
    explicit = dataclasses.replace(base, dac=DACSpec(input_range="calibrated"))
    outs = [
        program_chip(model, chip, whole_layer_blocks(model), noise_model(chip), 3, [x])(x)
        for chip in (base, explicit)
    ]
    assert torch.equal(outs[0], outs[1])


def test_the_chip_file_key_and_the_printed_convention() -> None:
    data = chip_to_dict(ChipSpec())
    assert data["dac"]["input_range"] == "calibrated"
    del data["dac"]["input_range"]  # an older file without the key: calibrated
    assert chip_from_dict(data).dac.input_range == "calibrated"
    data["dac"]["input_range"] = "per_vector"
    chip = chip_from_dict(data)
    assert chip == PER_VECTOR
    assert "inputs: per-vector rescaling" in describe_chip(chip)
    assert "inputs: calibrated ranges" in describe_chip(ChipSpec())


def test_training_sees_per_vector_scales_and_gradients_flow() -> None:
    """Hardware-aware training on a per-vector chip quantises each vector at its own scale (the numbers of
    test_linear_by_hand; exact devices: no programming noise, ideal ADC, no output noise) and passes the
    gradient straight through the DAC to the weights and the input."""
    chip = dataclasses.replace(
        PER_VECTOR, dac=DACSpec(bits=3, input_range="per_vector"), adc=ADCSpec(ideal=True)
    )
    layer = _linear(LINEAR_W)
    x = torch.tensor(LINEAR_X, requires_grad=True)
    recipe = NoiseRecipe(noise_scale=0.0, alpha=None, output_noise=False)
    with hardware_aware(layer, chip, (3,), recipe=recipe) as handle:
        layer.train()
        y = layer(x)
        torch.testing.assert_close(y.detach(), torch.tensor(LINEAR_PER_VECTOR), rtol=1e-5, atol=1e-6)
        y.sum().backward()
        assert "per-vector" in handle.describe()["input_ranges"]
    # d sum(W q) / dW = the sum of the quantised vectors q (the forward values: [2/3, -1, 1/3] and
    # 0.1/3 [3, 2, -1]); d / dx = the column sums of W, straight through the DAC.
    assert layer.weight.grad is not None and x.grad is not None
    q_sum = torch.tensor([2 / 3 + 0.1, -1 + 0.2 / 3, 1 / 3 - 0.1 / 3])
    torch.testing.assert_close(layer.weight.grad, q_sum.expand(2, 3))
    torch.testing.assert_close(x.grad, torch.tensor(LINEAR_W).sum(0).expand(2, 3))


def test_training_per_vector_conv_with_periphery_is_finite() -> None:
    """A conv with zero patches (ReLU-like input), 8-bit converters and output noise: finite outputs and
    gradients, and the all-zero patches give exactly 0 (as on the chip)."""
    chip = dataclasses.replace(PER_VECTOR, adc=ADCSpec(output_noise=0.04))
    layer = nn.Conv2d(2, 3, 3, padding=1, bias=False)
    x = torch.zeros(2, 2, 8, 8)
    x[:, :, :3, :3] = torch.rand(2, 2, 3, 3)  # patches centred beyond row/column 4 see only zeros
    with hardware_aware(layer, chip, (2, 8, 8)):
        layer.train()
        y = layer(x)
        y.square().sum().backward()
    assert bool(torch.isfinite(y).all()) and torch.equal(y[:, :, 5:, 5:], torch.zeros(2, 3, 3, 3))
    assert layer.weight.grad is not None and bool(torch.isfinite(layer.weight.grad).all())
