"""The Pareto report (issue 15): the front by hand, the files written, and the ADC-bits sweep whose
energy, time and area must follow the converter laws."""

from __future__ import annotations

import itertools
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from chiptwin.report.pareto import ParetoPoint, pareto_mask, pareto_points_from_sweep, write_pareto
from chiptwin.sweep import load_sweep, read_sweep, run_sweep


def _p(name: str, acc: float | None, nj: float, mm2: float, rate: float) -> ParetoPoint:
    return ParetoPoint(name, acc, None if acc is None else 86_400.0, 1, nj * 1e3, mm2, rate)


def test_the_front_by_hand() -> None:
    points = [
        _p("best_accuracy", 0.92, 30, 40, 5000),
        _p("cheapest", 0.85, 10, 40, 5000),
        _p("smallest", 0.85, 30, 20, 5000),
        _p("fastest", 0.80, 30, 40, 9000),
        _p("worse_than_cheapest", 0.84, 12, 40, 5000),  # dominated: less accurate, dearer, same else
        _p("twin_of_cheapest", 0.85, 10, 40, 5000),  # equal points do not dominate each other
    ]
    assert pareto_mask(points) == [True, True, True, True, False, True]


def test_without_accuracy_the_front_is_over_the_costs() -> None:
    points = [_p("a", None, 10, 40, 5000), _p("b", None, 20, 40, 5000), _p("c", None, 20, 30, 5000)]
    assert pareto_mask(points) == [True, False, True]


def test_write_pareto_writes_the_table_behind_the_png(tmp_path: Path) -> None:
    points = [_p("a", 0.9, 10, 40, 5000), _p("b", 0.8, 20, 40, 5000)]
    table, png = write_pareto(points, tmp_path / "out", "test")
    rows = pq.read_table(table).to_pylist()
    assert [(r["configuration"], r["on_front"]) for r in rows] == [("a", True), ("b", False)]
    assert rows[0]["dynamic_energy_pj"] == 10_000.0 and rows[0]["area_mm2"] == 40.0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow  # seven timing-only cells: ~10 s
def test_adc_bits_sweep_moves_energy_time_and_area_the_way_physics_says(tmp_path: Path) -> None:
    spec = load_sweep("adc_bits")
    result = run_sweep(spec, tmp_path / "out", serial=True)
    assert not result.failed and result.cells_total == 7
    rows = sorted(read_sweep(tmp_path / "out").to_pylist(), key=lambda r: int(r["adc_bits"]))
    assert [int(r["adc_bits"]) for r in rows] == list(range(4, 11))
    energy = [r["dynamic_energy_pj"] for r in rows]
    area = [r["area_mm2"] for r in rows]
    latency = [r["latency_single_ns"] for r in rows]
    assert all(b > a for a, b in itertools.pairwise(energy))
    assert all(b > a for a, b in itertools.pairwise(area))
    # The CCO counts during the 128-ns input window: bits up to 8 cost no time, 9 and 10 do.
    assert all(b >= a for a, b in itertools.pairwise(latency)) and latency[-1] > latency[4] == latency[0]
    points = pareto_points_from_sweep(read_sweep(tmp_path / "out"))
    assert len(points) == 7 and all(p.accuracy is None for p in points)
    front = [p.configuration for p, on in zip(points, pareto_mask(points), strict=True) if on]
    assert front == ["adc.bits=4"] or front == ["adc_bits=4"]  # cheapest, smallest and fastest at once
