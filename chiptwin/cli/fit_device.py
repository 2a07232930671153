"""``chiptwin fit-device MEASUREMENTS``: fit a device model's laws to measured reads; write the device table
a chip file includes and a plot of each law against the data. ``--synthesize FILE`` draws such a file
from the model itself (the round trip's data)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from chiptwin.cli.arguments import integer, one_of, path, real, seed
from chiptwin.cli.measurement_file import KIND, read_measurements, write_measurements
from chiptwin.device.measurements import MAX_CONDUCTANCE_USIEMENS
from chiptwin.device.pcm_fit import MIN_DEVICES_PER_CELL, PCMFit, fit_pcm
from chiptwin.device.pcm_synthetic import (
    SYNTHETIC_READS_PER_TIME,
    SYNTHETIC_TARGETS_NORM,
    SYNTHETIC_TIMES_S,
    synthesize_pcm_measurements,
)
from chiptwin.errors import DataError, UsageError
from chiptwin.files import check_regular_file, describe_os_error, output_folder
from chiptwin.limits import MAX_AGE_S, MAX_SYNTHETIC_DEVICES
from chiptwin.report.device_fit import format_coefficient_rows, plot_device_fit
from chiptwin.spec.device import DEVICE_MODELS
from chiptwin.spec.load import load_device_table
from chiptwin.spec.pcm import PCMSpec

__all__ = ["DEVICE_TABLE", "FITTABLE_MODELS", "FIT_PLOT", "add_parser", "device_table_toml", "format_fit"]

FITTABLE_MODELS = ("pcm_joshi2020",)
"""Device models whose laws ``fit-device`` fits (and draws ``--synthesize`` data from)."""

DEVICE_TABLE = "device.toml"
"""File name of the written device table in ``--out``."""

FIT_PLOT = "fit.png"
"""File name of the plot in ``--out``."""

CHI_SQUARED_ALARM = 5.0
"""A fit's chi-squared this many of its standard deviations (``sqrt(2 dof)``) above ``dof`` is reported:
laws that hold exceed it about once in 10^5 fits (assumed threshold)."""

DEFAULT_SYNTHETIC_DEVICES = 20_000
"""Devices ``--synthesize`` draws by default: ~1 s to fit; the standard errors run from 0.2 % to 17 % of
the coefficients (measured; bench/fit_device_roundtrip.py at more devices)."""


def _toml_float(value: float) -> str:
    """``value`` to 6 significant digits as a TOML float (``0.263481``, ``-1.2e-05``)."""
    return repr(float(f"{value:.6g}"))


def device_table_toml(fit: PCMFit, model: str = "pcm_joshi2020") -> str:
    """The device table of ``fit``: ``[device] model`` and the model's table, every value commented with
    its standard error and published value (or why it is the published value)."""
    table = DEVICE_MODELS[model].table
    low, high = min(fit.targets_usiemens), max(fit.targets_usiemens)
    temperature = "" if fit.temperature_c is None else f", at {fit.temperature_c:g} °C"
    lines = [
        f"# Device table: the {model} laws fitted by chiptwin fit-device to {fit.source}",
        f"# ({fit.devices:,} devices, {fit.reads:,} reads, {len(fit.targets_usiemens)} targets "
        f"{low:g}-{high:g} µS, read from {fit.times_s[0]:g} s to {fit.times_s[-1]:g} s after programming"
        f"{temperature}).",
        f"# chi-squared {fit.chi_squared:.1f} for {fit.dof} degrees of freedom (about {fit.dof} when the "
        "laws hold).",
        '# In a chip file: [device] include = "<path of this file, relative to the chip file>", or paste',
        "# the tables below into it. Keys not listed take the model's published values.",
        "[device]",
        f'model = "{model}"',
        "",
        f"[{table}]",
        f"g_max_usiemens = {_toml_float(fit.spec.g_max_usiemens)}  # the largest target, or --g-max-usiemens",
        f"t0_s = {_toml_float(fit.spec.t0_s)}  # the programming read (the earliest read, or --t0-s)",
        'age_convention = "clamp"  # the fit read every age as max(age, t0)',
    ]
    if fit.temperature_c is not None:
        lines.append(
            f"drift_temperature_ref_c = {_toml_float(fit.temperature_c)}  # the measurements' temperature"
        )
    for c in fit.coefficients:
        if c.fitted:
            note = f"fitted ± {c.std_error:.2g} (published {c.published:g})"
        else:
            note = f"assumed: the published value; {c.reason}"
        lines.append(f"{c.name} = {_toml_float(c.value)}  # {note}")
    return "\n".join(lines) + "\n"


def format_fit(fit: PCMFit, model: str) -> str:
    """The fit in a few lines for the terminal."""
    targets = fit.targets_usiemens
    times = ", ".join(f"{t:g}" for t in fit.times_s)
    temperature = "" if fit.temperature_c is None else f", {fit.temperature_c:g} °C"
    lines = [
        f"{fit.source}: {fit.devices:,} devices, {fit.reads:,} reads, {len(targets)} targets "
        f"{min(targets):g}-{max(targets):g} µS, read at {times} s (t0 = {fit.spec.t0_s:g} s, "
        f"g_max = {fit.spec.g_max_usiemens:g} µS{temperature})",
        f"{model} laws fitted in {fit.iterations} iterations: chi-squared {fit.chi_squared:.1f} for "
        f"{fit.dof} degrees of freedom (about {fit.dof} when the laws hold)",
    ]
    lines += [f"  {row}" for row in format_coefficient_rows(fit)]
    goodness = ", ".join(
        f"{law.quantity.split(',')[0]} {law.r_squared:.4f}"
        for law in fit.laws
        if math.isfinite(law.r_squared)
    )
    lines.append(f"goodness of fit, R² of each law's statistic per target: {goodness}")
    if fit.chi_squared > fit.dof + CHI_SQUARED_ALARM * math.sqrt(2 * fit.dof):
        lines.append(
            f"the laws do not describe these reads: chi-squared {fit.chi_squared:.1f} is more than "
            f"{CHI_SQUARED_ALARM:g} standard deviations above {fit.dof}; see {FIT_PLOT} before using the "
            "table"
        )
    return "\n".join(lines)


def _synthesize(args: argparse.Namespace) -> int:
    model = args.model
    spec = PCMSpec()
    target = Path(args.synthesize)
    # A file's folder: checked, not locked (the file is written whole by a rename)
    with output_folder(target.parent, "--synthesize", UsageError, kind="measurements folder", lock=False):
        m = synthesize_pcm_measurements(
            spec, args.devices, torch.Generator().manual_seed(args.seed), source=str(target)
        )
        try:
            write_measurements(m, target)
        except OSError as exc:  # Arrow's: a directory, a vanished folder, a full disk
            raise UsageError(
                f"--synthesize {target}: cannot write the {KIND} ({describe_os_error(exc)})"
            ) from None
    targets = ", ".join(f"{t * spec.g_max_usiemens:g}" for t in SYNTHETIC_TARGETS_NORM)
    times = ", ".join(f"{t:g}" for t in SYNTHETIC_TIMES_S)
    print(
        f"wrote {target}: {m.rows:,} reads of {args.devices:,} devices drawn from {model} (published "
        f"constants, seed {args.seed}): targets {targets} µS, read {SYNTHETIC_READS_PER_TIME} times at "
        f"each of {times} s"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.synthesize is not None:
        if args.measurements is not None:
            raise UsageError("chiptwin fit-device: give MEASUREMENTS or --synthesize FILE, not both")
        return _synthesize(args)
    if args.measurements is None:
        raise UsageError(
            "chiptwin fit-device: give MEASUREMENTS (a Parquet or CSV file) or --synthesize FILE"
        )
    measurements = Path(args.measurements)
    check_regular_file(measurements, KIND, DataError)  # before any folder is made
    out = args.out if args.out is not None else measurements.with_name(f"{measurements.stem}_fit")
    with output_folder(out, "--out", UsageError, kind="device fit folder") as folder:
        fit = fit_pcm(read_measurements(measurements), g_max_usiemens=args.g_max_usiemens, t0_s=args.t0_s)
        table = folder / DEVICE_TABLE
        table.write_text(device_table_toml(fit, args.model), encoding="utf-8")
        load_device_table(table)  # the table a chip file will include must load: a failure here is a bug
        plot = plot_device_fit(fit, folder / FIT_PLOT)
    print(format_fit(fit, args.model))
    print(f'wrote {table} (a chip file includes it with [device] include = "..."), {plot}')
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fit-device",
        help="fit a device model's laws to measured reads; write a device table and a plot",
        description="Fit the laws of a device model (programming noise, drift exponent mean and spread, "
        "read noise) to a Parquet or CSV file of reads with the columns device_id, g_target_usiemens "
        "(µS), t_s (s after programming), g_usiemens (µS) and optionally temperature_c (°C). Every device "
        "needs >= 2 reads at t0 and at >= 1 later time; >= 3 targets.",
    )
    p.add_argument("measurements", nargs="?", type=path("measurements"), help="Parquet or CSV file of reads")
    p.add_argument(
        "--model",
        type=one_of("model", FITTABLE_MODELS),
        default=FITTABLE_MODELS[0],
        help="device model to fit",
    )
    p.add_argument("--out", type=path("out"), default=None, help="output folder (default MEASUREMENTS_fit/)")
    p.add_argument(
        "--g-max-usiemens",
        type=real("g_max_usiemens", above=0, at_most=MAX_CONDUCTANCE_USIEMENS),
        default=None,
        help="the conductance ĝ = 1 stands for, µS (default: the largest target)",
    )
    p.add_argument(
        "--t0-s",
        type=real("t0_s", above=0, at_most=MAX_AGE_S),
        default=None,
        help="time of the programming read after programming, s (default: the earliest read)",
    )
    p.add_argument(
        "--synthesize",
        type=path("synthesize"),
        default=None,
        metavar="FILE",
        help="instead of fitting, write FILE (.parquet or .csv) with reads drawn from the model's published "
        f"laws: {len(SYNTHETIC_TARGETS_NORM)} targets, {SYNTHETIC_READS_PER_TIME} reads at each of "
        f"{', '.join(f'{t:g}' for t in SYNTHETIC_TIMES_S)} s",
    )
    p.add_argument(
        "--devices",
        type=integer("devices", minimum=1, maximum=MAX_SYNTHETIC_DEVICES),
        default=DEFAULT_SYNTHETIC_DEVICES,
        help=f"devices of --synthesize (default {DEFAULT_SYNTHETIC_DEVICES:,}; a fit needs "
        f"{MIN_DEVICES_PER_CELL} per target, {MIN_DEVICES_PER_CELL * len(SYNTHETIC_TARGETS_NORM)} in all)",
    )
    p.add_argument("--seed", type=seed(), default=0, help="random seed of --synthesize (default 0)")
    p.set_defaults(func=_run)
