"""The one way chiptwin opens a user's file, names a path after something a user wrote, and claims a folder.

Every input file is checked before it is read: it must exist, be a regular file (a FIFO would block the
reader forever, ``/dev/zero`` would fill memory) and be no larger than any legitimate file of its kind
(:data:`SIZE_LIMITS`). TOML and JSON nested too deeply to parse are refused as such, not with a
``RecursionError``. A name that becomes part of a path (a chip, scenario, sweep or policy name) must pass
:func:`check_name`, so no file's contents can steer a write outside the folder the user gave. An output
folder is created with :func:`output_folder` (and removed again if the command fails before writing
into it) and claimed with :class:`FolderLock` (an OS file lock, released
by the kernel when the process dies), so two processes never write one trace. Before it is created, an
output folder's real path (symlinks resolved) is checked against the chiptwin outputs around it
(:func:`check_output_alias`): a command never writes into, over or around another command's data.

Errors are the caller's :class:`~chiptwin.errors.ChipTwinError` subclass, with the path first.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import stat
import tomllib
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from chiptwin.errors import ChipTwinError, SpecError

__all__ = [
    "MAX_NAME_LENGTH",
    "NAME_RULE",
    "OUTPUT_MARKERS",
    "SIZE_LIMITS",
    "FolderLock",
    "check_name",
    "check_output_alias",
    "check_regular_file",
    "describe_os_error",
    "load_json",
    "load_toml",
    "output_folder",
    "output_kind",
    "read_bytes",
    "read_text",
]

_KIB = 1024
_MIB = 1024 * _KIB
_GIB = 1024 * _MIB

SIZE_LIMITS: dict[str, int] = {
    "chip file": 1 * _MIB,
    "scenario file": 1 * _MIB,
    "sweep file": 1 * _MIB,
    "model card": 1 * _MIB,
    "model file": 16 * _MIB,
    "manifest": 64 * _MIB,
    "sweep state": 64 * _MIB,
    "checkpoint": 4 * _GIB,
    "dataset file": 1 * _GIB,
    "replay file": 1 * _GIB,
    "measurement file": 4 * _GIB,
    "device table": 1 * _MIB,
    "temperature file": 1 * _GIB,
    "trace part": 16 * _GIB,
}
"""Largest file of each kind chiptwin reads, bytes. The shipped chip and scenario files are ~3 KB and
the cards ~2 KB, so 1 MiB is 300x headroom; a manifest holds a scenario and a few hundred file hashes
(kilobytes); ResNet-18's weights are 45 MB, so 4 GiB leaves room for any model a 24 GB machine maps; the
largest IDX/CIFAR file is 47 MB; a replay file holds one timestamp per arrival (10^8 arrivals is ~1 GB).
A measurement file of ``chiptwin.limits.MAX_MEASUREMENT_ROWS`` reads is ~2 GB as CSV (~40 bytes a row);
a temperature file two numbers a reading (``chiptwin.limits.MAX_TEMPERATURE_POINTS`` are 160 MB);
a device table (``chiptwin fit-device``) is ~2 KB; a model file is Python source (a ResNet is ~10 KB).
Anything larger is not a file of that kind."""

MAX_NAME_LENGTH = 64
"""Longest name that becomes part of a path (file systems allow 255 bytes per component; a trace folder
or a sweep cell id joins several names)."""

NAME_RULE = f"1..{MAX_NAME_LENGTH} ASCII letters, digits and + - _ . (not starting with '.')"
_NAME = re.compile(rf"[A-Za-z0-9_+\-][A-Za-z0-9_+.\-]{{0,{MAX_NAME_LENGTH - 1}}}")

_MAX_NESTING = 64
"""Deepest nesting of tables/arrays in any chiptwin TOML or JSON file (the shipped ones nest 3 deep)."""


def check_name(value: object, key: str, error: type[ChipTwinError] = SpecError) -> str:
    """``value`` if it is a name that may become part of a path (:data:`NAME_RULE`), else ``error``.

    >>> check_name("gdc+adabs", "policy name")
    'gdc+adabs'
    """
    if not isinstance(value, str) or _NAME.fullmatch(value) is None:
        raise error(f"{key}(={_shown(value)}) must be {NAME_RULE}")
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}...' ({len(str(value))} characters)"


def _kind_of(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def describe_os_error(exc: OSError) -> str:
    """``strerror`` of an OS error (``"No space left on device"``), or its text when it has none."""
    return exc.strerror or str(exc) or type(exc).__name__


def check_regular_file(path: Path | str, kind: str, error: type[ChipTwinError]) -> int:
    """Refuse ``path`` unless it is an existing regular file no larger than ``SIZE_LIMITS[kind]``; its size.

    For files a library opens itself (safetensors, Parquet, gzip): the check that it will not block or
    read without end.

    Raises:
        error: missing, not a regular file (FIFO, device, directory), or too large; the path first.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"{path}: {kind} not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {kind} ({describe_os_error(exc)})") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: {kind} is {_kind_of(info.st_mode)}, not a regular file")
    limit = SIZE_LIMITS[kind]
    if info.st_size > limit:
        raise error(f"{path}: {kind} is {info.st_size:,} bytes; no {kind} is larger than {limit:,} bytes")
    return info.st_size


