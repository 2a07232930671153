"""A CIFAR-10 checkpoint through ``evaluate`` and a scenario (issue 16): test and calibration images come
from the checkpoint's own dataset (:func:`chiptwin.network.data.evaluation_sets`).

The batches here are CIFAR-10's binary format filled with seeded random pixels: the test checks the path
(shapes, which files are read, the one-line errors), never an accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from chiptwin.cli import main
from chiptwin.errors import DataError, SpecError
from chiptwin.network.checkpoint import save_checkpoint
from chiptwin.network.data import CALIBRATION_IMAGES, evaluation_sets
from chiptwin.network.resnet import build_model, model_spec
from chiptwin.scenario.prepare import prepare
from chiptwin.scenario.spec import PolicySpec, ScenarioSpec


@pytest.fixture(scope="module")
def cifar(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A cifar-10-batches-bin folder of random pixels and a ResNet-32 checkpoint whose card says cifar10."""
    root = tmp_path_factory.mktemp("cifar")
    folder = root / "cifar-10-batches-bin"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [*(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin"]:
        labels = (np.arange(10_000) % 10).astype(np.uint8)
        pixels = rng.integers(0, 256, (10_000, 3 * 32 * 32), dtype=np.uint8)
        (folder / name).write_bytes(np.concatenate([labels[:, None], pixels], axis=1).tobytes())
    spec = model_spec("resnet32_pcm", in_channels=3)
    torch.manual_seed(0)
    path = save_checkpoint(build_model(spec), spec, {"dataset": "cifar10"}, root / "ck" / "resnet32_cifar")
    return folder, path


@pytest.mark.slow  # writes and reads 60,000 CIFAR records
def test_cifar_sets_evaluate_and_scenario(
    cifar: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, checkpoint = cifar
    test, calibration = evaluation_sets("cifar10", folder)
    assert test.images.shape == (10_000, 3, 32, 32) and calibration.images.shape == (
        CALIBRATION_IMAGES,
        3,
        32,
        32,
    )
    assert np.bincount(calibration.labels, minlength=10).tolist() == [300] * 10  # class-balanced
    with pytest.raises(DataError, match="needs its folder"):
        evaluation_sets("cifar10")

    argv = ["evaluate", "--checkpoint", str(checkpoint), "--arch", "hermes_64", "--n-images", "20"]
    # one batch of the 256 range-calibration images (in batches of 20 they took most of this test)
    argv += ["--seeds", "1", "--ages", "1h", "--policies", "none", "--n-adabs", "20", "--batch-size", "256"]
    assert main([*argv, "--data-dir", str(folder)]) == 0
    assert "20 test images" in capsys.readouterr().out
    assert main(argv) == 2  # the checkpoint says cifar10: its folder is needed
    assert "trained on 'cifar10'; give --data-dir" in capsys.readouterr().err

    scenario = ScenarioSpec(
        name="c", checkpoints=(str(checkpoint),), dataset="cifar10", data_dir=str(folder),
        policies=(PolicySpec(name="none"),), probes_s=(60.0,), n_images=20, n_adabs=20,
        n_range_calibration=20, batch_size=20,
    )  # fmt: skip
    prepared = prepare(scenario)
    assert tuple(prepared.images.shape) == (20, 3, 32, 32)
    assert tuple(prepared.calibration.shape) == (CALIBRATION_IMAGES, 3, 32, 32)
    with pytest.raises(
        SpecError, match="was trained on 'cifar10'; the scenario's dataset is 'fashion-mnist'"
    ):
        prepare(ScenarioSpec(name="f", checkpoints=(str(checkpoint),), n_images=20))
    with pytest.raises(SpecError, match="needs data_dir"):
        ScenarioSpec(name="c", checkpoints=(str(checkpoint),), dataset="cifar10")
