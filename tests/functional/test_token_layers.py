"""Analog layers beyond ResNet: Linear layers on tokens (a transformer), depthwise convolutions.

A Linear on ``(batch, tokens, features)`` is one MVM per token; its row splits, replicas and converter
ranges work on the feature dimension, whatever the leading dimensions.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from chiptwin.device.noise import IdealNoiseModel
from chiptwin.functional import BlockRange, ConverterBits, program_chip, whole_layer_blocks
from chiptwin.network.vit import VisionTransformer
from chiptwin.spec.chip import ChipSpec

NO_CONVERTERS = ConverterBits(dac_bits=None, adc_bits=None)
CHIP = ChipSpec()


def _vit() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = VisionTransformer(image_size=8, patch=4, dim=8, depth=1, heads=2, mlp_dim=16).eval()
    return model, torch.randn(6, 1, 8, 8)


# fc1 (8 -> 16) split over rows inside its 8 features and over columns; q replicated twice: each replica
# computes 2 of the 4 tokens
SPLIT = {
    "blocks.0.fc1": [BlockRange(0, 3, 0, 10), BlockRange(0, 3, 10, 16), BlockRange(3, 8, 0, 16)],
    "blocks.0.attn.q": [BlockRange(0, 8, 0, 8, 0), BlockRange(0, 8, 0, 8, 1)],
}


def _blocks(model: nn.Module, split: dict[str, list[BlockRange]]) -> dict[str, list[BlockRange]]:
    return whole_layer_blocks(model) | split


@pytest.mark.parametrize("split", [{}, SPLIT], ids=["whole", "split+replicas"])
def test_transformer_with_ideal_devices_and_no_converters_is_exact(split) -> None:
    model, x = _vit()
    chip = program_chip(model, CHIP, _blocks(model, split), IdealNoiseModel(), 0, [x], bits=NO_CONVERTERS)
    torch.testing.assert_close(chip(x), model(x).detach(), rtol=1e-5, atol=1e-5)


def test_replica_of_a_token_layer_computes_its_share_of_the_tokens() -> None:
    model, x = _vit()
    chip = program_chip(model, CHIP, _blocks(model, SPLIT), IdealNoiseModel(), 0, [x], bits=NO_CONVERTERS)
    layer = chip.layers["blocks.0.attn.q"]
    y = torch.zeros(6, 4, 8)
    # tokens 0, 1 to replica 0 and 2, 3 to replica 1 (replica_share of 4 positions over 2)
    assert layer._share_mask(0, y).flatten().tolist() == [1, 1, 0, 0]
    assert layer._share_mask(1, y).flatten().tolist() == [0, 0, 1, 1]
    # a dead replica 1 zeroes exactly the last two tokens of q's output
    captured = {}
    layer.register_forward_hook(lambda _m, _a, out: captured.setdefault("q", out.detach().clone()))
    chip.fail_blocks([("blocks.0.attn.q", BlockRange(0, 8, 0, 8, 1))])
    chip(x)
    reference = model.blocks[0].attn.q(model.blocks[0].norm1(model.embed(x) + model.pos))
    q = captured["q"] - layer.bias  # the bias is added digitally for every token
    torch.testing.assert_close(q[:, :2], (reference - layer.bias)[:, :2].detach(), rtol=1e-5, atol=1e-5)
    assert bool((q[:, 2:] == 0).all())


def test_adc_range_of_a_token_layer_is_per_block_over_tokens_and_images() -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(8, 16)).eval()
    x = torch.randn(6, 4, 8)  # 6 images of 4 tokens
    blocks = {"0": [BlockRange(0, 3, 0, 10), BlockRange(0, 3, 10, 16), BlockRange(3, 8, 0, 16)]}
    chip = program_chip(
        model, CHIP, blocks, IdealNoiseModel(), 0, [x], bits=ConverterBits(dac_bits=8, adc_bits=8)
    )
    layer = chip.layers["0"]
    assert float(layer.input_range) == float(x.abs().max())
    x_n = torch.round(x / x.abs().max() * 127) / 127  # the DAC's 8-bit codes, normalised
    w = model[0].weight.detach().T[:3]
    # the chip's weight scale is "block": each block's largest |weight| maps to g_max; the range is the
    # block's largest |normalised output| over every token of every image, times the headroom
    expected = [
        (x_n[..., :3] @ (w[:, c0:c1] / w[:, c0:c1].abs().max())).abs().max() for c0, c1 in ((0, 10), (10, 16))
    ]
    ranges = layer.row_groups[0].adc_range / CHIP.adc.range_headroom
    torch.testing.assert_close(
        ranges, torch.cat([expected[0].expand(10), expected[1].expand(6)]), rtol=1e-5, atol=0
    )


def test_depthwise_convolution_is_exact_with_ideal_devices() -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.ReLU(), nn.Conv2d(4, 6, 1)).eval()
    x = torch.randn(5, 4, 6, 6)
    # one block per group, as the mapping splits a depthwise layer
    blocks = whole_layer_blocks(model) | {"0": [BlockRange(0, 9, c, c + 1) for c in range(4)]}
    chip = program_chip(model, CHIP, blocks, IdealNoiseModel(), 0, [x], bits=NO_CONVERTERS)
    torch.testing.assert_close(chip(x), model(x).detach(), rtol=1e-5, atol=1e-5)


def test_adabs_on_a_model_without_batch_norm_passes_no_image() -> None:
    from chiptwin.functional import apply_adabs

    model, x = _vit()
    chip = program_chip(model, CHIP, whole_layer_blocks(model), IdealNoiseModel(), 0, [x], bits=NO_CONVERTERS)
    calls = []
    chip.model.register_forward_pre_hook(lambda _m, _a: calls.append(1))
    assert apply_adabs(chip, [x, x]) == 0 and calls == []
