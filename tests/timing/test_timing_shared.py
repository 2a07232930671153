"""Compensation that shares the chip (``CompensationSpec.mode = "shared"``) against today's blocking pass,
by hand, on the conv -> batch-norm -> ReLU plan of hermes_64 (one tile):

- user inference: B = 8,192 ns on crossbar 0 (64 MVMs of 128 ns), then 16 + 16 + 16 ns on the digital
  unit (conv scale, batch-norm, ReLU): F = 8,240 ns;
- AdaBS image: the same crossbar time, batch-norm 48 ns with its statistics: F = 8,272 ns; the update of
  the batch-norm statistics: 1 ns;
- GDC with 4 reads per block: 4 calibration MVMs (512 ns on crossbar 0), then 2 ns of scale ops.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from timing_graphs import conv_bn_graph, plan_of

from chiptwin.cli import main
from chiptwin.errors import SpecError, TimingError
from chiptwin.scenario.spec import PolicySpec, load_scenario
from chiptwin.spec.chip import ChipSpec
from chiptwin.timing import (
    CompensationSpec,
    EventKind,
    EventRecord,
    PeriodicWorkload,
    PipelinePlan,
    ReplayWorkload,
    Task,
    TimingResult,
    gdc_work,
    simulate_batched,
    simulate_events,
    single_inference_ns,
)


@pytest.fixture(scope="module")
def plans(hermes: ChipSpec) -> tuple[PipelinePlan, PipelinePlan]:
    return plan_of(conv_bn_graph(), hermes), plan_of(conv_bn_graph(), hermes, bn_statistics=True)


def test_the_figures_of_the_hand_cases(plans: tuple[PipelinePlan, PipelinePlan]) -> None:
    plan, adabs = plans
    assert (plan.bottleneck_ns, single_inference_ns(plan)) == (8192, 8240)
    assert (adabs.bottleneck_ns, single_inference_ns(adabs)) == (8192, 8272)
    assert [w.duration_ns for _, w in adabs.bn_updates] == [1]
    (work,) = gdc_work(plan, 4)
    assert (work.mvms, work.read_ns, work.digital.duration_ns if work.digital else 0) == (4, 512, 2)


def _adabs_pass(
    plans: tuple[PipelinePlan, PipelinePlan], engine: str, mode: str
) -> tuple[TimingResult, list[int]]:
    """Inferences every 20 us from 0 for 100 us; a pass of 3 AdaBS images (no GDC) at 5 us."""
    plan, adabs = plans
    comp = CompensationSpec(policy="adabs", times_s=(5e-6,), gdc_reads_per_block=0, adabs_images=3, mode=mode)
    records: list[EventRecord] = []
    run = simulate_events if engine == "events" else simulate_batched
    result = run(
        plan, PeriodicWorkload(50_000), duration_ns=100_000, compensation=comp, adabs_plan=adabs,
        record=records.append,
    )  # fmt: skip
    done = [r.duration_ns for r in records if r.kind is EventKind.DONE and r.task is Task.INFERENCE]
    return result, done


def test_batched_adabs_pass_blocking_by_hand(plans: tuple[PipelinePlan, PipelinePlan]) -> None:
    """FIFO: the images (and the update) arrive at 5 us, before the inference of 20 us. Pipeline entries:
    inference 0 at 0, images at 8,192, 16,384, 24,576, the update at 32,768 (1 ns), inference 1 at 32,769
    (latency 32,769 + 8,240 - 20,000 = 21,009), inference 2 at 40,961 (9,201), the rest on time. The
    pass ends with the update at 32,769: 27,769 ns after 5 us."""
    result, _ = _adabs_pass(plans, "batched", "blocking")
    assert result.inferences == 5
    assert (result.latency_max_ns, result.latency_mean_ns) == (21_009, (3 * 8240 + 21_009 + 9201) / 5)
    assert result.compensation is not None
    assert (result.compensation.pass_max_ns, result.compensation.mode) == (27_769, "blocking")
    assert (result.latency_p50_ns, result.latency_p99_ns) == (8000, 21_000)  # 1 us bins


def test_batched_adabs_pass_shared_by_hand(plans: tuple[PipelinePlan, PipelinePlan]) -> None:
    """An image takes the pipeline only when no inference waits. Image 1 at 8,192 (free, the next
    inference comes at 20,000), image 2 at 16,384; at 24,576 inference 1 waits (since 20,000): it goes
    first (latency 24,576 + 8,240 - 20,000 = 12,816); image 3 at 32,768; at 40,960 inference 2 waits
    (since 40,000): it goes (9,200); the update at 49,152, out at 49,153: a pass of 44,153 ns."""
    result, _ = _adabs_pass(plans, "batched", "shared")
    assert result.inferences == 5
    assert (result.latency_max_ns, result.latency_mean_ns) == (12_816, (3 * 8240 + 12_816 + 9200) / 5)
    assert result.compensation is not None
    assert (result.compensation.pass_max_ns, result.compensation.adabs_passes) == (44_153, 1)
    assert result.compensation.calibration_images == 3
    assert result.compensation.mode == "shared"


@pytest.mark.parametrize(
    "mode, latencies, pass_ns",
    [
        # The three images queue at crossbar 0 at 5 us (8,192 .. 32,768); inference 1 after them, its
        # digital work at 40,960 .. 41,008; the update when image 3 is out (32,848) + 1 ns.
        ("blocking", [8240, 21_008, 9200, 8240, 8240], 32_849 - 5000),
        # One image at a time when crossbar 0 is idle and the previous one has had its 8,192 ns: image 1
        # at 8,192, image 2 at 16,384, inference 1 at 24,576 (queued since 20,000: done at 32,816), image
        # 3 at 32,768, inference 2 at 40,960 (done 49,200); image 3 out at 41,040, the update 1 ns.
        ("shared", [8240, 12_816, 9200, 8240, 8240], 41_041 - 5000),
    ],
)
def test_event_adabs_pass_by_hand(
    plans: tuple[PipelinePlan, PipelinePlan], mode: str, latencies: list[int], pass_ns: int
) -> None:
    result, done = _adabs_pass(plans, "events", mode)
    assert done == latencies
    assert result.compensation is not None and result.compensation.pass_max_ns == pass_ns


def _gdc_pass(plan: PipelinePlan, engine: str, mode: str) -> tuple[TimingResult, list[EventRecord]]:
    """Inferences at 0, 8,300 and 20,000 ns; a GDC pass (4 reads) at 8,192 ns, when crossbar 0 frees."""
    comp = CompensationSpec(policy="gdc", times_s=(8.192e-6,), gdc_reads_per_block=4, mode=mode)
    records: list[EventRecord] = []
    run = simulate_events if engine == "events" else simulate_batched
    workload = ReplayWorkload(np.array([0, 8300, 20_000]))
    return run(plan, workload, duration_ns=30_000, compensation=comp, record=records.append), records


@pytest.mark.parametrize("engine", ["events", "batched"])
def test_gdc_pass_in_slices_by_hand(plans: tuple[PipelinePlan, PipelinePlan], engine: str) -> None:
    """Blocking: the 512 ns read holds crossbar 0 from 8,192; the inference of 8,300 enters at 8,704
    (latency 8,704 + 8,240 - 8,300 = 8,644); the scale ops end the pass at 8,706 (514 ns). Shared: 4
    slices of 128 ns; slice 1 at 8,192; at 8,320 the inference waits: it goes (8,260), and the slices
    follow at 16,512, 16,640 and 16,768; the scale ops end the pass at 16,898 (8,706 ns)."""
    plan, _ = plans
    blocking, _ = _gdc_pass(plan, engine, "blocking")
    shared, records = _gdc_pass(plan, engine, "shared")
    assert (blocking.latency_max_ns, shared.latency_max_ns) == (8644, 8260)
    assert blocking.compensation is not None and shared.compensation is not None
    assert (blocking.compensation.pass_max_ns, shared.compensation.pass_max_ns) == (514, 8706)
    assert blocking.compensation.gdc_passes == shared.compensation.gdc_passes == 1
    # Same work, same energy: the pass is only spread out.
    assert shared.compensation.energy_pj == pytest.approx(blocking.compensation.energy_pj)
    assert shared.compensation.crossbar_busy_ns == blocking.compensation.crossbar_busy_ns == 512
    if engine == "events":
        slices = [(r.time_ns, r.duration_ns) for r in records if r.kind is EventKind.CALIBRATE]
        assert slices == [(8192, 128), (16_512, 128), (16_640, 128), (16_768, 128)]


def test_a_bad_mode_is_refused() -> None:
    with pytest.raises(TimingError, match=r"compensation mode\(='sliced'\) must be one of blocking, shared"):
        CompensationSpec(policy="gdc", mode="sliced")


SCENARIO = """
checkpoints = ["resnet32_pcm_fmnist_hwa"]
probes_s = [60, 3600]

