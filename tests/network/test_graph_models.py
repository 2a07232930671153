"""The layer graph of the models beyond ResNet: depthwise/grouped CNNs, MLPs and the vision transformer.

Shapes and op counts by hand; unsupported operations are one error naming the call.
"""

from __future__ import annotations

import networkx as nx
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from chiptwin.errors import MappingError
from chiptwin.mapping import ARCHITECTURES_DIR, map_graph
from chiptwin.network.graph import build_layer_graph, zoo_layer_graph
from chiptwin.network.vit import Attention
from chiptwin.spec.graph import (
    GELU_OPS_PER_ELEMENT,
    LAYERNORM_OPS_PER_ELEMENT,
    SOFTMAX_OPS_PER_ELEMENT,
    LayerSpec,
)
from chiptwin.spec.load import load_chip

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def _layers(graph: nx.DiGraph) -> dict[str, LayerSpec]:
    return {name: data["layer"] for name, data in graph.nodes(data=True)}


class DepthwiseSeparable(nn.Module):
    """A MobileNet-style block (Howard et al. 2017, fig. 3): depthwise 3x3, BN, ReLU, pointwise 1x1."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.dw = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.pw = nn.Conv2d(8, 16, 1, bias=False)
        self.grouped = nn.Conv2d(16, 16, 3, padding=1, groups=4, bias=False)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.dw(self.stem(x))))
        x = self.grouped(self.pw(x))
        return self.fc(x.mean(dim=(2, 3)))


def test_depthwise_and_grouped_convolutions() -> None:
    layers = _layers(build_layer_graph(DepthwiseSeparable(), (1, 8, 8)))
    dw, grouped = layers["dw"], layers["grouped"]
    # depthwise: 8 groups of 1 channel -> 9 rows, 8 columns, 4 x 4 outputs; 9 * 8 * 16 MACs
    assert (dw.rows, dw.cols, dw.groups, dw.output_shape) == (9, 8, 8, (8, 4, 4))
    assert dw.ops_per_inference == 9 * 8 * 16
    # grouped: 16 / 4 = 4 channels per group -> 36 rows
    assert (grouped.rows, grouped.cols, grouped.ops_per_inference) == (36, 16, 36 * 16 * 16)
    mean = layers["mean"]
    assert (mean.kind, mean.output_shape, mean.ops_per_inference) == ("pool", (16,), 16 * 16)
    # every group's columns are their own blocks: the depthwise layer is 8 blocks of 9 x 1
    mapping = map_graph(
        build_layer_graph(DepthwiseSeparable(), (1, 8, 8)), load_chip(ARCHITECTURES_DIR / "hermes_64.toml")
    )
    blocks = [p.block for p in mapping.placements_of("dw")]
    assert [(b.rows, b.cols) for b in blocks] == [(9, 1)] * 8
    assert [b.col_start for b in blocks] == list(range(8))


def test_linear_only_mlp() -> None:
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    layers = _layers(build_layer_graph(mlp, (1, 8, 8)))
    assert [s.kind for s in layers.values()] == ["input", "flatten", "linear", "relu", "linear", "output"]
    assert layers["1"].ops_per_inference == 64 * 32 and layers["1"].mvms_per_inference == 1


def test_attention_block_by_hand() -> None:
    # 5 tokens of width 8, 2 heads of 4
    layers = _layers(build_layer_graph(Attention(8, 2), (5, 8)))
    q = layers["q"]
    assert (q.kind, q.rows, q.cols, q.mvms_per_inference, q.ops_per_inference) == ("linear", 8, 8, 5, 320)
    scores, mixed = layers["matmul"], layers["matmul_1"]
    # Q K^T per head: (5 x 4) @ (4 x 5) -> 2 heads x 5 x 5 outputs, 4 MACs each
    assert (scores.kind, scores.output_shape, scores.ops_per_inference) == ("matmul", (2, 5, 5), 2 * 25 * 4)
    # A V: (5 x 5) @ (5 x 4) -> 2 x 5 x 4 outputs, 5 MACs each
    assert (mixed.output_shape, mixed.ops_per_inference) == ((2, 5, 4), 2 * 20 * 5)
    assert layers["mul"].kind == "mul" and layers["mul"].ops_per_inference == 50
    assert layers["softmax"].ops_per_inference == SOFTMAX_OPS_PER_ELEMENT * 50
    assert layers["proj"].input_shape == (5, 8)
    # the data moves through reshapes and transposes at no cost, and never across images
    assert all(s.ops_per_inference == 0 for s in layers.values() if s.kind in ("reshape", "flatten"))


def test_vit4_graph() -> None:
    layers = _layers(zoo_layer_graph("vit4"))
    analog = [s for s in layers.values() if s.analog]
    # patch embedding + 4 blocks x (q, k, v, proj, fc1, fc2) + head
    assert len(analog) == 1 + 4 * 6 + 1
    # 16 x 64 + 4 x (4 x 64 x 64 + 2 x 64 x 128) + 64 x 10 weights (biases in the digital units)
    assert sum(s.rows * s.cols for s in analog) == 16 * 64 + 4 * (4 * 64 * 64 + 2 * 64 * 128) + 640
    embed = layers["embed.proj"]
    assert (embed.rows, embed.output_shape, embed.mvms_per_inference) == (16, (64, 8, 8), 64)
    assert layers["add"].ops_per_inference == 64 * 64  # the position embedding: a constant add
    assert layers["blocks.0.norm1"].ops_per_inference == LAYERNORM_OPS_PER_ELEMENT * 64 * 64
    assert layers["blocks.0.act"].ops_per_inference == GELU_OPS_PER_ELEMENT * 64 * 128
    kinds = [s.kind for s in layers.values()]
    assert kinds.count("matmul") == 8 and kinds.count("softmax") == 4 and kinds.count("layernorm") == 9
    assert layers["head"].input_shape == (64,)  # the mean over the tokens


class WeightOutsideModule(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(8, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w


class ClassToken(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, 1, 8))
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1))


class TorchAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x)[0]


class BatchMean(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=0)


def test_what_cannot_be_placed_is_named() -> None:
    with pytest.raises(MappingError, match=r"'matmul' \(matmul\).*weight off the crossbars"):
        build_layer_graph(WeightOutsideModule(), (4, 8))
    with pytest.raises(MappingError, match=r"cannot map 'expand'"):
        build_layer_graph(ClassToken(), (4, 8))
    with pytest.raises(MappingError, match=r"module 'attn' \(MultiheadAttention\)"):
        build_layer_graph(TorchAttention(), (4, 8))
    with pytest.raises(MappingError, match="mixes images"):
        build_layer_graph(BatchMean(), (4, 8))


class ThreeUnknowns(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.act = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.act(self.fc(x))).cumsum(-1)


def test_every_operation_that_cannot_be_placed_is_named_in_one_error() -> None:
    with pytest.raises(MappingError) as info:
        build_layer_graph(ThreeUnknowns(), (4, 8))
    message = str(info.value)
    assert message.startswith(
        "cannot map module 'act' (Sigmoid), 'tanh' (tanh) and 'cumsum' (cumsum): supported"
    )
    assert "\n" not in message


class BadPermute(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 1, 1)


def test_a_permute_that_is_no_permutation_is_one_error() -> None:
    with pytest.raises(MappingError, match=r"'permute' \(permute\): reshapes \(4, 8\) to \(\) across images"):
        build_layer_graph(BadPermute(), (4, 8))
