"""Load a chip specification from a TOML architecture file, with validation.

A file has the top-level keys ``name`` and ``static_power_mw`` and one table per section: ``[tiles]``,
``[dac]``, ``[adc]``, ``[digital]``, ``[noc]``, ``[programming]`` (every key required, so a file states
its whole chip), an optional ``[device]`` table naming the device model (``model``, default
``pcm_joshi2020``) and an optional table of that model's constants (``[pcm]`` for the Joshi et al. 2020
fit, ``[rram]`` for the CMO/HfOx ReRAM fit; :mod:`chiptwin.spec.device`) whose omitted keys take the
published values. An optional ``[system]`` table makes the file a system of several such chips joined by
chip-to-chip links (:mod:`chiptwin.spec.system`). Every problem raises :class:`SpecError` naming the file,
the key and the offending value.

The device tables may come from a file of their own, a *device table* (``chiptwin fit-device`` writes one):
``[device] include = "my_device.toml"`` (a path relative to the chip file) reads that file's ``[device]
model`` and model table (:func:`load_device_table`) as if they were written in the chip file. A key may be
set in one of the two files only, so nothing is overridden silently; a device table includes no other.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from chiptwin.errors import SpecError
from chiptwin.files import load_toml, read_text
from chiptwin.spec.chip import (
    ADCSpec,
    ChipSpec,
    DACSpec,
    DigitalSpec,
    GDCSpec,
    NoCSpec,
    ProgrammingSpec,
    TileSpec,
)
from chiptwin.spec.device import DEFAULT_DEVICE_MODEL, DEVICE_MODELS
from chiptwin.spec.system import SystemSpec, tile_system

__all__ = [
    "FigureSources",
    "apply_overrides",
    "chip_from_dict",
    "chip_to_dict",
    "figure_sources",
    "load_chip",
    "load_device_table",
]

_SECTIONS: dict[str, type] = {
    "tiles": TileSpec,
    "dac": DACSpec,
    "adc": ADCSpec,
    "digital": DigitalSpec,
    "noc": NoCSpec,
    "programming": ProgrammingSpec,
    "gdc": GDCSpec,
}
_OPTIONAL_SECTIONS = ("gdc",)
_DEVICE_KEYS = ("model",)
"""Keys of the ``[device]`` table; the model's constants sit in the model's own table."""
_OPTIONAL_KEYS = {
    ("dac", "ideal"),
    ("dac", "input_range"),
    ("adc", "ideal"),
    ("adc", "output_noise"),
    ("tiles", "read_mode"),
    ("tiles", "cell_area_um2"),
    ("dac", "figures_at_bits"),
    ("dac", "area_um2"),
    ("adc", "time_law"),
    ("adc", "converts_during_integration"),
    ("adc", "thermal_corner_bits"),
    ("adc", "figures_at_bits"),
    ("adc", "area_um2"),
    ("digital", "area_um2"),
    ("digital", "energy_per_matmul_op_pj"),
    ("digital", "energy_per_softmax_op_pj"),
    ("digital", "energy_per_layernorm_op_pj"),
    ("digital", "energy_per_gelu_op_pj"),
    ("noc", "router_area_um2"),
    ("system", "chips_rows"),
    ("system", "chip_mesh_rows"),
    ("system", "chip_mesh_cols"),
}
"""Keys added after chip files were written: they take their defaults when absent."""
_SYSTEM_SET_BY_LOADER = ("chip_mesh_rows", "chip_mesh_cols")
"""Keys of :class:`SystemSpec` the loader takes from the chip's ``[noc]`` (a file gives the others)."""
_TOP_LEVEL = ("name", "static_power_mw", "other_area_mm2")
_OPTIONAL_TOP_LEVEL = ("other_area_mm2",)
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "a boolean"}


