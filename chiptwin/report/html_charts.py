"""The interactive charts of the HTML report (Plotly figures), each drawn from trace tables alone.

One function per chart; each takes the rows it draws and returns a ``plotly.graph_objects.Figure`` whose
hover text carries what the static PNG cannot show (every seed's value, a tile's layers and load).
:mod:`chiptwin.report.html` puts them on one self-contained page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pyarrow as pa

from chiptwin.durations import format_age
from chiptwin.report.summary import (
    ENERGY_COMPONENTS,
    cost_table,
    format_energy,
    format_spread,
    order_checkpoints,
    order_policies,
)
from chiptwin.trace.mapping_table import MappingRecord

__all__ = [
    "accuracy_figure",
    "energy_figure",
    "latency_figure",
    "pareto_figure",
    "pareto_front",
    "sweep_table_figure",
    "tile_map_figure",
]

_PJ_PER_NJ = 1e3
_NS_PER_US = 1e3
_LAYOUT: dict[str, Any] = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 50}}


def accuracy_figure(
    probes: pa.Table, *, checkpoints: Sequence[str] = (), digital: Mapping[str, float] | None = None
) -> go.Figure:
    """Accuracy (%) vs device age (log axis), a line per checkpoint x policy through the seed means.

    Hover shows the age, the mean (± std for several seeds) and every seed's accuracy. The digital
    (floating-point) accuracy of each checkpoint is a dotted line.
    """
    rows = probes.to_pylist()
    groups: dict[tuple[str, str], dict[int, list[tuple[int, float, float]]]] = {}
    for r in rows:
        key = (r["checkpoint"], r["policy"])
        groups.setdefault(key, {}).setdefault(r["time_ns"], []).append((r["seed"], r["age_s"], r["accuracy"]))
    ckpts = order_checkpoints((r["checkpoint"] for r in rows), checkpoints)
    policies = order_policies(r["policy"] for r in rows)
    fig = go.Figure()
    for checkpoint in ckpts:
        for policy in policies:
            by_time = groups.get((checkpoint, policy))
            if not by_time:
                continue
            ages, means, hover = [], [], []
            for time_ns in sorted(by_time):
                seeds = sorted(by_time[time_ns])
                pct = np.array([100.0 * a for _, _, a in seeds])
                age = float(np.mean([s[1] for s in seeds]))
                ages.append(max(age, 1e-3))  # a log axis has no 0: an age-0 probe sits at 1 ms
                means.append(float(pct.mean()))
                values = ", ".join(f"seed {s}: {100 * a:.2f}" for s, _, a in seeds)
                hover.append(
                    f"age {format_age(age)}<br>{format_spread(pct.mean(), pct.std(), len(pct))} %<br>{values}"
                )
            fig.add_trace(
                go.Scatter(
                    x=ages,
                    y=means,
                    mode="lines+markers",
                    name=f"{checkpoint} · {policy}",
                    text=hover,
                    hovertemplate="%{text}<extra>%{fullData.name}</extra>",
                )
            )
    shown = [(c, v) for c, v in (digital or {}).items() if c in ckpts]
    for n, (checkpoint, value) in enumerate(shown):
        fig.add_hline(
            y=100 * value,
            line_dash="dot",
            line_color="grey",
            annotation_text=f"{checkpoint} digital {100 * value:.2f} %",
            annotation_position="bottom right" if n % 2 else "bottom left",
        )
    fig.update_layout(
        title="Accuracy vs device age (mean over seeds; hover for every seed)",
        xaxis={"type": "log", "title": "device age (s)"},
        yaxis={"title": "test accuracy (%)"},
        **_LAYOUT,
    )
    return fig


def energy_figure(cells: pa.Table, *, checkpoints: Sequence[str] = ()) -> go.Figure:
    """Energy per inference (nJ) of each checkpoint x policy, stacked by component (mean over seeds)."""
    costs = cost_table(cells, checkpoints=checkpoints)
    labels = [f"{c.checkpoint}<br>{c.policy}" for c in costs]
    fig = go.Figure()
    for component in ENERGY_COMPONENTS:
        values = [dict(c.energy_by_component_pj)[component] for c in costs]
        fig.add_trace(
            go.Bar(
                x=labels,
                y=[v / _PJ_PER_NJ for v in values],
                name=component,
                text=[format_energy(v) for v in values],
                hovertemplate="%{x}<br>" + component + ": %{text}<extra></extra>",
                textposition="none",
                # Idle static power at a light load dwarfs the rest: shown on a click in the legend.
                visible="legendonly" if component == "static" else True,
            )
        )
    fig.update_layout(
        barmode="stack",
        title="Energy per inference by component (mean over seeds; static hidden: click the legend)",
        yaxis={"title": "energy per inference (nJ)"},
        **_LAYOUT,
    )
    return fig


def tile_map_figure(records: Sequence[MappingRecord]) -> go.Figure:
    """The chip's mesh of tiles coloured by cell utilisation; hover: tile, layers, blocks, MVMs per image."""
    first = records[0]
    rows, cols = first.mesh_rows, first.mesh_cols
    cells_per_tile = first.tile_rows * first.tile_cols
    used: dict[int, list[MappingRecord]] = {}
    for r in records:
        used.setdefault(r.tile, []).append(r)
    z: list[list[float | None]] = [[None] * cols for _ in range(rows)]
    text = [[""] * cols for _ in range(rows)]
    for tile in range(first.chip_tiles):
        mesh_row, mesh_col = divmod(tile, cols)
        blocks = used.get(tile)
        if not blocks:
            text[mesh_row][mesh_col] = f"tile {tile}: unused"
            continue
        share = sum((b.row_stop - b.row_start) * (b.col_stop - b.col_start) for b in blocks) / cells_per_tile
        layers = list(dict.fromkeys(b.layer for b in sorted(blocks, key=lambda b: b.layer_index)))
        mvms = sum(b.mvm_stop - b.mvm_start for b in blocks)
        z[mesh_row][mesh_col] = 100 * share
        text[mesh_row][mesh_col] = (
            f"tile {tile} (row {mesh_row}, column {mesh_col})<br>layers: {_shorten(layers)}"
            f"<br>blocks: {len(blocks)}<br>utilisation: {100 * share:.1f} %<br>MVMs per image: {mvms:,}"
        )
    fig = go.Figure(
        go.Heatmap(
            z=z,
            text=text,
            hovertemplate="%{text}<extra></extra>",
            colorscale="Viridis",
            zmin=0,
            zmax=100,
            xgap=3,
            ygap=3,
            colorbar={"title": "cells used (%)"},
        )
    )
    what = f"{first.model} on {first.chip} ({first.strategy})"
    fig.update_layout(
        title=f"Tile map: {what}, {len(used)}/{first.chip_tiles} tiles used (hover for each tile)",
        xaxis={"title": "mesh column", "dtick": 1, "range": [-0.5, cols - 0.5], "constrain": "domain"},
        yaxis={"title": "mesh row", "dtick": 1, "range": [rows - 0.5, -0.5], "scaleanchor": "x"},
        **_LAYOUT,
    )
    return fig


