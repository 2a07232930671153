"""``chiptwin report``: the plots and plain-text summary of a trace directory, printed and written;
``--html`` adds the interactive page (also of a sweep directory). Two or more directories are compared
side by side (``chiptwin compare``, :mod:`chiptwin.cli.compare`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from chiptwin.cli.arguments import path
from chiptwin.cli.compare import compare_dirs
from chiptwin.errors import DataError, UsageError
from chiptwin.files import output_folder
from chiptwin.report.html import is_sweep_dir, write_html_report
from chiptwin.report.trace_report import write_report
from chiptwin.sweep.run import SWEEP_ENTRIES
from chiptwin.trace.reader import TRACE_ENTRIES, open_trace

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
    if len(args.trace_dir) > 1:
        return compare_dirs(list(args.trace_dir), args.out, args.html)
    args.trace_dir = args.trace_dir[0]
    sweep = is_sweep_dir(args.trace_dir)
    if sweep and not args.html:
        raise DataError(
            f"{args.trace_dir}: a sweep directory; add --html for its results page, or report one "
            "cell's trace (TRACE_DIR/cells/CELL)"
        )
    if not sweep:
        open_trace(args.trace_dir)  # before any folder is made: a bad TRACE_DIR gets nothing created
    source = (args.trace_dir, SWEEP_ENTRIES if sweep else TRACE_ENTRIES)  # anywhere in it but its data
    out_dir = args.out or Path(args.trace_dir) / "report"
    with output_folder(out_dir, "--out", UsageError, kind="report folder", within=source) as out:
        return _report(args, out, sweep)


def _report(args: argparse.Namespace, out: Path, sweep: bool) -> int:
    if sweep:
        print(f"wrote {write_html_report(args.trace_dir, out)}")
        return 0
    files = write_report(args.trace_dir, out)
    page = write_html_report(args.trace_dir, out) if args.html else None
    print(files.summary.read_text(encoding="utf-8"), end="")
    print()
    for written in files.written():
        print(f"wrote {written}")
    if page is not None:
        print(f"wrote {page}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="plots and summary of a trace directory, or several side by side")
    p.add_argument(
        "trace_dir",
        nargs="+",
        type=path("trace_dir"),
        help="trace directory written by a scenario run; two or more: compared side by side (as compare)",
    )
    p.add_argument(
        "--out",
        type=path("out"),
        default=None,
        help="output folder (default TRACE_DIR/report; for several, traces/compare-A-B)",
    )
    p.add_argument(
        "--html",
        action="store_true",
        help="also write report.html: interactive charts in one self-contained page (opens offline); "
        "for a sweep directory, its results table and Pareto view",
    )
    p.set_defaults(func=_run)
