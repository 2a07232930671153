"""Systems of several chips: off-chip traffic by hand on a two-chip split, the tile order chip by chip,
the shipped system file, and a system file without its links as a one-line error."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from timing_graphs import chain_graph, conv

from chiptwin.cli.timing import format_system
from chiptwin.errors import SpecError
from chiptwin.mapping import map_graph, snake_order
from chiptwin.mapping.mapper import resolve_arch
from chiptwin.spec.chip import ChipSpec, NoCSpec, TileSpec
from chiptwin.spec.load import apply_overrides, chip_from_dict, chip_to_dict, load_chip
from chiptwin.spec.system import SystemSpec, tile_system
from chiptwin.timing import build_plan

LINK = {"link_bandwidth_bytes_per_ns": 2.0, "link_latency_ns": 5.0, "link_energy_per_bit_pj": 3.0}


def _one_tile_chip() -> ChipSpec:
    return dataclasses.replace(
        ChipSpec(name="one_tile", static_power_mw=10.0),
        tiles=TileSpec(count=1, rows=64, cols=64),
        noc=NoCSpec(mesh_rows=1, mesh_cols=1),
    )


def test_a_two_chip_split_pays_the_link_by_hand() -> None:
    system = tile_system(_one_tile_chip(), SystemSpec(chips_cols=2, **LINK))
    assert (system.tiles.count, system.noc.mesh_cols, system.static_power_mw) == (2, 2, 20.0)
    # a: 3x3 conv 4 -> 8 at 8x8 (36 x 8 weights), b: 1x1 conv 8 -> 4 (8 x 4): one block each, one per
    # chip with 'dense'. a's output, 8 x 8 x 8 = 512 bytes at 8 bits, goes to b's tile over the one
    # chip-to-chip link: 512 B / 2 B/ns + 5 ns = 261 ns, 512 * 8 bit * 3 pJ = 12,288 pJ.
    graph = chain_graph([conv("a", 4, 8, 3, 8), conv("b", 8, 4, 1, 8)])
    mapping = map_graph(graph, system, "dense", architectures_dir=None)
    assert [p.tile for p in mapping.placements] == [0, 1]
    plan = build_plan(graph, mapping, system)
    (transfer,) = [t for s in plan.stages for b in s.blocks for t in b.inputs]
    assert (transfer.size_bytes, transfer.offchip_links) == (512, 1)
    assert transfer.duration_ns == 261
    assert transfer.energy_pj == pytest.approx(12_288.0)
    assert plan.energy_pj["noc"] == pytest.approx(12_288.0)
    assert plan.offchip_bytes == 512
    assert plan.links == ("0->1 (chip-to-chip)",)
    line = format_system(plan, mapping, system)
    assert line.startswith(
        "system      2 of 2 chips used; 512 bytes x links per image over chip-to-chip links"
    )
    assert f"busiest busy {100 * 261 / plan.bottleneck_ns:.1f} % of the interval" in line


def test_tiles_fill_a_system_chip_by_chip() -> None:
    chip = dataclasses.replace(
        _one_tile_chip(), tiles=TileSpec(count=4, rows=64, cols=64), noc=NoCSpec(mesh_rows=2, mesh_cols=2)
    )
    system = tile_system(chip, SystemSpec(chips_rows=2, chips_cols=2, **LINK))
    # The 4 x 4 mesh: chip (0, 0) holds tiles 0 1 / 4 5, (0, 1) 2 3 / 6 7, (1, 1) 10 11 / 14 15 and
    # (1, 0) 8 9 / 12 13; chips in snake order, each chip's tiles in snake order.
    assert snake_order(system) == (0, 1, 5, 4, 2, 3, 7, 6, 10, 11, 15, 14, 8, 9, 13, 12)
    assert system.system is not None and system.system.crossings((0, 0), (3, 3)) == 2


def test_the_shipped_system_holds_eight_hermes_chips() -> None:
    system = load_chip(resolve_arch("hermes_64x8"))
    one = load_chip(resolve_arch("hermes_64"))
    assert system.system is not None and system.system.chips == 8
    assert system.tiles.count == 512 and (system.noc.mesh_rows, system.noc.mesh_cols) == (16, 32)
    assert system.static_power_mw == 8 * one.static_power_mw
    assert dataclasses.replace(system.tiles, count=64) == one.tiles


def test_a_system_without_its_links_is_a_one_line_error(tmp_path: Path) -> None:
    text = resolve_arch("hermes_64x8").read_text()
    broken = tmp_path / "no_link.toml"
    broken.write_text("\n".join(line for line in text.splitlines() if not line.startswith("link_latency_ns")))
    with pytest.raises(SpecError, match=r"no_link.toml: missing key 'system.link_latency_ns'") as err:
        load_chip(broken)
    assert "\n" not in str(err.value)  # the command line prints it as one line, exit 2
    holes = tmp_path / "holes.toml"
    holes.write_text(text.replace("count = 64 ", "count = 60 "))
    with pytest.raises(SpecError, match=r"tiles.count\(=60\) must fill the mesh"):
        load_chip(holes)


def test_a_system_round_trips_and_its_links_can_be_swept(tmp_path: Path) -> None:
    system = load_chip(resolve_arch("hermes_64x8"))
    assert chip_from_dict(chip_to_dict(system)) == system
    # A sweep's section.key override (arch_overrides) reaches the links and keeps the 8 chips.
    slower = apply_overrides(system, {"system.link_bandwidth_bytes_per_ns": 2.0}, tmp_path / "sweep.toml")
    assert slower.system is not None and slower.system.link_bandwidth_bytes_per_ns == 2.0
    assert slower.tiles.count == 512 and slower.static_power_mw == system.static_power_mw
