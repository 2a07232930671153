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
from plotly.subplots import make_subplots

from chiptwin.durations import format_age
from chiptwin.report.colours import age_ticks, policy_colours
from chiptwin.report.summary import ENERGY_COMPONENTS, cost_table, format_spread, order_checkpoints
from chiptwin.report.sweep_table import TIMING_ONLY_NOTE
from chiptwin.trace.mapping_table import MappingRecord
from chiptwin.units import energy_unit

__all__ = [
    "LEGEND",
    "accuracy_figure",
    "energy_figure",
    "latency_figure",
    "pareto_figure",
    "pareto_front",
    "sweep_table_figure",
    "tile_map_figure",
]

_NS_PER_US = 1e3
_PANEL_HEIGHT_PX = 330
"""Height of one panel (a checkpoint's accuracy, a model's tile map), px."""

LEGEND = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0.0}
"""Every legend sits in rows above its plot: at a phone's width (420 px) a legend on the right would
squeeze the plot and cut its names."""

_LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "margin": {"l": 56, "r": 12, "t": 64, "b": 50},
    "legend": LEGEND,
    "title": {"font": {"size": 14}, "x": 0.0, "xanchor": "left"},
}


def accuracy_figure(
    probes: pa.Table, *, checkpoints: Sequence[str] = (), digital: Mapping[str, float] | None = None
) -> go.Figure:
    """Accuracy (%) vs device age (log axis): a panel per checkpoint, stacked, a line per policy through
    the seed means, each policy in its one colour (:func:`chiptwin.report.colours.policy_colours`) and
    named once in the legend (a click hides it in every panel).

    The age axis is ticked in human units (1 min, 1 h, 1 d). Hover shows the age, the mean (± std for
    several seeds) and every seed's accuracy. The digital (floating-point) accuracy of each checkpoint is
    a dotted line in its own panel.
    """
    rows = probes.to_pylist()
    groups: dict[tuple[str, str], dict[int, list[tuple[int, float, float]]]] = {}
    for r in rows:
        key = (r["checkpoint"], r["policy"])
        groups.setdefault(key, {}).setdefault(r["time_ns"], []).append((r["seed"], r["age_s"], r["accuracy"]))
    ckpts = order_checkpoints((r["checkpoint"] for r in rows), checkpoints)
    colours = policy_colours(r["policy"] for r in rows)
    fig = make_subplots(
        rows=len(ckpts), cols=1, shared_xaxes=True, subplot_titles=ckpts, vertical_spacing=0.35 / len(ckpts)
    )
    shown: set[str] = set()
    all_ages: list[float] = []
    for row, checkpoint in enumerate(ckpts, start=1):
        for policy, colour in colours.items():
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
            all_ages += ages
            fig.add_trace(
                go.Scatter(
                    x=ages,
                    y=means,
                    mode="lines+markers",
                    name=policy,
                    legendgroup=policy,
                    showlegend=policy not in shown,
                    line={"color": colour},
                    marker={"color": colour},
                    text=hover,
                    hovertemplate="%{text}<extra>" + f"{checkpoint} · {policy}" + "</extra>",
                ),
                row=row,
                col=1,
            )
            shown.add(policy)
        if checkpoint in (digital or {}):
            value = 100 * (digital or {})[checkpoint]
            fig.add_hline(
                y=value,
                line_dash="dot",
                line_color="grey",
                annotation_text=f"digital {value:.2f} %",
                annotation_position="bottom left",
                row=row,
                col=1,
            )
    ticks, labels = age_ticks(min(all_ages, default=1.0), max(all_ages, default=1.0))
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=labels)
    fig.update_xaxes(title_text="device age since programming (log scale)", row=len(ckpts), col=1)
    fig.update_yaxes(title_text="test accuracy (%)")
    fig.update_layout(
        title={"text": "Accuracy vs device age", **_LAYOUT["title"]},
        height=120 + _PANEL_HEIGHT_PX * len(ckpts),
        **{k: v for k, v in _LAYOUT.items() if k != "title"},
    )
    return fig


def energy_figure(cells: pa.Table, *, checkpoints: Sequence[str] = ()) -> go.Figure:
    """Energy per inference of each checkpoint x policy, stacked by component (mean over seeds), in one
    unit for the axis and its hover text (:func:`chiptwin.units.energy_unit` of the tallest bar)."""
    costs = cost_table(cells, checkpoints=checkpoints)
    labels = [f"{c.checkpoint}<br>{c.policy}" for c in costs]
    shown = [comp for comp in ENERGY_COMPONENTS if comp != "static"]
    tallest = max((sum(dict(c.energy_by_component_pj)[k] for k in shown) for c in costs), default=0.0)
    unit, scale = energy_unit(tallest)
    fig = go.Figure()
    for component in ENERGY_COMPONENTS:
        values = [dict(c.energy_by_component_pj)[component] / scale for c in costs]
        fig.add_trace(
            go.Bar(
                x=labels,
                y=values,
                name=component,
                text=[f"{v:.3g} {unit}" for v in values],
                hovertemplate="%{x}<br>" + component + ": %{text}<extra></extra>",
                textposition="none",
                # Idle static power at a light load dwarfs the rest: shown on a click in the legend.
                visible="legendonly" if component == "static" else True,
            )
        )
    fig.update_layout(
        barmode="stack",
        title={"text": "Energy per inference by component", **_LAYOUT["title"]},
        yaxis={"title": f"energy per inference ({unit})"},
        **{k: v for k, v in _LAYOUT.items() if k != "title"},
    )
    return fig


