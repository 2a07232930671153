"""The table of a retention study over chip temperatures (``chiptwin run retention_temperature``).

Each temperature has two traces (:func:`chiptwin.scenario.library.retention_temperature`): accuracy over a
day with a compensation pass before every probe (the curves), and ``every_factor`` policies probed right
before their passes, where their saw-tooth is lowest (the period search). The table reads them back:
per temperature, the drift-equivalent age the chip reached in a day, accuracy at a day and the lowest of
the day per policy, and the largest ``every_factor`` that kept every probe within 1 point of the digital
accuracy, with the period it means at 1 hour and at 1 day (passes at ``a / F`` and ``a``: a period of
``a (1 - 1 / F)`` at age ``a``). Everything is read from the traces, never from run state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chiptwin.durations import format_age
from chiptwin.trace.reader import read_manifest, read_table
from chiptwin.units import SECONDS_PER_DAY, SECONDS_PER_HOUR

__all__ = ["TOLERANCE", "TemperatureRow", "format_temperature_table", "temperature_rows"]

TOLERANCE = 0.01
"""How far below the digital accuracy a compensated chip may fall: 1 point (a fraction, 0..1)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TemperatureRow:
    """One chip temperature of the study (accuracies as fractions, means over seeds)."""

    celsius: float
    digital: float
    drift_age_day_s: float
    """Drift-equivalent age of the chip after a day at this temperature, s."""
    at_day: dict[str, float]
    """Accuracy at the last probe (a day), by per-probe policy."""
    lowest: dict[str, float]
    """Lowest accuracy over the day's probes, by per-probe policy."""
    factors: dict[float, float]
    """Lowest accuracy over its probes, by ``every_factor``."""
    seeds: int

    @property
    def best_factor(self) -> float | None:
        """The largest factor whose every probe stayed within :data:`TOLERANCE` of digital (None: none)."""
        # 1e-9: 946 of 1,000 images right at digital - 1 point must count as within it, float sums or not.
        kept = [f for f, low in self.factors.items() if low >= self.digital - TOLERANCE - 1e-9]
        return max(kept) if kept else None


def _by_time(rows: list[dict[str, object]], policy: str) -> list[tuple[int, float, float]]:
    """``(time_ns, mean accuracy, mean drift age)`` of one policy's probes, means over seeds."""
    times = sorted({int(r["time_ns"]) for r in rows if r["policy"] == policy})  # type: ignore[call-overload]
    out = []
    for t in times:
        at = [r for r in rows if r["policy"] == policy and r["time_ns"] == t]
        out.append(
            (
                t,
                float(np.mean([r["accuracy"] for r in at])),
                float(np.mean([r["drift_age_s"] for r in at])),
            )
        )
    return out


def temperature_rows(traces: Sequence[tuple[str, Path]]) -> list[TemperatureRow]:
    """One row per constant chip temperature found among ``traces`` (``(label, trace folder)`` pairs),
    in ascending temperature; traces of other temperatures (none, steps, a cycle) are left out."""
    found: dict[float, dict[str, object]] = {}
    for _, root in traces:
        manifest = read_manifest(root)
        scenario = manifest.get("scenario") or {}
        temperature = scenario.get("temperature") or {}
        if temperature.get("kind") != "constant":
            continue
        entry = found.setdefault(float(temperature["celsius"]), {"at_day": {}, "lowest": {}, "factors": {}})
        digital = manifest.get("digital_accuracy") or {}
        entry["digital"] = float(next(iter(digital.values()), float("nan")))
        probes = read_table(root, "probes").to_pylist()
        entry["seeds"] = len({r["seed"] for r in probes})
        for policy in scenario.get("policies", []):
            series = _by_time(probes, policy["name"])
            if not series:
                continue
            lowest = min(acc for _, acc, _ in series)
            if policy.get("every_factor") is not None:
                entry["factors"][float(policy["every_factor"])] = lowest  # type: ignore[index]
            elif policy.get("every") == "probe":
                entry["at_day"][policy["name"]] = series[-1][1]  # type: ignore[index]
                entry["lowest"][policy["name"]] = lowest  # type: ignore[index]
                entry["drift_age_day_s"] = series[-1][2]
    return [
        TemperatureRow(
            celsius=celsius,
            digital=float(e.get("digital", float("nan"))),  # type: ignore[arg-type]
            drift_age_day_s=float(e.get("drift_age_day_s", float("nan"))),  # type: ignore[arg-type]
            at_day=dict(e["at_day"]),  # type: ignore[call-overload]
            lowest=dict(e["lowest"]),  # type: ignore[call-overload]
            factors=dict(sorted(e["factors"].items())),  # type: ignore[attr-defined]
            seeds=int(e.get("seeds", 0)),  # type: ignore[call-overload]
        )
        for celsius, e in sorted(found.items())
    ]


def _period(factor: float, age_s: float) -> str:
    return format_age(age_s * (1.0 - 1.0 / factor))


def format_temperature_table(rows: Sequence[TemperatureRow]) -> str:
    """Plain-text table of :func:`temperature_rows` (accuracies in %)."""
    policies = sorted({p for r in rows for p in r.at_day}, key=lambda p: (len(p), p))
    factors = sorted({f for r in rows for f in r.factors})
    head = f"{'chip':>7} {'digital':>8} {'drift age':>10}"
    head += "".join(f" {p + ' 1 d':>14} {p + ' min':>14}" for p in policies)
    head += "".join(f" {'x' + format(f, 'g') + ' min':>10}" for f in factors)
    head += "  within 1 point of digital"
    lines = [head, "-" * len(head)]
    for r in rows:
        line = (
            f"{format(r.celsius, 'g') + ' °C':>7} {100 * r.digital:>8.2f} {format_age(r.drift_age_day_s):>10}"
        )
        for p in policies:
            line += f" {100 * r.at_day.get(p, np.nan):>14.2f} {100 * r.lowest.get(p, np.nan):>14.2f}"
        for f in factors:
            line += f" {100 * r.factors.get(f, np.nan):>10.2f}"
        best = r.best_factor
        if best is None:
            verdict = f"no factor of {', '.join(format(f, 'g') for f in r.factors)}" if r.factors else "-"
        else:
            verdict = (
                f"every_factor {best:g}: every {_period(best, SECONDS_PER_HOUR)} at 1 h, "
                f"{_period(best, SECONDS_PER_DAY)} at 1 d"
            )
        lines.append(f"{line}  {verdict}")
    seeds = max((r.seeds for r in rows), default=0)
    lines.append(
        f"accuracy %, mean of {seeds} seed{'s' if seeds != 1 else ''}; drift age: the age at the reference "
        "temperature with the drift of a day; '1 d': at a day, 'min': lowest of the day's probes, each "
        "probe after a fresh pass; 'xF min': lowest probe of GDC+AdaBS every_factor = F, probed right before "
        "its passes"
    )
    return "\n".join(lines)
