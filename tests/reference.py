"""Naive references, written the way the lectures define each op (loops over output positions).

Plain NumPy, float64, slow and obvious: the fast ops in minisegnet.functional are tested against
these. Nothing here is used by the package.
"""

from __future__ import annotations

import math

import numpy as np


def _pair(v):
    return (v, v) if isinstance(v, (int, float)) else tuple(v)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """y(n, o, p, q) = b_o + sum_{c,i,j} x_pad(n, c, p*s + i*d, q*s + j*d) w(o, c, i, j)
    (deck 001's y(i,j,l) = b_l + sum_{s,t,k} x(i+s, j+t, k) w_l(s,t,k), strided and dilated):
    a loop over output positions, one window at a time."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    n, c, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    xpad = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xpad[:, :, ph : ph + h, pw : pw + wd] = x
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    og = cout // groups
    y = np.zeros((n, cout, ho, wo))
    for g in range(groups):
        xg = xpad[:, g * cg : (g + 1) * cg]
        wg = w[g * og : (g + 1) * og]
        for p in range(ho):
            for q in range(wo):
                window = xg[
                    :,
                    :,
                    p * sh : p * sh + dh * (kh - 1) + 1 : dh,
                    q * sw : q * sw + dw * (kw - 1) + 1 : dw,
                ]  # (N, Cg, kh, kw)
                y[:, g * og : (g + 1) * og, p, q] = np.einsum("ncij,ocij->no", window, wg)
    if b is not None:
        y += np.asarray(b, np.float64).reshape(1, -1, 1, 1)
    return y


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """Deck 003, step by step: multiply the filter by each input value, place the products stride
    apart (the "splat"), add the overlaps, then crop `padding` rows/columns at every border
    (output_padding adds rows/columns back at the bottom/right)."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    ah, aw = _pair(output_padding)
    n, cin, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = cin // groups
    full_h, full_w = (h - 1) * sh + dh * (kh - 1) + 1, (wd - 1) * sw + dw * (kw - 1) + 1
    out_h, out_w = full_h - 2 * ph + ah, full_w - 2 * pw + aw
    full = np.zeros((n, og * groups, max(full_h, ph + out_h), max(full_w, pw + out_w)))
    for g in range(groups):
        for p in range(h):
            for q in range(wd):
                # every input value times the whole kernel, placed stride apart
                stamp = np.einsum(
                    "nc,coij->noij", x[:, g * cg : (g + 1) * cg, p, q], w[g * cg : (g + 1) * cg]
                )
                full[
                    :,
                    g * og : (g + 1) * og,
                    p * sh : p * sh + dh * (kh - 1) + 1 : dh,
                    q * sw : q * sw + dw * (kw - 1) + 1 : dw,
                ] += stamp
    y = full[:, :, ph : ph + out_h, pw : pw + out_w]  # the crop
    if b is not None:
        y = y + np.asarray(b, np.float64).reshape(1, -1, 1, 1)
    return y


def conv_matrix_1d(kernel, n_in, stride=1, padding=0):
    """Deck 001's banded (Toeplitz) matrix of a 1-D convolution acting on the *padded* input:
    one row per output position, the kernel placed stride apart."""
    k = len(kernel)
    n_pad = n_in + 2 * padding
    n_out = (n_pad - k) // stride + 1
    m = np.zeros((n_out, n_pad))
    for r in range(n_out):
        m[r, r * stride : r * stride + k] = kernel
    return m


