"""Every version in one place (chiptwin.versions): the package's, printed by ``chiptwin --version`` and read
by the build, and those of the files chiptwin writes, which their modules take from there."""

from __future__ import annotations

import doctest
import importlib.metadata
import tomllib
from pathlib import Path

import pytest

import chiptwin
from chiptwin import versions
from chiptwin.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_docstring_example() -> None:
    assert doctest.testmod(versions).failed == 0


def test_version_flag_prints_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == versions.describe_versions() + "\n"


def test_the_build_and_the_package_read_the_one_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "chiptwin.versions.VERSION"}
    assert chiptwin.__version__ == versions.VERSION == importlib.metadata.version("chiptwin")


def test_file_formats_take_their_version_from_one_place() -> None:
    from chiptwin.cli.measurement_file import MEASUREMENT_SCHEMA_VERSION
    from chiptwin.sweep.run import RESULTS_VERSION
    from chiptwin.trace.manifest import TRACE_VERSION
    from chiptwin.trace.mapping_table import MAPPING_SCHEMA_VERSION
    from chiptwin.trace.schema import SCHEMA_VERSION

    # no module keeps a literal of its own: each is the name in chiptwin.versions
    for module, line in [
        ("trace/schema.py", "SCHEMA_VERSION = TRACE_TABLES_VERSION"),
        ("trace/manifest.py", "TRACE_VERSION = TRACE_LAYOUT_VERSION"),
        ("trace/mapping_table.py", "MAPPING_SCHEMA_VERSION = MAPPING_TABLE_VERSION"),
        ("sweep/run.py", "RESULTS_VERSION = SWEEP_RESULTS_VERSION"),
        ("cli/measurement_file.py", "MEASUREMENT_SCHEMA_VERSION = MEASUREMENT_FILE_VERSION"),
    ]:
        assert line in (ROOT / "chiptwin" / module).read_text().splitlines(), module
    assert (SCHEMA_VERSION, TRACE_VERSION, MAPPING_SCHEMA_VERSION, RESULTS_VERSION) == (
        versions.TRACE_TABLES_VERSION,
        versions.TRACE_LAYOUT_VERSION,
        versions.MAPPING_TABLE_VERSION,
        versions.SWEEP_RESULTS_VERSION,
    )
    assert MEASUREMENT_SCHEMA_VERSION == versions.MEASUREMENT_FILE_VERSION
