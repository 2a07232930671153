"""Gaussian noise for the periphery's output noise, drawn at the speed of a few memory passes.

Every MVM output of a chip with ``adc.output_noise`` takes one Gaussian draw per read. On a CPU,
``Tensor.normal_`` draws them from one Mersenne-Twister stream on one thread, ~3.5 ns per draw on the
2-core development machine: for ResNet-32 on ``hermes_64`` (33 million draws per batch of 100 images)
more than the whole plain forward pass. Here the draws are counter-based, computed by a loop the
compiler vectorises (numba, SIMD), split over threads without changing a single draw:

- **bits**: draw pair ``c`` (a 64-bit word) is ``splitmix64(key + (c + 1) * 0x9E3779B97F4A7C15)``
  (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014: the SplitMix64
  stream, which passes BigCrush). ``key`` is one 64-bit integer drawn from the caller's
  ``torch.Generator`` per call, so a chip's read noise stays deterministic per seed, and two calls are
  two streams: they overlap only if their keys fall within the draw count of each other in the SplitMix
  sequence (probability ~1e-12 per pair of calls at 10 million draws).
- **Gaussian**: Box-Muller (Box and Muller, Ann. Math. Statist. 29, 610 (1958)): the word's high 32 bits
  give ``u = (k + 1/2) / 2**32`` and the radius ``sqrt(-2 ln u)`` (tails to 6.76 standard deviations);
  the low 30 bits an angle in the first quadrant and the top 2 bits the signs of its cosine and sine
  (reflections of a uniform quarter circle cover the circle uniformly). ``ln``, ``sin`` and ``cos`` are
  polynomials accurate to float32 rounding (an atanh series after splitting off the exponent; Taylor
  series on [0, pi/2]), so the loop has no calls and vectorises.
- **order**: the output is cut into blocks of ``2 * _BLOCK`` draws; in a block, draws ``p`` and
  ``p + half`` are the cosine and sine of pair ``block * _BLOCK + p``. Threads take whole blocks, so the
  result is the same for any thread count. The draws fill a buffer in the output's memory order and are
  added, scaled per column, in one more pass.

Tensors that are not float32 on the CPU, or a machine without numba, fall back to ``Tensor.normal_``
(a GPU draws with its own Philox generator): same statistics, another stream.
``tests/functional/test_gaussian.py`` checks moments, a Kolmogorov-Smirnov test, the tails,
correlations between neighbouring outputs, the two halves of a pair, calls and columns, determinism and
thread independence.
"""

from __future__ import annotations

import functools
import itertools
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["add_gaussian_", "fast_path_available", "standard_normal"]

_BLOCK = 4096
"""Draw pairs per block (``_gaussian_kernels.BLOCK``): blocks of 8,192 draws are the unit of threads."""

_MIN_SPLIT = 1 << 16
"""Draws per thread below which a call runs on the calling thread alone (assumed: the ~20 us of a
thread hand-off is a few per cent of 64 K draws)."""


@functools.cache
def _kernels() -> tuple[Callable[..., None], Callable[..., Any], Callable[..., Any]] | None:
    """The compiled fill kernel and its ``ln`` and ``sincos`` (for the tests), or None without numba."""
    try:
        from chiptwin.functional import _gaussian_kernels as k
    except ImportError:  # pragma: no cover - numba is a dependency; kept for unusual installs
        return None
    except RuntimeError as exc:  # pragma: no cover - numba finds no writable cache folder
        warnings.warn(
            f"chiptwin: the output-noise kernel is not available ({exc}); drawing with torch instead "
            "(set NUMBA_CACHE_DIR to a writable folder)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return k.fill, k.ln, k.sincos


def fast_path_available() -> bool:
    """Whether the counter-based CPU kernel is available (numba installed)."""
    return _kernels() is not None


@functools.cache
def _pool(workers: int, pid: int) -> ThreadPoolExecutor:
    # One pool per process (``pid``): a forked child inherits the cache but not the pool's threads.
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chiptwin-noise")


def _draw_key(generator: torch.Generator) -> np.uint64:
    # One 64-bit integer from the caller's generator: all 2**64 keys reachable.
    bits = torch.randint(-(2**63), 2**63 - 1, (1,), dtype=torch.int64, generator=generator)
    return np.uint64(int(bits) & 0xFFFFFFFFFFFFFFFF)


def standard_normal(n: int, generator: torch.Generator) -> Tensor:
    """``n`` independent N(0, 1) float32 draws (a CPU tensor), keyed by one draw of ``generator``."""
    kernels = _kernels()
    if kernels is None:  # pragma: no cover - numba is a dependency
        return torch.empty(n).normal_(generator=generator)
    fill = kernels[0]
    out = torch.empty(n, dtype=torch.float32)
    key = _draw_key(generator)
    blocks = -(-n // (2 * _BLOCK))
    parts = max(1, min(torch.get_num_threads(), blocks, n // _MIN_SPLIT))
    target = out.numpy()
    if parts == 1:
        fill(target, key, 0, blocks)
        return out
    bounds = [blocks * k // parts for k in range(parts + 1)]
    jobs = [
        _pool(parts, os.getpid()).submit(fill, target, key, j0, j1) for j0, j1 in itertools.pairwise(bounds)
    ]
    for job in jobs:
        job.result()
    return out


def add_gaussian_(
    y: Tensor, scale: Tensor | float, generator: torch.Generator, channel_dim: int = -1
) -> Tensor:
    """Add ``scale * N(0, 1)`` to every element of ``y`` in place and return ``y``.

    Args:
        y: the outputs, any shape and layout (a Conv2d's ``(N, C, H, W)``, contiguous or channels_last;
            a Linear's columns last).
        scale: the std: one float, one per column (``y.shape[channel_dim]`` values), or a tensor that
            broadcasts against ``y``.
        generator: the stream the draws are keyed from (one 64-bit key per call on the fast path).
        channel_dim: the axis of the columns (1 for a Conv2d's output, -1 for a Linear's).
    """
    if isinstance(scale, Tensor) and scale.dim() <= 1 and scale.numel() == y.shape[channel_dim] > 1:
        shape = [1] * y.dim()
        shape[channel_dim] = -1
        scale = scale.view(shape)
    dense = y.is_contiguous() or (y.dim() == 4 and y.is_contiguous(memory_format=torch.channels_last))
    if dense and y.device.type == "cpu" and y.dtype == torch.float32 and fast_path_available():
        # Drawn in y's memory order and viewed with its strides (the draws are i.i.d.).
        noise = standard_normal(y.numel(), generator).as_strided(y.size(), y.stride())
    elif dense:
        flat = torch.empty(y.numel(), dtype=y.dtype, device=y.device).normal_(generator=generator)
        noise = flat.as_strided(y.size(), y.stride())  # normal_ on channels_last is ~7x slower
    else:
        noise = torch.empty(y.shape, dtype=y.dtype, device=y.device).normal_(generator=generator)
    if isinstance(scale, Tensor):
        return y.addcmul_(noise, scale)  # one pass over y
    return y.add_(noise, alpha=float(scale))
