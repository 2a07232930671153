"""Frozen chip specification: tiles, converters, digital units, on-chip network, programming, PCM.

Every field carries its unit in its name and its source in its docstring. The defaults describe the
HERMES-like 64-core PCM chip (Le Gallo et al., "A 64-core mixed-signal in-memory
compute chip based on phase-change memory for deep neural network inference", Nature Electronics 6,
680-693 (2023), "HERMES" below), the same numbers as the shipped ``hermes_64.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from chiptwin.errors import SpecError
from chiptwin.files import check_name
from chiptwin.limits import (
    MAX_AREA_UM2,
    MAX_CROSSBAR_SIDE,
    MAX_DEVICES_PER_WEIGHT,
    MAX_ENERGY_PJ,
    MAX_ITERATIONS,
    MAX_MESH_SIDE,
    MAX_OP_TIME_NS,
    MAX_STATIC_POWER_MW,
    MAX_THROUGHPUT,
    MAX_TILES,
    MIN_OP_TIME_NS,
    MIN_THROUGHPUT,
)
from chiptwin.spec.device import DeviceParams, describe_age_convention, device_model_name
from chiptwin.spec.pcm import PCMSpec
from chiptwin.spec.system import SystemSpec

__all__ = [
    "ADC_TIME_LAWS",
    "GDC_READS",
    "INPUT_RANGES",
    "PAIR_LAYOUTS",
    "READ_MODES",
    "ADCSpec",
    "ChipSpec",
    "DACSpec",
    "DigitalSpec",
    "GDCSpec",
    "NoCSpec",
    "ProgrammingSpec",
    "TileSpec",
    "describe_chip",
]

PAIR_LAYOUTS = ("unit_cell", "columns", "rows")
"""How the devices of one weight sit in the crossbar:

- ``unit_cell``: a crossbar cell holds all ``devices_per_weight`` devices of one weight (HERMES: 4 PCM per
  cell, 2 per polarity), so a ``rows x cols`` crossbar stores ``rows x cols`` weights;
- ``columns``: G+ and G- on adjacent bit lines, sensed differentially (Joshi 2020), so it stores
  ``rows x cols / devices_per_weight`` weights;
- ``rows``: G+ and G- on adjacent word lines driven with opposite inputs:
  ``rows / devices_per_weight x cols``.
"""


READ_MODES: dict[str, int] = {"one_phase": 1, "four_phase": 4}
"""Read modes of an MVM and the phases each takes. HERMES (Le Gallo et al., Nat. Electron. 6, 680 (2023),
abstract) reads its 4-device unit cells in one phase (low precision: 63.1 TOPS, 9.76 TOPS/W at 8 bits)
or in four phases (high precision, the mode of its accuracy results: 16.1 TOPS, 2.48 TOPS/W); chiptwin
charges every phase a whole integration, conversion and their energy (the published ratios are 3.9x
and 3.9x)."""

ADC_TIME_LAWS = ("counting", "sar")
"""How an ADC's conversion time grows with its bits (:func:`chiptwin.spec.figures.adc_time_scale`):
``counting`` (a ramp, time-based or CCO converter counts one LSB per fixed time: 2^bits steps; HERMES'
CCO ADCs at 300 ps/LSB, Khaddam-Aljameh et al., IEEE JSSC 57, 1027 (2022)) or ``sar`` (successive
approximation: one bit per cycle, time proportional to bits)."""


INPUT_RANGES: dict[str, str] = {
    "calibrated": "calibrated ranges",
    "per_vector": "per-vector rescaling",
}
"""How the DACs' full scale is set (``[dac] input_range``), and the words a run prints for each
(:func:`describe_chip`):

- ``calibrated`` (default): one input range per analog layer, fixed right after programming from
  calibration images (:mod:`chiptwin.functional.calibration`), as a chip's DAC references are set once;
  an input vector with small values uses few DAC levels, and the output noise stays the same in absolute
  terms. Costs nothing at inference.
