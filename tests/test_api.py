"""The public Python surface (``chiptwin``, :mod:`chiptwin.api`): the ML guide's example as written, a user
model end to end on ideal parts, and one-line errors for what a notebook user gets wrong."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import chiptwin as ct
from chiptwin.errors import CheckpointError, DataError, MappingError, SpecError, UsageError
from chiptwin.functional.chip import ConverterBits

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guides" / "ml.md"


def _guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def _guide_example(name: str) -> str:
    match = re.search(rf"<!-- {name} example[^>]*-->\n```python\n(.*?)```", _guide(), re.S)
    assert match is not None, f"docs/guides/ml.md lost its {name} example"
    return match.group(1)


def _readme_example() -> str:
    return _guide_example("from-python")


@pytest.mark.slow  # trains a small CNN and ages it: ~15 s
def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _readme_example()], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    digital = float(lines[0].removeprefix("digital accuracy "))
    aged = [float(line.rsplit(" ", 1)[1]) for line in lines[1:]]
    assert len(aged) == 3 and digital > 0.75  # a trained model, not chance (0.1)
    # HERMES' noise costs a little; GDC+AdaBS keep a day-old chip within 5 points of digital.
    assert all(digital - 0.05 < a <= digital + 0.02 for a in aged)
    # The guide quotes what the example prints: the same lines, each figure within 0.01 (10 of the 1,000
    # test images: float sums differ a little between CPUs and thread counts, a real drift is larger).
    quoted = re.search(r"<!-- output of the from-python example[^>]*-->\n```text\n(.*?)```", _guide(), re.S)
    assert quoted is not None, "docs/guides/ml.md lost the example's output"
    shown = quoted.group(1).splitlines()
    assert [line.rsplit(" ", 1)[0] for line in shown] == [line.rsplit(" ", 1)[0] for line in lines]
    for mine, theirs in zip(shown, lines, strict=True):
        assert abs(float(mine.rsplit(" ", 1)[1]) - float(theirs.rsplit(" ", 1)[1])) <= 0.01, (mine, theirs)


@pytest.mark.slow  # trains a small CNN hardware-aware for hermes_64 (2 epochs of 3,000 images): ~12 s
def test_the_hardware_aware_training_example_runs_as_written(tmp_path: Path) -> None:
    example = _guide_example("hwa")  # the block marked "hwa example", moved here from test_docs (~12 s)
    result = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    digital_line, chip_line = result.stdout.splitlines()
    digital = float(digital_line.removeprefix("digital accuracy "))
    assert digital > 0.6  # trained (chance: 0.1)
    # Trained against hermes_64's noise: programmed on it, a day old, GDC keeps it near its digital accuracy.
    assert chip_line.startswith("on hermes_64 after one day, GDC: ")
    assert float(chip_line.rsplit(" ", 1)[1]) > digital - 0.05


@pytest.mark.slow  # trains a small depthwise CNN for joshi2020 (2 epochs of 3,000 images) and ages it: ~8 s
def test_the_readme_training_example_runs_as_written(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- readme-hwa example[^>]*-->\n```python\n(.*?)```", readme, re.S)
    assert match is not None, "README.md lost its readme-hwa example"
    result = subprocess.run(
        [sys.executable, "-c", match.group(1)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    found = re.fullmatch(r"digital (\S+), on joshi2020 after a day (\S+)\n", result.stdout)
    assert found is not None, result.stdout
    digital, chip = float(found.group(1)), float(found.group(2))
    assert digital > 0.6  # trained (chance: 0.1)
    assert chip > digital - 0.05  # trained against the chip: a day old, GDC+AdaBS keep it near digital


def _tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 32 * 32, 10)
    ).eval()


def test_ideal_parts_reproduce_the_digital_model() -> None:
    images, labels = ct.load_images("fashion-mnist", "test", n=64)
    model = _tiny_model()
    chip = ct.load_chip("joshi2020")  # converters ideal in the MVM, no periphery noise
    ideal = ct.program(
        model, chip, images, ideal_devices=True, bits=ConverterBits(dac_bits=None, adc_bits=None)
    )
    with torch.no_grad():
        assert torch.allclose(ideal(images), model(images), atol=1e-4)
    assert ct.accuracy(ideal, (images, labels)) == ct.accuracy(model, (images, labels))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=16)
    assert ct.accuracy(model, loader) == ct.accuracy(model, (images, labels))  # batches or tensors


def test_a_programmed_chip_ages_and_is_compensated() -> None:
    images, _ = ct.load_images("fashion-mnist", "test", n=64)
    programmed = ct.program(_tiny_model(), ct.load_chip("hermes_64"), images, seed=3)
    with torch.no_grad():
        fresh = programmed(images)
        programmed.set_age(86_400.0)
        aged = programmed(images)
    assert programmed.age_s == 86_400.0
    assert aged.abs().mean() < fresh.abs().mean()  # drift lowers every conductance: smaller outputs
    assert ct.compensate(programmed, "gdc") == 0  # no dead tile: every block gets its GDC factor
    with torch.no_grad():
        compensated = programmed(images)
    assert (compensated.abs().mean() - fresh.abs().mean()).abs() < (
        aged.abs().mean() - fresh.abs().mean()
    ).abs()


def test_what_a_notebook_user_gets_wrong() -> None:
    images, labels = ct.load_images("fashion-mnist", "test", n=8)
    programmed = ct.program(_tiny_model(), ct.load_chip("hermes_64"), images)
    with pytest.raises(UsageError, match="give calibration images"):
        ct.compensate(programmed, "gdc+adabs")
    with pytest.raises(DataError, match="tensors of one length"):
        ct.accuracy(programmed, (images, labels[:3]))
    with pytest.raises(DataError, match="must be 'fashion-mnist' or 'cifar10'"):
        ct.load_images("mnist", "test")

    class Branchy(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x if x.sum() > 0 else -x  # data-dependent control flow: torch.fx cannot trace it

    with pytest.raises(MappingError):
        ct.program(Branchy(), ct.load_chip("hermes_64"), images)


def test_the_public_names_import_lazily() -> None:
    probe = (
        "import sys, chiptwin, chiptwin.timing; print('torch' in sys.modules, sorted(chiptwin.__all__)[:2])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout
    assert out.startswith("False")
    assert all(callable(getattr(ct, name)) or name == "POLICY_NAMES" for name in ct.__all__)


def test_a_scenario_runs_on_a_model_of_your_own(tmp_path: Path) -> None:
    spec = ct.ScenarioSpec(
        name="mine",
        arch="hermes_64",
        checkpoints=("my_cnn",),
        policies=(ct.PolicySpec(name="gdc", compensation="gdc", every="probe"),),
        probes_s=(1.0, 3600.0),
        n_images=20,
        n_adabs=20,
        n_range_calibration=20,
        batch_size=20,
    )
    model = _tiny_model()
    run = ct.run_scenario(spec, tmp_path / "t", progress=False, models={"my_cnn": model})
    assert run.cells_run == 1
    probes = ct.read_table(tmp_path / "t", "probes").to_pylist()
    assert [p["checkpoint"] for p in probes] == ["my_cnn", "my_cnn"] and [p["age_s"] for p in probes] == [
        1.0,
        3600.0,
    ]
    manifest = ct.read_manifest(tmp_path / "t")
    mine = manifest["scenario"]["user_models"]["my_cnn"]
    assert (
        mine["model"]["class"] == "torch.nn.modules.container.Sequential"
        and len(mine["weights_sha256"]) == 64
    )
    assert "checkpoint:my_cnn" not in manifest["hashes"]  # no file: the card holds the weights' hash
    # The same run again resumes (nothing to do); other weights are another run, refused by name.
    assert (
        ct.run_scenario(spec, tmp_path / "t", resume=True, progress=False, models={"my_cnn": model}).cells_run
        == 0
    )
    with torch.no_grad():
        model[0].weight.mul_(2.0)
    with pytest.raises(DataError, match=r"scenario\.user_models\.my_cnn\.weights_sha256"):
        ct.run_scenario(spec, tmp_path / "t", resume=True, progress=False, models={"my_cnn": model})
    with pytest.raises(SpecError, match=r"models \['other'\] are not checkpoints of the scenario"):
        ct.run_scenario(spec, tmp_path / "u", progress=False, models={"my_cnn": model, "other": model})
    with pytest.raises(CheckpointError, match="my_cnn"):  # without the object, the name is a missing file
        ct.run_scenario(spec, tmp_path / "v", progress=False)
