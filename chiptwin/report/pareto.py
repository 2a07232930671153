"""The architect's answer: which chip configurations are worth building (the Pareto front).

A configuration (one crossbar size x ADC bits x columns per ADC x strategy ..., its seeds averaged) is on
the front when no other is at least as good in every objective and better in one. The objectives:
accuracy at the probe nearest 1 day of device age (higher is better), dynamic energy per image (the
inference itself: array, converters, mesh, digital; the static share depends on the workload's rate, so
it is left out; lower), chip area (lower) and peak throughput (higher). Timing-only sweeps have no
accuracy: their front is over the three costs.

:func:`write_pareto` writes the table behind the plot (Parquet, one row per configuration, ``on_front``)
and a PNG: accuracy against each cost (or, without accuracy, energy and area against throughput), the
front's points filled and labelled, the others hollow.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from chiptwin.durations import format_age
from chiptwin.errors import DataError
from chiptwin.report.plain_text import plain_text, save_figure
from chiptwin.report.sweep_table import TIMING_ONLY_NOTE, SweepRow, in_grid_order
from chiptwin.trace.writer import write_atomic

__all__ = [
    "OBJECTIVES",
    "ParetoPoint",
    "pareto_mask",
    "pareto_points_from_rows",
    "pareto_points_from_sweep",
    "write_pareto",
]

OBJECTIVES: tuple[tuple[str, int], ...] = (
    ("accuracy", +1),
    ("dynamic_energy_pj", -1),
    ("area_mm2", -1),
    ("peak_throughput_per_s", +1),
)
"""``(field, sense)``: +1 is better when higher, -1 when lower."""

TARGET_AGE_S = 86_400.0
"""Accuracy is taken at the probe nearest this device age (1 day: Joshi et al. 2020's horizon)."""

_SCHEMA = pa.schema(
    [
        pa.field("configuration", pa.string()),
        pa.field("accuracy", pa.float64()),  # null: a timing-only configuration
        pa.field("age_s", pa.float64()),
        pa.field("seeds", pa.int64()),
        pa.field("dynamic_energy_pj", pa.float64()),
        pa.field("area_mm2", pa.float64()),
        pa.field("peak_throughput_per_s", pa.float64()),
        pa.field("on_front", pa.bool_()),
    ],
    metadata={"table": "pareto", "schema_version": "1"},
)


@dataclass(frozen=True, slots=True)
class ParetoPoint:
    """One configuration's figures (means over its seeds)."""

    configuration: str
    accuracy: float | None
    age_s: float | None
    seeds: int
    dynamic_energy_pj: float
    area_mm2: float
    peak_throughput_per_s: float


def pareto_mask(points: Sequence[ParetoPoint]) -> list[bool]:
    """Whether each point is on the front (non-dominated in :data:`OBJECTIVES`; accuracy only if every
    point has one).

    >>> a = ParetoPoint("a", 0.9, 1.0, 1, 10.0, 1.0, 5.0)
    >>> b = ParetoPoint("b", 0.8, 1.0, 1, 20.0, 1.0, 5.0)  # worse in accuracy and energy: dominated
    >>> c = ParetoPoint("c", 0.7, 1.0, 1, 5.0, 1.0, 5.0)  # cheapest: on the front
    >>> pareto_mask([a, b, c])
    [True, False, True]
    """
    use_accuracy = all(p.accuracy is not None for p in points)
    objectives = [(f, s) for f, s in OBJECTIVES if f != "accuracy" or use_accuracy]

    def score(p: ParetoPoint) -> tuple[float, ...]:
        return tuple(s * float(getattr(p, f)) for f, s in objectives)

    scores = [score(p) for p in points]
    mask = []
    for i, mine in enumerate(scores):
        dominated = any(
            all(o >= m for o, m in zip(other, mine, strict=True)) and other != mine
            for j, other in enumerate(scores)
            if j != i
        )
        mask.append(not dominated)
    return mask


def pareto_points_from_sweep(results: pa.Table) -> list[ParetoPoint]:
    """One point per configuration of a sweep's results table (:func:`chiptwin.sweep.read_sweep`): the
    grid keys but ``seed`` name it, its seeds are averaged, accuracy at the probe nearest 1 day.

    Raises:
        DataError: the table lacks the cost columns (a results table older than area).
    """
    missing = [
        f for f in ("area_mm2", "dynamic_energy_pj", "peak_throughput_per_s") if f not in results.column_names
    ]
    if missing:
        raise DataError(
            f"sweep results lack {', '.join(missing)} (written by an older chiptwin; run it again)"
        )
    meta = results.schema.metadata or {}
    keys = [k.replace(".", "_") for k in json.loads(meta.get(b"keys", b"[]")) if k != "seed"]
    rows = in_grid_order(results).to_pylist()
    varying = [k for k in keys if len({str(r[k]) for r in rows}) > 1] or keys[:1]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        name = ",".join(f"{k}={r[k]}" for k in varying)
        groups.setdefault(name, []).append(r)
    points = []
    for name, group in groups.items():
        probes = [r for r in group if r["age_s"] is not None]
        if probes:
            age = min(
                {float(r["age_s"]) for r in probes}, key=lambda a: abs(math.log(max(a, 1e-9) / TARGET_AGE_S))
            )
            at = [r for r in probes if r["age_s"] == age]
            accuracy: float | None = sum(float(r["accuracy"]) for r in at) / len(at)
            cells = at
        else:
            age, accuracy, cells = None, None, group
        points.append(
            ParetoPoint(
                configuration=name,
                accuracy=accuracy,
                age_s=age,
                seeds=len(cells),
                dynamic_energy_pj=_mean(cells, "dynamic_energy_pj"),
                area_mm2=_mean(cells, "area_mm2"),
                peak_throughput_per_s=_mean(cells, "peak_throughput_per_s"),
            )
        )
    return points


def pareto_points_from_rows(rows: Sequence[SweepRow]) -> list[ParetoPoint]:
    """One point per configuration of a multi-configuration scenario (``run tile_mapping``): accuracy at
    each configuration's last probe (the tile_mapping probes are at 1 day)."""
    return [
        ParetoPoint(
            configuration=r.label,
            accuracy=r.accuracy_mean,
            age_s=r.age_s,
            seeds=r.seeds,
            dynamic_energy_pj=r.dynamic_energy_per_inference_nj * 1e3,
            area_mm2=r.area_mm2,
            peak_throughput_per_s=r.peak_throughput_per_s,
        )
        for r in rows
    ]


def _mean(rows: Sequence[Mapping[str, Any]], key: str) -> float:
    return sum(float(r[key]) for r in rows) / len(rows)


def write_pareto(points: Sequence[ParetoPoint], folder: Path | str, title: str) -> tuple[Path, Path]:
    """Write ``pareto.parquet`` and ``pareto.png`` of ``points`` into ``folder``; returns their paths.

    Raises:
        DataError: no points.
    """
    if not points:
        raise DataError(f"{folder}: no configurations for a Pareto report")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mask = pareto_mask(points)
    table = pa.Table.from_pylist(
        [
            {
                "configuration": p.configuration,
                "accuracy": p.accuracy,
                "age_s": p.age_s,
                "seeds": p.seeds,
                "dynamic_energy_pj": p.dynamic_energy_pj,
                "area_mm2": p.area_mm2,
                "peak_throughput_per_s": p.peak_throughput_per_s,
                "on_front": on,
            }
            for p, on in zip(points, mask, strict=True)
        ],
        schema=_SCHEMA,
    )
    parquet = folder / "pareto.parquet"
    write_atomic(parquet, lambda f: pq.write_table(table, f))
    png = _plot(points, mask, folder / "pareto.png", title)
    return parquet, png


_AXES = {
    "dynamic_energy_pj": ("dynamic energy per image (µJ)", 1e-6),
    "area_mm2": ("chip area (mm²)", 1.0),
    "peak_throughput_per_s": ("peak throughput (images/s)", 1.0),
}


@plain_text
def _plot(points: Sequence[ParetoPoint], mask: Sequence[bool], out: Path, title: str) -> Path:
    with_accuracy = all(p.accuracy is not None for p in points)
    if with_accuracy:
        panels = [
            ("dynamic_energy_pj", "accuracy"),
            ("area_mm2", "accuracy"),
            ("peak_throughput_per_s", "accuracy"),
        ]
    else:
        panels = [("peak_throughput_per_s", "dynamic_energy_pj"), ("peak_throughput_per_s", "area_mm2")]
    # The front's points are numbered on the plot and named in a key under it (names are long).
    front = [p for p, on in zip(points, mask, strict=True) if on]
    number = {id(p): n for n, p in enumerate(front, start=1)}
    key_rows = -(-len(front) // 2)
    fig = Figure(figsize=(4.2 * len(panels), 4.0 + 0.16 * key_rows), dpi=120)
    grid = fig.add_gridspec(2, len(panels), height_ratios=(4.0, 0.16 * key_rows + 0.3))
    age = next((p.age_s for p in points if p.age_s is not None), None)
    for i, (xf, yf) in enumerate(panels):
        ax = fig.add_subplot(grid[0, i])
        for p, on in zip(points, mask, strict=True):
            x = float(getattr(p, xf)) * _AXES[xf][1]
            y = 100 * float(p.accuracy or 0.0) if yf == "accuracy" else float(getattr(p, yf)) * _AXES[yf][1]
            ax.scatter([x], [y], s=36, facecolors="C3" if on else "none", edgecolors="C3" if on else "0.55")
            if on:
                ax.annotate(str(number[id(p)]), (x, y), xytext=(3, 3), textcoords="offset points", fontsize=7)
        ax.set_xlabel(_AXES[xf][0], fontsize=8)
        ylabel = f"accuracy at {format_age(age)} (%)" if yf == "accuracy" and age else _AXES.get(yf, ("",))[0]
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.ticklabel_format(axis="both", style="plain", useOffset=False)
    key = fig.add_subplot(grid[1, :])
    key.axis("off")
    names = [f"{n}: {p.configuration}" for n, p in enumerate(front, start=1)]
    for n, text in enumerate(names):
        key.text(0.0 if n < key_rows else 0.5, 1.0 - (n % key_rows) / max(key_rows, 1), text, fontsize=7,
                 va="top", transform=key.transAxes)  # fmt: skip
    note = (
        "" if with_accuracy else f"\n{TIMING_ONLY_NOTE}: the front weighs energy, area and throughput alone"
    )
    fig.suptitle(
        f"{title}: the Pareto front filled and numbered ({len(front)} of {len(points)} configurations; "
        f"hollow: another is as good in every objective and better in one){note}",
        fontsize=9,
    )
    fig.tight_layout()
    save_figure(fig, out)
    return out