def read_bytes(path: Path | str, kind: str, error: type[ChipTwinError]) -> bytes:
    """The bytes of the file ``path`` of ``kind``, after :func:`check_regular_file`.

    The file is opened non-blocking and checked again on the open descriptor, so a FIFO swapped in after
    the first check cannot block the read; at most ``SIZE_LIMITS[kind]`` bytes are read.

    Raises:
        error: as :func:`check_regular_file`, or the file cannot be read.
    """
    path = Path(path)
    check_regular_file(path, kind, error)
    limit = SIZE_LIMITS[kind]
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise error(f"{path}: cannot read {kind} ({describe_os_error(exc)})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{path}: {kind} is {_kind_of(info.st_mode)}, not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(limit + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read {kind} ({describe_os_error(exc)})") from None
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise error(f"{path}: {kind} is larger than {limit:,} bytes")
    return raw


def read_text(path: Path | str, kind: str, error: type[ChipTwinError]) -> str:
    """The UTF-8 text of the file ``path`` of ``kind`` (:func:`read_bytes`).

    Raises:
        error: as :func:`read_bytes`, or the file is not UTF-8.
    """
    try:
        return read_bytes(path, kind, error).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: {kind} is not UTF-8 text (byte {exc.start})") from None


def _depth(value: Any) -> int:
    """Nesting depth of parsed TOML/JSON (iterative: a deep value cannot exhaust the stack here)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
        else:
            continue
        deepest = max(deepest, level)
        if deepest > _MAX_NESTING:
            break
    return deepest


def _load(
    path: Path | str,
    kind: str,
    error: type[ChipTwinError],
    loads: Callable[[str], Any],
    invalid: tuple[type[Exception], str],
) -> Any:
    """``loads`` of the text of ``path``; ``invalid``: the parser's syntax error and what to call it."""
    path = Path(path)
    text = read_text(path, kind, error)
    syntax_error, language = invalid
    try:
        data = loads(text)
    except syntax_error as exc:
        raise error(f"{path}: {kind} is not valid {language} ({exc})") from None
    except RecursionError:
        raise error(f"{path}: {kind} nests tables or arrays more than {_MAX_NESTING} levels deep") from None
    if _depth(data) > _MAX_NESTING:
        raise error(f"{path}: {kind} nests tables or arrays more than {_MAX_NESTING} levels deep")
    return data


def load_toml(path: Path | str, kind: str, error: type[ChipTwinError]) -> dict[str, Any]:
    """Read and parse the TOML file ``path`` of ``kind`` (see :func:`read_text`).

    Raises:
        error: as :func:`read_text`, not TOML, or nested more than 64 deep.
    """
    data: dict[str, Any] = _load(path, kind, error, tomllib.loads, (tomllib.TOMLDecodeError, "TOML"))
    return data


def load_json(path: Path | str, kind: str, error: type[ChipTwinError]) -> Any:
    """Read and parse the JSON file ``path`` of ``kind`` (see :func:`read_text`).

    Raises:
        error: as :func:`read_text`, not JSON, or nested more than 64 deep.
    """
    return _load(path, kind, error, json.loads, (json.JSONDecodeError, "JSON"))


