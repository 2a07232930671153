"""Gaussian noise added in place at the speed of a memory pass: the periphery's output noise.

Every MVM output of a chip with ``adc.output_noise`` takes one Gaussian draw per read. On a CPU,
``Tensor.normal_`` draws them from one Mersenne-Twister stream on one thread (Box-Muller), ~4-7 ns per
draw on the 2-core development machine: for ResNet-32 on ``hermes_64`` (33 million draws per batch of
100 images) that is more than the whole plain forward pass. Here the draws are counter-based and fused
with the scaled add, one pass over the output, in parallel and independent of the thread count:

- **bits**: draws ``i`` and ``i + 1`` (``i`` even) are the high and low 32 bits of
  ``splitmix64(key + (i + 1) * 0x9E3779B97F4A7C15)`` (Steele, Lea and Flood, "Fast splittable
  pseudorandom number generators", OOPSLA 2014: the SplitMix64 stream, which passes BigCrush). ``key``
  is one 64-bit integer drawn from the caller's ``torch.Generator`` per call, so a chip's read noise
  stays deterministic per seed, and two calls are two streams: they overlap only if their keys fall
  within the draw count of each other in the SplitMix sequence (probability ~1e-12 per pair of calls at
  10 million draws).
- **Gaussian**: inverse-CDF sampling of the 32-bit uniform ``u = (k + 1/2) / 2**32``: the top 16 bits
  pick one of 65,536 equiprobable bins of the standard normal, the low 16 bits interpolate the quantile
  function linearly inside the bin; the two outermost bins use the exact quantiles at 2**-32
  resolution instead (the tails reach 6.34 standard deviations). The quantiles are computed once
  with ``torch.special.ndtri`` in float64.

The result is the same for any number of threads: the counter of an output is its index in memory
order (channels_last and contiguous outputs of one convolution draw different, equally distributed,
noise), never its thread. Tensors that are not float32 on the CPU, or a machine without
numba, fall back to ``Tensor.normal_`` (a GPU draws with its own Philox generator): same statistics,
another stream. ``tests/functional/test_gaussian.py`` checks moments, a Kolmogorov-Smirnov test,
correlations between neighbouring outputs, calls and columns, determinism and thread independence.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["add_gaussian_", "fast_path_available", "quantile_tables"]

_BINS = 1 << 16
"""Equiprobable bins of the inverse-CDF table (the top 16 bits of a 32-bit uniform)."""

_GAMMA = 0x9E3779B97F4A7C15
"""SplitMix64's increment (the odd integer nearest 2**64 / golden ratio; Steele et al. 2014)."""


@functools.cache
def quantile_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The float32 tables of the inverse-CDF sampler: bin starts, slopes per low-16-bit unit, and the
    tail quantiles at 2**-32 resolution (``tail[j]`` = quantile of ``(j + 1/2) / 2**32``)."""
    edges = torch.arange(_BINS + 1, dtype=torch.float64) / _BINS
    start = torch.special.ndtri(edges)  # -inf and +inf at the two ends: those bins use the tail table
    slope = (start[1:] - start[:-1]) / _BINS
    start[0], slope[0], slope[-1] = 0.0, 0.0, 0.0
    tail = torch.special.ndtri((torch.arange(_BINS, dtype=torch.float64) + 0.5) / 2.0**32)
    return (
        start[:_BINS].to(torch.float32).numpy(),
        slope.to(torch.float32).numpy(),
        tail.to(torch.float32).numpy(),
    )


@functools.cache
def _kernel() -> Callable[..., None] | None:
    """The compiled kernel, or None where numba is not installed."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; kept for unusual installs
        return None
    u64 = np.uint64

    @numba.njit(inline="always", cache=True)
    def mix(z: Any) -> Any:
        z = (z ^ (z >> u64(30))) * u64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> u64(27))) * u64(0x94D049BB133111EB)
        return z ^ (z >> u64(31))

    @numba.njit(inline="always", cache=True)
    def normal(u: Any, start: Any, slope: Any, tail: Any) -> Any:
        # u: a 32-bit uniform (uint64). Unsigned indices spare numba its negative-index wraparound.
        b = u >> u64(16)
        lo = u & u64(0xFFFF)
        if b == u64(0):
            return tail[lo]
        if b == u64(0xFFFF):
            return -tail[u64(0xFFFF) - lo]
        return start[b] + slope[b] * (np.float32(lo) + np.float32(0.5))

    @numba.njit(cache=True, nogil=True)
    def add_(y: Any, step: Any, key: Any, mid: int, cols_last: bool, r0: int, r1: int, tables: Any) -> None:
        # y: (rows, inner), C-contiguous; rows r0..r1 of it. cols_last: the column of y[r, k] is k;
        # otherwise it is r % mid (an (outer, columns, positions) tensor with mid columns). The counter
        # of a draw is its index in y flattened, whichever thread computes it.
        start, slope, tail = tables
        n_inner = y.shape[1]
        low = u64(0xFFFFFFFF)
        for row in range(r0, r1):
            base = row * n_inner
            s_row = step[row % mid]
            for k in range(0, n_inner, 2):
                h = mix(key + u64(base + k + 1) * u64(_GAMMA))
                y[row, k] += normal(h >> u64(32), start, slope, tail) * (step[k] if cols_last else s_row)
                if k + 1 < n_inner:  # the hash's low half: the next counter's draw
                    z = normal(h & low, start, slope, tail)
                    y[row, k + 1] += z * (step[k + 1] if cols_last else s_row)

    return add_


