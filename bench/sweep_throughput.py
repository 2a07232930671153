"""Benchmark: sweep throughput on a dask LocalCluster vs the same cells run serially in one process.

Runs, in one run, each set of cells with :func:`chiptwin.sweep.run_sweep` into a fresh output folder
under a temporary directory, alternating the two modes ``--repeats`` times: serially in this process
(``serial=True``) and on a new LocalCluster of ``--workers`` single-threaded worker processes. Both modes
give each cell one torch thread. Two kinds of cells:

- timing-only (``accuracy = false``): the grid of the shipped ``timing_only`` sweep (arch x strategy x ADC
  bits, a day of Poisson traffic each), with ``--cells`` rounded up to whole blocks of its 6 arch x
  strategy pairs (more ADC bit values, then ADC sharing, for more cells);
- functional evaluation (``accuracy = true``): the same base on hermes_64 with GDC + AdaBS before two
  probes (1 h, 1 d) of ``--n-images`` test images, one cell per programming seed (``--accuracy-cells``).

Prints, per kind: cells, mean wall time per mode (and each run's), cells/s and the speed-up (total
serial wall / total cluster wall; alternating spreads a shared machine's slow phases over both modes).
Target: >= 1.5x for timing-only cells with 2 workers on 2 cores. The cluster's wall time includes
starting and closing its LocalCluster (:func:`chiptwin.sweep.local_cluster`), which the bench first
measures alone and prints (about 4 s + 1 s on a 2-core machine, most of it the workers importing
chiptwin and torch as they start); with a timing-only cell taking 0.55-0.7 s, the default 72 cells make
that fixed cost a sixth of the cluster's time. The serial mode runs in the bench's process, whose
imports are already done.

    python bench/sweep_throughput.py [--cells 72] [--workers 2] [--repeats 2] [--accuracy-cells 4]
                                     [--n-images 100]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time
from pathlib import Path

import pyarrow as pa
from distributed import Client

from chiptwin.shipped import shipped_path
from chiptwin.sweep import SweepSpec, load_sweep, local_cluster, read_sweep, run_sweep

MIN_TIMING_SPEEDUP = 1.5
"""Target: serial wall / cluster wall for timing-only cells, 2 workers on 2 cores."""

SWEEP_FILE = shipped_path("sweeps", "timing_only")

ADC_BITS = (6, 8, 10, 4, 12, 5, 7, 9, 11, 3, 13, 14)
"""ADC resolutions of the timing grid, in the order they are added (the shipped file's three first)."""

COLUMNS_PER_ADC = (1, 2, 4, 8)
"""Columns per ADC, added to the grid when the ADC bits alone do not give enough cells."""

ACCURACY_PROBES_S = (3600.0, 86400.0)


def timing_sweep(cells: int) -> SweepSpec:
    """The shipped ``timing_only`` sweep with as many ADC bit values as ``cells`` needs (at least that)."""
    shipped = load_sweep(SWEEP_FILE)
    pairs = len(shipped.grid["arch"]) * len(shipped.grid["strategy"])
    bits = ADC_BITS[: max(1, min(len(ADC_BITS), math.ceil(cells / pairs)))]
    grid = {**shipped.grid, "adc.bits": bits}
    sharing = math.ceil(cells / (pairs * len(bits)))
    if sharing > 1:  # beyond 72 cells: ADCs shared by 1, 2, 4, ... columns as well
        grid["adc.columns_per_adc"] = COLUMNS_PER_ADC[: min(len(COLUMNS_PER_ADC), sharing)]
    return dataclasses.replace(shipped, name="bench_timing", grid=grid)


def accuracy_sweep(cells: int, n_images: int) -> SweepSpec:
    """One functional cell per seed: the timing sweep's base with GDC + AdaBS before each probe."""
    base = dataclasses.replace(
        load_sweep(SWEEP_FILE).base,
        probes_s=ACCURACY_PROBES_S,
        n_images=n_images,
        n_adabs=n_images,
        n_range_calibration=min(n_images, 50),
        batch_size=min(n_images, 50),
    )
    return SweepSpec(
        name="bench_accuracy",
        base=base,
        grid={"policy": ("gdc+adabs",), "seed": tuple(range(cells))},
        accuracy=True,
    )


def cluster_overhead_s(workers: int) -> tuple[float, float]:
    """Wall seconds to start a LocalCluster like ``run_sweep``'s (workers up) and to close it."""
    start = time.perf_counter()
    cluster = local_cluster(workers)
    with Client(cluster) as client:
        client.wait_for_workers(workers)
    up = time.perf_counter() - start
    start = time.perf_counter()
    cluster.close()
    return up, time.perf_counter() - start


def timed_sweep(spec: SweepSpec, *, serial: bool, workers: int) -> tuple[float, int, pa.Table]:
    """Run ``spec`` into a fresh temporary folder: wall seconds, cells run, and the results table."""
    with tempfile.TemporaryDirectory(prefix="chiptwin-sweep-bench-") as tmp:
        start = time.perf_counter()
        result = run_sweep(spec, Path(tmp) / "sweep", workers=workers, serial=serial)
        wall = time.perf_counter() - start
        if result.failed:
            raise SystemExit(f"{spec.name}: cells failed: {result.failed}")
        return wall, result.cells_run, read_sweep(result.out)


def compare(spec: SweepSpec, workers: int, repeats: int, target: float | None) -> None:
    """Run ``spec`` serially and on the cluster, alternating, ``repeats`` times each; print the speed-up.

    Alternating the modes spreads slow phases of a shared machine over both; the speed-up is the total
    serial wall time over the total cluster wall time.
    """
    serial_s: list[float] = []
    cluster_s: list[float] = []
    reference: pa.Table | None = None
    same = True
    cells = len(spec.cells())
    for _ in range(repeats):
        for serial, walls in ((True, serial_s), (False, cluster_s)):
            wall, run, rows = timed_sweep(spec, serial=serial, workers=workers)
            assert run == cells, "every mode runs every cell"
            walls.append(wall)
            reference = rows if reference is None else reference
            same = same and rows.equals(reference)
    kind = "timing-only" if not spec.accuracy else "accuracy"
    print(f"{kind}: {cells} cells ({', '.join(f'{k} x{len(v)}' for k, v in spec.grid.items())})")
    for mode, walls in (("serial, 1 process", serial_s), (f"LocalCluster, {workers} workers", cluster_s)):
        each = ", ".join(f"{w:.1f}" for w in walls)
        rate = cells * repeats / sum(walls)
        print(f"  {mode:<26} {sum(walls) / repeats:8.1f} s  {rate:7.3f} cells/s  ({each} s)")
    ratio = sum(serial_s) / sum(cluster_s)
    goal = f"target >= {target:.1f}x" if target is not None else "no target"
    print(f"  speed-up {ratio:.2f}x ({goal}); results {'identical' if same else 'DIFFER'} in every run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=72, help="timing-only cells (rounded up to 6s)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--accuracy-cells", type=int, default=4, help="cells with functional evaluation")
    parser.add_argument("--n-images", type=int, default=100, help="test images per probe (accuracy cells)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each mode, alternating")
    args = parser.parse_args()

    up, down = cluster_overhead_s(args.workers)
    print(f"sweep throughput: dask LocalCluster ({args.workers} single-threaded workers) vs serial")
    print(
        f"LocalCluster start-up {up:.1f} s + shutdown {down:.1f} s, measured alone "
        "(included in each cluster wall time below)"
    )
    compare(timing_sweep(args.cells), args.workers, args.repeats, MIN_TIMING_SPEEDUP)
    if args.accuracy_cells > 0:
        compare(accuracy_sweep(args.accuracy_cells, args.n_images), args.workers, args.repeats, None)


if __name__ == "__main__":  # the LocalCluster's worker processes re-import this module
    main()
