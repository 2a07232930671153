"""Hardware-aware training against a chip (chiptwin.functional.hwa, chiptwin.train, chiptwin train).

The injected noise is checked by hand on tiny layers: the weight perturbation's moments against the
PCM programming-noise law at the mapped scale, clipping, the converters' levels; then gradients through
every injected step, the plain model left after training, determinism per seed, a small model trained in
seconds on real images, and bad input.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import chiptwin as ct
from chiptwin.cli import main
from chiptwin.device.pcm import PROG_NOISE_REFERENCE_G_MAX_USIEMENS
from chiptwin.errors import CheckpointError, DataError, MappingError, UsageError
from chiptwin.functional.hwa import NoiseRecipe, hardware_aware
from chiptwin.network.data import load_shipped
from chiptwin.network.model_file import load_model_file
from chiptwin.spec.chip import ChipSpec


def _no_read_noise(chip: ChipSpec) -> ChipSpec:
    return dataclasses.replace(chip, device=dataclasses.replace(chip.device, read_noise_qs_max=0.0))


def _perturbation(
    layer: nn.Linear, handle_chip: ChipSpec, recipe: NoiseRecipe, seed: int = 0
) -> torch.Tensor:
    """W_eff - W of a bias-free Linear in training mode, read through identity inputs: (in, out)."""
    reference = layer.weight.detach().clone()
    with hardware_aware(layer, handle_chip, (layer.in_features,), recipe=recipe, seed=seed):
        layer.train()
        with torch.no_grad():
            y = layer(torch.eye(layer.in_features))
    return y - reference.T


def test_chip_noise_is_the_pcm_programming_noise_at_the_mapped_scale() -> None:
    """A weight at half of max|W| sits on G+ = g_max / 2 (block scale beta = g_max / max|W|) and G- = 0.

    Hand computation (Joshi 2020's programming-noise law, no read noise, at t0, one device per
    polarity): G+ = 12.5 uS + sigma(0.5) N, G- = max(sigma(0) N', 0), so the weight error is
    (sigma(0.5) N - max(sigma(0) N', 0)) / beta with variance sigma(0.5)^2 + sigma(0)^2 (1/2 - 1/(2 pi))
    and mean -sigma(0) / sqrt(2 pi), over beta = 25 uS per unit weight.
    """
    chip = _no_read_noise(ct.load_chip("joshi2020"))  # two devices per weight, ideal converters
    spec = chip.device
    assert chip.tiles.devices_per_weight == 2 and spec.g_max_usiemens == PROG_NOISE_REFERENCE_G_MAX_USIEMENS
    layer = nn.Linear(128, 128, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.5)
        layer.weight[0, 0] = 1.0  # max|W| = 1: beta = 25 uS per unit weight
    p = _perturbation(layer, chip, NoiseRecipe(alpha=None))
    p = p.flatten()[1:]  # every weight at 0.5
    s_half = (
        spec.prog_noise_c0_usiemens + 0.5 * spec.prog_noise_c1_usiemens + 0.25 * spec.prog_noise_c2_usiemens
    )
    s_zero = spec.prog_noise_c0_usiemens
    std = math.sqrt(s_half**2 + s_zero**2 * (0.5 - 1 / (2 * math.pi))) / 25.0
    mean = -s_zero / math.sqrt(2 * math.pi) / 25.0
    assert std == pytest.approx(0.0386, abs=1e-4)  # the hand figure, sigma(0.5) = 0.9527 uS
    assert float(p.std()) == pytest.approx(std, rel=0.03)  # 16,383 draws: 1.1 % standard error
    assert float(p.mean()) == pytest.approx(mean, abs=4 * std / math.sqrt(p.numel()))


def test_four_devices_per_weight_halve_the_variance() -> None:
    """hermes_64 reads two devices per polarity as their mean: the programming-noise std is /sqrt(2)."""
    base = _no_read_noise(ct.load_chip("joshi2020"))
    four = dataclasses.replace(base, tiles=dataclasses.replace(base.tiles, devices_per_weight=4))
    layer = nn.Linear(128, 128, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.5)
        layer.weight[0, 0] = 1.0
    two_std = float(_perturbation(layer, base, NoiseRecipe(alpha=None)).flatten()[1:].std())
    four_std = float(_perturbation(layer, four, NoiseRecipe(alpha=None)).flatten()[1:].std())
    assert four_std / two_std == pytest.approx(1 / math.sqrt(2), rel=0.04)


def test_the_block_scale_follows_the_crossbar_split() -> None:
    """On a 256-row crossbar a 512-input layer is two row blocks, each scaled by its own max|W|: a
    block of small weights gets a large beta and so a small error in weight units."""
    chip = _no_read_noise(ct.load_chip("hermes_64"))
    assert chip.tiles.weight_rows == 256 and chip.device.weight_scale == "block"
    layer = nn.Linear(512, 16, bias=False)
    with torch.no_grad():
        layer.weight[:, :256] = 1.0  # rows 0..255: max|W| = 1
        layer.weight[:, 256:] = 0.01  # rows 256..511: max|W| = 0.01, 100x the scale
    p = _perturbation(layer, chip, NoiseRecipe(alpha=None, converters=False, output_noise=False))
    top, bottom = float(p[:256].std()), float(p[256:].std())
    # Both blocks sit at g_max (every weight is its block's max): the same error in uS, 100x apart in W.
    assert top / bottom == pytest.approx(100.0, rel=0.1)


def test_noise_at_a_later_age_is_compensated_drift_variability() -> None:
    """At one day the devices have drifted ~(86400 / 20)^-0.05 ~ 35 % down; GDC scales each block back,
    so the weights keep their mean and what remains is the spread of the drift exponents: a larger
    error than at t0."""
    chip = ct.load_chip("joshi2020")
    layer = nn.Linear(128, 128, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.5)
        layer.weight[0, 0] = 1.0
    at_t0 = _perturbation(layer, chip, NoiseRecipe(alpha=None)).flatten()[1:]
    at_day = _perturbation(layer, chip, NoiseRecipe(alpha=None, age_s=86_400.0)).flatten()[1:]
    assert abs(float(at_day.mean())) < 0.02 * 0.5  # GDC: the block's mean is kept within 2 %
    assert float(at_day.std()) > 1.2 * float(at_t0.std())
    with pytest.raises(UsageError, match="age_s"):
        NoiseRecipe(age_s=-1.0)


def test_output_noise_is_the_chips_and_grows_with_the_gdc_factor() -> None:
    """Every weight at max|W| = 1 (beta = g_max) and a one-hot input at full scale: each output is one
    weight plus the periphery's noise, 0.04 in normalised units = 0.04 in weight units at t0. At a later
    age the devices have drifted down and GDC multiplies the output back, noise included."""
    chip = ct.load_chip("hermes_64")
    chip = dataclasses.replace(
        chip, dac=dataclasses.replace(chip.dac, ideal=True), adc=dataclasses.replace(chip.adc, ideal=True)
    )
    assert chip.adc.output_noise == 0.04
    layer = nn.Linear(16, 64, bias=False)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    x = torch.zeros(4096, 16)
    x[:, 0] = 1.0
    spread = {}
    for age in (None, 3.15e7):
        with hardware_aware(layer, chip, (16,), recipe=NoiseRecipe(alpha=None, age_s=age)):
            layer.train()
            with torch.no_grad():
                y = layer(x)
        spread[age] = float(y.std(0).mean())  # over the batch: the same weights, fresh noise per output
    assert spread[None] == pytest.approx(0.04, rel=0.02)
    assert spread[3.15e7] > 1.3 * spread[None]  # a year of drift: a GDC factor well above 1


def test_paper_recipe_is_eta_times_max_w() -> None:
    layer = nn.Linear(64, 64, bias=False)
    torch.manual_seed(1)
    with torch.no_grad():
        layer.weight.uniform_(-2.0, 2.0)
        layer.weight[0, 0] = 3.0
    chip = ct.load_chip("hermes_64")  # the paper's recipe ignores the chip's devices and converters
    p = _perturbation(layer, chip, NoiseRecipe.paper(alpha=None))
    assert float(p.std()) == pytest.approx(0.038 * 3.0, rel=0.03)
    assert abs(float(p.mean())) < 4 * 0.038 * 3.0 / 64


def test_weights_are_clipped_to_alpha_std_and_stay_clipped() -> None:
    layer = nn.Linear(64, 32)
    torch.manual_seed(2)
    with torch.no_grad():
        layer.weight.normal_()
        layer.weight[0, 0] = 50.0  # an outlier far beyond 2 std
    before_std = float(layer.weight.detach().std())
    handle = hardware_aware(layer, ct.load_chip("joshi2020"), (64,), recipe=NoiseRecipe(alpha=2.0))
    layer.train()
    layer(torch.randn(4, 64))
    bound = 2.0 * before_std
    assert float(layer.weight.detach().max()) == pytest.approx(bound, rel=1e-6)  # clipped in place
    with torch.no_grad():
        layer.weight[1, 1] = 60.0  # an optimizer step past the bound ...
    bound = 2.0 * float(layer.weight.detach().std())
    handle.remove()  # ... is clipped when training ends
    assert float(layer.weight.detach().abs().max()) == pytest.approx(bound, rel=1e-6)


def _ideal_devices(chip: ChipSpec, dac_bits: int | None, adc_bits: int | None) -> ChipSpec:
    return dataclasses.replace(
        chip,
        dac=dataclasses.replace(chip.dac, bits=dac_bits or 8, ideal=dac_bits is None),
        adc=dataclasses.replace(chip.adc, bits=adc_bits or 8, ideal=adc_bits is None, output_noise=0.0),
    )


def test_the_dac_quantises_inputs_to_its_levels_over_the_batch_range() -> None:
    chip = _ideal_devices(ct.load_chip("hermes_64"), dac_bits=4, adc_bits=None)
    layer = nn.Linear(8, 8, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(8))
    x = torch.randn(32, 8, generator=torch.Generator().manual_seed(3))
    with hardware_aware(layer, chip, (8,), recipe=NoiseRecipe(alpha=None, noise_scale=0.0)):
        layer.train()
        with torch.no_grad():
            y = layer(x)
    step = float(x.abs().max()) / 7  # 4 bits: 7 levels per sign over the batch's max|x|
    codes = y / step
    assert torch.allclose(codes, codes.round(), atol=1e-4)
    assert float((y - x).abs().max()) <= step / 2 + 1e-6
    assert len(torch.unique(codes.round())) <= 15


def test_the_adc_digitises_each_block_over_its_range() -> None:
    chip = _ideal_devices(ct.load_chip("hermes_64"), dac_bits=None, adc_bits=4)
    layer = nn.Linear(16, 8, bias=False)
    torch.manual_seed(4)
    with torch.no_grad():
        layer.weight.normal_()
    x = torch.randn(64, 16, generator=torch.Generator().manual_seed(5))
    with hardware_aware(layer, chip, (16,), recipe=NoiseRecipe(alpha=None, noise_scale=0.0)):
        layer.train()
        with torch.no_grad():
            y = layer(x)
    exact = x @ layer.weight.detach().T
    step = float(exact.abs().max()) / 7  # one block: its range is the largest |output| of the batch
    assert torch.allclose(y / step, (y / step).round(), atol=1e-3)
    assert float((y - exact).abs().max()) <= step / 2 + 1e-5


def test_gradients_pass_every_injected_step() -> None:
    """Devices, DAC, output noise and ADC on: every weight and the input get the straight-through
    gradient, which for sum(y) of a Linear is sum over the batch of the (quantised) input for W and
    the column sums of the perturbed weights for x."""
    chip = ct.load_chip("hermes_64")
    layer = nn.Linear(16, 8)
    x = torch.randn(32, 16, generator=torch.Generator().manual_seed(6), requires_grad=True)
    with hardware_aware(layer, chip, (16,)):
        layer.train()
        layer(x).sum().backward()
    assert layer.weight.grad is not None and x.grad is not None and layer.bias.grad is not None
    for grad in (layer.weight.grad, x.grad, layer.bias.grad):
        assert bool(torch.isfinite(grad).all()) and float(grad.abs().min()) > 0
    assert torch.allclose(layer.bias.grad, torch.full((8,), 32.0))
    # dL/dx = ones @ W_eff: close to the clean column sums (the device error is a few % of max|W|).
    assert torch.allclose(x.grad[0], layer.weight.detach().sum(0), atol=0.3)
    assert torch.allclose(x.grad[0], x.grad[1])


def test_a_conv_net_keeps_no_wrapper_and_its_state_dict_loads_anywhere() -> None:
    torch.manual_seed(7)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3)
    )
    keys = list(model.state_dict())
    x = torch.randn(8, 1, 4, 4)
    with hardware_aware(model, ct.load_chip("hermes_64"), (1, 4, 4)):
        model.train()
        noisy = model(x)
        model.eval()
        with torch.no_grad():
            digital_attached = model(x)  # eval mode computes digitally while attached
    assert all("forward" not in vars(m) for m in model.modules())
    assert list(model.state_dict()) == keys
    twin = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3)
    )
    twin.load_state_dict(model.state_dict())
    twin.eval()
    model.eval()
    with torch.no_grad():
        assert torch.equal(twin(x), model(x))
        assert torch.equal(digital_attached, model(x))  # clipping happened before; no later change
    assert noisy.shape == (8, 3)


def _bn_net() -> nn.Sequential:
    torch.manual_seed(11)
    return nn.Sequential(nn.Linear(16, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def test_batch_norm_statistics_come_from_another_read_of_the_same_devices() -> None:
    """Two reads per training call: the first measures the batch-norm statistics (and updates the running
    ones once), the second computes the output with them fixed. Without read noise both reads of the
    programmed devices are equal, so the output is plain batch-norm training's; with read noise the
    second read differs, and the output is the second read normalised by the first read's statistics."""
    x = torch.randn(64, 16, generator=torch.Generator().manual_seed(3))
    quiet = _no_read_noise(ct.load_chip("joshi2020"))
    outputs = {}
    for mode in ("other_read", "batch"):
        model = _bn_net()
        with hardware_aware(model, quiet, (16,), recipe=NoiseRecipe(alpha=None, bn_statistics=mode)) as h:
            model.train()
            calls: list[torch.Tensor] = []
            model[0].register_forward_hook(lambda m, i, o, seen=calls: seen.append(o.detach().clone()))
            outputs[mode] = model(x)
            assert len(calls) == (2 if mode == "other_read" else 1)
            assert int(model[1].num_batches_tracked) == 1  # running statistics updated once per call
            assert h.describe()["bn_statistics"] == mode
        if mode == "other_read":
            assert torch.equal(calls[0], calls[1])  # the same programmed devices, no read noise
    # The same draws: the other-read output is batch-norm training's (statistics of an equal read).
    assert torch.allclose(outputs["other_read"], outputs["batch"], atol=1e-5)

    noisy = ct.load_chip("joshi2020")  # 1/f read noise: each read of the devices differs
    model = _bn_net()
    with hardware_aware(model, noisy, (16,), recipe=NoiseRecipe(alpha=None)):
        model.train()
        calls, normalised = [], []
        model[0].register_forward_hook(lambda m, i, o: calls.append(o.detach().clone()))
        model[1].register_forward_hook(lambda m, i, o: normalised.append(o.detach().clone()))
        model(x)
    first, second = calls
    assert not torch.equal(first, second)
    # By hand: the second read's output normalised with the first read's batch statistics.
    bn = model[1]
    mean, var = first.mean(0), first.var(0, unbiased=False)
    expected = (second - mean) / torch.sqrt(var + bn.eps) * bn.weight + bn.bias
    assert torch.allclose(normalised[1], expected, atol=1e-5)
    own = (second - second.mean(0)) / torch.sqrt(second.var(0, unbiased=False) + bn.eps)
    assert not torch.allclose(normalised[1], own * bn.weight + bn.bias, atol=1e-3)  # not its own statistics
    # The second read reused the first's programming: the two differ by read noise only (a few % of
    # each output), never by a new programming (whose error is ~5 % of max|W| per weight).
    assert float((second - first).abs().max()) < 0.5 * float(first.abs().max())


def test_two_reads_pass_gradients_and_leave_no_wrapper() -> None:
    model = _bn_net()
    x = torch.randn(32, 16, generator=torch.Generator().manual_seed(4))
    with hardware_aware(model, ct.load_chip("hermes_64"), (16,)):
        model.train()
        model(x).sum().backward()
        model.eval()
        with torch.no_grad():
            model(x)  # eval mode: one digital pass, no statistics kept
    for p in model.parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all())
    assert all("forward" not in vars(m) for m in model.modules())
    assert "forward" not in vars(model)


def test_attaching_twice_is_refused() -> None:
    layer = nn.Linear(4, 4)
    chip = ct.load_chip("hermes_64")
    with hardware_aware(layer, chip, (4,)), pytest.raises(UsageError, match="already attached"):
        hardware_aware(layer, chip, (4,))


def test_a_model_the_graph_cannot_place_is_named() -> None:
    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.mha(x, x, x)[0]

    with pytest.raises(MappingError, match="mha"):
        hardware_aware(Attention(), ct.load_chip("hermes_64"), (4, 8))


def test_recipe_values_are_checked() -> None:
    with pytest.raises(UsageError, match="noise_scale"):
        NoiseRecipe(noise_scale=float("nan"))
    with pytest.raises(UsageError, match="source"):
        NoiseRecipe(source="aihwkit")
    with pytest.raises(UsageError, match="alpha"):
        NoiseRecipe(alpha=0.0)
    with pytest.raises(UsageError, match="bn_statistics"):
        NoiseRecipe(bn_statistics="running")
    with pytest.raises(UsageError, match="needs source 'chip'"):
        NoiseRecipe(source="paper", bn_statistics="other_read")
    assert NoiseRecipe().bn_mode == "other_read" and NoiseRecipe.paper().bn_mode == "batch"


def _small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(256, 10),
    )


@pytest.fixture(scope="module")
def images() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = ct.load_images("fashion-mnist", "calibration")  # 3,000 training images, shipped
    return x[:1000], y[:1000]


def test_train_is_deterministic_per_seed(images: tuple[torch.Tensor, torch.Tensor], tmp_path: Path) -> None:
    x, y = images[0][:128], images[1][:128]
    chip = ct.load_chip("hermes_64")
    runs = []
    for seed in (0, 0, 1):
        model = _small_cnn()
        ct.train(model, (x, y), chip=chip, epochs=1, batch_size=64, seed=seed, progress=False)
        runs.append(model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_a_small_cnn_trains_for_a_chip_in_seconds(
    images: tuple[torch.Tensor, torch.Tensor], tmp_path: Path
) -> None:
    x, y = images
    test = ct.load_images("fashion-mnist", "test", n=500)
    chip = ct.load_chip("hermes_64")
    options = {"chip": chip, "test": test, "epochs": 2, "lr": 3e-3, "batch_size": 32, "out": tmp_path}
    model = _small_cnn()
    result = ct.train(model, (x, y), name="small", **options)
    assert result.history[1]["train_loss"] < result.history[0]["train_loss"]
    assert result.test_accuracy is not None and result.test_accuracy > 0.5  # 10 classes: chance is 0.1
    card = (tmp_path / "small.json").read_text()
    assert '"chip": "hermes_64"' in card and '"output_noise": 0.04' in card
    # Training again into the finished run's folder resumes it: nothing more to train, the same weights.
    again = _small_cnn()
    ct.train(again, (x, y), name="small", **options)
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True)
    )


