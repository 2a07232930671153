"""``chiptwin timing``: latency, throughput, TOPS, TOPS/W and energy per image of a mapped zoo network.

``--calibrate`` instead streams full-crossbar MVMs (a 1x1 convolution as wide and tall as one crossbar,
32x32 output positions) through one tile, in each of HERMES' two read modes, and compares the peak TOPS
and TOPS/W with the published figures (Le Gallo et al., Nature Electronics 6, 680 (2023): one-phase
63.1 TOPS at 9.76 TOPS/W, four-phase 16.1 TOPS at 2.48 TOPS/W).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from chiptwin.cli.arch import resolve_arch
from chiptwin.cli.arguments import (
    duration,
    integer,
    model_name,
    name_or_path,
    path,
    real,
    seed,
    strategy_name,
)
from chiptwin.cli.search import add_search_arguments, format_search, search_or_placer
from chiptwin.compensation import POLICY_NAMES, compensation_spec, get_policy
from chiptwin.durations import format_time_ns, parse_duration_ns
from chiptwin.errors import TimingError, UsageError
from chiptwin.files import check_regular_file
from chiptwin.limits import (
    EVENT_IMAGES_PER_S,
    MAX_ARRIVALS,
    MAX_CALIBRATION_IMAGES,
    MAX_COMPENSATION_PASSES,
    MAX_EVENT_ARRIVALS,
    MAX_GDC_READS,
    MAX_IN_CHANNELS,
    MAX_LAYERS,
    MAX_RATE_PER_S,
    MAX_REPLAY_ARRIVALS,
    MIN_RATE_PER_S,
)
from chiptwin.mapping import Mapping, SearchResult, map_graph
from chiptwin.mapping.strategies import STRATEGIES
from chiptwin.network.graph import model_layer_graph
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.figures import chip_area, mvm_cost
from chiptwin.spec.graph import EdgeSpec, LayerSpec
from chiptwin.spec.load import load_chip
from chiptwin.timing import (
    COMPENSATION_MODES,
    BurstyWorkload,
    PeriodicWorkload,
    PipelinePlan,
    PoissonWorkload,
    ReplayWorkload,
    TimingResult,
    Workload,
    build_plan,
    load_arrivals_csv,
    simulate_batched,
    simulate_events,
)
from chiptwin.timing.workload import arrivals_from_seconds
from chiptwin.units import FJ_PER_PJ, NS_PER_S, format_energy, plural

__all__ = [
    "CALIBRATION_TOLERANCE",
    "HERMES_MVM_TIME_NS",
    "HERMES_PEAK_TOPS",
    "HERMES_PUBLISHED",
    "HERMES_TOPS_PER_W",
    "add_parser",
    "format_result",
    "format_system",
    "load_warning",
    "mvm_stream_graph",
    "parse_duration_ns",  # re-exported from chiptwin.durations, where the one duration grammar lives
]

HERMES_PUBLISHED: dict[str, tuple[float, float]] = {"one_phase": (63.1, 9.76), "four_phase": (16.1, 2.48)}
"""HERMES' 8-bit peak TOPS and TOPS/W in each read mode (Le Gallo et al., Nat. Electron. 6, 680 (2023),
abstract)."""

HERMES_PEAK_TOPS, HERMES_TOPS_PER_W = HERMES_PUBLISHED["one_phase"]
"""The one-phase (low-precision) figures."""

HERMES_MVM_TIME_NS = 64 * 2 * 256 * 256 / (HERMES_PEAK_TOPS * 1e3)
"""One 256x256 MVM in the one-phase mode implied by 63.1 TOPS on 64 cores, ns (132.9 ns; the paper
rounds it to ~130 ns)."""

CALIBRATION_TOLERANCE = 0.10
"""How close ``timing --calibrate`` must come to each published figure (relative)."""

EVENTS_MODE_LIMIT = 2_000
"""``--mode auto`` simulates every event up to this many expected inferences, else uses the formula."""


def mvm_stream_graph(chip: ChipSpec, size: int = 32) -> nx.DiGraph:
    """A one-layer graph whose every MVM fills one crossbar: a 1x1 conv, ``weight_rows`` in, ``weight_cols``
    out, ``size x size`` output positions."""
    rows, cols = chip.tiles.weight_rows, chip.tiles.weight_cols
    shape_in, shape_out = (rows, size, size), (cols, size, size)
    conv = LayerSpec(
        name="mvm", kind="conv", analog=True, input_shape=shape_in, output_shape=shape_out,
        ops_per_inference=rows * cols * size * size, in_channels=rows, out_channels=cols, kernel_h=1,
        kernel_w=1, stride=(1, 1), padding=(0, 0), groups=1, rows=rows, cols=cols,
        mvms_per_inference=size * size,
    )  # fmt: skip
    x = LayerSpec(name="x", kind="input", analog=False, input_shape=shape_in, output_shape=shape_in)
    out = LayerSpec(name="output", kind="output", analog=False, input_shape=shape_out, output_shape=shape_out)
    g = nx.DiGraph(model="mvm_stream", activation_bits=8)
    for layer in (x, conv, out):
        g.add_node(layer.name, layer=layer)
    for src, dst, shape in (("x", "mvm", shape_in), ("mvm", "output", shape_out)):
        edge = EdgeSpec(src=src, dst=dst, shape=shape, bytes_per_inference=math.prod(shape))
        g.add_edge(src, dst, edge=edge)
    return g


def _ns(value: float) -> str:
    return format_time_ns(value)


def _pj(value: float) -> str:
    return format_energy(value, digits=4)


def load_warning(offered_per_s: float, peak_per_s: float, latency_mean_ns: float, burst_per_s: float) -> str:
    """The warning printed when the workload offers the chip more than it can serve, or ``""``.

    ``offered_per_s`` is the mean arrival rate, ``burst_per_s`` the rate within a burst (the mean rate for
    steady workloads). Above the peak the queue grows for as long as arrivals last, so the mean latency
    measures the run's length, not the chip (a queue's utilisation rho = offered / peak; for rho >= 1 no
    steady state exists: Kleinrock, Queueing Systems vol. 1, 1975, sec. 2.1).

    >>> load_warning(1000.0, 131.0, 6.98e9, 1000.0).split(";")[0]
    "warning: the offered load, 1,000 images/s, is 7.6x the chip's peak of 131 images/s (utilisation 100 %)"
    >>> load_warning(100.0, 131.0, 1e6, 100.0)
    ''
    """
    if offered_per_s > peak_per_s:
        return (
            f"warning: the offered load, {offered_per_s:,.0f} images/s, is {offered_per_s / peak_per_s:.2g}x "
            f"the chip's peak of {peak_per_s:,.0f} images/s (utilisation 100 %); the queue grows without "
            f"bound, so the mean latency ({_ns(latency_mean_ns)}) grows with --duration: offer at most "
            f"{peak_per_s:,.0f} images/s (--rate) to measure latency under load"
        )
    if burst_per_s > peak_per_s:
        return (
            f"warning: bursts of {burst_per_s:,.0f} images/s exceed the chip's peak of {peak_per_s:,.0f} "
            f"images/s: the queue builds during each burst and drains between them (mean utilisation "
            f"{100 * offered_per_s / peak_per_s:.0f} %)"
        )
    return ""


def format_system(plan: PipelinePlan, mapping: Mapping, chip: ChipSpec) -> str:
    """Chips used and the traffic over chip-to-chip links of a system's mapping (one line)."""
    system = chip.system
    assert system is not None
    chips = {system.chip_of(mapping.positions[t]) for t in mapping.tiles_used}
    edge = [ns for i, ns in plan.link_busy_ns.items() if plan.links[i].endswith("(chip-to-chip)")]
    busiest = (
        f"busiest busy {100 * max(edge) / plan.bottleneck_ns:.1f} % of the interval" if edge else "none used"
    )
    return (
        f"system      {len(chips)} of {system.chips} chips used; {plan.offchip_bytes:,} bytes x links per "
        f"image over chip-to-chip links ({_pj(plan.offchip_bytes * 8 * system.link_energy_per_bit_pj)}); "
        f"{busiest}"
    )


