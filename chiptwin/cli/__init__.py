"""The ``chiptwin`` command line: one module per command, each with ``add_parser(sub)``.

Every user error (a ``ChipTwinError``) is printed as one line on stderr with exit code 2; no traceback.
That includes a bad argument: every argument is checked while parsing (``chiptwin.cli.arguments``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from chiptwin.cli import accuracy, arch, evaluate, map, report, run, summary, sweep, timeline, timing, train
from chiptwin.cli.arguments import ArgumentParser
from chiptwin.errors import ChipTwinError

__all__ = ["build_parser", "main"]

_COMMANDS = (arch, summary, train, accuracy, evaluate, map, timing, run, report, timeline, sweep)


def build_parser() -> ArgumentParser:
    """The ``chiptwin`` parser with every command; its errors raise :class:`~chiptwin.errors.UsageError`."""
    parser = ArgumentParser(
        prog="chiptwin", description="Digital twin of a multi-tile analog in-memory-computing PCM chip."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in _COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 user error, 130 interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.func(args))
    except ChipTwinError as exc:
        print(f"chiptwin: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chiptwin: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: stop quietly, as Unix tools do.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0


if __name__ == "__main__":
    sys.exit(main())
