"""Workloads: counts, rates and duty cycles with fixed seeds and stated tolerances; replay files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chiptwin.errors import TimingError
from chiptwin.timing import (
    BurstyWorkload,
    PeriodicWorkload,
    PoissonWorkload,
    ReplayWorkload,
    load_arrivals_csv,
)
from chiptwin.units import NS_PER_S


def _chunks(workload, stop: int, step: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.concatenate([workload.arrivals_ns(a, min(a + step, stop)) for a in range(0, stop, step)])


def test_periodic_count_and_times() -> None:
    w = PeriodicWorkload(1000)
    times = w.arrivals_ns(0, NS_PER_S)
    assert times.size == 1000
    assert times[:3].tolist() == [0, 1_000_000, 2_000_000]
    assert set(np.diff(times).tolist()) == {1_000_000}
    # A rate that does not divide a second: arrivals at floor(k * 1e9 / 3).
    assert PeriodicWorkload(3).arrivals_ns(0, NS_PER_S).tolist() == [0, 333_333_333, 666_666_666]
    assert PeriodicWorkload(10, phase_ns=5).arrivals_ns(0, NS_PER_S)[:2].tolist() == [5, 100_000_005]
    # Asking window by window gives the same arrivals.
    assert np.array_equal(_chunks(w, NS_PER_S, 123_456_789), times)


def test_poisson_mean_rate_and_exponential_gaps() -> None:
    rate, seconds = 1000.0, 100
    w = PoissonWorkload(rate, seed=0)
    times = w.arrivals_ns(0, seconds * NS_PER_S)
    # Count ~ Poisson(1e5): sd 316 (0.32 %); tolerance 1.5 % (about 5 sd).
    assert times.size == pytest.approx(rate * seconds, rel=0.015)
    gaps = np.diff(times) / NS_PER_S
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.015)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.03)  # exponential: coefficient of variation 1
    assert np.all(np.diff(times) >= 0)
    assert np.array_equal(_chunks(w, 3 * NS_PER_S, 700_000_000), w.arrivals_ns(0, 3 * NS_PER_S))
    # Same seed, same arrivals; another seed, others.
    assert np.array_equal(PoissonWorkload(rate, seed=0).arrivals_ns(0, NS_PER_S), times[times < NS_PER_S])
    assert not np.array_equal(PoissonWorkload(rate, seed=1).arrivals_ns(0, NS_PER_S), times[times < NS_PER_S])


def test_bursty_duty_cycle() -> None:
    w = BurstyWorkload(5000, on_s=0.2, off_s=0.8, seed=0)
    assert w.duty_cycle == pytest.approx(0.2)
    times = w.arrivals_ns(0, 100 * NS_PER_S)
    # Every arrival falls in an on period, and the mean rate is rate x duty cycle (count sd 0.32 %; 1.5 %).
    assert np.all(times % NS_PER_S < 0.2 * NS_PER_S)
    assert times.size == pytest.approx(5000 * 0.2 * 100, rel=0.015)
    on_fraction = np.unique(times // (NS_PER_S // 10) % 10)  # tenths of a second that see arrivals
    assert on_fraction.tolist() == [0, 1]


def test_replay_from_csv(tmp_path: Path) -> None:
    ns = tmp_path / "ns.csv"
    ns.write_text("request,arrival_ns\na,0\nb,150\n\nc,150\nd,4000\n")
    times = load_arrivals_csv(ns)
    assert times.tolist() == [0, 150, 150, 4000]
    seconds = tmp_path / "s.csv"
    seconds.write_text("arrival_s\n0.0\n1.5e-7\n0.000004\n")
    assert load_arrivals_csv(seconds).tolist() == [0, 150, 4000]
    w = ReplayWorkload(times)
    assert w.arrivals_ns(100, 4000).tolist() == [150, 150]
    assert w.end_ns == 4001


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("time\n1\n", "no column arrival_ns or arrival_s"),
        ("", "no column arrival_ns or arrival_s"),
        ("arrival_ns\n10\nten\n", r":3: arrival_ns\(='ten'\) must be an integer"),
        ("arrival_ns\n1.5\n", r":2: arrival_ns\(='1.5'\) must be an integer"),
        ("arrival_s\n0.1\nnan\n", r":3: arrival_s\(='nan'\) must be a number"),
        ("arrival_ns\n5\n-1\n", r":3: arrival_ns\(='-1'\) must be an integer in 0\.\."),
        ("arrival_ns\n5\n3\n", r"arrival 2 \(=3 ns\) comes before arrival 1 \(=5 ns\)"),
        ("arrival_s\n1e300\n", r":2: arrival_s\(='1e300'\) must be a number in 0\.\.3\.15"),
    ],
)
def test_bad_csv_is_a_timing_error_naming_the_value(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(TimingError, match=fragment):
        load_arrivals_csv(path)


def test_missing_csv(tmp_path: Path) -> None:
    with pytest.raises(TimingError, match="replay file not found"):
        load_arrivals_csv(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: PeriodicWorkload(0), r"rate_per_s\(=0\) must be a finite number > 0"),
        (lambda: PeriodicWorkload(float("nan")), r"rate_per_s\(=nan\)"),
        (lambda: PeriodicWorkload(10, phase_ns=-1), r"phase_ns\(=-1\)"),
        (lambda: PoissonWorkload(-5, seed=0), r"rate_per_s\(=-5\)"),
        (lambda: PoissonWorkload(5, seed=0, epoch_ns=0), r"epoch_ns\(=0\)"),
        (lambda: BurstyWorkload(5, on_s=0, off_s=1, seed=0), r"on_s\(=0\)"),
        (lambda: BurstyWorkload(5, on_s=1, off_s=-1, seed=0), r"off_s\(=-1\)"),
        (lambda: ReplayWorkload(np.zeros((2, 2), dtype=np.int64)), "one-dimensional"),
        (lambda: ReplayWorkload(np.array([0.5])), "integer ns"),
        (lambda: PeriodicWorkload(10).arrivals_ns(5, 2), r"\[5, 2\) ns"),
    ],
)
def test_bad_workload_parameters(make, fragment: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TimingError, match=fragment):
        make()
