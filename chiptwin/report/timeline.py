"""A trace's ``events`` (and ``detail``) tables as a Chrome trace-event JSON timeline (Perfetto's UI).

The file is ``{"displayTimeUnit": "ns", "otherData": {...}, "traceEvents": [...]}``, one trace event per
line. Layout, for each cell of the trace (a checkpoint x policy x seed: its own clock from 0):

- process ``CELL: tile N`` per tile, with a track (thread) for its ``crossbar`` (MVMs), its ``ADC bank``
  (conversions), its ``digital unit`` (scale, partial sums, BN, ReLU, adds), its ``programming`` and its
  ``compensation`` (GDC calibration reads and scale updates, AdaBS batch-norm updates);
- process ``CELL: NoC`` with a track per mesh route ``tile A -> tile B`` (a transfer holds every link of
  its route at once, so a route is the resource the twin books);
- process ``CELL: chip`` for what no single tile does: batched-mode records (``inference (batched)``,
  one slice per chunk of inferences), chip-wide compensation and programming, and every job of event
  mode as an async slice from its arrival to its result;
- flow arrows (``s``/``t``/``f``, one id per job, named ``inference 3``) following each job (an
  inference or an AdaBS calibration image) from tile to route to tile, in event-mode records.

**Scenario traces** time the whole run with the batched engine: their ``events`` hold programming per
tile, one slice per minute of inferences and one per compensation job, but no single MVM. Their
``detail`` table (:mod:`chiptwin.scenario.detail`) holds the start of the run played by the event
engine: a few inferences, every activity of each. A cell's detail records are drawn on the same
processes after its events (crossbar, ADC bank and digital unit tracks of each tile, the NoC routes,
the jobs' async slices and flows); the programming they start with is the events' own (same tiles,
times and energies) and is drawn once. A trace without a ``detail`` table exports its events alone.

**Time.** The trace-event format counts microseconds. ``ts`` and ``dur`` are written as exact decimals
with three places, the twin's integer nanoseconds unchanged (``1234567 ns`` is ``"ts": 1234.567``), and
``displayTimeUnit`` is ``ns``; each slice's ``args`` also carries ``time_ns`` and ``duration_ns`` as
integers. A viewer parsing ``ts`` as a double keeps every nanosecond up to 2**53 ns (~104 days of run
clock), beyond that it rounds to a few ns; the text of the file stays exact.

**Tracks are well formed**: slices of one track (pid, tid) are written in start order and never overlap.
The twin's resources are FIFO, so their records already are; where two records of one track would
overlap (batched chunks whose drains overlap, compensation passes that run long), the later one goes on
a second lane of the track (``crossbar #2``).

**Large traces** are streamed: the Parquet parts are read in record batches
(:func:`chiptwin.trace.reader.iter_batches`), filtered by cell and time window, and written as they
come; only the open flows of jobs in flight are held in memory.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow.compute as pc

from chiptwin.durations import format_age, format_time_ns
from chiptwin.errors import DataError
from chiptwin.trace.reader import iter_batches, list_cells, open_trace
from chiptwin.units import NS_PER_S

__all__ = ["TimelineResult", "export_timeline", "format_ns"]

_PROCESS_STRIDE = 100_000
"""pid = cell index x stride + slot; slot 1 is the chip, 2 the NoC, 3 + N tile N (pid 0 is left unused)."""

_LANE_STRIDE = 1_000
"""tid = track index x stride + lane."""

_TRACKS = ("crossbar", "ADC bank", "digital unit", "programming", "compensation", "inference (batched)")
_CROSSBAR, _ADC, _DIGITAL, _PROGRAMMING, _COMPENSATION, _BATCHED = range(len(_TRACKS))
_ROUTE_TRACK = 100  # route tracks: _ROUTE_TRACK + src * (max tiles) + dst, assigned on first use

_JOB_TASKS = frozenset({"inference", "adabs"})
"""Tasks whose ``job`` is one job walking the chip (an inference, an AdaBS calibration image)."""

_JOB_KINDS = frozenset({"mvm", "convert", "digital", "transfer"})
"""Kinds of a job's own activities (what its flow arrow follows)."""

_COLUMNS = (
    "time_ns", "duration_ns", "kind", "task", "job", "layer", "tile", "dst_tile", "count", "hops", "op",
    "energy_pj",
)  # fmt: skip


