"""The device-model registry: a chip's device model, built from its spec by one factory.

Each entry maps a model name (the ``[device] model`` of a chip file,
:data:`chiptwin.spec.device.DEVICE_MODELS`) to the :class:`~chiptwin.device.noise.NoiseModel` of that
technology, built from the model's parameter record. The functional, scenario and CLI layers get a
chip's devices from :func:`noise_model` only, so they never name a technology.

Example:
    >>> from chiptwin.spec.chip import ChipSpec
    >>> type(noise_model(ChipSpec())).__name__
    'PCMNoiseModel'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chiptwin.device.noise import NoiseModel
from chiptwin.device.pcm import PCMNoiseModel
from chiptwin.device.rram import RRAMNoiseModel
from chiptwin.spec.chip import ChipSpec

__all__ = ["NOISE_MODELS", "noise_model"]

NOISE_MODELS: dict[str, Callable[[Any], NoiseModel]] = {
    "pcm_joshi2020": PCMNoiseModel,
    "rram_cmo_falcone2025": RRAMNoiseModel,
}
"""Device model name -> the noise model built from its parameter record (same names as the spec registry)."""


def noise_model(chip: ChipSpec) -> NoiseModel:
    """The device model ``chip`` names, with the constants of its table."""
    return NOISE_MODELS[chip.device_model](chip.device)
