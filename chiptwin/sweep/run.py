"""Run a sweep's cells on dask.distributed (a LocalCluster by default, or an existing scheduler).

Output directory::

    OUT/sweep.json                  # the sweep, its cell count, and (at the end) failed cells
    OUT/cells/<cell id>/            # each cell's full trace (chiptwin.trace layout)
    OUT/results/<cell id>.parquet   # one part per finished cell: its grid keys as columns + figures

``OUT/results`` is one partitioned Parquet dataset (:func:`read_sweep`). A cell's results part is written
last and atomically, so its presence marks the cell finished: a re-run skips finished cells and resumes
the traces of interrupted ones. A failing cell is retried ``retries`` times, then reported with its error
(the other cells still run).
"""

from __future__ import annotations

import contextlib
import json
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from chiptwin.errors import DataError, SpecError, UsageError
from chiptwin.files import FolderLock, describe_os_error, load_json
from chiptwin.limits import MAX_PROBES, MAX_SWEEP_CELLS
from chiptwin.scenario.prepare import weights_sha256
from chiptwin.scenario.run import run_scenario
from chiptwin.sweep.spec import SweepCell, SweepSpec
from chiptwin.trace.footer import check_parquet_rows
from chiptwin.trace.reader import read_table
from chiptwin.trace.schema import dynamic_energy_pj
from chiptwin.trace.writer import write_atomic
from chiptwin.versions import SWEEP_RESULTS_VERSION

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

__all__ = [
    "RESULTS_VERSION",
    "SWEEP_ENTRIES",
    "SweepResult",
    "local_cluster",
    "read_sweep",
    "results_schema",
    "run_sweep",
    "run_sweep_cell",
]

RESULTS_VERSION = SWEEP_RESULTS_VERSION
"""Version of the results table schema (:mod:`chiptwin.versions`)."""

_FIGURES = [
    pa.field("time_ns", pa.int64()),
    pa.field("age_s", pa.float64()),
    pa.field("accuracy", pa.float64()),  # null for timing-only cells (as age_s)
    pa.field("n_images", pa.int64()),
    pa.field("tiles_used", pa.int64()),
    pa.field("area_mm2", pa.float64()),
    pa.field("latency_single_ns", pa.int64()),
    pa.field("latency_mean_ns", pa.float64()),
    pa.field("throughput_per_s", pa.float64()),
    pa.field("peak_throughput_per_s", pa.float64()),
    pa.field("energy_per_inference_pj", pa.float64()),
    pa.field("dynamic_energy_pj", pa.float64()),
    pa.field("compensation_energy_pj", pa.float64()),
    pa.field("programming_energy_pj", pa.float64()),
]


def results_schema(keys: list[str]) -> pa.Schema:
    """The results table of a sweep whose grid keys are ``keys`` (string columns, dots as ``_``)."""
    return pa.schema(
        [pa.field("sweep_cell", pa.string()), *(pa.field(_column(k), pa.string()) for k in keys), *_FIGURES],
        metadata={"table": "sweep_results", "schema_version": str(RESULTS_VERSION), "keys": json.dumps(keys)},
    )


def _column(key: str) -> str:
    return key.replace(".", "_")


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What a sweep run did."""

    out: Path
    cells_total: int
    cells_run: int
    cells_skipped: int
    failed: dict[str, str]
    """Cell id -> error of the cells that failed after their retries."""

    wall_s: float


SWEEP_ENTRIES = ("sweep.json", "results", "cells")
"""The names of a sweep folder's own data (no report or other output is written over or into them)."""


def _results_path(out: Path, cell_id: str) -> Path:
    return out / "results" / f"{cell_id}.parquet"


