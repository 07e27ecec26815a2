"""The fast path of the spatial ops: the same conv2d, conv_transpose2d and max-pool as
:mod:`~minisegnet.functional.conv` and :mod:`~minisegnet.functional.pool` (same formulas, results
equal to rounding, same gradients), arranged for memory traffic instead of for reading.

It is the default; :func:`~minisegnet.functional.fast_path` switches to the teaching path.
What it does differently (the benchmark table in benchmarks/results says what each is worth):

* **stride-1 convolutions** with outputs of 16x16 or more (on the CPU) skip im2col: the input is
  copied kW times (one copy per kernel column offset) and each kernel row is a strided view of
  that copy which BLAS reads in place: kH GEMMs per image, or one with the kernel rows stacked
  when there are few output channels (:func:`_conv2d_rows`); dW comes from the same copy;
* **im2col** (the other convolutions) is copied one kernel offset (i, j) at a time from a strided
  view of the input, in the order (C, kH, kW, N, H_out, W_out), so that every inner copy runs
  along a contiguous image row; padding is never materialised (the border entries are set to
  zero directly); matrices of at most 2.5 MB are kept from forward to backward for dW;
* 1x1 convolutions with stride 1 and no padding read the input directly;
* large scratch buffers (im2col matrices, row copies, splat stamps) are recycled between calls by
  a small workspace (:class:`_Workspace`); with ``KEEP_IM2COL`` a conv keeps its im2col matrix
  for dW;
* on the CPU the GEMM writes straight into the (N, C_out, H_out, W_out) output, one per image;
* the transposed convolution adds its kernel-offset planes straight into the cropped output
  (rows the crop removes are never written); when the stamps tile the output exactly (kernel =
  stride) the planes are copied, not added; with stride 1 and a channel count that does not
  shrink, or where that convolution takes the row shifts, it is computed as a convolution with
  the 180-degree-rotated kernel (``method="auto"``);
* max-pool is separable: first the best column of every window row, then the best row, keeping
  only maxima and small (int8) offsets.
"""

from __future__ import annotations

from typing import Any

import numpy

from ..validation import is_float
from . import conv, paths, pool, sizes

_float_pair = conv.float_pair
_window, _pad = pool._window, pool._pad


# ----------------------------------------------------------------------------------------------
# convolution: array-level building blocks (numpy and cupy arrays alike; xp is the array module)


def _is_cpu(xp: Any) -> bool:
    return xp.__name__ == "numpy"


class _Workspace:
    """Recycles large scratch buffers (im2col matrices, splat stamps) between calls, on the CPU.

    A freshly allocated large array costs one page fault per 4 KB page on first touch; training
    repeats the same shapes every step, so a buffer given back (after the GEMM that read it, or
    when the graph holding it is freed) is handed out again. Buffers are never exposed to users.
    Bounded: at most ``per_key`` buffers per shape and ``max_bytes`` in all (enough for the largest
    im2col matrices of the default models). CuPy has its own memory pool, so on the GPU this just
    allocates. :func:`clear` empties it.
    """

    def __init__(self, max_bytes: int = 64 * 2**20, per_key: int = 8, min_bytes: int = 2**20):
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
# layer; a fraction of the memory). Rebuilding is the default (benchmarks/results has the cost).
KEEP_IM2COL = False
# ... but im2col matrices of at most this many bytes are always kept (the U-Net's low-resolution
# layers: 9.4 MB in all at batch 8, for 4-9 % less time in each of those layers' steps)
KEEP_IM2COL_BYTES = 5 * 2**19

