"""Resizing: ``interpolate`` / ``upsample`` (nearest, bilinear) and U-Net's ``center_crop``.

Both interpolation modes are *separable*: every output row mixes input rows with fixed weights, and
every output column mixes input columns, so ``y = A_h @ x @ A_w^T`` with two small matrices
(one-hot rows for nearest, two weights per row for bilinear) and the backward pass is
``dx = A_h^T @ dy @ A_w``. Definitions follow PyTorch:

* nearest: output pixel o copies input pixel floor(o * in / out) (floor(o / scale_factor) when a
  scale factor is given);
* bilinear, ``align_corners=True``: the corner pixels of input and output are aligned,
  src = o * (in - 1) / (out - 1);
* bilinear, ``align_corners=False`` (default): pixels are squares, their centres are aligned,
  src = max((o + 0.5) * in / out - 0.5, 0) (in / out replaced by 1 / scale_factor when given);
  then y = (1 - l) x[i0] + l x[i1] with i0 = floor(src), i1 = min(i0 + 1, in - 1), l = src - i0.

With a ``scale_factor``, an axis whose size does not change (out = floor(in * s) = in, e.g. 3 rows
times 1.25) is copied, and nearest with out = 2 * in takes floor(o / 2), whatever the factor:
PyTorch's CPU kernels do the same (its CUDA kernels apply the 1 / scale_factor formula there).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy

from .. import backend
from ..autograd import DEFAULT_FLOAT, Function, Tensor, as_tensor
from ..backend import Array
from ..validation import is_float
from . import sizes
from .basic import getitem
from .sizes import IntOrPair, pair

__all__ = ["interpolate", "upsample", "center_crop"]

MODES = ("nearest", "bilinear")


def _nearest_source(n_in: int, n_out: int, scale: float | None, xp: Any) -> Any:
    """The input index each output index copies, computed as PyTorch's kernels do: in float32,
    src = floor(o * s) with s = float32(in) / float32(out), or float32(1 / scale_factor), then
    min(src, in - 1); a kept size copies and out = 2 in takes o // 2 (PyTorch's CPU shortcuts).
    The float32 product can land just below an integer (in 2 -> out 82: o = 41 gives 0.99999994,
    index 0, not floor(41 * 2 / 82) = 1): the pixels PyTorch picks, not the exact-arithmetic
    ones. (PyTorch's float64 kernels agree with this in all but a few sizes above 100.)"""
    o = xp.arange(n_out)
    if n_out in (n_in, 2 * n_in):
        return o * n_in // n_out
    f32 = numpy.float32
    s = f32(n_in) / f32(n_out) if scale is None else f32(1.0 / scale)
    src = xp.floor(o.astype(f32) * s).astype(o.dtype)
    return xp.minimum(src, n_in - 1)


def _is_repeat(n_in: int, n_out: int, scale: float | None) -> bool:
    """Whether nearest copies blocks of n_out / n_in (then the op is a plain repeat)."""
    host = backend.xp_for("cpu")  # a few host indices, whatever the device of the data
    src = _nearest_source(n_in, n_out, scale, host)
    return bool((src == host.arange(n_out) // (n_out // n_in)).all())


def _interp_matrix(
    n_in: int, n_out: int, mode: str, align_corners: bool, scale: float | None, xp: Any, dtype: Any
) -> Any:
    """A (n_out, n_in) with y = A @ x along one axis (the 1-D interpolation as a matrix)."""
    o = xp.arange(n_out)
    a = xp.zeros((n_out, n_in), dtype=dtype)
    if mode == "nearest":
        a[o, _nearest_source(n_in, n_out, scale, xp)] = 1
        return a
    if n_out == n_in:
        scale = None  # PyTorch's shortcut: a kept size is a copy
    if align_corners:
        src = o * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        step = n_in / n_out if scale is None else 1.0 / scale
        src = xp.maximum((o + 0.5) * step - 0.5, 0.0)
    i0 = xp.minimum(xp.floor(src).astype(o.dtype), n_in - 1)
    i1 = xp.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    a[o, i0] += 1 - lam
    a[o, i1] += lam
    return a


class InterpolateFunction(Function):
    """y = A_h @ x @ A_w^T (separable nearest / bilinear interpolation); dx = A_h^T @ dy @ A_w.

    Nearest upsampling by whole factors is a plain repeat (backward: sum over each block).
    """

    def __init__(
        self,
        out_hw: tuple[int, int],
        mode: str,
        align_corners: bool,
        scale: tuple[float, float] | None,
    ):
        self.out_hw, self.mode, self.align_corners, self.scale = out_hw, mode, align_corners, scale

    def forward(self, x: Array) -> Array:
        xp = self.xp
        x = x if is_float(x.dtype) else x.astype(DEFAULT_FLOAT)
        n, c, h, w = x.shape
        oh, ow = self.out_hw
        self.in_shape = x.shape
        sh, sw = self.scale if self.scale is not None else (None, None)
        self.repeat = (  # nearest by whole factors that copy blocks: a plain repeat
            self.mode == "nearest"
            and oh % h == 0
            and ow % w == 0
            and _is_repeat(h, oh, sh)
            and _is_repeat(w, ow, sw)
        )
        if self.repeat:
            fh, fw = oh // h, ow // w
            return xp.ascontiguousarray(
                xp.broadcast_to(x.reshape(n, c, h, 1, w, 1), (n, c, h, fh, w, fw))
            ).reshape(n, c, oh, ow)
        ah = _interp_matrix(h, oh, self.mode, self.align_corners, sh, xp, x.dtype)
        aw = _interp_matrix(w, ow, self.mode, self.align_corners, sw, xp, x.dtype)
        self.save_for_backward(ah, aw)
        t = (x.reshape(-1, w) @ aw.T).reshape(n * c, h, ow)
        return (ah @ t).reshape(n, c, oh, ow)

    def backward(self, gy: Array) -> Array:
        n, c, h, w = self.in_shape
        oh, ow = self.out_hw
        if self.repeat:
            return gy.reshape(n, c, h, oh // h, w, ow // w).sum(axis=(3, 5))
        ah, aw = self.saved_tensors
        t = (gy.reshape(-1, ow) @ aw).reshape(n * c, oh, w)
        return (ah.T @ t).reshape(n, c, h, w)


def interpolate(
    x: Any,
    size: IntOrPair | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Tensor:
    """Resize the last two axes of ``x`` (N, C, H, W) to ``size`` (int or (h, w)) or by
    ``scale_factor`` (output = floor(H * scale_factor)). ``mode``: ``"nearest"`` or
    ``"bilinear"``; ``align_corners`` (bilinear only, default False) as in PyTorch: True aligns the
    corner pixels, False aligns pixel centres (the module docstring gives both formulas).
    """
    op = "interpolate"
    x = as_tensor(x)
    sizes.check_4d(x, op)
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {MODES}, got {mode!r}")
    if align_corners is not None and mode == "nearest":
        raise ValueError(f"{op}: align_corners only applies to mode='bilinear' (got mode={mode!r})")
    align = bool(align_corners)
    h, w = x.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError(
            f"{op}: give exactly one of size and scale_factor "
            f"(got size={size!r}, scale_factor={scale_factor!r})"
        )
    scale = None
    if size is not None:
        out_hw = pair(size, "size", op, 1)
    else:
        sf = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * 2
        if len(sf) != 2 or not all(isinstance(v, (int, float)) and v > 0 for v in sf):
            raise ValueError(
                f"{op}: scale_factor must be a positive number or pair, got {scale_factor!r}"
            )
        scale = (float(sf[0]), float(sf[1]))
        out_hw = (int(math.floor(h * scale[0])), int(math.floor(w * scale[1])))
        if min(out_hw) < 1:
            raise ValueError(
                f"{op}: scale_factor {scale_factor} shrinks input {tuple(x.shape)} "
                f"to {out_hw}; the output needs at least one row and column"
            )
    return InterpolateFunction(out_hw, mode, align, scale)(x)


def upsample(
    x: Any,
    size: IntOrPair | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Tensor:
    """Alias of :func:`interpolate` (PyTorch's older name)."""
    return interpolate(x, size, scale_factor, mode, align_corners)


def center_crop(x: Any, size: IntOrPair) -> Tensor:
    """Keep the central ``size`` = h x w (int or pair) of the last two axes (U-Net's
    crop-and-concatenate: the encoder map is cropped to the decoder map's size). When the margin
    is odd, the extra row/column is dropped at the bottom/right (top = (H - h) // 2)."""
    op = "center_crop"
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{op}: needs at least 2 axes (..., H, W), got shape {tuple(x.shape)}")
    th, tw = pair(size, "size", op, 1)
    h, w = x.shape[-2:]
    if th > h or tw > w:
        raise ValueError(
            f"{op}: cannot crop {h}x{w} (shape {tuple(x.shape)}) to a larger "
            f"{th}x{tw}; the crop size must be at most the input size"
        )
    top, left = (h - th) // 2, (w - tw) // 2
    if (th, tw) == (h, w):
        return x
    return getitem(x, (Ellipsis, slice(top, top + th), slice(left, left + tw)))
