"""``chiptwin train``: FP32 training or hardware-aware fine-tuning of a zoo network or a model file's.

``--hwa`` alone is Joshi et al. 2020's fixed recipe; ``--hwa --arch CHIP`` trains against that chip
(:mod:`chiptwin.functional.hwa`: its device model, weight scale, crossbar blocks, converters and output
noise; ``--noise paper`` keeps the fixed recipe). A model file's weights are written as
``OUT/NAME.safetensors`` with their card ``OUT/NAME.json``; every command then takes
``FILE.py[:NAME]@OUT/NAME.safetensors``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch
from torch import nn

from chiptwin.cli.arguments import (
    age_list,
    checkpoint_name,
    integer,
    model_name,
    name_or_path,
    path,
    real,
    seed,
    torch_device,
)
from chiptwin.errors import ChipTwinError, UsageError
from chiptwin.files import output_folder
from chiptwin.functional.hwa import BN_STATISTICS, NOISE_SOURCES, NoiseRecipe, hardware_aware
from chiptwin.limits import MAX_BATCH_SIZE, MAX_CROP_PAD, MAX_EPOCHS
from chiptwin.mapping import resolve_arch
from chiptwin.network.data import FASHION_MNIST_DIR, image_shape, load_cifar10, load_fashion_mnist
from chiptwin.network.model_file import (
    is_model_file,
    load_model_file,
    model_file_label,
    model_file_weights,
)
from chiptwin.network.training import OPTIMIZERS, TrainingNoise, TrainSpec
from chiptwin.network.training import train as run_training
from chiptwin.spec.load import load_chip

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
    # first: fail before loading 60,000 images
    with output_folder(args.out, "--out", UsageError, kind="training folder") as out:
        return _train(args, out)


def _train(args: argparse.Namespace, out: Path) -> int:
    chosen = (args.arch, args.noise, args.hwa_age, args.bn_statistics)
    if any(option is not None for option in chosen) and not args.hwa:
        raise UsageError(
            "chiptwin train: --arch, --noise, --hwa-age and --bn-statistics choose the noise of --hwa; "
            "add --hwa"
        )
    if args.bn_statistics == "other_read" and args.noise == "paper":
        raise UsageError(
            "chiptwin train: --bn-statistics other_read needs --noise chip (the paper's has no reads)"
        )
    if args.hwa_age is not None and (len(args.hwa_age) != 1 or args.noise == "paper"):
        raise UsageError(
            f"chiptwin train: --hwa-age takes one device age for --noise chip (got {len(args.hwa_age)}"
            f"{' with --noise paper' if args.noise == 'paper' else ''})"
        )
    if args.noise == "chip" and args.arch is None:
        raise UsageError("chiptwin train: --noise chip needs --arch CHIP (the chip the noise comes from)")
    # Before loading 60,000 images: the model file, the chip, and the noise on the model.
    user_model: nn.Module | None = None
    card: dict[str, object] = {}
    dataset = args.dataset
    if is_model_file(args.model):
        if args.init_from is not None:
            raise UsageError(
                "chiptwin train: --init-from is for zoo models; a model file starts from the weights it "
                "builds (give FILE.py@WEIGHTS for others)"
            )
        user_model, file_card = load_model_file(args.model)
        user_model.train()
        card = {
            k: file_card[k]
            for k in ("model_file", "factory", "class", "file_sha256", "weights")
            if k in file_card
        }
        card["model_file"] = model_file_weights(args.model)[0]  # as given: no local path in the card
        dataset = str(file_card["dataset"])
    noise = None
    if args.arch is not None:
        chip = load_chip(resolve_arch(args.arch))
        age_s = None if args.hwa_age is None else args.hwa_age[0]
        recipe = (
            NoiseRecipe.paper(eta=args.eta, alpha=args.alpha)
            if args.noise == "paper"
            else NoiseRecipe(
                alpha=args.alpha, age_s=age_s, noise_scale=args.noise_scale, bn_statistics=args.bn_statistics
            )
        )
        shape = image_shape(dataset)
        seed = args.seed
        if user_model is not None:  # attached now: a model the chip cannot take fails before the images load
            handle = hardware_aware(user_model, chip, shape, recipe=recipe, seed=seed)

            def noise(model: nn.Module) -> TrainingNoise:  # the model attached above
                return handle

        else:  # a zoo model is built (or loaded) by the training

            def noise(model: nn.Module) -> TrainingNoise:
                return hardware_aware(model, chip, shape, recipe=recipe, seed=seed)

    if dataset == "fashion-mnist":
        directory = args.data_dir or FASHION_MNIST_DIR
        train_set, test_set = load_fashion_mnist("train", directory), load_fashion_mnist("test", directory)
    else:
        if args.data_dir is None:
            raise UsageError("chiptwin train: --dataset cifar10 needs --data-dir (cifar-10-batches-bin)")
        train_set, test_set = load_cifar10("train", args.data_dir), load_cifar10("test", args.data_dir)
    try:
        spec = TrainSpec(
            model=args.model if user_model is None else model_file_label(args.model),
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            optimizer=args.optimizer,
            label_smoothing=args.label_smoothing,
            warmup_epochs=args.warmup_epochs,
            weight_decay=args.weight_decay,
            seed=args.seed,
            hwa=args.hwa,
            eta=args.eta,
            alpha=args.alpha,
            quantise_bits=args.quantise_bits,
            init_from=args.init_from,
            crop_pad=args.crop_pad,
            augment=not args.no_augment,
        )
    except ValueError as exc:
        raise ChipTwinError(f"chiptwin train: {exc}") from None
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    command = "chiptwin " + shlex.join(sys.argv[1:])
    result = run_training(
        spec,
        train_set,
        test_set,
        out,
        name=args.name,
        model=user_model,
        noise=noise,
        card=card,
        device=device,
        command=command,
        progress=not args.quiet,
    )
    assert result.test_accuracy is not None
    print(f"{result.checkpoint}: digital test accuracy {100 * result.test_accuracy:.2f} %")
    if user_model is not None:
        print(f"use it as {model_file_weights(args.model)[0]}@{result.checkpoint} wherever a model file goes")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a zoo network or a model file's (FP32, or hardware-aware for a chip)"
    )
    p.add_argument(
        "--model",
        type=model_name,
        default="resnet32_pcm",
        help="a zoo model, or a model file FILE.py[:NAME][@WEIGHTS] to fine-tune (default resnet32_pcm)",
    )
    p.add_argument("--dataset", choices=["fashion-mnist", "cifar10"], default="fashion-mnist")
    p.add_argument("--data-dir", type=path("data_dir"), default=None)
    p.add_argument("--epochs", type=integer("epochs", minimum=1, maximum=MAX_EPOCHS), default=30)
    p.add_argument("--batch-size", type=integer("batch_size", minimum=1, maximum=MAX_BATCH_SIZE), default=128)
    p.add_argument("--lr", type=real("lr", above=0), default=0.1)
    p.add_argument(
        "--optimizer", choices=OPTIMIZERS, default="sgd", help="sgd (Nesterov, default) or adamw (ViTs)"
    )
    p.add_argument("--warmup-epochs", type=real("warmup_epochs", at_least=0), default=1.0)
    p.add_argument("--weight-decay", type=real("weight_decay", at_least=0), default=5e-4)
    p.add_argument(
        "--label-smoothing",
        type=real("label_smoothing", at_least=0, at_most=0.5),
        default=0.0,
        help="cross-entropy label smoothing (default 0)",
    )
    p.add_argument("--seed", type=seed(), default=0)
    p.add_argument("--hwa", action="store_true", help="hardware-aware training (weight noise + clip)")
    p.add_argument(
        "--arch",
        type=name_or_path("arch"),
        default=None,
        help="with --hwa: train against this chip (its devices, blocks, converters, output noise)",
    )
    p.add_argument(
        "--noise",
        choices=NOISE_SOURCES,
        default=None,
        help="with --hwa --arch: chip (default: derived from the chip file) or paper (eta, alpha)",
    )
    p.add_argument(
        "--hwa-age",
        type=age_list("hwa_age"),
        default=None,
        help="with --noise chip: the device age the noise is drawn at, GDC applied (default: t0)",
    )
    p.add_argument(
        "--noise-scale",
        type=real("noise_scale", at_least=0, at_most=100),
        default=1.0,
        help="with --noise chip: factor on the chip's device and output noise (default 1)",
    )
    p.add_argument(
        "--bn-statistics",
        choices=BN_STATISTICS,
        default=None,
        help="with --noise chip: batch norms normalise with a first read's statistics, the loss comes "
        "from a second read (other_read, default: as AdaBS on the chip) or with their own (batch)",
    )
    p.add_argument(
        "--eta", type=real("eta", at_least=0), default=0.038, help="HWA noise std / max|W| (default 3.8 %%)"
    )
    p.add_argument(
        "--alpha", type=real("alpha", above=0), default=2.0, help="HWA clip bound in std(W) (default 2.0)"
    )
    p.add_argument(
        "--quantise-bits",
        type=integer("quantise_bits", minimum=2, maximum=16),
        default=None,
        help="quantise analog layer I/O to 2..16 bits",
    )
    p.add_argument(
        "--init-from", type=name_or_path("init_from"), default=None, help="checkpoint to fine-tune from"
    )
    p.add_argument("--no-augment", action="store_true", help="no random crop and flip of the training images")
    p.add_argument("--crop-pad", type=integer("crop_pad", minimum=0, maximum=MAX_CROP_PAD), default=4)
    p.add_argument(
        "--device", type=torch_device, default=None, help="torch device (default: cuda if available, or cpu)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar (one line per epoch only)")
    p.add_argument("--out", type=path("out"), required=True, help="directory for resume state and checkpoint")
    p.add_argument(
        "--name",
        type=checkpoint_name,
        required=True,
        help="checkpoint name (files NAME.safetensors, NAME.json)",
    )
    p.set_defaults(func=_run)
