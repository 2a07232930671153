"""The ``search`` strategy: the replication, crossbar sharing and tile placement that score best.

Three parts, each with what is known about how good its answer is (:class:`SearchResult` carries the
figures):

1. **Replicas under a tile budget: exact for the crossbar bound.** A pipeline delivers at most one image
   per busy time of its busiest crossbar. With one block copy per tile, the busiest crossbar does
   ``max_L ceil(M_L / r_L)`` MVMs per image (``M_L`` MVMs per image of layer ``L``, ``r_L`` replicas,
   :func:`~chiptwin.mapping.placement.replica_share`). Reaching at most ``T`` needs ``r_L >= ceil(M_L / T)``
   and that is enough, so the fewest tiles reaching ``T`` are ``sum_L b_L ceil(M_L / T)`` (``b_L`` blocks
   per copy), non-increasing in ``T``: bisection over the values ``ceil(M_L / r)`` finds the smallest ``T``
   within the budget, which is optimal (:func:`fewest_mvms_per_tile`).
2. **Sharing crossbars: a heuristic with a lower bound.** Blocks whose loads (MVMs per image) sum to at
   most ``T`` may share a crossbar; they run one after another. For each ``T`` that is a two-dimensional
   bin packing with a load capacity (:func:`~chiptwin.mapping.packing.pack_rectangles`). Any mapping whose
   busiest crossbar does at most ``T`` MVMs per image needs at least ``max(ceil(cells(T) / crossbar
   cells), ceil(sum_L b_L M_L / T))`` tiles, ``cells(T)`` counted with the fewest replicas
   ``ceil(M_L / T)`` (:func:`shared_tiles_bound`); blocks of more than half a crossbar cannot share one,
   which tightens it (:func:`whole_crossbars_allow`). The smallest ``T`` meeting the budget by both is the
   lower bound reported next to the ``T`` found.
3. **Placement: a seeded local search with a lower bound on NoC traffic.** The crossbars go to tiles along
   the snake in layer order, or one by one on the free tile nearest (bytes x hops; in a system also with
   a chip edge weighted by its link's energy) to those already placed, whichever scores best; then
   sweeps over every move (a crossbar to a tile at most :data:`MOVE_RADIUS_HOPS` away, swapping with
   the one there), in a seeded order, keep each move that improves the score, until a sweep finds none
   (a local optimum, :attr:`SearchResult.converged`) or ``max_evaluations`` are spent. Every byte sent
   from one crossbar to another crosses at least one hop, which bounds the byte-hops of the chosen
   crossbars from below.

The replication level is searched too: the throughput-optimal ``T`` with sharing, the unshared optimum,
one copy of every layer packed (the fewest tiles) and a geometric ladder between, each scored. The fixed
recipes (``dense``, ``packed``, ``balanced``) within the budget are scored as well and returned when
they score better, so the search never scores worse than the best of them.

**The score** is a function of a candidate mapping, lower is better (a tuple compares term by term).
``chiptwin.timing.search`` gives one computed by the timing model's pipeline plan, the plan
``chiptwin timing`` simulates (objectives throughput, latency, energy, tiles, or a function of the plan of
one's own). Without one the score is the mapping's own measure (:func:`measure_score`): the busiest
crossbar's MVMs per image, then NoC byte-hops.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from chiptwin.errors import MappingError
from chiptwin.mapping.blocks import BlockSpec
from chiptwin.mapping.chip_graph import route_flows
from chiptwin.mapping.metrics import measure_mapping
from chiptwin.mapping.packing import pack_rectangles
from chiptwin.mapping.placement import (
    BlockPlacement,
    Mapping,
    Placer,
    replica_share,
    snake_order,
    tile_position,
)
from chiptwin.spec.chip import ChipSpec

__all__ = [
    "DEFAULT_MAX_EVALUATIONS",
    "LADDER_STEPS",
    "MOVE_RADIUS_HOPS",
    "Progress",
    "Score",
    "SearchPlacer",
    "SearchResult",
    "fewest_mvms_per_tile",
    "measure_score",
    "search_mapping",
    "shared_tiles_bound",
    "whole_crossbars_allow",
]

Score = Callable[[Mapping], tuple[float, ...]]
"""A candidate mapping's score, lower is better."""

