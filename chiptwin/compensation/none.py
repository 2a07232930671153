"""``none``: no compensation; the chip computes with whatever drift has done to its devices.

Joshi et al., Nat. Commun. 11, 2473 (2020), Fig. 4: without compensation the accuracy of ResNet-32 on
PCM collapses towards chance within about 1,000 s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from torch import Tensor

from chiptwin.compensation.policy import PassWork
from chiptwin.functional.chip import AnalogChip
from chiptwin.functional.compensation import reset_gdc

__all__ = ["NoCompensation"]


@dataclass(frozen=True, slots=True)
class NoCompensation:
    """No compensation: every GDC factor 1 and the batch-norm statistics of the programmed model."""

    name: str = "none"
    needs_images: bool = False
    acts: bool = False

    def compensate(self, chip: AnalogChip, images: Iterable[Tensor] | None) -> int:
        """Undo any earlier compensation; returns 0."""
        chip.restore_programmed_bn()
        reset_gdc(chip)
        return 0

    def pass_work(self, *, adabs_images: int, gdc_reads_per_block: int) -> PassWork:
        """Nothing: no pass, no cost."""
        return PassWork()
