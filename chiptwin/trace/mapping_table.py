"""The mapping table: one flat row per placed block replica, written as Parquet.

Each row says which rectangle of which layer's unrolled weight matrix sits where on which crossbar, so
the table alone (no chiptwin code) answers "where does every weight live". The pyarrow schema is explicit
and carries ``schema_version`` and ``table`` in its metadata; readers check the version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from chiptwin.errors import DataError
from chiptwin.limits import MAX_MAPPING_ROWS
from chiptwin.trace.footer import check_parquet_rows
from chiptwin.versions import MAPPING_TABLE_VERSION

__all__ = [
    "MAPPING_SCHEMA",
    "MAPPING_SCHEMA_VERSION",
    "MappingRecord",
    "build_mapping_table",
    "read_mapping_table",
    "write_mapping_table",
]

MAPPING_SCHEMA_VERSION = MAPPING_TABLE_VERSION
"""Version of :data:`MAPPING_SCHEMA` (:mod:`chiptwin.versions`); raise it there on any change of columns or
meaning."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingRecord:
    """One replica of one weight block on one crossbar (a row of the mapping table)."""

    model: str
    chip: str
    strategy: str
    layer: str
    """Layer name (qualified module name)."""

    layer_index: int
    """Position of the layer among the analog layers, in topological order (0 = first)."""

    kind: str
    """``conv`` or ``linear``."""

    block: int
    """Block index within the layer."""

    replica: int
    replicas: int
    """Replicas of the layer (1 unless replicated)."""

    tile: int
    mesh_row: int
    mesh_col: int
    row_start: int
    """First row of the block in the layer's unrolled weight matrix."""

    row_stop: int
    col_start: int
    col_stop: int
    row_offset: int
    """Crossbar weight row of the block's first row."""

    col_offset: int
    mvm_start: int
    """First output position (MVM) per image this replica computes."""

    mvm_stop: int
    tile_rows: int
    """Weight rows of one crossbar."""

    tile_cols: int
    """Weight columns of one crossbar."""

    chip_tiles: int
    """Tiles on the chip."""

    mesh_rows: int
    mesh_cols: int


_STRING = pa.dictionary(pa.int32(), pa.string())
_TYPES = {"model": _STRING, "chip": _STRING, "strategy": _STRING, "layer": _STRING, "kind": _STRING}

MAPPING_SCHEMA = pa.schema(
    [pa.field(f.name, _TYPES.get(f.name, pa.int64()), nullable=False) for f in fields(MappingRecord)],
    metadata={"schema_version": str(MAPPING_SCHEMA_VERSION), "table": "mapping"},
)
"""pyarrow schema of the mapping table (string columns dictionary-encoded, integers int64)."""


def build_mapping_table(records: Sequence[MappingRecord]) -> pa.Table:
    """``records`` as a table of :data:`MAPPING_SCHEMA` (one row per record, in order)."""
    columns = list(zip(*(astuple(r) for r in records), strict=True)) or [() for _ in MAPPING_SCHEMA]
    return pa.Table.from_arrays(
        [pa.array(list(col), type=field.type) for col, field in zip(columns, MAPPING_SCHEMA, strict=True)],
        schema=MAPPING_SCHEMA,
    )


def write_mapping_table(records: Sequence[MappingRecord], path: Path | str) -> Path:
    """Write ``records`` to the Parquet file ``path`` (parent folders created); returns the path.

    A plain write: a crash can leave half a file. A run's trace writes its mapping table atomically
    through :meth:`chiptwin.trace.writer.TraceWriter.write_mapping`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(build_mapping_table(records), path)
    return path


def read_mapping_table(path: Path | str) -> list[MappingRecord]:
    """Read a mapping table written by :func:`write_mapping_table`.

    Raises:
        DataError: the file is missing, not Parquet, declares more than
            :data:`~chiptwin.limits.MAX_MAPPING_ROWS` rows, not a mapping table, or of another schema version.
    """
    path = Path(path)
    why, unreadable = "chiptwin.limits.MAX_MAPPING_ROWS", "cannot read the mapping table"
    check_parquet_rows(path, "trace part", MAX_MAPPING_ROWS, DataError, why, unreadable)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: cannot read the mapping table ({exc})") from None
    meta = table.schema.metadata or {}
    version = meta.get(b"schema_version", b"?").decode()
    if meta.get(b"table") != b"mapping" or version != str(MAPPING_SCHEMA_VERSION):
        raise DataError(
            f"{path}: not a mapping table of schema_version {MAPPING_SCHEMA_VERSION} "
            f"(table={meta.get(b'table', b'?').decode()!r}, schema_version={version!r})"
        )
    return [MappingRecord(**row) for row in table.to_pylist()]
