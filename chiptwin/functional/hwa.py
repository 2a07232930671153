"""Hardware-aware training of any model against a chip: in training, its analog layers see the chip.

:func:`hardware_aware` attaches to a user's ``nn.Module``: while the model is in training mode, every
``Conv2d`` and ``Linear`` the layer graph maps to crossbars (:mod:`chiptwin.network.graph`) computes its
output the way the chip would, so any training loop and any optimizer train weights that survive the
chip; in eval mode the model computes digitally, and :meth:`HardwareAware.remove` (or leaving the
``with`` block) gives back a plain model (nothing to unwrap, its state dict loads anywhere).

Two noise sources (:class:`NoiseRecipe`), each cited where it is used:

``"chip"`` (the default), derived from the chip file, per training forward pass:

1. **Clipping**: each layer's weights are clipped to ``± alpha · std(W)`` before every forward pass
   (Joshi et al., Nat. Commun. 11, 2473 (2020), Methods "Hardware-aware training": the bound after every
   update; clipping before the next forward pass is the same and needs no hook in the optimizer).
2. **Weights**: the layer is split into the chip's crossbar blocks (:func:`chiptwin.mapping.split_graph`;
   the block sizes the placement uses), each block's weights are mapped to conductances with the chip's
   weight scale (``[pcm] weight_scale``: one ``beta = g_max / max|W|`` per block or per column) and
   programmed on the chip's own device model (``devices_per_weight / 2`` devices per polarity, read as
   their mean) at the chip's ``t0`` or at a later device ``age_s``, read once with read noise, and mapped
   back to weights: the perturbation a programmed chip really has, at that block's scale. With
   ``age_s`` after ``t0`` the block is also compensated as GDC would (``reference(t0) / read(age)``,
   :mod:`chiptwin.functional.compensation`), so what remains is the drift *variability* the network must
   tolerate (and the output noise and ADC step grow by the same factor: they act on the drifted signal
   before the digital GDC gain). Training against the noise of a later device age is the drift-aware
   option (the weight noise grows with age, Joshi 2020 Fig. 4; Rasch et al., Nat. Commun. 14, 5282
   (2023), train with noise drawn from the statistical PCM model and evaluate at 1 h .. 1 y after GDC).
3. **Converters**, where the chip has them (not ``ideal``): inputs quantised by the DAC to ``dac.bits``
   over the layer's input range, each block's output digitised by the ADC to ``adc.bits`` over its range
   times ``adc.range_headroom``, both with straight-through gradients (rounding passes the gradient
   unchanged, saturation stops it). Ranges as the chip sets them: one input range per layer and one
   output range per block, the chip calibrating them once on images (:mod:`.calibration`), the
   training on each batch (its largest |input| and |output|). A chip with ``dac.input_range =
   "per_vector"`` scales each input vector to full scale by its own max |input| over each block row's
   rows instead (:func:`~chiptwin.functional.analog_layer.input_vectors`, the scale a constant of the
   step), and its output noise and ADC act on the rescaled outputs, as on the chip.
4. **Output noise**: ``adc.output_noise`` std per MVM output in normalised units (a full-scale input
   through ``g_max``), drawn per output, as :class:`~chiptwin.functional.analog_layer.AnalogLayer` does.
5. **Batch-norm statistics from another read** (``bn_statistics = "other_read"``, the default): the
   chip's batch-norm layers normalise with statistics AdaBS measured on *earlier* reads of the same
   programmed chip (Joshi 2020, "AdaBS"), while every read draws its own 1/f read noise; a training
   step that normalised with its own batch's statistics would cancel that read's error in every channel
   (a depthwise channel sums 9 products, so its read error is a gain of several % per read that no
   later layer averages away) and so never learn to tolerate it. Each training step therefore programs
   the chip once and reads it twice: a first pass without gradient measures the batch-norm statistics
   (and updates the running ones), the second pass, with a fresh read of the same devices and the same
   GDC factors, computes the loss with those statistics held fixed. ``"batch"``: the usual batch
   statistics of the step's one read (one forward pass per step instead of two; what trainings
   before this option did).

The weights get the gradient of the perturbed forward pass (the perturbation is a constant of the
step), i.e. the gradient is applied to the clean weights (Joshi 2020, Methods).

``"paper"``: Joshi 2020's fixed recipe, for any chip: additive Gaussian weight noise of std
``eta · max|W|`` per layer (``eta = 3.8 %``) and clipping at ``alpha = 2.0`` std, no converters.

Randomness comes from one generator seeded by :meth:`HardwareAware.reseed` (``derive_seed(seed,
"hwa")`` at attach), never from torch's global generator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from chiptwin.device.converters import encode_, levels
from chiptwin.device.models import NOISE_MODELS, noise_model
from chiptwin.errors import DeviceError, MappingError, UsageError
from chiptwin.functional.analog_layer import (
    ConvGeometry,
    RowGroup,
    input_vectors,
    rows_mvm,
    vector_max,
    vector_scale,
    vectors_mvm,
)
from chiptwin.functional.context import ChipContext
from chiptwin.functional.gaussian import add_gaussian_
from chiptwin.limits import MAX_AGE_S
from chiptwin.mapping.blocks import split_graph
from chiptwin.network.graph import build_layer_graph
from chiptwin.network.training import clip_weights, paper_noise_std
from chiptwin.seeding import derive_seed
from chiptwin.spec.chip import ChipSpec

__all__ = ["BN_STATISTICS", "NOISE_SOURCES", "HardwareAware", "NoiseRecipe", "hardware_aware"]

NOISE_SOURCES = ("chip", "paper")
"""Where the training noise comes from (:class:`NoiseRecipe`)."""

BN_STATISTICS = ("other_read", "batch")
"""What batch-norm layers normalise with while training against the chip (module docstring, point 5)."""

PAPER_ETA = 0.038
"""Joshi 2020's weight-noise std relative to max|W| per layer (Methods; PCM programming noise at
mid-range conductance relative to g_max)."""

PAPER_ALPHA = 2.0
"""Joshi 2020's clip bound, in std(W) per layer (Methods: 2.0-2.5)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NoiseRecipe:
    """What a hardware-aware training injects (module docstring). Every field goes into the model card.

    Attributes:
        source: ``"chip"`` (derived from the chip file) or ``"paper"`` (Joshi 2020's fixed recipe).
        eta: ``"paper"`` only: weight-noise std relative to max|W| per layer.
        alpha: clip bound in std(W) per layer; None: no clipping.
        age_s: ``"chip"`` only: the device age, s, the weights are read at (None: the chip's ``t0``);
            later than ``t0``, blocks are compensated as GDC would.
        converters: ``"chip"`` only: DAC and ADC quantisation where the chip has converters.
        output_noise: ``"chip"`` only: the periphery's output noise where the chip has it.
        noise_scale: ``"chip"`` only: factor on the device perturbation and the output noise (1: the
            chip's; above 1 trains against more noise than the chip has).
        bn_statistics: ``"chip"`` only: ``"other_read"`` (batch-norm statistics from a first read of the
            step's programmed chip, the loss from a second read: module docstring, point 5) or
            ``"batch"`` (the step's own batch statistics); None: ``"other_read"`` for the chip source,
            ``"batch"`` for the paper's (:attr:`bn_mode`).
    """

    source: str = "chip"
    eta: float = PAPER_ETA
    alpha: float | None = PAPER_ALPHA
    age_s: float | None = None
    converters: bool = True
    output_noise: bool = True
    noise_scale: float = 1.0
    bn_statistics: str | None = None

    def __post_init__(self) -> None:
        checks = {
            "bn_statistics": self.bn_statistics is None or self.bn_statistics in BN_STATISTICS,
            "source": self.source in NOISE_SOURCES,
            "eta": _finite(self.eta) and 0 <= self.eta <= 1,
            "alpha": self.alpha is None or (_finite(self.alpha) and 0 < self.alpha <= 100),
            "age_s": self.age_s is None or (_finite(self.age_s) and 0 <= self.age_s <= MAX_AGE_S),
            "noise_scale": _finite(self.noise_scale) and 0 <= self.noise_scale <= 100,
        }
        for key, ok in checks.items():
            if not ok:
                raise UsageError(f"NoiseRecipe: {key}(={getattr(self, key)!r}) is out of range")
        if self.source == "paper" and self.bn_statistics == "other_read":
            raise UsageError(
                "NoiseRecipe: bn_statistics(='other_read') needs source 'chip' "
                "(the paper's recipe has no reads)"
            )

    @property
    def bn_mode(self) -> str:
        """``bn_statistics`` resolved: ``"other_read"`` or ``"batch"``."""
        if self.bn_statistics is not None:
            return self.bn_statistics
        return "other_read" if self.source == "chip" else "batch"

    @classmethod
    def paper(cls, eta: float = PAPER_ETA, alpha: float | None = PAPER_ALPHA) -> NoiseRecipe:
        """Joshi 2020's fixed recipe (module docstring)."""
        return cls(source="paper", eta=eta, alpha=alpha)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, slots=True)
