"""Temperature and PCM drift: structural relaxation on a thermally activated clock.

Drift is the structural relaxation of the melt-quenched amorphous phase (D. Ielmini, A. L. Lacaita,
D. Mantegazza, "Recovery and drift dynamics of resistance and threshold voltages in phase-change
memories", IEEE Trans. Electron Devices 54, 308 (2007); M. Le Gallo, D. Krebs, F. Zipoli, M. Salinga,
A. Sebastian, "Collective structural relaxation in phase-change memory devices", Adv. Electron. Mater. 4,
1700627 (2018)). Relaxation proceeds through thermally activated events with an attempt time ``tau0``;
an event over a barrier ``E`` happens at the rate ``exp(-E / k_B T) / tau0``, and the barriers faced grow
as the glass relaxes. After a time ``t`` at a constant temperature ``T`` the events below the
demarcation energy ``E_d = k_B T ln(t / tau0)`` have happened and those above have not (Le Gallo 2018's
collective model gives the same barrier law, ``Q(t) ~ k_B T ln(t / tau)``); over a flat barrier spectrum
the conductance falls by the same factor for every eV of ``E_d`` gained, which at the reference
temperature ``T_ref`` (the one the drift law was fitted at) is the power law ``G = G_p (t / t0)^-nu``. The
demarcation energy is the device's relaxation state; for a temperature history (a time ``dt_i`` at each
``T_i`` since programming) a barrier ``E`` has been crossed once ``sum_i (dt_i / tau0) exp(-E / k_B T_i)``
reaches 1, so::

    sum_i (dt_i / tau0) exp(-E_d(t) / (k_B T_i)) = 1                            (1)
    G(t) = G_p exp(-nu (E_d(t) - E_d(t0)) / (k_B T_ref)) = G_p (t_eq / t0)^-nu   (2)
    t_eq = t0 exp((E_d(t) - E_d(t0)) / (k_B T_ref))                              (3)

``t_eq`` is the age at ``T_ref`` with the same drift since ``t0``; the chip evaluates the published law
at it. At ``T_ref`` throughout, ``t_eq = t``. A chip programmed and held at ``T`` drifts as
``(t / t0)^(-nu T / T_ref)`` (the exponent grows by ``T / T_ref``, 1.20 at 85 °C): a day at 85 °C is
5.4 days at 25 °C, at 55 °C 2.3 days; ``tau0`` cancels out. A temperature change is where ``tau0``
matters: a chip programmed at 25 °C, heated to 85 °C after a day, crosses in an hour the barriers
25 °C would take ~90 days over (an Arrhenius acceleration whose activation energy is the barrier being
crossed, ``E_d``, ~1.1 eV after a day with ``tau0`` = 10^-13 s); cooled below ``T_ref``, it nearly stops
drifting. (The equations are the standard consequence of thermally activated relaxation over a flat
barrier spectrum; their numbering is chiptwin's, the papers' full text was not at hand.)

What chiptwin assumes, and what stays as published:

- **Reads are referenced to** ``T_ref``: the amorphous phase also conducts better while hot (a reversible,
  state-dependent Arrhenius factor of the read itself), which is not modelled; a temperature-compensated
  read path (I. Giannopoulos et al., "Temperature compensation schemes for in-memory computing using
  phase-change memory", AICAS 2020) or an array-level scale (I. Boybat et al., "Temperature sensitivity of
  analog in-memory computing using phase-change memory", IEDM 2021, on 10,000 doped-GST devices of the
  Joshi 2020 technology: a scale per array corrects the shift due to temperature and drift) removes it,
  and GDC is such a scale. What the twin adds is the irreversible part: a hot chip relaxes further.
- **The drift exponents stay those drawn at programming**: the same barriers relax, sooner or later.
- **Program-and-verify ends with** ``G_p`` **at** ``t0`` **whatever the temperature** (the verify reads the
  device as it is then); (1) counts the history from programming, so a chip programmed hot starts from a
  more relaxed glass. With the ``offset`` age convention the state at age 0 is ``t0`` at the programming
  temperature (``t = age + t0``).
- **Programming and read noise keep their published laws**; the read-noise window is evaluated at the same
  (equivalent) age as the drift law, since a device model takes one age.
- **At the reference temperature nothing changes**: a history that stays at ``T_ref`` returns the wall age
  itself, so conductances and accuracies are bit-identical to a run without temperature.

The device model's record says whether it has this law (:func:`has_temperature_law`): the PCM model
(``[pcm] drift_temperature_ref_c``, ``drift_attempt_time_s``) does; the ReRAM model has no published
temperature law in chiptwin, and a scenario refuses a temperature for it.

Example:
    >>> from chiptwin.spec.pcm import PCMSpec
    >>> hot = TemperatureHistory(starts_s=np.array([0.0]), celsius=np.array([85.0]))
    >>> round(drift_age_s(hot, 0.0, 86_400.0, PCMSpec()) / 86_400.0, 1)  # days at 25 °C
    5.4
    >>> drift_age_s(TemperatureHistory.constant(25.0), 0.0, 86_400.0, PCMSpec())
    86400.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from chiptwin.errors import DeviceError

__all__ = [
    "BOLTZMANN_EV_PER_K",
    "ZERO_CELSIUS_K",
    "TemperatureHistory",
    "TemperatureLaw",
    "demarcation_energy_ev",
    "drift_age_s",
    "has_temperature_law",
    "kelvin",
]

BOLTZMANN_EV_PER_K = 8.617333262e-5
"""Boltzmann constant, eV/K (CODATA 2018; exact since the 2019 SI: 1.380649e-23 J/K / 1.602176634e-19 C)."""

ZERO_CELSIUS_K = 273.15
"""0 °C in kelvin (SI definition)."""

_NEWTON_STEPS = 100
_NEWTON_TOL_EV = 1e-14
"""Newton's method on (1) stops when a step is below this, eV (t_eq then holds to ~4e-13 relative)."""


