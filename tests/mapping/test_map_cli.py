"""``chiptwin map``: table on stdout, Parquet and PNG written, bad input is one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from chiptwin.cli import main
from chiptwin.trace.mapping_table import read_mapping_table


def test_map_writes_parquet_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert (
        main(
            [
                "map",
                "--arch",
                "hermes_64",
                "--model",
                "resnet32_pcm",
                "--strategy",
                "packed",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "resnet32_pcm on hermes_64, strategy packed" in text
    assert "layer3.1.conv1" in text and "504 x 56" in text
    assert "tiles       6 of 64 used, 43 placed blocks (34 analog layers)" in text
    assert "area        39.59 mm² chip, 3.71 mm² in the 6 used tiles (tile 0.619 mm² = crossbar 0.262" in text
    records = read_mapping_table(out / "mapping.parquet")
    assert len(records) == 43 and {r.strategy for r in records} == {"packed"}
    assert len({r.tile for r in records}) == 6
    png = (out / "tile_map.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "resnet99"], "unknown model 'resnet99'"),
        (["--strategy", "sparse"], "strategy(='sparse') must be one of dense, packed, balanced"),
        (["--arch", "nochip"], "nochip: no such file or architecture"),
        (["--in-channels", "0"], "in_channels(=0) must be in 1.."),
        (["--arch", "tiny_4"], "'dense' placement needs 226 tiles"),
        (["--budget", "5"], "--budget needs --strategy search"),
        (
            ["--strategy", "search", "--budget", "5"],
            "budget(=5) is below the 6 tiles the model needs at least",
        ),
        (["--strategy", "search", "--objective", "speed"], "argument --objective: invalid choice: 'speed'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["map", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chiptwin: error: ") and err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "mapping.parquet").exists()


@pytest.mark.slow
def test_map_search_writes_the_frontier(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    argv = [
        "map",
        "--model",
        "resnet32_pcm",
        "--strategy",
        "search",
        "--evaluations",
        "20",
        "--frontier",
        "3",
    ]
    assert main([*argv, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "resnet32_pcm on hermes_64, strategy search" in text
    assert "busiest crossbar 256 MVMs per image" in text  # the exact replica counts (test_search)
    table = pq.read_table(out / "frontier.parquet").to_pydict()
    # Budgets 6 (packed's tiles), 35 and 64, then the three recipes.
    assert table["strategy"] == ["search", "search", "search", "dense", "packed", "balanced"]
    assert table["budget"][:3] == [6, 35, 64]
    assert all(used <= budget for used, budget in zip(table["tiles_used"], table["budget"], strict=True))
    assert max(table["throughput_per_s"][:3]) >= max(table["throughput_per_s"][3:])
    assert (out / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_map_on_a_system_says_how_many_chips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # packed: 6 crossbars (test_placement_strategies), all on the first of the 8 chips (tiles fill chip by
    # chip).
    argv = ["map", "--arch", "hermes_64x8", "--model", "resnet32_pcm", "--strategy", "packed"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    text = capsys.readouterr().out
    assert "tiles       6 of 512 used" in text
    assert "system      1 of 8 chips used" in text
