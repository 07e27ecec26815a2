"""Pooling: max-pool that remembers where each maximum was, max-unpool, average pools.

Deck 002's example, 2x2 windows with stride 2::

    [[1, 2, 6, 3],                              [[5, 6],        indices [[5, 2],
     [3, 5, 2, 1],    max_pool2d(2, 2)  ->       [7, 8]]                 [12, 15]]
     [1, 2, 2, 1],
     [7, 3, 4, 8]]

    max_unpool2d([[1, 2], [3, 4]], indices)
        -> [[0, 0, 2, 0], [0, 1, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]]

**Indices convention** (PyTorch's): the flat position ``row * W + col`` of each maximum within its
own (n, c) input plane of width W (the unpadded input), as an int64 :class:`~minisegnet.Tensor`
of the output's shape (no gradient). :func:`max_unpool2d` takes that tensor (or its array).

Max-pool is windows + argmax: :func:`windows` views every window of the padded input, the
argmax of each gives the value and, turned into a row and a column, the index; unpooling is the
scatter of values to those indices, and the max-pool's backward is that scatter of dy. The loops
of the average pool run over the kH*kW kernel offsets only (one strided slice each).

This is the teaching path; :mod:`~minisegnet.functional.fast` has a faster max-pool forward,
selected by :func:`~minisegnet.functional.fast_path` (fast by default).
"""

from __future__ import annotations

from typing import Any

import numpy

from ..autograd import DEFAULT_FLOAT, Function, Tensor, as_tensor
from ..validation import is_float
from . import paths, sizes
from .sizes import IntOrPair, pair

__all__ = ["max_pool2d", "max_unpool2d", "avg_pool2d", "adaptive_avg_pool2d"]

Pair = tuple[int, int]


def _window(x: Any, i: int, j: int, stride: tuple[int, int], out_hw: tuple[int, int]) -> Any:
    """The strided view x[..., i + s*p, j + s*q] for all output positions (p, q)."""
    (sh, sw), (ho, wo) = stride, out_hw
    return x[:, :, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw]


def _pad(x: Any, padding: tuple[int, int], value: float, xp: Any) -> Any:
    ph, pw = padding
    if (ph, pw) == (0, 0):
        return x
    out = xp.full(
        (x.shape[0], x.shape[1], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), value, dtype=x.dtype
    )
    out[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]] = x
    return out


def _flat_positions(idx: Any, plane: int, xp: Any) -> Any:
    """Per-plane positions -> positions in the flattened (N*C*plane,) array (one index array)."""
    n, c = idx.shape[:2]
    return idx.astype(numpy.int64, copy=False) + (
        xp.arange(n * c, dtype=numpy.int64) * plane
    ).reshape(n, c, 1, 1)


def _unpool_array(x: Any, idx: Any, out_hw: tuple[int, int], xp: Any) -> Any:
    """out[n, c].flat[idx[n, c, p, q]] = x[n, c, p, q], zeros elsewhere: one fancy-index
    assignment over all N*C planes at once (each position is written at most once by a
    non-overlapping pool)."""
    n, c = x.shape[:2]
    plane = out_hw[0] * out_hw[1]
    out = xp.zeros(n * c * plane, dtype=x.dtype)
    out[_flat_positions(idx, plane, xp).ravel()] = x.ravel()
    return out.reshape(n, c, *out_hw)


def _gather_array(g: Any, idx: Any, xp: Any) -> Any:
    """The adjoint of the unpool scatter: y[n, c, p, q] = g[n, c].flat[idx[n, c, p, q]]."""
    plane = g.shape[2] * g.shape[3]
    return xp.take(g.reshape(-1), _flat_positions(idx, plane, xp))


def windows(x: Any, kernel: Pair, stride: Pair, xp: Any) -> Any:
    """Every kH x kW window ``stride`` apart, as a strided view (no copy) of shape
    (N, C, H_out, W_out, kH, kW): windows[n, c, p, q, i, j] = x[n, c, p*s + i, q*s + j]."""
    view = xp.lib.stride_tricks.sliding_window_view(x, kernel, axis=(2, 3))
    return view[:, :, :: stride[0], :: stride[1]]


