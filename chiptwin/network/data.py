"""Datasets: Fashion-MNIST (IDX files), CIFAR-10 (binary batches) and the subsets shipped in the package.

Images are kept as ``uint8`` arrays of shape (N, C, 32, 32) until a batch is needed, so a dataset costs
one byte per pixel. Fashion-MNIST's 28x28 images are zero-padded to 32x32 so ResNet-32 sees the CIFAR
feature-map geometry 32/16/8.

Fashion-MNIST: Xiao, Rasul and Vollgraf, arXiv:1708.07747 (2017), MIT licence.
IDX format: LeCun et al., http://yann.lecun.com/exdb/mnist/ (big-endian magic 0x00000801 for labels,
0x00000803 for images, then the dimension sizes as big-endian uint32).
CIFAR-10: Krizhevsky (2009); binary version, 10,000 records of 1 label byte + 3,072 pixel bytes per file.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from chiptwin.errors import DataError
from chiptwin.files import read_bytes

__all__ = [
    "DATASET_STATS",
    "FASHION_MNIST_DIR",
    "ImageSet",
    "augment",
    "class_balanced_subset",
    "image_shape",
    "load_cifar10",
    "load_fashion_mnist",
    "load_shipped",
    "normalise",
]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` package installs the IDX files."""

DATASET_STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    # Per-channel mean and std of the training images in [0, 1], measured on the 28x28 originals
    # (Fashion-MNIST) and the 50,000 training images (CIFAR-10).
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}

IMAGE_SIZE = 32
"""Height and width of every image this module returns (Fashion-MNIST's 28x28 are padded)."""


def image_shape(dataset: str) -> tuple[int, int, int]:
    """(C, H, W) of the images of ``dataset`` as this module loads them, without loading any."""
    if dataset not in DATASET_STATS:
        raise DataError(f"dataset(={dataset!r}) must be one of {sorted(DATASET_STATS)}")
    return len(DATASET_STATS[dataset][0]), IMAGE_SIZE, IMAGE_SIZE


_IDX_LABELS_MAGIC = 0x00000801
_IDX_IMAGES_MAGIC = 0x00000803
_NUM_CLASSES = 10
_CIFAR_RECORD_BYTES = 1 + 3 * 32 * 32
_CIFAR_RECORDS_PER_FILE = 10_000


@dataclass(frozen=True, slots=True)
class ImageSet:
    """Images as uint8 (N, C, 32, 32) with int64 labels in 0..9, and the dataset's name."""

    images: np.ndarray
    labels: np.ndarray
    dataset: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _read_bytes(path: Path) -> bytes:
    raw = read_bytes(path, "dataset file", DataError)
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt gzip data ({exc})") from None
    return raw


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    raw = _read_bytes(path)
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: {len(raw)} bytes, shorter than the {header}-byte IDX header")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DataError(f"{path}: IDX magic number 0x{found:08x}, expected 0x{magic:08x}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(f"{path}: {len(raw)} bytes, expected {expected} for dimensions {dims}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find(directory: Path, stem: str) -> Path:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.exists():
            return candidate
    raise DataError(f"{directory / stem}[.gz]: file not found")


def _check_labels(path: Path, labels: np.ndarray) -> np.ndarray:
    if labels.size and int(labels.max()) >= _NUM_CLASSES:
        raise DataError(f"{path}: label {int(labels.max())} outside 0..{_NUM_CLASSES - 1}")
    return labels.astype(np.int64)


def _pad_to_32(images: np.ndarray) -> np.ndarray:
    pad = (IMAGE_SIZE - images.shape[-1]) // 2
    return np.pad(images, ((0, 0), (pad, pad), (pad, pad)))[:, None, :, :]


def load_fashion_mnist(split: str, directory: Path | str = FASHION_MNIST_DIR) -> ImageSet:
    """Load the Fashion-MNIST ``"train"`` (60,000) or ``"test"`` (10,000) split, padded to 32x32.

    Raises:
        DataError: the directory or a file is missing, a file is truncated, has the wrong magic number or
            no images, or a label is out of range.
    """
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise DataError(f"split(={split!r}) must be 'train' or 'test'")
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: no such Fashion-MNIST directory")
    images_path = _find(directory, f"{prefix}-images-idx3-ubyte")
    labels_path = _find(directory, f"{prefix}-labels-idx1-ubyte")
    images = _read_idx(images_path, _IDX_IMAGES_MAGIC, 3)
    labels = _check_labels(labels_path, _read_idx(labels_path, _IDX_LABELS_MAGIC, 1))
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise DataError(
            f"{images_path}: {images.shape[0]} images of {images.shape[1:]} "
            f"for {labels.shape[0]} labels, expected 28x28 images, one per label"
        )
    if not len(labels):
        raise DataError(f"{images_path}: holds no images")
    return ImageSet(_pad_to_32(images), labels, "fashion-mnist")


def load_cifar10(split: str, directory: Path | str) -> ImageSet:
    """Load CIFAR-10 ``"train"`` (data_batch_1..5.bin) or ``"test"`` (test_batch.bin) from a directory.

    ``directory`` is the extracted ``cifar-10-batches-bin`` folder. The binary format is read with numpy;
    nothing is unpickled.

    Raises:
        DataError: a file is missing, has the wrong size, or a label is out of range.
    """
    names = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}.get(split)
    if names is None:
        raise DataError(f"split(={split!r}) must be 'train' or 'test'")
    images, labels = [], []
    for name in names:
        path = Path(directory) / name
        raw = _read_bytes(path)
        expected = _CIFAR_RECORD_BYTES * _CIFAR_RECORDS_PER_FILE
        if len(raw) != expected:
            raise DataError(f"{path}: {len(raw)} bytes, expected {expected} (10,000 records)")
        records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _CIFAR_RECORD_BYTES)
        labels.append(_check_labels(path, records[:, 0]))
        images.append(records[:, 1:].reshape(-1, 3, 32, 32))
    return ImageSet(np.concatenate(images), np.concatenate(labels), "cifar10")


