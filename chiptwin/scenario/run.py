"""Run a scenario: every (checkpoint, policy, seed) cell, each written to the trace as soon as it finishes.

A run writes ``manifest.json`` first (status ``running``), the mapping table, then one part per cell and
table; ``finish`` marks the manifest complete. An interrupted run keeps every finished cell, and running
it again with ``resume=True`` skips them (the scenario must be the same one, checked against the
manifest), so the finished trace is the same as that of an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from chiptwin.functional.torch_device import describe_torch_device
from chiptwin.scenario.cell import CellResult, CellTiming, cell_id, run_cell, schedule, time_cell
from chiptwin.scenario.mapping_rows import mapping_records
from chiptwin.scenario.prepare import Prepared, PreparedModel, prepare
from chiptwin.scenario.spec import PolicySpec, ScenarioSpec
from chiptwin.spec.chip import describe_chip
from chiptwin.spec.device import describe_age_convention
from chiptwin.spec.temperature import describe_temperature
from chiptwin.trace.manifest import build_manifest
from chiptwin.trace.mapping_table import MappingRecord
from chiptwin.trace.writer import TraceWriter, check_fresh
from chiptwin.units import plural

__all__ = ["ScenarioRun", "run_scenario"]


@dataclass(frozen=True, slots=True)
class ScenarioRun:
    """Where a run's trace is, and what it did."""

    trace_dir: Path
    cells_run: int
    cells_skipped: int
    wall_s: float
    prepared: Prepared


def _mapping_records(prepared: Prepared) -> list[MappingRecord]:
    """The placement of every checkpoint, its rows' ``model`` the checkpoint's label (two checkpoints of
    one network are two maps of the same chip)."""
    records = []
    for label, prepared_model in prepared.models.items():
        kinds = {name: data["layer"].kind for name, data in prepared_model.graph.nodes(data=True)}
        rows = mapping_records(prepared_model.mapping, prepared.chip, kinds)
        records += [dataclasses.replace(r, model=label) for r in rows]
    return records


def run_scenario(
    spec: ScenarioSpec,
    out: Path | str,
    *,
    resume: bool = False,
    progress: bool = True,
    threads: int | None = None,
    models: Mapping[str, nn.Module] | None = None,
    device: torch.device | str = "cpu",
) -> ScenarioRun:
    """Run ``spec`` and write its trace directory ``out``.

    Args:
        spec: the scenario.
        models: models of your own by checkpoint name: a name of ``spec.checkpoints`` found here is this
            ``nn.Module`` (traced, mapped and programmed like a checkpoint's), not a file. The trace
            records its class and a hash of its weights; resuming with other weights is refused.
        out: trace directory (created).
        resume: keep the finished cells of an earlier run of the same scenario in ``out`` and run the rest.
        progress: show a progress bar on stderr (a step per probe, compensation pass, reprogramming or
            tile failure of each cell's schedule).
        threads: torch threads for this run (None: leave torch's setting).
        device: torch device the cells program their chips and probe on (``cpu``, ``cuda``, ``cuda:N``,
            ``mps``); the manifest's ``torch_device`` names it. A GPU draws other random streams than the
            CPU: the same statistics, other numbers. Resuming on another device is allowed.

    Raises:
        ChipTwinError: bad inputs (architecture, checkpoint, data set, a model that does not fit, a trace
            directory that holds another run, a torch device this machine does not have).
    """
    start = time.perf_counter()
    if threads is not None:
        torch.set_num_threads(threads)
    if not resume:
        check_fresh(out)  # before loading data and programming: seconds
    prepared = prepare(spec, models, device=device)
    files = {"arch": prepared.arch_path} | {
        f"checkpoint:{m.label}": m.path for m in prepared.models.values() if m.path is not None
    }
    if spec.temperature is not None and spec.temperature.file is not None:
        files["temperature"] = Path(spec.temperature.file)  # resuming with another series is refused
    given = {m.label: m.card for m in prepared.models.values() if m.path is None}
    cells = [(m, p, s) for m in prepared.models.values() for p in spec.policies for s in spec.seeds]
    manifest = build_manifest(
        # A model given as an object is part of what the run is: resuming with other weights is refused.
        scenario=spec.to_dict() | ({"user_models": given} if given else {}),
        files=files,
        seeds=list(spec.seeds),
        extra={
            "cells_total": len(cells),
            "digital_accuracy": {
                m.label: m.digital_accuracy for m in prepared.models.values() if spec.accuracy
            },
            "chip": prepared.chip.name,
            "chip_description": describe_chip(prepared.chip),
            "device_model": prepared.chip.device_model,
            "age_convention": describe_age_convention(prepared.chip.device),
            "torch_device": describe_torch_device(prepared.device),
            "temperature": describe_temperature(
                spec.temperature, getattr(prepared.chip.device, "drift_temperature_ref_c", None)
            ),
        },
    )
    with TraceWriter(out, manifest, resume=resume) as writer:
        todo = _run_cells(spec, prepared, cells, writer, progress)
        writer.finish(wall_s=time.perf_counter() - start)
    return ScenarioRun(
        trace_dir=Path(out),
        cells_run=len(todo),
        cells_skipped=len(cells) - len(todo),
        wall_s=time.perf_counter() - start,
        prepared=prepared,
    )


def _run_cells(
    spec: ScenarioSpec,
    prepared: Prepared,
    cells: list[tuple[PreparedModel, PolicySpec, int]],
    writer: TraceWriter,
    progress: bool,
) -> list[tuple[PreparedModel, PolicySpec, int]]:
    """Write the mapping and every cell not yet in the trace; returns the cells run."""
    writer.write_mapping(_mapping_records(prepared))
    todo = [c for c in cells if not writer.has_part("cells", cell_id(c[0].label, c[1].name, c[2]))]
    timings: dict[tuple[str, str], CellTiming] = {}
    # A step per action of each cell's schedule (probes and the compensation passes between them), so
    # the bar moves while a policy that compensates often runs its passes.
    t0_s = prepared.chip.device.t0_s
    steps = sum(len(schedule(p, spec.probes_s, spec.tile_failure, t0_s=t0_s)) for _, p, _ in todo)
    if not spec.accuracy:  # a timing-only cell walks no schedule: a step per cell
        steps = len(todo)
    bar = tqdm(
        total=steps,
        desc=f"{spec.name}: {plural(len(todo), 'cell')}",
        unit="step",
        disable=not progress,
        leave=False,
    )
    with bar:
        for model, policy, seed in todo:
            # Timing depends on the network's structure and the policy's schedule, not on the weights
            # or the seed: the two shipped checkpoints (same architecture) share it.
            key = (json.dumps(model.card.get("model"), sort_keys=True), policy.name)
            if key not in timings:
                timings[key] = time_cell(prepared, model, policy)
            result = run_cell(prepared, model, policy, seed, timings[key], on_step=lambda: bar.update(1))
            _write(writer, result)
            if not spec.accuracy:
                bar.update(1)
    return todo


def _write(writer: TraceWriter, result: CellResult) -> None:
    # The cells part goes last: its presence is what marks the cell finished.
    writer.write_part("events", result.cell, result.events)
    writer.write_part("detail", result.cell, result.detail)
    writer.write_part("probes", result.cell, result.probes)
    writer.write_part("cells", result.cell, [result.cell_row])
