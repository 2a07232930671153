"""The part-file trace: round trips, atomic parts, resume, and refusal of bad rows, ids and files."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import chiptwin.trace
from chiptwin.errors import DataError
from chiptwin.trace import (
    EVENT_KINDS,
    SCHEMAS,
    TASKS,
    MappingRecord,
    TraceWriter,
    is_complete,
    list_cells,
    read_manifest,
    read_pandas,
    read_table,
    write_mapping_table,
)

SCENARIO = {"name": "drift", "policies": [{"name": "gdc", "every_s": 60.0}, {"name": "none"}], "seeds": [0]}


def _manifest(scenario: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"trace_version": 1, "scenario": scenario or SCENARIO, "seeds": [0]}


def _rows(table: str, cell: str, n: int) -> list[dict[str, Any]]:
    """``n`` rows of ``table`` with a distinct, deterministic value in every column."""
    rows = []
    for i in range(n):
        row: dict[str, Any] = {}
        for field in SCHEMAS[table]:
            if field.name == "cell":
                row[field.name] = cell
            elif field.name == "kind":
                row[field.name] = EVENT_KINDS[i % len(EVENT_KINDS)]
            elif field.name == "task":
                row[field.name] = TASKS[i % len(TASKS)]
            elif pa.types.is_dictionary(field.type):
                row[field.name] = f"{field.name}{i % 3}"
            elif pa.types.is_integer(field.type):
                row[field.name] = i * 1_000_003 - 1 + len(field.name)
            else:
                row[field.name] = i / 3 + 0.25
        rows.append(row)
    return rows


@pytest.fixture
def writer(tmp_path: Path) -> TraceWriter:
    return TraceWriter(tmp_path / "trace", _manifest())


def test_public_names_are_exported() -> None:
    assert {
        "TraceWriter",
        "build_manifest",
        "file_sha256",
        "read_manifest",
        "read_table",
        "read_pandas",
    } <= set(chiptwin.trace.__all__)
    assert {"list_cells", "is_complete", "TRACE_VERSION", "SCHEMAS"} <= set(chiptwin.trace.__all__)
    assert all(hasattr(chiptwin.trace, name) for name in chiptwin.trace.__all__)


@pytest.mark.parametrize("table", sorted(SCHEMAS))
def test_round_trip_keeps_rows_types_and_cell_order(writer: TraceWriter, table: str) -> None:
    # Written out of order: the reader sorts parts by cell id.
    b_rows, a_rows = _rows(table, "b.gdc.seed1", 4), _rows(table, "a.none.seed0", 3)
    writer.write_part(table, "b.gdc.seed1", b_rows)
    path = writer.write_part(table, "a.none.seed0", a_rows)
    assert path == writer.root / table / "a.none.seed0.parquet"
    data = read_table(writer.root, table)
    assert data.schema.equals(SCHEMAS[table], check_metadata=True)
    assert data.to_pylist() == a_rows + b_rows
    assert data.schema.field("policy").type == pa.dictionary(pa.int32(), pa.string())
    assert pq.read_schema(path).metadata == {b"table": table.encode(), b"schema_version": b"4"}
    assert read_table(writer.root, table, cells=["b.gdc.seed1"]).to_pylist() == b_rows
    assert list_cells(writer.root, table) == ["a.none.seed0", "b.gdc.seed1"]
    assert writer.has_part(table, "a.none.seed0") and not writer.has_part(table, "c")


def test_empty_parts_and_empty_directory_give_the_schema(writer: TraceWriter) -> None:
    assert read_table(writer.root, "events").schema.equals(SCHEMAS["events"], check_metadata=True)
    writer.write_part("events", "c0", [])
    data = read_table(writer.root, "events")
    assert data.num_rows == 0 and data.schema.equals(SCHEMAS["events"], check_metadata=True)
    assert list_cells(writer.root, "events") == ["c0"] and list_cells(writer.root) == []


def test_arrow_table_rows_are_cast_to_the_schema(writer: TraceWriter) -> None:
    rows = _rows("probes", "c0", 3)
    plain = pa.Table.from_pylist(rows)  # strings as plain strings, integers as int64, in any order
    plain = plain.select(list(reversed(plain.column_names)))
    writer.write_part("probes", "c0", plain)
    assert read_table(writer.root, "probes").to_pylist() == rows
    with pytest.raises(DataError, match="column 'n_images' cannot be stored as int64"):
        writer.write_part("probes", "c1", pa.Table.from_pylist([{**rows[0], "n_images": 1.5}]))
    with pytest.raises(DataError, match="column 'policy' holds int64 values"):
        writer.write_part("probes", "c1", pa.Table.from_pylist([{**rows[0], "policy": 3}]))
    with pytest.raises(DataError, match="column 'n_images' holds bool values, expected int64"):
        writer.write_part("probes", "c1", pa.Table.from_pylist([{**rows[0], "n_images": True}]))
    with pytest.raises(DataError, match="table lacks column 'accuracy'"):
        writer.write_part("probes", "c1", plain.drop_columns(["accuracy"]))


def test_a_failed_rename_leaves_no_part_and_tmp_files_are_ignored(
    writer: TraceWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(src: object, dst: object) -> None:
        raise OSError("disk pulled")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk pulled"):
        writer.write_part("cells", "c0", _rows("cells", "c0", 1))
    monkeypatch.undo()
    assert list((writer.root / "cells").iterdir()) == []  # neither the part nor its temporary file
    assert not writer.has_part("cells", "c0")
    # What a killed process leaves: a whole and a half-written temporary file. Neither is a part.
    good = writer.write_part("cells", "c1", _rows("cells", "c1", 1))
    (writer.root / "cells" / ".c2.parquet.tmp").write_bytes(good.read_bytes())
    (writer.root / "cells" / ".c3.parquet.tmp").write_bytes(good.read_bytes()[:100])
    assert list_cells(writer.root) == ["c1"]
    assert read_table(writer.root, "cells").column("cell").to_pylist() == ["c1"]
    writer.close()  # the killed process's lock goes with it
    TraceWriter(writer.root, _manifest(), resume=True)  # a resumed run clears them
    assert sorted(p.name for p in (writer.root / "cells").iterdir()) == ["c1.parquet"]


def test_a_truncated_part_is_refused_then_dropped(writer: TraceWriter) -> None:
    path = writer.write_part("events", "c0", _rows("events", "c0", 20))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"c0\.parquet: not a readable Parquet part"):
        read_table(writer.root, "events")
    assert not writer.has_part("events", "c0")
    assert not path.exists()  # deleted, so the resumed run writes the cell again
    assert read_table(writer.root, "events").num_rows == 0


def test_a_part_that_is_not_parquet_is_named(writer: TraceWriter) -> None:
    (writer.root / "probes").mkdir()
    (writer.root / "probes" / "c0.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"probes/c0\.parquet: not a readable Parquet part"):
        read_table(writer.root, "probes")


def _write_raw(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def test_parts_of_another_version_table_or_shape_are_refused(writer: TraceWriter) -> None:
    good = pa.Table.from_pylist(_rows("probes", "c0", 2), schema=SCHEMAS["probes"])
    old = writer.root / "probes" / "c0.parquet"
    _write_raw(old, good.replace_schema_metadata({"table": "probes", "schema_version": "99"}))
    with pytest.raises(DataError, match=r"c0\.parquet: schema_version '99'"):
        read_table(writer.root, "probes")
    assert not writer.has_part("probes", "c0") and old.exists()  # left for write_part to replace
    writer.write_part("probes", "c0", _rows("probes", "c0", 2))
    assert writer.has_part("probes", "c0")

    _write_raw(writer.root / "events" / "c0.parquet", good)
    with pytest.raises(DataError, match=r"events/c0\.parquet: part of table 'probes', expected 'events'"):
        read_table(writer.root, "events")

    short = good.drop_columns(["accuracy"]).replace_schema_metadata(SCHEMAS["probes"].metadata)
    _write_raw(writer.root / "probes" / "c1.parquet", short)
    with pytest.raises(DataError, match=r"c1\.parquet: probes part lacks column 'accuracy'"):
        read_table(writer.root, "probes")

    (writer.root / "probes" / "c1.parquet").unlink()
    wider = good.append_column("colour", pa.array(["red", "blue"]))
    _write_raw(
        writer.root / "probes" / "c2.parquet", wider.replace_schema_metadata(SCHEMAS["probes"].metadata)
    )
    with pytest.raises(DataError, match=r"c2\.parquet: unknown column 'colour' in a probes part"):
        read_table(writer.root, "probes")
    (writer.root / "probes" / "c2.parquet").unlink()
    shuffled = good.select(list(reversed(good.column_names))).replace_schema_metadata(
        SCHEMAS["probes"].metadata
    )
    _write_raw(writer.root / "probes" / "c3.parquet", shuffled)
    with pytest.raises(
        DataError, match=r"c3\.parquet: columns temperature_c, drift_age_s, .* are not in the order"
    ):
        read_table(writer.root, "probes")
    (writer.root / "probes" / "c3.parquet").unlink()
    narrow = good.set_column(6, "accuracy", good.column("accuracy").cast(pa.float32()))
    _write_raw(
        writer.root / "probes" / "c4.parquet", narrow.replace_schema_metadata(SCHEMAS["probes"].metadata)
    )
    with pytest.raises(DataError, match=r"c4\.parquet: column 'accuracy' is float, expected double not null"):
        read_table(writer.root, "probes")

    _write_raw(writer.root / "cells" / "c0.parquet", pa.table({"a": [1]}))
    with pytest.raises(DataError, match=r"c0\.parquet: part of table '<none>'"):
        read_table(writer.root, "cells")


def test_resume_keeps_parts_and_refuses_another_scenario(tmp_path: Path) -> None:
    root = tmp_path / "trace"
    first = TraceWriter(root, _manifest())
    rows = _rows("cells", "c0", 1)
    first.write_part("cells", "c0", rows)  # then the run is interrupted: no finish
    with pytest.raises(DataError, match=r"another chiptwin writer .* is writing this trace directory"):
        TraceWriter(root, _manifest(), resume=True)  # while it runs, nobody else may write
    first.close()  # the process ends, and the kernel releases its lock
    again = TraceWriter(root, _manifest(json.loads(json.dumps(SCENARIO))), resume=True)
    assert again.has_part("cells", "c0") and read_table(root, "cells").to_pylist() == rows
    assert read_manifest(root)["status"] == "running"
    again.close()
    TraceWriter(root, _manifest({**SCENARIO, "seeds": (0,)}), resume=True)  # a tuple is stored as a list

    other = {**SCENARIO, "policies": [{"name": "gdc", "every_s": 120.0}, {"name": "none"}]}
    with pytest.raises(
        DataError, match=r"scenario\.policies\[0\]\.every_s is 120\.0, the stored run has 60\.0"
    ):
        TraceWriter(root, _manifest(other), resume=True)
    with pytest.raises(DataError, match=r"scenario\.seeds\[1\] is 1, the stored run has missing"):
        TraceWriter(root, _manifest({**SCENARIO, "seeds": [0, 1]}), resume=True)
    with pytest.raises(DataError, match=r"scenario\.extra is True"):
        TraceWriter(root, _manifest({**SCENARIO, "extra": True}), resume=True)
    assert read_table(root, "cells").to_pylist() == rows  # the refused writers touched nothing


def test_a_new_run_refuses_a_directory_with_parts(tmp_path: Path) -> None:
    root = tmp_path / "trace"
    TraceWriter(root, _manifest())
    TraceWriter(root, _manifest())  # a manifest alone (no finished cell) is started afresh
    TraceWriter(root, _manifest()).write_part("probes", "c0", [])
    with pytest.raises(
        DataError, match=r"trace directory already holds a run \(use resume or another --out\)"
    ):
        TraceWriter(root, _manifest())
    (root / "manifest.json").unlink()
    with pytest.raises(DataError, match=r"holds parts but no manifest\.json"):
        TraceWriter(root, _manifest(), resume=True)


def test_the_root_must_be_a_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match="cannot create the trace directory"):
        TraceWriter(tmp_path / "file", _manifest())
    with pytest.raises(DataError, match="no such trace directory"):
        read_table(tmp_path / "missing", "cells")
    with pytest.raises(DataError, match="trace_version 2, this writer writes 1"):
        TraceWriter(tmp_path / "t", {"trace_version": 2, "scenario": {}})


@pytest.mark.parametrize("cell", ["../x", "", "a/b", "a\\b", ".hidden", "a b", "x" * 201])
def test_bad_cell_ids_are_refused(writer: TraceWriter, cell: str) -> None:
    with pytest.raises(DataError, match="bad cell id"):
        writer.write_part("cells", cell, [])
    with pytest.raises(DataError, match="bad cell id"):
        writer.has_part("cells", cell)
    with pytest.raises(DataError, match="bad cell id"):
        read_table(writer.root, "cells", cells=[cell])
    assert not (writer.root.parent / "x.parquet").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"op": None}, "column 'op' has 1 missing values"),
        ({"tile": "3"}, "column 'tile': values cannot be converted"),
        ({"time_ns": 2.5}, "column 'time_ns' cannot be stored as int64"),
        ({"count": True}, "column 'count': values cannot be converted"),
        ({"kind": "teleport"}, "kind 'teleport' is not one of arrival, done"),
        ({"task": "training"}, "task 'training' is not one of inference"),
        ({"cell": "other"}, "column 'cell' holds 'other', not the part's cell 'c0'"),
        ({"colour": "red"}, "row 1 has unknown column 'colour'"),
    ],
)
def test_bad_rows_are_refused_with_the_name(
    writer: TraceWriter, change: dict[str, Any], message: str
) -> None:
    rows = _rows("events", "c0", 2)
    rows[1] |= change
    with pytest.raises(DataError, match=message):
        writer.write_part("events", "c0", rows)
    assert not writer.has_part("events", "c0")


def test_a_missing_column_or_bad_table_is_named(writer: TraceWriter) -> None:
    rows = _rows("cells", "c0", 1)
    del rows[0]["energy_adc_pj"]
    with pytest.raises(DataError, match="row 0 lacks column 'energy_adc_pj'"):
        writer.write_part("cells", "c0", rows)
    with pytest.raises(DataError, match="row 0 is a list, not a mapping"):
        writer.write_part("cells", "c0", [[1, 2]])
    unknown = r"unknown trace table 'event' \(valid: cells, detail, events, probes\)"
    with pytest.raises(DataError, match=unknown):
        writer.write_part("event", "c0", [])
    with pytest.raises(
        DataError, match=r"unknown trace table 'event' \(valid: cells, detail, events, mapping, probes\)"
    ):
        read_table(writer.root, "event")


def test_finish_marks_the_trace_complete(writer: TraceWriter) -> None:
    assert not is_complete(writer.root)
    writer.write_part("cells", "c0", _rows("cells", "c0", 1))
    written = writer.finish(wall_s=12.5)
    manifest = read_manifest(writer.root)
    assert manifest == written and is_complete(writer.root)
    assert manifest["status"] == "complete" and manifest["wall_s"] == 12.5
    assert manifest["finished"].endswith("+00:00") and manifest["scenario"] == SCENARIO
    assert not list(writer.root.glob(".*.tmp"))
    with pytest.raises(DataError, match="the trace is finished"):
        writer.write_part("cells", "c1", [])
    with pytest.raises(DataError, match=r"finish\.wall_s = nan is not a finite number"):
        TraceWriter(writer.root.parent / "t2", _manifest()).finish(wall_s=float("nan"))


def test_requested_cells_must_exist(writer: TraceWriter) -> None:
    writer.write_part("probes", "c0", _rows("probes", "c0", 1))
    with pytest.raises(DataError, match=r"c1\.parquet: no probes part for cell 'c1'"):
        read_table(writer.root, "probes", cells=["c0", "c1"])


def _mapping_record(layer: str) -> MappingRecord:
    return MappingRecord(
        model="m", chip="tiny_4", strategy="dense", layer=layer, layer_index=0, kind="conv", block=0,
        replica=0, replicas=1, tile=0, mesh_row=0, mesh_col=0, row_start=0, row_stop=36, col_start=0,
        col_stop=16, row_offset=0, col_offset=0, mvm_start=0, mvm_stop=16, tile_rows=64, tile_cols=32,
        chip_tiles=4, mesh_rows=2, mesh_cols=2,
    )  # fmt: skip


def test_the_mapping_table_is_read_through_read_table(writer: TraceWriter) -> None:
    with pytest.raises(DataError, match=r"mapping\.parquet: cannot read the mapping table"):
        read_table(writer.root, "mapping")
    write_mapping_table([_mapping_record("conv")], writer.root / "mapping.parquet")
    data = read_table(writer.root, "mapping")
    assert data.num_rows == 1 and data.column("layer").to_pylist() == ["conv"]
    with pytest.raises(DataError, match="the mapping table has no cells"):
        read_table(writer.root, "mapping", cells=["c0"])


def test_the_mapping_table_is_replaced_atomically(
    writer: TraceWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer.write_mapping([_mapping_record("conv")])

    def crash(src: object, dst: object) -> None:
        raise OSError("disk pulled")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk pulled"):
        writer.write_mapping([_mapping_record("fc")])
    monkeypatch.undo()
    assert read_table(writer.root, "mapping").column("layer").to_pylist() == ["conv"]  # the old one, whole
    assert not list(writer.root.glob(".*.tmp"))
    (writer.root / ".mapping.parquet.tmp").write_bytes(b"PAR1")  # what a killed process leaves
    writer.close()
    TraceWriter(writer.root, _manifest(), resume=True)  # a resumed run clears it
    assert not list(writer.root.glob(".*.tmp"))
    writer.finish()
    with pytest.raises(DataError, match=r"mapping\.parquet: the trace is finished"):
        writer.write_mapping([])


def test_read_pandas_without_pandas_says_so(writer: TraceWriter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if not installed
    with pytest.raises(ImportError, match=r"read_pandas needs pandas \(pip install pandas\)"):
        read_pandas(writer.root, "probes")


def test_read_pandas_gives_a_frame(writer: TraceWriter) -> None:
    # pandas is in the dev extras, so this runs wherever the suite does (the README advertises it).
    rows = _rows("probes", "c0", 2) + _rows("probes", "c1", 3)
    writer.write_part("probes", "c0", rows[:2])
    writer.write_part("probes", "c1", rows[2:])
    frame = read_pandas(writer.root, "probes")
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == SCHEMAS["probes"].names and len(frame) == 5
    assert list(frame["cell"]) == ["c0", "c0", "c1", "c1", "c1"]
    assert list(frame["policy"]) == ["policy0", "policy1", "policy0", "policy1", "policy2"]
    assert isinstance(frame["policy"].dtype, pd.CategoricalDtype)  # dictionary columns -> categoricals
    assert frame["time_ns"].dtype == "int64" and list(frame["time_ns"]) == [r["time_ns"] for r in rows]
    assert list(frame["accuracy"]) == [r["accuracy"] for r in rows]
    one = read_pandas(writer.root, "probes", cells=["c1"])  # keywords go to read_table
    assert list(one["cell"]) == ["c1"] * 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "manifest is not valid JSON"),
        ("[1, 2]", "manifest is a JSON list, not an object"),
        ('{"status": "complete"}', "manifest has no 'trace_version'"),
        ('{"trace_version": 2}', "trace_version 2, this chiptwin reads version 1"),
        ('{"trace_version": true}', "trace_version True"),
    ],
)
def test_bad_manifests_are_refused(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(DataError, match=message):
        read_manifest(tmp_path)
    with pytest.raises(DataError, match=message):
        is_complete(tmp_path)


def test_a_missing_manifest_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"manifest\.json: no manifest \(not a trace directory\)"):
        read_manifest(tmp_path)


def test_energy_components_are_the_cells_energy_columns() -> None:
    from chiptwin.trace.schema import (
        CELLS_SCHEMA,
        DYNAMIC_ENERGY_COMPONENTS,
        ENERGY_COMPONENTS,
        dynamic_energy_pj,
    )

    columns = [
        f.name for f in CELLS_SCHEMA if f.name.startswith("energy_") and f.name != "energy_per_inference_pj"
    ]
    assert columns == [f"energy_{c}_pj" for c in ENERGY_COMPONENTS]
    row = {f"energy_{c}_pj": float(2**i) for i, c in enumerate(ENERGY_COMPONENTS)}
    assert (
        len(DYNAMIC_ENERGY_COMPONENTS) == 5 and dynamic_energy_pj(row) == 1 + 2 + 4 + 8 + 16
    )  # not static, compensation
