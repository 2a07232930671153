"""The table of an architecture sweep: one row per configuration (one trace directory each)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chiptwin.durations import format_age
from chiptwin.report.summary import format_spread
from chiptwin.trace.reader import read_table
from chiptwin.trace.schema import dynamic_energy_pj
from chiptwin.units import energy_unit

__all__ = [
    "TIMING_ONLY_NOTE",
    "SweepRow",
    "format_sweep_results",
    "format_sweep_table",
    "grid_keys",
    "grid_order",
    "in_grid_order",
    "sweep_rows",
    "timing_only",
    "varying_keys",
]


@dataclass(frozen=True, slots=True)
class SweepRow:
    """One configuration's figures (means over its cells; accuracy at the last probe)."""

    label: str
    tiles_used: int
    area_mm2: float
    latency_single_us: float
    peak_throughput_per_s: float
    dynamic_energy_per_inference_nj: float
    accuracy_mean: float
    accuracy_std: float
    seeds: int
    age_s: float


def sweep_rows(traces: Sequence[tuple[str, Path]]) -> list[SweepRow]:
    """Read each configuration's trace and summarise it."""
    rows = []
    for label, root in traces:
        cells = read_table(root, "cells")
        probes = read_table(root, "probes")
        last = pc.max(probes["time_ns"]).as_py()
        at_end = probes.filter(pc.equal(probes["time_ns"], last))
        acc = np.asarray(at_end["accuracy"].to_pylist(), dtype=float)
        rows.append(
            SweepRow(
                label=label,
                tiles_used=int(pc.max(cells["tiles_used"]).as_py()),
                area_mm2=float(pc.mean(cells["area_mm2"]).as_py()),
                latency_single_us=float(pc.mean(cells["latency_single_ns"]).as_py()) / 1e3,
                peak_throughput_per_s=float(pc.mean(cells["peak_throughput_per_s"]).as_py()),
                dynamic_energy_per_inference_nj=_dynamic_pj(cells) / 1e3,
                accuracy_mean=float(acc.mean()),
                accuracy_std=float(acc.std()),
                seeds=len(acc),
                age_s=float(pc.mean(at_end["age_s"]).as_py()),
            )
        )
    return rows


def _dynamic_pj(cells: pa.Table) -> float:
    return float(np.mean([dynamic_energy_pj(row) for row in cells.to_pylist()]))


def format_sweep_table(rows: Sequence[SweepRow], failed: Sequence[tuple[str, str]] = ()) -> str:
    """Plain-text table: configuration, tiles, latency, throughput, energy per image, accuracy.

    The energy column has one unit for the whole table (:func:`chiptwin.units.energy_unit` of its
    largest value).
    """
    unit, scale = energy_unit(max((1e3 * r.dynamic_energy_per_inference_nj for r in rows), default=0.0))
    header = (
        f"{'configuration':<24} {'tiles':>5} {'mm²':>7} {'latency µs':>11} {'peak img/s':>10} "
        f"{unit + '/image':>9} {'age':>8} {'accuracy %':>15}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.label:<24} {r.tiles_used:>5} {r.area_mm2:>7.1f} {r.latency_single_us:>11.1f} "
            f"{r.peak_throughput_per_s:>10.1f} "
            f"{_energy(1e3 * r.dynamic_energy_per_inference_nj, scale):>9} {format_age(r.age_s):>8} "
            f"{format_spread(100 * r.accuracy_mean, 100 * r.accuracy_std, r.seeds):>15}"
        )
    lines += [f"{label:<24} does not fit: {why}" for label, why in failed]
    if rows:
        lines.append(
            "(energy: dynamic, per image; accuracy at each configuration's last probe, "
            + ("of 1 seed)" if rows[0].seeds == 1 else f"mean ± std over {rows[0].seeds} seeds)")
        )
    return "\n".join(lines)


def _energy(pj: float, scale: float) -> str:
    """``pj`` in the table's unit (``scale`` pJ): one decimal, or three significant digits below 1."""
    value = pj / scale
    return f"{value:,.1f}" if value >= 1 else f"{value:.3g}"


