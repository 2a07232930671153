"""``chiptwin timing``: the HERMES calibration, a zoo network's summary, replays, and one-line errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chiptwin.cli import main
from chiptwin.cli.timing import (
    CALIBRATION_TOLERANCE,
    HERMES_MVM_TIME_NS,
    HERMES_PUBLISHED,
    HERMES_TOPS_PER_W,
    _calibrate_mode,
    mvm_stream_graph,
    parse_duration_ns,
)
from chiptwin.mapping import map_graph
from chiptwin.spec.chip import ChipSpec
from chiptwin.timing import ReplayWorkload, build_plan, simulate_events


def test_a_stream_of_full_mvms_reproduces_hermes(hermes: ChipSpec) -> None:
    graph = mvm_stream_graph(hermes)
    plan = build_plan(graph, map_graph(graph, hermes, "dense"), hermes)
    result = simulate_events(plan, ReplayWorkload(np.zeros(20, dtype=np.int64)), duration_ns=1)
    mvm_ns = result.interval_ns / 1024
    assert mvm_ns == pytest.approx(HERMES_MVM_TIME_NS, rel=0.10)
    assert result.tops_per_w_dynamic == pytest.approx(HERMES_TOPS_PER_W, rel=0.10)


def test_calibrate_checks_both_read_modes_from_one_set_of_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["timing", "--arch", "hermes_64", "--calibrate"]) == 0
    out = capsys.readouterr().out
    assert "one_phase (the file's mode): MVM 128.0 ns (1 phase)" in out
    assert "four_phase: MVM 512.0 ns (4 phases)" in out
    assert "OFF" not in out and out.count(" ok\n") == 6  # peak TOPS and two TOPS/W in each mode


@pytest.mark.parametrize("mode", ["one_phase", "four_phase"])
def test_each_read_mode_reproduces_hermes_within_10_percent(hermes: ChipSpec, mode: str) -> None:
    chip = dataclasses.replace(hermes, tiles=dataclasses.replace(hermes.tiles, read_mode=mode))
    mvm_ns, peak, dynamic, _, _ = _calibrate_mode(chip)
    tops, tops_w = HERMES_PUBLISHED[mode]
    assert peak == pytest.approx(tops, rel=CALIBRATION_TOLERANCE)
    assert dynamic == pytest.approx(tops_w, rel=CALIBRATION_TOLERANCE)
    assert mvm_ns == {"one_phase": 128.0, "four_phase": 512.0}[mode]


def test_resnet32_summary(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["timing", "--arch", "hermes_64", "--model", "resnet32_pcm", "--duration", "20ms", "--layers", "3"]
    assert main([*argv, "--policy", "gdc", "--period", "5ms"]) == 0
    out = capsys.readouterr().out
    assert "resnet32_pcm on hermes_64, strategy dense, mode events: 20 inferences" in out
    assert "bottleneck crossbar 0" in out
    assert "area        39.59 mm² (64 tiles); TOPS/mm² " in out
    for component in ("array", "dac", "adc", "noc", "digital.bn", "static", "compensation"):
        assert f"  {component} " in out
    assert "energy by layer (dynamic; 3 most costly of" in out
    assert "compensation gdc every 5ms (blocking): 3 GDC, 0 AdaBS passes" in out


def test_replay_from_csv_and_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "arrivals.csv"
    csv.write_text("arrival_ns\n0\n1000\n2000\n")
    parquet = tmp_path / "arrivals.parquet"
    pq.write_table(pa.table({"arrival_s": [0.0, 1e-6, 2e-6]}), parquet)
    for path in (csv, parquet):
        assert main(["timing", "--model", "resnet32_pcm", "--replay", str(path), "--layers", "1"]) == 0
        out = capsys.readouterr().out
        assert f"replay of {path}" in out
        assert ": 3 inferences" in out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--rate", "0"], "rate_per_s(=0.0) must be a finite number >= 3.17098e-10"),
        (["--duration", "5 parsecs"], "duration(='5 parsecs') must be a number and a unit"),
        (["--replay", "missing.csv"], "missing.csv: replay file not found"),
        (["--strategy", "magic"], "strategy(='magic') must be one of"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["timing", *argv]) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert err.count("\n") == 1


def test_parse_duration() -> None:
    assert parse_duration_ns("1s") == 1_000_000_000
    assert parse_duration_ns("2.5ms") == 2_500_000
    assert parse_duration_ns("1d") == 86_400 * 10**9
    assert parse_duration_ns("500µs") == parse_duration_ns("500us") == 500_000
