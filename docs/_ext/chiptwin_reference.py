"""Reference pages generated from the code, never copied by hand.

Directives (each renders Markdown (MyST, as the pages are) built from chiptwin's own definitions at build
time):

- ``chiptwin-cli``: every command of ``chiptwin`` (:func:`chiptwin.cli.build_parser`): usage, description,
  each argument with its help and default;
- ``chiptwin-chip-keys``: every key of a chip file (the dataclasses :mod:`chiptwin.spec.load` builds
  from its sections): type, unit (from the key's suffix), the default (hermes_64's figure), whether the
  key is required, and its docstring (meaning and source);
- ``chiptwin-trace-tables``: every table of a trace (:data:`chiptwin.trace.schema.SCHEMAS`) and of a
  sweep's results: columns, Arrow types, units, and the schema's own comment on each;
- ``chiptwin-api``: every public name of ``chiptwin`` (``chiptwin.__all__``), autodoc'd where it is defined;
- ``chiptwin-versions``: :func:`chiptwin.versions.describe_versions`.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import typing
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

UNITS = {
    "ns": "ns",
    "us": "µs",
    "s": "s",
    "pj": "pJ",
    "fj": "fJ",
    "nj": "nJ",
    "mw": "mW",
    "um2": "µm²",
    "mm2": "mm²",
    "usiemens": "µS",
    "c": "°C",
    "per_s": "1/s",
    "ghz": "GHz",
    "mhz": "MHz",
    "k": "K",
    "ev": "eV",
    "bits": "bits",
}
"""Key suffix -> unit: every figure carries its unit in its name (``latency_ns``, ``g_max_usiemens``)."""


def unit_of(name: str) -> str:
    """The unit a key's or column's name ends in ("" when it names none)."""
    for suffix in sorted(UNITS, key=len, reverse=True):
        if name.endswith("_" + suffix) or name == suffix:
            return UNITS[suffix]
    return ""


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def _cell(text: str) -> str:
    """One table cell: a single line of Markdown (a docstring's Sphinx role shown as code)."""
    return _ROLE.sub(r"`\1`", " ".join(str(text).split())) or " "


def list_table(header: list[str], rows: list[list[str]], widths: str | None = None) -> list[str]:
    """A MyST ``list-table`` (the pages are Markdown, and so is what a directive here generates)."""
    lines = ["```{list-table}", ":header-rows: 1"]
    if widths:
        lines.append(f":widths: {widths}")
    lines.append("")
    for row in [header, *rows]:
        first, *rest = row
        lines.append(f"* - {_cell(first)}")
        lines += [f"  - {_cell(c)}" for c in rest]
    lines += ["```", ""]
    return lines


class _Generated(SphinxDirective):
    has_content = False

    def lines(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, StringList(self.lines(), source="<generated>"), node)
        return node.children


# ---- the command line -------------------------------------------------------------------------------


def _argument_row(parser: argparse.ArgumentParser, action: argparse.Action) -> list[str]:
    if action.option_strings:
        names = ", ".join(f"``{o}``" for o in action.option_strings)
        if action.nargs != 0:
            names += f" ``{action.metavar or action.dest.upper()}``"
    else:
        names = f"``{action.metavar or action.dest.upper()}``"
        if action.nargs == "?":
            names += " (optional)"
    help_text = parser._get_formatter()._expand_help(action) if action.help else ""
    shown = action.default not in (None, False, argparse.SUPPRESS) and action.option_strings
    if shown and "default" not in help_text:
        help_text += f" (default: ``{action.default}``)"
    return [names, help_text.replace("*", r"\*")]


def cli_lines() -> list[str]:
    from chiptwin.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {choice.dest: choice.help for choice in sub._choices_actions}
    lines = [
        "Global options: " + ", ".join(f"``{o}``" for a in parser._actions for o in a.option_strings) + ".",
        "",
    ]
    for name, command in sub.choices.items():
        title = f"chiptwin {name}"
        lines += [title, "-" * len(title), ""]
        if helps.get(name):
            lines += [_cell(helps[name]).capitalize().rstrip(".") + ".", ""]
        usage = " ".join(command.format_usage().split())
        lines += ["```text", usage, "```", ""]
        rows = [
            _argument_row(command, a)
            for a in command._actions
            if not isinstance(a, argparse._HelpAction) and a.help != argparse.SUPPRESS
        ]
        lines += list_table(["argument", "meaning"], rows, "30 70")
    return lines


class CLIDirective(_Generated):
    def lines(self) -> list[str]:
        return cli_lines()


# ---- chip-file keys ---------------------------------------------------------------------------------


def _type_name(hint: Any) -> str:
    return {int: "integer", float: "number", str: "string", bool: "boolean"}.get(hint, str(hint))


def _attribute_docs(cls: type) -> dict[str, str]:
    module = inspect.getmodule(cls)
    assert module is not None
    found = ModuleAnalyzer.for_module(module.__name__).find_attr_docs()
    return {
        attr: " ".join(" ".join(doc).split()) for (owner, attr), doc in found.items() if owner == cls.__name__
    }


def _rows(cls: type, section: str, optional: set[str] | None, defaults: Any) -> list[list[str]]:
    """One row per key of ``cls``; ``optional``: the keys that may be left out (None: all may)."""
    hints = typing.get_type_hints(cls)
    docs = _attribute_docs(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        key = f"{section}.{f.name}" if section else f.name
        may_omit = optional is None or f.name in optional
        default = getattr(defaults, f.name) if defaults is not None else f.default
        shown = f"``{default!r}``" if default is not dataclasses.MISSING else ""
        rows.append(
            [
                f"``{key}``",
                _type_name(hints.get(f.name)),
                unit_of(f.name),
                shown,
                "optional" if may_omit else "required",
                docs.get(f.name, ""),
            ]
        )
    return rows


def chip_key_lines() -> list[str]:
    from chiptwin.shipped import resolve
    from chiptwin.spec import load
    from chiptwin.spec import system as system_module
    from chiptwin.spec.chip import ChipSpec
    from chiptwin.spec.device import DEFAULT_DEVICE_MODEL, DEVICE_MODELS
    from chiptwin.spec.system import SystemSpec

    hermes = load.load_chip(resolve("architectures", "hermes_64"))
    header = ["key", "type", "unit", "value (hermes_64)", "", "meaning and source"]
    widths = "18 8 6 10 8 50"
    top = [
        r
        for r in _rows(ChipSpec, "", set(load._OPTIONAL_TOP_LEVEL), hermes)
        if r[0].strip("`") in load._TOP_LEVEL
    ]
    lines = ["Top level", "---------", "", *list_table(header, top, widths)]
    for section, cls in load._SECTIONS.items():
        if section in load._OPTIONAL_SECTIONS:
            optional = None
            note = f"The ``[{section}]`` table may be left out: every key then takes the value shown."
        else:
            optional = {key for sec, key in load._OPTIONAL_KEYS if sec == section}
            note = f"The ``[{section}]`` table is required; so is each key not marked optional."
        title = f"[{section}]"
        doc = " ".join((inspect.getdoc(cls) or "").split())
        lines += [title, "-" * len(title), "", doc, "", note, ""]
        lines += list_table(header, _rows(cls, section, optional, getattr(hermes, section)), widths)
    lines += ["[device]", "--------", ""]
    lines += [
        f"``model``: the device model, one of {', '.join(f'``{m}``' for m in DEVICE_MODELS)} "
        f"(default ``{DEFAULT_DEVICE_MODEL}``); ``include``: a device table file (``chiptwin fit-device`` "
        "writes one) whose ``[device]`` and model table are read as if written here.",
        "",
    ]
    for model, entry in DEVICE_MODELS.items():
        title = f"[{entry.table}] (model ``{model}``)"
        lines += [title, "-" * len(title), ""]
        lines += [f"Every key optional; the default is the published fit ({entry.source}).", ""]
        lines += list_table(
            ["key", "type", "unit", "default", "", "meaning and source"],
            _rows(entry.params, entry.table, None, None),
            widths,
        )
    system_optional = {key for sec, key in load._OPTIONAL_KEYS if sec == "system"}
    system_rows = [
        r
        for r in _rows(SystemSpec, "system", system_optional, None)
        if r[0].strip("`").split(".")[1] not in load._SYSTEM_SET_BY_LOADER
    ]
    lines += ["[system]", "--------", ""]
    lines += [
        "Optional: the file then describes ``chips_rows x chips_cols`` copies of its chip joined edge to "
        "edge (the shipped ``hermes_64x8``); the tables above describe one chip. "
        + " ".join((inspect.getdoc(system_module) or "").split("\n\n")[1].split()),
        "",
    ]
    lines += list_table(["key", "type", "unit", "default", "", "meaning and source"], system_rows, widths)
    return lines


class ChipKeysDirective(_Generated):
    def lines(self) -> list[str]:
        return chip_key_lines()


# ---- trace tables -----------------------------------------------------------------------------------

_FIELD = re.compile(r'pa\.field\("(\w+)"[^#]*?(?:#\s*(.*))?$')


def column_comments(source: str) -> dict[str, str]:
    """``column -> comment`` from a schema module's source: the comment after a ``pa.field`` line, or
    the comment lines right above it."""
    comments: dict[str, str] = {}
    above: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        match = _FIELD.search(stripped)
        if match:
            text = " ".join([*above, match.group(2) or ""]).strip()
            comments.setdefault(match.group(1), text)
        above = []
    return comments


def trace_lines() -> list[str]:
    import chiptwin.sweep.run as sweep_run
    import chiptwin.trace.mapping_table as mapping_table
    import chiptwin.trace.schema as schema

    comments = column_comments(Path(schema.__file__).read_text())
    comments.update(column_comments(Path(mapping_table.__file__).read_text()))
    lines: list[str] = []
    tables = [(f"{name}/", s, f"{name.upper()}_SCHEMA") for name, s in schema.SCHEMAS.items()] + [
        ("mapping.parquet", mapping_table.MAPPING_SCHEMA, "MAPPING_SCHEMA")
    ]
    for title, table, attr in tables:
        module = mapping_table if attr == "MAPPING_SCHEMA" else schema
        doc = _attribute_docs_module(module).get(attr, "")
        version = table.metadata.get(b"schema_version", b"?").decode() if table.metadata else "?"
        lines += [title, "-" * len(title), "", doc, "", f"Schema version {version}.", ""]
        rows = [
            [
                f"``{f.name}``",
                f"``{f.type}``",
                unit_of(f.name),
                "" if f.nullable else "not null",
                comments.get(f.name, ""),
            ]
            for f in table
        ]
        lines += list_table(["column", "Arrow type", "unit", "", "meaning"], rows, "22 20 6 8 44")
    results = sweep_run.results_schema(["arch", "adc.bits"])
    title = "sweep results/"
    lines += [title, "-" * len(title), ""]
    lines += [
        "One row per sweep cell and probe; the first columns are the cell's grid keys (here ``arch`` and "
        f"``adc.bits``, as in a sweep over them). Results version {sweep_run.RESULTS_VERSION}.",
        "",
    ]
    rows = [
        [f"``{f.name}``", f"``{f.type}``", unit_of(f.name), "" if f.nullable else "not null"] for f in results
    ]
    lines += list_table(["column", "Arrow type", "unit", ""], rows, "30 30 10 10")
    return lines


def _attribute_docs_module(module: Any) -> dict[str, str]:
    found = ModuleAnalyzer.for_module(module.__name__).find_attr_docs()
    return {attr: " ".join(" ".join(doc).split()) for (owner, attr), doc in found.items() if owner == ""}


class TraceDirective(_Generated):
    def lines(self) -> list[str]:
        return trace_lines()


def api_lines() -> list[str]:
    """One autodoc entry per public name of ``chiptwin`` (``chiptwin.__all__``), where it is defined."""
    import chiptwin

    lines: list[str] = ["```{eval-rst}"]  # autodoc writes reST: parse it as such
    for name in chiptwin.__all__:
        where = chiptwin._WHERE[name]
        obj = getattr(chiptwin, name)
        if not callable(obj):  # a constant: its value is its documentation
            lines += [f".. py:data:: {name}", f"   :value: {obj!r}", f"   :module: {where}", ""]
            continue
        kind = "autoclass" if inspect.isclass(obj) else "autofunction"
        lines += [f".. {kind}:: {where}.{name}", ""]
        if kind == "autoclass":
            lines += ["   :members:", ""]
    return [*lines, "```", ""]


class APIDirective(_Generated):
    def lines(self) -> list[str]:
        return api_lines()


class VersionsDirective(_Generated):
    def lines(self) -> list[str]:
        from chiptwin.versions import describe_versions

        return [f"``{describe_versions()}``", ""]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("chiptwin-cli", CLIDirective)
    app.add_directive("chiptwin-chip-keys", ChipKeysDirective)
    app.add_directive("chiptwin-trace-tables", TraceDirective)
    app.add_directive("chiptwin-versions", VersionsDirective)
    app.add_directive("chiptwin-api", APIDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
