"""The rest of the everyday ``torch.Tensor`` API: statistics (std/var/prod/amax/norm/cumsum),
flips, splits, gathers and sorting, masks, rounding, integer division, logical tests.

The differentiable ops are a forward/backward pair each (``VarFunction``, ``ProdFunction``,
``CumsumFunction``, ``Log1pFunction``, ``Expm1Function``, ``FlipFunction``, ``GatherFunction``,
``RemainderFunction``, the rounding ops), or are built from differentiable ops (``std`` is
``sqrt(var)``, ``norm`` a sum of powers, ``chunk``/``split`` are slices, ``sort``/``topk`` gather
the values, ``masked_fill`` is a ``where``). The names a PyTorch oracle sweep found missing
next: ``silu``, ``hardtanh``/``relu6`` and ``rsqrt`` (``SiLUFunction``, ``HardtanhFunction``,
``RsqrtFunction``), ``fmod`` (``FmodFunction``), ``normalize`` and ``lerp`` (built from
differentiable ops), ``index_select``/``masked_select``/``narrow`` (indexing), ``concat``. The
tests (any/all, isnan), comparisons, ``//``, ``argsort``, ``nonzero`` and ``unique`` return tensors
outside the graph, as comparisons always did. Argument
names are PyTorch's (``dim``, ``keepdim``, ``correction``/``unbiased``, ``descending``,
``largest``)."""

from __future__ import annotations

import builtins  # this module defines any/all/round: use builtins.* for Python's own
from collections.abc import Sequence
from typing import Any

import numpy

from .. import backend
from ..autograd import Function, Tensor, as_tensor
from ..backend import Array
from ..validation import is_float, scalar_like
from .basic import (
    Axis,
    MaxMinFunction,
    ValuesIndices,
    _expand_back,
    _float,
    _match,
    _norm_axis,
    _pick,
    add,
    clip,
    concatenate,
    getitem,
    mul,
    pow,
    sqrt,
    sub,
    sum,
    transpose,
    where,
)
from .basic import abs as basic_abs

__all__ = [
    "var",
    "std",
    "prod",
    "amax",
    "amin",
    "norm",
    "cumsum",
    "log1p",
    "expm1",
    "flip",
    "chunk",
    "split",
    "gather",
    "sort",
    "argsort",
    "topk",
    "nonzero",
    "masked_fill",
    "floor",
    "ceil",
    "round",
    "floor_divide",
    "remainder",
    "any",
    "all",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "logical_not",
    "logical_and",
    "logical_or",
    "isnan",
    "isfinite",
    "unsqueeze",
    "squeeze",
    "swapaxes",
    "silu",
    "hardtanh",
    "relu6",
    "normalize",
    "rsqrt",
    "lerp",
    "fmod",
    "index_select",
    "masked_select",
    "narrow",
    "unique",
    "concat",
]


