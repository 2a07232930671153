"""The import rules of docs/concepts/layers.md, enforced on every module of the package.

Each module's imports (module level and inside functions alike) are read from its syntax tree and
checked against the layer table: which chiptwin layers and which third-party libraries it may use.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "chiptwin"

# layer -> chiptwin layers it may import (units, errors, seeding, durations, files, limits, shipped and
# versions are the base every layer may use; durations, files and shipped themselves read only units and
# errors, versions nothing).
BASE = {"units", "errors", "seeding", "durations", "files", "limits", "shipped", "versions"}
ALLOWED_LAYERS: dict[str, set[str]] = {
    "units": set(),
    "errors": set(),
    "seeding": set(),
    "durations": {"units", "errors"},
    "files": {"errors"},
    "limits": {"units", "durations"},
    "shipped": {"errors"},
    "versions": set(),
    "spec": {"units", "errors"},
    "device": {"spec", "units", "errors"},
    "network": {"spec", "units", "errors"},
    "mapping": {"spec", "units", "errors"},
    "functional": {"device", "mapping", "network", "spec", "units", "errors"},
    "timing": {"mapping", "spec", "units", "errors"},
    "compensation": {"functional", "timing", "spec", "units", "errors"},
    "trace": {"units", "errors"},
    "scenario": {"*"},
    "sweep": {"scenario", "trace", "spec", "units", "errors"},
    "report": {"*"},
    "cli": {"*"},
    "api": {"*"},
    "__init__": set(),
    "__main__": {"cli"},
}

# layer -> third-party libraries it may import (stdlib is always allowed).
ALLOWED_THIRD_PARTY: dict[str, set[str]] = {
    "units": set(),
    "errors": set(),
    "seeding": set(),
    "durations": set(),
    "files": set(),
    "limits": set(),
    "shipped": set(),
    "versions": set(),
    "spec": {"numpy"},
    "device": {"torch", "numpy"},
    "network": {"torch", "numpy", "networkx", "safetensors", "tqdm"},
    "mapping": {"networkx", "numpy"},
    "functional": {"torch", "numpy", "numba", "llvmlite"},  # numba: the output-noise kernel (gaussian)
    "timing": {"simpy", "numpy"},
    "compensation": {"torch"},
    "trace": {"pyarrow", "numpy"},
    "scenario": {"*"},
    "sweep": {"dask", "distributed", "pyarrow", "numpy"},
    "report": {"matplotlib", "numpy", "pyarrow", "rich", "plotly"},
    "cli": {"*"},
    "api": {"*"},
    "__init__": set(),
    "__main__": set(),
}


def _layer_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the module's package
                base = path.relative_to(PACKAGE.parent).with_suffix("").parts[: -node.level]
                found.append((node.lineno, ".".join((*base, node.module or ""))))
            elif node.module:
                found.append((node.lineno, node.module))
    return found


def _violations(path: Path, layer: str | None = None) -> list[str]:
    layer = layer or _layer_of(path)
    assert layer in ALLOWED_LAYERS, f"{path}: layer {layer!r} missing from the layer table"
    problems = []
    for line, module in _imports(path):
        top = module.split(".")[0]
        where = f"{path.name}:{line} imports {module}"
        if top == "chiptwin":
            parts = module.split(".")
            target = parts[1] if len(parts) > 1 else "__init__"
            allowed = ALLOWED_LAYERS[layer]
            if layer not in BASE and target in BASE:
                continue
            if target != layer and "*" not in allowed and target not in allowed:
                problems.append(f"{where}: layer {layer!r} may not import layer {target!r}")
        elif top not in sys.stdlib_module_names and top != "__future__":
            allowed = ALLOWED_THIRD_PARTY[layer]
            if "*" not in allowed and top not in allowed:
                problems.append(f"{where}: layer {layer!r} may not use third-party {top!r}")
    return problems


# The shipped example model files are data for users (model files, imported only when a user names one),
# not modules of the package.
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "examples" not in p.relative_to(PACKAGE).parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_respects_layering(path: Path) -> None:
    assert _violations(path) == []


def test_checker_catches_forbidden_edges(tmp_path: Path) -> None:
    # The checker itself must fail on a sibling import and on a heavy library in the wrong layer.
    fake = tmp_path / "probe.py"
    fake.write_text("import torch\nfrom chiptwin.device import pcm\nfrom chiptwin.spec import chip\n")
    problems = _violations(fake, layer="mapping")
    assert len(problems) == 2
    assert "third-party 'torch'" in problems[0]
    assert "layer 'device'" in problems[1]
