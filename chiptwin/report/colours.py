"""The one colour of each compensation policy and the human age ticks, shared by every chart: the static
PNGs (matplotlib) and the interactive page (Plotly) draw a policy in the same colour and mark the same ages.

Colours are hex strings both libraries read (matplotlib's ``tab10`` palette, chosen so the three known
policies are told apart in print and by the common colour-vision deficiencies: red, blue, green).
"""

from __future__ import annotations

from collections.abc import Iterable

from chiptwin.durations import format_age
from chiptwin.report.summary import order_policies
from chiptwin.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_YEAR

__all__ = ["AGE_TICKS_S", "POLICY_COLOURS", "age_ticks", "policy_colours"]

POLICY_COLOURS = {"none": "#d62728", "gdc": "#1f77b4", "gdc+adabs": "#2ca02c"}
"""The colour of each known policy (no compensation red: the curve that collapses)."""

_OTHER_COLOURS = ("#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
"""Colours of other policies, in :func:`chiptwin.report.summary.order_policies` order, cycled."""

AGE_TICKS_S = (
    1e-3, 1e-2, 0.1, 1.0, 10.0, 60.0, 600.0, SECONDS_PER_HOUR, 10 * SECONDS_PER_HOUR, SECONDS_PER_DAY,
    7 * SECONDS_PER_DAY, 30 * SECONDS_PER_DAY, SECONDS_PER_YEAR, 10 * SECONDS_PER_YEAR,
)  # fmt: skip
"""Device ages worth a tick on a log age axis (1 ms ... 10 y), s."""


def policy_colours(policies: Iterable[str]) -> dict[str, str]:
    """The colour of each of ``policies``: :data:`POLICY_COLOURS` for the known ones, the others from a
    palette of their own in :func:`~chiptwin.report.summary.order_policies` order.

    >>> policy_colours(["custom", "gdc", "none"])
    {'none': '#d62728', 'gdc': '#1f77b4', 'custom': '#9467bd'}
    """
    ordered = order_policies(policies)
    others = [p for p in ordered if p not in POLICY_COLOURS]
    return {
        p: POLICY_COLOURS.get(p) or _OTHER_COLOURS[others.index(p) % len(_OTHER_COLOURS)] for p in ordered
    }


def age_ticks(low_s: float, high_s: float) -> tuple[list[float], list[str]]:
    """The ticks of :data:`AGE_TICKS_S` from ``low_s`` to ``high_s`` (and one beyond each end, so the data
    sit between ticks), labelled by :func:`chiptwin.durations.format_age`.

    >>> age_ticks(20.0, 86_400.0)[1]
    ['10 s', '1 min', '10 min', '1 h', '10 h', '1 d']
    """
    below = [t for t in AGE_TICKS_S if t <= low_s]
    above = [t for t in AGE_TICKS_S if t >= high_s]
    start = AGE_TICKS_S.index(below[-1]) if below else 0
    stop = AGE_TICKS_S.index(above[0]) if above else len(AGE_TICKS_S) - 1
    values = list(AGE_TICKS_S[start : stop + 1])
    return values, [format_age(v) for v in values]
