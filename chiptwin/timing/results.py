"""What a timing run returns (frozen ``*Result`` records) and the tally both engines fill on the way.

Conventions: one operation is half a multiply-accumulate (TOPS count ``2 * MACs``, as HERMES' 63.1
TOPS); TOPS/W is operations per picojoule (1 op/pJ = 1 TOPS/W); static energy is
``static_power_mw * elapsed_ns`` pJ (1 mW for 1 ns is 1 pJ), shared by the run's user inferences, as is
the energy of compensation. Per-inference figures are 0 when a run completed no user inference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chiptwin.errors import TimingError
from chiptwin.timing.programming import ProgrammingResult
from chiptwin.timing.records import Task
from chiptwin.timing.stages import COMPONENTS, PipelinePlan
from chiptwin.units import NS_PER_S

__all__ = [
    "ENERGY_COMPONENTS",
    "LATENCY_BIN_NS",
    "CompensationResult",
    "Tally",
    "TimingResult",
    "UtilisationResult",
    "summarise",
]

ENERGY_COMPONENTS = (*COMPONENTS, "static", "compensation")
"""Keys of :attr:`TimingResult.energy_per_inference_pj`."""

_COMPENSATION_TASKS = (Task.GDC, Task.ADABS)


@dataclass(frozen=True, slots=True, kw_only=True)
class UtilisationResult:
    """Busy fraction of each used tile's crossbar per time window (all tasks: inference, compensation,
    programming)."""

    window_ns: int
    tiles: tuple[int, ...]
    busy_fraction: np.ndarray
    """Shape ``(windows, len(tiles))``, read-only; the last window may be shorter (its own length counts)."""

    def mean_by_tile(self) -> dict[int, float]:
        """Busy fraction of each tile over the whole run."""
        if not self.busy_fraction.size:
            return dict.fromkeys(self.tiles, 0.0)
        return dict(zip(self.tiles, self.busy_fraction.mean(axis=0).tolist(), strict=True))


@dataclass(frozen=True, slots=True, kw_only=True)
class CompensationResult:
    """What compensation did and cost in a run."""

    policy: str
    mode: str
    """How a pass shared the chip (:attr:`~chiptwin.timing.compensation.CompensationSpec.mode`)."""

    gdc_passes: int
    adabs_passes: int
    calibration_images: int
    pass_mean_ns: float
    pass_max_ns: int
    """Mean and longest pass, from its scheduled time to the end of its last job (GDC read and scale,
    or the AdaBS batch-norm update), ns (0 without a completed pass)."""

    crossbar_busy_ns: int
    """Crossbar time all compensation took, summed over tiles, ns."""

    energy_pj: dict[str, float]
    """Energy of all compensation by component (:data:`~chiptwin.timing.plan.COMPONENTS`), pJ."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TimingResult:
    """The summary of one timing run (treat the dicts as read-only)."""

    mode: str
    """``events`` (every activity simulated) or ``batched`` (pipeline formula)."""

    chip: str
    model: str
    strategy: str
    duration_ns: int
    """Window in which the workload's arrivals were taken."""

    elapsed_ns: int
    """Run length: until the last job finished, at least ``duration_ns``."""

    inferences: int
    """User inferences completed."""

    latency_single_ns: int
    """Latency of one inference on the idle chip (the pipeline fill)."""

    interval_ns: int
    """Steady-state interval between results under saturation (the bottleneck's busy time per image)."""

    bottleneck: str
    latency_mean_ns: float
    """Mean latency (arrival to result) of the run's user inferences, queueing included."""

    latency_min_ns: int
    latency_max_ns: int
    latency_p50_ns: int
    latency_p99_ns: int
    """Median and 99th percentile of the latencies, to :data:`LATENCY_BIN_NS` (the start of the bin
    holding the quantile)."""

    throughput_per_s: float
    """User inferences per second of elapsed time."""

    peak_throughput_per_s: float
    """``1e9 / interval_ns``: the throughput of a saturated pipeline."""

    ops_per_inference: int
    tops: float
    """Achieved tera-operations per second (``ops_per_inference * throughput``)."""

    peak_tops: float
    tops_per_w: float
    """Operations per pJ of all energy per inference (dynamic, static, compensation)."""

    tops_per_w_dynamic: float
    """Operations per pJ of dynamic inference energy only (the data-sheet figure)."""

    energy_per_inference_pj: dict[str, float]
    """Energy per user inference by :data:`ENERGY_COMPONENTS`, pJ."""

    energy_by_layer_pj: dict[str, float]
    """Dynamic energy per user inference by layer, pJ."""

    compensation: CompensationResult | None
    programming: ProgrammingResult | None
    utilisation: UtilisationResult
    events: int
    """Events mode: activities simulated (one SimPy event each); batched: jobs served by the formula."""

    @property
    def energy_per_inference_total_pj(self) -> float:
        """All energy per user inference, pJ."""
        return sum(self.energy_per_inference_pj.values())

    @property
    def energy_per_inference_dynamic_pj(self) -> float:
        """Dynamic energy per user inference (the inference itself: no static, no compensation), pJ."""
        return sum(v for k, v in self.energy_per_inference_pj.items() if k in COMPONENTS)


