"""Trace a PyTorch model with torch.fx into the layer graph: a networkx DiGraph of plain records.

Graph layout (read by ``chiptwin.mapping`` and ``chiptwin.timing`` without torch):

- node key: the layer name (qualified module name such as ``layer1.0.conv1``; for functional calls the
  torch.fx node name such as ``add_3``; a module called a second time gets ``name@1``); node attribute
  ``layer``: a :class:`~chiptwin.spec.graph.LayerSpec`. Nodes are inserted in execution order, which is
  a topological order; the first is the model input (kind ``input``), the last its output.
- edge attribute ``edge``: an :class:`~chiptwin.spec.graph.EdgeSpec` (tensor shape and bytes per image).
- graph attributes: ``model`` (name), ``input_shape`` (per image), ``activation_bits``.

Supported operations: ``nn.Conv2d`` and ``nn.Linear`` (analog, subclasses included); batch-norm
(``nn.BatchNorm1d/2d``), ReLU (module, ``F.relu``, ``torch.relu``, ``.relu()``), residual adds
(``+``, ``torch.add``, ``.add()``), pooling (``nn.MaxPool2d``, ``nn.AvgPool2d``, adaptive average and
max pooling, and their ``F.`` functions), flatten (``nn.Flatten``, ``torch.flatten``, ``.flatten()``,
``.view()``, ``.reshape()``). ``nn.Identity``, dropout and ``.contiguous()`` pass their input through
and are left out of the graph. Shapes are computed from the modules' hyper-parameters (no forward pass
runs), so tracing a ResNet-50 takes a fraction of a second.
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
from chiptwin.network.resnet import build_model, model_spec
from chiptwin.network.shapes import analog_layer, pool_output, reshape_output
from chiptwin.spec.graph import EdgeSpec, LayerSpec, bytes_per_element

__all__ = ["ZOO_INPUT_SIZES", "build_layer_graph", "zoo_layer_graph"]

ZOO_INPUT_SIZES = {"cifar_resnet": 32, "imagenet_resnet": 224}
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
}
_METHOD_KINDS = {"relu": "relu", "relu_": "relu", "add": "add", "add_": "add", "flatten": "flatten"}
_METHOD_KINDS |= {"view": "flatten", "reshape": "flatten"}
_PASS_FUNCTIONS: tuple[Callable[..., Any], ...] = (F.dropout,)
_PASS_METHODS = ("contiguous",)


class _Shape(tuple[int, ...]):
    """The symbolic value of a tensor during tracing: its shape, batch dimension first."""


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

    def where(self, node: fx.Node) -> str:
        if node.op == "call_module":
            return f"module {node.target!r} ({type(self.modules[str(node.target)]).__name__})"
        stack = node.meta.get("nn_module_stack") or {}
        inside = f" in module {next(reversed(stack.values()))[0]!r}" if stack else ""
        target = getattr(node.target, "__name__", node.target)
        return f"{node.name!r} ({target}){inside}"

    def run(self, gm: fx.GraphModule) -> nx.DiGraph:
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
                raise MappingError(f"parameter {node.target!r} is used outside a module; cannot map it")
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
            elif node.op == "call_function":  # shape arithmetic on plain values: x.size(0) * 2
                self.values[node] = node.target(*args, **kwargs)
            else:
                raise MappingError(f"cannot map {self.where(node)}: an operation on non-tensor values")
        return self.graph

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

    def _kind(self, node: fx.Node, module: nn.Module | None) -> str:
        kind = None
        if node.op == "call_module":
            kind = next((k for cls, k in _MODULE_KINDS if isinstance(module, cls)), None)
        elif node.op == "call_method":
            kind = _METHOD_KINDS.get(str(node.target))
        elif node.op == "call_function":
            kind = _FUNCTION_KINDS.get(node.target)  # type: ignore[arg-type]
        if kind is None:
            raise MappingError(
                f"cannot map {self.where(node)}: supported are Conv2d, Linear, batch-norm, ReLU, add, "
                "pooling and flatten"
            )
        return kind

    def _name(self, node: fx.Node) -> str:
        base = str(node.target) if node.op == "call_module" else node.name
        name, k = base, 1
        while name in self.graph:
            name, k = f"{base}@{k}", k + 1
        return name

    def _digital(self, node: fx.Node, kind: str, module: Any, args: Any, kwargs: Any) -> LayerSpec:
        x: _Shape = args[0]
        if kind == "add":
            operands = [*args, *([kwargs["other"]] if "other" in kwargs else [])]
            shapes = [tuple(a) for a in operands if isinstance(a, _Shape)]
            out = tuple(int(n) for n in np.broadcast_shapes(*shapes))
            ops = max(len(operands) - 1, 1) * math.prod(out[1:])
        elif kind == "pool":
            out, ops = pool_output(module if module is not None else node.target, x, args, kwargs)
        elif kind == "flatten":
            out = reshape_output(node.target, module, x, args, kwargs)
            ops = 0
            if out[0] != _BATCH or math.prod(out) != math.prod(x):
                raise MappingError(f"{self.where(node)}: reshapes {x[1:]} to {out} across images")
        else:  # batchnorm, relu
            if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d) and x[1] != module.num_features:
                raise MappingError(
                    f"{self.where(node)}: expects {module.num_features} channels, gets shape {x[1:]}"
                )
            out, ops = tuple(x), math.prod(x[1:])
        return LayerSpec(
            name=self._name(node),
            kind=kind,
            analog=False,
            input_shape=tuple(x[1:]),
            output_shape=tuple(out[1:]),
            ops_per_inference=int(ops),
        )

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


def _flat(args: Any, kwargs: Any) -> list[Any]:
    out: list[Any] = []
    for a in [*args, *kwargs.values()]:
        out += _flat(a, {}) if isinstance(a, list | tuple) and not isinstance(a, _Shape) else [a]
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
    if spec.in_channels < 1:
        raise MappingError(f"in_channels(={spec.in_channels}) must be >= 1")
    # Weights do not matter for the graph; seed a forked RNG so the caller's torch RNG is untouched.
    # (The meta device would skip the allocation, but its first random init costs seconds.)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(spec)
    size = ZOO_INPUT_SIZES[spec.arch]
    return build_layer_graph(
        model, (spec.in_channels, size, size), activation_bits=activation_bits, name=name
    )
