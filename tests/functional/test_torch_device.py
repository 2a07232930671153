"""The functional twin on a torch device (``program_chip(device=)``, ``--device``): every tensor of a chip
lives there, its forward pass never waits for the host, its noise has the same statistics there, and its
accuracies agree with the CPU's within sampling (another random stream: not digit for digit).

The tests marked ``cuda`` skip, saying so, on a machine without a CUDA GPU (tests/conftest.py); the others
check the same plumbing on the CPU and the refusals everywhere.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from pathlib import Path

import pytest
import torch
from small_model import model_and_data
from torch import Tensor, nn

import chiptwin as ct
from chiptwin.cli import build_parser, main
from chiptwin.compensation import get_policy
from chiptwin.device.models import noise_model
from chiptwin.device.noise import IdealNoiseModel
from chiptwin.errors import UsageError
from chiptwin.functional import AnalogChip, BlockRange, ConverterBits, EvalSpec, evaluate, program_chip
from chiptwin.functional.chip import blocks_from_mapping, whole_layer_blocks
from chiptwin.functional.gaussian import add_gaussian_
from chiptwin.functional.torch_device import check_torch_device, describe_torch_device
from chiptwin.mapping import map_graph
from chiptwin.network.checkpoint import load_checkpoint
from chiptwin.network.data import evaluation_sets, normalise
from chiptwin.network.graph import build_layer_graph
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.faults import FaultSpec
from chiptwin.timing.search import resolve_strategy
from chiptwin.trace.reader import read_manifest

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]

CHIP = ChipSpec()  # 8-bit converters
NOISY = dataclasses.replace(CHIP, adc=dataclasses.replace(CHIP.adc, output_noise=0.04))
FAULTS = FaultSpec(stuck_rate=0.01, stuck_arrival_per_day=0.01, adc_offset_std=0.01, adc_gain_std=0.02)

# conv2 on two replicas (each with its own share of the output pixels: the replica masks), a row split
# inside a kernel on replica 0, fc split over rows.
BLOCKS = {
    "conv1": [BlockRange(0, 27, 0, 8)],
    "conv2": [
        BlockRange(0, 36, 0, 8),
        BlockRange(36, 40, 0, 8),
        BlockRange(40, 72, 0, 8),
        BlockRange(0, 72, 0, 8, replica=1),
    ],
    "fc": [BlockRange(0, 5, 0, 5), BlockRange(5, 8, 0, 5)],
}


def _tensors(chip: AnalogChip) -> dict[str, Tensor]:
    """Every tensor a programmed chip holds: parameters, buffers, the crossbars' device states and stuck
    devices (plain attributes, not buffers) and the layers' replica masks."""
    found = {f"parameter {n}": p for n, p in chip.named_parameters()}
    found |= {f"buffer {n}": b for n, b in chip.named_buffers()}
    for name, layer in chip.layers.items():
        for key, mask in layer._masks.items():
            found[f"{name} mask {key}"] = mask
        for i, group in enumerate(layer.row_groups):
            xbar = group.crossbar
            for polarity in ("pos", "neg"):
                state = getattr(xbar, polarity)
                found[f"{name}[{i}].{polarity}.g_prog"] = state.g_prog_usiemens
                found[f"{name}[{i}].{polarity}.drift_coeff"] = state.drift_coeff
                faults = getattr(xbar, f"{polarity}_faults")
                for field in dataclasses.fields(faults) if faults is not None else ():
                    value = getattr(faults, field.name)
                    if isinstance(value, Tensor):
                        found[f"{name}[{i}].{polarity}_faults.{field.name}"] = value
    return found


def _chip(device: str, chip: ChipSpec = NOISY) -> tuple[AnalogChip, Tensor]:
    model, x = model_and_data()
    programmed = program_chip(
        model, chip, BLOCKS, noise_model(chip), 3, [x[:16], x[16:]], device=device, faults=FAULTS
    )
    return programmed, x.to(device)


@pytest.mark.parametrize("device", DEVICES)
def test_every_tensor_of_a_chip_lives_on_its_device(device: str) -> None:
    chip, x = _chip(device)
    assert chip.torch_device.type == device and chip.ctx.read_generator.device.type == device
    chip.set_age(86_400.0)
    ct.compensate(chip, "gdc+adabs", x.cpu())  # the API moves the images to the chip
    y = chip(x)
    assert y.device.type == device and bool(torch.isfinite(y).all())
    tensors = _tensors(chip)
    # Device states (2 polarities x 7 row groups), their stuck devices, the replica masks, the periphery.
    assert sum("g_prog" in k for k in tensors) == 14 and sum("_faults." in k for k in tensors) == 42
    assert any(" mask " in k for k in tensors) and any(k.endswith("adc_gain") for k in tensors)
    elsewhere = {k: str(t.device) for k, t in tensors.items() if t.device.type != device}
    assert elsewhere == {}


