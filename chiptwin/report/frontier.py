"""Throughput against tiles: the searched mapping at each tile budget, the fixed recipes marked.

Drawn from the frontier table ``chiptwin map --frontier`` writes (``frontier.parquet``: one row per
mapping, columns of :class:`~chiptwin.timing.search.FrontierPoint`), never from in-memory state.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from matplotlib.figure import Figure

from chiptwin.errors import DataError

__all__ = ["FRONTIER_COLUMNS", "draw_frontier"]

FRONTIER_COLUMNS = ("model", "chip", "strategy", "budget", "tiles_used", "throughput_per_s")
"""The columns the plot reads."""

_MARKERS = {"dense": "s", "packed": "D", "balanced": "^"}


def draw_frontier(table: Path | str, out: Path | str, *, dpi: int = 120) -> Path:
    """Draw images per second against tiles used from the frontier table ``table`` into ``out`` (PNG).

    Raises:
        DataError: the table cannot be read, lacks a column, or holds no searched point.
    """
    try:
        data = pq.read_table(table).to_pydict()
    except (OSError, ValueError) as exc:
        raise DataError(f"{table}: cannot read the frontier table ({exc})") from None
    missing = [c for c in FRONTIER_COLUMNS if c not in data]
    if missing:
        raise DataError(f"{table}: the frontier table has no column {', '.join(missing)}")
    rows = [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]
    searched = sorted((r for r in rows if r["strategy"] == "search"), key=lambda r: r["budget"])
    if not searched:
        raise DataError(f"{table}: no searched mapping to draw")
    fig = Figure(figsize=(6.4, 4.2), dpi=dpi)
    ax = fig.add_subplot()
    ax.plot(
        [r["tiles_used"] for r in searched],
        [r["throughput_per_s"] for r in searched],
        "o-",
        color="tab:blue",
        label="search (throughput), one per tile budget",
    )
    for r in rows:
        if r["strategy"] in _MARKERS:
            ax.plot(
                r["tiles_used"],
                r["throughput_per_s"],
                _MARKERS[r["strategy"]],
                color="tab:red",
                markersize=8,
                label=r["strategy"],
            )
            ax.annotate(r["strategy"], (r["tiles_used"], r["throughput_per_s"]), xytext=(6, -10),
                        textcoords="offset points", fontsize=8)  # fmt: skip
    ax.set_xlabel("tiles used")
    ax.set_ylabel("images / s at saturation (timing plan)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"{searched[0]['model']} on {searched[0]['chip']}: throughput against tiles", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
