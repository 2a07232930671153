"""Traces: flat typed records and their Parquet tables, with explicit versioned pyarrow schemas.

Imports pyarrow (and the units and errors modules) only. A run writes a trace directory through
:class:`TraceWriter` (manifest first, then one part per finished cell and table); anything reads it back
without the code that wrote it::

    writer = TraceWriter(out, build_manifest(scenario=..., files=..., seeds=...), resume=False)
    writer.write_part("probes", cell, rows)
    writer.finish()
    probes = read_table(out, "probes")         # every finished cell, one pyarrow Table
"""

from chiptwin.trace.manifest import TRACE_VERSION, build_manifest, file_sha256
from chiptwin.trace.mapping_table import (
    MAPPING_SCHEMA,
    MAPPING_SCHEMA_VERSION,
    MappingRecord,
    read_mapping_table,
    write_mapping_table,
)
from chiptwin.trace.reader import (
    TABLES,
    is_complete,
    iter_batches,
    list_cells,
    open_trace,
    read_manifest,
    read_pandas,
    read_table,
)
from chiptwin.trace.schema import (
    CELL_KEYS,
    CELLS_SCHEMA,
    DETAIL_SCHEMA,
    EVENT_KINDS,
    EVENTS_SCHEMA,
    PROBES_SCHEMA,
    SCHEMA_VERSION,
    SCHEMAS,
    TASKS,
)
from chiptwin.trace.writer import TraceWriter

__all__ = [
    "CELLS_SCHEMA",
    "CELL_KEYS",
    "DETAIL_SCHEMA",
    "EVENTS_SCHEMA",
    "EVENT_KINDS",
    "MAPPING_SCHEMA",
    "MAPPING_SCHEMA_VERSION",
    "PROBES_SCHEMA",
    "SCHEMAS",
    "SCHEMA_VERSION",
    "TABLES",
    "TASKS",
    "TRACE_VERSION",
    "MappingRecord",
    "TraceWriter",
    "build_manifest",
    "file_sha256",
    "is_complete",
    "iter_batches",
    "list_cells",
    "open_trace",
    "read_manifest",
    "read_mapping_table",
    "read_pandas",
    "read_table",
    "write_mapping_table",
]
