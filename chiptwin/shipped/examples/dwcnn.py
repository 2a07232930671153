"""A small MobileNet-style CNN for Fashion-MNIST: an example model file (chiptwin.network.model_file).

A model file is a network of your own for chiptwin's command line; this one ships with chiptwin, so
``dwcnn.py`` finds it from any folder (a ``dwcnn.py`` of your own in the current folder wins). Every
command that takes a zoo model or a checkpoint takes it::

    chiptwin map --model dwcnn.py --strategy packed
    chiptwin timing --model dwcnn.py --strategy packed
    chiptwin evaluate --checkpoint dwcnn.py --strategy packed --ages 1h,1d --seeds 2
    chiptwin run dwcnn_retention --model dwcnn.py

(``packed``: each depthwise layer is one small block per channel, 229 blocks in all, more than a
chip's tiles if every block had a tile of its own as ``dense`` places them.)

chiptwin imports the file and calls ``build_model()`` (another function: ``dwcnn.py:NAME``);
``DATASET`` says which images it was trained on. ``python dwcnn.py`` (in its folder) trains it (3 epochs of
AdamW on the 60,000 Fashion-MNIST training images from Debian's dataset-fashion-mnist, seed 0: ~10 min
of one core; 89.40 % on the 10,000 test images) and writes ``dwcnn.safetensors`` next to this file,
the weights ``build_model`` loads.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

DATASET = "fashion-mnist"
WEIGHTS = Path(__file__).with_name("dwcnn.safetensors")


def _separable(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    """Depthwise 3x3 (one filter per channel) then pointwise 1x1, each with batch-norm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_in, 3, stride=stride, padding=1, groups=c_in, bias=False),
        nn.BatchNorm2d(c_in),
        nn.ReLU(),
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


class DWCNN(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU())
        self.blocks = nn.Sequential(_separable(32, 64, 1), _separable(64, 128, 2), _separable(128, 128, 2))
        self.head = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))


def build_model() -> nn.Module:
    """The trained network (``python dwcnn.py`` writes its weights)."""
    model = DWCNN()
    model.load_state_dict(load_file(str(WEIGHTS)))
    return model


def _train(epochs: int = 3, seed: int = 0) -> None:
    import chiptwin as ct

    torch.manual_seed(seed)
    torch.set_flush_denormal(True)
    train_x, train_y = ct.load_images(DATASET, "train", directory="/usr/share/datasets/fashion-mnist")
    test_x, test_y = ct.load_images(DATASET, "test")
    model = DWCNN().to(memory_format=torch.channels_last)
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * (len(train_x) // 128)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=2e-3, total_steps=steps)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(train_x))
        for i in range(len(train_x) // 128):
            idx = order[i * 128 : (i + 1) * 128]
            loss = nn.functional.cross_entropy(model(train_x[idx]), train_y[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        model.eval()
        print(f"epoch {epoch + 1}/{epochs}: test accuracy {ct.accuracy(model, (test_x, test_y)):.4f}")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(WEIGHTS))
    print(f"wrote {WEIGHTS}")


if __name__ == "__main__":
    _train()
