"""What programming the weights costs: iterative program-and-verify of every used device.

A tile programs ``devices_in_parallel`` devices at a time (one row of columns), each for
``iterations`` program-and-verify iterations of ``time_per_iteration_ns`` (``chip.programming``), so a
tile with ``D`` used devices (its weight cells times ``devices_per_weight``) takes
``ceil(D / devices_in_parallel) * iterations * time_per_iteration_ns``. Tiles program in parallel, each
with its own program-and-verify circuit, so the chip is ready after the slowest tile. Energy:
``D * iterations * energy_per_iteration_pj`` per tile. Unused tiles are not programmed.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

from chiptwin.errors import TimingError
from chiptwin.timing.server import ceil_ns
from chiptwin.timing.stages import PipelinePlan

__all__ = ["ProgrammingResult", "programming_cost"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgrammingResult:
    """The cost of programming a mapped model (treat the dicts as read-only)."""

    devices_by_tile: dict[int, int]
    """PCM devices programmed per used tile."""

    time_by_tile_ns: dict[int, int]
    """Program-and-verify time per used tile, ns."""

    energy_by_tile_pj: dict[int, float]
    """Energy per used tile, pJ."""

    @property
    def devices(self) -> int:
        """Devices programmed on the chip."""
        return sum(self.devices_by_tile.values())

    @property
    def time_ns(self) -> int:
        """Time until every tile is programmed (tiles in parallel), ns."""
        return max(self.time_by_tile_ns.values(), default=0)

    @property
    def energy_pj(self) -> float:
        """Energy of programming the chip, pJ."""
        return sum(self.energy_by_tile_pj.values())


def programming_cost(plan: PipelinePlan, tiles: Collection[int] | None = None) -> ProgrammingResult:
    """Devices, time and energy of programming every used tile of ``plan`` (module docstring).

    ``tiles`` programs only those (a repair: the spare tile that takes a dead tile's blocks).

    Raises:
        TimingError: a tile of ``tiles`` holds no weight in ``plan``.
    """
    chip = plan.chip
    p = chip.programming
    cells_by_tile = plan.cells_by_tile
    if tiles is not None:
        missing = sorted(set(tiles) - set(cells_by_tile))
        if missing:
            raise TimingError(f"tiles {missing} hold no weights to program (used: {sorted(cells_by_tile)})")
        cells_by_tile = {t: cells_by_tile[t] for t in tiles}
    devices = {t: cells * chip.tiles.devices_per_weight for t, cells in sorted(cells_by_tile.items())}
    return ProgrammingResult(
        devices_by_tile=devices,
        time_by_tile_ns={
            t: ceil_ns(math.ceil(d / p.devices_in_parallel) * p.iterations * p.time_per_iteration_ns)
            for t, d in devices.items()
        },
        energy_by_tile_pj={t: d * p.iterations * p.energy_per_iteration_pj for t, d in devices.items()},
    )
