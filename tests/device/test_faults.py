"""Stuck devices: seeded fractions against the binomial law, exact stuck reads, growth with age; FaultSpec.

Fractions use 10^5 devices; each is checked within 4 standard deviations of its binomial count,
``4 sqrt(p (1 - p) / n)`` (a false failure about once in 16,000 seeds, and the seeds are fixed).
"""

from __future__ import annotations

import doctest
import math

import pytest
import torch

import chiptwin.device.faults
import chiptwin.spec.faults
from chiptwin.device.faults import DeviceFaults, apply_faults, draw_faults, stuck_mask
from chiptwin.device.pcm import program, read
from chiptwin.errors import DeviceError, SpecError
from chiptwin.spec.faults import FaultSpec
from chiptwin.spec.pcm import PCMSpec
from chiptwin.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_YEAR

N = 100_000
G_MAX = 25.0
PCM = PCMSpec()
AGES_S = (0.0, 20.0, SECONDS_PER_HOUR, SECONDS_PER_DAY, SECONDS_PER_YEAR)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def four_sigma(p: float, n: int) -> float:
    """Tolerance on a measured fraction: 4 standard deviations of a binomial(n, p) count, over n."""
    return 4.0 * math.sqrt(p * (1.0 - p) / n)


@pytest.mark.parametrize("rate", [0.001, 0.05, 0.3])
def test_stuck_fraction_matches_the_rate(rate: float) -> None:
    faults = draw_faults((N,), FaultSpec(stuck_rate=rate), gen(1))
    measured = float(faults.stuck_at_prog.float().mean())
    assert measured == pytest.approx(rate, abs=four_sigma(rate, N))
    assert faults.fail_time_s is None  # no arrival rate: no failure-time tensor is allocated


@pytest.mark.parametrize("share", [0.0, 0.2, 0.5, 1.0])
def test_stuck_high_share_among_stuck_devices(share: float) -> None:
    faults = draw_faults((N,), FaultSpec(stuck_rate=0.2, stuck_high_fraction=share), gen(2))
    stuck = faults.stuck_at_prog
    n_stuck = int(stuck.sum())
    measured = float(faults.stuck_high[stuck].float().mean())
    assert measured == pytest.approx(share, abs=four_sigma(share, n_stuck))


def test_stuck_devices_read_exactly_zero_or_g_max_at_every_age_with_read_noise() -> None:
    # Targets spread over [0, g_max]; programming noise, drift and 1/f read noise all on.
    target = torch.rand(N, generator=gen(3)) * G_MAX
    state = program(target, PCM, gen(4))
    faults = draw_faults((N,), FaultSpec(stuck_rate=0.1, stuck_high_fraction=0.4), gen(5))
    stuck = faults.stuck_at_prog
    for age in AGES_S:
        noisy = read(state, age, PCM, gen(6))
        g = apply_faults(noisy, faults, age, G_MAX)
        assert torch.equal(g[stuck], torch.where(faults.stuck_high[stuck], G_MAX, 0.0))
        assert torch.equal(g[~stuck], noisy[~stuck])  # working devices keep their noisy read
    # A second read with other noise: the stuck values do not move at all.
    a = apply_faults(read(state, SECONDS_PER_DAY, PCM, gen(7)), faults, SECONDS_PER_DAY, G_MAX)
    b = apply_faults(read(state, SECONDS_PER_DAY, PCM, gen(8)), faults, SECONDS_PER_DAY, G_MAX)
    assert torch.equal(a[stuck], b[stuck]) and not torch.equal(a[~stuck], b[~stuck])


def test_apply_faults_leaves_its_input_alone() -> None:
    g = torch.full((1000,), 12.5)
    out = apply_faults(g, draw_faults((1000,), FaultSpec(stuck_rate=0.5), gen()), 0.0, G_MAX)
    assert torch.equal(g, torch.full((1000,), 12.5)) and not torch.equal(out, g)


@pytest.mark.parametrize("stuck_rate", [0.0, 0.02])
def test_devices_fail_over_time_with_the_exponential_law(stuck_rate: float) -> None:
    per_day = 0.1
    spec = FaultSpec(stuck_rate=stuck_rate, stuck_arrival_per_day=per_day)
    faults = draw_faults((N,), spec, gen(9))
    assert faults.fail_time_s is not None and faults.fail_time_s.dtype == torch.float32
    previous = stuck_mask(faults, 0.0)
    for days in (0.1, 1.0, 3.0, 10.0, 30.0):
        now = stuck_mask(faults, days * SECONDS_PER_DAY)
        assert bool((previous & ~now).sum() == 0)  # the stuck set only grows
        # Stuck at programming, or working then failed: 1 - (1 - r) exp(-rate t).
        expected = 1.0 - (1.0 - stuck_rate) * math.exp(-per_day * days)
        assert float(now.float().mean()) == pytest.approx(expected, abs=four_sigma(expected, N))
        previous = now


