"""A scenario's chip temperature over run time: constant, steps, a daily cycle, or a replayed series.

A scenario file's ``[temperature]`` table (or ``ScenarioSpec(temperature=TemperatureSpec(...))``) gives
the chip's temperature from the first programming on; without one, the chip stays at its device model's
reference temperature and the run is bit-identical to one before temperatures existed. The temperature
changes how fast the devices drift (:mod:`chiptwin.device.temperature`); what each form means:

- ``kind = "constant"``: ``celsius``, held for the whole run;
- ``kind = "steps"``: ``steps = [[from_s, celsius], ...]``, each temperature from its time on (the first
  at 0 s, times ascending);
- ``kind = "daily"``: ``mean_c + amplitude_c cos(2 pi (t - peak_s) / 1 day)``, peaking at ``peak_s`` s after
  the start of each day (run time 0 is the start of a day; default 14 h), held in steps of
  :data:`DAILY_STEP_S` at each step's midpoint value;
- ``kind = "series"``: ``file``, a Parquet file with columns ``time_s`` and ``temperature_c`` (a logged
  temperature, each value held until the next row; the first row at 0 s; the last value holds to the end
  of the run); read and checked before the run starts (:mod:`chiptwin.scenario.temperature`).

Every temperature is in [``MIN_TEMPERATURE_C``, ``MAX_TEMPERATURE_C``] °C of :mod:`chiptwin.limits`.

Example:
    >>> describe_temperature(TemperatureSpec(kind="daily", mean_c=40.0, amplitude_c=15.0))
    'chip temperature 40 +/- 15 °C daily, peak at 14 h'
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields

from chiptwin.errors import SpecError
from chiptwin.limits import MAX_AGE_S, MAX_TEMPERATURE_C, MAX_TEMPERATURE_POINTS, MIN_TEMPERATURE_C
from chiptwin.units import SECONDS_PER_DAY, SECONDS_PER_HOUR

__all__ = [
    "DAILY_STEP_S",
    "DEFAULT_PEAK_S",
    "TEMPERATURE_KINDS",
    "TemperatureSpec",
    "describe_temperature",
]

TEMPERATURE_KINDS = ("constant", "steps", "daily", "series")
"""The forms of a chip temperature over time."""

DAILY_STEP_S = 600.0
"""Resolution of the daily cycle, s: it is held in 10-minute steps (144 a day). A device's relaxation
integrates the temperature over time, so the steps change a day's drift-equivalent age by < 0.1 %."""

DEFAULT_PEAK_S = 14 * SECONDS_PER_HOUR
"""Default time of day of a daily cycle's maximum: 14:00 (assumed: a machine room's afternoon peak)."""

_KEYS = {
    "constant": ("celsius",),
    "steps": ("steps",),
    "daily": ("mean_c", "amplitude_c", "peak_s"),
    "series": ("file",),
}
_REQUIRED = {
    "constant": ("celsius",),
    "steps": ("steps",),
    "daily": ("mean_c", "amplitude_c"),
    "series": ("file",),
}

_RANGE = f"a number in [{MIN_TEMPERATURE_C:g}, {MAX_TEMPERATURE_C:g}] °C (chiptwin.limits)"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _in_range(value: object) -> bool:
    return _is_number(value) and MIN_TEMPERATURE_C <= value <= MAX_TEMPERATURE_C  # type: ignore[operator]


