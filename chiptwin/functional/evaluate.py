"""Accuracy of programmed chips over device age, per compensation policy, over programming seeds.

Each seed is a newly programmed chip that then follows its own devices through time (a persistent
trajectory): ages are visited in increasing order on the same programmed state, and at each age every
policy is applied from the programmed state (GDC measured at that age; AdaBS re-estimated at that age).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from chiptwin.device.noise import NoiseModel
from chiptwin.errors import DeviceError
from chiptwin.functional.analog_layer import BlockRange
from chiptwin.functional.chip import AnalogChip, ConverterBits, program_chip
from chiptwin.functional.compensation import ChipCompensation
from chiptwin.functional.finite import check_logits
from chiptwin.network.accuracy import top1_accuracy
from chiptwin.spec.chip import ChipSpec

__all__ = ["AccuracyResult", "EvalSpec", "accuracy", "batches", "evaluate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalSpec:
    """How to evaluate: ages (s), seeds, and the calibration budget (the policies are objects, given to
    :func:`evaluate`).

    Attributes:
        ages_s: device ages to probe, s (visited in increasing order).
        seeds: programming seeds; each is a newly programmed chip.
        n_range_calibration: images for the DAC/ADC range calibration right after programming.
        n_adabs: images per AdaBS pass (Joshi 2020 used 2,600 on CIFAR-10).
        batch_size: images per forward batch (read noise is drawn once per batch).
    """

    ages_s: tuple[float, ...]
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    n_range_calibration: int = 256
    n_adabs: int = 2600
    batch_size: int = 500

    def __post_init__(self) -> None:
        if not self.ages_s or min(self.ages_s) < 0:
            raise DeviceError(f"ages_s(={self.ages_s!r}) must be non-empty and >= 0")
        if not self.seeds:
            raise DeviceError("seeds(=()) must not be empty")
        for name in ("n_range_calibration", "n_adabs", "batch_size"):
            if getattr(self, name) < 1:
                raise DeviceError(f"{name}(={getattr(self, name)!r}) must be >= 1")


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


def accuracy(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int) -> float:
    """Top-1 accuracy (fraction) of ``model`` on normalised ``images``
    (:func:`chiptwin.network.accuracy.top1_accuracy`).

    Raises:
        DeviceError: the model computes a NaN or inf (:func:`~chiptwin.functional.finite.check_logits`
            names where it starts).
        DataError: there are no images.
    """
    return top1_accuracy(
        model,
        (
            (images[i : i + batch_size], labels[i : i + batch_size])
            for i in range(0, images.shape[0], batch_size)
        ),
        check=lambda batch, logits: check_logits(model, batch, logits),
    )


def evaluate(
    model: nn.Module,
    chip: ChipSpec,
    blocks: Mapping[str, list[BlockRange]],
    noise: NoiseModel,
    test: tuple[Tensor, Tensor],
    calibration: Tensor,
    spec: EvalSpec,
    policies: Sequence[ChipCompensation],
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
        spec: ages, seeds, budgets.
        policies: compensation policies (``chiptwin.compensation.POLICIES``), each applied at every
            age from the programmed state.
        bits: converter resolutions (default: the chip's).
        on_result: called as ``on_result(seed, age_s, policy, accuracy)`` after every measurement.

    Returns:
        One result per (age, policy), ages ascending, policies in the given order.

    Raises:
        DeviceError: no policy, or two with one name.
    """
    names = [p.name for p in policies]
    if not names or len(set(names)) != len(names):
        raise DeviceError(f"policies(={names!r}) must be at least one, each named once")
    images, labels = test[0].to(device), test[1].to(device)
    calibration = calibration.to(device)
    range_batches = list(batches(calibration[: spec.n_range_calibration], spec.batch_size))
    adabs_images = calibration[: spec.n_adabs]
    ages = sorted(spec.ages_s)
    per_key: dict[tuple[float, str], list[float]] = {(a, p): [] for a in ages for p in names}
    for seed in spec.seeds:
        analog: AnalogChip = program_chip(
            model, chip, blocks, noise, seed, range_batches, bits=bits, device=device
        )
        for age in ages:
            analog.set_age(age)
            for policy in policies:
                policy.compensate(analog, batches(adabs_images, spec.batch_size))
                acc = accuracy(analog, images, labels, spec.batch_size)
                per_key[(age, policy.name)].append(acc)
                if on_result is not None:
                    on_result(seed, age, policy.name, acc)
    return [
        AccuracyResult(
            age_s=a,
            policy=p,
            seeds=tuple(spec.seeds),
            accuracies=tuple(per_key[(a, p)]),
            n_images=len(labels),
        )
        for a in ages
        for p in names
    ]
