"""What compensation costs on the chip: when it runs, and the work of a GDC calibration and an AdaBS pass.

Following Joshi et al., Nat. Commun. 11, 2473 (2020), Methods (and ``chiptwin.functional.compensation``
for the numbers they compute):

- **GDC**: every placed block is read ``gdc_reads_per_block`` times with the calibration input; the
  tile's crossbar and ADC bank are held for ``ceil(reads * blocks * mvm_time)`` (the tile's blocks one
  after another), then its digital unit accumulates ``|y|`` per column and computes the new scale
  (``cols * (reads + 1)`` scale ops per block). Tiles calibrate in parallel, each as soon as its
  crossbar is free, so a calibration slips between inferences on a busy tile and delays the ones
  queued behind it.
- **AdaBS**: ``adabs_images`` calibration images pass through the chip as ordinary inferences whose
  batch-norm stages also accumulate statistics (the ``bn_statistics`` plan); when the last one is out,
  each batch-norm layer's host writes the new running mean and variance.

Which of the two a pass takes is the policy's (:mod:`chiptwin.compensation`); this module costs them.

Compensation work competes with inference work for the same crossbars, digital units and links;
its energy is booked to its own task (``gdc``, ``adabs``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from chiptwin.errors import TimingError
from chiptwin.spec.figures import mvm_cost
from chiptwin.timing.plan import digital_work
from chiptwin.timing.server import ceil_ns
from chiptwin.timing.stages import DigitalWork, PipelinePlan
from chiptwin.units import FJ_PER_PJ, NS_PER_S

__all__ = [
    "COMPENSATION_MODES",
    "CompensationSpec",
    "GDCTileWork",
    "compensation_times_ns",
    "gdc_work",
]


COMPENSATION_MODES = ("blocking", "shared")
"""How a compensation pass shares the chip with inferences (:attr:`CompensationSpec.mode`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CompensationSpec:
    """What a compensation pass holds on the chip, and when passes run (periodic, or at explicit times).

    Built from a compensation policy (``chiptwin.compensation.compensation_spec(policy, ...)``): the
    policy says which steps a pass takes, this layer what they cost.
    """

    policy: str = "gdc"
    """The policy's name (a label in results and records)."""

    period_s: float = 3600.0
    """Time between compensation passes, s."""

    first_s: float | None = None
    """Time of the first pass, s (default: one period after the start)."""

    times_s: tuple[float, ...] | None = None
    """Explicit pass times, s (ascending); when given, ``period_s`` and ``first_s`` are not used."""

    gdc_reads_per_block: int = 1
    """Calibration MVMs per block and GDC pass (one all-ones read in ``functional``; more average
    noise); 0: the pass takes no GDC read."""

    adabs_images: int = 0
    """Calibration images per AdaBS pass (Joshi 2020 use 2,600 for CIFAR-10); 0: no AdaBS."""

    mode: str = "blocking"
    """How a pass shares the chip with inferences (:data:`COMPENSATION_MODES`): ``blocking`` queues the
    whole pass (every calibration read, every AdaBS image) first-come-first-served with inferences, so
    inferences arriving during it wait for all of it; ``shared`` splits it into slices (one calibration
    MVM of every tile per GDC slice, one image per AdaBS slice) that take the chip only when no
    inference is waiting (an inference waits at most for the slice in progress), so the pass takes
    longer and traffic hardly notices it. The work, its energy and the accuracy side are the same."""

    def __post_init__(self) -> None:
        if not isinstance(self.policy, str) or not self.policy:
            raise TimingError(f"compensation policy(={self.policy!r}) must be a non-empty name")
        if not (math.isfinite(self.period_s) and self.period_s > 0):
            raise TimingError(f"compensation period_s(={self.period_s!r}) must be a finite number > 0")
        if self.first_s is not None and not (math.isfinite(self.first_s) and self.first_s >= 0):
            raise TimingError(f"compensation first_s(={self.first_s!r}) must be a finite number >= 0")
        if self.times_s is not None:
            times = tuple(self.times_s)
            if not all(math.isfinite(t) and t >= 0 for t in times):
                raise TimingError(f"compensation times_s(={times!r}) must be finite numbers >= 0")
            if any(b <= a for a, b in itertools.pairwise(times)):
                raise TimingError(f"compensation times_s(={times!r}) must be strictly ascending")
        if self.gdc_reads_per_block < 0:
            raise TimingError(f"gdc_reads_per_block(={self.gdc_reads_per_block}) must be >= 0")
        if self.adabs_images < 0:
            raise TimingError(f"adabs_images(={self.adabs_images}) must be >= 0")
        if self.mode not in COMPENSATION_MODES:
            raise TimingError(
                f"compensation mode(={self.mode!r}) must be one of {', '.join(COMPENSATION_MODES)}"
            )
        if not (self.gdc or self.adabs):
            raise TimingError(
                f"compensation {self.policy!r}: a pass with no GDC read and no AdaBS image does nothing"
            )

    @property
    def gdc(self) -> bool:
        """A pass takes the GDC calibration reads."""
        return self.gdc_reads_per_block > 0

    @property
    def shared(self) -> bool:
        """The pass shares the chip with inferences in slices (``mode = "shared"``)."""
        return self.mode == "shared"

    @property
    def adabs(self) -> bool:
        """A pass runs AdaBS (after the GDC reads, if any)."""
        return self.adabs_images > 0


def compensation_times_ns(spec: CompensationSpec | None, duration_ns: int) -> list[int]:
    """Start times of the compensation passes before ``duration_ns``, ns (empty without a spec)."""
    if spec is None:
        return []
    if spec.times_s is not None:
        return [t for t in (round(s * NS_PER_S) for s in spec.times_s) if t < duration_ns]
    period = round(spec.period_s * NS_PER_S)
    first = period if spec.first_s is None else round(spec.first_s * NS_PER_S)
    if period < 1:
        raise TimingError(f"compensation period_s(={spec.period_s!r}) must be at least 1 ns")
    return list(range(first, duration_ns, period))


@dataclass(frozen=True, slots=True, kw_only=True)
class GDCTileWork:
    """One tile's share of a GDC calibration."""

    tile: int
    mvms: int
    """Calibration MVMs (reads times blocks on the tile)."""

    read_ns: int
    """Crossbar and ADC holding time of the reads, ns."""

    array_pj: float
    dac_pj: float
    adc_pj: float
    """Energy of the reads by component, pJ."""

    digital: DigitalWork | None
    """The scale computation on the tile's digital unit."""


def gdc_work(plan: PipelinePlan, reads_per_block: int) -> tuple[GDCTileWork, ...]:
    """Each used tile's GDC calibration work (module docstring), tiles ascending."""
    chip = plan.chip
    cost = mvm_cost(chip)
    per_tile: dict[int, list[tuple[int, int]]] = {}
    for stage in plan.stages:
        for b in stage.blocks:
            per_tile.setdefault(b.tile, []).append((b.rows, b.cols))
    out = []
    for tile in sorted(per_tile):
        blocks = per_tile[tile]
        mvms = reads_per_block * len(blocks)
        rows = sum(r for r, _ in blocks)
        cols = sum(c for _, c in blocks)
        cells = sum(r * c for r, c in blocks)
        ops = cols * (reads_per_block + 1)
        out.append(
            GDCTileWork(
                tile=tile,
                mvms=mvms,
                read_ns=ceil_ns(mvms * cost.time_ns),
                array_pj=reads_per_block * cells * cost.array_fj_per_mac / FJ_PER_PJ,
                dac_pj=reads_per_block * rows * cost.dac_pj_per_row,
                adc_pj=reads_per_block * cols * cost.adc_pj_per_column,
                digital=digital_work(chip, tile, {"scale": ops}),
            )
        )
    return tuple(out)