def format_result(result: TimingResult, plan: PipelinePlan, *, layers: int | None = None) -> str:
    """The summary printed by ``chiptwin timing``: latency, throughput, TOPS, TOPS/W, energy per image by
    component and by layer (the ``layers`` most costly, all by default)."""
    r = result
    area = chip_area(plan.chip).total_mm2
    lines = [
        f"{r.model} on {r.chip}, strategy {r.strategy}, mode {r.mode}: {r.inferences:,} inferences in "
        f"{_ns(r.duration_ns)} of arrivals (run {_ns(r.elapsed_ns)})",
        f"latency     single {_ns(r.latency_single_ns)}; under the workload mean {_ns(r.latency_mean_ns)}, "
        f"min {_ns(r.latency_min_ns)}, p50 {_ns(r.latency_p50_ns)}, p99 {_ns(r.latency_p99_ns)}, "
        f"max {_ns(r.latency_max_ns)}",
        f"pipeline    interval {_ns(r.interval_ns)} (bottleneck {r.bottleneck}), peak "
        f"{r.peak_throughput_per_s:,.0f} inferences/s",
        f"throughput  {r.throughput_per_s:,.1f} inferences/s",
        f"TOPS        {r.tops:.4g} achieved, {r.peak_tops:.4g} peak ({r.ops_per_inference:,} ops per image)",
        f"TOPS/W      {r.tops_per_w_dynamic:.4g} dynamic, {r.tops_per_w:.4g} with static and compensation",
        f"area        {area:.4g} mm² ({plan.chip.tiles.count} tiles); TOPS/mm² {r.tops / area:.4g} achieved, "
        f"{r.peak_tops / area:.4g} peak",
        f"energy per image {_pj(r.energy_per_inference_total_pj)}:",
    ]
    total = r.energy_per_inference_total_pj or 1.0
    for comp, pj in r.energy_per_inference_pj.items():
        if pj:
            lines.append(f"  {comp:<14} {_pj(pj):>11} {100 * pj / total:6.2f} %")
    by_layer = sorted(plan.stages, key=lambda s: -r.energy_by_layer_pj.get(s.layer, 0.0))
    shown = [s for s in by_layer if r.energy_by_layer_pj.get(s.layer, 0.0) > 0][:layers]
    width = max([len("layer"), *(len(s.layer) for s in shown)])
    costly = sum(1 for s in plan.stages if r.energy_by_layer_pj.get(s.layer, 0.0) > 0)
    lines.append(f"energy by layer (dynamic; {len(shown)} most costly of {costly}):")
    lines.append(f"  {'layer':<{width}}  {'kind':<9} {'stage':>10} {'energy':>11}")
    for s in shown:
        pj = r.energy_by_layer_pj[s.layer]
        lines.append(f"  {s.layer:<{width}}  {s.kind:<9} {_ns(s.latency_ns):>10} {_pj(pj):>11}")
    busy = r.utilisation.mean_by_tile()
    if busy:
        top = max(busy, key=busy.__getitem__)
        mean = sum(busy.values()) / len(busy)
        lines.append(
            f"tiles       {len(busy)} used, crossbar busy {100 * mean:.1f} % on average, "
            f"{100 * busy[top]:.1f} % on tile {top}"
        )
    if r.programming is not None:
        p = r.programming
        lines.append(f"programming {p.devices:,} devices in {_ns(p.time_ns)}, {_pj(p.energy_pj)}")
    return "\n".join(lines)


