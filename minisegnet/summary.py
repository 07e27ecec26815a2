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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy

from . import backend
from .autograd import Tensor, enable_grad
from .nn import Identity, Module
from .nn import module as _module

__all__ = ["summary", "Summary", "LayerInfo"]


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

    def __init__(self, model_name: str, input_shape: tuple[int, ...], output_shape: tuple,
                 rows: list[LayerInfo], total_params: int, trainable_params: int,
                 receptive_field: tuple[Fraction, Fraction], jump: tuple[Fraction, Fraction]):
        self.model_name, self.input_shape, self.output_shape = model_name, input_shape, output_shape
        self.rows = rows
        self.total_params, self.trainable_params = total_params, trainable_params
        self.total_mult_adds = sum(r.mult_adds for r in rows)
        self.receptive_field, self.jump = receptive_field, jump

    def __str__(self) -> str:
        head = ("Layer", "Type", "Output shape", "Params", "Mult-adds", "RF", "Jump")
        body = [(r.name or "(model)", r.type, str(tuple(r.output_shape)), f"{r.params:,}",
                 f"{r.mult_adds:,}", _pair_str(r.receptive_field), _pair_str(r.jump))
                for r in self.rows]
        widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
                  for i, h in enumerate(head)]
        right = {3, 4, 5, 6}

        def fmt(cells: Sequence[str]) -> str:
            return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        rule = "-" * len(fmt(head))
        lines = [f"{self.model_name} summary, input {tuple(self.input_shape)}", rule, fmt(head),
                 rule]
        lines += [fmt(b) for b in body]
        lines += [rule,
                  f"Output shape:        {tuple(self.output_shape)}",
                  f"Total params:        {self.total_params:,}",
                  f"Trainable params:    {self.trainable_params:,}",
                  f"Total mult-adds:     {self.total_mult_adds:,}",
                  f"Receptive field:     {_pair_str(self.receptive_field)} pixels "
                  f"(jump {_pair_str(self.jump)})",
                  "(mult-adds: conv H_out W_out C_out C_in/groups kH kW, no bias adds; RF rule: "
                  "r += (k_eff - 1) * jump, jump *= stride)"]
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


def summary(model: Module, input_shape: Sequence[int], device: str | None = None,
            dtype: Any = numpy.float32) -> Summary:
    """Run ``model`` once on zeros of ``input_shape`` ((C, H, W) -> batch of 1, or (N, C, H, W))
    and tabulate every leaf layer. The model's train/eval mode and weights are left as they were.
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected an nn.Module, got {type(model).__name__}")
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 3:
        shape = (1,) + shape
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(f"summary: input_shape must be (C, H, W) or (N, C, H, W) with positive "
                         f"sizes, got {tuple(input_shape)}")
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
        if module._modules and any(m is not None for m in module._modules.values()):
            return  # containers: their leaves are recorded
        if isinstance(module, Identity):
            return
        x, y = _first_tensor(inputs), _first_tensor(output)
        if x is None or y is None:
            return
        r, j = field_of(x)
        if hasattr(module, "_receptive_field") and x.ndim == 4 and y.ndim == 4:
            r, j = module._receptive_field(r, j, x.shape, y.shape)
        mult_adds = module._mult_adds(x.shape, y.shape) if hasattr(module, "_mult_adds") else 0
        params = sum(p.size for p in module._parameters.values() if p is not None)
        fields[id(y)] = (r, j)
        alive.append(y)
        rows.append(LayerInfo(names.get(id(module), "?"), type(module).__name__, y.shape, params,
                              int(mult_adds), r, j))

    modes = {id(m): m.training for m in model.modules()}
    grads = [(p, p.requires_grad) for p in model.parameters()]
    xp = backend.xp_for(device)
    x = Tensor(xp.zeros(shape, dtype=dtype), requires_grad=True)
    fields[id(x)] = (one, one)
    model.eval()
    for p, _ in grads:
        p.requires_grad = False  # record the graph of activations only (no weight-gradient buffers)
    _module._global_forward_hooks.append(hook)
    try:
        with enable_grad():
            out = model(x)
        y = _first_tensor(out)
        if y is None:
            raise TypeError(f"summary: {type(model).__name__} returned {type(out).__name__}, "
                            "not a Tensor")
        r, j = field_of(y)
        out_shape = y.shape
    finally:
        _module._global_forward_hooks.remove(hook)
        for p, flag in grads:
            p.requires_grad = flag
        for m in model.modules():
            object.__setattr__(m, "training", modes[id(m)])
    total = model.num_parameters()
    trainable = sum(p.size for p, flag in grads if flag)
    return Summary(type(model).__name__, shape, out_shape, rows, total, trainable, r, j)
