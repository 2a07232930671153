"""Two or more runs side by side: accuracy and cost of each, and each run's difference from the first.

The runs are trace directories (a scenario's, or ``chiptwin evaluate --out``'s), read from their files
alone, or sweep directories (``chiptwin sweep``'s: :func:`format_sweep_comparison`, each
configuration's seed means at the probe nearest 1 day, matched by configuration). Traces are matched on
what they share: accuracy on (checkpoint, policy, scheduled probe time), cost on (checkpoint, policy).
Run A is the reference; every other run's column is followed by its difference from A, ``Δ B−A``, with
the seed spread of that difference, sqrt(std_A² + std_B²) (each std the population standard deviation
over the run's seeds, as in :mod:`chiptwin.report.summary`; a run of one seed has no spread, and then
neither has the difference). Costs differ by ratio (``×0.52``: B costs 52 % of A).

:func:`write_comparison` writes ``comparison.txt`` (what :func:`format_comparison` prints),
``compare_accuracy.png`` (a panel per checkpoint, a colour per policy, a line style per run),
``compare_energy.png`` (dynamic energy per inference, a bar per run) and, on request, ``compare.html``
(the same charts, interactive, self-contained).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pyarrow as pa
from matplotlib.figure import Figure
from plotly.subplots import make_subplots

from chiptwin.durations import format_age, time_unit
from chiptwin.errors import DataError
from chiptwin.files import load_json
from chiptwin.report.colours import age_ticks, policy_colours
from chiptwin.report.html import SWEEP_FILE, Chart, is_sweep_dir, page_html
from chiptwin.report.html_charts import LEGEND
from chiptwin.report.pareto import ParetoPoint, pareto_points_from_sweep
from chiptwin.report.plain_text import plain_text, save_figure
from chiptwin.report.summary import (
    AccuracyPoint,
    CostResult,
    accuracy_table,
    checkpoint_order,
    cost_table,
    format_spread,
    order_checkpoints,
    order_policies,
    read_live_manifest,
)
from chiptwin.seeding import format_seeds
from chiptwin.sweep.run import read_sweep
from chiptwin.trace.reader import read_table
from chiptwin.trace.schema import dynamic_energy_pj
from chiptwin.units import energy_unit, plural

__all__ = [
    "COMPARE_HTML",
    "ComparedRun",
    "ComparedSweep",
    "ComparisonFiles",
    "format_comparison",
    "format_sweep_comparison",
    "load_runs",
    "load_sweeps",
    "run_labels",
    "write_comparison",
]

COMPARE_HTML = "compare.html"
"""Name of the comparison's page in its folder."""

