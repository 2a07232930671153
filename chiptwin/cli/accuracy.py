"""``chiptwin accuracy CHECKPOINT``: digital test accuracy of a checkpoint, re-measured.

Loads the checkpoint (a shipped name or a path; never unpickled), evaluates it on the Fashion-MNIST
test set (the 10,000 images shipped in the package, or the IDX files in ``--data-dir``) and prints the
measured accuracy next to the one its model card records. A bar counts the images as they are measured
(on a terminal, without ``--quiet``).
"""

from __future__ import annotations

import argparse

import torch

from chiptwin.cli.arguments import name_or_path, path
from chiptwin.cli.progress import add_quiet_argument, progress_bar
from chiptwin.errors import CheckpointError
from chiptwin.network.checkpoint import load_checkpoint
from chiptwin.network.data import ImageSet, load_fashion_mnist, load_shipped
from chiptwin.network.training import evaluate_digital

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
    torch.set_flush_denormal(True)
    model, card = load_checkpoint(args.checkpoint)
    if card["dataset"] != "fashion-mnist":
        raise CheckpointError(
            f"{args.checkpoint}: dataset {card['dataset']!r}; only fashion-mnist is shipped"
        )
    test = load_fashion_mnist("test", args.data_dir) if args.data_dir else load_shipped("test")
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    measured = _measure(model, test, args.quiet)
    recorded = card.get("digital_test_accuracy")
    recorded_text = "n/a" if recorded is None else f"{100 * recorded:.2f} %"
    print(
        f"{args.checkpoint}: {card.get('recipe', '?')}, digital test accuracy {100 * measured:.2f} % "
        f"on {len(test):,} images (model card: {recorded_text})"
    )
    return 0


_CHUNK = 1_000
"""Images measured between two moves of the progress bar."""


def _measure(model: torch.nn.Module, test: ImageSet, quiet: bool) -> float:
    """Top-1 accuracy of ``model`` on ``test``, measured a chunk at a time so a bar can follow it: the
    fraction correct of each chunk times its size is its count of correct images (exact), summed."""
    correct = 0.0
    with progress_bar(len(test), desc="accuracy", unit="image", quiet=quiet) as bar:
        for start in range(0, len(test), _CHUNK):
            chunk = ImageSet(
                test.images[start : start + _CHUNK], test.labels[start : start + _CHUNK], test.dataset
            )
            correct += round(evaluate_digital(model, chunk) * len(chunk))
            bar.update(len(chunk))
    return correct / len(test)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("accuracy", help="re-measure the digital test accuracy of a checkpoint")
    p.add_argument(
        "checkpoint",
        type=name_or_path("checkpoint"),
        help="shipped checkpoint name or path (without or with .safetensors)",
    )
    p.add_argument(
        "--data-dir", type=path("data_dir"), default=None, help="Fashion-MNIST IDX folder (default: shipped)"
    )
    add_quiet_argument(p)
    p.set_defaults(func=_run)
