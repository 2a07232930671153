"""``chiptwin train``: FP32 training or hardware-aware fine-tuning of a zoo network."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch

from chiptwin.cli.arguments import (
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
from chiptwin.limits import MAX_BATCH_SIZE, MAX_CROP_PAD, MAX_EPOCHS
from chiptwin.network.data import FASHION_MNIST_DIR, load_cifar10, load_fashion_mnist
from chiptwin.network.training import OPTIMIZERS, TrainSpec
from chiptwin.network.training import train as run_training

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
    with output_folder(args.out, "--out", UsageError) as out:  # first: fail before loading 60,000 images
        return _train(args, out)


def _train(args: argparse.Namespace, out: Path) -> int:
    if args.dataset == "fashion-mnist":
        directory = args.data_dir or FASHION_MNIST_DIR
        train_set, test_set = load_fashion_mnist("train", directory), load_fashion_mnist("test", directory)
    else:
        if args.data_dir is None:
            raise UsageError("chiptwin train: --dataset cifar10 needs --data-dir (cifar-10-batches-bin)")
        train_set, test_set = load_cifar10("train", args.data_dir), load_cifar10("test", args.data_dir)
    try:
        spec = TrainSpec(
            model=args.model,
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
        device=device,
        command=command,
        progress=not args.quiet,
    )
    print(f"{result.checkpoint}: digital test accuracy {100 * result.test_accuracy:.2f} %")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a zoo network (FP32 or hardware-aware fine-tuning)")
    p.add_argument("--model", type=model_name, default="resnet32_pcm")
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
