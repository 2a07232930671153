"""Sweeps on a real dask LocalCluster (2 workers): grid expansion, results dataset, retries, resume,
and the same Parquet data whether a cell runs alone, serially or in the cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.compute as pc
import pytest

from chiptwin.errors import SpecError
from chiptwin.scenario import PolicySpec, ScenarioSpec, WorkloadSpec, run_scenario
from chiptwin.shipped import shipped_dir
from chiptwin.sweep import SweepSpec, load_sweep, local_cluster, read_sweep, run_sweep
from chiptwin.trace.reader import read_table

BASE = ScenarioSpec(
    name="sweep_base",
    checkpoints=("resnet32_pcm_fmnist_hwa",),
    policies=(PolicySpec(name="none"), PolicySpec(name="gdc", compensation="gdc", every="probe")),
    probes_s=(3600.0,),
    n_images=100,
    n_adabs=100,
    n_range_calibration=50,
    batch_size=50,
    workload=WorkloadSpec(kind="periodic", rate_per_s=1.0),
)

TIMING = SweepSpec(
    name="t",
    base=BASE,
    grid={"arch": ("hermes_64", "large_512"), "strategy": ("dense", "packed"), "policy": ("gdc",)},
    accuracy=False,
)


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    cluster = local_cluster(2)  # the cluster run_sweep starts when given no scheduler
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _worker_settings() -> tuple[str | None, str | None, bool, bool]:
    import os
    import sys

    import dask

    env = os.environ
    profile = dask.config.get("distributed.worker.profile.enabled")
    return env.get("MALLOC_TRIM_THRESHOLD_"), env.get("OMP_NUM_THREADS"), profile, "torch" in sys.modules


@pytest.mark.slow  # on the module's dask LocalCluster (~5 s to start): ~15 s for the five
def test_local_cluster_workers_keep_glibc_malloc_run_no_profiler_and_preload(scheduler: str) -> None:
    from distributed import Client

    with Client(scheduler) as client:
        settings = client.run(_worker_settings)
    # MALLOC_TRIM_THRESHOLD_ (dask's default) made cells 1.5x slower; the thread limit stays; torch is
    # imported before any cell (preload), not on the first task's deserialisation.
    assert list(settings.values()) == [(None, "1", False, True)] * 2


def test_grid_expands_in_order_with_keys() -> None:
    cells = TIMING.cells()
    assert [c.cell_id for c in cells][:2] == [
        "arch=hermes_64,strategy=dense,policy=gdc,checkpoint=resnet32_pcm_fmnist_hwa,seed=0",
        "arch=hermes_64,strategy=packed,policy=gdc,checkpoint=resnet32_pcm_fmnist_hwa,seed=0",
    ]
    assert len(cells) == 4
    last = cells[-1].scenario
    assert (last.arch, last.strategy, [p.name for p in last.policies], last.seeds) == (
        "large_512",
        "packed",
        ["gdc"],
        (0,),
    )
    adc = SweepSpec(name="a", base=BASE, grid={"adc.bits": (6, 8)}).cells()
    assert [c.scenario.arch_overrides for c in adc][:2] == [{"adc.bits": 6}, {"adc.bits": 6}]
    assert len(adc) == 2 * 2  # adc bits x the base's two policies


@pytest.mark.parametrize(
    ("grid", "fragment"),
    [
        ({"colour": ("red",)}, "grid key 'colour'"),
        ({"policy": ("magic",)}, "not a policy of the base"),
        ({"seed": (-1,)}, "grid.seed value -1"),
        ({"strategy": ()}, "at least one value"),
        ({"strategy": ("dense", "dense")}, "repeated"),
    ],
)
def test_bad_grid(grid: dict[str, tuple[object, ...]], fragment: str) -> None:
    with pytest.raises(SpecError) as err:
        SweepSpec(name="x", base=BASE, grid=grid)
    assert fragment in str(err.value)


def test_load_sweep_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'scenario = "day_retention"\n[base]\nn_images = 50\nprobes_s = [60.0]\n'
        '[grid]\n"adc.bits" = [6, 8]\npolicy = ["gdc"]\n[run]\nretries = 0\n'
    )
    spec = load_sweep(path)
    assert spec.name == "s" and spec.base.n_images == 50 and spec.retries == 0
    assert len(spec.cells()) == 2 * 2  # adc bits x both shipped checkpoints
    path.write_text('[grid]\nstrategy = "dense"\n')
    with pytest.raises(SpecError, match=f"{path}: grid must be a table of arrays"):
        load_sweep(path)
    path.write_text("[base]\nn_imagez = 3\n")
    with pytest.raises(SpecError, match=r"unknown key base\.'n_imagez'"):
        load_sweep(path)


def test_shipped_sweep_files_load() -> None:
    assert len(load_sweep("adc_strategy").cells()) == 24
    assert len(load_sweep("timing_only").cells()) == 18
    scale = load_sweep("weight_scale").cells()
    assert len(scale) == 2 * 2 * 3 * 2  # scales x policies x seeds x both checkpoints


@pytest.mark.slow  # on the module's dask LocalCluster (~5 s to start): ~15 s for the five
def test_timing_sweep_on_the_cluster_matches_serial_and_resumes(scheduler: str, tmp_path: Path) -> None:
    done: list[str] = []
    result = run_sweep(TIMING, tmp_path / "d", scheduler=scheduler, on_done=lambda c, e: done.append(c))
    assert (result.cells_run, result.cells_skipped, result.failed) == (4, 0, {})
    assert sorted(done) == sorted(c.cell_id for c in TIMING.cells())
    table = read_sweep(tmp_path / "d")
    assert table.num_rows == 4 and {"arch", "strategy", "policy", "seed"} <= set(table.column_names)
    # Packed placement needs fewer tiles than dense on the same chip.
    for arch in ("hermes_64", "large_512"):
        rows = {r["strategy"]: r for r in table.filter(pc.equal(table["arch"], arch)).to_pylist()}
        assert rows["packed"]["tiles_used"] < rows["dense"]["tiles_used"]
    serial = run_sweep(TIMING, tmp_path / "s", serial=True)
    assert serial.cells_run == 4 and read_sweep(tmp_path / "s").equals(table)
    again = run_sweep(TIMING, tmp_path / "d", scheduler=scheduler)
    assert (again.cells_run, again.cells_skipped) == (0, 4)


@pytest.mark.slow  # on the module's dask LocalCluster (~5 s to start): ~15 s for the five
def test_failed_cells_are_retried_then_reported(scheduler: str, tmp_path: Path) -> None:
    spec = SweepSpec(
        name="f",
        base=BASE,
        grid={"arch": ("hermes_64", "no_such_chip"), "policy": ("gdc",)},
        accuracy=False,
        retries=1,
    )
    result = run_sweep(spec, tmp_path, scheduler=scheduler)
    assert result.cells_run == 1 and len(result.failed) == 1
    ((cell, error),) = result.failed.items()
    assert cell.startswith("arch=no_such_chip") and "no_such_chip: no such file or architecture" in error
    assert read_sweep(tmp_path).num_rows == 1


@pytest.mark.slow  # on the module's dask LocalCluster (~5 s to start): ~15 s for the five
def test_a_cell_alone_in_a_sweep_and_resumed_gives_identical_parquet(scheduler: str, tmp_path: Path) -> None:
    spec = SweepSpec(name="acc", base=BASE, grid={"policy": ("gdc",)})
    (cell,) = spec.cells()
    run_sweep(spec, tmp_path / "sweep", scheduler=scheduler)
    alone = run_scenario(cell.scenario, tmp_path / "alone", progress=False, threads=1)
    swept = tmp_path / "sweep" / "cells" / cell.cell_id
    for table in ("probes", "events"):
        assert read_table(alone.trace_dir, table).equals(read_table(swept, table))
    probes = read_table(swept, "probes").to_pylist()
    assert len(probes) == 1 and probes[0]["accuracy"] > 0.8  # GDC at 1 h keeps the HWA network accurate


def test_worker_config_file_for_external_clusters_matches_the_local_cluster() -> None:
    import copy

    import dask
    import distributed  # noqa: F401  (its import loads the distributed.* defaults into dask.config)

    from chiptwin.sweep.run import _worker_config

    path = shipped_dir("sweeps") / "dask-workers.yaml"
    (loaded,) = dask.config.collect_yaml([str(path)])
    merged = copy.deepcopy(dask.config.config)
    dask.config.update(merged, loaded)
    environ = merged["distributed"]["nanny"]["pre-spawn-environ"]
    ours = _worker_config()
    # A null in the file unsets the variable (dask drops None values), as _worker_config leaves it out.
    assert {k: v for k, v in environ.items() if v is not None} == ours["distributed.nanny.pre-spawn-environ"]
    assert "MALLOC_TRIM_THRESHOLD_" in environ and environ["MALLOC_TRIM_THRESHOLD_"] is None
    assert merged["distributed"]["worker"]["profile"]["enabled"] is ours["distributed.worker.profile.enabled"]
    preload = ours["distributed.worker.preload"]
    assert merged["distributed"]["worker"]["preload"] == preload == ["chiptwin.sweep.run"]
    with dask.config.set(merged):  # every setting of _worker_config, as the file gives it
        for key, value in ours.items():
            if key != "distributed.nanny.pre-spawn-environ":
                assert dask.config.get(key) == value, key


@pytest.mark.slow  # on the module's dask LocalCluster (~5 s to start): ~15 s for the five
def test_a_sweep_on_models_of_your_own_on_the_cluster_and_resumed(scheduler: str, tmp_path: Path) -> None:
    import torch
    from torch import nn

    from chiptwin.errors import DataError

    torch.manual_seed(0)
    mine = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, groups=1), nn.ReLU(), nn.Flatten(), nn.Linear(4096, 10)
    )
    base = ScenarioSpec(
        name="mine",
        checkpoints=("my_cnn",),
        probes_s=(60.0,),
        workload=WorkloadSpec(kind="periodic", rate_per_s=1.0),
    )
    spec = SweepSpec(name="m", base=base, grid={"adc.bits": (6, 8), "policy": ("gdc",)}, accuracy=False)
    result = run_sweep(spec, tmp_path / "d", scheduler=scheduler, models={"my_cnn": mine})
    assert (result.cells_run, result.failed) == (2, {})
    table = read_sweep(tmp_path / "d")
    assert table.num_rows == 2 and set(table["checkpoint"].to_pylist()) == {"my_cnn"}
    # the same weights resume (nothing to do); other weights are refused by name; so is a stray name
    assert run_sweep(spec, tmp_path / "d", serial=True, models={"my_cnn": mine}).cells_skipped == 2
    with torch.no_grad():
        mine[0].weight.mul_(2.0)
    with pytest.raises(DataError, match="user_models"):
        run_sweep(spec, tmp_path / "d", serial=True, models={"my_cnn": mine})
    with pytest.raises(SpecError, match=r"models \['other'\] are not checkpoints of the sweep"):
        run_sweep(spec, tmp_path / "e", serial=True, models={"my_cnn": mine, "other": mine})