def max_pool2d_array(x: Any, kernel: Pair, stride: Pair, padding: Pair, xp: Any) -> tuple[Any, Any]:
    """y = the max of every window (padding counts as -inf), idx = where it was: the flat position
    ``row * W + col`` in the (n, c) input plane of the first maximum in row-major window order."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    w = x.shape[3]
    fill = -numpy.inf if is_float(x.dtype) else numpy.iinfo(x.dtype).min
    win = windows(_pad(x, padding, fill, xp), kernel, stride, xp)
    n, c, ho, wo = win.shape[:4]
    flat = win.reshape(n, c, ho, wo, kh * kw)  # one row per window (a copy)
    arg = flat.argmax(axis=-1)  # the first maximum wins ties
    y = xp.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
    rows = (xp.arange(ho) * sh - ph).reshape(ho, 1) + arg // kw  # window offset -> input row
    cols = xp.arange(wo) * sw - pw + arg % kw
    return y, (rows * w + cols).astype(numpy.int64)


class MaxPool2dFunction(Function):
    """y[n, c, p, q] = max over the window {x_pad[n, c, p*s + i, q*s + j]} (padding = -inf).

    Two outputs: the values and the indices, the flat position ``row * W + col`` of each maximum
    in its input plane (the first maximum in row-major order on ties; int64, no gradient).
    Backward: the gradient goes to that position only -- for non-overlapping windows that is
    exactly :func:`max_unpool2d` of dy; overlapping windows add up where one pixel won several.
    """

    def __init__(self, kernel: Pair, stride: Pair, padding: Pair) -> None:
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x: Any) -> tuple[Any, Any]:
        y, idx = max_pool2d_array(x, self.kernel, self.stride, self.padding, self.xp)
        self.save_for_backward(idx)
        self.in_shape = x.shape
        return y, idx

    def backward(self, gy: Any, g_indices: Any) -> Any:
        xp, (idx,) = self.xp, self.saved_tensors
        n, c, h, w = self.in_shape
        (kh, kw), (sh, sw) = self.kernel, self.stride
        if sh >= kh and sw >= kw:  # windows do not overlap: unpool the gradient
            return _unpool_array(gy, idx, (h, w), xp)
        # overlapping windows: one pixel may win several windows, so the gradients are summed
        flat = _flat_positions(idx, h * w, xp).ravel()
        return (
            xp.bincount(flat, weights=gy.ravel(), minlength=n * c * h * w)
            .astype(gy.dtype, copy=False)
            .reshape(n, c, h, w)
        )


class MaxUnpool2dFunction(Function):
    """Deck 002's max-unpooling (the SegNet decoder): out[n, c].flat[idx] = x, zeros elsewhere.

    Backward gathers: dx[n, c, p, q] = dy[n, c].flat[idx[n, c, p, q]]; indices get no gradient.
    """

    def __init__(self, out_hw: tuple[int, int]):
        self.out_hw = out_hw

    def forward(self, x: Any, indices: Any) -> Any:
        self.save_for_backward(indices)
        return _unpool_array(x, indices, self.out_hw, self.xp)

    def backward(self, gy: Any) -> Any:
        (indices,) = self.saved_tensors
        return _gather_array(gy, indices, self.xp), None


class AvgPool2dFunction(Function):
    """y[n, c, p, q] = (1 / (kH kW)) sum_{i,j} x_pad[n, c, p*s + i, q*s + j] (zero padding counted,
    as PyTorch's default count_include_pad=True). Backward spreads dy / (kH kW) over each window."""

    def __init__(self, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]):
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x: Any) -> Any:
        xp = self.xp
        x = x if is_float(x.dtype) else x.astype(DEFAULT_FLOAT)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        h, w = x.shape[2:]
        self.in_shape = x.shape
        self.out_hw = (sizes.pool_output_size(h, kh, sh, ph), sizes.pool_output_size(w, kw, sw, pw))
        y = windows(_pad(x, self.padding, 0, xp), self.kernel, self.stride, xp).sum(axis=(4, 5))
        y *= 1.0 / (kh * kw)
        return y

    def backward(self, gy: Any) -> Any:
        xp = self.xp
        (kh, kw), (ph, pw) = self.kernel, self.padding
        n, c, h, w = self.in_shape
        g = gy * (1.0 / (kh * kw))
        gx = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=gy.dtype)
        for t in range(kh * kw):
            _window(gx, t // kw, t % kw, self.stride, self.out_hw)[...] += g
        return gx[:, :, ph : ph + h, pw : pw + w]


def _adaptive_matrix(n_in: int, n_out: int, xp: Any, dtype: Any) -> Any:
    """A[i, r] = 1 / len(bin i) for rows r in bin i
    = [floor(i n_in / n_out), ceil((i+1) n_in / n_out))."""
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

    def forward(self, x: Any) -> Any:
        xp = self.xp
        x = x if is_float(x.dtype) else x.astype(DEFAULT_FLOAT)
        ah = _adaptive_matrix(x.shape[2], self.out_hw[0], xp, x.dtype)
        aw = _adaptive_matrix(x.shape[3], self.out_hw[1], xp, x.dtype)
        self.save_for_backward(ah, aw)
        return ah @ (x @ aw.T)

    def backward(self, gy: Any) -> Any:
        ah, aw = self.saved_tensors
        return ah.T @ (gy @ aw)


# ----------------------------------------------------------------------------------------------
# public functions


def _pool_args(
    op: str, x: Tensor, kernel_size: IntOrPair, stride: IntOrPair | None, padding: IntOrPair
) -> tuple[tuple[int, int], ...]:
    sizes.check_4d(x, op)
    k = pair(kernel_size, "kernel_size", op, 1)
    s = k if stride is None else pair(stride, "stride", op, 1)
    p = pair(padding, "padding", op, 0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(
            f"{op}: padding {p} must be at most half the kernel size {k} "
            "(otherwise a window could hold padding only)"
        )
    sizes.check_window_fits(op, x.shape, k, p)
    return k, s, p


def _no_ceil_mode(op: str, ceil_mode: bool, dilation: IntOrPair = 1) -> None:
    """PyTorch's pooling arguments that are not implemented here: refused unless left default."""
    if ceil_mode:
        raise ValueError(
            f"{op}: ceil_mode=True is not implemented (windows that start past the end are "
            "dropped, floor mode); pad the input on the bottom / right with F.pad instead"
        )
    if pair(dilation, "dilation", op, 1) != (1, 1):
        raise ValueError(f"{op}: dilation={dilation!r} is not implemented (only 1)")


def max_pool2d(
    x: Any,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max over kH x kW windows ``stride`` apart (stride defaults to the kernel size; padding counts
    as -inf). With ``return_indices=True`` also returns the flat position ``row * W + col`` of each
    maximum within its (n, c) input plane, an int64 Tensor of the output's shape (no gradient),
    which :func:`max_unpool2d` uses to put values back ("remember the positions", deck 002).
    The arguments are PyTorch's, in its order; ``dilation`` other than 1 and ``ceil_mode=True``
    are refused (not implemented).
    """
    op = "max_pool2d"
    _no_ceil_mode(op, ceil_mode, dilation)
    x = as_tensor(x)
    k, s, p = _pool_args(op, x, kernel_size, stride, padding)
    y, indices = paths.pick(MaxPool2dFunction)(k, s, p)(x)
    return (y, indices) if return_indices else y


def max_unpool2d(
    x: Any,
    indices: Any,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    output_size: IntOrPair | None = None,
) -> Tensor:
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
        raise ValueError(
            f"{op}: indices must have the shape of the input (one position per "
            f"value), got indices {tuple(idx.shape)} for input {tuple(x.shape)}; "
            "pass the indices max_pool2d returned for this tensor"
        )
    if idx.dtype.kind not in "iu":
        raise ValueError(f"{op}: indices must be integers (flat positions), got dtype {idx.dtype}")
    h, w = x.shape[2:]
    default = (
        sizes.unpool_output_size(h, k[0], s[0], p[0]),
        sizes.unpool_output_size(w, k[1], s[1], p[1]),
    )
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
                    f"(kernel {k}, stride {s}, padding {p})"
                )
    if idx.data.size:  # Tensor.size is a method (always true): the array's count
        lo, hi = int(idx.data.min()), int(idx.data.max())
        if lo < 0 or hi >= out_hw[0] * out_hw[1]:
            raise ValueError(
                f"{op}: indices range over [{lo}, {hi}] but an output plane "
                f"{out_hw[0]}x{out_hw[1]} has positions "
                f"0..{out_hw[0] * out_hw[1] - 1}; "
                "pass output_size = the pooled input's (H, W)"
            )
    return MaxUnpool2dFunction(out_hw)(x, idx)


def avg_pool2d(
    x: Any,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Mean over kH x kW windows ``stride`` apart (stride defaults to the kernel size), with
    PyTorch's arguments in its order: the zero padding is counted (``count_include_pad=True``,
    the default) or not (each window divided by its number of input pixels);
    ``divisor_override`` d divides every window sum by d instead. ``ceil_mode=True`` is refused
    (not implemented).
    """
    op = "avg_pool2d"
    _no_ceil_mode(op, ceil_mode)
    x = as_tensor(x)
    k, s, p = _pool_args(op, x, kernel_size, stride, padding)
    y = AvgPool2dFunction(k, s, p)(x)  # window sum / (kH kW)
    if divisor_override is not None:
        if (
            isinstance(divisor_override, bool)
            or not isinstance(divisor_override, int)
            or (divisor_override < 1)
        ):
            raise ValueError(
                f"{op}: divisor_override must be a positive int, got {divisor_override!r}"
            )
        return y * (k[0] * k[1] / divisor_override)
    if not count_include_pad and p != (0, 0):
        # the fraction of each window inside the input: the mean of a padded map of ones
        xp = x.xp
        ones = xp.ones((1, 1) + x.shape[2:], dtype=y.dtype)
        inside = windows(_pad(ones, p, 0, xp), k, s, xp).mean(axis=(4, 5))
        return y * Tensor(1.0 / inside)
    return y


def adaptive_avg_pool2d(x: Any, output_size: IntOrPair) -> Tensor:
    """Average-pool to a fixed ``output_size`` (int or (h, w)) whatever the input size: PSPNet's
    pyramid pooling uses bins 1 (global average), 2, 3 and 6. Bin i covers rows
    floor(i H / h_out) .. ceil((i+1) H / h_out) - 1 (PyTorch's windows)."""
    op = "adaptive_avg_pool2d"
    x = as_tensor(x)
    sizes.check_4d(x, op)
    out_hw = pair(output_size, "output_size", op, 1)
    return AdaptiveAvgPool2dFunction(out_hw)(x)
