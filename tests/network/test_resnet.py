"""The ResNet zoo: output shapes, exact weight counts and spec validation."""

from __future__ import annotations

import pytest
import torch

from chiptwin.network.resnet import (
    CIFAR_DEPTHS,
    MODEL_NAMES,
    CifarResNet,
    ImageNetResNet,
    ModelSpec,
    build_model,
    count_weights,
    model_spec,
)

pytestmark = pytest.mark.usefixtures("single_torch_thread")


# ImageNet-style models are built for 224x224 but are fully convolutional up to a global pool, so a
# 64x64 input checks the same graph at ~1/12 of the cost.
_IMAGENET_TEST_SIZE = 64


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_zoo_model_gives_one_logit_per_class(name: str) -> None:
    torch.manual_seed(0)
    spec = model_spec(name)
    model = build_model(name).eval()
    size = _IMAGENET_TEST_SIZE if spec.arch == "imagenet_resnet" else 32
    x = torch.randn(2, spec.in_channels, size, size)
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (2, spec.num_classes)
    assert torch.isfinite(logits).all()


def test_zoo_defaults() -> None:
    # CIFAR-style models default to one input channel (Fashion-MNIST), ImageNet-style ones to RGB.
    assert model_spec("resnet32_pcm") == ModelSpec(
        arch="cifar_resnet", depth=32, widths=(16, 28, 56), in_channels=1, num_classes=10
    )
    assert model_spec("resnet50").num_classes == 1000
    assert model_spec("resnet20", in_channels=3, num_classes=100).in_channels == 3
    assert model_spec("resnet20", in_channels=3, num_classes=100).num_classes == 100


def test_resnet32_pcm_has_the_papers_weight_count() -> None:
    # Hand count for resnet32_pcm (widths 16/28/56, 5 basic blocks per stage, 3x3 kernels, 1x1
    # projection shortcuts at the two down-sampling points, batch-norm excluded), 3 input channels:
    #   conv1                 3*9*16                                          =     432
    #   stage 1 (16 -> 16)    10 convs * 16*16*9 = 10 * 2304                  =  23,040
    #   stage 2 (16 -> 28)    16*28*9 + 28*28*9 + 16*28 + 8 * 28*28*9
    #                         = 4032 + 7056 + 448 + 8*7056                    =  67,984
    #   stage 3 (28 -> 56)    28*56*9 + 56*56*9 + 28*56 + 8 * 56*56*9
    #                         = 14112 + 28224 + 1568 + 8*28224                = 269,696
    #   fc                    56*10 + 10 (bias)                               =     570
    #   total                                                                 = 361,722
    # With 1 input channel only conv1 changes: 1*9*16 = 144, so 361,722 - 432 + 144 = 361,434.
    conv1, stage1 = 3 * 9 * 16, 10 * 2304
    stage2 = 4032 + 7056 + 448 + 8 * 7056
    stage3 = 14112 + 28224 + 1568 + 8 * 28224
    fc = 560 + 10
    assert (conv1, stage1, stage2, stage3) == (432, 23_040, 67_984, 269_696)
    assert conv1 + stage1 + stage2 + stage3 + fc == 361_722

    assert count_weights(build_model(model_spec("resnet32_pcm", in_channels=3))) == 361_722
    assert count_weights(build_model(model_spec("resnet32_pcm", in_channels=1))) == 361_434


def test_resnet32_he_widths_weight_count() -> None:
    # Same hand count with widths 16/32/64:
    #   432 + 23,040 + (4608 + 9216 + 512 + 8*9216) + (18432 + 36864 + 2048 + 8*36864) + 650
    #   = 432 + 23,040 + 88,064 + 352,256 + 650 = 464,442
    assert count_weights(build_model(model_spec("resnet32", in_channels=3))) == 464_442


def test_count_weights_excludes_batch_norm() -> None:
    model = build_model("resnet20")
    everything = sum(p.numel() for p in model.parameters())
    bn = sum(
        p.numel() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters()
    )
    assert count_weights(model) == everything - bn


@pytest.mark.parametrize("depth", [0, 21, 110, 18])
def test_cifar_resnet_rejects_bad_depth(depth: int) -> None:
    assert depth not in CIFAR_DEPTHS
    with pytest.raises(ValueError, match=rf"depth\(={depth}\)"):
        CifarResNet(depth, (16, 32, 64))


@pytest.mark.parametrize("widths", [(16, 32), (16, 32, 64, 128), (16, 0, 64), (-1, 32, 64)])
def test_cifar_resnet_rejects_bad_widths(widths: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"widths\(="):
        CifarResNet(20, widths)


@pytest.mark.parametrize("depth", [20, 32, 101])
def test_imagenet_resnet_rejects_bad_depth(depth: int) -> None:
    with pytest.raises(ValueError, match=rf"depth\(={depth}\)"):
        ImageNetResNet(depth, (64, 128, 256, 512))


@pytest.mark.parametrize("widths", [(64, 128, 256), (64, 128, 0, 512)])
def test_imagenet_resnet_rejects_bad_widths(widths: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"widths\(="):
        ImageNetResNet(18, widths)


def test_build_model_rejects_unknown_arch() -> None:
    with pytest.raises(ValueError, match="vgg"):
        build_model(ModelSpec(arch="vgg", depth=16, widths=(64,)))


def test_unknown_name_raises_key_error_listing_the_known_ones() -> None:
    with pytest.raises(KeyError, match="resnet33"):
        model_spec("resnet33")
    with pytest.raises(KeyError, match="resnet32_pcm"):
        build_model("resnet33")
