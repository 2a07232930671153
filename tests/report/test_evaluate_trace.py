"""``chiptwin evaluate --out DIR`` writes its table as a trace that ``chiptwin report`` reads, and its first
lines say what was evaluated in words (converters as run, a count of seeds, no Python values)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chiptwin.cli import main
from chiptwin.trace.reader import read_manifest, read_table


@pytest.mark.slow  # ~6 s: the example CNN, 2 seeds x 2 ages x 2 policies on 40 images
def test_evaluate_out_is_a_trace_the_report_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ev"
    argv = [
        "evaluate",
        "--checkpoint",
        "dwcnn.py",
        "--arch",
        "joshi2020",
        "--bits",
        "4",
        "--strategy",
        "packed",
    ]
    argv += [
        "--n-images",
        "40",
        "--n-adabs",
        "40",
        "--seeds",
        "2",
        "--ages",
        "1h,1d",
        "--policies",
        "none,gdc",
    ]
    assert main([*argv, "--device", "cpu", "--out", str(out)]) == 0
    printed, err = capsys.readouterr()
    lines = printed.splitlines()
    # The chip line and the run line agree (4-bit converters), in words, no Python values.
    assert "4-bit DAC / 4-bit ADC" in lines[0] and "ideal" not in lines[0]
    assert (
        "(packed, 1 tile)" in lines[1] and "40 test images (the first of 10,000), 2 seeds (0-1);" in lines[1]
    )
    assert "None" not in printed and "(0, 1)" not in printed and "tiles)" not in lines[1]
    assert err == ""  # no progress bar when stderr is not a terminal
    table = [line for line in lines if line.strip().startswith(("1 h", "1 d"))]
    assert len(table) == 2
    # The trace: a probes part per policy and seed, one row per age, the table's numbers.
    probes = read_table(out, "probes")
    assert probes.num_rows == 2 * 2 * 2 and set(probes["age_s"].to_pylist()) == {3600.0, 86_400.0}
    manifest = read_manifest(out)
    assert manifest["status"] == "complete" and manifest["digital_accuracy"].keys() == {"dwcnn"}
    # Where the numbers were computed: the manifest always, the header only off the CPU.
    assert manifest["torch_device"] == "cpu" and "computed on" not in printed
    assert main(["report", str(out), "--out", str(tmp_path / "r")]) == 0
    report = capsys.readouterr().out
    # The report's accuracy table shows the cells evaluate printed (same mean ± population std).
    for row in table:
        age = " ".join(row.split()[:2])
        cells = [c.strip() for c in row.split("|")[1:]]
        mine = next(line for line in report.splitlines() if line.startswith(age.ljust(3)))
        assert [c.strip() for c in mine.split("|")[1].split("  ") if c.strip()] == cells
    assert (tmp_path / "r" / "accuracy.png").is_file()
