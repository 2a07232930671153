"""Every version chiptwin has, in one place: the package's and those of the files it writes.

The package version is read from here by the build (``pyproject.toml``: ``[tool.setuptools.dynamic]``)
and printed by ``chiptwin --version``. A file format's version is raised on any change of its columns,
layout or meaning; the readers refuse a file of another version with a one-line error naming it. The
history of each is in ``CHANGELOG.md``.

>>> describe_versions()
'chiptwin 0.1.0 (trace layout 1, trace tables 4, mapping table 1, sweep results 2, measurement file 1)'
"""

from __future__ import annotations

__all__ = [
    "MAPPING_TABLE_VERSION",
    "MEASUREMENT_FILE_VERSION",
    "SWEEP_RESULTS_VERSION",
    "TRACE_LAYOUT_VERSION",
    "TRACE_TABLES_VERSION",
    "VERSION",
    "describe_versions",
]

VERSION = "0.1.0"
"""The package's version (PEP 440)."""

TRACE_LAYOUT_VERSION = 1
"""A trace directory's layout: ``manifest.json`` and the part files (:mod:`chiptwin.trace.manifest`)."""

TRACE_TABLES_VERSION = 4
"""The columns of every trace table (:mod:`chiptwin.trace.schema`: cells, events, probes, detail).

2: ``probes.gdc_skipped_blocks``. The ``detail`` table was added at 2 without a change of version: no
column of another table changed, and a trace without it reads as one whose ``detail`` is empty.
3: ``cells.area_mm2``, the chip's area.
4: ``probes.drift_age_s`` and ``probes.temperature_c``, the chip temperature and the age the drift law saw."""

MAPPING_TABLE_VERSION = 1
"""The columns of ``mapping.parquet`` (:mod:`chiptwin.trace.mapping_table`)."""

SWEEP_RESULTS_VERSION = 2
"""The columns of a sweep's ``results/`` table (:mod:`chiptwin.sweep.run`)."""

MEASUREMENT_FILE_VERSION = "1"
"""The columns of a device measurement file (``fit-device``, :mod:`chiptwin.cli.measurement_file`)."""


def describe_versions() -> str:
    """One line: the package's version and those of the files it writes."""
    return (
        f"chiptwin {VERSION} (trace layout {TRACE_LAYOUT_VERSION}, trace tables {TRACE_TABLES_VERSION}, "
        f"mapping table {MAPPING_TABLE_VERSION}, sweep results {SWEEP_RESULTS_VERSION}, "
        f"measurement file {MEASUREMENT_FILE_VERSION})"
    )
