"""``chiptwin compare A B``: two runs side by side, each difference from run A with its seed spread.

Run A is the synthetic trace of ``test_report`` (two checkpoints, four policies, two seeds); run B is a
copy on another chip whose every accuracy is 5 points lower and whose array energy is halved
(``_run_b``). The sweeps are ``test_html_report``'s.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from test_report import _write_trace

from chiptwin.cli import main
from chiptwin.errors import DataError
from chiptwin.report.compare import format_comparison, load_runs, run_labels


def _run_b(a: Path, root: Path) -> Path:
    """A copy of run ``a`` on "hermes_64": accuracy 5 points lower, array energy 1 µJ -> 0.5 µJ (dynamic
    2.1 -> 1.6 µJ per inference)."""
    shutil.copytree(a, root)
    for part in (root / "probes").glob("*.parquet"):
        t = pq.read_table(part)
        i = t.schema.get_field_index("accuracy")
        t = t.set_column(i, t.schema.field(i), pc.subtract(t["accuracy"], 0.05))
        pq.write_table(t, part)
    for part in (root / "cells").glob("*.parquet"):
        t = pq.read_table(part)
        i = t.schema.get_field_index("energy_array_pj")
        t = t.set_column(i, t.schema.field(i), pa.array([5.0e5] * t.num_rows))
        pq.write_table(t, part)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["scenario"]["arch"] = "hermes_64"
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_accuracy_and_cost_differences_with_their_spread(tmp_path: Path) -> None:
    a = _write_trace(tmp_path / "a" / "synthetic")
    b = _run_b(a, tmp_path / "b" / "synthetic")
    text = format_comparison(load_runs([a, b]))
    lines = text.splitlines()
    # The runs are named by folder (their parent's name too: both folders are "synthetic").
    assert lines[1] == "  A  a/synthetic: synthetic on tiny_4, 2 seeds (0-1)"
    assert lines[2] == "  B  b/synthetic: synthetic on hermes_64, 2 seeds (0-1)"
    # zeta, none at 1 h: A 90 and 92 % (91.00 ± 1.00), B 85 and 87 %; B−A = -5.00 ± sqrt(1² + 1²) = 1.41.
    row = next(line for line in lines if line.split()[:4] == ["zeta", "none", "1", "h"])
    assert row.split()[4:] == ["91.00", "±", "1.00", "86.00", "±", "1.00", "-5.00", "±", "1.41"]
    # Cost: dynamic energy 2.1 µJ (array 1 + DAC 0.2 + ADC 0.5 + NoC 0.1 + digital 0.3) against 1.6 µJ,
    # the same for every checkpoint and policy of each run: one row.
    energy = next(line for line in lines if line.startswith("dynamic energy / image"))
    assert energy.split()[4:] == ["every", "every", "2.100", "µJ", "1.600", "µJ", "×0.762"]
    latency = next(line for line in lines if line.startswith("latency, single image"))
    assert latency.split()[3:] == ["every", "every", "12.50", "µs", "12.50", "µs", "×1"]


@pytest.mark.slow  # two PNGs and the 4.7 MB page: ~5 s
def test_compare_cli_writes_text_pngs_and_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _write_trace(tmp_path / "joshi")
    b = _run_b(a, tmp_path / "hermes")
    out = tmp_path / "cmp"
    assert main(["compare", str(a), str(b), "--out", str(out), "--html"]) == 0
    printed = capsys.readouterr().out
    assert "Δ B−A" in printed and f"wrote {out / 'comparison.txt'}" in printed
    for name in ("comparison.txt", "compare_accuracy.png", "compare_energy.png", "compare.html"):
        assert (out / name).is_file(), name
    page = (out / "compare.html").read_text(encoding="utf-8")
    assert "<h2>Accuracy vs device age, run by run</h2>" in page and json.dumps("A · none") in page


def test_compare_refuses_one_run_a_sweep_and_a_repeat(tmp_path: Path) -> None:
    a = _write_trace(tmp_path / "a")
    with pytest.raises(DataError, match="two or more"):
        load_runs([a])
    with pytest.raises(DataError, match="given twice"):
        load_runs([a, tmp_path / "." / "a"])
    sweep = tmp_path / "s"
    sweep.mkdir()
    (sweep / "sweep.json").write_text("{}")
    with pytest.raises(DataError, match="a sweep directory"):
        load_runs([a, sweep])


def test_an_untimed_run_compares_accuracy_alone(tmp_path: Path) -> None:
    a = _write_trace(tmp_path / "a")
    b = _run_b(a, tmp_path / "b")
    shutil.rmtree(b / "cells")  # what chiptwin evaluate --out writes: probes, no cells
    text = format_comparison(load_runs([a, b]))
    assert "cost: run B timed nothing (no cells table: an evaluate trace)" in text
    assert "Δ B−A" in text


def test_run_labels_are_folder_names() -> None:
    assert run_labels([Path("t/day_retention-joshi2020"), Path("t/day_retention-hermes_64")]) == [
        "day_retention-joshi2020",
        "day_retention-hermes_64",
    ]


def test_two_sweeps_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from test_html_report import _write_sweep

    a = _write_sweep(tmp_path / "a")  # cells c0..c3: ADC 6/8 x dense/packed, accuracy 80, 84, 88, 92 %
    b = _write_sweep(tmp_path / "b")
    for sweep, shift, factor in ((a, 0.0, 1.0), (b, 0.03, 2.0)):  # B: 3 points lower, twice the energy
        for part in (sweep / "results").glob("*.parquet"):
            t = pq.read_table(part)
            t = t.set_column(
                t.schema.get_field_index("accuracy"), "accuracy", pc.subtract(t["accuracy"], shift)
            )
            i = t.schema.get_field_index("dynamic_energy_pj")
            t = t.set_column(i, t.schema.field(i), pc.multiply(t["dynamic_energy_pj"], factor))
            i = t.schema.get_field_index("area_mm2")
            t = t.set_column(i, t.schema.field(i), pa.array([39.6] * t.num_rows))
            pq.write_table(t, part)
    out = tmp_path / "cmp"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # adc_bits=6, dense is c0: 80.00 % and 100 nJ in A, 77.00 % and 200 nJ in B.
    row = next(line for line in lines if line.startswith("adc_bits=6,strategy=dense"))
    assert row.split()[1:] == ["80.00", "77.00", "-3.00", "100", "200", "×2", "39.6", "39.6"]
    assert "nJ" in next(line for line in lines if line.startswith("configuration"))
    # chiptwin report A B is the same comparison.
    assert main(["report", str(a), str(b), "--out", str(tmp_path / "r")]) == 0
    assert capsys.readouterr().out.splitlines()[:-1] == lines[:-1]  # the last line names its folder
    with pytest.raises(DataError, match="compare traces with traces"):
        load_runs([_write_trace(tmp_path / "t"), a])


@pytest.mark.slow  # a PNG: ~2.5 s
def test_a_dollar_in_a_run_name_is_plain_text(tmp_path: Path) -> None:
    from chiptwin.report.compare import plot_comparison_accuracy

    a = _write_trace(tmp_path / "a")
    b = _run_b(a, tmp_path / "b")
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["scenario"]["name"] = "$\\undefinedcommand$"  # matplotlib would read it as math: a traceback
    (b / "manifest.json").write_text(json.dumps(manifest))
    png = plot_comparison_accuracy(load_runs([a, b]), tmp_path / "c.png")
    assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