@dataclass(frozen=True, slots=True, kw_only=True)
class TemperatureSpec:
    """The chip's temperature over run time (module docstring); only the keys of ``kind`` are given.

    Raises:
        SpecError: an unknown kind, a key of another kind, a missing key, or a value out of range, naming
            ``temperature.<key>`` and the value.
    """

    kind: str = "constant"
    """One of :data:`TEMPERATURE_KINDS`."""

    celsius: float | None = None
    """``constant``: the chip temperature, °C."""

    steps: tuple[tuple[float, float], ...] | None = None
    """``steps``: ``(from_s, celsius)`` pairs, s of run time and °C; the first at 0 s, times ascending."""

    mean_c: float | None = None
    """``daily``: mean temperature of the cycle, °C."""

    amplitude_c: float | None = None
    """``daily``: half the peak-to-peak swing, °C (>= 0)."""

    peak_s: float | None = None
    """``daily``: time of day of the maximum, s after the start of a day (default :data:`DEFAULT_PEAK_S`)."""

    file: str | None = None
    """``series``: Parquet file of ``time_s`` and ``temperature_c`` (a relative path: from the working
    folder)."""

    def __post_init__(self) -> None:
        if self.kind not in TEMPERATURE_KINDS:
            raise SpecError(f"temperature.kind(={self.kind!r}) must be one of {TEMPERATURE_KINDS}")
        given = {f.name for f in fields(self) if f.name != "kind" and getattr(self, f.name) is not None}
        foreign = sorted(given - set(_KEYS[self.kind]))
        if foreign:
            raise SpecError(
                f"temperature.{foreign[0]}(={getattr(self, foreign[0])!r}) is not a key of kind "
                f"{self.kind!r} (its keys: {', '.join(_KEYS[self.kind])})"
            )
        missing = [k for k in _REQUIRED[self.kind] if getattr(self, k) is None]
        if missing:
            raise SpecError(f"temperature: kind {self.kind!r} needs {' and '.join(missing)}")
        getattr(self, f"_check_{self.kind}")()

    def _check_constant(self) -> None:
        if not _in_range(self.celsius):
            raise SpecError(f"temperature.celsius(={self.celsius!r}) must be {_RANGE}")

    def _check_steps(self) -> None:
        steps = self.steps
        if not isinstance(steps, list | tuple) or not steps:
            raise SpecError(f"temperature.steps(={steps!r}) must be a non-empty array of [from_s, celsius]")
        if len(steps) > MAX_TEMPERATURE_POINTS:
            raise SpecError(f"temperature.steps: {len(steps):,} steps, at most {MAX_TEMPERATURE_POINTS:,}")
        for i, step in enumerate(steps):
            if not (isinstance(step, list | tuple) and len(step) == 2):
                raise SpecError(f"temperature.steps[{i}](={step!r}) must be a pair [from_s, celsius]")
            at, celsius = step
            if not (_is_number(at) and 0 <= at <= MAX_AGE_S):
                raise SpecError(
                    f"temperature.steps[{i}] from_s(={at!r}) must be a number >= 0 and <= {MAX_AGE_S:.4g} s"
                )
            if not _in_range(celsius):
                raise SpecError(f"temperature.steps[{i}] celsius(={celsius!r}) must be {_RANGE}")
        if steps[0][0] != 0:
            raise SpecError(f"temperature.steps[0] from_s(={steps[0][0]!r}) must be 0: the run starts at 0 s")
        for i, (a, b) in enumerate(itertools.pairwise(steps), start=1):
            if not b[0] > a[0]:
                raise SpecError(
                    f"temperature.steps[{i}] from_s(={b[0]!r}) must be after steps[{i - 1}]'s ({a[0]!r})"
                )
        # Lists from a TOML file become the tuples a frozen spec holds.
        object.__setattr__(self, "steps", tuple((float(a), float(c)) for a, c in steps))

    def _check_daily(self) -> None:
        for key in ("mean_c", "amplitude_c"):
            if not _is_number(getattr(self, key)):
                raise SpecError(f"temperature.{key}(={getattr(self, key)!r}) must be a finite number")
        mean, amplitude = float(self.mean_c), float(self.amplitude_c)  # type: ignore[arg-type]
        if amplitude < 0:
            raise SpecError(f"temperature.amplitude_c(={self.amplitude_c!r}) must be >= 0 °C")
        if not (_in_range(mean - amplitude) and _in_range(mean + amplitude)):
            raise SpecError(
                f"temperature: the daily cycle mean_c +/- amplitude_c (={mean:g} +/- {amplitude:g} °C) must "
                f"stay in [{MIN_TEMPERATURE_C:g}, {MAX_TEMPERATURE_C:g}] °C (chiptwin.limits)"
            )
        if self.peak_s is not None and not (_is_number(self.peak_s) and 0 <= self.peak_s < SECONDS_PER_DAY):
            raise SpecError(f"temperature.peak_s(={self.peak_s!r}) must be a number in [0, 86400) s")

    def _check_series(self) -> None:
        if not isinstance(self.file, str) or not self.file or not self.file.isprintable():
            raise SpecError(f"temperature.file(={self.file!r}) must be a Parquet file path")

    def values(self) -> tuple[tuple[float, ...], tuple[float, ...], float | None]:
        """``(starts_s, celsius, period_s)`` of a constant, stepped or daily temperature: piecewise constant,
        ``celsius[i]`` from ``starts_s[i]`` on, repeating every ``period_s`` (None: no repeat).

        Raises:
            SpecError: ``kind`` is ``series`` (its values are in its file).
        """
        if self.kind == "constant":
            return (0.0,), (float(self.celsius),), None  # type: ignore[arg-type]
        if self.kind == "steps":
            assert self.steps is not None
            return tuple(s for s, _ in self.steps), tuple(c for _, c in self.steps), None
        if self.kind == "daily":
            mean, amplitude = float(self.mean_c), float(self.amplitude_c)  # type: ignore[arg-type]
            peak = DEFAULT_PEAK_S if self.peak_s is None else float(self.peak_s)
            count = round(SECONDS_PER_DAY / DAILY_STEP_S)
            starts = tuple(k * DAILY_STEP_S for k in range(count))
            phase = [2 * math.pi * (s + DAILY_STEP_S / 2 - peak) / SECONDS_PER_DAY for s in starts]
            return starts, tuple(mean + amplitude * math.cos(p) for p in phase), SECONDS_PER_DAY
        raise SpecError("temperature: a series' values are in its file (chiptwin.scenario.temperature)")


def describe_temperature(spec: TemperatureSpec | None, reference_c: float | None = None) -> str:
    """One line for tables: the chip temperature of a scenario (None: the device model's reference)."""
    if spec is None:
        where = f" ({reference_c:g} °C)" if reference_c is not None else ""
        return f"chip temperature: the device model's reference{where}"
    if spec.kind == "constant":
        return f"chip temperature {spec.celsius:g} °C"
    if spec.kind == "steps":
        assert spec.steps is not None
        shown = ", ".join(f"{c:g} °C from {s:g} s" for s, c in spec.steps[:4])
        more = f", ... ({len(spec.steps)} steps)" if len(spec.steps) > 4 else ""
        return f"chip temperature {shown}{more}"
    if spec.kind == "daily":
        peak = (DEFAULT_PEAK_S if spec.peak_s is None else spec.peak_s) / SECONDS_PER_HOUR
        return f"chip temperature {spec.mean_c:g} +/- {spec.amplitude_c:g} °C daily, peak at {peak:g} h"
    return f"chip temperature replayed from {spec.file}"
