"""chiptwin from Python: put your own model on a chip, age it, compensate it, measure it.

The functions here are the public surface (re-exported by ``chiptwin``); each is a thin, checked path
through the layers, so a notebook needs no knowledge of them::

    import chiptwin as ct

    chip = ct.load_chip("hermes_64")                       # a shipped chip or a TOML path
    programmed = ct.program(model, chip, calibration)      # trace, map, program, calibrate (age t0)
    programmed.set_age(86_400.0)                           # one day later
    ct.compensate(programmed, "gdc+adabs", calibration)    # GDC, then batch-norm statistics
    print(ct.accuracy(programmed, test))                   # top-1, fraction

Train it for the chip first (hardware-aware: its analog layers see the chip's noise in training)::

    ct.train(model, (train_x, train_y), chip=chip, epochs=2)   # or a DataLoader, or "fashion-mnist"
    with ct.hardware_aware(model, chip, (1, 32, 32)):          # or in a training loop of your own
        ...                                                    # model.train(): noisy; model.eval(): digital

Where the model sits and what an inference costs, before any device is programmed::

    placed = ct.map_model(model, chip, (1, 32, 32))       # tiles, blocks, utilisation, NoC traffic
    print(placed.result.tiles_used, placed.result.utilisation)
    cost = ct.time_model(model, chip, (1, 32, 32), rate_per_s=1000.0)
    print(cost.latency_single_ns, cost.energy_per_inference_dynamic_pj)

``model`` is any ``nn.Module`` that torch.fx can trace and whose analog layers are ``Conv2d`` (grouped
and depthwise included) and ``Linear`` (on images or tokens); batch-norm, LayerNorm, activations,
softmax, attention's activation products and pooling run on the tiles' digital units (the list:
:mod:`chiptwin.network.graph`). Anything the tracer cannot place is named in one error. Data is
given as tensors of normalised images (N, C, H, W) with labels, or as any iterable of
``(images, labels)`` batches such as a ``DataLoader``; :func:`load_images` reads the datasets chiptwin
knows.
"""

from __future__ import annotations

import itertools
import math
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import torch
from torch import Tensor, nn

from chiptwin.compensation import get_policy
from chiptwin.device.models import noise_model
from chiptwin.device.noise import IdealNoiseModel, NoiseModel
from chiptwin.errors import DataError, UsageError
from chiptwin.functional.chip import AnalogChip, ConverterBits, blocks_from_mapping, program_chip
from chiptwin.functional.finite import check_logits
from chiptwin.functional.hwa import NoiseRecipe, hardware_aware
from chiptwin.functional.torch_device import check_torch_device
from chiptwin.limits import MAX_AGE_S, MAX_ARRIVALS, MAX_EVENT_ARRIVALS, MAX_RATE_PER_S
from chiptwin.mapping import MappingResult, Placer, map_graph, measure_mapping, resolve_arch
from chiptwin.mapping.placement import Mapping as ChipMapping
from chiptwin.network.accuracy import top1_accuracy
from chiptwin.network.data import (
    FASHION_MNIST_DIR,
    ImageSet,
    image_shape,
    load_cifar10,
    load_fashion_mnist,
    load_shipped,
    normalise,
)
from chiptwin.network.graph import build_layer_graph
from chiptwin.network.training import OPTIMIZERS, TrainData, TrainingNoise, TrainResult, TrainSpec
from chiptwin.network.training import train as _train
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.load import load_chip as _load_chip
from chiptwin.timing import PeriodicWorkload, TimingResult, simulate
from chiptwin.timing.search import resolve_strategy
from chiptwin.units import NS_PER_S

__all__ = [
    "RANGE_CALIBRATION_IMAGES",
    "NoiseRecipe",
    "PlacedModel",
    "TrainResult",
    "accuracy",
    "compensate",
    "hardware_aware",
    "load_chip",
    "load_images",
    "map_model",
    "program",
    "time_model",
    "train",
]

