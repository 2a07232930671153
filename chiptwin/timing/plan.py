"""The pipeline plan: every activity of one inference on a mapped chip, with its duration and energy.

Built once per run from the layer graph, the mapping and the chip spec (pure arithmetic, no SimPy); the
event engine (:mod:`chiptwin.timing.engine`) plays it per inference, the batched engine
(:mod:`chiptwin.timing.batched`) uses its totals, so both take every duration and every picojoule from
the same place.

**Granularity: one stage per layer per inference.** A layer's work for one image is a handful of
activities, each holding one resource for its whole duration; layer ``L + 1`` of an image starts when
all its inputs (the stages of its predecessors) are done. Pixels are not events: a block's ``m`` MVMs
of one image are one activity. This keeps an inference of ResNet-32 at a few hundred events while
successive inferences still pipeline through the layers (inference ``i + 1`` uses a crossbar as soon as
inference ``i`` has released it).

**Activities** (all from the spec; ``chiptwin.mapping.chip_graph`` for hosts and flows):

- *transfer* of activations from the producing layer's output node to the consumer (each flow of
  :func:`~chiptwin.mapping.chip_graph.route_flows`): ``bytes / link_bandwidth + hops * hop_latency``,
  holding every link of its XY route; energy ``bytes * 8 * hops * energy_per_bit_hop``. A flow that
  stays on its tile (0 hops) costs neither time nor energy. In a system of chips
  (:mod:`chiptwin.spec.system`) the hops that cross a chip's edge are chip-to-chip links: their latency
  and energy per bit replace the mesh's, and the slower of the two bandwidths sets the rate.
- *MVM* of one placed block (:class:`BlockWork`): ``m`` MVMs (its replica's share of the layer's output
  positions, :func:`~chiptwin.mapping.placement.replica_share`), each taking the MVM time of
  :func:`~chiptwin.spec.figures.mvm_cost` (the DAC window and the ADC conversions at the chip's bits,
  once per phase of the read mode; every ADC walks all its columns, whatever the block's width),
  holding the tile's crossbar and its ADC bank. Energy (per unit from the same function):
  ``rows * cols * m * array per MAC`` (array), ``rows * m * DAC per row`` (DAC), ``cols * m * ADC per
  column`` (ADC).
- *digital* work on the host tile's digital unit (:class:`DigitalWork`): ``ceil(ops / ops_per_ns)``.
  An analog layer's host adds its partial sums (``(row blocks - 1) * cols * M``, kind ``psum``), applies
  the GDC / ADC scale to every output (``cols * M``, ``scale``) and its bias (``cols * M``, ``add``); a
  digital layer costs its ``ops_per_inference`` (batch-norm ``bn``, ``relu``, ``add``, ``pool``, and a
  transformer's ``matmul``, ``softmax``, ``layernorm``, ``gelu`` and scales as ``scale``; input, output,
  flatten and reshape are free). Energy per op from ``chip.digital`` by kind. A chip that rescales every
  input vector (``[dac] input_range = "per_vector"``, :data:`~chiptwin.spec.chip.INPUT_RANGES`) also
  takes each vector's max |x| over each block row's rows (one compare per input element, kind ``pool``:
  ``rows * groups * M``) and multiplies every block row's outputs back by its vector's scale (``row
  blocks * cols * M`` more ``scale``). Both are charged to the host's digital job after the MVMs (on a
  chip the max comes before the DACs; a layer's latency is the same sum either way).

An analog stage sends its input flows (all at once, as soon as every predecessor is done), runs each
block when its inputs have arrived, gathers the block outputs to the host, then runs the host's digital
work. A digital stage receives its inputs, then runs its digital work.

**Rounding.** Every activity's duration is rounded up to a whole ns once (:func:`ceil_ns`), e.g. a block
of ``m`` MVMs holds its crossbar ``ceil(m * mvm_time_ns)``.

**Stage times.** ``fill_ns`` is the contention-free latency of one inference (longest path over the
stage latencies); ``bottleneck_ns`` the largest busy time per inference of any crossbar, digital unit or
link (the ADC bank is held with its crossbar, never longer). :mod:`chiptwin.timing.batched` turns the
bottleneck and the fill into the time of ``N`` inferences; it takes the fill from one event-driven
inference (:func:`~chiptwin.timing.engine.single_inference_ns`), which also counts activities of the
same inference queueing for each other (two flows on one link: 420 ns of ResNet-32's 1.91 ms on
hermes_64); the two agree when nothing queues.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from chiptwin.errors import TimingError
from chiptwin.mapping.blocks import ordered_layers
from chiptwin.mapping.chip_graph import Flow, host_tiles, route_flows, row_blocks
from chiptwin.mapping.placement import BlockPlacement, Mapping, replica_share
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.figures import mvm_cost
from chiptwin.spec.graph import LayerSpec
from chiptwin.timing.server import ceil_ns
from chiptwin.timing.stages import COMPONENTS, BlockWork, DigitalWork, LayerStage, PipelinePlan, Transfer
from chiptwin.units import BITS_PER_BYTE, FJ_PER_PJ

__all__ = [
    "BN_STATISTICS_OPS_PER_ELEMENT",
    "BN_UPDATE_OPS_PER_CHANNEL",
    "build_plan",
    "digital_work",
    "xy_route",
]

_OP_OF_KIND = {
    "batchnorm": "bn",
    "relu": "relu",
    "add": "add",
    "pool": "pool",
    "mul": "scale",
    "matmul": "matmul",
    "softmax": "softmax",
    "layernorm": "layernorm",
    "gelu": "gelu",
}
"""The digital op kind (:data:`~chiptwin.timing.stages.DIGITAL_OPS`) of each digital layer kind that
works (input, output, flatten and reshape are free)."""

BN_STATISTICS_OPS_PER_ELEMENT = 2
"""Extra batch-norm ops per element while AdaBS collects statistics (a running sum and a sum of squares)."""

BN_UPDATE_OPS_PER_CHANNEL = 2
"""Ops per channel to turn the sums into the new running mean and variance at the end of an AdaBS pass."""


def xy_route(src: tuple[int, int], dst: tuple[int, int]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The mesh links from ``src`` to ``dst`` (mesh row, column) with XY routing: columns first, then rows."""
    (r, c), (r1, c1) = src, dst
    route = []
    while c != c1:
        step = c + (1 if c1 > c else -1)
        route.append(((r, c), (r, step)))
        c = step
    while r != r1:
        step = r + (1 if r1 > r else -1)
        route.append(((r, c), (step, c)))
        r = step
    return route


