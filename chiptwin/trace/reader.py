"""Reading a trace directory: the manifest, and each table as the concatenation of its part files.

The layout (version :data:`~chiptwin.trace.manifest.TRACE_VERSION`)::

    TRACE_DIR/
      manifest.json           status "running" while the run goes on, "complete" once it finished
      mapping.parquet         the mapping table (chiptwin.trace.mapping_table)
      events/<cell>.parquet   one part per finished cell and table
      detail/<cell>.parquet   (traces written before the table existed have none: it reads empty)
      probes/<cell>.parquet
      cells/<cell>.parquet    written last: its presence marks the cell finished

A part is only ever created by an atomic rename, so a part file that exists is a whole one; hidden files
(the writer's ``.<cell>.parquet.tmp``) are never read. Every part's schema metadata (``table``,
``schema_version``) is checked against :data:`chiptwin.trace.schema.SCHEMAS` before its rows are used.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from chiptwin.errors import DataError
from chiptwin.files import check_regular_file, load_json
from chiptwin.trace.manifest import TRACE_VERSION
from chiptwin.trace.mapping_table import MAPPING_SCHEMA_VERSION
from chiptwin.trace.schema import SCHEMA_VERSION, SCHEMAS

__all__ = [
    "MANIFEST_FILE",
    "MAPPING_FILE",
    "MAX_CELL_ID_CHARS",
    "TABLES",
    "check_cell_id",
    "check_part_schema",
    "is_complete",
    "iter_batches",
    "list_cells",
    "open_trace",
    "part_path",
    "read_manifest",
    "read_pandas",
    "read_part",
    "read_part_schema",
    "read_table",
]

MANIFEST_FILE = "manifest.json"
"""Name of the manifest in a trace directory."""

MAPPING_FILE = "mapping.parquet"
"""Name of the mapping table in a trace directory."""

TABLES = (*SCHEMAS, "mapping")
"""Every table :func:`read_table` reads: the part-file tables and the mapping table."""

MAX_CELL_ID_CHARS = 200
"""Longest cell id: the part's temporary name (``.<cell>.parquet.tmp``) must stay under 255 bytes."""

_CELL_ID = re.compile(r"[A-Za-z0-9._=+-]+")
_PART_SUFFIX = ".parquet"


def check_cell_id(cell: str) -> str:
    """Return ``cell`` if it is a valid cell id (it names a file: no path separators, not hidden).

    Raises:
        DataError: ``cell`` is empty, longer than :data:`MAX_CELL_ID_CHARS`, starts with ``.`` or holds a
            character other than letters, digits and ``. _ = + -``.
    """
    if (
        not isinstance(cell, str)
        or not _CELL_ID.fullmatch(cell)
        or cell.startswith(".")
        or len(cell) > MAX_CELL_ID_CHARS
    ):
        raise DataError(
            f"bad cell id {cell!r}: use 1 to {MAX_CELL_ID_CHARS} letters, digits and . _ = + - "
            "(no path separators), not starting with '.'"
        )
    return cell


def _check_table(table: str, valid: Sequence[str]) -> None:
    if table not in valid:
        raise DataError(f"unknown trace table {table!r} (valid: {', '.join(sorted(valid))})")


def part_path(root: Path | str, table: str, cell: str) -> Path:
    """Path of the part of ``table`` for ``cell``: ``root/<table>/<cell>.parquet``.

    Raises:
        DataError: ``table`` is not a part-file table or ``cell`` is not a valid cell id.
    """
    _check_table(table, tuple(SCHEMAS))
    return Path(root) / table / f"{check_cell_id(cell)}{_PART_SUFFIX}"


def read_part_schema(path: Path) -> pa.Schema:
    """The Arrow schema stored in the footer of the Parquet file ``path`` (the rows are not read).

    Raises:
        DataError: the file is missing, truncated or not Parquet.
    """
    check_regular_file(path, "trace part", DataError)
    try:
        return pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: not a readable Parquet part ({exc})") from None


def _describe(field: pa.Field) -> str:
    return f"{field.type}{'' if field.nullable else ' not null'}"


