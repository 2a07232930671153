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
from chiptwin.limits import (
    MAX_COMPENSATION_PASSES,
    MAX_DETAIL_ROWS,
    MAX_EVENT_ROWS,
    MAX_MAPPING_ROWS,
    MAX_PROBES,
    MAX_REPLAY_ARRIVALS,
    MAX_TILES,
)
from chiptwin.trace.footer import check_parquet_rows
from chiptwin.trace.manifest import TRACE_VERSION
from chiptwin.trace.mapping_table import MAPPING_SCHEMA_VERSION
from chiptwin.trace.schema import SCHEMA_VERSION, SCHEMAS
from chiptwin.units import plural

__all__ = [
    "MANIFEST_FILE",
    "MAPPING_FILE",
    "MAX_CELL_ID_CHARS",
    "TABLES",
    "TRACE_ENTRIES",
    "check_cell_id",
    "check_part_schema",
    "is_complete",
    "iter_batches",
    "list_cells",
    "open_trace",
    "part_path",
    "part_row_limit",
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

TRACE_ENTRIES = (MANIFEST_FILE, MAPPING_FILE, *SCHEMAS)
"""The names of a trace directory's own data (no report or other output is written over or into them)."""

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


_CHUNK_S = 10.0
"""Run-clock span of one batched record of arrivals, s (``chiptwin.timing.batched.DEFAULT_CHUNK_NS``)."""

_EVENTS_PER_PASS = 8
"""Most ``events`` records of one compensation pass (a calibration read, a batch-norm update, ...; a
pass also ends a chunk of arrivals). Generous: a GDC pass records one, GDC+AdaBS two."""


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < float("inf")
    return float(value) if ok else None


def _events_limit(scenario: dict[str, Any]) -> tuple[int, str]:
    """Most ``events`` rows one cell of ``scenario`` (a manifest's entry) records, and why."""
    probes = scenario.get("probes_s")
    policies = scenario.get("policies")
    times = [_number(p) for p in probes] if isinstance(probes, list) else []
    if not times or None in times or not isinstance(policies, list) or not policies:
        return MAX_EVENT_ROWS, "the manifest names no probes or policies"
    last = max(t for t in times if t is not None)
    workload = scenario.get("workload") if isinstance(scenario.get("workload"), dict) else {}
    rate = _number(workload.get("rate_per_s")) if workload else None
    arrivals = MAX_REPLAY_ARRIVALS if rate is None else 2 * rate * last + 1000
    passes = programs = 1.0
    for policy in policies:
        policy = policy if isinstance(policy, dict) else {}
        every_s, every = _number(policy.get("every_s")), _number(policy.get("every"))
        again = _number(policy.get("reprogram_after_s"))
        if every_s is not None:
            passes = max(passes, last / every_s + 2)
        elif every is not None:
            passes = max(passes, arrivals / every + 2)
        elif policy.get("compensation") not in (None, "none"):
            passes = max(passes, MAX_COMPENSATION_PASSES)  # on a schedule the manifest does not spell out
        if again is not None:
            programs = max(programs, last / again + 2)
    chunks = last / _CHUNK_S + passes + len(times) + 2
    limit = MAX_TILES * programs + _EVENTS_PER_PASS * passes + 2 * chunks + 1000
    count = f"{plural(len(times), 'probe')} to {last:g} s"
    passes_text = plural(round(passes), "compensation pass", "compensation passes")
    programmings = plural(round(programs), "programming")
    why = f"{count}, at most {passes_text} and {programmings} of {MAX_TILES:,} tiles"
    return int(min(limit, 2**62)), why


def part_row_limit(manifest: dict[str, Any] | None, table: str) -> tuple[int, str]:
    """Most rows one part of ``table`` holds in the trace of ``manifest`` (``None``: a trace without one),
    and what the bound comes from. A part is one cell: a ``cells`` row, one ``probes`` row per probe,
    the ``detail`` of a few inferences, the ``events`` its probes and policies imply."""
    scenario = (manifest or {}).get("scenario")
    scenario = scenario if isinstance(scenario, dict) else {}
    if table == "cells":  # chiptwin writes one row per cell; a bound that small needs no manifest
        return MAX_PROBES, "chiptwin.limits.MAX_PROBES"
    if table == "probes":
        probes = scenario.get("probes_s")
        if isinstance(probes, list) and probes:
            return len(probes), f"the manifest's {len(probes)} probes"
        return MAX_PROBES, "chiptwin.limits.MAX_PROBES"
    if table == "detail":
        return MAX_DETAIL_ROWS, "chiptwin.limits.MAX_DETAIL_ROWS"
    return _events_limit(scenario)


def read_part(path: Path, table: str, max_rows: tuple[int, str] | None = None) -> pa.Table:
    """Read one part file of ``table``, checked; its schema is exactly ``SCHEMAS[table]``.

    ``max_rows``: ``(bound, why)`` on the rows its footer may declare (:func:`part_row_limit`), checked
    before a row is read; default the bound of a trace without a manifest.

    Raises:
        DataError: the file is missing or not Parquet, declares more rows than the bound, or its schema
            is not that of ``table``.
    """
    limit, why = max_rows or part_row_limit(None, table)
    check_parquet_rows(path, "trace part", limit, DataError, why)
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
    "git_commit": ("a string or null", str, type(None)),
    "device_model": ("a string", str),
    "temperature": ("a string", str),
}
"""The JSON type of each manifest entry a reader uses (name for messages, then the Python types)."""

