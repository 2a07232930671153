"""The device-model fit of ``chiptwin fit-device`` as a PNG: each law against the data, with its goodness.

One panel per law of the ``pcm_joshi2020`` model (programming noise, drift exponent mean and spread, read
noise) against the target conductance (log axis): each target's statistic as measured (points with one
standard error), as the fitted model predicts it (open circles; near 0 µS the rectifications bend it away
from the law), the fitted law (line) and the published one (dashed). Each panel's title gives R² of the
measured against the predicted statistic; under the panels, the chi-squared of the whole fit and a table
of the fitted coefficients with their standard errors next to the published values.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure

from chiptwin.device.pcm_fit import PCMFit
from chiptwin.report.plain_text import plain_text, save_figure

__all__ = ["format_coefficient_rows", "plot_device_fit"]


def format_coefficient_rows(fit: PCMFit) -> list[str]:
    """One line per coefficient: name, fitted value ± standard error, published value, relative change
    (or why it was not fitted), with a header line."""
    rows = [f"{'coefficient':<26} {'fitted':>11} {'± std err':>10} {'published':>11} {'change':>8}"]
    for c in fit.coefficients:
        if c.fitted:
            change = f"{100 * (c.value / c.published - 1):+.1f} %" if c.published else ""
            rows.append(
                f"{c.name:<26} {c.value:>11.5g} {c.std_error:>10.2g} {c.published:>11.5g} {change:>8}"
            )
        else:
            rows.append(f"{c.name:<26} {c.value:>11.5g} {'':>10} {c.published:>11.5g}   kept: {c.reason}")
    return rows


@plain_text
def plot_device_fit(fit: PCMFit, out: Path | str, *, title: str = "") -> Path:
    """Draw ``fit`` into the PNG ``out`` (parent folders created); returns ``out``."""
    rows = format_coefficient_rows(fit)
    fig = Figure(figsize=(11.0, 8.0 + 0.16 * len(rows)), dpi=110)
    table_share = 0.16 * len(rows) / (8.0 + 0.16 * len(rows))
    grid = fig.add_gridspec(2, 2, bottom=table_share + 0.09, top=0.9, hspace=0.32, wspace=0.22)
    for i, law in enumerate(fit.laws):
        ax = fig.add_subplot(grid[i // 2, i % 2])
        ax.plot(law.law_target_usiemens, law.law, color="C0", lw=1.6, label="fitted law")
        ax.plot(
            law.law_target_usiemens, law.published_law, color="0.45", lw=1.0, ls="--", label="published law"
        )
        ax.errorbar(
            law.target_usiemens,
            law.observed,
            yerr=law.std_error,
            fmt="o",
            ms=4,
            color="C3",
            capsize=2,
            label="measured",
        )
        ax.plot(law.target_usiemens, law.predicted, "o", ms=8, mfc="none", color="C0", label="fitted model")
        ax.set_xscale("log")
        if law.quantity.startswith("read noise"):
            ax.set_yscale("log")
        ax.set_xlabel("target conductance (µS)")
        ax.set_ylabel(law.quantity)
        r2 = law.r_squared
        ax.set_title(f"{law.quantity}: R² = {r2:.4f}" if math.isfinite(r2) else law.quantity, fontsize=10)
        ax.text(0.01, 0.01, f"measured: {law.statistic}", transform=ax.transAxes, fontsize=6.5, color="0.35")
        ax.grid(True, which="major", color="0.9")
        if i == 0:
            ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(
        title
        or (
            f"{fit.source}: {fit.devices:,} devices, {fit.reads:,} reads, {len(fit.targets_usiemens)} "
            f"targets; chi² = {fit.chi_squared:.1f} for {fit.dof} degrees of freedom"
        ),
        fontsize=10,
    )
    fig.text(0.03, 0.015, "\n".join(rows), family="monospace", fontsize=7.5, va="bottom")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, out)
    return out
