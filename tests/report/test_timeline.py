"""``chiptwin export-timeline``: the events table as Chrome trace-event JSON, checked against the format.

Two traces: a quick scenario (timing only: the batched engine's programming per tile, batched inference
chunks and compensation passes in ``events``, and the event engine's detail window of the first
inferences in ``detail``) and an event-mode run of a small residual network written through the trace
writer (every MVM, conversion, digital job and transfer: the tile tracks, routes and flows).
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
from chiptwin.scenario import cell as cell_module
from chiptwin.scenario.detail import DETAIL_INFERENCES
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


def _drawn(detail: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    """Detail rows drawn as slices: not arrivals and results (async), not the programming (the events')."""
    return [r for r in detail if r["kind"] not in ("arrival", "done", "program")]


def test_scenario_trace_validates(scenario_trace: Path, tmp_path: Path) -> None:
    result = export_timeline(scenario_trace, tmp_path / "t.json")
    doc = _load(result.path)
    counts = check_trace_events(doc)
    events = read_table(scenario_trace, "events")
    detail = read_table(scenario_trace, "detail").to_pylist()
    drawn = _drawn(detail)
    assert result.records == events.num_rows
    assert result.detail_records == len(drawn) + sum(r["kind"] in ("arrival", "done") for r in detail)
    assert counts.slices == events.num_rows + len(drawn)
    assert result.cells == ("resnet32_pcm_fmnist_hwa.gdc+adabs.seed0", "resnet32_pcm_fmnist_hwa.none.seed0")
    names = {e["args"]["name"] for e in doc["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"programming", "inference (batched)", "compensation"} <= names
    assert {"crossbar", "ADC bank", "digital unit"} <= names
    assert any(n.startswith("tile ") and " -> tile " in n for n in names)
    # Each used tile is a process of its own, in each cell (programming holds every used tile), and so
    # are the chip and the NoC.
    tiles = {r["tile"] for r in events.to_pylist() if r["kind"] == "program"}
    assert counts.processes == 2 * (len(tiles) + 2)
    # ts is the run clock in µs: the first GDC read of the compensated cell at the 60 s probe.
    gdc = [e for e in doc["traceEvents"] if e.get("cat") == "gdc" and e["ph"] == "X"]
    assert gdc[0]["args"]["time_ns"] == 60 * NS and gdc[0]["ts"] == 60 * NS / 1000
    assert doc["displayTimeUnit"] == "ns"
    # The file names the trace folder, not where it lies (a shared timeline leaks no local path), and
    # says where the per-tile detail sits in a run of hours: the span of the detail table's records.
    assert doc["otherData"]["trace"] == "scenario" and str(scenario_trace.parent) not in json.dumps(doc)
    shown = [r for r in detail if r["kind"] != "program"]  # the first arrival to the last result
    first = min(r["time_ns"] for r in shown)
    last = max(r["time_ns"] + r["duration_ns"] for r in shown)
    assert result.detail_ns == (first, last) and first < last < 60 * NS
    assert (doc["otherData"]["detail_from_ns"], doc["otherData"]["detail_to_ns"]) == (first, last)
    assert (
        doc["otherData"]["detail"].startswith("per-tile detail (every MVM")
        and "zoom there" in doc["otherData"]["detail"]
    )


def test_every_detailed_inference_has_a_flow_across_tiles(scenario_trace: Path, tmp_path: Path) -> None:
    doc = _load(export_timeline(scenario_trace, tmp_path / "t.json").path)
    pids = {e["pid"]: e["args"]["name"] for e in doc["traceEvents"] if e.get("name") == "process_name"}
    flows: dict[tuple[str, str], list[str]] = {}
    for e in doc["traceEvents"]:
        if e["ph"] in ("s", "t", "f"):
            cell = pids[e["pid"]].split(": ")[0]
            flows.setdefault((cell, e["name"]), []).append(e["ph"])
    detail = read_table(scenario_trace, "detail").to_pylist()
    done = [(r["cell"], r["job"]) for r in detail if r["kind"] == "done" and r["task"] == "inference"]
    assert len(done) == 2 * DETAIL_INFERENCES  # both cells, every inference of the window finished
    for cell, job in done:
        phases = flows[(cell, f"inference {job}")]
        assert phases.count("s") == phases.count("f") == 1 and phases.count("t") >= 1, (cell, job)
    # The flow crosses from a tile process to the NoC and on to another tile.
    assert all(len(p) >= 3 for p in flows.values())


def test_the_detail_programming_is_that_of_the_events(scenario_trace: Path) -> None:
    # The exporter draws the programming once, from events: the detail window starts with the same one.
    def program(table: str) -> list[tuple]:  # type: ignore[type-arg]
        rows = read_table(scenario_trace, table).to_pylist()
        return sorted(
            ((r["cell"], r["tile"], r["time_ns"], r["duration_ns"], r["count"], r["energy_pj"]) for r in rows
             if r["kind"] == "program"),
        )  # fmt: skip

    assert program("detail") == program("events") and program("events")


def test_a_trace_without_detail_exports_its_events_alone(scenario_trace: Path, tmp_path: Path) -> None:
    root = tmp_path / "old"
    shutil.copytree(scenario_trace, root)
    shutil.rmtree(root / "detail")
    result = export_timeline(root, tmp_path / "old.json")
    counts = check_trace_events(_load(result.path))
    assert result.detail_records == 0 and result.flows == counts.flows == 0
    assert counts.slices == result.records == read_table(root, "events").num_rows


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


def test_the_events_are_those_of_a_run_without_detail(
    scenario_trace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No double counting: the detail window adds its own table and leaves events and cells as they were.
    monkeypatch.setattr(cell_module, "detail_window", lambda *args, **kw: [])
    plain = tmp_path / "plain"
    run_scenario(SPEC, plain, progress=False)
    assert read_table(plain, "detail").num_rows == 0 and read_table(scenario_trace, "detail").num_rows
    assert read_table(plain, "events").equals(read_table(scenario_trace, "events"))
    cells = read_table(plain, "cells").drop_columns(["wall_s"])
    assert cells.equals(read_table(scenario_trace, "cells").drop_columns(["wall_s"]))


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
    assert result.detail_records == 0  # the detail window is the first second of the run
    # A window on the start: the detail records in it, streamed in small batches.
    start = export_timeline(scenario_trace, tmp_path / "s.json", cells=[cell], stop_ns=NS // 2, batch_rows=97)
    counts = check_trace_events(_load(start.path))
    detail = read_table(scenario_trace, "detail", cells=[cell]).to_pylist()
    kept = [r for r in detail if r["time_ns"] < NS // 2]
    assert start.detail_records == sum(r["kind"] != "program" for r in kept) > 0
    assert counts.flows == start.flows == sum(r["kind"] == "done" and r["time_ns"] < NS // 2 for r in detail)


def test_empty_selection_is_one_line_and_writes_nothing(scenario_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty.json"
    span = r"\(their events span 0 s to 1 h\)"
    with pytest.raises(DataError, match=rf"no events from 1 y to 2 y {span}; nothing written"):
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
