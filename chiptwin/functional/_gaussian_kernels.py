"""The compiled kernels of :mod:`chiptwin.functional.gaussian` (numba), imported on first use so that
``import chiptwin`` does not import numba. Module-level functions, so numba's on-disk cache holds them
(``cache=True``): a process compiles them once per machine, then loads them.

The algorithm, its order of draws and its sources are described in :mod:`chiptwin.functional.gaussian`.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

__all__ = ["BLOCK", "fill", "ln", "sincos"]

GAMMA = 0x9E3779B97F4A7C15
"""SplitMix64's increment (the odd integer nearest 2**64 / golden ratio; Steele et al. 2014)."""

BLOCK = 4096
"""Draw pairs per block: a block of 8,192 float32 draws (32 KiB) stays in a core's L1/L2 cache."""

u64, f32, i32 = np.uint64, np.float32, np.int32
jit = functools.partial(numba.njit, cache=True, fastmath=True, error_model="numpy")


@intrinsic
def bits_of(typingctx: Any, x: Any) -> Any:  # float32 -> its int32 bit pattern
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def float_of(typingctx: Any, x: Any) -> Any:  # int32 bit pattern -> float32
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


ln2 = f32(math.log(2.0))


@jit(inline="always")
def ln(x: Any) -> Any:
    # x > 0, normal: x = m 2**e with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(t), t = (m-1)/(m+1),
    # |t| <= 0.172, the series to t**9 (next term < 1e-9).
    b: Any = bits_of(x)  # type: ignore[call-arg]  # numba intrinsic: typing context added by numba
    m = float_of((b & i32(0x7FFFFF)) | i32(0x3F800000))
    big = np.int32(m > f32(1.4142135))
    e = (b >> i32(23)) - i32(127) + big
    m = m * (f32(1.0) - f32(0.5) * f32(big))
    t = (m - f32(1.0)) / (m + f32(1.0))
    t2 = t * t
    p = f32(2.0) + t2 * (f32(2 / 3) + t2 * (f32(2 / 5) + t2 * (f32(2 / 7) + t2 * f32(2 / 9))))
    return f32(e) * ln2 + t * p


@jit(inline="always")
def sincos(x: Any) -> Any:
    # x in [0, pi/2]: Taylor series to x**11 and x**12 (remainders < 6e-8 and < 7e-9).
    x2 = x * x
    s = x * (
        f32(1.0)
        + x2
        * (
            f32(-1 / 6)
            + x2 * (f32(1 / 120) + x2 * (f32(-1 / 5040) + x2 * (f32(1 / 362880) + x2 * f32(-1 / 39916800))))
        )
    )
    c = f32(1.0) + x2 * (
        f32(-1 / 2)
        + x2
        * (
            f32(1 / 24)
            + x2
            * (f32(-1 / 720) + x2 * (f32(1 / 40320) + x2 * (f32(-1 / 3628800) + x2 * f32(1 / 479001600))))
        )
    )
    return s, c


quarter = f32((math.pi / 2) * 2.0**-30)


@jit(inline="always")
def pair(key: Any, counter: Any) -> Any:
    h = key + u64(counter + 1) * u64(GAMMA)
    h = (h ^ (h >> u64(30))) * u64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> u64(27))) * u64(0x94D049BB133111EB)
    h = h ^ (h >> u64(31))
    u = (f32(np.int64(h >> u64(32))) + f32(0.5)) * f32(2.0**-32)
    r2 = f32(-2.0) * ln(u)
    radius = np.sqrt(r2 * f32(np.int32(r2 > f32(0.0))))  # u rounds up to 1 at most: radius 0
    low = np.int64(h & u64(0xFFFFFFFF))
    s, c = sincos((f32(low & 0x3FFFFFFF) + f32(0.5)) * quarter)
    sign_c = f32(1.0) - f32(2.0) * f32((low >> 31) & 1)
    sign_s = f32(1.0) - f32(2.0) * f32((low >> 30) & 1)
    return radius * c * sign_c, radius * s * sign_s


@jit(nogil=True)
def fill_block(view: Any, key: Any, base: int, half: int) -> None:
    # One block, its own function: with the block's offset in the index the loop did not vectorise.
    for p in range(half):
        a, b = pair(key, base + p)
        view[p] = a
        view[p + half] = b


@jit(nogil=True)
def fill(out: Any, key: Any, j0: int, j1: int) -> None:
    # Blocks j0..j1 of out (float32, 1-D): see the module docstring for the order.
    n = out.size
    for j in range(j0, j1):
        lo = j * 2 * BLOCK
        m = min(lo + 2 * BLOCK, n) - lo
        fill_block(out[lo : lo + m], key, j * BLOCK, m // 2)
        if m & 1:  # an odd last block: its last draw from one more pair
            out[lo + m - 1] = pair(key, j * BLOCK + m // 2)[0]
