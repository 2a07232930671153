"""Accuracy over device age: one panel per checkpoint, one line per compensation policy.

The central plot of Joshi et al., Nat. Commun. 11, 2473 (2020): test accuracy against the time since
programming on a log axis, for no compensation, global drift compensation (GDC) and GDC with adaptive
batch-norm statistics (AdaBS). Each line is the mean over seeds with the seed spread (min to max) as a
band; the checkpoint's digital accuracy is a dashed line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from chiptwin.errors import DataError
from chiptwin.report.colours import policy_colours
from chiptwin.report.plain_text import plain_text, save_figure
from chiptwin.report.summary import accuracy_table, order_policies
from chiptwin.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_YEAR

__all__ = ["AGE_MARKS", "plot_accuracy"]

AGE_MARKS = (("1 min", 60.0), ("1 h", SECONDS_PER_HOUR), ("1 d", SECONDS_PER_DAY), ("1 y", SECONDS_PER_YEAR))
"""Ages marked on the top axis (label, seconds) where they fall inside the plotted range."""


@plain_text
def plot_accuracy(
    probes: pa.Table,
    out: Path | str,
    *,
    digital: Mapping[str, float] | None = None,
    title: str = "",
    checkpoints: Sequence[str] | None = None,
    age_note: str = "",
) -> Path:
    """Plot accuracy (%) against device age (s, log axis) from a ``probes`` table into the PNG ``out``.

    Probes at age 0 (just programmed) are drawn at the smallest positive age of the table, or 1 s if
    there is none, so the log axis holds them.

    Args:
        probes: the ``probes`` table of a trace (``PROBES_SCHEMA``).
        out: PNG file to write (parent folders created).
        digital: digital test accuracy of each checkpoint as a fraction, drawn as a dashed line.
        title: figure title.
        checkpoints: preferred panel order (``chiptwin.report.summary.order_checkpoints``); default the
            order of ``digital``, which the manifest writes in scenario order.
        age_note: what a device age means on this chip (the manifest's ``age_convention``), written
            under the axes.

    Returns:
        ``out``.

    Raises:
        DataError: ``probes`` has no rows.
    """
    digital = digital or {}
    points = accuracy_table(probes, checkpoints=list(digital) if checkpoints is None else checkpoints)
    if not points:
        raise DataError(f"{out}: no accuracy probes to plot")
    positive = [p.age_s for p in points if p.age_s > 0]
    floor = min(positive) if positive else 1.0
    checkpoints = list(dict.fromkeys(p.checkpoint for p in points))
    colours = policy_colours(p.policy for p in points)  # the same colour as in the HTML report
    fig = Figure(figsize=(1.0 + 4.8 * len(checkpoints), 4.4), dpi=120)
    axes = fig.subplots(1, len(checkpoints), squeeze=False, sharey=True)[0]
    for ax, checkpoint in zip(axes, checkpoints, strict=True):
        mine = [p for p in points if p.checkpoint == checkpoint]
        for policy in order_policies(p.policy for p in mine):
            line = sorted((p for p in mine if p.policy == policy), key=lambda p: max(p.age_s, floor))
            x = [max(p.age_s, floor) for p in line]
            colour = colours[policy]
            ax.fill_between(x, [p.min_pct for p in line], [p.max_pct for p in line], color=colour, alpha=0.2)
            ax.plot(x, [p.mean_pct for p in line], marker="o", ms=4, color=colour, label=policy)
        if checkpoint in digital:
            ax.axhline(100 * digital[checkpoint], color="0.3", ls="--", lw=1, label="digital")
        ax.set_xscale("log")
        low, high = ax.get_xlim()
        marks = [(label, s) for label, s in AGE_MARKS if low <= s <= high]
        if marks:
            for _, s in marks:
                ax.axvline(s, color="0.85", lw=0.8, zorder=0)
            top = ax.secondary_xaxis("top")
            top.set_xticks([s for _, s in marks], labels=[label for label, _ in marks], fontsize=8)
            top.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("device age (s)")
        ax.set_title(checkpoint, fontsize=10)
        ax.grid(True, which="major", axis="y", color="0.9")
        ax.legend(fontsize=8, loc="lower left")
    axes[0].set_ylabel("test accuracy (%)")
    if title:
        fig.suptitle(title, fontsize=11)
    if age_note:
        fig.text(0.01, 0.01, age_note, fontsize=7, color="0.35")
        fig.tight_layout(rect=(0, 0.04, 1, 1))
    else:
        fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, out)
    return out
