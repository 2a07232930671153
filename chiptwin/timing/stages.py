"""The records of a pipeline plan: transfers, block work, digital work, layer stages, the plan itself.

Plain frozen data built by :func:`chiptwin.timing.plan.build_plan` (see its module docstring for the
rules that give every duration and energy); the engines only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chiptwin.spec.chip import ChipSpec

__all__ = [
    "COMPONENTS",
    "DIGITAL_OPS",
    "BlockWork",
    "DigitalWork",
    "LayerStage",
    "PipelinePlan",
    "Transfer",
]

DIGITAL_OPS = ("scale", "psum", "bn", "relu", "add", "pool", "matmul", "softmax", "layernorm", "gelu")
"""Digital operation kinds, each with its ``chip.digital.energy_per_<kind>_op_pj``."""

COMPONENTS = ("array", "dac", "adc", "noc", *(f"digital.{op}" for op in DIGITAL_OPS))
"""Dynamic energy components of an inference."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    """One flow of activations over the mesh (remote flows only: 0-hop flows are free)."""

    src_tile: int
    dst_tile: int
    size_bytes: int
    hops: int
    links: tuple[int, ...]
    """Ids of the links of the XY route (indexes into :attr:`PipelinePlan.links`)."""

    duration_ns: int
    energy_pj: float
    offchip_links: int = 0
    """Chip-to-chip links the route crosses (a system of chips, :mod:`chiptwin.spec.system`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockWork:
    """One placed block replica's work for one inference."""

    tile: int
    block: int
    replica: int
    rows: int
    cols: int
    mvms: int
    """MVMs of this replica per image (its share of the layer's output positions; may be 0)."""

    inputs: tuple[Transfer, ...]
    """Remote flows of the block's inputs."""

    output: Transfer | None
    """Remote flow of the block's outputs to the layer's host; None if the block is on the host."""

    duration_ns: int
    """Crossbar (and ADC bank) holding time: ``ceil(mvms * mvm_cost(chip).time_ns)``."""

    convert_ns: int
    """ADC conversion time within it: ``ceil(mvms * mvm_cost(chip).convert_ns)``."""

    array_pj: float
    dac_pj: float
    adc_pj: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DigitalWork:
    """Element operations on one tile's digital unit."""

    tile: int
    ops: tuple[tuple[str, int], ...]
    """``(kind, count)`` pairs, kinds from :data:`DIGITAL_OPS`, counts > 0."""

    duration_ns: int
    """``ceil(total ops / ops_per_ns)``."""

    energy_pj: tuple[tuple[str, float], ...]
    """``(kind, pJ)`` pairs matching :attr:`ops`."""

    total_ops: int = field(init=False, compare=False, repr=False)
    """Operations of every kind."""

    total_pj: float = field(init=False, compare=False, repr=False)
    """Energy of every kind, pJ."""

    main_op: str = field(init=False, compare=False, repr=False)
    """The kind with the most operations (the ``op`` of its event record)."""

    def __post_init__(self) -> None:
        # Derived once here: the event engine reads them for every digital job it records.
        object.__setattr__(self, "total_ops", sum(n for _, n in self.ops))
        object.__setattr__(self, "total_pj", sum(e for _, e in self.energy_pj))
        object.__setattr__(self, "main_op", max(self.ops, key=lambda kv: kv[1])[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerStage:
    """The work of one layer for one inference."""

    index: int
    """Position in :attr:`PipelinePlan.stages` (a topological order)."""

    layer: str
    kind: str
    host: int
    """Tile whose digital unit produces the layer's output."""

    preds: tuple[int, ...]
    """Stages whose outputs this one reads."""

    succs: tuple[int, ...]
    """Stages reading this one's output."""

    inputs: tuple[Transfer, ...]
    """Digital layers: remote flows of the inputs to the host (analog layers keep theirs per block)."""

    blocks: tuple[BlockWork, ...]
    """Analog layers: every placed block replica (empty for digital layers)."""

    digital: DigitalWork | None
    """Work of the host's digital unit; None if there is none."""

    latency_ns: int
    """Contention-free duration of the stage, ns."""

    energy_pj: tuple[tuple[str, float], ...]
    """Dynamic energy of the stage by component (:data:`COMPONENTS`, non-zero ones only), pJ."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelinePlan:
    """Every activity of one inference on a mapped chip, and the per-inference totals (treat as read-only)."""

    chip: ChipSpec
    model: str
    strategy: str
    stages: tuple[LayerStage, ...]
    sources: tuple[int, ...]
    """Stages without predecessors (the model input)."""

    sinks: tuple[int, ...]
    """Stages without successors (the model output)."""

    links: tuple[str, ...]
    """Name of each mesh link used (``"a->b"``, tiles at its two ends), by link id."""

    tiles_used: tuple[int, ...]
    cells_by_tile: dict[int, int]
    """Weight cells holding a weight, per used tile."""

    crossbar_busy_ns: dict[int, int]
    """Crossbar holding time per inference, per used tile."""

    digital_busy_ns: dict[int, int]
    """Digital-unit busy time per inference, per tile with digital work."""

    link_busy_ns: dict[int, int]
    """Busy time per inference, per link id."""

    fill_ns: int
    """Contention-free latency of one inference (longest path over the stage latencies)."""

    bottleneck: str
    """The busiest resource per inference (``crossbar 3``, ``digital 0``, ``link 0->1``)."""

    bottleneck_ns: int
    """Its busy time per inference: the steady-state interval between results at saturation."""

    energy_pj: dict[str, float]
    """Dynamic energy per inference by component (:data:`COMPONENTS`, zeros included), pJ."""

    layer_energy_pj: dict[str, float]
    """Dynamic energy per inference by layer, pJ."""

    ops_per_inference: int
    """Operations per image counted for TOPS: two per multiply-accumulate of the analog layers."""

    bn_updates: tuple[tuple[str, DigitalWork], ...]
    """Per batch-norm layer, the work of writing its new statistics at the end of an AdaBS pass."""

    bn_statistics: bool
    """True for the AdaBS calibration variant (batch-norm stages also accumulate statistics)."""

    @property
    def dynamic_energy_pj(self) -> float:
        """Dynamic energy of one inference, pJ."""
        return sum(self.energy_pj.values())

    @property
    def offchip_bytes(self) -> int:
        """Bytes per image times the chip-to-chip links they cross (0 on one chip)."""
        transfers = [t for s in self.stages for t in s.inputs]
        transfers += [
            t for s in self.stages for b in s.blocks for t in (*b.inputs, *filter(None, [b.output]))
        ]
        return sum(t.size_bytes * t.offchip_links for t in transfers)
