"""Drift compensation on the chip: global drift compensation (GDC) and adaptive batch-norm statistics (AdaBS).

The operations a compensation policy (:mod:`chiptwin.compensation`) is made of; the policies themselves,
and what a pass costs on the clock, live there.

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
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from chiptwin.errors import DeviceError
from chiptwin.functional.chip import AnalogChip

__all__ = ["ChipCompensation", "apply_adabs", "apply_gdc", "reset_gdc"]


@runtime_checkable
class ChipCompensation(Protocol):
    """What a compensation policy does to a programmed chip (its timing side is the policy's own,
    :class:`chiptwin.compensation.CompensationPolicy`)."""

    @property
    def name(self) -> str:
        """The policy's name."""
        ...

    @property
    def needs_images(self) -> bool:
        """``compensate`` needs calibration images."""
        ...

    def compensate(self, chip: AnalogChip, images: Iterable[Tensor] | None) -> int:
        """Bring ``chip`` to the policy's state at its current age; returns blocks GDC left alone."""
        ...


@torch.no_grad()
def apply_gdc(chip: AnalogChip) -> int:
    """Measure every block at the chip's current age and set its GDC factor ``reference / now``.

    A block that reads nothing (every column 0: its tile is dead) has no factor: it keeps the one it
    had (docs/concepts/physics.md), since ``reference / 0`` would turn its zero outputs into NaN.

    Returns:
        The number of blocks left alone because they read nothing.
    """
    skipped = 0
    for layer in chip.layers.values():
        for group in layer.row_groups:
            now = group.calibration_response(chip.ctx)
            reads = now > 0
            alpha = torch.where(reads, group.gdc_reference / now.clamp_min(torch.finfo(now.dtype).tiny), 0.0)
            group.gdc_alpha = torch.where(
                group.expand_per_column(reads), group.expand_per_column(alpha), group.gdc_alpha
            )
            skipped += int((~reads).sum())
    return skipped


def reset_gdc(chip: AnalogChip) -> None:
    """Drop every GDC factor back to 1 (no compensation)."""
    for layer in chip.layers.values():
        for group in layer.row_groups:
            group.gdc_alpha = torch.ones_like(group.gdc_alpha)


@torch.no_grad()
def apply_adabs(chip: AnalogChip, batches: Iterable[Tensor]) -> int:
    """Re-estimate every batch-norm's running statistics on ``batches`` through the chip at its age.

    Returns the number of images used (0 for a model without batch-norm: nothing to re-estimate, no
    image passes). The statistics are a cumulative average over all images (``momentum=None``); gamma
    and beta are unchanged.

    Raises:
        DeviceError: a batch-norm's new statistics are not finite (names the layer; the programmed
            statistics are put back), or no batch.
    """
    bns = [m for m in chip.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:  # nothing to re-estimate (a transformer's LayerNorms keep no statistics)
        return 0
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
    if bns and not seen:
        raise DeviceError("AdaBS got no calibration images")
    for name, m in chip.model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            for stat in ("running_mean", "running_var"):
                value = getattr(m, stat)
                if value is not None and not bool(torch.isfinite(value).all()):
                    bad = int((~torch.isfinite(value)).sum())
                    chip.restore_programmed_bn()  # do not leave the chip with NaN statistics
                    raise DeviceError(
                        f"AdaBS at device age {chip.age_s:g} s: batch-norm {name!r} {stat} is not finite "
                        f"({bad} of {value.numel()} channels)"
                    )
    return seen
