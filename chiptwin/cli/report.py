"""``chiptwin report``: the plots and plain-text summary of a trace directory, printed and written;
``--html`` adds the interactive page (also of a sweep directory)."""

from __future__ import annotations

import argparse

from chiptwin.cli.arguments import path
from chiptwin.errors import DataError
from chiptwin.report.html import is_sweep_dir, write_html_report
from chiptwin.report.trace_report import write_report

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
    if is_sweep_dir(args.trace_dir):
        if not args.html:
            raise DataError(
                f"{args.trace_dir}: a sweep directory; add --html for its results page, or report one "
                "cell's trace (TRACE_DIR/cells/CELL)"
            )
        print(f"wrote {write_html_report(args.trace_dir, args.out)}")
        return 0
    files = write_report(args.trace_dir, args.out)
    page = write_html_report(args.trace_dir, args.out) if args.html else None
    print(files.summary.read_text(encoding="utf-8"), end="")
    print()
    for written in files.written():
        print(f"wrote {written}")
    if page is not None:
        print(f"wrote {page}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="plots and summary of a trace directory")
    p.add_argument("trace_dir", type=path("trace_dir"), help="trace directory written by a scenario run")
    p.add_argument("--out", type=path("out"), default=None, help="output folder (default TRACE_DIR/report)")
    p.add_argument(
        "--html",
        action="store_true",
        help="also write report.html: interactive charts in one self-contained page (opens offline); "
        "for a sweep directory, its results table and Pareto view",
    )
    p.set_defaults(func=_run)
