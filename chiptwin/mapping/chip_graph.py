"""Digital work, data flows and the chip graph of a mapping (consumed by the timing layer).

**Host tiles.** An analog layer's *host* is the tile of its block 0, replica 0: the digital unit there
adds the partial sums of its row blocks, gathers its column blocks and replicas, and adds its bias.
A digital layer (batch-norm, ReLU, add, pool, flatten, output) runs on the digital unit of the host of
its first input, i.e. the tile that produces that output; the model input enters at the host of the
first analog layer.

**Flows** (bytes per image at the activation precision, ``graph.graph["activation_bits"]``):

- a block's outputs to its layer's join point: ``block cols * replica MVMs`` elements;
- a layer's output to each block of a consuming analog layer: the share of the tensor its rows read
  (``rows / (layer rows * groups)``) and its replica's share of the MVMs, rounded up;
- a layer's output to a consuming digital layer: the whole tensor.

A flow's hops are the XY-routing distance between the two tiles (0 when local).

**Chip graph** (``networkx.MultiDiGraph``, plain values only). Graph attributes: ``chip``, ``model``,
``strategy``, ``mesh_rows``, ``mesh_cols``. Nodes:

- ``"tile:<t>"``: ``kind="tile"``, ``tile``, ``mesh_row``, ``mesh_col``, ``blocks`` (tuple of
  ``(layer, block index, replica)``), ``cells_used``, ``cells`` (weight capacity), ``utilisation``,
  ``mvms_per_inference`` (MVMs the crossbar does per image, all its blocks);
- ``"digital:<t>"``: ``kind="digital"``, ``tile``, ``mesh_row``, ``mesh_col``, ``layers`` (names of the
  digital layers and partial-sum joins it runs), ``ops_per_inference``;
- ``"psum:<layer>"`` for a layer with several row blocks: ``kind="psum"``, ``layer``, ``tile``,
  ``row_blocks``, ``ops_per_inference`` (``(row_blocks - 1) * cols * MVMs`` additions).

Edges (attribute ``kind``):

- ``"link"``: tile to mesh-neighbour tile, both ways; ``bandwidth_bytes_per_ns``, ``hop_latency_ns``;
- ``"host"``: ``psum:<layer>`` to the ``digital:<t>`` unit that runs it;
- ``"flow"``: ``src_layer``, ``dst_layer``, ``src_tile``, ``dst_tile``, ``bytes_per_inference``,
  ``hops`` (see :class:`Flow`); several flows may join the same two nodes (a multigraph).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import networkx as nx

from chiptwin.errors import MappingError
from chiptwin.mapping.blocks import ordered_layers
from chiptwin.mapping.placement import BlockPlacement, Mapping, replica_share
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.graph import LayerSpec, bytes_per_element

__all__ = [
    "Flow",
    "build_chip_graph",
    "digital_node",
    "host_tiles",
    "psum_node",
    "route_flows",
    "row_blocks",
    "tile_node",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    """Data moved per image from one chip-graph node to another."""

    src: str
    """Chip-graph node sending (``tile:<t>``, ``digital:<t>`` or ``psum:<layer>``)."""

    dst: str
    """Chip-graph node receiving."""

    src_layer: str
    dst_layer: str
    src_tile: int
    dst_tile: int
    bytes_per_inference: int
    hops: int
    """Mesh hops from ``src_tile`` to ``dst_tile``."""


def tile_node(tile: int) -> str:
    """Chip-graph id of a tile's crossbar."""
    return f"tile:{tile}"


def digital_node(tile: int) -> str:
    """Chip-graph id of a tile's digital unit."""
    return f"digital:{tile}"


def psum_node(layer: str) -> str:
    """Chip-graph id of a layer's partial-sum join."""
    return f"psum:{layer}"


def _by_layer(mapping: Mapping) -> dict[str, list[BlockPlacement]]:
    out: dict[str, list[BlockPlacement]] = {}
    for p in mapping.placements:
        out.setdefault(p.block.layer, []).append(p)
    return out


def row_blocks(mapping: Mapping) -> dict[str, int]:
    """Row blocks per analog layer (a partial-sum join is needed where this is above 1)."""
    starts: dict[str, set[int]] = {}
    for b in mapping.blocks:
        starts.setdefault(b.layer, set()).add(b.row_start)
    return {layer: len(s) for layer, s in starts.items()}


def host_tiles(graph: nx.DiGraph, mapping: Mapping) -> dict[str, int]:
    """The tile whose digital unit produces each layer's output (module docstring).

    Raises:
        MappingError: an analog layer of the graph has no block in the mapping.
    """
    first = {p.block.layer: p.tile for p in mapping.placements if p.block.index == 0 and p.replica == 0}
    layers = ordered_layers(graph)
    entry = next((first.get(layer.name) for layer in layers if layer.analog), None)
    host: dict[str, int] = {}
    for layer in layers:
        if layer.analog:
            if layer.name not in first:
                raise MappingError(f"layer {layer.name!r} has no block in the mapping of {mapping.model!r}")
            host[layer.name] = first[layer.name]
        else:
            preds = list(graph.predecessors(layer.name))
            tile = host[preds[0]] if preds else entry
            if tile is None:
                raise MappingError(f"layer {layer.name!r} has no input and no analog layer to sit next to")
            host[layer.name] = tile
    return host


