"""Figures of a chip derived from its spec: the converters' laws in bits, the cost of one MVM, area, and
the data-sheet figures (MVM time and energy, peak TOPS, TOPS/W, TOPS/mm²).

The converter laws (written here from their sources; the Accelergy/CiMLoop component models that
implement similar laws, ``hwcomponents-adc``, need Python >= 3.12 and do not install on this project's
machines). A chip file states each converter's figures at ``figures_at_bits`` (by default the bits it
gives); the laws scale them to the converter's ``bits``, so a sweep over ``adc.bits`` moves time, energy
and area, and the file's own bits reproduce the file's own figures exactly:

- Pulse-width DAC (HERMES' inputs, Khaddam-Aljameh et al., IEEE JSSC 57, 1027 (2022)): a signed input of
  ``b`` bits is a pulse of up to ``2^(b-1)`` LSB periods, so the integration window doubles with every
  bit (:func:`dac_scale`). The row driver's energy and the array's read energy (the cell current flows
  for the pulse) scale the same way.
- ADC time (:func:`adc_time_scale`): a ``counting`` converter (ramp, time-based, CCO; HERMES' CCO ADCs
  count 300 ps per LSB) needs ``2^b`` LSB times, a ``sar`` converter one cycle per bit.
- ADC energy per conversion (:func:`adc_energy_scale`): ``2^b + 4^b / 2^c``, the Walden regime (energy
  per conversion step constant: R. H. Walden, IEEE JSAC 17, 539 (1999)) below the corner ``c`` and the
  thermal-noise regime (4x per bit: kT/C sampling, the Schreier figure of merit) above it, the two
  slopes of the lower envelope of B. Murmann's ADC performance survey; ``c`` is
  ``adc.thermal_corner_bits`` (assumed 10). An ADC's area is taken to scale like its energy (assumed:
  its capacitors follow kT/C above the corner, its counters and logic the step count below).
"""

from __future__ import annotations

from dataclasses import dataclass

from chiptwin.spec.chip import ChipSpec
from chiptwin.units import FJ_PER_PJ

__all__ = [
    "ChipArea",
    "ChipFigures",
    "MVMCost",
    "adc_energy_scale",
    "adc_time_scale",
    "chip_area",
    "chip_figures",
    "dac_scale",
    "mvm_cost",
    "mvm_energy_pj",
    "mvm_time_ns",
]

UM2_PER_MM2 = 1e6


def dac_scale(chip: ChipSpec) -> float:
    """Pulse length (and with it DAC and array energy) at ``dac.bits`` relative to ``dac.figures_at_bits``.

    >>> import dataclasses; from chiptwin.spec.chip import ChipSpec, DACSpec
    >>> dac_scale(dataclasses.replace(ChipSpec(), dac=DACSpec(bits=6, figures_at_bits=8)))
    0.25
    """
    return float(2.0 ** (chip.dac.bits - chip.dac.figures_at_bits))


def adc_time_scale(chip: ChipSpec) -> float:
    """Conversion time at ``adc.bits`` relative to ``adc.figures_at_bits``, by ``adc.time_law``."""
    a = chip.adc
    if a.time_law == "sar":
        return a.bits / a.figures_at_bits
    return float(2.0 ** (a.bits - a.figures_at_bits))


def _walden_thermal(bits: float, corner: float) -> float:
    return 2.0**bits + 4.0**bits / 2.0**corner