def digital_work(chip: ChipSpec, tile: int, ops: dict[str, int]) -> DigitalWork | None:
    """The digital-unit job running ``ops`` (kind -> count) on ``tile``; None if there are no ops."""
    kept = tuple((k, n) for k, n in ops.items() if n > 0)
    if not kept:
        return None
    energy = tuple((k, n * float(getattr(chip.digital, f"energy_per_{k}_op_pj"))) for k, n in kept)
    total = sum(n for _, n in kept)
    return DigitalWork(
        tile=tile, ops=kept, duration_ns=ceil_ns(total / chip.digital.ops_per_ns), energy_pj=energy
    )


class _Builder:
    """Accumulates link ids, busy times and energies while the stages are built."""

    def __init__(self, mapping: Mapping, chip: ChipSpec) -> None:
        self.mapping, self.chip = mapping, chip
        self.cost = mvm_cost(chip)
        self.link_ids: dict[tuple[tuple[int, int], tuple[int, int]], int] = {}
        self.at = {pos: t for t, pos in mapping.positions.items()}

    def transfer(self, flow: Flow) -> Transfer | None:
        if flow.hops == 0 or flow.bytes_per_inference == 0:
            return None
        pos = self.mapping.positions
        route = xy_route(pos[flow.src_tile], pos[flow.dst_tile])
        links = tuple(self.link_ids.setdefault(hop, len(self.link_ids)) for hop in route)
        noc, system = self.chip.noc, self.chip.system
        # A system's chip-to-chip links replace the mesh links that cross a chip's edge: the slowest
        # link of the route sets the rate, every link adds its latency and its energy per bit.
        off = 0 if system is None else system.crossings(pos[flow.src_tile], pos[flow.dst_tile])
        on = flow.hops - off
        bandwidth = noc.link_bandwidth_bytes_per_ns
        latency_ns, pj_per_bit = on * noc.hop_latency_ns, on * noc.energy_per_bit_hop_pj
        if system is not None and off:
            bandwidth = min(bandwidth, system.link_bandwidth_bytes_per_ns)
            latency_ns += off * system.link_latency_ns
            pj_per_bit += off * system.link_energy_per_bit_pj
        return Transfer(
            src_tile=flow.src_tile,
            dst_tile=flow.dst_tile,
            size_bytes=flow.bytes_per_inference,
            hops=flow.hops,
            links=links,
            duration_ns=ceil_ns(flow.bytes_per_inference / bandwidth + latency_ns),
            energy_pj=flow.bytes_per_inference * BITS_PER_BYTE * pj_per_bit,
            offchip_links=off,
        )

    def link_names(self) -> tuple[str, ...]:
        def name(pos: tuple[int, int]) -> str:
            return str(self.at[pos]) if pos in self.at else f"{pos}"

        system = self.chip.system

        def kind(a: tuple[int, int], b: tuple[int, int]) -> str:
            return " (chip-to-chip)" if system is not None and system.crossings(a, b) else ""

        return tuple(f"{name(a)}->{name(b)}{kind(a, b)}" for (a, b) in self.link_ids)

    def block(self, layer: LayerSpec, p: BlockPlacement, ins: list[Flow], out: Flow) -> BlockWork:
        start, stop = replica_share(layer.mvms_per_inference, self.mapping.replication[layer.name], p.replica)
        m = stop - start
        b, cost = p.block, self.cost
        inputs = tuple(t for f in ins if (t := self.transfer(f)) is not None)
        return BlockWork(
            tile=p.tile,
            block=b.index,
            replica=p.replica,
            rows=b.rows,
            cols=b.cols,
            mvms=m,
            inputs=inputs,
            output=self.transfer(out),
            duration_ns=ceil_ns(m * cost.time_ns),
            convert_ns=ceil_ns(m * cost.convert_ns),
            array_pj=b.rows * b.cols * m * cost.array_fj_per_mac / FJ_PER_PJ,
            dac_pj=b.rows * m * cost.dac_pj_per_row,
            adc_pj=b.cols * m * cost.adc_pj_per_column,
        )


