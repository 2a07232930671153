"""Trace a PyTorch model with torch.fx into the layer graph: a networkx DiGraph of plain records.

Graph layout (read by ``chiptwin.mapping`` and ``chiptwin.timing`` without torch):

- node key: the layer name (qualified module name such as ``layer1.0.conv1``; for functional calls the
  torch.fx node name such as ``add_3``; a module called a second time gets ``name@1``); node attribute
  ``layer``: a :class:`~chiptwin.spec.graph.LayerSpec`. Nodes are inserted in execution order, which is
  a topological order; the first is the model input (kind ``input``), the last its output.
- edge attribute ``edge``: an :class:`~chiptwin.spec.graph.EdgeSpec` (tensor shape and bytes per image).
- graph attributes: ``model`` (name), ``input_shape`` (per image), ``activation_bits``.

Supported operations: ``nn.Conv2d`` (grouped and depthwise included) and ``nn.Linear`` (on any number
of leading dimensions, e.g. tokens) are analog (subclasses included); on the digital units: batch-norm
(``nn.BatchNorm1d/2d``), ReLU (module, ``F.relu``, ``torch.relu``, ``.relu()``), adds and subtractions
(``+``, ``-``, ``torch.add``, ``.add()``), pooling (``nn.MaxPool2d``, ``nn.AvgPool2d``, adaptive average
and max pooling, their ``F.`` functions, and ``.mean(dim)`` / ``torch.mean`` over non-batch dimensions),
flatten and reshapes (``nn.Flatten``, ``torch.flatten``, ``.flatten()``, ``.view()``, ``.reshape()``,
``.transpose()``, ``.permute()``), and the transformer operations: ``nn.LayerNorm``, GELU (module or
``F.gelu``), softmax (``nn.Softmax``, ``F.softmax``, ``torch.softmax``, ``.softmax()``), products of two
activations (``@``, ``torch.matmul``, ``torch.bmm``, ``.matmul()``) and element-wise scales (``*``,
``/``, ``torch.mul``, ``torch.div``). A parameter used outside a module (a learned position embedding)
is a constant of the digital unit: it may be added or multiplied element-wise, never multiplied as a
matrix (that would be a weight off the crossbars; put it in an ``nn.Linear``). ``nn.Identity``, dropout
and ``.contiguous()`` pass their input through and are left out of the graph. Anything else is one
:class:`~chiptwin.errors.MappingError` naming the module or call; nothing is silently made digital.

Shapes are computed from the modules' hyper-parameters (no forward pass runs), so tracing a ResNet-50
takes a fraction of a second.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import networkx as nx
import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import fx, nn

from chiptwin.errors import MappingError
from chiptwin.network.resnet import VIT_IMAGE_SIZE, build_model, model_spec
from chiptwin.network.shapes import analog_layer, bind_args, permute_output, pool_output, reshape_output
from chiptwin.spec.graph import (
    GELU_OPS_PER_ELEMENT,
    LAYERNORM_OPS_PER_ELEMENT,
    SOFTMAX_OPS_PER_ELEMENT,
    EdgeSpec,
    LayerSpec,
    bytes_per_element,
)

__all__ = ["ZOO_INPUT_SIZES", "build_layer_graph", "model_layer_graph", "zoo_layer_graph"]

ZOO_INPUT_SIZES = {"cifar_resnet": 32, "imagenet_resnet": 224, "vit": VIT_IMAGE_SIZE}
"""Input height and width of the zoo architectures (Fashion-MNIST padded to 32, ImageNet crops)."""

_BATCH = 2
"""Batch size of the symbolic shapes: 2, so that a reshape folding the batch into features shows."""

_PASS_MODULES = (nn.Identity, nn.Dropout, nn.Dropout2d)
_MODULE_KINDS: tuple[tuple[type[nn.Module], str], ...] = (
    (nn.Conv2d, "conv"),
    (nn.Linear, "linear"),
    (nn.BatchNorm1d, "batchnorm"),
    (nn.BatchNorm2d, "batchnorm"),
    (nn.ReLU, "relu"),
    (nn.MaxPool2d, "pool"),
    (nn.AvgPool2d, "pool"),
    (nn.AdaptiveAvgPool2d, "pool"),
    (nn.AdaptiveMaxPool2d, "pool"),
    (nn.Flatten, "flatten"),
    (nn.LayerNorm, "layernorm"),
    (nn.GELU, "gelu"),
    (nn.Softmax, "softmax"),
)
_FUNCTION_KINDS: dict[Callable[..., Any], str] = {
    operator.add: "add",
    operator.iadd: "add",
    torch.add: "add",
    torch.relu: "relu",
    F.relu: "relu",
    torch.flatten: "flatten",
    F.max_pool2d: "pool",
    F.avg_pool2d: "pool",
    F.adaptive_avg_pool2d: "pool",
    F.adaptive_max_pool2d: "pool",
    torch.mean: "pool",
    operator.sub: "add",
    torch.sub: "add",
    torch.transpose: "reshape",
    torch.permute: "reshape",
    F.gelu: "gelu",
    F.softmax: "softmax",
    torch.softmax: "softmax",
    operator.matmul: "matmul",
    torch.matmul: "matmul",
    torch.bmm: "matmul",
    operator.mul: "mul",
    operator.truediv: "mul",
    torch.mul: "mul",
    torch.div: "mul",
}
_METHOD_KINDS = {"relu": "relu", "relu_": "relu", "add": "add", "add_": "add", "flatten": "flatten"}
_METHOD_KINDS |= {"view": "flatten", "reshape": "flatten", "transpose": "reshape", "permute": "reshape"}
_METHOD_KINDS |= {"sub": "add", "mean": "pool", "softmax": "softmax", "matmul": "matmul"}
_METHOD_KINDS |= {"mul": "mul", "div": "mul"}
_ELEMENTWISE = ("add", "mul")
"""Kinds that may take a constant (a parameter used outside a module) as an operand."""
_OPS_PER_ELEMENT = {
    "batchnorm": 1,
    "relu": 1,
    "layernorm": LAYERNORM_OPS_PER_ELEMENT,
    "softmax": SOFTMAX_OPS_PER_ELEMENT,
    "gelu": GELU_OPS_PER_ELEMENT,
}
_PASS_FUNCTIONS: tuple[Callable[..., Any], ...] = (F.dropout,)
_PASS_METHODS = ("contiguous",)


class _Shape(tuple[int, ...]):
    """The symbolic value of a tensor during tracing: its shape, batch dimension first."""


class _Const(tuple[int, ...]):
    """The symbolic value of a parameter or buffer used outside a module: its shape (no batch dimension)."""


class _Tracer(fx.Tracer):
    """A torch.fx tracer that keeps Conv2d/Linear subclasses whole and remembers where tracing failed."""

    def __init__(self) -> None:
        super().__init__()
        self.failed_in: str | None = None

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d)):
            return True
        return bool(super().is_leaf_module(m, module_qualified_name))

    def call_module(
        self, m: nn.Module, forward: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.failed_in is None:  # the innermost module sees the exception first
                self.failed_in = f"{self.path_of_module(m)!r} ({type(m).__name__})"
            raise


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def _trace(model: nn.Module) -> fx.GraphModule:
    tracer = _Tracer()
    try:
        graph = tracer.trace(model)
    except Exception as exc:
        where = tracer.failed_in or f"{type(model).__name__} (the model's own forward)"
        raise MappingError(f"cannot trace module {where} with torch.fx: {_first_line(exc)}") from None
    return fx.GraphModule(tracer.root, graph, type(model).__name__)


class _Builder:
    """One pass over the fx graph: symbolic shapes, layer records and edges."""

    def __init__(self, gm: fx.GraphModule, input_shape: tuple[int, ...], bpe: int) -> None:
        self.modules = dict(gm.named_modules())
        self.input_shape = input_shape
        self.bpe = bpe
        self.graph = nx.DiGraph()
        self.values: dict[fx.Node, Any] = {}
        self.layer_of: dict[fx.Node, str] = {}  # fx node -> layer producing its tensor
        self.unplaced: list[str] = []  # operations the graph has no kind for, named in one error

    def where(self, node: fx.Node) -> str:
        if node.op == "call_module":
            return f"module {node.target!r} ({type(self.modules[str(node.target)]).__name__})"
        stack = node.meta.get("nn_module_stack") or {}
        inside = f" in module {next(reversed(stack.values()))[0]!r}" if stack else ""
        target = getattr(node.target, "__name__", node.target)
        return f"{node.name!r} ({target}){inside}"

    def run(self, gm: fx.GraphModule) -> nx.DiGraph:
        try:
            self._run(gm)
        except MappingError:
            if self.unplaced:  # likely a consequence of passing an unplaced operation's input through
                raise self._unplaced_error() from None
            raise
        if self.unplaced:
            raise self._unplaced_error()
        return self.graph

    def _unplaced_error(self) -> MappingError:
        names = ", ".join(self.unplaced[:-1]) + " and " if len(self.unplaced) > 1 else ""
        return MappingError(
            f"cannot map {names}{self.unplaced[-1]}: supported are Conv2d, Linear, batch-norm, LayerNorm, "
            "ReLU, GELU, softmax, add, scale, matmul, pooling, mean and reshapes"
        )

    def _run(self, gm: fx.GraphModule) -> None:
        inputs = 0
        for node in gm.graph.nodes:
            args = fx.node.map_arg(node.args, self.values.__getitem__)
            kwargs = fx.node.map_arg(node.kwargs, self.values.__getitem__)
            if node.op == "placeholder":
                inputs += 1
                if inputs > 1:
                    raise MappingError(f"input {node.name!r}: models with several inputs cannot be mapped")
                self.values[node] = _Shape((_BATCH, *self.input_shape))
                shape = self.input_shape
                self._add(
                    node,
                    LayerSpec(
                        name=node.name, kind="input", analog=False, input_shape=shape, output_shape=shape
                    ),
                )
            elif node.op == "get_attr":
                value = _attribute(gm, str(node.target))
                if not isinstance(value, torch.Tensor):
                    raise MappingError(f"attribute {node.target!r} is used outside a module; cannot map it")
                self.values[node] = _Const(tuple(int(n) for n in value.shape))
            elif node.op == "output":
                sources = self._tensor_inputs(node)
                shape = tuple(self.values[sources[0]][1:]) if sources else ()
                self._add(
                    node,
                    LayerSpec(
                        name=self._name(node),
                        kind="output",
                        analog=False,
                        input_shape=shape,
                        output_shape=shape,
                    ),
                )
            elif any(isinstance(a, _Shape) for a in _flat(args, kwargs)):
                self._call(node, args, kwargs)
            elif any(isinstance(a, _Const) for a in _flat(args, kwargs)):
                raise MappingError(
                    f"cannot map {self.where(node)}: an operation on parameters alone (outside a module)"
                )
            elif node.op == "call_function":  # shape arithmetic on plain values: x.size(0) * 2
                self.values[node] = node.target(*args, **kwargs)
            else:
                raise MappingError(f"cannot map {self.where(node)}: an operation on non-tensor values")

    def _tensor_inputs(self, node: fx.Node) -> list[fx.Node]:
        return [n for n in node.all_input_nodes if isinstance(self.values.get(n), _Shape)]

    def _call(self, node: fx.Node, args: Any, kwargs: Any) -> None:
        x = args[0]
        if node.op == "call_method" and node.target == "size":
            self.values[node] = tuple(x)[args[1]] if len(args) > 1 else tuple(x)
            return
        if node.op == "call_method" and node.target == "dim":
            self.values[node] = len(x)
            return
        if node.op == "call_function" and node.target is getattr and args[1] == "shape":
            self.values[node] = tuple(x)
            return
        module = self.modules.get(str(node.target)) if node.op == "call_module" else None
        if self._passes(node, module):
            self.values[node] = x
            self.layer_of[node] = self.layer_of[self._tensor_inputs(node)[0]]
            return
        kind = self._kind(node, module)
        if kind is None:  # named with every other one at the end; the tensor passes through meanwhile
            self.unplaced.append(self.where(node))
            source = next(n for n in node.all_input_nodes if isinstance(self.values.get(n), _Shape))
            self.values[node], self.layer_of[node] = self.values[source], self.layer_of[source]
            return
        if kind not in _ELEMENTWISE and any(isinstance(a, _Const) for a in _flat(args, kwargs)):
            raise MappingError(
                f"cannot map {self.where(node)}: it takes a parameter used outside a module, which would "
                "be a weight off the crossbars (put the weight in an nn.Linear or nn.Conv2d)"
            )
        if kind in ("conv", "linear"):
            spec = analog_layer(self._name(node), module, x, self.where(node))
        else:
            spec = self._digital(node, kind, module, args, kwargs)
        self.values[node] = _Shape((_BATCH, *spec.output_shape))
        self._add(node, spec)

    def _passes(self, node: fx.Node, module: nn.Module | None) -> bool:
        if node.op == "call_module":
            return isinstance(module, _PASS_MODULES)
        if node.op == "call_method":
            return node.target in _PASS_METHODS
        return node.target in _PASS_FUNCTIONS

    def _kind(self, node: fx.Node, module: nn.Module | None) -> str | None:
        kind = None
        if node.op == "call_module":
            kind = next((k for cls, k in _MODULE_KINDS if isinstance(module, cls)), None)
        elif node.op == "call_method":
            kind = _METHOD_KINDS.get(str(node.target))
        elif node.op == "call_function":
            kind = _FUNCTION_KINDS.get(node.target)  # type: ignore[arg-type]
        return kind

    def _name(self, node: fx.Node) -> str:
        base = str(node.target) if node.op == "call_module" else node.name
        name, k = base, 1
        while name in self.graph:
            name, k = f"{base}@{k}", k + 1
        return name

    def _digital(self, node: fx.Node, kind: str, module: Any, args: Any, kwargs: Any) -> LayerSpec:
        operands = [*args, *(kwargs[k] for k in ("other", "input") if k in kwargs)]
        x = next(a for a in operands if isinstance(a, _Shape))  # `2 * x` has the tensor second
        if kind in _ELEMENTWISE:
            # a constant (parameter) broadcasts like in torch: aligned on the right, batch included
            shapes = [tuple(a) for a in operands if _is_value(a)]
            try:
                out = tuple(int(n) for n in np.broadcast_shapes(*shapes))
            except ValueError:
                raise MappingError(f"{self.where(node)}: shapes {shapes} do not broadcast") from None
            ops = max(len(operands) - 1, 1) * math.prod(out[1:])
            if len(out) != max(len(a) for a in operands if isinstance(a, _Shape)):
                raise MappingError(f"{self.where(node)}: a constant of shape {shapes} mixes images")
        elif kind == "pool" and (module is not None or node.target in _POOL_FUNCTIONS):
            out, ops = pool_output(module if module is not None else node.target, x, args, kwargs)
        elif kind == "pool":  # .mean(dim) / torch.mean(x, dim)
            out, ops = self._mean(node, x, args, kwargs), math.prod(x[1:])
        elif kind in ("flatten", "reshape"):
            out = (
                reshape_output(node.target, module, x, args, kwargs)
                if kind == "flatten"
                else permute_output(node.target, x, args, kwargs)
            )
            ops = 0
            if not out or out[0] != _BATCH or math.prod(out) != math.prod(x):
                raise MappingError(f"{self.where(node)}: reshapes {x[1:]} to {out} across images")
        elif kind == "matmul":
            out, ops = self._matmul(node, operands)
        else:  # batchnorm, relu, layernorm, gelu, softmax: element-wise on their input
            if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d) and x[1] != module.num_features:
                raise MappingError(
                    f"{self.where(node)}: expects {module.num_features} channels, gets shape {x[1:]}"
                )
            normalised = tuple(module.normalized_shape) if isinstance(module, nn.LayerNorm) else ()
            if normalised and tuple(x[-len(normalised) :]) != normalised:
                raise MappingError(f"{self.where(node)}: normalises over {normalised}, gets shape {x[1:]}")
            out, ops = tuple(x), _OPS_PER_ELEMENT[kind] * math.prod(x[1:])
        return LayerSpec(
            name=self._name(node),
            kind=kind,
            analog=False,
            input_shape=tuple(x[1:]),
            output_shape=tuple(out[1:]),
            ops_per_inference=int(ops),
        )

    def _mean(self, node: fx.Node, x: _Shape, args: Any, kwargs: Any) -> tuple[int, ...]:
        bound = bind_args(args, kwargs, ("dim", "keepdim"))
        if bound.get("dim") is None:
            raise MappingError(f"{self.where(node)}: a mean over every dimension mixes images")
        given = bound["dim"] if isinstance(bound["dim"], tuple | list) else (bound["dim"],)
        dims = {int(d) % len(x) for d in given}
        if 0 in dims:
            raise MappingError(f"{self.where(node)}: a mean over the batch dimension mixes images")
        keep = bool(bound.get("keepdim", False))
        return tuple(1 if i in dims else n for i, n in enumerate(x) if keep or i not in dims)

    def _matmul(self, node: fx.Node, operands: list[Any]) -> tuple[tuple[int, ...], int]:
        a, b = operands[0], operands[1]
        if not (isinstance(a, _Shape) and isinstance(b, _Shape)) or min(len(a), len(b)) < 3:
            raise MappingError(
                f"{self.where(node)}: a matmul must multiply two activations of one image each "
                f"(batch, ..., rows, cols); got shapes {a} and {b}"
            )
        if a[-1] != b[-2]:
            raise MappingError(f"{self.where(node)}: cannot multiply shapes {a[1:]} and {b[1:]}")
        try:
            lead = tuple(int(n) for n in np.broadcast_shapes(a[:-2], b[:-2]))
        except ValueError:
            raise MappingError(f"{self.where(node)}: shapes {a[1:]} and {b[1:]} do not broadcast") from None
        out = (*lead, a[-2], b[-1])
        return out, math.prod(out[1:]) * a[-1]

    def _add(self, node: fx.Node, spec: LayerSpec) -> None:
        self.graph.add_node(spec.name, layer=spec)
        for src in self._tensor_inputs(node):
            shape = tuple(self.values[src][1:])
            edge = EdgeSpec(
                src=self.layer_of[src],
                dst=spec.name,
                shape=shape,
                bytes_per_inference=math.prod(shape) * self.bpe,
            )
            self.graph.add_edge(edge.src, edge.dst, edge=edge)
        self.layer_of[node] = spec.name


_POOL_FUNCTIONS = (F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.adaptive_max_pool2d)


def _is_value(a: Any) -> bool:
    return isinstance(a, _Shape | _Const)


def _attribute(gm: fx.GraphModule, target: str) -> Any:
    value: Any = gm
    for part in target.split("."):
        value = getattr(value, part)
    return value


def _flat(args: Any, kwargs: Any) -> list[Any]:
    out: list[Any] = []
    for a in [*args, *kwargs.values()]:
        nested = isinstance(a, list | tuple) and not isinstance(a, _Shape | _Const)
        out += _flat(a, {}) if nested else [a]
    return out


def build_layer_graph(
    model: nn.Module, input_shape: Sequence[int], *, activation_bits: int = 8, name: str | None = None
) -> nx.DiGraph:
    """Trace ``model`` for inputs of ``input_shape`` (per image, e.g. ``(1, 32, 32)``) into the layer graph.

    Args:
        model: the network; it is traced, never run, and left unchanged.
        input_shape: shape of one input image without the batch dimension.
        activation_bits: DAC/ADC precision of the activations on the chip, bits (edge bytes).
        name: the model's name in the graph (default: its class name).

    Raises:
        MappingError: torch.fx cannot trace the model (naming the module where tracing failed), an
            operation is not supported (naming the module), or a shape does not fit a module.
    """
    bpe = bytes_per_element(activation_bits)
    shape = tuple(int(n) for n in input_shape)
    if not shape or min(shape) < 1:
        raise MappingError(f"input_shape(={shape}) must be positive sizes without the batch dimension")
    gm = _trace(model)
    graph = _Builder(gm, shape, bpe).run(gm)
    graph.graph.update(model=name or type(model).__name__, input_shape=shape, activation_bits=activation_bits)
    return graph


def zoo_layer_graph(name: str, *, in_channels: int | None = None, activation_bits: int = 8) -> nx.DiGraph:
    """The layer graph of a zoo model at its native input size (32x32 CIFAR-style, 224x224 ImageNet-style).

    Raises:
        MappingError: ``name`` is not a zoo model, or ``in_channels`` is below 1.
    """
    try:
        spec = model_spec(name, in_channels=in_channels)
    except KeyError as exc:
        raise MappingError(str(exc.args[0])) from None
    except ValueError as exc:  # ModelSpec's bounds (in_channels in 1..MAX_IN_CHANNELS)
        raise MappingError(str(exc)) from None
    # Weights do not matter for the graph; seed a forked RNG so the caller's torch RNG is untouched.
    # (The meta device would skip the allocation, but its first random init costs seconds.)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(spec)
    size = ZOO_INPUT_SIZES[spec.arch]
    return build_layer_graph(
        model, (spec.in_channels, size, size), activation_bits=activation_bits, name=name
    )


def model_layer_graph(ref: str, *, in_channels: int | None = None, activation_bits: int = 8) -> nx.DiGraph:
    """The layer graph of a zoo model (:func:`zoo_layer_graph`) or of a model file ``FILE.py[:NAME]``
    (:mod:`chiptwin.network.model_file`), traced at the input shape of its ``DATASET``'s images.

    Raises:
        MappingError: an unknown zoo model, a bad ``in_channels``, ``in_channels`` with a model file (its
            dataset fixes the input), or a model that cannot be placed.
        CheckpointError: the model file cannot be loaded.
    """
    from chiptwin.network.data import image_shape
    from chiptwin.network.model_file import is_model_file, load_model_file, model_file_label

    if not is_model_file(ref):
        return zoo_layer_graph(ref, in_channels=in_channels, activation_bits=activation_bits)
    if in_channels is not None:
        raise MappingError(
            f"in_channels(={in_channels}) applies to zoo models; {ref} is traced at its DATASET's images"
        )
    model, card = load_model_file(ref)
    return build_layer_graph(
        model, image_shape(str(card["dataset"])), activation_bits=activation_bits, name=model_file_label(ref)
    )
