"""The one duration grammar (``chiptwin.durations``): hand-computed values, refusals, the age format."""

from __future__ import annotations

import doctest

import pytest

from chiptwin import durations
from chiptwin.durations import MAX_DURATION_NS, format_age, parse_duration_ns, parse_duration_s
from chiptwin.errors import DataError, SpecError

YEAR_S = 365 * 86_400  # the stated year: 365 days


@pytest.mark.parametrize(
    "text, ns",
    [
        ("1ns", 1),
        ("250ms", 250_000_000),
        ("500us", 500_000),
        ("500µs", 500_000),
        ("2.5ms", 2_500_000),
        ("1s", 1_000_000_000),
        ("20", 20_000_000_000),  # a bare number is seconds
        ("1.5min", 90_000_000_000),
        ("1.5h", 5_400_000_000_000),
        ("1d", 86_400_000_000_000),
        ("1y", 31_536_000_000_000_000),
        ("2e3us", 2_000_000),
        (" 1.5 h ", 5_400_000_000_000),
        ("0.1s", 100_000_000),  # exact: 0.1 is read as a fraction, not the float 0.1000000000000000055...
        ("0s", 0),
        ("0.4ns", 0),  # rounded to the nearest ns
        ("0.6ns", 1),
    ],
)
def test_parse_duration_ns_hand_values(text: str, ns: int) -> None:
    assert parse_duration_ns(text) == ns
    assert isinstance(parse_duration_ns(text), int)


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        ("1y", float(YEAR_S)),
        ("20", 20.0),
        ("90min", 5400.0),
        ("0.1ns", 1e-10),
    ],
)
def test_parse_duration_s_hand_values(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == seconds


def test_a_year_is_365_days_exactly() -> None:
    assert parse_duration_ns("1y") == YEAR_S * 10**9 == 365 * parse_duration_ns("1d")
    assert parse_duration_ns("292y") <= MAX_DURATION_NS < 292.5 * YEAR_S * 10**9
    with pytest.raises(SpecError, match=r"292.5y"):
        parse_duration_ns("292.5y")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "duration(='') must be a number and a unit"),
        ("   ", "must be a number and a unit"),
        ("-1s", "duration(='-1s') must not be negative"),
        ("-0.5h", "must not be negative"),
        ("nan", "duration(='nan') must be a number and a unit"),
        ("inf", "duration(='inf') must be a number and a unit"),
        ("infs", "must be a number and a unit"),
        ("1m", "unit 'm' is ambiguous; write min (minutes) or ms"),
        ("5 parsecs", "duration(='5 parsecs') must be a number and a unit"),
        ("1h30min", "must be a number and a unit"),
        ("1,5h", "must be a number and a unit"),
        ("h", "must be a number and a unit"),
        ("1H", "must be a number and a unit"),
        ("293y", "duration(='293y') must be at most 9,223,372,036,854,775,807 ns"),
        ("1e999999999s", "must be at most"),  # refused at once, without building a 10**999999999 fraction
    ],
)
def test_refusals_name_the_value(text: str, fragment: str) -> None:
    for parse in (parse_duration_ns, parse_duration_s):
        with pytest.raises(SpecError) as info:
            parse(text)
        assert fragment in str(info.value)


def test_the_name_goes_into_the_message() -> None:
    with pytest.raises(SpecError, match=r"^age\(='x'\) must be"):
        parse_duration_s("x", name="age")


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0.0, "0 s"),
        (0.5, "0.5 s"),
        (20.0, "20 s"),
        (90.0, "1.5 min"),
        (3600.0, "1 h"),
        (86_400.0, "1 d"),
        (30 * 86_400.0, "30 d"),
        (float(YEAR_S), "1 y"),
    ],
)
def test_format_age_hand_values_and_round_trip(seconds: float, text: str) -> None:
    assert format_age(seconds) == text
    assert parse_duration_s(text) == seconds  # what is printed reads back (exact for these)


def test_format_age_refuses_corrupt_ages() -> None:
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(DataError, match=r"device age\(="):
            format_age(bad)


def test_docstring_examples() -> None:
    assert doctest.testmod(durations).failed == 0