def format_ns(ns: int) -> str:
    """Integer ns as the exact decimal number of µs the trace-event format counts in.

    >>> format_ns(1_234_567), format_ns(5), format_ns(3_000)
    ('1234.567', '0.005', '3')
    """
    whole, frac = divmod(ns, 1000)
    return str(whole) if frac == 0 else f"{whole}.{frac:03d}".rstrip("0")


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineResult:
    """What :func:`export_timeline` wrote."""

    path: Path
    cells: tuple[str, ...]
    """Cells whose events were selected (in file order)."""

    records: int
    """Rows of the ``events`` table exported."""

    detail_records: int
    """Rows of the ``detail`` table exported (its programming, drawn from ``events``, not counted)."""

    trace_events: int
    """Trace events written (slices, async ends and begins, flow points, metadata)."""

    flows: int
    """Flow arrows (one per job that crossed from one tile or route to another), named for the job."""

    first_ns: int
    last_ns: int
    """Earliest start and latest end of the exported records, ns."""

    bytes: int
    """Size of the written file."""

    detail_ns: tuple[int, int] | None = None
    """Run-clock span of the per-tile detail (every MVM of the first inferences) in the selection, ns:
    where to zoom in a long timeline; None without detail."""


@dataclass(slots=True)
class _Writer:
    """The output stream and the state of one cell's tracks, lanes and flows."""

    out: IO[str]
    count: int = 0
    flows_done: int = 0
    next_flow: int = 1
    named: set[tuple[int, int]] = field(default_factory=set)  # (pid, tid) with a name written; tid -1: pid
    lanes: dict[tuple[int, int], list[int]] = field(default_factory=dict)  # (pid, track) -> end ns per lane
    routes: dict[tuple[int, int], int] = field(default_factory=dict)
    flows: dict[tuple[str, int], list[tuple[int, int, int]]] = field(default_factory=dict)
    """Open jobs: the (ts, pid, tid) of every slice each one has had so far."""

    def emit(self, line: str) -> None:
        self.out.write(",\n" if self.count else "\n")
        self.out.write(line)
        self.count += 1

    def name_process(self, pid: int, name: str) -> None:
        if (pid, -1) not in self.named:
            self.named.add((pid, -1))
            self.emit(_meta("process_name", pid, None, {"name": name}))
            self.emit(_meta("process_sort_index", pid, None, {"sort_index": pid}))

    def lane(self, pid: int, track: int, name: str, start: int, end: int) -> int:
        """tid of the first lane of ``track`` free at ``start`` (a new lane if none), booked to ``end``."""
        ends = self.lanes.setdefault((pid, track), [])
        for i, free_at in enumerate(ends):
            if free_at <= start:
                ends[i] = max(end, start)
                return self._tid(pid, track, i, name)
        ends.append(max(end, start))
        return self._tid(pid, track, len(ends) - 1, name)

    def _tid(self, pid: int, track: int, lane: int, name: str) -> int:
        tid = track * _LANE_STRIDE + lane
        if (pid, tid) not in self.named:
            self.named.add((pid, tid))
            label = name if lane == 0 else f"{name} #{lane + 1}"
            self.emit(_meta("thread_name", pid, tid, {"name": label}))
            self.emit(_meta("thread_sort_index", pid, tid, {"sort_index": tid}))
        return tid

    def route_track(self, src: int, dst: int) -> int:
        return self.routes.setdefault((src, dst), _ROUTE_TRACK + len(self.routes))

    def flow_point(self, key: tuple[str, int], pid: int, tid: int, ts: int) -> None:
        """Note that job ``key`` had the slice starting at ``ts`` on (pid, tid)."""
        self.flows.setdefault(key, []).append((ts, pid, tid))

    def end_flow(self, key: tuple[str, int]) -> None:
        """Write the flow of a finished job: its slices in time order, a point where it changes process.

        A job's records come in the order its activities were booked, which is not their time order once
        it forks (residual branches), hence the sort; a job that stayed on one tile has no flow.
        """
        points = self.flows.pop(key, None)
        if not points:
            return
        points.sort()
        stops = [points[0]]
        for point in points[1:]:
            if point[1] != stops[-1][1]:
                stops.append(point)
        if len(stops) < 2:
            return
        ident = self.next_flow
        self.next_flow += 1
        name = json.dumps(f"{key[0]} {key[1]}")
        self.flows_done += 1
        for n, (ts, pid, tid) in enumerate(stops):
            ph = "s" if n == 0 else "f" if n == len(stops) - 1 else "t"
            bind = "" if ph == "s" else ',"bp":"e"'
            self.emit(
                f'{{"ph":"{ph}","id":{ident},"name":{name},"cat":"flow","pid":{pid},"tid":{tid},'
                f'"ts":{format_ns(ts)}{bind}}}'
            )

    def end_cell(self) -> None:
        for key in list(self.flows):
            self.end_flow(key)
        self.lanes.clear()
        self.routes.clear()


