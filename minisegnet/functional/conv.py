"""Convolution and transposed convolution, the lecture's way: im2col, one GEMM, col2im.

Shapes follow PyTorch: ``x`` is (N, C, H, W); a convolution weight is (C_out, C_in/groups, kH, kW);
a transposed-convolution weight is (C_in, C_out/groups, kH, kW).

Deck 001: "a convolution is a banded matrix times the input". Read top to bottom:

1. :func:`im2col` copies every window the kernel visits into one column of a matrix
   (C*kH*kW rows, one column per output pixel), from a strided view of the padded input;
2. the convolution is then **one GEMM**: ``y = W (C_out, C*kH*kW) @ cols`` (one per group);
3. :func:`col2im` is the adjoint of im2col: it adds every column back into the window it came
   from (one slice-add per kernel offset) and crops the padding;
4. the **transposed convolution** (deck 003) is one GEMM ``W^T @ x`` -- every input value times
   the whole kernel -- followed by col2im: the stamps placed ``stride`` apart, summed where they
   overlap (the *splat*), then ``padding`` rows/columns cropped;
5. backward uses the same pieces: the input gradient of a convolution IS a transposed
   convolution of the output gradient, that of a transposed convolution IS a convolution, and a
   weight gradient is one GEMM with an im2col matrix.

This is the teaching path. :mod:`~minisegnet.functional.fast` computes the same ops with reused
buffers and memory-friendlier loops; :func:`~minisegnet.functional.fast_path` switches (fast by
default).
"""

from __future__ import annotations

from typing import Any

from ..autograd import DEFAULT_FLOAT, Function, Tensor, as_tensor
from ..validation import is_float
from . import paths, sizes
from .basic import pad
from .sizes import IntOrPair, pair

__all__ = ["conv2d", "conv_transpose2d"]  # the Function classes: functional.conv.Conv2dFunction...

Pair = tuple[int, int]


# ----------------------------------------------------------------------------------------------
# im2col / col2im (numpy and cupy arrays alike: xp is the array module)


