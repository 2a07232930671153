"""The persistent state of programmed devices, whatever their technology, and the check of a device age.

Every device model (:mod:`chiptwin.device.models`) programs a target into a :class:`DeviceState`: the
programmed conductance and one per-device coefficient of the model's retention law, drawn once at
programming and kept (aihwkit's seam: program -> drift coefficients -> drift). The twin then follows
each device through time: the model's ``conductance`` and ``read`` evaluate the state at any later age
without touching it. Conductances are in µS, ages in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from chiptwin.errors import DeviceError

__all__ = ["DeviceState", "effective_age_s", "validate_age_s"]


@dataclass(frozen=True, slots=True, eq=False)
class DeviceState:
    """Persistent state of programmed devices: two float32 tensors of one shape (8 bytes/device).

    Attributes:
        g_prog_usiemens: programmed conductance ``G_p``, µS (>= 0), as the model defines it (the PCM model:
            the value read at ``t0``; the ReRAM model: the end of program-and-verify, before relaxation).
        drift_coeff: the model's per-device coefficient of its retention law, drawn once at programming
            (the PCM model: the drift exponent ``nu``; the ReRAM model: the standard-normal deviate of the
            device's relaxation), dimensionless.

    Raises:
        DeviceError: the two tensors differ in shape, dtype or device.
    """

    g_prog_usiemens: Tensor
    drift_coeff: Tensor

    def __post_init__(self) -> None:
        g, c = self.g_prog_usiemens, self.drift_coeff
        if g.shape != c.shape or g.dtype != c.dtype or g.device != c.device:
            raise DeviceError(
                f"DeviceState: g_prog_usiemens (shape={tuple(g.shape)}, dtype={g.dtype}, device={g.device}) "
                f"and drift_coeff (shape={tuple(c.shape)}, dtype={c.dtype}, device={c.device}) must match"
            )

    @property
    def nbytes(self) -> int:
        """Bytes of persistent state held for all devices."""
        return (
            self.g_prog_usiemens.element_size() * self.g_prog_usiemens.numel()
            + self.drift_coeff.element_size() * self.drift_coeff.numel()
        )


def validate_age_s(age_s: float | Tensor) -> None:
    """Check that a device age is >= 0 s (and not NaN).

    Raises:
        DeviceError: naming the offending age (the smallest one for a tensor).
    """
    if isinstance(age_s, Tensor):
        bad = ~(age_s >= 0)
        if bool(bad.any()):
            raise DeviceError(f"age_s(={age_s[bad].flatten()[0].item()!r}) must be >= 0 s")
    elif not age_s >= 0:
        raise DeviceError(f"age_s(={age_s!r}) must be >= 0 s")


def effective_age_s(age_s: float | Tensor, t0_s: float, age_convention: str, like: Tensor) -> float | Tensor:
    """The time a retention law is evaluated at, s: ``max(age_s, t0)`` (``clamp``) or ``age_s + t0``
    (``offset``; :data:`chiptwin.spec.conventions.AGE_CONVENTIONS`). A float stays a float, a tensor goes
    to ``like``'s device and dtype.

    Raises:
        DeviceError: ``age_s`` is negative or NaN.
    """
    validate_age_s(age_s)
    offset = age_convention == "offset"
    if isinstance(age_s, Tensor):
        t = age_s.to(device=like.device, dtype=like.dtype)
        return t + t0_s if offset else t.clamp_min(t0_s)
    return float(age_s) + t0_s if offset else max(float(age_s), t0_s)
