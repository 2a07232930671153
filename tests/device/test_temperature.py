"""The temperature law of PCM drift: relaxation-equivalent ages, hand-computed, and bit-identity at the
reference temperature."""

from __future__ import annotations

import dataclasses
import doctest
import itertools
import math

import numpy as np
import pytest
import torch

from chiptwin.device import pcm
from chiptwin.device import temperature as law
from chiptwin.device.state import DeviceState
from chiptwin.device.temperature import (
    BOLTZMANN_EV_PER_K,
    TemperatureHistory,
    demarcation_energy_ev,
    drift_age_s,
    has_temperature_law,
    kelvin,
)
from chiptwin.errors import DeviceError, SpecError
from chiptwin.spec.pcm import PCMSpec
from chiptwin.spec.rram import RRAMSpec

SPEC = PCMSpec()
OFFSET = dataclasses.replace(SPEC, age_convention="offset")
DAY = 86_400.0
TAU0 = 1e-13


def test_docstring_examples() -> None:
    assert doctest.testmod(law).failed == 0


@pytest.mark.parametrize("spec", [SPEC, OFFSET], ids=["clamp", "offset"])
def test_reference_temperature_returns_the_age_itself(spec: PCMSpec) -> None:
    histories = [
        TemperatureHistory.constant(25.0),
        TemperatureHistory(starts_s=np.array([0.0, 7.0, 3600.5]), celsius=np.array([25.0, 25.0, 25.0])),
        TemperatureHistory(starts_s=np.array([0.0, 600.0]), celsius=np.array([25.0, 25.0]), period_s=DAY),
    ]
    ages = [0.0, 1e-9, 0.1 + 0.2, 19.999, 20.0, 20.000001, 1234.5678, DAY + 0.3, 3.15e9]
    for history in histories:
        for programmed in (0.0, 17.25, 5 * DAY + 0.1):
            for age in ages:
                assert drift_age_s(history, programmed, age, spec) == age


def test_reference_temperature_conductances_are_bit_identical() -> None:
    g = torch.Generator().manual_seed(3)
    state = pcm.program(torch.rand(64, 32, generator=g) * 25.0, SPEC, g)
    history = TemperatureHistory(starts_s=np.array([0.0, 100.0]), celsius=np.array([25.0, 25.0]))
    for age in (0.0, 20.0, 61.3, 3600.0, DAY, 3.15e7):
        aged = drift_age_s(history, 0.0, age, SPEC)
        assert torch.equal(pcm.drift(state, aged, SPEC), pcm.drift(state, age, SPEC))
        reads = [pcm.read(state, a, SPEC, torch.Generator().manual_seed(9)) for a in (aged, age)]
        assert torch.equal(*reads)


def test_one_temperature_is_the_textbook_demarcation_energy() -> None:
    # E_d = k_B T ln(t / tau0): 25 °C for a day is 1.0612 eV, 85 °C for an hour 1.1734 eV.
    for celsius, seconds in ((25.0, DAY), (85.0, 3600.0), (-40.0, 20.0)):
        energy = demarcation_energy_ev(np.array([seconds]), np.array([kelvin(celsius)]), TAU0)
        assert math.isclose(
            energy, BOLTZMANN_EV_PER_K * (celsius + 273.15) * math.log(seconds / TAU0), rel_tol=1e-12
        )
    assert math.isclose(
        demarcation_energy_ev(np.array([DAY]), np.array([298.15]), TAU0), 1.0612, abs_tol=1e-4
    )


def test_a_chip_held_at_one_temperature_drifts_with_exponent_nu_t_over_t_ref() -> None:
    # E_d(t) - E_d(t0) = k_B T ln(t / t0), so t_eq = t0 (t / t0)^(T / T_ref): tau0 cancels out. A day at
    # 85 °C is 5.39 days at 25 °C, at 55 °C 2.32 days; a day at -40 °C is 3.9 hours.
    for celsius, days in ((85.0, 5.3902), (55.0, 2.3217), (-40.0, 0.16122)):
        closed = 20.0 * (DAY / 20.0) ** ((celsius + 273.15) / 298.15)
        for spec in (SPEC, dataclasses.replace(SPEC, drift_attempt_time_s=1e-9)):
            aged = drift_age_s(TemperatureHistory.constant(celsius), 0.0, DAY, spec)
            assert math.isclose(aged, closed, rel_tol=1e-12)
        assert math.isclose(closed / DAY, days, rel_tol=1e-4)
    # The drift factor at nu = 0.05: (t / t0)^-(nu T / T_ref).
    state = DeviceState(g_prog_usiemens=torch.tensor([20.0]), drift_coeff=torch.tensor([0.05]))
    aged = drift_age_s(TemperatureHistory.constant(85.0), 0.0, 3600.0, SPEC)
    factor = float(pcm.drift(state, aged, SPEC)[0]) / 20.0
    assert math.isclose(factor, (3600.0 / 20.0) ** (-0.05 * 358.15 / 298.15), rel_tol=1e-6)


