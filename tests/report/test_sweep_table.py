"""The sweep tables: ages with the one age formatter (``chiptwin.durations.format_age``), energy in one
unit per table (``chiptwin.units.energy_unit``), rows in grid order with numbers by value."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from chiptwin.report.html_charts import sweep_table_figure
from chiptwin.report.sweep_table import (
    SweepRow,
    format_sweep_results,
    format_sweep_table,
    in_grid_order,
    varying_keys,
)
from chiptwin.sweep.run import read_sweep, results_schema


def _row(label: str, age_s: float, seeds: int = 2) -> SweepRow:
    return SweepRow(
        label=label,
        tiles_used=6,
        area_mm2=39.6,
        latency_single_us=12.5,
        peak_throughput_per_s=1000.0,
        dynamic_energy_per_inference_nj=40.0,
        accuracy_mean=0.9,
        accuracy_std=0.01,
        seeds=seeds,
        age_s=age_s,
    )


def test_sweep_table_ages_and_values() -> None:
    lines = format_sweep_table([_row("xbar256_adc8_dense", 86_400.0), _row("late", 5400.0)], [("x", "why")])
    assert lines.splitlines()[2].split() == [
        "xbar256_adc8_dense",
        "6",
        "39.6",
        "12.5",
        "1000.0",
        "40.0",
        "1",
        "d",
        "90.00",
        "±",
        "1.00",
    ]
    assert " 1.5 h " in lines.splitlines()[3]
    assert "x                        does not fit: why" in lines


def test_one_seed_prints_no_spread() -> None:
    text = format_sweep_table([_row("one", 3600.0, seeds=1)])
    assert text.splitlines()[2].split()[-1] == "90.00"
    assert "±" not in text and "of 1 seed" in text


def _adc_sweep(root: Path, *, accuracy: bool = False, seeds: int = 1) -> Path:
    """A sweep folder of ADC bits 4..10 x ``seeds`` whose cell ids sort as text (c10 < c4): the order a
    sweep's parts come back from the disk. Energy 21.2 ... 64.4 µJ, area 30 + bits mm²."""
    keys = ["adc.bits", "seed"]
    (root / "results").mkdir(parents=True)
    (root / "sweep.json").write_text(json.dumps({"name": "adc_bits", "cells": 7 * seeds}))
    for bits in (10, 4, 5, 6, 7, 8, 9):
        for seed in range(seeds):
            row = {
                "sweep_cell": f"c{bits}-{seed}", "adc_bits": str(bits), "seed": str(seed),
                "time_ns": 60 * 10**9,
                "age_s": 60.0 if accuracy else None, "accuracy": 0.5 + bits / 100 if accuracy else None,
                "n_images": 100, "tiles_used": 43, "area_mm2": 30.0 + bits, "latency_single_ns": 1_881_900,
                "latency_mean_ns": 1.9e6, "throughput_per_s": 100.0, "peak_throughput_per_s": 7629.4,
                "energy_per_inference_pj": 7e7, "dynamic_energy_pj": 2.0e7 + bits * 4.4e6,
                "compensation_energy_pj": 0.0, "programming_energy_pj": 1e9,
            }  # fmt: skip
            table = pa.Table.from_pylist([row], schema=results_schema(keys))
            pq.write_table(table, root / "results" / f"c{bits}-{seed}.parquet")
    return root


def test_sweep_results_sort_numeric_grid_keys_by_value(tmp_path: Path) -> None:
    text = format_sweep_results(read_sweep(_adc_sweep(tmp_path / "s")))
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[2:9]] == ["4", "5", "6", "7", "8", "9", "10"]
    # One energy unit for the table, in its header: 20 + 4 x 4.4 = 37.6 µJ at 4 bits, 64 µJ at 10.
    assert "µJ/image" in lines[0] and "nJ" not in text
    assert lines[2].split()[1:] == ["43", "34.0", "1881.9", "7629.4", "37.6"]
    assert lines[8].split()[1:] == ["43", "40.0", "1881.9", "7629.4", "64.0"]
    # A timing-only sweep says so under its table, and has no empty age and accuracy columns.
    assert "timing only: accuracy was not measured" in lines[-1] and "accuracy %" not in lines[0]


def test_html_sweep_table_shows_every_row_in_order(tmp_path: Path) -> None:
    table = in_grid_order(read_sweep(_adc_sweep(tmp_path / "s", accuracy=True, seeds=3)))  # 21 rows
    fig = sweep_table_figure(table.to_pylist(), varying_keys(table))
    cells = fig.data[0].cells
    assert list(cells.values[0]) == [b for b in ("4", "5", "6", "7", "8", "9", "10") for _ in range(3)]
    # The figure is as tall as its rows: header + 21 rows of the table's row height, plus its title.
    rows_px = cells.height * (len(cells.values[0]) + 1)
    assert fig.layout.height >= rows_px + fig.layout.margin.t
    assert list(fig.data[0].header.values)[-3:] == ["µJ/image", "age", "accuracy %"]
