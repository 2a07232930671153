"""``chiptwin compare A B [C ...]``: two or more runs side by side.

Each argument is a trace directory (``chiptwin run``'s, or ``chiptwin evaluate --out``'s), or each a
sweep directory (``chiptwin sweep``'s: configurations matched by their grid keys). Prints which run
is which, the accuracy at every probe all runs share and the cost per inference, each run next to run A
with its difference (accuracy: points, with the seeds' spread; cost: a ratio), and writes the same as
``comparison.txt`` with ``compare_accuracy.png`` and ``compare_energy.png`` (``--html``: ``compare.html``
too) into ``--out`` (default ``traces/compare-A-B``). See :mod:`chiptwin.report.compare`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chiptwin.cli.arguments import path
from chiptwin.errors import UsageError
from chiptwin.files import output_folder
from chiptwin.report.compare import load_runs, load_sweeps, run_labels, write_comparison
from chiptwin.report.html import is_sweep_dir

__all__ = ["add_parser", "compare_dirs"]


def compare_dirs(dirs: list[Path], out_dir: Path | None, html: bool) -> int:
    """Compare the trace (or sweep) directories ``dirs`` into ``out_dir`` (default ``traces/compare-A-B``),
    print the comparison and the files written; ``chiptwin compare`` and ``chiptwin report A B`` alike."""
    # Read before any folder is made: a bad argument gets nothing created.
    runs = load_sweeps(dirs) if is_sweep_dir(dirs[0]) else load_runs(dirs)
    if out_dir is None:
        names = [n.replace("/", "_") for n in run_labels([Path(d) for d in dirs])]
        out_dir = Path("traces") / ("compare-" + "-".join(names))
    with output_folder(out_dir, "--out", UsageError, kind="report folder") as folder:
        text, files = write_comparison(runs, folder, html=html)
    print(text)
    print()
    for written in files.written():
        print(f"wrote {written}")
    return 0


def _run(args: argparse.Namespace) -> int:
    return compare_dirs(list(args.traces), args.out, args.html)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="two or more runs side by side: accuracy and cost, each against the first"
    )
    p.add_argument(
        "traces",
        nargs="+",
        type=path("trace_dir"),
        metavar="TRACE_DIR",
        help="trace directories, the first the reference",
    )
    p.add_argument("--out", type=path("out"), default=None, help="output folder (default traces/compare-A-B)")
    p.add_argument("--html", action="store_true", help="also write compare.html (interactive, opens offline)")
    p.set_defaults(func=_run)
