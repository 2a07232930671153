"""Writing a trace directory: the manifest, then one Parquet part per finished cell and table.

Every file is written to a hidden temporary name in its final folder, flushed to disk and renamed onto
its final name (``os.replace`` is atomic on POSIX and Windows), so a crash leaves either the old file or
the whole new one, never half of one. The layout is described in :mod:`chiptwin.trace.reader`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from chiptwin.errors import DataError
from chiptwin.files import FolderLock
from chiptwin.trace.manifest import TRACE_VERSION, as_json, utc_now
from chiptwin.trace.mapping_table import MappingRecord, build_mapping_table
from chiptwin.trace.reader import (
    MANIFEST_FILE,
    MAPPING_FILE,
    check_part_schema,
    list_cells,
    part_path,
    read_manifest,
    read_part_schema,
)
from chiptwin.trace.schema import EVENT_KINDS, SCHEMAS, TASKS

__all__ = ["TraceWriter", "check_fresh", "write_atomic"]

_ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    (table, column): values
    for table in ("events", "detail")
    for column, values in (("kind", EVENT_KINDS), ("task", TASKS))
}
"""Closed enumerations checked on write: (table, column) -> allowed values."""


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform (Windows) can open a directory.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(file)`` on ``.<name>.tmp`` next to ``path``, fsync it, and rename it onto ``path``."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _compatible(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether a column of ``source`` type may be cast to ``target`` (no number <-> text, no bools)."""
    if pa.types.is_null(source):
        return True
    if pa.types.is_dictionary(source):
        source = source.value_type
    if pa.types.is_dictionary(target):
        target = target.value_type
    if _is_string(target):
        return _is_string(source)
    if pa.types.is_integer(target) or pa.types.is_floating(target):
        return pa.types.is_integer(source) or pa.types.is_floating(source)
    return source.equals(target)


