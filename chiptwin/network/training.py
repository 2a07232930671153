"""FP32 and hardware-aware (HWA) training, resumable, seeded.

The hardware-aware recipe is Joshi et al., Nat. Commun. 11, 2473 (2020), Methods, "Hardware-aware
training": starting from a converged FP32 network, every analog layer (first convolution and last fully
connected layer included) gets additive Gaussian weight noise of std ``eta * max|W|`` in each training
forward pass, redrawn every mini-batch, with gradients applied to the clean weights; after each update
the weights are clipped to ``+/- alpha * std(W)`` per layer. ``eta = 3.8 %`` is the PCM programming
noise at mid-range conductance relative to g_max (docs/concepts/physics.md); ``alpha = 2.0`` follows the
paper's 2.0-2.5 range. Optional 8-bit input/output quantisation in the forward pass (straight-through
gradients) mimics the chip's DAC and ADC.

Randomness: the initial weights come from ``torch.manual_seed(seed)``; the data order, augmentation and
weight noise of epoch ``e`` come from generators seeded with ``derive_seed(seed, "epoch", e, stream)``
(``chiptwin.seeding``; before 2026-12 a linear formula, so checkpoints trained earlier, the shipped ones
included, are not retrained bit for bit), so a run resumed from its
last finished epoch continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeGuard

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from chiptwin.errors import CheckpointError, DataError
from chiptwin.files import check_regular_file, load_json
from chiptwin.network.accuracy import top1_accuracy
from chiptwin.network.checkpoint import load_checkpoint, save_checkpoint, save_weights, write_atomic
from chiptwin.network.data import ImageSet, augment, normalise
from chiptwin.network.resnet import ModelSpec, build_model, model_spec
from chiptwin.seeding import derive_seed

__all__ = [
    "OPTIMIZERS",
    "Batches",
    "TrainResult",
    "TrainSpec",
    "TrainingNoise",
    "analog_layers",
    "clip_weights",
    "evaluate_digital",
    "inject_weight_noise",
    "paper_noise_std",
    "quantise_ste",
    "restore_weights",
    "train",
]

_STATE_FILE = "train_state"

OPTIMIZERS = ("sgd", "adamw")
"""Optimizers a training run may use (:class:`TrainSpec`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainSpec:
    """A training run. Every field goes into the model card.

    Attributes:
        model: zoo model name (see ``chiptwin.network.resnet.MODEL_NAMES``).
        epochs: total epochs (a resumed run continues up to this count).
        batch_size: images per mini-batch.
        lr: peak learning rate; cosine decay to 0 after ``warmup_epochs``.
        optimizer: ``"sgd"`` (Nesterov momentum, the ResNets' recipe) or ``"adamw"`` (Loshchilov and
            Hutter, ICLR 2019; betas 0.9/0.999, the usual choice for vision transformers).
        warmup_epochs: linear learning-rate warm-up (epochs, may be fractional).
        momentum: SGD momentum.
        weight_decay: L2 weight decay.
        label_smoothing: cross-entropy label smoothing.
        seed: the run seed.
        hwa: hardware-aware training (weight noise and clipping) instead of plain FP32.
        eta: HWA weight-noise std relative to max|W| per layer (Joshi 2020: 3.8 %).
        alpha: HWA clip bound in units of std(W) per layer (Joshi 2020: 2.0-2.5).
        quantise_bits: if set, inputs and outputs of analog layers are quantised to this many bits.
        init_from: checkpoint to start from (FP32 network for HWA fine-tuning); None trains from scratch.
        augment: random crop and horizontal flip of training images.
        crop_pad: zero padding (pixels) before the random crop.
    """

    model: str = "resnet32_pcm"
    epochs: int = 30
    batch_size: int = 128
    lr: float = 0.1
    optimizer: str = "sgd"
    warmup_epochs: float = 1.0
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    seed: int = 0
    hwa: bool = False
    eta: float = 0.038
    alpha: float = 2.0
    quantise_bits: int | None = None
    init_from: str | None = None
    augment: bool = True
    crop_pad: int = 4

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "optimizer": self.optimizer in OPTIMIZERS,
            "warmup_epochs": self.warmup_epochs >= 0,
            "eta": self.eta >= 0,
            "alpha": self.alpha > 0,
            "quantise_bits": self.quantise_bits is None or 2 <= self.quantise_bits <= 16,
            "crop_pad": self.crop_pad >= 0,
            "label_smoothing": 0 <= self.label_smoothing < 1,
        }
        for key, ok in checks.items():
            if not ok:
                raise ValueError(f"{key}(={getattr(self, key)!r}) is out of range")


Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
"""Labelled batches of normalised images, e.g. a ``DataLoader`` (iterated once per epoch)."""

