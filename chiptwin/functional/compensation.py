"""Drift compensation: global drift compensation (GDC) and adaptive batch-norm statistics (AdaBS).

Both follow Joshi et al., Nat. Commun. 11, 2473 (2020), Methods:

- GDC: right after programming every crossbar block is read with a calibration input (all ones through
  the DAC) and the summed |output| is stored as reference; at a later age the read is repeated and the
  block's outputs are scaled by ``alpha = reference / now`` in the tile's digital unit.
- AdaBS: at age t, N calibration images (paper: 2,600 for CIFAR-10) pass through the drifted chip and
  replace the batch-norm running mean and variance (cumulative average over the N images); the learned
  gamma and beta are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from chiptwin.functional.chip import AnalogChip

__all__ = ["POLICIES", "apply_adabs", "apply_gdc", "apply_policy", "reset_gdc"]

POLICIES = ("none", "gdc", "gdc+adabs")
"""Compensation policies: nothing, GDC alone, GDC then AdaBS."""


@torch.no_grad()
def apply_gdc(chip: AnalogChip) -> None:
    """Measure every block at the chip's current age and set its GDC factor ``reference / now``."""
    for layer in chip.layers.values():
        for group in layer.row_groups:
            now = group.calibration_response(chip.ctx)
            alpha = group.gdc_reference / now.clamp_min(torch.finfo(now.dtype).tiny)
            group.gdc_alpha = group.expand_per_column(alpha)


def reset_gdc(chip: AnalogChip) -> None:
    """Drop every GDC factor back to 1 (no compensation)."""
    for layer in chip.layers.values():
        for group in layer.row_groups:
            group.gdc_alpha = torch.ones_like(group.gdc_alpha)


@torch.no_grad()
def apply_adabs(chip: AnalogChip, batches: Iterable[Tensor]) -> int:
    """Re-estimate every batch-norm's running statistics on ``batches`` through the chip at its age.

    Returns the number of images used. The statistics are a cumulative average over all images
    (``momentum=None``); gamma and beta are unchanged.
    """
    bns = [m for m in chip.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.training) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    seen = 0
    try:
        for batch in batches:
            chip(batch)
            seen += batch.shape[0]
    finally:
        for m, (momentum, training) in zip(bns, saved, strict=True):
            m.momentum = momentum
            m.train(training)
    return seen


def apply_policy(chip: AnalogChip, policy: str, calibration: Iterable[Tensor] | None = None) -> None:
    """Bring the chip's compensation state to ``policy`` at its current age.

    Raises:
        ValueError: unknown policy, or ``gdc+adabs`` without calibration batches.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy(={policy!r}) must be one of {POLICIES}")
    chip.restore_programmed_bn()
    if policy == "none":
        reset_gdc(chip)
        return
    apply_gdc(chip)
    if policy == "gdc+adabs":
        if calibration is None:
            raise ValueError("policy 'gdc+adabs' needs calibration batches")
        apply_adabs(chip, calibration)
