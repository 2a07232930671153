"""An analog Conv2d or Linear: its weights live on PCM crossbar blocks and its MVMs go through converters.

Per forward batch, in the order the chip does it (DESIGN.md section 3; Joshi et al., Nat. Commun. 11,
2473 (2020)):

1. inputs are quantised by the DAC to ``dac_bits`` signed levels over the layer's input range
   (calibrated right after programming), i.e. normalised to [-1, 1];
2. every crossbar block computes its MVM on its conductances at the chip's device age, read with
   fresh 1/f read noise; stuck devices (if the chip was programmed with faults) read exactly 0 or
   g_max; a polarity of several devices reads as their mean;
3. every block's outputs are digitised by the ADC (``adc_bits`` over the block's calibrated range,
   saturating beyond it), each column with its own gain and offset error if the chip has ADC faults:
   ``code = clamp(round(y_code * gain + offset * n), -n, n)`` for ``n`` levels per sign;
4. the tile's digital unit scales each block's outputs by its GDC factor and back to weight units,
   accumulates the partial sums of row blocks, and adds the bias.

Blocks sharing the same rows (column splits) are computed by one convolution: their columns are
independent. Each distinct row range is one convolution over the input channels it covers, with zero
weights for rows outside the range, so a row split inside a kernel is exact too.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

from chiptwin.device.conductance import weights_to_conductances
from chiptwin.device.converters import levels
from chiptwin.device.faults import DeviceFaults, apply_faults, draw_faults
from chiptwin.device.noise import NoiseModel
from chiptwin.device.pcm import DeviceState
from chiptwin.functional.context import ChipContext
from chiptwin.spec.faults import FaultSpec

__all__ = ["AnalogLayer", "BlockRange", "RowGroup", "unrolled_weight"]


@dataclass(frozen=True, slots=True)
class BlockRange:
    """A crossbar block of a layer's unrolled weight matrix: rows and columns [start, stop)."""

    row_start: int
    row_stop: int
    col_start: int
    col_stop: int


def unrolled_weight(module: nn.Conv2d | nn.Linear) -> Tensor:
    """The (rows, cols) matrix a crossbar stores: ``weight.reshape(C_out, -1).T``.

    Row ``c_in * (k_h * k_w) + i * k_w + j`` is input channel ``c_in``, kernel position ``(i, j)``.
    """
    w = module.weight.detach()
    return w.reshape(w.shape[0], -1).T.contiguous()


