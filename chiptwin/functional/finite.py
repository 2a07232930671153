"""Where a non-finite number on a chip comes from: the layer and block to name in the error.

A NaN or inf in a forward pass is a bug or a non-physical state, never a result: argmax of NaN logits
is class 0, which looks like a chance-level accuracy. :func:`check_logits` raises instead, naming the
first place the non-finite value appears: a block's periphery state (GDC factor, ADC range, scale), a
batch-norm's statistics, or the first module whose output is not finite.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from chiptwin.errors import DeviceError
from chiptwin.functional.analog_layer import AnalogLayer
from chiptwin.functional.chip import AnalogChip

__all__ = ["check_logits", "non_finite_origin"]


def _block_state(name: str, layer: AnalogLayer) -> str | None:
    for group in layer.row_groups:
        for attr in ("gdc_alpha", "gdc_reference", "adc_range", "beta"):
            value: Tensor = getattr(group, attr)
            bad = (~torch.isfinite(value)).nonzero()
            if not bad.numel():
                continue
            index = int(bad[0, 0])
            if attr == "gdc_reference":
                c0, c1 = group.col_blocks[index]
            else:
                c0, c1 = next((a, b) for a, b in group.col_blocks if a <= index < b)
            return (
                f"layer {name!r} block rows [{group.row_start}, {group.row_stop}) cols [{c0}, {c1}) "
                f"replica {group.replica}: {attr} is {float(value[index])}"
            )
    return None


@torch.no_grad()
def non_finite_origin(model: nn.Module, batch: Tensor) -> str:
    """The first place a non-finite value appears when ``model`` computes ``batch`` (for an error text)."""
    root = model.model if isinstance(model, AnalogChip) else model  # name layers as the user's model does
    for name, m in root.named_modules():
        if isinstance(m, AnalogLayer):
            found = _block_state(name, m)
            if found is not None:
                return found
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            for stat in ("running_mean", "running_var"):
                value = getattr(m, stat)
                if value is not None and not bool(torch.isfinite(value).all()):
                    return f"batch-norm {name!r}: {stat} is not finite"
    if not bool(torch.isfinite(batch).all()):
        return "the input images are not finite"
    first: list[str] = []

    def hook(module: nn.Module, args: object, out: object) -> None:
        if not first and isinstance(out, Tensor) and not bool(torch.isfinite(out).all()):
            first.append(names[id(module)])

    names = {id(m): n for n, m in root.named_modules()}
    handles = [m.register_forward_hook(hook) for m in root.modules() if not list(m.children())]
    try:
        model(batch)
    finally:
        for h in handles:
            h.remove()
    if first:
        return f"layer {first[0]!r} computes a non-finite output"
    return "the logits are not finite (not reproduced on a second pass)"


def check_logits(model: nn.Module, batch: Tensor, logits: Tensor) -> None:
    """Raise if ``logits`` (``model`` on ``batch``) hold a NaN or inf.

    Raises:
        DeviceError: names the layer and block (or batch-norm) where the non-finite value starts.
    """
    if not bool(torch.isfinite(logits).all()):
        age = getattr(model, "age_s", None)
        at = f" at device age {age:g} s" if isinstance(age, float) else ""
        raise DeviceError(f"non-finite logits{at}: {non_finite_origin(model, batch)}")
