"""Scenario specs: validation, TOML loading, and the schedule a cell walks."""

from __future__ import annotations

from pathlib import Path

import pytest

from chiptwin.errors import SpecError
from chiptwin.scenario import PolicySpec, ScenarioSpec, load_scenario, log_probes_s, schedule
from chiptwin.scenario.cell import COMPENSATE, PROBE, REPROGRAM
from chiptwin.scenario.library import SCENARIOS, named_scenario
from chiptwin.shipped import resolve
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.load import apply_overrides

S = 1_000_000_000


def test_log_probes_are_log_spaced_and_end_exactly() -> None:
    # 86400^(k/5) = 1, 9.712, 94.33, 916.1, 8897, 86400 (3 significant digits, the end exact)
    assert log_probes_s(1.0, 86_400.0, 6) == (1.0, 9.71, 94.3, 916.0, 8900.0, 86_400.0)
    with pytest.raises(SpecError, match="count"):
        log_probes_s(1.0, 10.0, 1)


def test_schedule_orders_reprogram_compensate_probe() -> None:
    # GDC every 1 h, reprogram every 2 h, probes at 30 min, 1 h, 2 h: at 2 h the chip is reprogrammed,
    # then compensated, then probed.
    policy = PolicySpec(name="p", compensation="gdc", every_s=3600.0, reprogram_after_s=7200.0)
    assert schedule(policy, (1800.0, 3600.0, 7200.0)) == [
        (1800 * S, PROBE),
        (3600 * S, COMPENSATE),
        (3600 * S, PROBE),
        (7200 * S, REPROGRAM),
        (7200 * S, COMPENSATE),
        (7200 * S, PROBE),
    ]
    at_probe = PolicySpec(name="q", compensation="gdc+adabs", every="probe")
    assert schedule(at_probe, (1.0, 2.0)) == [
        (S, COMPENSATE),
        (S, PROBE),
        (2 * S, COMPENSATE),
        (2 * S, PROBE),
    ]
    assert schedule(PolicySpec(name="none"), (1.0,)) == [(S, PROBE)]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": "a/b"}, "policy name"),
        ({"name": "x", "compensation": "magic"}, "compensation(='magic')"),
        ({"name": "x", "compensation": "gdc"}, "needs every"),
        ({"name": "x", "every_s": 10.0}, "takes no schedule"),
        ({"name": "x", "compensation": "gdc", "every_s": -1.0}, "every_s(=-1.0)"),
        ({"name": "x", "compensation": "gdc", "every": "probe", "every_s": 5.0}, "not both"),
        ({"name": "x", "reprogram_after_s": float("inf")}, "reprogram_after_s(=inf)"),
    ],
)
def test_bad_policy(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(SpecError) as err:
        PolicySpec(**kwargs)  # type: ignore[arg-type]
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"probes_s": (10.0, 5.0)}, "strictly ascending"),
        ({"probes_s": ()}, "probes_s"),
        ({"seeds": (0, 0)}, "distinct"),
        ({"seeds": (-1,)}, "seeds"),
        ({"n_images": 0}, "n_images(=0)"),
        ({"dataset": "mnist"}, "dataset(='mnist')"),
        ({"dataset": "cifar10"}, "dataset 'cifar10' needs data_dir"),
        ({"checkpoints": ()}, "checkpoints"),
        ({"policies": (PolicySpec(name="a"), PolicySpec(name="a"))}, "unique"),
        ({"arch_overrides": {"rows": 3}}, "section.key"),
    ],
)
def test_bad_scenario(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(SpecError) as err:
        ScenarioSpec(name="s", **kwargs)  # type: ignore[arg-type]
    assert fragment in str(err.value)


GOOD = """
name = "mine"
checkpoints = ["resnet32_pcm_fmnist_hwa"]
seeds = [0, 1]
n_images = 500
arch_overrides = { "adc.bits" = 6 }

[probes]
log = [1, 86400, 4]

[workload]
kind = "periodic"
rate_per_s = 10.0

[[policies]]
name = "none"

[[policies]]
name = "gdc_hourly"
compensation = "gdc"
every_s = 3600.0
"""


def test_load_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(GOOD)
    spec = load_scenario(path)
    assert spec.checkpoints == ("resnet32_pcm_fmnist_hwa",)
    assert spec.probes_s == (1.0, 44.2, 1950.0, 86_400.0)
    assert [p.name for p in spec.policies] == ["none", "gdc_hourly"]
    assert spec.policies[1].every_s == 3600.0
    assert spec.workload.rate_per_s == 10.0
    assert spec.to_dict()["seeds"] == [0, 1]


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda t: t.replace("n_images = 500", "n_imagez = 500"), "unknown key 'n_imagez'"),
        (lambda t: t.replace('kind = "periodic"', 'kind = "bursty"'), "workload.kind(='bursty')"),
        (lambda t: t.replace("every_s = 3600.0", "every_s = -3600.0"), "every_s(=-3600.0)"),
        (lambda t: t.replace("every_s = 3600.0", "evry_s = 3600.0"), "unknown key policies[1].'evry_s'"),
        (lambda t: t.replace("log = [1, 86400, 4]", "log = [86400, 1, 4]"), "start_s"),
        (lambda t: t.replace("seeds = [0, 1]", "seeds = 3"), "seeds(=3) must be an array"),
        (lambda t: t + "\n[[[", "not valid TOML"),
    ],
)
def test_bad_scenario_file_names_file_and_key(tmp_path: Path, edit, fragment: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.toml"
    path.write_text(edit(GOOD))
    with pytest.raises(SpecError) as err:
        load_scenario(path)
    message = str(err.value)
    assert message.startswith(str(path)) and fragment in message and "\n" not in message


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="scenario file not found"):
        load_scenario(tmp_path / "nope.toml")


