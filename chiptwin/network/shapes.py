"""Output shapes and op counts of the operations the layer graph supports, from hyper-parameters.

Shapes here include the batch dimension first (the caller traces with a batch of 2 and strips it);
formulas follow the torch.nn documentation of Conv2d, Linear, MaxPool2d/AvgPool2d (with ``ceil_mode``)
and the adaptive pools. Op counts follow :mod:`chiptwin.spec.graph`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from chiptwin.errors import MappingError
from chiptwin.spec.graph import LayerSpec

__all__ = [
    "analog_layer",
    "bind_args",
    "pair",
    "permute_output",
    "pool_output",
    "reshape_output",
    "window_out",
]

_WINDOW_PARAMS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
"""Parameters of ``F.max_pool2d`` after the input, in order (and the attributes of ``nn.MaxPool2d``)."""

_AVG_PARAMS = ("kernel_size", "stride", "padding", "ceil_mode")
"""Parameters of ``F.avg_pool2d`` after the input, in order."""


def pair(value: Any) -> tuple[int, int]:
    """A kernel, stride or padding argument as (height, width)."""
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[-1])


def window_out(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """Output positions of a sliding window (kernel k, stride s, padding p, dilation d) over ``size``."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside the input
        out -= 1
    return out


def bind_args(args: Sequence[Any], kwargs: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """Name the arguments after the input of a call: ``args[1:]`` in the order ``names``, then kwargs."""
    bound = dict(zip(names, args[1:], strict=False))
    bound.update({k: v for k, v in kwargs.items() if k in names})
    return bound


def analog_layer(name: str, m: nn.Module | None, x: tuple[int, ...], where: str) -> LayerSpec:
    """The record of a Conv2d or Linear module ``m`` called on a tensor of shape ``x`` (batch first).

    Raises:
        MappingError: the input shape does not fit the module (message starts with ``where``).
    """
    if isinstance(m, nn.Linear):
        if x[-1] != m.in_features:
            raise MappingError(f"{where}: expects {m.in_features} input features, gets shape {x[1:]}")
        out = (*x[:-1], m.out_features)
        mvms = math.prod(out[1:-1])
        return LayerSpec(
            name=name,
            kind="linear",
            analog=True,
            input_shape=tuple(x[1:]),
            output_shape=tuple(out[1:]),
            in_channels=m.in_features,
            out_channels=m.out_features,
            kernel_h=1,
            kernel_w=1,
            stride=(1, 1),
            padding=(0, 0),
            groups=1,
            has_bias=m.bias is not None,
            rows=m.in_features,
            cols=m.out_features,
            mvms_per_inference=mvms,
            ops_per_inference=m.in_features * m.out_features * mvms,
        )
    if not isinstance(m, nn.Conv2d):
        raise MappingError(f"{where}: not a Conv2d or Linear module")
    if len(x) != 4 or x[1] != m.in_channels:
        raise MappingError(f"{where}: expects {m.in_channels} input channels, gets shape {x[1:]}")
    (kh, kw), (sh, sw), (dh, dw) = m.kernel_size, m.stride, m.dilation
    if isinstance(m.padding, str):  # "valid" or "same" (stride 1)
        ph, pw = (0, 0) if m.padding == "valid" else (dh * (kh - 1) // 2, dw * (kw - 1) // 2)
        h, w = (x[2] - dh * (kh - 1), x[3] - dw * (kw - 1)) if m.padding == "valid" else (x[2], x[3])
    else:
        ph, pw = m.padding
        h, w = window_out(x[2], kh, sh, ph, dh, False), window_out(x[3], kw, sw, pw, dw, False)
    if h < 1 or w < 1:
        raise MappingError(f"{where}: input {x[1:]} is smaller than the kernel ({kh}x{kw})")
    rows = m.in_channels // m.groups * kh * kw
    return LayerSpec(
        name=name,
        kind="conv",
        analog=True,
        input_shape=tuple(x[1:]),
        output_shape=(m.out_channels, h, w),
        in_channels=m.in_channels,
        out_channels=m.out_channels,
        kernel_h=kh,
        kernel_w=kw,
        stride=(sh, sw),
        padding=(ph, pw),
        groups=m.groups,
        has_bias=m.bias is not None,
        rows=rows,
        cols=m.out_channels,
        mvms_per_inference=h * w,
        ops_per_inference=rows * m.out_channels * h * w,
    )


def pool_output(target: Any, x: tuple[int, ...], args: Any, kwargs: Any) -> tuple[tuple[int, ...], int]:
    """Output shape (batch first) and op count per image of a pooling module or ``F.`` function."""
    adaptive = isinstance(target, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d) or target in (
        F.adaptive_avg_pool2d,
        F.adaptive_max_pool2d,
    )
    if adaptive:
        size: Any = (
            target.output_size
            if isinstance(target, nn.Module)
            else bind_args(args, kwargs, ("output_size",))["output_size"]
        )
        sizes = (size, size) if isinstance(size, int) else tuple(size)
        out = (*x[:-2], *(x[-2 + i] if s is None else int(s) for i, s in enumerate(sizes)))
        return out, math.prod(x[1:])
    if isinstance(target, nn.Module):
        p = {name: getattr(target, name) for name in _WINDOW_PARAMS if hasattr(target, name)}
    else:
        p = bind_args(args, kwargs, _WINDOW_PARAMS if target is F.max_pool2d else _AVG_PARAMS)
    k = pair(p["kernel_size"])
    s = pair(p.get("stride") or p["kernel_size"])
    pad, d = pair(p.get("padding", 0)), pair(p.get("dilation", 1))
    ceil_mode = bool(p.get("ceil_mode", False))
    out = (*x[:-2], *(window_out(x[-2 + i], k[i], s[i], pad[i], d[i], ceil_mode) for i in range(2)))
    return out, k[0] * k[1] * math.prod(out[1:])


def reshape_output(
    target: Any, module: nn.Module | None, x: tuple[int, ...], args: Any, kwargs: Any
) -> tuple[int, ...]:
    """Output shape of a flatten (module, ``torch.flatten``, ``.flatten()``) or ``.view()``/``.reshape()``.

    ``target`` is the fx node's target (the function or the method name); ``args`` start with the input.
    """
    if isinstance(module, nn.Flatten):
        start, end = module.start_dim, module.end_dim
    elif target in (torch.flatten, "flatten"):
        bound = bind_args(args, kwargs, ("start_dim", "end_dim"))
        start, end = bound.get("start_dim", 0), bound.get("end_dim", -1)
    if isinstance(module, nn.Flatten) or target in (torch.flatten, "flatten"):
        start, end = start % len(x), end % len(x)
        return (*x[:start], math.prod(x[start : end + 1]), *x[end + 1 :])
    dims = args[1] if len(args) == 2 and isinstance(args[1], tuple | list) else args[1:]
    dims = [int(d) for d in dims]
    if dims.count(-1) == 1:
        known = math.prod(d for d in dims if d != -1)
        dims[dims.index(-1)] = math.prod(x) // known if known else 0
    return tuple(dims)


def permute_output(target: Any, x: tuple[int, ...], args: Any, kwargs: Any) -> tuple[int, ...]:
    """Output shape of a transpose (``.transpose(d0, d1)``, ``torch.transpose``) or a permute
    (``.permute(*dims)``, ``torch.permute``); ``args`` start with the input shape."""
    if target in (torch.transpose, "transpose"):
        bound = bind_args(args, kwargs, ("dim0", "dim1"))
        d0, d1 = int(bound["dim0"]) % len(x), int(bound["dim1"]) % len(x)
        out = list(x)
        out[d0], out[d1] = out[d1], out[d0]
        return tuple(out)
    dims = args[1] if len(args) == 2 and isinstance(args[1], tuple | list) else args[1:]
    if not dims:
        dims = kwargs.get("dims", ())
    order = [int(d) % len(x) for d in dims]
    if sorted(order) != list(range(len(x))):
        return ()  # not a permutation: the caller reports the shapes
    return tuple(x[d] for d in order)
