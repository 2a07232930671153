"""Plain-text summary of a trace: accuracy over device age per checkpoint and policy, and what it cost.

Everything here is computed from the trace tables (``chiptwin.trace.schema``), never from in-memory run
state. Accuracy is reported in percent as the mean ± population standard deviation over seeds (a single
seed prints its value alone: one sample has no spread); costs are means over seeds of the ``cells`` rows
of one checkpoint and policy.

Probes of different seeds taken at the same scheduled time share ``time_ns``, so a row of the accuracy
table is one ``time_ns``, labelled with the mean device age of its probes.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from chiptwin.compensation import POLICY_NAMES
from chiptwin.durations import format_age
from chiptwin.files import LOCK_FILE
from chiptwin.seeding import format_seeds
from chiptwin.trace.reader import open_trace, read_table
from chiptwin.trace.schema import DYNAMIC_ENERGY_COMPONENTS, ENERGY_COMPONENTS
from chiptwin.units import energy_unit, format_energy, plural

__all__ = [
    "ENERGY_COMPONENTS",
    "POLICY_ORDER",
    "AccuracyPoint",
    "CostResult",
    "accuracy_table",
    "checkpoint_order",
    "cost_table",
    "energy_unit",
    "format_accuracy_table",
    "format_age",
    "format_costs",
    "format_energy",
    "format_spread",
    "format_summary",
    "order_checkpoints",
    "order_policies",
    "read_live_manifest",
    "summary_text",
    "writer_alive",
]

POLICY_ORDER = POLICY_NAMES
"""Column order of the known compensation policies; any other policy follows, alphabetically."""


_GROUP_SEP = "  |  "  # between the column groups of two checkpoints
_COLUMN_SEP = "  "


@dataclass(frozen=True, slots=True, kw_only=True)
class AccuracyPoint:
    """Accuracy of one checkpoint under one policy at one scheduled probe time, over its seeds."""

    checkpoint: str
    policy: str
    time_ns: int
    """Run clock of the probes (shared by every seed), ns."""

    age_s: float
    """Mean device age of the probes, s."""

    mean_pct: float
    """Mean accuracy over seeds, %."""

    std_pct: float
    """Population standard deviation of the accuracy over seeds (0 for one seed), %."""

    min_pct: float
    max_pct: float
    seeds: int
    """Probes (one per seed) in the group."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CostResult:
    """Latency, throughput and energy of one checkpoint under one policy, mean over seeds."""

    checkpoint: str
    policy: str
    seeds: int
    arch: str
    tiles_used: float
    area_mm2: float
    """The chip's area, mm²."""

    latency_single_ns: float
    """Latency of one inference alone on the chip, ns."""

    latency_mean_ns: float
    """Mean latency under the run's workload, ns."""

    throughput_per_s: float
    """Inferences per second served (the workload's rate unless the chip saturates)."""

    peak_throughput_per_s: float
    """Inferences per second of a saturated pipeline."""

    energy_per_inference_pj: float
    """Total energy per inference, compensation included, pJ."""

    energy_by_component_pj: tuple[tuple[str, float], ...]
    """Per-inference energy of each of :data:`ENERGY_COMPONENTS`, in that order, pJ."""

    compensations: float
    """Compensation passes over the run."""

    compensation_energy_pj: float
    """Energy of all compensation passes of the run, pJ."""

    energy_compensation_pj: float
    """Compensation energy amortised per inference, pJ."""

    @property
    def dynamic_energy_pj(self) -> float:
        """Energy per inference of the inference itself (array, converters, mesh, digital), pJ."""
        return sum(v for k, v in self.energy_by_component_pj if k in DYNAMIC_ENERGY_COMPONENTS)


def order_policies(policies: Iterable[str]) -> list[str]:
    """Distinct ``policies`` in :data:`POLICY_ORDER`, any others after them alphabetically."""
    distinct = set(policies)
    known = [p for p in POLICY_ORDER if p in distinct]
    return known + sorted(distinct - set(POLICY_ORDER))