def _analog_latency(blocks: tuple[BlockWork, ...]) -> int:
    # Blocks on one tile share its crossbar: their MVMs run one after another, each once its inputs are
    # in, in the order they arrive (as the engine serves them); of blocks whose inputs arrive together,
    # the one with the longest output first (the order that finishes soonest: no contention assumed,
    # so the fill stays a lower bound of one inference's latency).
    per_tile: dict[int, list[tuple[int, int, int]]] = {}
    for b in blocks:
        t_in = max((t.duration_ns for t in b.inputs), default=0)
        t_out = b.output.duration_ns if b.output else 0
        per_tile.setdefault(b.tile, []).append((t_in, -t_out, b.duration_ns))
    latency = 0
    for work in per_tile.values():
        free = 0
        for t_in, neg_out, duration in sorted(work):
            free = max(free, t_in) + duration
            latency = max(latency, free - neg_out)
    return latency


def _stage_energy(
    blocks: tuple[BlockWork, ...], inputs: tuple[Transfer, ...], digital: DigitalWork | None
) -> dict[str, float]:
    e = dict.fromkeys(COMPONENTS, 0.0)
    for b in blocks:
        e["array"] += b.array_pj
        e["dac"] += b.dac_pj
        e["adc"] += b.adc_pj
        e["noc"] += sum(t.energy_pj for t in b.inputs) + (b.output.energy_pj if b.output else 0.0)
    e["noc"] += sum(t.energy_pj for t in inputs)
    if digital is not None:
        for kind, pj in digital.energy_pj:
            e[f"digital.{kind}"] += pj
    return e


