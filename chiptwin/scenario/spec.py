"""What a scenario is: architecture, checkpoints, data, mapping, workload, policies, probes and seeds.

A :class:`ScenarioSpec` is built in Python (the scripts in ``scenarios/``) or loaded from a TOML file
(:func:`load_scenario`); either way it is validated on construction, and :meth:`ScenarioSpec.to_dict`
is what the trace manifest records. Times are seconds of device time after the first programming.

Compensation schedules (:class:`PolicySpec`):

- ``every = "probe"``: compensate right before every accuracy probe, the protocol of Joshi et al.,
  Nat. Commun. 11, 2473 (2020) (GDC calibration, then AdaBS, then the measurement);
- ``every_s = X``: compensate every X seconds from X on; a probe between two passes sees the state
  of the last pass (the saw-tooth of a real deployment);
- ``every_factor = F``: compensate whenever the device age has grown by the factor F, at ages
  ``t0 F, t0 F^2, ...`` (``t0`` of the chip's device model): drift follows log time, so the drift between
  two passes is the same all run long, where a fixed period leaves the first minutes uncompensated;
- ``reprogram_after_s = Z``: reprogram the weights every Z seconds (device age restarts).

A ``[temperature]`` table (:class:`~chiptwin.spec.temperature.TemperatureSpec`) gives the chip's
temperature over the run; without one the chip stays at its device model's reference temperature.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from chiptwin.compensation import POLICY_NAMES, get_policy
from chiptwin.errors import CheckpointError, SpecError
from chiptwin.files import check_name, load_toml
from chiptwin.limits import (
    MAX_AGE_S,
    MAX_ARRIVALS,
    MAX_BATCH_SIZE,
    MAX_CALIBRATION_IMAGES,
    MAX_CHECKPOINTS,
    MAX_COMPENSATION_PASSES,
    MAX_POLICIES,
    MAX_PROBES,
    MAX_RATE_PER_S,
    MAX_REPROGRAMS,
    MAX_SEED,
    MAX_SEEDS,
    MAX_TEST_IMAGES,
    MAX_TILES,
    MIN_RATE_PER_S,
)
from chiptwin.mapping.strategies import STRATEGIES
from chiptwin.scenario.temperature import check_temperature
from chiptwin.spec.chip import ChipSpec
from chiptwin.spec.faults import FaultSpec
from chiptwin.spec.load import apply_overrides, load_chip
from chiptwin.spec.temperature import TemperatureSpec
from chiptwin.timing.compensation import COMPENSATION_MODES

__all__ = [
    "COMPENSATIONS",
    "PolicySpec",
    "ScenarioSpec",
    "TileFailureSpec",
    "WorkloadSpec",
    "check_inputs",
    "checkpoint_label",
    "load_scenario",
    "log_probes_s",
    "scenario_chip",
]

COMPENSATIONS = POLICY_NAMES
"""What a compensation pass does: the names of :data:`chiptwin.compensation.POLICIES`."""

WORKLOAD_KINDS = ("periodic", "poisson")


def checkpoint_label(checkpoint: str) -> str:
    """The name a checkpoint goes by in tables and cell ids: its file stem (a model file ``FILE.py[:NAME]``:
    ``FILE``, or ``FILE-NAME`` for a builder other than the default)."""
    from chiptwin.network.model_file import is_model_file, model_file_label

    if is_model_file(checkpoint):
        return model_file_label(checkpoint)
    return Path(checkpoint).name.removesuffix(".safetensors")


def log_probes_s(start_s: float, stop_s: float, count: int) -> tuple[float, ...]:
    """``count`` probe times log-spaced from ``start_s`` to ``stop_s`` inclusive, rounded to 3 digits."""
    if not (0 < start_s < stop_s <= MAX_AGE_S) or not 2 <= count <= MAX_PROBES:
        raise SpecError(
            f"log probes need 0 < start_s(={start_s}) < stop_s(={stop_s}) <= {MAX_AGE_S:.4g} s (100 y) "
            f"and count(={count}) in 2..{MAX_PROBES}"
        )
    ratio = math.log(stop_s / start_s) / (count - 1)
    times = [float(f"{start_s * math.exp(i * ratio):.3g}") for i in range(count)]
    times[-1] = float(stop_s)
    return tuple(times)


def _is_number(value: object) -> bool:
    # bool is an int in Python, but `every_s = true` is a mistake in a scenario file.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite_positive(value: object, at_most: float = MAX_AGE_S) -> bool:
    """None, or a number in ``(0, at_most]`` (a time in seconds unless told)."""
    if value is None:
        return True
    return _is_number(value) and 0 < value <= at_most  # type: ignore[operator]


_TIME_RULE = f"a number > 0 and <= {MAX_AGE_S:.4g} s (100 y)"
_AGE_RULE = f"a number >= 0 and <= {MAX_AGE_S:.4g} s (100 y)"


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicySpec:
    """One compensation policy of a scenario (a column of its accuracy table)."""

    name: str
    """Label in tables and traces (letters, digits, ``+-_.``)."""

    compensation: str = "none"
    """What each pass does: one of :data:`COMPENSATIONS`."""

    every: str | None = None
    """``"probe"``: a pass right before every probe; None: periodic (``every_s``) or never."""

    every_s: float | None = None
    """Period of the passes, s (first pass at ``every_s``)."""

    reprogram_after_s: float | None = None
    """Reprogram the weights every this many seconds (None: never)."""

    compensation_mode: str = "blocking"
    """How a pass shares the chip with the workload's inferences (timing only; the accuracy is the
    same): ``blocking`` (the whole pass first-come-first-served with them) or ``shared`` (the pass in
    slices taking the chip only when no inference waits), :attr:`chiptwin.timing.CompensationSpec.mode`."""

    every_factor: float | None = None
    """Compensate whenever the device age has grown by this factor (in [1.001, 1000]): passes at ages
    ``t0 F, t0 F^2, ...`` (``t0`` of the chip's device model). Not with ``reprogram_after_s``. At least
    1.001, so that any ``t0`` and run give fewer than :data:`~chiptwin.limits.MAX_COMPENSATION_PASSES`
    (the smallest float64 ``t0`` to 100 years is 766,000 passes)."""

    def __post_init__(self) -> None:
        check_name(self.name, "policy name")
        where = f"policy {self.name!r}"
        if self.compensation not in COMPENSATIONS:
            raise SpecError(f"{where}: compensation(={self.compensation!r}) must be one of {COMPENSATIONS}")
        if self.compensation_mode not in COMPENSATION_MODES:
            raise SpecError(
                f"{where}: compensation_mode(={self.compensation_mode!r}) must be one of "
                f"{', '.join(COMPENSATION_MODES)}"
            )
        if self.every not in (None, "probe"):
            raise SpecError(f"{where}: every(={self.every!r}) must be 'probe' (or use every_s)")
        given = [k for k in ("every", "every_s", "every_factor") if getattr(self, k) is not None]
        if len(given) > 1:
            raise SpecError(f"{where}: give one of every, every_s and every_factor, not both {given}")
        acts = get_policy(self.compensation).acts
        if acts and not given:
            raise SpecError(
                f"{where}: compensation {self.compensation!r} needs every = 'probe', every_s or every_factor"
            )
        if not acts and given:
            raise SpecError(f"{where}: compensation {self.compensation!r} takes no schedule ({given[0]})")
        factor = self.every_factor
        if factor is not None and not (_is_number(factor) and 1.001 <= factor <= 1000):
            raise SpecError(f"{where}: every_factor(={factor!r}) must be a number in [1.001, 1000]")
        if factor is not None and self.reprogram_after_s is not None:
            raise SpecError(
                f"{where}: every_factor follows the device age from the first programming; give it or "
                "reprogram_after_s, not both"
            )
        for key in ("every_s", "reprogram_after_s"):
            if not _finite_positive(getattr(self, key)):
                raise SpecError(f"{where}: {key}(={getattr(self, key)!r}) must be {_TIME_RULE}")


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadSpec:
    """The inference traffic the chip serves while its devices age (timing and energy only)."""

    kind: str = "poisson"
    """``periodic`` or ``poisson``."""

    rate_per_s: float = 100.0
    """Mean inferences per second."""

    seed: int = 0
    """Seed of the Poisson arrivals."""

    def __post_init__(self) -> None:
        if self.kind not in WORKLOAD_KINDS:
            raise SpecError(f"workload.kind(={self.kind!r}) must be one of {WORKLOAD_KINDS}")
        if not (_is_number(self.rate_per_s) and MIN_RATE_PER_S <= self.rate_per_s <= MAX_RATE_PER_S):
            raise SpecError(
                f"workload.rate_per_s(={self.rate_per_s!r}) must be a number in [{MIN_RATE_PER_S:.3g}, "
                f"{MAX_RATE_PER_S:g}] (one per 100 y .. chiptwin.limits.MAX_RATE_PER_S)"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise SpecError(f"workload.seed(={self.seed!r}) must be an integer in 0..2**63-1")


@dataclass(frozen=True, slots=True, kw_only=True)
class TileFailureSpec:
    """A tile dies at ``at_s``; after ``recover_after_s`` its blocks are re-placed on a spare tile and
    reprogrammed (the repair is charged as programming energy and time)."""

    tile: int
    at_s: float
    recover_after_s: float | None = None
    """Time from the failure to the repair, s (None: never repaired)."""

    def __post_init__(self) -> None:
        if isinstance(self.tile, bool) or not isinstance(self.tile, int) or not 0 <= self.tile < MAX_TILES:
            raise SpecError(f"tile_failure.tile(={self.tile!r}) must be an integer in 0..{MAX_TILES - 1}")
        if not (_is_number(self.at_s) and 0 <= self.at_s <= MAX_AGE_S):
            raise SpecError(
                f"tile_failure.at_s(={self.at_s!r}) must be a number >= 0 and <= {MAX_AGE_S:.4g} s"
            )
        if not _finite_positive(self.recover_after_s):
            raise SpecError(f"tile_failure.recover_after_s(={self.recover_after_s!r}) must be {_TIME_RULE}")


DEFAULT_POLICIES = (
    PolicySpec(name="none"),
    PolicySpec(name="gdc", compensation="gdc", every="probe"),
    PolicySpec(name="gdc+adabs", compensation="gdc+adabs", every="probe"),
)
"""The three policies of Joshi et al. 2020, compensated right before every probe."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioSpec:
    """A complete, validated scenario."""

    name: str
    arch: str = "hermes_64"
    """A shipped chip's name (:mod:`chiptwin.shipped`) or an architecture file's path."""

    arch_overrides: dict[str, Any] = field(default_factory=dict)
    """Changes to the architecture file, ``{"tiles.rows": 128, "adc.bits": 6}`` (validated like the file)."""

    checkpoints: tuple[str, ...] = ("resnet32_pcm_fmnist_fp", "resnet32_pcm_fmnist_hwa")
    """Shipped checkpoint names or paths."""

    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    """IDX folder for the test set (None: the shipped copy)."""

    n_images: int = 10_000
    """Test images per probe (the first ``n_images`` of the test set)."""

    n_adabs: int = 2600
    """Calibration images per AdaBS pass (Joshi 2020: 2,600)."""

    n_range_calibration: int = 256
    """Calibration images for the DAC/ADC ranges right after programming."""

    batch_size: int = 100
    strategy: str = "dense"
    workload: WorkloadSpec = field(default_factory=WorkloadSpec)
    policies: tuple[PolicySpec, ...] = DEFAULT_POLICIES
    probes_s: tuple[float, ...] = (1.0, 60.0, 3600.0, 86_400.0)
    """Device ages of the accuracy probes, s (ascending)."""

    seeds: tuple[int, ...] = (0,)
    """Programming seeds (one newly programmed chip each)."""

    accuracy: bool = True
    """Program the chip and probe accuracy; False: timing and energy only (no torch work)."""

    faults: FaultSpec = field(default_factory=FaultSpec)
    """Stuck devices and ADC errors (none by default)."""

    tile_failure: TileFailureSpec | None = None
    """A tile that dies during the run (None: none)."""

    temperature: TemperatureSpec | None = None
    """The chip's temperature over the run (None: the device model's reference temperature, the published
    drift law as it is)."""

    def __post_init__(self) -> None:
        # The name becomes the default trace folder (traces/NAME).
        check_name(self.name, "scenario name")
        if not isinstance(self.arch, str) or not self.arch or not self.arch.isprintable():
            raise SpecError(f"arch(={self.arch!r}) must be an architecture name or a file path")
        for key in self.arch_overrides:
            if not isinstance(key, str) or key.count(".") != 1:
                raise SpecError(f"arch_overrides key {key!r} must be 'section.key' (e.g. 'tiles.rows')")
        if not self.checkpoints:
            raise SpecError("checkpoints must name at least one checkpoint")
        if not all(isinstance(c, str) and c for c in self.checkpoints):
            raise SpecError(f"checkpoints(={self.checkpoints!r}) must be checkpoint names or file paths")
        if len(self.checkpoints) > MAX_CHECKPOINTS:
            raise SpecError(f"checkpoints: {len(self.checkpoints)} given, at most {MAX_CHECKPOINTS}")
        # A checkpoint's file stem names its cells (cell ids, table columns): two checkpoints with one
        # stem would be one cell, so a repeated checkpoint or stem is refused like repeated seeds.
        labels: dict[str, str] = {}
        for checkpoint in self.checkpoints:
            label = check_name(checkpoint_label(checkpoint), f"checkpoint {checkpoint!r}: file name")
            if label in labels:
                first = labels[label]
                both = (
                    f"{first!r} is listed twice"
                    if first == checkpoint
                    else f"{first!r} and {checkpoint!r} share"
                )
                raise SpecError(
                    f"checkpoints: {both} the name {label!r}; each checkpoint must have its own file name "
                    "(it names the checkpoint's cells)"
                )
            labels[label] = checkpoint
        if self.dataset not in ("fashion-mnist", "cifar10"):
            raise SpecError(f"dataset(={self.dataset!r}) must be 'fashion-mnist' or 'cifar10'")
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise SpecError(f"data_dir(={self.data_dir!r}) must be a folder path")
        if self.dataset == "cifar10" and self.data_dir is None and self.accuracy:
            raise SpecError("dataset 'cifar10' needs data_dir (the cifar-10-batches-bin folder)")
        if not isinstance(self.strategy, str) or self.strategy not in STRATEGIES:
            raise SpecError(f"strategy(={self.strategy!r}) must be one of {', '.join(STRATEGIES)}")
        for key, high in (
            ("n_images", MAX_TEST_IMAGES),
            ("n_adabs", MAX_CALIBRATION_IMAGES),
            ("n_range_calibration", MAX_CALIBRATION_IMAGES),
            ("batch_size", MAX_BATCH_SIZE),
        ):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise SpecError(f"{key}(={value!r}) must be an integer in 1..{high:,}")
        if not self.policies:
            raise SpecError("policies must hold at least one policy")
        if len(self.policies) > MAX_POLICIES:
            raise SpecError(f"policies: {len(self.policies)} given, at most {MAX_POLICIES}")
        names = [p.name for p in self.policies]
        if len(set(names)) != len(names):
            raise SpecError(f"policies: names {names} must be unique")
        probes = self.probes_s
        if not probes or len(probes) > MAX_PROBES:
            raise SpecError(f"probes_s: {len(probes)} probes given, must be 1..{MAX_PROBES}")
        for t in probes:
            if not (_is_number(t) and 0 <= t <= MAX_AGE_S):
                raise SpecError(
                    f"probes_s value {t!r} must be a number >= 0 and <= {MAX_AGE_S:.4g} s (100 y)"
                )
        if any(b <= a for a, b in itertools.pairwise(probes)):
            raise SpecError(f"probes_s(={probes!r}) must be strictly ascending")
        if not self.seeds or len(self.seeds) > MAX_SEEDS:
            raise SpecError(f"seeds: {len(self.seeds)} seeds given, must be 1..{MAX_SEEDS}")
        for s in self.seeds:
            if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED:
                raise SpecError(f"seeds value {s!r} must be an integer in 0..2**63-1")
        if not isinstance(self.accuracy, bool):
            raise SpecError(f"accuracy(={self.accuracy!r}) must be true or false")
        if len(set(self.seeds)) != len(self.seeds):
            raise SpecError(f"seeds(={self.seeds!r}) must be distinct")
        if self.temperature is not None and not isinstance(self.temperature, TemperatureSpec):
            raise SpecError(
                f"temperature(={self.temperature!r}) must be a TemperatureSpec ([temperature] table)"
            )
        self._check_work()

    def _check_work(self) -> None:
        """Refuse a scenario whose timing run alone would not finish: the counts of :mod:`chiptwin.limits`."""
        end = self.duration_s
        arrivals = self.workload.rate_per_s * end
        if arrivals > MAX_ARRIVALS:
            raise SpecError(
                f"workload: {self.workload.rate_per_s:g}/s until the last probe ({end:g} s) is "
                f"{arrivals:.3g} inferences per cell, more than {MAX_ARRIVALS:.0e}; lower rate_per_s"
            )
        for p in self.policies:
            for key, most in (("every_s", MAX_COMPENSATION_PASSES), ("reprogram_after_s", MAX_REPROGRAMS)):
                period = getattr(p, key)
                if period is not None and end / period > most:
                    raise SpecError(
                        f"policy {p.name!r}: {key}(={period!r}) until the last probe ({end:g} s) is "
                        f"{end / period:.3g} passes, more than {most:,}"
                    )

    @property
    def duration_s(self) -> float:
        """End of the run: the last probe, s."""
        return self.probes_s[-1]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples as lists), the form recorded in the trace manifest."""

        def plain(value: Any) -> Any:
            if isinstance(value, (tuple, list)):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value

        result: dict[str, Any] = plain(asdict(self))
        return result


def scenario_chip(spec: ScenarioSpec) -> tuple[Path, ChipSpec]:
    """The architecture file of ``spec`` and its chip with ``arch_overrides`` applied, validated;
    ``tile_failure.tile`` checked against the chip's tile count, the ``[temperature]`` against the chip's
    device model (and its series file read).

    Raises:
        SpecError: an unknown architecture, a bad file or override, a tile the chip does not have, or a
            temperature the device model cannot run at (:func:`chiptwin.scenario.temperature.
            check_temperature`).
    """
    from chiptwin.mapping import resolve_arch

    arch_path = resolve_arch(spec.arch)
    chip = apply_overrides(load_chip(arch_path), spec.arch_overrides, arch_path)
    failure = spec.tile_failure
    if failure is not None and failure.tile >= chip.tiles.count:
        raise SpecError(
            f"tile_failure.tile(={failure.tile}) must be a tile of {chip.name} (0..{chip.tiles.count - 1})"
        )
    repairs = failure is not None and failure.recover_after_s is not None
    check_temperature(spec.temperature, chip, spec.faults, repairs, str(arch_path))
    return arch_path, chip


def check_inputs(spec: ScenarioSpec, in_memory: Iterable[str] = ()) -> tuple[Path, ChipSpec]:
    """Everything about ``spec`` that can be checked without loading data or weights: its chip
    (:func:`scenario_chip`) and every checkpoint's model card and weights file (but those named in
    ``in_memory``: models given as objects). Run before any output is written, so a bad input leaves
    nothing behind.

    Raises:
        SpecError, CheckpointError: a bad chip, override or tile; a missing or corrupt card or weights.
    """
    from chiptwin.files import check_regular_file
    from chiptwin.network.checkpoint import read_card, resolve_checkpoint
    from chiptwin.network.model_file import is_model_file

    arch_path, chip = scenario_chip(spec)
    given = set(in_memory)
    for checkpoint in spec.checkpoints:
        if checkpoint in given:
            continue
        if is_model_file(checkpoint):  # a scenario or sweep file is data: naming code does not run it
            label = checkpoint_label(checkpoint)
            raise SpecError(
                f"checkpoints: {checkpoint!r} is a model file, and a scenario runs no code it names: call "
                f"the checkpoint {label!r} and give the model, `chiptwin run SCENARIO --model {checkpoint}` "
                f"(Python: run_scenario(..., models={{{label!r}: model}}))"
            )
        card = read_card(checkpoint)
        if card.get("dataset") != spec.dataset:
            raise SpecError(
                f"checkpoint {checkpoint!r} was trained on {card.get('dataset')!r}; the scenario's "
                f"dataset is {spec.dataset!r} (set dataset = {card.get('dataset')!r} and its data_dir)"
            )
        weights = resolve_checkpoint(checkpoint).with_suffix(".safetensors")
        check_regular_file(weights, "checkpoint", CheckpointError)
    return arch_path, chip


def _check_keys(table: Mapping[str, Any], cls: type, where: str, path: Path) -> None:
    known = {f.name for f in fields(cls)}
    for key in table:
        if key not in known:
            raise SpecError(f"{path}: unknown key {where}{key!r} (known: {', '.join(sorted(known))})")


def _log_probes(probes: Any) -> tuple[float, ...]:
    form = "[start_s, stop_s, count] (finite numbers, count an integer)"
    if not isinstance(probes, dict) or set(probes) != {"log"}:
        raise SpecError(f"[probes](={probes!r}) must be a table holding only log = {form}")
    log = probes["log"]
    if not (
        isinstance(log, list)
        and len(log) == 3
        and all(_is_number(v) and math.isfinite(v) for v in log)
        and isinstance(log[2], int)
    ):
        raise SpecError(f"[probes] log(={log!r}) must be {form}")
    return log_probes_s(float(log[0]), float(log[1]), log[2])


def load_scenario(path: Path | str) -> ScenarioSpec:
    """Load a scenario TOML file (top-level keys of :class:`ScenarioSpec`, ``[workload]``,
    ``[[policies]]``, ``[faults]``, ``[tile_failure]``, ``[temperature]``; ``probes_s`` a list, or
    ``[probes] log = [start_s, stop_s, count]``).

    Raises:
        SpecError: the file is missing, not TOML, or a key or value is invalid (named in the message).
    """
    path = Path(path)
    data = dict(load_toml(path, "scenario file", SpecError))
    try:
        if "probes" in data:
            if "probes_s" in data:
                raise SpecError("give probes_s or [probes] log, not both")
            data["probes_s"] = _log_probes(data.pop("probes"))
        _check_keys(data, ScenarioSpec, "", path)
        if "workload" in data:
            if not isinstance(data["workload"], dict):
                raise SpecError(f"workload(={data['workload']!r}) must be a table")
            _check_keys(data["workload"], WorkloadSpec, "workload.", path)
            data["workload"] = WorkloadSpec(**data["workload"])
        for key, cls in (
            ("faults", FaultSpec),
            ("tile_failure", TileFailureSpec),
            ("temperature", TemperatureSpec),
        ):
            if key in data:
                if not isinstance(data[key], dict):
                    raise SpecError(f"{key}(={data[key]!r}) must be a table")
                _check_keys(data[key], cls, f"{key}.", path)
                data[key] = cls(**data[key])
        if "arch_overrides" in data and not isinstance(data["arch_overrides"], dict):
            raise SpecError(f"arch_overrides(={data['arch_overrides']!r}) must be a table")
        if "policies" in data:
            policies = data["policies"]
            if not isinstance(policies, list) or not all(isinstance(p, dict) for p in policies):
                raise SpecError("policies must be an array of tables [[policies]]")
            for i, p in enumerate(policies):
                _check_keys(p, PolicySpec, f"policies[{i}].", path)
            data["policies"] = tuple(PolicySpec(**p) for p in policies)
        for key in ("checkpoints", "probes_s", "seeds"):
            if key in data:
                if not isinstance(data[key], (list, tuple)):
                    raise SpecError(f"{key}(={data[key]!r}) must be an array")
                data[key] = tuple(data[key])
        if "name" not in data:
            data["name"] = path.stem
        return ScenarioSpec(**data)
    except SpecError as exc:
        message = str(exc)
        raise SpecError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{path}: {exc}") from None
