"""The ``CompensationPolicy`` extension point: what a compensation pass does to a chip and what it costs.

A policy is one object with two sides, one per sibling layer it joins:

- **on the chip** (:meth:`CompensationPolicy.compensate`, the functional twin): bring a programmed chip
  to this policy's compensation state at its current device age, starting from the programmed state;
- **on the clock** (:meth:`CompensationPolicy.pass_work`, the timing layer): which steps one pass
  holds the chip for; :func:`compensation_spec` turns that into the
  :class:`~chiptwin.timing.CompensationSpec` of its passes, or None when they cost nothing.

Adding a policy is one module in this package plus one entry in
:data:`chiptwin.compensation.registry.POLICIES`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from torch import Tensor

from chiptwin.functional.chip import AnalogChip
from chiptwin.functional.compensation import ChipCompensation
from chiptwin.timing import CompensationSpec

__all__ = ["CompensationPolicy", "PassWork", "compensation_spec"]


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

    def pass_work(self, *, adabs_images: int, gdc_reads_per_block: int) -> PassWork:
        """What one pass holds the chip for, given the run's AdaBS budget and GDC reads per block."""
        ...


@dataclass(frozen=True, slots=True)
class PassWork:
    """The steps of one compensation pass on the clock (0: the pass does not take that step)."""

    gdc_reads_per_block: int = 0
    """Calibration reads per block (the GDC read)."""

    adabs_images: int = 0
    """Calibration images through the chip, then the batch-norm update (AdaBS)."""


def compensation_spec(
    policy: CompensationPolicy,
    *,
    adabs_images: int,
    gdc_reads_per_block: int = 1,
    period_s: float = 3600.0,
    first_s: float | None = None,
    times_s: tuple[float, ...] | None = None,
    mode: str = "blocking",
) -> CompensationSpec | None:
    """The timing layer's spec of ``policy``'s passes at these times (None: its passes cost nothing);
    ``mode``: how a pass shares the chip with inferences (``blocking`` or ``shared``,
    :attr:`~chiptwin.timing.CompensationSpec.mode`).

    Example:
        >>> from chiptwin.compensation import get_policy
        >>> compensation_spec(get_policy("gdc+adabs"), adabs_images=2600, times_s=(60.0,)).adabs_images
        2600
        >>> compensation_spec(get_policy("none"), adabs_images=2600) is None
        True
    """
    work = policy.pass_work(adabs_images=adabs_images, gdc_reads_per_block=gdc_reads_per_block)
    if not (work.gdc_reads_per_block or work.adabs_images):
        return None
    return CompensationSpec(
        policy=policy.name,
        period_s=period_s,
        first_s=first_s,
        times_s=times_s,
        gdc_reads_per_block=work.gdc_reads_per_block,
        adabs_images=work.adabs_images,
        mode=mode,
    )