def _in_order_of_appearance(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def order_checkpoints(found: Iterable[str], preferred: Iterable[str] = ()) -> list[str]:
    """Distinct ``found`` checkpoints: those in ``preferred`` in its order, then the others in order of
    first appearance.

    The reader returns parts sorted by cell id, so first appearance in a table read back is alphabetical;
    pass the scenario's order (the keys of the manifest's ``digital_accuracy``) as ``preferred``.

    >>> order_checkpoints(["b", "c", "a", "b"], preferred=["a", "z"])
    ['a', 'b', 'c']
    """
    distinct = _in_order_of_appearance(found)
    first = [c for c in dict.fromkeys(preferred) if c in distinct]
    return first + [c for c in distinct if c not in first]


def checkpoint_order(manifest: Mapping[str, Any]) -> list[str]:
    """The scenario's checkpoint order from a manifest: the keys of ``digital_accuracy`` (checkpoint
    labels, as in the tables), then the entries of ``scenario.checkpoints`` (names as given).

    >>> checkpoint_order({"digital_accuracy": {"fp": 0.9, "hwa": 0.9}, "scenario": {"checkpoints": ["x"]}})
    ['fp', 'hwa', 'x']
    """
    scenario = manifest.get("scenario") or {}
    found = [*(manifest.get("digital_accuracy") or {}), *(scenario.get("checkpoints") or [])]
    return [str(c) for c in dict.fromkeys(found)]


def accuracy_table(probes: pa.Table, *, checkpoints: Sequence[str] = ()) -> list[AccuracyPoint]:
    """Group ``probes`` (``PROBES_SCHEMA``) by checkpoint, policy and ``time_ns``; statistics over seeds.

    Points are ordered by checkpoint (:func:`order_checkpoints` with ``checkpoints`` preferred), policy
    (:func:`order_policies`) and time.
    """
    cols = {name: probes.column(name).to_pylist() for name in ("checkpoint", "policy", "time_ns")}
    ages = probes.column("age_s").to_numpy()
    acc = probes.column("accuracy").to_numpy()
    groups: dict[tuple[str, str, int], list[int]] = {}
    for i, key in enumerate(zip(cols["checkpoint"], cols["policy"], cols["time_ns"], strict=True)):
        groups.setdefault(key, []).append(i)
    rank = {c: n for n, c in enumerate(order_checkpoints(cols["checkpoint"], checkpoints))}
    policies = {p: n for n, p in enumerate(order_policies(cols["policy"]))}
    points = []
    for (checkpoint, policy, time_ns), rows in sorted(
        groups.items(), key=lambda kv: (rank[kv[0][0]], policies[kv[0][1]], kv[0][2])
    ):
        pct = 100.0 * acc[rows]
        points.append(
            AccuracyPoint(
                checkpoint=checkpoint,
                policy=policy,
                time_ns=time_ns,
                age_s=float(ages[rows].mean()),
                mean_pct=float(pct.mean()),
                std_pct=float(pct.std()),
                min_pct=float(pct.min()),
                max_pct=float(pct.max()),
                seeds=len(rows),
            )
        )
    return points


def cost_table(cells: pa.Table, *, checkpoints: Sequence[str] = ()) -> list[CostResult]:
    """Mean over seeds of the ``cells`` rows (``CELLS_SCHEMA``) of each checkpoint and policy.

    Ordered by checkpoint (:func:`order_checkpoints` with ``checkpoints`` preferred) and policy
    (:func:`order_policies`).
    """
    rows = cells.to_pylist()
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["checkpoint"], row["policy"]), []).append(row)
    rank = {c: n for n, c in enumerate(order_checkpoints((r["checkpoint"] for r in rows), checkpoints))}
    policies = {p: n for n, p in enumerate(order_policies(r["policy"] for r in rows))}
    results = []
    for (checkpoint, policy), group in sorted(
        groups.items(), key=lambda kv: (rank[kv[0][0]], policies[kv[0][1]])
    ):

        def mean(column: str, group: list[dict[str, Any]] = group) -> float:
            return float(np.mean([r[column] for r in group]))

        results.append(
            CostResult(
                checkpoint=checkpoint,
                policy=policy,
                seeds=len(group),
                arch=", ".join(_in_order_of_appearance(r["arch"] for r in group)),
                tiles_used=mean("tiles_used"),
                area_mm2=mean("area_mm2"),
                latency_single_ns=mean("latency_single_ns"),
                latency_mean_ns=mean("latency_mean_ns"),
                throughput_per_s=mean("throughput_per_s"),
                peak_throughput_per_s=mean("peak_throughput_per_s"),
                energy_per_inference_pj=mean("energy_per_inference_pj"),
                energy_by_component_pj=tuple((c, mean(f"energy_{c}_pj")) for c in ENERGY_COMPONENTS),
                compensations=mean("compensations"),
                compensation_energy_pj=mean("compensation_energy_pj"),
                energy_compensation_pj=mean("energy_compensation_pj"),
            )
        )
    return results


def format_spread(mean: float, std: float, samples: int, *, digits: int = 2) -> str:
    """``mean ± std`` with ``digits`` decimals, or ``mean`` alone for one sample (it has no spread).

    >>> format_spread(91.0, 1.0, 2), format_spread(94.0, 0.0, 1)
    ('91.00 ± 1.00', '94.00')
    """
    if samples < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _seed_text(counts: Iterable[int]) -> str:
    distinct = sorted(set(counts))
    if len(distinct) == 1:
        return plural(distinct[0], "seed")
    return f"{distinct[0]}-{distinct[-1]} seeds"


