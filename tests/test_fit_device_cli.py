"""``chiptwin fit-device`` through the command line (issue 17, section 2).

The happy path: reads drawn with ``--synthesize`` are fitted, the written device table loads on its own and
included by a chip file, and the plot is a PNG. Bad measurement files (the contract of
docs/concepts/conventions.md and tests/test_bad_input.py): exit code 2, one stderr line naming the file
and, where there is one, the
row and column; no traceback, nothing on stdout, no output folder left behind.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import chiptwin.cli.fit_device as fit_device
import chiptwin.cli.measurement_file as measurement_file
from chiptwin.cli import main
from chiptwin.cli.measurement_file import read_measurements, write_measurements
from chiptwin.device.pcm_fit import FITTED, PCMFit, fit_pcm
from chiptwin.device.pcm_synthetic import synthesize_pcm_measurements
from chiptwin.shipped import shipped_dir
from chiptwin.spec.load import load_chip, load_device_table
from chiptwin.spec.pcm import PCMSpec

ARCH = shipped_dir("architectures") / "hermes_64.toml"


def test_synthesize_fit_and_include_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = tmp_path / "meas.parquet"
    assert main(["fit-device", "--synthesize", str(reads), "--devices", "2400", "--seed", "5"]) == 0
    assert f"wrote {reads}: 38,400 reads of 2,400 devices" in capsys.readouterr().out
    fits: list[PCMFit] = []

    def fit_and_keep(*args: Any, **kwargs: Any) -> PCMFit:
        fits.append(fit_pcm(*args, **kwargs))
        return fits[-1]

    monkeypatch.setattr(fit_device, "fit_pcm", fit_and_keep)
    # The PNG takes a second or more to draw: test_the_plot (slow) draws it.
    monkeypatch.setattr(fit_device, "plot_device_fit", lambda fit, out: Path(out))
    out = tmp_path / "fit"
    assert main(["fit-device", str(reads), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "chi-squared" in printed and f"wrote {out / 'device.toml'}" in printed
    assert all(name in printed for name in FITTED)
    # The table holds the fit, to the 6 digits it is written with.
    (fit,) = fits
    table = load_device_table(out / "device.toml")
    assert table["device"] == {"model": "pcm_joshi2020"}
    for c in fit.coefficients:
        assert table["pcm"][c.name] == pytest.approx(c.value, rel=1e-5), c.name
    # A chip file includes it: hermes_64 without its [pcm] table.
    text = re.sub(r"\n\[pcm\]\n(?:[^\[]*\n)", "\n", ARCH.read_text(encoding="utf-8"))
    chip_file = tmp_path / "chip.toml"
    chip_file.write_text(text + '\n[device]\ninclude = "fit/device.toml"\n', encoding="utf-8")
    chip = load_chip(chip_file)
    assert isinstance(chip.device, PCMSpec)
    assert all(getattr(chip.device, c.name) == pytest.approx(c.value, rel=1e-5) for c in fit.coefficients)
    # Pasted into the chip file instead, the tables load the same.
    chip_file.write_text(text + "\n" + (out / "device.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert load_chip(chip_file).device == chip.device


@pytest.mark.slow
def test_the_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reads = tmp_path / "meas.csv"
    assert main(["fit-device", "--synthesize", str(reads), "--devices", "2400"]) == 0
    assert main(["fit-device", str(reads)]) == 0
    assert (
        "goodness of fit, R² of each law's statistic per target: programming noise" in capsys.readouterr().out
    )
    png = (tmp_path / "meas_fit" / "fit.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000


def test_csv_and_parquet_hold_the_same_reads(tmp_path: Path) -> None:
    m = synthesize_pcm_measurements(PCMSpec(), 36, torch.Generator().manual_seed(0), reads_per_time=2)
    parquet = read_measurements(write_measurements(m, tmp_path / "m.parquet"))
    csv = read_measurements(write_measurements(m, tmp_path / "m.csv"))
    for got in (parquet, csv):
        assert np.array_equal(got.device, m.device)
        assert np.array_equal(got.g_usiemens, m.g_usiemens) and np.array_equal(got.t_s, m.t_s)
        assert np.array_equal(got.g_target_usiemens, m.g_target_usiemens)
    assert parquet.device_ids.tolist() == list(range(36))
    assert csv.device_ids.tolist() == [str(i) for i in range(36)]  # a CSV id is text


# ---- bad measurement files ----------------------------------------------------------------------------


def _valid_csv(rows_edit: dict[int, str] | None = None, temperature: float | None = None) -> str:
    """A fittable CSV drawn from the published model: 60 devices "d0".."d59" on 3 targets (5, 12.5, 25 µS),
    read twice at 20 s and 1 h, rows ordered by time, repeat, device. ``rows_edit`` replaces data rows (1 =
    the first row after the header) by the given text; ``temperature`` adds a temperature_c column."""
    m = synthesize_pcm_measurements(
        PCMSpec(),
        60,
        torch.Generator().manual_seed(0),
        targets_norm=(0.2, 0.5, 1.0),
        times_s=(20.0, 3600.0),
        reads_per_time=2,
    )
    extra = "" if temperature is None else f",{temperature}"
    lines = ["device_id,g_target_usiemens,t_s,g_usiemens" + (",temperature_c" if extra else "")]
    for d, target, t, g in zip(m.device, m.g_target_usiemens, m.t_s, m.g_usiemens, strict=True):
        lines.append(f"d{d},{float(target)},{t:g},{g:.6g}{extra}")
    for row, text in (rows_edit or {}).items():
        lines[row] = text
    return "\n".join(lines) + "\n"


def _case(
    tmp_path: Path, content: str | bytes | None, *expect: str, name: str = "meas.csv"
) -> tuple[Path, list[str]]:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif isinstance(content, bytes):
        path.write_bytes(content)
    return path, [str(path), *expect]


CSV_CASES: dict[str, tuple[Callable[[], str | bytes], list[str]]] = {
    "missing_column": (
        lambda: "device_id,g_target_usiemens,t_s\n1,2,3\n",
        ["column g_usiemens is missing", "the file has: device_id, g_target_usiemens, t_s"],
    ),
    "negative_time": (
        lambda: _valid_csv({7: "d6,5.0,-20,5.1"}),
        ["row 7: t_s(=-20.0) must be a number in [0"],
    ),
    "nan_conductance": (lambda: _valid_csv({12: "d11,25.0,20,nan"}), ["row 12: g_usiemens(=nan) must be"]),
    "empty_cell": (lambda: _valid_csv({3: "d2,25.0,20,"}), ["row 3: g_usiemens is empty"]),
    "not_a_number": (
        lambda: _valid_csv({5: "d4,12.5,twenty,12.4"}),
        ["row 5: t_s(='twenty') must be a number"],
    ),
    "ragged_line": (lambda: _valid_csv({9: "d8,12.5,20"}), ["row 9: the line has another number of cells"]),
    "single_target": (
        lambda: _valid_csv().replace(",5.0,", ",12.5,").replace(",25.0,", ",12.5,"),
        ["column g_target_usiemens: 1 target(s) (12.5 µS)", ">= 3"],
    ),
    "two_targets_one_device": (
        lambda: _valid_csv({61: "d0,25.0,20,5.0"}),
        ["row 61: g_target_usiemens(=25.0) differs from the target 5.0 of device 'd0'"],
    ),
    "header_only": (lambda: "device_id,g_target_usiemens,t_s,g_usiemens\n", ["no reads"]),
    "empty_file": (lambda: "", ["measurement file is empty (no header"]),
    "binary_garbage": (
        lambda: bytes(range(256)) * 8,
        ["measurement file is neither Parquet nor UTF-8 CSV text (byte 128)"],
    ),
    "two_temperatures": (
        lambda: _valid_csv({240: "d59,25.0,3600.0,25.1,85"}, temperature=25.0),
        ["row 240: temperature_c(=85.0) differs from row 1 (=25.0)"],
    ),
    "temperature_in_kelvin": (
        lambda: _valid_csv(temperature=298.15),
        ["row 1: temperature_c(=298.15) must be a number in [-55, 150] °C"],
    ),
}


@pytest.mark.parametrize("name", sorted(CSV_CASES))
def test_a_bad_measurement_file_is_one_line(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, expect = CSV_CASES[name]
    path, fragments = _case(tmp_path, make(), *expect)
    _refused(["fit-device", str(path), "--out", str(tmp_path / "out")], fragments, tmp_path / "out", capsys)


def _refused(
    argv: list[str], expect: list[str], out: Path | None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured
    assert "Traceback" not in captured.err and captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chiptwin: error: "), captured.err
    missing = [fragment for fragment in expect if fragment not in lines[0]]
    assert not missing, f"{lines[0]!r} lacks {missing}"
    if out is not None:
        assert not out.exists()


def test_the_valid_csv_of_these_cases_fits(tmp_path: Path) -> None:
    path, _ = _case(tmp_path, _valid_csv())
    fit_pcm(read_measurements(path))


def test_a_parquet_column_of_the_wrong_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.parquet"
    pq.write_table(
        pa.table(
            {
                "device_id": [1, 2],
                "g_target_usiemens": [5.0, 5.0],
                "t_s": [True, False],
                "g_usiemens": [5.0, 5.1],
            }
        ),
        path,
    )
    _refused(
        ["fit-device", str(path)],
        [str(path), "row 1: t_s holds bool values; it must hold numbers"],
        None,
        capsys,
    )
    pq.write_table(pa.table({"device_id": [0.5, 1.5], "g_target_usiemens": [5.0, 5.0]}), path)
    _refused(["fit-device", str(path)], [str(path), "column t_s is missing"], None, capsys)
    pq.write_table(
        pa.table({"device_id": [0.5], "g_target_usiemens": [5.0], "t_s": [20.0], "g_usiemens": [5.0]}), path
    )
    _refused(["fit-device", str(path)], [str(path), "device_id holds double values"], None, capsys)
    table = pa.table(
        {"device_id": [1, None], "g_target_usiemens": [5.0, 5.0], "t_s": [2.0, 3.0], "g_usiemens": [1.0, 2.0]}
    )
    pq.write_table(table, path)
    _refused(["fit-device", str(path)], [str(path), "row 2: device_id is empty"], None, capsys)


def test_a_parquet_file_with_too_many_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.parquet"
    m = synthesize_pcm_measurements(PCMSpec(), 100, torch.Generator().manual_seed(0))
    write_measurements(m, path)
    monkeypatch.setattr(
        measurement_file, "MAX_MEASUREMENT_ROWS", 1000
    )  # the real bound, 5e7, on a small file
    _refused(
        ["fit-device", str(path)],
        [str(path), "1,600 reads; a measurement file holds at most 1,000"],
        None,
        capsys,
    )


def test_not_a_regular_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    argv = ["--out", str(out)]
    _refused(
        ["fit-device", str(tmp_path), *argv], [f"{tmp_path}: measurement file is a directory"], out, capsys
    )
    missing = tmp_path / "nope.csv"
    _refused(["fit-device", str(missing), *argv], [f"{missing}: measurement file not found"], out, capsys)
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    _refused(["fit-device", str(fifo), *argv], [f"{fifo}: measurement file is a FIFO"], out, capsys)


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        ([], ["give MEASUREMENTS (a Parquet or CSV file) or --synthesize FILE"]),
        (["m.csv", "--synthesize", "x.parquet"], ["not both"]),
        (["--synthesize", "x.parquet", "--devices", "0"], ["devices(=0) must be in 1..1000000"]),
        (["m.csv", "--g-max-usiemens", "-1"], ["g_max_usiemens(=-1.0) must be a finite number > 0"]),
        (["m.csv", "--t0-s", "nan"], ["t0_s(=nan) must be a finite number > 0"]),
        (
            ["m.csv", "--model", "rram_cmo_falcone2025"],
            ["model(='rram_cmo_falcone2025') must be one of pcm_joshi2020"],
        ),
    ],
)
def test_bad_arguments(argv: list[str], expect: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["fit-device", *argv], expect, None, capsys)


def test_synthesize_into_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["fit-device", "--synthesize", str(tmp_path), "--devices", "100"]
    _refused(argv, [f"--synthesize {tmp_path}: cannot write the measurement file", "directory"], None, capsys)


def test_out_that_cannot_be_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = _case(tmp_path, _valid_csv())
    a_file = tmp_path / "file"
    a_file.write_text("")
    argv = ["fit-device", str(path), "--out", str(a_file)]
    _refused(argv, [f"--out {a_file}: exists and is not a directory"], None, capsys)


def test_reads_the_laws_do_not_describe_are_reported() -> None:
    m = synthesize_pcm_measurements(PCMSpec(), 6_000, torch.Generator().manual_seed(1))
    g = m.g_usiemens.copy()
    late = (m.t_s == 86400.0) & (m.g_target_usiemens == 10.0)
    g[late] *= 1.2  # one target drifts up over a day
    fit = fit_pcm(dataclasses.replace(m, g_usiemens=g))
    assert fit.chi_squared > 1000
    assert "the laws do not describe these reads: chi-squared" in fit_device.format_fit(fit, "pcm_joshi2020")
    clean = fit_device.format_fit(fit_pcm(m), "pcm_joshi2020")
    assert "do not describe" not in clean
