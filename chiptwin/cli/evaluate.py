"""``chiptwin evaluate``: accuracy of a programmed chip over device age, per compensation policy.

Traces the checkpoint's model, maps it on the architecture with the chosen strategy, programs one chip
per seed and prints accuracy (mean ± std over seeds, %; one seed: its value) at every device age under
every policy.
``--weights-only`` keeps PCM noise, drift and GDC on the weights but switches the converters and their
output noise off and drops AdaBS, the setting other simulators report, so numbers can be compared on
equal terms.
"""

from __future__ import annotations

import argparse
import dataclasses
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
)
from chiptwin.compensation import POLICY_NAMES, get_policy
from chiptwin.device.models import noise_model
from chiptwin.device.noise import IdealNoiseModel, NoiseModel
from chiptwin.durations import format_age
from chiptwin.errors import UsageError
from chiptwin.functional import ConverterBits, EvalSpec, evaluate
from chiptwin.functional.chip import blocks_from_mapping
from chiptwin.limits import MAX_BATCH_SIZE, MAX_CALIBRATION_IMAGES, MAX_SEEDS, MAX_TEST_IMAGES
from chiptwin.mapping import map_graph
from chiptwin.network.checkpoint import load_checkpoint
from chiptwin.network.data import evaluation_sets, normalise
from chiptwin.network.graph import build_layer_graph
from chiptwin.network.training import evaluate_digital
from chiptwin.report.summary import format_spread
from chiptwin.scenario.library import RETENTION_ARCH
from chiptwin.spec.chip import describe_chip
from chiptwin.spec.load import load_chip

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
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
    mapping = map_graph(graph, chip, args.strategy, source=arch_path)
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
    print(describe_chip(chip))
    print(
        f"{args.checkpoint} on {chip.name} ({args.strategy}, {len(mapping.tiles_used)} tiles), "
        f"{'ideal devices' if args.ideal else chip.device_model + ' devices'}, "
        f"DAC/ADC bits {bits.dac_bits}/{bits.adc_bits}, "
        f"{n:,} test images, seeds {spec.seeds}; digital accuracy {100 * digital:.2f} %"
    )
    start = time.perf_counter()
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
        on_result=(lambda s, a, p, acc: print(f"  seed {s} age {format_age(a)} {p}: {100 * acc:.2f} %"))
        if args.verbose
        else None,
    )
    header = f"{'age':>8} | " + " | ".join(f"{p.name:>15}" for p in policies)
    print(header)
    print("-" * len(header))
    for age in sorted(spec.ages_s):
        cells = [r for r in results if r.age_s == age]
        print(
            f"{format_age(age):>8} | "
            + " | ".join(f"{format_spread(100 * r.mean, 100 * r.std, len(r.seeds)):>15}" for r in cells)
        )
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="accuracy of a programmed chip over device age per policy")
    p.add_argument(
        "--checkpoint",
        type=name_or_path("checkpoint"),
        default="resnet32_pcm_fmnist_hwa",
        help="shipped name, checkpoint path, or a model file FILE.py[:NAME] (a function building your "
        "nn.Module)",
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
    p.add_argument("--verbose", action="store_true", help="print every (seed, age, policy) as measured")
    p.set_defaults(func=_run)