def check_part_schema(path: Path, table: str, schema: pa.Schema) -> None:
    """Check that ``schema``, read from ``path``, is that of ``table`` at the current schema version.

    Raises:
        DataError: the metadata names another table or schema version, or a column is missing, unknown
            or of another type (the file and the found value named).
    """
    meta = schema.metadata or {}
    found_table = meta.get(b"table", b"<none>").decode(errors="replace")
    found_version = meta.get(b"schema_version", b"<none>").decode(errors="replace")
    if found_table != table:
        raise DataError(f"{path}: part of table {found_table!r}, expected {table!r}")
    if found_version != str(SCHEMA_VERSION):
        raise DataError(
            f"{path}: schema_version {found_version!r}, this chiptwin reads {table} version {SCHEMA_VERSION}"
        )
    expected = SCHEMAS[table]
    if schema.equals(expected, check_metadata=False):
        return
    for field in expected:
        if field.name not in schema.names:
            raise DataError(f"{path}: {table} part lacks column {field.name!r}")
        found = schema.field(field.name)
        if not found.equals(field):
            raise DataError(
                f"{path}: column {field.name!r} is {_describe(found)}, expected {_describe(field)}"
            )
    extra = [name for name in schema.names if name not in expected.names]
    if extra:
        raise DataError(f"{path}: unknown column {extra[0]!r} in a {table} part")
    raise DataError(f"{path}: columns {', '.join(schema.names)} are not in the order of the {table} schema")


def read_part(path: Path, table: str) -> pa.Table:
    """Read one part file of ``table``, checked; its schema is exactly ``SCHEMAS[table]``.

    Raises:
        DataError: the file is missing or not Parquet, or its schema is not that of ``table``.
    """
    check_regular_file(path, "trace part", DataError)
    try:
        data = pq.read_table(path, partitioning=None)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: not a readable Parquet part ({exc})") from None
    check_part_schema(path, table, data.schema)
    return data.replace_schema_metadata(SCHEMAS[table].metadata)


