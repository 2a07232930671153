"""The mutable state a programmed chip shares with its analog layers during a forward pass."""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["ChipContext"]


@dataclass(slots=True, kw_only=True, eq=False)
class ChipContext:
    """What every analog layer of one chip reads in its forward pass.

    Attributes:
        age_s: device age, s, since programming (read at ``t0`` and later, see ``chiptwin.device.pcm``).
        read_generator: source of the per-batch read noise.
        dac_bits: input DAC resolution, bits; None switches input quantisation off.
        adc_bits: output ADC resolution, bits; None switches output quantisation off.
        calibrating: True during the converter-range calibration pass right after programming: each
            layer records its input range and its blocks' output ranges instead of saturating.
        compensate: apply each block's GDC scale (the digital unit's drift compensation).
    """

    age_s: float
    read_generator: torch.Generator
    dac_bits: int | None
    adc_bits: int | None
    calibrating: bool = False
    compensate: bool = True
