"""Timing and energy: when things happen on the chip and what they cost (SimPy, integer-ns clock).

Imports simpy, numpy, and the spec and mapping layers only (never torch or pyarrow). The usual path::

    plan = build_plan(graph, mapping, chip)                      # every activity, from the spec
    result = simulate_events(plan, PeriodicWorkload(1000), duration_ns=NS_PER_S)
    result = simulate_batched(plan, PoissonWorkload(1000, seed=0), duration_ns=86_400 * NS_PER_S)

or ``simulate(graph, mapping, chip, workload, duration_ns=..., mode="events" | "batched")``. Every
event reaches the trace layer through ``record=`` (:class:`EventRecord`).
"""

from chiptwin.timing.batched import PlanChange, pipeline_makespan_ns, serve_jobs, simulate_batched
from chiptwin.timing.compensation import (
    COMPENSATION_MODES,
    CompensationSpec,
    GDCTileWork,
    compensation_times_ns,
    gdc_work,
)
from chiptwin.timing.engine import simulate_events, single_inference_ns
from chiptwin.timing.plan import build_plan
from chiptwin.timing.programming import ProgrammingResult, programming_cost
from chiptwin.timing.records import EventBuffer, EventKind, EventRecord, RecordFn, Task
from chiptwin.timing.results import ENERGY_COMPONENTS, CompensationResult, TimingResult, UtilisationResult
from chiptwin.timing.server import Server, ceil_ns
from chiptwin.timing.simulate import MODES, simulate
from chiptwin.timing.stages import (
    COMPONENTS,
    DIGITAL_OPS,
    BlockWork,
    DigitalWork,
    LayerStage,
    PipelinePlan,
    Transfer,
)
from chiptwin.timing.workload import (
    BurstyWorkload,
    PeriodicWorkload,
    PoissonWorkload,
    ReplayWorkload,
    Workload,
    load_arrivals_csv,
)

__all__ = [
    "COMPENSATION_MODES",
    "COMPONENTS",
    "DIGITAL_OPS",
    "ENERGY_COMPONENTS",
    "MODES",
    "BlockWork",
    "BurstyWorkload",
    "CompensationResult",
    "CompensationSpec",
    "DigitalWork",
    "EventBuffer",
    "EventKind",
    "EventRecord",
    "GDCTileWork",
    "LayerStage",
    "PeriodicWorkload",
    "PipelinePlan",
    "PlanChange",
    "PoissonWorkload",
    "ProgrammingResult",
    "RecordFn",
    "ReplayWorkload",
    "Server",
    "Task",
    "TimingResult",
    "Transfer",
    "UtilisationResult",
    "Workload",
    "build_plan",
    "ceil_ns",
    "compensation_times_ns",
    "gdc_work",
    "load_arrivals_csv",
    "pipeline_makespan_ns",
    "programming_cost",
    "serve_jobs",
    "simulate",
    "simulate_batched",
    "simulate_events",
    "single_inference_ns",
]
