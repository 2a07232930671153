"""Peripheral converters of a crossbar: the input DAC and the output ADC, as quantisers over tensors.

Inputs are encoded by a signed pulse-width DAC and column outputs digitised by an ADC (DESIGN.md
section 3; Le Gallo et al., Nature Electronics 6, 680 (2023): 8-bit pulse-width inputs, 8-bit ADCs).
Both are symmetric uniform quantisers with ``2^(bits-1) - 1`` levels per sign (a signed 8-bit code
spans -127..127) that saturate at their full-scale range: values beyond the range clip, which is what a
pulse-width modulator with a longest pulse, and an ADC with a largest count, do.
"""

from __future__ import annotations

import torch
from torch import Tensor

from chiptwin.errors import DeviceError

__all__ = ["levels", "quantise"]


def levels(bits: int) -> int:
    """Positive levels of a signed ``bits``-bit converter: ``2^(bits-1) - 1`` (127 for 8 bits).

    Raises:
        DeviceError: ``bits`` is outside 1..24 (1 bit has a single sign level).
    """
    if not 1 <= bits <= 24:
        raise DeviceError(f"bits(={bits}) must be in 1..24")
    return max(2 ** (bits - 1) - 1, 1)


def quantise(x: Tensor, bits: int, full_scale: Tensor | float) -> Tensor:
    """Quantise ``x`` to a signed ``bits``-bit code over ``[-full_scale, full_scale]``, in x's units.

    ``full_scale`` is a float or a tensor broadcastable to ``x`` (e.g. one range per output column,
    shaped ``(1, C, 1, 1)``); a zero range maps everything to 0. Values beyond the range saturate.
    Returns a new tensor; ``x`` is not modified.
    """
    n = levels(bits)
    scale = torch.as_tensor(full_scale, dtype=x.dtype, device=x.device) / n
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    code = torch.round(x / safe).clamp_(-n, n)
    return code.mul_(safe).mul_(scale > 0)
