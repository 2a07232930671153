"""PCM device physics: programming noise, conductance drift and 1/f read noise, as functions over tensors.

The statistical model is the one of Joshi et al., "Accurate deep neural network inference using
computational phase-change memory", Nat. Commun. 11, 2473 (2020), Methods and Supplementary Note 2,
with every constant taken from :class:`~chiptwin.spec.pcm.PCMSpec` (docs/concepts/physics.md). Conductances
are in microsiemens (µS), times in seconds, ``ĝ = g / g_max`` is dimensionless.

A device follows one persistent trajectory: :func:`program` draws its programmed conductance ``G_p``
and its drift exponent ``nu`` once, and keeps them in a :class:`~chiptwin.device.state.DeviceState`
(``drift_coeff`` holds ``nu``; 8 bytes per device);
:func:`drift` and :func:`read` evaluate that device at any later age without touching the state.

Time convention (``PCMSpec.age_convention``): by default (``clamp``) the programmed state ``G_p`` is
the conductance read at ``t0`` (the end of the iterative program-and-verify), so the drift law is
evaluated at ``t_eff = max(age_s, t0)`` and ages below ``t0`` read ``G_p`` (no drift "up"). This
reproduces the mean drift factors of docs/concepts/physics.md at ``nu = 0.049`` (0.775 at 1 h, 0.664
at 1 day, 0.497 at 1 year) exactly. ``offset`` evaluates at ``t_eff = age_s + t0``, aihwkit's
``t_inference + t0``, for
comparisons on equal terms; the two agree to < 0.1 % beyond an hour.

:class:`PCMNoiseModel` is this module's entry in the device-model registry (``pcm_joshi2020``,
:mod:`chiptwin.device.models`), the chiptwin default.

Every random draw takes an explicit ``torch.Generator`` on the device of the tensors. Arithmetic is
float32; the functions accept tensors of any shape on CPU or CUDA.

Example:
    >>> import torch
    >>> from chiptwin.device.state import DeviceState
    >>> from chiptwin.spec.pcm import PCMSpec
    >>> spec = PCMSpec()
    >>> state = DeviceState(g_prog_usiemens=torch.tensor([20.0]), drift_coeff=torch.tensor([0.049]))
    >>> round(float(drift(state, 3600.0, spec)[0]) / 20.0, 3)
    0.775
    >>> float(drift(state, 5.0, spec)[0])
    20.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from chiptwin.device.state import DeviceState, effective_age_s
from chiptwin.errors import DeviceError
from chiptwin.spec.pcm import PCMSpec

__all__ = [
    "PROG_NOISE_REFERENCE_G_MAX_USIEMENS",
    "PCMNoiseModel",
    "drift",
    "drift_nu_mean",
    "drift_nu_std",
    "prog_noise_std_usiemens",
    "program",
    "read",
    "read_noise_qs",
]

PROG_NOISE_REFERENCE_G_MAX_USIEMENS = 25.0
"""g_max, µS, at which the programming-noise polynomial was fitted; the std scales with g_max / this
(Joshi et al. 2020, Suppl. Note 2; aihwkit ``PCMLikeNoiseModel``)."""

_DTYPE = torch.float32


def _prog_noise_std_usiemens_(g_norm: Tensor, spec: PCMSpec, out: Tensor) -> Tensor:
    """Horner form of the programming-noise polynomial, written into ``out`` (must not alias ``g_norm``)."""
    torch.mul(g_norm, spec.prog_noise_c2_usiemens, out=out)
    out.add_(spec.prog_noise_c1_usiemens).mul_(g_norm).add_(spec.prog_noise_c0_usiemens)
    return out.mul_(spec.g_max_usiemens / PROG_NOISE_REFERENCE_G_MAX_USIEMENS)


def prog_noise_std_usiemens(g_norm: Tensor, spec: PCMSpec) -> Tensor:
    """Std of the programming noise, µS: ``(c0 + c1 ĝ + c2 ĝ²) · g_max / 25 µS`` (Joshi et al. 2020).

    Args:
        g_norm: normalised target conductance ``ĝ = G_T / g_max``, expected in [0, 1].
        spec: PCM constants.
    """
    return _prog_noise_std_usiemens_(g_norm, spec, torch.empty_like(g_norm))


def _log_g_norm_(g_norm: Tensor, spec: PCMSpec) -> Tensor:
    """``ln(max(ĝ, floor))`` in place: the argument of the drift and read-noise fits (no ln 0)."""
    return g_norm.clamp_min_(spec.g_floor_norm).log_()


def _nu_mean_(log_g: Tensor, spec: PCMSpec, out: Tensor) -> Tensor:
    torch.mul(log_g, spec.drift_mu_slope, out=out)
    return out.add_(spec.drift_mu_offset).clamp_(spec.drift_mu_min, spec.drift_mu_max)


def _nu_std_(log_g: Tensor, spec: PCMSpec, out: Tensor) -> Tensor:
    torch.mul(log_g, spec.drift_sigma_slope, out=out)
    return out.add_(spec.drift_sigma_offset).clamp_(spec.drift_sigma_min, spec.drift_sigma_max)


def drift_nu_mean(g_norm: Tensor, spec: PCMSpec) -> Tensor:
    """Mean drift exponent ``mu_nu = clamp(slope ln ĝ + offset, mu_min, mu_max)``, dimensionless.

    Args:
        g_norm: normalised target conductance ``ĝ``; floored at ``spec.g_floor_norm`` inside the log.
        spec: PCM constants (Joshi et al. 2020).
    """
    log_g = _log_g_norm_(g_norm.clone(), spec)
    return _nu_mean_(log_g, spec, out=log_g)


def drift_nu_std(g_norm: Tensor, spec: PCMSpec) -> Tensor:
    """Std of the drift exponent ``sigma_nu = clamp(slope ln ĝ + offset, s_min, s_max)``, dimensionless.

    Args:
        g_norm: normalised target conductance ``ĝ``; floored at ``spec.g_floor_norm`` inside the log.
        spec: PCM constants (Joshi et al. 2020).
    """
    log_g = _log_g_norm_(g_norm.clone(), spec)
    return _nu_std_(log_g, spec, out=log_g)


def _read_noise_qs_(g_norm: Tensor, spec: PCMSpec) -> Tensor:
    """``Q_s`` in place; ``ĝ^-e`` as ``exp(-e ln ĝ)``, about twice as fast as ``pow`` on CPU."""
    log_g = _log_g_norm_(g_norm, spec)
    qs = log_g.mul_(-spec.read_noise_qs_exponent).exp_()
    return qs.mul_(spec.read_noise_qs_coeff).clamp_max_(spec.read_noise_qs_max)


def read_noise_qs(g_norm: Tensor, spec: PCMSpec) -> Tensor:
    """1/f read-noise amplitude ``Q_s = min(coeff / max(ĝ, floor)^exponent, qs_max)``, dimensionless.

    Args:
        g_norm: normalised conductance ``ĝ``.
        spec: PCM constants (Joshi et al. 2020).
    """
    return _read_noise_qs_(g_norm.clone(), spec)


def _check_generator(generator: torch.Generator, like: Tensor) -> None:
    if generator.device.type != like.device.type:
        raise DeviceError(
            f"generator device (={generator.device}) must match the tensor device (={like.device})"
        )


def program(g_target_usiemens: Tensor, spec: PCMSpec, generator: torch.Generator) -> DeviceState:
    """Program devices to target conductances with iterative program-and-verify (Joshi et al. 2020).

    ``G_p = max(G_T + sigma_prog(ĝ_T) · N(0, 1), 0)`` and ``nu = |N(mu_nu(ĝ_T), sigma_nu(ĝ_T))|``,
    drawn once per device and kept. Draw order: programming noise, then drift exponents.

    Args:
        g_target_usiemens: target conductances ``G_T``, µS, any shape, expected in [0, g_max].
        spec: PCM constants.
        generator: random source on the device of ``g_target_usiemens``.

    Returns:
        The float32 :class:`DeviceState` (8 bytes per device), read at ``t0``.

    Raises:
        DeviceError: the generator is on another device than ``g_target_usiemens``.
    """
    _check_generator(generator, g_target_usiemens)
    g_target = g_target_usiemens.detach().to(_DTYPE)
    # Four buffers in all (two are the state): fresh allocations cost as much as the arithmetic on CPU.
    g_prog, nu, work, draw = (torch.empty_like(g_target) for _ in range(4))
    g_norm = torch.mul(g_target, 1.0 / spec.g_max_usiemens, out=work)

    sigma_prog = _prog_noise_std_usiemens_(g_norm, spec, out=g_prog)
    torch.addcmul(g_target, sigma_prog, draw.normal_(generator=generator), out=g_prog).clamp_min_(0.0)

    log_g = _log_g_norm_(g_norm, spec)
    sigma_nu = _nu_std_(log_g, spec, out=nu)
    draw.normal_(generator=generator)
    mu_nu = _nu_mean_(log_g, spec, out=log_g)  # ln ĝ is not needed after this
    torch.addcmul(mu_nu, sigma_nu, draw, out=nu).abs_()
    return DeviceState(g_prog_usiemens=g_prog, drift_coeff=nu)


def _drift_from_t_eff(state: DeviceState, t_eff: float | Tensor, spec: PCMSpec) -> Tensor:
    if isinstance(t_eff, Tensor):
        log_ratio: float | Tensor = (t_eff / spec.t0_s).log_()
    else:
        log_ratio = math.log(t_eff / spec.t0_s)
    # G_p · (t/t0)^-nu = G_p · exp(-nu · ln(t/t0)); three passes, one allocation.
    g = torch.mul(state.drift_coeff, -log_ratio)
    return g.exp_().mul_(state.g_prog_usiemens)


def drift(state: DeviceState, age_s: float | Tensor, spec: PCMSpec) -> Tensor:
    """Noise-free drifted conductance ``G(t) = G_p · (t_eff / t0)^(-nu)``, µS (Joshi et al. 2020).

    ``t_eff = max(age_s, t0)`` (or ``age_s + t0`` with ``spec.age_convention = "offset"``; see the
    module docstring).

    Args:
        state: programmed devices.
        age_s: time since programming, s; a float or a tensor broadcastable to the state.
        spec: PCM constants.

    Returns:
        A new float32 tensor of the broadcast shape of the state and ``age_s``.

    Raises:
        DeviceError: ``age_s`` is negative or NaN.
    """
    return _drift_from_t_eff(
        state, effective_age_s(age_s, spec.t0_s, spec.age_convention, state.g_prog_usiemens), spec
    )


def read(state: DeviceState, age_s: float | Tensor, spec: PCMSpec, generator: torch.Generator) -> Tensor:
    """One noisy read: drifted conductance plus 1/f read noise, µS, clamped at >= 0 (Joshi et al. 2020).

    ``G = max(G(t) + G(t) · Q_s · sqrt(ln((t_eff + t_read) / (2 t_read))) · N(0, 1), 0)``, a fresh draw
    per call. ``Q_s`` is evaluated at the programmed ``ĝ_p = G_p / g_max`` rather than the target, so
    the state need not store the target and stays at 8 bytes per device.

    Args:
        state: programmed devices.
        age_s: time since programming, s; a float or a tensor broadcastable to the state.
        spec: PCM constants.
        generator: random source on the device of the state.

    Returns:
        A new float32 tensor of the broadcast shape of the state and ``age_s``.

    Raises:
        DeviceError: ``age_s`` is negative or NaN, or the generator is on another device.
    """
    _check_generator(generator, state.g_prog_usiemens)
    t_eff = effective_age_s(age_s, spec.t0_s, spec.age_convention, state.g_prog_usiemens)
    g = _drift_from_t_eff(state, t_eff, spec)
    if isinstance(t_eff, Tensor):
        spread: float | Tensor = ((t_eff + spec.t_read_s) / (2.0 * spec.t_read_s)).log_().sqrt_()
    else:
        spread = math.sqrt(math.log((t_eff + spec.t_read_s) / (2.0 * spec.t_read_s)))
    # sigma = G(t) · Q_s(ĝ_p) · spread, then G = max(G(t) + sigma · N(0, 1), 0), in three buffers.
    q_s = _read_noise_qs_(state.g_prog_usiemens * (1.0 / spec.g_max_usiemens), spec)
    sigma = q_s.mul_(spread) if q_s.shape == g.shape else q_s * spread  # a tensor age may broadcast
    sigma.mul_(g)
    noisy = torch.empty_like(g).normal_(generator=generator)
    return torch.addcmul(g, sigma, noisy, out=noisy).clamp_min_(0.0)


@dataclass(frozen=True, slots=True)
class PCMNoiseModel:
    """PCM programming noise, drift and 1/f read noise (Joshi et al. 2020) with the constants of ``spec``."""

    spec: PCMSpec = field(default_factory=PCMSpec)
    """PCM device constants."""

    def program(self, g_target_usiemens: Tensor, generator: torch.Generator) -> DeviceState:
        """See :func:`program`."""
        return program(g_target_usiemens, self.spec, generator)

    def conductance(self, state: DeviceState, age_s: float | Tensor) -> Tensor:
        """See :func:`drift`."""
        return drift(state, age_s, self.spec)

    def read(self, state: DeviceState, age_s: float | Tensor, generator: torch.Generator) -> Tensor:
        """See :func:`read`."""
        return read(state, age_s, self.spec, generator)