def test_failed_devices_sit_at_their_stuck_value() -> None:
    faults = draw_faults((N,), FaultSpec(stuck_arrival_per_day=1.0, stuck_high_fraction=0.3), gen(10))
    age = SECONDS_PER_DAY
    g = apply_faults(torch.full((N,), 7.0), faults, age, G_MAX)
    assert faults.fail_time_s is not None
    failed = faults.fail_time_s <= age
    assert torch.equal(g[failed], torch.where(faults.stuck_high[failed], G_MAX, 0.0))
    assert bool((g[~failed] == 7.0).all())
    assert float(failed.float().mean()) == pytest.approx(1 - math.exp(-1), abs=four_sigma(0.632, N))


def test_same_seed_nests_stuck_sets_in_the_rates() -> None:
    # The draw order is fixed, so with one seed a larger rate sticks a superset of devices, at the same
    # values, and a larger arrival rate fails every device earlier.
    low = draw_faults((N,), FaultSpec(stuck_rate=0.01, stuck_arrival_per_day=0.1), gen(11))
    high = draw_faults((N,), FaultSpec(stuck_rate=0.05, stuck_arrival_per_day=0.4), gen(11))
    assert bool((low.stuck_at_prog & ~high.stuck_at_prog).sum() == 0)
    assert torch.equal(low.stuck_high, high.stuck_high)
    assert low.fail_time_s is not None and high.fail_time_s is not None
    torch.testing.assert_close(high.fail_time_s * 4.0, low.fail_time_s)
    again = draw_faults((N,), FaultSpec(stuck_rate=0.01, stuck_arrival_per_day=0.1), gen(11))
    assert torch.equal(again.stuck_at_prog, low.stuck_at_prog)


def test_unbind_splits_into_views_along_the_first_dimension() -> None:
    faults = draw_faults((2, 3, 4), FaultSpec(stuck_rate=0.5, stuck_arrival_per_day=1.0), gen())
    pos, neg = faults.unbind()
    assert pos.shape == (3, 4) and torch.equal(neg.stuck_high, faults.stuck_high[1])
    assert neg.fail_time_s is not None and faults.fail_time_s is not None
    assert neg.fail_time_s.data_ptr() == faults.fail_time_s[1].data_ptr()
    # Two bools and one float32 per device.
    assert faults.nbytes == 24 * (1 + 1 + 4)


def test_device_fault_errors_name_the_values() -> None:
    faults = draw_faults((4,), FaultSpec(stuck_rate=0.5), gen())
    with pytest.raises(
        DeviceError, match=r"conductance shape \(=\(5,\)\) must match the fault shape \(=\(4,\)\)"
    ):
        apply_faults(torch.zeros(5), faults, 0.0, G_MAX)
    with pytest.raises(DeviceError, match=r"age_s\(=-1.0\) must be >= 0 s"):
        apply_faults(torch.zeros(4), faults, -1.0, G_MAX)
    with pytest.raises(DeviceError, match=r"stuck_high \(shape=\(3,\), device=cpu\) must match"):
        DeviceFaults(
            stuck_at_prog=torch.zeros(4, dtype=torch.bool),
            stuck_high=torch.zeros(3, dtype=torch.bool),
            fail_time_s=None,
        )
    with pytest.raises(DeviceError, match=r"stuck_at_prog dtype \(=torch.float32\) must be torch.bool"):
        DeviceFaults(
            stuck_at_prog=torch.zeros(4), stuck_high=torch.zeros(4, dtype=torch.bool), fail_time_s=None
        )


def test_fault_spec_defaults_are_no_faults() -> None:
    spec = FaultSpec()
    assert not spec.has_device_faults and not spec.has_adc_faults
    assert FaultSpec(stuck_arrival_per_day=1e-3).has_device_faults
    assert FaultSpec(adc_gain_std=0.01).has_adc_faults and FaultSpec(adc_offset_std=0.01).has_adc_faults
    assert spec.field_names() == (
        "stuck_rate",
        "stuck_high_fraction",
        "stuck_arrival_per_day",
        "adc_offset_std",
        "adc_gain_std",
    )


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("stuck_rate", -0.1, "in [0, 1]"),
        ("stuck_rate", 1.5, "in [0, 1]"),
        ("stuck_rate", math.nan, "in [0, 1]"),
        ("stuck_high_fraction", -1e-9, "in [0, 1]"),
        ("stuck_high_fraction", 2.0, "in [0, 1]"),
        ("stuck_arrival_per_day", -1.0, "finite and >= 0"),
        ("stuck_arrival_per_day", math.inf, "finite and >= 0"),
        ("adc_offset_std", -0.01, "finite and >= 0"),
        ("adc_offset_std", math.nan, "finite and >= 0"),
        ("adc_gain_std", -0.5, "finite and >= 0"),
        ("adc_gain_std", math.inf, "finite and >= 0"),
    ],
)
def test_fault_spec_rejects_bad_values_naming_key_and_value(key: str, value: float, rule: str) -> None:
    with pytest.raises(SpecError) as err:
        FaultSpec(**{key: value})
    assert str(err.value) == f"faults.{key}(={value!r}) must be {rule}"


def test_public_api_and_docstring_examples() -> None:
    for module in (chiptwin.device.faults, chiptwin.spec.faults):
        assert all(hasattr(module, name) for name in module.__all__)
        assert doctest.testmod(module).failed == 0
    assert set(chiptwin.device.faults.__all__) == {
        "DeviceFaults",
        "apply_faults",
        "draw_faults",
        "stuck_mask",
    }
