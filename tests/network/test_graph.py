"""The layer graph: node and edge counts, shapes and op counts by hand, tracing errors, zoo models."""

from __future__ import annotations

from collections.abc import Iterator

import networkx as nx
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from chiptwin.errors import MappingError
from chiptwin.mapping import ARCHITECTURES_DIR, map_graph, measure_mapping
from chiptwin.network.graph import build_layer_graph, zoo_layer_graph
from chiptwin.spec.graph import LayerSpec
from chiptwin.spec.load import load_chip


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _layers(graph: nx.DiGraph) -> dict[str, LayerSpec]:
    return {name: data["layer"] for name, data in graph.nodes(data=True)}


class Residual(nn.Module):
    """Conv-BN-ReLU, a residual add of the input, global pool, flatten, Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn(self.conv(x))) + x
        return self.fc(torch.flatten(self.pool(y), 1))


def test_hand_made_residual_model() -> None:
    graph = build_layer_graph(Residual(), (4, 8, 8), name="residual")
    layers = _layers(graph)
    assert list(layers) == ["x", "conv", "bn", "relu", "add", "pool", "flatten", "fc", "output"]
    assert sorted(graph.edges) == sorted(
        [("x", "conv"), ("conv", "bn"), ("bn", "relu"), ("relu", "add"), ("x", "add"), ("add", "pool"),
         ("pool", "flatten"), ("flatten", "fc"), ("fc", "output")]
    )  # fmt: skip
    conv = layers["conv"]
    # 4 channels x 3 x 3 = 36 rows, 4 columns, 8 x 8 = 64 output pixels; 36 * 4 * 64 = 9,216 MACs
    assert (conv.rows, conv.cols, conv.mvms_per_inference, conv.ops_per_inference) == (36, 4, 64, 9216)
    assert (conv.input_shape, conv.output_shape, conv.stride, conv.padding) == (
        (4, 8, 8),
        (4, 8, 8),
        (1, 1),
        (1, 1),
    )
    assert not conv.has_bias and conv.analog
    assert [layers[n].ops_per_inference for n in ("bn", "relu", "add", "pool", "flatten")] == [256] * 4 + [0]
    assert layers["pool"].output_shape == (4, 1, 1) and layers["flatten"].output_shape == (4,)
    fc = layers["fc"]
    assert (fc.kind, fc.rows, fc.cols, fc.mvms_per_inference, fc.has_bias) == ("linear", 4, 5, 1, True)
    edges = {(u, v): d["edge"] for u, v, d in graph.edges(data=True)}
    assert edges["x", "add"].shape == (4, 8, 8) and edges["x", "add"].bytes_per_inference == 256
    assert edges["flatten", "fc"].bytes_per_inference == 4
    assert graph.graph == {"model": "residual", "input_shape": (4, 8, 8), "activation_bits": 8}
    wide = build_layer_graph(Residual(), (4, 8, 8), activation_bits=12)
    assert wide.edges["x", "conv"]["edge"].bytes_per_inference == 512  # 12 bits take 2 bytes


class LeNet(nn.Module):
    """A user model outside the zoo, written with functional calls, a view and dropout."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(120, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), (2, 2))
        x = x.view(x.size(0), -1)
        return self.fc2(self.drop(F.relu(self.fc1(x))))


def test_user_model_with_functional_calls() -> None:
    model = LeNet().train()
    graph = build_layer_graph(model, (1, 32, 32))
    layers = _layers(graph)
    # x.size(0) is shape arithmetic and dropout passes through: neither is a node
    assert list(layers) == [
        "x", "conv1", "relu", "max_pool2d", "conv2", "relu_1", "max_pool2d_1", "view", "fc1", "relu_2",
        "fc2", "output",
    ]  # fmt: skip
    assert graph.number_of_edges() == 11 and ("relu_2", "fc2") in graph.edges
    assert layers["conv1"].output_shape == (6, 28, 28) and layers["conv1"].rows == 25  # 1 x 5 x 5
    assert layers["conv1"].has_bias
    assert layers["max_pool2d"].output_shape == (6, 14, 14)
    assert layers["max_pool2d"].ops_per_inference == 4 * 6 * 14 * 14  # 2x2 window per output
    assert layers["conv2"].rows == 150 and layers["conv2"].mvms_per_inference == 100
    assert layers["view"].output_shape == (400,)
    assert model.training  # tracing leaves the model as it was
    # The symbolic shapes agree with a real forward pass.
    seen = {}
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, tuple(o.shape[1:])))
             for n, m in model.named_modules() if n]  # fmt: skip
    with torch.no_grad():
        model.eval()(torch.zeros(1, 1, 32, 32))
    for h in hooks:
        h.remove()
    assert all(layers[n].output_shape == shape for n, shape in seen.items() if n in layers)


