"""Elementwise, reduction and shape ops: each a forward/backward pair on arrays.

Every class here is one op. ``forward`` computes the value with the array module ``self.xp`` of
its inputs; ``backward`` maps d(loss)/d(output) to d(loss)/d(input) for each input (broadcast
inputs are reduced back to their shape by the autograd engine). The functions below the classes
are the public API (``minisegnet.functional.exp(x)`` and so on); :class:`~minisegnet.Tensor`'s
operators and methods, declared in its class body, delegate to them.
"""

from __future__ import annotations

import builtins  # this module defines max/min/sum/abs/pow: use builtins.* for Python's own
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy

from .. import backend
from ..autograd import DEFAULT_FLOAT, Function, Tensor, as_tensor
from ..backend import Array
from ..validation import is_float, scalar_like

__all__ = [
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "pow",
    "matmul",
    "exp",
    "log",
    "sqrt",
    "abs",
    "clip",
    "clamp",
    "maximum",
    "minimum",
    "where",
    "sum",
    "mean",
    "max",
    "min",
    "argmax",
    "argmin",
    "reshape",
    "flatten",
    "permute",
    "transpose",
    "getitem",
    "concatenate",
    "cat",
    "stack",
    "pad",
    "to",
    "step",
    "sign",
    "linear",
    "piecewise_linear",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "softplus",
    "softmax",
    "log_softmax",
]

Axis = int | Sequence[int] | None


def _float(x: Any) -> Any:
    """Promote integer/bool arrays to float32 (the documented rule for floating ops)."""
    return x if is_float(x.dtype) else x.astype(DEFAULT_FLOAT)


def _match(a: Any, b: Any) -> tuple[Any, Any]:
    """An integer/bool operand meeting a float one takes the float's dtype (NumPy: float64)."""
    if is_float(a.dtype) and not is_float(b.dtype):
        return a, b.astype(a.dtype)
    if is_float(b.dtype) and not is_float(a.dtype):
        return a.astype(b.dtype), b
    return a, b


# ----------------------------------------------------------------------------------------------
# arithmetic


class AddFunction(Function):
    """y = a + b;  dy/da = 1, dy/db = 1."""

    def forward(self, a: Array, b: Array) -> Array:
        a, b = _match(a, b)
        return a + b

    def backward(self, gy: Array) -> tuple[Array, Array]:
        return gy, gy


class SubFunction(Function):
    """y = a - b;  dy/da = 1, dy/db = -1."""

    def forward(self, a: Array, b: Array) -> Array:
        a, b = _match(a, b)
        return a - b

    def backward(self, gy: Array) -> tuple[Array, Array]:
        return gy, -gy


class MulFunction(Function):
    """y = a * b;  dy/da = b, dy/db = a."""

    def forward(self, a: Array, b: Array) -> Array:
        a, b = _match(a, b)
        self.save_for_backward(a, b)
        return a * b

    def backward(self, gy: Array) -> tuple[Array, Array]:
        a, b = self.saved_tensors
        return gy * b, gy * a


class DivFunction(Function):
    """y = a / b;  dy/da = 1/b, dy/db = -a/b^2."""

    def forward(self, a: Array, b: Array) -> Array:
        a, b = _match(_float(a), _float(b))
        y = a / b
        self.save_for_backward(b, y)
        return y

    def backward(self, gy: Array) -> tuple[Array, Array]:
        b, y = self.saved_tensors
        ga = gy / b
        return ga, -ga * y


class NegFunction(Function):
    """y = -x."""

    def forward(self, x: Array) -> Array:
        return -x

    def backward(self, gy: Array) -> Array:
        return -gy


class PowFunction(Function):
    """y = a ** b;  dy/da = b a^(b-1), dy/db = a^b ln a (only where a > 0)."""

    def forward(self, a: Array, b: Array) -> Array:
        a, b = _match(a, b)
        y = a**b
        self.save_for_backward(a, b, y)
        return y

    def backward(self, gy: Array) -> tuple[Array, Array | None]:
        xp = self.xp
        a, b, y = self.saved_tensors
        # b a^(b-1): where b == 0 the derivative is 0 (x**0 is constant), not 0 * inf = nan at a = 0
        ga = gy * xp.where(b == 0, 0, b * a ** xp.where(b == 0, 1, b - 1))
        gb = None
        if self.needs_input_grad[1]:
            safe = xp.where(a > 0, a, 1)
            gb = gy * y * xp.log(safe)
        return ga, gb


