"""Fitting the pcm_joshi2020 laws to reads (issue 17, section 2): round trips through the model's own draws.

A fit of reads drawn from the model must give back the coefficients they were drawn with. Its standard
errors are the yardstick: on 12,000 devices (1,000 per target) each coefficient is known to 0.1-10 %, so
each must lie within 4 standard errors of the truth (a 6e-5 chance per coefficient for an honest
estimator; the draws are seeded, so the test is deterministic). ``bench/fit_device_roundtrip.py`` measures
the errors at 10^5 and 10^6 devices.
"""

from __future__ import annotations

import dataclasses
import doctest
import math

import numpy as np
import pytest
import torch

from chiptwin.device import measurements, pcm_fit
from chiptwin.device.measurements import DeviceMeasurements, check_measurements
from chiptwin.device.pcm_fit import FITTED, MIN_DEVICES_PER_CELL, PCMFit, fit_pcm
from chiptwin.device.pcm_synthetic import SYNTHETIC_TARGETS_NORM, synthesize_pcm_measurements
from chiptwin.errors import DataError, DeviceError
from chiptwin.spec.pcm import PCMSpec

DEVICES = 12_000


def _draw(spec: PCMSpec, devices: int = DEVICES, seed: int = 0, **design: object) -> DeviceMeasurements:
    return synthesize_pcm_measurements(spec, devices, torch.Generator().manual_seed(seed), **design)  # type: ignore[arg-type]


def _z_scores(fit: PCMFit, truth: PCMSpec) -> dict[str, float]:
    return {c.name: (c.value - getattr(truth, c.name)) / c.std_error for c in fit.coefficients if c.fitted}


def test_a_round_trip_gives_back_the_published_coefficients() -> None:
    fit = fit_pcm(_draw(PCMSpec()))
    z = _z_scores(fit, PCMSpec())
    assert len(z) >= len(FITTED) - 1, [c for c in fit.coefficients if not c.fitted]
    assert all(abs(v) < 4 for v in z.values()), z
    # The laws hold, so the minimum is a chi-squared draw of `dof` degrees of freedom (sd sqrt(2 dof)).
    assert abs(fit.chi_squared - fit.dof) < 4 * math.sqrt(2 * fit.dof)
    # The well-determined coefficients, to the few % that 1,000 devices per target allow.
    for c in fit.coefficients:
        if c.name in ("prog_noise_c0_usiemens", "drift_mu_min", "drift_sigma_min", "read_noise_qs_exponent"):
            assert c.value == pytest.approx(c.published, rel=0.05), c
    assert fit.spec.g_max_usiemens == 25.0 and fit.spec.t0_s == 20.0
    assert {law.quantity.split(",")[0] for law in fit.laws} == {
        "programming noise std",
        "drift exponent mean",
        "drift exponent spread",
        "read noise Q_s",
    }
    assert all(law.r_squared > 0.9 for law in fit.laws), [law.r_squared for law in fit.laws]


def test_a_device_unlike_the_published_one_is_found() -> None:
    # Every law changed by 20-60 %: the fit must leave the published start and land on the truth.
    truth = dataclasses.replace(
        PCMSpec(),
        g_max_usiemens=40.0,
        prog_noise_c0_usiemens=0.4,
        prog_noise_c1_usiemens=1.5,
        prog_noise_c2_usiemens=-0.6,
        drift_mu_slope=-0.02,
        drift_mu_offset=0.02,
        drift_mu_min=0.06,
        drift_mu_max=0.12,
        drift_sigma_slope=-0.01,
        drift_sigma_offset=-0.002,
        drift_sigma_min=0.012,
        drift_sigma_max=0.035,
        read_noise_qs_coeff=0.012,
        read_noise_qs_exponent=0.5,
        read_noise_qs_max=0.15,
    )
    fit = fit_pcm(_draw(truth, devices=9_000, seed=3))
    z = _z_scores(fit, truth)
    assert len(z) >= len(FITTED) - 2, [c for c in fit.coefficients if not c.fitted]
    assert all(abs(v) < 4 for v in z.values()), z
    assert fit.spec.g_max_usiemens == 40.0
    moved = {c.name for c in fit.coefficients if c.fitted and abs(c.value - c.published) > 10 * c.std_error}
    assert {"prog_noise_c0_usiemens", "drift_mu_min", "read_noise_qs_exponent"} <= moved


def test_a_clamp_no_target_reaches_keeps_its_published_value() -> None:
    # Targets from 0.2 g_max up: the drift mean's upper clamp (below 0.0076 g_max) and Q_s's (below
    # 0.0082 g_max) act on no device, so nothing measures them.
    fit = fit_pcm(_draw(PCMSpec(), devices=6_000, targets_norm=(0.2, 0.3, 0.45, 0.6, 0.8, 1.0)))
    kept = {c.name: c for c in fit.coefficients if not c.fitted}
    assert {"drift_mu_max", "read_noise_qs_max"} <= set(kept)
    assert all(c.value == c.published and c.reason for c in kept.values())
    assert all(math.isnan(c.std_error) for c in kept.values())


