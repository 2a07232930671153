"""The ``chiptwin`` command line.

Every user error (a ``ChipTwinError``) is printed as one line on stderr with exit code 2; no traceback.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from chiptwin.errors import ChipTwinError, SpecError
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.figures import chip_figures
from chiptwin.spec.load import load_chip

__all__ = ["main", "resolve_arch"]

ARCHITECTURES_DIR = Path(__file__).resolve().parents[1] / "architectures"
"""The repository's ``architectures/`` folder (bare names like ``hermes_64`` resolve there)."""

DEFAULT_ARCH = "hermes_64"


def resolve_arch(name_or_path: str | Path) -> Path:
    """A path as given if it exists or looks like a file; else ``architectures/NAME.toml``."""
    path = Path(name_or_path)
    if path.exists() or path.suffix == ".toml" or len(path.parts) > 1:
        return path
    candidate = ARCHITECTURES_DIR / f"{path.name}.toml"
    if not candidate.exists():
        known = ", ".join(sorted(p.stem for p in ARCHITECTURES_DIR.glob("*.toml")))
        raise SpecError(f"{name_or_path}: no such file or architecture (known: {known})")
    return candidate


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
            f"  converters {chip.dac.bits}-bit DAC, {chip.adc.bits}-bit ADC"
            f" ({chip.adc.columns_per_adc} column(s) per ADC)",
            f"  MVM        {f.mvm_time_ns:.1f} ns, {f.mvm_energy_pj / 1e3:.2f} nJ (full crossbar)",
            f"  peak       {f.peak_tops:.1f} TOPS, nominal {f.tops_per_watt:.2f} TOPS/W (8-bit ops, static"
            f" power {chip.static_power_mw:g} mW excluded)",
        ]
    )


def _cmd_check_arch(args: argparse.Namespace) -> int:
    path = resolve_arch(args.file)
    chip = load_chip(path)
    print(f"{path}: valid")
    print(format_chip(chip))
    return 0


def _add_check_arch(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-arch", help="validate an architecture file and print its summary")
    p.add_argument("file", help="architecture TOML file, or a name in architectures/")
    p.set_defaults(func=_cmd_check_arch)


def _cmd_train(args: argparse.Namespace) -> int:
    import torch

    from chiptwin.network.data import FASHION_MNIST_DIR, load_cifar10, load_fashion_mnist
    from chiptwin.network.training import TrainSpec, train

    if args.dataset == "fashion-mnist":
        directory = args.data_dir or FASHION_MNIST_DIR
        train_set, test_set = load_fashion_mnist("train", directory), load_fashion_mnist("test", directory)
    else:
        if args.data_dir is None:
            raise ChipTwinError("--data-dir is required for cifar10 (the cifar-10-batches-bin folder)")
        train_set, test_set = load_cifar10("train", args.data_dir), load_cifar10("test", args.data_dir)
    try:
        spec = TrainSpec(
            model=args.model,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
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
    result = train(spec, train_set, test_set, args.out, name=args.name, device=device, command=command)
    print(f"{result.checkpoint}: digital test accuracy {100 * result.test_accuracy:.2f} %")
    return 0


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a zoo network (FP32 or hardware-aware fine-tuning)")
    p.add_argument("--model", default="resnet32_pcm")
    p.add_argument("--dataset", choices=["fashion-mnist", "cifar10"], default="fashion-mnist")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hwa", action="store_true", help="hardware-aware training (weight noise + clip)")
    p.add_argument("--eta", type=float, default=0.038, help="HWA noise std / max|W| (default 3.8 %%)")
    p.add_argument("--alpha", type=float, default=2.0, help="HWA clip bound in std(W) (default 2.0)")
    p.add_argument("--quantise-bits", type=int, default=None, help="quantise analog layer I/O")
    p.add_argument("--init-from", default=None, help="checkpoint to fine-tune from")
    p.add_argument("--crop-pad", type=int, default=4)
    p.add_argument("--device", default=None)
    p.add_argument("--out", type=Path, required=True, help="directory for resume state and checkpoint")
    p.add_argument("--name", required=True, help="checkpoint name (files NAME.safetensors, NAME.json)")
    p.set_defaults(func=_cmd_train)


_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_check_arch, _add_train]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chiptwin", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _COMMANDS:
        add(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ChipTwinError as exc:
        print(f"chiptwin: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chiptwin: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