def build_plan(
    graph: Any,
    mapping: Mapping,
    chip: ChipSpec,
    *,
    bn_statistics: bool = False,
    dead_tiles: Collection[int] = (),
) -> PipelinePlan:
    """The pipeline plan of ``mapping`` of the layer graph ``graph`` on ``chip`` (module docstring).

    Args:
        graph: the layer graph (a networkx DiGraph of :class:`~chiptwin.spec.graph.LayerSpec` nodes).
        mapping: its mapping on ``chip`` (:func:`chiptwin.mapping.map_graph`).
        chip: the chip spec the mapping was made for.
        bn_statistics: build the AdaBS calibration variant: batch-norm stages also accumulate statistics
            (:data:`BN_STATISTICS_OPS_PER_ELEMENT` extra ops per element).
        dead_tiles: tiles whose crossbar has failed: their blocks do no MVM, no conversion and receive
            and send nothing (the functional twin reads their columns as 0). The tile's digital unit and
            router are assumed to keep working, so layers it hosts still run there.

    Raises:
        TimingError: the mapping was made for another chip or another graph.
    """
    if mapping.chip != chip.name or mapping.weight_rows != chip.tiles.weight_rows:
        raise TimingError(
            f"mapping is for chip {mapping.chip!r} ({mapping.weight_rows} weight rows), not {chip.name!r} "
            f"({chip.tiles.weight_rows})"
        )
    layers = ordered_layers(graph)
    host = host_tiles(graph, mapping)
    nrows = row_blocks(mapping)
    inputs: dict[str, list[Flow]] = {}
    gathers: dict[str, list[Flow]] = {}
    for f in route_flows(graph, mapping):
        (gathers if f.src_layer == f.dst_layer else inputs).setdefault(f.dst_layer, []).append(f)
    index = {layer.name: i for i, layer in enumerate(layers)}
    build = _Builder(mapping, chip)
    stages: list[LayerStage] = []
    for layer in layers:
        name = layer.name
        preds = list(graph.predecessors(name))
        flows = inputs.get(name, [])
        blocks: tuple[BlockWork, ...] = ()
        stage_inputs: tuple[Transfer, ...] = ()
        ops: dict[str, int] = {}
        if layer.analog:
            placed = mapping.placements_of(name)
            if len(flows) != len(preds) * len(placed) or len(gathers.get(name, ())) != len(placed):
                raise TimingError(f"layer {name!r}: the flows of the mapping do not match its placements")
            n = len(placed)
            blocks = tuple(
                build.block(layer, p, [flows[k * n + j] for k in range(len(preds))], gathers[name][j])
                for j, p in enumerate(placed)
                if p.tile not in dead_tiles
            )
            outputs = layer.cols * layer.mvms_per_inference
            ops = {"psum": (nrows[name] - 1) * outputs, "scale": outputs, "add": outputs * layer.has_bias}
            if chip.dac.input_range == "per_vector":  # [dac] input_range (module docstring)
                ops["pool"] = layer.rows * layer.groups * layer.mvms_per_inference
                ops["scale"] += nrows[name] * outputs
        else:
            stage_inputs = tuple(t for f in flows if (t := build.transfer(f)) is not None)
            if layer.kind in _OP_OF_KIND:
                ops = {_OP_OF_KIND[layer.kind]: layer.ops_per_inference}
            if bn_statistics and layer.kind == "batchnorm":
                ops["bn"] += BN_STATISTICS_OPS_PER_ELEMENT * layer.ops_per_inference
        digital = digital_work(chip, host[name], ops)
        in_ns = (
            _analog_latency(blocks) if layer.analog else max((t.duration_ns for t in stage_inputs), default=0)
        )
        stages.append(
            LayerStage(
                index=len(stages),
                layer=name,
                kind=layer.kind,
                host=host[name],
                preds=tuple(index[u] for u in preds),
                succs=tuple(index[v] for v in graph.successors(name)),
                inputs=stage_inputs,
                blocks=blocks,
                digital=digital,
                latency_ns=in_ns + (digital.duration_ns if digital else 0),
                energy_pj=tuple((k, v) for k, v in _stage_energy(blocks, stage_inputs, digital).items() if v),
            )
        )
    return _totals(graph, mapping, chip, build, tuple(stages), bn_statistics)