def class_balanced_subset(data: ImageSet, n: int, seed: int) -> ImageSet:
    """Draw ``n`` images, ``n / 10`` per class, without replacement, in a seeded random order."""
    if n % _NUM_CLASSES:
        raise DataError(f"n(={n}) must be a multiple of {_NUM_CLASSES} for a class-balanced subset")
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(np.flatnonzero(data.labels == c), n // _NUM_CLASSES, replace=False)
        for c in range(_NUM_CLASSES)
    ]
    order = rng.permutation(np.concatenate(picks))
    return ImageSet(data.images[order], data.labels[order], data.dataset)


_SHIPPED = {"test": "fashion_mnist_test.npz", "calibration": "fashion_mnist_calibration.npz"}


def load_shipped(which: str) -> ImageSet:
    """Load a Fashion-MNIST set shipped in the package: ``"test"`` (10,000) or ``"calibration"`` (3,000).

    The calibration set is a class-balanced subset of the training split (seed in
    ``chiptwin/network/datasets/README.md``); see :func:`class_balanced_subset`.
    """
    name = _SHIPPED.get(which)
    if name is None:
        raise DataError(f"shipped set(={which!r}) must be one of {sorted(_SHIPPED)}")
    ref = resources.files("chiptwin.network") / "datasets" / name
    try:
        with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as npz:
            images, labels = npz["images"], npz["labels"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{ref}: cannot load shipped dataset ({exc})") from None
    return ImageSet(_pad_to_32(images), _check_labels(Path(str(ref)), labels), "fashion-mnist")


def normalise(images: torch.Tensor, dataset: str) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 normalised with the dataset's per-channel mean and std."""
    mean, std = DATASET_STATS[dataset]
    m = torch.tensor(mean, device=images.device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=images.device).view(1, -1, 1, 1)
    return (images.float() / 255.0 - m) / s


def augment(images: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop after zero padding by ``pad`` pixels, and random horizontal flip (uint8 batch).

    The standard CIFAR augmentation (He et al. 2016, section 4.2), drawn from ``generator``.
    """
    n, _, h, w = images.shape
    padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    rows = offsets[:, 0, None] + torch.arange(h)  # (n, h)
    cols = offsets[:, 1, None] + torch.arange(w)  # (n, w)
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    batch = torch.arange(n)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


CALIBRATION_IMAGES = 3000
"""Images of a calibration set: a class-balanced subset of the training split (300 per class)."""

CALIBRATION_SEED = 2020
"""Seed of that subset (the shipped Fashion-MNIST set's, ``datasets/README.md``)."""

DATASETS = ("fashion-mnist", "cifar10")
"""The datasets whose test and calibration sets :func:`evaluation_sets` loads."""


def evaluation_sets(dataset: str, directory: Path | str | None = None) -> tuple[ImageSet, ImageSet]:
    """``(test set, calibration set)`` of ``dataset``: the one place a run's data comes from.

    Fashion-MNIST: the test split from ``directory`` (IDX files) or the shipped copy, and the shipped
    calibration set. CIFAR-10: ``directory`` is the ``cifar-10-batches-bin`` folder; the calibration set
    is drawn from its training batches like the shipped Fashion-MNIST one (3,000 images, 300 per class,
    seed 2020).

    Raises:
        DataError: an unknown dataset, CIFAR-10 without ``directory``, missing or corrupt files.
    """
    if dataset == "fashion-mnist":
        test = load_fashion_mnist("test", directory) if directory is not None else load_shipped("test")
        return test, load_shipped("calibration")
    if dataset == "cifar10":
        if directory is None:
            raise DataError("dataset 'cifar10' needs its folder (cifar-10-batches-bin): give data_dir")
        train = load_cifar10("train", directory)
        return load_cifar10("test", directory), class_balanced_subset(
            train, CALIBRATION_IMAGES, CALIBRATION_SEED
        )
    raise DataError(f"dataset(={dataset!r}) must be one of {', '.join(DATASETS)}")