LATENCY_BIN_NS = 1000
"""Latencies are counted in bins of 1 us for their percentiles (assumed fine enough: a fill is
hundreds of us to ms)."""

UTILISATION_WINDOWS = 100
"""Windows of the utilisation record when the caller gives no window: the run in a hundred slices."""

MAX_UTILISATION_WINDOWS = 1_000_000
"""More windows than this is a mistake (a 1 ns window over a second of device time)."""


class Tally:
    """What a run accumulates as it goes (mutable; :func:`summarise` freezes it into a result).

    Crossbar busy time comes two ways: the event engine hands exact intervals (:meth:`add_busy`; one
    crossbar's intervals never overlap and arrive in start order, FIFO), the batched engine books busy
    time to windows of ``base_window_ns`` (:meth:`add_window_busy`). :meth:`utilisation` bins both.
    """

    __slots__ = (
        "activities",
        "base_window_ns",
        "binned",
        "columns",
        "crossbar_busy",
        "energy",
        "intervals",
        "jobs",
        "last_done_ns",
        "latency_bins",
        "latency_count",
        "latency_max",
        "latency_min",
        "latency_sum",
        "layer_energy",
        "pass_ns",
        "passes",
    )

    def __init__(self, tiles: tuple[int, ...], base_window_ns: int = 1) -> None:
        self.base_window_ns = base_window_ns
        self.columns = {t: i for i, t in enumerate(tiles)}
        self.intervals: dict[int, tuple[list[int], list[int]]] = {t: ([], []) for t in tiles}
        self.binned: dict[int, np.ndarray] = {}
        self.jobs = dict.fromkeys(Task, 0)
        self.passes = {Task.GDC: 0, Task.ADABS: 0}
        self.energy = {task: dict.fromkeys(COMPONENTS, 0.0) for task in Task}
        self.layer_energy: dict[str, float] = {}
        self.crossbar_busy = dict.fromkeys(Task, 0)
        self.latency_sum = 0
        self.latency_count = 0
        self.latency_min = 0
        self.latency_max = 0
        self.latency_bins: dict[int, int] = {}
        self.pass_ns: list[int] = []
        self.last_done_ns = 0
        self.activities = 0

    def add_latency(self, latency_ns: int) -> None:
        """One user inference finished after ``latency_ns``."""
        if self.latency_count == 0 or latency_ns < self.latency_min:
            self.latency_min = latency_ns
        if latency_ns > self.latency_max:
            self.latency_max = latency_ns
        self.latency_sum += latency_ns
        self.latency_count += 1
        k = latency_ns // LATENCY_BIN_NS
        self.latency_bins[k] = self.latency_bins.get(k, 0) + 1

    def add_latency_bins(self, latencies_ns: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Count latencies (``weights``: how many jobs had each) in the percentile bins (the sum, least,
        worst and count are booked by the caller)."""
        bins = latencies_ns // LATENCY_BIN_NS
        w = np.ones(bins.size) if weights is None else weights
        lo = int(bins.min())
        near = bins < lo + 4 * bins.size + 64  # counted bin by bin; the few far ones (a pass's backlog) apart
        counts = np.bincount(bins[near] - lo, weights=w[near]).astype(np.int64)
        keys = np.flatnonzero(counts)
        pairs = list(zip((keys + lo).tolist(), counts[keys].tolist(), strict=True))
        if not near.all():
            far, inverse = np.unique(bins[~near], return_inverse=True)
            far_counts = np.bincount(inverse, weights=w[~near]).astype(np.int64)
            pairs += zip(far.tolist(), far_counts.tolist(), strict=True)
        held = self.latency_bins
        for k, n in pairs:
            held[k] = held.get(k, 0) + n

    def latency_quantile(self, q: float) -> int:
        """The start of the bin holding the ``q`` quantile of the latencies, ns (0 without any)."""
        if not self.latency_count:
            return 0
        keys = sorted(self.latency_bins)
        cum = np.cumsum([self.latency_bins[k] for k in keys])
        return int(keys[int(np.searchsorted(cum, q * cum[-1], side="left"))]) * LATENCY_BIN_NS

    def add_busy(self, tile: int, start_ns: int, duration_ns: int, task: Task) -> None:
        """Tile ``tile``'s crossbar is busy for ``task`` from ``start_ns`` for ``duration_ns`` (exact)."""
        self.crossbar_busy[task] += duration_ns
        starts, durations = self.intervals[tile]
        starts.append(start_ns)
        durations.append(duration_ns)

    def add_window_busy(self, window: int, tile: int, busy_ns: float, task: Task) -> None:
        """Book ``busy_ns`` of the crossbar of ``tile`` for ``task`` to window number ``window``."""
        row = self.binned.get(window)
        if row is None:
            row = self.binned[window] = np.zeros(len(self.columns))
        row[self.columns[tile]] += busy_ns
        self.crossbar_busy[task] += int(busy_ns)

    def busy_row(self, busy_ns_by_tile: dict[int, int]) -> np.ndarray:
        """Per-tile busy time as a row of the binned table (tiles of the tally, in its column order)."""
        row = np.zeros(len(self.columns))
        for tile, ns in busy_ns_by_tile.items():
            row[self.columns[tile]] += ns
        return row

    def add_window_jobs(self, window: int, jobs: int, row: np.ndarray, task: Task) -> None:
        """Book ``jobs`` jobs of crossbar time ``row`` (:meth:`busy_row`, whole ns) to window ``window``:
        as :meth:`add_window_busy` tile by tile (sums of whole ns are exact in float64)."""
        binned = self.binned.get(window)
        if binned is None:
            binned = self.binned[window] = np.zeros(len(self.columns))
        binned += jobs * row
        self.crossbar_busy[task] += int(jobs * row.sum())

    def utilisation(self, elapsed_ns: int, window_ns: int | None = None) -> UtilisationResult:
        """Busy fractions per window up to ``elapsed_ns`` (default window: a hundredth of the run,
        rounded up to a multiple of ``base_window_ns``).

        Raises:
            TimingError: more than :data:`MAX_UTILISATION_WINDOWS` windows.
        """
        base = self.base_window_ns
        if window_ns is None:
            window_ns = base * max(1, -(-elapsed_ns // (UTILISATION_WINDOWS * base)))
        windows = max(1, -(-elapsed_ns // window_ns))
        if windows > MAX_UTILISATION_WINDOWS:
            raise TimingError(
                f"window_ns(={window_ns}) cuts the run of {elapsed_ns} ns into {windows:,} windows "
                f"(at most {MAX_UTILISATION_WINDOWS:,})"
            )
        edges = np.minimum(np.arange(windows + 1, dtype=np.int64) * window_ns, elapsed_ns)
        busy = np.zeros((windows, len(self.columns)))
        for tile, (starts, durations) in self.intervals.items():
            if starts:
                busy[:, self.columns[tile]] = np.diff(
                    _busy_until(np.array(starts), np.array(durations), edges)
                )
        for k, row in self.binned.items():
            busy[min(k * base // window_ns, windows - 1)] += row
        lengths = np.diff(edges).clip(min=1)
        frac = busy / lengths[:, None]
        frac.flags.writeable = False
        return UtilisationResult(window_ns=window_ns, tiles=tuple(self.columns), busy_fraction=frac)


def _busy_until(starts: np.ndarray, durations: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Busy time before each of ``times`` of disjoint intervals sorted by start."""
    done = np.concatenate([[0], np.cumsum(durations)])
    last = np.searchsorted(starts, times, side="right") - 1
    inside = np.where(last >= 0, np.minimum(times - starts[last.clip(min=0)], durations[last.clip(min=0)]), 0)
    return done[last.clip(min=0)] * (last >= 0) + inside


def summarise(
    plan: PipelinePlan,
    tally: Tally,
    *,
    mode: str,
    duration_ns: int,
    elapsed_ns: int,
    fill_ns: int,
    policy: str | None,
    programming: ProgrammingResult | None,
    window_ns: int | None = None,
    mode_of_passes: str = "blocking",
) -> TimingResult:
    """Freeze a run's tally into a :class:`TimingResult` (module docstring for the conventions)."""
    n = tally.latency_count
    per = 1.0 / n if n else 0.0
    user = tally.energy[Task.INFERENCE]
    comp = {c: sum(tally.energy[t][c] for t in _COMPENSATION_TASKS) for c in COMPONENTS}
    energy = {c: user[c] * per for c in COMPONENTS}
    energy["static"] = plan.chip.static_power_mw * elapsed_ns * per
    energy["compensation"] = sum(comp.values()) * per
    dynamic = sum(user.values()) * per
    total = sum(energy.values())
    ops = plan.ops_per_inference
    throughput = n * NS_PER_S / elapsed_ns if elapsed_ns else 0.0
    compensation = None
    if policy is not None:
        compensation = CompensationResult(
            policy=policy,
            mode=mode_of_passes,
            pass_mean_ns=sum(tally.pass_ns) / len(tally.pass_ns) if tally.pass_ns else 0.0,
            pass_max_ns=max(tally.pass_ns, default=0),
            gdc_passes=tally.passes[Task.GDC],
            adabs_passes=tally.passes[Task.ADABS],
            calibration_images=tally.jobs[Task.ADABS],
            crossbar_busy_ns=sum(tally.crossbar_busy[t] for t in _COMPENSATION_TASKS),
            energy_pj=comp,
        )
    return TimingResult(
        mode=mode,
        chip=plan.chip.name,
        model=plan.model,
        strategy=plan.strategy,
        duration_ns=duration_ns,
        elapsed_ns=elapsed_ns,
        inferences=n,
        latency_single_ns=fill_ns,
        interval_ns=plan.bottleneck_ns,
        bottleneck=plan.bottleneck,
        latency_mean_ns=tally.latency_sum * per,
        latency_min_ns=tally.latency_min,
        latency_max_ns=tally.latency_max,
        latency_p50_ns=tally.latency_quantile(0.5),
        latency_p99_ns=tally.latency_quantile(0.99),
        throughput_per_s=throughput,
        peak_throughput_per_s=NS_PER_S / plan.bottleneck_ns,
        ops_per_inference=ops,
        tops=ops * throughput / 1e12,
        peak_tops=ops * NS_PER_S / plan.bottleneck_ns / 1e12,
        tops_per_w=ops / total if n and total else 0.0,
        tops_per_w_dynamic=ops / dynamic if n and dynamic else 0.0,
        energy_per_inference_pj=energy,
        energy_by_layer_pj={k: v * per for k, v in tally.layer_energy.items()},
        compensation=compensation,
        programming=programming,
        utilisation=tally.utilisation(elapsed_ns, window_ns),
        events=tally.activities,
    )
