"""The flat record of one timed event, and the callback that hands it to the trace layer.

Every activity the timing layer simulates (an MVM, its conversions, a digital-unit job, a transfer over
the mesh, programming a tile, a compensation read) is one :class:`EventRecord`. The record holds only
primitive fields (ints, floats, strings; the two enums are ``str`` subclasses), so the trace layer can
write it as one Parquet row without the code that made it. The timing layer never imports the trace
layer: a run takes ``record: RecordFn | None`` and calls it once per event (``None``: no records are
built at all, the fast path).

**Columnar buffers.** The event engine makes hundreds of records per inference; one frozen object per
record cost three times the simulation itself (its construction, and the garbage collector walking
hundreds of thousands of live objects). So records are kept in an :class:`EventBuffer`: one list per
field, appended by :meth:`EventBuffer.add` (ints, floats and strings are not tracked by the collector).
Passing an :class:`EventBuffer` as ``record`` keeps the columns (:meth:`EventBuffer.columns`); passing any
other callable makes the engine buffer the run and then call it once per record, in the same order, with
an :class:`EventRecord` (after the run rather than during it).

Records are emitted when an activity is *scheduled*; ``time_ns`` is when it starts, which may be later
than the moment it was requested (it queued behind other work). Sort by ``time_ns`` for a timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

__all__ = ["RECORD_FIELDS", "EventBuffer", "EventKind", "EventRecord", "RecordFn", "Task"]


class EventKind(StrEnum):
    """What happened."""

    ARRIVAL = "arrival"
    """A job (inference or calibration image) entered the chip; ``duration_ns`` 0."""

    DONE = "done"
    """A job left the chip; ``time_ns`` is its arrival, ``duration_ns`` its latency."""

    MVM = "mvm"
    """A crossbar block did ``count`` MVMs back to back (array and DAC energy)."""

    CONVERT = "convert"
    """The tile's ADCs converted those MVMs' columns; ``duration_ns`` is the conversion share."""

    DIGITAL = "digital"
    """A digital unit ran ``count`` element operations (``op``: the dominant kind)."""

    TRANSFER = "transfer"
    """``count`` bytes crossed ``hops`` mesh links from ``tile`` to ``dst_tile``."""

    PROGRAM = "program"
    """Program-and-verify of ``count`` devices of one tile."""

    CALIBRATE = "calibrate"
    """A GDC calibration read of one tile (``count`` MVMs)."""

    BN_UPDATE = "bn_update"
    """AdaBS wrote the new batch-norm statistics of one layer (``count`` ops)."""

    BATCH = "batch"
    """Batched mode: ``count`` jobs served by the pipeline formula (one record per chunk)."""


class Task(StrEnum):
    """Why the chip did the work."""

    INFERENCE = "inference"
    """A user inference from the workload."""

    GDC = "gdc"
    """Global drift compensation: calibration reads and the new scale factors."""

    ADABS = "adabs"
    """Adaptive batch-norm statistics: calibration images and the statistics update."""

    PROGRAM = "program"
    """Programming the weights into the crossbars."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """One timed event (a trace row); ``-1`` / ``""`` mark fields that do not apply."""

    time_ns: int
    """Start of the event on the run clock, integer ns."""

    duration_ns: int
    """How long it held its resource, integer ns (0 for instantaneous events)."""

    kind: EventKind
    task: Task
    job: int
    """Job number within its task (inference id, calibration image id, compensation pass); -1: none."""

    layer: str
    """Layer name of the layer graph; ``""``: none."""

    tile: int
    """Tile whose resource the event used (transfers: the sending tile); -1: none or several."""

    dst_tile: int
    """Receiving tile of a transfer; -1 otherwise."""

    count: int
    """MVMs, ops, bytes, devices or jobs, by ``kind``."""

    hops: int
    """Mesh hops of a transfer; 0 otherwise."""

    op: str
    """Digital operation kind (``scale``, ``psum``, ``bn``, ``relu``, ``add``, ``pool``); ``""`` otherwise."""

    energy_pj: float
    """Energy of the event, pJ."""


RecordFn = Callable[[EventRecord], None]
"""The injected sink for events (the trace layer's writer, a list's ``append``, ...)."""


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(EventRecord))
"""The fields of a record, in order (the columns of an :class:`EventBuffer`)."""


class EventBuffer:
    """Records as columns: one list per field of :class:`EventRecord` (module docstring).

    A :data:`RecordFn` too (``buffer(record)`` appends one record), so it goes wherever a sink does.
    """

    __slots__ = ("_columns", "add")

    def __init__(self) -> None:
        self._columns: dict[str, list[Any]] = {name: [] for name in RECORD_FIELDS}
        (t, d, k, ta, j, la, ti, ds, c, h, o, e) = (col.append for col in self._columns.values())

        def add(
            time_ns: int,
            duration_ns: int,
            kind: EventKind,
            task: Task,
            job: int,
            layer: str,
            tile: int,
            dst_tile: int,
            count: int,
            hops: int,
            op: str,
            energy_pj: float,
        ) -> None:
            t(time_ns)
            d(duration_ns)
            k(kind)
            ta(task)
            j(job)
            la(layer)
            ti(tile)
            ds(dst_tile)
            c(count)
            h(hops)
            o(op)
            e(energy_pj)

        self.add = add
        """Append one record, its fields in :data:`RECORD_FIELDS` order (the fast path of the engines)."""

    def __call__(self, r: EventRecord) -> None:
        self.add(
            r.time_ns, r.duration_ns, r.kind, r.task, r.job, r.layer, r.tile, r.dst_tile, r.count, r.hops,
            r.op, r.energy_pj,
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self._columns["time_ns"])

    def __iter__(self) -> Iterator[EventRecord]:
        """The records, one :class:`EventRecord` each, in the order they were added."""
        for t, d, k, ta, j, la, ti, ds, c, h, o, e in zip(*self._columns.values(), strict=True):
            yield EventRecord(
                time_ns=t, duration_ns=d, kind=k, task=ta, job=j, layer=la, tile=ti, dst_tile=ds, count=c,
                hops=h, op=o, energy_pj=e,
            )  # fmt: skip

    def columns(self) -> dict[str, list[Any]]:
        """Each field's values in record order (the buffer's own lists: treat as read-only)."""
        return self._columns

    def replay(self, sink: RecordFn) -> None:
        """Hand every record to ``sink`` as an :class:`EventRecord`, in order."""
        for r in self:
            sink(r)
