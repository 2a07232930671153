"""``chiptwin check-arch FILE``: validate an architecture file and print its nominal figures."""

from __future__ import annotations

import argparse

from chiptwin.cli.arguments import name_or_path
from chiptwin.mapping.mapper import ARCHITECTURES_DIR, resolve_arch
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.figures import chip_figures
from chiptwin.spec.load import load_chip
from chiptwin.spec.pcm import describe_age_convention

__all__ = ["ARCHITECTURES_DIR", "DEFAULT_ARCH", "add_parser", "format_chip", "resolve_arch"]


DEFAULT_ARCH = "hermes_64"


def format_chip(chip: ChipSpec) -> str:
    """A few lines describing a chip and its nominal figures."""
    f = chip_figures(chip)
    t = chip.tiles
    return "\n".join(
        [
            f"chip {chip.name}: {f.tiles} tiles on a {chip.noc.mesh_rows}x{chip.noc.mesh_cols} mesh",
            f"  crossbar   {t.rows} x {t.cols} ({t.pair_layout}, {t.devices_per_weight} PCM per weight)"
            f" = {t.weight_rows} x {t.weight_cols} weights per tile",
            f"  capacity   {f.weights:,} weights on {f.devices:,} PCM devices",
            f"  converters {chip.dac.bits}-bit DAC{' (ideal in the MVM)' if chip.dac.ideal else ''}, "
            f"{chip.adc.bits}-bit ADC{' (ideal in the MVM)' if chip.adc.ideal else ''}"
            f" ({chip.adc.columns_per_adc} column(s) per ADC)",
            f"  GDC read   {chip.gdc.read}; {describe_age_convention(chip.pcm)}",
            f"  MVM        {f.mvm_time_ns:.1f} ns, {f.mvm_energy_pj / 1e3:.2f} nJ (full crossbar)",
            f"  peak       {f.peak_tops:.1f} TOPS, nominal {f.tops_per_watt:.2f} TOPS/W (8-bit ops, static"
            f" power {chip.static_power_mw:g} mW excluded)",
        ]
    )


def _run(args: argparse.Namespace) -> int:
    path = resolve_arch(args.file)
    chip = load_chip(path)
    print(f"{path}: valid")
    print(format_chip(chip))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-arch", help="validate an architecture file and print its summary")
    p.add_argument(
        "file", type=name_or_path("file"), help="architecture TOML file, or a name in architectures/"
    )
    p.set_defaults(func=_run)