@runtime_checkable
class TemperatureLaw(Protocol):
    """A device model's record that has the temperature law of this module (the PCM model's)."""

    @property
    def drift_temperature_ref_c(self) -> float:
        """Temperature the drift law was fitted at, °C."""
        ...

    @property
    def drift_attempt_time_s(self) -> float:
        """Attempt time ``tau0`` of the relaxation events, s."""
        ...

    @property
    def t0_s(self) -> float:
        """Reference time of the drift law, s."""
        ...

    @property
    def age_convention(self) -> str:
        """``clamp`` or ``offset`` (:data:`chiptwin.spec.conventions.AGE_CONVENTIONS`)."""
        ...


def has_temperature_law(params: object) -> bool:
    """Whether a device model's record carries the temperature law of this module."""
    return isinstance(params, TemperatureLaw)


def kelvin(celsius: float | np.ndarray) -> float | np.ndarray:
    """°C -> K."""
    return celsius + ZERO_CELSIUS_K


@dataclass(frozen=True, slots=True, eq=False)
class TemperatureHistory:
    """A chip's temperature over run time, piecewise constant: ``celsius[i]`` from ``starts_s[i]`` on.

    Attributes:
        starts_s: float64 segment starts, s of run time, ``starts_s[0] == 0``, strictly ascending.
        celsius: float64 temperature of each segment, °C (finite).
        period_s: the history repeats with this period, s (a daily cycle); None: the last segment lasts
            forever. With a period every start is below it.

    Raises:
        DeviceError: the arrays are not of that form (the scenario layer validates what users write;
            this is the device layer's own check).
    """

    starts_s: np.ndarray
    celsius: np.ndarray
    period_s: float | None = None

    def __post_init__(self) -> None:
        starts, temps = self.starts_s, self.celsius
        if starts.ndim != 1 or starts.shape != temps.shape or starts.size == 0:
            raise DeviceError(
                f"temperature history: starts_s (shape {starts.shape}) and celsius (shape {temps.shape}) "
                "must be two 1-d arrays of one length >= 1"
            )
        if starts[0] != 0 or not bool(np.all(np.diff(starts) > 0)) or not bool(np.isfinite(starts).all()):
            raise DeviceError("temperature history: starts_s must start at 0 s and be finite and ascending")
        if not bool(np.isfinite(temps).all()):
            raise DeviceError("temperature history: celsius must be finite")
        if self.period_s is not None and not (math.isfinite(self.period_s) and self.period_s > starts[-1]):
            raise DeviceError(
                f"temperature history: period_s(={self.period_s!r}) must be finite and > the last start"
            )

    @classmethod
    def constant(cls, celsius: float) -> TemperatureHistory:
        """A chip held at ``celsius`` °C."""
        return cls(starts_s=np.zeros(1), celsius=np.full(1, float(celsius)))

    def celsius_at(self, t_s: float) -> float:
        """Temperature at run time ``t_s`` (>= 0), °C."""
        if self.period_s is not None:
            t_s = math.fmod(t_s, self.period_s)
        return float(self.celsius[int(np.searchsorted(self.starts_s, t_s, side="right")) - 1])

    def _durations(self, begin_s: float, end_s: float) -> np.ndarray:
        """Seconds of ``[begin_s, end_s)`` in each segment of one pass of the history (no period)."""
        stops = np.append(self.starts_s[1:], math.inf)
        return np.clip(np.minimum(stops, end_s) - np.maximum(self.starts_s, begin_s), 0.0, None)

    def time_at(self, begin_s: float, end_s: float) -> tuple[np.ndarray, np.ndarray]:
        """``(celsius, seconds)``: how long the chip spends at each segment's temperature in
        ``[begin_s, end_s)`` (0 <= begin <= end). Whole periods of a periodic history are counted at once."""
        if self.period_s is None:
            return self.celsius, self._durations(begin_s, end_s)
        period = self.period_s
        first, last = math.floor(begin_s / period), math.floor(end_s / period)
        head_begin, tail_end = begin_s - first * period, end_s - last * period
        if first == last:
            return self.celsius, self._durations(head_begin, tail_end)
        one = self._durations(0.0, period)
        seconds = (
            self._durations(head_begin, period) + (last - first - 1) * one + self._durations(0.0, tail_end)
        )
        return self.celsius, seconds


