"""Pooling: max-pool that remembers where each maximum was, max-unpool, average pools.

Deck 002's example, 2x2 windows with stride 2::

    [[1, 2, 6, 3],                              [[5, 6],        indices [[5, 2],
     [3, 5, 2, 1],    max_pool2d(2, 2)  ->       [7, 8]]                 [12, 15]]
     [1, 2, 2, 1],
     [7, 3, 4, 8]]

    max_unpool2d([[1, 2], [3, 4]], indices) -> [[0, 0, 2, 0], [0, 1, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]]

**Indices convention** (PyTorch's): the flat position ``row * W + col`` of each maximum within its
own (n, c) input plane of width W (the unpadded input), as an int64 :class:`~minisegnet.Tensor`
of the output's shape (no gradient). :func:`max_unpool2d` takes that tensor (or its array).

All loops here run over the kH*kW kernel offsets only: each offset is one strided view of the
input, so every pass is a vectorised operation over N, C and all output positions.
"""

from __future__ import annotations

from typing import Any

import numpy

from ..autograd import DEFAULT_FLOAT, Function, Tensor, _is_float, as_tensor
from . import sizes
from .sizes import IntOrPair, pair

__all__ = ["max_pool2d", "max_unpool2d", "avg_pool2d", "adaptive_avg_pool2d"]


def _window(x: Any, i: int, j: int, stride: tuple[int, int], out_hw: tuple[int, int]) -> Any:
    """The strided view x[..., i + s*p, j + s*q] for all output positions (p, q)."""
    (sh, sw), (ho, wo) = stride, out_hw
    return x[:, :, i:i + (ho - 1) * sh + 1:sh, j:j + (wo - 1) * sw + 1:sw]


def _pad(x: Any, padding: tuple[int, int], value: float, xp: Any) -> Any:
    ph, pw = padding
    if (ph, pw) == (0, 0):
        return x
    out = xp.full((x.shape[0], x.shape[1], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), value,
                  dtype=x.dtype)
    out[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]] = x
    return out


def _flat_positions(idx: Any, plane: int, xp: Any) -> Any:
    """Per-plane positions -> positions in the flattened (N*C*plane,) array (one index array)."""
    n, c = idx.shape[:2]
    return idx.astype(numpy.int64, copy=False) + (
        xp.arange(n * c, dtype=numpy.int64) * plane).reshape(n, c, 1, 1)


def _unpool_array(x: Any, idx: Any, out_hw: tuple[int, int], xp: Any) -> Any:
    """out[n, c].flat[idx[n, c, p, q]] = x[n, c, p, q], zeros elsewhere: one fancy-index assignment
    over all N*C planes at once (each position is written at most once by a non-overlapping pool)."""
    n, c = x.shape[:2]
    plane = out_hw[0] * out_hw[1]
    out = xp.zeros(n * c * plane, dtype=x.dtype)
    out[_flat_positions(idx, plane, xp).ravel()] = x.ravel()
    return out.reshape(n, c, *out_hw)


def _gather_array(g: Any, idx: Any, xp: Any) -> Any:
    """The adjoint of the unpool scatter: y[n, c, p, q] = g[n, c].flat[idx[n, c, p, q]]."""
    plane = g.shape[2] * g.shape[3]
    return xp.take(g.reshape(-1), _flat_positions(idx, plane, xp))


