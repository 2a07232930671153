"""PCM devices: weight <-> conductance mapping, programming noise, drift and read noise (torch).

The model follows Joshi et al., Nat. Commun. 11, 2473 (2020); conductances are in µS, ages in s,
and every random draw takes an explicit ``torch.Generator``.
"""

from __future__ import annotations

from chiptwin.device.conductance import conductances_to_weights, weights_to_conductances
from chiptwin.device.noise import IdealNoiseModel, NoiseModel, PCMNoiseModel
from chiptwin.device.pcm import (
    PROG_NOISE_REFERENCE_G_MAX_USIEMENS,
    DeviceState,
    drift,
    drift_nu_mean,
    drift_nu_std,
    prog_noise_std_usiemens,
    program,
    read,
    read_noise_qs,
    validate_age_s,
)

__all__ = [
    "PROG_NOISE_REFERENCE_G_MAX_USIEMENS",
    "DeviceState",
    "IdealNoiseModel",
    "NoiseModel",
    "PCMNoiseModel",
    "conductances_to_weights",
    "drift",
    "drift_nu_mean",
    "drift_nu_std",
    "prog_noise_std_usiemens",
    "program",
    "read",
    "read_noise_qs",
    "validate_age_s",
    "weights_to_conductances",
]
