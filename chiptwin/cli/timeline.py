"""``chiptwin export-timeline``: a trace's events as Chrome trace-event JSON for Perfetto or chrome://tracing."""

from __future__ import annotations

import argparse
from pathlib import Path

from chiptwin.cli.arguments import comma_list, duration, path
from chiptwin.durations import format_time_ns
from chiptwin.errors import UsageError
from chiptwin.files import check_output_alias, output_folder
from chiptwin.report.timeline import export_timeline
from chiptwin.trace.reader import TRACE_ENTRIES, open_trace

__all__ = ["add_parser"]

_SUFFIXES = (".json", ".json.gz")
"""What a timeline file is called (``.gz``: compressed, :func:`chiptwin.report.timeline.export_timeline`)."""


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 1e6 else f"{n_bytes / 1e3:.0f} kB"


def _run(args: argparse.Namespace) -> int:
    if args.start is not None and args.stop is not None and args.start.ns >= args.stop.ns:
        raise UsageError(f"chiptwin export-timeline: --from(={args.start}) must be before --to(={args.stop})")
    open_trace(args.trace_dir)  # before any folder is made: a bad TRACE_DIR gets nothing created
    out = args.out or Path(args.trace_dir) / "report" / "timeline.json"
    if not out.name.endswith(_SUFFIXES) or out.name in _SUFFIXES:
        raise UsageError(f"--out {out}: a timeline is a {' or '.join(_SUFFIXES)} file")
    # The file's real path (a symlink onto the trace's manifest is the manifest), in the trace but not in
    # its data, or outside any other output; its folder locked while it is written (a killed export's
    # hidden temporary file is reused by the next one).
    source = (args.trace_dir, TRACE_ENTRIES)
    real = check_output_alias(out, "--out", UsageError, kind="report folder", within=source)
    with output_folder(real.parent, "--out", UsageError, kind="report folder", within=source):
        result = export_timeline(
            args.trace_dir,
            real,
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
    if result.detail_ns is not None:
        first, last = (format_time_ns(t) for t in result.detail_ns)
        print(f"per-tile detail (every MVM) from {first} to {last} of each cell's clock: zoom there")
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
