"""A model of your own from the command line: ``FILE.py[:NAME]`` wherever a zoo model or checkpoint goes."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from chiptwin.cli import main
from chiptwin.errors import CheckpointError
from chiptwin.network.checkpoint import load_checkpoint
from chiptwin.network.graph import model_layer_graph
from chiptwin.network.model_file import is_model_file, load_model_file, model_file_parts
from chiptwin.scenario.spec import checkpoint_label

# A user's depthwise-separable CNN, untrained: these tests check the plumbing, not accuracy.
DEPTHWISE = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU()
        )
        self.dw = nn.Sequential(
            nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU()
        )
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        return self.head(self.dw(self.stem(x)).mean((2, 3)))

def build_model():
    torch.manual_seed(0)
    return Net()

def other():
    torch.manual_seed(1)
    return Net()

instance = build_model()
"""


def _write(tmp_path: Path, text: str, name: str = "net.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_references_and_labels() -> None:
    assert model_file_parts("a/net.py") == (Path("a/net.py"), "build_model")
    assert model_file_parts("a/net.py:make") == (Path("a/net.py"), "make")
    assert is_model_file("net.py:make") and not is_model_file("resnet32_pcm_fmnist_hwa")
    assert not is_model_file("ckpt.safetensors")
    assert checkpoint_label("a/net.py") == "net" and checkpoint_label("a/net.py:make") == "net-make"
    assert checkpoint_label("a/b/resnet.safetensors") == "resnet"


def test_load_builds_the_named_model_with_a_card(tmp_path: Path) -> None:
    path = _write(tmp_path, DEPTHWISE)
    model, card = load_model_file(path)
    assert type(model).__name__ == "Net" and not model.training
    assert card["dataset"] == "fashion-mnist" and card["factory"] == "build_model" and card["class"] == "Net"
    assert len(card["file_sha256"]) == 64
    other, _ = load_model_file(f"{path}:other")
    assert not torch.equal(other.head.weight, model.head.weight)  # seed 1, not seed 0
    instance, _ = load_model_file(f"{path}:instance")  # a module, not a function
    torch.testing.assert_close(instance.head.weight, model.head.weight)
    # the checkpoint loader takes it too: everything that loads checkpoints takes model files
    same, same_card = load_checkpoint(str(path))
    torch.testing.assert_close(same.head.weight, model.head.weight)
    assert same_card == card


@pytest.mark.parametrize(
    "text, ref_suffix, fragment",
    [
        (None, "", "model file not found"),
        ("def build_model(:\n", "", ":1: syntax error"),
        ("raise RuntimeError('no GPU here')\n", "", "importing it raised RuntimeError: no GPU here"),
        ("x = 1\n", "", "the file defines no 'build_model'"),
        ("build_model = 3\n", "", "is a int, not an nn.Module or a function"),
        (
            "def build_model():\n    raise ValueError('bad width')\n",
            "",
            "calling it raised ValueError: bad width",
        ),
        ("def build_model():\n    return 'a model'\n", "", "returned a str, not an nn.Module"),
        ("DATASET = 'mnist'\ndef build_model():\n    pass\n", "", "DATASET(='mnist') must be one of"),
        (
            "from torch import nn\n"
            "def build_model():\n    m = nn.Linear(2, 2)\n"
            "    m.weight.data[0, 0] = float('nan')\n    return m\n",
            "",
            "tensor 'weight' holds NaN or infinite values",
        ),
        ("def make():\n    pass\n", ":missing", "the file defines no 'missing'"),
    ],
)
def test_a_bad_model_file_is_one_checkpoint_error(
    tmp_path: Path, text: str | None, ref_suffix: str, fragment: str
) -> None:
    path = tmp_path / "net.py"
    if text is not None:
        path.write_text(text)
    with pytest.raises(CheckpointError) as info:
        load_model_file(f"{path}{ref_suffix}")
    message = str(info.value)
    assert str(path) in message and fragment in message and "\n" not in message


def test_a_model_file_imports_its_neighbours_as_python_would_run_it(tmp_path: Path) -> None:
    _write(tmp_path, DEPTHWISE, "layers.py")  # the user's helper module, next to the model file
    path = _write(tmp_path, "from layers import Net\n\ndef build_model():\n    return Net()\n", "mine.py")
    try:
        _, card = load_model_file(path)
    finally:
        sys.modules.pop("layers", None)
    assert card["class"] == "Net" and str(tmp_path) not in sys.path  # the folder is on it while building


def test_map_and_timing_take_a_model_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, DEPTHWISE)
    monkeypatch.chdir(tmp_path)
    graph = model_layer_graph(str(path))
    assert graph.graph["input_shape"] == (1, 32, 32)  # Fashion-MNIST, padded to 32 x 32 like the zoo
    analog = [n for n, d in graph.nodes(data=True) if d["layer"].kind in ("conv", "linear")]
    assert analog == ["stem.0", "dw.0", "head"]
    assert main(["map", "--model", str(path)]) == 0
    out = capsys.readouterr().out
    # the default folder takes the file's stem, never its path
    assert (tmp_path / "traces" / "map-net-hermes_64-dense" / "mapping.parquet").is_file()
    assert "net on hermes_64, strategy dense" in out and "dw.0" in out
    # the depthwise layer: one 9 x 1 block per channel
    assert [line.split()[4] for line in out.splitlines() if line.startswith("dw.0")] == ["8"]
    assert main(["timing", "--model", str(path), "--arch", "hermes_64"]) == 0
    assert "dw.0" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["map", "--model", "{missing}"], "model file not found"),
        (["map", "--model", "{net}", "--in-channels", "3"], "in_channels(=3) applies to zoo models"),
        (["timing", "--model", "{missing}"], "model file not found"),
        (["evaluate", "--checkpoint", "{missing}"], "model file not found"),
    ],
)
def test_a_bad_model_file_on_the_command_line_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    net = _write(tmp_path, DEPTHWISE)
    values = {"missing": str(tmp_path / "missing.py"), "net": str(net)}
    assert main([a.format(**values) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]


EXAMPLE = "dwcnn.py"  # the shipped example model file, found by name from any folder (chiptwin.shipped)


@pytest.mark.slow  # ~5 s: two seeds of the example CNN on 200 images
def test_evaluate_a_model_file_on_ideal_parts_is_its_digital_accuracy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["evaluate", "--checkpoint", str(EXAMPLE), "--ideal", "--weights-only", "--ages", "1h,1d"]
    argv += ["--policies", "none,gdc", "--seeds", "2", "--n-images", "200", "--strategy", "packed"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    digital = out.split("digital accuracy ")[1].split(" %")[0]
    assert float(digital) > 80  # the trained example, not chance
    rows = [line for line in out.splitlines() if line.strip().startswith(("1 h", "1 d"))]
    cells = [cell.split()[0] for row in rows for cell in row.split("|")[1:]]
    assert cells == [digital] * 4  # ideal devices, no converters: exactly the digital accuracy


@pytest.mark.slow  # ~4 s
def test_run_gives_a_model_file_to_the_scenario_checkpoint_of_its_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import chiptwin as ct

    net = _write(tmp_path, DEPTHWISE)
    scenario = tmp_path / "mine.toml"
    scenario.write_text(
        'name = "mine"\narch = "hermes_64"\ncheckpoints = ["net"]\nprobes_s = [60]\nseeds = [0]\n'
        "n_images = 20\nn_adabs = 20\nn_range_calibration = 20\nbatch_size = 20\n"
        '[[policies]]\nname = "gdc"\ncompensation = "gdc"\nevery = "probe"\n'
    )
    argv = ["run", str(scenario), "--model", str(net), "--out", str(tmp_path / "t"), "--quiet", "--no-report"]
    assert main(argv) == 0
    assert "1 cells run" in capsys.readouterr().out
    assert [p["checkpoint"] for p in ct.read_table(tmp_path / "t", "probes").to_pylist()] == ["net"]
    card = ct.read_manifest(tmp_path / "t")["scenario"]["user_models"]["net"]
    assert card["model"]["class"].endswith(".Net") and len(card["weights_sha256"]) == 64
    # the same file again resumes (nothing to do); other weights from it are another run, refused
    assert main([*argv, "--resume"]) == 0
    assert "0 cells run, 1 resumed" in capsys.readouterr().out
    net.write_text(DEPTHWISE.replace("torch.manual_seed(0)", "torch.manual_seed(5)"))
    assert main([*argv, "--resume"]) == 2
    assert "scenario.user_models.net." in capsys.readouterr().err


@pytest.mark.parametrize(
    "checkpoints, model, fragment",
    [
        ('["net"]', "{other}", "chiptwin run: --model {other}: no checkpoint 'other' to give it to"),
        ('["cifar"]', "{cifar}", "its DATASET is 'cifar10', the checkpoint's data 'fashion-mnist'"),
        ('["{net}"]', None, "is a model file, and a scenario runs no code it names"),
        ('["net"]', "net.txt", "model(='net.txt') must be a model file FILE.py or FILE.py:NAME"),
    ],
)
def test_run_with_a_bad_model_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checkpoints: str, model: str | None, fragment: str
) -> None:
    files = {
        "net": str(_write(tmp_path, DEPTHWISE)),
        "other": str(_write(tmp_path, DEPTHWISE, "other.py")),
        "cifar": str(_write(tmp_path, "DATASET = 'cifar10'\n" + DEPTHWISE, "cifar.py")),
    }
    scenario = tmp_path / "mine.toml"
    scenario.write_text(f'name = "mine"\ncheckpoints = {checkpoints.format(**files)}\nprobes_s = [60]\n')
    argv = ["run", str(scenario), "--out", str(tmp_path / "t")]
    if model is not None:
        argv += ["--model", model.format(**files)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment.format(**files) in err[0], err
    assert not (tmp_path / "t").exists()


@pytest.mark.slow  # ~4 s: two timing-only cells, serially
def test_sweep_gives_a_model_file_to_the_checkpoint_of_its_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    net = _write(tmp_path, DEPTHWISE)
    sweep = tmp_path / "mine.toml"
    sweep.write_text(
        'name = "mine"\nscenario = "day_retention"\n[base]\ncheckpoints = ["net"]\nprobes_s = [60.0]\n'
        '[grid]\narch = ["hermes_64"]\nstrategy = ["dense", "packed"]\npolicy = ["gdc"]\n'
        "[run]\naccuracy = false\n"
    )
    argv = ["sweep", str(sweep), "--serial", "--quiet", "--out", str(tmp_path / "s")]
    assert main([*argv, "--model", str(net)]) == 0
    assert "2 cells run, 0 already finished, 0 failed" in capsys.readouterr().out
    # without the model, the name is a checkpoint file that is not there: one line, nothing written
    assert main([*argv[:-1], str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model card not found" in err[0]
    assert not (tmp_path / "t").exists()


def test_the_example_model_file_builds_the_trained_network() -> None:
    example = EXAMPLE
    model, card = load_model_file(example)
    assert card["class"] == "DWCNN" and isinstance(model, nn.Module)
    graph = model_layer_graph(str(example))
    grouped = [n for n, d in graph.nodes(data=True) if d["layer"].kind == "conv" and d["layer"].groups > 1]
    assert grouped == ["blocks.0.0", "blocks.1.0", "blocks.2.0"]