def _workload(args: argparse.Namespace) -> tuple[Workload, str]:
    if args.replay is not None:
        path = Path(args.replay)
        times = _read_parquet_arrivals(path) if path.suffix == ".parquet" else load_arrivals_csv(path)
        return ReplayWorkload(times, source=str(path)), f"replay of {path}"
    if args.workload == "periodic":
        return PeriodicWorkload(args.rate), f"{args.rate:,g} inferences/s periodic"
    if args.workload == "poisson":
        return PoissonWorkload(args.rate, seed=args.seed), f"{args.rate:,g} inferences/s Poisson"
    on, off = args.on.ns / NS_PER_S, args.off.ns / NS_PER_S
    return BurstyWorkload(args.rate, on_s=on, off_s=off, seed=args.seed), f"{args.rate:,g}/s bursty"


def _read_parquet_arrivals(path: Path) -> np.ndarray:
    # The timing layer cannot import pyarrow: the command line reads the column and hands over an array.
    check_regular_file(path, "replay file", TimingError)
    try:
        rows = pq.read_metadata(path).num_rows
    except (OSError, pa.ArrowException) as exc:
        raise TimingError(f"{path}: cannot read Parquet replay file ({exc})") from None
    if rows > MAX_REPLAY_ARRIVALS:
        raise TimingError(f"{path}: {rows:,} arrivals; a replay file holds at most {MAX_REPLAY_ARRIVALS:,}")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise TimingError(f"{path}: cannot read Parquet replay file ({exc})") from None
    if "arrival_ns" in table.column_names:
        return np.asarray(table.column("arrival_ns").to_numpy(zero_copy_only=False))
    if "arrival_s" in table.column_names:
        seconds = table.column("arrival_s").to_numpy(zero_copy_only=False)
        return arrivals_from_seconds(np.asarray(seconds, dtype=np.float64), str(path))
    raise TimingError(f"{path}: columns {table.column_names} have no arrival_ns or arrival_s")


