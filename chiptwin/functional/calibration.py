"""Converter-range calibration right after programming: the DAC ranges first, then the ADC ranges.

The chip sets every layer's DAC input range and every block's ADC full scale from calibration images
passed through the freshly programmed chip (docs/concepts/physics.md). Two passes, so that neither range
depends on the order of the calibration batches:

1. **DAC**: the images pass with both converters off (block outputs summed digitally, as in pass 2);
   each analog layer's input range is the largest |input| it saw, times the run's headroom.
2. **ADC**: the images pass again with the DAC ranges fixed (inputs quantised as in inference) and the
   block outputs read before their ADCs (no ADC gain or offset error: the calibration sums the column
   currents digitally); each block's range is its largest |normalised output| (units of the layer's DAC full
   scale), times ``adc.range_headroom`` and the run's headroom, one value for all of a block's columns.

A single pass that widened the DAC range while it recorded ADC ranges in units of that growing range
made the ADC range depend on batch order (one bit lost for a large batch seen second).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from chiptwin.functional.analog_layer import AnalogLayer, RowGroup

__all__ = ["calibrate_converters"]


@torch.no_grad()
def calibrate_converters(
    model: nn.Module,
    layers: Sequence[AnalogLayer],
    batches: Sequence[Tensor],
    *,
    adc_headroom: float,
    run_headroom: float = 1.0,
) -> None:
    """Set every layer's DAC range and every block's ADC range from ``batches`` (module docstring).

    Args:
        model: the programmed model whose forward pass reaches ``layers``.
        layers: its analog layers (they share one :class:`~chiptwin.functional.context.ChipContext`).
        batches: normalised calibration images, passed twice.
        adc_headroom: the chip's ``adc.range_headroom`` (full scale over the largest output seen).
        run_headroom: the run's extra headroom on both ranges.
    """
    if not layers:
        return
    ctx = layers[0].ctx
    dac_bits = ctx.dac_bits

    def record_input(layer: nn.Module, args: tuple[Tensor, ...]) -> None:
        # Widened before the layer computes, so it always divides by a range it has seen; with the
        # converters off the layer's output does not depend on that range.
        assert isinstance(layer, AnalogLayer)
        layer.input_range = torch.maximum(layer.input_range, args[0].detach().abs().max())

    block_max: dict[int, Tensor] = {}

    def record_output(group: RowGroup, y: Tensor) -> None:
        col_max = y.abs().amax(dim=tuple(range(y.dim() - 1)))  # columns last (AnalogLayer)
        per_block = torch.stack([col_max[c0:c1].max() for c0, c1 in group.col_blocks])
        seen = block_max.get(id(group))
        block_max[id(group)] = per_block if seen is None else torch.maximum(seen, per_block)

    for layer in layers:
        layer.input_range = torch.zeros_like(layer.input_range)
    hooks = [layer.register_forward_pre_hook(record_input) for layer in layers]
    try:
        # Pass 1: no DAC, and the block outputs summed digitally (no ADC, no ADC gain or offset error).
        ctx.dac_bits, ctx.observe_adc = None, _ignore
        for batch in batches:
            model(batch)
    finally:
        for hook in hooks:
            hook.remove()
        ctx.dac_bits, ctx.observe_adc = dac_bits, None
    for layer in layers:
        layer.input_range = layer.input_range * run_headroom
    try:
        # Pass 2: the DAC as in inference, the outputs observed before their ADC.
        ctx.observe_adc = record_output
        for batch in batches:
            model(batch)
    finally:
        ctx.observe_adc = None
    for layer in layers:
        for group in layer.row_groups:
            seen = block_max.get(id(group), group.adc_range.new_zeros(len(group.col_blocks)))
            group.adc_range = group.expand_per_column(seen * (adc_headroom * run_headroom)).to(
                group.adc_range
            )


def _ignore(group: RowGroup, y: Tensor) -> None:
    pass