def run_sweep_cell(
    cell: SweepCell,
    out: Path | str,
    keys: list[str],
    accuracy: bool = True,
    models: Mapping[str, Any] | None = None,
) -> str:
    """Run one cell (its own trace under ``OUT/cells``) and write its results part; returns its path.

    Runs in a dask worker or in-process; the same cell gives the same Parquet data either way.
    ``models``: models of your own by checkpoint name (those the cell names are used).
    """
    out = Path(out)
    trace_dir = out / "cells" / cell.cell_id
    scenario = replace(cell.scenario, accuracy=accuracy)
    mine = {k: m for k, m in (models or {}).items() if k in scenario.checkpoints}
    # one core per worker
    run_scenario(scenario, trace_dir, resume=True, progress=False, threads=1, models=mine or None)
    cells = read_table(trace_dir, "cells").to_pylist()
    probes = read_table(trace_dir, "probes").to_pylist()
    assert len(cells) == 1, f"{trace_dir}: expected one cell, found {len(cells)}"
    c = cells[0]
    base: dict[str, Any] = {"sweep_cell": cell.cell_id} | {_column(k): cell.keys[k] for k in keys}
    base |= {
        "tiles_used": c["tiles_used"],
        "area_mm2": c["area_mm2"],
        "latency_single_ns": c["latency_single_ns"],
        "latency_mean_ns": c["latency_mean_ns"],
        "throughput_per_s": c["throughput_per_s"],
        "peak_throughput_per_s": c["peak_throughput_per_s"],
        "energy_per_inference_pj": c["energy_per_inference_pj"],
        "dynamic_energy_pj": dynamic_energy_pj(c),
        "compensation_energy_pj": c["compensation_energy_pj"],
        "programming_energy_pj": c["programming_energy_pj"],
    }
    timing_only = {"time_ns": c["duration_ns"], "age_s": None, "accuracy": None, "n_images": 0}
    rows = [base | {k: p[k] for k in ("time_ns", "age_s", "accuracy", "n_images")} for p in probes] or [
        base | timing_only
    ]
    table = pa.Table.from_pylist(rows, schema=results_schema(keys))
    path = _results_path(out, cell.cell_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda f: pq.write_table(table, f))
    return str(path)


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest, indent=2, sort_keys=True)
    write_atomic(out / "sweep.json", lambda f: f.write(text.encode("utf-8")))


def _error(exc: BaseException) -> str:
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return " ".join(last.split())