OUTPUT_MARKERS: dict[str, str] = {
    "manifest.json": "trace directory",
    "sweep.json": "sweep folder",
    "mapping.parquet": "mapping folder",
    "train_state.json": "training folder",
}
"""A file that makes its folder a chiptwin output, and that output's kind: a trace's manifest
(``chiptwin.trace.reader.MANIFEST_FILE``, written first, so a running trace is one too), a sweep's state
(``chiptwin.sweep.run``), the mapping table ``chiptwin map`` writes, the resume state of ``chiptwin
train`` (``chiptwin.network.training``). These hold the data chiptwin reads back; a folder of plots (a
report) or a device table is no such output: another command may write next to it."""

_MAX_SCAN_DIRS = 2_000
"""Most folders :func:`check_output_alias` looks into below an existing output folder (a home folder
given as ``--out`` is refused, or accepted, after this many, not after a walk of the whole disk)."""

_MAX_SCAN_DEPTH = 3
"""Deepest level below an output folder that :func:`check_output_alias` looks at: a sweep's cell traces lie
2 deep (``cells/CELL/manifest.json``), a run's report 1 deep."""


def output_kind(folder: Path | str) -> str | None:
    """What chiptwin output ``folder`` is (``"trace directory"``, ``"sweep folder"``, ...; see
    :data:`OUTPUT_MARKERS`), or ``None`` when it is none (or not a folder)."""
    folder = Path(folder)
    for marker, kind in OUTPUT_MARKERS.items():
        if os.path.lexists(folder / marker):
            return kind
    return None


def _outputs_below(folder: Path, skip: Collection[str]) -> Iterator[Path]:
    """Chiptwin outputs below ``folder`` (not ``folder`` itself), :data:`_MAX_SCAN_DEPTH` deep at most;
    hidden folders, symlinks and the names in ``skip`` (first level) are not entered."""
    level = [folder / name for name in _child_dirs(folder) if name not in skip]
    seen = 0
    for _ in range(_MAX_SCAN_DEPTH):
        deeper: list[Path] = []
        for sub in level:
            seen += 1
            if seen > _MAX_SCAN_DIRS:
                return
            if output_kind(sub) is not None:
                yield sub
                continue
            deeper.extend(sub / name for name in _child_dirs(sub))
        level = deeper


