"""Benchmark: time to trace ResNet-50 into the layer graph and map it onto 512x512 crossbars.

Builds the zoo's ResNet-50 (224x224, not timed), then times, best of ``--repeat`` runs: tracing
(``build_layer_graph``) and mapping (split, place, check, measure, chip graph) with each strategy. Target:
trace + map under 2 s. ResNet-50 has 25.5 M crossbar weights, more than ``large_512``'s 64 tiles hold
(16.8 M), so the mapping runs on a copy of the chip spec (``dataclasses.replace``) with as many tiles as
one block per tile needs, on a square mesh; the bench says so when it does.

    python bench/mapping_time.py [--arch large_512] [--repeat 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import torch

from chiptwin.errors import MappingError
from chiptwin.mapping import STRATEGIES, build_chip_graph, map_graph, measure_mapping, split_graph
from chiptwin.mapping.mapper import resolve_arch
from chiptwin.network.graph import build_layer_graph
from chiptwin.network.resnet import build_model, model_spec
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.load import load_chip

MAX_TOTAL_S = 2.0
"""Target: trace + map (the slowest strategy) of ResNet-50 on 512x512 crossbars, s."""

MODEL = "resnet50"
INPUT_SHAPE = (3, 224, 224)


def best_time_s(step: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Smallest wall time of ``repeat`` calls of ``step``, s, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = step()
        best = min(best, time.perf_counter() - start)
    return best, result


def chip_that_holds(graph: Any, chip: ChipSpec) -> tuple[ChipSpec, bool]:
    """``chip``, or a copy with enough tiles for one block per tile (and whether it was enlarged)."""
    blocks = len(split_graph(graph, chip))
    if blocks <= chip.tiles.count:
        return chip, False
    side = math.ceil(math.sqrt(blocks))
    bigger = dataclasses.replace(
        chip,
        name=f"{chip.name}_x{blocks}",
        tiles=dataclasses.replace(chip.tiles, count=blocks),
        noc=dataclasses.replace(chip.noc, mesh_rows=math.ceil(blocks / side), mesh_cols=side),
    )
    return bigger, True


def map_all(graph: Any, chip: ChipSpec, strategy: str) -> Any:
    mapping = map_graph(graph, chip, strategy, architectures_dir=None)
    build_chip_graph(graph, mapping, chip)
    return measure_mapping(graph, mapping)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time to trace and map ResNet-50 on 512x512 crossbars.")
    parser.add_argument("--arch", default="large_512", help="shipped chip name or architecture file")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step; the best is reported")
    args = parser.parse_args(argv)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(model_spec(MODEL))
    trace_s, graph = best_time_s(lambda: build_layer_graph(model, INPUT_SHAPE, name=MODEL), args.repeat)
    chip = load_chip(resolve_arch(args.arch))
    try:
        map_graph(graph, chip, "dense", architectures_dir=None)
        enlarged = False
    except MappingError as exc:
        print(f"{MODEL} does not fit {chip.name}: {exc}")
        chip, enlarged = chip_that_holds(graph, chip)
    if enlarged:
        print(
            f"mapping on a copy of {args.arch} with {chip.tiles.count} tiles on a "
            f"{chip.noc.mesh_rows}x{chip.noc.mesh_cols} mesh (dataclasses.replace)"
        )
    print(
        f"trace {MODEL} ({graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges): {trace_s:.3f} s"
    )
    worst = 0.0
    for strategy in STRATEGIES:
        map_s, result = best_time_s(lambda s=strategy: map_all(graph, chip, s), args.repeat)
        worst = max(worst, map_s)
        print(
            f"map {strategy:<8} {map_s:.3f} s: {result.tiles_used} tiles, "
            f"{100 * result.utilisation:.1f} % cells, bottleneck {result.bottleneck_layer} "
            f"({result.bottleneck_mvms} MVMs/replica)"
        )
    total = trace_s + worst
    verdict = "ok" if total < MAX_TOTAL_S else "SLOW"
    print(f"trace + map (slowest strategy): {total:.3f} s (target < {MAX_TOTAL_S:g} s): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
