"""Convolution (im2col + one GEMM) and transposed convolution (the lecture's splat + crop).

Shapes follow PyTorch: ``x`` is (N, C, H, W); a convolution weight is (C_out, C_in/groups, kH, kW);
a transposed-convolution weight is (C_in, C_out/groups, kH, kW).

How the convolution is computed (deck 001: "convolution is a banded matrix times the input"):

1. **im2col**: every window the kernel visits is copied into one column of a matrix ``cols`` of
   shape (C*kH*kW, N*H_out*W_out). The copy is made one kernel offset (i, j) at a time from a
   strided view of the input, in the order (C, kH, kW, N, H_out, W_out), so that every inner copy
   runs along a contiguous image row (about 10x faster than a (N, H, W, C, kH, kW) order).
   Padding is never materialised: the border entries of ``cols`` are set to zero directly.
2. **one GEMM**: ``y = W.reshape(C_out, C*kH*kW) @ cols`` (a batched matmul over groups), written
   straight into the (N, C_out, H_out, W_out) output on the CPU.

Large scratch buffers (im2col matrices, splat stamps) are recycled between calls by a small
workspace (:class:`_Workspace`): a fresh 20 MB array costs as much in page faults as the copy.

Backward is built from the same two forward ops, as the lecture says:

* the gradient of a convolution w.r.t. its input IS a transposed convolution of the output
  gradient (same weight, same stride / padding / dilation);
* the gradient of a transposed convolution w.r.t. its input IS a convolution;
* weight gradients are one GEMM with the im2col matrix.

The transposed convolution is one GEMM (``W^T @ x``: every input value times the whole kernel)
followed by the *splat*: the kH*kW kernel-offset planes are added into the output ``stride`` apart
(a loop over kernel offsets adding strided slices, never a scatter), rows/columns that the *crop*
(``padding``) removes being skipped. With stride 1 it is also a convolution with the
180-degree-rotated kernel (deck 001), which is faster when the channel count does not shrink.
"""

from __future__ import annotations

from typing import Any

import numpy

from ..autograd import DEFAULT_FLOAT, Function, Tensor, _is_float, as_tensor, is_grad_enabled
from . import sizes
from .sizes import IntOrPair, pair

__all__ = ["conv2d", "conv_transpose2d"]  # the Function classes: functional.conv.Conv2d, ...


# ----------------------------------------------------------------------------------------------
# array-level building blocks (work on numpy and cupy arrays alike; xp is the array module)


def _is_cpu(xp: Any) -> bool:
    return xp.__name__ == "numpy"


class _Workspace:
    """Recycles large scratch buffers (im2col matrices, splat stamps) between calls, on the CPU.

    A freshly allocated 20 MB array costs one page fault per 4 KB page on first touch, about as
    long as the im2col copy itself; training repeats the same shapes every step, so a buffer given
    back (after the GEMM that read it, or when the graph holding it is freed) is handed out again.
    Buffers are never exposed to users. Bounded: at most ``per_key`` buffers per shape and
    ``max_bytes`` in all (64 MB: enough for the
    largest im2col matrices of the default models, little enough to keep a training step's peak
    memory within 2x of PyTorch's). CuPy has its own memory pool, so on the GPU this just allocates.
    """

    def __init__(self, max_bytes: int = 64 * 2 ** 20, per_key: int = 8, min_bytes: int = 2 ** 20):
        self.max_bytes, self.per_key, self.min_bytes = max_bytes, per_key, min_bytes
        self.free: dict[tuple, list] = {}
        self.bytes = 0

    def take(self, shape: tuple[int, ...], dtype: Any, xp: Any) -> Any:
        """An uninitialised array (like ``xp.empty``), reused when one of this shape is free."""
        stack = self.free.get((tuple(shape), numpy.dtype(dtype))) if _is_cpu(xp) else None
        if stack:
            buf = stack.pop()
            self.bytes -= buf.nbytes
            return buf
        return xp.empty(shape, dtype=dtype)

    def give(self, buf: Any) -> None:
        """Hand a buffer back; it must not be used afterwards."""
        if type(buf) is not numpy.ndarray or buf.base is not None or buf.nbytes < self.min_bytes:
            return
        stack = self.free.setdefault((buf.shape, buf.dtype), [])
        if len(stack) < self.per_key and self.bytes + buf.nbytes <= self.max_bytes:
            stack.append(buf)
            self.bytes += buf.nbytes

    def clear(self) -> None:
        self.free.clear()
        self.bytes = 0


