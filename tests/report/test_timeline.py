"""``chiptwin export-timeline``: the events table as Chrome trace-event JSON, checked against the format.

Two traces: a quick scenario (timing only, batched engine: programming per tile, batched inference
chunks, compensation passes) and an event-mode run of a small residual network written through the
trace writer (every MVM, conversion, digital job and transfer: the tile tracks, routes and flows).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import shutil
import sys
from pathlib import Path

import pytest

from chiptwin.cli import main
from chiptwin.errors import DataError
from chiptwin.report.timeline import export_timeline, format_ns
from chiptwin.scenario import PolicySpec, ScenarioSpec, WorkloadSpec, run_scenario
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.load import load_chip
from chiptwin.timing import CompensationSpec, EventRecord, PoissonWorkload, build_plan, simulate_events
from chiptwin.trace import TraceWriter, build_manifest, read_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "timing"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timeline_format import check_trace_events
from timing_graphs import cifar_resnet_graph

from chiptwin.mapping import map_graph
from chiptwin.mapping.mapper import ARCHITECTURES_DIR

NS = 1_000_000_000

SPEC = ScenarioSpec(
    name="timeline_test",
    checkpoints=("resnet32_pcm_fmnist_hwa",),
    policies=(
        PolicySpec(name="none"),
        PolicySpec(name="gdc+adabs", compensation="gdc+adabs", every="probe"),
    ),
    probes_s=(60.0, 3600.0),
    seeds=(0,),
    n_images=50,
    n_adabs=50,
    n_range_calibration=50,
    batch_size=50,
    workload=WorkloadSpec(kind="periodic", rate_per_s=10.0),
    accuracy=False,
)


@pytest.fixture(scope="module")
def scenario_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("timeline") / "scenario"
    run_scenario(SPEC, out, progress=False)
    return out


@pytest.fixture(scope="module")
def event_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trace whose events come from the event engine: 2 ms of Poisson traffic and one GDC+AdaBS pass."""
    chip: ChipSpec = load_chip(ARCHITECTURES_DIR / "hermes_64.toml")
    graph = cifar_resnet_graph(widths=(4, 8, 16), blocks=1)
    mapping = map_graph(graph, chip, "dense", architectures_dir=None)
    plan = build_plan(graph, mapping, chip)
    adabs = build_plan(graph, mapping, chip, bn_statistics=True)
    records: list[EventRecord] = []
    comp = CompensationSpec(policy="gdc+adabs", times_s=(0.0012,), gdc_reads_per_block=4, adabs_images=3)
    simulate_events(
        plan,
        PoissonWorkload(5_000, seed=1),
        duration_ns=2_000_000,
        compensation=comp,
        adabs_plan=adabs,
        program=True,
        record=records.append,
    )
    root = tmp_path_factory.mktemp("timeline") / "events"
    writer = TraceWriter(root, build_manifest(scenario={"name": "events"}, files={}, seeds=[0]))
    keys = {"cell": "net.gdc+adabs.seed0", "checkpoint": "net", "policy": "gdc+adabs", "seed": 0}
    rows = [{**keys, **dataclasses.asdict(r)} for r in records]
    writer.write_part("events", keys["cell"], rows)
    writer.finish()
    return root


def _load(path: Path) -> dict:  # type: ignore[type-arg]
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def test_format_ns_is_exact() -> None:
    assert format_ns(0) == "0" and format_ns(1) == "0.001" and format_ns(1_500) == "1.5"
    year_ns = 365 * 86_400 * NS + 7  # past 2**53 ns: the decimal text keeps the last nanosecond
    assert format_ns(year_ns) == "31536000000000.007"