def test_the_folded_normal_transform_matches_draws() -> None:
    # E[exp(-lam |X|)], X ~ N(mu, sd): the closed form against 10^6 draws (sd of the mean < 0.1 %).
    mu, sd, lam = 0.02, 0.04, 8.0
    x = np.abs(np.random.default_rng(0).normal(mu, sd, 1_000_000))
    drawn = np.exp(-lam * x).mean()
    exact = pcm_fit._folded_mgf(torch.tensor([[lam]]), torch.tensor([mu]), torch.tensor([sd]))
    assert float(exact) == pytest.approx(drawn, rel=2e-3)
    assert float(pcm_fit._folded_mgf(torch.tensor([[0.0]]), torch.tensor([mu]), torch.tensor([sd]))) == 1.0


def test_the_measurement_temperature_becomes_the_drift_reference() -> None:
    m = _draw(PCMSpec(), devices=3_000)
    hot = dataclasses.replace(m, temperature_c=np.full(m.rows, 85.0))
    fit = fit_pcm(hot)
    assert fit.temperature_c == 85.0 and fit.spec.drift_temperature_ref_c == 85.0


# ---- designs a fit cannot use, and reads no device gives --------------------------------------------------


def _small() -> DeviceMeasurements:
    """Three targets, 5 devices more than the fewest per target and time, read twice at 20 s and 1 h."""
    return _draw(
        PCMSpec(),
        devices=3 * (MIN_DEVICES_PER_CELL + 5),
        targets_norm=(0.2, 0.5, 1.0),
        times_s=(20.0, 3600.0),
        reads_per_time=2,
    )


def _edited(m: DeviceMeasurements, **columns: np.ndarray) -> DeviceMeasurements:
    return dataclasses.replace(m, source="meas.csv", **columns)


def test_the_small_design_fits() -> None:
    fit_pcm(_small())


def _rows_except(m: DeviceMeasurements, keep: np.ndarray) -> DeviceMeasurements:
    return _edited(
        m,
        device=m.device[keep],
        g_target_usiemens=m.g_target_usiemens[keep],
        t_s=m.t_s[keep],
        g_usiemens=m.g_usiemens[keep],
    )


def _one_target(m: DeviceMeasurements) -> DeviceMeasurements:
    return _edited(m, g_target_usiemens=np.full(m.rows, 12.5))


def _read_once(m: DeviceMeasurements) -> DeviceMeasurements:
    keep = np.ones(m.rows, dtype=bool)
    keep[np.flatnonzero((m.device == 7) & (m.t_s == 3600.0))[0]] = False
    return _rows_except(m, keep)


def _one_time(m: DeviceMeasurements) -> DeviceMeasurements:
    return _rows_except(m, ~((m.device == 7) & (m.t_s == 3600.0)))


def _no_t0_read(m: DeviceMeasurements) -> DeviceMeasurements:
    t = m.t_s.copy()
    t[m.device == 7] *= 2  # read at 40 s and 2 h
    return _edited(m, t_s=t)


def _thin_target(m: DeviceMeasurements) -> DeviceMeasurements:
    # A fourth target given to 5 devices of the first (which keeps the fewest it may have).
    target = m.g_target_usiemens.copy()
    target[(m.device % 3 == 0) & (m.device < 15)] = 7.0
    return _edited(m, g_target_usiemens=target)


def _first_read_at_zero(m: DeviceMeasurements) -> DeviceMeasurements:
    t = m.t_s.copy()
    t[t == 20.0] = 0.0
    return _edited(m, t_s=t)


def _nan_read(m: DeviceMeasurements) -> DeviceMeasurements:
    g = m.g_usiemens.copy()
    g[41] = math.nan
    return _edited(m, g_usiemens=g)


def _negative_time(m: DeviceMeasurements) -> DeviceMeasurements:
    t = m.t_s.copy()
    t[9] = -5.0
    return _edited(m, t_s=t)


def _two_targets(m: DeviceMeasurements) -> DeviceMeasurements:
    target = m.g_target_usiemens.copy()
    row = np.flatnonzero(m.device == 4)[1]
    target[row] = 1.0
    return _edited(m, g_target_usiemens=target)


def _in_siemens(m: DeviceMeasurements) -> DeviceMeasurements:
    return _edited(m, g_target_usiemens=m.g_target_usiemens * 1e6)


def _two_temperatures(m: DeviceMeasurements) -> DeviceMeasurements:
    temperature = np.full(m.rows, 25.0)
    temperature[100:] = 85.0
    return _edited(m, temperature_c=temperature)


def _dead_target(m: DeviceMeasurements) -> DeviceMeasurements:
    g = m.g_usiemens.copy()
    g[m.g_target_usiemens == 5.0] = 0.0
    return _edited(m, g_usiemens=g)


