"""``chiptwin run SCENARIO``: run a named scenario or a scenario TOML file, write its trace and report.

``SCENARIO`` is a name from :data:`chiptwin.scenario.library.SCENARIOS` (``day_retention``,
``compensation_period``, ``tile_mapping``, ...), the name of a shipped scenario file (``hourly_gdc``,
:mod:`chiptwin.shipped`) or a path to a scenario ``.toml`` file. Prints the accuracy
table (rows: device age; columns: checkpoint x policy) with latency and energy, and writes the trace
directory and its report (PNG plots, summary.txt). ``--device cuda`` runs the cells' chips on a GPU (the
first line and each trace's manifest name it).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from chiptwin.cli.arguments import integer, name_or_path, path, torch_device
from chiptwin.cli.listing import add_list_argument, format_shipped, needs_target
from chiptwin.cli.progress import add_quiet_argument, show_progress
from chiptwin.cli.user_models import add_model_argument, build_user_models
from chiptwin.errors import MappingError, UsageError
from chiptwin.files import output_folder
from chiptwin.functional.torch_device import describe_torch_device
from chiptwin.limits import MAX_SEEDS, MAX_TEST_IMAGES, MAX_THREADS
from chiptwin.report.pareto import pareto_points_from_rows, write_pareto
from chiptwin.report.summary import format_accuracy_table
from chiptwin.report.sweep_table import format_sweep_table, sweep_rows
from chiptwin.report.temperature import format_temperature_table, temperature_rows
from chiptwin.report.trace_report import write_report
from chiptwin.scenario.library import SCENARIOS, named_scenario
from chiptwin.scenario.run import run_scenario
from chiptwin.scenario.spec import ScenarioSpec, load_scenario
from chiptwin.shipped import resolve, shipped_names, shipped_path
from chiptwin.trace.reader import read_manifest, read_table

__all__ = ["add_parser", "specs_for"]


def specs_for(scenario: str, size: str) -> tuple[str, list[tuple[str, ScenarioSpec]]]:
    """``(name, [(label, spec), ...])`` of a named scenario, a TOML file, or a shipped scenario file's name
    (:mod:`chiptwin.shipped`; a file the user gives wins, a named scenario wins over a shipped file)."""
    path = Path(scenario)
    if scenario not in SCENARIOS and (
        path.suffix == ".toml" or path.exists() or shipped_path("scenarios", scenario) is not None
    ):
        spec = load_scenario(resolve("scenarios", path))
        return spec.name, [("", spec)]
    return scenario, named_scenario(scenario, size)


def _run(args: argparse.Namespace) -> int:
    torch.set_flush_denormal(True)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.list:
        named = ", ".join(SCENARIOS)
        print(f"named scenarios (chiptwin.scenario.library): {named}")
        print(format_shipped("scenarios"))
        print(format_shipped("examples"))
        return 0
    size = "quick" if args.quick else "full" if args.full else "default"
    name, specs = specs_for(needs_target("run", args.scenario, "a scenario name or file"), size)
    changes: dict[str, object] = {}
    if args.seeds is not None:
        changes["seeds"] = tuple(range(args.seeds))
    if args.n_images is not None:
        changes["n_images"] = args.n_images
    if changes:  # validated again by the spec
        specs = [(label, dataclasses.replace(spec, **changes)) for label, spec in specs]  # type: ignore[arg-type]
    # The scenario name is checked (chiptwin.files.check_name): a scenario file cannot steer this path.
    out = Path(args.out) if args.out else Path("traces") / (name if size == "default" else f"{name}-{size}")
    # before the output folder: a bad model file leaves nothing behind
    models = build_user_models("chiptwin run", args.models, [spec for _, spec in specs])
    # The trace's writer locks the folder itself; several specs write one trace each under their labels.
    labels = {label for label, _ in specs if label}
    with output_folder(out, "--out", UsageError, kind="trace directory", own=labels, lock=False):
        return _run_specs(args, specs, out, name, models)


def _temperature_table(traces: list[tuple[str, Path]]) -> str:
    return format_temperature_table(temperature_rows(traces))


_TABLES: dict[str, Callable[[list[tuple[str, Path]]], str]] = {"retention_temperature": _temperature_table}
"""Scenarios of several traces whose summary is their own table, not the architecture sweep's."""