def test_arch_overrides_are_validated_like_the_file() -> None:
    chip = apply_overrides(ChipSpec(), {"adc.bits": 6, "tiles.rows": 128}, Path("x.toml"))
    assert (chip.adc.bits, chip.tiles.rows, chip.tiles.cols) == (6, 128, 256)
    with pytest.raises(SpecError, match="names no field"):
        apply_overrides(ChipSpec(), {"adc.bitz": 6}, Path("x.toml"))
    with pytest.raises(SpecError, match=r"adc.bits\(=0\)"):
        apply_overrides(ChipSpec(), {"adc.bits": 0}, Path("x.toml"))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("size", ["quick", "default", "full"])
def test_named_scenarios_build(name: str, size: str) -> None:
    specs = named_scenario(name, size)
    assert specs and all(isinstance(s, ScenarioSpec) for _, s in specs)
    if size == "full":
        assert all(len(s.seeds) == 5 for _, s in specs)


def test_unknown_scenario_name() -> None:
    with pytest.raises(SpecError, match="no scenario named 'nope'"):
        named_scenario("nope")


def test_shipped_scenario_file_loads() -> None:
    spec = load_scenario(resolve("scenarios", "hourly_gdc"))
    assert [p.name for p in spec.policies] == ["gdc_hourly", "gdc+adabs_6h", "none"]
    assert spec.probes_s[-1] == 21600.0


@pytest.mark.slow  # prepares and runs a timing-only scenario once: ~2 s
def test_a_finished_trace_is_refused_before_anything_is_prepared(tmp_path, monkeypatch) -> None:
    import chiptwin.scenario.run as scenario_run
    from chiptwin.errors import DataError
    from chiptwin.scenario import WorkloadSpec

    spec = ScenarioSpec(
        name="twice",
        checkpoints=("resnet32_pcm_fmnist_hwa",),
        probes_s=(60.0,),
        accuracy=False,
        workload=WorkloadSpec(kind="periodic", rate_per_s=1.0),
    )
    scenario_run.run_scenario(spec, tmp_path / "t", progress=False)

    def prepare(*_args, **_kwargs):
        raise AssertionError("prepared a run that cannot be written")

    monkeypatch.setattr(scenario_run, "prepare", prepare)
    with pytest.raises(DataError, match="already holds a run"):
        scenario_run.run_scenario(spec, tmp_path / "t", progress=False)
