"""The interactive HTML report: one self-contained page (Plotly, its JavaScript inlined) from a trace.

``report.html`` opens offline, from a file, on any machine: the page holds plotly.js (about 4.7 MB)
once and every chart's data, and loads nothing at view time. For a trace directory the charts are
accuracy vs device age (a panel per checkpoint; hover: every seed), energy per inference by component,
the tile map of every mapped model (hover: layers, blocks, utilisation, MVMs per image) and the latency
distribution, followed by the plain-text summary; for a sweep directory (``chiptwin sweep``'s output) the
results table and the Pareto view (dynamic energy against accuracy, or against latency for a timing-only
sweep). Each chart is a ``section`` of class ``chiptwin-chart`` with a caption saying how to read it;
legends sit above their plots, so the page reads at a phone's width (420 px).
"""

from __future__ import annotations

import html
from pathlib import Path

import plotly.graph_objects as go
import plotly.offline
import pyarrow.compute as pc

from chiptwin.errors import DataError
from chiptwin.report.html_charts import (
    accuracy_figure,
    energy_figure,
    latency_figure,
    pareto_figure,
    sweep_table_figure,
    tile_map_figure,
)
from chiptwin.report.summary import checkpoint_order, format_summary, read_live_manifest
from chiptwin.report.sweep_table import grid_keys, in_grid_order, varying_keys
from chiptwin.sweep.run import read_sweep
from chiptwin.trace.mapping_table import read_mapping_table
from chiptwin.trace.reader import MAPPING_FILE, iter_batches, read_table

__all__ = ["CAPTIONS", "HTML_FILE", "SWEEP_FILE", "Chart", "is_sweep_dir", "page_html", "write_html_report"]

HTML_FILE = "report.html"
"""Name of the page in the report folder."""

SWEEP_FILE = "sweep.json"
"""The file that marks a sweep's output directory (``chiptwin.sweep.run``)."""

_CONFIG = {"displaylogo": False, "responsive": True}

Chart = tuple[str, go.Figure, str]
"""A section of the page: its name, its figure and the caption under it."""

CAPTIONS = {
    "accuracy": "Mean over seeds; hover a point for every seed's value. A panel per checkpoint, a colour "
    "per compensation policy (the same in every chart); the dotted line is the checkpoint's digital "
    "(floating-point) accuracy. Click a policy in the legend to hide it in every panel.",
    "energy": "Mean over seeds, stacked by component. Static energy (the idle chip's share at the served "
    "rate) is hidden: click 'static' in the legend to add it.",
    "tile map": "Colour: the share of a tile's crossbar cells that hold weights, on a scale fitted to the "
    "data (the buttons switch to 0-100 %); blank: an unused tile. A panel per mapped model.",
    "latency": "Latency of each cell of the run (µs).",
    "results": "Every cell and probe of the sweep, ordered by its grid keys (numbers by value).",
    "pareto": "The front: the cells no other cell beats in both energy and the vertical axis.",
}
"""How to read each chart, printed under it."""


def is_sweep_dir(root: Path | str) -> bool:
    """Whether ``root`` is the output directory of ``chiptwin sweep`` (it holds ``sweep.json``)."""
    return (Path(root) / SWEEP_FILE).is_file()


def write_html_report(root: Path | str, out_dir: Path | str | None = None) -> Path:
    """Write ``report.html`` for the trace or sweep directory ``root`` into ``out_dir`` (default
    ``root/report``); returns its path.

    Raises:
        DataError: ``root`` is neither a trace directory nor a sweep directory, a table cannot be read,
            or there is nothing to draw.
    """
    root = Path(root)
    out = Path(out_dir) if out_dir is not None else root / "report"
    if is_sweep_dir(root):
        title, charts, text = _sweep_page(root)
    else:
        title, charts, text = _trace_page(root)
    out.mkdir(parents=True, exist_ok=True)
    path = out / HTML_FILE
    path.write_text(page_html(title, charts, text), encoding="utf-8")
    return path


