"""The manifest of a trace directory: what produced the trace, so it can be checked and reproduced.

``manifest.json`` records the scenario (as plain JSON), a SHA-256 of every input file (architecture,
checkpoints), the seeds, the versions of chiptwin and its main libraries, the git commit of the source
tree when there is one, and timestamps. :class:`chiptwin.trace.writer.TraceWriter` writes it; this
module only builds the dict.
"""

from __future__ import annotations

import hashlib
import math
import operator
import platform
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from chiptwin.errors import DataError
from chiptwin.versions import TRACE_LAYOUT_VERSION

__all__ = ["TRACE_VERSION", "VERSIONED_PACKAGES", "as_json", "build_manifest", "file_sha256", "utc_now"]

TRACE_VERSION = TRACE_LAYOUT_VERSION
"""Version of the trace directory layout (manifest, part files; :mod:`chiptwin.versions`); raise it there on
any change of layout."""

VERSIONED_PACKAGES = ("chiptwin", "torch", "numpy", "simpy", "networkx", "pyarrow")
"""Distributions whose installed version the manifest records (``None`` when not installed)."""

_CHUNK_BYTES = 1 << 20  # hash files in 1 MiB reads: checkpoints need not fit in memory twice
_GIT_TIMEOUT_S = 5.0
_SOURCE_DIR = Path(__file__).resolve().parent  # inside the chiptwin source tree (a git work tree or not)
_RESERVED = ("trace_version", "scenario", "hashes", "seeds", "versions", "git_commit", "git_dirty", "created")


def utc_now() -> str:
    """The current time as an ISO 8601 UTC timestamp to the second (``2026-05-09T07:35:25+00:00``)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def file_sha256(path: Path | str) -> str:
    """SHA-256 of the bytes of ``path`` as ``"sha256:<64 hex digits>"`` (read in 1 MiB chunks).

    Raises:
        OSError: the file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def as_json(value: Any, *, key: str) -> Any:
    """``value`` as plain JSON data: tuples become lists, everything else must already be JSON.

    Allowed are ``None``, ``bool``, ``int``, finite ``float``, ``str``, lists/tuples of those and dicts
    with ``str`` keys, nested to any depth.

    Args:
        value: the value to convert.
        key: where ``value`` sits (``scenario.policies[1].every_s``), for the error message.

    Raises:
        DataError: a value is of another type, a float is NaN or infinite, or a dict key is not a string;
            the message names the key.
    """
    # Subclasses (numpy.float64, str enums) come back as the builtin type, so that a value compares equal
    # to, and has the type of, what json.loads gives back from the file.
    if value is None:
        return None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DataError(f"manifest: {key} = {value!r} is not a finite number (JSON has no NaN)")
        return float(value)
    if isinstance(value, (list, tuple)):
        return [as_json(v, key=f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise DataError(f"manifest: {key} has a key {k!r} of type {type(k).__name__}, not str")
            out[k] = as_json(v, key=f"{key}.{k}")
        return out
    raise DataError(f"manifest: {key} = {value!r} is a {type(value).__name__}, not JSON data")


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    """Stdout of ``git ARGS`` run in the source tree, or ``None`` if git is missing or fails."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=_SOURCE_DIR, capture_output=True, text=True, timeout=_GIT_TIMEOUT_S
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def build_manifest(
    *,
    scenario: Mapping[str, Any],
    files: Mapping[str, Path | str],
    seeds: Sequence[int],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest of a run, ready for :class:`chiptwin.trace.writer.TraceWriter`.

    Args:
        scenario: the scenario as JSON data (tuples are turned into lists); a resumed run must match it.
        files: input files by name (``{"arch": ..., "checkpoint:hwa": ...}``); each is hashed.
        seeds: the run seeds.
        extra: further top-level entries (JSON data); may not replace the ones built here.

    Returns:
        ``{"trace_version", "scenario", "hashes", "seeds", "versions", "git_commit", "git_dirty",
        "created", **extra}``; ``hashes`` maps each name to ``"sha256:<hex>"``, ``versions`` maps chiptwin,
        torch, numpy, simpy, networkx, pyarrow and python to a version string or ``None``, ``git_commit``
        and ``git_dirty`` are ``None`` outside a git work tree.

    Raises:
        DataError: a file is missing or unreadable, a value is not JSON data, a seed is not an integer,
            or ``extra`` repeats a built entry (each named in the message).
    """
    hashes = {}
    for name, path in files.items():
        try:
            hashes[str(name)] = file_sha256(path)
        except OSError as exc:
            raise DataError(f"{path}: cannot hash input file {name!r} ({exc.strerror or exc})") from None
    try:
        seed_list = [operator.index(s) for s in seeds]
    except TypeError:
        raise DataError(f"manifest: seeds must be integers, got {list(seeds)!r}") from None
    versions: dict[str, str | None] = {name: _package_version(name) for name in VERSIONED_PACKAGES}
    versions["python"] = platform.python_version()
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain") if commit is not None else None
    manifest: dict[str, Any] = {
        "trace_version": TRACE_VERSION,
        "scenario": as_json(scenario, key="scenario"),
        "hashes": hashes,
        "seeds": seed_list,
        "versions": versions,
        "git_commit": commit.strip() if commit is not None else None,
        "git_dirty": bool(status.strip()) if status is not None else None,
        "created": utc_now(),
    }
    for key, value in (extra or {}).items():
        if key in _RESERVED:
            raise DataError(f"manifest: extra entry {key!r} would replace a built entry")
        manifest[key] = as_json(value, key=key)
    return manifest
