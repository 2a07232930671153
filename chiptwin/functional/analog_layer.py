"""An analog Conv2d or Linear: its weights live on crossbar blocks and its MVMs go through converters.

Per forward batch, in the order the chip does it (docs/concepts/physics.md; Joshi et al., Nat. Commun. 11,
2473 (2020)):

1. inputs are quantised by the DAC to ``dac_bits`` signed levels over the layer's input range
   (calibrated right after programming, :mod:`chiptwin.functional.calibration`), i.e. normalised to
   [-1, 1]; with the chip's ``dac.input_range = "per_vector"`` each input vector (a Linear's feature
   vector, a Conv2d's unrolled patch) is instead normalised by its own max |x| over the rows of each
   crossbar block row (:func:`input_vectors`: a tile's DACs see only its rows), and the block's outputs
   are multiplied back by that scale digitally after the ADC (step 4);
2. every crossbar block computes its MVM on its conductances at the chip's device age, read with
   fresh 1/f read noise (:class:`~chiptwin.functional.crossbar.Crossbar`);
3. every block's outputs carry the periphery's output noise (``adc.output_noise``, a Gaussian std per
   MVM output in normalised units, drawn per read) and are digitised by the ADC (``adc_bits`` over the
   block's calibrated range, saturating beyond it), each column with its own gain and offset error if
   the chip has ADC faults:
   ``code = clamp(round(y_code * gain + offset * n), -n, n)`` for ``n`` levels per sign;
4. the tile's digital unit scales each block's outputs by its GDC factor and back to weight units,
   accumulates the partial sums of row blocks, and adds the bias.

Blocks sharing the same rows (column splits) are computed by one convolution: their columns are
independent. Each distinct row range is one convolution over the input channels it covers, with zero
weights for rows outside the range, so a row split inside a kernel is exact too.

**Replicas.** A layer the mapping replicated ``r`` times has ``r`` independently programmed copies of
its blocks (their own programming noise, drift exponents, stuck devices and tiles); replica ``k``
computes the output positions :func:`~chiptwin.mapping.placement.replica_share` gives it (row-major
positions of the output map), so a dead tile of one replica spoils only that replica's share.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

from chiptwin.device.conductance import weights_to_conductances
from chiptwin.device.converters import encode_, levels
from chiptwin.device.noise import NoiseModel
from chiptwin.errors import MappingError
from chiptwin.functional.context import ChipContext
from chiptwin.functional.crossbar import Crossbar
from chiptwin.functional.gaussian import add_gaussian_
from chiptwin.mapping.placement import replica_share
from chiptwin.spec.faults import FaultSpec

__all__ = [
    "AnalogLayer",
    "BlockRange",
    "ConvGeometry",
    "RowGroup",
    "input_vectors",
    "rows_mvm",
    "unrolled_weight",
    "vector_dim",
    "vector_max",
    "vector_scale",
    "vectors_mvm",
]


PATCH_CHUNK_BYTES = 8 * 2**20
"""Largest unrolled input patches a per-vector convolution builds at once, bytes (8 MiB, assumed: under
glibc's largest mmap threshold, 32 MiB, the buffers are reused from the heap instead of being mapped
and faulted in afresh; 1.5 to 3x faster than a batch of 500 images at once on the development
machine). The batch is split into as many images as fit; on the CPU only (the reason is glibc's)."""


@dataclass(frozen=True, slots=True)
class BlockRange:
    """A crossbar block of a layer's unrolled weight matrix: rows and columns [start, stop), one replica."""

    row_start: int
    row_stop: int
    col_start: int
    col_stop: int
    replica: int = 0
    """Which copy of the layer (0 unless the mapping replicated it)."""


def unrolled_weight(module: nn.Conv2d | nn.Linear) -> Tensor:
    """The (rows, cols) matrix a crossbar stores: ``weight.reshape(C_out, -1).T``.

    Row ``c_in * (k_h * k_w) + i * k_w + j`` is input channel ``c_in``, kernel position ``(i, j)``.
    """
    w = module.weight.detach()
    return w.reshape(w.shape[0], -1).T.contiguous()


class RowGroup(nn.Module):
    """The blocks of one layer replica that share a row range: one MVM, and the periphery of its columns.

    Holds the :class:`Crossbar` (device physics) and what the periphery keeps per column: the weight to
    conductance scale ``beta``, the ADC range (normalised output units, set by the calibration), the
    column ADCs' gain and offset errors, and the GDC reference and factor. ADC gain and offset errors
    act in inference only: the range calibration and the GDC read sum the column currents digitally.
    """

    beta: Tensor
    adc_range: Tensor
    gdc_reference: Tensor
    gdc_alpha: Tensor
    adc_gain: Tensor | None
    adc_offset: Tensor | None

    def __init__(
        self,
        w_rows: Tensor,
        row_start: int,
        row_stop: int,
        col_blocks: Sequence[tuple[int, int]],
        noise: NoiseModel,
        g_max_usiemens: float,
        weight_scale: str,
        devices_per_polarity: int,
        generator: torch.Generator,
        replica: int = 0,
        g_min_usiemens: float = 0.0,
    ) -> None:
        super().__init__()
        self.row_start, self.row_stop, self.replica = row_start, row_stop, replica
        self.col_blocks = tuple(col_blocks)
        self.g_max_usiemens, self.weight_scale = g_max_usiemens, weight_scale
        self.g_min_usiemens = g_min_usiemens
        cols = w_rows.shape[1]
        betas, g_pos_all, g_neg_all = [], [], []
        for c0, c1 in self.col_blocks:
            g_pos, g_neg, beta = weights_to_conductances(
                w_rows[:, c0:c1], g_max_usiemens, weight_scale, g_min_usiemens
            )
            g_pos_all.append(g_pos)
            g_neg_all.append(g_neg)
            betas.append(beta.expand(c1 - c0))
        self.crossbar = Crossbar(
            torch.cat(g_pos_all, 1),
            torch.cat(g_neg_all, 1),
            noise,
            g_max_usiemens,
            devices_per_polarity,
            generator,
        )
        self.register_buffer("beta", torch.cat(betas))  # (cols,), µS per unit weight
        self.register_buffer("adc_range", torch.zeros(cols))  # normalised output units, per column
        self.register_buffer("gdc_reference", torch.zeros(len(self.col_blocks)))
        self.register_buffer("gdc_alpha", torch.ones(cols))
        self.register_buffer("adc_gain", None)  # (cols,) relative gain, None: exactly 1
        self.register_buffer("adc_offset", None)  # (cols,) offset, fraction of full scale; None: 0

    @property
    def state_bytes(self) -> int:
        """Persistent device state of this row group, bytes."""
        return self.crossbar.state_bytes

    def add_adc_faults(self, spec: FaultSpec, generator: torch.Generator) -> None:
        """Draw the column ADCs' errors once: ``(2, cols)`` standard normals (gains, then offsets).

        Drawn whichever of the two stds is zero, so the gains do not depend on the offset std.
        """
        draws = self.beta.new_empty((2, self.beta.shape[0])).normal_(generator=generator)
        self.adc_gain = draws[0].mul_(spec.adc_gain_std).add_(1.0) if spec.adc_gain_std > 0 else None
        self.adc_offset = draws[1].mul_(spec.adc_offset_std) if spec.adc_offset_std > 0 else None

    def read_normalised(self, ctx: ChipContext) -> Tensor:
        """(G+ − G−) / g_max of every device pair at the chip's age, read noise drawn now: (rows, cols)."""
        return self.crossbar.read_normalised(ctx)

    def block_index(self, col_start: int, col_stop: int) -> int:
        """Index of the block with columns ``[col_start, col_stop)`` in :attr:`col_blocks`.

        Raises:
            MappingError: no such block.
        """
        try:
            return self.col_blocks.index((col_start, col_stop))
        except ValueError:
            raise MappingError(
                f"no block with columns [{col_start}, {col_stop}) in {self.col_blocks}"
            ) from None

    def calibration_response(self, ctx: ChipContext) -> Tensor:
        """GDC read: summed |output| of each block for an all-ones input through the DAC, shape (blocks,).

        By the chip's ``gdc.read`` (:class:`~chiptwin.spec.chip.GDCSpec`): ``polarities`` reads the G+
        and the G- devices one after the other and sums both polarities' column currents
        (``sum(G+) + sum(G-)``, no cancellation); ``differential`` sums the |difference| of each column
        (``|sum(G+ - G-)|``). Digitally summed from the column currents (the ADC range is set for
        inference data, which an all-ones input would saturate). A block on a dead tile reads exactly 0.
        """
        if ctx.gdc_read == "differential":
            column = self.read_normalised(ctx).sum(0).abs()
        else:
            g_pos, g_neg = self.crossbar.read_polarities(ctx)
            column = g_pos.sum(0).add_(g_neg.sum(0))
        return torch.stack([column[c0:c1].sum() for c0, c1 in self.col_blocks])

    def expand_per_column(self, per_block: Tensor) -> Tensor:
        """Broadcast one value per block to the block's columns: (blocks,) -> (cols,)."""
        sizes = torch.tensor([c1 - c0 for c0, c1 in self.col_blocks], device=per_block.device)
        return per_block.repeat_interleave(sizes)

    @torch.no_grad()
    def reprogram_block(
        self, index: int, weights: Tensor, generator: torch.Generator, ctx: ChipContext
    ) -> int:
        """Program block ``index`` afresh (on a spare tile) at the chip's age from the host's ``weights``.

        ``weights`` are the block's rows of the layer's unrolled weight matrix (all columns). The block's
        devices are new, their age restarts now, and its GDC reference is re-read (its factor back to 1).
        Returns the devices programmed.
        """
        c0, c1 = self.col_blocks[index]
        g_pos, g_neg, _ = weights_to_conductances(
            weights[:, c0:c1], self.g_max_usiemens, self.weight_scale, self.g_min_usiemens
        )
        devices = self.crossbar.reprogram(c0, c1, g_pos, g_neg, generator, ctx.age_s)
        self.gdc_reference[index] = self.calibration_response(ctx)[index]
        self.gdc_alpha[c0:c1] = 1.0
        return devices


class AnalogLayer(nn.Module):
    """Drop-in replacement of a Conv2d or Linear whose weights are programmed on crossbar blocks.

    Args:
        module: the digital layer (its weights are copied).
        blocks: the crossbar blocks of every replica; each replica's blocks must tile the unrolled weight
            matrix exactly, and replicas are numbered 0 .. r-1.
        ctx: the chip's shared forward-pass state.
        noise: device model.
        g_max_usiemens, g_min_usiemens: the device model's conductance window, µS (``|W|`` maps into it).
        weight_scale: one of ``chiptwin.spec.conventions.WEIGHT_SCALES``.
        devices_per_polarity: devices read as one polarity.
        generators: programming draws, one per replica (replica ``k`` draws from ``generators[k]``).

    Raises:
        MappingError: the blocks do not tile the matrix, replicas are not 0 .. r-1, a grouped convolution
            is split over rows, or ``generators`` does not hold one generator per replica.
    """

    input_range: Tensor
    weights: Tensor

    def __init__(
        self,
        module: nn.Conv2d | nn.Linear,
        blocks: Sequence[BlockRange],
        ctx: ChipContext,
        noise: NoiseModel,
        *,
        g_max_usiemens: float,
        weight_scale: str,
        devices_per_polarity: int,
        generators: Sequence[torch.Generator],
        g_min_usiemens: float = 0.0,
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.conv = ConvGeometry.of(module)
        self.is_conv = self.conv is not None
        if self.conv is not None:
            self.out_channels = self.conv.out_channels
            self.groups = self.conv.groups
        self.bias = None if module.bias is None else nn.Parameter(module.bias.detach().clone(), False)
        w = unrolled_weight(module)
        # The weights the host keeps, to reprogram a block on a spare tile.
        self.register_buffer("weights", w.to(torch.float32).clone())
        by_replica: dict[int, dict[tuple[int, int], list[tuple[int, int]]]] = {}
        for b in sorted(blocks, key=lambda b: (b.replica, b.row_start, b.col_start)):
            rows = by_replica.setdefault(b.replica, {})
            rows.setdefault((b.row_start, b.row_stop), []).append((b.col_start, b.col_stop))
        if sorted(by_replica) != list(range(len(by_replica))):
            raise MappingError(f"replicas {sorted(by_replica)} must be numbered 0 .. r-1")
        if len(generators) != len(by_replica):
            raise MappingError(f"{len(generators)} generators for {len(by_replica)} replicas")
        for groups in by_replica.values():
            _check_cover(groups, w.shape)
            if self.is_conv and self.groups > 1 and len(groups) > 1:
                raise MappingError(
                    f"grouped convolution (groups={self.groups}) split over rows is not supported"
                )
        self.replica_groups: tuple[tuple[RowGroup, ...], ...] = tuple(
            tuple(
                RowGroup(
                    w[r0:r1],
                    r0,
                    r1,
                    cols,
                    noise,
                    g_max_usiemens,
                    weight_scale,
                    devices_per_polarity,
                    gen,
                    replica,
                    g_min_usiemens,
                )
                for (r0, r1), cols in by_replica[replica].items()
            )
            for replica, gen in zip(sorted(by_replica), generators, strict=True)
        )
        # Registered so that .to(), state_dict() and named_modules() see every row group.
        self.replicas = nn.ModuleList(nn.ModuleList(groups) for groups in self.replica_groups)
        self.register_buffer("input_range", torch.zeros(()))
        self._masks: dict[tuple[int, ...], Tensor] = {}

    @property
    def row_groups(self) -> list[RowGroup]:
        """Every row group (blocks sharing a row range), replicas in order, rows ascending in each."""
        return [g for groups in self.replica_groups for g in groups]

    @property
    def replica_count(self) -> int:
        return len(self.replica_groups)

    def _mvm(self, x_n: Tensor, group: RowGroup, g_norm: Tensor) -> Tensor:
        if self.ctx.input_range == "per_vector":  # x_n: the group's own input vectors (_per_vector)
            return vectors_mvm(x_n, g_norm, self.conv)
        return rows_mvm(x_n, g_norm, group.row_start, group.row_stop, self.conv)

    def _per_vector(
        self, x: Tensor, group: RowGroup, done: dict[tuple[int, int], tuple[Tensor, float, Tensor]]
    ) -> tuple[Tensor, float, Tensor]:
        """The DAC codes of ``group``'s input vectors, each at its own full scale, the factor from a code
        to the normalised input, and each vector's scale broadcast to the MVM output (``dac.input_range =
        "per_vector"``). ``done`` keeps them per row range for the other replicas and column splits."""
        key = (group.row_start, group.row_stop)
        if key not in done:
            vectors = input_vectors(x, group.row_start, group.row_stop, self.conv)
            scale = vector_max(vectors, self.conv)
            # Every vector at full scale ±1. Divided (not multiplied by 1 / scale): an all-zero vector
            # gives 0, never 0 * inf. A conv's unfolded patches are a new tensor: changed in place.
            divisor = scale.clamp_min(torch.finfo(x.dtype).tiny)
            x_n = vectors / divisor if self.conv is None else vectors.div_(divisor)
            if self.ctx.dac_bits is not None:
                n_dac = levels(self.ctx.dac_bits)
                done[key] = (encode_(x_n.mul_(n_dac), self.ctx.dac_bits), 1.0 / n_dac, scale)
            else:
                done[key] = (x_n, 1.0, scale)
        codes, per_input, scale = done[key]
        return codes, per_input, vector_scale(scale, self.conv, int(self.weights.shape[1]))

    def _share_mask(self, replica: int, y: Tensor) -> Tensor:
        """1 at the output positions replica ``replica`` computes, 0 elsewhere (broadcast over y).

        A Conv2d's positions are its output pixels ``y[:, :, i, j]``; a Linear's the leading dimensions
        after the batch (tokens ``y[:, n, :]``; none for a plain ``(batch, features)`` input)."""
        positions = y.shape[2:] if self.is_conv else y.shape[1:-1]
        key = (replica, *positions)
        mask = self._masks.get(key)
        if mask is None:
            count = 1
            for p in positions:
                count *= int(p)
            start, stop = replica_share(count, self.replica_count, replica)
            flat = torch.zeros(count, dtype=y.dtype, device=y.device)
            flat[start:stop] = 1.0
            mask = flat.view(1, 1, *positions) if self.is_conv else flat.view(1, *positions, 1)
            self._masks[key] = mask
        return mask

    def forward(self, x: Tensor) -> Tensor:
        ctx = self.ctx
        per_vector = ctx.input_range == "per_vector"
        if per_vector and self.conv is not None and x.device.type == "cpu" and x.shape[0] > 1:
            # Unrolled patches: a few MiB of images at a time (PATCH_CHUNK_BYTES).
            per_image = x[0].numel() * x.element_size() * self.conv.kernel_size[0] * self.conv.kernel_size[1]
            step = max(1, PATCH_CHUNK_BYTES // per_image)
            if step < x.shape[0]:
                return torch.cat([self.forward(x[i : i + step]) for i in range(0, x.shape[0], step)])
        x_in = x
        per_input: float | Tensor = 1.0
        full_scale: float | Tensor = 1.0
        if not per_vector:
            full_scale = self.input_range.clamp_min(torch.finfo(x.dtype).tiny)
            if x.device.type == "cpu":  # a float there; on a GPU a tensor, so no host sync per layer
                full_scale = float(full_scale)
            # The DAC's integer codes go into the MVM and every per-column factor (DAC step, ADC step,
            # conductance-to-weight scale, GDC) is folded into the small weight matrix instead of into
            # the large activation tensors: per batch the activations see one multiply on the way in
            # and round/clamp/multiply (all in place) on the way out.
            if ctx.dac_bits is not None:
                n_dac = levels(ctx.dac_bits)
                x_in = encode_(x * (n_dac / full_scale), ctx.dac_bits)
                per_input = 1.0 / n_dac  # x_in * per_input is the normalised input x / full_scale
            else:
                per_input = 1.0 / full_scale
        shape = (1, -1, 1, 1) if self.is_conv else (1, -1)
        vectors: dict[tuple[int, int], tuple[Tensor, float, Tensor]] = {}
        out: Tensor | None = None
        for replica, groups in enumerate(self.replica_groups):
            y_rep: Tensor | None = None
            for group in groups:
                if per_vector:  # normalised outputs of each vector at full scale, times its scale
                    codes, per_code, scale = self._per_vector(x, group, vectors)
                    y = self._group_output(codes, per_code, 1.0, group, shape).mul_(scale)
                else:
                    y = self._group_output(x_in, per_input, full_scale, group, shape)
                y_rep = y if y_rep is None else y_rep.add_(y)  # partial sums of row blocks, digitally
            assert y_rep is not None
            if self.replica_count > 1:
                y_rep = y_rep.mul_(self._share_mask(replica, y_rep))
            out = y_rep if out is None else out.add_(y_rep)
        assert out is not None
        if self.bias is not None:
            out = out.add_(self.bias.view(shape))
        return out

    def _add_output_noise(self, y: Tensor, scale: Tensor | float) -> None:
        """Add the periphery's output noise in place: ``ctx.output_noise`` std per MVM output in normalised
        units (full-scale input times g_max = 1), times ``scale`` (per column) into ``y``'s units."""
        sigma = self.ctx.output_noise
        if sigma > 0:
            add_gaussian_(y, scale * sigma, self.ctx.read_generator, 1 if self.is_conv else -1)

    def _group_output(
        self,
        x_in: Tensor,
        per_input: float | Tensor,
        full_scale: float | Tensor,
        group: RowGroup,
        shape: tuple[int, ...],
    ) -> Tensor:
        ctx = self.ctx
        to_weight = full_scale * group.g_max_usiemens / group.beta  # normalised output -> weight units
        if ctx.compensate:
            to_weight = to_weight * group.gdc_alpha
        g_norm = group.read_normalised(ctx)
        if ctx.observe_adc is not None:  # range calibration: the normalised outputs, unconverted
            y = self._mvm(x_in, group, g_norm.mul_(per_input))
            self._add_output_noise(y, 1.0)
            # A replica's ADCs convert its share of the output positions only; columns go last.
            seen = y if self.replica_count == 1 else y * self._share_mask(group.replica, y)
            ctx.observe_adc(group, seen.movedim(1, -1) if self.is_conv else seen)
            return y.mul_(to_weight.view(shape))
        if ctx.adc_bits is not None:
            n_adc = levels(ctx.adc_bits)
            live = group.adc_range > 0  # a zero range digitises everything to 0
            to_code = torch.where(live, n_adc / group.adc_range.clamp_min(1e-30), 0.0)
            if group.adc_gain is not None:  # the column's gain error, folded into its weights
                to_code = to_code * group.adc_gain
            y = self._mvm(x_in, group, g_norm.mul_(per_input * to_code))
            self._add_output_noise(y, to_code)
            if group.adc_offset is not None:
                y.add_((group.adc_offset * n_adc).view(shape))
            # The digital unit knows the nominal step only: gain and offset errors stay in the output.
            return encode_(y, ctx.adc_bits).mul_((group.adc_range / n_adc * to_weight).view(shape))
        # No quantisation, but the same column gain and offset as the quantised path.
        scale = to_weight if group.adc_gain is None else to_weight * group.adc_gain
        y = self._mvm(x_in, group, g_norm.mul_(per_input * scale))
        self._add_output_noise(y, scale)
        if group.adc_offset is not None:
            y.add_((group.adc_offset * group.adc_range * to_weight).view(shape))
        return y


@dataclass(frozen=True, slots=True)
class ConvGeometry:
    """What a crossbar MVM needs of a Conv2d besides its weights (None stands for a Linear)."""

    in_channels: int
    out_channels: int
    kernel_size: tuple[int, int]
    stride: tuple[int, ...]
    padding: tuple[int, ...] | str
    dilation: tuple[int, ...]
    groups: int

    @classmethod
    def of(cls, module: nn.Module) -> ConvGeometry | None:
        """The geometry of a Conv2d; None for a Linear."""
        if not isinstance(module, nn.Conv2d):
            return None
        k_h, k_w = module.kernel_size
        return cls(
            module.in_channels,
            module.out_channels,
            (k_h, k_w),
            tuple(module.stride),
            module.padding if isinstance(module.padding, str) else tuple(module.padding),
            tuple(module.dilation),
            module.groups,
        )


def rows_mvm(x: Tensor, rows: Tensor, row_start: int, row_stop: int, conv: ConvGeometry | None) -> Tensor:
    """The MVM of the unrolled weight rows ``[row_start, row_stop)`` (``rows``: (row_stop - row_start,
    cols)) on input ``x``: a matrix product over the features of a Linear's input (any leading
    dimensions), a convolution over the input channels those rows cover for a Conv2d (zero weights for
    the covered channels' rows outside the range, so a split inside a kernel is exact)."""
    if conv is None:  # features last, any leading dimensions (images, tokens)
        return x[..., row_start:row_stop] @ rows
    k2 = conv.kernel_size[0] * conv.kernel_size[1]
    per_group_in = conv.in_channels // conv.groups
    c0, c1 = row_start // k2, -(-row_stop // k2)
    if conv.groups > 1 or (c0 * k2, c1 * k2) == (row_start, row_stop):
        full = rows
    else:  # a split inside a kernel: zero the rows of the covered channels outside the block
        full = rows.new_zeros(((c1 - c0) * k2, rows.shape[1]))
        full[row_start - c0 * k2 : row_stop - c0 * k2] = rows
    cin = per_group_in if conv.groups > 1 else c1 - c0
    weight = full.T.reshape(-1, cin, *conv.kernel_size).contiguous(memory_format=torch.channels_last)
    x_part = x if conv.groups > 1 else x[:, c0:c1]
    return F.conv2d(x_part, weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)


def input_vectors(x: Tensor, row_start: int, row_stop: int, conv: ConvGeometry | None) -> Tensor:
    """The input vectors the DACs of unrolled weight rows ``[row_start, row_stop)`` see, one per MVM: a
    Linear's ``x[..., row_start:row_stop]`` (features last, any leading dimensions); a Conv2d's unrolled
    input patches (the columns of ``F.unfold``, rows ordered as :func:`unrolled_weight`) as
    ``(N, rows, H_out, W_out)``, a grouped convolution's as ``(N, groups, rows, H_out, W_out)`` (each
    group's patch is its own vector: its columns see only that group's channels). The features lie
    on dimension :func:`vector_dim`. Differentiable.

    Example (a 1x2 kernel over one channel, no padding: two patches, [1, -3] and [-3, 2]):
        >>> import torch
        >>> conv = ConvGeometry(1, 1, (1, 2), (1, 1), (0, 0), (1, 1), 1)
        >>> input_vectors(torch.tensor([[[[1.0, -3.0, 2.0]]]]), 0, 2, conv).tolist()
        [[[[1.0, -3.0]], [[-3.0, 2.0]]]]
    """
    if conv is None:
        return x[..., row_start:row_stop]
    k_h, k_w = conv.kernel_size
    k2 = k_h * k_w
    c0, c1 = (0, conv.in_channels) if conv.groups > 1 else (row_start // k2, -(-row_stop // k2))
    part = x[:, c0:c1].contiguous()  # im2col is several times slower on a channels-last input
    pad = _conv_padding(conv)
    if any(pad):
        part = F.pad(part, pad)  # zeros, as F.conv2d pads
    h_out = (part.shape[2] - conv.dilation[0] * (k_h - 1) - 1) // conv.stride[0] + 1
    w_out = (part.shape[3] - conv.dilation[1] * (k_w - 1) - 1) // conv.stride[1] + 1
    patches = F.unfold(part, conv.kernel_size, dilation=conv.dilation, stride=conv.stride)  # (N, C k2, L)
    n = x.shape[0]
    if conv.groups > 1:
        return patches.view(n, conv.groups, -1, h_out, w_out)
    lo = row_start - c0 * k2
    return patches[:, lo : lo + row_stop - row_start].view(n, -1, h_out, w_out)


def vector_dim(conv: ConvGeometry | None) -> int:
    """The dimension of :func:`input_vectors`' result that holds each vector's features."""
    return -1 if conv is None else -3


def vector_max(vectors: Tensor, conv: ConvGeometry | None) -> Tensor:
    """Each input vector's max |x| (no gradient), kept as a dimension of size 1 where its features were."""
    d, v = vector_dim(conv), vectors.detach()
    # max(max x, -min x): two reductions, no |x| copy of the (unfolded, large) vectors.
    return torch.maximum(v.amax(d, keepdim=True), v.amin(d, keepdim=True).neg_())


def _conv_padding(conv: ConvGeometry) -> tuple[int, int, int, int]:
    """A convolution's zero padding as ``F.pad`` takes it: (left, right, top, bottom). ``"same"`` pads
    ``dilation * (kernel - 1)`` in all, the odd one at the end (as ``torch.nn.Conv2d`` does)."""
    if conv.padding == "valid":
        return (0, 0, 0, 0)
    if conv.padding == "same":
        (top, bottom), (left, right) = (
            (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
            for d, k in zip(conv.dilation, conv.kernel_size, strict=True)
        )
        return (left, right, top, bottom)
    assert not isinstance(conv.padding, str)
    p_h, p_w = conv.padding
    return (p_w, p_w, p_h, p_h)


def vectors_mvm(vectors: Tensor, rows: Tensor, conv: ConvGeometry | None) -> Tensor:
    """The MVM of rows ``rows`` ((rows, cols)) on every input vector of :func:`input_vectors`, in the
    layer's output layout: ``(..., cols)`` for a Linear, ``(N, cols, H_out, W_out)`` for a Conv2d. A
    grouped convolution's column ``c`` sees group ``c // (cols / groups)``."""
    if conv is None:
        return vectors @ rows
    n, h, w = vectors.shape[0], vectors.shape[-2], vectors.shape[-1]
    r, cols = rows.shape
    if conv.groups == 1:
        return (rows.T @ vectors.flatten(2)).view(n, cols, h, w)
    g = conv.groups
    per_group = rows.T.reshape(g, cols // g, r)  # (groups, cols / groups, r)
    return (per_group @ vectors.flatten(3)).reshape(n, cols, h, w)  # (N, groups, cols / groups, positions)


def vector_scale(scale: Tensor, conv: ConvGeometry | None, cols: int) -> Tensor:
    """Each input vector's scale (:func:`vector_max`'s shape), broadcast to the output of
    :func:`vectors_mvm` (a grouped convolution's columns take their group's scale)."""
    if conv is None or conv.groups == 1:
        return scale
    n, g, _, h, w = scale.shape
    return scale.expand(n, g, cols // g, h, w).reshape(n, cols, h, w)


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
            raise MappingError(f"{name} blocks {spans} do not tile 0..{size} exactly")
