"""``chiptwin summary``: the chip of an architecture file and one freshly programmed crossbar over time.

A quick look at the device model alone, without a network or a clock (``chiptwin run`` runs scenarios on
the whole chip). The crossbar holds a full block of Gaussian weights clipped at +/- 2 std (the
hardware-aware training clip, Joshi et al. 2020), programmed with the chip's device model; at each device
age it reports the drift of the programmed devices and the weight error read back, before and after the
chip's global drift compensation (GDC, :func:`chiptwin.functional.apply_gdc`: an all-ones calibration
read, referenced to the read right after programming).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch
from torch import nn

from chiptwin.cli.arch import DEFAULT_ARCH, format_chip, resolve_arch
from chiptwin.cli.arguments import name_or_path, seed
from chiptwin.device import noise_model, weights_to_conductances
from chiptwin.durations import format_age
from chiptwin.functional import ConverterBits, apply_gdc, program_chip, whole_layer_blocks
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.load import load_chip
from chiptwin.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_YEAR

__all__ = ["AGES_S", "ArrayAgeResult", "add_parser", "summarise_array"]

AGES_S = (SECONDS_PER_HOUR, SECONDS_PER_DAY, 30 * SECONDS_PER_DAY, SECONDS_PER_YEAR)
"""Device ages of the summary after the model's ``t0``, s: 1 hour, 1 day, 30 days, 1 year."""

_CLIP_STD = 2.0  # weights clipped at +/- 2 std, as after hardware-aware training


@dataclass(frozen=True, slots=True, kw_only=True)
class ArrayAgeResult:
    """One crossbar read at one device age (conductances in µS, errors relative to max|W|)."""

    age_s: float
    mean_g_on_usiemens: float
    drift_factor: float
    weight_error: float
    weight_error_gdc: float
    gdc_alpha: float


def summarise_array(
    chip: ChipSpec, seed: int, ages_s: tuple[float, ...] | None = None
) -> list[ArrayAgeResult]:
    """Program one full crossbar of clipped Gaussian weights on the functional twin and read it back.

    ``ages_s`` (s) default to the device model's ``t0`` followed by :data:`AGES_S`.

    The crossbar is one block of a bias-free Linear layer programmed with :func:`program_chip` (ideal
    converters: this is the devices' view); at each age the GDC factor is measured with
    :func:`apply_gdc`, the GDC of every chip (reference read right after programming).
    """
    gen = torch.Generator().manual_seed(seed)
    rows, cols = chip.tiles.weight_rows, chip.tiles.weight_cols
    w = torch.randn(rows, cols, generator=gen).clamp_(-_CLIP_STD, _CLIP_STD)
    layer = nn.Linear(rows, cols, bias=False)
    with torch.no_grad():
        layer.weight.copy_(w.T)
    off = ConverterBits(dac_bits=None, adc_bits=None)
    ages_s = (chip.device.t0_s, *AGES_S) if ages_s is None else ages_s
    noise = noise_model(chip)
    analog = program_chip(
        layer, chip, whole_layer_blocks(layer), noise, seed, [torch.ones(1, rows)], bits=off
    )
    group = analog.layers[""].row_groups[0]
    xbar = group.crossbar
    device = chip.device
    g_pos, g_neg, _ = weights_to_conductances(
        w, device.g_max_usiemens, device.weight_scale, device.g_min_usiemens
    )
    on = torch.cat(
        [
            g_pos.expand_as(xbar.pos.g_prog_usiemens).flatten(),
            g_neg.expand_as(xbar.neg.g_prog_usiemens).flatten(),
        ]
    )
    on = on > device.g_min_usiemens  # the programmed (not zero-weight) device of each pair
    g_prog = torch.cat([xbar.pos.g_prog_usiemens.flatten(), xbar.neg.g_prog_usiemens.flatten()])[on]
    w_max = float(w.abs().max())
    results = []
    for age in ages_s:
        analog.set_age(age)
        g_now = torch.cat(
            [noise.conductance(xbar.pos, age).flatten(), noise.conductance(xbar.neg, age).flatten()]
        )
        apply_gdc(analog)
        alpha = group.gdc_alpha
        w_read = group.read_normalised(analog.ctx) * (device.g_max_usiemens / group.beta)
        results.append(
            ArrayAgeResult(
                age_s=age,
                mean_g_on_usiemens=float(g_now[on].mean()),
                drift_factor=float(g_now[on].mean() / g_prog.mean()),
                weight_error=float((w_read - w).std() / w_max),
                weight_error_gdc=float((alpha * w_read - w).std() / w_max),
                gdc_alpha=float(alpha[0]),
            )
        )
    return results


def _run(args: argparse.Namespace) -> int:
    torch.set_flush_denormal(True)
    path = resolve_arch(args.arch)
    chip = load_chip(path)
    print(format_chip(chip))
    rows, cols = chip.tiles.weight_rows, chip.tiles.weight_cols
    print(
        f"\n{chip.device_model} crossbar: {rows} x {cols} Gaussian weights clipped at +/-{_CLIP_STD:g} std, "
        f"{chip.tiles.devices_per_weight * rows * cols:,} devices ({chip.device.g_min_usiemens:g}-"
        f"{chip.device.g_max_usiemens:g} µS, {chip.device.weight_scale} scale, "
        f"8 bytes of state per device), seed {args.seed}"
    )
    header = (
        f"{'age':>10} {'mean G_on µS':>13} {'drift':>7} {'|W err|/max':>12} {'with GDC':>9} {'GDC alpha':>10}"
    )
    print(header)
    for r in summarise_array(chip, args.seed):
        print(
            f"{format_age(r.age_s):>10} {r.mean_g_on_usiemens:>13.2f} {r.drift_factor:>7.3f} "
            f"{100 * r.weight_error:>11.2f}% {100 * r.weight_error_gdc:>8.2f}% {r.gdc_alpha:>10.3f}"
        )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summary", help="chip summary and a programmed crossbar at a few device ages")
    p.add_argument(
        "--arch",
        type=name_or_path("arch"),
        default=DEFAULT_ARCH,
        help="architecture file or name (default hermes_64)",
    )
    p.add_argument("--seed", type=seed(), default=0, help="programming seed")
    p.set_defaults(func=_run)