def _trace_page(root: Path) -> tuple[str, list[Chart], str]:
    manifest = read_live_manifest(root)
    probes, cells = read_table(root, "probes"), read_table(root, "cells")
    mapping = root / MAPPING_FILE
    if not probes.num_rows and not cells.num_rows and not mapping.is_file():
        raise DataError(f"{root}: nothing to report (no probes, no cells and no {MAPPING_FILE})")
    scenario = manifest.get("scenario") or {}
    title = f"{scenario.get('name', root.name)} on {scenario.get('arch', '?')}"
    order = checkpoint_order(manifest)
    figures: list[tuple[str, go.Figure]] = []
    if probes.num_rows:
        digital = manifest.get("digital_accuracy") or {}
        figures.append(("accuracy", accuracy_figure(probes, checkpoints=order, digital=digital)))
    if cells.num_rows:
        figures.append(("energy", energy_figure(cells, checkpoints=order)))
    if mapping.is_file():
        records = read_mapping_table(mapping)
        if records:
            figures.append(("tile map", tile_map_figure(records)))
    if cells.num_rows:
        figures.append(("latency", latency_figure(cells, _latencies(root))))
    charts = [(name, fig, CAPTIONS[name]) for name, fig in figures]
    return title, charts, format_summary(manifest, probes, cells)


def _latencies(root: Path) -> dict[str, list[int]]:
    """Each cell's inference latencies from its ``done`` records (event mode only), streamed."""
    found: dict[str, list[int]] = {}
    for cell, batch in iter_batches(root, "events", columns=["kind", "task", "duration_ns"]):
        done = pc.and_(
            pc.equal(batch.column("kind").cast("string"), "done"),
            pc.equal(batch.column("task").cast("string"), "inference"),
        )
        values = batch.filter(done).column("duration_ns").to_pylist()
        if values:
            found.setdefault(cell, []).extend(values)
    return found


def _sweep_page(root: Path) -> tuple[str, list[Chart], str]:
    table = in_grid_order(read_sweep(root))
    keys = grid_keys(table)
    rows = table.to_pylist()
    varying = varying_keys(table)
    charts: list[Chart] = [("results", sweep_table_figure(rows, varying), CAPTIONS["results"])]
    if any(r["dynamic_energy_pj"] is not None for r in rows):
        charts.append(("pareto", pareto_figure(rows, varying), CAPTIONS["pareto"]))
    cells = len({r["sweep_cell"] for r in rows})
    text = f"{len(rows)} result rows of {cells} finished cells; grid keys: {', '.join(keys)}"
    return f"sweep {root.name}", charts, text


def page_html(title: str, charts: list[Chart], text: str) -> str:
    """The self-contained page: ``title``, each chart as a section (its title the heading, its caption
    under it) and ``text`` as the plain-text summary; plotly.js inlined once."""
    sections = []
    for n, (name, fig, caption) in enumerate(charts):
        # The chart's title is the section's heading: in the page's flow it wraps at any width, and the
        # legend above the plot has the figure's top to itself.
        heading, note = (fig.layout.title.text or name).partition("<br>")[::2]
        fig.update_layout(title={"text": ""}, margin={"t": 50})
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{n}", config=_CONFIG)
        note = note.removeprefix("<sub>").removesuffix("</sub>")
        sections.append(
            f'<section class="chiptwin-chart" data-chart="{html.escape(name)}">'
            f"<h2>{html.escape(heading)}</h2>"
            + (f'<p class="note">{html.escape(note)}</p>' if note else "")
            + f'{div}<p class="caption">{html.escape(caption)}</p></section>'
        )
    body = "\n".join(sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chiptwin: {html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1em auto; padding: 0 8px; max-width: 1100px;
       color: #222; }}
h1 {{ font-size: 1.4em; overflow-wrap: anywhere; }}
section.chiptwin-chart {{ margin: 1.5em 0; }}
h2 {{ font-size: 1.1em; margin: 0 0 0.2em 0; }}
p.caption {{ font-size: 13px; color: #555; margin: 0.3em 0 0 0; }}
p.note {{ font-size: 13px; color: #a40; margin: 0; }}
pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 12px; }}
</style>
<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>
</head>
<body data-charts="{len(charts)}">
<h1>chiptwin: {html.escape(title)}</h1>
{body}
<h2>Summary</h2>
<pre>{html.escape(text)}</pre>
</body>
</html>
"""
