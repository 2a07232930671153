"""The trace manifest: file hashes, versions, git state, and JSON-only scenario data."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from chiptwin.errors import DataError
from chiptwin.trace import manifest as manifest_module
from chiptwin.trace.manifest import TRACE_VERSION, build_manifest, file_sha256


def test_hashes_are_the_sha256_of_each_file(tmp_path: Path) -> None:
    small = tmp_path / "arch.toml"
    small.write_text("[chip]\nname = 'tiny'\n")
    big = tmp_path / "weights.bin"  # over two 1 MiB chunks, not a multiple of the chunk size
    big.write_bytes(np.random.default_rng(0).integers(0, 256, size=(5 << 19) + 7, dtype=np.uint8).tobytes())
    manifest = build_manifest(scenario={}, files={"arch": small, "checkpoint:hwa": str(big)}, seeds=[0])
    assert manifest["hashes"] == {
        "arch": "sha256:" + hashlib.sha256(small.read_bytes()).hexdigest(),
        "checkpoint:hwa": "sha256:" + hashlib.sha256(big.read_bytes()).hexdigest(),
    }
    assert file_sha256(big) == manifest["hashes"]["checkpoint:hwa"]
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_sha256(empty) == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_entries_versions_and_time(tmp_path: Path) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    seeds: Any = (3, np.int64(4))  # numpy integers are accepted (operator.index)
    manifest = build_manifest(scenario={"name": "s"}, files={}, seeds=seeds, extra={"chip": "tiny_4"})
    assert manifest["trace_version"] == TRACE_VERSION == 1
    assert manifest["seeds"] == [3, 4] and type(manifest["seeds"][1]) is int
    assert manifest["chip"] == "tiny_4"
    versions = manifest["versions"]
    assert set(versions) == {"chiptwin", "torch", "numpy", "simpy", "networkx", "pyarrow", "python"}
    assert versions["python"] == platform.python_version()
    assert versions["pyarrow"] == pa.__version__ and versions["numpy"] == np.__version__
    created = datetime.fromisoformat(manifest["created"])
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert before <= created <= datetime.now(UTC)
    commit = manifest["git_commit"]
    assert commit is None or (len(commit) == 40 and isinstance(manifest["git_dirty"], bool))
    assert json.loads(json.dumps(manifest, allow_nan=False)) == manifest


def test_scenario_tuples_become_lists_and_are_copied() -> None:
    scenario: dict[str, Any] = {"probes_s": (1.0, 60.0), "policies": [{"name": "gdc", "args": (1, (2, 3))}]}
    manifest = build_manifest(scenario=scenario, files={}, seeds=[])
    assert manifest["scenario"] == {
        "probes_s": [1.0, 60.0],
        "policies": [{"name": "gdc", "args": [1, [2, 3]]}],
    }
    scenario["policies"][0]["name"] = "changed"
    assert manifest["scenario"]["policies"][0]["name"] == "gdc"


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        (
            {"policies": [{"path": Path("x")}]},
            r"scenario\.policies\[0\]\.path = .* is a PosixPath, not JSON data",
        ),
        ({"rate": float("nan")}, r"scenario\.rate = nan is not a finite number"),
        ({"rate": float("inf")}, r"scenario\.rate = inf is not a finite number"),
        ({"table": {1: "a"}}, r"scenario\.table has a key 1 of type int, not str"),
        ({"x": np.float64(1.5)}, None),  # a numpy float is a Python float subclass: accepted
        ({"x": np.int64(2)}, r"scenario\.x = .*2.* is a int64, not JSON data"),
    ],
)
def test_non_json_scenario_values_are_named(scenario: dict[Any, Any], message: str | None) -> None:
    if message is None:
        stored = build_manifest(scenario=scenario, files={}, seeds=[])["scenario"]
        assert stored == scenario and type(stored["x"]) is float  # as json.loads will read it back
        return
    with pytest.raises(DataError, match=message):
        build_manifest(scenario=scenario, files={}, seeds=[])


def test_bad_files_seeds_and_extras_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing\.safetensors: cannot hash input file 'checkpoint:fp'"):
        build_manifest(scenario={}, files={"checkpoint:fp": tmp_path / "missing.safetensors"}, seeds=[])
    with pytest.raises(DataError, match=r"seeds must be integers, got \[0, 1\.5\]"):
        build_manifest(scenario={}, files={}, seeds=[0, 1.5])  # type: ignore[list-item]
    with pytest.raises(DataError, match="extra entry 'seeds' would replace a built entry"):
        build_manifest(scenario={}, files={}, seeds=[], extra={"seeds": [1]})
    with pytest.raises(DataError, match=r"digital\.hwa = nan is not a finite number"):
        build_manifest(scenario={}, files={}, seeds=[], extra={"digital": {"hwa": float("nan")}})


def _fake_git(outputs: dict[str, subprocess.CompletedProcess[str] | Exception]) -> Any:
    def run(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        assert args[0] == "git" and kw["cwd"] == manifest_module._SOURCE_DIR and kw["timeout"] == 5.0
        out = outputs[args[1]]
        if isinstance(out, Exception):
            raise out
        return out

    return run


def _done(stdout: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(["git"], code, stdout=stdout, stderr="")


@pytest.mark.parametrize(
    ("outputs", "commit", "dirty"),
    [
        ({"rev-parse": _done("abc123\n"), "status": _done("")}, "abc123", False),
        ({"rev-parse": _done("abc123\n"), "status": _done(" M chiptwin/x.py\n")}, "abc123", True),
        ({"rev-parse": _done("abc123\n"), "status": _done("", code=128)}, "abc123", None),
        ({"rev-parse": _done("", code=128)}, None, None),  # not a git work tree
        ({"rev-parse": FileNotFoundError("git")}, None, None),  # git not installed
        ({"rev-parse": subprocess.TimeoutExpired("git", 5.0)}, None, None),
    ],
)
def test_git_state_or_none(
    monkeypatch: pytest.MonkeyPatch,
    outputs: dict[str, subprocess.CompletedProcess[str] | Exception],
    commit: str | None,
    dirty: bool | None,
) -> None:
    monkeypatch.setattr(subprocess, "run", _fake_git(outputs))
    manifest = build_manifest(scenario={}, files={}, seeds=[])
    assert (manifest["git_commit"], manifest["git_dirty"]) == (commit, dirty)


def test_outside_a_git_work_tree_the_commit_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.setattr(manifest_module, "_SOURCE_DIR", tmp_path)
    manifest = build_manifest(scenario={}, files={}, seeds=[])
    assert manifest["git_commit"] is None and manifest["git_dirty"] is None
