"""Which device model a chip runs: the ``[device]`` table, the model registry, what every model's record has.

A chip file names its device model (``[device] model = "pcm_joshi2020"``, the default) and gives that
model's constants in the model's own table (``[pcm]`` for the Joshi 2020 PCM fit, ``[rram]`` for the
CMO/HfOx ReRAM fit); every key of that table is optional and takes the published value. The registry
below maps a model name to its table and its parameter record; the physics of each model sits in
``chiptwin.device`` under the same name (``chiptwin.device.models``), and a test checks the two
registries list the same models.

Every model's record has the fields the rest of the chip needs, whatever the technology
(:class:`DeviceParams`): the conductance window ``[g_min, g_max]`` the weights are mapped into, the
weight-scale granularity, and the reference time ``t0`` of its retention law with the age convention.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chiptwin.errors import SpecError
from chiptwin.spec.pcm import PCMSpec
from chiptwin.spec.rram import RRAMSpec

__all__ = [
    "DEFAULT_DEVICE_MODEL",
    "DEVICE_MODELS",
    "DeviceParams",
    "DeviceTable",
    "describe_age_convention",
    "device_model_name",
]


class DeviceParams(Protocol):
    """What every device model's parameter record exposes (read-only)."""

    @property
    def g_min_usiemens(self) -> float:
        """Lowest conductance a device is programmed to, µS (a weight of 0 puts both devices here)."""
        ...

    @property
    def g_max_usiemens(self) -> float:
        """Largest programmable conductance, µS (the largest |W| of a block or column maps here)."""
        ...

    @property
    def weight_scale(self) -> str:
        """Weight-to-conductance scale granularity, one of ``chiptwin.spec.conventions.WEIGHT_SCALES``."""
        ...

    @property
    def t0_s(self) -> float:
        """Reference time of the retention law after programming, s (the chip is calibrated at this age)."""
        ...

    @property
    def age_convention(self) -> str:
        """How a device age enters the retention law, one of ``chiptwin.spec.conventions.AGE_CONVENTIONS``."""
        ...


@dataclass(frozen=True, slots=True)
class DeviceTable:
    """A registered device model: the chip-file table of its constants and the record it builds."""

    table: str
    """Name of the model's table in a chip file (``[pcm]``, ``[rram]``)."""

    params: type
    """Frozen parameter record built from that table (every key optional, defaults are the published fit)."""

    source: str
    """The publication the model's laws and constants come from (for tables and manifests)."""


DEVICE_MODELS: dict[str, DeviceTable] = {
    "pcm_joshi2020": DeviceTable(
        table="pcm", params=PCMSpec, source="Joshi et al., Nat. Commun. 11, 2473 (2020)"
    ),
    "rram_cmo_falcone2025": DeviceTable(
        table="rram",
        params=RRAMSpec,
        source="Falcone et al., arXiv:2502.04524 (2025); Lombardo et al., DRC 2024",
    ),
}
"""Device model name -> its table and parameter record. Adding a model: docs/guides/retention.md."""

DEFAULT_DEVICE_MODEL = "pcm_joshi2020"
"""The model of a chip file without a ``[device]`` table."""


def device_model_name(params: DeviceParams) -> str:
    """The registered name of the model whose record ``params`` is.

    Raises:
        SpecError: ``params`` is not the record of a registered model.
    """
    for name, entry in DEVICE_MODELS.items():
        if type(params) is entry.params:
            return name
    raise SpecError(f"device parameters of type {type(params).__name__} belong to no registered device model")


def describe_age_convention(params: DeviceParams) -> str:
    """One line for tables: what a printed device age means for the retention law of ``params``."""
    t0 = f"t0 = {params.t0_s:g} s"
    if params.age_convention == "offset":
        return f"device age = time since programming; drift at age + {t0} (aihwkit's convention)"
    return f"device age = time since programming; drift at max(age, {t0})"