def run_sweep(
    spec: SweepSpec,
    out: Path | str,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    serial: bool = False,
    on_done: Callable[[str, str | None], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    models: Mapping[str, Any] | None = None,
) -> SweepResult:
    """Run every unfinished cell of ``spec``; write the results dataset under ``out``.

    Nothing is written before the folder is locked (:class:`chiptwin.files.FolderLock`), any earlier
    ``sweep.json`` is checked and the scheduler answers; then ``on_start(cells_total)`` is called.

    Args:
        spec: the sweep.
        out: output directory (created; a re-run skips finished cells).
        scheduler: address of an existing dask scheduler (default: a LocalCluster of ``workers``
            single-threaded worker processes).
        workers: LocalCluster size.
        serial: run the cells one after another in this process (no dask), e.g. for comparison.
        on_done: called as ``on_done(cell_id, error or None)`` when a cell finishes or finally fails.
        on_start: called as ``on_start(cells_total)`` once the checks passed, before the first cell.
        models: models of your own (``nn.Module`` objects) by the checkpoint name the sweep gives them,
            as in :func:`chiptwin.scenario.run.run_scenario`; on a cluster they travel with each cell's
            task. ``sweep.json`` records their weights' hashes: a re-run with other weights is refused.

    Raises:
        DataError: the folder cannot be created, another process writes it, or it holds another sweep
            (or this sweep with other weights of a model of your own).
        SpecError: a model is given under a name that is no checkpoint of the sweep.
        UsageError: the scheduler cannot be reached.
    """
    models = dict(models or {})
    if models:
        named = {c for cell in spec.cells() for c in cell.scenario.checkpoints}
        stray = sorted(set(models) - named)
        if stray:
            raise SpecError(f"models {stray} are not checkpoints of the sweep (it names {sorted(named)})")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{out}: cannot create the sweep folder ({describe_os_error(exc)})") from None
    with FolderLock(out, "sweep folder", DataError):
        return _run_sweep(spec, out, scheduler, workers, serial, on_done, on_start, models)


def _run_sweep(
    spec: SweepSpec,
    out: Path,
    scheduler: str | None,
    workers: int,
    serial: bool,
    on_done: Callable[[str, str | None], None] | None,
    on_start: Callable[[int], None] | None,
    models: dict[str, Any],
) -> SweepResult:
    start = time.perf_counter()
    cells = spec.cells()
    keys = list(cells[0].keys) if cells else []
    manifest = {
        "sweep": spec.name,
        "grid": {k: [str(v) for v in vs] for k, vs in spec.grid.items()},
        "base": spec.base.to_dict(),
        "cells_total": len(cells),
        "keys": keys,
        "status": "running",
    }
    if models:
        manifest["user_models"] = {name: weights_sha256(m) for name, m in sorted(models.items())}
    previous = out / "sweep.json"
    if previous.exists() or previous.is_symlink():
        old = load_json(previous, "sweep state", DataError)
        if not isinstance(old, dict):
            raise DataError(f"{previous}: not a sweep manifest (a JSON {type(old).__name__}, not an object)")
        if old.get("base") != manifest["base"] or old.get("grid") != manifest["grid"]:
            raise DataError(f"{out}: holds another sweep (use another --out)")
        if old.get("user_models") != manifest.get("user_models"):
            raise DataError(
                f"{out}: holds this sweep run on other weights of models of your own ({previous}: "
                "user_models; use another folder)"
            )
    todo = [c for c in cells if not _results_path(out, c.cell_id).exists()]
    with _executor(None if serial or not todo else (scheduler, workers)) as client:
        _write_manifest(out, manifest)
        if on_start is not None:
            on_start(len(cells))
        failed = _run_cells(spec, todo, out, keys, client, on_done, models)
    manifest |= {"status": "complete" if not failed else "failed", "failed": failed}
    _write_manifest(out, manifest)
    return SweepResult(
        out=out,
        cells_total=len(cells),
        cells_run=len(todo) - len(failed),
        cells_skipped=len(cells) - len(todo),
        failed=failed,
        wall_s=time.perf_counter() - start,
    )


def _run_cells(
    spec: SweepSpec,
    todo: list[SweepCell],
    out: Path,
    keys: list[str],
    client: Client | None,
    on_done: Callable[[str, str | None], None] | None,
    models: dict[str, Any],
) -> dict[str, str]:
    """Run ``todo`` in this process (``client`` None) or on the cluster; returns the failed cells' errors."""
    if client is not None:
        return _run_distributed(spec, todo, out, keys, client, on_done, models)
    failed: dict[str, str] = {}
    for cell in todo:
        for attempt in range(spec.retries + 1):
            try:
                run_sweep_cell(cell, out, keys, spec.accuracy, models)
                error = None
                break
            except Exception as exc:
                error = _error(exc)
                if attempt == spec.retries:
                    failed[cell.cell_id] = error
        if on_done is not None:
            on_done(cell.cell_id, error)
    return failed


def _worker_config() -> dict[str, Any]:
    """Dask settings for the LocalCluster's workers (the Nanny hands its config to the worker process).

    - ``MALLOC_TRIM_THRESHOLD_`` is left out of the environment dask sets before spawning a worker. Dask
      sets it to hand freed memory back to the OS, but setting it turns off glibc's dynamic mmap
      threshold (mallopt(3), M_MMAP_THRESHOLD), so every numpy array over 128 KiB is mapped and unmapped
      afresh, page faults included: a timing-only cell ran 1.5x slower with it (median 0.89-0.92 s vs
      0.58 s, the same 12 cells in one process with and without the variable). Cells are short and hold
      little memory, so the workers keep glibc's default. The thread limits (OMP_NUM_THREADS=1 ...) stay.
    - The statistical profiler, which samples the task thread's stack every 10 ms for the dashboard, is
      off: this cluster has no dashboard, and cells ran faster without it (median per cell over 144
      cells 0.55 s in two runs without it, 0.60 and 0.64 s in two runs with it).
    - The workers' event loops wake less often: the loop-latency tick every 1 s (default 20 ms), the
      memory monitor every 1 s (100 ms; limits are still enforced), the system monitor every 2 s
      (500 ms). Each wake-up takes the GIL from the running cell: 48 timing-only cells on 2 workers
      took 8 % less wall time with the slower clocks (4 alternating pairs of runs, every pair faster).
    - Workers import this module (and with it torch) as they start (preload). Otherwise the first task's
      deserialisation imports it on the worker's event-loop thread, which then spends ~2.5-3.5 s of CPU
      and holds up the worker: 36 timing-only cells took 15.2 s on 2 workers that way, 10.8 s on
      workers that had imported it.
    """
    import dask  # here, not at module level: every CLI command imports this module

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return {
        "distributed.nanny.pre-spawn-environ": environ,
        "distributed.worker.profile.enabled": False,
        "distributed.admin.tick.interval": "1s",
        "distributed.worker.memory.monitor-interval": "1s",
        "distributed.admin.system-monitor.interval": "2s",
        "distributed.worker.preload": [__name__],
    }


def local_cluster(workers: int) -> LocalCluster:
    """A LocalCluster of ``workers`` single-threaded worker processes set up for sweep cells (no dashboard).

    The caller closes it (``run_sweep`` does so when its cells are done).
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set(_worker_config()):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)


def _run_distributed(
    spec: SweepSpec,
    todo: list[SweepCell],
    out: Path,
    keys: list[str],
    client: Client,
    on_done: Callable[[str, str | None], None] | None,
    models: dict[str, Any],
) -> dict[str, str]:
    from distributed import as_completed

    failed: dict[str, str] = {}
    futures = {
        client.submit(
            run_sweep_cell,
            cell,
            str(out),
            keys,
            spec.accuracy,
            {k: m for k, m in models.items() if k in cell.scenario.checkpoints},
            key=f"chiptwin-{spec.name}-{cell.cell_id}",
            retries=spec.retries,
            pure=False,
        ): cell.cell_id
        for cell in todo
    }
    for future in as_completed(futures):
        cell_id = futures[future]
        error = None
        if future.status != "finished":
            error = _error(future.exception())
            failed[cell_id] = error
        if on_done is not None:
            on_done(cell_id, error)
    return failed


@contextlib.contextmanager
def _executor(where: tuple[str | None, int] | None) -> Iterator[Client | None]:
    """A dask client for ``where = (scheduler address or None for a LocalCluster, workers)``, or None."""
    if where is None:
        yield None
        return
    scheduler, workers = where
    cluster = local_cluster(workers) if scheduler is None else None
    try:
        with _client(cluster if cluster is not None else scheduler) as client:
            yield client
    finally:
        if cluster is not None:
            cluster.close()


_CONNECT_TIMEOUT_S = 10
"""How long to try reaching a ``--scheduler`` before giving up, s (dask's default is 30)."""


def _client(address: Any) -> Client:
    """A dask client of a LocalCluster or of the scheduler at ``address``.

    Raises:
        UsageError: the scheduler cannot be reached in :data:`_CONNECT_TIMEOUT_S` or the address is not one
            dask understands.
    """
    from distributed import Client

    try:
        return Client(address, timeout=_CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        if not isinstance(address, str):
            raise
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise UsageError(f"--scheduler {address}: cannot connect ({detail})") from None


def read_sweep(out: Path | str) -> pa.Table:
    """The sweep's results: every finished cell's rows, sorted by cell id.

    Raises:
        DataError: ``out`` has no results, or a part is not a results part of this schema version.
    """
    root = Path(out) / "results"
    parts = sorted(p for p in root.glob("*.parquet") if not p.name.startswith("."))
    if not parts:
        raise DataError(f"{root}: no finished sweep cells")
    if len(parts) > MAX_SWEEP_CELLS:
        raise DataError(f"{root}: {len(parts):,} results parts; a sweep has at most {MAX_SWEEP_CELLS:,}")
    for p in parts:
        # one row per probe of the cell: a footer that declares more is no results part of a sweep
        check_parquet_rows(p, "trace part", MAX_PROBES, DataError, "one row per probe")
        try:
            meta = pq.read_schema(p).metadata or {}
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"{p}: not a Parquet results part ({exc})") from None
        if (
            meta.get(b"table") != b"sweep_results"
            or meta.get(b"schema_version") != str(RESULTS_VERSION).encode()
        ):
            raise DataError(f"{p}: not a sweep results part of schema_version {RESULTS_VERSION}")
    return ds.dataset([str(p) for p in parts], format="parquet").to_table()
