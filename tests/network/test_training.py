"""Hardware-aware training: the noise and clip primitives, reproducibility and exact resume."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from torch_threads import one_torch_thread

from chiptwin.errors import CheckpointError, DataError
from chiptwin.network import training
from chiptwin.network.data import ImageSet, load_shipped
from chiptwin.network.resnet import build_model, model_spec
from chiptwin.network.training import (
    TrainSpec,
    analog_layers,
    clip_weights,
    inject_weight_noise,
    quantise_ste,
    restore_weights,
    train,
)

# Sizes chosen so the whole file needs ~10 s of CPU: a few mini-batches of resnet20, the smallest zoo
# model, exercise every step of the training loop. The HWA epoch uses the real 32x32 images (two
# mini-batches, each with fresh noise and a clip); the resume test only checks that state is carried
# exactly, so it uses 16x16 centre crops (the networks are fully convolutional) at a quarter of the cost.
_HWA_IMAGES = 256
_RESUME_IMAGES = 256
_RESUME_CROP = slice(8, 24)
_TEST_IMAGES = 64
_HWA_SPEC = TrainSpec(model="resnet20", epochs=1, batch_size=128, hwa=True, seed=11, crop_pad=2)
_RESUME_SPEC = replace(_HWA_SPEC, epochs=2, batch_size=64, seed=5)


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def calibration() -> ImageSet:
    return load_shipped("calibration")


def _head(data: ImageSet, start: int, n: int, crop: slice = slice(None)) -> ImageSet:
    images = data.images[start : start + n, :, crop, crop]
    return ImageSet(images, data.labels[start : start + n], data.dataset)


def _tensors(checkpoint: Path) -> dict[str, torch.Tensor]:
    return load_file(str(checkpoint))


def _run(
    spec: TrainSpec, data: ImageSet, test: ImageSet, out: Path, log: list[str] | None = None
) -> training.TrainResult:
    messages = log if log is not None else []
    return train(spec, data, test, out, name="net", progress=False, log=messages.append)


# --- primitives ---------------------------------------------------------------------------------------


def test_analog_layers_are_every_conv_and_linear() -> None:
    model = build_model("resnet20")
    layers = analog_layers(model)
    # 19 convolutions on the main path + 2 projection shortcuts + the fully connected layer.
    assert len(layers) == 22
    assert isinstance(layers[0], nn.Conv2d)
    assert isinstance(layers[-1], nn.Linear)


def test_weight_noise_has_the_configured_std_and_restores_exactly() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(1000, 1000)
    clean_w = layer.weight.detach().clone()
    clean_b = layer.bias.detach().clone()
    eta = 0.038
    saved = inject_weight_noise([layer], eta, torch.Generator().manual_seed(1))
    assert torch.equal(saved[0], clean_w)
    delta = layer.weight.detach() - clean_w
    expected = eta * clean_w.abs().max()
    # 10^6 samples: the std estimate has a relative standard error of 1/sqrt(2 * 10^6) = 0.07 %.
    assert abs(float(delta.std() / expected) - 1.0) < 0.02
    assert abs(float(delta.mean() / expected)) < 0.01
    assert torch.equal(layer.bias, clean_b)  # biases live in the digital unit
    restore_weights([layer], saved)
    assert torch.equal(layer.weight, clean_w)
    # A fresh draw each call, the same draw for the same seed.
    first = inject_weight_noise([layer], eta, torch.Generator().manual_seed(1))
    noisy_again = layer.weight.detach().clone()
    restore_weights([layer], first)
    inject_weight_noise([layer], eta, torch.Generator().manual_seed(1))
    assert torch.equal(layer.weight, noisy_again)
    assert torch.equal(noisy_again, clean_w + delta)


def test_zero_eta_leaves_the_weights_alone() -> None:
    layer = nn.Linear(8, 4)
    before = layer.weight.detach().clone()
    inject_weight_noise([layer], 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(layer.weight, before)


@pytest.mark.parametrize("alpha", [1.0, 2.0, 2.5])
def test_clip_bounds_each_layer_by_alpha_times_its_std(alpha: float) -> None:
    torch.manual_seed(0)
    layers: list[nn.Conv2d | nn.Linear] = [nn.Linear(200, 100), nn.Conv2d(8, 16, 3)]
    for layer in layers:  # Gaussian weights: torch's default uniform init never reaches 2 std
        nn.init.normal_(layer.weight)
    before = [layer.weight.detach().clone() for layer in layers]
    clip_weights(layers, alpha)
    for layer, w in zip(layers, before, strict=True):
        bound = alpha * w.std()
        after = layer.weight.detach()
        assert after.abs().max() <= bound
        inside = w.abs() <= bound
        assert torch.equal(after[inside], w[inside])
        assert torch.equal(after[~inside], torch.sign(w[~inside]) * bound)
        if alpha < 2.5:
            assert (~inside).any()


def test_quantise_ste_has_255_levels_and_straight_through_gradients() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20_000, generator=g, requires_grad=True)
    q = quantise_ste(x, 8)
    scale = x.detach().abs().max() / 127
    levels = torch.unique(q.detach())
    assert len(levels) <= 255
    assert len(levels) > 200  # 20,000 Gaussian samples visit most of the grid
    assert torch.equal(q.detach().abs().max(), x.detach().abs().max())
    assert float((q - x).detach().abs().max()) <= float(scale) / 2 * (1 + 1e-5)
    upstream = torch.randn(20_000, generator=g)
    q.backward(upstream)
    assert x.grad is not None
    assert torch.equal(x.grad, upstream)


def test_quantise_ste_of_zeros_is_zero() -> None:
    assert torch.equal(quantise_ste(torch.zeros(5), 8), torch.zeros(5))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", 0),
        ("batch_size", 0),
        ("lr", 0.0),
        ("lr", -0.1),
        ("warmup_epochs", -1.0),
        ("eta", -0.01),
        ("alpha", 0.0),
        ("quantise_bits", 1),
        ("quantise_bits", 17),
        ("crop_pad", -1),
    ],
)
def test_train_spec_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"{field}\(={value!r}\)"):
        TrainSpec(**{field: value})  # type: ignore[arg-type]


def test_empty_training_set(tmp_path: Path, calibration: ImageSet) -> None:
    with pytest.raises(DataError, match="empty"):
        _run(_HWA_SPEC, _head(calibration, 0, 0), _head(calibration, 0, 8), tmp_path)


# --- one hardware-aware epoch -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hwa_runs(
    calibration: ImageSet, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[Path], dict[int, torch.Tensor]]:
    """Two identical one-epoch HWA runs; also records the clip bound of the last clip of each layer."""
    data = _head(calibration, 0, _HWA_IMAGES)
    test = _head(calibration, _HWA_IMAGES, _TEST_IMAGES)
    bounds: dict[int, torch.Tensor] = {}

    def recording_clip(layers: list[nn.Conv2d | nn.Linear], alpha: float) -> None:
        for i, layer in enumerate(layers):
            bounds[i] = alpha * layer.weight.detach().std()
        clip_weights(layers, alpha)

    checkpoints = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training, "clip_weights", recording_clip)
        with one_torch_thread():
            for run in ("a", "b"):
                bounds.clear()
                result = _run(_HWA_SPEC, data, test, tmp_path_factory.mktemp(f"hwa_{run}"))
                checkpoints.append(result.checkpoint)
    return checkpoints, dict(bounds)


def test_hwa_epoch_changes_every_analog_layer(hwa_runs: tuple[list[Path], dict[int, torch.Tensor]]) -> None:
    torch.manual_seed(_HWA_SPEC.seed)  # train() builds its initial model from this seed
    initial = build_model(model_spec("resnet20", in_channels=1))
    trained = _tensors(hwa_runs[0][0])
    layers = {name: m for name, m in initial.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    assert len(layers) == 22
    for name, layer in layers.items():
        assert not torch.equal(trained[f"{name}.weight"], layer.weight), name


def test_hwa_weights_respect_the_clip_bound(hwa_runs: tuple[list[Path], dict[int, torch.Tensor]]) -> None:
    checkpoints, bounds = hwa_runs
    trained = _tensors(checkpoints[1])
    model = build_model(model_spec("resnet20", in_channels=1))
    model.load_state_dict(trained)
    layers = analog_layers(model)
    assert sorted(bounds) == list(range(len(layers)))
    clipped_layers = 0
    for i, layer in enumerate(layers):
        w = layer.weight.detach()
        # The last update of the run was clipped to alpha * std(W) of the weights it was given.
        assert w.abs().max() <= bounds[i], i
        clipped_layers += bool(torch.isclose(w.abs().max(), bounds[i]))
        # Clipping shrinks the std, so against the std of the clipped weights the bound holds only
        # approximately: a Gaussian clipped once at 2 std has max|W| = 2.08 std; after a few clipped
        # steps the excess is small (measured 2.002-2.006 std for this run).
        assert w.abs().max() <= _HWA_SPEC.alpha * w.std() * 1.01, i
    # Kaiming-normal weights have ~4.6 % beyond 2 std, so the clip is active in most layers.
    assert clipped_layers >= len(layers) // 2


def test_hwa_run_is_bit_for_bit_reproducible(hwa_runs: tuple[list[Path], dict[int, torch.Tensor]]) -> None:
    first, second = (_tensors(path) for path in hwa_runs[0])
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


# --- resume -------------------------------------------------------------------------------------------


class _InterruptError(Exception):
    pass


@pytest.fixture(scope="module")
def resume_runs(calibration: ImageSet, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A 2-epoch run straight through, and the same run stopped after epoch 1 then resumed."""
    data = _head(calibration, 0, _RESUME_IMAGES, _RESUME_CROP)
    test = _head(calibration, _RESUME_IMAGES, _TEST_IMAGES, _RESUME_CROP)
    with one_torch_thread():
        straight = _run(_RESUME_SPEC, data, test, tmp_path_factory.mktemp("straight"))

        def stop_after_first_epoch(message: str) -> None:
            if "epoch 1/2:" in message:  # logged after the epoch-1 state is on disk
                raise _InterruptError(message)

        out = tmp_path_factory.mktemp("resumed")
        with pytest.raises(_InterruptError):
            train(_RESUME_SPEC, data, test, out, name="net", progress=False, log=stop_after_first_epoch)
        assert not (out / "net.safetensors").exists()
        log: list[str] = []
        resumed = _run(_RESUME_SPEC, data, test, out, log)
    return {"straight": straight, "resumed": resumed, "log": log, "data": data, "test": test, "dir": out}