def _trace_dir(root: Path | str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such trace directory")
    return root


_MANIFEST_TYPES: dict[str, tuple[Any, ...]] = {
    "scenario": ("an object", dict),
    "seeds": ("a list", list),
    "digital_accuracy": ("an object", dict),
    "hashes": ("an object", dict),
    "versions": ("an object", dict),
    "status": ("a string", str),
    "chip": ("a string", str),
    "chip_description": ("a string", str),
    "age_convention": ("a string", str),
    "created": ("a string", str),
    "finished": ("a string", str),
    "cells_total": ("an integer", int),
    "wall_s": ("a number", int, float),
}
"""The JSON type of each manifest entry a reader uses (name for messages, then the Python types)."""


def _is_a(value: Any, kinds: tuple[Any, ...]) -> bool:
    return isinstance(value, kinds[1:]) and not isinstance(value, bool)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def read_manifest(root: Path | str) -> dict[str, Any]:
    """Read ``root/manifest.json``.

    Raises:
        DataError: the manifest is missing, not JSON, not a JSON object, has no ``trace_version``, or
            another one than :data:`~chiptwin.trace.manifest.TRACE_VERSION`.
    """
    path = Path(root) / MANIFEST_FILE
    if not path.exists() and not path.is_symlink():
        raise DataError(f"{path}: no manifest (not a trace directory)")
    manifest = load_json(path, "manifest", DataError)
    if not isinstance(manifest, dict):
        raise DataError(f"{path}: manifest is a JSON {type(manifest).__name__}, not an object")
    for key, kinds in _MANIFEST_TYPES.items():
        if key in manifest and not _is_a(manifest[key], kinds):
            raise DataError(f"{path}: manifest entry {key!r} is {_json_type(manifest[key])}, not {kinds[0]}")
    numbers = (int, float)
    if not all(_is_a(v, ("a number", *numbers)) for v in manifest.get("digital_accuracy", {}).values()):
        raise DataError(f"{path}: manifest entry 'digital_accuracy' must map checkpoints to numbers")
    if not all(_is_a(s, ("an integer", int)) for s in manifest.get("seeds", [])):
        raise DataError(f"{path}: manifest entry 'seeds' must be a list of integers")
    if "trace_version" not in manifest:
        raise DataError(f"{path}: manifest has no 'trace_version'")
    found = manifest["trace_version"]
    if isinstance(found, bool) or found != TRACE_VERSION:
        raise DataError(f"{path}: trace_version {found!r}, this chiptwin reads version {TRACE_VERSION}")
    return manifest


def open_trace(root: Path | str) -> dict[str, Any]:
    """The manifest of the trace directory ``root``, after checking that ``root`` is one.

    The one check every reader of a whole trace makes first (reports, timelines): a missing path, a file,
    or a folder without a chiptwin manifest is refused with one line naming the path.

    Raises:
        DataError: ``root`` is not a directory, or as :func:`read_manifest`.
    """
    return read_manifest(_trace_dir(root))


def list_cells(root: Path | str, table: str = "cells") -> list[str]:
    """Ids of the cells with a part of ``table`` in ``root``, sorted (parts are not opened).

    A cell is finished once its ``cells`` part exists (the writer of a scenario writes that one last).

    Raises:
        DataError: ``root`` is not a directory or ``table`` is not a part-file table.
    """
    _check_table(table, tuple(SCHEMAS))
    folder = _trace_dir(root) / table
    if not folder.is_dir():
        return []
    return sorted(
        p.name.removesuffix(_PART_SUFFIX)
        for p in folder.iterdir()
        if p.name.endswith(_PART_SUFFIX) and not p.name.startswith(".") and p.is_file()
    )


def _read_mapping(root: Path) -> pa.Table:
    path = root / MAPPING_FILE
    try:
        data = pq.read_table(path, partitioning=None)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: cannot read the mapping table ({exc})") from None
    meta = data.schema.metadata or {}
    found = (meta.get(b"table", b"<none>").decode(), meta.get(b"schema_version", b"<none>").decode())
    if found != ("mapping", str(MAPPING_SCHEMA_VERSION)):
        raise DataError(
            f"{path}: not a mapping table of schema_version {MAPPING_SCHEMA_VERSION} "
            f"(table={found[0]!r}, schema_version={found[1]!r})"
        )
    return data


def read_table(root: Path | str, table: str, *, cells: Sequence[str] | None = None) -> pa.Table:
    """One table of the trace directory ``root``, all its parts concatenated.

    Args:
        root: the trace directory (complete or still running).
        table: ``events``, ``detail``, ``probes``, ``cells`` or ``mapping`` (the mapping table, read
            whole). ``detail`` repeats work ``events`` counts (:mod:`chiptwin.trace.schema`): sum
            energies and times over ``events`` only.
        cells: read only these cells' parts, in this order (each must exist); default: every part,
            sorted by cell id, so the same directory always gives the same table.

    Returns:
        A table whose schema is exactly ``SCHEMAS[table]`` (an empty one when there is no part yet); for
        ``mapping``, the stored mapping table.

    Raises:
        DataError: ``root`` is not a directory, ``table`` is unknown (the valid names listed), a part is
            not Parquet or of another table or schema version (the file named), a requested cell has no
            part, or the mapping table is missing.
    """
    _check_table(table, TABLES)
    root = _trace_dir(root)
    if table == "mapping":
        if cells is not None:
            raise DataError("read_table: the mapping table has no cells (do not pass cells=)")
        return _read_mapping(root)
    ids = list_cells(root, table) if cells is None else list(cells)
    paths = [part_path(root, table, cell) for cell in ids]
    for path in paths:
        if cells is not None and not path.is_file():
            raise DataError(f"{path}: no {table} part for cell {path.name.removesuffix(_PART_SUFFIX)!r}")
    parts = [read_part(path, table) for path in paths]
    if not parts:
        return SCHEMAS[table].empty_table()
    return pa.concat_tables(parts)


def iter_batches(
    root: Path | str,
    table: str,
    *,
    cells: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    batch_rows: int = 65_536,
) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Stream a part-file table in record batches, cell by cell: never the whole table in memory.

    Every part's schema is checked (from its footer) before its first batch is read. Batches of one cell
    come in the order the writer wrote the rows.

    Args:
        root: the trace directory.
        table: ``events``, ``detail``, ``probes`` or ``cells``.
        cells: only these cells, in this order (each must have a part); default every part, sorted.
        columns: read only these columns (default all).
        batch_rows: most rows per batch.

    Yields:
        ``(cell id, batch)`` pairs.

    Raises:
        DataError: as :func:`read_table`, or a part is cut short after its footer was read.
    """
    _check_table(table, tuple(SCHEMAS))
    root = _trace_dir(root)
    ids = list_cells(root, table) if cells is None else list(cells)
    for cell in ids:
        path = part_path(root, table, cell)
        if not path.is_file():
            raise DataError(f"{path}: no {table} part for cell {cell!r}")
        check_part_schema(path, table, read_part_schema(path))
        try:
            with pq.ParquetFile(path) as part:
                for batch in part.iter_batches(batch_size=batch_rows, columns=columns):
                    yield cell, batch
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"{path}: not a readable Parquet part ({exc})") from None


def read_pandas(root: Path | str, table: str, **kw: Any) -> Any:
    """:func:`read_table` as a pandas DataFrame (pandas is optional; dictionary columns become categoricals).

    Raises:
        ImportError: pandas is not installed.
        DataError: as :func:`read_table`.
    """
    if importlib.util.find_spec("pandas") is None:
        raise ImportError("read_pandas needs pandas (pip install pandas); read_table gives a pyarrow Table")
    return read_table(root, table, **kw).to_pandas()


def is_complete(root: Path | str) -> bool:
    """Whether the run that wrote ``root`` finished (manifest status ``complete``).

    Raises:
        DataError: as :func:`read_manifest`.
    """
    return read_manifest(root).get("status") == "complete"