def fast_path_available() -> bool:
    """Whether the counter-based CPU kernel is available (numba installed)."""
    return _kernel() is not None


def _draw_key(generator: torch.Generator) -> np.uint64:
    # One 64-bit integer from the caller's generator: all 2**64 keys reachable.
    bits = torch.randint(-(2**63), 2**63 - 1, (1,), dtype=torch.int64, generator=generator)
    return np.uint64(int(bits) & 0xFFFFFFFFFFFFFFFF)


def _rows_view(y: Tensor, channel_dim: int) -> tuple[Tensor, int, bool] | None:
    """``y`` as a C-contiguous (rows, inner) view sharing its memory, the number of columns per row
    cycle (``mid``), and whether the columns are the inner axis; None when the layout is neither
    columns-last nor a convolution's (N, C, H, W) in either memory format."""
    dims = y.dim()
    channel_dim %= dims
    if channel_dim == dims - 1 and y.is_contiguous():
        return y.reshape(-1, y.shape[-1]), 1, True
    if channel_dim == 1 and dims == 4:
        n, c, h, w = y.shape
        if y.is_contiguous(memory_format=torch.channels_last):
            return y.permute(0, 2, 3, 1).reshape(n * h * w, c), 1, True
        if y.is_contiguous():
            return y.reshape(n * c, h * w), c, False
    return None


_MIN_SPLIT = 1 << 16
"""Elements per thread below which a call runs on the calling thread alone (assumed: the ~20 us of a
thread hand-off is ~1 % of 64 K draws)."""


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chiptwin-noise")


def _run(kernel: Callable[..., None], y2: np.ndarray, *args: Any) -> None:
    rows = y2.shape[0]
    parts = max(1, min(torch.get_num_threads(), rows, y2.size // _MIN_SPLIT))
    if parts == 1:
        kernel(y2, *args, 0, rows, quantile_tables())
        return
    bounds = [rows * k // parts for k in range(parts + 1)]
    jobs = [
        _pool(parts).submit(kernel, y2, *args, r0, r1, quantile_tables())
        for r0, r1 in itertools.pairwise(bounds)
    ]
    for job in jobs:
        job.result()


def add_gaussian_(
    y: Tensor, scale: Tensor | float, generator: torch.Generator, channel_dim: int = -1
) -> Tensor:
    """Add ``scale * N(0, 1)`` to every element of ``y`` in place and return ``y``.

    Args:
        y: the outputs; a Conv2d's ``(N, C, H, W)`` (contiguous or channels_last) or anything with its
            columns last.
        scale: the std, one float or one per column (a tensor of ``y.shape[channel_dim]`` values).
        generator: the stream the draws are keyed from (one 64-bit key per call on the fast path).
        channel_dim: the axis of the columns (1 for a Conv2d's output, -1 for a Linear's).
    """
    cols = y.shape[channel_dim]
    if isinstance(scale, Tensor) and scale.numel() not in (1, cols):
        # A std per output (e.g. per input vector and column): unit draws, then the product.
        return y.add_(add_gaussian_(torch.zeros_like(y), 1.0, generator, channel_dim).mul_(scale))
    kernel = _kernel()
    view = _rows_view(y, channel_dim) if y.device.type == "cpu" and y.dtype == torch.float32 else None
    if kernel is not None and view is not None and not y.requires_grad:
        step = (
            scale.detach().to(torch.float32).expand(cols).contiguous()
            if isinstance(scale, Tensor)
            else torch.full((cols,), float(scale), dtype=torch.float32)
        )
        y2, mid, cols_last = view
        if y2.numel():
            _run(kernel, y2.numpy(), step.numpy(), _draw_key(generator), mid, cols_last)
        return y
    # Fallback: torch's own generator (a GPU's Philox; a CPU's Mersenne Twister). Drawn into a flat
    # buffer viewed with y's strides: normal_ on a channels_last tensor is ~7x slower than on a
    # contiguous one (the draws are i.i.d., so the layout does not matter).
    if y.dim() == 4 and y.is_contiguous(memory_format=torch.channels_last):
        flat = torch.empty(y.numel(), dtype=y.dtype, device=y.device).normal_(generator=generator)
        noise = flat.as_strided(y.size(), y.stride())
    else:
        noise = torch.empty(y.shape, dtype=y.dtype, device=y.device).normal_(generator=generator)
    if isinstance(scale, Tensor):
        shape = [1] * y.dim()
        shape[channel_dim] = -1
        noise.mul_(scale.view(shape))
    else:
        noise.mul_(scale)
    return y.add_(noise)