Progress = Callable[[int, int], None]
"""Called with (evaluations done, evaluations at most) after every scored candidate."""

DEFAULT_MAX_EVALUATIONS = 400
"""Scored candidates at most per search (placement moves included): ~2 s for ResNet-32 with the plan's
score on one core."""

MOVE_RADIUS_HOPS = 2
"""A placement move takes a crossbar to a tile at most this many mesh hops away (swapping with the
crossbar there): 12 candidate tiles on a large mesh, so a sweep over all moves stays short."""

LADDER_STEPS = 6
"""Replication levels tried between the throughput-optimal one and one copy of everything."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResult:
    """The mapping a search chose and what is known about how good it is."""

    mapping: Mapping
    score: tuple[float, ...]
    origin: str
    """``search`` (replication level ``T`` and placement found by the search) or the recipe it kept
    (``recipe dense``, ``recipe packed``, ``recipe balanced``) when that scored better."""

    budget: int
    """Tiles the search could use."""

    mvms_per_tile: int
    """MVMs per image of the chosen mapping's busiest crossbar."""

    unshared_optimum_mvms: int | None
    """The exact optimum of the busiest crossbar's MVMs with one block per tile (None: blocks > budget)."""

    mvms_per_tile_bound: int
    """Lower bound on the busiest crossbar's MVMs per image of any mapping within the budget."""

    byte_hops: int
    """NoC byte-hops per image of the chosen mapping."""

    byte_hops_bound: int
    """Lower bound on them for the chosen crossbars: bytes per image sent between crossbars."""

    converged: bool
    """True when the placement is a local optimum: no single move (a crossbar to a tile at most
    :data:`MOVE_RADIUS_HOPS` away, swapping with the one there) improves the score; False when the
    evaluations ran out first."""

    evaluations: int
    seconds: float


def _layers(blocks: Sequence[BlockSpec]) -> tuple[dict[str, int], Counter[str]]:
    loads = {b.layer: b.mvms_per_inference for b in blocks}
    return loads, Counter(b.layer for b in blocks)


def _candidates(loads: dict[str, int], budget: int) -> list[int]:
    # Every value max_L ceil(M_L / r_L) can take: ceil(M / r) over layers and replica counts.
    values = {1}
    for m in loads.values():
        values.update(math.ceil(m / r) for r in range(1, min(m, budget) + 1))
    return sorted(values)


def fewest_mvms_per_tile(blocks: Sequence[BlockSpec], budget: int) -> tuple[int, dict[str, int]] | None:
    """The exact minimum of the busiest crossbar's MVMs per image with one block copy per tile.

    Returns:
        ``(T, replicas)``: the smallest ``T = max_L ceil(M_L / r_L)`` with ``sum_L b_L r_L <= budget``
        and the fewest replicas reaching it; None when one copy of every block exceeds the budget.
    """
    loads, nblocks = _layers(blocks)
    if sum(nblocks.values()) > budget:
        return None

    def tiles(t: int) -> int:
        return sum(nblocks[layer] * math.ceil(m / t) for layer, m in loads.items())

    values = _candidates(loads, budget)
    i = bisect.bisect_left(values, True, key=lambda t: tiles(t) <= budget)
    t = values[i]
    return t, {layer: math.ceil(m / t) for layer, m in loads.items()}


def shared_tiles_bound(blocks: Sequence[BlockSpec], t: int, cells_per_tile: int) -> int:
    """Tiles at least of any mapping (shared crossbars allowed) whose busiest crossbar does <= t MVMs."""
    loads, nblocks = _layers(blocks)
    cells = sum(b.cells * math.ceil(loads[b.layer] / t) for b in blocks)
    work = sum(nblocks[layer] * m for layer, m in loads.items())
    return max(math.ceil(cells / cells_per_tile), math.ceil(work / t))


