"""Top-1 accuracy of a model over batches: the one accuracy loop (digital models and programmed chips).

A NaN or inf among the logits is never an accuracy (argmax of NaN logits is class 0, a chance-level
"result"): the loop refuses it, by default with a :class:`~chiptwin.errors.DataError`; the functional
twin passes its own check, which names the layer and block where the value starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from chiptwin.errors import DataError

__all__ = ["refuse_non_finite", "top1_accuracy"]


def refuse_non_finite(batch: Tensor, logits: Tensor) -> None:
    """The default check of :func:`top1_accuracy`.

    Raises:
        DataError: ``logits`` hold a NaN or inf.
    """
    if not bool(torch.isfinite(logits).all()):
        bad = int((~torch.isfinite(logits)).any(1).sum())
        raise DataError(f"the model computes non-finite logits for {bad} of {logits.shape[0]} images")


@torch.no_grad()
def top1_accuracy(
    model: nn.Module,
    batches: Iterable[tuple[Tensor, Tensor]],
    *,
    check: Callable[[Tensor, Tensor], None] = refuse_non_finite,
) -> float:
    """Fraction of images whose largest logit is their label, over ``(images, labels)`` batches.

    ``check(images, logits)`` runs on every batch before it is counted.

    Raises:
        DataError: no images (or whatever ``check`` raises).
    """
    correct = seen = 0
    for images, labels in batches:
        logits = model(images)
        check(images, logits)
        correct += int((logits.argmax(1) == labels.to(logits.device)).sum())
        seen += int(labels.shape[0])
    if not seen:
        raise DataError("accuracy of 0 images")
    return correct / seen
