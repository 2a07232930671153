"""chiptwin: an event-driven digital twin of a multi-tile analog in-memory-computing PCM chip.

The public Python surface (documented in :mod:`chiptwin.api` and docs/guides/ml.md):

- chips: :func:`load_chip`; your model on one: :func:`map_model` (where it sits), :func:`time_model`
  (latency, throughput, energy), :func:`program` (trace, map, program, calibrate), then ``set_age`` on
  the programmed chip, :func:`compensate`, :func:`accuracy`; data: :func:`load_images`; hardware-aware
  training for a chip: :func:`train` (the common case) or :func:`hardware_aware` with
  :class:`NoiseRecipe` (your own training loop);
- scenarios and sweeps: :class:`ScenarioSpec`, :class:`PolicySpec`, :func:`load_scenario`,
  :func:`named_scenario`, :func:`run_scenario` (``models={name: module}`` runs your own models),
  :func:`load_sweep`, :func:`run_sweep`, :func:`read_sweep`;
- traces: :func:`read_table`, :func:`read_manifest`;
- the compensation policies: :data:`POLICY_NAMES`.

Everything else stays importable from its subpackage. The names are resolved on first use, so
``import chiptwin.timing`` (or the command line) does not import torch.
"""

from __future__ import annotations

from typing import Any

from chiptwin.versions import VERSION

__version__ = VERSION

__all__ = [
    "POLICY_NAMES",
    "NoiseRecipe",
    "PlacedModel",
    "PolicySpec",
    "ScenarioSpec",
    "accuracy",
    "compensate",
    "hardware_aware",
    "load_chip",
    "load_images",
    "load_scenario",
    "load_sweep",
    "map_model",
    "named_scenario",
    "program",
    "read_manifest",
    "read_sweep",
    "read_table",
    "run_scenario",
    "run_sweep",
    "time_model",
    "train",
]

_WHERE = {
    "accuracy": "chiptwin.api",
    "compensate": "chiptwin.api",
    "load_chip": "chiptwin.api",
    "load_images": "chiptwin.api",
    "program": "chiptwin.api",
    "map_model": "chiptwin.api",
    "time_model": "chiptwin.api",
    "train": "chiptwin.api",
    "hardware_aware": "chiptwin.api",
    "NoiseRecipe": "chiptwin.api",
    "PlacedModel": "chiptwin.api",
    "POLICY_NAMES": "chiptwin.compensation",
    "PolicySpec": "chiptwin.scenario.spec",
    "ScenarioSpec": "chiptwin.scenario.spec",
    "load_scenario": "chiptwin.scenario.spec",
    "named_scenario": "chiptwin.scenario.library",
    "run_scenario": "chiptwin.scenario.run",
    "load_sweep": "chiptwin.sweep",
    "run_sweep": "chiptwin.sweep",
    "read_sweep": "chiptwin.sweep",
    "read_table": "chiptwin.trace.reader",
    "read_manifest": "chiptwin.trace.reader",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    if name not in _WHERE:
        raise AttributeError(f"module 'chiptwin' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
