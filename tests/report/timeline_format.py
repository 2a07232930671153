"""A checker of Chrome trace-event JSON, as the trace-event format documents it (the subset chiptwin writes).

Checks, and returns counts for the tests to assert on:

- the top level is an object with a ``traceEvents`` list and ``displayTimeUnit`` ``ns`` or ``ms``;
- every event has ``ph``, ``pid``, ``name``, and, but for metadata (``M``), a numeric ``ts`` >= 0 and a
  ``tid``; complete events (``X``) a numeric ``dur`` >= 0; async (``b``/``e``) and flow (``s``/``t``/``f``)
  events an ``id`` and a ``cat``;
- per track (pid, tid) the complete events come in non-decreasing ``ts`` and never overlap;
- every async id has one begin and one end, the end not before the begin;
- every flow id has exactly one ``s`` and one ``f``, any number of ``t``, with ``ts`` non-decreasing from
  ``s`` through the steps to ``f``, and each point lies inside a complete event of its own track (the
  slice it binds to);
- every pid and (pid, tid) used has a name (``process_name``, ``thread_name`` metadata).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

PHASES = {"X", "M", "b", "e", "s", "t", "f", "i", "B", "E", "C"}


@dataclass
class Counts:
    slices: int
    asyncs: int
    flows: int
    processes: int
    threads: int


def check_trace_events(doc: Any) -> Counts:
    """Check ``doc`` (parsed JSON) against the rules above; raise AssertionError naming the event."""
    assert isinstance(doc, dict), "top level must be an object"
    assert doc.get("displayTimeUnit") in ("ns", "ms"), doc.get("displayTimeUnit")
    events = doc["traceEvents"]
    assert isinstance(events, list) and events, "traceEvents must be a non-empty list"
    process_names: set[int] = set()
    thread_names: set[tuple[int, int]] = set()
    last: dict[tuple[int, int], tuple[float, float]] = {}  # track -> (last ts, end of last slice)
    slices: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    asyncs: dict[Any, list[tuple[str, float]]] = defaultdict(list)
    flows: dict[Any, list[tuple[str, float, tuple[int, int]]]] = defaultdict(list)
    used: set[tuple[int, int]] = set()
    for n, e in enumerate(events):
        where = f"event {n} ({e!r:.200})"
        assert isinstance(e, dict), where
        assert e.get("ph") in PHASES, where
        assert isinstance(e.get("pid"), int) and isinstance(e.get("name"), str), where
        ph = e["ph"]
        if ph == "M":
            if e["name"] == "process_name":
                process_names.add(e["pid"])
            elif e["name"] == "thread_name":
                thread_names.add((e["pid"], e["tid"]))
            assert isinstance(e.get("args"), dict), where
            continue
        assert isinstance(e.get("tid"), int), where
        ts = e.get("ts")
        assert isinstance(ts, int | float) and not isinstance(ts, bool) and ts >= 0, where
        track = (e["pid"], e["tid"])
        used.add(track)
        if ph == "X":
            dur = e.get("dur")
            assert isinstance(dur, int | float) and dur >= 0, where
            prev_ts, prev_end = last.get(track, (0.0, 0.0))
            assert ts >= prev_ts, f"{where}: ts goes back on track {track} (previous {prev_ts})"
            assert ts >= prev_end - 1e-9, f"{where}: overlaps the previous slice on {track} (ends {prev_end})"
            last[track] = (ts, ts + dur)
            slices[track].append((ts, ts + dur))
        elif ph in ("b", "e"):
            assert "id" in e and isinstance(e.get("cat"), str), where
            asyncs[(e["cat"], e["id"])].append((ph, ts))
        elif ph in ("s", "t", "f"):
            assert "id" in e and isinstance(e.get("cat"), str), where
            flows[e["id"]].append((ph, ts, track))
    for key, marks in asyncs.items():
        assert [m[0] for m in marks] == ["b", "e"], f"async {key}: {marks}"
        assert marks[1][1] >= marks[0][1], f"async {key} ends before it begins"
    for ident, points in flows.items():
        phases = [p[0] for p in points]
        assert phases[0] == "s" and phases[-1] == "f" and phases.count("s") == phases.count("f") == 1, (
            f"flow {ident}: {phases}"
        )
        times = [p[1] for p in points]
        assert times == sorted(times), f"flow {ident} goes back in time: {times}"
        for _, ts, track in points:
            assert any(a <= ts <= b for a, b in slices[track]), f"flow {ident}: no slice at {ts} on {track}"
    for pid, tid in used:
        assert pid in process_names, f"pid {pid} has no process_name"
        assert (pid, tid) in thread_names or tid == 0, f"track {(pid, tid)} has no thread_name"
    return Counts(
        slices=sum(len(v) for v in slices.values()),
        asyncs=len(asyncs),
        flows=len(flows),
        processes=len(process_names),
        threads=len(thread_names),
    )
