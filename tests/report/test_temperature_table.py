"""The retention-over-temperature table: the sparsest every_factor within 1 point of digital, as periods."""

from __future__ import annotations

from chiptwin.report.temperature import TemperatureRow, format_temperature_table


def _row(celsius: float, factors: dict[float, float]) -> TemperatureRow:
    return TemperatureRow(
        celsius=celsius,
        digital=0.956,
        drift_age_day_s=86_400.0 * (1.0 if celsius == 25.0 else 5.39),
        at_day={"gdc": 0.947, "gdc+adabs": 0.950},
        lowest={"gdc": 0.940, "gdc+adabs": 0.948},
        factors=factors,
        seeds=1,
    )


def test_the_largest_factor_within_one_point_is_chosen() -> None:
    # 0.946 is exactly digital - 1 point (946 of 1,000 images): within.
    assert _row(25.0, {1.25: 0.951, 1.5: 0.946, 2.0: 0.930}).best_factor == 1.5
    assert _row(85.0, {1.25: 0.9455, 1.5: 0.941}).best_factor is None


def test_the_table_gives_periods_at_an_hour_and_a_day() -> None:
    text = format_temperature_table(
        [_row(25.0, {1.5: 0.948, 2.0: 0.93}), _row(85.0, {1.5: 0.941, 2.0: 0.92})]
    )
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["chip", "digital", "drift"]
    # every_factor 1.5: passes at a / 1.5 and a, i.e. every 20 min at 1 h and 8 h at 1 day.
    assert lines[2].strip().startswith("25 °C") and lines[2].endswith(
        "every_factor 1.5: every 20 min at 1 h, 8 h at 1 d"
    )
    assert (
        lines[3].strip().startswith("85 °C")
        and "5.4 d" in lines[3]
        and lines[3].endswith("no factor of 1.5, 2")
    )
    assert "94.80" in lines[2] and "93.00" in lines[2]  # gdc+adabs lowest, x2 lowest
