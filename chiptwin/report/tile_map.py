"""The tile map: the chip's mesh of crossbars with every placed block drawn where it sits.

Drawn from a mapping table (``chiptwin.trace.mapping_table``), never from in-memory state. Each tile is a
square on its mesh position; each block a rectangle at its cell offset, to scale, coloured by its layer
(topological order along a colour map), so the filled share of a square is the tile's cell utilisation
(also printed in the square). Unused tiles are light grey.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from chiptwin.errors import DataError
from chiptwin.report.plain_text import plain_text, save_figure
from chiptwin.trace.mapping_table import read_mapping_table

__all__ = ["draw_tile_map"]

_GAP = 0.08
"""Space between neighbouring tiles, in tile widths."""


@plain_text
def draw_tile_map(table: Path | str, out: Path | str, *, dpi: int = 120) -> Path:
    """Draw the tile map of the mapping table ``table`` into the PNG file ``out``; returns ``out``.

    A table of several models (a scenario's checkpoints) draws the first; the HTML report draws each.

    Raises:
        DataError: the table cannot be read or holds no placement.
    """
    records = read_mapping_table(table)
    if not records:
        raise DataError(f"{table}: the mapping table is empty; nothing to draw")
    first = records[0]
    models = list(dict.fromkeys(r.model for r in records))
    records = [r for r in records if r.model == first.model]  # a scenario maps each checkpoint: the first
    rows, cols, size = first.mesh_rows, first.mesh_cols, 1.0 - _GAP
    layers = sorted({(r.layer_index, r.layer) for r in records})
    norm = Normalize(vmin=0, vmax=max(len(layers) - 1, 1))
    cmap = colormaps["turbo"]
    fig = Figure(figsize=(1.0 + 0.9 * cols, 0.9 + 0.9 * rows), dpi=dpi)
    ax = fig.add_subplot()
    used: dict[int, int] = {}
    for r in records:
        used[r.tile] = used.get(r.tile, 0) + (r.row_stop - r.row_start) * (r.col_stop - r.col_start)
    for tile in range(first.chip_tiles):
        mesh_row, mesh_col = divmod(tile, cols)
        x0, top = mesh_col + _GAP / 2, rows - mesh_row - _GAP / 2
        face = "white" if tile in used else "0.85"
        ax.add_patch(Rectangle((x0, top - size), size, size, facecolor=face, edgecolor="0.3", lw=0.8))
        if tile in used:
            share = used[tile] / (first.tile_rows * first.tile_cols)
            ax.text(
                x0 + size / 2,
                top - size / 2,
                f"{100 * share:.0f}%" if share >= 0.01 else "<1%",
                ha="center",
                va="center",
                fontsize=7,
                bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 1},
            )
    for r in records:
        mesh_row, mesh_col = divmod(r.tile, cols)
        x0, top = mesh_col + _GAP / 2, rows - mesh_row - _GAP / 2
        w = size * (r.col_stop - r.col_start) / first.tile_cols
        h = size * (r.row_stop - r.row_start) / first.tile_rows
        x = x0 + size * r.col_offset / first.tile_cols
        y = top - size * r.row_offset / first.tile_rows - h
        ax.add_patch(Rectangle((x, y), w, h, facecolor=cmap(norm(r.layer_index)), edgecolor="black", lw=0.3))
    ax.set_xlim(0, cols)
    ax.set_ylim(0, rows)
    ax.set_aspect("equal")
    ax.set_xticks([c + 0.5 for c in range(cols)], [str(c) for c in range(cols)])
    ax.set_yticks([rows - m - 0.5 for m in range(rows)], [str(m) for m in range(rows)])
    ax.set_xlabel("mesh column")
    ax.set_ylabel("mesh row")
    n_used = len(used)
    cells = sum(used.values()) / (n_used * first.tile_rows * first.tile_cols)
    others = (
        f"\n(the first of {len(models)} mapped models; report --html maps each)" if len(models) > 1 else ""
    )
    ax.set_title(
        f"{first.model} on {first.chip} ({first.strategy}): {n_used}/{first.chip_tiles} tiles, "
        f"{100 * cells:.1f}% of their cells{others}",
        fontsize=9,
    )
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.04)
    bar.set_ticks([0, len(layers) - 1], labels=[layers[0][1], layers[-1][1]])
    bar.set_label("analog layer (topological order)")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, out)
    return out