def test_heating_an_aged_chip_crosses_barriers_fast() -> None:
    # Programmed at 25 °C, heated to 85 °C after a day: in that hour E_d climbs from k T_ref ln(1 d / tau0)
    # (1.0612 eV) to the root of (1 d / tau0) e^(-E / k T_ref) + (1 h / tau0) e^(-E / k T) = 1, and the
    # chip ages as in ~90 days at 25 °C; with tau0 = 1e-9 s the barriers are lower and the hour counts less.
    heated = TemperatureHistory(starts_s=np.array([0.0, DAY]), celsius=np.array([25.0, 85.0]))
    energy = demarcation_energy_ev(np.array([DAY, 3600.0]), np.array([298.15, 358.15]), TAU0)
    start = BOLTZMANN_EV_PER_K * 298.15 * math.log(20.0 / TAU0)
    expected = 20.0 * math.exp((energy - start) / (BOLTZMANN_EV_PER_K * 298.15))
    aged = drift_age_s(heated, 0.0, DAY + 3600.0, SPEC)
    assert math.isclose(aged, expected, rel_tol=1e-9)
    assert math.isclose(aged / DAY, 90.65, rel_tol=1e-3)
    slower = drift_age_s(heated, 0.0, DAY + 3600.0, dataclasses.replace(SPEC, drift_attempt_time_s=1e-9))
    assert DAY < slower < aged


def test_the_root_solves_the_history_equation() -> None:
    # 1 h at 85 °C, then 23 h at 25 °C.
    seconds = np.array([3600.0, 23 * 3600.0])
    temps = np.array([358.15, 298.15])
    energy = demarcation_energy_ev(seconds, temps, TAU0)
    total = float(np.sum(seconds / TAU0 * np.exp(-energy / (BOLTZMANN_EV_PER_K * temps))))
    assert math.isclose(total, 1.0, rel_tol=1e-12)
    history = TemperatureHistory(starts_s=np.array([0.0, 3600.0]), celsius=np.array([85.0, 25.0]))
    start = BOLTZMANN_EV_PER_K * 358.15 * math.log(20.0 / TAU0)  # G_p: 20 s at 85 °C
    expected = 20.0 * math.exp((energy - start) / (BOLTZMANN_EV_PER_K * 298.15))
    assert math.isclose(drift_age_s(history, 0.0, DAY, SPEC), expected, rel_tol=1e-12)


def test_hotter_is_older_colder_is_younger_and_age_only_grows() -> None:
    ages = [
        drift_age_s(TemperatureHistory.constant(c), 0.0, DAY, SPEC)
        for c in (-55.0, -40.0, 0.0, 25.0, 55.0, 85.0, 150.0)
    ]
    assert all(b > a for a, b in itertools.pairwise(ages))
    assert ages[3] == DAY and ages[1] < DAY / 6  # a day at -40 °C drifts like 3.9 h at 25 °C
    hot = TemperatureHistory.constant(70.0)
    series = [drift_age_s(hot, 0.0, t, SPEC) for t in (20.0, 21.0, 60.0, 3600.0, DAY, 10 * DAY)]
    assert series[0] == 20.0 and all(b > a for a, b in itertools.pairwise(series))


def test_near_the_reference_the_age_moves_continuously() -> None:
    aged = drift_age_s(TemperatureHistory.constant(25.0 + 1e-7), 0.0, DAY, SPEC)
    # d t_eq / dT = t ln(t / t0) / T_ref: 2.43 ms per mK at a day.
    assert math.isclose(aged - DAY, 1e-7 * DAY * math.log(DAY / 20.0) / 298.15, rel_tol=1e-3)


