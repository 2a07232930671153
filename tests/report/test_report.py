"""Reports from a trace directory: hand-checked formatting, valid PNGs, one-line errors, the CLI.

The trace here is synthetic (a few probe and cell rows written with the trace schemas): these tests
check what the report computes and prints from given rows, not the physics that produced them.
"""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import chiptwin.report
from chiptwin.cli import main
from chiptwin.errors import DataError
from chiptwin.files import FolderLock
from chiptwin.report import summary
from chiptwin.report.accuracy import plot_accuracy
from chiptwin.report.energy import plot_energy
from chiptwin.report.summary import (
    accuracy_table,
    cost_table,
    format_accuracy_table,
    format_age,
    format_energy,
    format_summary,
)
from chiptwin.report.trace_report import write_report
from chiptwin.trace.mapping_table import MappingRecord, write_mapping_table
from chiptwin.trace.schema import CELLS_SCHEMA, PROBES_SCHEMA

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NS = 1_000_000_000
HOUR_NS = 3600 * NS


def _probe(checkpoint: str, policy: str, seed: int, time_ns: int, accuracy: float) -> dict[str, Any]:
    programmed_at_ns = 10 * NS  # programming ends 10 s into the run
    return dict(
        cell=f"{checkpoint}-{policy}-{seed}", checkpoint=checkpoint, policy=policy, seed=seed,
        time_ns=time_ns, age_s=(time_ns - programmed_at_ns) / NS, accuracy=accuracy, n_images=1000,
        compensations=0, last_compensation_ns=-1, programmed_at_ns=programmed_at_ns, gdc_skipped_blocks=0,
        drift_age_s=(time_ns - programmed_at_ns) / NS, temperature_c=25.0,
    )  # fmt: skip


def _cell(checkpoint: str, policy: str, seed: int, **overrides: Any) -> dict[str, Any]:
    row = dict(
        cell=f"{checkpoint}-{policy}-{seed}", checkpoint=checkpoint, policy=policy, seed=seed,
        arch="tiny_4", strategy="dense", tiles_used=4, area_mm2=0.86, duration_ns=HOUR_NS, inferences=1000,
        latency_single_ns=12_500, latency_mean_ns=20_000.0, throughput_per_s=2000.0,
        peak_throughput_per_s=80_000.0,
        energy_per_inference_pj=2.5e6, energy_array_pj=1.0e6, energy_dac_pj=2.0e5, energy_adc_pj=5.0e5,
        energy_noc_pj=1.0e5, energy_digital_pj=3.0e5, energy_static_pj=2.0e5,
        energy_compensation_pj=2.0e5, compensations=4, compensation_energy_pj=2.0e8,
        programming_energy_pj=1.0e9, programming_ns=10 * NS, wall_s=1.5,
    )  # fmt: skip
    row.update(overrides)
    return row


def _probes() -> list[dict[str, Any]]:
    """Two checkpoints (``zeta`` first), four policies in scrambled order, two seeds, probes at age
    0 s, 1 h and 1 day; at 1 h, ``zeta``/``none`` reads 0.90 and 0.92 over the two seeds."""
    rows = []
    for checkpoint in ("zeta", "alpha"):
        for policy in ("gdc+adabs", "custom", "none", "gdc"):
            for seed in (0, 1):
                for age_s, acc in ((0, 0.94), (3600, 0.90 + 0.02 * seed), (86400, 0.85 - 0.01 * seed)):
                    rows.append(_probe(checkpoint, policy, seed, 10 * NS + age_s * NS, acc))
    return rows