_LINE_STYLES = ("-", "--", ":", "-.")
_DASHES = ("solid", "dash", "dot", "dashdot")
"""A run's line style in the PNG and in the page (run A solid), cycled beyond four runs."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ComparedRun:
    """One run of a comparison, read from its trace directory."""

    letter: str
    """``A``, ``B``, ... in the order given; A is the reference."""

    name: str
    """The trace folder's name (with its parent's where two runs share a name)."""

    root: Path
    title: str
    """``SCENARIO on CHIP``, from the manifest."""

    status: str
    seeds: tuple[int, ...]
    points: tuple[AccuracyPoint, ...]
    costs: tuple[CostResult, ...]
    spreads: dict[tuple[str, str], dict[str, float]]
    """(checkpoint, policy) -> column -> population std over seeds of the ``cells`` rows."""

    digital: dict[str, float]


@dataclass(frozen=True, slots=True)
class ComparisonFiles:
    """What :func:`write_comparison` wrote (``html`` None without ``--html``)."""

    text: Path
    accuracy: Path | None
    energy: Path | None
    html: Path | None

    def written(self) -> list[Path]:
        return [p for p in (self.accuracy, self.energy, self.html) if p is not None] + [self.text]


def run_labels(roots: Sequence[Path]) -> list[str]:
    """A short, distinct name per run: its folder's name, with its parent's where two share one.

    >>> run_labels([Path("a/day_retention"), Path("b/day_retention"), Path("c/x")])
    ['a/day_retention', 'b/day_retention', 'x']
    """
    names = [r.name or str(r) for r in roots]
    return [f"{r.parent.name}/{n}" if names.count(n) > 1 else n for r, n in zip(roots, names, strict=True)]


_SPREAD_COLUMNS = ("latency_single_ns", "latency_mean_ns", "energy_per_inference_pj")


def load_runs(roots: Sequence[Path | str]) -> list[ComparedRun]:
    """Read each trace directory of ``roots`` (two or more) for the comparison.

    Raises:
        DataError: fewer than two runs, a path that is a sweep or not a trace, a trace with neither
            probes nor cells, or the same folder twice.
    """
    paths = [Path(r) for r in roots]
    _check_paths(paths, sweeps=False)
    runs = []
    for letter, (path, name) in zip(
        _letters(len(paths)), zip(paths, run_labels(paths), strict=True), strict=True
    ):
        manifest = read_live_manifest(path)
        probes, cells = read_table(path, "probes"), read_table(path, "cells")
        if not probes.num_rows and not cells.num_rows:
            raise DataError(f"{path}: no probes and no cells: nothing to compare")
        order = checkpoint_order(manifest)
        scenario = manifest.get("scenario") or {}
        seeds = manifest.get("seeds")
        if seeds is None:
            seeds = sorted(set(probes.column("seed").to_pylist()) | set(cells.column("seed").to_pylist()))
        runs.append(
            ComparedRun(
                letter=letter,
                name=name,
                root=path,
                title=f"{scenario.get('name', path.name)} on {scenario.get('arch', '?')}",
                status=str(manifest.get("status", "unknown")),
                seeds=tuple(int(s) for s in seeds),
                points=tuple(accuracy_table(probes, checkpoints=order)),
                costs=tuple(cost_table(cells, checkpoints=order)),
                spreads=_spreads(cells),
                digital={str(k): float(v) for k, v in (manifest.get("digital_accuracy") or {}).items()},
            )
        )
    return runs


def _check_paths(paths: Sequence[Path], *, sweeps: bool) -> None:
    """Two or more distinct folders, all traces or all sweeps (``sweeps``)."""
    if len(paths) < 2:
        raise DataError(f"a comparison needs two or more trace or sweep directories (got {len(paths)})")
    seen: dict[Path, Path] = {}
    for p in paths:
        if is_sweep_dir(p) != sweeps:
            first = "sweep" if sweeps else "trace"
            raise DataError(
                f"{p}: {'not ' if sweeps else ''}a sweep directory, and {paths[0]} is a {first}: compare "
                "traces with traces (a sweep's cells are traces: SWEEP/cells/CELL) or sweeps with sweeps"
            )
        real = p.resolve()
        if real in seen:
            raise DataError(f"{p}: given twice (as {seen[real]} too); compare two different runs")
        seen[real] = p


@dataclass(frozen=True, slots=True, kw_only=True)
class ComparedSweep:
    """One sweep of a comparison: its configurations' seed means (:class:`ParetoPoint`)."""

    letter: str
    name: str
    root: Path
    title: str
    """``sweep NAME (base SCENARIO on CHIP)``, from ``sweep.json``."""

    points: dict[str, ParetoPoint]
    """By configuration (the grid keys that vary, ``seed`` aside, as ``key=value,...``), in grid order."""


