"""The ``chiptwin`` command line: one module per command, each with ``add_parser(sub)``.

Every user error (a ``ChipTwinError``) is printed as one line on stderr with exit code 2; no traceback.
That includes a bad argument: every argument is checked while parsing (``chiptwin.cli.arguments``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chiptwin.cli.arguments import ArgumentParser

__all__ = ["build_parser", "main", "one_line"]

# Only the standard library above: the commands import torch, pyarrow and matplotlib (seconds), and a
# Ctrl-C during those imports must end as "interrupted", not as a traceback. They are imported in main().


def build_parser() -> ArgumentParser:
    """The ``chiptwin`` parser with every command; its errors raise :class:`~chiptwin.errors.UsageError`."""
    from chiptwin.cli import (
        accuracy,
        arch,
        compare,
        evaluate,
        fit_device,
        map,
        report,
        run,
        summary,
        sweep,
        timeline,
        timing,
        train,
    )
    from chiptwin.cli.arguments import ArgumentParser
    from chiptwin.versions import describe_versions

    parser = ArgumentParser(
        prog="chiptwin",
        description="Digital twin of a multi-tile analog in-memory-computing PCM chip.",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # --version: one line, unwrapped
    )
    parser.add_argument(
        "--version",
        action="version",
        version=describe_versions(),
        help="the versions of chiptwin and its files",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    commands = (arch, summary, train, accuracy, evaluate, map, timing, run, report, compare, timeline, sweep)
    for command in (*commands, fit_device):
        command.add_parser(sub)
    return parser


def one_line(message: str) -> str:
    """``message`` as one printable line: a newline or control character (from a file name, say) is shown
    escaped (``\\n``), so an error is always exactly one line on stderr.

    >>> one_line("bad\\nname.toml: not found")
    'bad\\\\nname.toml: not found'
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def _error(message: str) -> int:
    print(f"chiptwin: error: {one_line(message)}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 user error, 130 interrupted).

    A user error (:class:`~chiptwin.errors.ChipTwinError`) and an error of the machine a user can fix (an
    ``OSError``: a full disk, a read-only or vanished folder, a name too long) end in one line on stderr
    and exit code 2; anything else is a bug in chiptwin and keeps its traceback.
    """
    try:
        from chiptwin.errors import ChipTwinError

        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            return int(args.func(args))
        except ChipTwinError as exc:
            return _error(str(exc))
        except BrokenPipeError:
            # The reader (e.g. `| head`) went away: stop quietly, as Unix tools do.
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            return 0
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            return _error(f"{where}{exc.strerror or exc}")
    except KeyboardInterrupt:
        print("chiptwin: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
