"""Devices: weight <-> conductance mapping; per technology, programming noise, drift, read noise (torch).

A chip's device model comes from its spec through :func:`noise_model` (the registry of
:mod:`chiptwin.device.models`); the default is the PCM model of Joshi et al., Nat. Commun. 11, 2473
(2020). Conductances are in µS, ages in s, and every random draw takes an explicit ``torch.Generator``.
"""

from __future__ import annotations

from chiptwin.device.conductance import conductances_to_weights, weights_to_conductances
from chiptwin.device.models import NOISE_MODELS, noise_model
from chiptwin.device.noise import IdealNoiseModel, NoiseModel
from chiptwin.device.pcm import (
    PROG_NOISE_REFERENCE_G_MAX_USIEMENS,
    PCMNoiseModel,
    drift,
    drift_nu_mean,
    drift_nu_std,
    prog_noise_std_usiemens,
    program,
    read,
    read_noise_qs,
)
from chiptwin.device.rram import RRAMNoiseModel
from chiptwin.device.state import DeviceState, validate_age_s

__all__ = [
    "NOISE_MODELS",
    "PROG_NOISE_REFERENCE_G_MAX_USIEMENS",
    "DeviceState",
    "IdealNoiseModel",
    "NoiseModel",
    "PCMNoiseModel",
    "RRAMNoiseModel",
    "conductances_to_weights",
    "drift",
    "drift_nu_mean",
    "drift_nu_std",
    "noise_model",
    "prog_noise_std_usiemens",
    "program",
    "read",
    "read_noise_qs",
    "validate_age_s",
    "weights_to_conductances",
]