def _check_type(value: Any, expected: type, key: str) -> Any:
    # bool is an int in Python, but `rows = true` is a mistake in a chip file.
    ok = (
        (expected is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (expected is int and isinstance(value, int) and not isinstance(value, bool))
        or (expected in (str, bool) and isinstance(value, expected))
    )
    if not ok:
        raise SpecError(
            f"key {key!r} must be {_TYPE_NAMES[expected]}, got {value!r} ({type(value).__name__})"
        )
    # TOML spells inf and nan; no figure of a chip is infinite, and nan slips past every range check.
    if expected is float and not math.isfinite(value):
        raise SpecError(f"key {key!r} must be a finite number, got {value!r}")
    return float(value) if expected is float else value


def _build(cls: type, table: Any, section: str, *, all_required: bool) -> Any:
    if not isinstance(table, dict):
        raise SpecError(f"key {section!r} must be a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    for key in table:
        if key not in known:
            if key.endswith("_us") and f"{key[:-3]}_usiemens" in known:  # renamed in December 2026
                raise SpecError(
                    f"key '{section}.{key}' is now '{section}.{key[:-3]}_usiemens' (conductances are in µS; "
                    "a '_us' suffix means microseconds)"
                )
            raise SpecError(f"unknown key '{section}.{key}' (known: {', '.join(known)})")
    kwargs = {}
    for name, f in known.items():
        if name not in table:
            has_default = f.default is not MISSING or f.default_factory is not MISSING
            if (all_required and (section, name) not in _OPTIONAL_KEYS) or not has_default:
                raise SpecError(f"missing key '{section}.{name}'")
            continue
        kwargs[name] = _check_type(table[name], hints[name], f"{section}.{name}")
    return cls(**kwargs)


def chip_from_dict(data: dict[str, Any]) -> ChipSpec:
    """Build and validate a :class:`ChipSpec` from a parsed architecture file.

    Raises:
        SpecError: unknown, missing or mistyped keys, or non-physical values (message without file).
    """
    model_tables = {entry.table: name for name, entry in DEVICE_MODELS.items()}
    for key in data:
        if (
            key not in _SECTIONS
            and key not in _TOP_LEVEL
            and key not in ("device", "system")
            and (key not in model_tables)
        ):
            known = (*_TOP_LEVEL, *_SECTIONS, "device", "system", *model_tables)
            raise SpecError(f"unknown key {key!r} (known: {', '.join(known)})")
    kwargs: dict[str, Any] = {}
    for key in _TOP_LEVEL:
        if key not in data and key not in _OPTIONAL_TOP_LEVEL:
            raise SpecError(f"missing key {key!r}")
    kwargs["name"] = _check_type(data["name"], str, "name")
    for key in ("static_power_mw", "other_area_mm2"):
        if key in data:
            kwargs[key] = _check_type(data[key], float, key)
    for section, cls in _SECTIONS.items():
        if section not in data:
            if section in _OPTIONAL_SECTIONS:
                continue
            raise SpecError(f"missing table [{section}]")
        kwargs[section] = _build(cls, data[section], section, all_required=section not in _OPTIONAL_SECTIONS)
    kwargs["device"] = _device_params(data, model_tables)
    chip = ChipSpec(**kwargs)
    if "system" not in data:
        return chip
    table = data["system"]
    for key in _SYSTEM_SET_BY_LOADER:
        if isinstance(table, dict) and key in table:
            raise SpecError(f"key 'system.{key}' is set from [noc]: leave it out")
    return tile_system(chip, _build(SystemSpec, table, "system", all_required=True))


def _device_params(data: dict[str, Any], model_tables: dict[str, str]) -> Any:
    """The record of the device model ``[device] model`` names, built from that model's table."""
    device = data.get("device", {})
    if not isinstance(device, dict):
        raise SpecError(f"key 'device' must be a table, got {device!r}")
    for key in device:
        if key not in _DEVICE_KEYS:
            raise SpecError(f"unknown key 'device.{key}' (known: {', '.join(_DEVICE_KEYS)})")
    model = _check_type(device.get("model", DEFAULT_DEVICE_MODEL), str, "device.model")
    if model not in DEVICE_MODELS:
        raise SpecError(f"device.model(={model!r}) must be one of {tuple(DEVICE_MODELS)}")
    entry = DEVICE_MODELS[model]
    for table, owner in model_tables.items():
        if table in data and owner != model:
            raise SpecError(
                f"table [{table}] holds the constants of device model {owner!r}, "
                f"but device.model is {model!r}"
            )
    return _build(entry.params, data.get(entry.table, {}), entry.table, all_required=False)


def chip_to_dict(chip: ChipSpec) -> dict[str, Any]:
    """A chip spec as the tables of its architecture file (``chip_from_dict`` builds it back)."""
    data: dict[str, Any] = {}
    for f in fields(chip):
        value = getattr(chip, f.name)
        if f.name in _SECTIONS:
            data[f.name] = dataclasses.asdict(value)
        elif f.name not in ("device", "system"):
            data[f.name] = value
    system = chip.system
    if system is not None:  # the file states one chip and the [system] table that repeats it
        n = system.chips
        data["system"] = {
            k: v for k, v in dataclasses.asdict(system).items() if k not in _SYSTEM_SET_BY_LOADER
        }
        data["tiles"]["count"] = chip.tiles.count // n
        data["noc"].update(mesh_rows=system.chip_mesh_rows, mesh_cols=system.chip_mesh_cols)
        data["static_power_mw"] = chip.static_power_mw / n
        data["other_area_mm2"] = chip.other_area_mm2 / n
    model = chip.device_model
    data["device"] = {"model": model}
    data[DEVICE_MODELS[model].table] = dataclasses.asdict(chip.device)  # type: ignore[call-overload]
    return data


@dataclass(frozen=True, slots=True)
class FigureSources:
    """How a chip file sources its figures: its numeric keys, and those marked assumed or unsourced."""

    figures: int
    assumed: tuple[str, ...]
    """``section.key`` of each figure whose comment says "assumed", or that has no comment (no source)."""


_FIGURE_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([-+0-9.eE_]+|true|false)\s*(?:#\s*(.*))?$")


def figure_sources(path: Path | str) -> FigureSources:
    """Count a chip file's figures (numbers and booleans, one per line) and those it marks "assumed" in
    their comment or leaves without one. The file's own words are the record: chiptwin cannot know a
    source the file does not name.

    Raises:
        SpecError: as :func:`load_chip` for an unreadable file.
    """
    section = ""
    figures = 0
    assumed: list[str] = []
    for line in read_text(path, "chip file", SpecError).splitlines():
        header = re.match(r"^\s*\[([A-Za-z_]+)\]", line)
        if header:
            section = header[1]
            continue
        match = _FIGURE_LINE.match(line)
        if match is None or match[1] == "name":
            continue
        figures += 1
        comment = (match[3] or "").lower()
        if not comment or "assumed" in comment:
            assumed.append(f"{section}.{match[1]}" if section else match[1])
    return FigureSources(figures=figures, assumed=tuple(assumed))


def load_chip(path: Path | str) -> ChipSpec:
    """Read, parse and validate an architecture TOML file.

    Raises:
        SpecError: the file is missing, unreadable, not a regular file, larger than any chip file, not
            TOML, or fails validation; the message starts with the file path.
    """
    path = Path(path)
    data = load_toml(path, "chip file", SpecError)
    try:
        return chip_from_dict(_include_device_table(data, path))
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None


def load_device_table(path: Path | str) -> dict[str, Any]:
    """Read and validate a device table: ``[device] model`` (default ``pcm_joshi2020``) and that model's
    table, as a chip file holds them; returns the parsed tables.

    Raises:
        SpecError: the file cannot be read or parsed, holds another table, includes another file, or its
            constants fail the model's checks; the message starts with the file path.
    """
    path = Path(path)
    data = load_toml(path, "device table", SpecError)
    model_tables = {entry.table: name for name, entry in DEVICE_MODELS.items()}
    try:
        for key in data:
            if key != "device" and key not in model_tables:
                tables = ", ".join(model_tables)
                raise SpecError(f"unknown key {key!r} (a device table holds [device] and one of {tables})")
        device = data.get("device", {})
        if isinstance(device, dict) and "include" in device:
            raise SpecError("device.include: a device table includes no other file")
        _device_params(data, model_tables)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None
    return data


def _include_device_table(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """``data`` with the device table that ``[device] include`` names merged in (``data`` if none)."""
    device = data.get("device")
    if not isinstance(device, dict) or "include" not in device:
        return data
    included_path = path.parent / _check_type(device["include"], str, "device.include")
    included = load_device_table(included_path)
    model = included.get("device", {}).get("model", DEFAULT_DEVICE_MODEL)
    if device.get("model", model) != model:
        raise SpecError(
            f"device.model(={device['model']!r}) differs from the model of device.include "
            f"{included_path} ({model!r})"
        )
    merged = {**data, "device": {**{k: v for k, v in device.items() if k != "include"}, "model": model}}
    for table, values in included.items():
        if table == "device":
            continue
        own = data.get(table, {})
        both = sorted(set(own) & set(values)) if isinstance(own, dict) else []
        if both:
            raise SpecError(
                f"key '{table}.{both[0]}' is set both in the chip file and in device.include "
                f"{included_path}; set it in one of them"
            )
        merged[table] = {**values, **own} if isinstance(own, dict) else own
    return merged


def apply_overrides(chip: ChipSpec, overrides: Mapping[str, Any], source: Path) -> ChipSpec:
    """``chip`` with ``{"section.key": value}`` changed; every value is validated as in a file.

    Raises:
        SpecError: an unknown section or key, or a value the spec rejects (named with the source file).
    """
    data = chip_to_dict(chip)
    model = overrides.get("device.model", chip.device_model)
    if model != chip.device_model and model in DEVICE_MODELS:  # another model: its table, published values
        del data[DEVICE_MODELS[chip.device_model].table]
        data[DEVICE_MODELS[model].table] = dataclasses.asdict(DEVICE_MODELS[model].params())
    for dotted, value in overrides.items():
        section, _, key = dotted.partition(".")
        part = data.get(section)
        if not isinstance(part, dict) or key not in part:
            raise SpecError(f"{source}: arch_overrides key {dotted!r} names no field of the chip spec")
        part[key] = value
    # Rebuilt as from a file, so a value gets the file's type checks (8.5 or "8" for adc.bits is refused),
    # and cross-section checks (tiles vs mesh) see every new value together.
    try:
        return chip_from_dict(data)
    except SpecError as exc:
        raise SpecError(f"{source} with arch_overrides: {exc}") from None
