"""Hostile and careless input (issue 19): well-formed but extreme values, special files, two processes at
once, names that would become paths, a full disk. Each class ends in one line on stderr and exit code 2,
never hangs (every test runs under an alarm) and leaves nothing behind.

The single-input classes go through the real command line in-process (``chiptwin.cli.main``); the
concurrent-writer cases hold the folder's lock in this process and run a second ``chiptwin`` as a child
process, which is what two users at one shared folder do.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from chiptwin.cli import main
from chiptwin.errors import DataError, SpecError
from chiptwin.files import LOCK_FILE, FolderLock, check_name, load_json, load_toml, read_text
from chiptwin.limits import MAX_SWEEP_CELLS
from chiptwin.scenario.spec import load_scenario
from chiptwin.spec.load import load_chip
from chiptwin.sweep import load_sweep
from chiptwin.trace import TraceWriter
from chiptwin.trace.manifest import TRACE_VERSION
from chiptwin.trace.reader import iter_batches

ROOT = Path(__file__).resolve().parents[1]
VALID_ARCH = ROOT / "tests/bad_inputs/valid_arch.toml"
VALID_SCENARIO = ROOT / "tests/bad_inputs/valid_scenario.toml"
SHIPPED = ROOT / "chiptwin/network/checkpoints/resnet32_pcm_fmnist_hwa"


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    """Every test here must end: a blocked read or wait is interrupted after 60 s and the test fails."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("test took longer than 60 s: something blocks")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _one_line(argv: list[str], capsys: pytest.CaptureFixture[str], *expect: str) -> str:
    """Run the command line; assert exit 2, one ``chiptwin: error:`` line holding ``expect``, no stdout."""
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chiptwin: error: "), captured.err
    assert "Traceback" not in captured.err
    missing = [e for e in expect if e not in lines[0]]
    assert not missing, f"{lines[0]!r} lacks {missing}"
    assert captured.out == ""
    return lines[0]


def _scenario(tmp: Path, extra: str = "", file_name: str = "s.toml", **replace: str) -> Path:
    """``valid_scenario.toml`` with top-level ``key = value`` lines replaced and ``extra`` appended."""
    lines = VALID_SCENARIO.read_text().splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("["))  # top-level keys only
    for key, value in replace.items():
        lines[:top] = [f"{key} = {value}" if line.startswith(f"{key} =") else line for line in lines[:top]]
    path = tmp / file_name
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def _chip(tmp: Path, old: str, new: str, name: str = "chip.toml") -> Path:
    text = VALID_ARCH.read_text()
    assert old in text
    path = tmp / name
    path.write_text(text.replace(old, new))
    return path


# ---- 1. nothing is written outside the folder the user gave ----------------------------------------------


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".hidden", "x" * 65, "nöne", "tab\tname", ""])
def test_a_name_that_would_become_a_path_is_refused(name: str) -> None:
    with pytest.raises(SpecError, match=r"must be 1\.\.64 ASCII letters"):
        check_name(name, "chip.name")


def test_a_chip_name_with_dotdot_never_reaches_a_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    chip = _chip(tmp_path, 'name = "tiny_4"', 'name = "../../escape"')
    work = tmp_path / "work" / "deep"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    _one_line(["map", "--arch", str(chip), "--model", "resnet32_pcm"], capsys, str(chip), "chip.name")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["chip.toml", "deep", "work"]


def test_scenario_and_sweep_names_are_checked_at_load(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"scenario name\(='\.\./up'\)"):
        load_scenario(_scenario(tmp_path, name='"../up"'))
    sweep = tmp_path / "sw.toml"
    sweep.write_text(f'name = "{"y" * 300}"\nscenario = "{VALID_SCENARIO}"\n')
    with pytest.raises(SpecError, match=r"sweep name\(='yyy.*\(300 characters\)"):
        load_sweep(sweep)


# ---- 2. one writer per trace and per sweep folder ---------------------------------------------------------


def _child(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chiptwin.cli", *argv], cwd=cwd, capture_output=True, text=True, timeout=50
    )


@pytest.mark.slow  # a child process / a dask client: seconds
def test_a_second_run_on_a_locked_trace_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "trace"
    out.mkdir()
    (out / "keep.txt").write_text("the first run's")
    scenario = _scenario(tmp_path)
    with FolderLock(out, "trace directory", DataError):  # the first run, still writing
        result = _child(["run", str(scenario), "--out", str(out), "--quiet", "--no-report"], tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"another chiptwin process (pid {os.getpid()}) is writing this trace directory" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE, "keep.txt"]  # no manifest, no cells


def test_a_resumed_run_cannot_share_the_work_of_a_running_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "trace"
    out.mkdir()
    scenario = _scenario(tmp_path)
    with FolderLock(out, "trace directory", DataError):
        argv = ["run", str(scenario), "--out", str(out), "--resume", "--quiet", "--no-report"]
        _one_line(argv, capsys, str(out), "another chiptwin writer in this process")
    assert not (out / "manifest.json").exists()