def _max_pool_array(x: Any, kernel: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[int, int], xp: Any) -> tuple[Any, Any]:
    """Max over each window and the flat position of the (first, row-major) maximum.

    Separable: first the best column of every window row (kW - 1 strided compares per row), then
    the best of those rows (kH - 1 compares). Only maxima and small offsets are kept, so every
    pass is one vectorised operation over N, C and all output positions.
    """
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    ho, wo = sizes.pool_output_size(h, kh, sh, ph), sizes.pool_output_size(w, kw, sw, pw)
    fill = -numpy.inf if _is_float(x.dtype) else numpy.iinfo(x.dtype).min
    xpad = _pad(x, padding, fill, xp)
    small = numpy.int8 if max(kh, kw) < 128 else numpy.int32  # window offsets fit in a byte
    y = row = col = None
    for i in range(kh):
        m = _window(xpad, i, 0, stride, (ho, wo))
        cj = None  # winning column offset within this window row (None: column 0)
        for j in range(1, kw):
            v = _window(xpad, i, j, stride, (ho, wo))
            better = v > m  # strict: the first maximum wins ties
            m = xp.maximum(m, v)
            if kw == 2:
                cj = better  # a bool is enough for 2 columns
            else:
                cj = better.astype(small) if cj is None else cj + better * (j - cj)
        if cj is None:
            cj = xp.zeros(m.shape, dtype=small)
        if y is None:
            y, row, col = (m if kw > 1 else xp.array(m)), None, cj
            continue
        better = m > y
        y = xp.maximum(y, m)
        row = better.astype(small) * small(i) if row is None else row + better * (i - row)
        col = col ^ (better & (col ^ cj)) if col.dtype == bool else col + better * (cj - col)
    base = ((xp.arange(ho) * sh - ph).reshape(ho, 1) * w + (xp.arange(wo) * sw - pw))
    idx = base + col if row is None else base + row.astype(numpy.int64) * w + col
    return y, idx


class MaxPool2dFunction(Function):
    """y[n, c, p, q] = max over the window {x_pad[n, c, p*s + i, q*s + j]} (padding = -inf).

    Forward also records where the maximum was: its flat position ``row * W + col`` in the input
    plane (the first maximum in row-major order on ties). Backward: the gradient goes to that
    position only -- for non-overlapping windows that is exactly :func:`max_unpool2d` of dy;
    overlapping windows add up where one pixel won several windows.
    """

    def __init__(self, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
                 indices_out: list | None = None):
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.indices_out = indices_out  # forward appends the indices here (they outlive the graph)

    def forward(self, x):
        y, self.indices = _max_pool_array(x, self.kernel, self.stride, self.padding, self.xp)
        self.in_shape = x.shape
        if self.indices_out is not None:
            self.indices_out.append(self.indices)
        return y

    def backward(self, gy):
        xp = self.xp
        n, c, h, w = self.in_shape
        (kh, kw), (sh, sw) = self.kernel, self.stride
        if sh >= kh and sw >= kw:  # windows do not overlap: unpool the gradient
            return _unpool_array(gy, self.indices, (h, w), xp)
        # overlapping windows: one pixel may win several windows, so the gradients are summed
        flat = _flat_positions(self.indices, h * w, xp).ravel()
        return xp.bincount(flat, weights=gy.ravel(), minlength=n * c * h * w).astype(
            gy.dtype, copy=False).reshape(n, c, h, w)


class MaxUnpool2dFunction(Function):
    """Deck 002's max-unpooling (the SegNet decoder): out[n, c].flat[idx] = x, zeros elsewhere.

    Backward gathers: dx[n, c, p, q] = dy[n, c].flat[idx[n, c, p, q]]; indices get no gradient.
    """

    def __init__(self, out_hw: tuple[int, int]):
        self.out_hw = out_hw

    def forward(self, x, indices):
        self.indices = indices
        return _unpool_array(x, indices, self.out_hw, self.xp)

    def backward(self, gy):
        return _gather_array(gy, self.indices, self.xp), None


