"""The documentation (README.md and docs/) stays true to the code.

- Every Python block runs: the long ones (marked ``<!-- NAME example: tests/FILE runs this block -->``)
  in the test named, the others here.
- Every ``chiptwin`` command line in a code block parses with the real parser (an option renamed in the
  code fails here, not in a reader's terminal).
- Every output quoted under ``<!-- output of: chiptwin ARGS -->`` is what that command prints now: a
  figure that drifts from the code fails here.
- Every relative link of the README points at a file of the project, and no file of the project points
  outside it.
"""

from __future__ import annotations

import argparse
import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from chiptwin.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").rglob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]

_BLOCK = re.compile(r"(?:<!--(?P<marker>[^>]*)-->\n)?```(?P<lang>[a-z]*)\n(?P<body>.*?)```", re.S)


def _blocks(lang: str) -> list[tuple[Path, str, str]]:
    """``(page, marker, body)`` of every fenced block in ``lang`` ("" for a plain block)."""
    found = []
    for page in PAGES:
        for m in _BLOCK.finditer(page.read_text(encoding="utf-8")):
            if m.group("lang") == lang:
                found.append((page, (m.group("marker") or "").strip(), m.group("body")))
    return found


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_the_documentation_has_its_pages() -> None:
    names = {_name(p) for p in DOCS}
    for page in ("getting-started", "guides/architect", "guides/retention", "guides/ml", "reference/cli"):
        assert f"docs/{page}.md" in names
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 150  # a landing page


_PYTHON = _blocks("python")


@pytest.mark.parametrize(
    ("page", "marker", "body"), _PYTHON, ids=[f"{_name(p)}:{i}" for i, (p, _, _) in enumerate(_PYTHON)]
)
def test_python_blocks_run(page: Path, marker: str, body: str, tmp_path: Path) -> None:
    if marker:  # a long example: the test it names runs it, as written
        match = re.fullmatch(r"(.+) example: (tests/\S+\.py) runs this block", marker)
        assert match, f"{_name(page)}: marker {marker!r} names no test"
        assert f"{match.group(1)} example" in (ROOT / match.group(2)).read_text(encoding="utf-8")
        return
    done = subprocess.run(
        [sys.executable, "-c", body], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{_name(page)}:\n{body}\n{done.stderr}"


def _command_lines() -> list[tuple[str, str]]:
    lines = []
    for page, _, body in _blocks(""):
        for line in body.splitlines():
            for part in line.split("&&"):
                words = part.split("#")[0].strip()
                for prefix in (".venv/bin/chiptwin ", "chiptwin "):
                    if words.startswith(prefix):
                        lines.append((_name(page), words.removeprefix(prefix)))
    return lines


_COMMANDS = _command_lines()


@functools.cache
def _parser() -> argparse.ArgumentParser:
    return build_parser()


def test_the_documentation_shows_commands() -> None:
    assert len(_COMMANDS) > 30


@pytest.mark.parametrize(("page", "command"), _COMMANDS, ids=[c for _, c in _COMMANDS])
def test_command_lines_parse(page: str, command: str) -> None:
    argv = shlex.split(command)
    parser = _parser()
    if "--help" in argv:  # prints and exits: the command must exist
        (sub,) = [a for a in parser._actions if a.dest == "command"]
        assert argv[0] in sub.choices, f"{page}: {command}"  # type: ignore[attr-defined]
        return
    args = parser.parse_args(argv)  # a UsageError (one line) when an option is wrong
    assert args.func is not None, f"{page}: {command}"


_OUTPUTS = [
    (page, marker.removeprefix("output of: chiptwin "), body)
    for page in PAGES
    for marker, body in [
        (m.group("marker").strip(), m.group("body"))
        for m in _BLOCK.finditer(page.read_text(encoding="utf-8"))
        if m.group("marker") and m.group("marker").strip().startswith("output of: chiptwin ")
    ]
]


def test_outputs_are_quoted() -> None:
    assert _OUTPUTS, "no output of a command is quoted under <!-- output of: chiptwin ... -->"


@pytest.mark.parametrize(("page", "command", "quoted"), _OUTPUTS, ids=[c for _, c, _ in _OUTPUTS])
def test_quoted_outputs_are_what_the_command_prints(
    page: Path, command: str, quoted: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(shlex.split(command)) == 0
    printed = capsys.readouterr().out.splitlines()
    lines = [line for line in quoted.splitlines() if line.strip() != "..."]
    # the quoted lines appear in the output, in order (a quote may leave lines out with "...")
    at = 0
    for line in lines:
        assert line in printed[at:], f"{_name(page)}: `chiptwin {command}` no longer prints\n{line}"
        at = printed.index(line, at) + 1


def test_readme_links_point_into_the_project() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert targets
    for target in targets:
        if "://" not in target:
            assert (ROOT / target).exists(), target


def test_no_file_points_outside_the_project() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.splitlines()
    if not tracked:
        pytest.skip("not a git work tree")
    outside = re.compile(r"\.\./shared\b|/work/shar[e]d|DESIGN\.md|STYLE\.md")
    bad = []
    for name in tracked:
        path = ROOT / name
        if path.suffix in {".py", ".md", ".toml", ".yaml", ".cff", ".txt", ".json", ""} and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            bad += [f"{name}:{n}" for n, line in enumerate(text.splitlines(), 1) if outside.search(line)]
    assert bad == [], bad