def load_sweeps(roots: Sequence[Path | str]) -> list[ComparedSweep]:
    """Read each sweep directory of ``roots`` (two or more) for the comparison.

    Raises:
        DataError: fewer than two, a path that is not a sweep directory, the same folder twice, or a
            sweep without results.
    """
    paths = [Path(r) for r in roots]
    _check_paths(paths, sweeps=True)
    sweeps = []
    for letter, path, name in zip(_letters(len(paths)), paths, run_labels(paths), strict=True):
        meta = load_json(path / SWEEP_FILE, "sweep file", DataError)
        base = meta.get("base") if isinstance(meta, dict) else None
        base = base if isinstance(base, dict) else {}
        title = f"sweep {meta.get('name', path.name) if isinstance(meta, dict) else path.name}"
        if base:
            title += f" (base {base.get('name', '?')} on {base.get('arch', '?')})"
        points = pareto_points_from_sweep(read_sweep(path))
        sweeps.append(
            ComparedSweep(
                letter=letter, name=name, root=path, title=title, points={p.configuration: p for p in points}
            )
        )
    return sweeps


def format_sweep_comparison(sweeps: Sequence[ComparedSweep]) -> str:
    """Sweeps side by side: a row per configuration every sweep ran, each sweep's accuracy (at its probe
    nearest 1 day, mean over seeds), dynamic energy per image, single-image latency... its area and peak
    throughput, and each sweep's difference from sweep A (accuracy in points, costs as ratios)."""
    a = sweeps[0]
    lines = ["sweeps (A is the reference; Δ X−A: sweep X minus sweep A; X/A: sweep X as a multiple of A)"]
    lines += [f"  {s.letter}  {s.name}: {s.title}" for s in sweeps]
    shared = [c for c in a.points if all(c in s.points for s in sweeps[1:])]
    if not shared:
        return "\n".join([*lines, "", "no configuration that every sweep ran"])
    others = sweeps[1:]
    values = [[s.points[c] for s in sweeps] for c in shared]
    unit, scale = energy_unit(max(p.dynamic_energy_pj for row in values for p in row))
    accuracy = any(p.accuracy is not None for row in values for p in row)
    header = ["configuration"]
    if accuracy:
        header += [f"{s.letter} %" for s in sweeps] + [f"Δ {s.letter}−{a.letter}" for s in others]
    header += [f"{s.letter} {unit}" for s in sweeps] + [f"{s.letter}/{a.letter}" for s in others]
    header += [f"{s.letter} mm²" for s in sweeps]
    rows = []
    for configuration, points in zip(shared, values, strict=True):
        row = [configuration]
        if accuracy:
            pct = [None if p.accuracy is None else 100 * p.accuracy for p in points]
            row += ["-" if v is None else f"{v:.2f}" for v in pct]
            row += ["-" if v is None or pct[0] is None else f"{v - pct[0]:+.2f}" for v in pct[1:]]
        energy = [p.dynamic_energy_pj for p in points]
        row += [f"{e / scale:.4g}" for e in energy]
        row += [f"×{e / energy[0]:.3g}" if energy[0] else "-" for e in energy[1:]]
        row += [f"{p.area_mm2:.4g}" for p in points]
        rows.append(row)
    seeds = sorted({p.seeds for row in values for p in row})
    what = (
        "accuracy at each configuration's probe nearest 1 d, " if accuracy else "timing only (no accuracy), "
    )
    count = plural(seeds[0], "seed") if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]} seeds"
    note = f"{what}dynamic energy per image; mean over {count} of each"
    dropped = len(a.points) - len(shared)
    if dropped:
        note += f"; {dropped} of sweep {a.letter}'s configurations are not in every sweep"
    return "\n".join([*lines, "", note, *_table(header, rows, numeric_from=1)])


def _letters(n: int) -> list[str]:
    return [chr(ord("A") + i) if i < 26 else f"R{i + 1}" for i in range(n)]