RANGE_CALIBRATION_IMAGES = 256
"""Images the converter ranges are calibrated on right after programming (as scenarios do)."""

Data = tuple[Tensor, Tensor] | Iterable[tuple[Tensor, Tensor]]
"""Labelled images: ``(images, labels)`` tensors, or an iterable of such batches (a ``DataLoader``)."""


def load_chip(name_or_path: str | Path) -> ChipSpec:
    """The chip of an architecture file: a shipped chip (``"hermes_64"``) or a TOML path.

    Raises:
        SpecError: no such architecture, or the file is malformed (one line naming file, key, value).
    """
    return _load_chip(resolve_arch(name_or_path))


def load_images(
    dataset: str, split: str, *, directory: str | Path | None = None, n: int | None = None
) -> tuple[Tensor, Tensor]:
    """Normalised images (N, C, H, W, float32) and labels of ``dataset``'s ``split``.

    ``dataset``: ``"fashion-mnist"`` (``split`` ``"train"`` or ``"test"``; from ``directory``, by
    default Debian's IDX files, or the copies shipped with chiptwin for ``"test"`` and ``"calibration"``)
    or ``"cifar10"`` (``directory``: the ``cifar-10-batches-bin`` folder). ``n``: the first ``n`` only.

    Raises:
        DataError: unknown dataset or split, missing or corrupt files.
    """
    if dataset == "fashion-mnist":
        if directory is None and split in ("test", "calibration"):
            data = load_shipped(split)
        else:
            data = load_fashion_mnist(split, *(() if directory is None else (directory,)))
    elif dataset == "cifar10":
        if directory is None:
            raise DataError("cifar10 needs directory= (the cifar-10-batches-bin folder)")
        data = load_cifar10(split, directory)
    else:
        raise DataError(f"dataset(={dataset!r}) must be 'fashion-mnist' or 'cifar10'")
    count = len(data) if n is None else n
    images = normalise(torch.from_numpy(data.images[:count]), data.dataset)
    return images, torch.from_numpy(data.labels[:count]).long()


def _batches(data: Data, batch_size: int = 100) -> Iterator[tuple[Tensor, Tensor]]:
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], Tensor):
        images, labels = data[0], data[1]
        if not isinstance(labels, Tensor) or images.shape[0] != labels.shape[0]:
            raise DataError("data must be (images, labels) tensors of one length, or batches of them")
        for i in range(0, images.shape[0], batch_size):
            yield images[i : i + batch_size], labels[i : i + batch_size]
        return
    for batch in data:
        if not (isinstance(batch, (tuple, list)) and len(batch) >= 2 and isinstance(batch[0], Tensor)):
            raise DataError("data must be (images, labels) tensors or batches of (images, labels)")
        yield batch[0], batch[1]


def _images(data: Tensor | Data, limit: int) -> list[Tensor]:
    """Up to ``limit`` images of ``data`` (a tensor of images, or labelled data), in batches."""
    if isinstance(data, Tensor):
        end = min(limit, data.shape[0])
        return [data[i : min(i + 100, end)] for i in range(0, end, 100)]
    out, count = [], 0
    for images, _ in _batches(data):
        out.append(images[: limit - count])
        count += out[-1].shape[0]
        if count >= limit:
            break
    if not out:
        raise DataError("no calibration images")
    return out


@dataclass(frozen=True, slots=True)
class PlacedModel:
    """A model mapped on a chip: its layer graph, where every block sits, and the mapping's summary."""

    graph: nx.DiGraph
    """The layer graph (:mod:`chiptwin.network.graph`): one node per layer, analog or digital."""

    mapping: ChipMapping
    """Every block's tile and place in the crossbar (:class:`~chiptwin.mapping.placement.Mapping`)."""

    result: MappingResult
    """Tiles used, utilisation, the bottleneck layer, NoC traffic, per-layer blocks and replicas."""


