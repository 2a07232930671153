"""CMO/HfOx ReRAM physics: seeded moments against the published laws (Falcone 2025, Lombardo 2024).

Moments use 10^6 devices (a std estimate good to ~0.07 %, a mean to ~0.001 std); the tolerances below are
well above sampling error. Expected values are computed here from the published constants (chiptwin.spec.rram
docstrings), not by calling the code under test.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from chiptwin.cli.summary import summarise_array
from chiptwin.device import DeviceState, noise_model
from chiptwin.device.rram import program, read, relax
from chiptwin.errors import DeviceError, SpecError
from chiptwin.shipped import shipped_dir
from chiptwin.spec.load import apply_overrides, load_chip
from chiptwin.spec.rram import RRAMSpec
from chiptwin.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_YEAR

N = 1_000_000
SPEC = RRAMSpec()
ARCH = shipped_dir("architectures")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def full(value: float, n: int = N) -> torch.Tensor:
    return torch.full((n,), value, dtype=torch.float32)


@pytest.mark.parametrize("g_target", [8.0, 30.0, 60.0, 90.0])
def test_programming_noise_std_is_linear_in_the_target(g_target: float) -> None:
    # Falcone 2025, 2 % acceptance range: sigma = 11.218 nS + 11.2902 nS/µS x G_T.
    expected = 0.011218 + 0.0112902 * g_target
    state = program(full(g_target), SPEC, gen(1))
    error = state.g_prog_usiemens.double() - g_target
    assert error.std().item() == pytest.approx(expected, rel=0.005)
    assert abs(error.mean().item()) < 5 * expected / math.sqrt(N)
    assert state.drift_coeff.double().std().item() == pytest.approx(1.0, rel=0.005)  # the relaxation deviate


@pytest.mark.parametrize("age_s", [SECONDS_PER_HOUR, SECONDS_PER_DAY, SECONDS_PER_YEAR])
def test_relaxation_mean_and_spread_follow_log_time(age_s: float) -> None:
    # Falcone 2025: mean G_p - 0.089 ln(t / 1 s), spread 0.042 ln(t / 1 s) + 0.4118 µS, any target.
    log_t = math.log(age_s)
    for g_target in (20.0, 70.0):
        state = program(full(g_target), SPEC, gen(2))
        change = relax(state, age_s, SPEC).double() - state.g_prog_usiemens.double()
        assert change.mean().item() == pytest.approx(-0.089 * log_t, abs=0.003)
        assert change.std().item() == pytest.approx(0.042 * log_t + 0.4118, rel=0.005)


def test_relaxation_is_one_trajectory_per_device_and_clamped_before_t0() -> None:
    state = program(full(50.0, 10_000), SPEC, gen(3))
    hour = relax(state, SECONDS_PER_HOUR, SPEC) - state.g_prog_usiemens
    year = relax(state, SECONDS_PER_YEAR, SPEC) - state.g_prog_usiemens
    # The deviate is drawn once: a device's change at one year is an affine map of its change at one hour.
    assert torch.corrcoef(torch.stack([hour, year]))[0, 1].item() > 0.9999
    # At t0 = 1 s, ln t = 0: the programmed conductance plus the 0.4118 µS spread of the first second.
    at_t0 = relax(state, SPEC.t0_s, SPEC)
    torch.testing.assert_close(at_t0, state.g_prog_usiemens + 0.4118 * state.drift_coeff)
    assert torch.equal(relax(state, 0.0, SPEC), at_t0)
    offset = RRAMSpec(age_convention="offset")
    torch.testing.assert_close(relax(state, 9.0, offset), relax(state, 10.0, SPEC))
    ages = torch.tensor([0.0, SECONDS_PER_HOUR]).unsqueeze(1)
    torch.testing.assert_close(relax(state, ages, SPEC)[1], relax(state, SECONDS_PER_HOUR, SPEC))


@pytest.mark.parametrize(("g_usiemens", "age_s"), [(50.0, 10.0), (50.0, SECONDS_PER_DAY), (85.0, 10.0)])
def test_read_noise_std_matches_lombardo2024(g_usiemens: float, age_s: float) -> None:
    # sigma = 0.0277 µS x log10(G / 1 µS) x sqrt(ln((t + 1 µs) / 2 µs)), a fresh draw per read.
    state = DeviceState(g_prog_usiemens=full(g_usiemens), drift_coeff=torch.zeros(N))
    g_now = relax(state, age_s, SPEC).double()
    expected = 0.0277 * math.log10(g_now[0].item()) * math.sqrt(math.log((age_s + 1e-6) / 2e-6))
    first = read(state, age_s, SPEC, gen(4)).double()
    second = read(state, age_s, SPEC, gen(5)).double()
    assert (first - g_now).std().item() == pytest.approx(expected, rel=0.005)
    assert abs((first - g_now).mean().item()) < 5 * expected / math.sqrt(N)
    assert not torch.equal(first, second)


def test_read_noise_is_held_below_the_fitted_range() -> None:
    low = DeviceState(g_prog_usiemens=full(2.0), drift_coeff=torch.zeros(N))
    at_floor = DeviceState(g_prog_usiemens=full(8.0), drift_coeff=torch.zeros(N))
    # At t0 = 1 s the mean relaxation is 0, so G(t) = G_p and sigma uses max(G, 8 µS).
    sd_low = (read(low, 1.0, SPEC, gen(6)).double() - 2.0).std().item()
    sd_floor = (read(at_floor, 1.0, SPEC, gen(6)).double() - 8.0).std().item()
    assert sd_low == pytest.approx(sd_floor, rel=0.01)


def test_conductances_are_never_negative() -> None:
    state = program(full(0.0), RRAMSpec(relax_std_offset_usiemens=5.0), gen(7))
    assert bool((state.g_prog_usiemens >= 0).all())
    spec = RRAMSpec(relax_std_offset_usiemens=5.0)
    assert bool((relax(state, SECONDS_PER_YEAR, spec) >= 0).all())
    assert bool((read(state, SECONDS_PER_YEAR, spec, gen(8)) >= 0).all())


def test_bad_ages_are_refused() -> None:
    state = program(full(50.0, 4), SPEC, gen())
    with pytest.raises(DeviceError, match=r"age_s\(=-1.0\) must be >= 0 s"):
        relax(state, -1.0, SPEC)
    with pytest.raises(DeviceError, match=r"age_s\(=nan\) must be >= 0 s"):
        read(state, float("nan"), SPEC, gen())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"g_min_usiemens": 90.0}, r"rram.g_min_usiemens\(=90.0\) must be < rram.g_max_usiemens\(=90.0\)"),
        ({"t_read_s": 0.0}, r"rram.t_read_s\(=0.0\) must be > 0"),
        ({"prog_noise_c1": -0.1}, r"rram.prog_noise_c1\(=-0.1\) must be >= 0"),
        ({"age_convention": "later"}, r"rram.age_convention\(='later'\) must be one of"),
    ],
)
def test_spec_refuses_non_physical_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        RRAMSpec(**kwargs)  # type: ignore[arg-type]


def test_rram_chip_programs_a_crossbar_within_the_window() -> None:
    chip = apply_overrides(
        load_chip(ARCH / "tiny_4.toml"), {"device.model": "rram_cmo_falcone2025"}, Path("test.toml")
    )
    assert type(noise_model(chip)).__name__ == "RRAMNoiseModel"
    results = summarise_array(chip, seed=3)
    assert results[0].age_s == 1.0
    # A differential pair cancels the mean relaxation: the weight error grows only with the spread.
    errors = [r.weight_error for r in results]
    assert errors == sorted(errors) and errors[0] < 0.03 and errors[-1] < 0.06
    drifts = [r.drift_factor for r in results]
    assert drifts == sorted(drifts, reverse=True) and drifts[-1] > 0.9