def _write_trace(root: Path, *, status: str = "complete", cells_total: int | None = None) -> Path:
    """A trace directory with one part per cell for probes and cells, a mapping table and a manifest."""
    probes = _probes()
    cells = [_cell(p["checkpoint"], p["policy"], p["seed"]) for p in probes if p["age_s"] == 0]
    for table, rows, schema in (("probes", probes, PROBES_SCHEMA), ("cells", cells, CELLS_SCHEMA)):
        (root / table).mkdir(parents=True)
        for cell in dict.fromkeys(r["cell"] for r in rows):
            part = [r for r in rows if r["cell"] == cell]
            pq.write_table(pa.Table.from_pylist(part, schema=schema), root / table / f"{cell}.parquet")
    write_mapping_table([_mapping_record()], root / "mapping.parquet")
    manifest: dict[str, Any] = {
        "trace_version": 1,
        "status": status,
        "scenario": {
            "name": "synthetic",
            "arch": "tiny_4",
            "checkpoints": ["zeta", "alpha"],
            "policies": ["none", "gdc", "gdc+adabs", "custom"],
        },
        "seeds": [0, 1],
        "git_commit": "abc123",
        "git_dirty": True,
        "created": "2026-05-09T07:35:25+00:00",
        "digital_accuracy": {"zeta": 0.935, "alpha": 0.94},  # scenario order
    }
    if cells_total is not None:
        manifest["cells_total"] = cells_total
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def _mapping_record() -> MappingRecord:
    return MappingRecord(
        model="m", chip="tiny_4", strategy="dense", layer="conv", layer_index=0, kind="conv", block=0,
        replica=0, replicas=1, tile=0, mesh_row=0, mesh_col=0, row_start=0, row_stop=36, col_start=0,
        col_stop=16, row_offset=0, col_offset=0, mvm_start=0, mvm_stop=16, tile_rows=64, tile_cols=32,
        chip_tiles=4, mesh_rows=2, mesh_cols=2,
    )  # fmt: skip


def _is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == PNG_SIGNATURE and path.stat().st_size > 5_000


def _probe_table() -> pa.Table:
    return pa.Table.from_pylist(_probes(), schema=PROBES_SCHEMA)


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0.0, "0 s"),
        (0.5, "0.5 s"),
        (1.0, "1 s"),
        (16.0, "16 s"),
        (90.0, "1.5 min"),
        (264.0, "4.4 min"),
        (3600.0, "1 h"),
        (9360.0, "2.6 h"),
        (86400.0, "1 d"),
        (3.15e7, "1 y"),
    ],
)
def test_format_age_hand_cases(seconds: float, text: str) -> None:
    assert format_age(seconds) == text


def test_format_age_refuses_negative_age() -> None:
    with pytest.raises(DataError, match=r"age\(=-1.0 s\)"):
        format_age(-1.0)


def test_format_energy_picks_readable_unit() -> None:
    assert [format_energy(e) for e in (0.0, 850.0, 2.0e5, 2.5e6, 2.0e8)] == [
        "0 pJ",
        "850 pJ",
        "200 nJ",
        "2.5 µJ",
        "200 µJ",
    ]


def test_docstring_examples_run() -> None:
    assert doctest.testmod(summary).failed == 0


def test_mean_and_population_std_over_two_seeds() -> None:
    points = accuracy_table(_probe_table())
    hour = next(p for p in points if (p.checkpoint, p.policy, p.age_s) == ("zeta", "none", 3600.0))
    # 0.90 and 0.92: mean 91 %, population std |92 - 90| / 2 = 1 %.
    assert hour.mean_pct == pytest.approx(91.0)
    assert hour.std_pct == pytest.approx(1.0)
    assert (hour.min_pct, hour.max_pct, hour.seeds) == (pytest.approx(90.0), pytest.approx(92.0), 2)
    assert len(points) == 2 * 4 * 3


def test_single_seed_prints_no_spread() -> None:
    rows = [r for r in _probes() if r["seed"] == 0]
    points = accuracy_table(pa.Table.from_pylist(rows, schema=PROBES_SCHEMA))
    assert {p.std_pct for p in points} == {0.0}
    text = format_accuracy_table(pa.Table.from_pylist(rows, schema=PROBES_SCHEMA))
    # One sample has no spread: its value alone, never "± 0.00".
    assert "±" not in text and "accuracy (%), of 1 seed, by device age" in text
    assert "94.00" in text


