"""What a mapping costs: tiles, cell utilisation, per-layer MVMs, the bottleneck and NoC traffic."""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx

from chiptwin.mapping.blocks import analog_layers
from chiptwin.mapping.chip_graph import route_flows
from chiptwin.mapping.placement import Mapping, replica_share

__all__ = ["LayerResult", "MappingResult", "measure_mapping"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerResult:
    """One analog layer of a mapping."""

    name: str
    kind: str
    rows: int
    """Rows of the layer's unrolled weight matrix."""

    cols: int
    """Columns of the layer's unrolled weight matrix."""

    blocks: int
    """Crossbar blocks of one copy of the layer."""

    replicas: int
    tiles: int
    """Distinct tiles holding the layer's blocks (all replicas)."""

    cells: int
    """Crossbar weight cells used, all replicas (``rows * cols * replicas``)."""

    mvms_per_inference: int
    """MVMs per image of the layer (output positions)."""

    mvms_per_replica: int
    """MVMs per image the busiest replica does: ``ceil(mvms / replicas)``, the layer's stage time in MVMs."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingResult:
    """The summary of a mapping."""

    model: str
    chip: str
    strategy: str
    tiles_available: int
    tiles_used: int
    cells_used: int
    """Crossbar weight cells holding a weight (all replicas)."""

    cells_available: int
    """Weight cells of the tiles used."""

    utilisation: float
    """``cells_used / cells_available``."""

    layers: tuple[LayerResult, ...]
    """Analog layers in topological order."""

    bottleneck_layer: str
    """The layer with the most MVMs per image per replica (first in topological order on a tie)."""

    bottleneck_mvms: int
    """Its MVMs per image per replica: the pipeline's slowest stage, in MVM times."""

    busiest_tile: int
    """The tile whose crossbar does the most MVMs per image (its blocks run one after another)."""

    busiest_tile_mvms: int
    noc_bytes_per_inference: int
    """Bytes per image that leave their tile (flows of one hop or more)."""

    noc_byte_hops_per_inference: int
    """Sum over flows of bytes times hops, per image."""


def measure_mapping(graph: nx.DiGraph, mapping: Mapping) -> MappingResult:
    """Summarise ``mapping`` of the layer graph ``graph``."""
    layers = []
    for layer in analog_layers(graph):
        placed = mapping.placements_of(layer.name)
        r = mapping.replication[layer.name]
        layers.append(
            LayerResult(
                name=layer.name,
                kind=layer.kind,
                rows=layer.rows,
                cols=layer.cols,
                blocks=len(placed) // r,
                replicas=r,
                tiles=len({p.tile for p in placed}),
                cells=sum(p.block.cells for p in placed),
                mvms_per_inference=layer.mvms_per_inference,
                mvms_per_replica=math.ceil(layer.mvms_per_inference / r),
            )
        )
    bottleneck = max(layers, key=lambda lr: lr.mvms_per_replica)  # max keeps the first of ties
    tile_mvms: dict[int, int] = {}
    for p in mapping.placements:
        start, stop = replica_share(p.block.mvms_per_inference, mapping.replication[p.block.layer], p.replica)
        tile_mvms[p.tile] = tile_mvms.get(p.tile, 0) + stop - start
    busiest = max(sorted(tile_mvms), key=tile_mvms.__getitem__)
    flows = route_flows(graph, mapping)
    used = len(mapping.tiles_used)
    cells_used = sum(p.block.cells for p in mapping.placements)
    cells_available = used * mapping.weight_rows * mapping.weight_cols
    return MappingResult(
        model=mapping.model,
        chip=mapping.chip,
        strategy=mapping.strategy,
        tiles_available=len(mapping.positions),
        tiles_used=used,
        cells_used=cells_used,
        cells_available=cells_available,
        utilisation=cells_used / cells_available,
        layers=tuple(layers),
        bottleneck_layer=bottleneck.name,
        bottleneck_mvms=bottleneck.mvms_per_replica,
        busiest_tile=busiest,
        busiest_tile_mvms=tile_mvms[busiest],
        noc_bytes_per_inference=sum(f.bytes_per_inference for f in flows if f.hops),
        noc_byte_hops_per_inference=sum(f.bytes_per_inference * f.hops for f in flows),
    )
