"""``--list`` of ``check-arch``, ``run`` and ``sweep``: the files chiptwin ships (:mod:`chiptwin.shipped`).

Each listing names the folder the files are in (copy one from there to edit it) and gives each file's
bare name with the first sentence of its own description: a TOML file's opening comment, a model file's
docstring (read from its syntax tree; the file is not run), cut to :data:`WIDTH` characters.
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

from chiptwin.errors import UsageError
from chiptwin.shipped import shipped_dir, shipped_names, shipped_path

__all__ = ["add_list_argument", "describe_shipped", "format_shipped", "needs_target"]

_TITLE = {
    "architectures": "chips",
    "sweeps": "sweeps",
    "scenarios": "scenario files",
    "examples": "model files, given as NAME.py",
}

WIDTH = 90
"""Characters of a description in a listing (longer ones end in "...")."""


def describe_shipped(path: Path) -> str:
    """A shipped file's one-line description: the first sentence of its opening comment or docstring
    ("" when it has none), at most :data:`WIDTH` characters.

    A leading ``chiptwin COMMAND NAME:`` (how the shipped TOML files open) is left out.
    """
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        paragraph = (ast.get_docstring(ast.parse(text)) or "").split("\n\n")[0]
    else:
        lines = []
        for line in text.splitlines():
            if not line.startswith("#"):
                break
            lines.append(line.lstrip("#").strip())
        paragraph = " ".join(lines)
    words = " ".join(paragraph.split())
    if words.startswith("chiptwin ") and ": " in words:
        words = words.split(": ", 1)[1]
    sentence = re.split(r"(?<=[.;])\s", words, maxsplit=1)[0]
    if len(sentence) > WIDTH:
        sentence = sentence[: WIDTH - 4].rsplit(" ", 1)[0] + " ..."
    return sentence


def format_shipped(kind: str) -> str:
    """The listing of one kind: a heading with the folder, then ``name  description`` lines."""
    names = shipped_names(kind)
    width = max((len(n) for n in names), default=0)
    lines = [f"shipped {_TITLE[kind]} ({shipped_dir(kind)}):"]
    for name in names:
        path = shipped_path(kind, name)
        assert path is not None  # listed just above
        lines.append(f"  {name:<{width}}  {describe_shipped(path)}".rstrip())
    return "\n".join(lines)


def add_list_argument(p: argparse.ArgumentParser, what: str) -> None:
    """Add ``--list`` (list the shipped ``what`` and exit)."""
    p.add_argument(
        "--list", action="store_true", help=f"list the shipped {what} and the folder they are in, then exit"
    )


def needs_target(command: str, value: str | None, what: str) -> str:
    """``value`` of a positional that ``--list`` makes optional; a missing one is a usage error."""
    if value is None:
        raise UsageError(f"chiptwin {command}: give {what}, or --list to see the shipped ones")
    return value
