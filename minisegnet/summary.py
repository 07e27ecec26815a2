"""``summary(model, input_shape)``: a per-layer table of output shapes, parameters, multiply-adds
and receptive fields -- the arithmetic of decks 001 and 003, read off a real network.

It runs one forward pass on a zero input (in eval mode, so batch-norm statistics are untouched)
while a hook records every *leaf* layer (one without sub-modules) that runs. Each layer reports:

* **multiply-adds** (per batch of the given shape): a convolution costs
  H_out W_out C_out (C_in / groups) kH kW -- deck 003's count, bias additions not included --
  a transposed convolution H_in W_in C_in (C_out / groups) kH kW, batch-norm one per element,
  pools, activations and resizes 0;
* **receptive field** r and **jump** j (the distance, in input pixels, between two neighbouring
  outputs), per axis, starting from r = j = 1 at the input (deck 001):

      k_eff = d (k - 1) + 1,    r <- r + (k_eff - 1) j,    j <- j * stride

  (a transposed conv / unpool divides j by its stride and adds (ceil(k_eff / s) - 1) j). Where
  branches meet (U-Net's concatenation, FCN's sum) the larger field is kept; the graph recorded
  by autograd tells which layer outputs feed each layer.

  After an upsampling layer the true field depends on the output pixel's position (neighbouring
  upsampled pixels share their source), so from there on r is an upper bound, the largest field
  of any output pixel; for plain conv / pool stacks it is exact. Example: the original valid
  U-Net reports 200; propagating one output pixel's gradient back to a 572x572 input touches
  188x188 pixels (lesson 10 shows both).

The per-layer rules live here, in two tables keyed by layer type (:data:`MULT_ADDS`,
:data:`RECEPTIVE_FIELDS`; a subclass uses its parent's rule); :func:`register_layer` adds a rule
for a layer of your own. The layers themselves know nothing of ``summary``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy

from . import backend
from .autograd import Tensor, enable_grad
from .nn import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    ConvTranspose2d,
    DepthwiseSeparableConv2d,
    Identity,
    Linear,
    MaxPool2d,
    MaxUnpool2d,
    Module,
    Upsample,
)

__all__ = [
    "summary",
    "Summary",
    "LayerInfo",
    "register_layer",
    "MULT_ADDS",
    "RECEPTIVE_FIELDS",
    "conv_rf",
    "transposed_rf",
    "separable_savings",
    "SeparableSavings",
]

Shape = tuple[int, ...]
FieldPair = tuple[Fraction, Fraction]  # (along H, along W)
MultAddsRule = Callable[[Any, Shape, Shape], int]  # (layer, input shape, output shape) -> count
#: (layer, r, j, input shape, output shape) -> (r, j) after the layer
FieldRule = Callable[[Any, FieldPair, FieldPair, Shape, Shape], tuple[FieldPair, FieldPair]]


# ----------------------------------------------------------------------------------------------
# the per-layer rules


def conv_rf(r: Fraction, j: Fraction, k: int, s: int, d: int = 1) -> tuple[Fraction, Fraction]:
    """Receptive field and jump after a conv / pool along one axis (deck 001's rule):
    ``k_eff = d (k - 1) + 1``, ``r + (k_eff - 1) j``, ``j s``."""
    k_eff = d * (k - 1) + 1
    return r + (k_eff - 1) * j, j * s


def transposed_rf(
    r: Fraction, j: Fraction, k: int, s: int, d: int = 1
) -> tuple[Fraction, Fraction]:
    """Receptive field and jump after a transposed conv / unpool along one axis: one output sees
    at most ``ceil(k_eff / s)`` neighbouring inputs, so ``r + (ceil(k_eff / s) - 1) j``,
    ``j / s``."""
    k_eff = d * (k - 1) + 1
    return r + (math.ceil(k_eff / s) - 1) * j, j / s


def _per_axis(
    rule: Callable[..., tuple[Fraction, Fraction]],
    layer: Any,
    r: FieldPair,
    j: FieldPair,
    dilated: bool = True,
) -> tuple[FieldPair, FieldPair]:
    """Apply a one-axis rule along H and W with the layer's kernel_size, stride (and dilation)."""
    out = [
        rule(
            r[a],
            j[a],
            layer.kernel_size[a],
            layer.stride[a],
            *((layer.dilation[a],) if dilated else ()),
        )
        for a in range(2)
    ]
    return (out[0][0], out[1][0]), (out[0][1], out[1][1])


def _adaptive_field(
    layer: Any, r: FieldPair, j: FieldPair, x: Shape, y: Shape
) -> tuple[FieldPair, FieldPair]:
    rr, jj = [], []
    for a in range(2):
        n_in, n_out = x[2 + a], y[2 + a]
        k = math.ceil(n_in / n_out)  # the widest averaging window
        rr.append(r[a] + (k - 1) * j[a])
        jj.append(j[a] * Fraction(n_in, n_out))
    return (rr[0], rr[1]), (jj[0], jj[1])


def _upsample_field(
    layer: Any, r: FieldPair, j: FieldPair, x: Shape, y: Shape
) -> tuple[FieldPair, FieldPair]:
    extra = 1 if layer.mode == "bilinear" else 0  # nearest reads one input, bilinear two per axis
    rr = (r[0] + extra * j[0], r[1] + extra * j[1])
    return rr, (j[0] * Fraction(x[2], y[2]), j[1] * Fraction(x[3], y[3]))


#: multiply-adds of one call, per layer type (types not listed count 0): a convolution
#: H_out W_out C_out (C_in / groups) kH kW, a transposed one H_in W_in C_in (C_out / groups) kH kW,
#: batch norm one per element (y = x gamma / sigma + (beta - mu gamma / sigma)), a linear layer
#: in_features per output element
MULT_ADDS: dict[type, MultAddsRule] = {
    Conv2d: lambda m, x, y: (
        y[0]
        * y[2]
        * y[3]
        * y[1]
        * (m.in_channels // m.groups)
        * m.kernel_size[0]
        * m.kernel_size[1]
    ),
    ConvTranspose2d: lambda m, x, y: (
        x[0]
        * x[2]
        * x[3]
        * x[1]
        * (m.out_channels // m.groups)
        * m.kernel_size[0]
        * m.kernel_size[1]
    ),
    BatchNorm2d: lambda m, x, y: int(numpy.prod(y)),
    Linear: lambda m, x, y: int(numpy.prod(y)) * m.in_features,
}

#: how a layer changes the receptive field r and the jump j (types not listed keep both)
RECEPTIVE_FIELDS: dict[type, FieldRule] = {
    Conv2d: lambda m, r, j, x, y: _per_axis(conv_rf, m, r, j),
    ConvTranspose2d: lambda m, r, j, x, y: _per_axis(transposed_rf, m, r, j),
    MaxPool2d: lambda m, r, j, x, y: _per_axis(conv_rf, m, r, j, dilated=False),
    AvgPool2d: lambda m, r, j, x, y: _per_axis(conv_rf, m, r, j, dilated=False),
    MaxUnpool2d: lambda m, r, j, x, y: _per_axis(transposed_rf, m, r, j, dilated=False),
    AdaptiveAvgPool2d: _adaptive_field,
    Upsample: _upsample_field,
}


def register_layer(
    layer_type: type,
    mult_adds: MultAddsRule | None = None,
    receptive_field: FieldRule | None = None,
) -> None:
    """Teach :func:`summary` a layer of your own: its multiply-adds and / or its field rule."""
    if mult_adds is not None:
        MULT_ADDS[layer_type] = mult_adds
    if receptive_field is not None:
        RECEPTIVE_FIELDS[layer_type] = receptive_field


def _rule(table: dict[type, Any], layer: Module) -> Any:
    """The rule of the layer's type or of its nearest registered parent class (None if none)."""
    return next((table[t] for t in type(layer).__mro__ if t in table), None)


@dataclass
class LayerInfo:
    """One row of the table: a leaf layer's call."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    mult_adds: int
    receptive_field: tuple[Fraction, Fraction]
    jump: tuple[Fraction, Fraction]


def _num(v: Fraction) -> str:
    return str(int(v)) if v.denominator == 1 else f"{float(v):.3g}"


def _pair_str(t: tuple[Fraction, Fraction]) -> str:
    return _num(t[0]) if t[0] == t[1] else f"{_num(t[0])}x{_num(t[1])}"


class Summary:
    """The result of :func:`summary`: ``rows`` (``LayerInfo``), totals, and ``str()`` the table."""

    def __init__(
        self,
        model_name: str,
        input_shape: tuple[int, ...],
        output_shape: tuple,
        rows: list[LayerInfo],
        total_params: int,
        trainable_params: int,
        receptive_field: tuple[Fraction, Fraction],
        jump: tuple[Fraction, Fraction],
    ):
        self.model_name, self.input_shape, self.output_shape = model_name, input_shape, output_shape
        self.rows = rows
        self.total_params, self.trainable_params = total_params, trainable_params
        self.total_mult_adds = sum(r.mult_adds for r in rows)
        self.receptive_field, self.jump = receptive_field, jump

    def __str__(self) -> str:
        head = ("Layer", "Type", "Output shape", "Params", "Mult-adds", "RF", "Jump")
        body = [
            (
                r.name or "(model)",
                r.type,
                str(tuple(r.output_shape)),
                f"{r.params:,}",
                f"{r.mult_adds:,}",
                _pair_str(r.receptive_field),
                _pair_str(r.jump),
            )
            for r in self.rows
        ]
        widths = [
            max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)
        ]
        right = {3, 4, 5, 6}

        def fmt(cells: Sequence[str]) -> str:
            return "  ".join(
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths))
            ).rstrip()

        rule = "-" * len(fmt(head))
        lines = [
            f"{self.model_name} summary, input {tuple(self.input_shape)}",
            rule,
            fmt(head),
            rule,
        ]
        lines += [fmt(b) for b in body]
        lines += [
            rule,
            f"Output shape:        {tuple(self.output_shape)}",
            f"Total params:        {self.total_params:,}",
            f"Trainable params:    {self.trainable_params:,}",
            f"Total mult-adds:     {self.total_mult_adds:,}",
            f"Receptive field:     {_pair_str(self.receptive_field)} pixels "
            f"(jump {_pair_str(self.jump)})",
            "(mult-adds: conv H_out W_out C_out C_in/groups kH kW, no bias adds; RF rule: "
            "r += (k_eff - 1) * jump, jump *= stride)",
        ]
        return "\n".join(lines)

    __repr__ = __str__


def _first_tensor(obj: Any) -> Tensor | None:
    if isinstance(obj, Tensor):
        return obj
    if isinstance(obj, (tuple, list)):
        for o in obj:
            if isinstance(o, Tensor):
                return o
    return None


def summary(
    model: Module, input_shape: Sequence[int], device: str | None = None, dtype: Any = numpy.float32
) -> Summary:
    """Run ``model`` once on zeros of ``input_shape`` ((C, H, W) -> batch of 1, or (N, C, H, W))
    and tabulate every leaf layer. The model's train/eval mode and weights are left as they were.
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected an nn.Module, got {type(model).__name__}")
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 3:
        shape = (1,) + shape
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(
            f"summary: input_shape must be (C, H, W) or (N, C, H, W) with positive "
            f"sizes, got {tuple(input_shape)}"
        )
    device = device or model.device
    names = {id(m): n for n, m in model.named_modules()}
    one = (Fraction(1), Fraction(1))
    # receptive field and jump of every tensor seen, keyed by id (the tensors are kept alive)
    fields: dict[int, tuple[tuple, tuple]] = {}
    alive: list[Tensor] = []
    rows: list[LayerInfo] = []

    def field_of(t: Tensor) -> tuple[tuple, tuple]:
        """Look the tensor up, or walk back through the autograd graph to the layer outputs
        (or the input) it was computed from -- a concatenation, a sum, a crop -- and keep the
        largest field."""
        if id(t) in fields:
            return fields[id(t)]
        found, stack, seen = [], [t], {id(t)}
        while stack:
            u = stack.pop()
            if id(u) in fields:
                found.append(fields[id(u)])
                continue
            fn = u.creator
            if fn is not None and fn.inputs is not None:
                for v in fn.inputs:
                    if id(v) not in seen:
                        seen.add(id(v))
                        stack.append(v)
        if not found:
            return one, one
        r = tuple(max(f[0][a] for f in found) for a in range(2))
        j = tuple(max(f[1][a] for f in found) for a in range(2))
        return r, j

    def hook(module: Module, inputs: tuple, output: Any) -> None:
        x, y = _first_tensor(inputs), _first_tensor(output)
        if x is None or y is None:
            return
        r, j = field_of(x)
        field_rule, cost_rule = _rule(RECEPTIVE_FIELDS, module), _rule(MULT_ADDS, module)
        if field_rule is not None and x.ndim == 4 and y.ndim == 4:
            r, j = field_rule(module, r, j, x.shape, y.shape)
        mult_adds = cost_rule(module, x.shape, y.shape) if cost_rule is not None else 0
        params = sum(p.numel() for p in module.parameters())  # a leaf's own
        fields[id(y)] = (r, j)
        alive.append(y)
        rows.append(
            LayerInfo(
                names.get(id(module), "?"),
                type(module).__name__,
                y.shape,
                params,
                int(mult_adds),
                r,
                j,
            )
        )

    modes = {id(m): m.training for m in model.modules()}
    grads = [(p, p.requires_grad) for p in model.parameters()]
    xp = backend.xp_for(device)
    x = Tensor(xp.zeros(shape, dtype=dtype), requires_grad=True)
    fields[id(x)] = (one, one)
    model.eval()
    for p, _ in grads:
        p.requires_grad = False  # record the graph of activations only (no weight-gradient buffers)
    # every leaf layer (no sub-modules; containers are the sum of their leaves) reports its call
    removers = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if next(m.children(), None) is None and not isinstance(m, Identity)
    ]
    try:
        with enable_grad():
            out = model(x)
        y = _first_tensor(out)
        if y is None:
            raise TypeError(
                f"summary: {type(model).__name__} returned {type(out).__name__}, not a Tensor"
            )
        r, j = field_of(y)
        out_shape = y.shape
    finally:
        for remove in removers:
            remove()
        for p, flag in grads:
            p.requires_grad = flag
        for m in model.modules():
            object.__setattr__(m, "training", modes[id(m)])
    total = model.num_parameters()
    trainable = sum(p.numel() for p, flag in grads if flag)
    return Summary(type(model).__name__, shape, out_shape, rows, total, trainable, r, j)


# ----------------------------------------------------------------------------------------------
# a standard conv against its depthwise separable replacement (lesson 14)


@dataclass
class SeparableSavings:
    """``summary`` of a standard conv and of its depthwise separable replacement, side by side."""

    standard: Summary
    separable: Summary
    in_channels: int
    out_channels: int
    kernel_size: int

    @property
    def param_ratio(self) -> float:
        return self.separable.total_params / self.standard.total_params

    @property
    def mult_add_ratio(self) -> float:
        return self.separable.total_mult_adds / self.standard.total_mult_adds

    @property
    def formula_ratio(self) -> float:
        """1 / C_out + 1 / k^2: the ratio of both counts (no bias) predicted by the algebra."""
        return 1 / self.out_channels + 1 / self.kernel_size**2

    def __str__(self) -> str:
        s, d = self.standard, self.separable
        k, ci, co = self.kernel_size, self.in_channels, self.out_channels
        rows = [
            ("standard conv", s.total_params, s.total_mult_adds),
            ("  depthwise", d.rows[0].params, d.rows[0].mult_adds),
            ("  pointwise", d.rows[-1].params, d.rows[-1].mult_adds),
            ("depthwise separable", d.total_params, d.total_mult_adds),
        ]
        lines = [
            f"{k}x{k} conv {ci} -> {co} on input {tuple(s.input_shape)}:",
            f"{'':22}{'params':>12}{'mult-adds':>16}",
        ]
        lines += [f"{name:22}{p:>12,}{m:>16,}" for name, p, m in rows]
        lines += [
            f"ratio separable / standard: params {self.param_ratio:.4f}, mult-adds "
            f"{self.mult_add_ratio:.4f}; 1/C_out + 1/k^2 = 1/{co} + 1/{k * k} = "
            f"{self.formula_ratio:.4f} ({1 / self.mult_add_ratio:.2f}x cheaper)"
        ]
        return "\n".join(lines)

    __repr__ = __str__


def separable_savings(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    input_hw: tuple[int, int] = (56, 56),
    stride: int = 1,
    dilation: int = 1,
    bias: bool = False,
) -> SeparableSavings:
    """Run :func:`~minisegnet.summary` on a standard ``Conv2d`` and on the
    ``DepthwiseSeparableConv2d`` that replaces it (same geometry, "same" padding) for one image
    of ``input_hw``. Without bias both ratios equal 1 / C_out + 1 / k^2 exactly."""
    sep = DepthwiseSeparableConv2d(
        in_channels, out_channels, kernel_size, stride, dilation=dilation, bias=bias
    )
    std = sep.standard_equivalent()
    shape = (in_channels, *input_hw)
    return SeparableSavings(
        summary(std, shape), summary(sep, shape), in_channels, out_channels, kernel_size
    )
