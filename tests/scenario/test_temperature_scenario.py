"""A scenario's chip temperature: the [temperature] table, its checks, the cells' drift-equivalent ages and
the bit-identical reference temperature; the every_factor schedule."""

from __future__ import annotations

import dataclasses
import doctest
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch import nn

import chiptwin as ct
from chiptwin.cli import main
from chiptwin.device.temperature import TemperatureHistory, drift_age_s
from chiptwin.errors import SpecError
from chiptwin.scenario import PolicySpec, ScenarioSpec, WorkloadSpec, load_scenario, schedule
from chiptwin.scenario.cell import COMPENSATE, PROBE
from chiptwin.scenario.spec import TileFailureSpec, scenario_chip
from chiptwin.scenario.temperature import read_temperature_series, temperature_history
from chiptwin.shipped import resolve
from chiptwin.spec import temperature as temperature_spec
from chiptwin.spec.faults import FaultSpec
from chiptwin.spec.temperature import DAILY_STEP_S, TemperatureSpec, describe_temperature

S = 1_000_000_000
DAY = 86_400.0


# ---- the [temperature] table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"kind": "weather"}, "temperature.kind(='weather') must be one of"),
        ({"celsius": 200.0}, "temperature.celsius(=200.0) must be a number in [-55, 150] °C"),
        ({"celsius": True}, "temperature.celsius(=True)"),
        ({}, "kind 'constant' needs celsius"),
        ({"celsius": 25.0, "mean_c": 30.0}, "temperature.mean_c(=30.0) is not a key of kind 'constant'"),
        ({"kind": "steps", "steps": []}, "non-empty array"),
        ({"kind": "steps", "steps": [[5.0, 25.0]]}, "temperature.steps[0] from_s(=5.0) must be 0"),
        (
            {"kind": "steps", "steps": [[0, 25.0], [10, 30.0], [10, 40.0]]},
            "steps[2] from_s(=10) must be after",
        ),
        ({"kind": "steps", "steps": [[0, 25.0], [10, 300.0]]}, "temperature.steps[1] celsius(=300.0)"),
        ({"kind": "steps", "steps": [[0, 25.0, 1.0]]}, "must be a pair [from_s, celsius]"),
        ({"kind": "steps", "steps": [[-1.0, 25.0]]}, "from_s(=-1.0) must be a number >= 0"),
        ({"kind": "daily", "mean_c": 40.0}, "kind 'daily' needs amplitude_c"),
        ({"kind": "daily", "mean_c": 100.0, "amplitude_c": 60.0}, "mean_c +/- amplitude_c (=100 +/- 60 °C)"),
        (
            {"kind": "daily", "mean_c": 40.0, "amplitude_c": -1.0},
            "temperature.amplitude_c(=-1.0) must be >= 0",
        ),
        (
            {"kind": "daily", "mean_c": 40.0, "amplitude_c": 5.0, "peak_s": DAY},
            "temperature.peak_s(=86400.0)",
        ),
        ({"kind": "series", "file": ""}, "temperature.file(='') must be a Parquet file path"),
    ],
)
def test_bad_temperature(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(SpecError) as err:
        TemperatureSpec(**kwargs)  # type: ignore[arg-type]
    assert fragment in str(err.value)


def test_each_kind_becomes_a_history() -> None:
    constant = temperature_history(TemperatureSpec(celsius=55.0))
    assert constant.celsius_at(0.0) == constant.celsius_at(1e9) == 55.0
    steps = TemperatureSpec(kind="steps", steps=[[0, 25.0], [3600, 85.0]])  # type: ignore[arg-type]
    assert steps.steps == ((0.0, 25.0), (3600.0, 85.0))
    history = temperature_history(steps)
    assert (history.celsius_at(3599.0), history.celsius_at(3600.0), history.celsius_at(1e8)) == (
        25.0,
        85.0,
        85.0,
    )
    daily = temperature_history(TemperatureSpec(kind="daily", mean_c=40.0, amplitude_c=15.0, peak_s=0.0))
    assert daily.period_s == DAY and len(daily.starts_s) == DAY / DAILY_STEP_S
    # 10-minute steps at their midpoint value: the first is 40 + 15 cos(2 pi 300 / 86400).
    assert math.isclose(daily.celsius_at(10.0), 40.0 + 15.0 * math.cos(2 * math.pi * 300.0 / DAY))
    assert daily.celsius_at(DAY / 2 + 10.0) < 25.1 and daily.celsius_at(3 * DAY + 10.0) > 54.9


def test_descriptions() -> None:
    assert doctest.testmod(temperature_spec).failed == 0
    assert describe_temperature(None, 25.0) == "chip temperature: the device model's reference (25 °C)"
    assert describe_temperature(TemperatureSpec(celsius=85.0)) == "chip temperature 85 °C"
    steps = TemperatureSpec(kind="steps", steps=((0.0, 25.0), (60.0, 85.0)))
    assert describe_temperature(steps) == "chip temperature 25 °C from 0 s, 85 °C from 60 s"
    assert describe_temperature(TemperatureSpec(kind="series", file="t.parquet")).endswith("from t.parquet")


def _scenario_file(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "hot.toml"
    path.write_text(f'name = "hot"\nprobes_s = [60.0, 3600.0]\n{table}\n')
    return path


def test_scenario_files_take_a_temperature_table(tmp_path: Path) -> None:
    spec = load_scenario(
        _scenario_file(tmp_path, '[temperature]\nkind = "steps"\nsteps = [[0, 25], [600, 85]]')
    )
    assert spec.temperature == TemperatureSpec(kind="steps", steps=((0.0, 25.0), (600.0, 85.0)))
    assert spec.to_dict()["temperature"]["steps"] == [[0.0, 25.0], [600.0, 85.0]]
    with pytest.raises(SpecError, match=r"hot.toml: unknown key temperature.'celcius'"):
        load_scenario(_scenario_file(tmp_path, "[temperature]\ncelcius = 25.0"))
    with pytest.raises(SpecError, match=r"hot.toml: temperature.celsius\(=999\) must be a number in"):
        load_scenario(_scenario_file(tmp_path, "[temperature]\ncelsius = 999"))


# ---- a replayed series -----------------------------------------------------------------------------------


def _series(path: Path, **columns: list[object]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def test_a_series_file_is_read_and_held(tmp_path: Path) -> None:
    path = _series(
        tmp_path / "t.parquet", time_s=[0, 600.0, 1200.0], temperature_c=[30.0, 60.0, 45.0], x=[1, 2, 3]
    )
    times, celsius = read_temperature_series(path)
    assert times.tolist() == [0.0, 600.0, 1200.0] and celsius.tolist() == [30.0, 60.0, 45.0]
    history = temperature_history(TemperatureSpec(kind="series", file=str(path)))
    assert history.celsius_at(599.0) == 30.0 and history.celsius_at(1e6) == 45.0


@pytest.mark.parametrize(
    ("columns", "fragment"),
    [
        ({"time_s": [0.0, 1.0]}, "no column 'temperature_c'"),
        (
            {"time_s": [0.0, 1.0], "temperature_c": [25.0, None]},
            "column 'temperature_c' row 2 is empty (null)",  # rows count from 1
        ),
        ({"time_s": [0.0, 1.0], "temperature_c": [25.0, math.nan]}, "column 'temperature_c' row 2 is nan"),
        ({"time_s": [1.0, 2.0], "temperature_c": [25.0, 30.0]}, "column 'time_s' row 1 is 1.0, must be 0"),
        (
            {"time_s": [0.0, 5.0, 5.0], "temperature_c": [25.0, 30.0, 31.0]},
            "'time_s' row 3 is 5.0, must be after row 2",
        ),
        (
            {"time_s": [0.0, 5.0], "temperature_c": [25.0, 151.0]},
            "'temperature_c' row 2 is 151.0, must be in",
        ),
        ({"time_s": [0.0], "temperature_c": ["hot"]}, "column 'temperature_c' is string, must hold numbers"),
        ({"time_s": pa.array([], pa.float64()), "temperature_c": pa.array([], pa.float64())}, "no rows"),
    ],
)
def test_a_bad_series_is_one_line_naming_file_column_row(
    tmp_path: Path, columns: dict[str, list[object]], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _series(tmp_path / "bad.parquet", **columns)
    with pytest.raises(SpecError) as err:
        read_temperature_series(path)
    assert str(err.value).startswith(str(path)) and fragment in str(err.value)
    # The command line: one line, exit code 2, nothing written.
    toml = _scenario_file(tmp_path, f'[temperature]\nkind = "series"\nfile = "{path}"')
    assert main(["run", str(toml), "--out", str(tmp_path / "out")]) == 2
    printed = capsys.readouterr().err
    assert fragment in printed and printed.count("\n") == 1 and not (tmp_path / "out").exists()


def test_a_missing_or_broken_series_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nope\.parquet: temperature file not found"):
        read_temperature_series(tmp_path / "nope.parquet")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(SpecError, match=r"junk\.parquet: cannot read Parquet temperature file"):
        read_temperature_series(tmp_path / "junk.parquet")


# ---- what a chip can run at ------------------------------------------------------------------------------


def test_a_temperature_needs_a_device_model_with_a_law() -> None:
    hot = TemperatureSpec(celsius=85.0)
    with pytest.raises(
        SpecError, match=r"rram_64.toml: device model 'rram_cmo_falcone2025' has no temperature law"
    ):
        scenario_chip(ScenarioSpec(name="r", arch="rram_64", temperature=hot))
    with pytest.raises(SpecError, match="stuck_arrival_per_day"):
        scenario_chip(ScenarioSpec(name="f", temperature=hot, faults=FaultSpec(stuck_arrival_per_day=0.01)))
    repaired = TileFailureSpec(tile=3, at_s=10.0, recover_after_s=10.0)
    with pytest.raises(SpecError, match="recover_after_s with a"):
        scenario_chip(ScenarioSpec(name="t", temperature=hot, tile_failure=repaired))
    # At the reference temperature all of them run, as without a temperature.
    at_reference = TemperatureSpec(celsius=25.0)
    scenario_chip(
        ScenarioSpec(name="f", temperature=at_reference, faults=FaultSpec(stuck_arrival_per_day=0.01))
    )
    scenario_chip(ScenarioSpec(name="t", temperature=at_reference, tile_failure=repaired))


# ---- compensation whenever the age has grown by a factor --------------------------------------------------


def test_every_factor_passes_follow_log_time() -> None:
    policy = PolicySpec(name="x2", compensation="gdc", every_factor=2.0)
    assert schedule(policy, (100.0, 200.0), t0_s=20.0) == [
        (40 * S, COMPENSATE),
        (80 * S, COMPENSATE),
        (100 * S, PROBE),
        (160 * S, COMPENSATE),
        (200 * S, PROBE),
    ]
    assert [t for t, a in schedule(policy, (19.0,), t0_s=20.0) if a == COMPENSATE] == []
    with pytest.raises(SpecError, match="every_factor needs the device model's t0_s"):
        schedule(policy, (100.0,))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"every_factor": 1.0}, "every_factor(=1.0) must be a number in [1.001, 1000]"),
        ({"every_factor": 2.0, "every_s": 60.0}, "give one of every, every_s and every_factor"),
        ({"every_factor": 2.0, "reprogram_after_s": 60.0}, "give it or reprogram_after_s"),
    ],
)
def test_bad_every_factor(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(SpecError) as err:
        PolicySpec(name="p", compensation="gdc", **kwargs)  # type: ignore[arg-type]
    assert fragment in str(err.value)


def test_factor_passes_stay_bounded_for_any_t0() -> None:
    # every_factor >= 1.001 bounds the passes for any t0 and run: t0 = 1e-300 s to 100 years is
    # (ln(3.15e9) - ln(1e-300)) / ln(1.001) = 713,000 passes, below chiptwin.limits.MAX_COMPENSATION_PASSES.
    policy = PolicySpec(name="p", compensation="gdc", every_factor=1.001)
    passes = [t for t, a in schedule(policy, (3.15e9,), t0_s=1e-300) if a == COMPENSATE]
    assert 700_000 < len(passes) < 1_000_000


# ---- cells at a temperature ------------------------------------------------------------------------------


def _tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 32 * 32, 10)
    ).eval()