def _calibrate_mode(chip: ChipSpec) -> tuple[float, float, float, float, str]:
    """``(MVM ns, peak TOPS, dynamic TOPS/W, TOPS/W with static, bottleneck)`` of a full-MVM stream."""
    graph = mvm_stream_graph(chip)
    mapping = map_graph(graph, chip, "dense")
    plan = build_plan(graph, mapping, chip)
    images = 50
    result = simulate_events(plan, ReplayWorkload(np.zeros(images, dtype=np.int64)), duration_ns=1)
    mvms = graph.nodes["mvm"]["layer"].mvms_per_inference
    ops_per_mvm = 2 * chip.tiles.weight_rows * chip.tiles.weight_cols
    mvm_ns = result.interval_ns / mvms
    # All tiles streaming share the chip's static power: each MVM carries 1/count of it.
    static_pj = chip.static_power_mw * mvm_ns / chip.tiles.count
    full = ops_per_mvm / (sum(plan.energy_pj.values()) / mvms + static_pj)
    peak = chip.tiles.count * ops_per_mvm / mvm_ns / 1e3
    return mvm_ns, peak, result.tops_per_w_dynamic, full, result.bottleneck


def _calibrate(chip: ChipSpec) -> int:
    """Both read modes of ``chip`` (its own figures, ``tiles.read_mode`` switched) against HERMES."""
    size = f"{chip.tiles.weight_rows}x{chip.tiles.weight_cols}"
    print(
        f"{chip.name}: streams of full {size} MVMs on one tile (event mode), {chip.dac.bits}-bit DAC, "
        f"{chip.adc.bits}-bit ADC; published: Le Gallo et al. 2023 (HERMES, 8-bit MVMs), within "
        f"{CALIBRATION_TOLERANCE:.0%}"
    )
    for mode, (tops, tops_w) in HERMES_PUBLISHED.items():
        moded = dataclasses.replace(chip, tiles=dataclasses.replace(chip.tiles, read_mode=mode))
        mvm_ns, peak, dynamic, full, _ = _calibrate_mode(moded)
        mine = " (the file's mode)" if mode == chip.tiles.read_mode else ""
        print(f"  {mode}{mine}: MVM {mvm_ns:.1f} ns ({plural(moded.tiles.read_phases, 'phase')})")
        for name, value, published in (
            ("peak TOPS, all tiles", peak, tops),
            ("TOPS/W, dynamic", dynamic, tops_w),
            ("TOPS/W, static of a full chip", full, tops_w),
        ):
            off = value / published - 1
            verdict = "ok" if abs(off) <= CALIBRATION_TOLERANCE else "OFF"
            print(f"    {name:<30} {value:>8.2f}   published {published:g} ({100 * off:+.1f} %) {verdict}")
    cost = mvm_cost(chip)
    parts = {"array": cost.array_fj_per_mac * chip.tiles.weight_rows * chip.tiles.weight_cols / FJ_PER_PJ}
    parts |= {
        "dac": cost.dac_pj_per_row * chip.tiles.weight_rows,
        "adc": cost.adc_pj_per_column * chip.tiles.weight_cols,
    }
    print(
        f"  energy per MVM ({chip.tiles.read_mode}): "
        + ", ".join(f"{c} {_pj(pj)}" for c, pj in parts.items())
    )
    return 0


