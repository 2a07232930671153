"""The reservation server grants exactly what ``simpy.Resource(capacity=1)`` grants, and rounding."""

from __future__ import annotations

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from chiptwin.errors import TimingError
from chiptwin.timing import Server, ceil_ns

requests = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 50)), min_size=1, max_size=30).map(sorted)


def _simpy_grants(reqs: list[tuple[int, int]]) -> list[int]:
    env = simpy.Environment()
    res = simpy.Resource(env, capacity=1)
    grants = [0] * len(reqs)

    def hold(i: int, at: int, duration: int):  # type: ignore[no-untyped-def]
        yield env.timeout(at)
        with res.request() as req:
            yield req
            grants[i] = int(env.now)
            yield env.timeout(duration)

    for i, (at, duration) in enumerate(reqs):
        env.process(hold(i, at, duration))
    env.run()
    return grants


def _server_grants(reqs: list[tuple[int, int]]) -> list[int]:
    env = simpy.Environment()
    server = Server("probe")
    grants = [0] * len(reqs)

    def hold(i: int, at: int, duration: int):  # type: ignore[no-untyped-def]
        yield env.timeout(at)
        grants[i] = server.reserve(int(env.now), duration)
        yield env.timeout(grants[i] + duration - env.now)

    for i, (at, duration) in enumerate(reqs):
        env.process(hold(i, at, duration))
    env.run()
    return grants


@settings(max_examples=60, deadline=None)
@given(requests)
def test_server_grants_like_a_simpy_resource(reqs: list[tuple[int, int]]) -> None:
    assert _server_grants(reqs) == _simpy_grants(reqs)


def test_reservation_and_busy_time() -> None:
    s = Server("crossbar 0")
    assert s.reserve(0, 10) == 0
    assert s.reserve(3, 5) == 10
    assert s.reserve(40, 1) == 40
    assert (s.free_at_ns, s.busy_ns) == (41, 16)


def test_ceil_ns() -> None:
    assert ceil_ns(130.00000000000003) == 130
    assert ceil_ns(1.024) == 2
    assert ceil_ns(0) == 0
    with pytest.raises(TimingError, match=r"duration\(=-1.0 ns\)"):
        ceil_ns(-1.0)
    with pytest.raises(TimingError, match="finite"):
        ceil_ns(float("inf"))