TINY = ScenarioSpec(
    name="tiny",
    arch="joshi2020",
    checkpoints=("tiny",),
    policies=(PolicySpec(name="none"), PolicySpec(name="gdc", compensation="gdc", every_factor=10.0)),
    probes_s=(10.0, 300.0, 3600.0),
    n_images=20,
    n_adabs=20,
    n_range_calibration=20,
    batch_size=20,
    workload=WorkloadSpec(kind="periodic", rate_per_s=0.01),
)


def _probes(spec: ScenarioSpec, out: Path) -> list[dict[str, object]]:
    ct.run_scenario(spec, out, progress=False, models={"tiny": _tiny_model()})
    return ct.read_table(out, "probes").to_pylist()


@pytest.mark.slow
def test_the_reference_temperature_is_bit_identical_and_heat_ages(tmp_path: Path) -> None:
    plain = _probes(TINY, tmp_path / "plain")
    assert [p["temperature_c"] for p in plain] == [25.0] * 6
    assert all(p["drift_age_s"] == p["age_s"] for p in plain)
    steps = TemperatureSpec(kind="steps", steps=((0.0, 25.0), (100.0, 25.0)))
    for i, temperature in enumerate((TemperatureSpec(celsius=25.0), steps)):
        same = _probes(dataclasses.replace(TINY, temperature=temperature), tmp_path / f"same{i}")
        assert same == plain
    hot = _probes(dataclasses.replace(TINY, temperature=TemperatureSpec(celsius=85.0)), tmp_path / "hot")
    # Held at 85 °C: t_eq = t0 (age / t0)^(T / T_ref); the 10 s probe is before t0, no drift yet.
    expected = [10.0, 20.0 * 15.0 ** (358.15 / 298.15), 20.0 * 180.0 ** (358.15 / 298.15)]
    for policy in ("none", "gdc"):
        rows = [p for p in hot if p["policy"] == policy]
        assert [p["age_s"] for p in rows] == [10.0, 300.0, 3600.0]
        assert [p["temperature_c"] for p in rows] == [85.0] * 3
        assert all(
            math.isclose(p["drift_age_s"], e, rel_tol=1e-9) for p, e in zip(rows, expected, strict=True)
        )
    # every_factor = 10 from t0 = 20 s: passes at 200 s and 2000 s.
    assert [p["compensations"] for p in hot if p["policy"] == "gdc"] == [0, 1, 2]