def test_table_rows_columns_and_cells() -> None:
    text = format_accuracy_table(_probe_table(), digital={"zeta": 0.935})
    lines = text.splitlines()
    assert "mean ± std over 2 seeds" in lines[0]
    # Checkpoints in order of first appearance; the digital accuracy in the checkpoint's header.
    assert lines[1].index("zeta (digital 93.50)") < lines[1].index("alpha")
    assert "alpha (digital" not in lines[1]
    # Policies: the known three in their fixed order, then the others alphabetically, per checkpoint.
    policies = ["none", "gdc", "gdc+adabs", "custom"]
    assert lines[2].split() == ["age", "|", *policies, "|", *policies]
    body = lines[4:]
    assert [line.split()[0:2] for line in body] == [["0", "s"], ["1", "h"], ["1", "d"]]
    assert body[1].count("91.00 ± 1.00") == 8
    assert body[2].count("84.50 ± 0.50") == 8


def test_preferred_checkpoint_order_comes_first() -> None:
    header = format_accuracy_table(_probe_table(), checkpoints=["alpha", "absent"]).splitlines()[1]
    assert header.index("alpha") < header.index("zeta")
    costs = cost_table(
        pa.Table.from_pylist([_cell("zeta", "gdc", 0), _cell("alpha", "gdc", 0)], schema=CELLS_SCHEMA),
        checkpoints=["alpha"],
    )
    assert [c.checkpoint for c in costs] == ["alpha", "zeta"]


def test_cost_block_means_over_seeds() -> None:
    cells = pa.Table.from_pylist(
        [
            _cell("zeta", "gdc", 0),
            _cell("zeta", "gdc", 1, latency_single_ns=13_500),
            _cell("zeta", "none", 0),
        ],
        schema=CELLS_SCHEMA,
    )
    costs = cost_table(cells)
    assert [(c.policy, c.seeds) for c in costs] == [("none", 1), ("gdc", 2)]
    assert costs[1].latency_single_ns == pytest.approx(13_000.0)
    assert dict(costs[1].energy_by_component_pj)["adc"] == pytest.approx(5.0e5)
    text = format_accuracy_table(_probe_table(), cells)
    assert "zeta, gdc (2 seeds; tiny_4, 4 tiles, 0.86 mm² chip)" in text
    assert "13.00 µs single, 20.00 µs mean; throughput 2,000 images/s" in text
    assert "2.5 µJ per inference" in text
    # 2e8 pJ over the run and 2e5 pJ amortised per inference.
    assert "4 passes, 200 µJ over the run, 200 nJ per inference" in text


def test_plots_are_valid_pngs(tmp_path: Path) -> None:
    cells = pa.Table.from_pylist([_cell("zeta", "gdc", 0), _cell("zeta", "none", 0)], schema=CELLS_SCHEMA)
    accuracy = plot_accuracy(_probe_table(), tmp_path / "a" / "accuracy.png", digital={"zeta": 0.935})
    energy = plot_energy(cells, tmp_path / "energy.png")
    assert _is_png(accuracy) and _is_png(energy)


