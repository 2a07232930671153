"""Plain records of the layer graph: one :class:`LayerSpec` per node, one :class:`EdgeSpec` per edge.

The layer graph of a model is built by ``chiptwin.network.graph`` (which needs torch to trace it), but
its records live here so that ``mapping`` and ``timing`` read the graph without importing torch.

**Unrolled weight matrix.** An analog layer (Conv2d or Linear) is one matrix-vector multiplication per
output position on a ``rows x cols`` weight matrix, ``rows = in_channels / groups * kernel_h * kernel_w``
inputs by ``cols = out_channels`` outputs. Rows are ordered like ``weight.reshape(out_channels, -1)``:

    row = c_in * (kernel_h * kernel_w) + kh_index * kernel_w + kw_index

(``c_in`` counted within the group), so a block of rows ``[row_start, row_stop)`` and columns
``[col_start, col_stop)`` holds ``W.reshape(out_channels, -1).T[row_start:row_stop, col_start:col_stop]``.
A Linear layer is a 1x1 kernel: ``rows = in_features``. A bias is added by the tile's digital unit; it
takes no crossbar row. For a grouped convolution, column ``c`` belongs to group
``c // (out_channels / groups)`` and its rows see that group's input channels.

**Op counts** (``ops_per_inference``, per image): analog layers count multiply-accumulates
(``rows * cols * mvms_per_inference``); batch-norm and ReLU one op per output element; an add
``(inputs - 1)`` ops per output element; pooling one op per input element it reads (window size times
outputs for windowed pools, the whole input for adaptive average pools and token means); flatten,
reshape (view, transpose, permute), input and output none. Transformer operations on the digital unit:
a ``matmul`` of two activations counts its multiply-accumulates (``prod(output) * K`` for a contraction
over ``K``); ``mul`` (a scale by a constant or an element-wise product) one op per output element;
``layernorm``, ``softmax`` and ``gelu`` :data:`LAYERNORM_OPS_PER_ELEMENT`,
:data:`SOFTMAX_OPS_PER_ELEMENT` and :data:`GELU_OPS_PER_ELEMENT` ops per element.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from chiptwin.errors import SpecError

__all__ = [
    "ANALOG_KINDS",
    "DIGITAL_KINDS",
    "GELU_OPS_PER_ELEMENT",
    "LAYERNORM_OPS_PER_ELEMENT",
    "LAYER_KINDS",
    "SOFTMAX_OPS_PER_ELEMENT",
    "EdgeSpec",
    "LayerSpec",
    "bytes_per_element",
]

ANALOG_KINDS = ("conv", "linear")
"""Layer kinds computed on the crossbars."""

DIGITAL_KINDS = (
    "input",
    "output",
    "batchnorm",
    "relu",
    "add",
    "pool",
    "flatten",
    "reshape",
    "layernorm",
    "gelu",
    "softmax",
    "matmul",
    "mul",
)
"""Layer kinds computed by the tiles' digital units (``input``/``output``: the model's tensors entering
and leaving the chip, no work; ``matmul``: a product of two activations, as in attention)."""

LAYERNORM_OPS_PER_ELEMENT = 5
"""Ops per element of a LayerNorm (Ba et al., arXiv:1607.06450, eq. 4): accumulate the mean, subtract
it, accumulate the square, multiply by the reciprocal standard deviation, apply the affine scale and
shift as one multiply-add; the one reciprocal square root per token is not counted (counted here,
chiptwin's convention)."""

SOFTMAX_OPS_PER_ELEMENT = 5
"""Ops per element of a softmax: the running maximum, the subtraction, the exponential (one lookup-table
op, assumed), the sum, and the multiply by the reciprocal of the sum (counted here, chiptwin's
convention)."""

GELU_OPS_PER_ELEMENT = 1
"""Ops per element of a GELU: one lookup-table op (assumed; a tanh-approximation datapath would take
about 8)."""

LAYER_KINDS = ANALOG_KINDS + DIGITAL_KINDS


def bytes_per_element(bits: int) -> int:
    """Bytes one activation takes at ``bits`` of precision (8-bit -> 1 byte, 9..16-bit -> 2)."""
    if bits < 1:
        raise SpecError(f"activation bits(={bits}) must be >= 1")
    return math.ceil(bits / 8)


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerSpec:
    """One node of the layer graph: an analog (crossbar) layer or a digital operation.

    The analog-only fields are 0 (or ``(0, 0)``) for digital layers.
    """

    name: str
    """Qualified module name (``layer1.0.conv1``) or, for functional calls, the torch.fx node name."""

    kind: str
    """One of :data:`LAYER_KINDS`."""

    analog: bool
    """True for layers computed on crossbars (``kind`` in :data:`ANALOG_KINDS`)."""

    input_shape: tuple[int, ...]
    """Shape of the (first) input for one image, without the batch dimension, e.g. ``(16, 32, 32)``."""

    output_shape: tuple[int, ...]
    """Shape of the output for one image, without the batch dimension."""

    ops_per_inference: int = 0
    """Multiply-accumulates (analog) or element operations (digital) for one image (module docstring)."""

    in_channels: int = 0
    """Input channels (Conv2d) or input features (Linear)."""

    out_channels: int = 0
    """Output channels (Conv2d) or output features (Linear)."""

    kernel_h: int = 0
    """Kernel height (1 for Linear)."""

    kernel_w: int = 0
    """Kernel width (1 for Linear)."""

    stride: tuple[int, int] = (0, 0)
    """Stride (height, width); ``(1, 1)`` for Linear."""

    padding: tuple[int, int] = (0, 0)
    """Zero padding (height, width) on each side."""

    groups: int = 0
    """Convolution groups (1 for Linear)."""

    has_bias: bool = False
    """The layer adds a bias (in the digital unit)."""

    rows: int = 0
    """Rows of the unrolled weight matrix: ``in_channels / groups * kernel_h * kernel_w``."""

    cols: int = 0
    """Columns of the unrolled weight matrix: ``out_channels``."""

    mvms_per_inference: int = 0
    """Matrix-vector multiplications per image: output positions (``H_out * W_out``; 1 for Linear)."""

    def __post_init__(self) -> None:
        if not self.name:
            raise SpecError("layer.name(='') must be a non-empty string")
        if self.kind not in LAYER_KINDS:
            raise SpecError(f"layer {self.name!r}: kind(={self.kind!r}) must be one of {LAYER_KINDS}")
        if self.analog != (self.kind in ANALOG_KINDS):
            raise SpecError(
                f"layer {self.name!r}: analog(={self.analog}) does not match kind(={self.kind!r})"
            )
        if self.ops_per_inference < 0:
            raise SpecError(f"layer {self.name!r}: ops_per_inference(={self.ops_per_inference}) must be >= 0")
        if self.analog:
            self._check_analog()

    def _check_analog(self) -> None:
        for key in ("in_channels", "out_channels", "kernel_h", "kernel_w", "groups", "mvms_per_inference"):
            if getattr(self, key) < 1:
                raise SpecError(f"layer {self.name!r}: {key}(={getattr(self, key)}) must be >= 1")
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise SpecError(
                f"layer {self.name!r}: groups(={self.groups}) must divide in_channels(={self.in_channels}) "
                f"and out_channels(={self.out_channels})"
            )
        rows = self.in_channels // self.groups * self.kernel_h * self.kernel_w
        if self.rows != rows:
            raise SpecError(
                f"layer {self.name!r}: rows(={self.rows}) must be in_channels / groups * kernel_h * "
                f"kernel_w (={rows})"
            )
        if self.cols != self.out_channels:
            raise SpecError(
                f"layer {self.name!r}: cols(={self.cols}) must equal out_channels(={self.out_channels})"
            )

    @property
    def kernel_size(self) -> int:
        """Rows one input channel takes in the unrolled matrix (``kernel_h * kernel_w``)."""
        return self.kernel_h * self.kernel_w

    @property
    def weights(self) -> int:
        """Crossbar weights of the layer (``rows * cols``; 0 for digital layers)."""
        return self.rows * self.cols


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeSpec:
    """One edge of the layer graph: the activation tensor ``src`` hands to ``dst`` for one image."""

    src: str
    """Name of the producing layer."""

    dst: str
    """Name of the consuming layer."""

    shape: tuple[int, ...]
    """Tensor shape for one image, without the batch dimension."""

    bytes_per_inference: int
    """Bytes of the tensor for one image at the DAC/ADC precision (8-bit: one byte per element)."""

    def __post_init__(self) -> None:
        if self.bytes_per_inference < 0:
            raise SpecError(
                f"edge {self.src!r} -> {self.dst!r}: bytes_per_inference(={self.bytes_per_inference}) "
                "must be >= 0"
            )

    @property
    def elements(self) -> int:
        """Elements of the tensor for one image."""
        return math.prod(self.shape)
