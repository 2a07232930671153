"""Mapping: split analog layers into crossbar blocks, place them on tiles, build the chip graph.

Runs on the layer graph (``chiptwin.network.graph``) with networkx and numpy only; it never imports
torch. The usual path::

    mapping = map_graph(graph, chip, "packed")      # split, place, check
    result = measure_mapping(graph, mapping)        # tiles, utilisation, bottleneck, NoC traffic
    chip_graph = build_chip_graph(graph, mapping, chip)
"""

from chiptwin.mapping.blocks import BlockSpec, analog_layers, ordered_layers, split_graph, split_layer
from chiptwin.mapping.chip_graph import Flow, build_chip_graph, host_tiles, route_flows
from chiptwin.mapping.mapper import ARCHITECTURES_DIR, fit_suggestions, map_graph, resolve_arch
from chiptwin.mapping.metrics import LayerResult, MappingResult, measure_mapping
from chiptwin.mapping.packing import pack_rectangles
from chiptwin.mapping.placement import (
    BlockPlacement,
    GraphPlacer,
    Mapping,
    Placer,
    replica_share,
    snake_order,
    tile_position,
    validate_mapping,
)
from chiptwin.mapping.search import (
    SearchPlacer,
    SearchResult,
    fewest_mvms_per_tile,
    measure_score,
    search_mapping,
    shared_tiles_bound,
)
from chiptwin.mapping.strategies import (
    STRATEGIES,
    BalancedPlacer,
    DensePlacer,
    PackedPlacer,
    balance_replication,
    placer_for,
)

__all__ = [
    "ARCHITECTURES_DIR",
    "STRATEGIES",
    "BalancedPlacer",
    "BlockPlacement",
    "BlockSpec",
    "DensePlacer",
    "Flow",
    "GraphPlacer",
    "LayerResult",
    "Mapping",
    "MappingResult",
    "PackedPlacer",
    "Placer",
    "SearchPlacer",
    "SearchResult",
    "analog_layers",
    "balance_replication",
    "build_chip_graph",
    "fewest_mvms_per_tile",
    "fit_suggestions",
    "host_tiles",
    "map_graph",
    "measure_mapping",
    "measure_score",
    "ordered_layers",
    "pack_rectangles",
    "placer_for",
    "replica_share",
    "resolve_arch",
    "route_flows",
    "search_mapping",
    "shared_tiles_bound",
    "snake_order",
    "split_graph",
    "split_layer",
    "tile_position",
    "validate_mapping",
]