def _meta(kind: str, pid: int, tid: int | None, args: dict[str, Any]) -> str:
    thread = "" if tid is None else f',"tid":{tid}'
    # ts 0: metadata has no time, but some importers want every event to carry a ts.
    return f'{{"ph":"M","name":"{kind}","pid":{pid}{thread},"ts":0,"args":{json.dumps(args)}}}'


def _slice_name(row: dict[str, Any]) -> str:
    kind, layer = row["kind"], row["layer"]
    if kind == "mvm":
        return f"{layer} MVM x{row['count']}"
    if kind == "convert":
        return f"{layer} ADC"
    if kind == "digital":
        return f"{layer} {row['op']}".strip() if layer else f"GDC {row['op']}".strip()
    if kind == "transfer":
        return f"{layer} {row['count']:,} B"
    if kind == "program":
        return f"program {row['count']:,} devices"
    if kind == "calibrate":
        return "GDC calibration read"
    if kind == "bn_update":
        return f"AdaBS BN update {layer}".strip()
    if kind == "batch":
        return f"{row['count']:,} {row['task']} jobs (batched)"
    return kind


def _track(row: dict[str, Any], w: _Writer) -> tuple[int, str]:
    """Track index and name of a slice record (not ``done``/``arrival``)."""
    kind, task = row["kind"], row["task"]
    if kind == "transfer":
        return w.route_track(row["tile"], row["dst_tile"]), f"tile {row['tile']} -> tile {row['dst_tile']}"
    if kind == "program":
        return _PROGRAMMING, _TRACKS[_PROGRAMMING]
    if kind == "batch" and task == "inference":
        return _BATCHED, _TRACKS[_BATCHED]
    if task in ("gdc", "program") or kind in ("calibrate", "bn_update", "batch"):
        return _COMPENSATION, _TRACKS[_COMPENSATION]
    if kind == "mvm":
        return _CROSSBAR, _TRACKS[_CROSSBAR]
    if kind == "convert":
        return _ADC, _TRACKS[_ADC]
    return _DIGITAL, _TRACKS[_DIGITAL]


def _write_row(w: _Writer, row: dict[str, Any], base: int, cell: str) -> None:
    kind, task, tile = row["kind"], row["task"], row["tile"]
    start, dur = row["time_ns"], row["duration_ns"]
    if kind == "arrival":
        return  # the job's async slice (its ``done`` record) starts at its arrival
    args = {k: row[k] for k in _COLUMNS if row[k] not in (-1, "")}
    if kind == "done":
        pid = base + 1
        w.name_process(pid, f"{cell}: chip")
        ident = json.dumps(f"{base}:{task}:{row['job']}")
        name = json.dumps(f"{task} {row['job']}")
        w.emit(
            f'{{"ph":"b","cat":"{task}","id":{ident},"name":{name},"pid":{pid},"tid":0,'
            f'"ts":{format_ns(start)},"args":{json.dumps(args)}}}'
        )
        w.emit(
            f'{{"ph":"e","cat":"{task}","id":{ident},"name":{name},"pid":{pid},"tid":0,'
            f'"ts":{format_ns(start + dur)}}}'
        )
        w.end_flow((task, row["job"]))
        return
    if kind == "transfer":
        pid = base + 2
        w.name_process(pid, f"{cell}: NoC")
    elif tile >= 0:
        pid = base + 3 + tile
        w.name_process(pid, f"{cell}: tile {tile}")
    else:
        pid = base + 1
        w.name_process(pid, f"{cell}: chip")
    track, track_name = _track(row, w)
    tid = w.lane(pid, track, track_name, start, start + dur)
    w.emit(
        f'{{"ph":"X","cat":"{task}","name":{json.dumps(_slice_name(row))},"pid":{pid},"tid":{tid},'
        f'"ts":{format_ns(start)},"dur":{format_ns(dur)},"args":{json.dumps(args)}}}'
    )
    if task in _JOB_TASKS and kind in _JOB_KINDS and row["job"] >= 0:
        w.flow_point((task, row["job"]), pid, tid, start)