def test_plots_refuse_empty_tables(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no accuracy probes"):
        plot_accuracy(PROBES_SCHEMA.empty_table(), tmp_path / "a.png")
    with pytest.raises(DataError, match="no cells"):
        plot_energy(CELLS_SCHEMA.empty_table(), tmp_path / "e.png")


def test_write_report_writes_every_file(tmp_path: Path) -> None:
    root = _write_trace(tmp_path / "trace")
    files = write_report(root)
    assert files.out_dir == root / "report"
    assert files.summary == root / "report" / "summary.txt"
    assert [p.name for p in files.written()] == ["accuracy.png", "energy.png", "tile_map.png", "summary.txt"]
    assert all(_is_png(p) for p in files.written()[:-1])
    text = files.summary.read_text()
    assert "scenario  synthetic on tiny_4" in text
    assert "seeds     2 seeds (0-1)" in text and "created   2026-05-09T07:35:25+00:00" in text
    assert "commit    abc123 (uncommitted changes)" in text
    assert "91.00 ± 1.00" in text and "INCOMPLETE" not in text
    # The reader returns parts sorted by cell id (alpha first); the manifest's scenario order wins.
    header = text.splitlines()[
        text.splitlines().index("accuracy (%), mean ± std over 2 seeds, by device age") + 1
    ]
    assert header.index("zeta (digital 93.50)") < header.index("alpha (digital 94.00)")
    assert text.index("zeta, none (2 seeds") < text.index("alpha, none (2 seeds")


def test_summary_of_a_stopped_run_says_stopped(tmp_path: Path) -> None:
    # The manifest still says "running" (the run was killed), but no process holds the writer's lock.
    root = _write_trace(tmp_path / "trace", status="running", cells_total=20)
    text = summary.summary_text(root)
    assert "status    stopped" in text and "status    running" not in text
    assert "INCOMPLETE: 16 of 20 cells finished (the run stopped before it finished; " in text
    assert "--resume" in text


def test_summary_of_a_run_in_progress_says_running(tmp_path: Path) -> None:
    root = _write_trace(tmp_path / "trace", status="running", cells_total=20)
    with FolderLock(root, "trace directory", DataError):  # the writer's lock, as a live run holds it
        text = summary.summary_text(root)
    assert "status    running" in text
    assert "INCOMPLETE: 16 of 20 cells finished (a chiptwin process is still writing it)" in text


def test_format_summary_without_cells_total() -> None:
    cells = pa.Table.from_pylist([_cell("zeta", "gdc", 0)], schema=CELLS_SCHEMA)
    text = format_summary({"status": "interrupted", "scenario": {"name": "s"}}, _probe_table(), cells)
    assert "INCOMPLETE: 1 cell finished (status 'interrupted')" in text
    assert "seeds     2 seeds (0-1)" in text  # from the tables when the manifest has none
    assert "created" not in text and "commit" not in text


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda root: None, "no such trace directory"),
        (lambda root: root.mkdir(), "no manifest (not a trace directory)"),
        (
            lambda root: (root.mkdir(), (root / "manifest.json").write_text('{"trace_version": 1}')),
            "nothing to report",
        ),
    ],
    ids=["missing", "empty", "no-rows"],
)
def test_write_report_refuses_non_traces(tmp_path: Path, make: Any, fragment: str) -> None:
    root = tmp_path / "trace"
    make(root)
    with pytest.raises(DataError, match=str(root)) as info:
        write_report(root)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_report_cli_prints_table_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _write_trace(tmp_path / "trace")
    assert main(["report", str(root), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "91.00 ± 1.00" in out
    assert f"wrote {tmp_path / 'out' / 'summary.txt'}" in out
    assert (tmp_path / "out" / "accuracy.png").is_file()


def test_report_cli_bad_dir_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "/nonexistent"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "/nonexistent" in lines[0]
    assert "Traceback" not in captured.err


def test_public_names() -> None:
    assert set(chiptwin.report.__all__) == {
        "AccuracyPoint",
        "CostResult",
        "ReportFiles",
        "TimelineResult",
        "accuracy_table",
        "cost_table",
        "draw_tile_map",
        "export_timeline",
        "format_accuracy_table",
        "format_age",
        "format_summary",
        "plot_accuracy",
        "plot_energy",
        "summary_text",
        "write_html_report",
        "write_report",
    }


def test_summary_names_the_chip_and_its_age_convention() -> None:
    cells = pa.Table.from_pylist([_cell("zeta", "gdc", 0)], schema=CELLS_SCHEMA)
    chip = "joshi2020: 2 PCM devices per weight (columns), ...; drift at max(age, t0 = 20 s)"
    manifest = {
        "status": "complete",
        "scenario": {"name": "s", "arch": "joshi2020"},
        "chip_description": chip,
    }
    lines = format_summary(manifest, _probe_table(), cells).splitlines()
    assert lines[:2] == ["scenario  s on joshi2020", f"chip      {chip}"]