def test_train_takes_a_chip_name_and_refuses_anything_else(images: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = images[0][:32], images[1][:32]
    result = ct.train(_small_cnn(), (x, y), chip="joshi2020", batch_size=32, progress=False)
    assert len(result.history) == 1
    with pytest.raises(UsageError, match="must be a ChipSpec"):
        ct.train(_small_cnn(), (x, y), chip=64, progress=False)


def test_batches_of_a_loader_train_and_a_generator_is_refused(
    images: tuple[torch.Tensor, torch.Tensor],
) -> None:
    x, y = images[0][:64], images[1][:64]
    loader = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]  # re-iterable, with a length
    result = ct.train(_small_cnn(), loader, chip="hermes_64", epochs=2, progress=False)
    assert [row["epoch"] for row in result.history] == [1, 2]
    with pytest.raises(DataError, match="not a generator"):
        ct.train(_small_cnn(), iter(loader), chip="hermes_64", progress=False)


def test_a_non_finite_loss_is_one_error(images: tuple[torch.Tensor, torch.Tensor]) -> None:
    x = images[0][:64].clone()
    x[3, 0, 5, 5] = float("nan")
    with pytest.raises(DataError, match="loss is nan at epoch 1, step 1"):
        ct.train(_small_cnn(), (x, images[1][:64]), chip=ct.load_chip("joshi2020"), progress=False)