def whole_crossbars_allow(blocks: Sequence[BlockSpec], t: int, cells_per_tile: int, budget: int) -> bool:
    """False when no mapping within ``budget`` tiles keeps its busiest crossbar at <= ``t`` MVMs because
    of the blocks too large to share (a finer test than :func:`shared_tiles_bound`, for the same bound).

    A *large* copy holds more than half a crossbar's cells, so no two share a tile; a tile holding one
    takes other copies only where the smallest small block still fits beside it, and then only up to
    ``t - load`` more MVMs. The small copies' MVMs must fit in that room plus ``t`` on each tile without a
    large copy. The fewest replicas ``ceil(M / t)`` are the most favourable case (more replicas of a large
    block add large copies and leave the room as it was), so the test holds for every mapping.
    """
    half = cells_per_tile / 2
    small = [b for b in blocks if b.cells <= half]
    smallest = min((b.cells for b in small), default=0)
    large, room = 0, 0
    for b in blocks:
        if b.cells <= half:
            continue
        r = math.ceil(b.mvms_per_inference / t)
        large += r
        if small and cells_per_tile - b.cells >= smallest:
            room += sum(
                t - (stop - start)
                for start, stop in (replica_share(b.mvms_per_inference, r, k) for k in range(r))
            )
    work_small = sum(b.mvms_per_inference for b in small)
    return large <= budget and work_small <= room + (budget - large) * t


def measure_score(graph: nx.DiGraph) -> Score:
    """The mapping's own measure: (busiest crossbar's MVMs per image, NoC byte-hops per image)."""

    def score(mapping: Mapping) -> tuple[float, ...]:
        r = measure_mapping(graph, mapping)
        return (float(r.busiest_tile_mvms), float(r.noc_byte_hops_per_inference))

    return score


_Bin = list[tuple[BlockSpec, int, int, int]]  # (block, replica, row offset, col offset)


def _pack(blocks: Sequence[BlockSpec], chip: ChipSpec, t: int | None, budget: int) -> list[_Bin] | None:
    """Copies of the blocks with the fewest replicas for ``t`` (None: one copy), packed with load cap t."""
    copies = []
    for b in blocks:
        r = 1 if t is None else math.ceil(b.mvms_per_inference / t)
        for k in range(r):
            start, stop = replica_share(b.mvms_per_inference, r, k)
            copies.append((b, k, stop - start))
    tiles = chip.tiles
    spots = pack_rectangles(
        [(b.rows, b.cols) for b, _, _ in copies],
        tiles.weight_rows,
        tiles.weight_cols,
        max_bins=budget,
        loads=None if t is None else [load for _, _, load in copies],
        max_load=t,
    )
    if spots is None:
        return None
    bins: list[_Bin] = [[] for _ in range(max(s[0] for s in spots) + 1)]
    for (b, k, _), (n, r, c) in zip(copies, spots, strict=True):
        bins[n].append((b, k, r, c))
    return bins


def _layout(blocks: tuple[BlockSpec, ...], chip: ChipSpec, bins: list[_Bin], tiles: Sequence[int]) -> Mapping:
    replication: dict[str, int] = {}
    placements = []
    for n, content in enumerate(bins):
        for b, k, r, c in content:
            replication[b.layer] = max(replication.get(b.layer, 1), k + 1)
            placements.append(BlockPlacement(block=b, replica=k, tile=tiles[n], row_offset=r, col_offset=c))
    placements.sort(key=lambda p: (p.block.layer, p.block.index, p.replica))
    return Mapping(
        chip=chip.name,
        strategy="search",
        weight_rows=chip.tiles.weight_rows,
        weight_cols=chip.tiles.weight_cols,
        blocks=blocks,
        placements=tuple(placements),
        replication={name: replication.get(name, 1) for name in dict.fromkeys(b.layer for b in blocks)},
        positions={t: tile_position(chip, t) for t in range(chip.tiles.count)},
    )


def _in_layer_order(blocks: tuple[BlockSpec, ...], bins: list[_Bin]) -> list[_Bin]:
    rank = {b: i for i, b in enumerate(blocks)}
    return sorted(bins, key=lambda content: min(rank[b] * 1_000_000 + k for b, k, _, _ in content))


class _Counter:
    def __init__(self, score: Score, limit: int, progress: Progress | None) -> None:
        self.score, self.limit, self.progress, self.done = score, limit, progress, 0

    def __call__(self, mapping: Mapping) -> tuple[float, ...]:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.limit)
        return self.score(mapping)

    @property
    def left(self) -> int:
        return self.limit - self.done