_SCENARIO_TYPES: dict[str, tuple[Any, ...]] = {
    "name": ("a string", str),
    "arch": ("a string", str),
    "dataset": ("a string", str),
    "strategy": ("a string", str),
    "checkpoints": ("a list", list),
    "policies": ("a list", list),
    "probes_s": ("a list", list),
    "seeds": ("a list", list),
    "workload": ("an object", dict),
    "arch_overrides": ("an object", dict),
    "faults": ("an object", dict),
    "temperature": ("an object or null", dict, type(None)),
    "tile_failure": ("an object or null", dict, type(None)),
    "n_images": ("an integer", int),
}
"""The JSON type of each entry of a manifest's ``scenario`` that a reader uses."""

_SCENARIO_ITEMS: dict[str, tuple[Any, ...]] = {
    "checkpoints": ("strings", str),
    "policies": ("objects or names", dict, str),
    "probes_s": ("numbers", int, float),
    "seeds": ("integers", int),
}
"""The JSON type of the items of each list entry of a manifest's ``scenario``."""


def _is_a(value: Any, kinds: tuple[Any, ...]) -> bool:
    return isinstance(value, kinds[1:]) and not isinstance(value, bool)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _check_scenario_entry(path: Path, scenario: dict[str, Any]) -> None:
    """Refuse a manifest whose ``scenario`` holds an entry a reader uses with another JSON type."""
    for key, kinds in _SCENARIO_TYPES.items():
        if key in scenario and not _is_a(scenario[key], kinds):
            found = _json_type(scenario[key])
            raise DataError(f"{path}: manifest entry 'scenario.{key}' is {found}, not {kinds[0]}")
    for key, kinds in _SCENARIO_ITEMS.items():
        items = scenario.get(key, [])
        bad = next((i for i, item in enumerate(items) if not _is_a(item, kinds)), None)
        if bad is not None:
            raise DataError(
                f"{path}: manifest entry 'scenario.{key}' item {bad + 1} is {_json_type(items[bad])}, "
                f"not one of the {kinds[0]} it lists"
            )
    for i, policy in enumerate(scenario.get("policies", [])):
        if isinstance(policy, dict) and "name" in policy and not isinstance(policy["name"], str):
            raise DataError(
                f"{path}: manifest entry 'scenario.policies' item {i + 1}: 'name' is "
                f"{_json_type(policy['name'])}, not a string"
            )


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
    if manifest.get("git_dirty") is not None and not isinstance(manifest["git_dirty"], bool):
        raise DataError(
            f"{path}: manifest entry 'git_dirty' is {_json_type(manifest['git_dirty'])}, not a boolean"
        )
    _check_scenario_entry(path, manifest.get("scenario", {}))
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
    if not path.is_file():
        raise DataError(f"{path}: cannot read the mapping table (no such file)")
    why, unreadable = "chiptwin.limits.MAX_MAPPING_ROWS", "cannot read the mapping table"
    check_parquet_rows(path, "trace part", MAX_MAPPING_ROWS, DataError, why, unreadable)
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


def _manifest_if_any(root: Path) -> dict[str, Any] | None:
    """The manifest of ``root``, or ``None`` when it has none yet (a run's first moments, a hand-made
    trace); a manifest that is there but unreadable is refused (:func:`read_manifest`)."""
    path = root / MANIFEST_FILE
    return read_manifest(root) if path.exists() or path.is_symlink() else None


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
    limit = part_row_limit(_manifest_if_any(root), table)
    parts = [read_part(path, table, limit) for path in paths]
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
    limit = part_row_limit(_manifest_if_any(root), table)
    for cell in ids:
        path = part_path(root, table, cell)
        if not path.is_file():
            raise DataError(f"{path}: no {table} part for cell {cell!r}")
        check_part_schema(path, table, read_part_schema(path))
        check_parquet_rows(path, "trace part", limit[0], DataError, limit[1])
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
