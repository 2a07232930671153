"""Crash safety: a scenario run killed with SIGKILL leaves a readable trace, and ``--resume`` completes it.

Each case starts ``chiptwin run`` in a subprocess, kills it at one point (as soon as the manifest exists;
after one finished cell; after three), checks what a reader sees, plants the temporary files a kill in
the middle of a write leaves, then resumes the run and compares the finished trace with one uninterrupted
run. Both use one torch thread, so the two traces agree bit for bit (only the ``wall_s`` column differs).
Every case runs ResNet-32 cells in a subprocess (10-30 s each on one core): all are ``slow``, run by
``.ci/run``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import torch

from chiptwin.scenario import load_scenario, run_scenario
from chiptwin.trace.reader import (
    MANIFEST_FILE,
    MAPPING_FILE,
    TABLES,
    is_complete,
    list_cells,
    part_path,
    read_manifest,
    read_table,
)
from chiptwin.trace.schema import SCHEMAS

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and atomic rename semantics are POSIX")

SCENARIO = """\
name = "crash_safety"
checkpoints = ["resnet32_pcm_fmnist_hwa"]
seeds = [0, 1]
probes_s = [3600.0, 86400.0]
n_images = 50
n_adabs = 50
n_range_calibration = 25
batch_size = 25

[workload]
kind = "periodic"
rate_per_s = 1.0

[[policies]]
name = "none"

[[policies]]
name = "gdc"
compensation = "gdc"
every = "probe"

[[policies]]
name = "gdc+adabs"
compensation = "gdc+adabs"
every = "probe"
"""

CELLS = 6
"""1 checkpoint x 3 policies x 2 seeds, a few seconds each."""

TIMEOUT_S = 300.0
"""Longest wait for a kill point or a resumed run: a hang fails the test instead of blocking the suite."""

POLL_S = 0.005
"""Polling period of the trace directory (a cell takes seconds, the start-up writes milliseconds)."""


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "crash_safety.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reference(scenario_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One uninterrupted run, in this process (no interpreter start-up) on one torch thread."""
    out = tmp_path_factory.mktemp("reference") / "trace"
    threads = torch.get_num_threads()
    try:
        run = run_scenario(load_scenario(scenario_file), out, progress=False, threads=1)
    finally:
        torch.set_num_threads(threads)
    assert (run.cells_run, run.cells_skipped) == (CELLS, 0)
    yield out


def _command(scenario_file: Path, out: Path, *extra: str) -> list[str]:
    run = ["run", str(scenario_file), "--out", str(out), "--quiet", "--no-report", "--threads", "1"]
    return [sys.executable, "-m", "chiptwin.cli", *run, *extra]


def _finished(out: Path) -> list[str]:
    return list_cells(out) if out.is_dir() else []


def _run_and_kill(scenario_file: Path, out: Path, after_cells: int, log: Path) -> None:
    """Start ``chiptwin run``; SIGKILL it once the manifest exists and ``after_cells`` cells finished."""
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            _command(scenario_file, out), stdout=sink, stderr=subprocess.STDOUT, cwd=log.parent
        )
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not ((out / MANIFEST_FILE).exists() and len(_finished(out)) >= after_cells):
            if proc.poll() is not None:
                pytest.fail(
                    f"chiptwin run ended (exit {proc.returncode}) before the kill point:\n{log.read_text()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"chiptwin run did not reach {after_cells} finished cells in {TIMEOUT_S} s")
            time.sleep(POLL_S)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"


def _check_interrupted(out: Path, after_cells: int) -> list[str]:
    """What a reader sees after the kill: a running manifest and whole parts; returns the finished cells."""
    assert read_manifest(out)["status"] == "running" and not is_complete(out)
    for table in SCHEMAS:
        read_table(out, table)  # every part present is whole Parquet of its schema
    if (out / MAPPING_FILE).exists():
        read_table(out, "mapping")
    finished = _finished(out)
    assert len(finished) >= after_cells
    assert read_table(out, "cells").column("cell").to_pylist() == finished
    for table in ("events", "detail", "probes"):  # written before the cells part marking the cell finished
        parts = read_table(out, table, cells=finished)
        assert set(parts.column("cell").to_pylist()) <= set(finished)
    return finished


def _plant_tmp_files(out: Path, reference: Path, finished: list[str]) -> None:
    """Leave what a kill in the middle of a write leaves: hidden ``.tmp`` files, half or whole.

    The whole one in ``cells/`` is the worst case: were it taken for a part, its cell would count as
    finished without its events and probes.
    """
    pending = next(cell for cell in list_cells(reference) if cell not in finished)
    for table in SCHEMAS:
        data = part_path(reference, table, pending).read_bytes()
        (out / table).mkdir(exist_ok=True)
        tmp = out / table / f".{pending}.parquet.tmp"
        tmp.write_bytes(data if table == "cells" else data[: len(data) // 2])
    (out / f".{MAPPING_FILE}.tmp").write_bytes((reference / MAPPING_FILE).read_bytes()[:100])
    assert _finished(out) == finished
    for table in TABLES:
        if table != "mapping" or (out / MAPPING_FILE).exists():
            read_table(out, table)


def _stamps(out: Path, cells: list[str]) -> dict[Path, tuple[int, int]]:
    paths = [part_path(out, table, cell) for table in SCHEMAS for cell in cells]
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in paths}


def _without_wall_time(table: pa.Table) -> pa.Table:
    return table.drop_columns(["wall_s"])


@pytest.mark.parametrize(
    "after_cells",
    [
        pytest.param(0, id="manifest-written", marks=pytest.mark.slow),
        pytest.param(1, id="1-cell", marks=pytest.mark.slow),
        pytest.param(3, id="3-cells", marks=pytest.mark.slow),
    ],
)
def test_a_killed_run_is_readable_and_resumes_to_the_same_trace(
    scenario_file: Path, reference: Path, tmp_path: Path, after_cells: int
) -> None:
    out = tmp_path / "trace"
    _run_and_kill(scenario_file, out, after_cells, tmp_path / "killed.log")
    finished = _check_interrupted(out, after_cells)
    _plant_tmp_files(out, reference, finished)
    kept = _stamps(out, finished)

    done = subprocess.run(
        _command(scenario_file, out, "--resume"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{CELLS - len(finished)} cells run, {len(finished)} resumed" in done.stdout
    assert is_complete(out)
    assert _stamps(out, finished) == kept  # the finished cells' parts were kept, not rewritten
    assert not list(out.rglob("*.tmp"))
    for table in ("events", "detail", "probes", "mapping"):
        assert read_table(out, table).equals(read_table(reference, table)), table
    assert _without_wall_time(read_table(out, "cells")).equals(
        _without_wall_time(read_table(reference, "cells"))
    )
