"""The mutable state a programmed chip shares with its analog layers during a forward pass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from chiptwin.functional.analog_layer import RowGroup

__all__ = ["ChipContext"]


@dataclass(slots=True, kw_only=True, eq=False)
class ChipContext:
    """What every analog layer of one chip reads in its forward pass.

    Attributes:
        age_s: device age, s, since programming (read at ``t0`` and later, see ``chiptwin.device.pcm``).
        read_generator: source of the per-batch read noise.
        dac_bits: input DAC resolution, bits; None switches input quantisation off.
        adc_bits: output ADC resolution, bits; None switches output quantisation off.
        compensate: apply each block's GDC scale (the digital unit's drift compensation).
        output_noise: std of the periphery's additive output noise per MVM output, normalised units
            (a full-scale input through g_max is 1; ``adc.output_noise``); 0: none.
        gdc_read: the GDC calibration read, ``polarities`` or ``differential``
            (:class:`chiptwin.spec.chip.GDCSpec`).
        input_range: how the DACs' full scale is set, ``calibrated`` (one range per layer) or
            ``per_vector`` (each input vector's own max |x|; :data:`chiptwin.spec.chip.INPUT_RANGES`).
        observe_adc: set only by the converter-range calibration
            (:func:`chiptwin.functional.calibration.calibrate_converters`): the row groups' outputs are
            not digitised but handed to it in normalised units (``(group, y)``, the group's columns on
            ``y``'s last axis) before scaling.
    """

    age_s: float
    read_generator: torch.Generator
    dac_bits: int | None
    adc_bits: int | None
    compensate: bool = True
    gdc_read: str = "polarities"
    output_noise: float = 0.0
    input_range: str = "calibrated"
    observe_adc: Callable[[RowGroup, Tensor], None] | None = None