def _shorten(names: list[str], most: int = 6) -> str:
    if len(names) <= most:
        return ", ".join(names)
    return ", ".join(names[:most]) + f" and {len(names) - most} more"


def latency_figure(cells: pa.Table, latencies_ns: Mapping[str, Sequence[int]]) -> go.Figure:
    """Latency distribution: a histogram per cell of its inferences' latencies (µs) when the trace has
    them (event mode), else each cell's single-inference and mean latency (the batched engine keeps no
    per-inference latency)."""
    fig = go.Figure()
    if any(latencies_ns.values()):
        for cell, values in latencies_ns.items():
            fig.add_trace(go.Histogram(x=[v / _NS_PER_US for v in values], name=cell, opacity=0.6, nbinsx=60))
        fig.update_layout(
            barmode="overlay",
            title="Latency distribution of the inferences (arrival to result)",
            xaxis={"title": "latency (µs)"},
            yaxis={"title": "inferences"},
            **_LAYOUT,
        )
        return fig
    rows = cells.to_pylist()
    labels = [r["cell"] for r in rows]
    for column, name in (("latency_single_ns", "single inference, idle chip"), ("latency_mean_ns", "mean")):
        fig.add_trace(
            go.Bar(
                x=labels,
                y=[r[column] / _NS_PER_US for r in rows],
                name=name,
                hovertemplate="%{x}<br>" + name + ": %{y:,.2f} µs<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        title="Latency per cell (batched engine: no per-inference record, so single and mean latency)",
        yaxis={"title": "latency (µs)"},
        **_LAYOUT,
    )
    return fig


def sweep_table_figure(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> go.Figure:
    """A sweep's results as a table: the grid keys that vary, then the figures of each cell and probe."""
    columns: list[tuple[str, list[str]]] = [(k, [str(r[k]) for r in rows]) for k in keys]
    columns += [
        ("tiles", [str(r["tiles_used"]) for r in rows]),
        ("latency µs", [f"{r['latency_single_ns'] / _NS_PER_US:,.1f}" for r in rows]),
        ("peak img/s", [f"{r['peak_throughput_per_s']:,.1f}" for r in rows]),
        ("nJ/image", [f"{r['dynamic_energy_pj'] / _PJ_PER_NJ:,.1f}" for r in rows]),
    ]
    if any(r["accuracy"] is not None for r in rows):  # a timing-only sweep has neither
        columns += [
            ("age", ["-" if r["age_s"] is None else format_age(r["age_s"]) for r in rows]),
            ("accuracy %", ["-" if r["accuracy"] is None else f"{100 * r['accuracy']:.2f}" for r in rows]),
        ]
    fig = go.Figure(
        go.Table(
            header={"values": [name for name, _ in columns], "align": "left"},
            cells={"values": [values for _, values in columns], "align": "left"},
        )
    )
    fig.update_layout(title="Sweep results (one row per cell and probe)", **_LAYOUT)
    return fig


def pareto_figure(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> go.Figure:
    """Each sweep cell's dynamic energy per image against its accuracy (or, for timing-only sweeps, its
    single-inference latency), with the Pareto front (no other cell both cheaper and better) as a line;
    hover names the cell's grid keys."""
    with_accuracy = any(r["accuracy"] is not None for r in rows)
    points = [
        r
        for r in rows
        if r["dynamic_energy_pj"] is not None and (r["accuracy"] is not None or not with_accuracy)
    ]
    energy = [r["dynamic_energy_pj"] / _PJ_PER_NJ for r in points]
    if with_accuracy:
        value = [100 * r["accuracy"] for r in points]
        better = value  # more accurate is better
        name, y_title, y_hover = "Accuracy", "accuracy at the probe (%)", "%{y:.2f} %"
    else:
        value = [r["latency_single_ns"] / _NS_PER_US for r in points]
        better = [-v for v in value]  # faster is better
        name, y_title, y_hover = "Single-inference latency", "single-inference latency (µs)", "%{y:,.2f} µs"
    labels = [", ".join(f"{k}={r[k]}" for k in keys) for r in points]
    hover = "%{text}<br>%{x:,.1f} nJ/image<br>" + y_hover
    fig = go.Figure(
        go.Scatter(
            x=energy, y=value, mode="markers", name="cells", text=labels,
            hovertemplate=hover + "<extra></extra>",
        )
    )  # fmt: skip
    front = pareto_front(list(zip(energy, better, strict=True)))
    fig.add_trace(
        go.Scatter(
            x=[energy[i] for i in front],
            y=[value[i] for i in front],
            mode="lines+markers",
            name="Pareto front",
            text=[labels[i] for i in front],
            hovertemplate=hover + "<extra>Pareto</extra>",
        )
    )
    fig.update_layout(
        title=f"{name} vs dynamic energy per image (Pareto front: no cell both cheaper and better)",
        xaxis={"title": "dynamic energy per image (nJ)"},
        yaxis={"title": y_title},
        **_LAYOUT,
    )
    return fig


def pareto_front(points: Iterable[tuple[float, float]]) -> list[int]:
    """Indices of the points (cost, value) no other point beats (cost no higher, value no lower, one of
    them strictly), in increasing cost.

    >>> pareto_front([(1.0, 80.0), (2.0, 90.0), (3.0, 85.0), (2.0, 70.0)])
    [0, 1]
    """
    order = sorted(enumerate(points), key=lambda p: (p[1][0], -p[1][1]))
    front, best = [], -np.inf
    for i, (_, value) in order:
        if value > best:
            front.append(i)
            best = value
    return front