class MatMulFunction(Function):
    """Y = A @ B;  dA = dY @ B^T, dB = A^T @ dY (batched over leading axes)."""

    def forward(self, a: Array, b: Array) -> Array:
        a, b = _match(a, b)
        self.save_for_backward(a, b)
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(
                f"matmul: operands must have at least 1 dimension, got shapes {a.shape} "
                f"and {b.shape}; use * to multiply by a scalar"
            )
        try:
            return a @ b
        except ValueError:
            raise ValueError(
                f"matmul: shapes {a.shape} @ {b.shape} do not match: the last axis of "
                "the first must equal the second-to-last (or only) axis of the second, "
                "and leading axes must broadcast"
            ) from None

    def backward(self, gy: Array) -> tuple[Array, Array]:
        (a, b), xp = self.saved_tensors, self.xp
        if a.ndim == 1 and b.ndim == 1:
            return gy * b, gy * a
        if a.ndim == 1:  # (k,) @ (..., k, n) -> (..., n)
            return (xp.expand_dims(gy, -2) @ xp.swapaxes(b, -1, -2))[..., 0, :], xp.expand_dims(
                a, -1
            ) * xp.expand_dims(gy, -2)
        if b.ndim == 1:  # (..., m, k) @ (k,) -> (..., m)
            return xp.expand_dims(gy, -1) * b, (xp.swapaxes(a, -1, -2) @ xp.expand_dims(gy, -1))[
                ..., 0
            ]
        return gy @ xp.swapaxes(b, -1, -2), xp.swapaxes(a, -1, -2) @ gy


# ----------------------------------------------------------------------------------------------
# elementwise functions


class ExpFunction(Function):
    """y = e^x;  dy/dx = y."""

    def forward(self, x: Array) -> Array:
        y = self.xp.exp(_float(x))
        self.save_for_backward(y)
        return y

    def backward(self, gy: Array) -> Array:
        (y,) = self.saved_tensors
        return gy * y


class LogFunction(Function):
    """y = ln x;  dy/dx = 1/x."""

    def forward(self, x: Array) -> Array:
        x = _float(x)
        self.save_for_backward(x)
        return self.xp.log(x)

    def backward(self, gy: Array) -> Array:
        (x,) = self.saved_tensors
        return gy / x


class SqrtFunction(Function):
    """y = sqrt(x);  dy/dx = 1 / (2 y)."""

    def forward(self, x: Array) -> Array:
        y = self.xp.sqrt(_float(x))
        self.save_for_backward(y)
        return y

    def backward(self, gy: Array) -> Array:
        (y,) = self.saved_tensors
        return gy / (2 * y)


class AbsFunction(Function):
    """y = |x|;  dy/dx = sign(x) (0 at x = 0)."""

    def forward(self, x: Array) -> Array:
        self.save_for_backward(x)
        return self.xp.abs(x)

    def backward(self, gy: Array) -> Array:
        (x,) = self.saved_tensors
        return gy * self.xp.sign(x)


class ClipFunction(Function):
    """y = min(max(x, lo), hi);  dy/dx = 1 inside [lo, hi], 0 outside."""

    def __init__(self, lo: float | None, hi: float | None):
        self.lo, self.hi = lo, hi

    def forward(self, x: Array) -> Array:
        if not is_float(x.dtype) and (isinstance(self.lo, float) or isinstance(self.hi, float)):
            x = _float(x)  # an integer tensor clipped at a float bound: float32, as int * 0.5
        self.save_for_backward(x)
        lo, hi = (
            None if v is None else scalar_like(x, v) if is_float(x.dtype) else v
            for v in (self.lo, self.hi)
        )
        return self.xp.clip(x, lo, hi)

    def backward(self, gy: Array) -> Array:
        (x,) = self.saved_tensors
        inside = self.xp.ones(x.shape, dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return gy * inside


def _share(a_wins: Array, tie: Array, gy: Array) -> tuple[Array, Array]:
    """a's share of the gradient, 1 where a wins, 1/2 on a tie (PyTorch's), b's the rest."""
    w = a_wins.astype(gy.dtype)
    w += 0.5 * tie
    return gy * w, gy * (1 - w)


class MaximumFunction(Function):
    """y = max(a, b) elementwise; the gradient goes to the larger input, half to each on ties
    (PyTorch's rule)."""

    def forward(self, a: Array, b: Array) -> Array:
        a, b = _match(a, b)
        self.save_for_backward(a > b, a == b)
        return self.xp.maximum(a, b)

    def backward(self, gy: Array) -> tuple[Array, Array]:
        a_wins, tie = self.saved_tensors
        return _share(a_wins, tie, gy)


class MinimumFunction(Function):
    """y = min(a, b) elementwise; the gradient goes to the smaller input, half to each on ties
    (PyTorch's rule)."""

    def forward(self, a: Array, b: Array) -> Array:
        a, b = _match(a, b)
        self.save_for_backward(a < b, a == b)
        return self.xp.minimum(a, b)

    def backward(self, gy: Array) -> tuple[Array, Array]:
        a_wins, tie = self.saved_tensors
        return _share(a_wins, tie, gy)


class WhereFunction(Function):
    """y = a where cond else b; the condition is not differentiated."""

    def forward(self, cond: Array, a: Array, b: Array) -> Array:
        cond = cond.astype(bool)
        self.save_for_backward(cond)
        return self.xp.where(cond, *_match(a, b))

    def backward(self, gy: Array) -> tuple[None, Array, Array]:
        (cond,) = self.saved_tensors
        return None, gy * cond, gy * ~cond


# ----------------------------------------------------------------------------------------------
# reductions


def _norm_axis(axis: Axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a {ndim}-D tensor")
        out.append(a % builtins.max(ndim, 1))
    return tuple(out)


def _expand_back(
    g: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool, xp: Any
) -> Any:
    """Reshape a reduced gradient so it broadcasts against the input of the reduction."""
    if not keepdims:
        g = g.reshape([1 if i in axes else n for i, n in enumerate(shape)])
    return xp.broadcast_to(g, shape)


class SumFunction(Function):
    """y = sum of x over ``axis``;  dy/dx = 1 (the gradient is broadcast back)."""

    def __init__(self, axis: Axis = None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x: Array) -> Array:
        self.shape, self.axes = x.shape, _norm_axis(self.axis, x.ndim)
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy: Array) -> Array:
        return _expand_back(gy, self.shape, self.axes, self.keepdims, self.xp)


class MeanFunction(Function):
    """y = sum(x) / n over ``axis``;  dy/dx = 1/n."""

    def __init__(self, axis: Axis = None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x: Array) -> Array:
        x = _float(x)
        self.shape, self.axes = x.shape, _norm_axis(self.axis, x.ndim)
        self.n = int(numpy.prod([x.shape[a] for a in self.axes])) if x.ndim else 1
        return x.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy: Array) -> Array:
        return _expand_back(gy / self.n, self.shape, self.axes, self.keepdims, self.xp)