def test_a_killed_writer_releases_its_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from chiptwin.files import FolderLock; from chiptwin.errors import DataError\n"
            "with FolderLock(sys.argv[1], 'trace directory', DataError):\n"
            "    print('locked', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with (
            pytest.raises(DataError, match=f"pid {holder.pid}"),
            FolderLock(tmp_path, "trace directory", DataError),
        ):
            pass
    finally:
        holder.kill()  # a crash: no __exit__, no cleanup
        holder.wait()
    with FolderLock(tmp_path, "trace directory", DataError):  # the kernel released it
        pass


def test_a_sweep_folder_has_one_writer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = tmp_path / "sw.toml"
    sweep.write_text(
        f'name = "sw"\nscenario = "{VALID_SCENARIO}"\n[grid]\nstrategy = ["dense"]\n[run]\naccuracy = false\n'
    )
    out = tmp_path / "out"
    out.mkdir()
    with FolderLock(out, "sweep folder", DataError):
        _one_line(["sweep", str(sweep), "--out", str(out), "--serial", "--quiet"], capsys, "sweep folder")
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]


# ---- 3. one cell per checkpoint ---------------------------------------------------------------------------


def _copy_checkpoint(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for suffix in (".safetensors", ".json"):
        shutil.copy(SHIPPED.with_suffix(suffix), folder / f"model{suffix}")
    return folder / "model.safetensors"


def test_two_checkpoints_with_one_file_name_are_refused(tmp_path: Path) -> None:
    a, b = _copy_checkpoint(tmp_path / "a"), _copy_checkpoint(tmp_path / "b")
    with pytest.raises(
        SpecError, match=r"'.*/a/model.safetensors' and '.*/b/model.safetensors' share the name"
    ):
        load_scenario(_scenario(tmp_path, checkpoints=f'["{a}", "{b}"]'))
    with pytest.raises(SpecError, match="is listed twice"):
        load_scenario(_scenario(tmp_path, checkpoints=f'["{a}", "{a}"]'))


def test_sweep_cells_with_one_id_are_refused(tmp_path: Path) -> None:
    a, b = _copy_checkpoint(tmp_path / "a"), _copy_checkpoint(tmp_path / "b")
    sweep = tmp_path / "sw.toml"
    sweep.write_text(f'scenario = "{VALID_SCENARIO}"\n[grid]\ncheckpoint = ["{a}", "{b}"]\n')
    with pytest.raises(SpecError, match="share the id 'checkpoint=model,policy=none,seed=0'"):
        load_sweep(sweep)


# ---- 4. special files: never block, never read without end ------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo.toml"
    os.mkfifo(path)
    return path


def test_a_fifo_is_refused_for_every_kind_of_file(
    tmp_path: Path, fifo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _one_line(["check-arch", str(fifo)], capsys, str(fifo), "chip file is a FIFO, not a regular file")
    _one_line(["run", str(fifo), "--out", str(tmp_path / "t")], capsys, "scenario file is a FIFO")
    _one_line(["sweep", str(fifo), "--out", str(tmp_path / "s")], capsys, "sweep file is a FIFO")
    replay = tmp_path / "arrivals.csv"
    os.mkfifo(replay)
    _one_line(["timing", "--arch", "tiny_4", "--replay", str(replay)], capsys, "replay file is a FIFO")
    ckpt = tmp_path / "ck" / "model"
    ckpt.parent.mkdir()
    os.mkfifo(ckpt.with_suffix(".json"))
    _one_line(["accuracy", str(ckpt)], capsys, "model card is a FIFO")
    ckpt.with_suffix(".json").unlink()
    shutil.copy(SHIPPED.with_suffix(".json"), ckpt.with_suffix(".json"))
    os.mkfifo(ckpt.with_suffix(".safetensors"))
    _one_line(["accuracy", str(ckpt)], capsys, "checkpoint is a FIFO")
    trace = tmp_path / "trace"
    trace.mkdir()
    os.mkfifo(trace / "manifest.json")
    _one_line(["report", str(trace), "--out", str(tmp_path / "r")], capsys, "manifest is a FIFO")
    assert not (tmp_path / "t").exists() and not (tmp_path / "s").exists() and not (tmp_path / "r").exists()


def test_devices_and_huge_files_are_refused_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _one_line(["check-arch", "/dev/zero"], capsys, "/dev/zero: chip file is a character device")
    huge = tmp_path / "huge.toml"
    with huge.open("wb") as f:  # sparse: 2 GB on paper, nothing on disk
        f.truncate(2 * 1024**3)
    _one_line(["check-arch", str(huge)], capsys, "chip file is 2,147,483,648 bytes; no chip file is larger")
    card = tmp_path / "m.json"
    with card.open("wb") as f:
        f.truncate(5 * 1024**2)
    _one_line(["accuracy", str(card)], capsys, "model card is 5,242,880 bytes")


def test_the_fifo_swapped_in_after_the_check_cannot_block(tmp_path: Path, fifo: Path) -> None:
    # read_text opens non-blocking and checks the open descriptor: no window between check and read.
    with pytest.raises(SpecError, match="FIFO"):
        read_text(fifo, "chip file", SpecError)


@pytest.mark.parametrize("workers", ["0", "-3", "257", "1e9"])
def test_sweep_workers_out_of_range_are_refused(workers: str, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line(["sweep", "x.toml", "--workers", workers], capsys, "--workers", "must be")


# ---- 5. unbounded work from one number: refused at load, before anything is prepared --------------------


@pytest.mark.parametrize(
    ("old", "new", "expect"),
    [
        ("rows = 64", "rows = 4611686018427387904", "tiles.rows(=4611686018427387904) must be in 1..8,192"),
        ("count = 4", "count = 1000000000000000000", "tiles.count(=1000000000000000000) must be in 1..4,096"),
        ("count = 4", "count = 1e30", "key 'tiles.count' must be an integer"),
        (
            "iterations = 10",
            "iterations = 1000000000",
            "programming.iterations(=1000000000) must be in 1..10,000",
        ),
        (
            "static_power_mw = 1.0",
            "static_power_mw = 1e300",
            "static_power_mw(=1e+300) must be >= 0 and <= 1e+06",
        ),
    ],
)
def test_huge_chip_figures_are_refused(tmp_path: Path, old: str, new: str, expect: str) -> None:
    with pytest.raises(SpecError, match=expect.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        load_chip(_chip(tmp_path, old, new))


@pytest.mark.parametrize(
    ("extra", "replace", "expect"),
    [
        ("", {"probes_s": "[1.0, 1e300]"}, "probes_s value 1e+300 must be a number >= 0 and <= 3.154e+09 s"),
        ("", {"seeds": str(list(range(1001)))}, "seeds: 1001 seeds given, must be 1..1000"),
        ("", {"n_images": "100000"}, "n_images(=100000) must be an integer in 1..10,000"),
        ("[workload]\nrate_per_s = 1e12\n", {}, "workload.rate_per_s(=1000000000000.0) must be a number in"),
        (
            "[workload]\nrate_per_s = 1e6\n",
            {"probes_s": "[1.0, 3.15e7]"},
            "is 3.15e+13 inferences per cell, more than 1e+10",
        ),
        (
            '[[policies]]\nname = "g"\ncompensation = "gdc"\nevery_s = 1e-9\n',
            {},
            "every_s(=1e-09) until the last probe (60 s) is 6e+10 passes, more than 1,000,000",
        ),
        (
            "[probes]\nlog = [1.0, 100.0, 100000000]\n",
            {"probes_s": "PLACEHOLDER"},
            "count(=100000000) in 2..1000",
        ),
        ("[tile_failure]\ntile = 3\nat_s = true\n", {}, "tile_failure.at_s(=True) must be a number"),
        ("[faults]\nstuck_rate = true\n", {}, "faults.stuck_rate(=True) must be a number"),
    ],
)
def test_huge_or_mistyped_scenario_values_are_refused_at_load(
    tmp_path: Path, extra: str, replace: dict[str, str], expect: str
) -> None:
    path = _scenario(tmp_path, extra, **replace)
    if replace.get("probes_s") == "PLACEHOLDER":
        path.write_text(
            "\n".join(ln for ln in path.read_text().splitlines() if "PLACEHOLDER" not in ln) + "\n"
        )
    with pytest.raises(SpecError) as err:
        load_scenario(path)
    assert expect in str(err.value) and str(err.value).startswith(str(path))


def test_a_million_cell_grid_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    sweep = tmp_path / "sw.toml"
    seeds = list(range(1000))
    sweep.write_text(
        f'scenario = "{VALID_SCENARIO}"\n[grid]\nseed = {seeds}\n"adc.bits" = {list(range(1, 17))}\n'
        '"tiles.rows" = [16, 32, 64, 128, 256, 512]\nstrategy = ["dense", "packed", "balanced"]\n'
    )
    with pytest.raises(
        SpecError, match=f"1000 seed x 16 adc.bits .* is 288,000 cells, more than {MAX_SWEEP_CELLS:,}"
    ):
        load_sweep(sweep)


def test_a_sweep_refuses_a_bad_override_at_load_not_in_a_cell(tmp_path: Path) -> None:
    sweep = tmp_path / "sw.toml"
    sweep.write_text(f'scenario = "{VALID_SCENARIO}"\n[grid]\n"tiles.rows" = [64, 99999]\n')
    with pytest.raises(SpecError, match=r"tiles\.rows\(=99999\) must be in 1\.\.8,192"):
        load_sweep(sweep)
    sweep.write_text(f'scenario = "{VALID_SCENARIO}"\n[grid]\narch = ["hermes_64", "no_such_chip"]\n')
    with pytest.raises(SpecError, match="no_such_chip: no such file or architecture"):
        load_sweep(sweep)


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["run", "x.toml", "--seeds", "1000000000"], "seeds(=1000000000) must be in 1..1000"),
        (["run", "x.toml", "--threads", "0"], "threads(=0) must be in 1..1024"),
        (["timing", "--rate", "1e12"], "rate_per_s(=1000000000000.0) must be a finite number"),
        (["timing", "--duration", "1e400s"], "duration(='1e400s') must be at most"),
        (["timing", "--period", "0s"], "argument --period: period(='0s') must be at least 1 ns"),
        (["evaluate", "--ages", "1e400s"], "must be at most"),
        (["evaluate", "--ages", "200y"], "age(='200y') must be at most 100 y"),
        (["evaluate", "--ages", "1d,1d"], "lists '1d' twice"),
        (["evaluate", "--n-images", "0"], "n_images(=0) must be in 1..10000"),
        (["evaluate", "--n-images", "-9990"], "n_images(=-9990) must be in 1..10000"),
        (["evaluate", "--n-images", "10001"], "n_images(=10001) must be in 1..10000"),
        (["evaluate", "--bits", "abc"], "bits(='abc') must be an integer in 1..16 or 'none'"),
    ],
)
def test_huge_or_nonsense_arguments_are_refused_while_parsing(
    argv: list[str], expect: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _one_line(argv, capsys, expect)


def test_a_long_event_run_says_how_long_and_asks_for_a_flag(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["timing", "--arch", "tiny_4", "--model", "resnet32_pcm", "--mode", "events", "--rate", "1e5"]
    line = _one_line([*argv, "--duration", "1s"], capsys, "100,000 inferences takes ~48 min", "add --long")
    assert "--mode batched" in line
    _one_line(["timing", "--arch", "tiny_4", "--rate", "1e6", "--duration", "1y"], capsys, "more than 1e+10")
    _one_line(
        ["timing", "--arch", "tiny_4", "--policy", "gdc", "--period", "1ns", "--duration", "1s"],
        capsys,
        "--period 1ns for 1 s is 1e+09 compensation passes",
    )


def test_the_number_grammar_is_one(capsys: pytest.CaptureFixture[str]) -> None:
    from chiptwin.cli.arguments import age_list, duration

    assert age_list()("1E3s") == (1000.0,) and duration("d")("1E3s").ns == 1000 * 10**9


# ---- 6. validation at load: nothing behind on refusal -----------------------------------------------------


@pytest.mark.parametrize("name", ['"nöne"', f'"{"p" * 250}"', '"a b"'])
def test_a_bad_policy_name_is_refused_before_anything_is_written(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = VALID_SCENARIO.read_text().replace('name = "none"', f"name = {name}")
    path = tmp_path / "s.toml"
    path.write_text(text)
    out = tmp_path / "out" / "trace"
    _one_line(["run", str(path), "--out", str(out), "--quiet"], capsys, str(path), "policy name")
    assert not (tmp_path / "out").exists()


def test_a_failed_run_removes_the_folders_it_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _scenario(tmp_path, "[tile_failure]\ntile = 63\nat_s = 1.0\n", arch='"tiny_4"')
    out = tmp_path / "a" / "b" / "trace"
    _one_line(
        ["run", str(path), "--out", str(out), "--quiet"], capsys, "tile_failure.tile(=63) must be a tile of"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


# ---- 7. one line, exit 2, always --------------------------------------------------------------------------


def test_out_that_cannot_be_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    scenario = _scenario(tmp_path)
    sweep = tmp_path / "sw.toml"
    sweep.write_text(f'scenario = "{VALID_SCENARIO}"\n[run]\naccuracy = false\n')
    for argv in (
        ["map", "--arch", "tiny_4", "--model", "resnet32_pcm"],
        ["run", str(scenario), "--quiet"],
        ["sweep", str(sweep), "--serial", "--quiet"],
        ["train", "--name", "n", "--epochs", "1"],
    ):
        _one_line([*argv, "--out", str(a_file)], capsys, f"--out {a_file}: exists and is not a directory")
        _one_line([*argv, "--out", str(a_file / "sub")], capsys, f"--out {a_file / 'sub'}: cannot create")
        _one_line(
            [*argv, "--out", "/proc/chiptwin"], capsys, "--out /proc/chiptwin: cannot create the folder"
        )
        long = tmp_path / ("n" * 300)
        _one_line([*argv, "--out", str(long)], capsys, "cannot create the folder (File name too long)")


def test_out_that_is_not_writable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import chiptwin.files

    # A read-only folder (root ignores permission bits, so the answer of access(2) is what is replaced).
    monkeypatch.setattr(chiptwin.files.os, "access", lambda path, mode: False)
    out = tmp_path / "ro"
    _one_line(
        ["map", "--arch", "tiny_4", "--out", str(out)], capsys, f"--out {out}: the folder is not writable"
    )


def test_a_replay_file_that_would_fill_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    import chiptwin.cli.timing as timing

    path = tmp_path / "arrivals.parquet"
    pq.write_table(pa.table({"arrival_ns": pa.array([0] * 1001, pa.int64())}), path)
    monkeypatch.setattr(timing, "MAX_REPLAY_ARRIVALS", 1000)  # the real bound, 10^8, on a small file
    _one_line(["timing", "--arch", "tiny_4", "--replay", str(path)], capsys, "1,001 arrivals; a replay file")


def test_map_prints_no_table_before_failing_on_its_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    _one_line(
        ["map", "--arch", "hermes_64", "--model", "resnet32_pcm", "--out", str(a_file)], capsys, "--out"
    )


@pytest.mark.parametrize("kind", ["chip", "scenario", "sweep"])
def test_toml_nested_thousands_deep(tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"{kind}.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    argv = {"chip": ["check-arch", str(path)], "scenario": ["run", str(path)], "sweep": ["sweep", str(path)]}
    _one_line(argv[kind], capsys, str(path), "nests tables or arrays more than 64 levels deep")
    path.write_text("x = " + "[" * 70 + "]" * 70 + "\n")  # parses, but nothing of chiptwin nests so deep
    with pytest.raises(SpecError, match="more than 64 levels deep"):
        load_toml(path, f"{kind} file", SpecError)


def test_json_nested_thousands_deep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace"
    trace.mkdir()
    (trace / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    _one_line(["report", str(trace), "--out", str(tmp_path / "r")], capsys, "manifest nests tables or arrays")
    card = tmp_path / "m.json"
    card.write_text('{"a": ' * 5000 + "1" + "}" * 5000)
    with pytest.raises(DataError, match="more than 64 levels deep"):
        load_json(card, "model card", DataError)


def _timing_sweep(tmp_path: Path) -> tuple[Path, Path]:
    sweep = tmp_path / "sw.toml"
    sweep.write_text(
        f'name = "sw"\nscenario = "{VALID_SCENARIO}"\n[base]\nprobes_s = [1.0]\n[run]\naccuracy = false\n'
    )
    return sweep, tmp_path / "out"


@pytest.mark.parametrize("state", ["[1, 2]", '"text"', "{not json", '{"base": 5, "grid": []}'])
def test_a_sweep_state_of_the_wrong_shape(
    tmp_path: Path, state: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep, out = _timing_sweep(tmp_path)
    out.mkdir()
    (out / "sweep.json").write_text(state)
    expect = "holds another sweep" if state.startswith('{"base"') else "sweep.json"
    _one_line(["sweep", str(sweep), "--out", str(out), "--serial", "--quiet"], capsys, expect)


@pytest.fixture(scope="module")
def finished_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished trace of the valid scenario (run once for the tests of this module that read one)."""
    tmp = tmp_path_factory.mktemp("finished")
    trace = tmp / "trace"
    assert main(["run", str(_scenario(tmp)), "--out", str(trace), "--quiet", "--no-report"]) == 0
    return trace


def test_report_and_timeline_out_that_cannot_be_a_folder(
    tmp_path: Path, finished_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    a_file = tmp_path / "file"
    a_file.write_text("")
    trace = str(finished_trace)
    _one_line(
        ["report", trace, "--out", str(a_file)], capsys, f"--out {a_file}: exists and is not a directory"
    )
    _one_line(["report", trace, "--out", "/proc/chiptwin"], capsys, "--out /proc/chiptwin: cannot create")
    _one_line(["export-timeline", trace, "--out", str(a_file / "t.json")], capsys, f"--out {a_file}: exists")
    for command in ("report", "export-timeline"):  # a bad TRACE_DIR: no report folder is made in it
        _one_line([command, str(tmp_path / "none")], capsys, "no such trace directory")
        assert not (tmp_path / "none").exists()


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.update(trace_version="1"),
        lambda m: m.update(scenario=[1, 2]),
        lambda m: m.update(digital_accuracy="high"),
        lambda m: m.update(digital_accuracy={"x": "high"}),
        lambda m: m.update(seeds=["0"]),
        lambda m: m.update(status=None),
    ],
)
def test_a_manifest_with_fields_of_the_wrong_type(
    tmp_path: Path, edit: object, finished_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "trace"
    shutil.copytree(finished_trace, trace)
    manifest = json.loads((trace / "manifest.json").read_text())
    edit(manifest)  # type: ignore[operator]
    (trace / "manifest.json").write_text(json.dumps(manifest))
    _one_line(["report", str(trace), "--out", str(tmp_path / "r")], capsys, "manifest.json")


def test_a_full_disk_during_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import chiptwin.trace.writer as writer

    original = writer.write_atomic

    def full(path: Path, write: object) -> None:
        if path.parent.name == "probes":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        original(path, write)  # type: ignore[arg-type]

    monkeypatch.setattr(writer, "write_atomic", full)
    trace = tmp_path / "trace"
    line = _one_line(
        ["run", str(_scenario(tmp_path)), "--out", str(trace), "--quiet"], capsys, "No space left on device"
    )
    assert "probes" in line
    assert json.loads((trace / "manifest.json").read_text())["status"] == "running"  # left incomplete
    assert not (trace / "report").exists()


def test_ctrl_c_while_the_commands_import(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import chiptwin.cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(chiptwin.cli, "build_parser", interrupted)
    assert main(["check-arch", "tiny_4"]) == 130
    assert capsys.readouterr().err == "chiptwin: interrupted\n"
    # ... and the entry point imports only the standard library before main() runs.
    heavy = "('torch', 'numpy', 'pyarrow')"
    probe = f"import sys, chiptwin.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=50)
    assert result.stdout.strip() == "[]", result.stderr


def test_a_newline_in_a_file_name_stays_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "two\nlines.toml"
    line = _one_line(["check-arch", str(path)], capsys, "two\\nlines.toml: chip file not found")
    assert "\n" not in line


@pytest.mark.slow  # a child process / a dask client: seconds
def test_an_unreachable_scheduler(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import chiptwin.sweep.run as sweep_run

    monkeypatch.setattr(sweep_run, "_CONNECT_TIMEOUT_S", 2)
    sweep, out = _timing_sweep(tmp_path)
    with socket_that_refuses() as port:
        _one_line(
            ["sweep", str(sweep), "--out", str(out), "--scheduler", f"tcp://127.0.0.1:{port}", "--quiet"],
            capsys,
            f"--scheduler tcp://127.0.0.1:{port}: cannot connect",
        )


class socket_that_refuses:  # noqa: N801 - used as a context manager
    """A localhost port nobody listens on (bound, never listening: connections are refused)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_the_lock_is_per_folder_and_per_writer(tmp_path: Path) -> None:
    # Two threads of one process are two writers too (a notebook running two scenarios).
    manifest = {"trace_version": TRACE_VERSION, "scenario": {"name": "t"}, "seeds": [0]}
    errors: list[BaseException] = []
    first = TraceWriter(tmp_path / "t", manifest)

    def second() -> None:
        try:
            TraceWriter(tmp_path / "t", manifest)
        except DataError as exc:
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join()
    assert len(errors) == 1 and "another chiptwin writer in this process" in str(errors[0])
    TraceWriter(tmp_path / "other", manifest).finish()  # another folder is free
    first.finish()
    TraceWriter(tmp_path / "t", manifest, resume=True).close()  # a finished writer released it


# ---- issue 30, 1. output folders that alias each other ---------------------------------------------------


def _tree(folder: Path) -> dict[str, int]:
    """Every file below ``folder`` and its size: what a refused command must leave as it was."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def test_map_never_writes_into_or_over_a_trace(
    tmp_path: Path, finished_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    before = _tree(finished_trace)
    link = tmp_path / "link"
    link.symlink_to(finished_trace)
    tiny = ["map", "--arch", str(VALID_ARCH), "--model", "resnet32_pcm"]
    _one_line([*tiny, "--out", str(link)], capsys, f"--out {link} (-> {finished_trace})", "is the trace")
    for inside in ("probes", "cells", "report/../events"):
        _one_line([*tiny, "--out", str(finished_trace / inside)], capsys, "lies inside the trace directory")
    around = finished_trace.parent
    _one_line([*tiny, "--out", str(around)], capsys, f"holds the trace directory {finished_trace}")
    assert _tree(finished_trace) == before


def test_run_sweep_and_report_refuse_another_output(
    tmp_path: Path, finished_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    before = _tree(finished_trace)
    scenario = _scenario(tmp_path)
    run = ["run", str(scenario), "--quiet", "--no-report", "--out"]
    _one_line([*run, str(finished_trace / "probes")], capsys, "lies inside the trace directory")
    sweep, _ = _timing_sweep(tmp_path)
    _one_line(
        ["sweep", str(sweep), "--serial", "--quiet", "--out", str(finished_trace)], capsys, "is the trace"
    )
    for out in (finished_trace / "probes", finished_trace / "manifest.json" / "x"):
        _one_line(["report", str(finished_trace), "--out", str(out)], capsys, "in the data of")
    other = tmp_path / "other"
    shutil.copytree(finished_trace, other)
    _one_line(["report", str(finished_trace), "--out", str(other)], capsys, "is the trace directory")
    _one_line(["report", str(finished_trace), "--out", str(other / "r")], capsys, "lies inside the trace")
    assert _tree(finished_trace) == before


def test_evaluate_never_writes_its_trace_inside_another(
    tmp_path: Path, finished_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    before = _tree(finished_trace)
    evaluate = ["evaluate", "--checkpoint", str(SHIPPED), "--arch", "hermes_64", "--n-images", "10", "--out"]
    _one_line([*evaluate, str(finished_trace / "probes")], capsys, "lies inside the trace directory")
    _one_line([*evaluate, str(finished_trace.parent)], capsys, f"holds the trace directory {finished_trace}")
    assert _tree(finished_trace) == before


def test_every_command_that_writes_names_the_kind_of_its_output() -> None:
    # output_folder checks a folder against the outputs around it only for a named kind.
    import ast

    unnamed = [
        f"{path.name}:{node.lineno}"
        for path in sorted((ROOT / "chiptwin/cli").glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "output_folder"
        and not any(k.arg == "kind" for k in node.keywords)
    ]
    assert unnamed == []


def test_a_run_inside_a_running_trace_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = {"trace_version": TRACE_VERSION, "scenario": {"name": "t"}, "seeds": [0]}
    with TraceWriter(tmp_path / "running", manifest):  # a run still writing: manifest "running"
        _one_line(
            ["run", str(_scenario(tmp_path)), "--quiet", "--out", str(tmp_path / "running" / "detail")],
            capsys,
            f"lies inside the trace directory {tmp_path / 'running'}",
        )
    assert not (tmp_path / "running" / "detail").exists()


def test_export_timeline_writes_a_json_file_outside_the_trace_data(
    tmp_path: Path, finished_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    before = _tree(finished_trace)
    trace = str(finished_trace)
    _one_line(
        ["export-timeline", trace, "--out", str(finished_trace / "manifest.json")], capsys, "in the data"
    )
    link = tmp_path / "t.json"
    link.symlink_to(finished_trace / "manifest.json")
    _one_line(["export-timeline", trace, "--out", str(link)], capsys, "in the data of")
    for name in ("t.txt", "t.parquet", ".json"):
        _one_line(["export-timeline", trace, "--out", str(tmp_path / name)], capsys, ".json or .json.gz file")
    assert _tree(finished_trace) == before


def test_a_mapping_folder_has_one_writer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "map"
    out.mkdir()
    with FolderLock(out, "mapping folder", DataError):  # a map of the same folder, still writing
        _one_line(
            ["map", "--arch", str(VALID_ARCH), "--model", "resnet32_pcm", "--out", str(out)],
            capsys,
            "another chiptwin writer in this process is writing this mapping folder",
        )
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]


# ---- issue 30, 2. Parquet parts that lie about their size ------------------------------------------------


def _bomb(path: Path, like: Path, rows: int) -> None:
    """A Parquet file of ``like``'s schema whose footer declares ``rows`` rows in a few kilobytes (every
    column one value repeated: run-length encoded)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(like)
    one = table.slice(0, 1)
    columns = [pa.repeat(one.column(i)[0], rows) for i in range(one.num_columns)]
    bomb = pa.Table.from_arrays(columns, schema=table.schema)
    pq.write_table(bomb, path, row_group_size=rows, compression="zstd")


@pytest.mark.parametrize("table", ["probes", "events", "cells"])
def test_a_trace_part_that_declares_too_many_rows_is_refused_from_its_footer(
    tmp_path: Path, table: str, finished_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    trace = tmp_path / "trace"
    shutil.copytree(finished_trace, trace)
    part = next((trace / table).glob("*.parquet"))
    _bomb(part, part, 20_000)  # the same refusal at 10^9 rows, without building them here
    expect = f"{part}: trace part declares 20,000 rows; at most"
    if table == "events":  # the bound its manifest implies: 2 probes to 60 s, no compensation, 4,096 tiles
        _one_line(["export-timeline", str(trace), "--out", str(tmp_path / "t.json")], capsys, expect)
        with pytest.raises(DataError, match="declares 20,000 rows; at most 5,12"):  # what reports read
            next(iter_batches(trace, "events"))
    else:
        _one_line(["report", str(trace), "--out", str(tmp_path / "r")], capsys, expect)


def test_a_mapping_table_that_declares_too_many_rows_is_refused(
    tmp_path: Path, finished_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chiptwin.trace.mapping_table import read_mapping_table

    trace = tmp_path / "trace"
    shutil.copytree(finished_trace, trace)
    _bomb(trace / "mapping.parquet", finished_trace / "mapping.parquet", 1_200_000)
    assert (trace / "mapping.parquet").stat().st_size < 300_000
    with pytest.raises(
        DataError, match=r"mapping.parquet: trace part declares 1,200,000 rows; at most 1,000,000"
    ):
        read_mapping_table(trace / "mapping.parquet")
    capsys.readouterr()
    _one_line(["report", str(trace), "--out", str(tmp_path / "r")], capsys, "declares 1,200,000 rows")


# ---- issue 30, 3. model files that misbehave ---------------------------------------------------------------

_SMALL_NET = """
import torch
from torch import nn

def build_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10)){cast}
"""


def _model_file(folder: Path, body: str = "", cast: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "user.py"
    path.write_text(body + _SMALL_NET.format(cast=cast))
    return path


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ("import sys\nsys.exit(0)\n", "importing it called sys.exit(0)"),
        ('raise SystemExit("bye")\n', "importing it called sys.exit('bye')"),
        ("raise KeyboardInterrupt\n", "importing it raised KeyboardInterrupt: (no Ctrl-C was pressed)"),
    ],
)
def test_a_model_file_that_exits_or_interrupts_is_one_line(
    tmp_path: Path, body: str, expect: str, capsys: pytest.CaptureFixture[str]
) -> None:
    user = _model_file(tmp_path, body)
    out = tmp_path / "map"
    _one_line(
        ["map", "--arch", "hermes_64", "--model", str(user), "--out", str(out)], capsys, str(user), expect
    )
    assert not out.exists()


def test_a_ctrl_c_while_a_model_file_imports_is_still_an_interruption(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = _model_file(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGINT)\n")
    assert main(["map", "--arch", "hermes_64", "--model", str(user), "--out", str(tmp_path / "m")]) == 130
    assert capsys.readouterr().err == "chiptwin: interrupted\n"


@pytest.mark.parametrize("dtype", ["double", "half", "bfloat16"])
def test_a_model_file_with_weights_not_float32_is_refused(
    tmp_path: Path, dtype: str, capsys: pytest.CaptureFixture[str]
) -> None:
    user = _model_file(tmp_path, cast=f".{dtype}()")
    shown = {"double": "float64", "half": "float16", "bfloat16": "bfloat16"}[dtype]
    _one_line(
        ["evaluate", "--checkpoint", str(user), "--arch", "hermes_64", "--n-images", "10"],
        capsys,
        f"tensor '1.weight' is torch.{shown}; chiptwin computes in torch.float32",
    )


def test_a_repeated_option_is_refused_not_overridden(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = _model_file(tmp_path / "a"), _model_file(tmp_path / "b")
    _one_line(
        ["map", "--model", str(a), "--model", str(b)],
        capsys,
        f"argument --model: given twice (--model {a}, then --model {b}); give it once",
    )
    _one_line(
        ["map", "--strategy", "dense", "--strategy=packed"],
        capsys,
        "argument --strategy: given twice (--strategy dense, then --strategy packed)",
    )
    # a flag given twice says the same thing: not refused (the missing scenario is the error)
    _one_line(["run", str(tmp_path / "none.toml"), "--quiet", "--quiet"], capsys, "none.toml")
    scenario = _scenario(tmp_path, checkpoints='["user"]')
    _one_line(
        ["run", str(scenario), "--model", str(a), "--model", str(b), "--out", str(tmp_path / "t")],
        capsys,
        f"--model {a} and --model {b} both give checkpoint 'user'",
    )
    assert not (tmp_path / "t").exists()


# ---- issue 30, 4. strings and values that reach plotting and numerics -------------------------------------


def test_a_manifest_string_is_plain_text_in_every_figure(
    tmp_path: Path, finished_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "trace"
    shutil.copytree(finished_trace, trace)
    manifest = json.loads((trace / "manifest.json").read_text())
    manifest["scenario"].update(name=r"$\undefinedcommand$", arch="$x^{$")  # not math, and malformed as math
    (trace / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["report", str(trace), "--out", str(tmp_path / "r")]) == 0, capsys.readouterr().err
    assert (tmp_path / "r" / "accuracy.png").stat().st_size > 0
    assert (tmp_path / "r" / "energy.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("edit", "expect"),
    [
        (lambda s: s.update(checkpoints=5), "'scenario.checkpoints' is a number, not a list"),
        (lambda s: s.update(probes_s=["1 s"]), "'scenario.probes_s' item 1 is a string"),
        (lambda s: s.update(policies=[{"name": 3}]), "'scenario.policies' item 1: 'name' is a number"),
        (lambda s: s.update(name=["x"]), "'scenario.name' is a list, not a string"),
    ],
)
def test_every_manifest_member_a_reader_uses_has_its_type_checked(
    tmp_path: Path, edit: object, expect: str, finished_trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "trace"
    shutil.copytree(finished_trace, trace)
    manifest = json.loads((trace / "manifest.json").read_text())
    edit(manifest["scenario"])  # type: ignore[operator]
    (trace / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    _one_line(["report", str(trace), "--out", str(tmp_path / "r")], capsys, "manifest.json", expect)


@pytest.mark.parametrize(
    ("model", "expect"),
    [
        ({"widths": [16, 28, 1e8]}, "model.widths[2](=100000000"),
        ({"in_channels": 0}, "model.in_channels(=0) must be an integer in 1..4096"),
        ({"depth": float("inf")}, "model.depth(=inf) must be an integer"),  # JSON Infinity
        ({"depth": 32.9}, "model.depth(=32.9) must be an integer"),  # not truncated to 32
        ({"widths": [4096, 4096, 4096]}, "would hold up to 1.93e+10 weights"),
    ],
)
def test_a_model_card_figure_is_in_bounds_before_a_layer_is_built(
    tmp_path: Path, model: dict[str, object], expect: str, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = _copy_checkpoint(tmp_path / "ck")
    card = json.loads(weights.with_suffix(".json").read_text())
    card["model"].update(model)
    weights.with_suffix(".json").write_text(json.dumps(card))
    _one_line(["evaluate", "--checkpoint", str(weights), "--arch", "hermes_64"], capsys, "model.json", expect)


@pytest.mark.parametrize(
    ("seconds", "expect"),
    [(float("nan"), "arrival 2 (arrival_s=nan) must be in 0..3.1536e+09 s"), (1e300, "(arrival_s=1e+300)")],
)
def test_a_replayed_arrival_time_is_checked_before_it_becomes_ns(
    tmp_path: Path, seconds: float, expect: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    replay = tmp_path / "arrivals.parquet"
    pq.write_table(pa.table({"arrival_s": [0.5, seconds]}), replay)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warning before the error line
        _one_line(
            ["timing", "--arch", "hermes_64", "--model", "resnet20", "--replay", str(replay)],
            capsys,
            f"{replay}: {expect}" if seconds != seconds else expect,
        )