[[policies]]
name = "gdc_shared"
compensation = "gdc"
every = "probe"
compensation_mode = "shared"
"""


def test_a_scenario_policy_takes_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "shared.toml"
    path.write_text(SCENARIO)
    (policy,) = load_scenario(path).policies
    assert policy.compensation_mode == "shared"
    assert PolicySpec(name="x").compensation_mode == "blocking"
    path.write_text(SCENARIO.replace('"shared"', '"sliced"'))
    with pytest.raises(SpecError) as err:
        load_scenario(path)
    assert str(err.value) == (
        f"{path}: policy 'gdc_shared': compensation_mode(='sliced') must be one of blocking, shared"
    )


def test_the_timing_command_takes_the_mode(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["timing", "--model", "resnet32_pcm", "--duration", "8ms", "--layers", "1", "--policy"]
    argv += ["gdc+adabs", "--period", "5ms", "--adabs-images", "2", "--compensation-mode", "shared"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "compensation gdc+adabs every 5ms (shared): 1 GDC, 1 AdaBS passes (2 images)" in out
    assert "a pass takes" in out and " p99 " in out
    assert main(["timing", "--compensation-mode", "sliced"]) == 2
    err = capsys.readouterr().err
    assert "argument --compensation-mode: invalid choice: 'sliced'" in err and err.count("\n") == 1
