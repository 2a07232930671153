"""The periphery's output-noise draws (chiptwin.functional.gaussian): Gaussian with the requested std,
independent across outputs, columns and calls, deterministic per seed and per thread count."""

from __future__ import annotations

import math
import os
import select
import signal

import numpy as np
import pytest
import torch

from chiptwin.functional import gaussian
from chiptwin.functional.gaussian import add_gaussian_

pytestmark = pytest.mark.skipif(not gaussian.fast_path_available(), reason="numba not installed")


def _draws(shape: tuple[int, ...], seed: int = 0, channel_dim: int = -1, **kw: object) -> torch.Tensor:
    y = torch.zeros(shape, **kw)  # type: ignore[arg-type]
    return add_gaussian_(y, 1.0, torch.Generator().manual_seed(seed), channel_dim)


def test_moments_of_a_million_draws() -> None:
    z = _draws((1000, 1000)).double().flatten()
    n = z.numel()
    mean, var = float(z.mean()), float(z.var())
    kurt = float(((z - mean) ** 4).mean() / var**2)
    # Sampling errors of a true N(0, 1): mean 1/sqrt(n), variance sqrt(2/n), kurtosis sqrt(24/n); 5 of each.
    assert abs(mean) < 5 / math.sqrt(n)
    assert abs(var - 1.0) < 5 * math.sqrt(2 / n)
    assert abs(kurt - 3.0) < 5 * math.sqrt(24 / n)


def test_kolmogorov_smirnov_against_the_normal_cdf() -> None:
    z, _ = _draws((200_000,)).double().sort()
    n = z.numel()
    cdf = torch.special.ndtr(z)
    ranks = torch.arange(1, n + 1, dtype=torch.float64) / n
    d = float(torch.maximum(ranks - cdf, cdf - (ranks - 1 / n)).max())
    assert d < 1.63 / math.sqrt(n)  # the 1 % critical value of the KS statistic


def test_tails_follow_the_normal_distribution() -> None:
    z = _draws((4_000_000,)).double()
    n = z.numel()
    for k in (2.0, 3.0, 4.0):
        p = 2 * float(torch.special.ndtr(torch.tensor(-k, dtype=torch.float64)))
        count = int((z.abs() > k).sum())
        assert abs(count - n * p) < 5 * math.sqrt(n * p), (k, count, n * p)


def test_polynomial_ln_sin_cos_are_exact_to_float32() -> None:
    kernels = gaussian._kernels()
    assert kernels is not None
    _, ln, sincos = kernels
    for u in (2.0**-33, 1e-20, 1e-6, 0.1, 0.5, 0.7071, 0.7072, 0.999, 1 - 2**-24):
        assert float(ln(np.float32(u))) == pytest.approx(math.log(float(np.float32(u))), rel=3e-7, abs=1e-7)
    for x in np.linspace(0.0, math.pi / 2, 101, dtype=np.float32):
        s, c = sincos(x)
        assert float(s) == pytest.approx(math.sin(float(x)), abs=2e-7)
        assert float(c) == pytest.approx(math.cos(float(x)), abs=2e-7)


def test_block_order_and_odd_lengths() -> None:
    # A block of 2 * _BLOCK draws holds pairs (p, p + half); an odd total takes one more pair's first
    # draw. The first n draws do not depend on how many follow.
    n = 2 * gaussian._BLOCK
    whole = _draws((3 * n,))
    assert torch.equal(_draws((n,)), whole[:n])
    odd = _draws((n + 7,))
    assert torch.equal(odd[:n], whole[:n])
    assert torch.isfinite(odd).all() and odd[n:].abs().max() > 0