_WORKSPACE = _Workspace()

# Memory vs. time: keep each conv's im2col matrix from forward to backward (one k*k-times-the-input
# buffer per layer alive at once), or rebuild it in backward from the input (one extra copy per
# layer, ~5% of a U-Net step; a fraction of the memory). Rebuilding is the default.
KEEP_IM2COL = False


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _valid_range(n_in: int, n_out: int, offset: int, stride: int) -> tuple[int, int]:
    """Output positions o in [lo, hi) whose input row o*stride + offset lies inside [0, n_in)."""
    lo = max(0, _ceil_div(-offset, stride))
    hi = min(n_out, (n_in - 1 - offset) // stride + 1)
    return lo, max(lo, hi)


def _im2col(x: Any, kernel: tuple[int, int], stride: tuple[int, int], pad_lo: tuple[int, int],
            out_hw: tuple[int, int], dilation: tuple[int, int], xp: Any) -> Any:
    """x (N, C, H, W) -> cols (C, kH, kW, N, H_out, W_out): cols[c, i, j, n, p, q] is the padded
    input x_pad[n, c, p*s + i*d, q*s + j*d] (zero outside the image; pad_lo rows/cols before it)."""
    n, c, h, w = x.shape
    kh, kw = kernel
    (sh, sw), (dh, dw), (ph, pw) = stride, dilation, pad_lo
    ho, wo = out_hw
    cols = _WORKSPACE.take((c, kh, kw, n, ho, wo), x.dtype, xp)  # every entry is written below
    xt = x.transpose(1, 0, 2, 3)  # a view: (C, N, H, W)
    for i in range(kh):
        r0 = i * dh - ph  # input row of output row 0
        alo, ahi = _valid_range(h, ho, r0, sh)
        for j in range(kw):
            c0 = j * dw - pw
            blo, bhi = _valid_range(w, wo, c0, sw)
            dst = cols[:, i, j]
            if ahi > alo and bhi > blo:
                ra, ca = alo * sh + r0, blo * sw + c0
                dst[:, :, alo:ahi, blo:bhi] = xt[:, :, ra:ra + (ahi - alo - 1) * sh + 1:sh,
                                                 ca:ca + (bhi - blo - 1) * sw + 1:sw]
            # the zero border (padding), written only where there is one
            if alo > 0:
                dst[:, :, :alo] = 0
            if ahi < ho:
                dst[:, :, ahi:] = 0
            if blo > 0:
                dst[:, :, alo:ahi, :blo] = 0
            if bhi < wo:
                dst[:, :, alo:ahi, bhi:] = 0
    return cols


def _gemm_nchw(w2: Any, cols: Any, n: int, out_hw: tuple[int, int], groups: int, xp: Any) -> Any:
    """y (N, C_out, H_out, W_out) = W (G, C_out/G, K) @ cols (G*K, N*H_out*W_out), per group."""
    g, cog, k = w2.shape
    ho, wo = out_hw
    if g == 1 and _is_cpu(xp):
        # one GEMM per batch item straight into the NCHW output (BLAS reads the strided columns;
        # nothing is transposed afterwards)
        y = xp.empty((n, cog, ho * wo), dtype=xp.result_type(w2, cols))
        xp.matmul(w2[0], cols.reshape(k, n, ho * wo).transpose(1, 0, 2), out=y)
        return y.reshape(n, cog, ho, wo)
    y = xp.matmul(w2, cols.reshape(g, k, n * ho * wo))  # (G, C_out/G, L)
    return xp.ascontiguousarray(y.reshape(g * cog, n, ho, wo).transpose(1, 0, 2, 3))


def _conv2d_array(x: Any, w: Any, stride: tuple[int, int], pad_lo: tuple[int, int],
                  pad_hi: tuple[int, int], dilation: tuple[int, int], groups: int, xp: Any,
                  keep_cols: bool = False) -> tuple[Any, Any]:
    """Cross-correlation y[n, o, p, q] = sum_{c,i,j} x_pad[n, c, p s + i d, q s + j d] w[o, c, i, j]
    with asymmetric zero padding (pad_lo before, pad_hi after; negative values crop). Returns
    (y, cols) where cols is the im2col matrix when keep_cols (for the weight gradient)."""
    x = _crop_negative(x, pad_lo, pad_hi)
    pad_lo = (max(pad_lo[0], 0), max(pad_lo[1], 0))
    pad_hi = (max(pad_hi[0], 0), max(pad_hi[1], 0))
    n, c, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    ho = (h + pad_lo[0] + pad_hi[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + pad_lo[1] + pad_hi[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    cols = _im2col(x, (kh, kw), stride, pad_lo, (ho, wo), dilation, xp)
    w2 = w.reshape(groups, cout // groups, cg * kh * kw)
    y = _gemm_nchw(w2, cols, n, (ho, wo), groups, xp)
    if keep_cols:
        return y, cols
    _WORKSPACE.give(cols)
    return y, None


def _crop_negative(x: Any, lo: tuple[int, int], hi: tuple[int, int]) -> Any:
    """Negative padding means cropping: drop -lo / -hi rows and columns (a view)."""
    if min(lo + hi) >= 0:
        return x
    h, w = x.shape[-2:]
    return x[..., max(-lo[0], 0):h - max(-hi[0], 0), max(-lo[1], 0):w - max(-hi[1], 0)]


def _conv2d_weight_grad(cols: Any, gy: Any, w_shape: tuple[int, ...], groups: int, xp: Any) -> Any:
    """dW[o, c, i, j] = sum_{n,p,q} gy[n, o, p, q] cols[c, i, j, n, p, q]: one GEMM per group.

    Computed as (cols @ dy^T)^T: with the long axis N*H*W as the inner dimension, OpenBLAS runs
    this orientation about 1.5x faster than dy @ cols^T when C_out is small."""
    cout, k = w_shape[0], int(w_shape[1] * w_shape[2] * w_shape[3])
    gy2 = gy.transpose(1, 0, 2, 3).reshape(groups, cout // groups, -1)  # (G, C_out/G, L)
    cols2 = cols.reshape(groups, k, -1)  # (G, K, L)
    return xp.ascontiguousarray(xp.matmul(cols2, gy2.transpose(0, 2, 1)).transpose(0, 2, 1)
                                ).reshape(w_shape)


def _flip_transpose(w: Any, groups: int) -> Any:
    """(C_in, C_out/G, kH, kW) transposed-conv weight -> the conv weight (C_out, C_in/G, kH, kW)
    with the kernel rotated 180 degrees."""
    cin, cog, kh, kw = w.shape
    wg = w.reshape(groups, cin // groups, cog, kh, kw).transpose(0, 2, 1, 3, 4)
    return wg.reshape(groups * cog, cin // groups, kh, kw)[:, :, ::-1, ::-1]


def _conv_transpose2d_array(x: Any, w: Any, stride: tuple[int, int], padding: tuple[int, int],
                            out_hw: tuple[int, int], dilation: tuple[int, int], groups: int,
                            xp: Any, method: str = "auto", bias: Any = None) -> Any:
    """Transposed convolution of x (N, C_in, H, W) with w (C_in, C_out/G, kH, kW), output cropped by
    ``padding`` at the top/left and sized ``out_hw`` (the extra rows of output_padding at the
    bottom/right). The exact adjoint of :func:`_conv2d_array`.

    ``method``: ``"splat"`` (one GEMM W^T x, then the kernel-offset planes added stride apart) or
    ``"conv"`` (stride 1 only: a convolution with the rotated kernel); ``"auto"`` picks the one
    that moves less memory: the splat's buffer has C_out*kH*kW rows and is added kH*kW times, the
    convolution's im2col has C_in*kH*kW rows and is written once (measured: the convolution wins
    when C_in < 2 C_out, e.g. the input gradient of 16->16 or 32->32 layers; the splat when the
    channel count shrinks, e.g. the input gradient of 3->16 or 64->128 layers).
    """
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    cout = groups * cog
    if method == "auto":
        method = "conv" if (sh, sw) == (1, 1) and cin < 2 * cout else "splat"
    if method == "conv":
        # stride 1: a convolution with the rotated kernel over the input padded by d(k-1) - crop
        lo = (dh * (kh - 1) - padding[0], dw * (kw - 1) - padding[1])
        hi = (out_hw[0] - h - lo[0] + dh * (kh - 1), out_hw[1] - wd - lo[1] + dw * (kw - 1))
        y, _ = _conv2d_array(x, _flip_transpose(w, groups), (1, 1), lo, hi, dilation, groups, xp)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)
        return y
    # every input value times the whole kernel: (N, G, C_out/G * kH * kW, H*W), one GEMM per group
    w2 = w.reshape(groups, cin // groups, cog * kh * kw).transpose(0, 2, 1)
    if groups == 1:
        w2 = w2[0]
    x2 = x.reshape(n, cin, h * wd) if groups == 1 else x.reshape(n, groups, cin // groups, h * wd)
    if _is_cpu(xp):
        buf = _WORKSPACE.take(x2.shape[:-2] + (w2.shape[-2], h * wd), xp.result_type(w2, x2), xp)
        cols = xp.matmul(w2, x2, out=buf).reshape(n, cout, kh, kw, h, wd)
    else:
        buf = cols = xp.matmul(w2, x2).reshape(n, cout, kh, kw, h, wd)
    # the splat: each kernel-offset plane goes stride apart into the cropped output (rows that
    # the crop removes are never written); planes are added where the stamps overlap
    ph, pw = padding
    overlap = dh * (kh - 1) >= sh or dw * (kw - 1) >= sw
    tiles = (kh, kw) == (sh, sw) and (dh, dw) == (1, 1) and (ph, pw) == (0, 0) and \
        tuple(out_hw) == (h * sh, wd * sw)  # every output pixel is written exactly once
    out = (xp.empty if tiles else xp.zeros)((n, cout, out_hw[0], out_hw[1]), dtype=cols.dtype)
    for i in range(kh):
        alo, ahi = _valid_range(out_hw[0], h, i * dh - ph, sh)
        if ahi <= alo:
            continue
        for j in range(kw):
            blo, bhi = _valid_range(out_hw[1], wd, j * dw - pw, sw)
            if bhi <= blo:
                continue
            r0, c0 = alo * sh + i * dh - ph, blo * sw + j * dw - pw
            dst = out[:, :, r0:r0 + (ahi - alo - 1) * sh + 1:sh, c0:c0 + (bhi - blo - 1) * sw + 1:sw]
            src = cols[:, :, i, j, alo:ahi, blo:bhi]
            if overlap:
                dst += src
            elif tiles and bias is not None:
                xp.add(src, bias.reshape(1, -1, 1, 1), out=dst)  # the bias rides along the copy
            else:
                dst[...] = src
    if bias is not None and not tiles:
        out += bias.reshape(1, -1, 1, 1)
    _WORKSPACE.give(buf)
    return out


# ----------------------------------------------------------------------------------------------
# argument checks


def _float_pair(x: Any, w: Any, xp: Any) -> tuple[Any, Any]:
    dt = xp.result_type(x.dtype if _is_float(x.dtype) else DEFAULT_FLOAT,
                        w.dtype if _is_float(w.dtype) else DEFAULT_FLOAT)
    return x.astype(dt, copy=False), w.astype(dt, copy=False)


def _check_conv_args(op: str, x: Any, w: Any, b: Any, groups: int, transposed: bool) -> None:
    sizes.check_4d(x, op)
    if getattr(w, "ndim", None) != 4:
        layout = "(C_in, C_out/groups, kH, kW)" if transposed else "(C_out, C_in/groups, kH, kW)"
        raise ValueError(f"{op}: expected a 4-D weight {layout}, got shape {tuple(w.shape)}")
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    c = x.shape[1]
    if transposed:
        if w.shape[0] != c:
            raise ValueError(
                f"{op}: input {tuple(x.shape)} has {c} channels but weight {tuple(w.shape)} expects "
                f"C_in = weight.shape[0] = {w.shape[0]} (transposed-conv weights are "
                "(C_in, C_out/groups, kH, kW))")
        if c % groups:
            raise ValueError(f"{op}: C_in = {c} is not divisible by groups = {groups}")
        cout = w.shape[1] * groups
    else:
        if w.shape[1] * groups != c:
            raise ValueError(
                f"{op}: input {tuple(x.shape)} has {c} channels but weight {tuple(w.shape)} with "
                f"groups={groups} expects C_in = weight.shape[1] * groups = {w.shape[1] * groups} "
                "(conv weights are (C_out, C_in/groups, kH, kW))")
        if w.shape[0] % groups:
            raise ValueError(f"{op}: C_out = weight.shape[0] = {w.shape[0]} is not divisible by "
                             f"groups = {groups} (weight {tuple(w.shape)})")
        cout = w.shape[0]
    if b is not None and tuple(b.shape) != (cout,):
        raise ValueError(f"{op}: bias must have shape ({cout},) (one per output channel), "
                         f"got {tuple(b.shape)} for weight {tuple(w.shape)}")


# ----------------------------------------------------------------------------------------------
# the two ops


class Conv2dFunction(Function):
    """y[n, o, p, q] = b[o] + sum_{c, i, j} x_pad[n, c, p*s + i*d, q*s + j*d] * w[o, c, i, j]

    (deck 001: y(i,j,l) = b_l + sum_{s,t,k} x(i+s, j+t, k) w_l(s,t,k); strided, dilated ("atrous",
    deck 002), zero-padded, channels split into ``groups``). Computed as im2col + one GEMM.

    Backward: dx = conv_transpose2d(dy, w) (same stride/padding/dilation/groups);
    dw = dy @ cols^T (one GEMM); db = sum of dy over N, H, W.
    """

    def __init__(self, stride: tuple[int, int], padding: tuple[int, int],
                 dilation: tuple[int, int], groups: int, keep_cols: bool = True):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.keep_cols = keep_cols  # the im2col matrix is kept only if dw will be needed

    def forward(self, x, w, b=None):
        xp = self.xp
        x, w = _float_pair(x, w, xp)
        keep = self.keep_cols and KEEP_IM2COL
        y, self.cols = _conv2d_array(x, w, self.stride, self.padding, self.padding, self.dilation,
                                     self.groups, xp, keep_cols=keep)
        # dW needs the im2col matrix again in backward: by default it is rebuilt there from x
        # (which the graph holds anyway) instead of keeping a kH*kW times larger matrix alive
        self.x = x if self.keep_cols and not keep else None
        self.w, self.in_hw = w, x.shape[2:]
        if b is not None:
            y += b.reshape(1, -1, 1, 1).astype(y.dtype, copy=False)
        return y

    def backward(self, gy):
        xp = self.xp
        x_t, w_t = self.inputs[0], self.inputs[1]
        gx = gw = gb = None
        if x_t.requires_grad:
            gx = _conv_transpose2d_array(gy, self.w, self.stride, self.padding, self.in_hw,
                                         self.dilation, self.groups, xp)
        if w_t.requires_grad:
            cols = self.cols
            if cols is None:  # rebuild im2col(x) in a recycled buffer
                cols = _im2col(self.x, self.w.shape[2:], self.stride, self.padding, gy.shape[2:],
                               self.dilation, xp)
            gw = _conv2d_weight_grad(cols, gy, self.w.shape, self.groups, xp)
            if self.cols is None:
                _WORKSPACE.give(cols)
        if len(self.inputs) > 2 and self.inputs[2].requires_grad:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb

    def release(self) -> None:
        # the graph is being freed: the im2col matrix kept for dW can serve the next step
        _WORKSPACE.give(getattr(self, "cols", None))
        self.cols = None
        super().release()


class ConvTranspose2dFunction(Function):
    """The lecture's transposed convolution (deck 003, step by step): multiply the kernel by each
    input value, place the products ``stride`` apart, add where they overlap (the *splat*), then
    *crop* ``padding`` rows/columns at every border (``output_padding`` adds rows/columns back at
    the bottom/right):

        y_full[n, o, p*s + i*d, q*s + j*d] += x[n, c, p, q] * w[c, o, i, j]
        y = y_full[..., crop : crop + H_out, crop : crop + W_out] + b

    It is the transpose (adjoint) of :class:`Conv2dFunction` with the same parameters (deck 001: the
    transposed matrix), so its backward is a convolution: dx = conv2d(dy, w); dw is one GEMM.
    """

    def __init__(self, stride: tuple[int, int], padding: tuple[int, int],
                 out_hw: tuple[int, int], dilation: tuple[int, int], groups: int):
        self.stride, self.padding, self.out_hw = stride, padding, out_hw
        self.dilation, self.groups = dilation, groups

    def forward(self, x, w, b=None):
        xp = self.xp
        x, w = _float_pair(x, w, xp)
        self.x, self.w = x, w
        return _conv_transpose2d_array(x, w, self.stride, self.padding, self.out_hw, self.dilation,
                                       self.groups, xp, bias=None if b is None else b.astype(
                                           x.dtype, copy=False))

    def backward(self, gy):
        xp = self.xp
        x_t, w_t = self.inputs[0], self.inputs[1]
        gx = gw = gb = None
        if x_t.requires_grad or w_t.requires_grad:
            # dy is the *input* of the adjoint convolution: its im2col serves both gradients
            g = self.groups
            cin, cog, kh, kw = self.w.shape
            h, wd = self.x.shape[2:]
            hi = tuple((n - 1) * s + d * (k - 1) + 1 - p - m for n, s, d, k, p, m in zip(
                (h, wd), self.stride, self.dilation, (kh, kw), self.padding, self.out_hw))
            gyc = _crop_negative(gy, self.padding, hi)  # drop output_padding rows beyond the splat
            cols = _im2col(gyc, (kh, kw), self.stride, self.padding, (h, wd), self.dilation, xp)
            if x_t.requires_grad:  # conv2d(dy, w): (G, C_in/G, C_out/G*k*k) @ cols
                gx = _gemm_nchw(self.w.reshape(g, cin // g, cog * kh * kw), cols,
                                gy.shape[0], (h, wd), g, xp)
            if w_t.requires_grad:  # dw[c, o, i, j] = sum x[n, c, p, q] cols[o, i, j, n, p, q]
                gw = _conv2d_weight_grad(cols, self.x, (cin, cog, kh, kw), g, xp)
            _WORKSPACE.give(cols)
        if len(self.inputs) > 2 and self.inputs[2].requires_grad:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb


def _geometry(op: str, stride: IntOrPair, padding: IntOrPair,
              dilation: IntOrPair) -> tuple[tuple[int, int], ...]:
    """Normalise and validate (stride >= 1, padding >= 0, dilation >= 1) to (h, w) pairs."""
    s = pair(stride, "stride", op, 1)
    p = pair(padding, "padding", op, 0)
    d = pair(dilation, "dilation", op, 1)
    return s, p, d


def conv2d(x: Any, weight: Any, bias: Any = None, stride: IntOrPair = 1, padding: IntOrPair = 0,
           dilation: IntOrPair = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch and deck 001).

    ``x`` (N, C_in, H, W), ``weight`` (C_out, C_in/groups, kH, kW), ``bias`` (C_out,) or None;
    ``stride``, ``padding`` (zeros added at every border), ``dilation`` (atrous: a 3x3 kernel with
    dilation 2 covers 5x5 with 9 weights) are ints or (h, w) pairs. Output (N, C_out, H_out, W_out)
    with H_out = floor((H + 2p - d(kH-1) - 1) / s) + 1.
    """
    op = "conv2d"
    x, weight = as_tensor(x), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    _check_conv_args(op, x, weight, bias, groups, transposed=False)
    s, p, d = _geometry(op, stride, padding, dilation)
    sizes.check_window_fits(op, x.shape, tuple(weight.shape[2:]), p, d)
    fn = Conv2dFunction(s, p, d, groups, keep_cols=weight.requires_grad and is_grad_enabled())
    return fn(x, weight) if bias is None else fn(x, weight, bias)


def conv_transpose2d(x: Any, weight: Any, bias: Any = None, stride: IntOrPair = 1,
                     padding: IntOrPair = 0, output_padding: IntOrPair = 0, dilation: IntOrPair = 1,
                     groups: int = 1, output_size: IntOrPair | None = None) -> Tensor:
    """Transposed ("fractionally strided", "deconvolution") 2-D convolution, as in deck 003:
    splat every input value times the kernel ``stride`` apart, sum the overlaps, then **crop**
    ``padding`` rows/columns at every border. (``padding`` is the lecture's *crop*: it removes
    rows, it does not add zeros.)

    ``x`` (N, C_in, H, W), ``weight`` (C_in, C_out/groups, kH, kW), ``bias`` (C_out,) or None.
    Output size::

        H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1

    with 0 <= output_padding < max(stride, dilation): extra rows/columns at the bottom/right, needed
    because a strided convolution maps several input sizes to one output size. ``output_size``
    (int, (h, w), or a full shape whose last two entries are used) picks output_padding for you
    and raises a ValueError listing the reachable sizes when it is impossible.
    It is the exact adjoint of :func:`conv2d` with the same weight and parameters.
    """
    op = "conv_transpose2d"
    x, weight = as_tensor(x), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    _check_conv_args(op, x, weight, bias, groups, transposed=True)
    s, p, d = _geometry(op, stride, padding, dilation)
    kh, kw = weight.shape[2:]
    h, w = x.shape[2:]
    if output_size is not None:
        target = tuple(output_size)[-2:] if not hasattr(output_size, "__index__") else output_size
        th, tw = pair(target, "output_size", op, 1)
        a = (sizes.output_padding_for(th, h, kh, s[0], p[0], d[0], op, "H"),
             sizes.output_padding_for(tw, w, kw, s[1], p[1], d[1], op, "W"))
    else:
        a = pair(output_padding, "output_padding", op, 0)
        for ai, si, di, name in zip(a, s, d, "HW"):
            if ai >= max(si, di):
                raise ValueError(
                    f"{op}: output_padding {tuple(a)} must be smaller than max(stride, dilation) = "
                    f"{max(si, di)} along {name} (stride {s}, dilation {d}); pass output_size "
                    "to choose the output size instead")
    out_hw = (sizes.conv_transpose_output_size(h, kh, s[0], p[0], a[0], d[0]),
              sizes.conv_transpose_output_size(w, kw, s[1], p[1], a[1], d[1]))
    if min(out_hw) < 1:
        raise ValueError(
            f"{op}: the crop (padding {p}) removes everything: input {tuple(x.shape)}, weight "
            f"{tuple(weight.shape)}, stride {s}, dilation {d} give a {out_hw[0]}x{out_hw[1]} output; "
            "use a smaller padding")
    fn = ConvTranspose2dFunction(s, p, out_hw, d, groups)
    return fn(x, weight) if bias is None else fn(x, weight, bias)