class RowGroup(nn.Module):
    """The blocks of one layer that share a row range: one MVM of the programmed devices.

    Faults (:meth:`add_faults`) are physics the rest of the chip sees as it is: the converter-range
    calibration and the GDC reads go through the stuck devices too. The ADC gain and offset errors act
    in inference only: the range calibration and the GDC read sum the column currents digitally.
    """

    beta: Tensor
    adc_range: Tensor
    gdc_reference: Tensor
    gdc_alpha: Tensor
    adc_gain: Tensor | None
    adc_offset: Tensor | None
    weights: Tensor
    col_age_offset_s: Tensor | None
    dead: Tensor | None

    def __init__(
        self,
        w_rows: Tensor,
        row_start: int,
        row_stop: int,
        col_blocks: Sequence[tuple[int, int]],
        noise: NoiseModel,
        g_max_us: float,
        weight_scale: str,
        devices_per_polarity: int,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.row_start, self.row_stop = row_start, row_stop
        self.col_blocks = tuple(col_blocks)
        self.noise = noise
        self.g_max_us = g_max_us
        cols = w_rows.shape[1]
        betas = []
        g_pos_all, g_neg_all = [], []
        for c0, c1 in self.col_blocks:
            g_pos, g_neg, beta = weights_to_conductances(w_rows[:, c0:c1], g_max_us, weight_scale)
            g_pos_all.append(g_pos)
            g_neg_all.append(g_neg)
            betas.append(beta.expand(c1 - c0))
        shape = (devices_per_polarity, *w_rows.shape)
        self.pos = noise.program(torch.cat(g_pos_all, 1).expand(shape).contiguous(), generator)
        self.neg = noise.program(torch.cat(g_neg_all, 1).expand(shape).contiguous(), generator)
        self.register_buffer("beta", torch.cat(betas))  # (cols,), µS per unit weight
        self.register_buffer("adc_range", torch.zeros(cols))  # normalised output units, per column
        self.register_buffer("gdc_reference", torch.zeros(len(self.col_blocks)))
        self.register_buffer("gdc_alpha", torch.ones(cols))
        self.pos_faults: DeviceFaults | None = None
        self.neg_faults: DeviceFaults | None = None
        self.register_buffer("adc_gain", None)  # (cols,) relative gain, None: exactly 1
        self.register_buffer("adc_offset", None)  # (cols,) offset, fraction of full scale; None: 0
        # The weights the host keeps, to reprogram a block on a spare tile; per-column device age offsets
        # (columns reprogrammed later are younger) and dead columns (a failed tile reads nothing).
        self.register_buffer("weights", w_rows.detach().to(torch.float32).clone())
        self.weight_scale, self.devices_per_polarity = weight_scale, devices_per_polarity
        self.register_buffer("col_age_offset_s", None)  # (cols,) s; None: every column programmed at 0
        self.register_buffer("dead", None)  # (cols,) bool; None: no dead column

    @property
    def state_bytes(self) -> int:
        """Persistent device state of this row group, bytes."""
        return self.pos.nbytes + self.neg.nbytes

    def add_faults(
        self, spec: FaultSpec, device_generator: torch.Generator, adc_generator: torch.Generator
    ) -> None:
        """Draw this group's device and ADC faults once, at programming (before the range calibration).

        Device faults of both polarities are one draw of shape ``(2, devices, rows, cols)`` (G+ first)
        from ``device_generator``; the column ADCs draw ``(2, cols)`` standard normals (gains, then
        offsets) from ``adc_generator``, whichever of the two stds is zero. Nothing is drawn for a kind of
        fault the spec does not have.
        """
        if spec.has_device_faults:
            self.pos_faults, self.neg_faults = draw_faults(
                (2, *self.pos.g_prog_us.shape), spec, device_generator
            ).unbind()
        if spec.has_adc_faults:
            draws = self.beta.new_empty((2, self.beta.shape[0])).normal_(generator=adc_generator)
            self.adc_gain = draws[0].mul_(spec.adc_gain_std).add_(1.0) if spec.adc_gain_std > 0 else None
            self.adc_offset = draws[1].mul_(spec.adc_offset_std) if spec.adc_offset_std > 0 else None

    def _read_polarity(self, state: DeviceState, faults: DeviceFaults | None, ctx: ChipContext) -> Tensor:
        age: float | Tensor = ctx.age_s
        if self.col_age_offset_s is not None:  # columns reprogrammed later are younger
            age = (ctx.age_s - self.col_age_offset_s).clamp_min_(0.0)
        g = self.noise.read(state, age, ctx.read_generator)
        if faults is not None:  # stuck devices overwrite the noisy read: exact 0 or g_max
            g = apply_faults(g, faults, ctx.age_s, self.g_max_us)
        return g.mean(0)

    def read_normalised(self, ctx: ChipContext) -> Tensor:
        """(G+ − G−) / g_max of every device pair at the chip's age, read noise drawn now: (rows, cols)."""
        g_pos = self._read_polarity(self.pos, self.pos_faults, ctx)
        g_neg = self._read_polarity(self.neg, self.neg_faults, ctx)
        g = (g_pos - g_neg).mul_(1.0 / self.g_max_us)
        if self.dead is not None:  # a failed tile's columns carry no current
            g.masked_fill_(self.dead, 0.0)
        return g

    def block_index(self, col_start: int, col_stop: int) -> int:
        """Index of the block with columns ``[col_start, col_stop)`` in :attr:`col_blocks`."""
        try:
            return self.col_blocks.index((col_start, col_stop))
        except ValueError:
            raise ValueError(
                f"no block with columns [{col_start}, {col_stop}) in {self.col_blocks}"
            ) from None

    def fail_block(self, index: int) -> None:
        """The tile holding block ``index`` died: its columns read 0 from now on."""
        c0, c1 = self.col_blocks[index]
        if self.dead is None:
            self.dead = torch.zeros_like(self.beta, dtype=torch.bool)
        self.dead[c0:c1] = True

    @torch.no_grad()
    def reprogram_block(self, index: int, generator: torch.Generator, ctx: ChipContext) -> int:
        """Program block ``index`` afresh (on a spare tile) at the chip's current age; returns its devices.

        The block's devices are drawn anew from the host's weights (programming noise, drift exponents),
        its columns restart their device age now and are alive again, and its GDC reference is re-read
        (its factor back to 1). Stuck-device masks stay those of the block's position in the array.
        """
        c0, c1 = self.col_blocks[index]
        g_pos, g_neg, _ = weights_to_conductances(self.weights[:, c0:c1], self.g_max_us, self.weight_scale)
        shape = (self.devices_per_polarity, *g_pos.shape)
        for state, target in ((self.pos, g_pos), (self.neg, g_neg)):
            fresh = self.noise.program(target.expand(shape).contiguous(), generator)
            state.g_prog_us[..., c0:c1] = fresh.g_prog_us
            state.nu[..., c0:c1] = fresh.nu
        if self.col_age_offset_s is None:
            self.col_age_offset_s = torch.zeros_like(self.beta)
        self.col_age_offset_s[c0:c1] = ctx.age_s
        if self.dead is not None:
            self.dead[c0:c1] = False
        self.gdc_reference[index] = self.calibration_response(ctx)[index]
        self.gdc_alpha[c0:c1] = 1.0
        return 2 * int(self.pos.g_prog_us[..., c0:c1].numel())

    def calibration_response(self, ctx: ChipContext) -> Tensor:
        """GDC read: summed |output| of each block for an all-ones input through the DAC, shape (blocks,).

        Digitally summed from the column currents (the ADC range is set for inference data, which an
        all-ones input would saturate).
        """
        column = self.read_normalised(ctx).sum(0).abs()
        return torch.stack([column[c0:c1].sum() for c0, c1 in self.col_blocks])

    def expand_per_column(self, per_block: Tensor) -> Tensor:
        """Broadcast one value per block to the block's columns: (blocks,) -> (cols,)."""
        sizes = torch.tensor([c1 - c0 for c0, c1 in self.col_blocks], device=per_block.device)
        return per_block.repeat_interleave(sizes)


class AnalogLayer(nn.Module):
    """Drop-in replacement of a Conv2d or Linear whose weights are programmed on PCM blocks."""

    input_range: Tensor

    def __init__(
        self,
        module: nn.Conv2d | nn.Linear,
        blocks: Sequence[BlockRange],
        ctx: ChipContext,
        noise: NoiseModel,
        *,
        g_max_us: float,
        weight_scale: str,
        devices_per_polarity: int,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.is_conv = isinstance(module, nn.Conv2d)
        if self.is_conv:
            assert isinstance(module, nn.Conv2d)
            self.out_channels = module.out_channels
            self.in_channels = module.in_channels
            self.kernel_size = tuple(module.kernel_size)
            self.stride, self.padding = module.stride, module.padding
            self.dilation, self.groups = module.dilation, module.groups
        self.bias = None if module.bias is None else nn.Parameter(module.bias.detach().clone(), False)
        w = unrolled_weight(module)
        groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for b in sorted(blocks, key=lambda b: (b.row_start, b.col_start)):
            groups.setdefault((b.row_start, b.row_stop), []).append((b.col_start, b.col_stop))
        _check_cover(groups, w.shape)
        if self.is_conv and self.groups > 1 and len(groups) > 1:
            raise ValueError(f"grouped convolution (groups={self.groups}) split over rows is not supported")
        self.blocks_by_rows = nn.ModuleList(
            RowGroup(w[r0:r1], r0, r1, cols, noise, g_max_us, weight_scale, devices_per_polarity, generator)
            for (r0, r1), cols in groups.items()
        )
        self.register_buffer("input_range", torch.zeros(()))

    @property
    def row_groups(self) -> list[RowGroup]:
        """The row groups (blocks sharing a row range), in row order."""
        return [g for g in self.blocks_by_rows if isinstance(g, RowGroup)]

    def _mvm(self, x_n: Tensor, group: RowGroup, g_norm: Tensor) -> Tensor:
        if not self.is_conv:
            return x_n[:, group.row_start : group.row_stop] @ g_norm
        k2 = self.kernel_size[0] * self.kernel_size[1]
        per_group_in = self.in_channels // self.groups
        c0, c1 = group.row_start // k2, -(-group.row_stop // k2)
        if self.groups > 1 or (c0 * k2, c1 * k2) == (group.row_start, group.row_stop):
            rows = g_norm
        else:  # a split inside a kernel: zero the rows of the covered channels outside the block
            rows = g_norm.new_zeros(((c1 - c0) * k2, g_norm.shape[1]))
            rows[group.row_start - c0 * k2 : group.row_stop - c0 * k2] = g_norm
        cin = per_group_in if self.groups > 1 else c1 - c0
        weight = rows.T.reshape(-1, cin, *self.kernel_size).contiguous(memory_format=torch.channels_last)
        x_part = x_n if self.groups > 1 else x_n[:, c0:c1]
        return F.conv2d(x_part, weight, None, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, x: Tensor) -> Tensor:
        ctx = self.ctx
        if ctx.calibrating:  # right after programming: widen the DAC range to the data seen
            self.input_range = torch.maximum(self.input_range, x.detach().abs().max())
        full_scale = float(self.input_range.clamp_min(torch.finfo(x.dtype).tiny))
        # The DAC's integer codes go into the MVM and every per-column factor (DAC step, ADC step,
        # conductance-to-weight scale, GDC) is folded into the small weight matrix instead of into
        # the large activation tensors: per batch the activations see one multiply on the way in
        # and round/clamp/multiply (all in place) on the way out.
        if ctx.dac_bits is not None:
            n_dac = levels(ctx.dac_bits)
            x_in = (x * (n_dac / full_scale)).round_().clamp_(-n_dac, n_dac)
            per_input = 1.0 / n_dac  # x_in * per_input is the normalised input x / full_scale
        else:
            x_in, per_input = x, 1.0 / full_scale
        out: Tensor | None = None
        shape = (1, -1, 1, 1) if self.is_conv else (1, -1)
        for group in self.row_groups:
            to_weight = full_scale * group.g_max_us / group.beta  # normalised output -> weight units
            if ctx.compensate:
                to_weight = to_weight * group.gdc_alpha
            g_norm = group.read_normalised(ctx)
            if ctx.calibrating:  # widen each block's ADC range to its largest normalised output
                y = self._mvm(x_in, group, g_norm.mul_(per_input))
                col_max = y.abs().amax(dim=(0, 2, 3) if self.is_conv else 0)
                block_max = torch.stack([col_max[c0:c1].max() for c0, c1 in group.col_blocks])
                group.adc_range = torch.maximum(group.adc_range, group.expand_per_column(block_max))
                y.mul_(to_weight.view(shape))
            elif ctx.adc_bits is not None:
                n_adc = levels(ctx.adc_bits)
                live = group.adc_range > 0  # a zero range digitises everything to 0
                to_code = torch.where(live, n_adc / group.adc_range.clamp_min(1e-30), 0.0)
                if group.adc_gain is not None:  # the column's gain error, folded into its weights
                    to_code = to_code * group.adc_gain
                y = self._mvm(x_in, group, g_norm.mul_(per_input * to_code))
                if group.adc_offset is not None:
                    y.add_((group.adc_offset * n_adc).view(shape))
                # The digital unit knows the nominal step only: gain and offset errors stay in the output.
                y.round_().clamp_(-n_adc, n_adc).mul_((group.adc_range / n_adc * to_weight).view(shape))
            else:  # no quantisation, but the same column gain and offset as the quantised path
                scale = to_weight if group.adc_gain is None else to_weight * group.adc_gain
                y = self._mvm(x_in, group, g_norm.mul_(per_input * scale))
                if group.adc_offset is not None:
                    y.add_((group.adc_offset * group.adc_range * to_weight).view(shape))
            out = y if out is None else out.add_(y)  # partial sums of row blocks, accumulated digitally
        assert out is not None
        if self.bias is not None:
            out = out.add_(self.bias.view(shape))
        return out


def _check_cover(groups: dict[tuple[int, int], list[tuple[int, int]]], shape: torch.Size) -> None:
    # Blocks must tile the matrix exactly: row ranges back to back from 0 to rows, and on each row
    # range column ranges back to back from 0 to cols.
    rows, cols = shape
    row_spans = sorted(groups)
    for name, spans, size in [("row", row_spans, rows)] + [
        (f"column (rows [{r0}, {r1}))", sorted(groups[(r0, r1)]), cols) for r0, r1 in row_spans
    ]:
        tiled = spans[0][0] == 0 and spans[-1][1] == size
        tiled = tiled and all(a[1] == b[0] and b[0] < b[1] for a, b in itertools.pairwise(spans))
        if not tiled:
            raise ValueError(f"{name} blocks {spans} do not tile 0..{size} exactly")