@dataclass(slots=True)
class _Span:
    """Earliest start and latest end of the records exported, and of all records read (for messages)."""

    first: int | None = None
    last: int | None = None
    all_first: int = 2**63
    all_last: int = -1


def _export_part(
    w: _Writer,
    root: Path,
    table: str,
    cell: str,
    base: int,
    window: tuple[int | None, int | None],
    batch_rows: int,
    seen: _Span,
) -> int:
    """Stream one cell's part of ``table`` into ``w``, keeping the records that overlap ``window``;
    returns how many it kept. The detail window's programming is skipped: it is the ``events`` table's
    own records (the same tiles, times and energies), already drawn."""
    start_ns, stop_ns = window
    exported = 0
    for _, batch in iter_batches(root, table, cells=[cell], batch_rows=batch_rows):
        times = batch.column("time_ns")
        ends = pc.add(times, batch.column("duration_ns"))
        if batch.num_rows:
            seen.all_first = min(seen.all_first, pc.min(times).as_py())
            seen.all_last = max(seen.all_last, pc.max(ends).as_py())
        mask = pc.not_equal(batch.column("kind").cast("string"), "program") if table == "detail" else None
        if stop_ns is not None:
            before = pc.less(times, stop_ns)
            mask = before if mask is None else pc.and_(mask, before)
        if start_ns is not None:
            after = pc.or_(pc.greater(ends, start_ns), pc.greater_equal(times, start_ns))
            mask = after if mask is None else pc.and_(mask, after)
        if mask is not None:
            batch = batch.filter(mask)
        if not batch.num_rows:
            continue
        columns = [batch.column(name).to_pylist() for name in _COLUMNS]
        for values in zip(*columns, strict=True):
            _write_row(w, dict(zip(_COLUMNS, values, strict=True)), base, cell)
        lo = pc.min(batch.column("time_ns")).as_py()
        hi = pc.max(pc.add(batch.column("time_ns"), batch.column("duration_ns"))).as_py()
        seen.first = lo if seen.first is None else min(seen.first, lo)
        seen.last = hi if seen.last is None else max(seen.last, hi)
        exported += batch.num_rows
    return exported


def _check_cells(root: Path, cells: Sequence[str] | None) -> list[str]:
    have = list_cells(root, "events")
    if not have:
        raise DataError(f"{root}: no events parts (the run has not finished a cell)")
    if cells is None:
        return have
    unknown = [c for c in cells if c not in have]
    if unknown:
        raise DataError(f"{root}: no events of cell {unknown[0]!r} (cells: {', '.join(have)})")
    return list(dict.fromkeys(cells))


def _window_text(start_ns: int | None, stop_ns: int | None) -> str:
    if start_ns is None and stop_ns is None:
        return ""
    lo = "the start" if start_ns is None else format_age(start_ns / NS_PER_S)
    hi = "the end" if stop_ns is None else format_age(stop_ns / NS_PER_S)
    return f" from {lo} to {hi}"


