"""The ``NoiseModel`` extension point: how targets become devices and devices become conductances.

Each technology implements it in its own module (registered by name in :mod:`chiptwin.device.models`,
the one place that builds a chip's model from its spec); :class:`IdealNoiseModel` programs and reads
targets exactly, with no drift and no read noise, so a network mapped through it computes its digital
weights (a reference for tests).
Conductances are in µS, ages in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from chiptwin.device.state import DeviceState, validate_age_s

__all__ = ["IdealNoiseModel", "NoiseModel"]


@runtime_checkable
class NoiseModel(Protocol):
    """Programs target conductances into devices and reads them at a device age."""

    def program(self, g_target_usiemens: Tensor, generator: torch.Generator) -> DeviceState:
        """Program devices to ``g_target_usiemens`` (µS); the returned state is persistent."""
        ...

    def conductance(self, state: DeviceState, age_s: float | Tensor) -> Tensor:
        """Noise-free conductance, µS, ``age_s`` seconds after programming."""
        ...

    def read(self, state: DeviceState, age_s: float | Tensor, generator: torch.Generator) -> Tensor:
        """One noisy read, µS, ``age_s`` seconds after programming (a fresh draw per call)."""
        ...


@dataclass(frozen=True, slots=True)
class IdealNoiseModel:
    """Ideal devices: ``G_p = G_T`` exactly, no drift, no read noise; the generator is not used."""

    def program(self, g_target_usiemens: Tensor, generator: torch.Generator) -> DeviceState:
        """Store the targets (as float32) with zero drift exponents."""
        g_prog = g_target_usiemens.to(torch.float32, copy=True)
        return DeviceState(g_prog_usiemens=g_prog, drift_coeff=torch.zeros_like(g_prog))

    def conductance(self, state: DeviceState, age_s: float | Tensor) -> Tensor:
        """The programmed conductance at every age (broadcast against ``age_s``).

        Raises:
            DeviceError: ``age_s`` is negative or NaN.
        """
        validate_age_s(age_s)
        if isinstance(age_s, Tensor):
            return state.g_prog_usiemens.expand(
                torch.broadcast_shapes(state.g_prog_usiemens.shape, age_s.shape)
            ).clone()
        return state.g_prog_usiemens.clone()

    def read(self, state: DeviceState, age_s: float | Tensor, generator: torch.Generator) -> Tensor:
        """Same as :meth:`conductance`: ideal reads are noise-free."""
        return self.conductance(state, age_s)