def route_flows(graph: nx.DiGraph, mapping: Mapping) -> tuple[Flow, ...]:
    """Every flow of one image through the mapped chip (module docstring), in topological layer order."""
    bpe = bytes_per_element(int(graph.graph.get("activation_bits", 8)))
    host = host_tiles(graph, mapping)
    placed = _by_layer(mapping)
    rows = row_blocks(mapping)

    def out_node(layer: LayerSpec) -> str:
        join = layer.analog and rows[layer.name] > 1
        return psum_node(layer.name) if join else digital_node(host[layer.name])

    def flow(src: str, dst: str, src_layer: str, dst_layer: str, a: int, b: int, n: int) -> Flow:
        return Flow(
            src=src,
            dst=dst,
            src_layer=src_layer,
            dst_layer=dst_layer,
            src_tile=a,
            dst_tile=b,
            bytes_per_inference=n,
            hops=mapping.hops(a, b),
        )

    flows = []
    for layer in ordered_layers(graph):
        name, m = layer.name, layer.mvms_per_inference
        for u in graph.predecessors(name):
            src, edge = graph.nodes[u]["layer"], graph.edges[u, name]["edge"]
            if not layer.analog:
                flows.append(
                    flow(
                        out_node(src),
                        digital_node(host[name]),
                        u,
                        name,
                        host[u],
                        host[name],
                        edge.bytes_per_inference,
                    )
                )
                continue
            for p in placed[name]:
                start, stop = replica_share(m, mapping.replication[name], p.replica)
                share = math.ceil(
                    edge.bytes_per_inference * p.block.rows * (stop - start) / (layer.rows * layer.groups * m)
                )
                flows.append(flow(out_node(src), tile_node(p.tile), u, name, host[u], p.tile, share))
        if layer.analog:
            for p in placed[name]:
                start, stop = replica_share(m, mapping.replication[name], p.replica)
                flows.append(
                    flow(
                        tile_node(p.tile),
                        out_node(layer),
                        name,
                        name,
                        p.tile,
                        host[name],
                        p.block.cols * (stop - start) * bpe,
                    )
                )
    return tuple(flows)


def build_chip_graph(graph: nx.DiGraph, mapping: Mapping, chip: ChipSpec) -> nx.MultiDiGraph:
    """The chip graph of a mapping: tiles, digital units, partial-sum joins, mesh links and flows."""
    host = host_tiles(graph, mapping)
    rows = row_blocks(mapping)
    cg = nx.MultiDiGraph(
        chip=mapping.chip,
        model=mapping.model,
        strategy=mapping.strategy,
        mesh_rows=chip.noc.mesh_rows,
        mesh_cols=chip.noc.mesh_cols,
    )
    cells = mapping.weight_rows * mapping.weight_cols
    for t, (r, c) in mapping.positions.items():
        on = mapping.placements_on(t)
        used = sum(p.block.cells for p in on)
        mvms = 0
        for p in on:
            start, stop = replica_share(
                p.block.mvms_per_inference, mapping.replication[p.block.layer], p.replica
            )
            mvms += stop - start
        cg.add_node(
            tile_node(t),
            kind="tile",
            tile=t,
            mesh_row=r,
            mesh_col=c,
            blocks=tuple((p.block.layer, p.block.index, p.replica) for p in on),
            cells_used=used,
            cells=cells,
            utilisation=used / cells,
            mvms_per_inference=mvms,
        )
        cg.add_node(
            digital_node(t), kind="digital", tile=t, mesh_row=r, mesh_col=c, layers=(), ops_per_inference=0
        )
    for t, (r, c) in mapping.positions.items():
        for u, (ru, cu) in mapping.positions.items():
            if abs(r - ru) + abs(c - cu) == 1:
                cg.add_edge(
                    tile_node(t),
                    tile_node(u),
                    kind="link",
                    bandwidth_bytes_per_ns=chip.noc.link_bandwidth_bytes_per_ns,
                    hop_latency_ns=chip.noc.hop_latency_ns,
                )
    for layer in ordered_layers(graph):
        unit = cg.nodes[digital_node(host[layer.name])]
        if layer.analog and rows[layer.name] > 1:
            ops = (rows[layer.name] - 1) * layer.cols * layer.mvms_per_inference
            cg.add_node(
                psum_node(layer.name),
                kind="psum",
                layer=layer.name,
                tile=host[layer.name],
                row_blocks=rows[layer.name],
                ops_per_inference=ops,
            )
            cg.add_edge(psum_node(layer.name), digital_node(host[layer.name]), kind="host")
            unit["layers"] += (psum_node(layer.name),)
            unit["ops_per_inference"] += ops
        elif not layer.analog:
            unit["layers"] += (layer.name,)
            unit["ops_per_inference"] += layer.ops_per_inference
    for f in route_flows(graph, mapping):
        attrs = asdict(f)
        src, dst = attrs.pop("src"), attrs.pop("dst")
        cg.add_edge(src, dst, kind="flow", **attrs)
    return cg