def _spreads(cells: pa.Table) -> dict[tuple[str, str], dict[str, float]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in cells.to_pylist():
        groups.setdefault((row["checkpoint"], row["policy"]), []).append(row)
    out = {}
    for key, rows in groups.items():
        spread = {c: float(np.std([r[c] for r in rows])) for c in _SPREAD_COLUMNS}
        spread["dynamic_energy_pj"] = float(np.std([_dynamic(r) for r in rows]))
        out[key] = spread
    return out


def _dynamic(row: dict[str, Any]) -> float:
    return float(dynamic_energy_pj(row))


def _delta(a: float, a_std: float, a_n: int, b: float, b_std: float, b_n: int) -> str:
    """``b - a`` in points with the spread of the difference (none when either run has one seed)."""
    diff = b - a
    if a_n < 2 or b_n < 2:
        return f"{diff:+.2f}"
    return f"{diff:+.2f} ± {math.hypot(a_std, b_std):.2f}"


def format_comparison(runs: Sequence[ComparedRun]) -> str:
    """The comparison as text: which run is which, the accuracy table (a row per checkpoint, policy
    and probe shared by every run) and the cost table, each run's value and its difference from run A.
    """
    a = runs[0]
    lines = ["runs (A is the reference; Δ X−A: run X minus run A)"]
    for r in runs:
        incomplete = "" if r.status == "complete" else f", status {r.status}"
        lines.append(f"  {r.letter}  {r.name}: {r.title}, {format_seeds(r.seeds)}{incomplete}")
    lines += ["", *_accuracy_lines(runs), "", *_cost_lines(runs)]
    if any(len(r.seeds) < 2 for r in runs):
        lines.append("")
        lines.append(
            f"(a run of one seed has no spread: its differences carry none; {a.letter} and the others "
            "measured on the same test images)"
        )
    return "\n".join(line.rstrip() for line in lines)


def _shared_keys(runs: Sequence[ComparedRun]) -> list[tuple[str, str, int]]:
    keys = [(p.checkpoint, p.policy, p.time_ns) for p in runs[0].points]
    others = [{(p.checkpoint, p.policy, p.time_ns) for p in r.points} for r in runs[1:]]
    return [k for k in keys if all(k in o for o in others)]


def _accuracy_lines(runs: Sequence[ComparedRun]) -> list[str]:
    keys = _shared_keys(runs)
    if not keys:
        return ["accuracy: no probe (checkpoint, policy, probe time) that every run has"]
    by_run = [{(p.checkpoint, p.policy, p.time_ns): p for p in r.points} for r in runs]
    header = ["checkpoint", "policy", "age", *(f"{r.letter} %" for r in runs)]
    header += [f"Δ {r.letter}−{runs[0].letter}" for r in runs[1:]]
    rows = []
    for key in keys:
        points = [b[key] for b in by_run]
        a = points[0]
        row = [key[0], key[1], format_age(a.age_s)]
        row += [format_spread(p.mean_pct, p.std_pct, p.seeds) for p in points]
        row += [_delta(a.mean_pct, a.std_pct, a.seeds, p.mean_pct, p.std_pct, p.seeds) for p in points[1:]]
        rows.append(row)
    dropped = len(runs[0].points) - len(keys)
    title = "accuracy (%), mean ± std over seeds, at the probes every run has"
    if dropped:
        title += f" ({dropped} of run {runs[0].letter}'s are not in every run)"
    return [title, *_table(header, rows, numeric_from=3)]


_COSTS: tuple[tuple[str, str], ...] = (
    ("dynamic energy / image", "dynamic_energy_pj"),
    ("total energy / image", "energy_per_inference_pj"),
    ("latency, single image", "latency_single_ns"),
    ("latency, mean under load", "latency_mean_ns"),
    ("peak throughput (img/s)", "peak_throughput_per_s"),
    ("tiles used", "tiles_used"),
    ("chip area (mm²)", "area_mm2"),
)
"""Rows of the cost table: (label, :class:`~chiptwin.report.summary.CostResult` field)."""


def _cost_value(cost: CostResult, field: str) -> float:
    return float(getattr(cost, field))


def _cost_texts(field: str, values: list[float], stds: list[float | None]) -> list[str]:
    """The runs' values of one cost in one unit for the row (± the seeds' std where they differ)."""
    if "energy" in field or field.endswith("_ns"):
        unit, scale = energy_unit(max(values)) if "energy" in field else time_unit(max(values))
        # Four significant digits of the largest, the same decimals for every run: 1.880 ms, 1.882 ms.
        decimals = max(0, 3 - math.floor(math.log10(max(values) / scale))) if max(values) > 0 else 0
        return [
            f"{v / scale:.{decimals}f} {unit}" + (f" ± {s / scale:.{decimals}f}" if s else "")
            for v, s in zip(values, stds, strict=True)
        ]
    if field == "tiles_used":
        return [f"{v:.0f}" for v in values]
    return [f"{v:,.1f}" if field == "peak_throughput_per_s" else f"{v:.4g}" for v in values]


def _cost_lines(runs: Sequence[ComparedRun]) -> list[str]:
    """A row per cost and (checkpoint, policy); a cost equal for every (checkpoint, policy) of each run
    (the policies share the network's inference) is one row, ``every`` checkpoint and policy."""
    keys = [(c.checkpoint, c.policy) for c in runs[0].costs]
    by_run = [{(c.checkpoint, c.policy): c for c in r.costs} for r in runs]
    keys = [k for k in keys if all(k in b for b in by_run)]
    untimed = [r.letter for r in runs if not r.costs]
    if untimed:
        which = f"run{'s' if len(untimed) > 1 else ''} {', '.join(untimed)}"
        return [f"cost: {which} timed nothing (no cells table: an evaluate trace)"]
    if not keys:
        return ["cost: no (checkpoint, policy) that every run has"]
    header = ["per inference", "checkpoint", "policy", *(r.letter for r in runs)]
    header += [f"{r.letter}/{runs[0].letter}" for r in runs[1:]]
    rows = []
    for label, field in _COSTS:
        per_key = {}
        for key in keys:
            values = [_cost_value(b[key], field) for b in by_run]
            stds = [r.spreads.get(key, {}).get(field) for r in runs]
            ratios = [f"×{v / values[0]:.3g}" if values[0] else "-" for v in values[1:]]
            per_key[key] = [*_cost_texts(field, values, stds), *ratios]
        if len({tuple(v) for v in per_key.values()}) == 1:
            rows.append([label, "every", "every", *per_key[keys[0]]])
        else:
            rows += [[label, key[0], key[1], *texts] for key, texts in per_key.items()]
    note = "cost per inference, mean over seeds (± std where seeds differ); X/A: run X as a multiple of A"
    return [note, *_table(header, rows, numeric_from=3)]


def _table(header: list[str], rows: list[list[str]], *, numeric_from: int) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i >= numeric_from else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    head = line(header)
    return [head, "-" * len(head), *(line(r) for r in rows)]


def _checkpoints(runs: Sequence[ComparedRun]) -> list[str]:
    return order_checkpoints(
        (p.checkpoint for r in runs for p in r.points), [p.checkpoint for p in runs[0].points]
    )


@plain_text
def plot_comparison_accuracy(runs: Sequence[ComparedRun], out: Path) -> Path | None:
    """Accuracy vs device age: a panel per checkpoint, a colour per policy, a line style per run."""
    if not any(r.points for r in runs):
        return None
    checkpoints = _checkpoints(runs)
    colours = policy_colours(p.policy for r in runs for p in r.points)
    fig = Figure(figsize=(1.0 + 4.8 * len(checkpoints), 4.6), dpi=120)
    axes = fig.subplots(1, len(checkpoints), squeeze=False, sharey=True)[0]
    ages = [max(p.age_s, 1e-3) for r in runs for p in r.points]
    ticks, labels = age_ticks(min(ages), max(ages))
    for ax, checkpoint in zip(axes, checkpoints, strict=True):
        for n, run in enumerate(runs):
            mine = [p for p in run.points if p.checkpoint == checkpoint]
            for policy in order_policies(p.policy for p in mine):
                line = sorted((p for p in mine if p.policy == policy), key=lambda p: p.time_ns)
                ax.plot(
                    [max(p.age_s, 1e-3) for p in line],
                    [p.mean_pct for p in line],
                    ls=_LINE_STYLES[n % len(_LINE_STYLES)],
                    marker="o",
                    ms=3,
                    color=colours[policy],
                    label=f"{run.letter} · {policy}",
                )
        ax.set_xscale("log")
        ax.set_xticks(ticks, labels, fontsize=7)
        ax.minorticks_off()
        ax.set_xlabel("device age since programming")
        ax.set_title(checkpoint, fontsize=10)
        ax.grid(True, axis="y", color="0.9")
        ax.legend(fontsize=7, loc="lower left", ncol=len(runs))
    axes[0].set_ylabel("test accuracy (%)")
    fig.suptitle(_suptitle(runs), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out)


def _suptitle(runs: Sequence[ComparedRun]) -> str:
    styles = {"-": "solid", "--": "dashed", ":": "dotted", "-.": "dash-dot"}
    return "; ".join(
        f"{r.letter} ({styles[_LINE_STYLES[n % len(_LINE_STYLES)]]}): {r.title}" for n, r in enumerate(runs)
    )


@plain_text
def plot_comparison_energy(runs: Sequence[ComparedRun], out: Path) -> Path | None:
    """Dynamic energy per inference of each (checkpoint, policy): a bar per run, in one unit."""
    keys = [(c.checkpoint, c.policy) for c in runs[0].costs]
    by_run = [{(c.checkpoint, c.policy): c for c in r.costs} for r in runs]
    keys = [k for k in keys if all(k in b for b in by_run)]
    if not keys:
        return None
    values = [[b[k].dynamic_energy_pj for k in keys] for b in by_run]
    unit, scale = energy_unit(max(max(v) for v in values))
    fig = Figure(figsize=(2.0 + 0.6 * len(keys) * len(runs), 4.8), dpi=120)
    ax = fig.add_subplot()
    width = 0.8 / len(runs)
    for n, (run, row) in enumerate(zip(runs, values, strict=True)):
        x = [i + (n - (len(runs) - 1) / 2) * width for i in range(len(keys))]
        ax.bar(x, [v / scale for v in row], width=width, color=f"C{n}", label=f"{run.letter}: {run.title}")
    ax.set_xticks(range(len(keys)), [f"{c}\n{p}" for c, p in keys], fontsize=7, rotation=30, ha="right")
    ax.set_ylabel(f"dynamic energy per inference ({unit})")
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(runs), frameon=False)
    fig.suptitle(
        "Dynamic energy per inference (array, converters, NoC, digital; mean over seeds)", fontsize=9
    )
    fig.tight_layout()
    return save_figure(fig, out)