def map_model(
    model: nn.Module, chip: ChipSpec, input_shape: Sequence[int], *, strategy: str | Placer = "dense"
) -> PlacedModel:
    """Trace ``model`` for inputs of ``input_shape`` (one image, e.g. ``(1, 32, 32)``) and place its
    analog layers on ``chip`` with ``strategy`` (``"dense"``, ``"packed"``, ``"balanced"``, ``"search"``
    for throughput, or a placer: ``chiptwin.timing.search.search_placer(objective)`` searches for an
    objective of one's own).

    Raises:
        MappingError: the model cannot be traced or placed (naming the module), or does not fit the
            chip (with what would fit).
    """
    bits = max(chip.dac.bits, chip.adc.bits)
    graph = build_layer_graph(
        model.eval(), tuple(int(s) for s in input_shape), activation_bits=bits, name=type(model).__name__
    )
    mapping = map_graph(graph, chip, resolve_strategy(strategy))
    return PlacedModel(graph, mapping, measure_mapping(graph, mapping))


def time_model(
    model: nn.Module | PlacedModel,
    chip: ChipSpec,
    input_shape: Sequence[int] | None = None,
    *,
    rate_per_s: float = 1000.0,
    duration_s: float = 1.0,
    strategy: str | Placer = "dense",
    mode: str = "batched",
) -> TimingResult:
    """Latency, throughput and energy of serving ``model`` on ``chip`` at ``rate_per_s`` periodic
    arrivals for ``duration_s`` (the SimPy twin, :mod:`chiptwin.timing`; ``mode`` ``"events"`` times
    every activity, ``"batched"`` uses the pipeline formula). ``model`` may be a :class:`PlacedModel`
    (then ``input_shape`` and ``strategy`` are its own).

    Raises:
        MappingError: as :func:`map_model`.
        UsageError: a rate or duration that is not a positive finite number, or beyond the limits
            (:mod:`chiptwin.limits`).
    """
    for key, value, top in (
        ("rate_per_s", rate_per_s, MAX_RATE_PER_S),
        ("duration_s", duration_s, MAX_AGE_S),
    ):
        if not (isinstance(value, int | float) and math.isfinite(value) and 0 < value <= top):
            raise UsageError(f"{key}(={value!r}) must be a number in (0, {top:g}]")
    if rate_per_s * duration_s > MAX_ARRIVALS or (
        mode == "events" and rate_per_s * duration_s > MAX_EVENT_ARRIVALS
    ):
        raise UsageError(
            f"rate_per_s * duration_s(={rate_per_s * duration_s:g}) inferences is too many for mode {mode!r}"
        )
    if isinstance(model, PlacedModel):
        placed = model
        if placed.result.chip != chip.name:
            raise UsageError(f"the model was placed on chip {placed.result.chip!r}, not on {chip.name!r}")
    else:
        if input_shape is None:
            raise UsageError("time_model needs input_shape (one image, e.g. (1, 32, 32)) for a model")
        placed = map_model(model, chip, input_shape, strategy=strategy)
    return simulate(
        placed.graph,
        placed.mapping,
        chip,
        PeriodicWorkload(rate_per_s),
        duration_ns=round(duration_s * NS_PER_S),
        mode=mode,
    )


