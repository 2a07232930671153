"""Nominal figures of a chip derived from its spec: MVM time and energy, peak TOPS, TOPS/W.

These are the data-sheet numbers of one full-crossbar MVM (every row driven, every column converted);
the timing layer computes what a real workload achieves.
"""

from __future__ import annotations

from dataclasses import dataclass

from chiptwin.spec.chip import ChipSpec
from chiptwin.units import FJ_PER_PJ

__all__ = ["ChipFigures", "chip_figures", "mvm_energy_pj", "mvm_time_ns"]


def mvm_time_ns(chip: ChipSpec) -> float:
    """One MVM, ns: the DAC integration window, then ``columns_per_adc`` conversions in series."""
    return chip.dac.integration_time_ns + chip.adc.conversion_time_ns * chip.adc.columns_per_adc


def mvm_energy_pj(chip: ChipSpec, rows: int | None = None, cols: int | None = None) -> float:
    """Energy of one MVM over ``rows`` x ``cols`` weights (default: the full crossbar), pJ.

    Each weight costs the array energy per MAC, each driven row the DAC energy, each weight column
    one ADC conversion.
    """
    r = chip.tiles.weight_rows if rows is None else rows
    c = chip.tiles.weight_cols if cols is None else cols
    array_pj = r * c * chip.tiles.array_energy_per_mac_fj / FJ_PER_PJ
    return array_pj + r * chip.dac.energy_per_row_pj + c * chip.adc.energy_per_conversion_pj


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


def chip_figures(chip: ChipSpec) -> ChipFigures:
    """Tiles, weight and device capacity, MVM time and energy, peak TOPS and nominal TOPS/W.

    One MAC counts as two operations (multiply and add), the convention of HERMES' 63.1 TOPS.
    """
    t = chip.tiles
    ops_per_mvm = 2 * t.weight_rows * t.weight_cols
    time_ns = mvm_time_ns(chip)
    energy_pj = mvm_energy_pj(chip)
    return ChipFigures(
        tiles=t.count,
        weights=t.count * t.weight_rows * t.weight_cols,
        devices=t.count * t.devices_per_tile,
        mvm_time_ns=time_ns,
        mvm_energy_pj=energy_pj,
        peak_tops=t.count * ops_per_mvm / time_ns / 1e3,
        tops_per_watt=ops_per_mvm / energy_pj,
    )
