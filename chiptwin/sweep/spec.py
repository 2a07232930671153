"""A sweep: a grid of scenario runs, one cell per combination of the grid's values.

A sweep file (TOML)::

    name = "adc_bits"
    scenario = "day_retention"          # the base: a named scenario or a scenario .toml (default size)

    [base]                              # ScenarioSpec keys changed for every cell
    n_images = 500
    probes_s = [3600.0, 86400.0]

    [grid]                              # every combination is one cell
    arch = ["hermes_64", "large_512"]
    strategy = ["dense", "packed"]
    "adc.bits" = [6, 8]                 # a dotted key changes the architecture (arch_overrides)
    policy = ["none", "gdc+adabs"]      # policy names of the base scenario
    checkpoint = ["resnet32_pcm_fmnist_hwa"]
    seed = [0, 1]

    [run]
    retries = 1                         # extra attempts of a failed cell
    accuracy = true                     # false: timing-only cells (no programming, no probes)

Each cell is the base scenario narrowed to one checkpoint, one policy and one seed, with the cell's
values applied; its id joins the values (``arch=hermes_64,strategy=dense,...``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chiptwin.errors import ChipTwinError, SpecError
from chiptwin.files import check_name, load_toml
from chiptwin.limits import MAX_SEED, MAX_SWEEP_CELLS
from chiptwin.scenario.library import named_scenario
from chiptwin.scenario.spec import ScenarioSpec, check_inputs, load_scenario, scenario_chip
from chiptwin.shipped import resolve

__all__ = ["GRID_KEYS", "SweepCell", "SweepSpec", "check_cells", "load_sweep"]

GRID_KEYS = ("arch", "strategy", "policy", "checkpoint", "seed")
"""Plain grid keys; any ``section.key`` is an architecture override."""

_ID_SAFE = str.maketrans({"/": "_", " ": "_", ":": "_", "\\": "_"})
_CELL_ID = re.compile(r"[A-Za-z0-9=,+_.-]+")
MAX_CELL_ID_CHARS = 200
"""Longest sweep cell id: it names a folder and a results file (``.<id>.parquet.tmp`` < 255 bytes)."""


@dataclass(frozen=True, slots=True)
class SweepCell:
    """One point of the grid: its key values and the scenario that computes it."""

    cell_id: str
    keys: dict[str, str]
    """Grid key -> value, as strings (the columns of the results table)."""

    scenario: ScenarioSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepSpec:
    """A validated sweep: base scenario, grid, and run options."""

    name: str
    base: ScenarioSpec
    grid: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    retries: int = 1
    accuracy: bool = True

    def __post_init__(self) -> None:
        check_name(self.name, "sweep name")  # it names the default output folder, traces/sweep-NAME
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or not 0 <= self.retries <= 10:
            raise SpecError(f"run.retries(={self.retries!r}) must be an integer in 0..10")
        for key, values in self.grid.items():
            if key not in GRID_KEYS and key.count(".") != 1:
                raise SpecError(f"grid key {key!r} must be one of {GRID_KEYS} or 'section.key'")
            if not values:
                raise SpecError(f"grid.{key} must list at least one value")
            if len(set(map(repr, values))) != len(values):
                raise SpecError(f"grid.{key}(={list(values)!r}) has repeated values")
        policies = {p.name for p in self.base.policies}
        for name in self.grid.get("policy", ()):
            if name not in policies:
                raise SpecError(
                    f"grid.policy value {name!r} is not a policy of the base (known: {sorted(policies)})"
                )
        for seed in self.grid.get("seed", ()):
            if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
                raise SpecError(f"grid.seed value {seed!r} must be an integer in 0..2**63-1")
        count = math.prod(len(values) for values in self._axes().values())
        if count > MAX_SWEEP_CELLS:
            sizes = " x ".join(f"{len(v)} {k}" for k, v in self._axes().items())
            raise SpecError(f"grid: {sizes} is {count:,} cells, more than {MAX_SWEEP_CELLS:,}")

    def _axes(self) -> dict[str, tuple[Any, ...]]:
        """The grid with the base's checkpoints, policies and seeds as axes where the grid has none."""
        axes = dict(self.grid)
        axes.setdefault("checkpoint", self.base.checkpoints)
        axes.setdefault("policy", tuple(p.name for p in self.base.policies))
        axes.setdefault("seed", self.base.seeds)
        return axes

    def cells(self) -> list[SweepCell]:
        """Every cell of the grid, in a fixed order (the grid's key order, values in order)."""
        axes = self._axes()
        names = list(axes)
        cells = []
        for values in itertools.product(*(axes[k] for k in names)):
            keys = dict(zip(names, values, strict=True))
            cells.append(self._cell(keys))
        return cells

    def _cell(self, keys: dict[str, Any]) -> SweepCell:
        base = self.base
        overrides = dict(base.arch_overrides)
        changes: dict[str, Any] = {}
        for key, value in keys.items():
            if key == "checkpoint":
                changes["checkpoints"] = (value,)
            elif key == "policy":
                changes["policies"] = tuple(p for p in base.policies if p.name == value)
            elif key == "seed":
                changes["seeds"] = (value,)
            elif key in ("arch", "strategy"):
                changes[key] = value
            else:
                overrides[key] = value
        changes["arch_overrides"] = overrides
        cell_id = ",".join(f"{k}={_id_value(v)}" for k, v in keys.items())
        name = f"{self.name}.cell"
        return SweepCell(
            cell_id=cell_id,
            keys={k: str(v) for k, v in keys.items()},
            scenario=dataclasses.replace(base, name=name, **changes),
        )