def demarcation_energy_ev(seconds: np.ndarray, temperatures_k: np.ndarray, attempt_time_s: float) -> float:
    """The demarcation energy ``E_d`` of a history, eV: the root of (1),
    ``sum_i (seconds_i / tau0) exp(-E_d / (k_B T_i)) = 1`` (module docstring).

    Args:
        seconds: time spent at each temperature, s (>= 0; zeros are skipped; at least one > 0).
        temperatures_k: the temperatures, K (> 0).
        attempt_time_s: ``tau0``, s.

    Raises:
        DeviceError: no positive time, or a temperature <= 0 K.
    """
    keep = seconds > 0
    if not bool(keep.any()):
        raise DeviceError("demarcation energy: the history spends no time at any temperature")
    temps = temperatures_k[keep]
    if not bool((temps > 0).all()):
        raise DeviceError(f"demarcation energy: temperatures {temps[temps <= 0]} K must be > 0 K")
    # f(E) = log sum_i exp(a_i - b_i E) is convex and decreasing in E: Newton's method started left of the
    # root (where f >= 0) climbs to it without overshooting. The root lies in
    # [max_i a_i / b_i, max_i (a_i + ln n) / b_i].
    a = np.log(seconds[keep] / attempt_time_s)
    b = 1.0 / (BOLTZMANN_EV_PER_K * temps)
    energy = float(np.max(a / b))
    for _ in range(_NEWTON_STEPS):
        exponents = a - b * energy
        top = float(exponents.max())
        weights = np.exp(exponents - top)
        total = float(weights.sum())
        f = top + math.log(total)
        slope = -float((weights * b).sum()) / total
        step = -f / slope
        energy += step
        if abs(step) < _NEWTON_TOL_EV:
            break
    return energy


def drift_age_s(
    history: TemperatureHistory, programmed_at_s: float, age_s: float, law: TemperatureLaw
) -> float:
    """The age at the reference temperature with the drift of ``age_s`` seconds of ``history`` after a
    programming at run time ``programmed_at_s``: (3) of the module docstring, in the age the device model
    takes (the ``offset`` convention adds ``t0`` itself, so it is taken off here).

    Ages up to ``t0`` (``clamp``) are returned as they are (the programmed state), and so is any age whose
    window the history spends entirely at the reference temperature (bit-identical to no temperature).

    Raises:
        DeviceError: ``age_s`` or ``programmed_at_s`` is negative or not finite.
    """
    for name, value in (("age_s", age_s), ("programmed_at_s", programmed_at_s)):
        if not (math.isfinite(value) and value >= 0):
            raise DeviceError(f"{name}(={value!r}) must be a finite number >= 0 s")
    t0, tau0, ref = law.t0_s, law.drift_attempt_time_s, law.drift_temperature_ref_c
    clamp = law.age_convention == "clamp"
    if clamp and age_s <= t0:
        return age_s
    temps, seconds = history.time_at(programmed_at_s, programmed_at_s + age_s)
    programmed_c = history.celsius_at(programmed_at_s)
    if bool(np.all((temps == ref) | (seconds == 0))) and (clamp or programmed_c == ref):
        return age_s  # the reference temperature throughout: the published law, untouched
    temps_k = np.asarray(kelvin(temps), dtype=np.float64)
    if clamp:  # G_p is the state after t0 of the history
        first_temps, first_seconds = history.time_at(programmed_at_s, programmed_at_s + t0)
        start = demarcation_energy_ev(first_seconds, np.asarray(kelvin(first_temps), dtype=np.float64), tau0)
        now = demarcation_energy_ev(seconds, temps_k, tau0)
    else:  # the state at age 0 is t0 at the programming temperature
        programmed_k = float(kelvin(programmed_c))
        start = BOLTZMANN_EV_PER_K * programmed_k * math.log(t0 / tau0)
        now = demarcation_energy_ev(np.append(seconds, t0), np.append(temps_k, programmed_k), tau0)
    t_eq = t0 * math.exp((now - start) / (BOLTZMANN_EV_PER_K * float(kelvin(ref))))
    return t_eq if clamp else max(t_eq - t0, 0.0)
