"""Stuck PCM devices: which devices are stuck, at which value, and from which age on.

A stuck device no longer follows its target: it sits at 0 µS (stuck-RESET: a cell that can no longer
be set out of its high-resistance state) or at ``g_max`` (stuck-SET: a cell that can no longer be
reset), does not drift and shows no read noise, so its read value is exact at every age
(docs/concepts/physics.md; the rates are a :class:`~chiptwin.spec.faults.FaultSpec`). Devices are stuck
either from programming on (``stuck_rate``) or from a failure time drawn once at programming from an
exponential law (``stuck_arrival_per_day``), so the stuck set only grows with age and is fixed by the seed.

Draw order, always the same for a given spec so that a larger ``stuck_rate`` with the same seed gives a
superset of stuck devices: one uniform per device for "stuck at programming" (stuck if ``u < rate``), one
uniform per device for "stuck high" (if ``u < stuck_high_fraction``), then, only when the arrival rate is
non-zero, one unit exponential per device scaled by ``1 / rate``.

Example:
    >>> import torch
    >>> from chiptwin.spec.faults import FaultSpec
    >>> gen = torch.Generator().manual_seed(0)
    >>> faults = draw_faults((4,), FaultSpec(stuck_rate=1.0, stuck_high_fraction=1.0), gen)
    >>> apply_faults(torch.tensor([1.0, 2.0, 3.0, 4.0]), faults, 0.0, 25.0).tolist()
    [25.0, 25.0, 25.0, 25.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from chiptwin.device.state import validate_age_s
from chiptwin.errors import DeviceError
from chiptwin.spec.faults import FaultSpec
from chiptwin.units import SECONDS_PER_DAY

__all__ = ["DeviceFaults", "apply_faults", "draw_faults", "stuck_mask"]


@dataclass(frozen=True, slots=True, eq=False)
class DeviceFaults:
    """The fault state of devices of one shape, drawn once at programming.

    Attributes:
        stuck_at_prog: bool, the device is stuck from programming on.
        stuck_high: bool, the value a stuck device sits at: ``g_max`` if True, 0 µS if False (drawn for
            every device, so it also holds for devices that fail later).
        fail_time_s: float32, age in s at which a working device becomes stuck (``inf``: never); None
            when the arrival rate is zero (no tensor is allocated).

    Raises:
        DeviceError: the tensors differ in shape or device, or have the wrong dtype.
    """

    stuck_at_prog: Tensor
    stuck_high: Tensor
    fail_time_s: Tensor | None

    def __post_init__(self) -> None:
        tensors = [("stuck_at_prog", self.stuck_at_prog), ("stuck_high", self.stuck_high)]
        if self.fail_time_s is not None:
            tensors.append(("fail_time_s", self.fail_time_s))
        shape, device = self.stuck_at_prog.shape, self.stuck_at_prog.device
        for name, t in tensors:
            if t.shape != shape or t.device != device:
                raise DeviceError(
                    f"DeviceFaults: {name} (shape={tuple(t.shape)}, device={t.device}) must match "
                    f"stuck_at_prog (shape={tuple(shape)}, device={device})"
                )
        for name, t in tensors[:2]:
            if t.dtype != torch.bool:
                raise DeviceError(f"DeviceFaults: {name} dtype (={t.dtype}) must be torch.bool")

    @property
    def shape(self) -> torch.Size:
        """Shape of the devices described."""
        return self.stuck_at_prog.shape

    @property
    def nbytes(self) -> int:
        """Bytes held: two bools per device, plus a float32 failure time when devices fail over time."""
        extra = 0 if self.fail_time_s is None else self.fail_time_s.element_size() * self.fail_time_s.numel()
        return self.stuck_at_prog.numel() + self.stuck_high.numel() + extra

    def unbind(self) -> tuple[DeviceFaults, ...]:
        """Split along the first dimension (views, no copy), e.g. into the two polarities of a pair."""
        times = [None] * len(self.stuck_at_prog) if self.fail_time_s is None else self.fail_time_s.unbind(0)
        return tuple(
            DeviceFaults(stuck_at_prog=s, stuck_high=h, fail_time_s=f)
            for s, h, f in zip(self.stuck_at_prog.unbind(0), self.stuck_high.unbind(0), times, strict=True)
        )


def draw_faults(shape: Sequence[int], spec: FaultSpec, generator: torch.Generator) -> DeviceFaults:
    """Draw the fault state of ``shape`` devices once, at programming (see the module docstring).

    Args:
        shape: shape of the device tensor (e.g. ``(devices_per_polarity, rows, cols)``).
        spec: fault rates; ``stuck_arrival_per_day`` is converted to a rate per second.
        generator: random source; the tensors are created on its device.

    Returns:
        The :class:`DeviceFaults`; ``fail_time_s`` is None when ``spec.stuck_arrival_per_day`` is 0.
    """
    draw = torch.empty(tuple(int(s) for s in shape), device=generator.device).uniform_(generator=generator)
    stuck_at_prog = draw < spec.stuck_rate
    stuck_high = draw.uniform_(generator=generator) < spec.stuck_high_fraction
    fail_time_s = None
    if spec.stuck_arrival_per_day > 0:
        # Exponential failure time, mean 1 / rate: unit exponentials scaled, so a larger rate with the
        # same seed fails every device earlier (stuck sets nest in the rate as well as in age).
        per_s = spec.stuck_arrival_per_day / SECONDS_PER_DAY
        fail_time_s = draw.exponential_(1.0, generator=generator).mul_(1.0 / per_s)
    return DeviceFaults(stuck_at_prog=stuck_at_prog, stuck_high=stuck_high, fail_time_s=fail_time_s)


def stuck_mask(faults: DeviceFaults, age_s: float) -> Tensor:
    """Bool mask of the devices stuck at device age ``age_s`` (s): stuck at programming or failed by then.

    Raises:
        DeviceError: ``age_s`` is negative or NaN.
    """
    validate_age_s(age_s)
    if faults.fail_time_s is None:
        return faults.stuck_at_prog
    return faults.stuck_at_prog | (faults.fail_time_s <= age_s)


def apply_faults(g_usiemens: Tensor, faults: DeviceFaults, age_s: float, g_max_usiemens: float) -> Tensor:
    """Conductances with the stuck devices overwritten: 0 µS (stuck low) or ``g_max_usiemens`` (stuck high).

    Applied to a read (noisy or not), the stuck devices' values are exact: no drift, no read noise.

    Args:
        g_usiemens: conductances, µS, of the shape of ``faults`` (not modified).
        faults: the devices' fault state.
        age_s: device age, s, deciding which devices have failed by now.
        g_max_usiemens: conductance of a stuck-high device, µS.

    Returns:
        A new tensor of ``g_usiemens``'s shape and dtype.

    Raises:
        DeviceError: shapes differ, or ``age_s`` is negative or NaN.
    """
    if g_usiemens.shape != faults.shape:
        raise DeviceError(
            f"conductance shape (={tuple(g_usiemens.shape)}) must match the fault shape "
            f"(={tuple(faults.shape)})"
        )
    stuck = stuck_mask(faults, age_s)
    return g_usiemens.masked_fill(stuck, 0.0).masked_fill_(stuck & faults.stuck_high, g_max_usiemens)
