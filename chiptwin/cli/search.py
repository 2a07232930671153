"""The ``--strategy search`` options of ``map`` and ``timing``: arguments, placer, progress bar (on a
terminal only, :mod:`chiptwin.cli.progress`), report, and ``map --frontier``."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from chiptwin.cli.arguments import integer, seed
from chiptwin.cli.progress import progress_bar
from chiptwin.errors import UsageError
from chiptwin.limits import MAX_TILES
from chiptwin.mapping import PackedPlacer, Placer, SearchResult, placer_for, split_graph
from chiptwin.mapping.search import DEFAULT_MAX_EVALUATIONS, MOVE_RADIUS_HOPS
from chiptwin.report.frontier import draw_frontier
from chiptwin.spec.chip import ChipSpec
from chiptwin.timing.search import OBJECTIVES, frontier_budgets, search_frontier, search_placer

__all__ = [
    "MAX_FRONTIER_POINTS",
    "MAX_SEARCH_EVALUATIONS",
    "add_search_arguments",
    "format_search",
    "search_or_placer",
    "write_frontier",
]

MAX_SEARCH_EVALUATIONS = 100_000
"""Scored candidates at most per search from the command line (~10 min for ResNet-32 on one core)."""

MAX_FRONTIER_POINTS = 100
"""Tile budgets at most on a frontier."""


def add_search_arguments(p: argparse.ArgumentParser, *, frontier: bool = False) -> None:
    """``--objective``, ``--budget``, ``--evaluations``, ``--search-seed`` (``--strategy search``) and,
    with ``frontier``, ``--frontier``."""
    p.add_argument(
        "--objective",
        choices=tuple(OBJECTIVES),
        default=None,
        help="search: what to minimise, from the timing plan (default throughput)",
    )
    p.add_argument(
        "--budget",
        type=integer("budget", minimum=1, maximum=MAX_TILES),
        default=None,
        help="search: tiles the mapping may use (default all the chip's)",
    )
    p.add_argument(
        "--evaluations",
        type=integer("evaluations", minimum=1, maximum=MAX_SEARCH_EVALUATIONS),
        default=None,
        help=f"search: candidate mappings scored at most (default {DEFAULT_MAX_EVALUATIONS})",
    )
    p.add_argument("--search-seed", type=seed("search_seed"), default=None, help="search: seed (default 0)")
    if not frontier:
        return
    p.add_argument(
        "--frontier",
        type=integer("frontier", minimum=2, maximum=MAX_FRONTIER_POINTS),
        default=None,
        metavar="POINTS",
        help="search: also search throughput at POINTS tile budgets, from the fewest tiles to all, and "
        "write frontier.parquet and frontier.png (throughput against tiles, the fixed recipes marked)",
    )


@contextmanager
def search_or_placer(args: argparse.Namespace, results: list[SearchResult]) -> Iterator[Placer]:
    """The placer of ``--strategy``; for ``search``, scored by the timing plan with a progress bar on
    stderr, its result appended to ``results``.

    Raises:
        UsageError: a search option without ``--strategy search``.
    """
    options = ("objective", "budget", "evaluations", "search_seed", "frontier")
    if args.strategy != "search":
        given = [f"--{o.replace('_', '-')}" for o in options if getattr(args, o, None) is not None]
        if given:
            raise UsageError(f"chiptwin {args.command}: {', '.join(given)} needs --strategy search")
        yield placer_for(args.strategy)
        return
    evaluations = args.evaluations or DEFAULT_MAX_EVALUATIONS
    with progress_bar(evaluations, desc="search", unit="mapping") as bar:

        def progress(done: int, limit: int) -> None:
            bar.update(done - bar.n)

        yield search_placer(
            args.objective or "throughput",
            budget=args.budget,
            seed=args.search_seed or 0,
            max_evaluations=evaluations,
            progress=progress,
            on_result=results.append,
        )


def format_search(result: SearchResult, objective: str) -> str:
    """What the search chose and how good it is (printed under the mapping's table)."""
    gap = result.mvms_per_tile / result.mvms_per_tile_bound - 1
    unshared = (
        f"{result.unshared_optimum_mvms:,}" if result.unshared_optimum_mvms is not None else "does not fit"
    )
    sent = result.byte_hops_bound
    return "\n".join(
        [
            f"search      objective {objective}, budget {result.budget} tiles: {result.evaluations} mappings "
            f"scored in {result.seconds:.1f} s; chosen: {result.origin} (score {result.score[0]:,.6g})",
            f"  busiest crossbar {result.mvms_per_tile:,} MVMs per image; no mapping within {result.budget} "
            f"tiles does fewer than {result.mvms_per_tile_bound:,} (gap {100 * gap:.1f} %); one block per "
            f"tile, exact optimum {unshared}",
            f"  NoC {result.byte_hops:,} byte-hops per image; at least {sent:,} for these crossbars "
            f"(bytes sent between crossbars, one hop each; gap {_ratio(result.byte_hops, sent)}); placement "
            + (
                f"a local optimum (no move of a crossbar up to {MOVE_RADIUS_HOPS} hops improves the score)"
                if result.converged
                else "not a local optimum yet (more --evaluations)"
            ),
        ]
    )


def _ratio(value: int, bound: int) -> str:
    return f"{100 * (value / bound - 1):.0f} %" if bound else "none: nothing crosses"


def write_frontier(args: argparse.Namespace, graph: Any, chip: ChipSpec, out: Path) -> str:
    """Search throughput at ``args.frontier`` tile budgets (fewest tiles to all), write
    ``frontier.parquet`` and ``frontier.png`` under ``out``; returns the lines to print."""
    fewest = len(PackedPlacer().place(split_graph(graph, chip), chip).tiles_used)
    budgets = frontier_budgets(fewest, chip.tiles.count, args.frontier)
    evaluations = args.evaluations or DEFAULT_MAX_EVALUATIONS
    with progress_bar(len(budgets), desc="frontier", unit="budget") as bar:
        points = search_frontier(
            graph,
            chip,
            budgets,
            max_evaluations=evaluations,
            seed=args.search_seed or 0,
            progress=lambda n: bar.update(n - bar.n),
        )
    columns: dict[str, list[Any]] = {"model": [], "chip": []}
    for point in points:
        columns["model"].append(str(graph.graph.get("model", "")))
        columns["chip"].append(chip.name)
        for f in dataclasses.fields(point):
            columns.setdefault(f.name, []).append(getattr(point, f.name))
        columns.setdefault("throughput_per_s", []).append(point.throughput_per_s)
    table = out / "frontier.parquet"
    pq.write_table(pa.table(columns), table)
    png = draw_frontier(table, out / "frontier.png")
    head = (
        f"{'strategy':<9} {'budget':>6} {'tiles':>5} {'images/s':>10} {'latency':>10} {'energy':>10} "
        f"{'link busy':>9}"
    )
    lines = [
        f"frontier    {graph.graph.get('model', '')} on {chip.name} ({len(budgets)} budgets, throughput)",
        head,
    ]
    for pt in points:
        lines.append(
            f"{pt.strategy:<9} {pt.budget:>6} {pt.tiles_used:>5} {pt.throughput_per_s:>10,.0f} "
            f"{pt.latency_ns / 1e3:>7,.1f} µs {pt.energy_pj / 1e6:>7,.2f} µJ "
            f"{100 * pt.link_busy_share:>8.1f} %"
        )
    return "\n".join([*lines, f"wrote {table}", f"wrote {png}"])