def _to_field(values: pa.Array | pa.ChunkedArray, field: pa.Field, where: Path) -> pa.Array | pa.ChunkedArray:
    if not _compatible(values.type, field.type):
        raise DataError(f"{where}: column {field.name!r} holds {values.type} values, expected {field.type}")
    try:
        # safe=True refuses what would lose information (1.5 into an integer column, an overflow).
        out = values.cast(field.type, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise DataError(f"{where}: column {field.name!r} cannot be stored as {field.type} ({exc})") from None
    if out.null_count:
        raise DataError(f"{where}: column {field.name!r} has {out.null_count} missing values")
    return out


def _holds_a_run(root: Path) -> DataError:
    return DataError(f"{root}: trace directory already holds a run (use resume or another --out)")


def check_fresh(root: Path | str) -> None:
    """Refuse early a trace directory that already holds a run (before a caller's expensive set-up);
    :class:`TraceWriter` checks again under the folder's lock.

    Raises:
        DataError: ``root`` holds parts of a run.
    """
    root = Path(root)
    if root.is_dir() and any(list_cells(root, table) for table in SCHEMAS):
        raise _holds_a_run(root)


class TraceWriter:
    """Writes one trace directory: its manifest and the part files of its cells.

    Args:
        root: the trace directory (created, parents included).
        manifest: the run's manifest (:func:`chiptwin.trace.manifest.build_manifest`), JSON data; its
            ``scenario`` entry identifies the run when resuming.
        resume: keep the parts of an earlier run of the same scenario in ``root`` (see :meth:`has_part`).

    A writer holds an OS lock on ``root`` (:class:`chiptwin.files.FolderLock`) from construction to
    :meth:`finish` or :meth:`close` (use it as a context manager): a second writer of the same folder, in
    this process or another, is refused, so two runs can never mix their cells in one trace.

    Raises:
        DataError: ``root`` cannot be created; another writer holds it; it holds parts and ``resume`` is
            false; ``resume`` is true
            but the stored manifest is unreadable or its scenario differs (the first differing key
            named); or ``manifest`` is not JSON data or names another ``trace_version``.
    """

    def __init__(self, root: Path | str, manifest: dict[str, Any], *, resume: bool = False) -> None:
        self._lock: FolderLock | None = None
        self.root = Path(root)
        found = manifest.get("trace_version", TRACE_VERSION)
        if isinstance(found, bool) or found != TRACE_VERSION:
            raise DataError(
                f"{self.root}: manifest trace_version {found!r}, this writer writes {TRACE_VERSION}"
            )
        self._manifest: dict[str, Any] = as_json({**manifest, "trace_version": TRACE_VERSION}, key="manifest")
        self._finished = False
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(
                f"{self.root}: cannot create the trace directory ({exc.strerror or exc})"
            ) from None
        self._lock = FolderLock(self.root, "trace directory", DataError).__enter__()
        try:
            has_parts = any(list_cells(self.root, table) for table in SCHEMAS)
            if resume:
                self._check_resumable(has_parts)
            elif has_parts:
                raise _holds_a_run(self.root)
            for folder in (self.root, *(self.root / table for table in SCHEMAS)):  # of an interrupted write
                if folder.is_dir():
                    for tmp in folder.glob(".*.tmp"):
                        tmp.unlink(missing_ok=True)
            self._write_manifest({**self._manifest, "status": "running"})
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the folder's lock (a finished writer has already); the trace stays as written."""
        if self._lock is not None:
            lock, self._lock = self._lock, None
            lock.__exit__(None, None, None)

    def __del__(self) -> None:
        # Like a file object: a writer nobody holds any more releases its folder (quietly: at interpreter
        # exit the kernel releases it anyway).
        with contextlib.suppress(Exception):
            self.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_resumable(self, has_parts: bool) -> None:
        if not (self.root / MANIFEST_FILE).exists():
            if has_parts:
                raise DataError(
                    f"{self.root}: holds parts but no {MANIFEST_FILE}; cannot check it is the same run"
                )
            return
        stored = read_manifest(self.root).get("scenario")
        diff = _first_difference(stored, self._manifest.get("scenario"), "scenario")
        if diff is not None:
            key, old, new = diff
            raise DataError(
                f"{self.root}: cannot resume another scenario: {key} is {_show(new)}, "
                f"the stored run has {_show(old)} (use another --out)"
            )

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest as last written (a copy)."""
        return json.loads(json.dumps(self._manifest))

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        text = json.dumps(manifest, indent=2, allow_nan=False) + "\n"
        write_atomic(self.root / MANIFEST_FILE, lambda f: f.write(text.encode("utf-8")))
        self._manifest = manifest

    def has_part(self, table: str, cell: str) -> bool:
        """Whether a whole part of ``table`` for ``cell`` is on disk (its footer read, rows not).

        A part that is not readable Parquet (truncated, corrupt) is deleted and reported missing; one of
        another table or schema version is reported missing and left for :meth:`write_part` to replace.

        Raises:
            DataError: ``table`` or ``cell`` is invalid.
        """
        path = part_path(self.root, table, cell)
        if not path.is_file():
            return False
        try:
            schema = read_part_schema(path)
        except DataError:
            path.unlink(missing_ok=True)
            return False
        try:
            check_part_schema(path, table, schema)
        except DataError:
            return False
        return True

    def write_part(self, table: str, cell: str, rows: Sequence[Mapping[str, Any]] | pa.Table) -> Path:
        """Write the part of ``table`` for ``cell`` (replacing any earlier one) atomically.

        Args:
            table: ``events``, ``detail``, ``probes`` or ``cells``.
            cell: the cell id, also the file name (letters, digits and ``. _ = + -``).
            rows: one mapping per row with exactly the schema's columns, or a ``pa.Table`` with those
                columns (cast to the schema); the ``cell`` column must equal ``cell``. May be empty.

        Returns:
            The path of the part, ``root/<table>/<cell>.parquet``.

        Raises:
            DataError: the writer is finished; ``table`` or ``cell`` is invalid; a row lacks a column or
                has an unknown one; a value cannot be stored in its column's type or is missing; a
                ``kind`` or ``task`` value is not in its enumeration (each named in the message).
        """
        path = part_path(self.root, table, cell)
        if self._finished:
            raise DataError(f"{path}: the trace is finished; no part can be added")
        data = _build_table(table, rows, path)
        _check_values(table, cell, data, path)
        path.parent.mkdir(exist_ok=True)
        write_atomic(path, lambda f: pq.write_table(data, f))
        return path

    def write_mapping(self, records: Sequence[MappingRecord]) -> Path:
        """Write the mapping table ``root/mapping.parquet`` (replacing any earlier one) atomically.

        Returns:
            The path of the mapping table.

        Raises:
            DataError: the writer is finished.
        """
        path = self.root / MAPPING_FILE
        if self._finished:
            raise DataError(f"{path}: the trace is finished; the mapping table cannot be rewritten")
        table = build_mapping_table(records)
        write_atomic(path, lambda f: pq.write_table(table, f))
        return path

    def finish(self, **extra: Any) -> dict[str, Any]:
        """Mark the trace complete: rewrite the manifest with ``status: "complete"``, a ``finished`` time
        (ISO UTC) and ``extra`` merged in; returns the manifest written.

        Raises:
            DataError: a value of ``extra`` is not JSON data.
        """
        added = as_json(extra, key="finish")
        self._write_manifest({**self._manifest, **added, "status": "complete", "finished": utc_now()})
        self._finished = True
        self.close()
        return self.manifest


def _check_columns(names: Sequence[str], expected: pa.Schema, what: str, path: Path) -> None:
    for name in expected.names:
        if name not in names:
            raise DataError(f"{path}: {what} lacks column {name!r}")
    for name in names:
        if name not in expected.names:
            raise DataError(f"{path}: {what} has unknown column {name!r}")


def _build_table(table: str, rows: Sequence[Mapping[str, Any]] | pa.Table, path: Path) -> pa.Table:
    """``rows`` as a table of exactly ``SCHEMAS[table]``."""
    schema = SCHEMAS[table]
    if isinstance(rows, pa.Table):
        _check_columns(rows.column_names, schema, "table", path)
        columns = [_to_field(rows.column(field.name), field, path) for field in schema]
        return pa.Table.from_arrays(columns, schema=schema)
    names = set(schema.names)
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise DataError(f"{path}: row {i} is a {type(row).__name__}, not a mapping")
        if row.keys() != names:
            _check_columns(list(row), schema, f"row {i}", path)
    arrays = []
    for field in schema:
        try:
            values = pa.array([row[field.name] for row in rows])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(f"{path}: column {field.name!r}: values cannot be converted ({exc})") from None
        arrays.append(_to_field(values, field, path))
    return pa.Table.from_arrays(arrays, schema=schema)


def _check_values(table: str, cell: str, data: pa.Table, path: Path) -> None:
    """The closed enumerations hold, and every row belongs to ``cell``."""
    for (name, column), allowed in _ENUMS.items():
        if name != table:
            continue
        for value in pc.unique(data.column(column)).to_pylist():
            if value not in allowed:
                raise DataError(
                    f"{path}: {column} {value!r} is not one of {', '.join(allowed)} (schema.py lists them)"
                )
    for value in pc.unique(data.column("cell")).to_pylist():
        if value != cell:
            raise DataError(f"{path}: column 'cell' holds {value!r}, not the part's cell {cell!r}")


_MISSING = object()


def _first_difference(stored: Any, new: Any, key: str) -> tuple[str, Any, Any] | None:
    """The first key (``scenario.policies[1].every_s``) where two JSON values differ, with both values."""
    if isinstance(stored, dict) and isinstance(new, dict):
        for k in sorted(stored.keys() | new.keys()):
            found = _first_difference(stored.get(k, _MISSING), new.get(k, _MISSING), f"{key}.{k}")
            if found is not None:
                return found
        return None
    if isinstance(stored, list) and isinstance(new, list):
        for i in range(max(len(stored), len(new))):
            a = stored[i] if i < len(stored) else _MISSING
            b = new[i] if i < len(new) else _MISSING
            found = _first_difference(a, b, f"{key}[{i}]")
            if found is not None:
                return found
        return None
    # type() too: True == 1 and 1 == 1.0 in Python, but they are different scenario values.
    return None if stored == new and type(stored) is type(new) else (key, stored, new)


def _show(value: Any) -> str:
    text = "missing" if value is _MISSING else repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
