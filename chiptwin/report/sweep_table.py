"""The table of an architecture sweep: one row per configuration (one trace directory each)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chiptwin.durations import format_age
from chiptwin.report.summary import format_spread
from chiptwin.trace.reader import read_table
from chiptwin.trace.schema import dynamic_energy_pj

__all__ = ["SweepRow", "format_sweep_results", "format_sweep_table", "sweep_rows"]


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
    """Plain-text table: configuration, tiles, latency, throughput, energy per image, accuracy."""
    header = (
        f"{'configuration':<24} {'tiles':>5} {'mm²':>7} {'latency µs':>11} {'peak img/s':>10} "
        f"{'nJ/image':>9} {'age':>8} {'accuracy %':>15}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.label:<24} {r.tiles_used:>5} {r.area_mm2:>7.1f} {r.latency_single_us:>11.1f} "
            f"{r.peak_throughput_per_s:>10.1f} "
            f"{r.dynamic_energy_per_inference_nj:>9.1f} {format_age(r.age_s):>8} "
            f"{format_spread(100 * r.accuracy_mean, 100 * r.accuracy_std, r.seeds):>15}"
        )
    lines += [f"{label:<24} does not fit: {why}" for label, why in failed]
    if rows:
        lines.append(
            "(energy: dynamic, per image; accuracy at each configuration's last probe, "
            + ("of 1 seed)" if rows[0].seeds == 1 else f"mean ± std over {rows[0].seeds} seeds)")
        )
    return "\n".join(lines)


def format_sweep_results(table: pa.Table) -> str:
    """A sweep's results dataset as text: one line per cell and probe, grid keys first."""
    meta = table.schema.metadata or {}
    keys = [k.replace(".", "_") for k in json.loads(meta.get(b"keys", b"[]"))]
    keys = [k for k in keys if len(set(table[k].to_pylist())) > 1] or keys[:1]  # only keys that vary
    rows = table.to_pylist()
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    head = "  ".join(f"{k:<{widths[k]}}" for k in keys)
    head += (
        f"  {'tiles':>5} {'latency µs':>10} {'peak img/s':>10} {'nJ/image':>9} {'age':>9} {'accuracy %':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        acc = r["accuracy"]
        age = r["age_s"]
        lines.append(
            "  ".join(f"{r[k]!s:<{widths[k]}}" for k in keys)
            + f"  {r['tiles_used']:>5} {r['latency_single_ns'] / 1e3:>10.1f}"
            f" {r['peak_throughput_per_s']:>10.1f}"
            f" {r['dynamic_energy_pj'] / 1e3:>9.1f} {'-' if age is None else format_age(age):>9}"
            f" {'-' if acc is None else f'{100 * acc:.2f}':>10}"
        )
    return "\n".join(lines)