class MaxMinFunction(Function):
    """y = max (or min) of x over ``axis``; the gradient goes to the arg-max, split on ties."""

    def __init__(self, axis: Axis = None, keepdims: bool = False, op: str = "max"):
        self.axis, self.keepdims, self.op = axis, keepdims, op

    def forward(self, x: Array) -> Array:
        self.axes = _norm_axis(self.axis, x.ndim)
        y = getattr(x, self.op)(axis=self.axes, keepdims=True)
        self.save_for_backward(x, y)
        return (
            y
            if self.keepdims
            else y.reshape([n for i, n in enumerate(x.shape) if i not in self.axes])
        )

    def backward(self, gy: Array) -> Array:
        x, y = self.saved_tensors
        hit = x == y
        count = hit.sum(axis=self.axes, keepdims=True)
        g = _expand_back(gy, x.shape, self.axes, self.keepdims, self.xp)
        return g * hit / count


class MaxMinAlongFunction(Function):
    """The values of ``max(x, dim)`` / ``min(x, dim)``: y = x at the arg-max along ``dim``; the
    gradient goes to that one element (the index returned with the values), as PyTorch's."""

    def __init__(self, dim: int, keepdims: bool = False, op: str = "max"):
        self.dim, self.keepdims, self.op = dim, keepdims, op

    def forward(self, x: Array) -> Array:
        xp = self.xp
        self.dim = _norm_axis(self.dim, x.ndim)[0]
        idx = xp.expand_dims(getattr(x, "arg" + self.op)(axis=self.dim), self.dim)
        self.save_for_backward(idx)
        self.in_shape = x.shape
        y = xp.take_along_axis(x, idx, axis=self.dim)
        return y if self.keepdims else y.squeeze(self.dim)

    def backward(self, gy: Array) -> Array:
        xp = self.xp
        (idx,) = self.saved_tensors
        n = self.in_shape[self.dim]
        where = [1] * len(self.in_shape)
        where[self.dim] = n
        hit = xp.arange(n).reshape(where) == idx  # one-hot along dim
        g = gy if self.keepdims else xp.expand_dims(gy, self.dim)
        return hit * g


class ArgMaxFunction(Function):
    """Index of the maximum along ``axis`` (not differentiable): the label map of a softmax."""

    differentiable = False
    op = "argmax"

    def __init__(self, axis: int | None = None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x: Array) -> Array:
        y = getattr(x, self.op)(axis=self.axis)
        if self.keepdims:
            y = (
                self.xp.expand_dims(y, self.axis)
                if self.axis is not None
                else y.reshape((1,) * x.ndim)
            )
        return y


class ArgMinFunction(ArgMaxFunction):
    """Index of the minimum along ``axis`` (not differentiable)."""

    op = "argmin"


# ----------------------------------------------------------------------------------------------
# shape ops


class ReshapeFunction(Function):
    """y = x viewed with another shape;  the gradient is reshaped back."""

    def __init__(self, shape: Sequence[int]):
        self.shape = tuple(shape)

    def forward(self, x: Array) -> Array:
        self.in_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {x.shape} "
                f"({x.size} elements) into {self.shape}"
            ) from None

    def backward(self, gy: Array) -> Array:
        return gy.reshape(self.in_shape)


