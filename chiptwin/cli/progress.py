"""The one progress policy of the command line: a bar on a terminal, nothing when piped or ``--quiet``.

Every command that runs longer than a few seconds (``evaluate``, ``accuracy``, ``run``, ``sweep``) shows a
tqdm bar on stderr while it works. A bar is for a person watching: written to a pipe or a file it is
noise in the output (carriage returns, one line per refresh), so it is drawn only when stderr is a
terminal.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

__all__ = ["add_quiet_argument", "progress_bar", "show_progress"]


def show_progress(quiet: bool = False) -> bool:
    """Whether to draw a progress bar: not ``quiet`` and stderr is a terminal."""
    return not quiet and sys.stderr.isatty()


def progress_bar(total: int, *, desc: str, unit: str, quiet: bool = False, **options: Any) -> tqdm:
    """A tqdm bar on stderr for ``total`` steps of ``unit``, drawn only where :func:`show_progress` says
    (a disabled bar takes updates and writes nothing). It clears itself when done."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        leave=False,
        disable=not show_progress(quiet),
        **options,
    )


def add_quiet_argument(parser: Any) -> None:
    """The ``--quiet`` option of a command that shows progress."""
    parser.add_argument("--quiet", action="store_true", help="no progress bar (none is drawn when piped)")