def tile_map_figure(records: Sequence[MappingRecord]) -> go.Figure:
    """The chip's mesh of tiles coloured by cell utilisation, a panel per mapped model (each checkpoint of
    a scenario); hover: tile, layers, blocks, MVMs per image.

    The colour scale runs from 0 to the most-used tile (a chip whose tiles are all under 6 % used still
    shows which are fuller); a button switches it to 0-100 %.
    """
    by_model: dict[str, list[MappingRecord]] = {}
    for r in records:
        by_model.setdefault(r.model, []).append(r)
    models = list(by_model)
    titles = [f"{m}: {_tiles_used(by_model[m])}" for m in models]  # short: a phone's width holds it
    fig = make_subplots(rows=len(models), cols=1, subplot_titles=titles, vertical_spacing=0.3 / len(models))
    fitted = 0.0
    for row, model in enumerate(models, start=1):
        z, text = _tile_grid(by_model[model])
        fitted = max(fitted, max((v for line in z for v in line if v is not None), default=0.0))
        first = by_model[model][0]
        fig.add_trace(
            go.Heatmap(
                z=z,
                text=text,
                hovertemplate="%{text}<extra></extra>",
                colorscale="Viridis",
                coloraxis="coloraxis",
                xgap=3,
                ygap=3,
            ),
            row=row,
            col=1,
        )
        rows, cols = first.mesh_rows, first.mesh_cols
        fig.update_xaxes(title_text="mesh column", dtick=1, range=[-0.5, cols - 0.5], constrain="domain",
                         row=row, col=1)  # fmt: skip
        fig.update_yaxes(title_text="mesh row", dtick=1, range=[rows - 0.5, -0.5], row=row, col=1)
    top = max(_nice_ceiling(fitted), 1.0)
    buttons = [
        {"label": f"scale 0-{top:g} % (fitted)", "method": "relayout", "args": [{"coloraxis.cmax": top}]},
        {"label": "scale 0-100 %", "method": "relayout", "args": [{"coloraxis.cmax": 100}]},
    ]
    colorbar = {"title": {"text": "cells used (%)"}}
    menu = {"type": "buttons", "direction": "right", "buttons": buttons, "showactive": True}
    menu |= {"x": 0.0, "y": -0.08, "xanchor": "left", "yanchor": "top"}
    fig.update_layout(
        title={
            "text": f"Tile map on {records[0].chip} ({records[0].strategy}): cells used per tile",
            **_LAYOUT["title"],
        },
        coloraxis={"colorscale": "Viridis", "cmin": 0, "cmax": top, "colorbar": colorbar},
        updatemenus=[menu],
        height=160 + _PANEL_HEIGHT_PX * len(models),
        **{k: v for k, v in _LAYOUT.items() if k not in ("title", "margin")},
        margin={"l": 56, "r": 12, "t": 64, "b": 90},
    )
    return fig


