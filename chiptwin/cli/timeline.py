"""``chiptwin export-timeline``: a trace's events as Chrome trace-event JSON for Perfetto or chrome://tracing."""

from __future__ import annotations

import argparse
from pathlib import Path

from chiptwin.cli.arguments import comma_list, duration, path
from chiptwin.errors import UsageError
from chiptwin.files import output_folder
from chiptwin.report.timeline import export_timeline
from chiptwin.trace.reader import open_trace

__all__ = ["add_parser"]


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 1e6 else f"{n_bytes / 1e3:.0f} kB"


def _run(args: argparse.Namespace) -> int:
    if args.start is not None and args.stop is not None and args.start.ns >= args.stop.ns:
        raise UsageError(f"chiptwin export-timeline: --from(={args.start}) must be before --to(={args.stop})")
    open_trace(args.trace_dir)  # before any folder is made: a bad TRACE_DIR gets nothing created
    out = args.out or Path(args.trace_dir) / "report" / "timeline.json"
    with output_folder(out.parent, "--out", UsageError):
        result = export_timeline(
            args.trace_dir,
            out,
            cells=args.cells,
            start_ns=None if args.start is None else args.start.ns,
            stop_ns=None if args.stop is None else args.stop.ns,
        )
    span = f"{result.first_ns:,} ns to {result.last_ns:,} ns"
    print(
        f"wrote {result.path} ({_size(result.bytes)}): {result.records:,} events"
        f"{f' and {result.detail_records:,} detail records' if result.detail_records else ''} of "
        f"{len(result.cells)} cell{'s' if len(result.cells) != 1 else ''} ({span}), "
        f"{result.trace_events:,} trace events, {result.flows:,} flows; open it at ui.perfetto.dev"
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export-timeline", help="a trace's events as a Chrome trace-event JSON timeline (Perfetto)"
    )
    p.add_argument("trace_dir", type=path("trace_dir"), help="trace directory written by a scenario run")
    p.add_argument(
        "--cells",
        type=comma_list("cells", str),
        default=None,
        help="only these cells, comma-separated (ids as in TRACE_DIR/events/; default all)",
    )
    p.add_argument(
        "--from",
        dest="start",
        type=duration("--from", positive=False),
        default=None,
        help="only events that end after this run-clock time (e.g. 1h, 250ms; default the start)",
    )
    p.add_argument(
        "--to",
        dest="stop",
        type=duration("--to"),
        default=None,
        help="only events that start before this run-clock time (default the end)",
    )
    p.add_argument(
        "--out",
        type=path("out"),
        default=None,
        help="output file, .json or .json.gz (default TRACE_DIR/report/timeline.json)",
    )
    p.set_defaults(func=_run)
