"""CMO/HfOx ReRAM device physics: programming noise, conductance relaxation and read noise, over tensors.

The statistical model of IBM's analog filamentary conductive-metal-oxide/HfOx ReRAM, with every constant
from :class:`~chiptwin.spec.rram.RRAMSpec` (sources there: Falcone et al., arXiv:2502.04524 (2025) for
programming and relaxation, Lombardo et al., DRC 2024 for read noise). Conductances are absolute, in µS,
inside the device window ``[g_min, g_max]`` (8-90 µS); times in seconds, ``L(t) = ln(t / 1 s)``.

- **Programming** (closed-loop, identical pulses, stopped within an acceptance range):
  ``G_p = max(G_T + sigma_prog · N(0, 1), 0)``, ``sigma_prog = c0 + c1 G_T`` (linear in the target).
- **Relaxation** (retention; independent of the target, Falcone 2025): at time ``t`` the conductance is
  Gaussian with mean ``G_p + a L(t)`` (``a < 0``: a slow decay) and spread ``sigma_r(t) = b L(t) + c``.
  chiptwin follows one device through time: its deviate ``z ~ N(0, 1)`` is drawn once at programming
  (``DeviceState.drift_coeff``), so ``G(t) = max(G_p + a L(t) + sigma_r(t) z, 0)`` has the published
  mean and spread at every ``t`` and each device keeps its rank (a persistent trajectory, like the PCM
  model's ``nu``; the papers give the distribution at each time, not its correlation across times, so
  the full correlation is chiptwin's assumption).
- **Read noise** (1/f and random telegraph noise, a fresh draw per read):
  ``G = max(G(t) + sigma_nG · N(0, 1), 0)``, ``sigma_nG = k log10(max(G(t), g_floor) / 1 µS) ·
  sqrt(ln((t + t_read) / (2 t_read)))``.

``t`` is the effective age (``RRAMSpec.age_convention``, as the PCM model: ``max(age, t0)`` by default,
``t0 = 1 s``, the first time of the fits). A differential pair cancels the mean relaxation (it is the same
for every target), so on a chip the spread, not the decay, is what costs accuracy.

Example:
    >>> import torch
    >>> from chiptwin.spec.rram import RRAMSpec
    >>> spec = RRAMSpec()
    >>> state = DeviceState(g_prog_usiemens=torch.tensor([50.0]), drift_coeff=torch.tensor([0.0]))
    >>> round(float(relax(state, 86400.0, spec)[0]), 3)  # 50 µS - 0.089 ln(86400)
    48.988
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from chiptwin.device.state import DeviceState, effective_age_s
from chiptwin.errors import DeviceError
from chiptwin.spec.rram import RRAMSpec

__all__ = [
    "RRAMNoiseModel",
    "prog_noise_std_usiemens",
    "program",
    "read",
    "read_noise_std_usiemens",
    "relax",
    "relax_mean_shift_usiemens",
    "relax_std_usiemens",
]

_DTYPE = torch.float32


def _check_generator(generator: torch.Generator, like: Tensor) -> None:
    if generator.device.type != like.device.type:
        raise DeviceError(
            f"generator device (={generator.device}) must match the tensor device (={like.device})"
        )


def prog_noise_std_usiemens(g_target_usiemens: Tensor, spec: RRAMSpec) -> Tensor:
    """Std of the programming noise, µS: ``c0 + c1 G_T`` (Falcone 2025).

    Args:
        g_target_usiemens: target conductance ``G_T``, µS.
        spec: ReRAM constants.
    """
    return g_target_usiemens * spec.prog_noise_c1 + spec.prog_noise_c0_usiemens


def relax_mean_shift_usiemens(t_s: float, spec: RRAMSpec) -> float:
    """Mean conductance change ``a ln(t / 1 s)``, µS, at effective time ``t_s`` (Falcone 2025)."""
    return spec.relax_mean_slope_usiemens * math.log(t_s)


def relax_std_usiemens(t_s: float, spec: RRAMSpec) -> float:
    """Spread of the relaxation ``max(b ln(t / 1 s) + c, 0)``, µS, at effective time ``t_s`` (Falcone 2025).

    Floored at 0 for ``t`` below the fits' first second (only reachable with ``t0 < 1 s``).
    """
    return max(spec.relax_std_slope_usiemens * math.log(t_s) + spec.relax_std_offset_usiemens, 0.0)


def read_noise_std_usiemens(g_usiemens: Tensor, t_s: float | Tensor, spec: RRAMSpec) -> Tensor:
    """Std of one read, µS: ``k log10(max(G, g_floor)) sqrt(ln((t + t_read) / (2 t_read)))`` (Lombardo 2024).

    Args:
        g_usiemens: noise-free conductance ``G(t)``, µS.
        t_s: effective time since programming, s (a float or a tensor broadcastable to ``g_usiemens``).
        spec: ReRAM constants.
    """
    if isinstance(t_s, Tensor):
        spread: float | Tensor = ((t_s + spec.t_read_s) / (2.0 * spec.t_read_s)).log().sqrt()
    else:
        spread = math.sqrt(math.log((t_s + spec.t_read_s) / (2.0 * spec.t_read_s)))
    level = g_usiemens.clamp_min(spec.read_noise_g_floor_usiemens).log10_()
    return level.mul_(spec.read_noise_k_usiemens).mul(spread)


def program(g_target_usiemens: Tensor, spec: RRAMSpec, generator: torch.Generator) -> DeviceState:
    """Program devices to target conductances (closed loop within the acceptance range; Falcone 2025).

    ``G_p = max(G_T + sigma_prog(G_T) · N(0, 1), 0)`` and the relaxation deviate ``z = N(0, 1)``, drawn once
    per device and kept. Draw order: programming noise, then relaxation deviates.

    Args:
        g_target_usiemens: target conductances ``G_T``, µS, any shape, expected in ``[g_min, g_max]``.
        spec: ReRAM constants.
        generator: random source on the device of ``g_target_usiemens``.

    Raises:
        DeviceError: the generator is on another device than ``g_target_usiemens``.
    """
    _check_generator(generator, g_target_usiemens)
    g_target = g_target_usiemens.detach().to(_DTYPE)
    noise = torch.empty_like(g_target).normal_(generator=generator)
    g_prog = torch.addcmul(g_target, prog_noise_std_usiemens(g_target, spec), noise).clamp_min_(0.0)
    z = torch.empty_like(g_target).normal_(generator=generator)
    return DeviceState(g_prog_usiemens=g_prog, drift_coeff=z)


def _relax_at(state: DeviceState, t_eff: float | Tensor, spec: RRAMSpec) -> Tensor:
    if isinstance(t_eff, Tensor):
        log_t = t_eff.log()
        shift = log_t * spec.relax_mean_slope_usiemens
        sigma = (log_t * spec.relax_std_slope_usiemens).add_(spec.relax_std_offset_usiemens).clamp_min_(0.0)
        return (state.g_prog_usiemens + shift).addcmul_(sigma, state.drift_coeff).clamp_min_(0.0)
    shift_f = relax_mean_shift_usiemens(t_eff, spec)
    sigma_f = relax_std_usiemens(t_eff, spec)
    return torch.add(state.g_prog_usiemens, state.drift_coeff, alpha=sigma_f).add_(shift_f).clamp_min_(0.0)


def relax(state: DeviceState, age_s: float | Tensor, spec: RRAMSpec) -> Tensor:
    """Noise-free relaxed conductance ``G(t) = max(G_p + a L(t) + sigma_r(t) z, 0)``, µS (Falcone 2025).

    Args:
        state: programmed devices.
        age_s: time since programming, s; a float or a tensor broadcastable to the state.
        spec: ReRAM constants.

    Raises:
        DeviceError: ``age_s`` is negative or NaN.
    """
    t_eff = effective_age_s(age_s, spec.t0_s, spec.age_convention, state.g_prog_usiemens)
    return _relax_at(state, t_eff, spec)


def read(state: DeviceState, age_s: float | Tensor, spec: RRAMSpec, generator: torch.Generator) -> Tensor:
    """One noisy read: relaxed conductance plus read noise, µS, clamped at >= 0 (Lombardo 2024).

    Args:
        state: programmed devices.
        age_s: time since programming, s; a float or a tensor broadcastable to the state.
        spec: ReRAM constants.
        generator: random source on the device of the state.

    Raises:
        DeviceError: ``age_s`` is negative or NaN, or the generator is on another device.
    """
    _check_generator(generator, state.g_prog_usiemens)
    t_eff = effective_age_s(age_s, spec.t0_s, spec.age_convention, state.g_prog_usiemens)
    g = _relax_at(state, t_eff, spec)
    sigma = read_noise_std_usiemens(g, t_eff, spec)
    noisy = torch.empty_like(g).normal_(generator=generator)
    return torch.addcmul(g, sigma, noisy, out=noisy).clamp_min_(0.0)


@dataclass(frozen=True, slots=True)
class RRAMNoiseModel:
    """CMO/HfOx ReRAM programming noise, relaxation and read noise with the constants of ``spec``."""

    spec: RRAMSpec = field(default_factory=RRAMSpec)
    """ReRAM device constants."""

    def program(self, g_target_usiemens: Tensor, generator: torch.Generator) -> DeviceState:
        """See :func:`program`."""
        return program(g_target_usiemens, self.spec, generator)

    def conductance(self, state: DeviceState, age_s: float | Tensor) -> Tensor:
        """See :func:`relax`."""
        return relax(state, age_s, self.spec)

    def read(self, state: DeviceState, age_s: float | Tensor, generator: torch.Generator) -> Tensor:
        """See :func:`read`."""
        return read(state, age_s, self.spec, generator)