def test_scenario_trace_validates(scenario_trace: Path, tmp_path: Path) -> None:
    result = export_timeline(scenario_trace, tmp_path / "t.json")
    doc = _load(result.path)
    counts = check_trace_events(doc)
    events = read_table(scenario_trace, "events")
    assert result.records == events.num_rows and counts.slices == events.num_rows
    assert result.cells == ("resnet32_pcm_fmnist_hwa.gdc+adabs.seed0", "resnet32_pcm_fmnist_hwa.none.seed0")
    names = {e["args"]["name"] for e in doc["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"programming", "inference (batched)", "compensation"} <= names
    # Each used tile is a process of its own, in each cell: programming holds every used tile.
    tiles = {r["tile"] for r in events.to_pylist() if r["kind"] == "program"}
    assert counts.processes == 2 * (len(tiles) + 1)
    # ts is the run clock in µs: the first GDC read of the compensated cell at the 60 s probe.
    gdc = [e for e in doc["traceEvents"] if e.get("cat") == "gdc" and e["ph"] == "X"]
    assert gdc[0]["args"]["time_ns"] == 60 * NS and gdc[0]["ts"] == 60 * NS / 1000
    assert doc["displayTimeUnit"] == "ns"


def test_event_trace_has_tile_tracks_routes_and_flows(event_trace: Path, tmp_path: Path) -> None:
    result = export_timeline(event_trace, tmp_path / "t.json.gz")
    doc = _load(result.path)
    counts = check_trace_events(doc)
    events = read_table(event_trace, "events").to_pylist()
    slices = [r for r in events if r["kind"] not in ("arrival", "done")]
    done = [r for r in events if r["kind"] == "done"]
    assert counts.slices == len(slices) and counts.asyncs == len(done) > 0
    names = {e["args"]["name"] for e in doc["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"crossbar", "ADC bank", "digital unit", "programming", "compensation"} <= names
    assert any(n.startswith("tile ") and " -> tile " in n for n in names)
    # One flow per job that left its first tile: every inference and calibration image of this
    # network crosses tiles, and each one finished.
    assert result.flows == counts.flows == len(done)
    # A smaller batch size streams the same file.
    again = export_timeline(event_trace, tmp_path / "b.json.gz", batch_rows=97)
    assert _load(again.path) == doc


def test_window_and_cells(scenario_trace: Path, tmp_path: Path) -> None:
    cell = "resnet32_pcm_fmnist_hwa.gdc+adabs.seed0"
    result = export_timeline(
        scenario_trace, tmp_path / "w.json", cells=[cell], start_ns=59 * NS, stop_ns=61 * NS
    )
    doc = _load(result.path)
    check_trace_events(doc)
    rows = [
        r
        for r in read_table(scenario_trace, "events", cells=[cell]).to_pylist()
        if r["time_ns"] < 61 * NS and (r["time_ns"] + r["duration_ns"] > 59 * NS or r["time_ns"] >= 59 * NS)
    ]
    assert result.records == len(rows) > 0 and result.cells == (cell,)
    assert all(r["time_ns"] + r["duration_ns"] >= 59 * NS for r in rows)


def test_empty_selection_is_one_line_and_writes_nothing(scenario_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty.json"
    span = r"\(their events span 0 s to 1.0 h\)"
    with pytest.raises(DataError, match=rf"no events from 1.0 y to 2.0 y {span}; nothing written"):
        export_timeline(scenario_trace, out, start_ns=365 * 86_400 * NS, stop_ns=2 * 365 * 86_400 * NS)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_cli_writes_and_reports(scenario_trace: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "cli.json"
    argv = ["export-timeline", str(scenario_trace), "--from", "30s", "--to", "2h", "--out", str(out)]
    assert main(argv) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"wrote {out} (") and "2 cells" in line
    check_trace_events(_load(out))


def _incomplete(tmp_path: Path, scenario_trace: Path) -> Path:
    """A trace whose run was stopped before it finished a cell: a manifest and nothing else."""
    root = tmp_path / "incomplete"
    root.mkdir()
    (root / "manifest.json").write_bytes((scenario_trace / "manifest.json").read_bytes())
    return root


def _truncated(tmp_path: Path, scenario_trace: Path) -> Path:
    """A trace with a cut-off events part."""
    root = tmp_path / "truncated"
    shutil.copytree(scenario_trace, root)
    part = next((root / "events").iterdir())
    part.write_bytes(part.read_bytes()[:100])
    return root


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda tmp, _: tmp / "absent", "absent: no such trace directory"),
        (lambda tmp, _: tmp, "no manifest (not a trace directory)"),
        (_incomplete, "no events parts (the run has not finished a cell)"),
        (_truncated, "not a readable Parquet part"),
    ],
    ids=["missing", "foreign", "incomplete", "truncated"],
)
@pytest.mark.parametrize("command", [["export-timeline"], ["report", "--html"]])
def test_bad_trace_dir_is_one_line(make, fragment, command, scenario_trace, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    root = make(tmp_path, scenario_trace)
    code = main([command[0], str(root), *command[1:], "--out", str(tmp_path / "out.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("chiptwin: error: "), err
    assert str(root) in err
    if command[0] == "export-timeline" or fragment != "no events parts (the run has not finished a cell)":
        assert fragment in err, err


def test_bad_arguments_are_one_line(scenario_trace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-timeline", str(scenario_trace), "--from", "2h", "--to", "1h"]) == 2
    assert "--from(=2h) must be before --to(=1h)" in capsys.readouterr().err
    assert main(["export-timeline", str(scenario_trace), "--cells", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no events of cell 'nope'" in err and "resnet32_pcm_fmnist_hwa.none.seed0" in err
    assert main(["export-timeline", str(scenario_trace), "--from=-1s"]) == 2
    assert "must not be negative" in capsys.readouterr().err
