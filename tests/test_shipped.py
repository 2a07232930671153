"""The shipped files (chiptwin.shipped): found by bare name from any folder, a user's path always wins,
and ``--list`` shows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from chiptwin.cli import main
from chiptwin.cli.listing import describe_shipped
from chiptwin.cli.run import specs_for
from chiptwin.errors import CheckpointError, SpecError
from chiptwin.network.model_file import load_model_file
from chiptwin.shipped import KINDS, resolve, shipped_dir, shipped_names, shipped_path
from chiptwin.sweep import load_sweep


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from an empty folder: nothing of the repository's layout around."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_kind_is_a_folder_inside_the_package() -> None:
    package = Path(__file__).resolve().parents[1] / "chiptwin"
    for kind in KINDS:
        assert shipped_dir(kind).parent == package / "shipped"
    chips = shipped_names("architectures")
    assert chips == sorted(chips)
    assert {"hermes_64", "joshi2020", "large_512", "rram_64", "tiny_4"} <= set(chips)
    assert {"timing_only", "adc_bits"} <= set(shipped_names("sweeps"))
    assert {"hourly_gdc", "daily_cycle", "dwcnn_retention"} <= set(shipped_names("scenarios"))
    assert shipped_names("examples") == ["dwcnn"]
    assert (shipped_dir("sweeps") / "dask-workers.yaml").is_file()


def test_bare_names_resolve_from_an_empty_folder(elsewhere: Path) -> None:
    assert resolve("architectures", "hermes_64") == shipped_dir("architectures") / "hermes_64.toml"
    assert resolve("architectures", "hermes_64.toml") == shipped_dir("architectures") / "hermes_64.toml"
    assert load_sweep("timing_only").name == "timing_only"
    name, specs = specs_for("hourly_gdc", "default")
    assert name == "hourly_gdc" and specs[0][1].arch == "hermes_64"
    assert specs_for("day_retention", "quick")[0] == "day_retention"  # a named scenario stays one
    _, card = load_model_file("dwcnn.py")
    assert card["class"] == "DWCNN" and card["model_file"] == str(shipped_path("examples", "dwcnn"))


def test_a_users_file_wins_over_a_shipped_one(elsewhere: Path) -> None:
    own = elsewhere / "hermes_64.toml"
    own.write_text("not a chip")
    assert resolve("architectures", "hermes_64.toml") == Path("hermes_64.toml")  # the user's, as given
    assert resolve("architectures", "hermes_64") == shipped_dir("architectures") / "hermes_64.toml"
    # a path with a folder part or another suffix is never looked up
    assert resolve("architectures", "chips/hermes_64") == Path("chips/hermes_64")
    assert resolve("sweeps", "timing_only.yaml") == Path("timing_only.yaml")
    (elsewhere / "dwcnn.py").write_text("raise RuntimeError('the user file ran')\n")
    with pytest.raises(CheckpointError, match="the user file ran"):
        load_model_file("dwcnn.py")


def test_an_unknown_name_lists_the_shipped_ones(elsewhere: Path) -> None:
    with pytest.raises(
        SpecError, match=r"^nochip: no such file or architecture \(known: hermes_64, .*tiny_4\)$"
    ):
        resolve("architectures", "nochip")
    with pytest.raises(SpecError, match=r"^nosweep: no such file or sweep \(known: adc_bits"):
        load_sweep("nosweep")
    # a file name is the loader's to refuse ("chip file not found"), as given
    assert resolve("architectures", "nochip.toml") == Path("nochip.toml")
    assert shipped_path("architectures", "../shipped/architectures/tiny_4") is None
    assert shipped_path("architectures", ".hidden") is None


def test_descriptions_are_the_files_own_first_sentence(tmp_path: Path) -> None:
    assert describe_shipped(shipped_dir("architectures") / "hermes_64.toml") == (
        "HERMES-like 64-core PCM inference chip (14 nm)."
    )
    # "chiptwin sweep NAME: " is how a shipped sweep opens; the listing leaves it out
    assert describe_shipped(shipped_dir("sweeps") / "timing_only.toml").startswith("latency, throughput")
    long = tmp_path / "x.toml"
    long.write_text("# " + "word " * 40 + "\n# more\nname = 'x'\n")
    text = describe_shipped(long)
    assert len(text) <= 90 and text.endswith(" ...")
    (tmp_path / "bare.toml").write_text("name = 'x'\n")
    assert describe_shipped(tmp_path / "bare.toml") == ""


def test_list_commands(elsewhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-arch", "--list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"shipped chips ({shipped_dir('architectures')}):"
    assert [line.split()[0] for line in out[1:]] == shipped_names("architectures")
    assert main(["run", "--list"]) == 0
    out = capsys.readouterr().out
    assert "day_retention" in out and "hourly_gdc" in out and "dwcnn " in out
    assert main(["sweep", "--list"]) == 0
    assert "timing_only" in capsys.readouterr().out
    assert main(["check-arch"]) == 2
    assert capsys.readouterr().err.strip() == (
        "chiptwin: error: chiptwin check-arch: give an architecture file or name, "
        "or --list to see the shipped ones"
    )
    assert list(elsewhere.iterdir()) == []  # listing writes nothing