def _run_specs(
    args: argparse.Namespace,
    specs: list[tuple[str, ScenarioSpec]],
    out: Path,
    name: str,
    models: dict[str, nn.Module],
) -> int:
    start = time.perf_counter()
    runs = []
    failed: list[tuple[str, str]] = []
    if args.device != "cpu":  # numbers say where they were computed (the manifests name it too)
        print(f"computed on {describe_torch_device(args.device)}", flush=True)
    for label, spec in specs:
        trace_dir = out / label if label else out
        if label:
            print(f"== {label}", flush=True)
        try:
            mine = {k: m for k, m in models.items() if k in spec.checkpoints}
            bar = show_progress(args.quiet)
            run = run_scenario(
                spec, trace_dir, resume=args.resume, progress=bar, models=mine, device=args.device
            )
        except MappingError as exc:
            if not label:
                raise
            print(f"   does not fit: {exc}")  # one point of a sweep: report it and go on
            failed.append((label, str(exc)))
            continue
        runs.append((label, run))
        if not label or len(read_table(trace_dir, "probes")) > len(spec.seeds):
            manifest = read_manifest(trace_dir)
            if manifest.get("chip_description"):
                print(f"chip {manifest['chip_description']}")
            if spec.temperature is not None:
                print(manifest.get("temperature", ""))
            print(
                format_accuracy_table(
                    read_table(trace_dir, "probes"),
                    read_table(trace_dir, "cells"),
                    manifest.get("digital_accuracy"),
                )
            )
        if not args.no_report:
            files = write_report(trace_dir)
            print(f"report: {files.out_dir}")
    if name in _TABLES:
        print(_TABLES[name]([(label, run.trace_dir) for label, run in runs]))
    elif len(specs) > 1:
        rows = sweep_rows([(label, run.trace_dir) for label, run in runs])
        print(format_sweep_table(rows, failed))
        if rows:
            table, png = write_pareto(pareto_points_from_rows(rows), out / "pareto", out.name)
            print(f"pareto: {png} (table {table})")
    print(
        f"trace: {out}  ({time.perf_counter() - start:.0f} s; "
        f"{sum(r.cells_run for _, r in runs)} cells run, {sum(r.cells_skipped for _, r in runs)} resumed)"
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a scenario; write its trace and report")
    p.add_argument(
        "scenario",
        nargs="?",
        type=name_or_path("scenario"),
        help=f"one of {', '.join(SCENARIOS)}, a shipped scenario file "
        f"({', '.join(shipped_names('scenarios'))}), or a scenario .toml file",
    )
    add_list_argument(p, "scenarios and model files")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="seconds-long version (what the tests run)")
    size.add_argument("--full", action="store_true", help="published size: 5 seeds, 10,000 test images")
    p.add_argument("--out", type=path("out"), help="trace directory (default: traces/NAME[-SIZE])")
    add_model_argument(p, "scenario")
    p.add_argument("--resume", action="store_true", help="keep the finished cells of an interrupted run")
    p.add_argument("--no-report", action="store_true", help="skip the PNG plots and summary.txt")
    add_quiet_argument(p)
    p.add_argument(
        "--threads",
        type=integer("threads", minimum=1, maximum=MAX_THREADS),
        default=None,
        help="torch threads (default: torch's)",
    )
    p.add_argument(
        "--device",
        type=torch_device,
        default="cpu",
        help="torch device the cells program their chips and probe on: cpu (default), cuda, cuda:N or mps",
    )
    p.add_argument(
        "--seeds",
        type=integer("seeds", minimum=1, maximum=MAX_SEEDS),
        default=None,
        help="override: programming seeds 0..N-1",
    )
    p.add_argument(
        "--n-images",
        type=integer("n_images", minimum=1, maximum=MAX_TEST_IMAGES),
        default=None,
        help="override: test images per probe",
    )
    p.set_defaults(func=_run)