class PermuteFunction(Function):
    """y = x with its axes reordered;  the gradient is permuted with the inverse order."""

    def __init__(self, axes: Sequence[int] | None):
        self.axes = None if axes is None else tuple(axes)

    def forward(self, x: Array) -> Array:
        axes = self.axes if self.axes is not None else tuple(reversed(range(x.ndim)))
        if sorted(a % builtins.max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
            raise ValueError(
                f"permute: {axes} is not a permutation of the {x.ndim} axes of {x.shape}"
            )
        self.axes = axes
        return x.transpose(axes)

    def backward(self, gy: Array) -> Array:
        assert self.axes is not None  # forward resolved None to the reversed order
        return gy.transpose(tuple(int(i) for i in numpy.argsort([a % gy.ndim for a in self.axes])))


class GetItemFunction(Function):
    """y = x[index] (slices, integers, masks, integer arrays); a crop is a slice.

    Backward scatters the gradient into zeros shaped like x; with integer arrays an element picked
    twice receives the sum of both gradients.
    """

    def __init__(self, index: Any):
        self.index = index

    def forward(self, x: Array) -> Array:
        self.in_shape = x.shape
        self.index = _index_to(self.index, backend.device_of(x))
        return x[self.index]

    def backward(self, gy: Array) -> Array:
        g = self.xp.zeros(self.in_shape, dtype=gy.dtype)
        if _has_int_array(self.index):
            backend.scatter_add(g, self.index, gy)  # repeated indices must accumulate
        else:
            g[self.index] = gy
        return g


def _index_parts(index: Any) -> tuple:
    return index if isinstance(index, tuple) else (index,)


def _index_to(index: Any, device: str) -> Any:
    """Unwrap Tensors in an index and move its arrays to the device of the indexed tensor."""
    parts = tuple(p.data if isinstance(p, Tensor) else p for p in _index_parts(index))
    parts = tuple(backend.to_device(p, device) if getattr(p, "ndim", 0) > 0 else p for p in parts)
    return parts if isinstance(index, tuple) else parts[0]


def _has_int_array(index: Any) -> bool:
    return any(
        isinstance(p, list) or (getattr(p, "ndim", 0) > 0 and p.dtype.kind in "iu")
        for p in _index_parts(index)
    )


def _float_like(xs: Sequence[Array]) -> Sequence[Array]:
    """Integer/bool arrays joined with float ones take the floats' dtype (the rule of ``_match``;
    NumPy would give float64 for int64 + float32)."""
    floats = [x.dtype for x in xs if is_float(x.dtype)]
    if not floats or len(floats) == len(xs):
        return xs
    dtype = numpy.result_type(*floats)
    return [x if is_float(x.dtype) else x.astype(dtype) for x in xs]


class ConcatenateFunction(Function):
    """y = [x1, x2, ...] joined along ``axis`` (U-Net's skip concatenation); grad = the slices."""

    def __init__(self, axis: int = 0):
        self.axis = axis

    def forward(self, *xs: Array) -> Array:
        self.sizes = [x.shape[self.axis] for x in xs]
        try:
            return self.xp.concatenate(_float_like(xs), axis=self.axis)
        except ValueError:
            raise ValueError(
                f"concatenate: shapes {[x.shape for x in xs]} differ outside axis "
                f"{self.axis}; crop them to match first (functional.center_crop)"
            ) from None

    def backward(self, gy: Array) -> tuple[Array, ...]:
        cuts = numpy.cumsum(self.sizes)[:-1].tolist()
        return tuple(self.xp.split(gy, cuts, axis=self.axis))


class StackFunction(Function):
    """y = the inputs stacked along a new ``axis``; gradient = the slices."""

    def __init__(self, axis: int = 0):
        self.axis = axis

    def forward(self, *xs: Array) -> Array:
        return self.xp.stack(_float_like(xs), axis=self.axis)

    def backward(self, gy: Array) -> tuple[Array, ...]:
        n = gy.shape[self.axis]
        return tuple(self.xp.take(gy, i, axis=self.axis) for i in range(n))


class PadFunction(Function):
    """Constant padding; ``pad_width`` as in ``numpy.pad`` (an int, a (before, after) pair, or one
    pair per axis). The gradient is the centre slice."""

    def __init__(self, pad_width: Any, value: float = 0.0):
        self.pad_width, self.value = pad_width, value

    def forward(self, x: Array) -> Array:
        pw = _pad_pairs(self.pad_width, x.shape)
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(pw, x.shape))
        return self.xp.pad(x, pw, mode="constant", constant_values=self.value)

    def backward(self, gy: Array) -> Array:
        return gy[self.slices]


