"""``chiptwin map``: map a zoo network onto a chip, print the per-layer table, write Parquet and a PNG."""

from __future__ import annotations

import argparse
from pathlib import Path

from chiptwin.cli.arch import format_area, resolve_arch
from chiptwin.cli.arguments import integer, model_name, name_or_path, path, strategy_name
from chiptwin.cli.search import add_search_arguments, format_search, search_or_placer, write_frontier
from chiptwin.errors import UsageError
from chiptwin.files import output_folder
from chiptwin.limits import MAX_IN_CHANNELS
from chiptwin.mapping import MappingResult, SearchResult, map_graph, measure_mapping, placer_for
from chiptwin.mapping.strategies import STRATEGIES
from chiptwin.network.graph import model_layer_graph
from chiptwin.report.tile_map import draw_tile_map
from chiptwin.scenario.mapping_rows import mapping_records
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.figures import chip_area
from chiptwin.spec.load import load_chip
from chiptwin.trace.mapping_table import write_mapping_table

__all__ = ["add_parser", "format_result", "mapping_records"]


def format_result(result: MappingResult, chip: ChipSpec | None = None) -> str:
    """The per-layer table and the totals of a mapping, as printed by ``chiptwin map`` (with the chip's
    area when ``chip`` is given)."""
    width = max(len("layer"), *(len(lr.name) for lr in result.layers))
    head = (
        f"{'layer':<{width}}  {'kind':<6} {'rows x cols':>11} {'blocks':>6} {'replicas':>8} {'tiles':>5} "
        f"{'MVMs/img':>9} {'MVMs/replica':>12}"
    )
    lines = [f"{result.model} on {result.chip}, strategy {result.strategy}", head, "-" * len(head)]
    for lr in result.layers:
        lines.append(
            f"{lr.name:<{width}}  {lr.kind:<6} {f'{lr.rows} x {lr.cols}':>11} {lr.blocks:>6} "
            f"{lr.replicas:>8} {lr.tiles:>5} {lr.mvms_per_inference:>9,} {lr.mvms_per_replica:>12,}"
        )
    blocks = sum(lr.blocks * lr.replicas for lr in result.layers)
    lines += [
        "-" * len(head),
        f"tiles       {result.tiles_used} of {result.tiles_available} used, {blocks} placed blocks "
        f"({len(result.layers)} analog layers)",
        f"cells       {result.cells_used:,} of {result.cells_available:,} weight cells of the used tiles "
        f"({100 * result.utilisation:.1f} %)",
        f"bottleneck  {result.bottleneck_layer}: {result.bottleneck_mvms:,} MVMs per image per replica; "
        f"busiest tile {result.busiest_tile}: {result.busiest_tile_mvms:,} MVMs per image",
        f"NoC         {result.noc_bytes_per_inference:,} bytes per image cross tiles, "
        f"{result.noc_byte_hops_per_inference:,} byte-hops per image",
    ]
    if chip is not None:
        area = chip_area(chip)
        used = result.tiles_used * area.tile_mm2
        lines.append(
            f"area        {area.total_mm2:.2f} mm² chip, {used:.2f} mm² in the {result.tiles_used} used "
            f"tiles ({format_area(chip)})"
        )
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    placer = placer_for(args.strategy)
    path = resolve_arch(args.arch)
    chip = load_chip(path)
    bits = max(chip.dac.bits, chip.adc.bits)
    graph = model_layer_graph(args.model, in_channels=args.in_channels, activation_bits=bits)
    # chip.name is checked (chiptwin.files.check_name): a chip file cannot steer this path elsewhere; the
    # graph's model name is a zoo name or a model file's stem, no path.
    folder = args.out or Path("traces") / f"map-{graph.graph['model']}-{chip.name}-{placer.name}"
    # before the table: fail first, in one line
    with output_folder(folder, "--out", UsageError, kind="mapping folder") as out:
        searched: list[SearchResult] = []
        with search_or_placer(args, searched) as chosen:
            mapping = map_graph(graph, chip, chosen, source=path)
        print(format_result(measure_mapping(graph, mapping), chip))
        if chip.system is not None:
            used = {chip.system.chip_of(mapping.positions[t]) for t in mapping.tiles_used}
            print(f"system      {len(used)} of {chip.system.chips} chips used (chiptwin timing: their links)")
        for result in searched:
            print(format_search(result, args.objective or "throughput"))
        if args.frontier is not None:
            print(write_frontier(args, graph, chip, out))
        kinds = {name: data["layer"].kind for name, data in graph.nodes(data=True)}
        table = write_mapping_table(mapping_records(mapping, chip, kinds), out / "mapping.parquet")
        print(f"wrote {table}")
        print(f"wrote {draw_tile_map(table, out / 'tile_map.png')}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("map", help="map a zoo network onto a chip's crossbar tiles")
    p.add_argument(
        "--arch",
        type=name_or_path("arch"),
        default="hermes_64",
        help="architecture TOML file, or a shipped chip's name (check-arch --list)",
    )
    p.add_argument(
        "--model",
        type=model_name,
        default="resnet32_pcm",
        help="zoo model name, or a model file FILE.py[:NAME][@WEIGHTS] (a function building your nn.Module)",
    )
    p.add_argument(
        "--strategy",
        type=strategy_name,
        default="dense",
        help=f"placement strategy: {', '.join(STRATEGIES)} (default dense)",
    )
    p.add_argument(
        "--in-channels",
        type=integer("in_channels", minimum=1, maximum=MAX_IN_CHANNELS),
        default=None,
        help="input channels (default: 1 for CIFAR-style models, Fashion-MNIST; 3 for ImageNet-style)",
    )
    add_search_arguments(p, frontier=True)
    p.add_argument(
        "--out", type=path("out"), default=None, help="output folder (default traces/map-MODEL-ARCH-STRATEGY)"
    )
    p.set_defaults(func=_run)
