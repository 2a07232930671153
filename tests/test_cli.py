"""The command line: valid runs print what they promise; bad input is one line on stderr, exit code 2."""

from __future__ import annotations

import argparse
import doctest
from pathlib import Path

import pytest

from chiptwin.cli import arguments, build_parser, main
from chiptwin.cli.summary import summarise_array
from chiptwin.shipped import shipped_dir
from chiptwin.spec.load import load_chip

ARCH_DIR = shipped_dir("architectures")


def test_check_arch_prints_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-arch", str(ARCH_DIR / "hermes_64.toml")]) == 0
    out = capsys.readouterr().out
    assert "64 tiles" in out
    assert "128.0 ns" in out and "read mode one_phase" in out
    assert "9.81 TOPS/W" in out
    assert "area       39.59 mm², 1.66 TOPS/mm² peak; tile 0.619 mm² = crossbar 0.262" in out
    assert "33 of 47 figures in the file are assumed or have no source in their comment" in out


def test_check_arch_accepts_bare_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-arch", "tiny_4"]) == 0
    assert "4 tiles on a 2x2 mesh" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("name = 'x'\n", "missing key 'static_power_mw'"),
        ("name = \n", "not valid TOML"),
        (None, "file not found"),
    ],
)
def test_check_arch_bad_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, fragment: str
) -> None:
    path = tmp_path / "chip.toml"
    if content is not None:
        path.write_text(content)
    assert main(["check-arch", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert str(path) in lines[0] and fragment in lines[0]
    assert "Traceback" not in captured.err


def test_unknown_architecture_name_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-arch", "no_such_chip"]) == 2
    assert "known: " in capsys.readouterr().err


def test_summary_runs_on_tiny_chip(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "--arch", "tiny_4"]) == 0
    out = capsys.readouterr().out
    assert "chip tiny_4" in out
    assert "1 y" in out and "30 d" in out


def test_summary_physics() -> None:
    results = summarise_array(load_chip(ARCH_DIR / "tiny_4.toml"), seed=3)
    first, hour, day = results[0], results[1], results[2]
    # At t0 nothing has drifted, and GDC is the identity up to the read noise of its two reads (the
    # reference right after programming, and now: 1/f noise of a few % of the column sums at t0).
    assert first.drift_factor == 1.0 and first.gdc_alpha == pytest.approx(1.0, abs=0.02)
    # Drift exponents are >= 0.049 for every device, so the mean falls by at least (180)^-0.049 per hour.
    assert hour.drift_factor < 0.776
    assert day.drift_factor < hour.drift_factor
    # GDC undoes most of the global drift.
    assert day.weight_error_gdc < 0.5 * day.weight_error
    assert summarise_array(load_chip(ARCH_DIR / "tiny_4.toml"), seed=3) == results


def test_accuracy_command_remeasures_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from chiptwin.network.checkpoint import save_checkpoint
    from chiptwin.network.resnet import ModelSpec, build_model

    spec = ModelSpec(arch="cifar_resnet", depth=20, widths=(2, 2, 2), in_channels=1, num_classes=10)
    torch.manual_seed(0)
    save_checkpoint(
        build_model(spec), spec, {"dataset": "fashion-mnist", "digital_test_accuracy": 0.5}, tmp_path / "t"
    )
    assert main(["accuracy", str(tmp_path / "t")]) == 0
    out = capsys.readouterr().out
    assert "on 10,000 images (model card: 50.00 %)" in out


def test_accuracy_command_corrupt_checkpoint_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["accuracy", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "bad.json" in err


def test_every_argument_is_checked_while_parsing() -> None:
    # A value argument with no type (or a bare int/float/str/Path) would reach the command unchecked:
    # each one needs a checking type from chiptwin.cli.arguments, or choices.
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert len(commands) == 13  # compare too
    unchecked = [
        f"{name} {action.dest}"
        for name, command in commands.items()
        for action in command._actions
        if action.nargs != 0 and action.choices is None and action.type in (None, int, float, str, Path)
    ]
    assert unchecked == []


def test_argument_types_docstrings() -> None:
    assert doctest.testmod(arguments).failed == 0


def test_parsed_values_reach_the_command() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["evaluate", "--ages", "20s, 1.5h,1y", "--policies", "gdc,none", "--bits", "none"]
    )
    assert args.ages == (20.0, 5400.0, 365 * 86_400.0)
    assert args.policies == ("gdc", "none") and args.bits == "none"
    defaults = parser.parse_args(["evaluate"])
    assert defaults.ages == (20.0, 3600.0, 86_400.0, 365 * 86_400.0) and defaults.bits is None
    timing = parser.parse_args(["timing", "--period", "90min", "--off", "0s"])
    assert timing.period.ns == 90 * 60 * 10**9 and str(timing.period) == "90min"
    assert timing.on.ns == 100_000_000 and timing.off.ns == 0 and timing.duration is None
