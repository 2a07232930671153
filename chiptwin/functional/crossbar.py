"""The devices of one crossbar block row: programmed state, stuck devices, device age and dead columns.

A :class:`Crossbar` is the device physics of a row group (docs/concepts/physics.md): the differential pairs
``G+`` and ``G−`` (``devices_per_polarity`` devices each, read as their mean), drawn by a
:class:`~chiptwin.device.noise.NoiseModel` at programming; stuck devices drawn once at programming
(:mod:`chiptwin.device.faults`); a per-column device age offset (columns reprogrammed on a spare tile
later are younger); and dead columns (a failed tile carries no current). It knows nothing of the
converters or of compensation: those are the periphery's
(:class:`~chiptwin.functional.analog_layer.RowGroup`).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from chiptwin.device.faults import DeviceFaults, apply_faults, draw_faults
from chiptwin.device.noise import NoiseModel
from chiptwin.device.state import DeviceState
from chiptwin.functional.context import ChipContext
from chiptwin.spec.faults import FaultSpec

__all__ = ["Crossbar"]


class Crossbar(nn.Module):
    """Programmed devices of a ``(rows, cols)`` weight block row, two polarities.

    Args:
        g_pos_usiemens, g_neg_usiemens: target conductances of ``G+`` and ``G−``, µS, shape ``(rows, cols)``.
        noise: device model that programs and reads them.
        g_max_usiemens: conductance of a stuck-high device, µS.
        devices_per_polarity: devices read as one polarity (their mean).
        generator: programming draws (``G+`` first, then ``G−``).
    """

    col_age_offset_s: Tensor | None
    dead: Tensor | None

    def __init__(
        self,
        g_pos_usiemens: Tensor,
        g_neg_usiemens: Tensor,
        noise: NoiseModel,
        g_max_usiemens: float,
        devices_per_polarity: int,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.noise = noise
        self.g_max_usiemens = g_max_usiemens
        self.devices_per_polarity = devices_per_polarity
        shape = (devices_per_polarity, *g_pos_usiemens.shape)
        self.pos = noise.program(g_pos_usiemens.expand(shape).contiguous(), generator)
        self.neg = noise.program(g_neg_usiemens.expand(shape).contiguous(), generator)
        self.pos_faults: DeviceFaults | None = None
        self.neg_faults: DeviceFaults | None = None
        self.register_buffer("col_age_offset_s", None)  # (cols,) s; None: every column programmed at 0
        self.register_buffer("dead", None)  # (cols,) bool; None: no dead column

    @property
    def cols(self) -> int:
        return int(self.pos.g_prog_usiemens.shape[-1])

    @property
    def state_bytes(self) -> int:
        """Persistent device state, bytes."""
        return self.pos.nbytes + self.neg.nbytes

    def add_faults(self, spec: FaultSpec, generator: torch.Generator) -> None:
        """Draw the stuck devices of both polarities once: one draw of shape ``(2, devices, rows, cols)``."""
        self.pos_faults, self.neg_faults = draw_faults(
            (2, *self.pos.g_prog_usiemens.shape), spec, generator
        ).unbind()

    def carry_faults(self, other: Crossbar, elapsed_s: float) -> None:
        """Take ``other``'s stuck devices and dead columns: the same array, reprogrammed ``elapsed_s`` later.

        Faults outlive a reprogramming: devices stuck before stay stuck (at the same value), devices
        due to fail later fail at the same moment on the run's clock (their failure age moves back by
        ``elapsed_s``), and dead columns stay dead.
        """
        self.pos_faults = _shifted(other.pos_faults, elapsed_s)
        self.neg_faults = _shifted(other.neg_faults, elapsed_s)
        self.dead = None if other.dead is None else other.dead.clone()

    def _read_polarity(self, state: DeviceState, faults: DeviceFaults | None, ctx: ChipContext) -> Tensor:
        age: float | Tensor = ctx.age_s
        if self.col_age_offset_s is not None:  # columns reprogrammed later are younger
            age = (ctx.age_s - self.col_age_offset_s).clamp_min_(0.0)
        g = self.noise.read(state, age, ctx.read_generator)
        if faults is not None:  # stuck devices overwrite the noisy read: exact 0 or g_max
            g = apply_faults(g, faults, ctx.age_s, self.g_max_usiemens)
        return g.mean(0)

    def read_polarities(self, ctx: ChipContext) -> tuple[Tensor, Tensor]:
        """G+ / g_max and G− / g_max of every device pair at the chip's age, read noise drawn now.

        Two ``(rows, cols)`` tensors; a dead column reads 0 in both.
        """
        g_pos = self._read_polarity(self.pos, self.pos_faults, ctx).mul_(1.0 / self.g_max_usiemens)
        g_neg = self._read_polarity(self.neg, self.neg_faults, ctx).mul_(1.0 / self.g_max_usiemens)
        if self.dead is not None:  # a failed tile's columns carry no current
            g_pos.masked_fill_(self.dead, 0.0)
            g_neg.masked_fill_(self.dead, 0.0)
        return g_pos, g_neg

    def read_normalised(self, ctx: ChipContext) -> Tensor:
        """(G+ − G−) / g_max of every device pair at the chip's age, read noise drawn now: (rows, cols)."""
        g_pos, g_neg = self.read_polarities(ctx)
        return g_pos.sub_(g_neg)

    def kill(self, col_start: int, col_stop: int) -> None:
        """Columns ``[col_start, col_stop)`` sit on a tile that died: they read 0 until reprogrammed."""
        if self.dead is None:
            self.dead = torch.zeros(self.cols, dtype=torch.bool, device=self.pos.g_prog_usiemens.device)
        self.dead[col_start:col_stop] = True

    def reprogram(
        self,
        col_start: int,
        col_stop: int,
        g_pos_usiemens: Tensor,
        g_neg_usiemens: Tensor,
        generator: torch.Generator,
        age_s: float,
    ) -> int:
        """Program columns ``[col_start, col_stop)`` afresh at chip age ``age_s``; returns devices programmed.

        Their devices are drawn anew (programming noise, drift exponents), their age restarts at
        ``age_s`` and they are alive again; the stuck-device masks stay those of the array.
        """
        shape = (self.devices_per_polarity, *g_pos_usiemens.shape)
        for state, target in ((self.pos, g_pos_usiemens), (self.neg, g_neg_usiemens)):
            fresh = self.noise.program(target.expand(shape).contiguous(), generator)
            state.g_prog_usiemens[..., col_start:col_stop] = fresh.g_prog_usiemens
            state.drift_coeff[..., col_start:col_stop] = fresh.drift_coeff
        if self.col_age_offset_s is None:
            self.col_age_offset_s = torch.zeros(self.cols, device=self.pos.g_prog_usiemens.device)
        self.col_age_offset_s[col_start:col_stop] = age_s
        if self.dead is not None:
            self.dead[col_start:col_stop] = False
        return 2 * int(self.pos.g_prog_usiemens[..., col_start:col_stop].numel())


def _shifted(faults: DeviceFaults | None, elapsed_s: float) -> DeviceFaults | None:
    if faults is None or faults.fail_time_s is None or elapsed_s == 0:
        return faults
    return dataclasses.replace(faults, fail_time_s=faults.fail_time_s - elapsed_s)