def _pad_pairs(pad_width: Any, shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """numpy.pad's pad_width spellings -> one (before, after) pair of ints >= 0 per axis."""
    pw = pad_width
    if isinstance(pw, int):
        pw = [(pw, pw)]
    elif len(pw) == 2 and all(isinstance(v, int) for v in pw):
        pw = [tuple(pw)]
    pw = [tuple(int(v) for v in p) for p in pw]
    if len(pw) == 1:
        pw = pw * len(shape)
    if len(pw) != len(shape) or any(len(p) != 2 or builtins.min(p) < 0 for p in pw):
        raise ValueError(
            f"pad: pad_width {pad_width!r} does not fit a tensor of shape {shape}: give "
            "an int, a (before, after) pair, or one pair per axis, all >= 0"
        )
    return pw


class ToDeviceFunction(Function):
    """Copy to another device and/or dtype; the gradient goes back the same way."""

    def __init__(self, device: str | None, dtype: Any):
        self.device, self.dtype = device, dtype
        self.differentiable = dtype is None or is_float(dtype)  # x.long() simply leaves the graph

    def __call__(self, x: Tensor) -> Tensor:
        # checks happen against the *target* device, not the input's, so bypass the same-device rule
        self.src_device, self.src_dtype = x.device, x.dtype
        return super().__call__(x)

    def forward(self, x: Array) -> Array:
        y = backend.to_device(x, self.device or self.src_device)
        if self.dtype is not None and y.dtype != numpy.dtype(self.dtype):
            y = y.astype(self.dtype)
        return y

    def backward(self, gy: Array) -> Array:
        return backend.to_device(gy, self.src_device).astype(self.src_dtype, copy=False)


# ----------------------------------------------------------------------------------------------
# activations (deck 001's table) and softmax


class StepFunction(Function):
    """Unit step: 1 for x > 0, 0.5 at 0, 0 below (deck 001). Gradient 0 (where defined)."""

    def forward(self, x: Array) -> Array:
        xp = self.xp
        x = _float(x)
        return xp.where(x > 0, 1.0, xp.where(x == 0, 0.5, 0.0)).astype(x.dtype)

    def backward(self, gy: Array) -> Array:
        return gy * 0


class SignFunction(Function):
    """sign(x): -1, 0, 1. Gradient 0 (where defined)."""

    def forward(self, x: Array) -> Array:
        return self.xp.sign(_float(x))

    def backward(self, gy: Array) -> Array:
        return gy * 0


class PiecewiseLinearFunction(Function):
    """0 below -1/2, x + 1/2 between, 1 above 1/2 (deck 001); gradient 1 inside, 0 outside."""

    def forward(self, x: Array) -> Array:
        x = _float(x)
        self.save_for_backward(x)
        half, zero, one = (scalar_like(x, v) for v in (0.5, 0, 1))
        return self.xp.clip(x + half, zero, one)

    def backward(self, gy: Array) -> Array:
        (x,) = self.saved_tensors
        return gy * ((x > -0.5) & (x < 0.5))


class SigmoidFunction(Function):
    """sigma(x) = 1 / (1 + e^-x), computed stably for large |x|;  dy/dx = y (1 - y)."""

    def forward(self, x: Array) -> Array:
        xp, x = self.xp, _float(x)
        one = scalar_like(x, 1)
        e = xp.exp(-xp.abs(x))  # in (0, 1]: never overflows
        y = xp.where(x >= 0, one / (one + e), e / (one + e))
        self.save_for_backward(y)
        return y

    def backward(self, gy: Array) -> Array:
        (y,) = self.saved_tensors
        return gy * y * (1 - y)


class TanhFunction(Function):
    """tanh(x);  dy/dx = 1 - y^2."""

    def forward(self, x: Array) -> Array:
        y = self.xp.tanh(_float(x))
        self.save_for_backward(y)
        return y

    def backward(self, gy: Array) -> Array:
        (y,) = self.saved_tensors
        return gy * (1 - y * y)


class ReLUFunction(Function):
    """max(0, x);  dy/dx = 1 for x > 0, else 0."""

    def forward(self, x: Array) -> Array:
        mask = x > 0
        self.save_for_backward(mask)
        return x * mask

    def backward(self, gy: Array) -> Array:
        (mask,) = self.saved_tensors
        return gy * mask


class LeakyReLUFunction(Function):
    """x for x > 0, slope * x otherwise."""

    def __init__(self, slope: float = 0.01):
        self.slope = slope

    def forward(self, x: Array) -> Array:
        x = _float(x)
        scale = self.xp.where(x > 0, 1.0, self.slope).astype(x.dtype)
        self.save_for_backward(scale)
        return x * scale

    def backward(self, gy: Array) -> Array:
        (scale,) = self.saved_tensors
        return gy * scale


class SoftplusFunction(Function):
    """ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|) (stable);  dy/dx = sigmoid(x)."""

    def forward(self, x: Array) -> Array:
        xp, x = self.xp, _float(x)
        self.save_for_backward(x)
        return xp.maximum(x, scalar_like(x, 0)) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy: Array) -> Array:
        xp, (x,) = self.xp, self.saved_tensors
        e = xp.exp(-xp.abs(x))
        return gy * xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


class SoftmaxFunction(Function):
    """softmax(x)_i = e^(x_i - m) / sum_j e^(x_j - m), m = max_j x_j (shift for stability).

    Backward: dx = y * (g - sum(g * y)).
    """

    def __init__(self, axis: int = 1):
        self.axis = axis

    def forward(self, x: Array) -> Array:
        xp, x = self.xp, _float(x)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        y = e / e.sum(axis=self.axis, keepdims=True)
        self.save_for_backward(y)
        return y

    def backward(self, gy: Array) -> Array:
        (y,) = self.saved_tensors
        return y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))


class LogSoftmaxFunction(Function):
    """log softmax(x)_i = x_i - m - ln sum_j e^(x_j - m) (finite for logits of +-1e4).

    Backward: dx = g - softmax(x) * sum(g).
    """

    def __init__(self, axis: int = 1):
        self.axis = axis

    def forward(self, x: Array) -> Array:
        xp, x = self.xp, _float(x)
        shifted = x - x.max(axis=self.axis, keepdims=True)
        y = shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        self.save_for_backward(y)
        return y

    def backward(self, gy: Array) -> Array:
        (y,) = self.saved_tensors
        return gy - self.xp.exp(y) * gy.sum(axis=self.axis, keepdims=True)