def _tiles_used(records: Sequence[MappingRecord]) -> str:
    return f"{len({r.tile for r in records})}/{records[0].chip_tiles} tiles used"


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k at or above ``value`` (a colour scale's top).

    >>> _nice_ceiling(5.6), _nice_ceiling(28.1), _nice_ceiling(100.0)
    (10.0, 50.0, 100.0)
    """
    if value <= 0:
        return 0.0
    power = 10.0 ** np.floor(np.log10(value))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= value - 1e-9))


def _tile_grid(records: Sequence[MappingRecord]) -> tuple[list[list[float | None]], list[list[str]]]:
    """Utilisation (%) and hover text of every tile of the mesh, as rows x columns grids."""
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
    return z, text


def _shorten(names: list[str], most: int = 6) -> str:
    if len(names) <= most:
        return ", ".join(names)
    return ", ".join(names[:most]) + f" and {len(names) - most} more"


def latency_figure(cells: pa.Table, latencies_ns: Mapping[str, Sequence[int]]) -> go.Figure:
    """Latency distribution: a histogram per cell of its inferences' latencies (µs) when the trace has
    them (event mode), else each cell's single-inference and mean latency (the batched engine keeps no
    per-inference latency)."""
    fig = go.Figure()
    layout = {k: v for k, v in _LAYOUT.items() if k != "title"}
    if any(latencies_ns.values()):
        for cell, values in latencies_ns.items():
            fig.add_trace(go.Histogram(x=[v / _NS_PER_US for v in values], name=cell, opacity=0.6, nbinsx=60))
        fig.update_layout(
            barmode="overlay",
            title={"text": "Latency of the inferences (arrival to result)", **_LAYOUT["title"]},
            xaxis={"title": "latency (µs)"},
            yaxis={"title": "inferences"},
            **layout,
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
        title={"text": "Latency per cell", **_LAYOUT["title"]},
        yaxis={"title": "latency (µs)"},
        **layout,
    )
    return fig


_TABLE_ROW_PX = 26
"""Height of a row of the sweep table, px (the figure grows with its rows: none is hidden)."""


def sweep_table_figure(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> go.Figure:
    """A sweep's results as a table: the grid keys that vary, then the figures of each cell and probe,
    every row shown (the figure is as tall as its rows), energy in one unit for the column."""
    unit, scale = energy_unit(max((r["dynamic_energy_pj"] or 0.0 for r in rows), default=0.0))
    columns: list[tuple[str, list[str]]] = [(k, [str(r[k]) for r in rows]) for k in keys]
    columns += [
        ("tiles", [str(r["tiles_used"]) for r in rows]),
        ("mm²", ["-" if r["area_mm2"] is None else f"{r['area_mm2']:,.1f}" for r in rows]),
        ("latency µs", [f"{r['latency_single_ns'] / _NS_PER_US:,.1f}" for r in rows]),
        ("peak img/s", [f"{r['peak_throughput_per_s']:,.1f}" for r in rows]),
        (
            f"{unit}/image",
            [
                "-" if r["dynamic_energy_pj"] is None else f"{r['dynamic_energy_pj'] / scale:,.3g}"
                for r in rows
            ],
        ),
    ]
    if any(r["accuracy"] is not None for r in rows):  # a timing-only sweep has neither
        columns += [
            ("age", ["-" if r["age_s"] is None else format_age(r["age_s"]) for r in rows]),
            ("accuracy %", ["-" if r["accuracy"] is None else f"{100 * r['accuracy']:.2f}" for r in rows]),
        ]
    fig = go.Figure(
        go.Table(
            header={"values": [name for name, _ in columns], "align": "left", "height": _TABLE_ROW_PX},
            cells={"values": [values for _, values in columns], "align": "left", "height": _TABLE_ROW_PX},
        )
    )
    title = "Sweep results (one row per cell and probe)"
    if all(r["accuracy"] is None for r in rows):
        title += f"<br><sub>{TIMING_ONLY_NOTE}</sub>"
    fig.update_layout(
        title={"text": title, **_LAYOUT["title"]},
        height=_LAYOUT["margin"]["t"] + 40 + _TABLE_ROW_PX * (len(rows) + 1),
        margin={**_LAYOUT["margin"], "b": 10},
        **{k: v for k, v in _LAYOUT.items() if k not in ("title", "margin")},
    )
    return fig


def pareto_figure(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> go.Figure:
    """Each sweep cell's dynamic energy per image against its accuracy (or, for timing-only sweeps, its
    single-inference latency, and a note on the figure that accuracy is not in the ranking), with the
    Pareto front (no other cell both cheaper and better) as a line; hover names the cell's grid keys."""
    with_accuracy = any(r["accuracy"] is not None for r in rows)
    points = [
        r
        for r in rows
        if r["dynamic_energy_pj"] is not None and (r["accuracy"] is not None or not with_accuracy)
    ]
    unit, scale = energy_unit(max((r["dynamic_energy_pj"] for r in points), default=0.0))
    energy = [r["dynamic_energy_pj"] / scale for r in points]
    if with_accuracy:
        value = [100 * r["accuracy"] for r in points]
        better = value  # more accurate is better
        name, y_title, y_hover = "Accuracy", "accuracy at the probe (%)", "%{y:.2f} %"
    else:
        value = [r["latency_single_ns"] / _NS_PER_US for r in points]
        better = [-v for v in value]  # faster is better
        name, y_title, y_hover = "Single-inference latency", "single-inference latency (µs)", "%{y:,.2f} µs"
    labels = [", ".join(f"{k}={r[k]}" for k in keys) for r in points]
    hover = "%{text}<br>%{x:,.3g} " + unit + "/image<br>" + y_hover
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
    title = f"{name} vs dynamic energy per image"
    if not with_accuracy:
        title += f"<br><sub>{TIMING_ONLY_NOTE}</sub>"
    fig.update_layout(
        title={"text": title, **_LAYOUT["title"]},
        xaxis={"title": f"dynamic energy per image ({unit})"},
        yaxis={"title": y_title},
        **{k: v for k, v in _LAYOUT.items() if k != "title"},
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