def comparison_accuracy_figure(runs: Sequence[ComparedRun]) -> go.Figure:
    """The interactive accuracy comparison: a panel per checkpoint (stacked), colour per policy, dash
    per run; the legend names each run and policy once."""
    checkpoints = _checkpoints(runs)
    colours = policy_colours(p.policy for r in runs for p in r.points)
    fig = make_subplots(
        rows=len(checkpoints), cols=1, shared_xaxes=True, subplot_titles=checkpoints,
        vertical_spacing=0.35 / len(checkpoints),
    )  # fmt: skip
    ages = [max(p.age_s, 1e-3) for r in runs for p in r.points]
    for row, checkpoint in enumerate(checkpoints, start=1):
        for n, run in enumerate(runs):
            mine = [p for p in run.points if p.checkpoint == checkpoint]
            for policy in order_policies(p.policy for p in mine):
                line = sorted((p for p in mine if p.policy == policy), key=lambda p: p.time_ns)
                fig.add_trace(
                    go.Scatter(
                        x=[max(p.age_s, 1e-3) for p in line],
                        y=[p.mean_pct for p in line],
                        mode="lines+markers",
                        name=f"{run.letter} · {policy}",
                        legendgroup=f"{run.letter}{policy}",
                        showlegend=row == 1,
                        line={"color": colours[policy], "dash": _DASHES[n % len(_DASHES)]},
                        text=[
                            f"{run.letter} ({run.title})<br>age {format_age(p.age_s)}<br>"
                            f"{format_spread(p.mean_pct, p.std_pct, p.seeds)} %"
                            for p in line
                        ],
                        hovertemplate="%{text}<extra>" + f"{checkpoint} · {policy}" + "</extra>",
                    ),
                    row=row,
                    col=1,
                )
    ticks, labels = age_ticks(min(ages, default=1.0), max(ages, default=1.0))
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=labels)
    fig.update_xaxes(title_text="device age since programming (log scale)", row=len(checkpoints), col=1)
    fig.update_yaxes(title_text="test accuracy (%)")
    fig.update_layout(
        title={"text": "Accuracy vs device age, run by run"},
        height=140 + 330 * len(checkpoints),
        template="plotly_white",
        legend=LEGEND,
        margin={"l": 56, "r": 12, "t": 30, "b": 50},
    )
    return fig


