"""``chiptwin report``: the plots and plain-text summary of a trace directory, printed and written."""

from __future__ import annotations

import argparse

from chiptwin.cli.arguments import path
from chiptwin.report.trace_report import write_report

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
    files = write_report(args.trace_dir, args.out)
    print(files.summary.read_text(encoding="utf-8"), end="")
    print()
    for written in files.written():
        print(f"wrote {written}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="plots and summary of a trace directory")
    p.add_argument("trace_dir", type=path("trace_dir"), help="trace directory written by a scenario run")
    p.add_argument("--out", type=path("out"), default=None, help="output folder (default TRACE_DIR/report)")
    p.set_defaults(func=_run)
