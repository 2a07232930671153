"""The named scenarios (``chiptwin run NAME``, and the scripts in ``scenarios/``), in three sizes.

- ``quick``: 15-30 s each on a 2-core CPU; what the ``slow`` tests run (100-200 test images, one seed, few
  probes).
- ``default``: the main job's size, minutes on a 2-core CPU (one seed, 1,000 test images).
- ``full``: the published-experiment size (5 seeds, 10,000 test images and 2,600 AdaBS images for
  ``day_retention``; compensation_period, tile_mapping and faults use half as many).

Each entry returns a list of ``(label, ScenarioSpec)``: one for a single scenario, several for a sweep
(each its own trace directory ``OUT/label``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from chiptwin.errors import SpecError
from chiptwin.scenario.spec import (
    PolicySpec,
    ScenarioSpec,
    TileFailureSpec,
    WorkloadSpec,
    log_probes_s,
    scenario_chip,
)
from chiptwin.spec.faults import FaultSpec
from chiptwin.spec.temperature import TemperatureSpec
from chiptwin.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_YEAR

__all__ = [
    "EVERY_FACTORS",
    "RETENTION_ARCH",
    "RETENTION_TEMPERATURES_C",
    "SCENARIOS",
    "SIZES",
    "named_scenario",
    "retention_temperature",
]

RETENTION_ARCH = "joshi2020"
"""The chip of the retention study (``day_retention``, ``chiptwin evaluate``): Joshi et al. 2020's own
configuration, two PCM devices per weight (``joshi2020``, a shipped chip); the architecture scenarios
run on hermes_64."""

SIZES = ("quick", "default", "full")

_SIZE = {
    # (seeds, test images, AdaBS images, probes from 1 s to the end)
    "quick": ((0,), 200, 100, 3),
    "default": ((0,), 1000, 1000, 10),
    "full": ((0, 1, 2, 3, 4), 10_000, 2600, 12),
}


_WORKLOAD = {
    # A quick run serves a day at 1 image/s so its timing takes well under a second.
    "quick": WorkloadSpec(kind="poisson", rate_per_s=1.0),
    "default": WorkloadSpec(kind="poisson", rate_per_s=100.0),
    "full": WorkloadSpec(kind="poisson", rate_per_s=100.0),
}


def day_retention(size: str, *, year: bool = False) -> list[tuple[str, ScenarioSpec]]:
    """Joshi et al. 2020's experiment on the paper's own configuration (``joshi2020``, a shipped chip:
    two PCM devices per weight, MVMs on read-back conductances): FP vs hardware-aware checkpoint x
    {none, GDC, GDC+AdaBS}, compensated right before every probe, probes log-spaced from 1 s to 1 day
    (or 1 year), dense enough to show where accuracy without compensation collapses (10 s to 15 min)."""
    seeds, n_images, n_adabs, probes = _SIZE[size]
    end = SECONDS_PER_YEAR if year else SECONDS_PER_DAY
    return [
        (
            "",
            ScenarioSpec(
                name="day_retention",
                arch=RETENTION_ARCH,
                probes_s=log_probes_s(1.0, end, probes + (2 if year else 0)),
                seeds=seeds,
                n_images=n_images,
                n_adabs=n_adabs,
                workload=_WORKLOAD[size],
            ),
        )
    ]


def compensation_period(size: str) -> list[tuple[str, ScenarioSpec]]:
    """Accuracy vs energy over a day with GDC+AdaBS every 10 min / 1 h / 6 h, or never (hardware-aware
    checkpoint); probes every 30 min show the saw-tooth between passes."""
    seeds, n_images, n_adabs, _ = _SIZE[size]
    step = 2 * SECONDS_PER_HOUR if size == "quick" else SECONDS_PER_HOUR / 2
    probes = tuple(step * k for k in range(1, int(SECONDS_PER_DAY / step) + 1))
    periods = {"10min": 600.0, "1h": SECONDS_PER_HOUR, "6h": 6 * SECONDS_PER_HOUR}
    if size == "quick":
        periods = {"6h": 6 * SECONDS_PER_HOUR}
    periodic = [
        PolicySpec(name=f"every_{label}", compensation="gdc+adabs", every_s=period)
        for label, period in periods.items()
    ]
    policies = (*periodic, PolicySpec(name="never"))
    return [
        (
            "",
            ScenarioSpec(
                name="compensation_period",
                checkpoints=("resnet32_pcm_fmnist_hwa",),
                policies=policies,
                probes_s=probes,
                seeds=seeds,
                n_images=n_images // 2 if size != "quick" else n_images,
                n_adabs=n_adabs // 2 if size != "quick" else n_adabs,
                workload=_WORKLOAD[size],
            ),
        )
    ]


def tile_mapping(size: str) -> list[tuple[str, ScenarioSpec]]:
    """Architect sweep: crossbar 128/256/512 x ADC bits 6/8/10 x strategy -> tiles, latency, throughput,
    energy per image, and accuracy at 1 day (hardware-aware checkpoint, GDC+AdaBS before the probe).

    The chip keeps HERMES' 64 tiles; 128x128 crossbars need more, so they get 256 tiles (a larger die
    of the same core). A configuration that still does not fit is reported, not fatal.
    """
    seeds, n_images, n_adabs, _ = _SIZE[size]
    sizes = (128, 256) if size == "quick" else (128, 256, 512)
    bits = (6, 8) if size == "quick" else (6, 8, 10)
    strategies = ("dense",) if size == "quick" else ("dense", "balanced")
    policy = (PolicySpec(name="gdc+adabs", compensation="gdc+adabs", every="probe"),)
    out = []
    for xbar in sizes:
        for adc in bits:
            for strategy in strategies:
                overrides = {"tiles.rows": xbar, "tiles.cols": xbar, "adc.bits": adc}
                if xbar == 128:
                    overrides |= {"tiles.count": 256, "noc.mesh_rows": 16, "noc.mesh_cols": 16}
                label = f"xbar{xbar}_adc{adc}_{strategy}"
                spec = ScenarioSpec(
                    name=f"tile_mapping.{label}",
                    checkpoints=("resnet32_pcm_fmnist_hwa",),
                    arch_overrides=overrides,
                    strategy=strategy,
                    policies=policy,
                    probes_s=(SECONDS_PER_DAY,),
                    seeds=seeds,
                    n_images=n_images // 2,
                    n_adabs=n_adabs // 2,
                    workload=_WORKLOAD[size],
                )
                out.append((label, spec))
    return out


def faults(size: str) -> list[tuple[str, ScenarioSpec]]:
    """Device faults: accuracy at 1 day vs the stuck-device rate, and a tile that dies at noon and is
    repaired on a spare tile two hours later (hardware-aware checkpoint, GDC+AdaBS before every probe)."""
    seeds, n_images, n_adabs, _ = _SIZE[size]
    rates = (0.0, 0.05) if size == "quick" else (0.0, 0.001, 0.005, 0.01, 0.02, 0.05)
    policy = (PolicySpec(name="gdc+adabs", compensation="gdc+adabs", every="probe"),)

    def case(name: str, probes: tuple[float, ...], **extra: Any) -> ScenarioSpec:
        return ScenarioSpec(
            name=f"faults.{name}",
            checkpoints=("resnet32_pcm_fmnist_hwa",),
            policies=policy,
            probes_s=probes,
            seeds=seeds,
            n_images=n_images // 2,
            n_adabs=n_adabs // 2,
            workload=_WORKLOAD[size],
            **extra,
        )

    out = [
        (f"stuck_{rate:g}", case(f"stuck_{rate:g}", (SECONDS_PER_DAY,), faults=FaultSpec(stuck_rate=rate)))
        for rate in rates
    ]
    hour = SECONDS_PER_HOUR
    quick = (6 * hour, 12 * hour, 14 * hour)
    probes = quick if size == "quick" else tuple(2 * hour * k for k in range(1, 13))
    failure = TileFailureSpec(tile=20, at_s=12 * hour, recover_after_s=2 * hour)
    out.append(("tile_failure", case("tile_failure", probes, tile_failure=failure)))
    return out


RETENTION_TEMPERATURES_C = (25.0, 55.0, 85.0)
"""Chip temperatures of ``retention_temperature``, °C: room temperature (the drift fit's), a warm server,
and the top of the commercial/industrial range."""

EVERY_FACTORS = {"quick": (2.0,), "default": (1.1, 1.25, 1.5, 2.0), "full": (1.1, 1.25, 1.5, 2.0)}
"""``every_factor`` values the period search of ``retention_temperature`` tries, by size."""

_TROUGH_AGES_S = (60.0, 600.0, SECONDS_PER_HOUR, 6 * SECONDS_PER_HOUR, SECONDS_PER_DAY)
"""Ages near which the period search probes a policy's saw-tooth (besides right before its first pass)."""


def _trough_probes(t0_s: float, factor: float, size: str) -> tuple[float, ...]:
    """Probe times right before passes at ``t0 F^k`` (0.1 % early, 4 digits), where a policy's saw-tooth
    is lowest: before the first pass and the passes nearest to :data:`_TROUGH_AGES_S` (quick: the first and
    the last of the day)."""
    last = math.floor(math.log(SECONDS_PER_DAY / t0_s) / math.log(factor))
    ks = {1, last}
    if size != "quick":
        ks |= {min(max(round(math.log(a / t0_s) / math.log(factor)), 1), last) for a in _TROUGH_AGES_S}
    return tuple(float(f"{0.999 * t0_s * factor**k:.4g}") for k in sorted(ks))


def retention_temperature(size: str) -> list[tuple[str, ScenarioSpec]]:
    """Accuracy over a day at 25, 55 and 85 °C (hardware-aware checkpoint on joshi2020), each temperature
    two traces: ``T C`` with GDC and GDC+AdaBS before every probe (probes log-spaced 1 s .. 1 day), and
    ``T C.periods`` with GDC+AdaBS ``every_factor`` = F for each F of :data:`EVERY_FACTORS`, probed right
    before its passes (its saw-tooth's low points), to find the sparsest schedule that stays within 1 point
    of digital (:mod:`chiptwin.report.temperature` reads the table)."""
    seeds, n_images, n_adabs, probes = _SIZE[size]
    if size == "full":
        n_images, n_adabs = n_images // 2, n_adabs // 2
    base = ScenarioSpec(
        name="retention_temperature",
        arch=RETENTION_ARCH,
        checkpoints=("resnet32_pcm_fmnist_hwa",),
        policies=(
            PolicySpec(name="gdc", compensation="gdc", every="probe"),
            PolicySpec(name="gdc+adabs", compensation="gdc+adabs", every="probe"),
        ),
        probes_s=log_probes_s(1.0, SECONDS_PER_DAY, probes),
        seeds=seeds,
        n_images=n_images,
        n_adabs=n_adabs,
        workload=_WORKLOAD[size],
    )
    t0_s = scenario_chip(base)[1].device.t0_s
    factors = EVERY_FACTORS[size]
    out = []
    for celsius in RETENTION_TEMPERATURES_C:
        label = f"{celsius:g}C"
        temperature = TemperatureSpec(celsius=celsius)
        curves = dataclasses.replace(base, name=f"retention_temperature.{label}", temperature=temperature)
        periods = dataclasses.replace(
            curves,
            name=f"retention_temperature.{label}.periods",
            policies=tuple(
                PolicySpec(name=f"gdc+adabs_x{f:g}", compensation="gdc+adabs", every_factor=f)
                for f in factors
            ),
            probes_s=tuple(sorted({t for f in factors for t in _trough_probes(t0_s, f, size)})),
        )
        out += [(label, curves), (f"{label}.periods", periods)]
    return out


def model_retention(size: str) -> list[tuple[str, ScenarioSpec]]:
    """A vision transformer next to ResNet-32 (both hardware-aware, Fashion-MNIST) on Joshi et al.'s
    configuration, with no compensation and with GDC right before every probe, probes log-spaced from
    1 minute to 1 year: does LayerNorm, which renormalises every token, spare a transformer the global
    drift that ResNet-32's frozen batch-norm needs GDC for? (issue 16)"""
    seeds, n_images, _, _ = _SIZE[size]
    probes = {"quick": (60.0, SECONDS_PER_DAY), "default": log_probes_s(60.0, SECONDS_PER_YEAR, 5)}
    # 5 seeds x 6 probes x 2 policies x 2 models x 500 images: 60,000 chip inferences (~15 min, 2 cores)
    return [
        (
            "",
            ScenarioSpec(
                name="model_retention",
                arch=RETENTION_ARCH,
                checkpoints=("vit4_fmnist_hwa", "resnet32_pcm_fmnist_hwa"),
                policies=(PolicySpec(name="none"), PolicySpec(name="gdc", compensation="gdc", every="probe")),
                probes_s=probes.get(size, log_probes_s(60.0, SECONDS_PER_YEAR, 6)),
                seeds=seeds,
                n_images=min(n_images, 500),
                n_adabs=100,  # no AdaBS in this scenario
                workload=_WORKLOAD[size],
            ),
        )
    ]


SCENARIOS: dict[str, Callable[[str], list[tuple[str, ScenarioSpec]]]] = {
    "day_retention": day_retention,
    "day_retention_year": lambda size: day_retention(size, year=True),
    "compensation_period": compensation_period,
    "tile_mapping": tile_mapping,
    "faults": faults,
    "retention_temperature": retention_temperature,
    "model_retention": model_retention,
}
"""Named scenarios, by name."""


def named_scenario(name: str, size: str = "default") -> list[tuple[str, ScenarioSpec]]:
    """The specs of scenario ``name`` at ``size``.

    Raises:
        SpecError: an unknown name or size.
    """
    if name not in SCENARIOS:
        raise SpecError(f"no scenario named {name!r} (known: {', '.join(SCENARIOS)}; or pass a .toml file)")
    if size not in SIZES:
        raise SpecError(f"size(={size!r}) must be one of {SIZES}")
    return SCENARIOS[name](size)