def program(
    model: nn.Module,
    chip: ChipSpec,
    calibration: Tensor | Data,
    *,
    strategy: str | Placer = "dense",
    seed: int = 0,
    ideal_devices: bool = False,
    bits: ConverterBits | None = None,
    device: torch.device | str = "cpu",
) -> AnalogChip:
    """Trace ``model``, map it on ``chip`` with ``strategy``, program one chip with ``seed`` and calibrate
    its converter ranges on ``calibration`` (the first 256 images); returns the programmed chip at device
    age ``t0`` (an ``nn.Module``: call it on images; ``set_age`` moves its devices in time).

    ``ideal_devices``: no programming noise, drift or read noise (the mapping and converters stay).
    ``device``: the torch device the chip lives and computes on (``"cuda"`` for a GPU); :func:`compensate`
    and :func:`accuracy` move their images there (a GPU draws other random numbers than the CPU: the same
    statistics).

    Raises:
        MappingError: the model cannot be traced (the module is named) or does not fit the chip (what
            would fit is said).
        DataError: no calibration images.
        UsageError: ``device`` is not a torch device this machine has.
    """
    device = check_torch_device(device)  # before the tracing and mapping: a bad device fails at once
    model = model.eval()
    first = _images(calibration, RANGE_CALIBRATION_IMAGES)
    graph = build_layer_graph(model, tuple(int(s) for s in first[0].shape[1:]), name=type(model).__name__)
    mapping = map_graph(graph, chip, resolve_strategy(strategy))
    noise: NoiseModel = IdealNoiseModel() if ideal_devices else noise_model(chip)
    return program_chip(
        model, chip, blocks_from_mapping(mapping), noise, seed, first, bits=bits, device=device
    )


def compensate(programmed: AnalogChip, policy: str, calibration: Tensor | Data | None = None) -> int:
    """Apply one pass of a compensation ``policy`` (``"none"``, ``"gdc"``, ``"gdc+adabs"``) at the chip's
    current age; AdaBS re-estimates batch-norm statistics on ``calibration`` (Joshi 2020: 2,600 images).
    Returns the number of GDC blocks left alone (they read nothing: a dead tile).

    Raises:
        UsageError: unknown policy, or one that needs images given none.
    """
    chosen = get_policy(policy)
    if chosen.needs_images and calibration is None:
        raise UsageError(f"policy {policy!r} re-estimates batch-norm statistics: give calibration images")
    images = None if calibration is None else _images(calibration, 2600)
    if images is not None:  # to the chip's device (a no-op on the CPU)
        images = [batch.to(programmed.torch_device) for batch in images]
    return chosen.compensate(programmed, images)


def accuracy(model: nn.Module, data: Data, *, batch_size: int = 100) -> float:
    """Top-1 accuracy (fraction) of ``model`` (a programmed chip or any ``nn.Module``) on ``data``; the
    images go to the model's device (the chip's, or that of its first parameter).

    Raises:
        DeviceError: the model computes NaN or inf (where it starts is named).
        DataError: no images.
    """
    device = _device_of(model)
    batches = ((images.to(device), labels) for images, labels in _batches(data, batch_size))
    return top1_accuracy(model, batches, check=lambda batch, logits: check_logits(model, batch, logits))


def _device_of(model: nn.Module) -> torch.device:
    """Where ``model`` computes: a programmed chip's device, else that of its first parameter or buffer
    (the CPU for a model without any)."""
    if isinstance(model, AnalogChip):
        return model.torch_device
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