def _ladder(low: int, high: int, values: list[int]) -> list[int]:
    # low and high, and the replica-count values nearest a geometric ladder between them.
    wanted = [low * (high / low) ** (i / LADDER_STEPS) for i in range(1, LADDER_STEPS)]
    snapped = {values[min(bisect.bisect_left(values, w), len(values) - 1)] for w in wanted}
    return sorted({low, high, *(t for t in snapped if low < t < high)})


def _refine(
    blocks: tuple[BlockSpec, ...],
    chip: ChipSpec,
    bins: list[_Bin],
    tiles: list[int],
    best: tuple[float, ...],
    evaluate: _Counter,
    rng: np.random.Generator,
) -> tuple[list[int], tuple[float, ...], bool]:
    """Move crossbars between tiles while the score improves: sweeps over every (crossbar, tile) move in a
    seeded order, first improvement kept. Returns the tiles, their score and whether a whole sweep found
    no improvement (a local optimum for single moves within MOVE_RADIUS_HOPS) before the evaluations ran
    out."""
    position = {t: tile_position(chip, t) for t in range(chip.tiles.count)}
    near = {
        t: [u for u in position if 0 < abs(r - position[u][0]) + abs(c - position[u][1]) <= MOVE_RADIUS_HOPS]
        for t, (r, c) in position.items()
    }
    while True:
        improved = False
        moves = [(a, t) for a in range(len(bins)) for t in near[tiles[a]]]
        for i in rng.permutation(len(moves)):
            a, target = moves[i]
            if target == tiles[a] or target not in near[tiles[a]]:
                continue
            if evaluate.left <= 0:
                return tiles, best, False
            trial = list(tiles)
            if target in trial:  # swap with the crossbar on the target tile
                trial[trial.index(target)] = tiles[a]
            trial[a] = target
            s = evaluate(_layout(blocks, chip, bins, trial))
            if s < best:
                tiles, best, improved = trial, s, True
        if not improved:
            return tiles, best, True


def _nearest_tiles(
    graph: nx.DiGraph,
    blocks: tuple[BlockSpec, ...],
    chip: ChipSpec,
    bins: list[_Bin],
    snake: list[int],
    *,
    weigh_links: bool,
) -> list[int]:
    """Crossbars placed one by one in layer order, each on the free tile that minimises bytes x hops to
    the crossbars already placed (ties: the earliest tile of the snake); a constructive start for the
    local search that keeps heavy flows short. With ``weigh_links`` a hop across a system's chip edge
    counts as many mesh hops as its energy per bit is worth (at least one); without, as one hop."""
    n, count = len(bins), chip.tiles.count
    on_snake = _layout(blocks, chip, bins, snake[:n])
    crossbar_of = {t: i for i, t in enumerate(snake[:n])}
    weight = np.zeros((n, n))
    for f in route_flows(graph, on_snake):
        a, b = crossbar_of[f.src_tile], crossbar_of[f.dst_tile]
        if a != b:
            weight[a, b] += f.bytes_per_inference
            weight[b, a] += f.bytes_per_inference
    position = np.array([tile_position(chip, t) for t in range(count)])
    hops = np.abs(position[:, None, :] - position[None, :, :]).sum(axis=2).astype(float)
    system = chip.system
    if system is not None and weigh_links:  # a hop across a chip's edge: its link's energy, in mesh hops
        chip_at = position // np.array([system.chip_mesh_rows, system.chip_mesh_cols])
        crossings = np.abs(chip_at[:, None, :] - chip_at[None, :, :]).sum(axis=2)
        per_hop = chip.noc.energy_per_bit_hop_pj
        ratio = system.link_energy_per_bit_pj / per_hop if per_hop > 0 else 1.0
        hops += crossings * (max(ratio, 1.0) - 1.0)
    rank = np.empty(count, dtype=np.int64)
    rank[snake] = np.arange(len(snake))
    tiles: list[int] = []
    free = np.ones(count, dtype=bool)
    for i in range(n):
        cost = hops[:, tiles] @ weight[i, :i] if tiles else np.zeros(count)
        order = np.lexsort((rank, np.where(free, cost, np.inf)))
        tiles.append(int(order[0]))
        free[order[0]] = False
    return tiles