def _check_work(
    args: argparse.Namespace, mode: str, expected: float, duration_ns: int, compensates: bool
) -> None:
    """Refuse a run that would not finish or not fit in memory (the bounds of :mod:`chiptwin.limits`)."""
    window = f"--rate {args.rate:g} for --duration {_ns(duration_ns)}"
    if expected > MAX_ARRIVALS:
        raise UsageError(
            f"chiptwin timing: {window} is {expected:.3g} inferences, more than {MAX_ARRIVALS:.0e}"
        )
    if mode == "events" and expected > MAX_EVENT_ARRIVALS and not args.long:
        minutes = expected / EVENT_IMAGES_PER_S / 60
        raise UsageError(
            f"chiptwin timing: --mode events for {expected:,.0f} inferences takes ~{minutes:,.0f} min "
            f"(~{EVENT_IMAGES_PER_S:g} images/s for ResNet-32 on a 2-core machine); add --long to run it, or "
            "use --mode batched"
        )
    passes = duration_ns / args.period.ns
    if compensates and passes > MAX_COMPENSATION_PASSES:
        raise UsageError(
            f"chiptwin timing: --period {args.period} for {_ns(duration_ns)} is {passes:.3g} compensation "
            f"passes, more than {MAX_COMPENSATION_PASSES:,}"
        )