def test_the_reference_temperature_leaves_a_programmed_chip_bit_identical() -> None:
    model, chip_spec = _tiny_model(), ct.load_chip("joshi2020")
    images = torch.randn(8, 1, 32, 32)
    chips = [ct.program(model, chip_spec, images, seed=4) for _ in range(2)]
    history = TemperatureHistory(starts_s=np.array([0.0, 50.0]), celsius=np.array([25.0, 25.0]))
    for age in (20.0, 61.7, 3600.0, DAY + 0.25):
        chips[0].set_age(age)
        chips[1].set_age(drift_age_s(history, 0.0, age, chip_spec.device))  # type: ignore[arg-type]
        assert torch.equal(chips[0](images), chips[1](images))


def test_the_shipped_daily_cycle_file_loads_and_checks() -> None:
    spec = load_scenario(resolve("scenarios", "daily_cycle"))
    assert spec.temperature == TemperatureSpec(kind="daily", mean_c=40.0, amplitude_c=15.0, peak_s=50_400.0)
    assert [p.every_factor for p in spec.policies] == [None, 1.5]
    scenario_chip(spec)
    history = temperature_history(spec.temperature)  # type: ignore[arg-type]
    assert history.celsius_at(14 * 3600.0) > 54.9 and history.celsius_at(2 * 3600.0) < 25.1
