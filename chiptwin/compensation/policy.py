"""The ``CompensationPolicy`` extension point: what a compensation pass does to a chip and what it costs.

A policy is one object with two sides, one per sibling layer it joins:

- **on the chip** (:meth:`CompensationPolicy.compensate`, the functional twin): bring a programmed chip
  to this policy's compensation state at its current device age, starting from the programmed state;
- **on the clock** (:meth:`CompensationPolicy.schedule`, the timing layer): the
  :class:`~chiptwin.timing.CompensationSpec` of its passes (which steps a pass holds the chip for), or
  None when its passes cost nothing.

Adding a policy is one module in this package plus one entry in
:data:`chiptwin.compensation.registry.POLICIES`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from torch import Tensor

from chiptwin.functional.chip import AnalogChip
from chiptwin.functional.compensation import ChipCompensation
from chiptwin.timing import CompensationSpec

__all__ = ["CompensationPolicy"]


@runtime_checkable
class CompensationPolicy(ChipCompensation, Protocol):
    """A drift-compensation policy (module docstring)."""

    @property
    def name(self) -> str:
        """Registry name, as scenario files and the command line spell it."""
        ...

    @property
    def needs_images(self) -> bool:
        """A pass runs calibration images through the chip (AdaBS), so ``compensate`` needs them."""
        ...

    @property
    def acts(self) -> bool:
        """A pass changes the chip; a policy that does not (``none``) takes no schedule."""
        ...

    def compensate(self, chip: AnalogChip, images: Iterable[Tensor] | None) -> int:
        """Bring ``chip`` to this policy's state at its current age; returns blocks GDC left alone.

        Raises:
            DeviceError: images missing though ``needs_images``, or non-finite statistics.
        """
        ...

    def schedule(
        self,
        *,
        adabs_images: int,
        gdc_reads_per_block: int = 1,
        period_s: float = 3600.0,
        first_s: float | None = None,
        times_s: tuple[float, ...] | None = None,
    ) -> CompensationSpec | None:
        """The timing of this policy's passes at the given times (None: they cost nothing)."""
        ...