def export_timeline(
    root: Path | str,
    out: Path | str | None = None,
    *,
    cells: Sequence[str] | None = None,
    start_ns: int | None = None,
    stop_ns: int | None = None,
    batch_rows: int = 65_536,
) -> TimelineResult:
    """Write the ``events`` and ``detail`` of the trace directory ``root`` as Chrome trace-event JSON
    (module docstring).

    Args:
        root: a trace directory (complete, or interrupted: its finished cells are exported).
        out: the file to write (``.gz``: gzip-compressed); default ``root/report/timeline.json``.
        cells: only these cells (ids as in ``root/events/``); default every cell.
        start_ns, stop_ns: only records that overlap ``[start_ns, stop_ns)`` of the run clock (a record
            is kept whole); ``None``: unbounded.
        batch_rows: rows per record batch read from the Parquet parts.

    Raises:
        DataError: ``root`` is not a trace directory, has no events, a named cell has none, a part is
            unreadable, the window is empty (``start_ns >= stop_ns``) or nothing falls in the selection.
    """
    root = Path(root)
    open_trace(root)
    if start_ns is not None and stop_ns is not None and start_ns >= stop_ns:
        raise DataError(f"start_ns(={start_ns}) must be before stop_ns(={stop_ns})")
    selected = _check_cells(root, cells)
    path = Path(out) if out is not None else root / "report" / "timeline.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    window = (start_ns, stop_ns)
    seen = _Span()
    counts = {"events": 0, "detail": 0}
    kept: list[str] = []
    detailed = set(list_cells(root, "detail"))
    detail_ns = _detail_span(root, [c for c in selected if c in detailed], window)
    other: dict[str, object] = {
        # The trace folder's name, never its path: a shared timeline does not leak where it was made.
        "trace": root.resolve().name,
        "cells": selected,
        "from_ns": start_ns,
        "to_ns": stop_ns,
        "time": "ts and dur in µs with three decimals: the twin's integer ns, exact; args hold time_ns",
    }
    if detail_ns is not None:
        other["detail_from_ns"], other["detail_to_ns"] = detail_ns
        other["detail"] = (
            "per-tile detail (every MVM, conversion and transfer of the first inferences) from "
            f"{format_time_ns(detail_ns[0])} to {format_time_ns(detail_ns[1])} of each cell's clock: "
            "zoom there (the rest of the run is batched, a slice per minute of inferences)"
        )
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(tmp, "wt", encoding="utf-8") as stream:
            w = _Writer(out=stream)
            stream.write(f'{{"displayTimeUnit":"ns","otherData":{json.dumps(other)},"traceEvents":[')
            for index, cell in enumerate(selected):
                tables = ("events", "detail") if cell in detailed else ("events",)
                for table in tables:
                    n = _export_part(w, root, table, cell, index * _PROCESS_STRIDE, window, batch_rows, seen)
                    counts[table] += n
                    if n and (not kept or kept[-1] != cell):
                        kept.append(cell)
                w.end_cell()
            stream.write("\n]}\n")
        exported = counts["events"] + counts["detail"]
        first, last = seen.first, seen.last
        if not exported:
            which = (
                "" if cells is None else f" of cell{'s' if len(selected) > 1 else ''} {', '.join(selected)}"
            )
            found = (
                f"their events span {format_age(seen.all_first / NS_PER_S)} to "
                f"{format_age(seen.all_last / NS_PER_S)}"
                if seen.all_last >= 0
                else "the parts hold no rows"
            )
            raise DataError(
                f"{root}: no events{which}{_window_text(start_ns, stop_ns)} ({found}); nothing written"
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    assert first is not None and last is not None
    return TimelineResult(
        path=path,
        cells=tuple(kept),
        records=counts["events"],
        detail_records=counts["detail"],
        trace_events=w.count,
        flows=w.flows_done,
        first_ns=first,
        last_ns=last,
        bytes=path.stat().st_size,
        detail_ns=detail_ns,
    )


def _detail_span(
    root: Path, cells: Sequence[str], window: tuple[int | None, int | None]
) -> tuple[int, int] | None:
    """Earliest start and latest end (ns) of the ``detail`` records of ``cells`` in ``window`` (their
    programming aside, as :func:`_export_part` draws them), or None when there are none."""
    start_ns, stop_ns = window
    first, last = None, None
    columns = ["kind", "time_ns", "duration_ns"]
    for cell in cells:
        for _, batch in iter_batches(root, "detail", cells=[cell], columns=columns):
            for kind, time_ns, duration_ns in zip(
                *(batch.column(c).to_pylist() for c in columns), strict=True
            ):
                end = time_ns + duration_ns
                if kind == "program" or (stop_ns is not None and time_ns >= stop_ns):
                    continue
                if start_ns is not None and end <= start_ns and time_ns < start_ns:
                    continue
                first = time_ns if first is None else min(first, time_ns)
                last = end if last is None else max(last, end)
    return None if first is None or last is None else (first, last)
