"""Fault parameters of a run: stuck PCM devices and per-column ADC gain and offset errors.

Faults belong to a scenario, not to a chip file: the same chip design is evaluated with and without
them, so there is no ``[faults]`` table in a chip file. Both kinds are standard
non-idealities of analog in-memory computing: PCM arrays have a device yield below 100 %, with devices
stuck in the SET (high-conductance) or RESET (low-conductance) state (device yield is discussed for the
chip of Joshi et al., Nat. Commun. 11, 2473 (2020)), and every column's ADC has its own gain and offset,
which the HERMES chip corrects per column in its digital unit (Le Gallo et al., "A 64-core mixed-signal
in-memory compute chip based on phase-change memory for deep neural network inference", Nature
Electronics 6, 680-693 (2023)). All defaults are zero (no faults); none of the magnitudes is a published
figure, so every value a scenario uses is an assumption of that scenario.

Example:
    >>> FaultSpec(stuck_rate=0.01).has_device_faults
    True
    >>> FaultSpec().has_adc_faults
    False
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from chiptwin.errors import SpecError

__all__ = ["FaultSpec"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSpec:
    """Device and converter faults, drawn once per device or column at programming from the run seed.

    Raises:
        SpecError: a field is out of range or not finite, naming ``faults.<key>`` and the value.
    """

    stuck_rate: float = 0.0
    """Fraction of devices stuck from programming on, in [0, 1] (assumed 0: a perfect yield). A stuck
    device ignores its target: it reads 0 µS (stuck-RESET) or g_max (stuck-SET), with no drift and no
    read noise."""

    stuck_high_fraction: float = 0.5
    """Share of stuck devices stuck at g_max (stuck-SET); the rest sit at 0 µS (stuck-RESET), in [0, 1]
    (assumed 0.5: no published split for these devices). Applies to devices failing later as well."""

    stuck_arrival_per_day: float = 0.0
    """Rate at which working devices become stuck, per device per day, >= 0 (assumed 0). Each device's
    failure time is drawn once at programming from an exponential law, so at age t a fraction
    ``1 - exp(-rate * t / 1 day)`` of devices has failed and the set of stuck devices only grows."""

    adc_offset_std: float = 0.0
    """Std of each column's ADC offset as a fraction of that column's full-scale range, >= 0
    (assumed 0: offsets calibrated out). Drawn once per column at programming."""

    adc_gain_std: float = 0.0
    """Std of each column's relative ADC gain error, >= 0: gain = 1 + N(0, std) (assumed 0: gains
    calibrated out). Drawn once per column at programming."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            # bool is an int in Python, but `stuck_rate = true` is a mistake in a scenario file.
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SpecError(f"faults.{f.name}(={value!r}) must be a number")
        for name in ("stuck_rate", "stuck_high_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:  # NaN fails too
                raise SpecError(f"faults.{name}(={value!r}) must be in [0, 1]")
        for name in ("stuck_arrival_per_day", "adc_offset_std", "adc_gain_std"):
            value = getattr(self, name)
            if not (value >= 0.0 and math.isfinite(value)):
                raise SpecError(f"faults.{name}(={value!r}) must be finite and >= 0")

    @property
    def has_device_faults(self) -> bool:
        """Whether any device is stuck now or can become stuck later."""
        return self.stuck_rate > 0.0 or self.stuck_arrival_per_day > 0.0

    @property
    def has_adc_faults(self) -> bool:
        """Whether any column's ADC has a gain or offset error."""
        return self.adc_offset_std > 0.0 or self.adc_gain_std > 0.0

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all fields, in declaration order."""
        return tuple(f.name for f in fields(cls))