def _sent_between_crossbars(graph: nx.DiGraph, mapping: Mapping) -> int:
    return sum(f.bytes_per_inference for f in route_flows(graph, mapping) if f.src_tile != f.dst_tile)


def search_mapping(
    graph: nx.DiGraph,
    blocks: tuple[BlockSpec, ...],
    chip: ChipSpec,
    *,
    score: Score | None = None,
    budget: int | None = None,
    seed: int = 0,
    max_evaluations: int = DEFAULT_MAX_EVALUATIONS,
    progress: Progress | None = None,
    recipes: Sequence[Placer] = (),
) -> SearchResult:
    """Search replication, sharing and placement of ``blocks`` on ``chip`` (module docstring).

    Args:
        graph: the layer graph the blocks come from (its edges give the NoC flows).
        blocks: the blocks of its analog layers (:func:`~chiptwin.mapping.blocks.split_graph`).
        chip: the chip.
        score: a candidate's score, lower is better (default :func:`measure_score`).
        budget: tiles the mapping may use (default: all of the chip's).
        seed: seed of the placement moves (same seed, same answer).
        max_evaluations: scored candidates at most (>= 1).
        progress: called after every scored candidate.
        recipes: fixed placers whose mappings (within the budget) are scored too; the search returns
            one of them when it scores better.

    Raises:
        MappingError: a budget outside 1..tiles, below the tiles the model needs at least, or nothing
            packs within it.
    """
    started = time.perf_counter()
    count = chip.tiles.count
    budget = count if budget is None else budget
    if not 1 <= budget <= count:
        raise MappingError(f"budget(={budget}) must be in 1..{count}, the tiles of chip {chip.name!r}")
    if max_evaluations < 1:
        raise MappingError(f"max_evaluations(={max_evaluations}) must be >= 1")
    cells_per_tile = chip.tiles.weight_rows * chip.tiles.weight_cols
    loads, nblocks = _layers(blocks)
    at_least = math.ceil(sum(b.cells for b in blocks) / cells_per_tile)
    if budget < at_least:
        raise MappingError(
            f"budget(={budget}) is below the {at_least} tiles the model needs at least on chip {chip.name!r} "
            f"({sum(b.cells for b in blocks):,} weights, {cells_per_tile:,} per tile)"
        )
    evaluate = _Counter(score or measure_score(graph), max_evaluations, progress)
    work = sum(nblocks[layer] * m for layer, m in loads.items())
    # Every load cap from 1 to the whole work is an integer T; both searches bisect over them (the bound
    # is non-increasing in T; packing nearly so, hence the few caps just below the one found are tried).
    caps = range(1, work + 1)
    bound = caps[
        bisect.bisect_left(caps, True, key=lambda t: shared_tiles_bound(blocks, t, cells_per_tile) <= budget)
    ]
    # The finer test need not be monotone in T: it is scanned upwards (every T below failed one test).
    while bound < work and not whole_crossbars_allow(blocks, bound, cells_per_tile, budget):
        bound += 1
    packed_once = _pack(blocks, chip, None, budget)
    if packed_once is None:
        raise MappingError(
            f"budget(={budget}) tiles of chip {chip.name!r}: one copy of the model does not pack"
        )
    feasible = range(bound, work + 1)
    i = bisect.bisect_left(feasible, True, key=lambda t: _pack(blocks, chip, t, budget) is not None)
    found = feasible[min(i, len(feasible) - 1)]
    for t in reversed(feasible[max(i - 4, 0) : i]):
        if _pack(blocks, chip, t, budget) is not None:
            found = t
    values = _candidates(loads, budget)
    unshared = fewest_mvms_per_tile(blocks, budget)
    levels: list[tuple[int | None, list[_Bin]]] = []
    for t in _ladder(found, max(max(loads.values()), found), values):
        if (packing := _pack(blocks, chip, t, budget)) is not None:
            levels.append((t, packing))
    levels.append((None, packed_once))
    if unshared is not None:
        one_each = [[(b, k, 0, 0)] for b in blocks for k in range(unshared[1][b.layer])]
        levels.append((unshared[0], one_each))
    snake = list(snake_order(chip))
    best_s: tuple[float, ...] | None = None
    best_bins: list[_Bin] = []
    best_tiles: list[int] = []
    for _, packing in levels:
        ordered = _in_layer_order(blocks, packing)
        starts = [
            snake[: len(ordered)],
            _nearest_tiles(graph, blocks, chip, ordered, snake, weigh_links=False),
        ]
        if chip.system is not None:
            starts.append(_nearest_tiles(graph, blocks, chip, ordered, snake, weigh_links=True))
        for start in starts:
            s = evaluate(_layout(blocks, chip, ordered, start))
            if best_s is None or s < best_s:
                best_s, best_bins, best_tiles = s, ordered, start
    assert best_s is not None
    scored = []
    for placer in recipes:
        try:
            m = placer.place(blocks, chip)
        except MappingError:
            continue
        if len(m.tiles_used) <= budget:
            scored.append((evaluate(dataclasses.replace(m, model=str(graph.graph.get("model", "")))), m))
    tiles, best_s, converged = _refine(
        blocks, chip, best_bins, best_tiles, best_s, evaluate, np.random.default_rng(seed)
    )
    mapping, origin = _layout(blocks, chip, best_bins, tiles), "search"
    for s, m in scored:
        if s < best_s:
            best_s, mapping, origin = s, dataclasses.replace(m, strategy="search"), f"recipe {m.strategy}"
    mapping = dataclasses.replace(mapping, model=str(graph.graph.get("model", "")))
    measured = measure_mapping(graph, mapping)
    return SearchResult(
        mapping=mapping,
        score=best_s,
        origin=origin,
        budget=budget,
        mvms_per_tile=measured.busiest_tile_mvms,
        unshared_optimum_mvms=None if unshared is None else unshared[0],
        mvms_per_tile_bound=bound,
        byte_hops=measured.noc_byte_hops_per_inference,
        byte_hops_bound=_sent_between_crossbars(graph, mapping),
        converged=converged,
        evaluations=evaluate.done,
        seconds=time.perf_counter() - started,
    )


