"""Peripheral converters of a crossbar: the input DAC and the output ADC, as quantisers over tensors.

Inputs are encoded by a signed pulse-width DAC and column outputs digitised by an ADC
(docs/concepts/physics.md; Le Gallo et al., Nature Electronics 6, 680 (2023): 8-bit pulse-width inputs, 8-bit
ADCs). Both are symmetric uniform quantisers with ``2^(bits-1) - 1`` levels per sign (a signed 8-bit code
spans -127..127) that saturate at their full-scale range: values beyond the range clip, which is what a
pulse-width modulator with a longest pulse, and an ADC with a largest count, do. Rounding is to the nearest
level, ties to even (``torch.round``).

The hardware-aware training's straight-through quantiser (``chiptwin.network.training.quantise_ste``)
is a training device, not a converter model: it quantises over each batch's max|x|, and the network
layer does not import this one (docs/concepts/layers.md).
"""

from __future__ import annotations

from torch import Tensor

from chiptwin.errors import DeviceError

__all__ = ["encode_", "levels"]


def levels(bits: int) -> int:
    """Positive levels of a signed ``bits``-bit converter: ``2^(bits-1) - 1`` (127 for 8 bits).

    Raises:
        DeviceError: ``bits`` is outside 1..24 (1 bit has a single sign level).
    """
    if not 1 <= bits <= 24:
        raise DeviceError(f"bits(={bits}) must be in 1..24")
    return max(2 ** (bits - 1) - 1, 1)


def encode_(x: Tensor, bits: int) -> Tensor:
    """Turn ``x``, already in units of one step, into signed ``bits``-bit codes in place and return it.

    ``round`` to the nearest level and saturate at ``±levels(bits)``: the one quantiser of the chip's DAC
    (``x`` = input / full scale x levels) and ADC (``x`` = output / step). Callers fold every scale
    into ``x`` beforehand (and into the weights) so the large activation tensor is touched once.

    Example:
        >>> import torch
        >>> encode_(torch.tensor([-300.0, -0.4, 0.5, 1.5, 126.6]), 8).tolist()
        [-127.0, -0.0, 0.0, 2.0, 127.0]

    Raises:
        DeviceError: ``bits`` is outside 1..24.
    """
    n = levels(bits)
    return x.round_().clamp_(-n, n)