def adc_energy_scale(chip: ChipSpec) -> float:
    """Energy (and area) per conversion at ``adc.bits`` relative to ``adc.figures_at_bits``.

    >>> import dataclasses; from chiptwin.spec.chip import ADCSpec, ChipSpec
    >>> round(adc_energy_scale(dataclasses.replace(ChipSpec(), adc=ADCSpec(bits=10, figures_at_bits=8))), 3)
    6.4
    """
    a = chip.adc
    return _walden_thermal(a.bits, a.thermal_corner_bits) / _walden_thermal(
        a.figures_at_bits, a.thermal_corner_bits
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class MVMCost:
    """What one MVM costs on one tile at the chip's bits and read mode (every phase included)."""

    phases: int
    """Phases of the read mode (:data:`chiptwin.spec.chip.READ_MODES`)."""

    integration_ns: float
    """The DAC's integration window of one phase, ns."""

    conversion_ns: float
    """One ADC conversion, ns."""

    time_ns: float
    """The whole MVM, ns: per phase, ``columns_per_adc`` windows of the longer of integration and
    conversion if the ADC converts during integration, else one window and ``columns_per_adc``
    conversions after it."""

    convert_ns: float
    """The ADC bank's conversion time within it, ns."""

    array_fj_per_mac: float
    """Array energy per weight (one MAC), all phases, fJ."""

    dac_pj_per_row: float
    """DAC energy per driven row, all phases, pJ."""

    adc_pj_per_column: float
    """ADC energy per converted weight column, all phases, pJ."""


def mvm_cost(chip: ChipSpec) -> MVMCost:
    """The one place an MVM's time and energy are computed from the chip's figures and laws."""
    phases = chip.tiles.read_phases
    k = chip.adc.columns_per_adc
    integration = chip.dac.integration_time_ns * dac_scale(chip)
    conversion = chip.adc.conversion_time_ns * adc_time_scale(chip)
    if chip.adc.converts_during_integration:
        per_phase = k * max(integration, conversion)
    else:
        per_phase = integration + k * conversion
    return MVMCost(
        phases=phases,
        integration_ns=integration,
        conversion_ns=conversion,
        time_ns=phases * per_phase,
        convert_ns=phases * k * conversion,
        array_fj_per_mac=phases * chip.tiles.array_energy_per_mac_fj * dac_scale(chip),
        dac_pj_per_row=phases * chip.dac.energy_per_row_pj * dac_scale(chip),
        adc_pj_per_column=phases * chip.adc.energy_per_conversion_pj * adc_energy_scale(chip),
    )


def mvm_time_ns(chip: ChipSpec) -> float:
    """One MVM, ns (:func:`mvm_cost`)."""
    return mvm_cost(chip).time_ns


def mvm_energy_pj(chip: ChipSpec, rows: int | None = None, cols: int | None = None) -> float:
    """Energy of one MVM over ``rows`` x ``cols`` weights (default: the full crossbar), pJ.

    Each weight costs the array energy per MAC, each driven row the DAC energy, each weight column
    one ADC conversion (all at the chip's bits and read mode, :func:`mvm_cost`).
    """
    r = chip.tiles.weight_rows if rows is None else rows
    c = chip.tiles.weight_cols if cols is None else cols
    cost = mvm_cost(chip)
    return r * c * cost.array_fj_per_mac / FJ_PER_PJ + r * cost.dac_pj_per_row + c * cost.adc_pj_per_column


@dataclass(frozen=True, slots=True, kw_only=True)
class ChipArea:
    """Silicon area of a chip by component, mm² (every figure from the chip file; see its sources)."""

    crossbar_mm2: float
    """One tile's crossbar: rows x cols cells of ``tiles.cell_area_um2``."""

    dac_mm2: float
    """One tile's row drivers: one per row."""

    adc_mm2: float
    """One tile's ADCs: ``ceil(weight columns / columns_per_adc)``, each ``adc.area_um2`` scaled to
    ``adc.bits``."""

    digital_mm2: float
    """One tile's digital unit."""

    router_mm2: float
    """One tile's router and links."""

    tiles: int
    other_mm2: float
    """Chip area outside the tiles (``other_area_mm2``)."""

    @property
    def tile_mm2(self) -> float:
        """One tile with its router, mm²."""
        return self.crossbar_mm2 + self.dac_mm2 + self.adc_mm2 + self.digital_mm2 + self.router_mm2

    @property
    def total_mm2(self) -> float:
        """The whole chip, mm²."""
        return self.tiles * self.tile_mm2 + self.other_mm2

    def by_component(self) -> dict[str, float]:
        """The chip's area by component (all tiles), mm²; sums to :attr:`total_mm2`."""
        n = self.tiles
        return {
            "crossbar": n * self.crossbar_mm2,
            "dac": n * self.dac_mm2,
            "adc": n * self.adc_mm2,
            "digital": n * self.digital_mm2,
            "noc": n * self.router_mm2,
            "other": self.other_mm2,
        }


def chip_area(chip: ChipSpec) -> ChipArea:
    """The chip's area by component (:class:`ChipArea`)."""
    t = chip.tiles
    adcs = -(-t.weight_cols // chip.adc.columns_per_adc)
    return ChipArea(
        crossbar_mm2=t.rows * t.cols * t.cell_area_um2 / UM2_PER_MM2,
        dac_mm2=t.rows * chip.dac.area_um2 / UM2_PER_MM2,
        adc_mm2=adcs * chip.adc.area_um2 * adc_energy_scale(chip) / UM2_PER_MM2,
        digital_mm2=chip.digital.area_um2 / UM2_PER_MM2,
        router_mm2=chip.noc.router_area_um2 / UM2_PER_MM2,
        tiles=t.count,
        other_mm2=chip.other_area_mm2,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ChipFigures:
    """Nominal figures of a chip (full-crossbar MVMs on every tile, static power excluded)."""

    tiles: int
    weights: int
    devices: int
    mvm_time_ns: float
    mvm_energy_pj: float
    peak_tops: float
    tops_per_watt: float
    area_mm2: float
    tops_per_mm2: float


def chip_figures(chip: ChipSpec) -> ChipFigures:
    """Tiles, weight and device capacity, MVM time and energy, peak TOPS, nominal TOPS/W, area, TOPS/mm².

    One MAC counts as two operations (multiply and add), the convention of HERMES' 63.1 TOPS.
    """
    t = chip.tiles
    ops_per_mvm = 2 * t.weight_rows * t.weight_cols
    time_ns = mvm_time_ns(chip)
    energy_pj = mvm_energy_pj(chip)
    peak = t.count * ops_per_mvm / time_ns / 1e3
    area = chip_area(chip).total_mm2
    return ChipFigures(
        tiles=t.count,
        weights=t.count * t.weight_rows * t.weight_cols,
        devices=t.count * t.devices_per_tile,
        mvm_time_ns=time_ns,
        mvm_energy_pj=energy_pj,
        peak_tops=peak,
        tops_per_watt=ops_per_mvm / energy_pj,
        area_mm2=area,
        tops_per_mm2=peak / area,
    )
