"""A scenario on the shipped checkpoint: the clock, the compensation state in force, traces, resume."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pyarrow.compute as pc
import pytest

from chiptwin.scenario import PolicySpec, ScenarioSpec, WorkloadSpec, run_scenario
from chiptwin.scenario.spec import TileFailureSpec
from chiptwin.spec.faults import FaultSpec
from chiptwin.trace.reader import read_manifest, read_table

S = 1_000_000_000

SPEC = ScenarioSpec(
    name="clock_test",
    checkpoints=("resnet32_pcm_fmnist_hwa",),
    policies=(
        PolicySpec(name="none"),
        PolicySpec(name="gdc_hourly", compensation="gdc", every_s=3600.0),
    ),
    # 30 min (before the first pass), 1 h (the pass runs first), 1 h 50 min (the 1 h pass still in force)
    probes_s=(1800.0, 3600.0, 6600.0),
    seeds=(0,),
    n_images=100,
    n_adabs=100,
    n_range_calibration=50,
    batch_size=50,
    workload=WorkloadSpec(kind="periodic", rate_per_s=1.0),
)


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trace") / "run"
    run = run_scenario(SPEC, out, progress=False)
    assert (run.cells_run, run.cells_skipped) == (2, 0)
    return out


def _rows(root: Path, table: str, policy: str) -> list[dict]:  # type: ignore[type-arg]
    t = read_table(root, table)
    return t.filter(pc.equal(t["policy"].cast("string"), policy)).to_pylist()


def test_probes_see_the_compensation_in_force(trace: Path) -> None:
    rows = _rows(trace, "probes", "gdc_hourly")
    assert [r["time_ns"] for r in rows] == [1800 * S, 3600 * S, 6600 * S]
    assert [r["age_s"] for r in rows] == [1800.0, 3600.0, 6600.0]
    assert [r["compensations"] for r in rows] == [0, 1, 1]
    assert [r["last_compensation_ns"] for r in rows] == [-1, 3600 * S, 3600 * S]
    none = _rows(trace, "probes", "none")
    assert all(r["compensations"] == 0 for r in none)
    # Same devices (same seed), same age: before the first pass both policies are the uncompensated
    # chip, which drift has already broken (Joshi 2020: GDC is what keeps accuracy); after it, GDC
    # restores it, and the 1 h factors still hold at 1 h 50 min.
    assert rows[0]["accuracy"] < 0.5 and none[0]["accuracy"] < 0.5
    assert rows[1]["accuracy"] > 0.8 and rows[2]["accuracy"] > 0.8
    assert none[2]["accuracy"] < 0.5


def test_timing_follows_the_same_schedule(trace: Path) -> None:
    cell = _rows(trace, "cells", "gdc_hourly")[0]
    assert cell["compensations"] == 1 and cell["compensation_energy_pj"] > 0
    assert _rows(trace, "cells", "none")[0]["compensation_energy_pj"] == 0.0
    parts = ("array", "dac", "adc", "noc", "digital", "static", "compensation")
    total = sum(cell[f"energy_{p}_pj"] for p in parts)
    assert math.isclose(total, cell["energy_per_inference_pj"], rel_tol=1e-9)
    events = _rows(trace, "events", "gdc_hourly")
    gdc = [e for e in events if e["task"] == "gdc"]
    assert gdc and min(e["time_ns"] for e in gdc) >= 3600 * S
    assert cell["inferences"] == 6601  # one per second, 0 .. 6600 s inclusive


def test_manifest_records_inputs(trace: Path) -> None:
    manifest = read_manifest(trace)
    assert manifest["status"] == "complete" and manifest["cells_total"] == 2
    assert set(manifest["hashes"]) == {"arch", "checkpoint:resnet32_pcm_fmnist_hwa"}
    assert manifest["torch_device"] == "cpu"  # where the numbers were computed (run_scenario(device=))
    assert manifest["scenario"]["probes_s"] == [1800.0, 3600.0, 6600.0]
    assert (trace / "mapping.parquet").exists()


@pytest.mark.slow  # three runs of a scenario: ~11 s
def test_resume_and_rerun_are_identical(trace: Path, tmp_path: Path) -> None:
    # Resume over a finished run: nothing to do.
    again = run_scenario(SPEC, trace, resume=True, progress=False)
    assert (again.cells_run, again.cells_skipped) == (0, 2)
    # A crash after one cell: its parts are there, the other cell's are not; resuming finishes the
    # run with the same numbers as the uninterrupted one, and a fresh run gives them bit for bit.
    fresh = tmp_path / "fresh"
    run_scenario(SPEC, fresh, progress=False)
    for table in ("events", "detail", "probes", "cells"):
        (fresh / table / "resnet32_pcm_fmnist_hwa.gdc_hourly.seed0.parquet").unlink()
    resumed = run_scenario(SPEC, fresh, resume=True, progress=False)
    assert (resumed.cells_run, resumed.cells_skipped) == (1, 1)
    for table in ("events", "detail", "probes"):
        assert read_table(fresh, table).equals(read_table(trace, table))
    columns = [c for c in read_table(trace, "cells").column_names if c != "wall_s"]
    assert read_table(fresh, "cells").select(columns).equals(read_table(trace, "cells").select(columns))


def test_timing_only_run_loads_no_images_and_times_the_same(trace: Path, tmp_path: Path) -> None:
    spec = dataclasses.replace(SPEC, accuracy=False)
    run = run_scenario(spec, tmp_path / "timing", progress=False)
    assert run.prepared.images.shape == (0, 1, 32, 32) and run.prepared.calibration.shape[0] == 0
    assert read_table(run.trace_dir, "probes").num_rows == 0
    # Timing depends on the network's shapes and the schedule, not on the images: same events, same
    # latency, energy and tiles as the run that measured accuracy.
    assert read_table(run.trace_dir, "events").equals(read_table(trace, "events"))
    timing = ["cell", "tiles_used", "latency_single_ns", "latency_mean_ns", "energy_per_inference_pj"]
    assert read_table(run.trace_dir, "cells").select(timing).equals(read_table(trace, "cells").select(timing))


@pytest.mark.slow  # a tile dies and is repaired mid-run: ~7 s
def test_a_dead_tile_and_its_repair_on_a_small_cell(tmp_path: Path) -> None:
    # The faults scenario in one small cell: tile 20 of hermes_64 (one block of ResNet-32) dies at 12 h
    # and is repaired on a spare at 14 h; the weights are reprogrammed at 13 h while it is dead, and the
    # chip keeps 1 % stuck devices. GDC+AdaBS before every probe (with GDC alone the stuck devices
    # cost ~15 % here: 0.78, 0.90, 0.83).
    hour = 3600.0
    spec = dataclasses.replace(
        SPEC,
        name="tile_failure_test",
        policies=(
            PolicySpec(
                name="gdc+adabs", compensation="gdc+adabs", every="probe", reprogram_after_s=13 * hour
            ),
        ),
        probes_s=(12 * hour, 13 * hour, 14 * hour),
        tile_failure=TileFailureSpec(tile=20, at_s=12 * hour, recover_after_s=2 * hour),
        faults=FaultSpec(stuck_rate=0.01),
    )
    run_scenario(spec, tmp_path, progress=False)
    probes = read_table(tmp_path, "probes").to_pylist()
    # GDC leaves the dead block alone (it reads nothing) at 12 h, and at 13 h on the reprogrammed chip
    # (the same silicon: the tile is still dead); the repaired block reads again at 14 h.
    assert [p["gdc_skipped_blocks"] for p in probes] == [1, 1, 0]
    assert [p["programmed_at_ns"] for p in probes] == [0, 13 * 3600 * S, 13 * 3600 * S]
    # One block of 43 lost: a physical drop, never the 10 % of NaN logits.
    assert all(p["accuracy"] > 0.8 for p in probes), [p["accuracy"] for p in probes]
    events = read_table(tmp_path, "events").to_pylist()
    repair = [e for e in events if e["kind"] == "program" and e["time_ns"] == 14 * 3600 * S]
    assert len(repair) == 1 and repair[0]["tile"] == 44  # the nearest spare tile of hermes_64's mesh
    cell = read_table(tmp_path, "cells").to_pylist()[0]
    first = [e for e in events if e["kind"] == "program" and e["time_ns"] == 0]
    full_ns = max(e["duration_ns"] for e in first)
    assert cell["programming_ns"] == 2 * full_ns + repair[0]["duration_ns"]  # program, reprogram, repair


@pytest.mark.cuda
def test_a_run_on_cuda_follows_the_same_clock(trace: Path, tmp_path: Path) -> None:
    # The cells program and probe on the GPU: other random streams than the CPU's, so the accuracies agree
    # within sampling (100 images, one seed), and the manifest says where they were computed.
    out = tmp_path / "cuda"
    run_scenario(SPEC, out, progress=False, device="cuda")
    assert read_manifest(out)["torch_device"].startswith("cuda:0 (")
    for policy in ("none", "gdc_hourly"):
        gpu, cpu = _rows(out, "probes", policy), _rows(trace, "probes", policy)
        assert [r["time_ns"] for r in gpu] == [r["time_ns"] for r in cpu]
        assert [r["compensations"] for r in gpu] == [r["compensations"] for r in cpu]
        for g, c in zip(gpu, cpu, strict=True):
            assert abs(g["accuracy"] - c["accuracy"]) < 0.15, (policy, g["time_ns"], g, c)
    rows = _rows(out, "probes", "gdc_hourly")
    assert rows[1]["accuracy"] > 0.8 and rows[2]["accuracy"] > 0.8  # GDC restores it on the GPU too