def _idx(magic: int, dims: tuple[int, ...], data: bytes) -> bytes:
    return gzip.compress(magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims) + data)


def _fmnist_folder(tmp: Path) -> Path:
    """A Fashion-MNIST folder of real images: 512 training and 200 test images of the shipped sets."""
    folder = tmp / "fmnist"
    folder.mkdir()
    for split, data, n in (("train", load_shipped("calibration"), 512), ("t10k", load_shipped("test"), 200)):
        pixels = data.images[:n, 0, 2:30, 2:30].tobytes()  # the 28x28 images inside the 32x32 padding
        (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(_idx(0x803, (n, 28, 28), pixels))
        (folder / f"{split}-labels-idx1-ubyte.gz").write_bytes(
            _idx(0x801, (n,), data.labels[:n].astype("uint8").tobytes())
        )
    return folder


_MODEL_FILE = """
import torch
from torch import nn

def build_model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 10),
    )
"""


@pytest.mark.slow  # ~10 s: 512 images of training, a chip evaluation
def test_cli_trains_a_model_file_for_a_chip_and_evaluate_takes_its_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_file = tmp_path / "small.py"
    model_file.write_text(_MODEL_FILE)
    data = _fmnist_folder(tmp_path)
    out = tmp_path / "out"
    args = ["train", "--model", str(model_file), "--hwa", "--arch", "hermes_64", "--epochs", "1"]
    args += ["--optimizer", "adamw", "--lr", "3e-3", "--batch-size", "64", "--warmup-epochs", "0"]
    args += ["--data-dir", str(data), "--out", str(out), "--name", "small_hermes", "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    weights = out / "small_hermes.safetensors"
    assert f"use it as {model_file}@{weights}" in printed
    card = (out / "small_hermes.json").read_text()
    assert '"chip": "hermes_64"' in card and '"model_file"' in card and '"source": "chip"' in card
    ref = f"{model_file}@{weights}"
    evaluate = ["evaluate", "--checkpoint", ref, "--arch", "hermes_64", "--ages", "1h", "--seeds", "1"]
    assert main([*evaluate, "--n-images", "100", "--policies", "gdc"]) == 0
    assert "small.py@" in capsys.readouterr().out
    assert main(["map", "--model", ref, "--arch", "hermes_64", "--out", str(tmp_path / "map")]) == 0


def test_cli_refuses_chip_options_without_hwa(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "train",
        "--model",
        "resnet32_pcm",
        "--arch",
        "hermes_64",
        "--out",
        str(tmp_path / "o"),
        "--name",
        "x",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--hwa" in err[0]
    common = ["train", "--model", "resnet32_pcm", "--out", str(tmp_path / "o"), "--name", "x"]
    assert main([*common, "--bn-statistics", "batch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "add --hwa" in err[0]
    paper = [*common, "--hwa", "--arch", "joshi2020", "--noise", "paper", "--bn-statistics", "other_read"]
    assert main(paper) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs --noise chip" in err[0]


def test_weights_of_another_model_are_refused(tmp_path: Path) -> None:
    model_file = tmp_path / "small.py"
    model_file.write_text(_MODEL_FILE)
    other = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, str(other))
    with pytest.raises(CheckpointError, match="not the weights of"):
        load_model_file(f"{model_file}@{other}")


_SHIPPED = {
    "dwcnn_joshi2020_hwa": ("joshi2020", "chip"),
    "dwcnn_joshi2020_hwa_1d": ("joshi2020", "chip"),
    "dwcnn_hermes_64_hwa": ("hermes_64", "chip"),
    "dwcnn_hermes_64_hwa_1d": ("hermes_64", "chip"),
    "dwcnn_joshi2020_hwa_2reads": ("joshi2020", "chip"),
    "dwcnn_hermes_64_hwa_2reads": ("hermes_64", "chip"),
    "dwcnn_paper_hwa": ("joshi2020", "paper"),
}


@pytest.mark.parametrize("name", sorted(_SHIPPED))
def test_shipped_hardware_aware_weights_load_by_bare_name(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # an empty folder: the bare names are the shipped files
    _, card = load_model_file(f"dwcnn.py@{name}.safetensors")
    assert card["class"] == "DWCNN" and card["weights"].endswith(f"examples/{name}.safetensors")
    weights_card = json.loads(Path(card["weights"]).with_suffix(".json").read_text())
    chip, source = _SHIPPED[name]
    assert weights_card["hwa"]["chip"] == chip and weights_card["hwa"]["recipe"]["source"] == source
    assert weights_card["model_file"] == "dwcnn.py"


@pytest.mark.slow  # ~10 s: the 10,000 test images through each network
@pytest.mark.parametrize("name", sorted(_SHIPPED))
def test_shipped_hardware_aware_weights_have_their_cards_accuracy(name: str) -> None:
    model, card = load_model_file(f"dwcnn.py@{name}.safetensors")
    weights_card = json.loads(Path(card["weights"]).with_suffix(".json").read_text())
    accuracy = ct.accuracy(model, ct.load_images("fashion-mnist", "test"))
    assert accuracy == pytest.approx(weights_card["digital_test_accuracy"], abs=1e-4)