def _dim(op: str, dim: Any, shape: tuple[int, ...]) -> int:
    """``dim`` as an axis in 0 .. ndim-1, or a clear error naming the op and the shape."""
    n = builtins.max(len(shape), 1)
    if not isinstance(dim, (int, numpy.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    if not -n <= dim < n:
        raise ValueError(
            f"{op}: dim {dim} is out of range for a tensor of shape {shape} (use {-n} .. {n - 1})"
        )
    return int(dim) % n


def _dims(op: str, dims: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Several axes (an int or a sequence of ints), each once."""
    dims = (dims,) if isinstance(dims, (int, numpy.integer)) else tuple(dims)
    out = tuple(_dim(op, d, shape) for d in dims)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: dims {dims} name an axis twice (shape {shape})")
    return out


# ----------------------------------------------------------------------------------------------
# statistics


class VarFunction(Function):
    """y = sum((x - mean(x))^2) / (n - correction) over ``axes`` (Bessel's correction: 1);
    dy/dx = 2 (x - mean(x)) / (n - correction) (the mean's own dependence on x sums to 0)."""

    def __init__(self, axes: Axis, keepdims: bool, correction: float):
        self.dim, self.keepdims, self.correction = axes, keepdims, correction

    def forward(self, x: Array) -> Array:
        x = _float(x)
        self.shape, self.axes = x.shape, _norm_axis(self.dim, x.ndim)
        n = int(numpy.prod([x.shape[a] for a in self.axes]))
        self.denom = builtins.max(n - self.correction, 0)  # 0: inf/nan, as PyTorch (one element)
        d = x - x.mean(axis=self.axes, keepdims=True)
        self.save_for_backward(d)
        with numpy.errstate(divide="ignore", invalid="ignore"):  # (NumPy 1.x: a float32
            # scalar over a Python float is float64, so divide by a scalar of x's dtype)
            return (d * d).sum(axis=self.axes, keepdims=self.keepdims) / x.dtype.type(self.denom)

    def backward(self, gy: Array) -> Array:
        (d,) = self.saved_tensors
        g = _expand_back(gy, self.shape, self.axes, self.keepdims, self.xp)
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return g * (2 * d / self.denom)


class ProdFunction(Function):
    """y = product of x along ``dim``;  dy/dx_i = prod_{j != i} x_j = (product of the x_j before
    i) * (product of the x_j after i): two cumulative products, so a zero among the x needs no
    special case (y / x_i would divide by it)."""

    def __init__(self, dim: int, keepdims: bool):
        self.dim, self.keepdims = dim, keepdims

    def forward(self, x: Array) -> Array:
        self.save_for_backward(x)
        return x.prod(axis=self.dim, keepdims=self.keepdims)

    def backward(self, gy: Array) -> Array:
        xp = self.xp
        (x,) = self.saved_tensors
        xm = xp.moveaxis(x, self.dim, -1)  # the product's axis last
        ones = xp.ones(xm.shape[:-1] + (1,), dtype=x.dtype)
        before = xp.cumprod(xp.concatenate([ones, xm[..., :-1]], axis=-1), axis=-1)
        after = xp.cumprod(xp.concatenate([ones, xm[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        others = xp.moveaxis(before * after, -1, self.dim)
        g = gy if self.keepdims else xp.expand_dims(gy, self.dim)
        return g * others


def var(
    x: Any,
    dim: Axis = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Variance over ``dim`` (all axes by default): sum((x - mean)^2) / (n - correction).
    ``correction=1`` (the default, PyTorch's) is the unbiased estimate, 0 the population variance;
    ``unbiased=True/False`` is the older spelling of 1/0 (``x.var(False)`` too)."""
    if isinstance(dim, bool):  # x.var(False): PyTorch's var(unbiased)
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError("var: got both unbiased= and correction=; give one")
    if correction is None:
        correction = 0 if unbiased is False else 1
    return VarFunction(dim, keepdim, correction)(x)


def std(
    x: Any,
    dim: Axis = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Standard deviation: ``sqrt(var(x, ...))`` with :func:`var`'s arguments."""
    return sqrt(var(x, dim, unbiased, keepdim, correction=correction))


def prod(x: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Product of all elements, or along one axis ``dim`` (as ``torch.prod``)."""
    x = as_tensor(x)
    if dim is None:
        return ProdFunction(0, False)(x.reshape(-1))
    return ProdFunction(_dim("prod", dim, x.shape), keepdim)(x)


def amax(x: Any, dim: Axis = None, keepdim: bool = False) -> Tensor:
    """The maximum over ``dim`` (one axis or several; all by default): the values only, the
    gradient split evenly between tied maxima (``torch.amax``)."""
    return MaxMinFunction(dim, keepdim, "max")(x)


def amin(x: Any, dim: Axis = None, keepdim: bool = False) -> Tensor:
    """The minimum over ``dim``, with :func:`amax`'s conventions."""
    return MaxMinFunction(dim, keepdim, "min")(x)


def norm(x: Any, p: float = 2, dim: Axis = None, keepdim: bool = False) -> Tensor:
    """The p-norm over ``dim`` (all elements by default): (sum |x|^p)^(1/p); p=2, the Euclidean
    length, is sqrt(sum x^2); p=1 the sum of |x|; p=inf the largest |x|. Built from
    differentiable ops."""
    x = as_tensor(x)
    if p == 2:
        return sqrt(sum(mul(x, x), dim, keepdim))
    if p == float("inf"):
        return amax(basic_abs(x), dim, keepdim)
    if not isinstance(p, (int, float)) or p <= 0:
        raise ValueError(f"norm: p must be a positive number or inf, got {p!r}")
    return pow(sum(pow(basic_abs(x), p), dim, keepdim), 1.0 / p)


class CumsumFunction(Function):
    """y_i = x_0 + ... + x_i along ``dim`` (a running total);  dL/dx_i = sum_{j >= i} dL/dy_j,
    the running total of the gradient taken from the other end."""

    def __init__(self, dim: int):
        self.dim = dim

    def forward(self, x: Array) -> Array:
        return self.xp.cumsum(x, axis=self.dim)

    def backward(self, gy: Array) -> Array:
        xp = self.xp
        return xp.flip(xp.cumsum(xp.flip(gy, axis=self.dim), axis=self.dim), axis=self.dim)


def cumsum(x: Any, dim: int) -> Tensor:
    """Running sums along ``dim``, as ``torch.cumsum`` (integers stay integers)."""
    x = as_tensor(x)
    return CumsumFunction(_dim("cumsum", dim, x.shape))(x)


class Log1pFunction(Function):
    """y = log(1 + x), accurate for small x;  dy/dx = 1 / (1 + x)."""

    def forward(self, x: Array) -> Array:
        x = _float(x)
        self.save_for_backward(x)
        return self.xp.log1p(x)

    def backward(self, gy: Array) -> Array:
        (x,) = self.saved_tensors
        return gy / (1 + x)


class Expm1Function(Function):
    """y = e^x - 1, accurate for small x;  dy/dx = e^x = y + 1."""

    def forward(self, x: Array) -> Array:
        y = self.xp.expm1(_float(x))
        self.save_for_backward(y)
        return y

    def backward(self, gy: Array) -> Array:
        (y,) = self.saved_tensors
        return gy * (y + 1)


def log1p(x: Any) -> Tensor:
    """log(1 + x)."""
    return Log1pFunction()(x)


def expm1(x: Any) -> Tensor:
    """e^x - 1."""
    return Expm1Function()(x)


# ----------------------------------------------------------------------------------------------
# flips, splits, gathers, sorting


class FlipFunction(Function):
    """y = x reversed along ``dims`` (a horizontal flip of an image is dims=(-1,));  the gradient
    is reversed along the same axes."""

    def __init__(self, dims: tuple[int, ...]):
        self.dims = dims

    def forward(self, x: Array) -> Array:
        return self.xp.flip(x, axis=self.dims)

    def backward(self, gy: Array) -> Array:
        return self.xp.flip(gy, axis=self.dims)


def flip(x: Any, dims: Any) -> Tensor:
    """Reverse the order of the elements along ``dims`` (an int or a sequence), as
    ``torch.flip``."""
    x = as_tensor(x)
    return FlipFunction(_dims("flip", dims, x.shape))(x)


def _slices(x: Tensor, dim: int, sizes: Sequence[int]) -> tuple[Tensor, ...]:
    """Consecutive pieces of ``x`` along ``dim``, of the given lengths (differentiable slices)."""
    pieces, start = [], 0
    for n in sizes:
        index = (slice(None),) * dim + (slice(start, start + n),)
        pieces.append(getitem(x, index))
        start += n
    return tuple(pieces)


def split(x: Any, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut ``x`` along ``dim``: into pieces of ``split_size_or_sections`` elements (an int; the
    last piece may be shorter) or of the listed lengths (which must add up to the axis' length),
    as ``torch.split``. Differentiable: each piece is a slice."""
    x = as_tensor(x)
    d = _dim("split", dim, x.shape)
    n = x.shape[d] if x.ndim else 1
    s = split_size_or_sections
    if isinstance(s, (int, numpy.integer)):
        if s <= 0:
            raise ValueError(f"split: the split size must be positive, got {s}")
        sizes = [builtins.min(int(s), n - i) for i in range(0, n, int(s))] or [0]
    else:
        sizes = [int(k) for k in s]
        if builtins.sum(sizes) != n or builtins.any(k < 0 for k in sizes):
            raise ValueError(
                f"split: sections {sizes} add up to {builtins.sum(sizes)}, but axis {dim} of "
                f"shape {x.shape} has length {n}; give lengths >= 0 that add up to {n}"
            )
    return _slices(x, d, sizes)


def chunk(x: Any, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut ``x`` into ``chunks`` pieces along ``dim``, each ceil(n / chunks) long (the last one
    shorter, and fewer pieces when they run out), as ``torch.chunk``."""
    x = as_tensor(x)
    if not isinstance(chunks, (int, numpy.integer)) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    n = x.shape[_dim("chunk", dim, x.shape)] if x.ndim else 1
    return split(x, builtins.max(-(-n // int(chunks)), 1), dim)


class GatherFunction(Function):
    """y[i][j][k] = x[i][index[i][j][k]][k] for dim=1 (likewise for any ``dim``): along ``dim`` the
    position comes from ``index``, along the other axes it is kept;  the gradient is scattered
    back into zeros shaped like x, added up where an index repeats."""

    def __init__(self, dim: int):
        self.dim = dim

    def forward(self, x: Array, index: Array) -> Array:
        xp = self.xp
        self.in_shape = x.shape
        shape = [1] * index.ndim
        self.where = tuple(  # one index array per axis, broadcasting to index's shape
            index if a == self.dim else xp.arange(n).reshape(shape[:a] + [n] + shape[a + 1 :])
            for a, n in enumerate(index.shape)
        )
        return x[self.where]

    def backward(self, gy: Array) -> tuple[Array, None]:
        g = self.xp.zeros(self.in_shape, dtype=gy.dtype)
        backend.scatter_add(g, self.where, gy)
        return g, None


def gather(x: Any, dim: int, index: Any) -> Tensor:
    """Pick along ``dim`` by ``index`` (an integer tensor with x's number of axes, no longer than
    x along the other axes), as ``torch.gather``: ``gather(logp, 1, target[:, None])`` picks each
    pixel's log-probability of its class."""
    x = as_tensor(x)
    index = index if isinstance(index, Tensor) else as_tensor(index, device=x.device)  # as x[i]
    d = _dim("gather", dim, x.shape)
    if index.dtype.kind not in "iu" or index.ndim != x.ndim:
        raise ValueError(
            f"gather: index must be an integer tensor with as many axes as the input; got "
            f"{index.dtype} of shape {index.shape} for an input of shape {x.shape}"
        )
    if builtins.any(m > n for a, (m, n) in enumerate(zip(index.shape, x.shape)) if a != d):
        raise ValueError(
            f"gather: index of shape {index.shape} is longer than the input {x.shape} on an "
            f"axis other than dim={dim}"
        )
    if index.numel() and bool(((index.data < 0) | (index.data >= x.shape[d])).any()):
        raise IndexError(
            f"gather: index values must be in 0 .. {x.shape[d] - 1} (axis {dim} of shape "
            f"{x.shape}); got {int(index.data.min())} .. {int(index.data.max())}"
        )
    return GatherFunction(d)(x, index)


def _argsort(x: Tensor, dim: int, descending: bool) -> Array:
    data = x.data.astype(numpy.int64) if x.dtype.kind in "bu" else x.data  # so -data is right
    return x.xp.argsort(-data if descending else data, axis=dim, kind="stable")


def sort(x: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> ValuesIndices:
    """``(values, indices)``: x sorted along ``dim`` and where each value came from, as
    ``torch.sort`` (ties keep their order); the values are differentiable (a gather)."""
    x = as_tensor(x)
    d = _dim("sort", dim, x.shape)
    if x.ndim == 0:
        return ValuesIndices(x, Tensor(x.xp.zeros((), dtype=numpy.int64)))
    indices = Tensor(_argsort(x, d, descending).astype(numpy.int64, copy=False))
    return ValuesIndices(GatherFunction(d)(x, indices), indices)


def argsort(x: Any, dim: int = -1, descending: bool = False) -> Tensor:
    """The indices that sort ``x`` along ``dim`` (``sort(...).indices``); outside the graph."""
    return sort(x, dim, descending).indices


def nonzero(x: Any) -> Tensor:
    """The positions of the non-zero elements, one row of ``ndim`` indices each (shape
    (count, ndim), int64), as ``torch.nonzero``; outside the graph."""
    x = as_tensor(x)
    return Tensor(x.xp.argwhere(x.data).astype(numpy.int64, copy=False))


def topk(x: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> ValuesIndices:
    """``(values, indices)`` of the ``k`` largest (or, ``largest=False``, smallest) elements along
    ``dim``, as ``torch.topk``, always in sorted order; the values are differentiable."""
    x = as_tensor(x)
    d = _dim("topk", dim, x.shape)
    n = x.shape[d] if x.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k={k} is out of range for axis {dim} of shape {x.shape} (0..{n})")
    if x.ndim == 0:
        return sort(x)
    order = _argsort(x, d, largest)
    indices = Tensor(order[(slice(None),) * d + (slice(0, k),)].astype(numpy.int64, copy=False))
    return ValuesIndices(GatherFunction(d)(x, indices), indices)


# ----------------------------------------------------------------------------------------------
# masks, rounding, integer division


def masked_fill(x: Any, mask: Any, value: Any) -> Tensor:
    """``x`` with ``value`` where the bool ``mask`` is true (``mask`` broadcasts to x's shape), as
    ``torch.Tensor.masked_fill``: ``logits.masked_fill(~valid, -1e9)``. Differentiable: a
    :func:`where`, the gradient reaches x where the mask is false (and a tensor ``value``)."""
    x = as_tensor(x)
    mask = mask if isinstance(mask, Tensor) else as_tensor(mask, device=x.device)  # as x[mask]
    if mask.dtype != numpy.bool_:
        raise TypeError(
            f"masked_fill: mask must be a bool tensor, got {mask.dtype}; write mask.bool() or "
            "(mask != 0)"
        )
    try:
        fits = numpy.broadcast_shapes(mask.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"masked_fill: a mask of shape {mask.shape} does not broadcast to the input's "
            f"shape {x.shape}"
        )
    if not isinstance(value, Tensor):  # a number takes x's dtype, as in PyTorch
        value = Tensor(x.xp.asarray(value).astype(x.dtype))
    elif value.ndim != 0:
        raise ValueError(f"masked_fill: value must be a number or a 0-D tensor, got {value.shape}")
    return where(mask, value, x)


class FloorFunction(Function):
    """y = floor(x), the largest integer <= x;  dy/dx = 0 (a staircase is flat between steps)."""

    def forward(self, x: Array) -> Array:
        return self.xp.floor(x) if is_float(x.dtype) else x.copy()

    def backward(self, gy: Array) -> Array:
        return gy * 0


class CeilFunction(FloorFunction):
    """y = ceil(x), the smallest integer >= x;  dy/dx = 0."""

    def forward(self, x: Array) -> Array:
        return self.xp.ceil(x) if is_float(x.dtype) else x.copy()


class RoundFunction(FloorFunction):
    """y = x rounded to ``decimals`` places, halves to even (NumPy's and PyTorch's rule);
    dy/dx = 0."""

    def __init__(self, decimals: int = 0):
        self.decimals = decimals

    def forward(self, x: Array) -> Array:
        return self.xp.round(x, self.decimals) if is_float(x.dtype) else x.copy()


def floor(x: Any) -> Tensor:
    """Round down (an integer tensor is returned as a copy); zero gradient."""
    return FloorFunction()(x)


def ceil(x: Any) -> Tensor:
    """Round up; zero gradient."""
    return CeilFunction()(x)


def round(x: Any, decimals: int = 0) -> Tensor:
    """Round to the nearest (halves to even), or to ``decimals`` places; zero gradient."""
    return RoundFunction(decimals)(x)


def _check_int_divisor(op: str, a: Array, b: Array) -> None:
    if not is_float(a.dtype) and not is_float(b.dtype) and bool((b == 0).any()):
        raise ZeroDivisionError(
            f"{op}: integer division by zero (a divisor of the {b.dtype} operand is 0)"
        )


class FloorDivideFunction(Function):
    """y = floor(a / b), Python's ``//`` (rounding toward -inf); not differentiable (a staircase):
    the result is outside the graph."""

    differentiable = False

    def forward(self, a: Array, b: Array) -> Array:
        a, b = _match(a, b)
        _check_int_divisor("floor_divide", a, b)
        return self.xp.floor_divide(a, b)


class RemainderFunction(Function):
    """y = a - floor(a / b) * b, Python's ``%`` (the sign of b);  dy/da = 1,
    dy/db = -floor(a / b) (between the jumps, where a / b is not an integer)."""

    def forward(self, a: Array, b: Array) -> Array:
        a, b = _match(a, b)
        _check_int_divisor("remainder", a, b)
        self.save_for_backward(a, b)
        return self.xp.remainder(a, b)

    def backward(self, gy: Array) -> tuple[Array, Array | None]:
        a, b = self.saved_tensors
        gb = -gy * self.xp.floor_divide(a, b) if self.needs_input_grad[1] else None
        return gy, gb


def floor_divide(a: Any, b: Any) -> Tensor:
    """``a // b``: floor(a / b) elementwise (integers stay integers); outside the graph."""
    return FloorDivideFunction()(a, b)


def remainder(a: Any, b: Any) -> Tensor:
    """``a % b``: a - floor(a / b) * b, with the sign of b (Python's and PyTorch's rule)."""
    return RemainderFunction()(a, b)


# ----------------------------------------------------------------------------------------------
# tests and comparisons: bool tensors outside the graph


def _dim_keepdim(
    op: str, dim: Any, keepdim: bool | None, axis: Any, keepdims: bool | None
) -> tuple[Any, bool]:
    """PyTorch's ``dim``/``keepdim`` or NumPy's ``axis``/``keepdims`` (``numpy.any(x)`` calls
    ``x.any(axis=None, out=None)``), whichever was given."""
    return _pick(op, axis, "axis", dim, "dim"), _pick(
        op, keepdims, "keepdims", keepdim, "keepdim", False
    )


def any(x: Any, dim: Axis = None, keepdim: bool = False) -> Tensor:
    """Whether any element is true (non-zero), over ``dim`` (all axes by default); a bool tensor."""
    x = as_tensor(x)
    axes = None if dim is None else _dims("any", dim, x.shape)
    return Tensor(x.xp.any(x.data, axis=axes, keepdims=keepdim))


def all(x: Any, dim: Axis = None, keepdim: bool = False) -> Tensor:
    """Whether every element is true (non-zero), over ``dim``; a bool tensor."""
    x = as_tensor(x)
    axes = None if dim is None else _dims("all", dim, x.shape)
    return Tensor(x.xp.all(x.data, axis=axes, keepdims=keepdim))


def eq(a: Any, b: Any) -> Tensor:
    """a == b elementwise (a bool tensor)."""
    return as_tensor(a) == b


def ne(a: Any, b: Any) -> Tensor:
    """a != b elementwise."""
    return as_tensor(a) != b


def lt(a: Any, b: Any) -> Tensor:
    """a < b elementwise."""
    return as_tensor(a) < b


def le(a: Any, b: Any) -> Tensor:
    """a <= b elementwise."""
    return as_tensor(a) <= b


def gt(a: Any, b: Any) -> Tensor:
    """a > b elementwise."""
    return as_tensor(a) > b


def ge(a: Any, b: Any) -> Tensor:
    """a >= b elementwise."""
    return as_tensor(a) >= b


def logical_not(x: Any) -> Tensor:
    """not x, elementwise (non-zero counts as true); a bool tensor."""
    x = as_tensor(x)
    return Tensor(x.xp.logical_not(x.data))


def _logical(op: str, a: Any, b: Any) -> Tensor:
    a = as_tensor(a)
    b = b.data if isinstance(b, Tensor) else b
    if hasattr(b, "shape"):
        backend.check_same_device(a.data, b, op=op)
    return Tensor(getattr(a.xp, op)(a.data, b))


def logical_and(a: Any, b: Any) -> Tensor:
    """a and b, elementwise; a bool tensor."""
    return _logical("logical_and", a, b)


def logical_or(a: Any, b: Any) -> Tensor:
    """a or b, elementwise; a bool tensor."""
    return _logical("logical_or", a, b)


def isnan(x: Any) -> Tensor:
    """Where x is NaN (a bool tensor; always false for integers)."""
    x = as_tensor(x)
    return Tensor(x.xp.isnan(x.data) if is_float(x.dtype) else x.xp.zeros(x.shape, bool))


def isfinite(x: Any) -> Tensor:
    """Where x is neither NaN nor infinite (a bool tensor)."""
    x = as_tensor(x)
    return Tensor(x.xp.isfinite(x.data) if is_float(x.dtype) else x.xp.ones(x.shape, bool))


# ----------------------------------------------------------------------------------------------
# torch.* spellings of Tensor methods


def unsqueeze(x: Any, dim: int) -> Tensor:
    """A new axis of length 1 at ``dim`` (``torch.unsqueeze``; see ``Tensor.unsqueeze``)."""
    return as_tensor(x).unsqueeze(dim)


def squeeze(x: Any, dim: Any = None) -> Tensor:
    """Drop axes of length 1 (``torch.squeeze``; see ``Tensor.squeeze``)."""
    return as_tensor(x).squeeze(dim)


def swapaxes(x: Any, axis0: int, axis1: int) -> Tensor:
    """Swap two axes: NumPy's and PyTorch's other name for :func:`transpose` (``swapdims``)."""
    return transpose(x, axis0, axis1)


# ----------------------------------------------------------------------------------------------
# more names a PyTorch user reaches for: activations, normalize, rsqrt, lerp, fmod, selections


class SiLUFunction(Function):
    """y = x sigmoid(x) (SiLU, "swish");  dy/dx = s (1 + x (1 - s)) with s = sigmoid(x)."""

    def forward(self, x: Array) -> Array:
        xp, x = self.xp, _float(x)
        one = scalar_like(x, 1)
        e = xp.exp(-xp.abs(x))  # the stable sigmoid: e in (0, 1] never overflows
        s = xp.where(x >= 0, one / (one + e), e / (one + e))
        self.save_for_backward(x, s)
        return x * s

    def backward(self, gy: Array) -> Array:
        x, s = self.saved_tensors
        one = scalar_like(x, 1)
        return gy * s * (one + x * (one - s))


class HardtanhFunction(Function):
    """y = min(max(x, lo), hi);  dy/dx = 1 strictly inside (lo, hi), 0 elsewhere (PyTorch's:
    0 at the bounds themselves, so ``relu6``'s gradient at 0 is 0, as ``relu``'s)."""

    def __init__(self, lo: float, hi: float):
        self.lo, self.hi = lo, hi

    def forward(self, x: Array) -> Array:
        x = _float(x)
        self.save_for_backward(x)
        return self.xp.clip(x, scalar_like(x, self.lo), scalar_like(x, self.hi))

    def backward(self, gy: Array) -> Array:
        (x,) = self.saved_tensors
        return gy * ((x > self.lo) & (x < self.hi))


def silu(x: Any, inplace: bool = False) -> Tensor:
    """x * sigmoid(x), as ``F.silu`` (``inplace`` is accepted and ignored)."""
    return SiLUFunction()(x)


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val], as ``F.hardtanh``; the gradient is 1 strictly inside."""
    if min_val > max_val:
        raise ValueError(
            f"hardtanh: min_val {min_val} is greater than max_val {max_val}; "
            "give min_val <= max_val"
        )
    return HardtanhFunction(float(min_val), float(max_val))(x)


def relu6(x: Any, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6), as ``F.relu6``: ``hardtanh(x, 0, 6)``."""
    return hardtanh(x, 0.0, 6.0)


def normalize(x: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p, eps) along ``dim`` (default 1, the channel axis), as ``F.normalize``:
    unit-length vectors, a zero vector stays zero. Built from differentiable ops; the clamp is
    taken on sum |x|^p against eps^p (the same value), so a zero vector has a zero gradient
    (eps^p underflows to 0 in float32 for p > 3, where that vector's gradient is NaN)."""
    x = as_tensor(x)
    d = _dim("normalize", dim, x.shape)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not p > 0:
        raise ValueError(f"normalize: p must be a positive number or inf, got {p!r}")
    if p == float("inf"):
        n = clip(amax(basic_abs(x), d, True), float(eps))
    elif p == 2:
        n = sqrt(clip(sum(mul(x, x), d, True), float(eps) ** 2))
    else:
        n = pow(clip(sum(pow(basic_abs(x), p), d, True), float(eps) ** p), 1.0 / p)
    return x / n


class RsqrtFunction(Function):
    """y = 1 / sqrt(x);  dy/dx = -x^(-3/2) / 2 = -y^3 / 2."""

    def forward(self, x: Array) -> Array:
        x = _float(x)
        with numpy.errstate(divide="ignore", invalid="ignore"):  # 0 -> inf, < 0 -> nan
            y = scalar_like(x, 1) / self.xp.sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy: Array) -> Array:
        (y,) = self.saved_tensors
        return gy * (scalar_like(y, -0.5) * y * y * y)


def rsqrt(x: Any) -> Tensor:
    """1 / sqrt(x), as ``torch.rsqrt``."""
    return RsqrtFunction()(x)


def lerp(start: Any, end: Any, weight: Any) -> Tensor:
    """start + weight (end - start), as ``torch.lerp`` (``weight`` a number or a tensor; all
    three broadcast). Built from differentiable ops: dy/dstart = 1 - w, dy/dend = w,
    dy/dweight = end - start."""
    start = as_tensor(start)
    return add(start, mul(weight, sub(end, start)))


class FmodFunction(Function):
    """y = a - trunc(a / b) * b, C's ``fmod`` (the sign of a; ``%`` takes the sign of b);
    dy/da = 1, dy/db = -trunc(a / b) (between the jumps, where a / b is not an integer)."""

    def forward(self, a: Array, b: Array) -> Array:
        a, b = _match(a, b)
        _check_int_divisor("fmod", a, b)
        self.save_for_backward(a, b)
        return self.xp.fmod(a, b)

    def backward(self, gy: Array) -> tuple[Array, Array | None]:
        a, b = self.saved_tensors
        gb = -gy * self.xp.trunc(a / b) if self.needs_input_grad[1] else None
        return gy, gb


def fmod(a: Any, b: Any) -> Tensor:
    """The remainder of a / b with the sign of ``a`` (``torch.fmod``: fmod(-3, 2) = -1, where
    -3 % 2 = 1); integers stay integers, an integer divisor of 0 raises."""
    return FmodFunction()(a, b)


def index_select(x: Any, dim: int, index: Any) -> Tensor:
    """The entries ``index`` (a 1-D integer tensor, repeats allowed) along ``dim``, as
    ``torch.index_select``: ``x.index_select(1, idx)`` keeps the channels in idx. Differentiable
    (an indexing: the gradient adds up where an index repeats)."""
    x = as_tensor(x)
    d = _dim("index_select", dim, x.shape)
    index = index if isinstance(index, Tensor) else as_tensor(index, device=x.device)
    if index.dtype.kind not in "iu" or index.ndim > 1:
        raise ValueError(
            f"index_select: index must be a 1-D integer tensor, got {index.dtype} of shape "
            f"{index.shape}"
        )
    if x.ndim == 0:
        raise ValueError("index_select: the input is 0-D; write x.reshape(1).index_select(...)")
    n = x.shape[d]
    if index.numel() and bool(((index.data < 0) | (index.data >= n)).any()):
        raise IndexError(
            f"index_select: index values must be in 0 .. {n - 1} (axis {dim} of shape "
            f"{x.shape}); got {int(index.data.min())} .. {int(index.data.max())}"
        )
    return getitem(x, (slice(None),) * d + (index.data.reshape(-1),))


def masked_select(x: Any, mask: Any) -> Tensor:
    """The elements of ``x`` where the bool ``mask`` is true, as a 1-D tensor (x and mask
    broadcast together), as ``torch.masked_select``. Differentiable (an indexing)."""
    x = as_tensor(x)
    mask = mask if isinstance(mask, Tensor) else as_tensor(mask, device=x.device)
    if mask.dtype != numpy.bool_:
        raise TypeError(
            f"masked_select: mask must be a bool tensor, got {mask.dtype}; write mask.bool() or "
            "(mask != 0)"
        )
    try:
        shape = tuple(numpy.broadcast_shapes(mask.shape, x.shape))
    except ValueError:
        raise ValueError(
            f"masked_select: a mask of shape {mask.shape} does not broadcast with the input's "
            f"shape {x.shape}"
        ) from None
    if shape != x.shape:
        x = x.expand(shape)
    return getitem(x, mask.xp.broadcast_to(mask.data, shape))


def narrow(x: Any, dim: int, start: int, length: int) -> Tensor:
    """``length`` entries from ``start`` along ``dim`` (a negative start counts from the end), as
    ``torch.narrow``: a differentiable slice."""
    x = as_tensor(x)
    d = _dim("narrow", dim, x.shape)
    if x.ndim == 0:
        raise ValueError("narrow: the input is 0-D; there is no axis to narrow")
    n, start, length = x.shape[d], int(start), int(length)
    begin = start + n if start < 0 else start
    if not 0 <= begin <= n or length < 0 or begin + length > n:
        raise ValueError(
            f"narrow: start {start} and length {length} do not fit axis {dim} of shape {x.shape}; "
            f"give -{n} <= start <= {n}, length >= 0 and start + length <= {n}"
        )
    return getitem(x, (slice(None),) * d + (slice(begin, begin + length),))


def unique(
    x: Any,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Any:
    """The distinct values of the flattened ``x``, in ascending order (also with ``sorted=False``,
    which PyTorch leaves unspecified), as ``torch.unique``; with ``return_inverse`` also where each
    element's value sits among them (x's shape, int64) and with ``return_counts`` how often each
    occurs (int64), as a tuple. Outside the graph."""
    x = as_tensor(x)
    if dim is not None:
        raise ValueError(
            f"unique: dim={dim} (unique slices) is not supported; only the flattened tensor "
            "(dim=None)"
        )
    out = x.xp.unique(x.data.reshape(-1), return_inverse=True, return_counts=True)
    values, inverse, counts = (Tensor(a) for a in out)
    if not (return_inverse or return_counts):
        return values
    extra = []
    if return_inverse:
        extra.append(Tensor(inverse.data.reshape(x.shape).astype(numpy.int64, copy=False)))
    if return_counts:
        extra.append(Tensor(counts.data.astype(numpy.int64, copy=False)))
    return (values, *extra)


concat = concatenate  # torch.concat: PyTorch's other name for cat
