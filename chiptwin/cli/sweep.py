"""``chiptwin sweep SWEEP_FILE``: run a grid of scenario cells on dask.distributed.

A LocalCluster of ``--workers`` single-threaded processes by default, or an existing scheduler with
``--scheduler ADDRESS``; ``--serial`` runs the cells in this process. Writes ``OUT/results`` (one Parquet
part per cell, the cell's grid keys as columns) and each cell's trace under ``OUT/cells``; a re-run skips
finished cells. Exit code 1 when cells failed after their retries (each is printed with its error).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from torch import nn
from tqdm import tqdm

from chiptwin.cli.arguments import integer, name_or_path, path, scheduler_address
from chiptwin.cli.listing import add_list_argument, format_shipped, needs_target
from chiptwin.cli.progress import add_quiet_argument, show_progress
from chiptwin.cli.user_models import add_model_argument, build_user_models, user_model_labels
from chiptwin.errors import UsageError
from chiptwin.files import output_folder
from chiptwin.limits import MAX_WORKERS
from chiptwin.report.pareto import pareto_points_from_sweep, write_pareto
from chiptwin.report.sweep_table import format_sweep_results
from chiptwin.shipped import shipped_names
from chiptwin.sweep import SweepSpec, load_sweep, read_sweep, run_sweep

__all__ = ["add_parser"]


def _command(args: argparse.Namespace) -> int:
    if args.list:
        print(format_shipped("sweeps"))
        return 0
    file = needs_target("sweep", args.file, "a sweep file or name")
    spec = load_sweep(file, in_memory=user_model_labels(args.models))
    scenarios = [cell.scenario for cell in spec.cells()] if args.models else []
    models = build_user_models("chiptwin sweep", args.models, scenarios)
    # The sweep name is checked (chiptwin.files.check_name): a sweep file cannot steer this path.
    folder = Path(args.out) if args.out else Path("traces") / f"sweep-{spec.name}"
    with output_folder(folder, "--out", UsageError, kind="sweep folder", lock=False) as out:  # sweep locks
        return _run(spec, out, args, models)


def _run(spec: SweepSpec, out: Path, args: argparse.Namespace, models: dict[str, nn.Module]) -> int:
    cells = spec.cells()
    bar = tqdm(total=len(cells), unit="cell", disable=not show_progress(args.quiet), leave=False, delay=0.1)
    with bar:

        def start(total: int) -> None:  # once the folder is ours and the cluster answers
            bar.write(f"sweep {spec.name}: {total} cells -> {out}")

        def done(cell_id: str, error: str | None) -> None:
            bar.update(1)
            if error is not None:
                bar.write(f"  failed: {cell_id}: {error}")

        result = run_sweep(
            spec,
            out,
            scheduler=args.scheduler,
            workers=args.workers,
            serial=args.serial,
            on_done=done,
            on_start=start,
            models=models or None,
        )
    print(
        f"{result.cells_run} cells run, {result.cells_skipped} already finished, {len(result.failed)} failed "
        f"({result.wall_s:.0f} s); results: {out / 'results'}"
    )
    if result.cells_run + result.cells_skipped:
        results = read_sweep(out)
        print(format_sweep_results(results))
        table, png = write_pareto(pareto_points_from_sweep(results), out, spec.name)
        print(f"pareto: {png} (table {table})")
    for cell_id, error in result.failed.items():
        print(f"FAILED {cell_id}: {error}", file=sys.stderr)
    return 1 if result.failed else 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run a grid of scenario cells on dask.distributed")
    p.add_argument(
        "file",
        nargs="?",
        type=name_or_path("file"),
        help=f"sweep TOML file (format: chiptwin.sweep.spec), or a shipped sweep's name "
        f"({', '.join(shipped_names('sweeps'))})",
    )
    add_list_argument(p, "sweeps")
    p.add_argument("--out", type=path("out"), help="output directory (default: traces/sweep-NAME)")
    p.add_argument(
        "--scheduler",
        type=scheduler_address,
        help="address of an existing dask scheduler, [PROTOCOL://]HOST:PORT (default: a LocalCluster)",
    )
    p.add_argument(
        "--workers",
        type=integer("workers", minimum=1, maximum=MAX_WORKERS),
        default=2,
        help="LocalCluster worker processes",
    )
    p.add_argument("--serial", action="store_true", help="run the cells in this process, no dask")
    add_model_argument(p, "sweep")
    add_quiet_argument(p)
    p.set_defaults(func=_command)