def _child_dirs(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return sorted(
                e.name for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
            )
    except OSError:
        return []


def check_output_alias(
    path: Path | str,
    option: str,
    error: type[ChipTwinError],
    *,
    kind: str,
    within: tuple[Path | str, Collection[str]] | None = None,
    own: Collection[str] = (),
) -> Path:
    """Refuse an output folder that is, contains or lies inside another chiptwin output; its real path.

    ``path`` is resolved first (a symlink to a trace is that trace). It may be an output of its own
    ``kind`` (a run resumed, a sweep re-run, a map redone). It may lie inside no other output, except
    ``within = (folder, reserved)``: the output a report is made of (and the outputs that hold it, a
    sweep around its cell's trace), anywhere in it but its own data (the first-level names ``reserved``,
    e.g. a trace's ``probes`` or ``manifest.json``). If it is no output yet but will be one (``kind``
    is one of :data:`OUTPUT_MARKERS`), it may hold none (:data:`_MAX_SCAN_DEPTH` levels are looked at)
    except under the first-level names ``own`` (the traces of a multi-part run); plots and single files
    may be written next to an output.

    Raises:
        error: one line naming ``option``, the path and the other output.
    """
    given = Path(path)
    real = Path(os.path.realpath(given))
    shown = f"{option} {given}" + (f" (-> {real})" if real != given.absolute() else "")
    inside = None if within is None else Path(os.path.realpath(within[0]))
    if inside is not None and within is not None and (real == inside or inside in real.parents):
        rel = real.relative_to(inside).parts
        if rel and rel[0] in within[1]:
            raise error(f"{shown}: lies in the data of {inside} ({rel[0]}); choose another folder")
    around = set() if inside is None else {inside, *inside.parents}  # the report's own source and above it
    for parent in real.parents:
        if parent in around:
            continue
        found = output_kind(parent)
        if found is not None:
            raise error(f"{shown}: lies inside the {found} {parent}; choose a folder outside it")
    found = output_kind(real) if real.is_dir() else None
    if real != inside and found is not None and found != kind:
        raise error(f"{shown}: is the {found} {real}, not a {kind}; choose another folder")
    if found is None and kind in OUTPUT_MARKERS.values() and real.is_dir():  # it would become one
        for other in _outputs_below(real, own):
            raise error(f"{shown}: holds the {output_kind(other)} {other}; choose another folder")
    return real


@contextlib.contextmanager
def output_folder(
    path: Path | str,
    option: str,
    error: type[ChipTwinError],
    *,
    kind: str | None = None,
    within: tuple[Path | str, Collection[str]] | None = None,
    own: Collection[str] = (),
    lock: bool = True,
) -> Iterator[Path]:
    """Create the output folder ``path`` (and its parents) that ``option`` names, for the ``with`` block.

    Entered before any expensive work, so a command whose output cannot be written fails first, in one
    line. The folder is checked against the outputs around it first (:func:`check_output_alias`, with
    ``kind``, ``within`` and ``own``; every chiptwin command names the ``kind`` it writes, ``None`` skips
    the check) and, with ``lock``, held with :class:`FolderLock` for the block (a
    writer that locks the folder itself, a trace's or a sweep's, passes ``lock=False``). If the block
    fails, the folders this call created are removed again while they are empty, so a refused command
    leaves nothing behind (a folder the block wrote into stays, e.g. a trace to resume).

    Raises:
        error: ``path`` is a file, lies under a file, cannot be created (read-only, ``/proc``, a name too
            long) or is not writable; it aliases another output; another process holds it.
    """
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise error(f"{option} {path}: exists and is not a directory")
        if kind is not None:
            check_output_alias(path, option, error, kind=kind, within=within, own=own)
        created = [p for p in (path, *path.parents) if not p.exists()]
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a name too long, a file where a folder should be, /proc, read-only
        raise error(f"{option} {path}: cannot create the folder ({describe_os_error(exc)})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise error(f"{option} {path}: the folder is not writable")
    held: FolderLock | None = None
    try:
        if lock:
            held = FolderLock(path, kind or "output folder", error).__enter__()
        try:
            yield path
        finally:
            if held is not None:
                held.__exit__(None, None, None)
    except BaseException:
        for folder in created:  # deepest first
            _remove_unused_lock(folder)
            try:
                folder.rmdir()
            except OSError:  # not empty (the block wrote there) or already gone
                break
        raise


def _remove_unused_lock(folder: Path) -> None:
    """Remove ``folder``'s lock file if nothing else is in the folder and nobody holds the lock."""
    lock = folder / LOCK_FILE
    try:
        if [p.name for p in folder.iterdir()] != [LOCK_FILE]:
            return
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.unlink()
    except OSError:
        pass  # held by another process: it is that process's folder now
    finally:
        os.close(fd)


LOCK_FILE = ".chiptwin.lock"


class FolderLock:
    """One writer per output folder: an exclusive ``flock`` on ``folder/.chiptwin.lock``.

    The kernel releases the lock when the process ends however it ends, so a crashed run never leaves a
    stale lock; the file itself stays (it is empty but for the holder's pid, for the message).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d, FolderLock(d, "trace", SpecError):
    ...     pass
    """

    def __init__(self, folder: Path | str, what: str, error: type[ChipTwinError]) -> None:
        self.folder = Path(folder)
        self.what = what
        self.error = error
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        path = self.folder / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise self.error(
                f"{self.folder}: cannot lock the {self.what} ({describe_os_error(exc)})"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                who = f"process (pid {holder})" if holder.isdigit() else "process"
                if holder == str(os.getpid()):
                    who = "writer in this process"
                raise self.error(
                    f"{self.folder}: another chiptwin {who} is writing this {self.what}; wait for it "
                    "to finish or choose another output folder"
                ) from None
            raise self.error(
                f"{self.folder}: cannot lock the {self.what} ({describe_os_error(exc)})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def _failed(self, exc: OSError) -> ChipTwinError:
        return self.error(f"{self.folder}: cannot lock the {self.what} ({describe_os_error(exc)})")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.ftruncate(fd, 0)
            os.close(fd)  # closing the last descriptor releases the flock
