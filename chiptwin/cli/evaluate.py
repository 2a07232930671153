"""``chiptwin evaluate``: accuracy of a programmed chip over device age, per compensation policy.

Traces the checkpoint's model, maps it on the architecture with the chosen strategy, programs one chip
per seed and prints accuracy (mean ± std over seeds, %; one seed: its value) at every device age under
every policy.
``--weights-only`` keeps PCM noise, drift and GDC on the weights but switches the converters and their
output noise off and drops AdaBS, the setting other simulators report, so numbers can be compared on
equal terms.

The first line describes the chip as evaluated (converters as ``--bits`` or ``--weights-only`` set
them), so it never contradicts the run. A bar shows the measurements as they are made (on a terminal,
without ``--quiet``). ``--out DIR`` also writes the table as a trace (a manifest and a ``probes`` part per
checkpoint, policy and seed: device age as the run clock, the chip programmed at 0) that ``chiptwin
report DIR`` plots and compares. ``--device cuda`` programs and evaluates the chips on a GPU (the header
and the trace name it: a GPU draws other random streams than the CPU, so its accuracies agree with the
CPU's within their spread over seeds, not digit for digit).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import time
from pathlib import Path

import torch

from chiptwin.cli.arch import resolve_arch
from chiptwin.cli.arguments import (
    age_list,
    bits_or_none,
    comma_list,
    integer,
    name_or_path,
    one_of,
    path,
    real,
    strategy_name,
    torch_device,
)
from chiptwin.cli.progress import add_quiet_argument, progress_bar
from chiptwin.compensation import POLICY_NAMES, get_policy
from chiptwin.compensation.policy import CompensationPolicy
from chiptwin.device.models import noise_model
from chiptwin.device.noise import IdealNoiseModel, NoiseModel
from chiptwin.durations import format_age
from chiptwin.errors import UsageError
from chiptwin.files import check_output_alias
from chiptwin.functional import AccuracyResult, ConverterBits, EvalSpec, evaluate
from chiptwin.functional.chip import blocks_from_mapping
from chiptwin.functional.torch_device import describe_torch_device
from chiptwin.limits import MAX_BATCH_SIZE, MAX_CALIBRATION_IMAGES, MAX_SEEDS, MAX_TEST_IMAGES
from chiptwin.mapping import map_graph
from chiptwin.network.checkpoint import load_checkpoint
from chiptwin.network.data import evaluation_sets, normalise
from chiptwin.network.graph import build_layer_graph
from chiptwin.network.training import evaluate_digital
from chiptwin.report.summary import format_spread
from chiptwin.scenario.cell import cell_id
from chiptwin.scenario.library import RETENTION_ARCH
from chiptwin.scenario.spec import checkpoint_label
from chiptwin.seeding import format_seeds
from chiptwin.spec.chip import ChipSpec, describe_chip
from chiptwin.spec.device import describe_age_convention
from chiptwin.spec.load import load_chip
from chiptwin.timing.search import resolve_strategy
from chiptwin.trace.manifest import build_manifest
from chiptwin.trace.writer import TraceWriter
from chiptwin.units import NS_PER_S, plural

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
    if args.out is not None:  # never into, over or around another output (the writer locks the folder)
        check_output_alias(args.out, "--out", UsageError, kind="trace directory")
    policies = tuple(get_policy(name) for name in args.policies)
    if args.weights_only:
        # Other simulators' weights-only view has no batch-norm on the chip: no policy that needs images.
        policies = tuple(p for p in policies if not p.needs_images)
        if not policies:
            raise UsageError(
                "chiptwin evaluate: --weights-only drops AdaBS (the policies that need calibration images): "
                "give --policies none or gdc too"
            )
        if args.bits is not None:
            raise UsageError(
                f"chiptwin evaluate: --bits(={args.bits!r}) conflicts with --weights-only (converters off)"
            )
    torch.set_flush_denormal(True)
    arch_path = resolve_arch(args.arch)
    chip = load_chip(arch_path)
    if args.weights_only:  # the weights' physics only: no periphery noise either
        chip = dataclasses.replace(chip, adc=dataclasses.replace(chip.adc, output_noise=0.0))
    model, card = load_checkpoint(args.checkpoint)
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    # The test and calibration images of the dataset the checkpoint was trained on (CIFAR-10: --data-dir).
    dataset = str(card["dataset"])
    if dataset == "cifar10" and args.data_dir is None:
        raise UsageError(
            f"{args.checkpoint}: trained on 'cifar10'; give --data-dir (its cifar-10-batches-bin folder)"
        )
    test, calib = evaluation_sets(dataset, args.data_dir)
    if args.n_images > len(test):
        raise UsageError(
            f"chiptwin evaluate: --n-images {args.n_images} is more than the {len(test):,} test images"
        )
    n = args.n_images
    images = normalise(torch.from_numpy(test.images[:n]), test.dataset)
    labels = torch.from_numpy(test.labels[:n])
    calibration = normalise(torch.from_numpy(calib.images), calib.dataset)
    in_shape = tuple(int(s) for s in test.images.shape[1:])
    graph = build_layer_graph(model, in_shape, name=Path(str(args.checkpoint)).name)
    mapping = map_graph(graph, chip, resolve_strategy(args.strategy), source=arch_path)
    if args.weights_only or args.bits == "none":
        bits = ConverterBits(dac_bits=None, adc_bits=None)
    elif args.bits is None:
        bits = ConverterBits.of(chip, headroom=args.headroom)
    else:
        bits = ConverterBits(dac_bits=args.bits, adc_bits=args.bits, headroom=args.headroom)
    spec = EvalSpec(  # the arguments were checked while parsing; EvalSpec raises DeviceError itself
        ages_s=args.ages,
        seeds=tuple(range(args.seeds)),
        n_adabs=args.n_adabs,
        batch_size=args.batch_size,
    )
    noise: NoiseModel = IdealNoiseModel() if args.ideal else noise_model(chip)
    digital = evaluate_digital(model, type(test)(test.images[:n], test.labels[:n], test.dataset))
    evaluated = as_evaluated(chip, bits)
    label = checkpoint_label(str(args.checkpoint))
    # Numbers say where they were computed: a GPU draws other random streams than the CPU.
    computed_on = "" if args.device == "cpu" else f"; computed on {describe_torch_device(args.device)}"
    print(describe_chip(evaluated))
    print(
        f"{args.checkpoint} on {chip.name} ({args.strategy}, {plural(len(mapping.tiles_used), 'tile')}), "
        f"{'ideal devices' if args.ideal else chip.device_model + ' devices'}, "
        f"{plural(n, 'test image')} (the first of {len(test):,}), {format_seeds(spec.seeds)}; "
        f"digital accuracy {100 * digital:.2f} %{computed_on}"
    )
    writer = None
    if args.out is not None:  # claimed before the work: a folder that holds another run is refused now
        writer = TraceWriter(args.out, _manifest(args, evaluated, spec, policies, label, digital, n))
    start = time.perf_counter()
    steps = len(spec.seeds) * len(spec.ages_s) * len(policies)
    with progress_bar(steps, desc="evaluate", unit="measurement", quiet=args.quiet) as bar:

        def measured(seed: int, age: float, policy: str, acc: float) -> None:
            bar.update(1)
            if args.verbose:
                bar.write(f"  seed {seed} age {format_age(age)} {policy}: {100 * acc:.2f} %")

        results = evaluate(
            model,
            chip,
            blocks_from_mapping(mapping),
            noise,
            (images, labels),
            calibration,
            spec,
            policies,
            bits=bits,
            device=args.device,
            on_result=measured,
        )
    spread = "of 1 seed" if len(spec.seeds) == 1 else f"mean ± std over {len(spec.seeds)} seeds"
    print(f"accuracy (%), {spread}, by device age")
    header = f"{'age':>8} | " + " | ".join(f"{p.name:>15}" for p in policies)
    print(header)
    print("-" * len(header))
    for age in sorted(spec.ages_s):
        cells = [r for r in results if r.age_s == age]
        print(f"{format_age(age):>8} | " + " | ".join(f"{_spread(r):>15}" for r in cells))
    print(f"({time.perf_counter() - start:.0f} s)")
    if writer is not None:
        with writer:
            _write_probes(writer, results, label, policies)
            writer.finish(wall_s=time.perf_counter() - start)
        print(f"trace: {args.out} (chiptwin report {args.out})")
    return 0


def _spread(result: AccuracyResult) -> str:
    """Mean ± population standard deviation over seeds, %: the convention of every accuracy table
    (:mod:`chiptwin.report.summary`), so this table and ``chiptwin report`` of its trace agree."""
    pct = [100 * a for a in result.accuracies]
    return format_spread(statistics.fmean(pct), statistics.pstdev(pct), len(pct))


def as_evaluated(chip: ChipSpec, bits: ConverterBits) -> ChipSpec:
    """``chip`` with the converters of the run: a converter is ideal where ``bits`` has None, else
    quantising at its bits (``--bits`` overrides the file, ``--weights-only`` and ``--bits none`` make both
    ideal), so :func:`~chiptwin.spec.chip.describe_chip` of it says what was evaluated."""
    dac = dataclasses.replace(
        chip.dac, ideal=bits.dac_bits is None, bits=chip.dac.bits if bits.dac_bits is None else bits.dac_bits
    )
    adc = dataclasses.replace(
        chip.adc, ideal=bits.adc_bits is None, bits=chip.adc.bits if bits.adc_bits is None else bits.adc_bits
    )
    return dataclasses.replace(chip, dac=dac, adc=adc)


def _manifest(
    args: argparse.Namespace,
    chip: ChipSpec,
    spec: EvalSpec,
    policies: tuple[CompensationPolicy, ...],
    label: str,
    digital: float,
    n_images: int,
) -> dict[str, object]:
    scenario = {
        "name": "evaluate",
        "arch": chip.name,
        "checkpoints": [label],
        "policies": [p.name for p in policies],
        "probes_s": sorted(spec.ages_s),
        "seeds": list(spec.seeds),
        "n_images": n_images,
        "n_adabs": spec.n_adabs,
        "strategy": args.strategy,
        "ideal_devices": bool(args.ideal),
        "weights_only": bool(args.weights_only),
    }
    return build_manifest(
        scenario=scenario,
        files={},
        seeds=spec.seeds,
        extra={
            "command": "evaluate",
            "chip": chip.name,
            "chip_description": describe_chip(chip),
            "age_convention": describe_age_convention(chip.device),
            "digital_accuracy": {label: digital},
            "torch_device": describe_torch_device(args.device),
        },
    )


def _write_probes(
    writer: TraceWriter, results: list[AccuracyResult], label: str, policies: tuple[CompensationPolicy, ...]
) -> None:
    """A ``probes`` part per policy and seed: one row per age, the chip programmed at time 0 and each
    policy's pass made right before its probe (the evaluation applies it at every age)."""
    acts = {p.name: p.acts for p in policies}
    for policy in (p.name for p in policies):
        mine = [r for r in results if r.policy == policy]
        for i, seed in enumerate(mine[0].seeds):
            rows = []
            for r in sorted(mine, key=lambda r: r.age_s):
                time_ns = round(r.age_s * NS_PER_S)
                rows.append(
                    {
                        "cell": cell_id(label, policy, seed), "checkpoint": label, "policy": policy,
                        "seed": seed, "time_ns": time_ns, "age_s": r.age_s, "accuracy": r.accuracies[i],
                        "n_images": r.n_images, "compensations": int(acts[policy]),
                        "last_compensation_ns": time_ns if acts[policy] else -1, "programmed_at_ns": 0,
                        "gdc_skipped_blocks": 0, "drift_age_s": r.age_s, "temperature_c": math.nan,
                    }
                )  # fmt: skip
            writer.write_part("probes", cell_id(label, policy, seed), rows)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="accuracy of a programmed chip over device age per policy")
    p.add_argument(
        "--checkpoint",
        type=name_or_path("checkpoint"),
        default="resnet32_pcm_fmnist_hwa",
        help="shipped name, checkpoint path, or a model file FILE.py[:NAME][@WEIGHTS] (a function "
        "building your nn.Module; @WEIGHTS: a safetensors state dict to load into it)",
    )
    p.add_argument(
        "--arch",
        type=name_or_path("arch"),
        default=RETENTION_ARCH,
        help=f"architecture (default {RETENTION_ARCH}: the paper's two devices per weight)",
    )
    p.add_argument("--strategy", type=strategy_name, default="dense", help="placement strategy")
    p.add_argument(
        "--ages",
        type=age_list(),
        default="20s,1h,1d,1y",
        help="comma-separated device ages, e.g. 20s,1h,1d,1y (units ns us ms s min h d y; y = 365 d)",
    )
    p.add_argument(
        "--policies",
        type=comma_list("policies", one_of("policy", POLICY_NAMES)),
        default=",".join(POLICY_NAMES),
        help=f"comma-separated from {POLICY_NAMES}",
    )
    p.add_argument(
        "--seeds",
        type=integer("seeds", minimum=1, maximum=MAX_SEEDS),
        default=5,
        help="number of programming seeds (0..N-1)",
    )
    p.add_argument(
        "--bits",
        type=bits_or_none(),
        default=None,
        help="DAC and ADC bits, 1..16 (default: the chip's; 'none': ideal converters)",
    )
    p.add_argument("--ideal", action="store_true", help="ideal devices (no noise, no drift)")
    p.add_argument(
        "--headroom",
        type=real("headroom", above=0, at_most=100),
        default=1.0,
        help="converter ranges x this over what the calibration images showed (default 1: clip beyond)",
    )
    p.add_argument(
        "--weights-only", action="store_true", help="PCM weights + GDC, ideal converters, no AdaBS"
    )
    p.add_argument("--n-images", type=integer("n_images", minimum=1, maximum=MAX_TEST_IMAGES), default=10_000)
    p.add_argument(
        "--n-adabs", type=integer("n_adabs", minimum=1, maximum=MAX_CALIBRATION_IMAGES), default=2600
    )
    p.add_argument("--batch-size", type=integer("batch_size", minimum=1, maximum=MAX_BATCH_SIZE), default=500)
    p.add_argument("--data-dir", type=path("data_dir"), default=None)
    p.add_argument(
        "--device",
        type=torch_device,
        default="cpu",
        help="torch device the chips are programmed and evaluated on: cpu (default), cuda, cuda:N or mps",
    )
    p.add_argument("--verbose", action="store_true", help="print every (seed, age, policy) as measured")
    p.add_argument(
        "--out",
        type=path("out"),
        default=None,
        help="also write the table as a trace in this folder (chiptwin report OUT plots it)",
    )
    add_quiet_argument(p)
    p.set_defaults(func=_run)
