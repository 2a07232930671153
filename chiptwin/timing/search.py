"""The ``search`` strategy scored by the timing model: objectives as functions of the pipeline plan.

Every candidate mapping is scored through :func:`~chiptwin.timing.plan.build_plan`, the plan that
``chiptwin timing`` simulates, so the analytic pipeline bound the search minimises is the one the event
engine plays: the interval between results at saturation is the plan's ``bottleneck_ns`` (the busiest
crossbar, digital unit or mesh link per image), the single-image latency without contention its
``fill_ns``.

An objective is a name in :data:`OBJECTIVES` or a function of one's own from a
:class:`~chiptwin.timing.stages.PipelinePlan` to a number, lower is better::

    placer = search_placer(lambda plan: plan.bottleneck_ns * plan.dynamic_energy_pj)
    mapping = map_graph(graph, chip, placer)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chiptwin.errors import MappingError
from chiptwin.mapping.mapper import map_graph
from chiptwin.mapping.metrics import measure_mapping
from chiptwin.mapping.placement import Mapping, Placer
from chiptwin.mapping.search import DEFAULT_MAX_EVALUATIONS, Progress, Score, SearchPlacer, SearchResult
from chiptwin.mapping.strategies import STRATEGIES, placer_for
from chiptwin.spec.chip import ChipSpec
from chiptwin.timing.plan import build_plan
from chiptwin.timing.stages import PipelinePlan
from chiptwin.units import NS_PER_S

__all__ = [
    "OBJECTIVES",
    "FrontierPoint",
    "Objective",
    "frontier_budgets",
    "plan_score",
    "resolve_strategy",
    "search_frontier",
    "search_placer",
]

Objective = Callable[[PipelinePlan], float]
"""A function of the timing plan, lower is better."""

OBJECTIVES: dict[str, Objective] = {
    "throughput": lambda plan: float(plan.bottleneck_ns),
    "latency": lambda plan: float(plan.fill_ns),
    "energy": lambda plan: plan.dynamic_energy_pj,
    "tiles": lambda plan: float(len(plan.tiles_used)),
}
"""``throughput``: the interval between results at saturation (ns per image); ``latency``: one image's
contention-free latency (ns); ``energy``: dynamic energy per image (pJ); ``tiles``: tiles used."""


def _objective(objective: str | Objective) -> Objective:
    if not isinstance(objective, str):
        return objective
    try:
        return OBJECTIVES[objective]
    except KeyError:
        raise MappingError(f"objective(={objective!r}) must be one of {', '.join(OBJECTIVES)}") from None


def plan_score(objective: str | Objective) -> Callable[[Any, ChipSpec], Score]:
    """The score the search minimises for ``objective``, built per layer graph and chip.

    A mapping's score is ``(objective, interval, busiest link, latency, energy)`` of its plan: the later
    terms break ties (the most loaded link first, which the placement moves can shorten).

    Raises:
        MappingError: an unknown objective name.
    """
    measure = _objective(objective)

    def for_graph(graph: Any, chip: ChipSpec) -> Score:
        def score(mapping: Mapping) -> tuple[float, ...]:
            plan = build_plan(graph, mapping, chip)
            link = max(plan.link_busy_ns.values(), default=0)
            return (measure(plan), plan.bottleneck_ns, link, plan.fill_ns, plan.dynamic_energy_pj)

        return score

    return for_graph


def resolve_strategy(strategy: str | Placer) -> Placer:
    """The placer of a strategy name, ``search`` scored by the timing plan for throughput (the registry's
    own ``search`` entry is scored by the mapping's measure: it cannot see the timing layer).

    Raises:
        MappingError: an unknown name.
    """
    if strategy == "search":
        return search_placer("throughput")
    return placer_for(strategy)


def search_placer(
    objective: str | Objective = "throughput",
    *,
    budget: int | None = None,
    seed: int = 0,
    max_evaluations: int = DEFAULT_MAX_EVALUATIONS,
    progress: Progress | None = None,
    on_result: Callable[[SearchResult], None] | None = None,
) -> SearchPlacer:
    """The ``search`` placer scored by the timing plan (:func:`plan_score`); the fixed recipes too.

    Raises:
        MappingError: an unknown objective name.
    """
    recipes = tuple(p for name, p in STRATEGIES.items() if name != "search")
    return SearchPlacer(
        score=plan_score(objective),
        budget=budget,
        seed=seed,
        max_evaluations=max_evaluations,
        progress=progress,
        on_result=on_result,
        recipes=recipes,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FrontierPoint:
    """One mapping on the throughput-against-tiles frontier (a searched budget or a fixed recipe)."""

    strategy: str
    """``search`` or the recipe's name."""

    budget: int
    """Tiles the search could use (a recipe: the chip's tiles)."""

    tiles_used: int
    interval_ns: int
    """The plan's interval between results at saturation (its busiest resource per image), ns."""

    latency_ns: int
    """One image's contention-free latency, ns."""

    energy_pj: float
    """Dynamic energy per image, pJ."""

    byte_hops: int
    """NoC byte-hops per image."""

    link_busy_share: float
    """Busy time of the most loaded mesh link per image over the interval (0: no link used)."""

    @property
    def throughput_per_s(self) -> float:
        """Images per second at saturation."""
        return NS_PER_S / self.interval_ns


def frontier_budgets(fewest: int, tiles: int, points: int) -> list[int]:
    """``points`` tile budgets from ``fewest`` to ``tiles``, evenly spaced (distinct, ascending).

    >>> frontier_budgets(6, 64, 5)
    [6, 20, 35, 50, 64]
    """
    if points < 2 or fewest >= tiles:
        return [tiles]
    return sorted({round(fewest + i * (tiles - fewest) / (points - 1)) for i in range(points)})


def _point(graph: Any, chip: ChipSpec, mapping: Mapping, budget: int) -> FrontierPoint:
    plan = build_plan(graph, mapping, chip)
    link = max(plan.link_busy_ns.values(), default=0)
    return FrontierPoint(
        strategy=mapping.strategy,
        budget=budget,
        tiles_used=len(plan.tiles_used),
        interval_ns=plan.bottleneck_ns,
        latency_ns=plan.fill_ns,
        energy_pj=plan.dynamic_energy_pj,
        byte_hops=measure_mapping(graph, mapping).noc_byte_hops_per_inference,
        link_busy_share=link / plan.bottleneck_ns,
    )


def search_frontier(
    graph: Any,
    chip: ChipSpec,
    budgets: Sequence[int],
    *,
    max_evaluations: int = DEFAULT_MAX_EVALUATIONS,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> list[FrontierPoint]:
    """The throughput-searched mapping at each tile budget, then the fixed recipes that fit the chip.

    Args:
        progress: called with the number of budgets done after each.

    Raises:
        MappingError: a budget the model cannot be placed within (:func:`search_mapping`).
    """
    points = []
    for n, budget in enumerate(budgets, start=1):
        placer = search_placer("throughput", budget=budget, seed=seed, max_evaluations=max_evaluations)
        points.append(_point(graph, chip, map_graph(graph, chip, placer, architectures_dir=None), budget))
        if progress is not None:
            progress(n)
    for name, recipe in STRATEGIES.items():
        if name == "search":
            continue
        try:
            mapping = map_graph(graph, chip, recipe, architectures_dir=None)
        except MappingError:
            continue
        points.append(_point(graph, chip, mapping, chip.tiles.count))
    return points