def train(
    model: nn.Module,
    data: str | TrainData,
    *,
    chip: ChipSpec | str | None = None,
    recipe: NoiseRecipe | None = None,
    test: TrainData | None = None,
    epochs: int = 1,
    lr: float = 1e-3,
    optimizer: str = "adamw",
    weight_decay: float = 1e-4,
    batch_size: int = 128,
    seed: int = 0,
    out: str | Path | None = None,
    name: str = "model",
    directory: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``model`` in place, hardware-aware for ``chip`` if one is given (:func:`hardware_aware`
    with ``recipe``, by default the noise derived from the chip), digitally otherwise.

    Args:
        model: your ``nn.Module`` (trained in place; plain again when this returns).
        data: ``"fashion-mnist"`` or ``"cifar10"`` (the training split from ``directory``, augmented by
            random crop and flip, with the test split as ``test``), ``(images, labels)`` tensors of
            normalised images (shuffled per epoch), or your own batches (a ``DataLoader``).
        chip, recipe: the chip to train against (a :class:`ChipSpec`, or a name or path for
            :func:`load_chip`) and the noise; no chip: plain FP32 training.
        test: test data as ``data`` (not a name); its digital accuracy is reported every epoch.
        epochs, lr, optimizer, weight_decay, batch_size: AdamW (or ``"sgd"``) with a cosine schedule
            from ``lr``; ``batch_size`` for the dataset and tensors (a ``DataLoader`` batches itself).
        seed: data order and noise draws (``chiptwin.seeding``; the same seed trains the same weights).
        out: a folder for the resume state and the weights ``NAME.safetensors`` with their card
            ``NAME.json`` (None: a temporary folder, nothing kept); training again into the same
            folder with the same arguments resumes after the last finished epoch.
        name: the weights' file name in ``out``.
        directory: where the dataset's files are (a named dataset only).
        progress: a progress bar on stderr.

    Raises:
        UsageError: a bad argument (named).
        MappingError: ``chip`` is given and the model cannot be traced or placed (the module is named).
        DataError: no data, a batch that is not ``(images, labels)``, or a loss that is NaN or infinite.
    """
    if optimizer not in OPTIMIZERS:
        raise UsageError(f"optimizer(={optimizer!r}) must be one of {', '.join(OPTIMIZERS)}")
    if isinstance(chip, (str, Path)):
        chip = load_chip(chip)
    elif chip is not None and not isinstance(chip, ChipSpec):
        raise UsageError(f"chip(={chip!r}) must be a ChipSpec (chiptwin.load_chip), a chip name or None")
    try:
        spec = TrainSpec(
            model=type(model).__name__,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            optimizer=optimizer,
            warmup_epochs=0.0,
            weight_decay=weight_decay,
            seed=seed,
            hwa=chip is not None,
            crop_pad=2,  # a named dataset's random crop: shifts of up to 2 pixels (assumed, small)
        )
    except (ValueError, TypeError) as exc:
        raise UsageError(f"train: {exc}") from None
    if isinstance(data, str):
        if test is not None:
            raise UsageError("train: a named dataset brings its own test split; give test=None")
        if data == "fashion-mnist":
            train_set = load_fashion_mnist("train", directory or FASHION_MNIST_DIR)
            test_set: TrainData | None = load_fashion_mnist("test", directory or FASHION_MNIST_DIR)
        elif data == "cifar10":
            if directory is None:
                raise DataError("cifar10 needs directory= (the cifar-10-batches-bin folder)")
            train_set, test_set = load_cifar10("train", directory), load_cifar10("test", directory)
        else:
            raise DataError(f"data(={data!r}) must be 'fashion-mnist', 'cifar10', tensors or batches")
        shape: Sequence[int] = image_shape(data)
        train_data: TrainData = train_set
    else:
        train_data, test_set = data, test
        if isinstance(data, ImageSet):
            shape = tuple(int(s) for s in data.images.shape[1:])
        else:
            first = next(iter(_batches(data)), None)
            if first is None:
                raise DataError("train: the training data holds no batch")
            shape = tuple(int(s) for s in first[0].shape[1:])
    # Attached once, here: a model the chip cannot take fails before any training.
    handle = None if chip is None else hardware_aware(model, chip, shape, recipe=recipe, seed=seed)
    try:
        with tempfile.TemporaryDirectory(prefix="chiptwin-train-") as scratch:
            return _train(
                spec,
                train_data,
                test_set,
                Path(out) if out is not None else Path(scratch),
                name=name,
                model=model,
                noise=None if handle is None else _attached(handle),
                card={"class": type(model).__name__},
                progress=progress,
                log=(lambda _msg: None) if not progress else None,
            )
    finally:
        if handle is not None:
            handle.remove()  # idempotent: training removes it when it gets that far


def _attached(handle: TrainingNoise) -> Callable[[nn.Module], TrainingNoise]:
    """The training's noise factory for a model attached already."""
    return lambda _model: handle
