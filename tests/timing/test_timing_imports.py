"""The timing layer imports and runs without torch, and exports a curated API."""

from __future__ import annotations

import subprocess
import sys

import chiptwin.timing

PROBE = """
import sys
import numpy as np
import chiptwin.timing
from chiptwin.timing import simulate_events, build_plan, ReplayWorkload
from chiptwin.mapping import map_graph
from chiptwin.spec.load import load_chip
from chiptwin.shipped import shipped_path
sys.path.insert(0, "tests/timing")
from timing_graphs import chain_graph, conv
chip = load_chip(shipped_path("architectures", "tiny_4"))
graph = chain_graph([conv("conv", 4, 16, 3, 8)])
plan = build_plan(graph, map_graph(graph, chip, "dense", architectures_dir=None), chip)
result = simulate_events(plan, ReplayWorkload(np.array([0])), duration_ns=1)
assert result.latency_single_ns == 2176, result.latency_single_ns
assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))
assert 'pyarrow' not in sys.modules
print('ok')
"""


def test_timing_runs_without_torch() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_public_api_is_curated() -> None:
    assert set(chiptwin.timing.__all__) == {
        "COMPENSATION_MODES", "COMPONENTS", "DIGITAL_OPS", "ENERGY_COMPONENTS", "MODES", "BlockWork",
        "BurstyWorkload",
        "CompensationResult", "CompensationSpec", "DigitalWork", "EventBuffer", "EventKind", "EventRecord",
        "GDCTileWork",
        "LayerStage", "PeriodicWorkload", "PipelinePlan", "PoissonWorkload", "ProgrammingResult", "RecordFn",
        "ReplayWorkload", "Server", "Task", "TimingResult", "Transfer", "UtilisationResult", "Workload",
        "build_plan", "ceil_ns", "compensation_times_ns", "gdc_work", "load_arrivals_csv",
        "pipeline_makespan_ns", "PlanChange", "programming_cost", "serve_jobs", "simulate",
        "simulate_batched", "simulate_events", "single_inference_ns",
    }  # fmt: skip
    assert all(hasattr(chiptwin.timing, name) for name in chiptwin.timing.__all__)