# ----------------------------------------------------------------------------------------------
# public functions (Tensor's operators and methods delegate to these)
#
# PyTorch spellings are accepted next to NumPy's: ``dim=`` for ``axis=`` and ``keepdim=`` for
# ``keepdims=`` (give one of each pair, not both).


class ValuesIndices(NamedTuple):
    """What ``max(x, dim)`` / ``min(x, dim)`` return, as ``torch.max(x, dim)`` does."""

    values: Tensor
    indices: Tensor


def _pick(
    op: str,
    numpy_value: Any,
    numpy_name: str,
    torch_value: Any,
    torch_name: str,
    default: Any = None,
) -> Any:
    """The one of NumPy's and PyTorch's spellings of an argument that was given (not both)."""
    if numpy_value is not None and torch_value is not None:
        raise TypeError(
            f"{op}: got both {numpy_name}= and {torch_name}= (the same argument in "
            "NumPy's and PyTorch's spelling); give one"
        )
    value = torch_value if torch_value is not None else numpy_value
    return default if value is None else value


def add(a: Any, b: Any) -> Tensor:
    """a + b (broadcasting)."""
    return AddFunction()(a, b)


def sub(a: Any, b: Any) -> Tensor:
    """a - b (broadcasting)."""
    return SubFunction()(a, b)


def mul(a: Any, b: Any) -> Tensor:
    """a * b (broadcasting)."""
    return MulFunction()(a, b)


def div(a: Any, b: Any) -> Tensor:
    """a / b (broadcasting)."""
    return DivFunction()(a, b)


def neg(x: Any) -> Tensor:
    """-x."""
    return NegFunction()(x)


def pow(a: Any, b: Any) -> Tensor:
    """a ** b (broadcasting)."""
    return PowFunction()(a, b)


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's ``@`` rules."""
    return MatMulFunction()(a, b)


def exp(x: Any) -> Tensor:
    """e^x."""
    return ExpFunction()(x)


def log(x: Any) -> Tensor:
    """Natural logarithm."""
    return LogFunction()(x)


def sqrt(x: Any) -> Tensor:
    """Square root."""
    return SqrtFunction()(x)


def abs(x: Any) -> Tensor:
    """|x|."""
    return AbsFunction()(x)


def clip(x: Any, min: float | None = None, max: float | None = None) -> Tensor:
    """Clamp to [min, max]; either bound may be None."""
    return ClipFunction(min, max)(x)


clamp = clip


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum."""
    return MaximumFunction()(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum."""
    return MinimumFunction()(a, b)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """a where cond is true, else b."""
    return WhereFunction()(cond, a, b)


def sum(
    x: Any,
    axis: Axis = None,
    keepdims: bool | None = None,
    *,
    dim: Axis = None,
    keepdim: bool | None = None,
) -> Tensor:
    """Sum over ``axis`` (alias ``dim``; all axes by default)."""
    return SumFunction(
        _pick("sum", axis, "axis", dim, "dim"),
        _pick("sum", keepdims, "keepdims", keepdim, "keepdim", False),
    )(x)


def mean(
    x: Any,
    axis: Axis = None,
    keepdims: bool | None = None,
    *,
    dim: Axis = None,
    keepdim: bool | None = None,
) -> Tensor:
    """Mean over ``axis`` (alias ``dim``; all axes by default)."""
    return MeanFunction(
        _pick("mean", axis, "axis", dim, "dim"),
        _pick("mean", keepdims, "keepdims", keepdim, "keepdim", False),
    )(x)


def _max_min(
    op: str, x: Any, dim: Any, keepdim: bool | None, axis: Axis, keepdims: bool | None
) -> Any:
    if isinstance(dim, Tensor):  # torch.max(a, b): the elementwise maximum
        return (maximum if op == "max" else minimum)(x, dim)
    keep = _pick(op, keepdims, "keepdims", keepdim, "keepdim", False)
    if dim is None:  # NumPy's amax: the values over axis (all axes by default)
        return MaxMinFunction(axis, keep, op)(x)
    if axis is not None:
        raise TypeError(
            f"{op}: got both axis= and dim= (the same argument in NumPy's and "
            "PyTorch's spelling); give one"
        )
    if not isinstance(dim, (int, numpy.integer)):
        raise TypeError(
            f"{op}: dim must be one int (the values and their indices along it), got "
            f"{dim!r}; for several axes use axis=, which returns the values only"
        )
    arg = ArgMaxFunction if op == "max" else ArgMinFunction
    return ValuesIndices(MaxMinAlongFunction(int(dim), keep, op)(x), arg(int(dim), keep)(x))