def _totals(
    graph: Any,
    mapping: Mapping,
    chip: ChipSpec,
    build: _Builder,
    stages: tuple[LayerStage, ...],
    bn_statistics: bool,
) -> PipelinePlan:
    crossbar: dict[int, int] = {}
    digital: dict[int, int] = {}
    link: dict[int, int] = {}
    energy = dict.fromkeys(COMPONENTS, 0.0)
    layer_energy: dict[str, float] = {}
    finish: list[int] = []
    for s in stages:
        transfers = list(s.inputs)
        for b in s.blocks:
            crossbar[b.tile] = crossbar.get(b.tile, 0) + b.duration_ns
            transfers += [*b.inputs, *([b.output] if b.output else [])]
        for t in transfers:
            for lk in t.links:
                link[lk] = link.get(lk, 0) + t.duration_ns
        if s.digital is not None:
            digital[s.host] = digital.get(s.host, 0) + s.digital.duration_ns
        for comp, pj in s.energy_pj:
            energy[comp] += pj
        layer_energy[s.layer] = sum(pj for _, pj in s.energy_pj)
        finish.append(max((finish[p] for p in s.preds), default=0) + s.latency_ns)
    for p in mapping.placements:
        crossbar.setdefault(p.tile, 0)
    names = build.link_names()
    candidates = [(ns, f"crossbar {t}") for t, ns in sorted(crossbar.items())]
    candidates += [(ns, f"digital {t}") for t, ns in sorted(digital.items())]
    candidates += [(ns, f"link {names[lk]}") for lk, ns in sorted(link.items())]
    bottleneck_ns, bottleneck = max(candidates, key=lambda c: c[0])  # max keeps the first of ties
    if bottleneck_ns <= 0:
        raise TimingError(f"{mapping.model or 'model'}: an inference does no timed work on {chip.name!r}")
    cells: dict[int, int] = {}
    for p in mapping.placements:
        cells[p.tile] = cells.get(p.tile, 0) + p.block.cells
    bn_updates = tuple(
        (s.layer, w)
        for s in stages
        if s.kind == "batchnorm"
        and (w := digital_work(chip, s.host, {"bn": BN_UPDATE_OPS_PER_CHANNEL * _channels(graph, s.layer)}))
    )
    return PipelinePlan(
        chip=chip,
        model=mapping.model or str(graph.graph.get("model", "")),
        strategy=mapping.strategy,
        stages=stages,
        sources=tuple(s.index for s in stages if not s.preds),
        sinks=tuple(s.index for s in stages if not s.succs),
        links=names,
        tiles_used=mapping.tiles_used,
        cells_by_tile=cells,
        crossbar_busy_ns=crossbar,
        digital_busy_ns=digital,
        link_busy_ns=link,
        fill_ns=max(finish),
        bottleneck=bottleneck,
        bottleneck_ns=bottleneck_ns,
        energy_pj=energy,
        layer_energy_pj=layer_energy,
        ops_per_inference=2 * sum(layer.ops_per_inference for layer in ordered_layers(graph) if layer.analog),
        bn_updates=bn_updates,
        bn_statistics=bn_statistics,
    )


def _channels(graph: Any, name: str) -> int:
    shape = graph.nodes[name]["layer"].output_shape
    return int(shape[0]) if shape else 1