- ``per_vector``: every input vector is scaled to the DAC's full scale by its own max |x| before its
  MVM and the MVM's outputs multiplied back by that scale digitally, per crossbar block row (the input
  slice one tile's DACs see); the output noise and the ADC step then act relative to each vector's
  own full scale. aihwkit's default (``IOParameters.noise_management = ABS_MAX``: ``y = a F(x / a)``,
  ``a = max|x|``). Costs a max-|x| reduction over each input vector before its DACs and a multiply
  per output after the ADCs, which the timing model charges to the digital unit
  (:mod:`chiptwin.timing.plan`).
"""


def _count(value: int, high: int, low: int = 1) -> tuple[bool, str]:
    """An integer in ``low..high`` (the upper bounds are :mod:`chiptwin.limits`)."""
    return low <= value <= high, f"in {low}..{high:,}"


def _amount(value: float, high: float, *, positive: bool = False, low: float = 0.0) -> tuple[bool, str]:
    """A figure ``>= 0`` (``> 0`` if ``positive``) and ``<= high``; if nonzero, ``>= low``."""
    ok = (value > 0 if positive else value >= 0) and value <= high and (value == 0 or value >= low)
    if low > 0:
        return ok, f"{'> 0 and' if positive else '0 or'} in {low:g}..{high:g}"
    return ok, f"{'> 0' if positive else '>= 0'} and <= {high:g}"


def _require(section: str, obj: object, checks: dict[str, tuple[bool, str]]) -> None:
    for name, (ok, rule) in checks.items():
        if not ok:
            raise SpecError(f"{section}.{name}(={getattr(obj, name)!r}) must be {rule}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TileSpec:
    """The tiles (cores): how many, and the crossbar of each."""

    count: int = 64
    """Number of tiles (cores) on the chip (HERMES: 64)."""

    rows: int = 256
    """Crossbar rows (word lines, one input each) per tile (HERMES: 256)."""

    cols: int = 256
    """Crossbar columns (bit lines) per tile (HERMES: 256 unit-cell columns)."""

    devices_per_weight: int = 4
    """PCM devices storing one weight, both polarities together (HERMES: 4, 2 per polarity;
    Joshi 2020: 2, one per polarity)."""

    pair_layout: str = "unit_cell"
    """Layout of a weight's devices, one of PAIR_LAYOUTS (HERMES: unit cell of 4 PCM devices)."""

    array_energy_per_mac_fj: float = 100.0
    """Array read energy per weight per MVM (one multiply-accumulate), fJ, at ``dac.figures_at_bits``
    (the read current flows for the input pulse, so it scales with the pulse length like the DAC's;
    assumed 0.1 pJ, half of HERMES' ~0.2 pJ per MAC all-in; the DAC and ADC take the rest)."""

    read_mode: str = "one_phase"
    """How an MVM reads the devices, one of :data:`READ_MODES` (each phase repeats the integration, the
    conversion and their energy). Optional key."""

    cell_area_um2: float = 4.0
    """Area of one crossbar cell (the ``devices_per_weight`` devices of a unit cell, or one device for
    ``columns``/``rows`` layouts), µm² (HERMES-core's column pitch is the 4 µm ADC pitch, Khaddam-Aljameh
    2022; a 1 µm row pitch is assumed). Optional key."""

    def __post_init__(self) -> None:
        _require(
            "tiles",
            self,
            {
                "count": _count(self.count, MAX_TILES),
                "rows": _count(self.rows, MAX_CROSSBAR_SIDE),
                "cols": _count(self.cols, MAX_CROSSBAR_SIDE),
                "devices_per_weight": (
                    2 <= self.devices_per_weight <= MAX_DEVICES_PER_WEIGHT
                    and self.devices_per_weight % 2 == 0,
                    f"an even number in 2..{MAX_DEVICES_PER_WEIGHT} (a differential pair)",
                ),
                "pair_layout": (self.pair_layout in PAIR_LAYOUTS, f"one of {PAIR_LAYOUTS}"),
                "read_mode": (self.read_mode in READ_MODES, f"one of {tuple(READ_MODES)}"),
                "cell_area_um2": _amount(self.cell_area_um2, MAX_AREA_UM2, positive=True),
                "array_energy_per_mac_fj": _amount(self.array_energy_per_mac_fj, MAX_ENERGY_PJ * 1e3),
            },
        )
        if self.pair_layout == "columns" and self.cols % self.devices_per_weight:
            raise SpecError(
                f"tiles.cols(={self.cols}) must be a multiple of "
                f"tiles.devices_per_weight(={self.devices_per_weight}) when pair_layout is 'columns'"
            )
        if self.pair_layout == "rows" and self.rows % self.devices_per_weight:
            raise SpecError(
                f"tiles.rows(={self.rows}) must be a multiple of "
                f"tiles.devices_per_weight(={self.devices_per_weight}) when pair_layout is 'rows'"
            )

    @property
    def weight_rows(self) -> int:
        """Weight rows (inputs) one crossbar holds."""
        return self.rows // self.devices_per_weight if self.pair_layout == "rows" else self.rows

    @property
    def weight_cols(self) -> int:
        """Weight columns (outputs) one crossbar holds."""
        return self.cols // self.devices_per_weight if self.pair_layout == "columns" else self.cols

    @property
    def read_phases(self) -> int:
        """Phases of one MVM in this read mode."""
        return READ_MODES[self.read_mode]

    @property
    def devices_per_tile(self) -> int:
        """PCM devices in one crossbar."""
        return self.weight_rows * self.weight_cols * self.devices_per_weight