def conv_matrix_2d(w, in_hw, stride=1, padding=0):
    """The (H_out*W_out, H*W) matrix of a single-channel 2-D convolution: row r holds the kernel
    at the place where output pixel r reads the (unpadded, flattened) input."""
    w = np.asarray(w, np.float64)
    h, wd = in_hw
    e = np.eye(h * wd).reshape(h * wd, 1, h, wd)  # each basis image is one column of the matrix
    cols = conv2d(e, w[None, None], stride=stride, padding=padding)  # (H*W, 1, Ho, Wo)
    return cols.reshape(h * wd, -1).T


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over each window (padding counts as -inf) and the flat position of the max within its
    (n, c) input plane (first maximum in row-major window order)."""
    x = np.asarray(x, np.float64)
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(stride) if stride is not None else (kh, kw)
    (ph, pw) = _pair(padding)
    n, c, h, wd = x.shape
    ho, wo = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, c, ho, wo))
    idx = np.zeros((n, c, ho, wo), dtype=np.int64)
    for a in range(n):
        for b in range(c):
            for p in range(ho):
                for q in range(wo):
                    best, where = -math.inf, -1
                    for i in range(kh):
                        for j in range(kw):
                            r, s = p * sh - ph + i, q * sw - pw + j
                            if 0 <= r < h and 0 <= s < wd and x[a, b, r, s] > best:
                                best, where = x[a, b, r, s], r * wd + s
                    y[a, b, p, q], idx[a, b, p, q] = best, where
    return y, idx


def max_unpool2d(x, indices, out_hw):
    """Deck 002: put each value back at its remembered position, zeros elsewhere."""
    x = np.asarray(x, np.float64)
    n, c = x.shape[:2]
    out = np.zeros((n, c, out_hw[0] * out_hw[1]))
    for a in range(n):
        for b in range(c):
            for v, i in zip(x[a, b].ravel(), np.asarray(indices)[a, b].ravel()):
                out[a, b, i] = v
    return out.reshape(n, c, *out_hw)


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True, divisor=None):
    """Mean over each window; padding counts as zeros and is included in the count (PyTorch's
    default), or not (``count_include_pad=False``: the sum over the window's input pixels divided
    by their number); ``divisor``: the window sum divided by it."""
    x = np.asarray(x, np.float64)
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(stride) if stride is not None else (kh, kw)
    (ph, pw) = _pair(padding)
    n, c, h, wd = x.shape
    xpad = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xpad[:, :, ph : ph + h, pw : pw + wd] = x
    ho, wo = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, c, ho, wo))
    inside = np.zeros((h + 2 * ph, wd + 2 * pw))
    inside[ph : ph + h, pw : pw + wd] = 1
    for p in range(ho):
        for q in range(wo):
            rows, cols = slice(p * sh, p * sh + kh), slice(q * sw, q * sw + kw)
            total = xpad[:, :, rows, cols].sum(axis=(2, 3))
            count = kh * kw if count_include_pad else inside[rows, cols].sum()
            y[:, :, p, q] = total / (count if divisor is None else divisor)
    return y


def adaptive_avg_pool2d(x, out_hw):
    """Bin (i, j) averages rows floor(i H / h_out) .. ceil((i+1) H / h_out) - 1 (columns alike)."""
    x = np.asarray(x, np.float64)
    n, c, h, wd = x.shape
    oh, ow = _pair(out_hw)
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        r0, r1 = (i * h) // oh, -((-(i + 1) * h) // oh)
        for j in range(ow):
            c0, c1 = (j * wd) // ow, -((-(j + 1) * wd) // ow)
            y[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return y


def _source(o, n_in, n_out, align_corners, scale=None):
    """PyTorch's source coordinate of output pixel o (bilinear)."""
    if align_corners:
        return 0.0 if n_out == 1 else o * (n_in - 1) / (n_out - 1)
    s = n_in / n_out if scale is None or n_in == n_out else 1.0 / scale  # kept size: a copy
    return max((o + 0.5) * s - 0.5, 0.0)


def interpolate_bilinear(x, out_hw, align_corners, scale=None):
    """Each output pixel: the weighted mean of the 4 nearest input pixels (PyTorch's definition)."""
    x = np.asarray(x, np.float64)
    n, c, h, wd = x.shape
    oh, ow = out_hw
    sh, sw = (None, None) if scale is None else _pair(scale)
    y = np.zeros((n, c, oh, ow))
    for p in range(oh):
        r = _source(p, h, oh, align_corners, sh)
        r0 = min(int(math.floor(r)), h - 1)
        r1, fr = min(r0 + 1, h - 1), r - r0
        for q in range(ow):
            s = _source(q, wd, ow, align_corners, sw)
            c0 = min(int(math.floor(s)), wd - 1)
            c1, fc = min(c0 + 1, wd - 1), s - c0
            y[:, :, p, q] = (
                (1 - fr) * (1 - fc) * x[:, :, r0, c0]
                + (1 - fr) * fc * x[:, :, r0, c1]
                + fr * (1 - fc) * x[:, :, r1, c0]
                + fr * fc * x[:, :, r1, c1]
            )
    return y


def interpolate_nearest(x, out_hw, scale=None):
    """Output pixel (p, q) copies input pixel (floor(p * s_h), floor(q * s_w)), s = in/out
    (or 1/scale_factor when one is given; out = in and out = 2 in exactly), as PyTorch's
    'nearest', whose products are float32."""
    x = np.asarray(x, np.float64)
    n, c, h, wd = x.shape
    oh, ow = out_hw
    sh, sw = (None, None) if scale is None else _pair(scale)

    def source(o, n_in, n_out, s):  # PyTorch: a kept size copies, out = 2 in takes o // 2
        if n_out in (n_in, 2 * n_in):
            return o * n_in // n_out
        # else floor(o * in / out) (or o / scale_factor), with PyTorch's float32 arithmetic
        f32 = np.float32
        scale = f32(n_in) / f32(n_out) if s is None else f32(1.0 / s)
        return int(math.floor(f32(o) * scale))

    src_r = [source(p, h, oh, sh) for p in range(oh)]
    src_c = [source(q, wd, ow, sw) for q in range(ow)]
    y = np.zeros((n, c, oh, ow))
    for p in range(oh):
        for q in range(ow):
            y[:, :, p, q] = x[:, :, min(src_r[p], h - 1), min(src_c[q], wd - 1)]
    return y