def im2col(
    x: Any,
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    xp: Any,
    out_hw: Pair | None = None,
) -> Any:
    """x (N, C, H, W) -> cols (C*kH*kW, N*H_out*W_out), one column per output pixel:

        cols[(c, i, j), (n, p, q)] = x_pad[n, c, p*s + i*d, q*s + j*d]

    ``sliding_window_view`` gives every window of the padded input as a view (no copy); stride and
    dilation are slices of it; the reshape into a matrix is the one copy. ``out_hw``: keep only
    the first (h, w) output positions (the adjoint of a transposed convolution needs that).
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    xpad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    extent = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    windows = xp.lib.stride_tricks.sliding_window_view(xpad, extent, axis=(2, 3))
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]  # (N, C, H_out, W_out, kH, kW)
    if out_hw is not None:
        windows = windows[:, :, : out_hw[0], : out_hw[1]]
    n, c, ho, wo = windows.shape[:4]
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * ho * wo)


def col2im(
    cols: Any,
    shape: tuple[int, ...],
    cols_hw: Pair,
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    xp: Any,
) -> Any:
    """The adjoint of :func:`im2col`: cols (C*kH*kW, N*h*w) -> x (N, C, H, W) = ``shape``,

        x_pad[n, c, p*s + i*d, q*s + j*d] += cols[(c, i, j), (n, p, q)],   then crop the padding

    (``cols_hw`` = (h, w): the grid of columns). One slice-add per kernel offset (i, j) moves
    all N*C*h*w values of that offset at once; overlapping windows add up.
    """
    n, c, hh, ww = shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    h, w = cols_hw
    planes = cols.reshape(c, kh, kw, n, h, w)
    xpad = xp.zeros((n, c, hh + 2 * ph, ww + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            r, q = i * dh, j * dw
            xpad[:, :, r : r + (h - 1) * sh + 1 : sh, q : q + (w - 1) * sw + 1 : sw] += planes[
                :, i, j
            ].transpose(1, 0, 2, 3)
    return xpad[:, :, ph : ph + hh, pw : pw + ww]


# ----------------------------------------------------------------------------------------------
# the two ops on arrays: one GEMM each (per group), plus im2col / col2im


def conv2d_array(
    x: Any, w: Any, stride: Pair, padding: Pair, dilation: Pair, groups: int, xp: Any
) -> Any:
    """y[n, o, p, q] = sum_{c,i,j} x_pad[n, c, p*s + i*d, q*s + j*d] w[o, c, i, j]
    = W @ im2col(x), one GEMM per group."""
    n, g = x.shape[0], groups
    cout, cg, kh, kw = w.shape
    ho = sizes.conv_output_size(x.shape[2], kh, stride[0], padding[0], dilation[0])
    wo = sizes.conv_output_size(x.shape[3], kw, stride[1], padding[1], dilation[1])
    cols = im2col(x, (kh, kw), stride, padding, dilation, xp)  # (C*kH*kW, N*H_out*W_out)
    y = w.reshape(g, cout // g, cg * kh * kw) @ cols.reshape(g, cg * kh * kw, -1)  # one GEMM
    return xp.ascontiguousarray(y.reshape(cout, n, ho, wo).transpose(1, 0, 2, 3))


def conv_transpose2d_array(
    x: Any, w: Any, stride: Pair, padding: Pair, out_hw: Pair, dilation: Pair, groups: int, xp: Any
) -> Any:
    """Deck 003's splat + crop: every input value times the whole kernel (one GEMM, ``W^T x``),
    the stamps added ``stride`` apart, ``padding`` cropped at every border (col2im does both):

        y[n, o, p*s + i*d - pad, q*s + j*d - pad] += x[n, c, p, q] w[c, o, i, j]

    ``out_hw``: the output size (rows beyond the splat, from output_padding, stay 0).
    """
    n, cin, h, wd = x.shape
    g, (_, cog, kh, kw) = groups, w.shape
    wt = w.reshape(g, cin // g, cog * kh * kw).transpose(0, 2, 1)  # (G, C_out/G*kH*kW, C_in/G)
    xs = x.transpose(1, 0, 2, 3).reshape(g, cin // g, n * h * wd)
    stamps = (wt @ xs).reshape(g * cog * kh * kw, n * h * wd)  # one GEMM: the columns
    return col2im(
        stamps, (n, g * cog) + tuple(out_hw), (h, wd), (kh, kw), stride, padding, dilation, xp
    )


def conv2d_weight_grad(cols: Any, gy: Any, w_shape: tuple[int, ...], groups: int) -> Any:
    """dW[o, c, i, j] = sum_{n,p,q} gy[n, o, p, q] cols[(c, i, j), (n, p, q)]: one GEMM per
    group."""
    g, cout = groups, gy.shape[1]
    gy2 = gy.transpose(1, 0, 2, 3).reshape(g, cout // g, -1)  # (G, C_out/G, N*H_out*W_out)
    return (gy2 @ cols.reshape(g, cols.shape[0] // g, -1).swapaxes(1, 2)).reshape(w_shape)


def float_pair(x: Any, w: Any, xp: Any) -> tuple[Any, Any]:
    """Input and weight in one floating dtype (integer arrays become float32)."""
    dt = xp.result_type(
        x.dtype if is_float(x.dtype) else DEFAULT_FLOAT,
        w.dtype if is_float(w.dtype) else DEFAULT_FLOAT,
    )
    return x.astype(dt, copy=False), w.astype(dt, copy=False)


# ----------------------------------------------------------------------------------------------
# the two Functions


class Conv2dFunction(Function):
    """y[n, o, p, q] = b[o] + sum_{c, i, j} x_pad[n, c, p*s + i*d, q*s + j*d] * w[o, c, i, j]

    (deck 001: y(i,j,l) = b_l + sum_{s,t,k} x(i+s, j+t, k) w_l(s,t,k); strided, dilated ("atrous",
    deck 002), zero-padded, channels split into ``groups``). Computed as im2col + one GEMM.

    Backward: dx = conv_transpose2d(dy, w) (same stride/padding/dilation/groups);
    dw = dy @ im2col(x)^T (one GEMM); db = sum of dy over N, H, W.
    """

    def __init__(self, stride: Pair, padding: Pair, dilation: Pair, groups: int) -> None:
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        x, w = float_pair(x, w, self.xp)
        self.save_for_backward(x, w)
        y = conv2d_array(x, w, self.stride, self.padding, self.dilation, self.groups, self.xp)
        if b is not None:
            y = y + b.reshape(1, -1, 1, 1).astype(y.dtype, copy=False)
        return y

    def backward(self, gy: Any) -> tuple:
        x, w = self.saved_tensors
        geometry = (self.stride, self.padding, x.shape[2:], self.dilation, self.groups, self.xp)
        gx = conv_transpose2d_array(gy, w, *geometry) if self.needs_input_grad[0] else None
        gw = gb = None
        if self.needs_input_grad[1]:
            cols = im2col(x, w.shape[2:], self.stride, self.padding, self.dilation, self.xp)
            gw = conv2d_weight_grad(cols, gy, w.shape, self.groups)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb


class ConvTranspose2dFunction(Function):
    """The lecture's transposed convolution (deck 003, step by step): multiply the kernel by each
    input value, place the products ``stride`` apart, add where they overlap (the *splat*), then
    *crop* ``padding`` rows/columns at every border (``output_padding`` adds rows/columns back at
    the bottom/right):

        y_full[n, o, p*s + i*d, q*s + j*d] += x[n, c, p, q] * w[c, o, i, j]
        y = y_full[..., crop : crop + H_out, crop : crop + W_out] + b

    It is the transpose (adjoint) of :class:`Conv2dFunction` with the same parameters (deck 001:
    the transposed matrix), so its backward is a convolution: dx = conv2d(dy, w);
    dw[c, o, i, j] = sum x[n, c, p, q] im2col(dy)[(o, i, j), (n, p, q)] (one GEMM).
    """

    def __init__(
        self, stride: Pair, padding: Pair, out_hw: Pair, dilation: Pair, groups: int
    ) -> None:
        self.stride, self.padding, self.out_hw = stride, padding, out_hw
        self.dilation, self.groups = dilation, groups

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        x, w = float_pair(x, w, self.xp)
        self.save_for_backward(x, w)
        y = conv_transpose2d_array(
            x, w, self.stride, self.padding, self.out_hw, self.dilation, self.groups, self.xp
        )
        if b is not None:
            y += b.reshape(1, -1, 1, 1).astype(y.dtype, copy=False)
        return y

    def backward(self, gy: Any) -> tuple:
        x, w = self.saved_tensors
        h, wd = x.shape[2:]
        gx = gw = gb = None
        if self.needs_input_grad[0]:  # the adjoint: a convolution (rows of output_padding
            gx = conv2d_array(
                gy,
                w,
                self.stride,
                self.padding,
                self.dilation,  # read nothing)
                self.groups,
                self.xp,
            )[:, :, :h, :wd]
        if self.needs_input_grad[1]:  # dy's windows, one per input pixel of x
            cols = im2col(
                gy, w.shape[2:], self.stride, self.padding, self.dilation, self.xp, out_hw=(h, wd)
            )
            gw = conv2d_weight_grad(cols, x, w.shape, self.groups)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            gb = gy.sum(axis=(0, 2, 3))
        return gx, gw, gb


# ----------------------------------------------------------------------------------------------
# argument checks and the public functions


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
                f"{op}: input {tuple(x.shape)} has {c} channels but weight {tuple(w.shape)} "
                f"expects C_in = weight.shape[0] = {w.shape[0]} (transposed-conv weights are "
                "(C_in, C_out/groups, kH, kW))"
            )
        if c % groups:
            raise ValueError(f"{op}: C_in = {c} is not divisible by groups = {groups}")
        cout = w.shape[1] * groups
    else:
        if w.shape[1] * groups != c:
            raise ValueError(
                f"{op}: input {tuple(x.shape)} has {c} channels but weight {tuple(w.shape)} with "
                f"groups={groups} expects C_in = weight.shape[1] * groups = "
                f"{w.shape[1] * groups} (conv weights are (C_out, C_in/groups, kH, kW))"
            )
        if w.shape[0] % groups:
            raise ValueError(
                f"{op}: C_out = weight.shape[0] = {w.shape[0]} is not divisible by "
                f"groups = {groups} (weight {tuple(w.shape)})"
            )
        cout = w.shape[0]
    if b is not None and tuple(b.shape) != (cout,):
        raise ValueError(
            f"{op}: bias must have shape ({cout},) (one per output channel), "
            f"got {tuple(b.shape)} for weight {tuple(w.shape)}"
        )


def _geometry(
    op: str, stride: IntOrPair, padding: IntOrPair, dilation: IntOrPair
) -> tuple[Pair, Pair, Pair]:
    """Normalise and validate (stride >= 1, padding >= 0, dilation >= 1) to (h, w) pairs."""
    return (
        pair(stride, "stride", op, 1),
        pair(padding, "padding", op, 0),
        pair(dilation, "dilation", op, 1),
    )


def _same_padding(
    op: str, x: Tensor, k: Pair, stride: IntOrPair, dilation: IntOrPair
) -> tuple[Tensor, Pair]:
    """``padding="same"``: (x padded by one extra bottom row / right column where the total
    d (k - 1) is odd, the per-side padding) -- PyTorch's split, the odd pixel at the end."""
    if pair(stride, "stride", op, 1) != (1, 1):
        raise ValueError(
            f"{op}: padding='same' is not supported for strided convolutions "
            f"(stride={stride}); give an int padding"
        )
    totals = [di * (ki - 1) for di, ki in zip(pair(dilation, "dilation", op, 1), k)]
    if totals[0] % 2 or totals[1] % 2:
        x = pad(x, ((0, 0), (0, 0), (0, totals[0] % 2), (0, totals[1] % 2)))
    return x, (totals[0] // 2, totals[1] // 2)


def conv2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrPair = 1,
    padding: IntOrPair | str = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch and deck 001).

    ``x`` (N, C_in, H, W), ``weight`` (C_out, C_in/groups, kH, kW), ``bias`` (C_out,) or None;
    ``stride``, ``padding`` (zeros added at every border), ``dilation`` (atrous: a 3x3 kernel with
    dilation 2 covers 5x5 with 9 weights) are ints or (h, w) pairs. Output (N, C_out, H_out, W_out)
    with H_out = floor((H + 2p - d(kH-1) - 1) / s) + 1. As in PyTorch, ``padding="valid"`` is 0
    and ``padding="same"`` (stride 1 only) keeps H and W: the total d (k - 1) is split in half,
    the odd row / column (even kernels) at the bottom / right.
    """
    op = "conv2d"
    x, weight = as_tensor(x), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    _check_conv_args(op, x, weight, bias, groups, transposed=False)
    if padding == "valid":
        padding = 0
    elif padding == "same":
        x, padding = _same_padding(op, x, tuple(weight.shape[2:]), stride, dilation)
    elif isinstance(padding, str):
        raise ValueError(
            f"{op}: padding must be an int, a pair (h, w), 'same' or 'valid', got {padding!r}"
        )
    s, p, d = _geometry(op, stride, padding, dilation)
    sizes.check_window_fits(op, x.shape, tuple(weight.shape[2:]), p, d)
    fn = paths.pick(Conv2dFunction)(s, p, d, groups)
    return fn(x, weight) if bias is None else fn(x, weight, bias)


def conv_transpose2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    groups: int = 1,
    dilation: IntOrPair = 1,
    output_size: IntOrPair | None = None,
) -> Tensor:
    """Transposed ("fractionally strided", "deconvolution") 2-D convolution, as in deck 003:
    splat every input value times the kernel ``stride`` apart, sum the overlaps, then **crop**
    ``padding`` rows/columns at every border. (``padding`` is the lecture's *crop*: it removes
    rows, it does not add zeros.)

    ``x`` (N, C_in, H, W), ``weight`` (C_in, C_out/groups, kH, kW), ``bias`` (C_out,) or None.
    The arguments are PyTorch's, in its order (``groups`` before ``dilation``, unlike
    :func:`conv2d`). Output size::

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
        a = (
            sizes.output_padding_for(th, h, kh, s[0], p[0], d[0], op, "H"),
            sizes.output_padding_for(tw, w, kw, s[1], p[1], d[1], op, "W"),
        )
    else:
        a = pair(output_padding, "output_padding", op, 0)
        for ai, si, di, name in zip(a, s, d, "HW"):
            if ai >= max(si, di):
                raise ValueError(
                    f"{op}: output_padding {tuple(a)} must be smaller than max(stride, dilation) "
                    f"= {max(si, di)} along {name} (stride {s}, dilation {d}); pass output_size "
                    "to choose the output size instead"
                )
    out_hw = (
        sizes.conv_transpose_output_size(h, kh, s[0], p[0], a[0], d[0]),
        sizes.conv_transpose_output_size(w, kw, s[1], p[1], a[1], d[1]),
    )
    if min(out_hw) < 1:
        raise ValueError(
            f"{op}: the crop (padding {p}) removes everything: input {tuple(x.shape)}, weight "
            f"{tuple(weight.shape)}, stride {s}, dilation {d} give a {out_hw[0]}x{out_hw[1]} "
            "output; use a smaller padding"
        )
    fn = paths.pick(ConvTranspose2dFunction)(s, p, out_hw, d, groups)
    return fn(x, weight) if bias is None else fn(x, weight, bias)