def _dead_at_a_day(m: DeviceMeasurements) -> DeviceMeasurements:
    g = m.g_usiemens.copy()
    g[(m.g_target_usiemens == 5.0) & (m.t_s == 3600.0)] = 0.0
    return _edited(m, g_usiemens=g)


def _no_rows(m: DeviceMeasurements) -> DeviceMeasurements:
    return _rows_except(m, np.zeros(m.rows, dtype=bool))


BAD_DESIGNS = {
    "one_target": (_one_target, ["meas.csv: column g_target_usiemens: 1 target(s) (12.5 µS)", ">= 3"]),
    "read_once": (_read_once, ["meas.csv: row ", "device 7 is read once at t_s(=3600.0)", ">= 2 reads"]),
    "one_time": (_one_time, ["meas.csv: row 8: device 7 is read at one time only", "(column t_s)"]),
    "no_t0_read": (_no_t0_read, ["meas.csv: row 8: device 7 has no read at t0 = 20 s"]),
    "thin_target": (_thin_target, ["target 7 µS has 5 device(s) at t_s ≈ 20", f">= {MIN_DEVICES_PER_CELL}"]),
    "read_at_zero": (_first_read_at_zero, ["meas.csv: row 1: the earliest read is at t_s(=0.0)", "--t0-s"]),
    "nan_read": (_nan_read, ["meas.csv: row 42: g_usiemens(=nan) must be a number in [0, 10000] µS"]),
    "negative_time": (_negative_time, ["meas.csv: row 10: t_s(=-5.0) must be a number in [0, 100 y] s"]),
    "two_targets": (_two_targets, ["meas.csv: row 80: g_target_usiemens(=1.0) differs", "device 4 "]),
    "in_siemens": (_in_siemens, ["meas.csv: row 1: g_target_usiemens(=5000000.0", "(0, 10000] µS"]),
    "two_temperatures": (_two_temperatures, ["meas.csv: row 101: temperature_c(=85.0) differs from row 1"]),
    "no_rows": (_no_rows, ["meas.csv: no reads"]),
    "dead_target": (
        _dead_target,
        ["meas.csv: column g_usiemens: the reads of target 5 µS at t_s ≈ 20 carry no"],
    ),
    "dead_later": (_dead_at_a_day, ["the reads of target 5 µS at t_s ≈ 3600 carry no signal"]),
}


@pytest.mark.parametrize("name", sorted(BAD_DESIGNS))
def test_a_design_or_read_the_fit_cannot_use_is_named(name: str) -> None:
    edit, expect = BAD_DESIGNS[name]
    with pytest.raises(DataError) as info:
        fit_pcm(edit(_small()))
    message = str(info.value)
    assert "\n" not in message
    assert all(fragment in message for fragment in expect), message


def test_check_measurements_accepts_what_the_model_draws() -> None:
    check_measurements(_small())
    assert doctest.testmod(measurements).failed == 0


def test_synthesis_refuses_impossible_designs() -> None:
    with pytest.raises(DeviceError, match="targets_norm"):
        _draw(PCMSpec(), devices=10, targets_norm=(0.5, 1.5))
    with pytest.raises(DeviceError, match="times_s"):
        _draw(PCMSpec(), devices=10, times_s=(-1.0,))
    with pytest.raises(DeviceError, match="devices"):
        _draw(PCMSpec(), devices=0)


def test_synthesis_follows_the_documented_layout() -> None:
    m = _draw(PCMSpec(), devices=24, times_s=(20.0, 60.0), reads_per_time=3)
    assert m.rows == 24 * 2 * 3 and m.devices == 24
    assert np.array_equal(m.device[:24], np.arange(24))
    assert np.array_equal(m.t_s, np.repeat([20.0, 60.0], 72))
    assert np.array_equal(m.g_target_usiemens[:24], np.array(SYNTHETIC_TARGETS_NORM * 2) * 25.0)


def test_reads_a_little_apart_in_time_are_one_read_time() -> None:
    # A tester reads devices one after the other: times jittered by up to 1 % are merged (TIME_MERGE_RATIO).
    m = _draw(PCMSpec(), devices=4_800)
    jitter = 1 + 0.01 * np.random.default_rng(0).random(m.rows)
    fit = fit_pcm(dataclasses.replace(m, t_s=m.t_s * jitter))
    assert len(fit.times_s) == 4 and fit.spec.t0_s == pytest.approx(20.0, rel=1e-3)
    assert fit.times_s == pytest.approx([20.1, 301.5, 3618.0, 86832.0], rel=1e-3)  # the mean time of each
    z = _z_scores(fit, PCMSpec())
    assert len(z) >= len(FITTED) - 1 and all(abs(v) < 4 for v in z.values()), z


def test_a_numerical_failure_is_a_data_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise torch.linalg.LinAlgError("linalg.eigh: The algorithm failed to converge")

    monkeypatch.setattr(pcm_fit, "_standard_errors", fail)
    with pytest.raises(
        DataError, match=r"^meas.csv: the laws cannot be fitted to these reads .*'drift_mu_min'"
    ):
        fit_pcm(_edited(_small()))