@pytest.mark.parametrize("device", DEVICES)
def test_output_noise_has_the_spec_std_on_the_device(device: str) -> None:
    # W = I, inputs calibrated to full scale 1, no converters: zero inputs read pure output noise.
    fc = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        fc.weight.copy_(torch.eye(2))
    off = ConverterBits(dac_bits=None, adc_bits=None)
    calibration = [torch.ones(1, 2)]
    chip = program_chip(
        fc, NOISY, whole_layer_blocks(fc), IdealNoiseModel(), 0, calibration, bits=off, device=device
    )
    out = chip(torch.zeros(50_000, 2, device=device))
    assert out.device.type == device
    assert float(out.std()) == pytest.approx(0.04, rel=0.02)  # 100,000 draws: std known to ~0.25 %
    assert abs(float(out.mean())) < 5 * 0.04 / math.sqrt(out.numel())


def test_a_device_this_machine_lacks_is_one_line() -> None:
    assert check_torch_device("cpu") == torch.device("cpu") and describe_torch_device("cpu") == "cpu"
    for text, expect in (
        ("gpu", "device(='gpu') must be a torch device such as cpu or cuda:0"),
        ("cuda:x", "device(='cuda:x') must be a torch device"),
        ("meta", "device(='meta') must be cpu, cuda, cuda:N or mps"),
        ("cuda:99", "device(='cuda:99'): "),  # no CUDA here, or fewer than 100 GPUs
    ):
        with pytest.raises(UsageError, match=r"^" + expect.replace("(", r"\(").replace(")", r"\)")):
            check_torch_device(text)
    model, x = model_and_data()
    with pytest.raises(UsageError, match=r"device\(='cuda:99'\)"):  # before any programming
        program_chip(model, CHIP, whole_layer_blocks(model), IdealNoiseModel(), 0, [x], device="cuda:99")
    with pytest.raises(UsageError, match=r"device\(='cuda:99'\)"):  # before tracing and mapping
        ct.program(model, ct.load_chip("hermes_64"), x, device="cuda:99")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: --device cuda is valid here")
