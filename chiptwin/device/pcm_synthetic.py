"""Measurements drawn from the ``pcm_joshi2020`` model: the data of a fit's round trip.

:func:`synthesize_pcm_measurements` programs devices with :func:`chiptwin.device.pcm.program` and reads
each one several times at several times after programming with :func:`chiptwin.device.pcm.read`, as an
array tester would: every device of a target at the same times, every read a fresh draw of the model's
read noise. Fitting the result (:func:`chiptwin.device.pcm_fit.fit_pcm`) must give back the model's
coefficients; ``bench/fit_device_roundtrip.py`` measures how closely.

The default design (:data:`SYNTHETIC_TARGETS_NORM`, :data:`SYNTHETIC_TIMES_S`,
:data:`SYNTHETIC_READS_PER_TIME`) reaches every regime of the laws: targets on both sides of each
clamp of the drift laws and of the read-noise law, times from ``t0`` to a day.
"""

from __future__ import annotations

import numpy as np
import torch

from chiptwin.device import pcm
from chiptwin.device.measurements import DeviceMeasurements
from chiptwin.errors import DeviceError
from chiptwin.spec.pcm import PCMSpec
from chiptwin.units import SECONDS_PER_DAY, SECONDS_PER_HOUR

__all__ = [
    "SYNTHETIC_READS_PER_TIME",
    "SYNTHETIC_TARGETS_NORM",
    "SYNTHETIC_TIMES_S",
    "synthesize_pcm_measurements",
]

SYNTHETIC_TARGETS_NORM = (0.004, 0.01, 0.02, 0.04, 0.08, 0.14, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0)
"""Targets as fractions of g_max (dimensionless; assumed design). With the published laws: the drift mean
is clamped at its maximum below 0.0076 and at its minimum above 0.20, the drift spread at its maximum below
0.017 and at its minimum above 0.33, the read noise Q_s at its maximum below 0.0082; g_max itself is a
target, since a fit takes the largest target as g_max."""

SYNTHETIC_TIMES_S = (20.0, 300.0, SECONDS_PER_HOUR, SECONDS_PER_DAY)
"""Read times after programming, s (assumed design): the programming read at t0 = 20 s (Joshi 2020), then
out to one day, the range the drift law was fitted on (Joshi 2020)."""

SYNTHETIC_READS_PER_TIME = 4
"""Reads of each device at each time (assumed design): two are the fewest that measure read noise, four
halve the scatter of each device's read-noise estimate (a chi-squared of 3 degrees of freedom, not 1)."""


def synthesize_pcm_measurements(
    spec: PCMSpec,
    devices: int,
    generator: torch.Generator,
    *,
    targets_norm: tuple[float, ...] = SYNTHETIC_TARGETS_NORM,
    times_s: tuple[float, ...] = SYNTHETIC_TIMES_S,
    reads_per_time: int = SYNTHETIC_READS_PER_TIME,
    source: str = "synthetic",
) -> DeviceMeasurements:
    """Program ``devices`` devices with the model of ``spec`` and read them: one row per read.

    Device ``i`` gets target ``targets_norm[i % len(targets_norm)] * g_max``. Rows are ordered by time,
    then repeat, then device, and device ids are ``0..devices-1``. Draw order: programming (all devices),
    then each read in row order, from ``generator``.

    Args:
        spec: the PCM constants to draw from.
        devices: number of devices (>= 1).
        generator: the random source (CPU).
        targets_norm: targets as fractions of ``spec.g_max_usiemens``, each in (0, 1].
        times_s: read times after programming, s, each >= 0.
        reads_per_time: reads of each device at each time (>= 1).
        source: the name messages give the reads.

    Raises:
        DeviceError: a count below 1, a target outside (0, 1], a negative time.
    """
    if devices < 1 or reads_per_time < 1 or not targets_norm or not times_s:
        raise DeviceError(
            f"devices(={devices}), reads_per_time(={reads_per_time}), targets and times must be >= 1"
        )
    if not all(0 < t <= 1 for t in targets_norm):
        raise DeviceError(f"targets_norm(={targets_norm}) must lie in (0, 1]")
    if not all(t >= 0 for t in times_s):
        raise DeviceError(f"times_s(={times_s}) must be >= 0 s")
    # Targets in float64 (7.5 µS, not float32's 0.3 x 25 = 7.50000048), programmed as float32.
    target = np.asarray(targets_norm, dtype=np.float64)[np.arange(devices) % len(targets_norm)]
    target *= spec.g_max_usiemens
    state = pcm.program(torch.from_numpy(target).to(torch.float32), spec, generator)
    reads = [pcm.read(state, t, spec, generator) for t in times_s for _ in range(reads_per_time)]
    repeats = len(reads)
    times = np.repeat(np.asarray(times_s, dtype=np.float64), reads_per_time * devices)
    return DeviceMeasurements(
        device=np.tile(np.arange(devices, dtype=np.int64), repeats),
        device_ids=np.arange(devices, dtype=np.int64),
        g_target_usiemens=np.tile(target, repeats),
        t_s=times,
        g_usiemens=torch.cat(reads).double().numpy(),
        temperature_c=None,
        source=source,
    )
