"""The tables of a trace directory: explicit, versioned pyarrow schemas.

A scenario run is split into *cells* (one checkpoint x compensation policy x seed each, or one point of
a sweep); every finished cell writes one Parquet part per table, so an interrupted run keeps every cell
it finished and a resumed run skips them. The tables:

- ``events``: one flat row per timed event (the timing layer's ``EventRecord`` plus the cell keys): the
  cell's whole run, what its energy and time totals are summed from;
- ``detail``: the same columns, a short window of the run played by the event engine, one row per
  activity (every MVM, conversion, digital job and transfer of a few inferences), for timelines. It
  repeats work the ``events`` rows already count: never add the two tables up;
- ``probes``: one row per accuracy probe (device age, policy, checkpoint, seed, accuracy);
- ``cells``: one row per cell with its latency, throughput and energy figures.

The mapping table (:mod:`chiptwin.trace.mapping_table`) is written once per trace as ``mapping.parquet``.
String columns that repeat are dictionary-encoded; ``kind`` and ``task`` are closed enumerations
(checked on write). Every schema carries ``table`` and ``schema_version`` in its metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from chiptwin.versions import TRACE_TABLES_VERSION

__all__ = [
    "CELLS_SCHEMA",
    "CELL_KEYS",
    "DETAIL_SCHEMA",
    "DYNAMIC_ENERGY_COMPONENTS",
    "ENERGY_COMPONENTS",
    "EVENTS_SCHEMA",
    "EVENT_KINDS",
    "PROBES_SCHEMA",
    "SCHEMAS",
    "SCHEMA_VERSION",
    "TASKS",
    "dynamic_energy_pj",
]

SCHEMA_VERSION = TRACE_TABLES_VERSION
"""Version of every table schema below (:data:`chiptwin.versions.TRACE_TABLES_VERSION`, with its history);
raise it there on any change of columns or meaning."""

DYNAMIC_ENERGY_COMPONENTS = ("array", "dac", "adc", "noc", "digital")
"""Energy components the inference itself draws (crossbars, converters, mesh, digital units)."""

ENERGY_COMPONENTS = (*DYNAMIC_ENERGY_COMPONENTS, "static", "compensation")
"""Energy components of a cell, each a column ``energy_<component>_pj`` (per inference) of ``cells``."""


def dynamic_energy_pj(cell: Mapping[str, Any]) -> float:
    """Dynamic energy per inference of a ``cells`` row (the sum of its dynamic components), pJ."""
    return sum(float(cell[f"energy_{c}_pj"]) for c in DYNAMIC_ENERGY_COMPONENTS)


EVENT_KINDS = (
    "arrival",
    "done",
    "mvm",
    "convert",
    "digital",
    "transfer",
    "program",
    "calibrate",
    "bn_update",
    "batch",
)
"""Allowed values of ``events.kind`` and ``detail.kind`` (the values of ``chiptwin.timing.EventKind``)."""

TASKS = ("inference", "gdc", "adabs", "program")
"""Allowed values of ``events.task`` and ``detail.task`` (the values of ``chiptwin.timing.Task``)."""

_STRING = pa.dictionary(pa.int32(), pa.string())

_CELL_FIELDS = [
    pa.field("cell", pa.string(), nullable=False),  # the cell id, also the part file name
    pa.field("checkpoint", _STRING, nullable=False),
    pa.field("policy", _STRING, nullable=False),
    pa.field("seed", pa.int64(), nullable=False),
]
CELL_KEYS = tuple(f.name for f in _CELL_FIELDS)
"""Columns every table starts with: which cell a row belongs to."""


def _schema(name: str, fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(
        [*_CELL_FIELDS, *fields], metadata={"table": name, "schema_version": str(SCHEMA_VERSION)}
    )


_EVENT_FIELDS = [
    pa.field("time_ns", pa.int64(), nullable=False),  # start on the run clock
    pa.field("duration_ns", pa.int64(), nullable=False),
    pa.field("kind", _STRING, nullable=False),  # one of EVENT_KINDS
    pa.field("task", _STRING, nullable=False),  # one of TASKS
    pa.field("job", pa.int64(), nullable=False),  # -1: none
    pa.field("layer", _STRING, nullable=False),  # "": none
    pa.field("tile", pa.int64(), nullable=False),  # -1: none or several
    pa.field("dst_tile", pa.int64(), nullable=False),
    pa.field("count", pa.int64(), nullable=False),
    pa.field("hops", pa.int64(), nullable=False),
    pa.field("op", _STRING, nullable=False),
    pa.field("energy_pj", pa.float64(), nullable=False),
]

EVENTS_SCHEMA = _schema("events", _EVENT_FIELDS)
"""One timed event per row (see ``chiptwin.timing.records.EventRecord`` for each field's meaning)."""

DETAIL_SCHEMA = _schema("detail", _EVENT_FIELDS)
"""The columns of ``events``: one activity per row of the cell's detail window (see the module
docstring; ``chiptwin.scenario.detail`` says which window). Its energies repeat what ``events`` counts."""

PROBES_SCHEMA = _schema(
    "probes",
    [
        pa.field("time_ns", pa.int64(), nullable=False),  # run clock at the probe
        pa.field("age_s", pa.float64(), nullable=False),  # device age: time since the last programming
        pa.field("accuracy", pa.float64(), nullable=False),  # fraction correct, 0..1
        pa.field("n_images", pa.int64(), nullable=False),
        pa.field("compensations", pa.int64(), nullable=False),  # passes done before this probe
        pa.field("last_compensation_ns", pa.int64(), nullable=False),  # -1: none yet
        pa.field("programmed_at_ns", pa.int64(), nullable=False),  # last (re)programming
        # Blocks the GDC pass in force left alone because they read nothing (a dead tile): no factor.
        pa.field("gdc_skipped_blocks", pa.int64(), nullable=False),
        # The age the drift law was evaluated at: age_s at the device model's reference temperature, the
        # drift-equivalent age under a scenario's [temperature] (chiptwin.device.temperature).
        pa.field("drift_age_s", pa.float64(), nullable=False),
        pa.field("temperature_c", pa.float64(), nullable=False),  # chip temperature; NaN: no law for it
    ],
)
"""One accuracy probe per row: the chip as it stands at ``time_ns`` (compensation state in force)."""

CELLS_SCHEMA = _schema(
    "cells",
    [
        pa.field("arch", _STRING, nullable=False),
        pa.field("strategy", _STRING, nullable=False),
        pa.field("tiles_used", pa.int64(), nullable=False),
        pa.field("area_mm2", pa.float64(), nullable=False),  # the whole chip (spec.figures.chip_area)
        pa.field("duration_ns", pa.int64(), nullable=False),
        pa.field("inferences", pa.int64(), nullable=False),
        pa.field("latency_single_ns", pa.int64(), nullable=False),
        pa.field("latency_mean_ns", pa.float64(), nullable=False),
        pa.field("throughput_per_s", pa.float64(), nullable=False),  # served by the workload
        pa.field("peak_throughput_per_s", pa.float64(), nullable=False),  # a saturated pipeline
        pa.field("energy_per_inference_pj", pa.float64(), nullable=False),  # total, compensation included
        pa.field("energy_array_pj", pa.float64(), nullable=False),  # per inference, by component
        pa.field("energy_dac_pj", pa.float64(), nullable=False),
        pa.field("energy_adc_pj", pa.float64(), nullable=False),
        pa.field("energy_noc_pj", pa.float64(), nullable=False),
        pa.field("energy_digital_pj", pa.float64(), nullable=False),
        pa.field("energy_static_pj", pa.float64(), nullable=False),
        pa.field("energy_compensation_pj", pa.float64(), nullable=False),  # amortised per inference
        pa.field("compensations", pa.int64(), nullable=False),
        pa.field("compensation_energy_pj", pa.float64(), nullable=False),  # all passes of the run
        pa.field("programming_energy_pj", pa.float64(), nullable=False),  # all (re)programmings and repairs
        pa.field("programming_ns", pa.int64(), nullable=False),  # all (re)programmings and repairs
        pa.field("wall_s", pa.float64(), nullable=False),  # host time the cell took
    ],
)
"""One row per cell: what serving the workload and compensating cost over the run."""

SCHEMAS = {"events": EVENTS_SCHEMA, "detail": DETAIL_SCHEMA, "probes": PROBES_SCHEMA, "cells": CELLS_SCHEMA}
"""Every part-file table of a trace, by name."""
