"""Systems of several identical chips joined edge to edge, and their chip-to-chip links.

A chip file's optional ``[system]`` table makes the file describe ``chips_rows x chips_cols`` copies of
its chip: the loader tiles them into one :class:`~chiptwin.spec.chip.ChipSpec` whose mesh is the
chips' meshes side by side (``noc.mesh_rows * chips_rows`` by ``noc.mesh_cols * chips_cols``; tile ``t``
at ``divmod(t, mesh_cols)`` over the whole system), whose ``tiles.count``, static power and other area
are the chip's times the number of chips, and whose :attr:`~chiptwin.spec.chip.ChipSpec.system` says
where one chip ends. Everything that takes a chip (mapping, timing, the functional twin, scenarios)
takes a system so: every chip's devices are programmed and drift as one chip's do.

**Chip-to-chip links.** Adjacent chips are joined edge to edge: each mesh row (or column) that crosses
the boundary is one off-chip link with the table's bandwidth, latency and energy per bit, in place of an
on-chip mesh link; XY routing crosses ``|chip column a - chip column b| + |chip row a - chip row b|``
such links (:meth:`SystemSpec.crossings`). No figure here is from a measured system: HERMES has no
chip-to-chip link; each shipped system file says where its figures come from or that they are assumed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chiptwin.errors import SpecError
from chiptwin.limits import MAX_ENERGY_PJ, MAX_MESH_SIDE, MAX_OP_TIME_NS, MAX_THROUGHPUT, MAX_TILES

if TYPE_CHECKING:
    from chiptwin.spec.chip import ChipSpec

__all__ = ["SystemSpec", "tile_system"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemSpec:
    """``chips_rows x chips_cols`` identical chips and the links between neighbours."""

    chips_rows: int = 1
    """Rows of chips."""

    chips_cols: int = 1
    """Columns of chips."""

    chip_mesh_rows: int = 0
    """Mesh rows of one chip (set by the loader from the chip's ``[noc]``)."""

    chip_mesh_cols: int = 0
    """Mesh columns of one chip (set by the loader)."""

    link_bandwidth_bytes_per_ns: float
    """Bandwidth of one chip-to-chip link, bytes/ns (= GB/s)."""

    link_latency_ns: float
    """Latency of one chip-to-chip link (serialiser, wire, deserialiser), ns."""

    link_energy_per_bit_pj: float
    """Energy to move one bit over one chip-to-chip link, pJ."""

    def __post_init__(self) -> None:
        checks = {
            "chips_rows": 1 <= self.chips_rows <= MAX_MESH_SIDE,
            "chips_cols": 1 <= self.chips_cols <= MAX_MESH_SIDE,
            "link_bandwidth_bytes_per_ns": 0 < self.link_bandwidth_bytes_per_ns <= MAX_THROUGHPUT,
            "link_latency_ns": 0 <= self.link_latency_ns <= MAX_OP_TIME_NS,
            "link_energy_per_bit_pj": 0 <= self.link_energy_per_bit_pj <= MAX_ENERGY_PJ,
        }
        for key, ok in checks.items():
            if not ok:
                raise SpecError(f"system.{key}(={getattr(self, key)!r}) is out of range")

    @property
    def chips(self) -> int:
        """Chips in the system."""
        return self.chips_rows * self.chips_cols

    def chip_of(self, position: tuple[int, int]) -> tuple[int, int]:
        """(chip row, chip column) of a mesh position of the system."""
        return position[0] // self.chip_mesh_rows, position[1] // self.chip_mesh_cols

    def crossings(self, a: tuple[int, int], b: tuple[int, int]) -> int:
        """Chip-to-chip links an XY route from mesh position ``a`` to ``b`` crosses."""
        (ra, ca), (rb, cb) = self.chip_of(a), self.chip_of(b)
        return abs(ra - rb) + abs(ca - cb)


def tile_system(chip: ChipSpec, system: SystemSpec) -> ChipSpec:
    """``chip`` repeated over ``system``'s chips as one ChipSpec (module docstring).

    Raises:
        SpecError: the chip's mesh is not full (``tiles.count`` below ``mesh_rows x mesh_cols``: chips
            could not be tiled without holes), or the system has more tiles than chiptwin handles.
    """
    noc, tiles = chip.noc, chip.tiles
    if tiles.count != noc.mesh_rows * noc.mesh_cols:
        raise SpecError(
            f"system: tiles.count(={tiles.count}) must fill the mesh ({noc.mesh_rows} x {noc.mesh_cols}) "
            "for chips to be joined edge to edge"
        )
    count = tiles.count * system.chips
    if count > MAX_TILES:
        raise SpecError(f"system: {system.chips} chips of {tiles.count} tiles exceed {MAX_TILES:,} tiles")
    placed = dataclasses.replace(system, chip_mesh_rows=noc.mesh_rows, chip_mesh_cols=noc.mesh_cols)
    return dataclasses.replace(
        chip,
        static_power_mw=chip.static_power_mw * system.chips,
        other_area_mm2=chip.other_area_mm2 * system.chips,
        tiles=dataclasses.replace(tiles, count=count),
        noc=dataclasses.replace(
            noc, mesh_rows=noc.mesh_rows * system.chips_rows, mesh_cols=noc.mesh_cols * system.chips_cols
        ),
        system=placed,
    )
