"""Scenarios: the one place that joins the functional twin and the timing layer on one clock.

    spec = ScenarioSpec(name="mine", probes_s=(1.0, 3600.0, 86_400.0), seeds=(0, 1))
    run = run_scenario(spec, "traces/mine")        # writes the trace directory

See :mod:`chiptwin.scenario.cell` for what happens on the clock of one cell.
"""

from chiptwin.scenario.cell import CellResult, CellTiming, cell_id, run_cell, schedule, time_cell
from chiptwin.scenario.prepare import Prepared, PreparedModel, prepare
from chiptwin.scenario.run import ScenarioRun, run_scenario
from chiptwin.scenario.spec import (
    COMPENSATIONS,
    PolicySpec,
    ScenarioSpec,
    WorkloadSpec,
    load_scenario,
    log_probes_s,
)

__all__ = [
    "COMPENSATIONS",
    "CellResult",
    "CellTiming",
    "PolicySpec",
    "Prepared",
    "PreparedModel",
    "ScenarioRun",
    "ScenarioSpec",
    "WorkloadSpec",
    "cell_id",
    "load_scenario",
    "log_probes_s",
    "prepare",
    "run_cell",
    "run_scenario",
    "schedule",
    "time_cell",
]
