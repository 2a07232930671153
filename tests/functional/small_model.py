"""The small model the functional tests share: every kind of node a ResNet has, in a few weights."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Small", "model_and_data"]


class Small(nn.Module):
    """Conv-BN-ReLU, a residual add, pooling and a Linear with bias: every kind of node."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)) + y)
        return self.fc(self.pool(y).flatten(1))


def model_and_data(seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    model = Small()
    # Give batch-norm non-trivial statistics so the digital path matters.
    model.train()
    with torch.no_grad():
        model(torch.randn(64, 3, 8, 8))
    return model.eval(), torch.randn(32, 3, 8, 8)