def check_cells(spec: SweepSpec, path: Path | str = "", in_memory: Iterable[str] = ()) -> list[SweepCell]:
    """Every cell of ``spec``, after checking what would otherwise fail only when the cell runs: each cell
    id is a valid, unique folder name; each architecture (with its overrides) loads and validates; each
    checkpoint's card and weights exist (but those named in ``in_memory``: models given as objects). Run
    before any output is written.

    Raises:
        SpecError, CheckpointError: the first problem, naming the cell or value.
    """
    cells = spec.cells()
    seen: dict[str, dict[str, str]] = {}
    for cell in cells:
        if not _CELL_ID.fullmatch(cell.cell_id) or len(cell.cell_id) > MAX_CELL_ID_CHARS:
            raise SpecError(
                f"cell id {cell.cell_id[:80]!r} must be 1..{MAX_CELL_ID_CHARS} ASCII letters, digits and "
                "= , + - _ . (it names the cell's folder): rename the grid's values or their files"
            )
        if cell.cell_id in seen:
            raise SpecError(
                f"cells {seen[cell.cell_id]} and {cell.keys} share the id {cell.cell_id!r} (values whose "
                "files have the same name); give each file its own name"
            )
        seen[cell.cell_id] = cell.keys
    chips: set[tuple[str, str]] = set()
    checkpoints: set[str] = set()
    for cell in cells:
        scenario = cell.scenario
        key = (scenario.arch, repr(sorted(scenario.arch_overrides.items())))
        if key not in chips:
            chips.add(key)
            scenario_chip(scenario)
        new = set(scenario.checkpoints) - checkpoints
        if new:
            checkpoints |= new
            check_inputs(dataclasses.replace(scenario, checkpoints=tuple(sorted(new))), in_memory)
    return cells


def _id_value(value: Any) -> str:
    text = str(value)
    if "/" in text or text.endswith(".toml") or text.endswith(".safetensors"):
        text = Path(text).stem
    return text.translate(_ID_SAFE)


def _base_scenario(raw: dict[str, Any], path: Path) -> ScenarioSpec:
    ref = raw.pop("scenario", "day_retention")
    if not isinstance(ref, str):
        raise SpecError(f"{path}: scenario(={ref!r}) must be a scenario name or a .toml path")
    if ref.endswith(".toml"):
        ref_path = Path(ref) if Path(ref).is_absolute() else path.parent / ref
        return load_scenario(ref_path)
    specs = named_scenario(ref)
    if len(specs) != 1:
        raise SpecError(f"{path}: scenario {ref!r} is itself a sweep; name a single scenario")
    return specs[0][1]


def load_sweep(path: Path | str, in_memory: Iterable[str] = ()) -> SweepSpec:
    """Load and validate a sweep file (module docstring); ``in_memory``: checkpoint names whose models
    will be given as objects (``run_sweep(models=)``, ``chiptwin sweep --model``), not files.

    ``path``: a sweep file, or the name of a shipped one (``timing_only``, :mod:`chiptwin.shipped`).

    Raises:
        SpecError: the file is missing or not TOML, or a key or value is invalid (named in the message).
    """
    path = resolve("sweeps", path)
    raw: dict[str, Any] = dict(load_toml(path, "sweep file", SpecError))
    try:
        unknown = set(raw) - {"name", "scenario", "base", "grid", "run"}
        if unknown:
            raise SpecError(f"unknown key {sorted(unknown)[0]!r} (known: base, grid, name, run, scenario)")
        base = _base_scenario(raw, path)
        changes = raw.get("base", {})
        if not isinstance(changes, dict):
            raise SpecError(f"base(={changes!r}) must be a table")
        known = {f.name for f in dataclasses.fields(ScenarioSpec)} - {"policies", "workload"}
        for key, value in changes.items():
            if key not in known:
                raise SpecError(f"unknown key base.{key!r} (known: {', '.join(sorted(known))})")
            if isinstance(value, list):
                changes[key] = tuple(value)
        base = dataclasses.replace(base, **changes)
        grid = raw.get("grid", {})
        if not isinstance(grid, dict) or not all(isinstance(v, list) for v in grid.values()):
            raise SpecError('grid must be a table of arrays, e.g. strategy = ["dense", "packed"]')
        options = raw.get("run", {})
        if not isinstance(options, dict) or set(options) - {"retries", "accuracy"}:
            raise SpecError(f"run(={options!r}) must be a table with retries and/or accuracy")
        accuracy = options.get("accuracy", True)
        if not isinstance(accuracy, bool):
            raise SpecError(f"run.accuracy(={accuracy!r}) must be true or false")
        for key, values in grid.items():
            for v in values:
                if isinstance(v, float) and not math.isfinite(v):
                    raise SpecError(f"grid.{key} value {v!r} must be finite")
        spec = SweepSpec(
            name=raw.get("name", path.stem),
            base=base,
            grid={k: tuple(v) for k, v in grid.items()},
            retries=options.get("retries", 1),
            accuracy=accuracy,
        )
        check_cells(spec, in_memory=in_memory)
        return spec
    except ChipTwinError as exc:
        message = str(exc)
        raise SpecError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{path}: {exc}") from None
