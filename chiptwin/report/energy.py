"""Energy per inference by component: stacked bars per checkpoint and compensation policy, in two panels.

The components are the ``energy_<component>_pj`` columns of the ``cells`` table (per inference, the
compensation passes amortised over the run's inferences), averaged over seeds. The left panel holds the
dynamic energy of the inference itself (array, DAC, ADC, NoC, digital) on its own axis: at a light
workload the static share (static power x the time between inferences, itself an assumed figure) is
orders of magnitude larger and would hide every component the architecture decides. The right panel
holds the whole: dynamic, compensation and static. Each axis is in the one unit (pJ ... J) its largest
bar reads best in, never with an offset or a power-of-ten factor.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from chiptwin.errors import DataError
from chiptwin.report.plain_text import plain_text, save_figure
from chiptwin.report.summary import ENERGY_COMPONENTS, CostResult, cost_table, energy_unit, format_energy
from chiptwin.trace.schema import DYNAMIC_ENERGY_COMPONENTS

__all__ = ["plot_energy"]

_GROUP_GAP = 0.5  # extra space between the bar groups of two checkpoints, in bar pitches


def _stack(ax: Axes, x: list[float], costs: list[CostResult], components: Sequence[str], title: str) -> None:
    parts = [dict(c.energy_by_component_pj) for c in costs]
    totals = [sum(p[k] for k in components) for p in parts]
    unit, scale = energy_unit(max(totals, default=0.0))
    bottom = [0.0] * len(costs)
    for component in components:
        heights = [p[component] / scale for p in parts]
        color = f"C{ENERGY_COMPONENTS.index(component)}"
        ax.bar(x, heights, bottom=bottom, width=0.7, color=color, label=component)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    for xi, total, top in zip(x, totals, bottom, strict=True):
        ax.annotate(format_energy(total), (xi, top), xytext=(0, 2), textcoords="offset points",
                    ha="center", va="bottom", fontsize=7)  # fmt: skip
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.set_ylabel(f"energy per inference ({unit})")
    ax.set_title(title, fontsize=9)
    ax.margins(y=0.12)


@plain_text
def plot_energy(cells: pa.Table, out: Path | str, *, checkpoints: Sequence[str] = ()) -> Path:
    """Plot the energy per inference of each checkpoint and policy, stacked by component, into ``out``:
    the dynamic energy on the left, the whole (with compensation and static) on the right.

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
    fig = Figure(figsize=(3.2 + 2.0 * len(costs), 4.8), dpi=120)
    dynamic_ax, total_ax = fig.subplots(1, 2)
    groups = list(dict.fromkeys(c.checkpoint for c in costs))
    # One group of bars per checkpoint, half a bar width apart, its name under the policy labels.
    x = [i + _GROUP_GAP * groups.index(c.checkpoint) for i, c in enumerate(costs)]
    _stack(dynamic_ax, x, costs, DYNAMIC_ENERGY_COMPONENTS, "dynamic: the inference itself")
    _stack(total_ax, x, costs, ENERGY_COMPONENTS, "total: + compensation + static")
    for ax in (dynamic_ax, total_ax):
        ax.set_xticks(x, [c.policy for c in costs], fontsize=8)
        for checkpoint in groups:
            mine = [xi for xi, c in zip(x, costs, strict=True) if c.checkpoint == checkpoint]
            at = (sum(mine) / len(mine), 0.0)
            ax.annotate(checkpoint, at, xycoords=("data", "axes fraction"), xytext=(0, -20),
                        textcoords="offset points", ha="center", va="top", fontsize=7)  # fmt: skip
    fig.suptitle("energy per inference by component (mean over seeds)", fontsize=10)
    handles, labels = total_ax.get_legend_handles_labels()
    total_ax.legend(handles[::-1], labels[::-1], fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, out)
    return out
