"""Benchmark: training throughput of resnet32_pcm with and without hardware-aware weight noise.

One run measures both training steps on the same model and the same random data:

- FP32: forward, backward, SGD step;
- HWA: the step of ``chiptwin.network.training.train`` with ``hwa=True``: add Gaussian weight noise
  (``inject_weight_noise``), forward, backward, put the clean weights back (``restore_weights``), SGD
  step, clip to ``alpha * std(W)`` (``clip_weights``).

The two kinds of step alternate (FP32, HWA, FP32, ...) after a warm-up, so a background load slows
both alike and the ratio stays meaningful on a shared machine. Inputs are random 32x32 one-channel
images (Fashion-MNIST geometry) in channels_last layout, as in training; throughput does not depend
on the pixel values once denormals are flushed.

Usage: ``python bench/train_throughput.py --steps 20 --batch-size 128``
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from torch import nn

from chiptwin.network.resnet import build_model, model_spec
from chiptwin.network.training import (
    TrainSpec,
    analog_layers,
    clip_weights,
    inject_weight_noise,
    restore_weights,
)

MODEL = "resnet32_pcm"
IMAGE_SIZE = 32  # pixels; Fashion-MNIST padded to the CIFAR geometry
IN_CHANNELS = 1
NUM_CLASSES = 10
HWA_DEFAULTS = TrainSpec(hwa=True)  # eta, alpha, lr, momentum and weight decay of a real run
SEED = 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Training throughput of resnet32_pcm, FP32 vs hardware-aware."
    )
    parser.add_argument("--steps", type=int, default=20, help="timed steps of each kind (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps of each kind first (default 3)")
    parser.add_argument("--batch-size", type=int, default=128, help="images per step (default 128)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    for name in ("steps", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}(={getattr(args, name)}) must be >= 1")
    if args.warmup < 0:
        parser.error(f"--warmup(={args.warmup}) must be >= 0")
    return args


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as train() does: denormals make CPU convolutions ~8x slower

    torch.manual_seed(SEED)
    model = build_model(model_spec(MODEL, in_channels=IN_CHANNELS, num_classes=NUM_CLASSES))
    # torch accepts memory_format in Module.to, its type stubs do not list it.
    model = model.to(memory_format=torch.channels_last).train()  # type: ignore[call-overload]
    layers = analog_layers(model)
    spec = HWA_DEFAULTS
    opt = torch.optim.SGD(
        model.parameters(), lr=spec.lr, momentum=spec.momentum, nesterov=True, weight_decay=spec.weight_decay
    )
    loss_fn = nn.CrossEntropyLoss()
    data_gen = torch.Generator().manual_seed(SEED)
    noise_gen = torch.Generator().manual_seed(SEED + 1)
    x = torch.randn(args.batch_size, IN_CHANNELS, IMAGE_SIZE, IMAGE_SIZE, generator=data_gen)
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, NUM_CLASSES, (args.batch_size,), generator=data_gen)

    def step(hwa: bool) -> float:
        start = time.perf_counter()
        clean = inject_weight_noise(layers, spec.eta, noise_gen) if hwa else None
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clean is not None:
            restore_weights(layers, clean)
        opt.step()
        if hwa:
            clip_weights(layers, spec.alpha)
        return time.perf_counter() - start

    for _ in range(args.warmup):
        step(False)
        step(True)
    seconds = {False: 0.0, True: 0.0}
    for _ in range(args.steps):
        for hwa in (False, True):
            seconds[hwa] += step(hwa)

    images = args.steps * args.batch_size
    fp32, hwa = images / seconds[False], images / seconds[True]
    print(
        f"{MODEL}, batch {args.batch_size}, {IN_CHANNELS}x{IMAGE_SIZE}x{IMAGE_SIZE} channels_last, "
        f"{args.warmup} warm-up + {args.steps} timed steps of each kind, "
        f"torch {torch.__version__}, torch threads: {torch.get_num_threads()}, {platform.machine()}"
    )
    print(f"FP32 training: {fp32:8.1f} images/s")
    print(f"HWA  training: {hwa:8.1f} images/s  (eta={spec.eta}, alpha={spec.alpha})")
    print(f"HWA / FP32:    {hwa / fp32:8.3f}")


if __name__ == "__main__":
    main()
