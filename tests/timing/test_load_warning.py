"""``chiptwin timing`` says when the offered load exceeds the chip's peak: the queue then grows without
bound and the mean latency measures the run's length, not the chip."""

from __future__ import annotations

import doctest

import pytest

import chiptwin.cli.timing
from chiptwin.cli import main
from chiptwin.cli.timing import load_warning


def test_doctests() -> None:
    assert doctest.testmod(chiptwin.cli.timing).failed == 0


def test_overload_warning_names_load_peak_and_utilisation() -> None:
    text = load_warning(1000.0, 131.0, 6.98e9, 1000.0)
    assert text.startswith("warning: the offered load, 1,000 images/s, is 7.6x the chip's peak of 131")
    assert "utilisation 100 %" in text and "grows without bound" in text and "(6.98 s)" in text
    # Bursts above the peak with a mean below it: the queue drains between bursts (mean 10 % busy).
    burst = load_warning(100.0, 1000.0, 1e6, 2000.0)
    assert "bursts of 2,000 images/s exceed" in burst and "mean utilisation 10 %" in burst
    assert load_warning(130.0, 131.0, 1e6, 130.0) == ""


@pytest.mark.slow  # two event-mode runs of ResNet-32: ~3 s
def test_timing_cli_warns_when_offered_more_than_its_peak(capsys: pytest.CaptureFixture[str]) -> None:
    # ResNet-32 on hermes_64 peaks near 7,600 images/s: 20,000/s for 5 ms is 100 arrivals, 2.6x the peak.
    argv = [
        "timing",
        "--arch",
        "hermes_64",
        "--model",
        "resnet32_pcm",
        "--rate",
        "20000",
        "--duration",
        "5ms",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("warning: the offered load, 20,000 images/s, is 2.6x the chip's peak of 7,6")
    assert main([*argv[:5], "--rate", "1000", "--duration", "50ms"]) == 0
    assert "warning" not in capsys.readouterr().out
