"""The trace's lists of event kinds and tasks are the timing layer's enums, value for value, in order.

``trace`` may not import ``timing`` (docs/concepts/layers.md), so ``trace.schema`` spells the values out
again; this test ties the two copies, so a kind added, renamed or dropped on one side fails here.
"""

from __future__ import annotations

from chiptwin.timing import EventKind, Task
from chiptwin.trace.schema import EVENT_KINDS, TASKS


def test_event_kinds_are_the_timing_event_kinds() -> None:
    assert tuple(kind.value for kind in EventKind) == EVENT_KINDS


def test_tasks_are_the_timing_tasks() -> None:
    assert tuple(task.value for task in Task) == TASKS


def test_the_lists_name_each_value_once() -> None:
    assert len(set(EVENT_KINDS)) == len(EVENT_KINDS) and len(set(TASKS)) == len(TASKS)
