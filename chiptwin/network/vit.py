"""A small vision transformer whose weights all sit on crossbars and whose attention runs digitally.

The architecture is the ViT of Dosovitskiy et al., "An image is worth 16x16 words" (ICLR 2021,
section 3.1, eqs. 1-4): non-overlapping patches embedded by one linear map (here a ``Conv2d`` with
kernel and stride equal to the patch size, which is that linear map), a learned position embedding,
``depth`` pre-norm encoder blocks of multi-head self-attention and a two-layer GELU MLP, each with a
residual add, and a final LayerNorm. Two choices differ from the paper and are common for small ViTs:
the classifier reads the mean over the tokens instead of a class token, and there is no dropout.

On the chip (chiptwin's mapping, the issue "bring your own model"):

- analog, on crossbars: the patch embedding, the Q, K, V and output projections of every attention
  block, both MLP layers and the classifier (every ``nn.Conv2d`` / ``nn.Linear``);
- digital, on the tiles' digital units: the position-embedding add, LayerNorm, the activation-by-
  activation products ``Q K^T`` and ``attention x V``, the 1/sqrt(d) scale, softmax, GELU, the residual
  adds and the token mean. Their op counts are in :mod:`chiptwin.spec.graph`.

Q, K and V are three ``nn.Linear`` (not one fused ``3d x d`` matrix), so each is one layer of the layer
graph with its own converters, as on a chip that programs them into separate crossbar blocks.

Every operation is one torch.fx can trace and :mod:`chiptwin.network.graph` can place.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["Attention", "EncoderBlock", "PatchEmbedding", "VisionTransformer"]


class PatchEmbedding(nn.Module):
    """Cut the image into ``patch x patch`` patches and embed each linearly: (B, C, H, W) -> (B, N, dim)."""

    def __init__(self, in_channels: int, dim: int, patch: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention (Vaswani et al., NeurIPS 2017, eq. 1 and section 3.2.2)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim(={dim}) must be a multiple of heads(={heads})")
        self.heads, self.head_dim = heads, dim // heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        # (B, N, dim) -> (B, heads, N, head_dim)
        return x.reshape(x.shape[0], x.shape[1], self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))
        scores = (q @ k.transpose(-2, -1)) * self.scale
        out = scores.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1))


class EncoderBlock(nn.Module):
    """Pre-norm transformer encoder block (Dosovitskiy et al. 2021, eqs. 2-3)."""

    def __init__(self, dim: int, heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(mlp_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(self.act(self.fc1(self.norm2(x))))


class VisionTransformer(nn.Module):
    """ViT for ``image_size`` square images: ``(image_size / patch)^2`` tokens of width ``dim``."""

    def __init__(
        self,
        *,
        image_size: int,
        patch: int,
        dim: int,
        depth: int,
        heads: int,
        mlp_dim: int,
        in_channels: int = 1,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        for key, value in {
            "patch": patch,
            "dim": dim,
            "depth": depth,
            "heads": heads,
            "mlp_dim": mlp_dim,
        }.items():
            if value < 1:
                raise ValueError(f"{key}(={value}) must be >= 1")
        if image_size % patch:
            raise ValueError(f"patch(={patch}) must divide the image size {image_size}")
        tokens = (image_size // patch) ** 2
        self.embed = PatchEmbedding(in_channels, dim, patch)
        self.pos = nn.Parameter(torch.zeros(1, tokens, dim))
        self.blocks = nn.Sequential(*(EncoderBlock(dim, heads, mlp_dim) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.embed(x) + self.pos)
        return self.head(self.norm(x).mean(dim=1))


def _init_weights(model: VisionTransformer) -> None:
    # Truncated normal (std 0.02) for linear maps and the position embedding, zero biases, LayerNorm at
    # identity: the initialisation of the ViT reference implementation (Dosovitskiy et al. 2021).
    nn.init.trunc_normal_(model.pos, std=0.02)
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