@dataclass(frozen=True, slots=True, kw_only=True)
class DACSpec:
    """Input encoding: pulse-width-modulated DAC on every row."""

    bits: int = 8
    """Signed input resolution, bits (HERMES: 8-bit pulse-width modulation)."""

    integration_time_ns: float = 128.0
    """Longest input pulse, i.e. the integration window of one MVM phase, ns, at ``figures_at_bits``.
    A pulse-width DAC doubles it with every bit (:func:`chiptwin.spec.figures.dac_scale`). HERMES: 8-bit
    signed inputs, 2^7 LSB of one 1-GHz clock cycle = 128 ns (Khaddam-Aljameh et al. 2022)."""

    energy_per_row_pj: float = 6.0
    """Energy of driving one row for one MVM phase, pJ, at ``figures_at_bits``; it scales with the pulse
    length (assumed share of HERMES' ~13.4 nJ per MVM)."""

    figures_at_bits: int = 0
    """The bits at which ``integration_time_ns`` and ``energy_per_row_pj`` (and the array energy) are
    stated; 0 (or absent): at ``bits`` as the file gives it, so an override of ``dac.bits`` moves them
    along the law. Optional key."""

    area_um2: float = 50.0
    """Area of one row's pulse-width driver, µm² (assumed; HERMES publishes no split of its core area).
    Optional key."""

    ideal: bool = False
    """Inputs reach the array unquantised (an experiment that computed the MVMs from read-back
    conductances, Joshi 2020); ``bits`` then only sets the converter's time and energy. Optional key."""

    input_range: str = "calibrated"
    """How the DACs' full scale is set, one of :data:`INPUT_RANGES`: ``calibrated`` (one range per layer
    fixed after programming, as a chip's DACs; free) or ``per_vector`` (each input vector scaled to full
    scale by its own max |x| per crossbar block row and the outputs scaled back digitally, aihwkit's
    default noise management; costs one compare per input element and one multiply per output on the
    digital unit). Optional key."""

    def __post_init__(self) -> None:
        _require(
            "dac",
            self,
            {
                "bits": (1 <= self.bits <= 16, "in 1..16"),
                "input_range": (self.input_range in INPUT_RANGES, f"one of {tuple(INPUT_RANGES)}"),
                "integration_time_ns": _amount(
                    self.integration_time_ns, MAX_OP_TIME_NS, positive=True, low=MIN_OP_TIME_NS
                ),
                "energy_per_row_pj": _amount(self.energy_per_row_pj, MAX_ENERGY_PJ),
                "figures_at_bits": (0 <= self.figures_at_bits <= 16, "in 1..16 (or 0: at bits)"),
                "area_um2": _amount(self.area_um2, MAX_AREA_UM2),
            },
        )
        if self.figures_at_bits == 0:  # anchored where the file states its figures (overrides keep it)
            object.__setattr__(self, "figures_at_bits", self.bits)


