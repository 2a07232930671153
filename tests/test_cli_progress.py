"""The command line's one progress policy (``chiptwin.cli.progress``): a bar on a terminal, nothing when
stderr is piped or with ``--quiet``."""

from __future__ import annotations

import io
import sys

import pytest

from chiptwin.cli import build_parser
from chiptwin.cli.progress import progress_bar, show_progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert show_progress() and not show_progress(quiet=True)
    with progress_bar(3, desc="evaluate", unit="measurement") as bar:
        bar.update(3)
    assert terminal.getvalue().startswith("\revaluate:   0%|") and "0/3" in terminal.getvalue()
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    assert not show_progress()
    with progress_bar(3, desc="evaluate", unit="measurement") as bar:
        bar.update(3)
    assert piped.getvalue() == ""


def test_long_commands_take_quiet() -> None:
    parser = build_parser()
    for argv in (["evaluate"], ["accuracy", "x"], ["run", "day_retention"], ["sweep", "adc_bits"]):
        assert parser.parse_args([*argv, "--quiet"]).quiet is True