class _RowRange:
    row_start: int
    row_stop: int
    col_blocks: tuple[tuple[int, int], ...]


class _Layer:
    """One attached analog module: its crossbar blocks (replica 0) and the geometry of its MVM."""

    def __init__(self, name: str, module: nn.Conv2d | nn.Linear, rows: Sequence[_RowRange]) -> None:
        self.name, self.module, self.rows = name, module, tuple(rows)
        self.conv = ConvGeometry.of(module)


class HardwareAware:
    """A model attached to a chip for training (:func:`hardware_aware`): a handle and a context manager.

    While attached and in training mode, the model's analog layers compute through the chip's
    non-idealities; :meth:`remove` clips the weights a last time and detaches (idempotent).
    """

    def __init__(
        self, model: nn.Module, chip: ChipSpec, layers: Sequence[_Layer], recipe: NoiseRecipe, seed: int
    ) -> None:
        self.model, self.chip, self.recipe = model, chip, recipe
        self.layers = tuple(layers)
        self._noise = noise_model(chip) if recipe.source == "chip" else None
        self._generator: torch.Generator | None = None
        self._seed = derive_seed(seed, "hwa")
        self.attached = False
        # Batch-norm statistics from another read (module docstring, point 5): the model's forward runs
        # twice per training call, the batch norms and analog layers know which pass it is.
        two_reads = recipe.source == "chip" and recipe.bn_mode == "other_read"
        self._norms = tuple(m for m in model.modules() if isinstance(m, _BatchNorm)) if two_reads else ()
        self._pass: str | None = None  # None (one read), "stats" (first read), "loss" (second read)
        self._programmed: dict[tuple[str, int], list[tuple[RowGroup, Tensor]]] = {}
        self._statistics: dict[int, list[tuple[Tensor, Tensor]]] = {}
        wrapped: list[tuple[str, nn.Module]] = [
            (f"layer {layer.name!r}", layer.module) for layer in self.layers
        ]
        wrapped += [(f"batch norm {name!r}", m) for name, m in model.named_modules() if m in self._norms]
        if self._norms:
            wrapped.append(("the model", model))
        for what, module in wrapped:
            if "forward" in vars(module):
                raise UsageError(f"{what} is already attached to a chip (or wraps its forward)")
        for layer in self.layers:
            layer.module.forward = self._forward_of(layer)  # type: ignore[method-assign]
        for norm in self._norms:
            norm.forward = self._norm_forward_of(norm)  # type: ignore[method-assign]
        if self._norms:
            model.forward = self._two_reads_of(model)
        self.attached = True

    # -- the handle -----------------------------------------------------------------------------------

    def reseed(self, seed: int) -> None:
        """Restart the noise draws from ``seed`` (a training loop reseeds per epoch to resume exactly)."""
        self._seed = int(seed)
        self._generator = None

    def remove(self) -> nn.Module:
        """Clip the weights a last time (if the recipe clips) and detach; returns the plain model."""
        if self.attached:
            self.clip()
            for layer in self.layers:
                del layer.module.forward
            for norm in self._norms:
                del norm.forward
            if self._norms:
                del self.model.forward
            self.attached = False
        return self.model

    def __enter__(self) -> HardwareAware:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()

    def clip(self, layers: Sequence[_Layer] | None = None) -> None:
        """Clip the weights of ``layers`` (default: every analog layer) to ``± alpha · std(W)`` per layer
        in place (:func:`chiptwin.network.training.clip_weights`; no-op without ``alpha``)."""
        if self.recipe.alpha is not None:
            chosen = self.layers if layers is None else layers
            clip_weights(
                [layer.module for layer in chosen if layer.module.weight.numel() > 1], self.recipe.alpha
            )

    def describe(self) -> dict[str, Any]:
        """The chip, convention and noise this model trains against (for a model card)."""
        chip = self.chip
        out: dict[str, Any] = {
            "chip": chip.name,
            "recipe": asdict(self.recipe),
            "layers": len(self.layers),
            "bn_statistics": self.recipe.bn_mode,
        }
        if self.recipe.source == "chip":
            out.update(
                device_model=chip.device_model,
                devices_per_weight=chip.tiles.devices_per_weight,
                weight_scale=chip.device.weight_scale,
                g_max_usiemens=chip.device.g_max_usiemens,
                crossbar=f"{chip.tiles.weight_rows}x{chip.tiles.weight_cols}",
                age_s=self._age_s,
                dac_bits=self._dac_bits,
                adc_bits=self._adc_bits,
                adc_range_headroom=chip.adc.range_headroom,
                output_noise=self._output_noise,
                input_ranges=(
                    "per-vector: each input vector's own max |input| per crossbar block row"
                    if chip.dac.input_range == "per_vector"
                    else "calibrated: one range per layer (the batch's max |input|)"
                ),
            )
        return out

    # -- the forward pass -----------------------------------------------------------------------------

    @property
    def _age_s(self) -> float:
        t0 = self.chip.device.t0_s
        return t0 if self.recipe.age_s is None else max(float(self.recipe.age_s), t0)

    @property
    def _dac_bits(self) -> int | None:
        on = self.recipe.converters and not self.chip.dac.ideal
        return self.chip.dac.bits if on else None

    @property
    def _adc_bits(self) -> int | None:
        on = self.recipe.converters and not self.chip.adc.ideal
        return self.chip.adc.bits if on else None

    @property
    def _output_noise(self) -> float:
        return self.chip.adc.output_noise * self.recipe.noise_scale if self.recipe.output_noise else 0.0

    def _gen(self, like: Tensor) -> torch.Generator:
        if self._generator is None or self._generator.device != like.device:
            self._generator = torch.Generator(device=like.device).manual_seed(self._seed)
        return self._generator

    def _forward_of(self, layer: _Layer) -> Any:
        module: nn.Module = layer.module
        original = type(module).forward

        def forward(x: Tensor) -> Tensor:
            if not module.training:
                return original(module, x)
            self.clip([layer])
            if self.recipe.source == "paper":
                return self._paper_forward(layer, x)
            return self._chip_forward(layer, x)

        return forward

    def _two_reads_of(self, model: nn.Module) -> Any:
        original = type(model).forward

        def forward(*args: Any, **kwargs: Any) -> Any:
            if self._pass is not None or not model.training or not any(n.training for n in self._norms):
                return original(model, *args, **kwargs)
            try:
                # First read: batch-norm statistics (and running statistics) as AdaBS measures them.
                self._pass = "stats"
                with torch.no_grad():
                    original(model, *args, **kwargs)
                # Second read of the same programmed devices: the loss, with those statistics fixed.
                self._pass = "loss"
                return original(model, *args, **kwargs)
            finally:
                self._pass = None
                self._programmed.clear()
                self._statistics.clear()

        return forward

    def _norm_forward_of(self, norm: _BatchNorm) -> Any:
        original = type(norm).forward

        def forward(x: Tensor) -> Tensor:
            if self._pass == "stats" and norm.training:
                dims = [d for d in range(x.dim()) if d != 1]
                measured = (x.mean(dims), x.var(dims, unbiased=False))
                self._statistics.setdefault(id(norm), []).append(measured)
                return original(norm, x)  # normalises by them and updates the running statistics
            queue = self._statistics.get(id(norm)) if self._pass == "loss" else None
            if not queue:
                return original(norm, x)
            mean, var = queue.pop(0)
            return nn.functional.batch_norm(x, mean, var, norm.weight, norm.bias, False, 0.0, norm.eps)

        return forward

    def _paper_forward(self, layer: _Layer, x: Tensor) -> Tensor:
        # Joshi 2020, Methods: W + N(0, (eta max|W|)^2), redrawn every mini-batch.
        w = layer.module.weight
        noise = torch.empty_like(w).normal_(generator=self._gen(w)).mul_(paper_noise_std(w, self.recipe.eta))
        return _digital(layer, x, w + noise)

    def _chip_forward(self, layer: _Layer, x: Tensor) -> Tensor:
        module, chip, conv = layer.module, self.chip, layer.conv
        assert self._noise is not None
        gen = self._gen(module.weight)
        dac_bits, adc_bits, sigma = self._dac_bits, self._adc_bits, self._output_noise
        w = module.weight
        unrolled = w.reshape(w.shape[0], -1).T  # (rows, cols), a view: gradients reach the weights
        shape = (1, -1, 1, 1) if conv is not None else (1, -1)
        periphery = sigma > 0 or adc_bits is not None
        per_vector = chip.dac.input_range == "per_vector"
        tiny = torch.finfo(x.dtype).tiny
        full_scale: float | Tensor = 1.0
        if not per_vector:
            # The layer's input range, as the chip calibrates it once on images: here the batch's.
            if periphery or dac_bits is not None:
                full_scale = float(x.detach().abs().max().clamp_min(tiny))
            if dac_bits is not None:
                codes = encode_(x.detach() * (levels(dac_bits) / full_scale), dac_bits)
                x = _Through.apply(x, codes.mul_(full_scale / levels(dac_bits)), 1.0)
        out: Tensor | None = None
        for index, rows in enumerate(layer.rows):
            w_rows = unrolled[rows.row_start : rows.row_stop]
            perturbation, beta, gain = self._perturbation(w_rows.detach(), rows, gen, (layer.name, index))
            zeroed: Tensor | None = None
            if per_vector:
                # Each input vector at its own full scale over these rows (the scale a constant of the
                # step: the gradient passes the DAC straight through, as in the calibrated path).
                # An all-zero vector takes scale 1 here and its outputs are zeroed after the periphery:
                # the chip multiplies them by its scale, 0 (AnalogLayer), so they carry no noise.
                vectors = input_vectors(x, rows.row_start, rows.row_stop, conv)
                scale = vector_max(vectors, conv)
                live = scale > 0
                scale = torch.where(live, scale, 1.0)
                if dac_bits is not None:
                    codes = encode_(vectors.detach() / scale * levels(dac_bits), dac_bits)
                    vectors = _Through.apply(vectors, codes.mul_(scale / levels(dac_bits)), 1.0)
                y = vectors_mvm(vectors, w_rows + perturbation, conv)
                full_scale = vector_scale(scale, conv, w_rows.shape[1])
                zeroed = vector_scale(live.to(y.dtype), conv, w_rows.shape[1])
            else:
                y = rows_mvm(x, w_rows + perturbation, rows.row_start, rows.row_stop, conv)
            if periphery:
                # Normalised output units (a full-scale input through g_max is 1), per column (and per
                # input vector with per-vector scales).
                to_norm = beta.view(shape) / (self.chip.device.g_max_usiemens * full_scale)
                value = _periphery(
                    y.detach(),
                    to_norm,
                    gain.view(shape),
                    sigma,
                    adc_bits,
                    rows,
                    gen,
                    chip.adc.range_headroom,
                    conv,
                )
                y = _Through.apply(y, value if zeroed is None else value.mul_(zeroed), 1.0)
            out = y if out is None else out + y
        assert out is not None
        if module.bias is not None:
            out = out + module.bias.view(shape if conv is not None else (-1,))
        return out

    @torch.no_grad()
    def _perturbation(
        self, w_rows: Tensor, rows: _RowRange, gen: torch.Generator, key: tuple[str, int]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The chip's weight error of these rows (programmed, read at the age, GDC), beta per column (µS per
        unit weight) and the GDC factor per column (``reference / now``; 1 at ``t0``).

        In the second pass of a two-read step (``key`` names the layer and row range) the rows are those
        the first pass programmed, with the GDC factors it measured; only the read is new."""
        chip = self.chip
        assert self._noise is not None
        g_max = chip.device.g_max_usiemens
        queue = self._programmed.get(key) if self._pass == "loss" else None
        compensated: Tensor | None = None
        if queue:
            group, compensated = queue.pop(0)
        else:
            group = RowGroup(
                w_rows.float(),
                rows.row_start,
                rows.row_stop,
                rows.col_blocks,
                self._noise,
                g_max,
                chip.device.weight_scale,
                chip.tiles.devices_per_weight // 2,
                gen,
                0,
                chip.device.g_min_usiemens,
            )
        ctx = ChipContext(
            age_s=self._age_s, read_generator=gen, dac_bits=None, adc_bits=None, gdc_read=chip.gdc.read
        )
        read = group.read_normalised(ctx).mul_(g_max / group.beta)  # weight units
        if compensated is not None:
            gain = compensated
            read.mul_(gain)
        elif self._age_s > chip.device.t0_s:
            now = group.calibration_response(ctx)
            reference = group.calibration_response(
                ChipContext(
                    age_s=chip.device.t0_s,
                    read_generator=gen,
                    dac_bits=None,
                    adc_bits=None,
                    gdc_read=chip.gdc.read,
                )
            )
            alpha = torch.where(now > 0, reference / now.clamp_min(torch.finfo(now.dtype).tiny), 0.0)
            gain = group.expand_per_column(alpha)
            read.mul_(gain)
        else:
            gain = torch.ones_like(group.beta)
        if self._pass == "stats":
            self._programmed.setdefault(key, []).append((group, gain))
        perturbation = read.sub_(w_rows).mul_(self.recipe.noise_scale).to(w_rows.dtype)
        return perturbation, group.beta.to(w_rows.dtype), gain.to(w_rows.dtype)


def _digital(layer: _Layer, x: Tensor, weight: Tensor) -> Tensor:
    """The layer's own computation with ``weight`` in place of its weights."""
    module = layer.module
    if isinstance(module, nn.Conv2d):
        return module._conv_forward(x, weight, module.bias)
    return nn.functional.linear(x, weight, module.bias)


