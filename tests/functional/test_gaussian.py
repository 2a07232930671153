"""The periphery's output-noise draws (chiptwin.functional.gaussian): Gaussian with the requested std,
independent across outputs, columns and calls, deterministic per seed and per thread count."""

from __future__ import annotations

import math

import pytest
import torch

from chiptwin.functional import gaussian
from chiptwin.functional.gaussian import add_gaussian_, quantile_tables

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


def test_tables_reach_the_quantiles_of_two_to_the_minus_32() -> None:
    start, slope, tail = (torch.from_numpy(t).double() for t in quantile_tables())
    # The extreme draw u = 0.5 / 2**32: -6.34 standard deviations.
    assert float(tail[0]) == pytest.approx(-6.3380, abs=1e-3)
    # Bin b covers [ndtri(b / 65536), ndtri((b + 1) / 65536)): start plus 65536 slopes reaches the next.
    b = torch.tensor([1, 1000, 32768, 65000])
    nxt = torch.special.ndtri((b + 1).double() / 65536)
    assert torch.allclose(start[b] + slope[b] * 65536, nxt, atol=1e-5)
    assert float(start[32768]) == 0.0


def test_neighbouring_outputs_and_calls_are_uncorrelated() -> None:
    gen = torch.Generator().manual_seed(3)
    a = add_gaussian_(torch.zeros(500, 1000), 1.0, gen)
    b = add_gaussian_(torch.zeros(500, 1000), 1.0, gen)  # the next read: a new key
    n = a.numel()

    def corr(u: torch.Tensor, v: torch.Tensor) -> float:
        u, v = u.double().flatten(), v.double().flatten()
        return float(((u - u.mean()) * (v - v.mean())).mean() / (u.std() * v.std()))

    bound = 5 / math.sqrt(n / 2)
    assert abs(corr(a[:, 0::2], a[:, 1::2])) < bound  # the two halves of one hash
    assert abs(corr(a[:, 1:-1:2], a[:, 2::2])) < bound  # neighbours from two hashes
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
