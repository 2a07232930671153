"""One call from a mapped model to a timing result: build the plans, pick the engine, run."""

from __future__ import annotations

from typing import Any

from chiptwin.errors import TimingError
from chiptwin.mapping.placement import Mapping
from chiptwin.spec.chip import ChipSpec
from chiptwin.timing.batched import simulate_batched
from chiptwin.timing.compensation import CompensationSpec
from chiptwin.timing.engine import simulate_events
from chiptwin.timing.plan import build_plan
from chiptwin.timing.records import RecordFn
from chiptwin.timing.results import TimingResult
from chiptwin.timing.workload import Workload

__all__ = ["MODES", "simulate"]

MODES = ("events", "batched")
"""``events``: every activity is a SimPy event; ``batched``: the pipeline formula (a day in seconds)."""


def simulate(
    graph: Any,
    mapping: Mapping,
    chip: ChipSpec,
    workload: Workload,
    *,
    duration_ns: int,
    mode: str = "events",
    compensation: CompensationSpec | None = None,
    program: bool = False,
    record: RecordFn | None = None,
    window_ns: int | None = None,
) -> TimingResult:
    """Time ``workload`` on ``mapping`` of the layer graph ``graph`` on ``chip``.

    Args:
        graph: the layer graph (networkx DiGraph of LayerSpec records; ``chiptwin.network.graph``).
        mapping: where its blocks sit (:func:`chiptwin.mapping.map_graph`).
        chip: the chip spec of the mapping.
        workload: arrival times (:mod:`chiptwin.timing.workload`).
        duration_ns: window of arrivals, ns (the run drains after it).
        mode: one of :data:`MODES`.
        compensation: periodic GDC / AdaBS (None: none).
        program: program the tiles at time 0 first.
        record: sink for every event (:class:`~chiptwin.timing.records.EventRecord`).
        window_ns: utilisation window, ns (default: a hundredth of the run).

    Raises:
        TimingError: an unknown mode, or a bad argument of the engine.
    """
    if mode not in MODES:
        raise TimingError(f"mode(={mode!r}) must be one of {MODES}")
    plan = build_plan(graph, mapping, chip)
    adabs = (
        build_plan(graph, mapping, chip, bn_statistics=True) if compensation and compensation.adabs else None
    )
    engine = simulate_events if mode == "events" else simulate_batched
    return engine(
        plan,
        workload,
        duration_ns=duration_ns,
        compensation=compensation,
        adabs_plan=adabs,
        program=program,
        record=record,
        window_ns=window_ns,
    )