TrainData = ImageSet | tuple[torch.Tensor, torch.Tensor] | Batches
"""What :func:`train` trains on: a dataset chiptwin loaded (augmented, normalised here), ``(images,
labels)`` tensors of normalised images (shuffled per epoch here), or the user's own batches."""


class TrainingNoise(Protocol):
    """What a training injects, attached to the model (``chiptwin.functional.hwa.HardwareAware``)."""

    def reseed(self, seed: int) -> None:
        """Restart the noise draws from ``seed``."""

    def remove(self) -> nn.Module:
        """Detach from the model (weights final, e.g. clipped); returns the plain model."""

    def describe(self) -> dict[str, Any]:
        """What the model trained against, for its card."""


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What a finished run produced: the checkpoint path, test accuracy (fraction) and the history."""

    checkpoint: Path
    test_accuracy: float | None
    """Digital top-1 accuracy (fraction) on the test data; None without test data."""
    history: list[dict[str, float]] = field(default_factory=list)


def analog_layers(model: nn.Module) -> list[nn.Conv2d | nn.Linear]:
    """Every Conv2d and Linear of ``model``: all of them sit on crossbars in the paper's chip."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def paper_noise_std(weight: torch.Tensor, eta: float) -> torch.Tensor:
    """Joshi 2020's HWA weight-noise std of a layer: ``eta * max|W|`` (Methods)."""
    return eta * weight.detach().abs().max()


@torch.no_grad()
def inject_weight_noise(
    layers: Sequence[nn.Conv2d | nn.Linear], eta: float, generator: torch.Generator
) -> list[torch.Tensor]:
    """Add N(0, (eta * max|W|)^2) to each layer's weight in place; returns the clean weights.

    Biases stay clean: on the chip they are added by the digital unit.
    """
    clean = []
    for layer in layers:
        w = layer.weight
        clean.append(w.detach().clone())
        noise = torch.randn(w.shape, generator=generator, device=generator.device, dtype=w.dtype)
        w.add_(noise.to(w.device) * paper_noise_std(w, eta))
    return clean


@torch.no_grad()
def restore_weights(layers: Sequence[nn.Conv2d | nn.Linear], clean: list[torch.Tensor]) -> None:
    """Put back the clean weights saved by :func:`inject_weight_noise`."""
    for layer, w in zip(layers, clean, strict=True):
        layer.weight.copy_(w)


@torch.no_grad()
def clip_weights(layers: Sequence[nn.Conv2d | nn.Linear], alpha: float) -> None:
    """Clip each layer's weight to +/- alpha * std(W) (Joshi 2020, Methods)."""
    for layer in layers:
        bound = alpha * layer.weight.std()
        layer.weight.clamp_(-bound, bound)