class AvgPool2dFunction(Function):
    """y[n, c, p, q] = (1 / (kH kW)) sum_{i,j} x_pad[n, c, p*s + i, q*s + j] (zero padding counted,
    as PyTorch's default count_include_pad=True). Backward spreads dy / (kH kW) over each window."""

    def __init__(self, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x):
        xp = self.xp
        x = x if _is_float(x.dtype) else x.astype(DEFAULT_FLOAT)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        h, w = x.shape[2:]
        self.in_shape = x.shape
        self.out_hw = (sizes.pool_output_size(h, kh, sh, ph), sizes.pool_output_size(w, kw, sw, pw))
        xpad = _pad(x, self.padding, 0, xp)
        y = xp.array(_window(xpad, 0, 0, self.stride, self.out_hw))
        for t in range(1, kh * kw):
            y += _window(xpad, t // kw, t % kw, self.stride, self.out_hw)
        y *= 1.0 / (kh * kw)
        return y

    def backward(self, gy):
        xp = self.xp
        (kh, kw), (ph, pw) = self.kernel, self.padding
        n, c, h, w = self.in_shape
        g = gy * (1.0 / (kh * kw))
        gx = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=gy.dtype)
        for t in range(kh * kw):
            _window(gx, t // kw, t % kw, self.stride, self.out_hw)[...] += g
        return gx[:, :, ph:ph + h, pw:pw + w]


def _adaptive_matrix(n_in: int, n_out: int, xp: Any, dtype: Any) -> Any:
    """A[i, r] = 1 / len(bin i) for rows r in bin i = [floor(i n_in / n_out), ceil((i+1) n_in / n_out))."""
    i = xp.arange(n_out).reshape(-1, 1)
    start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
    r = xp.arange(n_in).reshape(1, -1)
    return (((r >= start) & (r < end)) / (end - start)).astype(dtype)


class AdaptiveAvgPool2dFunction(Function):
    """PSPNet's pyramid bins: output bin (i, j) is the mean of rows floor(i H / h_out) ..
    ceil((i+1) H / h_out) - 1 and columns alike (PyTorch's windows; bins may overlap by one row).

    The mean over a rectangle is separable, so y = A_h @ x @ A_w^T with averaging matrices;
    backward: dx = A_h^T @ dy @ A_w.
    """

    def __init__(self, out_hw: tuple[int, int]):
        self.out_hw = out_hw

    def forward(self, x):
        xp = self.xp
        x = x if _is_float(x.dtype) else x.astype(DEFAULT_FLOAT)
        self.ah = _adaptive_matrix(x.shape[2], self.out_hw[0], xp, x.dtype)
        self.aw = _adaptive_matrix(x.shape[3], self.out_hw[1], xp, x.dtype)
        return self.ah @ (x @ self.aw.T)

    def backward(self, gy):
        return self.ah.T @ (gy @ self.aw)


# ----------------------------------------------------------------------------------------------
# public functions


def _pool_args(op: str, x: Tensor, kernel_size: IntOrPair, stride: IntOrPair | None,
               padding: IntOrPair) -> tuple[tuple[int, int], ...]:
    sizes.check_4d(x, op)
    k = pair(kernel_size, "kernel_size", op, 1)
    s = k if stride is None else pair(stride, "stride", op, 1)
    p = pair(padding, "padding", op, 0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{op}: padding {p} must be at most half the kernel size {k} "
                         "(otherwise a window could hold padding only)")
    sizes.check_window_fits(op, x.shape, k, p)
    return k, s, p


def max_pool2d(x: Any, kernel_size: IntOrPair, stride: IntOrPair | None = None,
               padding: IntOrPair = 0, return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max over kH x kW windows ``stride`` apart (stride defaults to the kernel size; padding counts
    as -inf). With ``return_indices=True`` also returns the flat position ``row * W + col`` of each
    maximum within its (n, c) input plane, an int64 Tensor of the output's shape (no gradient),
    which :func:`max_unpool2d` uses to put values back ("remember the positions", deck 002).
    """
    op = "max_pool2d"
    x = as_tensor(x)
    k, s, p = _pool_args(op, x, kernel_size, stride, padding)
    found: list = []
    y = MaxPool2dFunction(k, s, p, found if return_indices else None)(x)
    return (y, Tensor(found[0].astype(numpy.int64, copy=False))) if return_indices else y


def max_unpool2d(x: Any, indices: Any, kernel_size: IntOrPair, stride: IntOrPair | None = None,
                 padding: IntOrPair = 0, output_size: IntOrPair | None = None) -> Tensor:
    """Max-unpooling (deck 002, SegNet's decoder): each value of ``x`` is placed at the position
    ``indices`` (from ``max_pool2d(..., return_indices=True)``) remembered for it, zeros elsewhere.

    Output (N, C, H_out, W_out) with H_out = (H-1)*stride - 2*padding + kH by default; pass
    ``output_size`` (int, (h, w) or a full shape) when the pooled input had a size the pool
    rounded down (e.g. odd sizes): the pooled input's own (H, W).
    """
    op = "max_unpool2d"
    x = as_tensor(x)
    idx = indices if isinstance(indices, Tensor) else Tensor(indices)
    sizes.check_4d(x, op)
    k = pair(kernel_size, "kernel_size", op, 1)
    s = k if stride is None else pair(stride, "stride", op, 1)
    p = pair(padding, "padding", op, 0)
    if tuple(idx.shape) != tuple(x.shape):
        raise ValueError(f"{op}: indices must have the shape of the input (one position per value), "
                         f"got indices {tuple(idx.shape)} for input {tuple(x.shape)}; pass the "
                         "indices max_pool2d returned for this tensor")
    if idx.dtype.kind not in "iu":
        raise ValueError(f"{op}: indices must be integers (flat positions), got dtype {idx.dtype}")
    h, w = x.shape[2:]
    default = (sizes.unpool_output_size(h, k[0], s[0], p[0]),
               sizes.unpool_output_size(w, k[1], s[1], p[1]))
    if output_size is None:
        out_hw = default
    else:
        target = tuple(output_size)[-2:] if not hasattr(output_size, "__index__") else output_size
        out_hw = pair(target, "output_size", op, 1)
        for name, o, dft, si in zip("HW", out_hw, default, s):
            if not dft <= o < dft + si:
                raise ValueError(
                    f"{op}: output_size {out_hw} is not a size this pool maps to the input "
                    f"{tuple(x.shape)}: along {name} it must lie in [{dft}, {dft + si - 1}] "
                    f"(kernel {k}, stride {s}, padding {p})")
    if idx.size:
        lo, hi = int(idx.data.min()), int(idx.data.max())
        if lo < 0 or hi >= out_hw[0] * out_hw[1]:
            raise ValueError(f"{op}: indices range over [{lo}, {hi}] but an output plane "
                             f"{out_hw[0]}x{out_hw[1]} has positions 0..{out_hw[0] * out_hw[1] - 1}; "
                             "pass output_size = the pooled input's (H, W)")
    return MaxUnpool2dFunction(out_hw)(x, idx)


def avg_pool2d(x: Any, kernel_size: IntOrPair, stride: IntOrPair | None = None,
               padding: IntOrPair = 0) -> Tensor:
    """Mean over kH x kW windows ``stride`` apart (stride defaults to the kernel size); zero
    padding is included in the count (PyTorch's default)."""
    op = "avg_pool2d"
    x = as_tensor(x)
    k, s, p = _pool_args(op, x, kernel_size, stride, padding)
    return AvgPool2dFunction(k, s, p)(x)


def adaptive_avg_pool2d(x: Any, output_size: IntOrPair) -> Tensor:
    """Average-pool to a fixed ``output_size`` (int or (h, w)) whatever the input size: PSPNet's
    pyramid pooling uses bins 1 (global average), 2, 3 and 6. Bin i covers rows
    floor(i H / h_out) .. ceil((i+1) H / h_out) - 1 (PyTorch's windows)."""
    op = "adaptive_avg_pool2d"
    x = as_tensor(x)
    sizes.check_4d(x, op)
    out_hw = pair(output_size, "output_size", op, 1)
    return AdaptiveAvgPool2dFunction(out_hw)(x)
