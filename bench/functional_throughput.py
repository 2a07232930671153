"""Bench: twin forward at a fixed device age vs plain PyTorch forward of the same model (one run).

    python bench/functional_throughput.py [--model resnet32_pcm] [--batch-size 100] [--batches 30]

Both run the same model, batch size and thread count; the twin programs the model on hermes_64-sized
blocks with the PCM model and 8-bit converters, sets the age to one day with GDC, and draws read noise
per batch. Target (issue 5): twin throughput >= 0.67x plain (overhead <= 1.5x). Forwards of the two
kinds alternate so background load slows both alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from chiptwin.device.noise import PCMNoiseModel
from chiptwin.functional import apply_policy, program_chip, whole_layer_blocks
from chiptwin.network.resnet import build_model
from chiptwin.spec.chip import ChipSpec


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet32_pcm")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model(args.model).eval()
    chip_spec = ChipSpec()
    x = torch.randn(args.batch_size, 1, 32, 32).contiguous(memory_format=torch.channels_last)
    model = model.to(memory_format=torch.channels_last)
    noise = PCMNoiseModel(chip_spec.pcm)
    blocks = whole_layer_blocks(model)
    # Programming alone (no range calibration), best of 3; then moving the chip to a new age: the
    # drifted conductances of every device with fresh read noise, as each forward batch reads them.
    program_s = min(_timed(lambda: program_chip(model, chip_spec, blocks, noise, 0, [])) for _ in range(3))
    chip = program_chip(model, chip_spec, blocks, noise, 0, [x])
    groups = [g for layer in chip.layers.values() for g in layer.row_groups]

    def move() -> None:
        chip.set_age(86_400.0)
        for g in groups:
            g.read_normalised(chip.ctx)

    move_s = min(_timed(move) for _ in range(3))
    apply_policy(chip, "gdc")
    times: dict[str, list[float]] = {"plain": [], "twin": []}
    with torch.no_grad():
        model(x), chip(x)  # warm-up
        for _ in range(args.batches):
            for name, fn in (("plain", model), ("twin", chip)):
                start = time.perf_counter()
                fn(x)
                times[name].append(time.perf_counter() - start)
    # The median batch time is robust to the other processes of a shared 2-core machine; the mean is
    # printed as well so a reader sees how much the two differ.
    med = {k: args.batch_size / statistics.median(v) for k, v in times.items()}
    mean = {k: args.batch_size * len(v) / sum(v) for k, v in times.items()}
    print(f"{args.model}, batch {args.batch_size}, {args.batches} batches, torch threads {args.threads}")
    print(
        f"programming {args.model} ({chip.state_bytes / 1e6:.1f} MB of device state): {program_s:.3f} s"
        "  (target < 0.5 s)"
    )
    print(f"moving to a new age (drift + fresh read noise of every device): {move_s:.3f} s  (target < 0.2 s)")
    print(f"plain PyTorch forward: {med['plain']:8.1f} images/s (median batch; mean {mean['plain']:.1f})")
    print(
        f"twin forward (1 day, GDC, 8-bit converters, read noise per batch): {med['twin']:8.1f} images/s"
        f" (median batch; mean {mean['twin']:.1f})"
    )
    print(
        f"twin / plain: {med['twin'] / med['plain']:.3f} median, {mean['twin'] / mean['plain']:.3f} mean"
        "  (target >= 0.67)"
    )


if __name__ == "__main__":
    main()