@dataclass(frozen=True, slots=True, kw_only=True)
class ADCSpec:
    """Output digitisation of the crossbar columns."""

    bits: int = 8
    """ADC resolution, bits (HERMES: 8-bit time-based ADC per column)."""

    columns_per_adc: int = 1
    """Weight columns served by one ADC, converted one after another (HERMES: 1)."""

    conversion_time_ns: float = 76.8
    """Time of one conversion, ns, at ``figures_at_bits``, growing with bits by ``time_law``. HERMES'
    CCO ADCs count 300 ps per LSB (Khaddam-Aljameh et al. 2022): 2^8 x 0.3 ns = 76.8 ns at 8 bits."""

    energy_per_conversion_pj: float = 20.6
    """Energy of one conversion, pJ, at ``figures_at_bits``, growing with bits by the Walden (2^bits)
    and thermal-noise (4^bits) laws (:func:`chiptwin.spec.figures.adc_energy_scale`); assumed share of
    HERMES' ~13.4 nJ per MVM (ISAAC's SAR ADC needs ~1.6 pJ, Shafiee et al., ISCA 2016, so this is a
    conservative time-based ADC)."""

    time_law: str = "counting"
    """How conversion time grows with bits, one of :data:`ADC_TIME_LAWS`. Optional key."""

    converts_during_integration: bool = True
    """The ADC converts while the inputs integrate (a CCO counts the column current during the input
    pulses, as HERMES' does, Khaddam-Aljameh et al. 2022), so a phase takes the longer of the two; false:
    it converts after the window (sample and hold), and a phase takes their sum. Optional key."""

    thermal_corner_bits: float = 10.0
    """Resolution where the thermal-noise term of the energy law (4^bits) equals the Walden term (2^bits),
    bits: below it energy per conversion doubles per bit, above it quadruples (the two regimes of
    Murmann's ADC performance survey; the corner near 10 bits, ~60 dB SNDR, is assumed). Optional key."""

    figures_at_bits: int = 0
    """The bits at which ``conversion_time_ns``, ``energy_per_conversion_pj`` and ``area_um2`` are
    stated; 0 (or absent): at ``bits`` as the file gives it. Optional key."""

    area_um2: float = 600.0
    """Area of one ADC at ``figures_at_bits``, µm², scaled with bits like its energy (assumed). HERMES:
    4 µm pitch (Khaddam-Aljameh et al. 2022) x 150 µm length (assumed). Optional key."""

    range_headroom: float = 1.0
    """ADC full scale as a multiple of the largest output of each crossbar block seen on the
    calibration images right after programming (the range is calibrated per block, as HERMES trims
    its ADCs per core; Le Gallo 2023); outputs beyond it saturate at the largest code. Above 1 leaves
    room for drift-free outliers at the cost of resolution."""

    ideal: bool = False
    """Outputs are not digitised (read-back conductances, Joshi 2020); ``bits`` then only sets the
    converter's time and energy. Optional key."""

    output_noise: float = 0.0
    """Std of an additive Gaussian noise on every MVM output before the ADC (the periphery's thermal and
    integration noise), in normalised units: a full-scale input through devices at g_max gives 1 (the
    unit of aihwkit's ``out_noise``); drawn per read. Optional key (default 0: noiseless)."""

    def __post_init__(self) -> None:
        _require(
            "adc",
            self,
            {
                "output_noise": (0 <= self.output_noise < 1, "in [0, 1)"),
                "bits": (1 <= self.bits <= 16, "in 1..16"),
                "columns_per_adc": _count(self.columns_per_adc, MAX_CROSSBAR_SIDE),
                "conversion_time_ns": _amount(
                    self.conversion_time_ns, MAX_OP_TIME_NS, positive=True, low=MIN_OP_TIME_NS
                ),
                "energy_per_conversion_pj": _amount(self.energy_per_conversion_pj, MAX_ENERGY_PJ),
                "range_headroom": (0 < self.range_headroom <= 100, "in (0, 100]"),
                "time_law": (self.time_law in ADC_TIME_LAWS, f"one of {ADC_TIME_LAWS}"),
                "thermal_corner_bits": (1 <= self.thermal_corner_bits <= 24, "in [1, 24]"),
                "figures_at_bits": (0 <= self.figures_at_bits <= 16, "in 1..16 (or 0: at bits)"),
                "area_um2": _amount(self.area_um2, MAX_AREA_UM2),
            },
        )
        if self.figures_at_bits == 0:  # anchored where the file states its figures (overrides keep it)
            object.__setattr__(self, "figures_at_bits", self.bits)


