"""The ``chiptwin`` command line: one module per command, each with ``add_parser(sub)``.

Every user error (a ``ChipTwinError``) is printed as one line on stderr with exit code 2; no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from chiptwin.cli import accuracy, arch, evaluate, map, report, run, summary, sweep, timing, train
from chiptwin.errors import ChipTwinError

__all__ = ["main"]

_COMMANDS = (arch, summary, train, accuracy, evaluate, map, timing, run, report, sweep)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 user error, 130 interrupted)."""
    parser = argparse.ArgumentParser(
        prog="chiptwin", description="Digital twin of a multi-tile analog in-memory-computing PCM chip."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in _COMMANDS:
        command.add_parser(sub)
    args = parser.parse_args(argv)
    try:
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
