"""Bench: twin forward at a fixed device age vs plain PyTorch forward of the same model (one run).

    python bench/functional_throughput.py [--model resnet32_pcm|vit4] [--arch hermes_64]
                                          [--strategy dense] [--batch-size 100] [--batches 30] [--threads 2]
                                          [--output-noise SIGMA]

Both run the same model, batch size and thread count; the twin programs the model on the crossbar
blocks of its real mapping onto ``--arch`` (``map_graph`` with ``--strategy``, as ``chiptwin evaluate``
and the scenarios do: a layer taller or wider than a crossbar is split into several blocks, each with
its own converters) with the PCM model and the chip's converters, sets the age to one day with GDC, and
draws read noise per batch. Target (issue 16): twin throughput >= 0.7x plain at batch 100 on 2 threads,
for resnet32_pcm and for the vision transformer vit4 (whose attention products, softmax and LayerNorm
run in PyTorch in both: the twin's overhead is in its Linear layers, one MVM per token).
Forwards of the two kinds alternate so background load slows both alike. ``--output-noise`` replaces the
chip's ``adc.output_noise`` (0: what the converters cost without the periphery's noise draws).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable

import torch

from chiptwin.compensation import get_policy
from chiptwin.device.models import noise_model
from chiptwin.functional import program_chip
from chiptwin.functional.chip import blocks_from_mapping
from chiptwin.mapping import map_graph, resolve_arch
from chiptwin.network.graph import ZOO_INPUT_SIZES, build_layer_graph
from chiptwin.network.resnet import build_model, model_spec
from chiptwin.spec.load import load_chip


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet32_pcm")
    parser.add_argument("--arch", default="hermes_64", help="architecture name or file")
    parser.add_argument("--strategy", default="dense", help="placement strategy of the mapping")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output-noise", type=float, default=None, help="override adc.output_noise")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    spec = model_spec(args.model)
    model = build_model(spec).eval()
    shape = (spec.in_channels, ZOO_INPUT_SIZES[spec.arch], ZOO_INPUT_SIZES[spec.arch])
    arch_path = resolve_arch(args.arch)
    chip_spec = load_chip(arch_path)
    if args.output_noise is not None:
        chip_spec = dataclasses.replace(
            chip_spec, adc=dataclasses.replace(chip_spec.adc, output_noise=args.output_noise)
        )
    x = torch.randn(args.batch_size, *shape).contiguous(memory_format=torch.channels_last)
    model = model.to(memory_format=torch.channels_last)
    noise = noise_model(chip_spec)
    graph = build_layer_graph(model, shape, name=args.model)
    blocks = blocks_from_mapping(map_graph(graph, chip_spec, args.strategy, source=arch_path))
    n_blocks = sum(len(b) for b in blocks.values())
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
    get_policy("gdc").compensate(chip, None)
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
    print(
        f"{args.model} on {chip_spec.name} ({args.strategy}: {n_blocks} blocks, {len(blocks)} analog layers),"
        f" batch {args.batch_size}, {args.batches} batches, torch threads {args.threads}"
    )
    print(
        f"programming {args.model} ({chip.state_bytes / 1e6:.1f} MB of device state): {program_s:.3f} s"
        "  (target < 0.5 s)"
    )
    print(f"moving to a new age (drift + fresh read noise of every device): {move_s:.3f} s  (target < 0.2 s)")
    dac = "ideal DAC" if chip_spec.dac.ideal else f"{chip_spec.dac.bits}-bit DAC"
    adc = "ideal ADC" if chip_spec.adc.ideal else f"{chip_spec.adc.bits}-bit ADC"
    converters = f"{dac} / {adc}, output noise {chip_spec.adc.output_noise:g}"
    print(f"plain PyTorch forward: {med['plain']:8.1f} images/s (median batch; mean {mean['plain']:.1f})")
    print(
        f"twin forward (1 day, GDC, {converters}, read noise per"
        f" batch): {med['twin']:8.1f} images/s (median batch; mean {mean['twin']:.1f})"
    )
    print(
        f"twin / plain: {med['twin'] / med['plain']:.3f} median, {mean['twin'] / mean['plain']:.3f} mean"
        "  (target >= 0.7)"
    )


if __name__ == "__main__":
    main()