class Gate(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:  # data-dependent control flow: torch.fx cannot trace it
            return x
        return -x


class Gated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.gate = Gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(self.conv(x))


class WithModule(nn.Module):
    def __init__(self, extra: nn.Module) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)
        self.act = extra

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class Concat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), x], dim=1)


def test_untraceable_and_unsupported_models_name_the_module() -> None:
    with pytest.raises(MappingError, match=r"cannot trace module 'gate' \(Gate\)"):
        build_layer_graph(Gated(), (1, 8, 8))
    with pytest.raises(MappingError, match=r"cannot map module 'act' \(Sigmoid\)"):
        build_layer_graph(WithModule(nn.Sigmoid()), (3, 8, 8))
    with pytest.raises(MappingError, match=r"cannot map 'cat' \(cat\)"):
        build_layer_graph(Concat(), (3, 8, 8))
    with pytest.raises(MappingError, match=r"module 'conv' \(Conv2d\): expects 3 input channels"):
        build_layer_graph(WithModule(nn.ReLU()), (1, 8, 8))
    with pytest.raises(MappingError, match="input_shape"):
        build_layer_graph(WithModule(nn.ReLU()), (3, 0, 8))


def test_resnet32_pcm_graph() -> None:
    state = torch.random.get_rng_state()
    graph = zoo_layer_graph("resnet32_pcm")
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is untouched
    layers = _layers(graph)
    analog = [s for s in layers.values() if s.analog]
    # input + stem (3) + 15 blocks x 7 + 2 shortcuts x 2 + pool, flatten, fc, output
    assert graph.number_of_nodes() == 1 + 3 + 15 * 7 + 2 * 2 + 4 == 117
    # 8 edges per block (the add has 2 inputs), 2 more per shortcut, 3 in the stem, 4 in the tail
    assert graph.number_of_edges() == 15 * 8 + 2 * 2 + 3 + 4 == 131
    assert len(analog) == 34
    assert (
        sum(s.weights for s in analog) == 361_424
    )  # Joshi 2020's widths: 361,434 with 1 input channel, less 10 biases
    down = layers["layer3.0.conv1"]
    assert (down.input_shape, down.output_shape, down.stride, down.mvms_per_inference) == (
        (28, 16, 16), (56, 8, 8), (2, 2), 64
    )  # fmt: skip
    assert layers["layer3.0.shortcut.0"].rows == 28 and layers["fc"].input_shape == (56,)
    assert zoo_layer_graph("resnet20", in_channels=3).nodes["conv1"]["layer"].rows == 27


def test_zoo_errors() -> None:
    with pytest.raises(MappingError, match="unknown model 'resnet99'"):
        zoo_layer_graph("resnet99")
    with pytest.raises(MappingError, match=r"in_channels\(=0\)"):
        zoo_layer_graph("resnet20", in_channels=0)


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])
def test_imagenet_resnets_map_on_large_512_or_fail_with_the_fit_error(name: str) -> None:
    graph = zoo_layer_graph(name)
    assert graph.graph["input_shape"] == (3, 224, 224)
    chip = load_chip(ARCHITECTURES_DIR / "large_512.toml")
    fitted = []
    for strategy in ("dense", "packed", "balanced"):
        try:
            mapping = map_graph(graph, chip, strategy)
        except MappingError as exc:
            assert "tiles of 512x512 weights but chip 'large_512' has 64" in str(exc)
            assert "would fit" in str(exc) or "no strategy fits" in str(exc)
        else:
            fitted.append(strategy)
            assert measure_mapping(graph, mapping).tiles_used <= 64
    # ResNet-18: 11.68 M crossbar weights need 78 dense blocks (> 64) but pack into 64 tiles;
    # ResNet-34 (21.78 M) and ResNet-50 (25.50 M) need more than 64 x 262,144 = 16.78 M cells.
    assert fitted == {"resnet18": ["packed"], "resnet34": [], "resnet50": []}[name]
