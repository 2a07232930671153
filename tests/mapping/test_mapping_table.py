"""The mapping table: explicit versioned schema, round trip, and refusal of foreign files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chiptwin.errors import DataError
from chiptwin.trace.mapping_table import (
    MAPPING_SCHEMA,
    MAPPING_SCHEMA_VERSION,
    MappingRecord,
    read_mapping_table,
    write_mapping_table,
)


def _record(**overrides: object) -> MappingRecord:
    values: dict[str, object] = dict(
        model="m", chip="tiny_4", strategy="dense", layer="conv", layer_index=0, kind="conv", block=0,
        replica=0, replicas=1, tile=0, mesh_row=0, mesh_col=0, row_start=0, row_stop=36, col_start=0,
        col_stop=16, row_offset=0, col_offset=0, mvm_start=0, mvm_stop=16, tile_rows=64, tile_cols=32,
        chip_tiles=4, mesh_rows=2, mesh_cols=2,
    )  # fmt: skip
    values.update(overrides)
    return MappingRecord(**values)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    records = [_record(), _record(block=1, tile=1, mesh_col=1, row_start=36, row_stop=72)]
    path = write_mapping_table(records, tmp_path / "deep" / "mapping.parquet")
    assert read_mapping_table(path) == records
    schema = pq.read_schema(path)
    assert schema.metadata[b"schema_version"] == str(MAPPING_SCHEMA_VERSION).encode()
    assert schema.metadata[b"table"] == b"mapping"
    assert schema.field("tile").type == pa.int64()
    assert schema.field("layer").type == pa.dictionary(pa.int32(), pa.string())
    assert schema.names == MAPPING_SCHEMA.names


def test_foreign_or_old_files_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1]}), other)
    with pytest.raises(DataError, match="not a mapping table of schema_version 1"):
        read_mapping_table(other)
    with pytest.raises(DataError, match="trace part not found"):
        read_mapping_table(tmp_path / "missing.parquet")