class _Through(torch.autograd.Function):
    """``value`` forward, the gradient of ``y`` times ``scale`` backward: a straight-through estimator
    for a quantiser or an additive perturbation computed without gradient."""

    @staticmethod
    def forward(ctx: Any, y: Tensor, value: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return value

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        return (grad if ctx.scale == 1.0 else grad * ctx.scale), None, None


def _periphery(
    y: Tensor,
    to_norm: Tensor,
    gain: Tensor,
    sigma: float,
    adc_bits: int | None,
    rows: _RowRange,
    gen: torch.Generator,
    headroom: float,
    conv: ConvGeometry | None,
) -> Tensor:
    """A row group's outputs ``y`` (weight units) after the output noise and the ADC (no gradient).

    The noise is ``sigma`` per output in normalised units (``y * to_norm``); the ADC digitises each block
    over ``headroom`` times its largest |normalised output| in this batch (the chip calibrates that
    range once on images), ``levels(adc_bits)`` steps per sign. Both act on the drifted signal, before
    the digital GDC factor ``gain`` (per column, 1 at ``t0``) scales it back, so in compensated units the
    noise and the step are ``gain`` times larger.
    """
    z = y * to_norm
    if sigma > 0:
        add_gaussian_(z, gain * sigma, gen, 1 if conv is not None else -1)
    if adc_bits is not None:
        n = levels(adc_bits)
        cols_last = z.movedim(1, -1) if conv is not None else z
        per_col = cols_last.abs().reshape(-1, cols_last.shape[-1]).amax(0)  # (cols,)
        tiny = torch.finfo(z.dtype).tiny
        ranges = torch.cat([per_col[c0:c1].amax().expand(c1 - c0) for c0, c1 in rows.col_blocks])
        steps = (ranges * headroom).clamp_min(tiny) / n
        shape = (1, -1, 1, 1) if conv is not None else (1,) * (z.dim() - 1) + (-1,)
        steps = steps.view(shape) * gain
        z.div_(steps).round_().clamp_(-n, n).mul_(steps)
    return z.div_(to_norm)


def hardware_aware(
    model: nn.Module,
    chip: ChipSpec,
    input_shape: Sequence[int],
    *,
    recipe: NoiseRecipe | None = None,
    seed: int = 0,
) -> HardwareAware:
    """Attach ``model`` to ``chip`` for hardware-aware training (module docstring); returns the handle.

    Args:
        model: any ``nn.Module`` the layer graph can trace (:func:`chiptwin.map_model`'s rule).
        chip: the chip it will run on (:func:`chiptwin.load_chip`).
        input_shape: one input without the batch dimension, e.g. ``(1, 28, 28)`` (to trace the model).
        recipe: the noise (default ``NoiseRecipe()``: derived from the chip).
        seed: seed of the noise draws.

    Raises:
        MappingError: the model cannot be traced or has an operation the chip cannot place (named).
        DeviceError: the chip's device model has no noise model to train against.
        UsageError: the model is attached already.
    """
    recipe = recipe or NoiseRecipe()
    if chip.device_model not in NOISE_MODELS:
        raise DeviceError(f"chip {chip.name!r}: device model {chip.device_model!r} has no noise model")
    was_training = model.training
    single = isinstance(model, (nn.Conv2d, nn.Linear))  # traced inside a container: its name is "0"
    try:
        graph = build_layer_graph(
            nn.Sequential(model) if single else model, input_shape, name=type(model).__name__
        )
    finally:
        model.train(was_training)
    by_layer: dict[str, dict[tuple[int, int], list[tuple[int, int]]]] = {}
    for block in split_graph(graph, chip):
        name = block.layer.split("@")[0]  # a module called twice is one set of weights
        name = "" if single else name
        rows = by_layer.setdefault(name, {})
        spans = rows.setdefault((block.row_start, block.row_stop), [])
        if (block.col_start, block.col_stop) not in spans:
            spans.append((block.col_start, block.col_stop))
    modules = dict(model.named_modules())
    layers = []
    for name, row_ranges in by_layer.items():
        module = modules.get(name)
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            raise MappingError(
                f"analog layer {name!r} of the layer graph is not a Conv2d or Linear of the model"
            )
        layers.append(
            _Layer(
                name,
                module,
                [_RowRange(r0, r1, tuple(sorted(cols))) for (r0, r1), cols in sorted(row_ranges.items())],
            )
        )
    return HardwareAware(model, chip, layers, recipe, seed)