def grid_order(value: object) -> tuple[int, float, str]:
    """Sort key of a grid value as a sweep's results table stores it (text): numbers first, by their value
    (``4 < 10``, not ``"10" < "4"``), then other text alphabetically.

    >>> sorted(["10", "4", "dense", "8.5", "1e3"], key=grid_order)
    ['4', '8.5', '10', '1e3', 'dense']
    """
    text = "" if value is None else str(value)
    try:
        number = float(text)
    except ValueError:
        return (1, 0.0, text)
    return (0, number, text) if math.isfinite(number) else (1, 0.0, text)


def grid_keys(table: pa.Table) -> list[str]:
    """The grid keys of a sweep's results table as its column names (dots as ``_``), in the file's order."""
    meta = table.schema.metadata or {}
    return [k.replace(".", "_") for k in json.loads(meta.get(b"keys", b"[]"))]


def in_grid_order(table: pa.Table) -> pa.Table:
    """A sweep's results sorted by its grid keys in the file's order, each by :func:`grid_order` (numbers
    by value), then by probe time: the order of every table and chart that shows them (the results
    dataset comes back sorted by cell id, as text)."""
    columns = [table.column(k).to_pylist() for k in grid_keys(table) if k in table.column_names]
    times = table.column("time_ns").to_pylist() if "time_ns" in table.column_names else [0] * table.num_rows

    def key(i: int) -> tuple[object, ...]:
        return (*(grid_order(values[i]) for values in columns), times[i] or 0)

    return table.take(sorted(range(table.num_rows), key=key))


def varying_keys(table: pa.Table) -> list[str]:
    """The grid keys (column names) of a sweep's results table whose values differ between rows (the
    first key when none does): the columns worth showing."""
    keys = grid_keys(table)
    return [k for k in keys if len({str(v) for v in table[k].to_pylist()}) > 1] or keys[:1]


def timing_only(rows: Sequence[Mapping[str, object]]) -> bool:
    """Whether a sweep's result rows hold no accuracy (a sweep with ``[run] accuracy = false``)."""
    return all(r["accuracy"] is None for r in rows)


TIMING_ONLY_NOTE = "timing only: accuracy was not measured, so no configuration is ranked by it"
"""What a timing-only sweep's table and Pareto figure say under them."""


def format_sweep_results(table: pa.Table) -> str:
    """A sweep's results dataset as text: one line per cell and probe (:func:`in_grid_order`: numbers by
    value), the grid keys that vary first, then area, latency, throughput, dynamic energy per image (one
    unit for the column), age and accuracy."""
    table = in_grid_order(table)
    keys = varying_keys(table)
    rows = table.to_pylist()
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    numeric = {k: all(grid_order(r[k])[0] == 0 for r in rows) for k in keys}
    unit, scale = energy_unit(max((r["dynamic_energy_pj"] or 0.0 for r in rows), default=0.0))
    no_accuracy = timing_only(rows)
    head = "  ".join(f"{k:>{widths[k]}}" if numeric[k] else f"{k:<{widths[k]}}" for k in keys)
    head += f"  {'tiles':>5} {'mm²':>6} {'latency µs':>10} {'peak img/s':>10} {unit + '/image':>9}"
    if not no_accuracy:
        head += f" {'age':>9} {'accuracy %':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        area = "-" if r["area_mm2"] is None else f"{r['area_mm2']:.1f}"
        line = "  ".join(f"{r[k]!s:>{widths[k]}}" if numeric[k] else f"{r[k]!s:<{widths[k]}}" for k in keys)
        line += (
            f"  {r['tiles_used']:>5} {area:>6}"
            f" {r['latency_single_ns'] / 1e3:>10.1f}"
            f" {r['peak_throughput_per_s']:>10.1f}"
            f" {'-' if r['dynamic_energy_pj'] is None else _energy(r['dynamic_energy_pj'], scale):>9}"
        )
        if not no_accuracy:
            acc, age = r["accuracy"], r["age_s"]
            age_text = "-" if age is None else format_age(age)
            line += f" {age_text:>9} {'-' if acc is None else f'{100 * acc:.2f}':>10}"
        lines.append(line)
    lines.append(
        "(latency: one inference alone on the chip; energy: dynamic, per image"
        + (f"; {TIMING_ONLY_NOTE})" if no_accuracy else "; accuracy at each probe's device age)")
    )
    return "\n".join(lines)
