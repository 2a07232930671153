"""Read and write measurement files (Parquet or CSV) of ``chiptwin fit-device``.

The columns are those of :data:`chiptwin.device.measurements.MEASUREMENT_COLUMNS`; other columns are
ignored. A file starting with Parquet's magic bytes ``PAR1`` is read as Parquet, any other as CSV (a
header line, then one read per line). Row numbers in messages count data rows from 1 (in a CSV file, row
1 is the line after the header). Numbers in a CSV file, or in a Parquet string column, are parsed as
Python's ``float`` does; the device layer then checks every value
(:func:`~chiptwin.device.measurements.check_measurements`).

Every problem is a :class:`~chiptwin.errors.DataError` naming the file, and the row and column where
there is one: a missing column, an empty cell, a value that is not a number, a ragged CSV line.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from chiptwin.device.measurements import (
    DEVICE_ID,
    G_READ,
    G_TARGET,
    MEASUREMENT_COLUMNS,
    REQUIRED_COLUMNS,
    TEMPERATURE,
    TIME,
    DeviceMeasurements,
)
from chiptwin.errors import DataError
from chiptwin.files import check_regular_file, describe_os_error
from chiptwin.limits import MAX_MEASUREMENT_ROWS
from chiptwin.versions import MEASUREMENT_FILE_VERSION

__all__ = ["KIND", "MEASUREMENT_SCHEMA_VERSION", "read_measurements", "write_measurements"]

KIND = "measurement file"
"""The file kind of :data:`chiptwin.files.SIZE_LIMITS`."""

MEASUREMENT_SCHEMA_VERSION = MEASUREMENT_FILE_VERSION
"""Version of a written measurement file's columns (in its Parquet metadata; :mod:`chiptwin.versions`)."""

_PARQUET_MAGIC = b"PAR1"

_HEAD_BYTES = 65536
"""Bytes read first: Parquet's magic, and a UTF-8 check of the start of a CSV file (a binary file is
refused as such rather than as ragged lines)."""


def _columns_note() -> str:
    return ", ".join(MEASUREMENT_COLUMNS)


def _first_null(column: pa.ChunkedArray) -> int | None:
    if column.null_count == 0:
        return None
    return int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])