def max(
    x: Any,
    dim: Any = None,
    keepdim: bool | None = None,
    *,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Any:
    """The maximum: of everything (``max(x)``), over ``axis`` (NumPy's amax: the values), or along
    ``dim`` as ``torch.max(x, dim)``: a named tuple ``(values, indices)`` (the values' gradient
    goes to the returned index; over ``axis`` it is split between tied maxima, as ``torch.amax``);
    ``max(a, b)`` with two tensors is :func:`maximum`."""
    return _max_min("max", x, dim, keepdim, axis, keepdims)


def min(
    x: Any,
    dim: Any = None,
    keepdim: bool | None = None,
    *,
    axis: Axis = None,
    keepdims: bool | None = None,
) -> Any:
    """The minimum, with :func:`max`'s conventions (``dim`` gives ``(values, indices)``)."""
    return _max_min("min", x, dim, keepdim, axis, keepdims)


def argmax(
    x: Any,
    axis: int | None = None,
    keepdims: bool | None = None,
    *,
    dim: int | None = None,
    keepdim: bool | None = None,
) -> Tensor:
    """Index of the maximum (the label map when ``axis``/``dim`` is the class axis)."""
    return ArgMaxFunction(
        _pick("argmax", axis, "axis", dim, "dim"),
        _pick("argmax", keepdims, "keepdims", keepdim, "keepdim", False),
    )(x)


def argmin(
    x: Any,
    axis: int | None = None,
    keepdims: bool | None = None,
    *,
    dim: int | None = None,
    keepdim: bool | None = None,
) -> Tensor:
    """Index of the minimum."""
    return ArgMinFunction(
        _pick("argmin", axis, "axis", dim, "dim"),
        _pick("argmin", keepdims, "keepdims", keepdim, "keepdim", False),
    )(x)


def reshape(x: Any, *shape: Any) -> Tensor:
    """View with another shape (one entry may be -1): ``reshape(x, (2, 3))`` or ``(x, 2, 3)``."""
    if len(shape) == 1 and not isinstance(shape[0], (int, numpy.integer)):
        shape = tuple(shape[0])
    return ReshapeFunction(shape)(x)


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge the axes ``start_dim`` .. ``end_dim`` (both included, as in PyTorch) into one."""
    x = as_tensor(x)
    if end_dim == -1 and 0 <= start_dim <= x.ndim:  # to the end (start_dim = ndim: a new 1-axis)
        return reshape(x, x.shape[:start_dim] + (-1,))
    start, end = (_norm_axis(a, x.ndim)[0] for a in (start_dim, end_dim))
    if start > end:
        raise ValueError(
            f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for a "
            f"tensor of shape {x.shape}"
        )
    return reshape(x, x.shape[:start] + (-1,) + x.shape[end + 1 :])


def permute(x: Any, *axes: Any) -> Tensor:
    """Reorder the axes: ``permute(x, (0, 2, 3, 1))`` or ``permute(x, 0, 2, 3, 1)``."""
    if len(axes) == 1 and not isinstance(axes[0], (int, numpy.integer)):
        axes = tuple(axes[0])
    return PermuteFunction(axes)(x)


def transpose(
    x: Any,
    axis0: int | None = None,
    axis1: int | None = None,
    *,
    dim0: int | None = None,
    dim1: int | None = None,
) -> Tensor:
    """Swap two axes (alias ``dim0``, ``dim1``), or reverse all of them when none are given
    (like ``.T``)."""
    x = as_tensor(x)
    axis0 = _pick("transpose", axis0, "axis0", dim0, "dim0")
    axis1 = _pick("transpose", axis1, "axis1", dim1, "dim1")
    if axis0 is None and axis1 is None:
        return PermuteFunction(None)(x)
    if axis0 is None or axis1 is None:
        raise TypeError(
            f"transpose: give both axes to swap (or neither, to reverse all), got "
            f"{axis0} and {axis1}"
        )
    axes = list(range(x.ndim))
    axes[axis0], axes[axis1] = axes[axis1], axes[axis0]
    return PermuteFunction(axes)(x)


def getitem(x: Any, index: Any) -> Tensor:
    """x[index]: slices (a crop is a slice), integers, boolean masks, integer arrays or Tensors."""
    return GetItemFunction(index)(x)


def concatenate(
    tensors: Sequence[Any], axis: int | None = None, *, dim: int | None = None
) -> Tensor:
    """Join tensors along an existing axis (alias ``dim``; 0 by default)."""
    return ConcatenateFunction(_pick("concatenate", axis, "axis", dim, "dim", 0))(*tensors)


cat = concatenate


def stack(tensors: Sequence[Any], axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Join tensors along a new axis (alias ``dim``; 0 by default)."""
    return StackFunction(_pick("stack", axis, "axis", dim, "dim", 0))(*tensors)


def pad(
    x: Any, pad_width: Any = None, value: Any = 0.0, mode: str = "constant", *, pad: Any = None
) -> Tensor:
    """Constant padding, in NumPy's or PyTorch's spelling of the widths.

    The rule that tells them apart: an int, a ``(before, after)`` pair of ints (every axis) or a
    sequence of pairs (one per axis) is ``numpy.pad``'s ``pad_width``; a flat tuple of 4, 6, ...
    ints, or any flat tuple passed as ``pad=``, is ``torch.nn.functional.pad``'s: last dimension
    first, ``(left, right, top, bottom, ...)``. (A positional 2-tuple stays NumPy's, every axis;
    write ``pad=(l, r)`` for PyTorch's last-axis-only meaning.) ``F.pad(x, p, "constant", v)``
    (PyTorch's argument order) works too; only ``mode="constant"`` exists. In PyTorch's spelling
    a negative width crops (``(-1, -1, 0, 0)`` removes the first and last column), as PyTorch's.
    """
    if isinstance(value, str):  # torch's positional order: pad(x, pad, mode, value)
        value, mode = (0.0 if mode == "constant" else mode), value
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is implemented, got mode={mode!r}")
    if (pad_width is None) == (pad is None):
        raise TypeError(
            "pad: give the widths once, as pad_width (NumPy's spelling) or pad "
            "(PyTorch's, last dimension first)"
        )
    x = as_tensor(x)
    flat = pad if pad is not None else pad_width
    torch_style = pad is not None or (
        isinstance(flat, (tuple, list))
        and len(flat) >= 4
        and all(isinstance(v, (int, numpy.integer)) for v in flat)
    )
    widths = _torch_pad_pairs(flat, x.shape) if torch_style else pad_width
    if torch_style and builtins.any(v < 0 for pr in widths for v in pr):
        x, widths = _crop_negative(x, widths, flat)
    return PadFunction(widths, 0.0 if value is None else value)(x)


def _crop_negative(
    x: Tensor, widths: list[tuple[int, int]], pad: Any
) -> tuple[Tensor, list[tuple[int, int]]]:
    """PyTorch's negative widths crop: remove that many rows / columns (differentiably, a slice),
    then pad by the non-negative rest."""
    cut = [(-builtins.min(lo, 0), -builtins.min(hi, 0)) for lo, hi in widths]
    if builtins.any(a + b > n for (a, b), n in zip(cut, x.shape)):
        raise ValueError(
            f"pad: the negative widths in {tuple(pad)!r} crop more than the tensor of shape "
            f"{x.shape} holds"
        )
    x = getitem(x, tuple(slice(a, n - b) for (a, b), n in zip(cut, x.shape)))
    return x, [(builtins.max(lo, 0), builtins.max(hi, 0)) for lo, hi in widths]


def _torch_pad_pairs(pad: Any, shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """PyTorch's flat ``(left, right, top, bottom, ...)`` (last dimension first) -> one pair per
    axis."""
    pad = tuple(pad)
    if (
        len(pad) % 2
        or len(pad) // 2 > len(shape)
        or not all(isinstance(v, (int, numpy.integer)) for v in pad)
    ):
        raise ValueError(
            f"pad: PyTorch-style pad {pad!r} does not fit a tensor of shape {shape}: "
            "give 2 ints per padded dimension, last dimension first, at most "
            f"{2 * len(shape)} ints"
        )
    pairs = [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]
    return [(0, 0)] * (len(shape) - len(pairs)) + pairs[::-1]


def to(x: Any, device: str | None = None, dtype: Any = None) -> Tensor:
    """Copy a tensor to ``device`` and/or ``dtype`` (differentiable); ``"cuda"`` means ``"gpu"``,
    and a dtype in the device's place is the dtype (``x.to(minisegnet.float64)``, as PyTorch)."""
    x = as_tensor(x)
    if device is not None and not isinstance(device, str) and dtype is None:
        device, dtype = None, device  # x.to(dtype)
    device = None if device is None else backend.normalize_device(device)
    if (device is None or device == x.device) and (dtype is None or numpy.dtype(dtype) == x.dtype):
        return x
    return ToDeviceFunction(device, dtype)(x)


def step(x: Any) -> Tensor:
    """Unit step (0.5 at 0)."""
    return StepFunction()(x)


def sign(x: Any) -> Tensor:
    """Sign: -1, 0 or 1."""
    return SignFunction()(x)


def linear(x: Any) -> Tensor:
    """The identity activation (deck 001's 'linear')."""
    return as_tensor(x)


def piecewise_linear(x: Any) -> Tensor:
    """0 below -1/2, x + 1/2 between, 1 above 1/2."""
    return PiecewiseLinearFunction()(x)


def sigmoid(x: Any) -> Tensor:
    """Logistic sigmoid 1 / (1 + e^-x)."""
    return SigmoidFunction()(x)


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent."""
    return TanhFunction()(x)


def relu(x: Any) -> Tensor:
    """max(0, x)."""
    return ReLUFunction()(x)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, ``negative_slope`` * x otherwise."""
    return LeakyReLUFunction(negative_slope)(x)


def softplus(x: Any) -> Tensor:
    """ln(1 + e^x)."""
    return SoftplusFunction()(x)


def softmax(x: Any, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Softmax over ``axis`` (alias ``dim``; default 1, the class axis of (N, K, H, W))."""
    return SoftmaxFunction(_pick("softmax", axis, "axis", dim, "dim", 1))(x)


def log_softmax(x: Any, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """log(softmax(x)) computed without overflow (``axis``/``dim`` as :func:`softmax`)."""
    return LogSoftmaxFunction(_pick("log_softmax", axis, "axis", dim, "dim", 1))(x)
