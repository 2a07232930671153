"""The sweep tables print ages with the one age formatter (``chiptwin.durations.format_age``)."""

from __future__ import annotations

from chiptwin.report.sweep_table import SweepRow, format_sweep_table


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
        "1.0",
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