@dataclass(frozen=True, slots=True, kw_only=True)
class DigitalSpec:
    """The digital processing unit of each tile (GDC scale, batch-norm, ReLU, adds, partial sums, and a
    transformer's activation products, softmax, LayerNorm and GELU)."""

    ops_per_ns: float = 64.0
    """Element operations per ns (a 64-lane vector unit at 1 GHz; HERMES' per-core digital unit, assumed)."""

    energy_per_scale_op_pj: float = 0.2
    """Energy of one scale multiply (GDC / per-column rescale), pJ (8-bit multiply in 14 nm, assumed)."""

    energy_per_bn_op_pj: float = 0.4
    """Energy of one batch-norm element (multiply + add), pJ (assumed)."""

    energy_per_relu_op_pj: float = 0.05
    """Energy of one ReLU element, pJ (assumed)."""

    energy_per_add_op_pj: float = 0.1
    """Energy of one residual-add element, pJ (assumed)."""

    energy_per_psum_op_pj: float = 0.1
    """Energy of accumulating one partial sum, pJ (assumed)."""

    energy_per_pool_op_pj: float = 0.1
    """Energy of one pooling element (compare or add), pJ (assumed)."""

    energy_per_matmul_op_pj: float = 0.3
    """Energy of one multiply-accumulate of two activations (attention's ``Q K^T`` and ``A V``), pJ
    (assumed: the scale multiply plus the add above). Optional key."""

    energy_per_softmax_op_pj: float = 0.15
    """Energy of one softmax op (compare, subtract, exponential lookup, sum, multiply; five per element,
    :data:`chiptwin.spec.graph.SOFTMAX_OPS_PER_ELEMENT`), pJ (assumed: their mean). Optional key."""

    energy_per_layernorm_op_pj: float = 0.2
    """Energy of one LayerNorm op (five per element, :data:`chiptwin.spec.graph.LAYERNORM_OPS_PER_ELEMENT`),
    pJ (assumed: the mean of two adds, two multiply-adds and a multiply). Optional key."""

    energy_per_gelu_op_pj: float = 0.2
    """Energy of one GELU element (a lookup table), pJ (assumed). Optional key."""

    area_um2: float = 150_000.0
    """Area of one tile's digital unit (HERMES' local digital processing unit: affine scaling, ReLU),
    µm² (assumed 0.15 mm²). Optional key."""

    def __post_init__(self) -> None:
        checks = {"ops_per_ns": _amount(self.ops_per_ns, MAX_THROUGHPUT, positive=True, low=MIN_THROUGHPUT)}
        for f in fields(self):
            if f.name.startswith("energy_"):
                checks[f.name] = _amount(getattr(self, f.name), MAX_ENERGY_PJ)
        checks["area_um2"] = _amount(self.area_um2, MAX_AREA_UM2)
        _require("digital", self, checks)