def test_resume_equals_an_uninterrupted_run(resume_runs: dict[str, object]) -> None:
    straight, resumed = resume_runs["straight"], resume_runs["resumed"]
    assert isinstance(straight, training.TrainResult)
    assert isinstance(resumed, training.TrainResult)
    log = resume_runs["log"]
    assert isinstance(log, list)
    assert log[0] == "resuming net after epoch 1/2"
    assert len(log) == 2  # only epoch 2 ran the second time
    a, b = _tensors(straight.checkpoint), _tensors(resumed.checkpoint)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # Momentum buffers too, so a further resume would also continue exactly.
    state_a = load_file(str(straight.checkpoint.parent / "train_state.safetensors"))
    state_b = load_file(str(resumed.checkpoint.parent / "train_state.safetensors"))
    assert state_a.keys() == state_b.keys()
    assert any(key.startswith("momentum.") for key in state_a)
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
    drop = ("seconds",)
    assert [{k: v for k, v in row.items() if k not in drop} for row in straight.history] == [
        {k: v for k, v in row.items() if k not in drop} for row in resumed.history
    ]
    assert straight.test_accuracy == resumed.test_accuracy


def test_resume_with_another_spec_is_refused(resume_runs: dict[str, object], tmp_path: Path) -> None:
    source = resume_runs["dir"]
    assert isinstance(source, Path)
    out = tmp_path / "copy"
    shutil.copytree(source, out)
    data, test = resume_runs["data"], resume_runs["test"]
    assert isinstance(data, ImageSet)
    assert isinstance(test, ImageSet)
    state = out / "train_state.json"
    with pytest.raises(CheckpointError, match="different training spec") as info:
        _run(replace(_RESUME_SPEC, lr=0.05), data, test, out)
    assert str(state) in str(info.value)
