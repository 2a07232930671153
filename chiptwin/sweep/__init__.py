"""Sweeps: grids of scenario cells on dask.distributed, written as one partitioned Parquet dataset."""

from chiptwin.sweep.run import (
    RESULTS_VERSION,
    SweepResult,
    local_cluster,
    read_sweep,
    results_schema,
    run_sweep,
    run_sweep_cell,
)
from chiptwin.sweep.spec import GRID_KEYS, SweepCell, SweepSpec, load_sweep

__all__ = [
    "GRID_KEYS",
    "RESULTS_VERSION",
    "SweepCell",
    "SweepResult",
    "SweepSpec",
    "load_sweep",
    "local_cluster",
    "read_sweep",
    "results_schema",
    "run_sweep",
    "run_sweep_cell",
]
