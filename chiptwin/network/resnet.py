"""The model zoo: CIFAR-style ResNet-n, ImageNet-style ResNet-18/34/50 and a small vision transformer.

The CIFAR-style networks follow He et al., "Deep residual learning for image recognition" (CVPR 2016,
section 4.2): three stages of ``(n - 2) / 6`` basic blocks at feature maps 32/16/8, but with 1x1
projection shortcuts where the shape changes, as in Joshi et al., Nat. Commun. 11, 2473 (2020),
Methods. With stage widths 16/28/56 and 3 input channels ResNet-32 has exactly the paper's
361,722 weights (convolutions, fully connected layer and its bias; batch-norm excluded).

The ImageNet-style networks (He et al. 2016, table 1) exist for mapping and timing studies. The vision
transformer is :class:`chiptwin.network.vit.VisionTransformer` (its module docstring says which of its
operations are analog).

The ResNets are built from Conv2d, BatchNorm2d, ReLU, pooling, Linear and residual adds only, so
torch.fx traces them into the layer graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from chiptwin.limits import MAX_IN_CHANNELS, MAX_LAYERS, MAX_MODEL_WIDTH
from chiptwin.network.vit import VisionTransformer

__all__ = [
    "CIFAR_DEPTHS",
    "MODEL_NAMES",
    "VIT_IMAGE_SIZE",
    "BasicBlock",
    "Bottleneck",
    "CifarResNet",
    "ImageNetResNet",
    "ModelSpec",
    "build_model",
    "count_weights",
    "model_spec",
]

CIFAR_DEPTHS = (20, 32, 44, 56)
"""Depths n of the CIFAR-style ResNet-n (n = 6k + 2)."""


VIT_IMAGE_SIZE = 32
"""Image side the zoo ViTs are built for, pixels (the network layer's 32x32 images)."""

_MAX_STAGES = 4
"""Most stage widths of a zoo model (ImageNet-style ResNets have 4)."""

_MAX_WEIGHTS = 2**30
"""Most weights of a zoo model: a checkpoint is at most 4 GiB (``chiptwin.files.SIZE_LIMITS``) of float32.
ResNet-50's estimate by :class:`ModelSpec`'s rule is 4.7 x 10^8 (it holds 2.6 x 10^7)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpec:
    """What is needed to rebuild a zoo model (stored in every model card).

    Attributes:
        arch: ``"cifar_resnet"``, ``"imagenet_resnet"`` or ``"vit"``.
        depth: number of weighted layers (20/32/44/56 or 18/34/50); encoder blocks for a ViT.
        widths: output channels of the stages (3 for CIFAR-style, 4 for ImageNet-style); for a ViT one
            entry, the token width.
        in_channels: input image channels (1 for Fashion-MNIST, 3 for CIFAR-10 and ImageNet).
        num_classes: outputs of the final fully connected layer.
        patch: ViT patch side, pixels (0 for ResNets).
        heads: ViT attention heads (0 for ResNets).
        mlp_dim: ViT hidden width of the encoder MLP (0 for ResNets).
    """

    arch: str
    depth: int
    widths: tuple[int, ...]
    in_channels: int = 1
    num_classes: int = 10
    patch: int = 0
    heads: int = 0
    mlp_dim: int = 0

    def __post_init__(self) -> None:
        """Check every entry is an integer (not a float that would be truncated) within its bound, so a
        card's ``depth: Infinity`` or ``widths: [16, 28, 1e8]`` is refused before any layer is built.

        Raises:
            ValueError: an entry is of the wrong type or out of bounds (the entry and value named).
        """
        if not isinstance(self.arch, str):
            raise ValueError(f"model.arch(={self.arch!r}) must be a string")
        if not isinstance(self.widths, tuple) or not 1 <= len(self.widths) <= _MAX_STAGES:
            raise ValueError(f"model.widths(={self.widths!r}) must be a list of 1..{_MAX_STAGES} integers")
        for name, value, low, high in (
            ("depth", self.depth, 1, MAX_LAYERS),
            *((f"widths[{i}]", w, 1, MAX_MODEL_WIDTH) for i, w in enumerate(self.widths)),
            ("in_channels", self.in_channels, 1, MAX_IN_CHANNELS),
            ("num_classes", self.num_classes, 1, MAX_MODEL_WIDTH),
            ("patch", self.patch, 0, VIT_IMAGE_SIZE),
            ("heads", self.heads, 0, MAX_MODEL_WIDTH),
            ("mlp_dim", self.mlp_dim, 0, MAX_MODEL_WIDTH),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"model.{name}(={value!r}) must be an integer in {low}..{high}")
        # An upper estimate of the weights, before any is allocated: every layer a 3x3 convolution of the
        # widest stage, 4x wide (a bottleneck's expansion), plus the MLPs and the classifier.
        widest = max(self.widths)
        estimate = self.depth * (36 * widest**2 + 2 * widest * self.mlp_dim) + widest * 4 * self.num_classes
        if estimate > _MAX_WEIGHTS:
            raise ValueError(
                f"model(depth={self.depth}, widths={list(self.widths)}) would hold up to {estimate:.3g} "
                f"weights; a checkpoint holds at most {_MAX_WEIGHTS:.3g} (4 GiB of float32)"
            )


_NAMED = {
    "resnet20": ModelSpec(arch="cifar_resnet", depth=20, widths=(16, 32, 64)),
    "resnet32": ModelSpec(arch="cifar_resnet", depth=32, widths=(16, 32, 64)),
    "resnet32_pcm": ModelSpec(arch="cifar_resnet", depth=32, widths=(16, 28, 56)),
    "resnet44": ModelSpec(arch="cifar_resnet", depth=44, widths=(16, 32, 64)),
    "resnet56": ModelSpec(arch="cifar_resnet", depth=56, widths=(16, 32, 64)),
    "resnet18": ModelSpec(
        arch="imagenet_resnet", depth=18, widths=(64, 128, 256, 512), in_channels=3, num_classes=1000
    ),
    "resnet34": ModelSpec(
        arch="imagenet_resnet", depth=34, widths=(64, 128, 256, 512), in_channels=3, num_classes=1000
    ),
    "resnet50": ModelSpec(
        arch="imagenet_resnet", depth=50, widths=(64, 128, 256, 512), in_channels=3, num_classes=1000
    ),
    # 4 blocks of width 64, 4 heads, MLP 128, 4x4 patches: 64 tokens on 32x32 images, 0.13 M weights
    # (resnet32_pcm: 0.36 M), sized to train on 2 CPU cores in about an hour (chiptwin's choice).
    "vit4": ModelSpec(arch="vit", depth=4, widths=(64,), patch=4, heads=4, mlp_dim=128),
}

MODEL_NAMES = tuple(_NAMED)
"""Names accepted by :func:`model_spec` and :func:`build_model`."""

_IMAGENET_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3)}


def model_spec(name: str, *, in_channels: int | None = None, num_classes: int | None = None) -> ModelSpec:
    """Return the spec of a named zoo model, optionally with other input channels or classes.

    Raises:
        KeyError: ``name`` is not one of :data:`MODEL_NAMES`.
    """
    try:
        spec = _NAMED[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}") from None
    return replace(
        spec,
        in_channels=spec.in_channels if in_channels is None else in_channels,
        num_classes=spec.num_classes if num_classes is None else num_classes,
    )


def _projection(c_in: int, c_out: int, stride: int) -> nn.Module:
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
    )


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch-norm and a residual add (He et al. 2016, fig. 2)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = _projection(c_in, c_out, stride)
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 - 3x3 - 1x1 bottleneck block with 4x expansion (He et al. 2016, fig. 5)."""

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1) -> None:
        super().__init__()
        c_out = width * self.expansion
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.shortcut = _projection(c_in, c_out, stride)
        self.relu3 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu3(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """CIFAR-style ResNet-n: 3x3 stem, three stages of basic blocks, global pool, FC with bias."""

    def __init__(
        self, depth: int, widths: Sequence[int], in_channels: int = 1, num_classes: int = 10
    ) -> None:
        super().__init__()
        if depth not in CIFAR_DEPTHS:
            raise ValueError(f"depth(={depth}) must be one of {CIFAR_DEPTHS}")
        if len(widths) != 3 or min(widths) < 1:
            raise ValueError(f"widths(={tuple(widths)}) must be three positive channel counts")
        blocks_per_stage = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        stages: list[nn.Module] = []
        c_in = widths[0]
        for i, c_out in enumerate(widths):
            blocks = []
            for b in range(blocks_per_stage):
                stride = 2 if (i > 0 and b == 0) else 1
                blocks.append(BasicBlock(c_in, c_out, stride))
                c_in = c_out
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(widths[-1], num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.flatten(self.pool(x)))


class ImageNetResNet(nn.Module):
    """ImageNet-style ResNet-18/34 (basic blocks) or ResNet-50 (bottlenecks), 224x224 input."""

    def __init__(
        self, depth: int, widths: Sequence[int], in_channels: int = 3, num_classes: int = 1000
    ) -> None:
        super().__init__()
        if depth not in _IMAGENET_BLOCKS:
            raise ValueError(f"depth(={depth}) must be one of {tuple(_IMAGENET_BLOCKS)}")
        if len(widths) != 4 or min(widths) < 1:
            raise ValueError(f"widths(={tuple(widths)}) must be four positive channel counts")
        self.conv1 = nn.Conv2d(in_channels, widths[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        stages: list[nn.Module] = []
        c_in = widths[0]
        for i, width in enumerate(widths):
            blocks: list[nn.Module] = []
            for b in range(_IMAGENET_BLOCKS[depth][i]):
                stride = 2 if (i > 0 and b == 0) else 1
                if depth == 50:
                    blocks.append(Bottleneck(c_in, width, stride))
                    c_in = width * Bottleneck.expansion
                else:
                    blocks.append(BasicBlock(c_in, width, stride))
                    c_in = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(c_in, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.flatten(self.pool(x)))


def _init_weights(model: nn.Module) -> None:
    # He (Kaiming) normal initialisation for convolutions, as in He et al. 2016; BN starts at identity.
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build_model(spec: ModelSpec | str) -> nn.Module:
    """Build a zoo model from its spec or name (randomly initialised from torch's current RNG state).

    Seed with ``torch.manual_seed`` first for a reproducible initialisation.
    """
    if isinstance(spec, str):
        spec = model_spec(spec)
    if spec.arch == "cifar_resnet":
        return CifarResNet(spec.depth, spec.widths, spec.in_channels, spec.num_classes)
    if spec.arch == "imagenet_resnet":
        return ImageNetResNet(spec.depth, spec.widths, spec.in_channels, spec.num_classes)
    if spec.arch == "vit":
        if len(spec.widths) != 1:
            raise ValueError(f"widths(={spec.widths}) must be one token width for a ViT")
        return VisionTransformer(
            image_size=VIT_IMAGE_SIZE,
            patch=spec.patch,
            dim=spec.widths[0],
            depth=spec.depth,
            heads=spec.heads,
            mlp_dim=spec.mlp_dim,
            in_channels=spec.in_channels,
            num_classes=spec.num_classes,
        )
    raise ValueError(f"arch(={spec.arch!r}) must be 'cifar_resnet', 'imagenet_resnet' or 'vit'")


def count_weights(model: nn.Module) -> int:
    """Number of analog weights: parameters of every Conv2d and Linear (biases included)."""
    return sum(
        p.numel()
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
        for p in m.parameters(recurse=False)
    )
