"""The progress bar of a scenario moves at every action of a cell's schedule, not only at its probes: a
policy's compensation passes between two probes are steps too (a bar counting probes stalled while
they ran)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

import chiptwin.scenario.run as scenario_run
from chiptwin.scenario import PolicySpec, ScenarioSpec, run_scenario

SPEC = ScenarioSpec(
    name="progress_test",
    checkpoints=("resnet32_pcm_fmnist_hwa",),
    # GDC every 10 min: five passes between the probes at 1 min and 1 h, a sixth at 1 h itself.
    policies=(PolicySpec(name="gdc_often", compensation="gdc", every_s=600.0),),
    probes_s=(60.0, 3600.0),
    seeds=(0,),
    n_images=20,
    n_adabs=20,
    n_range_calibration=20,
    batch_size=20,
)


class _Bar:
    """Records what the scenario does with its bar (tqdm's interface, as used)."""

    made: ClassVar[list[_Bar]] = []

    def __init__(self, *, total: int, **_: Any) -> None:
        self.total, self.n = total, 0
        _Bar.made.append(self)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def update(self, n: int) -> None:
        self.n += n


@pytest.mark.slow  # one cell of ResNet-32 on 20 images: ~4 s
def test_bar_counts_probes_and_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scenario_run, "tqdm", _Bar)
    run_scenario(SPEC, tmp_path / "t", progress=True)
    (bar,) = _Bar.made
    assert bar.total == 2 + 6  # two probes and six GDC passes (every 10 min up to 1 h)
    assert bar.n == bar.total
