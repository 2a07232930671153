"""Everything a scenario's cells share, loaded once per run: chip spec, models, data, layer graph, mapping,
plans.

Each checkpoint gets its own layer graph, mapping and timing plans, built from its model: two checkpoints
of one architecture (the two shipped ones) get equal ones, built twice. What the cells of such
checkpoints do share is the timing run of each policy, which :func:`chiptwin.scenario.run.run_scenario`
computes once per model card and policy.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import torch
from torch import Tensor, nn

from chiptwin.device.temperature import TemperatureHistory
from chiptwin.errors import SpecError
from chiptwin.functional.analog_layer import BlockRange
from chiptwin.functional.chip import blocks_from_mapping
from chiptwin.functional.torch_device import check_torch_device
from chiptwin.mapping import Mapping, map_graph
from chiptwin.network.checkpoint import load_checkpoint, resolve_checkpoint
from chiptwin.network.data import evaluation_sets, image_shape, normalise
from chiptwin.network.graph import build_layer_graph
from chiptwin.network.training import evaluate_digital
from chiptwin.scenario.spec import ScenarioSpec, check_inputs, checkpoint_label
from chiptwin.scenario.temperature import check_temperature
from chiptwin.spec.chip import ChipSpec
from chiptwin.timing import PipelinePlan, build_plan
from chiptwin.timing.search import resolve_strategy

__all__ = ["Prepared", "PreparedModel", "prepare", "weights_sha256"]

_CPU = torch.device("cpu")


@dataclass(slots=True)
class PreparedModel:
    """One checkpoint, mapped and planned."""

    label: str
    model: nn.Module
    card: dict[str, object]
    path: Path | None
    """The weights file (None: a model given as an object; its card holds its weights' hash)."""
    digital_accuracy: float
    """Accuracy of the digital model on the scenario's test images (fraction; NaN when timing-only)."""

    graph: nx.DiGraph
    mapping: Mapping
    blocks: dict[str, list[BlockRange]]
    plan: PipelinePlan
    adabs_plan: PipelinePlan


@dataclass(slots=True)
class Prepared:
    """The shared inputs of every cell of a scenario."""

    spec: ScenarioSpec
    arch_path: Path
    chip: ChipSpec
    models: dict[str, PreparedModel]
    """By checkpoint label, in the scenario's order."""

    images: Tensor
    labels: Tensor
    calibration: Tensor
    """Normalised calibration images (range calibration and AdaBS)."""

    temperature: TemperatureHistory | None = None
    """The chip's temperature over the run (None: the device model's reference temperature)."""

    device: torch.device = _CPU
    """The torch device the cells program their chips and probe on; ``images``, ``labels`` and
    ``calibration`` are on it."""

    def temperature_c(self, t_s: float) -> float:
        """The chip's temperature at run time ``t_s``, °C (the device model's reference without a
        ``[temperature]``; NaN for a model without a temperature law)."""
        if self.temperature is not None:
            return self.temperature.celsius_at(t_s)
        return float(getattr(self.chip.device, "drift_temperature_ref_c", math.nan))


def weights_sha256(model: nn.Module) -> str:
    """SHA-256 of a model's state dict (names and tensor bytes, names sorted): what a run on a model given
    as an object records, so that a resumed run with other weights is refused."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _user_model(label: str, model: nn.Module, spec: ScenarioSpec) -> tuple[nn.Module, dict[str, Any]]:
    """A model given as an object: checked, and a card that names it (and its weights' hash)."""
    if not isinstance(model, nn.Module):
        raise SpecError(f"models[{label!r}] is a {type(model).__name__}, not a torch nn.Module")
    card = {
        "model": {"user_model": label, "class": f"{type(model).__module__}.{type(model).__qualname__}"},
        "dataset": spec.dataset,
        "weights_sha256": weights_sha256(model),
    }
    return model.eval(), card


def prepare(
    spec: ScenarioSpec,
    user_models: AnyMapping[str, nn.Module] | None = None,
    *,
    device: torch.device | str = "cpu",
) -> Prepared:
    """Load and map everything the scenario names; a checkpoint named in ``user_models`` is that object (a
    model of your own, :func:`chiptwin.scenario.run.run_scenario`), not a file. The test and calibration
    images go to ``device``, where the cells program and probe (the digital accuracy is the CPU's).

    Raises:
        UsageError: ``device`` is not a torch device this machine has.
        SpecError, CheckpointError, DataError, MappingError: a bad architecture, checkpoint, data set, a
            model that does not fit the chip, or a ``tile_failure.tile`` that holds none of its blocks
            (each names the file/key/value).
    """
    torch.set_flush_denormal(True)
    device = check_torch_device(device)
    given = dict(user_models or {})
    unknown = sorted(set(given) - set(spec.checkpoints))
    if unknown:
        raise SpecError(
            f"models {unknown} are not checkpoints of the scenario (checkpoints: {spec.checkpoints})"
        )
    arch_path, chip = check_inputs(spec, given)  # a bad chip or checkpoint fails before the data loads
    repairs = spec.tile_failure is not None and spec.tile_failure.recover_after_s is not None
    temperature = check_temperature(spec.temperature, chip, spec.faults, repairs, str(arch_path))
    if spec.accuracy:
        test, calib = evaluation_sets(spec.dataset, spec.data_dir)
        if spec.n_images > len(test):
            raise SpecError(
                f"n_images(={spec.n_images}) is more than the {len(test):,} test images of {spec.dataset}"
            )
        test = type(test)(test.images[: spec.n_images], test.labels[: spec.n_images], test.dataset)
        images = normalise(torch.from_numpy(test.images), test.dataset)
        images = images.contiguous(memory_format=torch.channels_last)
        labels = torch.from_numpy(test.labels)
        calibration = normalise(torch.from_numpy(calib.images), calib.dataset)
        calibration = calibration.contiguous(memory_format=torch.channels_last)
        in_shape = tuple(int(s) for s in test.images.shape[1:])
    else:  # timing-only: the network's shapes are all it needs, so no images are loaded
        in_shape = image_shape(spec.dataset)
        images = calibration = torch.empty((0, *in_shape))
        labels = torch.empty(0, dtype=torch.int64)
    models: dict[str, PreparedModel] = {}
    for checkpoint in spec.checkpoints:
        label = checkpoint_label(checkpoint)
        if checkpoint in given:
            model, card = _user_model(label, given[checkpoint], spec)
            path = None
        else:
            model, card = load_checkpoint(checkpoint)
            path = resolve_checkpoint(checkpoint).with_suffix(".safetensors")
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        graph = build_layer_graph(model, in_shape, name=label)
        mapping = map_graph(graph, chip, resolve_strategy(spec.strategy), source=arch_path)
        if spec.tile_failure is not None and spec.tile_failure.tile not in mapping.tiles_used:
            raise SpecError(
                f"tile_failure.tile(={spec.tile_failure.tile}) holds no block of {label} on {chip.name} "
                f"({spec.strategy}; used tiles {mapping.tiles_used[0]}..{mapping.tiles_used[-1]})"
            )
        models[label] = PreparedModel(
            label=label,
            model=model,
            card=card,
            path=path,
            digital_accuracy=evaluate_digital(model, test, batch_size=spec.batch_size)
            if spec.accuracy
            else math.nan,
            graph=graph,
            mapping=mapping,
            blocks=blocks_from_mapping(mapping),
            plan=build_plan(graph, mapping, chip),
            adabs_plan=build_plan(graph, mapping, chip, bn_statistics=True),
        )
    return Prepared(
        spec=spec,
        arch_path=arch_path,
        chip=chip,
        models=models,
        images=images.to(device),
        labels=labels.to(device),
        calibration=calibration.to(device),
        temperature=temperature,
        device=device,
    )
