"""The mapping layer runs without torch: importing it (and using it) never loads torch."""

from __future__ import annotations

import subprocess
import sys

import chiptwin.mapping

PROBE = """
import sys
import chiptwin.mapping
from chiptwin.mapping import map_graph, measure_mapping, build_chip_graph
from chiptwin.spec.graph import LayerSpec, EdgeSpec
from chiptwin.spec.load import load_chip
assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))
print('ok')
"""


def test_mapping_imports_without_torch() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_public_api_is_curated() -> None:
    assert set(chiptwin.mapping.__all__) == {
        "ARCHITECTURES_DIR", "STRATEGIES", "BalancedPlacer", "BlockPlacement", "BlockSpec", "DensePlacer",
        "Flow", "GraphPlacer", "LayerResult", "Mapping", "MappingResult", "PackedPlacer", "Placer",
        "SearchPlacer", "SearchResult", "analog_layers", "balance_replication", "build_chip_graph",
        "fewest_mvms_per_tile", "fit_suggestions", "host_tiles", "map_graph", "measure_mapping",
        "measure_score", "ordered_layers", "pack_rectangles", "placer_for", "replica_share", "resolve_arch",
        "route_flows", "search_mapping", "shared_tiles_bound",
        "snake_order", "split_graph", "split_layer", "tile_position", "validate_mapping",
    }  # fmt: skip
    assert all(hasattr(chiptwin.mapping, name) for name in chiptwin.mapping.__all__)
