"""``chiptwin check-arch FILE``: validate an architecture file and print its nominal figures;
``check-arch --list``: the shipped chips (:mod:`chiptwin.shipped`)."""

from __future__ import annotations

import argparse

from chiptwin.cli.arguments import name_or_path
from chiptwin.cli.listing import add_list_argument, format_shipped, needs_target
from chiptwin.mapping.mapper import ARCHITECTURES_DIR, resolve_arch
from chiptwin.spec.chip import INPUT_RANGES, ChipSpec
from chiptwin.spec.device import DEVICE_MODELS, describe_age_convention
from chiptwin.spec.figures import chip_area, chip_figures
from chiptwin.spec.load import figure_sources, load_chip
from chiptwin.units import plural

__all__ = ["ARCHITECTURES_DIR", "DEFAULT_ARCH", "add_parser", "format_area", "format_chip", "resolve_arch"]


DEFAULT_ARCH = "hermes_64"


def format_chip(chip: ChipSpec) -> str:
    """A few lines describing a chip and its nominal figures."""
    f = chip_figures(chip)
    t = chip.tiles
    s = chip.system
    system = (
        []
        if s is None
        else [
            f"  system     {s.chips} chips ({s.chips_rows} x {s.chips_cols}) of {t.count // s.chips} tiles "
            f"({s.chip_mesh_rows}x{s.chip_mesh_cols} mesh) joined edge to edge; chip-to-chip links "
            f"{s.link_bandwidth_bytes_per_ns:g} bytes/ns, {s.link_latency_ns:g} ns, "
            f"{s.link_energy_per_bit_pj:g} pJ/bit"
        ]
    )
    return "\n".join(
        [
            f"chip {chip.name}: {f.tiles} tiles on a {chip.noc.mesh_rows}x{chip.noc.mesh_cols} mesh",
            *system,
            f"  devices    {chip.device_model} ({DEVICE_MODELS[chip.device_model].source}), "
            f"{chip.device.g_min_usiemens:g}-{chip.device.g_max_usiemens:g} µS",
            f"  crossbar   {t.rows} x {t.cols} ({t.pair_layout}, {t.devices_per_weight} devices per weight)"
            f" = {t.weight_rows} x {t.weight_cols} weights per tile",
            f"  capacity   {f.weights:,} weights on {f.devices:,} devices",
            f"  converters {chip.dac.bits}-bit DAC{' (ideal in the MVM)' if chip.dac.ideal else ''}, "
            f"{chip.adc.bits}-bit ADC{' (ideal in the MVM)' if chip.adc.ideal else ''}"
            f" ({plural(chip.adc.columns_per_adc, 'column')} per ADC); "
            f"inputs: {INPUT_RANGES[chip.dac.input_range]}",
            f"  GDC read   {chip.gdc.read}; {describe_age_convention(chip.device)}",
            f"  MVM        {f.mvm_time_ns:.1f} ns, {f.mvm_energy_pj / 1e3:.2f} nJ (full crossbar, read mode"
            f" {t.read_mode}: {plural(t.read_phases, 'phase')})",
            f"  peak       {f.peak_tops:.1f} TOPS, nominal {f.tops_per_watt:.2f} TOPS/W (a MAC is 2 ops,"
            f" static power {chip.static_power_mw:g} mW excluded)",
            f"  area       {f.area_mm2:.2f} mm², {f.tops_per_mm2:.2f} TOPS/mm² peak; {format_area(chip)}",
        ]
    )


def format_area(chip: ChipSpec) -> str:
    """One tile's area by component, e.g. ``tile 0.619 mm² = crossbar 0.262, ADC 0.154, ...``."""
    a = chip_area(chip)
    parts = [
        ("crossbar", a.crossbar_mm2),
        ("DAC", a.dac_mm2),
        ("ADC", a.adc_mm2),
        ("digital", a.digital_mm2),
        ("router", a.router_mm2),
    ]
    text = f"tile {a.tile_mm2:.3f} mm² = " + ", ".join(f"{n} {v:.3f}" for n, v in parts)
    return text + (f"; other {a.other_mm2:.2f} mm²" if a.other_mm2 else "")


def _run(args: argparse.Namespace) -> int:
    if args.list:
        print(format_shipped("architectures"))
        return 0
    path = resolve_arch(needs_target("check-arch", args.file, "an architecture file or name"))
    chip = load_chip(path)
    print(f"{path}: valid")
    print(format_chip(chip))
    sources = figure_sources(path)
    shown = ", ".join(sources.assumed[:6]) + (", ..." if len(sources.assumed) > 6 else "")
    print(
        f"  sources    {len(sources.assumed)} of {sources.figures} figures in the file are assumed or have "
        f"no source in their comment{': ' + shown if sources.assumed else ''}"
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-arch", help="validate an architecture file and print its summary")
    p.add_argument(
        "file",
        nargs="?",
        type=name_or_path("file"),
        help="architecture TOML file, or a shipped chip's name (--list)",
    )
    add_list_argument(p, "chips")
    p.set_defaults(func=_run)
