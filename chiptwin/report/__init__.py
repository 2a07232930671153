"""Reports: plots and summaries drawn from trace files (matplotlib figures, no global pyplot state), the
interactive HTML page (Plotly) and the Chrome trace-event timeline."""

from __future__ import annotations

from chiptwin.report.accuracy import plot_accuracy
from chiptwin.report.energy import plot_energy
from chiptwin.report.html import write_html_report
from chiptwin.report.summary import (
    AccuracyPoint,
    CostResult,
    accuracy_table,
    cost_table,
    format_accuracy_table,
    format_age,
    format_summary,
    summary_text,
)
from chiptwin.report.tile_map import draw_tile_map
from chiptwin.report.timeline import TimelineResult, export_timeline
from chiptwin.report.trace_report import ReportFiles, write_report

__all__ = [
    "AccuracyPoint",
    "CostResult",
    "ReportFiles",
    "TimelineResult",
    "accuracy_table",
    "cost_table",
    "draw_tile_map",
    "export_timeline",
    "format_accuracy_table",
    "format_age",
    "format_summary",
    "plot_accuracy",
    "plot_energy",
    "summary_text",
    "write_html_report",
    "write_report",
]
