"""Energy per inference by component: one stacked bar per checkpoint and compensation policy.

The components are the ``energy_<component>_pj`` columns of the ``cells`` table (per inference, the
compensation passes amortised over the run's inferences), averaged over seeds and drawn in nJ.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
from matplotlib.figure import Figure

from chiptwin.errors import DataError
from chiptwin.report.summary import ENERGY_COMPONENTS, cost_table, format_energy

__all__ = ["plot_energy"]

_PJ_PER_NJ = 1e3
_GROUP_GAP = 0.5  # extra space between the bar groups of two checkpoints, in bar pitches


def plot_energy(cells: pa.Table, out: Path | str, *, checkpoints: Sequence[str] = ()) -> Path:
    """Plot the energy per inference of each checkpoint and policy, stacked by component, into ``out``.

    Args:
        cells: the ``cells`` table of a trace (``CELLS_SCHEMA``).
        out: PNG file to write (parent folders created).
        checkpoints: preferred bar order (``chiptwin.report.summary.order_checkpoints``).

    Returns:
        ``out``.

    Raises:
        DataError: ``cells`` has no rows.
    """
    costs = cost_table(cells, checkpoints=checkpoints)
    if not costs:
        raise DataError(f"{out}: no cells to plot")
    fig = Figure(figsize=(2.4 + 1.0 * len(costs), 4.6), dpi=120)
    ax = fig.add_subplot()
    groups = list(dict.fromkeys(c.checkpoint for c in costs))
    # One group of bars per checkpoint, half a bar width apart, its name under the policy labels.
    x = [i + _GROUP_GAP * groups.index(c.checkpoint) for i, c in enumerate(costs)]
    bottom = [0.0] * len(costs)
    by_component = [dict(c.energy_by_component_pj) for c in costs]
    for i, component in enumerate(ENERGY_COMPONENTS):
        heights = [parts[component] / _PJ_PER_NJ for parts in by_component]
        ax.bar(x, heights, bottom=bottom, width=0.7, color=f"C{i}", label=component)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    for xi, c, top in zip(x, costs, bottom, strict=True):
        ax.annotate(
            format_energy(c.energy_per_inference_pj),
            (xi, top),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
        )
    ax.set_xticks(x, [c.policy for c in costs], fontsize=8)
    for checkpoint in groups:
        mine = [xi for xi, c in zip(x, costs, strict=True) if c.checkpoint == checkpoint]
        ax.annotate(
            checkpoint,
            (sum(mine) / len(mine), 0.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, -20),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=8,
        )
    ax.set_ylabel("energy per inference (nJ)")
    ax.set_title("energy per inference by component (mean over seeds)", fontsize=10)
    ax.margins(y=0.12)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