@pytest.mark.parametrize("command", [["evaluate"], ["run", "day_retention", "--quick"]])
def test_device_cuda_without_cuda_is_one_line_exit_2(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--device", "cuda"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert f"chiptwin {command[0]}: argument --device: device(='cuda'): CUDA is not available" in err


def test_device_option_parses_and_defaults_to_the_cpu() -> None:
    parser = build_parser()
    for command in (["evaluate"], ["run", "day_retention"]):
        assert parser.parse_args(command).device == "cpu"
        assert parser.parse_args([*command, "--device", "cpu"]).device == "cpu"


def test_the_api_keeps_a_cpu_chip_on_the_cpu() -> None:
    model, x = model_and_data()
    chip = ct.program(model, ct.load_chip("hermes_64"), x, device="cpu")
    assert chip.torch_device == torch.device("cpu")
    labels = model(x).argmax(1)
    assert ct.accuracy(chip, (x, labels)) > 0.5  # the digital model's own answers, through the chip


# ---- on a GPU ---------------------------------------------------------------------------------------------


@pytest.mark.cuda
def test_the_forward_pass_never_waits_for_the_host() -> None:
    # Converters, output noise, replicas, stuck devices and ADC errors: any host copy or sync (a .item(),
    # a float() of a tensor, a mask built on the CPU) raises under the sync debug mode.
    chip, x = _chip("cuda")
    chip.set_age(3600.0)
    get_policy("gdc").compensate(chip, None)
    chip(x)  # the replica masks are built in the first pass
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        y = chip(x)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert y.device.type == "cuda" and bool(torch.isfinite(y).all())


@pytest.mark.cuda
@pytest.mark.parametrize("layout", ["channels_last", "contiguous", "linear"])
def test_output_noise_draws_on_cuda_are_gaussian_per_column_and_per_seed(layout: str) -> None:
    # The fallback of chiptwin.functional.gaussian on a GPU: torch's Philox, drawn on the device.
    cols = 16
    scale = torch.linspace(0.5, 2.0, cols, device="cuda")
    if layout == "linear":
        shape, channel_dim, fmt = (50_000, cols), -1, torch.contiguous_format
    else:
        shape, channel_dim = (50, cols, 32, 32), 1
        fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format

    def draw(gen: torch.Generator) -> Tensor:
        y = torch.zeros(shape, device="cuda").contiguous(memory_format=fmt)
        out = add_gaussian_(y, scale, gen, channel_dim)
        assert out is y and out.device.type == "cuda"
        return out

    gen = torch.Generator(device="cuda").manual_seed(5)
    a, b = draw(gen), draw(gen)
    again = draw(torch.Generator(device="cuda").manual_seed(5))
    assert torch.equal(a, again) and not torch.equal(a, b)  # deterministic per seed, fresh per call
    per_column = a.movedim(channel_dim, -1).reshape(-1, cols).double().cpu()
    n = per_column.shape[0]
    std, mean = per_column.std(0), per_column.mean(0)
    expected = scale.double().cpu()
    assert torch.all((std / expected - 1).abs() < 5 / math.sqrt(2 * n)), std / expected
    assert torch.all(mean.abs() < 5 * expected / math.sqrt(n))
    z, _ = (a.movedim(channel_dim, -1).reshape(-1, cols) / scale).flatten().double().cpu()[:200_000].sort()
    cdf = torch.special.ndtr(z)
    ranks = torch.arange(1, z.numel() + 1, dtype=torch.float64) / z.numel()
    assert float(torch.maximum(ranks - cdf, cdf - (ranks - 1 / z.numel())).max()) < 1.63 / math.sqrt(
        z.numel()
    )
    u, v = a.double().flatten(), b.double().flatten()
    corr = float(((u - u.mean()) * (v - v.mean())).mean() / (u.std() * v.std()))
    assert abs(corr) < 5 / math.sqrt(u.numel())  # two reads are independent


def _shipped_setup() -> tuple[nn.Module, ChipSpec, dict[str, list[BlockRange]], Tensor, Tensor, Tensor]:
    model, card = load_checkpoint("resnet32_pcm_fmnist_hwa")
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    test, calib = evaluation_sets(str(card["dataset"]), None)
    images = normalise(torch.from_numpy(test.images[:500]), test.dataset)
    labels = torch.from_numpy(test.labels[:500])
    calibration = normalise(torch.from_numpy(calib.images), calib.dataset)
    chip = ct.load_chip("hermes_64")  # 8-bit converters and output noise: every noise path
    graph = build_layer_graph(model, tuple(int(s) for s in test.images.shape[1:]), name="resnet32")
    mapping = map_graph(graph, chip, resolve_strategy("dense"))
    return model, chip, blocks_from_mapping(mapping), images, labels, calibration


@pytest.mark.cuda
def test_accuracy_on_cuda_agrees_with_the_cpu_within_sampling() -> None:
    # The same chip, seeds, images and policy on both: the GPU's random streams differ, so the per-seed
    # accuracies differ, but their means agree within the spread over seeds (4 standard errors of the
    # difference of two means, plus half a percent for a float32-vs-TF32 rounding difference).
    model, chip, blocks, images, labels, calibration = _shipped_setup()
    spec = EvalSpec(ages_s=(86_400.0,), seeds=tuple(range(6)), n_adabs=500, batch_size=250)
    policies = (get_policy("gdc"), get_policy("gdc+adabs"))
    runs = {
        device: evaluate(
            model,
            chip,
            blocks,
            noise_model(chip),
            (images, labels),
            calibration,
            spec,
            policies,
            device=device,
        )
        for device in ("cpu", "cuda")
    }
    for cpu, gpu in zip(runs["cpu"], runs["cuda"], strict=True):
        assert (cpu.policy, cpu.age_s) == (gpu.policy, gpu.age_s)
        n = len(cpu.accuracies)
        se = math.sqrt((statistics.variance(cpu.accuracies) + statistics.variance(gpu.accuracies)) / n)
        assert abs(gpu.mean - cpu.mean) <= 4 * se + 0.005, (cpu.policy, cpu.accuracies, gpu.accuracies)
        assert gpu.mean > 0.8 and len(set(gpu.accuracies)) > 1  # GDC works there, and the seeds differ


@pytest.mark.cuda
def test_evaluate_device_cuda_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ev"
    argv = ["evaluate", "--arch", "hermes_64", "--n-images", "200", "--n-adabs", "200", "--seeds", "2"]
    argv += ["--ages", "1h,1d", "--policies", "none,gdc", "--device", "cuda", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert lines[1].endswith(f"; computed on {describe_torch_device('cuda')}") and "cuda:0 (" in lines[1]
    assert read_manifest(out)["torch_device"].startswith("cuda:0 (")
    table = [line.split("|") for line in lines if line.strip().startswith(("1 h", "1 d"))]
    gdc = [float(row[2].split()[0]) for row in table]
    assert len(gdc) == 2 and min(gdc) > 80.0  # %, GDC keeps the HWA checkpoint accurate on the GPU