# Stride-1 convolutions on the CPU as kH GEMMs on row-shifted views of a kW-times copy of the
# input (:func:`_conv2d_rows`, :func:`_conv2d_weight_grad_rows`) instead of im2col's kH*kW-times
# copy + one GEMM: a third of the copying. Only for outputs of ROW_SHIFTS_MIN_PIXELS pixels or
# more: below, the per-image GEMMs are too small to pay.
ROW_SHIFTS = True
ROW_SHIFTS_MIN_PIXELS = 256
# ... and with at most this many output channels (and more than this many rows C*kW), the kH
# kernel rows are stacked into one taller GEMM (1.1-1.4x faster measured for 16 and 32 channels)
ROW_SHIFTS_STACK_MAX_COUT = 32
ROW_SHIFTS_STACK_MIN_K = 32


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _valid_range(n_in: int, n_out: int, offset: int, stride: int) -> tuple[int, int]:
    """Output positions o in [lo, hi) whose input row o*stride + offset lies inside [0, n_in)."""
    lo = max(0, _ceil_div(-offset, stride))
    hi = min(n_out, (n_in - 1 - offset) // stride + 1)
    return lo, max(lo, hi)


def _im2col(
    x: Any,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pad_lo: tuple[int, int],
    out_hw: tuple[int, int],
    dilation: tuple[int, int],
    xp: Any,
) -> Any:
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
                dst[:, :, alo:ahi, blo:bhi] = xt[
                    :,
                    :,
                    ra : ra + (ahi - alo - 1) * sh + 1 : sh,
                    ca : ca + (bhi - blo - 1) * sw + 1 : sw,
                ]
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


def _conv2d_array(
    x: Any,
    w: Any,
    stride: tuple[int, int],
    pad_lo: tuple[int, int],
    pad_hi: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    xp: Any,
    keep_cols: bool = False,
) -> tuple[Any, Any]:
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
    w2 = w.reshape(groups, cout // groups, cg * kh * kw)
    if groups == 1 and not keep_cols and _is_cpu(xp):
        if (kh, kw, ho, wo) == (1, 1, h, wd):
            # 1x1, stride 1, no padding: every image already is its own column matrix
            y = xp.matmul(w2[0], x.reshape(n, c, h * wd))
            return y.reshape(n, cout, ho, wo), None
        if _takes_rows(stride, (ho, wo), groups, xp):
            return _conv2d_rows(x, w, pad_lo, pad_hi, dilation, (ho, wo), xp), None
    cols = _im2col(x, (kh, kw), stride, pad_lo, (ho, wo), dilation, xp)
    y = _gemm_nchw(w2, cols, n, (ho, wo), groups, xp)
    if keep_cols:
        return y, cols
    _WORKSPACE.give(cols)
    return y, None


def _takes_rows(stride: tuple[int, int], out_hw: tuple[int, int], groups: int, xp: Any) -> bool:
    """Does a convolution with this stride, output size and groups take the row-shift path?"""
    big = out_hw[0] * out_hw[1] >= ROW_SHIFTS_MIN_PIXELS
    return ROW_SHIFTS and stride == (1, 1) and groups == 1 and big and _is_cpu(xp)


def _row_cols(
    x: Any,
    kw: int,
    pad_lo: tuple[int, int],
    pad_hi: tuple[int, int],
    dilation: tuple[int, int],
    wo: int,
    xp: Any,
) -> Any:
    """x (N, C, H, W) -> x3 (N, C, kW, H + pad rows, W_out), x3[n, c, j, r, q] = x_pad[n, c, r,
    q + j d]: only the kernel's column offsets are copied (kW copies of the input, not the kH kW
    of im2col); its row offsets are views into x3 (see :func:`_conv2d_rows`)."""
    n, c, h, w = x.shape
    (plh, plw), dw = pad_lo, dilation[1]
    hp = h + plh + pad_hi[0]
    x3 = _WORKSPACE.take((n, c, kw, hp, wo), x.dtype, xp)  # every entry is written below
    x3[:, :, :, :plh] = 0  # the zero rows above and below the image
    x3[:, :, :, plh + h :] = 0
    for j in range(kw):
        c0 = j * dw - plw  # input column of output column 0
        blo, bhi = _valid_range(w, wo, c0, 1)
        dst = x3[:, :, j, plh : plh + h]
        dst[..., blo:bhi] = x[..., blo + c0 : bhi + c0]
        dst[..., :blo] = 0
        dst[..., bhi:] = 0
    return x3


def _conv2d_rows(
    x: Any,
    w: Any,
    pad_lo: tuple[int, int],
    pad_hi: tuple[int, int],
    dilation: tuple[int, int],
    out_hw: tuple[int, int],
    xp: Any,
) -> Any:
    """A stride-1 convolution as kH GEMMs on shifted views, without an im2col matrix:

        y[n] = sum_i W_i (C_out, C kW) @ x3[n, :, :, i d : i d + H_out, :] (C kW, H_out W_out)

    where x3 (:func:`_row_cols`) holds the kW column offsets side by side; for kernel row i the
    rows i d ... i d + H_out - 1 of every (c, j) plane are one contiguous run, so the shifted
    window is a plain strided matrix that BLAS reads in place (one GEMM per image and row).

    With few output channels (a short, inefficient GEMM) the kernel rows are stacked instead:
    one GEMM per image gives P (kH C_out, all rows of x3) and the shift moves to the output,
    y = sum_i P[i, :, i d : i d + H_out]."""
    n, c = x.shape[:2]
    cout, _, kh, kw = w.shape
    ho, wo = out_hw
    x3 = _row_cols(x, kw, pad_lo, pad_hi, dilation, wo, xp)
    dt = xp.result_type(w, x3)
    if cout <= ROW_SHIFTS_STACK_MAX_COUT and c * kw > ROW_SHIFTS_STACK_MIN_K:
        hp = x3.shape[3]
        w_all = xp.ascontiguousarray(w.transpose(2, 0, 1, 3)).reshape(kh * cout, c * kw)
        p = _WORKSPACE.take((n, kh * cout, hp * wo), dt, xp)
        xp.matmul(w_all, x3.reshape(n, c * kw, hp * wo), out=p)
        _WORKSPACE.give(x3)
        p5 = p.reshape(n, kh, cout, hp, wo)
        d = dilation[0]
        y = p5[:, 0, :, :ho] + p5[:, 1, :, d : d + ho] if kh > 1 else p5[:, 0, :, :ho].copy()
        for i in range(2, kh):
            y += p5[:, i, :, i * d : i * d + ho]
        _WORKSPACE.give(p)
        return y
    y = xp.empty((n, cout, ho * wo), dtype=dt)
    part = None
    for i in range(kh):
        wi = xp.ascontiguousarray(w[:, :, i, :]).reshape(cout, c * kw)
        r0 = i * dilation[0]
        xi = x3[:, :, :, r0 : r0 + ho, :].reshape(n, c * kw, ho * wo)  # a view (see above)
        if i == 0:
            xp.matmul(wi, xi, out=y)
        else:
            part = xp.matmul(wi, xi, out=part)
            y += part
    _WORKSPACE.give(x3)
    return y.reshape(n, cout, ho, wo)


def _conv2d_weight_grad_rows(
    x: Any,
    gy: Any,
    w_shape: tuple[int, ...],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    xp: Any,
) -> Any:
    """dW of a stride-1 convolution from the row copy x3 (:func:`_row_cols`), kernel row by row:

        dW[:, :, i, :] = sum_n (x3[n, :, :, i d : i d + H_out, :] (C kW, H_out W_out) @ dy[n]^T)^T

    one GEMM per image and kernel row (the long axis H_out W_out inside), then a sum over the
    batch of the small (C kW, C_out) results."""
    n, c = x.shape[:2]
    cout, _, kh, kw = w_shape
    ho, wo = gy.shape[2:]
    x3 = _row_cols(x, kw, padding, padding, dilation, wo, xp)
    g = gy.reshape(n, cout, ho * wo).transpose(0, 2, 1)  # (N, H_out W_out, C_out), a view
    gw = xp.empty((cout, c, kh, kw), dtype=xp.result_type(x3, gy))
    for i in range(kh):
        r0 = i * dilation[0]
        xi = x3[:, :, :, r0 : r0 + ho, :].reshape(n, c * kw, ho * wo)  # a view
        gw[:, :, i, :] = xp.matmul(xi, g).sum(axis=0).T.reshape(cout, c, kw)
    _WORKSPACE.give(x3)
    return gw


def _crop_negative(x: Any, lo: tuple[int, int], hi: tuple[int, int]) -> Any:
    """Negative padding means cropping: drop -lo / -hi rows and columns (a view)."""
    if min(lo + hi) >= 0:
        return x
    h, w = x.shape[-2:]
    return x[..., max(-lo[0], 0) : h - max(-hi[0], 0), max(-lo[1], 0) : w - max(-hi[1], 0)]


def _conv2d_weight_grad(cols: Any, gy: Any, w_shape: tuple[int, ...], groups: int, xp: Any) -> Any:
    """dW[o, c, i, j] = sum_{n,p,q} gy[n, o, p, q] cols[c, i, j, n, p, q]: one GEMM per group.

    Computed as (cols @ dy^T)^T: the long axis N*H*W is the inner dimension, the orientation
    OpenBLAS runs best when C_out is small."""
    cout, k = w_shape[0], int(w_shape[1] * w_shape[2] * w_shape[3])
    gy2 = gy.transpose(1, 0, 2, 3).reshape(groups, cout // groups, -1)  # (G, C_out/G, L)
    cols2 = cols.reshape(groups, k, -1)  # (G, K, L)
    return xp.ascontiguousarray(
        xp.matmul(cols2, gy2.transpose(0, 2, 1)).transpose(0, 2, 1)
    ).reshape(w_shape)


def _flip_transpose(w: Any, groups: int) -> Any:
    """(C_in, C_out/G, kH, kW) transposed-conv weight -> the conv weight (C_out, C_in/G, kH, kW)
    with the kernel rotated 180 degrees."""
    cin, cog, kh, kw = w.shape
    wg = w.reshape(groups, cin // groups, cog, kh, kw).transpose(0, 2, 1, 3, 4)
    return wg.reshape(groups * cog, cin // groups, kh, kw)[:, :, ::-1, ::-1]


def _conv_transpose2d_array(
    x: Any,
    w: Any,
    stride: tuple[int, int],
    padding: tuple[int, int],
    out_hw: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    xp: Any,
    method: str = "auto",
    bias: Any = None,
) -> Any:
    """Transposed convolution of x (N, C_in, H, W) with w (C_in, C_out/G, kH, kW), output cropped by
    ``padding`` at the top/left and sized ``out_hw`` (the extra rows of output_padding at the
    bottom/right). The exact adjoint of :func:`_conv2d_array`.

    ``method``: ``"splat"`` (one GEMM W^T x, then the kernel-offset planes added stride apart) or
    ``"conv"`` (stride 1 only: a convolution with the rotated kernel); ``"auto"`` picks the one
    that moves less memory: the splat's buffer has C_out*kH*kW rows and is added kH*kW times, the
    convolution's im2col has C_in*kH*kW rows and is written once (so the convolution when
    C_in < 2 C_out, the splat when the channel count shrinks), and the convolution whenever it
    takes the row-shift path (:func:`_conv2d_rows`: C_in*kW rows), which measured faster for
    every U-Net shape it applies to.
    """
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    cout = groups * cog
    if method == "auto":
        rows = _takes_rows(stride, out_hw, groups, xp)  # the convolution would take it
        method = "conv" if (sh, sw) == (1, 1) and (cin < 2 * cout or rows) else "splat"
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
    tiles = (
        (kh, kw) == (sh, sw)
        and (dh, dw) == (1, 1)
        and (ph, pw) == (0, 0)
        and tuple(out_hw) == (h * sh, wd * sw)
    )  # every output pixel is written exactly once
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
            dst = out[
                :,
                :,
                r0 : r0 + (ahi - alo - 1) * sh + 1 : sh,
                c0 : c0 + (bhi - blo - 1) * sw + 1 : sw,
            ]
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
# max-pool: separable argmax


def _max_pool_array(
    x: Any, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int], xp: Any
) -> tuple[Any, Any]:
    """Max over each window and the flat position of the (first, row-major) maximum.

    Separable: first the best column of every window row (kW - 1 strided compares per row), then
    the best of those rows (kH - 1 compares). Only maxima and small offsets are kept, so every
    pass is one vectorised operation over N, C and all output positions.
    """
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    ho, wo = sizes.pool_output_size(h, kh, sh, ph), sizes.pool_output_size(w, kw, sw, pw)
    fill = -numpy.inf if is_float(x.dtype) else numpy.iinfo(x.dtype).min
    xpad = _pad(x, padding, fill, xp)
    small = numpy.int8 if max(kh, kw) < 128 else numpy.int32  # window offsets fit in a byte
    y: Any = None  # the running max, its row offset and its column offset
    row: Any = None
    col: Any = None
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
        # col = where(better, cj, col), written as bit operations on the bool maps (which NumPy
        # runs faster than where) or as arithmetic on the small offsets
        col = col ^ (better & (col ^ cj)) if col.dtype == bool else col + better * (cj - col)
    base = (xp.arange(ho) * sh - ph).reshape(ho, 1) * w + (xp.arange(wo) * sw - pw)
    idx = base + col if row is None else base + row.astype(numpy.int64) * w + col
    return y, idx


# ----------------------------------------------------------------------------------------------
# the fast Functions: the teaching classes' parameters and docstrings, faster forward/backward


class FastConv2dFunction(conv.Conv2dFunction):
    __doc__ = conv.Conv2dFunction.__doc__
    op_name = "Conv2d"

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        xp = self.xp
        x, w = _float_pair(x, w, xp)
        # dW needs the im2col matrix again in backward: it is rebuilt there from x (which the
        # graph holds anyway) instead of keeping a kH*kW times larger matrix alive, except for
        # small ones (low-resolution layers), where the copy costs more than the memory
        n, c, kh, kw = x.shape[0], x.shape[1], w.shape[2], w.shape[3]
        ho, wo = (
            sizes.conv_output_size(x.shape[2 + a], w.shape[2 + a], *geo)
            for a, geo in enumerate(zip(self.stride, self.padding, self.dilation))
        )
        keep = KEEP_IM2COL or c * kh * kw * n * ho * wo * x.itemsize <= KEEP_IM2COL_BYTES
        y, cols = _conv2d_array(
            x,
            w,
            self.stride,
            self.padding,
            self.padding,
            self.dilation,
            self.groups,
            xp,
            keep_cols=keep,
        )
        self.save_for_backward(x, w, cols)
        if b is not None:
            y += b.reshape(1, -1, 1, 1).astype(y.dtype, copy=False)
        return y

    def backward(self, gy: Any) -> Any:
        xp = self.xp
        x, w, kept = self.saved_tensors
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gx = _conv_transpose2d_array(
                gy, w, self.stride, self.padding, x.shape[2:], self.dilation, self.groups, xp
            )
        if (
            self.needs_input_grad[1]
            and kept is None
            and _takes_rows(self.stride, gy.shape[2:], self.groups, xp)
        ):
            gw = _conv2d_weight_grad_rows(x, gy, w.shape, self.padding, self.dilation, xp)
        elif self.needs_input_grad[1]:
            cols = (
                kept
                if kept is not None
                else _im2col(
                    x, w.shape[2:], self.stride, self.padding, gy.shape[2:], self.dilation, xp
                )
            )
            gw = _conv2d_weight_grad(cols, gy, w.shape, self.groups, xp)
            if kept is None:
                _WORKSPACE.give(cols)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb

    def release(self) -> None:
        # the graph is being freed: the im2col matrix kept for dW can serve the next step
        if self._saved:
            _WORKSPACE.give(self._saved[2])
        super().release()


class FastConvTranspose2dFunction(conv.ConvTranspose2dFunction):
    __doc__ = conv.ConvTranspose2dFunction.__doc__
    op_name = "ConvTranspose2d"

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        xp = self.xp
        x, w = _float_pair(x, w, xp)
        self.save_for_backward(x, w)
        return _conv_transpose2d_array(
            x,
            w,
            self.stride,
            self.padding,
            self.out_hw,
            self.dilation,
            self.groups,
            xp,
            bias=None if b is None else b.astype(x.dtype, copy=False),
        )

    def backward(self, gy: Any) -> Any:
        xp = self.xp
        x, w = self.saved_tensors
        gx = gw = gb = None
        if self.needs_input_grad[0] or self.needs_input_grad[1]:
            # dy is the *input* of the adjoint convolution: its im2col serves both gradients
            g = self.groups
            cin, cog, kh, kw = w.shape
            h, wd = x.shape[2:]
            hi = tuple(
                (n - 1) * s + d * (k - 1) + 1 - p - m
                for n, s, d, k, p, m in zip(
                    (h, wd), self.stride, self.dilation, (kh, kw), self.padding, self.out_hw
                )
            )
            gyc = _crop_negative(gy, self.padding, hi)  # drop output_padding rows beyond the splat
            cols = _im2col(gyc, (kh, kw), self.stride, self.padding, (h, wd), self.dilation, xp)
            if self.needs_input_grad[0]:  # conv2d(dy, w): (G, C_in/G, C_out/G*k*k) @ cols
                gx = _gemm_nchw(
                    w.reshape(g, cin // g, cog * kh * kw), cols, gy.shape[0], (h, wd), g, xp
                )
            if self.needs_input_grad[1]:  # dw[c,o,i,j] = sum x[n,c,p,q] cols[o,i,j,n,p,q]
                gw = _conv2d_weight_grad(cols, x, (cin, cog, kh, kw), g, xp)
            _WORKSPACE.give(cols)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb


class FastMaxPool2dFunction(pool.MaxPool2dFunction):
    __doc__ = pool.MaxPool2dFunction.__doc__
    op_name = "MaxPool2d"

    def forward(self, x: Any) -> Any:
        y, idx = _max_pool_array(x, self.kernel, self.stride, self.padding, self.xp)
        self.save_for_backward(idx)
        self.in_shape = x.shape
        return y, idx


paths.register(conv.Conv2dFunction, FastConv2dFunction)
paths.register(conv.ConvTranspose2dFunction, FastConvTranspose2dFunction)
paths.register(pool.MaxPool2dFunction, FastMaxPool2dFunction)