def test_only_the_time_spent_at_each_temperature_counts() -> None:
    # Independent barriers: after the same first t0, an hour hot then cold relaxes as much as cold then hot.
    down = TemperatureHistory(starts_s=np.array([0.0, 20.0, 3620.0]), celsius=np.array([25.0, 85.0, 25.0]))
    up = TemperatureHistory(starts_s=np.array([0.0, DAY - 3600.0]), celsius=np.array([25.0, 85.0]))
    assert math.isclose(drift_age_s(up, 0.0, DAY, SPEC), drift_age_s(down, 0.0, DAY, SPEC), rel_tol=1e-12)


def test_a_periodic_history_equals_the_same_days_written_out() -> None:
    starts = np.array([0.0, 8 * 3600.0, 20 * 3600.0])
    temps = np.array([30.0, 60.0, 40.0])
    cycle = TemperatureHistory(starts_s=starts, celsius=temps, period_s=DAY)
    days = 5
    flat = TemperatureHistory(
        starts_s=np.concatenate([starts + k * DAY for k in range(days)]), celsius=np.tile(temps, days)
    )
    for programmed, age in ((0.0, 3 * DAY + 5000.0), (9 * 3600.0, 2 * DAY), (DAY - 1.0, 2.5 * DAY)):
        assert math.isclose(
            drift_age_s(cycle, programmed, age, SPEC), drift_age_s(flat, programmed, age, SPEC), rel_tol=1e-12
        )
    assert cycle.celsius_at(DAY + 9 * 3600.0) == 60.0 and flat.celsius_at(4 * DAY + 21 * 3600.0) == 40.0


def test_relaxation_starts_at_t0_and_programming_restarts_it() -> None:
    hot = TemperatureHistory.constant(85.0)
    # Program-and-verify leaves G_p at t0, at any temperature.
    assert drift_age_s(hot, 0.0, 19.0, SPEC) == 19.0
    # A chip reprogrammed at 12 h on a constantly hot chip ages like a new one.
    assert drift_age_s(hot, 12 * 3600.0, 3600.0, SPEC) == drift_age_s(hot, 0.0, 3600.0, SPEC)
    # offset convention: t_eq - t0, so that the device law's age + t0 is the equivalent time.
    aged = drift_age_s(hot, 0.0, DAY, OFFSET)
    assert math.isclose(aged + OFFSET.t0_s, drift_age_s(hot, 0.0, DAY + 20.0, SPEC), rel_tol=1e-9)


def test_only_pcm_has_the_law() -> None:
    assert has_temperature_law(PCMSpec()) and not has_temperature_law(RRAMSpec())


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"starts_s": np.array([1.0]), "celsius": np.array([25.0])}, "must start at 0 s"),
        ({"starts_s": np.array([0.0, 5.0, 5.0]), "celsius": np.array([25.0, 30.0, 40.0])}, "ascending"),
        ({"starts_s": np.array([0.0]), "celsius": np.array([math.nan])}, "celsius must be finite"),
        ({"starts_s": np.array([0.0, 1.0]), "celsius": np.array([25.0])}, "one length"),
        ({"starts_s": np.array([0.0, 10.0]), "celsius": np.array([25.0, 30.0]), "period_s": 5.0}, "period_s"),
    ],
)
def test_a_malformed_history_is_refused(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(DeviceError, match=fragment):
        TemperatureHistory(**kwargs)  # type: ignore[arg-type]


def test_bad_ages_and_empty_histories_are_refused() -> None:
    with pytest.raises(DeviceError, match=r"age_s\(=-1.0\) must be"):
        drift_age_s(TemperatureHistory.constant(85.0), 0.0, -1.0, SPEC)
    with pytest.raises(DeviceError, match=r"programmed_at_s\(=nan\)"):
        drift_age_s(TemperatureHistory.constant(85.0), math.nan, 10.0, SPEC)
    with pytest.raises(DeviceError, match="no time at any temperature"):
        demarcation_energy_ev(np.zeros(2), np.array([300.0, 310.0]), TAU0)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"drift_attempt_time_s": 0.0}, r"pcm.drift_attempt_time_s\(=0.0\) must be > 0"),
        ({"drift_attempt_time_s": 30.0}, r"pcm.drift_attempt_time_s\(=30.0\) must be < pcm.t0_s\(=20.0\)"),
        (
            {"drift_temperature_ref_c": 300.0},
            r"pcm.drift_temperature_ref_c\(=300.0\) must be in \[-55, 150\]",
        ),
        ({"drift_temperature_ref_c": math.nan}, r"pcm.drift_temperature_ref_c\(=nan\)"),
    ],
)
def test_pcm_temperature_keys_are_checked(change: dict[str, float], fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment):
        PCMSpec(**change)  # type: ignore[arg-type]
