"""The ``search`` strategy scored by the timing plan: the event engine plays the chosen mapping at the
plan's interval, a user's objective, never worse than the fixed recipes, bad objectives."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from timing_graphs import chain_graph, cifar_resnet_graph, conv

from chiptwin.errors import MappingError
from chiptwin.mapping import SearchResult, map_graph
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.figures import mvm_cost
from chiptwin.timing import ReplayWorkload, build_plan, simulate_events
from chiptwin.timing.search import OBJECTIVES, search_placer


@pytest.fixture(scope="module")
def fast_hermes(hermes: ChipSpec) -> ChipSpec:
    # hermes_64 with a fast digital unit and mesh, so the crossbars set the pace as in the hand count.
    return dataclasses.replace(
        hermes,
        digital=dataclasses.replace(hermes.digital, ops_per_ns=1000.0),
        noc=dataclasses.replace(hermes.noc, link_bandwidth_bytes_per_ns=1000.0),
    )


def test_event_engine_delivers_the_searched_interval(fast_hermes: ChipSpec) -> None:
    # A chain of a 1,024-MVM conv (32x32 outputs) and a 256-MVM one (stride 2: 16x16 outputs).
    graph = chain_graph([conv("a", 4, 8, 3, 32), conv("b", 8, 8, 3, 32, stride=2)])
    found: list[SearchResult] = []
    mapping = map_graph(
        graph,
        fast_hermes,
        search_placer("throughput", budget=5, on_result=found.append),
        architectures_dir=None,
    )
    # 1,024 + 256 = 1,280 MVMs of work on 5 tiles: at least 256 per tile; a in 4 replicas of 256 and b
    # alone reach it exactly.
    assert found[0].mvms_per_tile == found[0].mvms_per_tile_bound == 256
    assert mapping.replication == {"a": 4, "b": 1}
    plan = build_plan(graph, mapping, fast_hermes)
    assert plan.bottleneck_ns == math.ceil(256 * mvm_cost(fast_hermes).time_ns)
    # 200 images at once: the results leave one interval apart once the pipeline is full.
    n = 200
    result = simulate_events(plan, ReplayWorkload(np.zeros(n, dtype=np.int64)), duration_ns=1)
    assert result.inferences == n
    assert result.elapsed_ns == pytest.approx(plan.fill_ns + (n - 1) * plan.bottleneck_ns, rel=0.02)


def test_a_users_objective_is_a_function_of_the_plan(tiny: ChipSpec) -> None:
    graph = chain_graph([conv("a", 4, 8, 3, 8), conv("b", 8, 8, 3, 8)])
    seen = []

    def most_tiles(plan) -> float:  # type: ignore[no-untyped-def]
        seen.append(plan)
        return -len(plan.tiles_used)

    mapping = map_graph(graph, tiny, search_placer(most_tiles, max_evaluations=30), architectures_dir=None)
    assert seen and all(hasattr(p, "bottleneck_ns") for p in seen)
    assert len(mapping.tiles_used) == max(len(p.tiles_used) for p in seen)
    fewest = map_graph(graph, tiny, search_placer("tiles", max_evaluations=30), architectures_dir=None)
    assert len(fewest.tiles_used) == 1 < len(mapping.tiles_used)


@pytest.mark.parametrize("objective", ["throughput", "energy"])
def test_never_worse_than_the_best_recipe_on_resnet32_pcm(hermes: ChipSpec, objective: str) -> None:
    graph = cifar_resnet_graph()
    measure = OBJECTIVES[objective]
    mapping = map_graph(graph, hermes, search_placer(objective, max_evaluations=25), architectures_dir=None)
    best = min(
        measure(build_plan(graph, map_graph(graph, hermes, s), hermes))
        for s in ("dense", "packed", "balanced")
    )
    assert measure(build_plan(graph, mapping, hermes)) <= best


def test_an_unknown_objective_is_named() -> None:
    with pytest.raises(MappingError, match=r"objective\(='speed'\) must be one of throughput, latency"):
        search_placer("speed")