def _numbers(path: Path, name: str, column: pa.ChunkedArray) -> np.ndarray:
    """A numeric or string column as float64; the first cell that is not a number is refused by row."""
    row = _first_null(column)
    if row is not None:
        raise DataError(f"{path}: row {row + 1}: {name} is empty")
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = kind.value_type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return np.asarray(column.to_numpy(), dtype=np.float64)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise DataError(f"{path}: row 1: {name} holds {kind} values; it must hold numbers")
    try:
        return np.asarray(pc.cast(column, pa.float64()).to_numpy(), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass  # Arrow refuses " 2" and "1_000"; Python's float is the rule, and names the bad cell
    text = column.to_pylist()
    values = np.empty(len(text), dtype=np.float64)
    for i, cell in enumerate(text):
        try:
            values[i] = float(cell)
        except ValueError:
            raise DataError(f"{path}: row {i + 1}: {name}(={cell!r}) must be a number") from None
    return values


def _device_ids(path: Path, column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Each read's device as an index, and the distinct ids in first-seen order."""
    row = _first_null(column)
    if row is not None:
        raise DataError(f"{path}: row {row + 1}: {DEVICE_ID} is empty")
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if not (pa.types.is_integer(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise DataError(f"{path}: row 1: {DEVICE_ID} holds {kind} values; it must hold integers or strings")
    encoded = column.combine_chunks()
    if not pa.types.is_dictionary(encoded.type):
        encoded = encoded.dictionary_encode()
    ids = np.asarray(encoded.dictionary.to_numpy(zero_copy_only=False))
    index = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    # Parquet dictionaries may hold unused or repeated values; keep the ids that occur, in first-seen order.
    used, first, inverse = np.unique(ids[index], return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse].astype(np.int64), used[order]


def _read_csv(path: Path, head: bytes) -> pa.Table:
    """The CSV file as a table of text columns (``head``: its first bytes, for the UTF-8 check)."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: {KIND} is neither Parquet nor UTF-8 CSV text (byte {exc.start})") from None
    # Every cell as text, only an empty cell null: "nan" must reach the value checks as NaN.
    convert = pcsv.ConvertOptions(
        column_types=dict.fromkeys(MEASUREMENT_COLUMNS, pa.string()),
        null_values=[""],
        strings_can_be_null=True,
    )
    try:
        return pcsv.read_csv(path, convert_options=convert)
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            raise DataError(f"{path}: {KIND} is empty (no header; columns: {_columns_note()})") from None
        problem = exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read {KIND} ({describe_os_error(exc)})") from None
    # A ragged line: read again on one thread, where Arrow names the line (the header is line 1).
    try:
        pcsv.read_csv(path, read_options=pcsv.ReadOptions(use_threads=False), convert_options=convert)
    except pa.ArrowInvalid as exc:
        problem = exc
    line = re.search(r"Row #(\d+): Expected \d+ columns", str(problem))
    if line is not None and int(line[1]) > 1:
        raise DataError(
            f"{path}: row {int(line[1]) - 1}: the line has another number of cells than the header"
        )
    raise DataError(f"{path}: cannot read CSV {KIND} ({' '.join(str(problem).split())})") from None


def _read_parquet(path: Path) -> pa.Table:
    try:
        rows = pq.read_metadata(path).num_rows
        if rows > MAX_MEASUREMENT_ROWS:
            raise DataError(
                f"{path}: {rows:,} reads; a {KIND} holds at most {MAX_MEASUREMENT_ROWS:,} "
                "(chiptwin.limits.MAX_MEASUREMENT_ROWS)"
            )
        names = pq.read_schema(path).names
        return pq.read_table(path, columns=[c for c in MEASUREMENT_COLUMNS if c in names])
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: cannot read Parquet {KIND} ({' '.join(str(exc).split())})") from None


def read_measurements(path: Path | str) -> DeviceMeasurements:
    """The reads of a Parquet or CSV measurement file (values not yet checked; see the module docstring).

    Raises:
        DataError: not a regular file, larger than any measurement file, empty, not Parquet or CSV, a
            required column missing, more than ``MAX_MEASUREMENT_ROWS`` reads, an empty cell or a cell
            that is not a number (named by row and column).
    """
    path = Path(path)
    check_regular_file(path, KIND, DataError)
    try:
        with path.open("rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError as exc:
        raise DataError(f"{path}: cannot read {KIND} ({describe_os_error(exc)})") from None
    table = _read_parquet(path) if head.startswith(_PARQUET_MAGIC) else _read_csv(path, head)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise DataError(
            f"{path}: column {missing[0]} is missing (the file has: "
            f"{', '.join(table.column_names) or 'none'}; a {KIND} has {_columns_note()})"
        )
    if table.num_rows > MAX_MEASUREMENT_ROWS:
        raise DataError(
            f"{path}: {table.num_rows:,} reads; a {KIND} holds at most {MAX_MEASUREMENT_ROWS:,} "
            "(chiptwin.limits.MAX_MEASUREMENT_ROWS)"
        )
    if table.num_rows == 0:
        raise DataError(f"{path}: no reads (the {KIND} has columns and no rows)")
    device, ids = _device_ids(path, table.column(DEVICE_ID))
    has_temperature = TEMPERATURE in table.column_names
    return DeviceMeasurements(
        device=device,
        device_ids=ids,
        g_target_usiemens=_numbers(path, G_TARGET, table.column(G_TARGET)),
        t_s=_numbers(path, TIME, table.column(TIME)),
        g_usiemens=_numbers(path, G_READ, table.column(G_READ)),
        temperature_c=_numbers(path, TEMPERATURE, table.column(TEMPERATURE)) if has_temperature else None,
        source=str(path),
    )


def write_measurements(m: DeviceMeasurements, path: Path | str) -> Path:
    """Write ``m`` as Parquet, or as CSV when ``path`` ends in ``.csv``; returns ``path``."""
    path = Path(path)
    ids = m.device_ids[m.device]
    columns: dict[str, pa.Array] = {
        DEVICE_ID: pa.array(ids.tolist() if ids.dtype == object else ids),
        G_TARGET: pa.array(m.g_target_usiemens, pa.float64()),
        TIME: pa.array(m.t_s, pa.float64()),
        G_READ: pa.array(m.g_usiemens, pa.float64()),
    }
    if m.temperature_c is not None:
        columns[TEMPERATURE] = pa.array(m.temperature_c, pa.float64())
    table = pa.table(columns).replace_schema_metadata(
        {"chiptwin": KIND, "schema_version": MEASUREMENT_SCHEMA_VERSION}
    )
    if path.suffix.lower() == ".csv":
        pcsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return path
