"""Accuracy of programmed chips over device age, per compensation policy, over programming seeds.

Each seed is a newly programmed chip that then follows its own devices through time (a persistent
trajectory): ages are visited in increasing order on the same programmed state, and at each age every
policy is applied from the programmed state (GDC measured at that age; AdaBS re-estimated at that age).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from chiptwin.device.noise import NoiseModel
from chiptwin.functional.analog_layer import BlockRange
from chiptwin.functional.chip import AnalogChip, ConverterBits, program_chip
from chiptwin.functional.compensation import POLICIES, apply_policy
from chiptwin.spec.chip import ChipSpec

__all__ = ["AccuracyResult", "EvalSpec", "accuracy", "batches", "evaluate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalSpec:
    """How to evaluate: ages (s), policies, seeds, and the calibration budget.

    Attributes:
        ages_s: device ages to probe, s (visited in increasing order).
        policies: compensation policies (see ``POLICIES``).
        seeds: programming seeds; each is a newly programmed chip.
        n_range_calibration: images for the DAC/ADC range calibration right after programming.
        n_adabs: images per AdaBS pass (Joshi 2020 used 2,600 on CIFAR-10).
        batch_size: images per forward batch (read noise is drawn once per batch).
    """

    ages_s: tuple[float, ...]
    policies: tuple[str, ...] = POLICIES
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    n_range_calibration: int = 256
    n_adabs: int = 2600
    batch_size: int = 500

    def __post_init__(self) -> None:
        if not self.ages_s or min(self.ages_s) < 0:
            raise ValueError(f"ages_s(={self.ages_s!r}) must be non-empty and >= 0")
        for p in self.policies:
            if p not in POLICIES:
                raise ValueError(f"policy(={p!r}) must be one of {POLICIES}")
        if not self.seeds:
            raise ValueError("seeds(=()) must not be empty")
        for name in ("n_range_calibration", "n_adabs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}(={getattr(self, name)!r}) must be >= 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class AccuracyResult:
    """Accuracy (fraction) at one age under one policy, per seed and as mean and std over seeds."""

    age_s: float
    policy: str
    seeds: tuple[int, ...]
    accuracies: tuple[float, ...]
    n_images: int

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def std(self) -> float:
        return statistics.stdev(self.accuracies) if len(self.accuracies) > 1 else 0.0


def batches(images: Tensor, batch_size: int) -> Iterator[Tensor]:
    """Consecutive batches of ``images`` (already normalised)."""
    for start in range(0, images.shape[0], batch_size):
        yield images[start : start + batch_size]


@torch.no_grad()
def accuracy(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int) -> float:
    """Top-1 accuracy (fraction) of ``model`` on normalised ``images``."""
    correct = 0
    for start in range(0, images.shape[0], batch_size):
        logits = model(images[start : start + batch_size])
        correct += int((logits.argmax(1) == labels[start : start + batch_size].to(logits.device)).sum())
    return correct / max(images.shape[0], 1)


def evaluate(
    model: nn.Module,
    chip: ChipSpec,
    blocks: Mapping[str, list[BlockRange]],
    noise: NoiseModel,
    test: tuple[Tensor, Tensor],
    calibration: Tensor,
    spec: EvalSpec,
    *,
    bits: ConverterBits | None = None,
    device: torch.device | str = "cpu",
    on_result: Callable[[int, float, str, float], None] | None = None,
) -> list[AccuracyResult]:
    """Program one chip per seed and measure accuracy at every age under every policy.

    Args:
        model: trained model (eval mode, untouched).
        chip: chip spec; blocks: crossbar blocks per analog layer (from the mapping).
        noise: device model.
        test: normalised test images and labels.
        calibration: normalised calibration images (range calibration uses the first
            ``n_range_calibration``, AdaBS the first ``n_adabs``).
        spec: ages, policies, seeds, budgets.
        bits: converter resolutions (default: the chip's).
        on_result: called as ``on_result(seed, age_s, policy, accuracy)`` after every measurement.

    Returns:
        One result per (age, policy), ages ascending, policies in ``spec.policies`` order.
    """
    images, labels = test[0].to(device), test[1].to(device)
    calibration = calibration.to(device)
    range_batches = list(batches(calibration[: spec.n_range_calibration], spec.batch_size))
    adabs_images = calibration[: spec.n_adabs]
    ages = sorted(spec.ages_s)
    per_key: dict[tuple[float, str], list[float]] = {(a, p): [] for a in ages for p in spec.policies}
    for seed in spec.seeds:
        analog: AnalogChip = program_chip(
            model, chip, blocks, noise, seed, range_batches, bits=bits, device=device
        )
        for age in ages:
            analog.set_age(age)
            for policy in spec.policies:
                apply_policy(analog, policy, batches(adabs_images, spec.batch_size))
                acc = accuracy(analog, images, labels, spec.batch_size)
                per_key[(age, policy)].append(acc)
                if on_result is not None:
                    on_result(seed, age, policy, acc)
    return [
        AccuracyResult(
            age_s=a,
            policy=p,
            seeds=tuple(spec.seeds),
            accuracies=tuple(per_key[(a, p)]),
            n_images=len(labels),
        )
        for a in ages
        for p in spec.policies
    ]