@dataclass(slots=True, kw_only=True)
class SearchPlacer:
    """The ``search`` strategy as a :class:`~chiptwin.mapping.placement.Placer` (module docstring).

    ``map_graph`` binds it to the layer graph (:meth:`for_graph`, a copy) before it places; each search's
    :class:`SearchResult` goes to ``on_result``.
    """

    name: str = "search"
    score: Callable[[nx.DiGraph, ChipSpec], Score] | None = None
    """Builds the score for a graph and chip (default: :func:`measure_score`)."""

    budget: int | None = None
    """Tiles the mapping may use (default: all)."""

    seed: int = 0
    max_evaluations: int = DEFAULT_MAX_EVALUATIONS
    progress: Progress | None = None
    on_result: Callable[[SearchResult], None] | None = None
    recipes: tuple[Placer, ...] = ()
    """Fixed placers scored next to the search (the registry's entry scores dense, packed, balanced)."""

    graph: nx.DiGraph | None = None

    def for_graph(self, graph: nx.DiGraph) -> SearchPlacer:
        """A copy of this placer bound to ``graph`` (its edges give the NoC flows of every candidate)."""
        return dataclasses.replace(self, graph=graph)

    def place(self, blocks: tuple[BlockSpec, ...], chip: ChipSpec) -> Mapping:
        """Search a mapping of ``blocks`` on ``chip`` (raises MappingError; see :func:`search_mapping`)."""
        if self.graph is None:
            raise MappingError(
                "strategy 'search' needs the layer graph: map with map_graph(graph, chip, ...)"
            )
        result = search_mapping(
            self.graph,
            blocks,
            chip,
            score=None if self.score is None else self.score(self.graph, chip),
            budget=self.budget,
            seed=self.seed,
            max_evaluations=self.max_evaluations,
            progress=self.progress,
            recipes=self.recipes,
        )
        if self.on_result is not None:
            self.on_result(result)
        return result.mapping