def _run(args: argparse.Namespace) -> int:
    path = resolve_arch(args.arch)
    chip = load_chip(path)
    if args.calibrate:
        return _calibrate(chip)
    duration = NS_PER_S if args.duration is None else args.duration.ns
    workload, described = _workload(args)
    if isinstance(workload, ReplayWorkload) and args.duration is None:
        duration = max(workload.end_ns, 1)
    if isinstance(workload, ReplayWorkload):
        expected = float(workload.arrivals_ns(0, duration).size)
    else:
        expected = duration / NS_PER_S * args.rate
    mode = args.mode
    if mode == "auto":
        mode = "events" if expected <= EVENTS_MODE_LIMIT else "batched"
    _check_work(args, mode, expected, duration, get_policy(args.policy).acts)
    compensation = compensation_spec(
        get_policy(args.policy),
        adabs_images=args.adabs_images,
        gdc_reads_per_block=chip.gdc.reads_per_block if args.gdc_reads is None else args.gdc_reads,
        period_s=args.period.ns / NS_PER_S,
        mode=args.compensation_mode,
    )
    bits = max(chip.dac.bits, chip.adc.bits)
    graph = model_layer_graph(args.model, in_channels=args.in_channels, activation_bits=bits)
    searched: list[SearchResult] = []
    with search_or_placer(args, searched) as chosen:
        mapping = map_graph(graph, chip, chosen, source=path)
    plan = build_plan(graph, mapping, chip)
    adabs = (
        build_plan(graph, mapping, chip, bn_statistics=True) if compensation and compensation.adabs else None
    )
    engine = simulate_events if mode == "events" else simulate_batched
    kwargs = {"duration_ns": duration, "adabs_plan": adabs, "program": args.program}
    result = engine(plan, workload, compensation=compensation, **kwargs)
    print(f"workload    {described}")
    offered = expected / (duration / NS_PER_S)
    burst = args.rate if isinstance(workload, BurstyWorkload) else offered
    warning = load_warning(offered, result.peak_throughput_per_s, result.latency_mean_ns, burst)
    if warning:
        print(warning)
    print(format_result(result, plan, layers=args.layers))
    for found in searched:
        print(format_search(found, args.objective or "throughput"))
    if chip.system is not None:
        print(format_system(plan, mapping, chip))
    if compensation is not None and result.compensation is not None:
        base = engine(plan, workload, compensation=None, **kwargs)
        c = result.compensation
        extra = result.energy_per_inference_pj["compensation"]
        print(
            f"compensation {c.policy} every {args.period} ({c.mode}): {c.gdc_passes} GDC, {c.adabs_passes} "
            f"AdaBS passes ({c.calibration_images:,} images), crossbar time {_ns(c.crossbar_busy_ns)} (all "
            f"tiles), {_pj(extra)} per image; a pass takes {_ns(c.pass_mean_ns)} on average, "
            f"{_ns(c.pass_max_ns)} at most"
        )
        more = result.latency_mean_ns - base.latency_mean_ns
        print(
            f"  latency mean {_ns(result.latency_mean_ns)} vs {_ns(base.latency_mean_ns)} without "
            f"({_ns(more)} more), max {_ns(result.latency_max_ns)} vs {_ns(base.latency_max_ns)}"
        )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("timing", help="latency, throughput and energy of a mapped network (SimPy twin)")
    p.add_argument(
        "--arch",
        type=name_or_path("arch"),
        default="hermes_64",
        help="architecture TOML file, or a shipped chip's name (check-arch --list)",
    )
    p.add_argument(
        "--model",
        type=model_name,
        default="resnet32_pcm",
        help="zoo model name, or a model file FILE.py[:NAME][@WEIGHTS] (a function building your nn.Module)",
    )
    p.add_argument(
        "--strategy", type=strategy_name, default="dense", help=f"placement strategy: {', '.join(STRATEGIES)}"
    )
    p.add_argument(
        "--in-channels",
        type=integer("in_channels", minimum=1, maximum=MAX_IN_CHANNELS),
        default=None,
        help="input channels (default: the zoo's)",
    )
    add_search_arguments(p)
    p.add_argument(
        "--rate",
        type=real("rate_per_s", at_least=MIN_RATE_PER_S, at_most=MAX_RATE_PER_S),
        default=1000.0,
        help="inferences per second (default 1000)",
    )
    p.add_argument(
        "--duration",
        type=duration("duration"),
        default=None,
        help="arrival window, e.g. 10ms, 1h, 1y (units ns us ms s min h d y; default 1s or a replay's end)",
    )
    p.add_argument(
        "--workload", choices=("periodic", "poisson", "bursty"), default="periodic", help="arrival process"
    )
    p.add_argument("--on", type=duration("on"), default="100ms", help="bursty: on time (default 100ms)")
    p.add_argument(
        "--off",
        type=duration("off", positive=False),
        default="900ms",
        help="bursty: off time (default 900ms)",
    )
    p.add_argument(
        "--replay", type=path("replay"), default=None, help="replay arrival times from a CSV or Parquet file"
    )
    p.add_argument("--seed", type=seed(), default=0, help="run seed of random workloads")
    p.add_argument(
        "--mode",
        choices=("auto", "events", "batched"),
        default="auto",
        help=f"events: every activity; batched: pipeline formula; auto: events up to {EVENTS_MODE_LIMIT:,} "
        "inferences",
    )
    p.add_argument(
        "--long",
        action="store_true",
        help=f"allow an event-mode run of more than {MAX_EVENT_ARRIVALS:,} inferences (it says how long)",
    )
    p.add_argument("--policy", choices=POLICY_NAMES, default="none", help="periodic compensation")
    p.add_argument("--period", type=duration("period"), default="1h", help="compensation period (default 1h)")
    p.add_argument(
        "--compensation-mode",
        choices=COMPENSATION_MODES,
        default="blocking",
        help="blocking: a pass queues with inferences, which wait for all of it; shared: the pass in "
        "slices that take the chip only when no inference waits (default blocking)",
    )
    p.add_argument(
        "--adabs-images",
        type=integer("adabs_images", minimum=1, maximum=MAX_CALIBRATION_IMAGES),
        default=2600,
        help="calibration images per AdaBS pass",
    )
    p.add_argument(
        "--gdc-reads",
        type=integer("gdc_reads_per_block", minimum=1, maximum=MAX_GDC_READS),
        default=None,
        help="calibration reads per block per GDC pass (default: the chip's gdc.read, 2 for 'polarities')",
    )
    p.add_argument("--program", action="store_true", help="program the tiles at time 0 first")
    p.add_argument(
        "--layers",
        type=integer("layers", minimum=1, maximum=MAX_LAYERS),
        default=12,
        help="print the N most costly layers (default 12)",
    )
    p.add_argument(
        "--calibrate", action="store_true", help="stream full-crossbar MVMs and compare with HERMES"
    )
    p.set_defaults(func=_run)
