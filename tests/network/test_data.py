"""Datasets: shipped subsets, IDX / CIFAR-10 readers and their error paths, augmentation."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from chiptwin.errors import DataError
from chiptwin.network.data import (
    FASHION_MNIST_DIR,
    ImageSet,
    augment,
    class_balanced_subset,
    image_shape,
    load_cifar10,
    load_fashion_mnist,
    load_shipped,
    normalise,
)

_IDX_FILES = [
    FASHION_MNIST_DIR / f"{split}-{kind}-idx{nd}-ubyte.gz"
    for split in ("train", "t10k")
    for kind, nd in (("images", 3), ("labels", 1))
]
needs_idx = pytest.mark.skipif(
    not all(p.exists() for p in _IDX_FILES), reason=f"Fashion-MNIST IDX files not in {FASHION_MNIST_DIR}"
)

_CALIBRATION_SEED = 2020  # chiptwin/network/datasets/README.md
_CIFAR_RECORD = 1 + 3 * 32 * 32


# --- shipped sets -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped_test() -> ImageSet:
    return load_shipped("test")


@pytest.fixture(scope="module")
def shipped_calibration() -> ImageSet:
    return load_shipped("calibration")


def test_image_shape_is_that_of_the_loaded_images(shipped_test: ImageSet) -> None:
    assert image_shape("fashion-mnist") == shipped_test.images.shape[1:] == (1, 32, 32)
    assert image_shape("cifar10") == (3, 32, 32)
    with pytest.raises(DataError, match="dataset\\(='mnist'\\)"):
        image_shape("mnist")


@needs_idx
def test_shipped_sets_are_rebuilt_exactly_from_the_idx_files(
    shipped_test: ImageSet, shipped_calibration: ImageSet
) -> None:
    test = load_fashion_mnist("test")
    np.testing.assert_array_equal(shipped_test.images, test.images)
    np.testing.assert_array_equal(shipped_test.labels, test.labels)

    recipe = class_balanced_subset(load_fashion_mnist("train"), 3000, seed=_CALIBRATION_SEED)
    np.testing.assert_array_equal(shipped_calibration.images, recipe.images)
    np.testing.assert_array_equal(shipped_calibration.labels, recipe.labels)


def test_shipped_calibration_is_class_balanced(shipped_calibration: ImageSet) -> None:
    assert len(shipped_calibration) == 3000
    np.testing.assert_array_equal(np.bincount(shipped_calibration.labels, minlength=10), [300] * 10)


@pytest.mark.parametrize(("which", "n"), [("test", 10_000), ("calibration", 3000)])
def test_shipped_sets_are_uint8_padded_by_two(which: str, n: int, request: pytest.FixtureRequest) -> None:
    data: ImageSet = request.getfixturevalue(f"shipped_{which}")
    assert data.images.shape == (n, 1, 32, 32)
    assert data.images.dtype == np.uint8
    assert data.labels.shape == (n,)
    assert data.labels.dtype == np.int64
    assert data.dataset == "fashion-mnist"
    border = np.ones((32, 32), dtype=bool)
    border[2:30, 2:30] = False
    assert not data.images[:, :, border].any()
    # The padding hides nothing: the 28x28 interior carries the images.
    assert data.images[:, :, 2:30, 2:30].any(axis=(1, 2, 3)).all()


def test_shipped_calibration_is_disjoint_from_test(
    shipped_test: ImageSet, shipped_calibration: ImageSet
) -> None:
    test_rows = {row.tobytes() for row in shipped_test.images.reshape(len(shipped_test), -1)}
    calibration_rows = [row.tobytes() for row in shipped_calibration.images.reshape(3000, -1)]
    # The calibration images come from the training split; none of them repeats a test image exactly.
    assert not any(row in test_rows for row in calibration_rows)


def test_unknown_shipped_set() -> None:
    with pytest.raises(DataError, match="'train'"):
        load_shipped("train")


# --- IDX reader ---------------------------------------------------------------------------------------


def _idx(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + payload


def _write_fmnist(
    directory: Path,
    split: str = "test",
    n: int = 6,
    *,
    images: bytes | None = None,
    labels: bytes | None = None,
    compress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Write a tiny, valid Fashion-MNIST split (or one with the given raw file contents)."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    classes = rng.integers(0, 10, n, dtype=np.uint8)
    prefix = "t10k" if split == "test" else "train"
    files = {
        f"{prefix}-images-idx3-ubyte": images
        if images is not None
        else _idx(0x803, (n, 28, 28), pixels.tobytes()),
        f"{prefix}-labels-idx1-ubyte": labels if labels is not None else _idx(0x801, (n,), classes.tobytes()),
    }
    for stem, raw in files.items():
        if compress:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(raw, mtime=0))
        else:
            (directory / stem).write_bytes(raw)
    return pixels, classes


@pytest.mark.parametrize("compress", [True, False])
def test_idx_reader_pads_to_32(tmp_path: Path, compress: bool) -> None:
    pixels, classes = _write_fmnist(tmp_path, "train", compress=compress)
    data = load_fashion_mnist("train", tmp_path)
    assert data.images.shape == (6, 1, 32, 32)
    assert data.images.dtype == np.uint8
    np.testing.assert_array_equal(data.images[:, 0, 2:30, 2:30], pixels)
    assert data.images.sum(dtype=np.int64) == pixels.sum(dtype=np.int64)
    np.testing.assert_array_equal(data.labels, classes.astype(np.int64))


def test_missing_idx_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=str(tmp_path / "t10k-images-idx3-ubyte")):
        load_fashion_mnist("test", tmp_path)


def test_wrong_magic_number(tmp_path: Path) -> None:
    # An image file where the label file should be: magic 0x803 instead of 0x801.
    _write_fmnist(tmp_path, labels=_idx(0x803, (6, 28, 28), bytes(6 * 28 * 28)))
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(DataError, match="0x00000803") as info:
        load_fashion_mnist("test", tmp_path)
    assert str(path) in str(info.value)


def test_truncated_idx_file(tmp_path: Path) -> None:
    full = _idx(0x803, (6, 28, 28), bytes(6 * 28 * 28))
    _write_fmnist(tmp_path, images=full[:-100])
    with pytest.raises(DataError, match="expected 4720") as info:
        load_fashion_mnist("test", tmp_path)
    assert str(tmp_path / "t10k-images-idx3-ubyte.gz") in str(info.value)


def test_idx_file_shorter_than_its_header(tmp_path: Path) -> None:
    _write_fmnist(tmp_path, labels=b"\x00\x00\x08")
    with pytest.raises(DataError, match="header") as info:
        load_fashion_mnist("test", tmp_path)
    assert str(tmp_path / "t10k-labels-idx1-ubyte.gz") in str(info.value)


def test_label_out_of_range(tmp_path: Path) -> None:
    _write_fmnist(tmp_path, labels=_idx(0x801, (6,), bytes([0, 1, 2, 10, 4, 5])))
    with pytest.raises(DataError, match="label 10") as info:
        load_fashion_mnist("test", tmp_path)
    assert str(tmp_path / "t10k-labels-idx1-ubyte.gz") in str(info.value)


def test_image_and_label_counts_differ(tmp_path: Path) -> None:
    _write_fmnist(tmp_path, labels=_idx(0x801, (5,), bytes(5)))
    with pytest.raises(DataError, match="one per label") as info:
        load_fashion_mnist("test", tmp_path)
    assert str(tmp_path / "t10k-images-idx3-ubyte.gz") in str(info.value)


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda gz: b"not gzip at all", id="not-gzip"),
        pytest.param(lambda gz: gz[: len(gz) // 2], id="truncated"),
        pytest.param(lambda gz: gz[:12] + bytes(b ^ 0xFF for b in gz[12:40]) + gz[40:], id="bad-deflate"),
        pytest.param(lambda gz: gz[:-8] + bytes(8), id="bad-crc"),
    ],
)
def test_corrupt_gzip(tmp_path: Path, corrupt: Callable[[bytes], bytes]) -> None:
    _write_fmnist(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(DataError, match="corrupt gzip") as info:
        load_fashion_mnist("test", tmp_path)
    assert str(path) in str(info.value)


def test_unknown_split(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="'validation'"):
        load_fashion_mnist("validation", tmp_path)
    with pytest.raises(DataError, match="'validation'"):
        load_cifar10("validation", tmp_path)


# --- CIFAR-10 reader ----------------------------------------------------------------------------------


def _cifar_records(labels: np.ndarray, seed: int = 3) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (len(labels), 3, 32, 32), dtype=np.uint8)
    records = np.concatenate([labels.astype(np.uint8)[:, None], pixels.reshape(len(labels), -1)], axis=1)
    return records.tobytes(), pixels


def test_cifar10_test_batch_is_read_without_unpickling(tmp_path: Path) -> None:
    labels = np.arange(10_000) % 10
    raw, pixels = _cifar_records(labels)
    (tmp_path / "test_batch.bin").write_bytes(raw)
    data = load_cifar10("test", tmp_path)
    assert data.images.shape == (10_000, 3, 32, 32)
    assert data.images.dtype == np.uint8
    assert data.dataset == "cifar10"
    np.testing.assert_array_equal(data.images, pixels)
    np.testing.assert_array_equal(data.labels, labels)


def test_cifar10_wrong_size(tmp_path: Path) -> None:
    path = tmp_path / "test_batch.bin"
    path.write_bytes(bytes(_CIFAR_RECORD * 10))
    with pytest.raises(DataError, match="30730 bytes") as info:
        load_cifar10("test", tmp_path)
    assert str(path) in str(info.value)


def test_cifar10_label_out_of_range(tmp_path: Path) -> None:
    labels = np.zeros(10_000, dtype=np.int64)
    labels[1234] = 11
    raw, _ = _cifar_records(labels)
    path = tmp_path / "test_batch.bin"
    path.write_bytes(raw)
    with pytest.raises(DataError, match="label 11") as info:
        load_cifar10("test", tmp_path)
    assert str(path) in str(info.value)


def test_cifar10_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found") as info:
        load_cifar10("train", tmp_path)
    assert str(tmp_path / "data_batch_1.bin") in str(info.value)


# --- subsets, normalisation, augmentation -------------------------------------------------------------


def _toy_set(n_per_class: int = 8) -> ImageSet:
    labels = np.repeat(np.arange(10), n_per_class)
    images = np.arange(len(labels), dtype=np.uint8)[:, None, None, None] * np.ones((1, 1, 32, 32), np.uint8)
    return ImageSet(images, labels, "fashion-mnist")


def test_class_balanced_subset_is_balanced_seeded_and_without_replacement() -> None:
    data = _toy_set()
    a = class_balanced_subset(data, 50, seed=1)
    b = class_balanced_subset(data, 50, seed=1)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(np.bincount(a.labels, minlength=10), [5] * 10)
    ids = a.images[:, 0, 0, 0].astype(np.int64)
    assert len(set(ids.tolist())) == 50
    np.testing.assert_array_equal(data.labels[ids], a.labels)  # each image keeps its own label
    assert not np.array_equal(class_balanced_subset(data, 50, seed=2).images, a.images)


def test_class_balanced_subset_needs_a_multiple_of_ten() -> None:
    with pytest.raises(DataError, match=r"n\(=55\)"):
        class_balanced_subset(_toy_set(), 55, seed=0)


def test_normalise_uses_the_dataset_statistics() -> None:
    images = torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1)
    out = normalise(images, "fashion-mnist")
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.flatten(), torch.tensor([-0.2860 / 0.3530, (1 - 0.2860) / 0.3530]))


def _random_batch(n: int, c: int = 2, h: int = 8, w: int = 8, seed: int = 0) -> torch.Tensor:
    # Values 1..255, so a zero in the output can only come from the padding.
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 256, (n, c, h, w), generator=g, dtype=torch.uint8)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_augment_is_deterministic_per_generator_seed() -> None:
    images = _random_batch(16)
    a = augment(images, _gen(5), pad=2)
    b = augment(images, _gen(5), pad=2)
    assert torch.equal(a, b)
    assert a.shape == images.shape
    assert a.dtype == torch.uint8
    assert not torch.equal(a, augment(images, _gen(6), pad=2))


def test_augment_without_padding_only_flips() -> None:
    images = _random_batch(64)
    out = augment(images, _gen(1), pad=0)
    flipped = images.flip(-1)
    same = (out == images).flatten(1).all(1)
    mirrored = (out == flipped).flatten(1).all(1)
    assert (same | mirrored).all()
    # Both outcomes occur among 64 fair coin flips (probability of failure 2**-63).
    assert same.any()
    assert mirrored.any()


@pytest.mark.parametrize("pad", [1, 3])
def test_augment_output_is_a_shifted_maybe_flipped_crop_of_the_padded_input(pad: int) -> None:
    images = _random_batch(32, c=3, h=6, w=7)
    out = augment(images, _gen(2), pad=pad)
    padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
    h, w = images.shape[-2:]
    seen_offsets = set()
    for i in range(len(images)):
        matches = [
            (dy, dx, flip)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            for flip in (False, True)
            if torch.equal(
                out[i],
                padded[i, :, dy : dy + h, dx : dx + w].flip(-1)
                if flip
                else padded[i, :, dy : dy + h, dx : dx + w],
            )
        ]
        # Random pixels make the crop unique; all channels share one crop.
        assert len(matches) == 1, f"image {i}: {matches}"
        seen_offsets.add(matches[0][:2])
    # The offsets spread over the (2 pad + 1)^2 grid instead of sticking to one position.
    assert len(seen_offsets) > 1