def test_neighbouring_outputs_and_calls_are_uncorrelated() -> None:
    gen = torch.Generator().manual_seed(3)
    a = add_gaussian_(torch.zeros(500, 1000), 1.0, gen)
    b = add_gaussian_(torch.zeros(500, 1000), 1.0, gen)  # the next read: a new key
    n = a.numel()

    def corr(u: torch.Tensor, v: torch.Tensor) -> float:
        u, v = u.double().flatten(), v.double().flatten()
        return float(((u - u.mean()) * (v - v.mean())).mean() / (u.std() * v.std()))

    bound = 5 / math.sqrt(n / 2)
    half = gaussian._BLOCK
    flat = a.flatten()[: (n // (2 * half)) * 2 * half].view(-1, 2, half)
    assert abs(corr(flat[:, 0], flat[:, 1])) < bound  # cosine and sine of one pair
    assert abs(corr(a[:, 0::2], a[:, 1::2])) < bound  # neighbours
    assert abs(corr(a[:-1], a[1:])) < 2 * bound  # neighbouring rows
    assert abs(corr(a, b)) < 2 * bound  # two calls
    assert not torch.equal(a, b)


def test_std_per_column_in_both_convolution_layouts() -> None:
    scale = torch.tensor([0.5, 1.0, 2.0, 0.0])
    for fmt in (torch.contiguous_format, torch.channels_last):
        y = torch.zeros(400, 4, 16, 16).contiguous(memory_format=fmt)
        add_gaussian_(y, scale, torch.Generator().manual_seed(1), channel_dim=1)
        std = y.transpose(0, 1).reshape(4, -1).double().std(dim=1)
        n = y.numel() / 4
        assert torch.allclose(std[:3], scale[:3].double(), rtol=5 * math.sqrt(1 / (2 * n)))
        assert float(std[3]) == 0.0


def test_linear_outputs_keep_their_values_plus_noise() -> None:
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    y = add_gaussian_(base.clone(), torch.tensor([0.0, 0.0, 1e-3, 0.0]), torch.Generator().manual_seed(0))
    assert torch.equal(y[:, [0, 1, 3]], base[:, [0, 1, 3]])
    assert float((y[:, 2] - base[:, 2]).abs().max()) < 1e-2
    assert float((y[:, 2] - base[:, 2]).abs().min()) > 0


def test_deterministic_per_seed_and_independent_of_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    one = _draws((64, 256, 7), seed=5)
    assert torch.equal(one, _draws((64, 256, 7), seed=5))
    assert not torch.equal(one, _draws((64, 256, 7), seed=6))
    monkeypatch.setattr(gaussian, "_MIN_SPLIT", 1)
    threads = torch.get_num_threads()
    try:
        for n in (2, 3):
            torch.set_num_threads(n)
            assert torch.equal(one, _draws((64, 256, 7), seed=5))
    finally:
        torch.set_num_threads(threads)


def test_other_dtypes_and_layouts_fall_back_to_torch() -> None:
    y = _draws((300, 300), dtype=torch.float64)
    assert y.dtype == torch.float64 and abs(float(y.std()) - 1) < 0.02
    strided = torch.zeros(300, 600)[:, ::2]  # not contiguous: the fallback draws it
    add_gaussian_(strided, 2.0, torch.Generator().manual_seed(0))
    assert abs(float(strided.std()) - 2) < 0.04
    per_output = torch.full((300, 300), 3.0)
    z = add_gaussian_(torch.zeros(300, 300), per_output, torch.Generator().manual_seed(0))
    assert abs(float(z.std()) - 3) < 0.06


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_draws_with_its_own_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    # The parent's pool of threads does not survive a fork: the child must start its own, not wait
    # for threads that are not there.
    monkeypatch.setattr(gaussian, "_MIN_SPLIT", 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        parent = _draws((64, 512), seed=9)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: draw the same numbers, report, leave without cleanup
            ok = torch.equal(_draws((64, 512), seed=9), parent)
            os.write(write, b"1" if ok else b"0")
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as answer:
            ready, _, _ = select.select([answer], [], [], 20.0)
            if not ready:
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            assert ready, "the forked child did not answer within 20 s"
            assert answer.read() == b"1"
    finally:
        torch.set_num_threads(threads)
