"""The scenario scripts in ``scenarios/`` run end to end in their quick versions, and write traces.

Each takes 10-30 s of ResNet-32 on one core, so they are ``slow`` (``.ci/run`` runs them); the default
suite covers the same physics in smaller cells (``test_scenario_run.py``). Where a test asserts no
accuracy it probes fewer test images than the quick size (``--n-images``): the cells, probes,
compensation passes, traces and tables are the quick run's.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

from chiptwin.cli import main
from chiptwin.trace.reader import is_complete, read_table

SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "scenarios"


def _run_script(name: str, out: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> None:
    monkeypatch.setattr(sys, "argv", [name, "--quick", "--quiet", "--out", str(out), *extra])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(SCENARIOS_DIR / f"{name}.py"), run_name="__main__")
    assert done.value.code == 0


@pytest.mark.slow
def test_day_retention_quick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    _run_script("day_retention", tmp_path, monkeypatch, "--n-images", "50")
    printed = capsys.readouterr().out
    # The paper's own chip, named with what its numbers mean.
    assert "chip joshi2020: 2 pcm_joshi2020 devices per weight (columns), ideal DAC / ideal ADC" in printed
    assert "drift at max(age, t0 = 20 s)" in printed
    assert "resnet32_pcm_fmnist_fp" in printed and "resnet32_pcm_fmnist_hwa" in printed
    assert "gdc+adabs" in printed and "1 d" in printed
    assert is_complete(tmp_path)
    probes = read_table(tmp_path, "probes")
    assert probes.num_rows == 2 * 3 * 3  # checkpoints x policies x probes, one seed
    for png in ("accuracy.png", "energy.png", "tile_map.png"):
        assert (tmp_path / "report" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_compensation_period_quick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run_script("compensation_period", tmp_path, monkeypatch, "--n-images", "20")
    probes = read_table(tmp_path, "probes").to_pylist()
    periodic = [p for p in probes if p["policy"] == "every_6h"]
    # Passes at 6, 12, 18 and 24 h: probes every 2 h see the count of passes made so far.
    assert [p["compensations"] for p in periodic] == [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4]


@pytest.mark.slow
def test_tile_mapping_quick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    _run_script("tile_mapping", tmp_path, monkeypatch, "--n-images", "20")
    printed = capsys.readouterr().out
    for label in ("xbar128_adc6_dense", "xbar128_adc8_dense", "xbar256_adc6_dense", "xbar256_adc8_dense"):
        assert label in printed and is_complete(tmp_path / label)
    tiles = {
        label: read_table(tmp_path / label, "cells")["tiles_used"][0].as_py()
        for label in ("xbar128_adc8_dense", "xbar256_adc8_dense")
    }
    assert tiles["xbar128_adc8_dense"] > tiles["xbar256_adc8_dense"]  # smaller crossbars need more tiles


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["run", "nope"], "no scenario named 'nope'"),
        (["run", "missing.toml"], "missing.toml: scenario file not found"),
    ],
)
def test_run_bad_input_is_one_line(argv: list[str], fragment: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow
def test_faults_quick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run_script("faults", tmp_path, monkeypatch)
    stuck = {
        rate: read_table(tmp_path / f"stuck_{rate}", "probes")["accuracy"][0].as_py()
        for rate in ("0", "0.05")
    }
    assert stuck["0.05"] < stuck["0"]  # 5 % stuck devices cost accuracy even with GDC+AdaBS
    probes = read_table(tmp_path / "tile_failure", "probes").to_pylist()
    # 6 h: healthy; 12 h: tile 20 (one block of ResNet-32) just died; 14 h: repaired on a spare tile.
    # GDC leaves the dead block alone (it reads nothing: no reference / 0) and says so; the chip loses
    # one block's outputs, not its mind: accuracy stays far from chance (it was exactly 10 % when the
    # dead block's factor was inf and NaN spread through the network).
    assert [p["gdc_skipped_blocks"] for p in probes] == [0, 1, 0]
    accuracy = [p["accuracy"] for p in probes]
    assert all(a > 0.8 for a in accuracy)
    cells = read_table(tmp_path / "tile_failure", "cells").to_pylist()[0]
    healthy = read_table(tmp_path / "stuck_0", "cells").to_pylist()[0]
    # The repair is charged, in time as in energy; the dead tile's idle hours save array/ADC energy.
    assert cells["programming_energy_pj"] > healthy["programming_energy_pj"]
    assert cells["programming_ns"] > healthy["programming_ns"]
    assert cells["energy_adc_pj"] < healthy["energy_adc_pj"]
    events = read_table(tmp_path / "tile_failure", "events").to_pylist()
    repairs = [e for e in events if e["kind"] == "program" and e["time_ns"] == 14 * 3600 * 10**9]
    assert len(repairs) == 1 and repairs[0]["tile"] not in range(43)  # a spare tile, not a used one
    assert cells["programming_ns"] - healthy["programming_ns"] == repairs[0]["duration_ns"]


@pytest.mark.slow
def test_retention_temperature_quick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    _run_script("retention_temperature", tmp_path, monkeypatch, "--n-images", "20")
    printed = capsys.readouterr().out
    assert "chip temperature 85 °C" in printed and "within 1 point of digital" in printed
    for celsius, days in (("25", 1.0), ("55", 2.3217), ("85", 5.3902)):
        assert is_complete(tmp_path / f"{celsius}C") and is_complete(tmp_path / f"{celsius}C.periods")
        probes = read_table(tmp_path / f"{celsius}C", "probes").to_pylist()
        assert {p["policy"] for p in probes} == {"gdc", "gdc+adabs"}
        assert all(p["temperature_c"] == float(celsius) for p in probes)
        # Held at T from programming: a day drifts like t0 (1 d / t0)^(T / T_ref) at 25 °C.
        at_day = [p["drift_age_s"] for p in probes if p["age_s"] == 86_400.0]
        assert all(abs(a / 86_400.0 - days) < 1e-4 for a in at_day)
        assert any(line.lstrip().startswith(f"{celsius} °C") for line in printed.splitlines())
        periods = read_table(tmp_path / f"{celsius}C.periods", "probes").to_pylist()
        # every_factor = 2 from t0 = 20 s: passes at 40 s .. 81,920 s; probes 0.1 % before the first and last.
        assert [p["compensations"] for p in periods] == [0, 11]


@pytest.mark.slow
def test_model_retention_quick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run_script("model_retention", tmp_path, monkeypatch)
    probes = read_table(tmp_path, "probes").to_pylist()
    assert {p["checkpoint"] for p in probes} == {"vit4_fmnist_hwa", "resnet32_pcm_fmnist_hwa"}
    assert len(probes) == 2 * 2 * 2  # checkpoints x policies x probes, one seed
    accuracy = {(p["checkpoint"], p["policy"], p["age_s"]): p["accuracy"] for p in probes}
    # a day of drift: GDC keeps the transformer's accuracy, no compensation loses it (200 images)
    day = 86_400.0
    assert accuracy[("vit4_fmnist_hwa", "gdc", day)] > accuracy[("vit4_fmnist_hwa", "none", day)] + 0.2
