"""``gdc``: global drift compensation alone.

Joshi et al., Nat. Commun. 11, 2473 (2020), Methods: every crossbar block is read with a calibration
input; its outputs are scaled by ``reference / now`` in the tile's digital unit
(:func:`chiptwin.functional.compensation.apply_gdc`; a block that reads nothing keeps its factor).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from torch import Tensor

from chiptwin.functional.chip import AnalogChip
from chiptwin.functional.compensation import apply_gdc
from chiptwin.timing import CompensationSpec

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

    def schedule(
        self,
        *,
        adabs_images: int,
        gdc_reads_per_block: int = 1,
        period_s: float = 3600.0,
        first_s: float | None = None,
        times_s: tuple[float, ...] | None = None,
    ) -> CompensationSpec | None:
        """GDC reads only (``adabs_images`` is not used)."""
        return CompensationSpec(
            policy=self.name,
            period_s=period_s,
            first_s=first_s,
            times_s=times_s,
            gdc_reads_per_block=gdc_reads_per_block,
            adabs_images=0,
        )
