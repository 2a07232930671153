"""The chip graph and flows of a small hand-made model on tiny_4, every number computed by hand.

Model: x (8, 4, 4) -> conv 8->16 3x3 pad 1 -> relu -> global pool -> flatten -> fc 16->10 -> output.
On tiny_4 (64 rows x 32 weight columns per crossbar, 2x2 mesh): the conv has 8 * 9 = 72 rows, 64 // 9 = 7
channels per crossbar, so 2 row blocks of 4 channels (36 rows); the fc is one block. Dense puts them on the
snake: conv blocks on tiles 0 and 1 (mesh (0,0), (0,1)), fc on tile 3 (mesh (1,1)).
"""

from __future__ import annotations

import networkx as nx
import pytest
from layer_graphs import GraphBuilder, conv, digital, linear

from chiptwin.mapping import build_chip_graph, host_tiles, map_graph, measure_mapping, route_flows


@pytest.fixture(scope="module")
def small_graph() -> nx.DiGraph:
    g = GraphBuilder("small")
    x = g.add(digital("x", "input", (8, 4, 4)))
    y = g.add(conv("conv", 8, 16, 3, 4), x)
    y = g.add(digital("relu", "relu", (16, 4, 4)), y)
    y = g.add(digital("pool", "pool", (16, 4, 4), (16, 1, 1)), y)
    y = g.add(digital("flatten", "flatten", (16, 1, 1), (16,)), y)
    y = g.add(linear("fc", 16, 10), y)
    g.add(digital("output", "output", (10,)), y)
    return g.graph


def test_hosts_and_flows(small_graph, arch) -> None:
    mapping = map_graph(small_graph, arch("tiny_4"), "dense")
    assert [(p.block.layer, p.tile) for p in mapping.placements] == [("conv", 0), ("conv", 1), ("fc", 3)]
    assert host_tiles(small_graph, mapping) == {
        "x": 0, "conv": 0, "relu": 0, "pool": 0, "flatten": 0, "fc": 3, "output": 3
    }  # fmt: skip
    flows = {
        (f.src, f.dst, f.src_layer, f.dst_layer): (f.bytes_per_inference, f.hops)
        for f in route_flows(small_graph, mapping)
    }
    assert flows == {
        # input (8 x 4 x 4 = 128 bytes): each row block reads its 4 of 8 channels
        ("digital:0", "tile:0", "x", "conv"): (64, 0),
        ("digital:0", "tile:1", "x", "conv"): (64, 1),
        # each block's 16 columns x 16 MVMs of partial sums to the join on tile 0
        ("tile:0", "psum:conv", "conv", "conv"): (256, 0),
        ("tile:1", "psum:conv", "conv", "conv"): (256, 1),
        ("psum:conv", "digital:0", "conv", "relu"): (256, 0),
        ("digital:0", "digital:0", "relu", "pool"): (256, 0),
        ("digital:0", "digital:0", "pool", "flatten"): (16, 0),
        # tile 0 at mesh (0,0) to tile 3 at (1,1): 2 hops
        ("digital:0", "tile:3", "flatten", "fc"): (16, 2),
        ("tile:3", "digital:3", "fc", "fc"): (10, 0),
        ("digital:3", "digital:3", "fc", "output"): (10, 0),
    }
    result = measure_mapping(small_graph, mapping)
    assert result.noc_bytes_per_inference == 64 + 256 + 16
    assert result.noc_byte_hops_per_inference == 64 + 256 + 16 * 2


def test_chip_graph_nodes_edges_and_attributes(small_graph, arch) -> None:
    chip = arch("tiny_4")
    cg = build_chip_graph(small_graph, map_graph(small_graph, chip, "dense"), chip)
    kinds = nx.get_node_attributes(cg, "kind")
    # 4 tiles + 4 digital units + 1 partial-sum join
    assert sorted(kinds.values()).count("tile") == 4
    assert sorted(kinds.values()).count("digital") == 4
    assert [n for n, k in kinds.items() if k == "psum"] == ["psum:conv"]
    edge_kinds = [k for _, _, k in cg.edges(data="kind")]
    # a 2x2 mesh has 4 links, both directions; 1 host edge; 10 flows
    assert (edge_kinds.count("link"), edge_kinds.count("host"), edge_kinds.count("flow")) == (8, 1, 10)
    tile0 = cg.nodes["tile:0"]
    assert (tile0["mesh_row"], tile0["mesh_col"], tile0["blocks"]) == (0, 0, (("conv", 0, 0),))
    assert tile0["cells_used"] == 36 * 16 and tile0["cells"] == 64 * 32
    assert tile0["mvms_per_inference"] == 16
    assert cg.nodes["tile:2"]["blocks"] == ()
    unit = cg.nodes["digital:0"]
    assert unit["layers"] == ("x", "psum:conv", "relu", "pool", "flatten")
    # partial sums (2 - 1) x 16 cols x 16 MVMs + relu 256 + pool 256 (input elements) + flatten 0
    assert unit["ops_per_inference"] == 256 + 256 + 256
    assert cg.nodes["psum:conv"]["row_blocks"] == 2
    assert cg.nodes["digital:3"]["layers"] == ("output",)
    link = next(d for _, _, d in cg.edges(data=True) if d["kind"] == "link")
    assert link["bandwidth_bytes_per_ns"] == chip.noc.link_bandwidth_bytes_per_ns
    # plain values only: no tensors, no spec objects
    for _, data in cg.nodes(data=True):
        assert all(isinstance(v, int | float | str | tuple) for v in data.values())


def test_resnet32_pcm_chip_graph_counts(resnet32_pcm_graph, arch) -> None:
    chip = arch("hermes_64")
    mapping = map_graph(resnet32_pcm_graph, chip, "dense")
    cg = build_chip_graph(resnet32_pcm_graph, mapping, chip)
    kinds = list(nx.get_node_attributes(cg, "kind").values())
    # 9 layers of stage 3 have 2 row blocks each, so 9 partial-sum joins
    assert (kinds.count("tile"), kinds.count("digital"), kinds.count("psum")) == (64, 64, 9)
    # an 8x8 mesh has 2 * 8 * 7 = 112 links, both directions
    assert [k for _, _, k in cg.edges(data="kind")].count("link") == 224
    assert sum(cg.nodes[n]["cells_used"] for n in cg if kinds and cg.nodes[n]["kind"] == "tile") == 361_424
