"""``gdc``: global drift compensation alone.

Joshi et al., Nat. Commun. 11, 2473 (2020), Methods: every crossbar block is read with a calibration
input; its outputs are scaled by ``reference / now`` in the tile's digital unit
(:func:`chiptwin.functional.compensation.apply_gdc`; a block that reads nothing keeps its factor).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from torch import Tensor

from chiptwin.compensation.policy import PassWork
from chiptwin.functional.chip import AnalogChip
from chiptwin.functional.compensation import apply_gdc

__all__ = ["GlobalDriftCompensation"]


@dataclass(frozen=True, slots=True)
class GlobalDriftCompensation:
    """GDC: one calibration read per block, then the digital rescale (batch-norm as programmed)."""

    name: str = "gdc"
    needs_images: bool = False
    acts: bool = True

    def compensate(self, chip: AnalogChip, images: Iterable[Tensor] | None) -> int:
        """Measure every block now and set its factor; returns blocks left alone (they read nothing)."""
        chip.restore_programmed_bn()
        return apply_gdc(chip)

    def pass_work(self, *, adabs_images: int, gdc_reads_per_block: int) -> PassWork:
        """The GDC reads only."""
        return PassWork(gdc_reads_per_block=gdc_reads_per_block)