def quantise_ste(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Symmetric uniform quantisation to ``bits`` bits over the batch's max|x|, straight-through grads."""
    levels = 2 ** (bits - 1) - 1
    scale = x.detach().abs().max().clamp_min(1e-12) / levels
    q = torch.round(x / scale).clamp(-levels, levels) * scale
    return x + (q - x).detach()


def _add_quantisation_hooks(layers: Sequence[nn.Conv2d | nn.Linear], bits: int) -> list[Any]:
    handles = []
    for layer in layers:
        handles.append(layer.register_forward_pre_hook(lambda _m, args: (quantise_ste(args[0], bits),)))
        handles.append(layer.register_forward_hook(lambda _m, _a, out: quantise_ste(out, bits)))
    return handles


def _device_generator(seed: int, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def _batches(
    data: ImageSet, batch_size: int, order: torch.Tensor
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    images = torch.from_numpy(data.images)
    labels = torch.from_numpy(data.labels)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        yield images[idx], labels[idx]


def _prepare(images: torch.Tensor, dataset: str, device: torch.device) -> torch.Tensor:
    return normalise(images.to(device), dataset).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def evaluate_digital(
    model: nn.Module, data: ImageSet, batch_size: int = 500, device: torch.device | str = "cpu"
) -> float:
    """Top-1 accuracy (fraction) of the digital model on ``data``, in eval mode.

    Raises:
        DataError: no images, or non-finite logits.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    order = torch.arange(len(data))
    try:
        return top1_accuracy(
            model,
            (
                (_prepare(images, data.dataset, device), labels)
                for images, labels in _batches(data, batch_size, order)
            ),
        )
    finally:
        model.train(was_training)


def _lr_at(spec: TrainSpec, step: int, steps_per_epoch: int) -> float:
    warmup = spec.warmup_epochs * steps_per_epoch
    total = spec.epochs * steps_per_epoch
    if step < warmup:
        return spec.lr * (step + 1) / warmup
    progress = (step - warmup) / max(total - warmup, 1)
    return 0.5 * spec.lr * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def _initial_model(spec: TrainSpec, in_channels: int) -> tuple[nn.Module, ModelSpec]:
    if spec.init_from is not None:
        model, card = load_checkpoint(spec.init_from)
        mspec = ModelSpec(**{**card["model"], "widths": tuple(card["model"]["widths"])})  # checked by load
        if mspec.in_channels != in_channels:
            raise CheckpointError(
                f"{spec.init_from}: model has in_channels={mspec.in_channels}, data has {in_channels}"
            )
        return model, mspec
    torch.manual_seed(spec.seed)
    mspec = model_spec(spec.model, in_channels=in_channels)
    return build_model(mspec), mspec


def _save_state(out_dir: Path, model: nn.Module, opt: torch.optim.Optimizer, meta: dict[str, Any]) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for i, group in enumerate(opt.param_groups):
        for j, p in enumerate(group["params"]):
            for key, value in opt.state.get(p, {}).items():
                if isinstance(value, torch.Tensor):
                    tensors[_optimizer_key(i, j, key)] = value.detach().cpu().contiguous()
    write_atomic(out_dir / f"{_STATE_FILE}.safetensors", lambda p: save_file(tensors, str(p)))
    write_atomic(out_dir / f"{_STATE_FILE}.json", lambda p: p.write_text(json.dumps(meta, indent=2)))


def _load_state(
    out_dir: Path, model: nn.Module, opt: torch.optim.Optimizer, spec: TrainSpec, identity: dict[str, Any]
) -> dict[str, Any] | None:
    meta_path = out_dir / f"{_STATE_FILE}.json"
    if not meta_path.exists():
        return None
    meta = load_json(meta_path, "manifest", CheckpointError)
    if not isinstance(meta, dict) or meta.get("spec") != asdict(spec) or meta.get("identity", {}) != identity:
        raise CheckpointError(
            f"{meta_path}: resume state was written by a different training spec; "
            "use another --out directory or delete it"
        )
    weights = out_dir / f"{_STATE_FILE}.safetensors"
    check_regular_file(weights, "checkpoint", CheckpointError)
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: corrupt resume state ({exc})") from None
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    for i, group in enumerate(opt.param_groups):
        for j, p in enumerate(group["params"]):
            for key in _OPTIMIZER_STATE[spec.optimizer]:
                if (name := _optimizer_key(i, j, key)) in tensors:
                    value = tensors[name]
                    opt.state[p][key] = value if key == "step" else value.to(p.device)
    return meta


_OPTIMIZER_STATE = {"sgd": ("momentum_buffer",), "adamw": ("step", "exp_avg", "exp_avg_sq")}
"""The per-parameter state each optimizer keeps (saved after every epoch, restored on resume)."""


def _optimizer_key(group: int, param: int, key: str) -> str:
    # SGD's momentum keeps the name resume states had before AdamW existed.
    return f"momentum.{group}.{param}" if key == "momentum_buffer" else f"optim.{group}.{param}.{key}"


def _optimizer(spec: TrainSpec, model: nn.Module) -> torch.optim.Optimizer:
    if spec.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    return torch.optim.SGD(
        model.parameters(), lr=spec.lr, momentum=spec.momentum, nesterov=True, weight_decay=spec.weight_decay
    )


def _epoch_batches(
    data: TrainData, spec: TrainSpec, order_gen: torch.Generator, device: torch.device
) -> tuple[Iterable[tuple[torch.Tensor, torch.Tensor]], int]:
    """One epoch's training batches on ``device`` (normalised, channels_last) and their count.

    Raises:
        DataError: the user's batches have no length (a generator: they would run out after one epoch).
    """
    if isinstance(data, ImageSet):
        order = torch.randperm(len(data), generator=order_gen)

        def from_images() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            for images, labels in _batches(data, spec.batch_size, order):
                if spec.augment:
                    images = augment(images, order_gen, pad=spec.crop_pad)
                yield _prepare(images, data.dataset, device), labels.to(device)

        return from_images(), math.ceil(len(data) / spec.batch_size)
    if _is_tensor_pair(data):
        images, labels = data
        order = torch.randperm(images.shape[0], generator=order_gen)

        def from_tensors() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            for start in range(0, len(order), spec.batch_size):
                idx = order[start : start + spec.batch_size]
                yield _on(images[idx], device), labels[idx].to(device)

        return from_tensors(), math.ceil(images.shape[0] / spec.batch_size)

    def from_loader() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for batch in data:
            if not (
                isinstance(batch, (tuple, list)) and len(batch) >= 2 and isinstance(batch[0], torch.Tensor)
            ):
                raise DataError("training data must be (images, labels) tensors or batches of them")
            yield _on(batch[0], device), batch[1].to(device)

    if not isinstance(data, Sized):  # a generator: one epoch only, and no step count for the schedule
        raise DataError(
            "training batches must be re-iterable with a length (a DataLoader, a list), not a generator"
        )
    return from_loader(), len(data)


def _is_tensor_pair(data: object) -> TypeGuard[tuple[torch.Tensor, torch.Tensor]]:
    return (
        isinstance(data, tuple)
        and len(data) == 2
        and all(isinstance(t, torch.Tensor) for t in data)
        and data[0].shape[0] == data[1].shape[0]
    )


def _on(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    images = images.to(device)
    return images.contiguous(memory_format=torch.channels_last) if images.dim() == 4 else images


def _data_size(data: TrainData) -> int | None:
    if isinstance(data, ImageSet):
        return len(data)
    if _is_tensor_pair(data):
        return int(data[0].shape[0])
    return None


def _test_accuracy(model: nn.Module, data: TrainData | None, device: torch.device) -> float | None:
    if data is None:
        return None
    if isinstance(data, ImageSet):
        return evaluate_digital(model, data, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if _is_tensor_pair(data):
                images, labels = data
                batches: Iterable[tuple[torch.Tensor, torch.Tensor]] = (
                    (_on(images[i : i + 500], device), labels[i : i + 500])
                    for i in range(0, len(labels), 500)
                )
            else:
                batches = ((_on(b[0], device), b[1]) for b in data)
            return top1_accuracy(model, batches)
    finally:
        model.train(was_training)


def train(
    spec: TrainSpec,
    train_data: TrainData,
    test_data: TrainData | None,
    out_dir: Path | str,
    *,
    name: str,
    model: nn.Module | None = None,
    noise: Callable[[nn.Module], TrainingNoise] | None = None,
    card: dict[str, Any] | None = None,
    device: torch.device | str = "cpu",
    command: str = "",
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train (or resume) and write checkpoint ``out_dir/name`` with its model card.

    The resume state (weights, optimizer state, history) is written to ``out_dir`` after every epoch;
    calling again with the same spec and directory continues after the last finished epoch.

    Args:
        spec: the run (``spec.model`` names a zoo model, or labels ``model``).
        train_data, test_data: :data:`TrainData` (``test_data`` None: no test accuracy).
        out_dir: where the resume state and the checkpoint go.
        name: checkpoint name (``NAME.safetensors`` and ``NAME.json``).
        model: a network of the user's own to train instead of the zoo's ``spec.model`` (its card then
            has no ``model`` entry: the code that builds it is the user's).
        noise: attaches what the training injects to the model (``chiptwin.functional.hwa``), reseeded
            per epoch with ``derive_seed(seed, "epoch", e, "weight-noise")``; None with ``spec.hwa``:
            Joshi 2020's recipe on every Conv2d and Linear (:func:`inject_weight_noise`).
        card: more entries for the model card (and the identity a resume must match).
        device, command, progress, log: torch device, the command line for the card, a progress bar on
            stderr, where the epoch lines go (default stderr).

    Raises:
        CheckpointError: ``init_from`` cannot be loaded, or ``out_dir`` holds state of another run.
        DataError: the training set is empty, or a batch is not ``(images, labels)``.
        DataError: the loss is NaN or infinite (the epoch and step are named).
    """
    size = _data_size(train_data)
    if size == 0:
        raise DataError("training set is empty")
    torch.set_flush_denormal(True)  # denormals make CPU convolutions ~8x slower
    device = torch.device(device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    emit = log or (lambda msg: print(msg, file=sys.stderr, flush=True))

    mspec: ModelSpec | None
    if model is None:
        in_channels = int(train_data.images.shape[1]) if isinstance(train_data, ImageSet) else 1
        model, mspec = _initial_model(spec, in_channels=in_channels)
    else:
        mspec = None
    # torch accepts memory_format in Module.to, its type stubs do not list it.
    model = model.to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    layers = analog_layers(model)
    legacy_hwa = spec.hwa and noise is None
    if legacy_hwa:
        clip_weights(layers, spec.alpha)
    opt = _optimizer(spec, model)
    attached = noise(model) if noise is not None else None
    extra = dict(card or {})
    if attached is not None:
        extra["hwa"] = attached.describe()
    identity = json.loads(json.dumps(extra, default=str))
    try:
        meta = _load_state(out_dir, model, opt, spec, identity) or {
            "spec": asdict(spec),
            "identity": identity,
            "epoch": 0,
            "history": [],
            "wall_s": 0.0,
        }
        if meta["epoch"]:
            emit(f"resuming {name} after epoch {meta['epoch']}/{spec.epochs}")
        hooks = _add_quantisation_hooks(layers, spec.quantise_bits) if spec.quantise_bits else []
        loss_fn = nn.CrossEntropyLoss(label_smoothing=spec.label_smoothing)

        for epoch in range(meta["epoch"], spec.epochs):
            start = time.perf_counter()
            model.train()
            # Distinct, stable seeds per (run, epoch, stream): the data order and the weight noise.
            order_gen = _device_generator(
                derive_seed(spec.seed, "epoch", epoch, "order"), torch.device("cpu")
            )
            noise_seed = derive_seed(spec.seed, "epoch", epoch, "weight-noise")
            noise_gen = _device_generator(noise_seed, device)
            if attached is not None:
                attached.reseed(noise_seed)
            batches, steps_per_epoch = _epoch_batches(train_data, spec, order_gen, device)
            steps_for_lr = max(steps_per_epoch, 1)
            total_loss, correct, seen = 0.0, 0, 0
            bar = tqdm(
                batches,
                total=steps_per_epoch,
                desc=f"{name} epoch {epoch + 1}/{spec.epochs}",
                disable=not progress,
                file=sys.stderr,
                leave=False,
            )
            step = -1
            for step, (x, y) in enumerate(bar):
                for group in opt.param_groups:
                    group["lr"] = _lr_at(spec, epoch * steps_for_lr + step, steps_for_lr)
                clean = inject_weight_noise(layers, spec.eta, noise_gen) if legacy_hwa else None
                logits = model(x)
                loss = loss_fn(logits, y)
                if not math.isfinite(float(loss.detach())):
                    raise DataError(
                        f"{name}: the training loss is {float(loss.detach())} at epoch {epoch + 1}, step "
                        f"{step + 1} (lower the learning rate, or check the data for NaN)"
                    )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if clean is not None:
                    restore_weights(layers, clean)
                opt.step()
                if legacy_hwa:
                    clip_weights(layers, spec.alpha)
                total_loss += loss.item() * len(y)
                correct += int((logits.argmax(1) == y).sum())
                seen += len(y)
                bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.4f}")
            bar.close()
            if seen == 0:
                raise DataError("training set is empty")
            test_acc = _test_accuracy(model, test_data, device)
            elapsed = time.perf_counter() - start
            row = {
                "epoch": epoch + 1,
                "train_loss": total_loss / seen,
                "train_accuracy": correct / seen,
                "test_accuracy": test_acc,
                "seconds": elapsed,
            }
            meta["history"].append(row)
            meta["epoch"] = epoch + 1
            meta["wall_s"] += elapsed
            _save_state(out_dir, model, opt, meta)
            tested = "-" if test_acc is None else f"{test_acc:.4f}"
            emit(
                f"{name} epoch {epoch + 1}/{spec.epochs}: loss {row['train_loss']:.4f} "
                f"train {row['train_accuracy']:.4f} test {tested} ({elapsed:.0f} s)"
            )
        for h in hooks:
            h.remove()
    finally:
        if attached is not None:
            attached.remove()  # the final clip; a plain model from here on
    test_acc = _test_accuracy(model, test_data, device)
    recipe = "FP32"
    if attached is not None:
        source = extra["hwa"].get("recipe", {}).get("source", "?")
        recipe = f"hardware-aware ({source} noise, chiptwin.functional.hwa)"
    elif spec.hwa:
        recipe = "hardware-aware fine-tuning (Joshi et al. 2020)"
    full_card = {
        **({"dataset": train_data.dataset} if isinstance(train_data, ImageSet) else {}),
        **extra,
        "recipe": recipe,
        "hyper_parameters": asdict(spec),
        "seed": spec.seed,
        "digital_test_accuracy": test_acc,
        "test_images": _data_size(test_data) if test_data is not None else None,
        "train_images": size,
        "wall_time_s": round(meta["wall_s"], 1),
        "history": meta["history"],
        "device": str(device),
        "torch": torch.__version__,
        "command": command,
    }
    if mspec is not None:
        path = save_checkpoint(model, mspec, full_card, out_dir / name)
    else:
        path = save_weights(model, full_card, out_dir / name)
    return TrainResult(path, test_acc, meta["history"])