def format_accuracy_table(
    probes: pa.Table,
    cells: pa.Table | None = None,
    digital: Mapping[str, float] | None = None,
    *,
    checkpoints: Sequence[str] | None = None,
) -> str:
    """The accuracy table: a row per device age, a column per checkpoint and policy, ``mean ± std`` in %.

    Args:
        probes: the ``probes`` table of a trace.
        cells: the ``cells`` table; when given, the cost block (:func:`format_costs`) follows the table.
        digital: digital (floating-point) test accuracy of each checkpoint as a fraction, printed in the
            checkpoint's header.
        checkpoints: preferred checkpoint order (:func:`order_checkpoints`); default the order of
            ``digital``, which the manifest writes in scenario order.
    """
    digital = digital or {}
    order = list(digital) if checkpoints is None else checkpoints
    points = accuracy_table(probes, checkpoints=order)
    table = _format_points(points, digital) if points else "accuracy: no probes in the trace"
    if cells is not None and cells.num_rows:
        return f"{table}\n\n{format_costs(cells, checkpoints=order)}"
    return table


def _format_points(points: list[AccuracyPoint], digital: Mapping[str, float]) -> str:
    by_key = {(p.checkpoint, p.policy, p.time_ns): p for p in points}
    groups: dict[str, list[str]] = {}
    for p in points:  # already in checkpoint, policy order
        if p.policy not in groups.setdefault(p.checkpoint, []):
            groups[p.checkpoint].append(p.policy)
    times = sorted({p.time_ns for p in points})
    age_sum: dict[int, float] = {}
    age_n: dict[int, int] = {}
    for p in points:
        age_sum[p.time_ns] = age_sum.get(p.time_ns, 0.0) + p.age_s * p.seeds
        age_n[p.time_ns] = age_n.get(p.time_ns, 0) + p.seeds
    ages = [format_age(age_sum[t] / age_n[t]) for t in times]

    def cell(checkpoint: str, policy: str, time_ns: int) -> str:
        p = by_key.get((checkpoint, policy, time_ns))
        return "-" if p is None else format_spread(p.mean_pct, p.std_pct, p.seeds)

    age_width = max(len("age"), *(len(a) for a in ages))
    header_groups, header_policies, body = [], [], [[a.ljust(age_width)] for a in ages]
    for checkpoint, policies in groups.items():
        label = checkpoint
        if checkpoint in digital:
            label += f" (digital {100 * digital[checkpoint]:.2f})"
        texts = [[cell(checkpoint, policy, t) for t in times] for policy in policies]
        widths = [
            max(len(policy), *(len(x) for x in col)) for policy, col in zip(policies, texts, strict=True)
        ]
        span = sum(widths) + len(_COLUMN_SEP) * (len(widths) - 1)
        extra = max(0, len(label) - span)  # a long label widens the group's columns evenly
        widths = [w + extra // len(widths) + (i < extra % len(widths)) for i, w in enumerate(widths)]
        span = max(span, len(label))
        header_groups.append(label.ljust(span))
        header_policies.append(_COLUMN_SEP.join(p.rjust(w) for p, w in zip(policies, widths, strict=True)))
        for row, line in enumerate(body):
            line.append(_COLUMN_SEP.join(col[row].rjust(w) for col, w in zip(texts, widths, strict=True)))
    seeds = _seed_text(p.seeds for p in points)
    spread = "of 1 seed" if seeds == "1 seed" else f"mean ± std over {seeds}"
    lines = [
        f"accuracy (%), {spread}, by device age",
        " " * age_width + _GROUP_SEP + _GROUP_SEP.join(header_groups),
        "age".ljust(age_width) + _GROUP_SEP + _GROUP_SEP.join(header_policies),
    ]
    lines.append("-" * len(lines[-1]))
    lines += [line[0] + _GROUP_SEP + _GROUP_SEP.join(line[1:]) for line in body]
    return "\n".join(line.rstrip() for line in lines)


def _format_rate(per_s: float) -> str:
    return f"{per_s:,.0f}" if per_s >= 100 else f"{per_s:.3g}"


def format_costs(cells: pa.Table, *, checkpoints: Sequence[str] = ()) -> str:
    """The cost block: per checkpoint and policy, latency, throughput, energy and compensation energy.

    ``checkpoints`` is the preferred checkpoint order (:func:`order_checkpoints`).
    """
    lines = ["cost per checkpoint and policy (mean over seeds)"]
    for c in cost_table(cells, checkpoints=checkpoints):
        seeds = _seed_text([c.seeds])
        by = dict(c.energy_by_component_pj)
        lines += [
            f"  {c.checkpoint}, {c.policy} ({seeds}; {c.arch}, {plural(round(c.tiles_used), 'tile')}, "
            f"{c.area_mm2:.3g} mm² chip)",
            f"    latency       {c.latency_single_ns / 1e3:,.2f} µs single, "
            f"{c.latency_mean_ns / 1e3:,.2f} µs mean; throughput {_format_rate(c.throughput_per_s)} images/s "
            f"served, {_format_rate(c.peak_throughput_per_s)} images/s peak",
            f"    energy        {format_energy(c.dynamic_energy_pj)} dynamic + "
            f"{format_energy(by['static'])} static (idle share at the served rate) + "
            f"{format_energy(by['compensation'])} compensation = "
            f"{format_energy(c.energy_per_inference_pj)} per inference",
            f"    compensation  {plural(c.compensations, 'pass', 'passes')}, "
            f"{format_energy(c.compensation_energy_pj)} over "
            f"the run, {format_energy(c.energy_compensation_pj)} per inference",
        ]
    return "\n".join(lines)


def format_summary(manifest: Mapping[str, Any], probes: pa.Table, cells: pa.Table) -> str:
    """The summary of a trace from its manifest and tables: run basics, accuracy table, cost block.

    A status other than ``complete`` is stated on its own line, with the finished cells (those with a
    ``cells`` row) out of ``cells_total`` when the manifest has it. Seeds come from the manifest, or
    from the tables when it has none.
    """
    scenario: Mapping[str, Any] = manifest.get("scenario") or {}
    seeds = manifest.get("seeds")
    if seeds is None:
        seeds = sorted(set(probes.column("seed").to_pylist()) | set(cells.column("seed").to_pylist()))
    status = str(manifest.get("status", "unknown"))
    lines = [f"scenario  {scenario.get('name', '?')} on {scenario.get('arch', '?')}"]
    if manifest.get("chip_description"):
        lines.append(f"chip      {manifest['chip_description']}")
    if scenario.get("temperature") and manifest.get("temperature"):
        lines.append(f"heat      {manifest['temperature']}")
    lines += [
        f"status    {status}",
        f"seeds     {format_seeds(seeds)}",
    ]
    if manifest.get("created") is not None:
        lines.append(f"created   {manifest['created']}")
    if manifest.get("git_commit") is not None:
        dirty = " (uncommitted changes)" if manifest.get("git_dirty") else ""
        lines.append(f"commit    {manifest['git_commit']}{dirty}")
    if status != "complete":
        finished = len(set(cells.column("cell").to_pylist()))
        total = manifest.get("cells_total")
        count = f"{finished} of {plural(total, 'cell')}" if total is not None else plural(finished, "cell")
        why = STATUS_NOTES.get(status, f"status {status!r}")
        lines.append(f"INCOMPLETE: {count} finished ({why})")
    digital = manifest.get("digital_accuracy") or {}
    lines += ["", format_accuracy_table(probes, cells, digital, checkpoints=checkpoint_order(manifest))]
    return "\n".join(lines)


STATUS_NOTES = {
    "running": "a chiptwin process is still writing it",
    "stopped": "the run stopped before it finished; chiptwin run ... --resume finishes it",
}
"""What the summary says of a trace that is not complete, by status."""


def writer_alive(root: Path | str) -> bool:
    """Whether a process holds the trace writer's lock on ``root`` (``chiptwin.files.FolderLock``: the
    kernel drops it when the writer ends, however it ends). Only reads: a shared lock is tried and let go
    on a read-only handle, and a folder without a lock file has no writer."""
    path = Path(root) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops a lock taken here
    return False


def read_live_manifest(root: Path | str) -> dict[str, Any]:
    """The manifest of the trace ``root``, its status ``running`` replaced by ``stopped`` when no process
    writes the trace any more (a run killed or interrupted leaves ``running`` in the file).

    Raises:
        DataError: ``root`` is not a readable trace directory.
    """
    manifest = dict(open_trace(root))
    if manifest.get("status") == "running" and not writer_alive(root):
        manifest["status"] = "stopped"
    return manifest


def summary_text(root: Path | str) -> str:
    """The summary of the trace directory ``root`` (see :func:`format_summary`; a run no process writes
    any more is ``stopped``, :func:`read_live_manifest`).

    Raises:
        DataError: ``root`` is not a readable trace directory.
    """
    return format_summary(read_live_manifest(root), read_table(root, "probes"), read_table(root, "cells"))