def comparison_energy_figure(runs: Sequence[ComparedRun]) -> go.Figure:
    """The interactive energy comparison: dynamic energy per inference, a bar per run, one unit."""
    keys = [(c.checkpoint, c.policy) for c in runs[0].costs]
    by_run = [{(c.checkpoint, c.policy): c for c in r.costs} for r in runs]
    keys = [k for k in keys if all(k in b for b in by_run)]
    values = [[b[k].dynamic_energy_pj for k in keys] for b in by_run]
    unit, scale = energy_unit(max((max(v) for v in values if v), default=0.0))
    fig = go.Figure()
    for run, row in zip(runs, values, strict=True):
        fig.add_trace(
            go.Bar(
                x=[f"{c}<br>{p}" for c, p in keys],
                y=[v / scale for v in row],
                name=f"{run.letter}: {run.title}",
                hovertemplate="%{x}<br>%{y:.4g} " + unit + "<extra>" + run.letter + "</extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        title={"text": "Dynamic energy per inference, run by run"},
        yaxis={"title": f"dynamic energy per inference ({unit})"},
        template="plotly_white",
        legend=LEGEND,
        margin={"l": 56, "r": 12, "t": 30, "b": 50},
    )
    return fig


def write_comparison(
    runs: Sequence[ComparedRun] | Sequence[ComparedSweep], out_dir: Path | str, *, html: bool = False
) -> tuple[str, ComparisonFiles]:
    """Write the comparison of ``runs`` (:func:`load_runs`, or :func:`load_sweeps`) into ``out_dir``;
    returns its text and the files written (sweeps: the text, and with ``html`` the page of its table)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    traces = [r for r in runs if isinstance(r, ComparedRun)]
    sweeps = [r for r in runs if isinstance(r, ComparedSweep)]
    text = format_comparison(traces) if traces else format_sweep_comparison(sweeps)
    accuracy = plot_comparison_accuracy(traces, out / "compare_accuracy.png") if traces else None
    energy = plot_comparison_energy(traces, out / "compare_energy.png") if traces else None
    page = None
    if html:
        charts: list[Chart] = []
        if any(r.points for r in traces):
            caption = "Colour: the policy; line style: the run (A solid). Hover: each run's mean ± std."
            charts.append(("accuracy", comparison_accuracy_figure(traces), caption))
        if energy is not None:
            charts.append(("energy", comparison_energy_figure(traces), "Mean over seeds; a bar per run."))
        page = out / COMPARE_HTML
        title = " vs ".join(f"{r.letter}: {r.title}" for r in runs)
        page.write_text(page_html(title, charts, text), encoding="utf-8")
    path = out / "comparison.txt"
    path.write_text(text + "\n", encoding="utf-8")
    return text, ComparisonFiles(text=path, accuracy=accuracy, energy=energy, html=page)