@dataclass(frozen=True, slots=True, kw_only=True)
class NoCSpec:
    """The on-chip network: a 2D mesh of tiles (HERMES and Ambrogio et al., Nature 620, 768 (2023))."""

    mesh_rows: int = 8
    """Rows of the tile mesh."""

    mesh_cols: int = 8
    """Columns of the tile mesh."""

    link_bandwidth_bytes_per_ns: float = 32.0
    """Bandwidth of one mesh link, bytes/ns (= GB/s; 256-bit links at 1 GHz, assumed)."""

    hop_latency_ns: float = 2.0
    """Router plus link latency of one hop, ns (assumed, 2 cycles at 1 GHz)."""

    energy_per_bit_hop_pj: float = 0.05
    """Energy to move one bit over one hop, pJ (~50 fJ/bit/hop for a 14 nm mesh, assumed)."""

    router_area_um2: float = 40_000.0
    """Area of one tile's router and its links, µm² (assumed 0.04 mm²). Optional key."""

    def __post_init__(self) -> None:
        _require(
            "noc",
            self,
            {
                "mesh_rows": _count(self.mesh_rows, MAX_MESH_SIDE),
                "mesh_cols": _count(self.mesh_cols, MAX_MESH_SIDE),
                "link_bandwidth_bytes_per_ns": _amount(
                    self.link_bandwidth_bytes_per_ns, MAX_THROUGHPUT, positive=True, low=MIN_THROUGHPUT
                ),
                "hop_latency_ns": _amount(self.hop_latency_ns, MAX_OP_TIME_NS, low=MIN_OP_TIME_NS),
                "energy_per_bit_hop_pj": _amount(self.energy_per_bit_hop_pj, MAX_ENERGY_PJ),
                "router_area_um2": _amount(self.router_area_um2, MAX_AREA_UM2),
            },
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgrammingSpec:
    """Iterative program-and-verify of the PCM devices (Joshi 2020, Methods; HERMES)."""

    iterations: int = 20
    """Program-and-verify iterations per device (Joshi 2020 programs with up to ~20 iterations)."""

    time_per_iteration_ns: float = 1000.0
    """One program pulse plus verify read, ns (assumed: ~0.1-1 µs pulses in Joshi 2020)."""

    energy_per_iteration_pj: float = 100.0
    """Energy of one program pulse plus verify read on one device, pJ (assumed)."""

    devices_in_parallel: int = 256
    """Devices of one tile programmed at the same time (one row of columns, assumed)."""

    def __post_init__(self) -> None:
        _require(
            "programming",
            self,
            {
                "iterations": _count(self.iterations, MAX_ITERATIONS),
                "time_per_iteration_ns": _amount(
                    self.time_per_iteration_ns, MAX_OP_TIME_NS, positive=True, low=MIN_OP_TIME_NS
                ),
                "energy_per_iteration_pj": _amount(self.energy_per_iteration_pj, MAX_ENERGY_PJ),
                "devices_in_parallel": _count(self.devices_in_parallel, MAX_CROSSBAR_SIDE**2),
            },
        )


GDC_READS = ("polarities", "differential")
"""The calibration read of global drift compensation (:class:`GDCSpec`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GDCSpec:
    """The calibration read of global drift compensation (GDC), an optional ``[gdc]`` table.

    - ``polarities`` (default): an all-ones input, with the G+ and the G- devices read one after the
      other (two MVMs per block); the block's summed |output| is the sum of both polarities' column
      currents, ``sum(G+) + sum(G-)``, which drifts with the devices and never cancels.
    - ``differential``: one all-ones MVM, the block's summed |column output| ``sum|sum(G+ - G-)|``; for
      zero-mean weights most of each column cancels (~15 % of sum|W| survives on ResNet-32), leaving
      read noise and the fastest-drifting devices in the factor (chiptwin before December 2026).
    """

    read: str = "polarities"
    """One of :data:`GDC_READS`."""

    def __post_init__(self) -> None:
        if self.read not in GDC_READS:
            raise SpecError(f"gdc.read(={self.read!r}) must be one of {GDC_READS}")

    @property
    def reads_per_block(self) -> int:
        """Calibration MVMs per block and GDC pass (the timing of a pass)."""
        return 2 if self.read == "polarities" else 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ChipSpec:
    """A whole chip: composed of the section specs above, plus chip-level figures."""

    name: str = "hermes_64"
    """Short name of the architecture (the file stem by convention)."""

    static_power_mw: float = 150.0
    """Static (leakage and clock) power of the whole chip, mW (assumed for a 64-core 14 nm die)."""

    other_area_mm2: float = 0.0
    """Chip area outside the tiles and their routers (I/O, clocking, global control), mm² (0: not
    modelled; HERMES publishes no such split). Optional key."""

    tiles: TileSpec = field(default_factory=TileSpec)
    dac: DACSpec = field(default_factory=DACSpec)
    adc: ADCSpec = field(default_factory=ADCSpec)
    digital: DigitalSpec = field(default_factory=DigitalSpec)
    noc: NoCSpec = field(default_factory=NoCSpec)
    programming: ProgrammingSpec = field(default_factory=ProgrammingSpec)
    device: DeviceParams = field(default_factory=PCMSpec)
    """The parameter record of the chip's device model (``[device] model`` and that model's table;
    :mod:`chiptwin.spec.device`). Default: the Joshi 2020 PCM fit."""
    gdc: GDCSpec = field(default_factory=GDCSpec)
    system: SystemSpec | None = None
    """A system of several chips (a chip file's ``[system]`` table, :mod:`chiptwin.spec.system`): the
    tiles, mesh, static power and other area above are then the whole system's. None: one chip."""

    @property
    def device_model(self) -> str:
        """Registered name of the chip's device model (``pcm_joshi2020``, ``rram_cmo_falcone2025``)."""
        return device_model_name(self.device)

    def __post_init__(self) -> None:
        device_model_name(self.device)  # a record of no registered model is refused here
        # The name becomes part of output paths (traces/map-MODEL-NAME-STRATEGY): no '/', no '..'.
        check_name(self.name, "chip.name")
        if not 0 <= self.other_area_mm2 <= MAX_AREA_UM2 / 1e6:
            raise SpecError(
                f"chip.other_area_mm2(={self.other_area_mm2!r}) must be >= 0 and <= {MAX_AREA_UM2 / 1e6:g}"
            )
        if not 0 <= self.static_power_mw <= MAX_STATIC_POWER_MW:
            raise SpecError(
                f"chip.static_power_mw(={self.static_power_mw!r}) must be >= 0 and <= {MAX_STATIC_POWER_MW:g}"
            )
        mesh = self.noc.mesh_rows * self.noc.mesh_cols
        if self.tiles.count > mesh:
            raise SpecError(
                f"tiles.count(={self.tiles.count}) must be <= noc.mesh_rows x noc.mesh_cols "
                f"(={self.noc.mesh_rows} x {self.noc.mesh_cols} = {mesh})"
            )


def describe_chip(chip: ChipSpec) -> str:
    """One line saying what a chip's accuracy numbers are of: device model, converters, scales, GDC, the
    input-range convention (:data:`INPUT_RANGES`), ages."""
    t = chip.tiles

    def converter(name: str, bits: int, ideal: bool) -> str:
        return f"ideal {name}" if ideal else f"{bits}-bit {name}"

    dac = converter("DAC", chip.dac.bits, chip.dac.ideal)
    adc = converter("ADC", chip.adc.bits, chip.adc.ideal)
    noise = f", output noise {chip.adc.output_noise:g}" if chip.adc.output_noise else ""
    inputs = INPUT_RANGES[chip.dac.input_range]
    return (
        f"{chip.name}: {t.devices_per_weight} {chip.device_model} devices per weight ({t.pair_layout}), "
        f"{dac} / {adc} in the MVM{noise}, {chip.device.weight_scale} weight scale, GDC read "
        f"'{chip.gdc.read}', inputs: {inputs}; {describe_age_convention(chip.device)}"
    )
