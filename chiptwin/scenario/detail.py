"""The detail window of a scenario cell: the start of its run played activity by activity.

A scenario times a cell's whole run with the batched engine (:func:`chiptwin.timing.simulate_batched`:
one ``batch`` record per minute of traffic); the trace's ``events`` rows and every total come from it.
To show the chip at work, the cell also gets a short window played by the event engine
(:func:`chiptwin.timing.simulate_events`) on the same plans and workload, one record per MVM,
conversion, digital job and transfer: the trace's ``detail`` table, for timelines. Its work is already
in ``events`` (a ``batch`` chunk, the programming): it is never added to the totals.

**The window** is the start of the run: the programming of every used tile at time 0 (the first
inferences wait for it) and the workload's first :data:`DETAIL_INFERENCES` arrivals, each followed to
its result. A compensation pass that starts before the last of those arrivals is played too when it is
cheap (a GDC pass; AdaBS with at most :data:`DETAIL_MAX_ADABS_IMAGES` images). The window is *cut* at
the first pass it does not play (a later one, or an AdaBS pass of more images), at a plan change (a
tile failure) and, when it plays a pass, at the next arrival: records that start at or after the cut,
and the results (``done``) of jobs still in flight then, are left out.

**Faithful**: what the window keeps is what the event engine records for those jobs over the whole run.
Before the cut the window and the whole run hold the same jobs (a simulation up to a moment does not
depend on what comes after it). Past it, without a pass, the jobs the window leaves out are later
inferences: they queue behind the ones it keeps at every FIFO resource (all inferences walk the same
stages) and never change their times; a pass's calibration jobs have no such order with them, hence
the cut at the next arrival when one is played. The event engine and the batched formula agree where
the bottleneck lies on every job's path (:mod:`chiptwin.timing.batched`); elsewhere the window shows
the queueing the formula leaves out.
"""

from __future__ import annotations

import numpy as np

from chiptwin.timing import (
    CompensationSpec,
    EventKind,
    EventRecord,
    PipelinePlan,
    ReplayWorkload,
    Workload,
    compensation_times_ns,
    simulate_events,
)
from chiptwin.units import NS_PER_S

__all__ = ["DETAIL_INFERENCES", "DETAIL_MAX_ADABS_IMAGES", "detail_window", "first_arrivals_ns"]

DETAIL_INFERENCES = 8
"""Inferences a cell's detail window follows (each ~230 records on ResNet-32, ~4 ms of host time)."""

DETAIL_MAX_ADABS_IMAGES = 16
"""Largest AdaBS pass a detail window plays; a larger one cuts the window (an image is ~230 records,
and the main job's 1,000-image pass took 2.9 s and 234,000 records in the event engine)."""

_FIRST_LOOK_NS = NS_PER_S // 1000
"""First span of the workload asked for arrivals (doubled until enough are found)."""


def first_arrivals_ns(workload: Workload, n: int, duration_ns: int) -> np.ndarray:
    """The first ``n`` arrival times of ``workload`` in ``[0, duration_ns)`` (fewer if the run has fewer)."""
    span = _FIRST_LOOK_NS
    while True:
        times = workload.arrivals_ns(0, min(span, duration_ns))
        if times.size >= n or span >= duration_ns:
            return times[:n]
        span *= 2


def _cheap(compensation: CompensationSpec) -> bool:
    return not compensation.adabs or compensation.adabs_images <= DETAIL_MAX_ADABS_IMAGES


def detail_window(
    plan: PipelinePlan,
    workload: Workload,
    *,
    duration_ns: int,
    compensation: CompensationSpec | None = None,
    adabs_plan: PipelinePlan | None = None,
    program: bool = True,
    changes_ns: tuple[int, ...] = (),
) -> list[EventRecord]:
    """The records of a cell's detail window (module docstring), in the order the event engine made them.

    Args:
        plan: the plan in force from time 0.
        workload: the cell's workload.
        duration_ns: the cell's run (arrivals in ``[0, duration_ns)``).
        compensation: the cell's compensation passes (None: none).
        adabs_plan: the ``bn_statistics`` plan, needed when a played pass runs AdaBS.
        program: the run programs every used tile at time 0.
        changes_ns: times of the run's plan changes (a tile failure, its repair): the window is cut at
            the first.
    """
    arrivals = first_arrivals_ns(workload, DETAIL_INFERENCES + 1, duration_ns)
    following = int(arrivals[DETAIL_INFERENCES]) if arrivals.size > DETAIL_INFERENCES else duration_ns
    arrivals = arrivals[:DETAIL_INFERENCES]
    last = int(arrivals[-1]) if arrivals.size else 0
    cut = min(changes_ns, default=duration_ns)
    played: list[int] = []
    for t in compensation_times_ns(compensation, duration_ns):
        assert compensation is not None
        if t > last or t >= cut or not _cheap(compensation):
            cut = min(cut, t)
            break
        played.append(t)
    if played:
        cut = min(cut, following)
    arrivals = arrivals[arrivals < cut]
    records: list[EventRecord] = []
    end = max(int(arrivals[-1]) + 1 if arrivals.size else 1, played[-1] + 1 if played else 1)
    comp = None
    if compensation is not None and played:
        comp = CompensationSpec(
            policy=compensation.policy,
            times_s=tuple(t / NS_PER_S for t in played),
            gdc_reads_per_block=compensation.gdc_reads_per_block,
            adabs_images=compensation.adabs_images,
            mode=compensation.mode,
        )
    simulate_events(
        plan,
        ReplayWorkload(arrivals, source="detail window"),
        duration_ns=end,
        compensation=comp,
        adabs_plan=adabs_plan if comp is not None and comp.adabs else None,
        program=program,
        record=records.append,
    )
    return [
        r
        for r in records
        if r.time_ns < cut and (r.kind is not EventKind.DONE or r.time_ns + r.duration_ns <= cut)
    ]
