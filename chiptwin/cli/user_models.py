"""``--model FILE.py[:NAME]`` of ``chiptwin run`` and ``chiptwin sweep``: models of your own, each given to
the scenario's (or sweep's) checkpoint named like its file
(:func:`chiptwin.network.model_file.model_file_label`).

A scenario or sweep file names such a checkpoint but never the file itself (those files are data and
run no code); the command line gives the model, built once in this process.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from torch import nn

from chiptwin.cli.arguments import model_file
from chiptwin.errors import UsageError
from chiptwin.network.model_file import load_model_file, model_file_label
from chiptwin.scenario.spec import ScenarioSpec

__all__ = ["add_model_argument", "build_user_models", "user_model_labels"]


def add_model_argument(p: argparse.ArgumentParser, what: str) -> None:
    """Add the repeatable ``--model FILE.py[:NAME]`` (``what``: "scenario" or "sweep")."""
    p.add_argument(
        "--model",
        dest="models",
        action="append",
        type=model_file,
        default=[],
        metavar="FILE.py[:NAME][@WEIGHTS]",
        help=f"a model of your own (a function building your nn.Module) for the {what}'s checkpoint "
        "named FILE (FILE-NAME with :NAME); @WEIGHTS loads those weights into it; repeatable",
    )


def user_model_labels(refs: Iterable[str]) -> list[str]:
    """The checkpoint names ``--model`` gives models to."""
    return [model_file_label(ref) for ref in refs]


def build_user_models(
    command: str, refs: Iterable[str], scenarios: Iterable[ScenarioSpec]
) -> dict[str, nn.Module]:
    """Build each model file for the checkpoint of its label among ``scenarios``' checkpoints.

    Raises:
        UsageError: two files have one label, no checkpoint has the label, or the file's DATASET is not
            the scenarios'.
        CheckpointError: the file cannot be loaded.
    """
    scenarios = list(scenarios)
    named = {c for spec in scenarios for c in spec.checkpoints}
    models: dict[str, nn.Module] = {}
    given: dict[str, str] = {}
    for ref in refs:
        label = model_file_label(ref)
        if label in given:
            raise UsageError(
                f"{command}: --model {given[label]} and --model {ref} both give checkpoint {label!r} "
                "(a model goes by its file's name: rename one file)"
            )
        given[label] = ref
        if label not in named:
            raise UsageError(
                f"{command}: --model {ref}: no checkpoint {label!r} to give it to "
                f"(checkpoints: {', '.join(sorted(named))})"
            )
        model, card = load_model_file(ref)
        datasets = sorted({spec.dataset for spec in scenarios if label in spec.checkpoints})
        if card["dataset"] not in datasets:
            raise UsageError(
                f"{command}: --model {ref}: its DATASET is {card['dataset']!r}, the checkpoint's data "
                f"{', '.join(map(repr, datasets))}"
            )
        models[label] = model
    return models
