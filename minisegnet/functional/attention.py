"""The transformer's ops (deck 004's end): linear, layer norm, GELU, attention, roll, windows.

Each op is one forward/backward pair (or a composition of existing differentiable ops, which
autograd differentiates for free):

* :func:`linear` -- y = x W^T + b (with no weight: deck 001's identity activation);
* :func:`layer_norm` -- normalise each token over its last axes, then scale and shift;
* :func:`gelu` -- x Phi(x), exact (``approximate="none"``, through :func:`erf`) or the tanh form;
* :func:`attention_weights` and :func:`scaled_dot_product_attention` --
  softmax(Q K^T / sqrt(E) + mask) and that matrix times V;
* :func:`roll` -- ``torch.roll``: the cyclic shift of Swin's shifted windows;
* :func:`window_partition`, :func:`window_reverse`, :func:`shifted_window_mask`,
  :func:`relative_position_index` -- Swin's windows, its mask and its relative-position lookup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy

from ..autograd import Function, Tensor, as_tensor
from ..backend import Array
from .basic import _float, permute, reshape

__all__ = [
    "linear",
    "layer_norm",
    "gelu",
    "erf",
    "attention_weights",
    "scaled_dot_product_attention",
    "roll",
    "window_partition",
    "window_reverse",
    "shifted_window_mask",
    "relative_position_index",
]


# ----------------------------------------------------------------------------------------------
# linear


class LinearFunction(Function):
    """y = x W^T + b over the last axis of x (W: (out, in), b: (out,)).

    Backward, with every leading axis of x flattened into rows (X: (M, in), G = dL/dY: (M, out)):
    dX = G W,  dW = G^T X,  db = sum of the rows of G.
    """

    def forward(self, x: Array, w: Array, *b: Array) -> Array:
        x = _float(x)
        if w.ndim != 2 or x.shape[-1] != w.shape[1] or (b and b[0].shape != (w.shape[0],)):
            raise ValueError(
                f"linear: input {x.shape} needs weight (out, {x.shape[-1]}) and bias "
                f"(out,), got weight {w.shape}" + (f" and bias {b[0].shape}" if b else "")
            )
        self.save_for_backward(x, w)
        y = x @ w.T
        if b:
            y += b[0]
        return y

    def backward(self, gy: Array) -> tuple[Array | None, ...]:
        x, w = self.saved_tensors
        x2 = x.reshape(-1, x.shape[-1])
        g2 = gy.reshape(-1, gy.shape[-1])
        gw = g2.T @ x2 if self.needs_input_grad[1] else None
        gb = (g2.sum(axis=0),) if len(self.needs_input_grad) == 3 else ()
        return (gy @ w, gw) + gb


def linear(
    x: Tensor | Array, weight: Tensor | Array | None = None, bias: Tensor | Array | None = None
) -> Tensor:
    """``F.linear(x, weight, bias)``: y = x W^T + b, weight (out, in), bias (out,) or None.

    Applied to the last axis, so a (N, L, in) sequence of tokens gives (N, L, out).
    With no weight and no bias it is the identity: deck 001's "linear" activation.
    """
    if weight is None:
        if bias is not None:
            raise ValueError("linear: a bias needs a weight; give weight=(out, in) as well")
        return as_tensor(x)
    return LinearFunction()(x, weight, *(() if bias is None else (bias,)))


# ----------------------------------------------------------------------------------------------
# layer norm


class LayerNormFunction(Function):
    """Per token, over the D values of its last ``n_axes`` axes (no batch statistics):

        mu = mean(x),  var = mean((x - mu)^2),  x_hat = (x - mu) / sqrt(var + eps),
        y = gamma x_hat + beta

    Backward (g = dL/dy, h = g gamma, means over the same D values):

        dx = (h - mean(h) - x_hat mean(h x_hat)) / sqrt(var + eps),
        dgamma = sum over tokens of g x_hat,  dbeta = sum over tokens of g.
    """

    def __init__(self, n_axes: int, eps: float):
        self.n_axes, self.eps = n_axes, eps

    def forward(self, x: Array, gamma: Array, beta: Array) -> Array:
        x = _float(x)
        self.axes = tuple(range(x.ndim - self.n_axes, x.ndim))
        xc = x - x.mean(axis=self.axes, keepdims=True)
        var = (xc * xc).mean(axis=self.axes, keepdims=True)
        invstd = 1.0 / self.xp.sqrt(var + self.eps)
        x_hat = xc * invstd
        self.save_for_backward(x_hat, invstd, gamma)
        return x_hat * gamma + beta

    def backward(self, gy: Array) -> tuple[Array, Array | None, Array | None]:
        lead = tuple(range(gy.ndim - self.n_axes))
        (x_hat, invstd, gamma), axes = self.saved_tensors, self.axes
        h = gy * gamma
        dx = invstd * (
            h
            - h.mean(axis=axes, keepdims=True)
            - x_hat * (h * x_hat).mean(axis=axes, keepdims=True)
        )
        dgamma = (gy * x_hat).sum(axis=lead) if self.needs_input_grad[1] else None
        dbeta = gy.sum(axis=lead) if self.needs_input_grad[2] else None
        return dx, dgamma, dbeta


def layer_norm(
    x: Tensor | Array,
    normalized_shape: int | Sequence[int],
    weight: Tensor | Array | None = None,
    bias: Tensor | Array | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """``F.layer_norm``: normalise over the last axes given by ``normalized_shape`` (see
    :class:`LayerNorm`); ``weight`` (gamma) and ``bias`` (beta) have that shape, None for 1 / 0."""
    x = as_tensor(x)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or x.shape[x.ndim - len(shape) :] != shape or len(shape) > x.ndim:
        raise ValueError(
            f"layer_norm: normalized_shape {shape} must be the last axes of the input, "
            f"whose shape is {x.shape}"
        )
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != shape:
            raise ValueError(f"layer_norm: {name} has shape {tuple(p.shape)}, expected {shape}")
    dtype = x.dtype if x.dtype.kind == "f" else numpy.float32
    w = weight if weight is not None else Tensor(x.xp.ones(shape, dtype=dtype))
    b = bias if bias is not None else Tensor(x.xp.zeros(shape, dtype=dtype))
    return LayerNormFunction(len(shape), float(eps))(x, w, b)


# ----------------------------------------------------------------------------------------------
# GELU and the error function


def _erf_table(width: float = 0.5, stop: float = 6.0, degree: int = 16) -> numpy.ndarray:
    """Chebyshev coefficients of erf on [i width, (i + 1) width], one row per piece up to ``stop``.

    Interpolation at Chebyshev points of an analytic function converges geometrically: degree 16 on
    pieces of width 1/2 matches ``math.erf`` to about 1e-14 (the tests check it). Beyond 6,
    erf(x) = 1 - 2e-17 rounds to 1.
    """
    cheb = numpy.polynomial.chebyshev
    ref = numpy.vectorize(math.erf)

    # erf on the piece [lo, lo + width], as a function of t in [-1, 1]; `-> Any`: numpy's stub
    # wants a scalar type, but chebinterpolate calls it on the array of Chebyshev points
    def erf_on_piece(t: numpy.ndarray, lo: float) -> Any:
        return ref(lo + width / 2 * (t + 1))

    rows = [
        cheb.chebinterpolate(erf_on_piece, degree, args=(i * width,))
        for i in range(int(round(stop / width)))
    ]
    return numpy.stack(rows)  # a host constant; _erf_array copies it to the input's device


_ERF = _erf_table()


def _erf_array(x: Any, xp: Any) -> Any:
    """erf of an array: each |x| picks its piece's coefficients (one gather), then Clenshaw's
    recurrence sums the Chebyshev series (only array operations, on NumPy or CuPy)."""
    table = xp.asarray(_ERF.T, dtype=x.dtype)  # (degree + 1, pieces)
    degree, pieces = table.shape[0] - 1, table.shape[1]
    a = xp.minimum(xp.abs(x), 6.0)
    piece = xp.minimum(xp.floor(a * 2), pieces - 1)
    c = table[:, piece.astype(numpy.int32)]  # (degree + 1, ...)
    t2 = 8 * a - (4 * piece + 2)  # 2 t, t = the position inside the piece, in [-1, 1]
    b1 = c[degree]
    b2 = xp.zeros_like(t2)
    for k in range(degree - 1, 0, -1):
        b1, b2 = c[k] + t2 * b1 - b2, b1
    return xp.sign(x) * (c[0] + 0.5 * t2 * b1 - b2)


class ErfFunction(Function):
    """erf(x) = 2 / sqrt(pi) int_0^x e^(-t^2) dt;  d erf / dx = 2 / sqrt(pi) e^(-x^2)."""

    def forward(self, x: Array) -> Array:
        x = _float(x)
        self.save_for_backward(x)
        return _erf_array(x, self.xp)

    def backward(self, gy: Array) -> Array:
        (x,) = self.saved_tensors
        return gy * (2 / math.sqrt(math.pi)) * self.xp.exp(-x * x)


def erf(x: Tensor | Array) -> Tensor:
    """The error function (piecewise Chebyshev series; within ~1e-14 of math.erf in float64)."""
    return ErfFunction()(x)


_TANH_C = math.sqrt(2 / math.pi)


class GELUFunction(Function):
    """GELU(x) = x Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt 2)) / 2;
    dy/dx = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi).

    ``approximate="tanh"``: y = x (1 + tanh(u)) / 2, u = sqrt(2/pi) (x + 0.044715 x^3);
    dy/dx = (1 + tanh u) / 2 + x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2.
    """

    def __init__(self, approximate: str):
        self.approximate = approximate

    def forward(self, x: Array) -> Array:
        xp = self.xp
        x = _float(x)
        if self.approximate == "tanh":
            t = xp.tanh(_TANH_C * (x + 0.044715 * x * x * x))  # not x ** 3: pow is slow
            self.save_for_backward(x, t)
            return 0.5 * x * (1 + t)
        cdf = 0.5 * (1 + _erf_array(x / math.sqrt(2), xp))
        self.save_for_backward(x, cdf)
        return x * cdf

    def backward(self, gy: Array) -> Array:
        (x, t_or_cdf), xp = self.saved_tensors, self.xp
        if self.approximate == "tanh":
            t = t_or_cdf
            return gy * (
                0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _TANH_C * (1 + 3 * 0.044715 * x * x)
            )
        return gy * (t_or_cdf + x * xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi))


def gelu(x: Tensor | Array, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit x Phi(x) (``approximate="none"``) or its tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELUFunction(approximate)(x)


# ----------------------------------------------------------------------------------------------
# attention


def _masked_softmax(q: Any, k: Any, mask: tuple, scale: float, xp: Any) -> Any:
    """P = softmax(Q K^T scale + mask) in one (..., L, S) buffer, updated in place (scores ->
    shifted -> exponentials -> P); fully masked rows stay zeros."""
    s = q @ xp.swapaxes(k, -1, -2)
    s *= scale
    if mask:
        m = mask[0]
        if m.dtype == bool:
            s = xp.where(m, s, -xp.inf)
        elif numpy.broadcast_shapes(s.shape, m.shape) == s.shape:
            s += m
        else:
            s = s + m
    top = s.max(axis=-1, keepdims=True)
    top[top == -xp.inf] = 0  # a fully masked row: all e^(-inf) = 0 below
    s -= top
    xp.exp(s, out=s)
    total = s.sum(axis=-1, keepdims=True)
    total[total == 0] = 1
    s /= total
    return s


class AttentionWeightsFunction(Function):
    """P = softmax(S), S = Q K^T * scale + mask, row by row (over the S keys).

    A boolean mask keeps the scores where it is True ("may attend") and sets the others to -inf; a
    float mask is added. A row with every key masked has no softmax: it is returned as **zeros**
    (PyTorch gives NaN), so the attention output there is 0 and no gradient flows through it.

    Backward (G = dL/dP): dS = P * (G - rowsum(G * P)), dQ = dS K scale, dK = dS^T Q scale, and
    a float mask receives dS.
    """

    def __init__(self, scale: float | None):
        self.scale = scale

    def forward(self, q: Array, k: Array, *mask: Array) -> Array:
        q, k = _float(q), _float(k)
        self.scale = 1 / math.sqrt(q.shape[-1]) if self.scale is None else self.scale
        p = _masked_softmax(q, k, mask, self.scale, self.xp)
        self.save_for_backward(q, k, p)
        return p

    def backward(self, gp: Array) -> tuple[Array, ...]:
        xp, (q, k, p) = self.xp, self.saved_tensors
        ds = gp * p
        row = ds.sum(axis=-1, keepdims=True)
        xp.subtract(gp, row, out=ds)
        ds *= p  # dS = P * (G - rowsum(G * P))
        gq = ds @ k
        gq *= self.scale
        gk = xp.swapaxes(ds, -1, -2) @ q
        gk *= self.scale
        gm = (ds,) if len(self.needs_input_grad) == 3 else ()
        return (gq, gk) + gm


class ScaledDotProductAttentionFunction(Function):
    """O = P V with P = softmax(Q K^T scale + mask) (:class:`AttentionWeightsFunction`), without
    keeping P: backward recomputes it from Q and K (one more product, the memory-saving idea of
    FlashAttention), so a layer keeps q, k, v and O, not its (L, S) maps.

    Backward (G = dL/dO): dV = P^T G, dP = G V^T, dS = P * (dP - rowsum(G * O)) (rowsum(dP * P)
    equals rowsum(G * O)), dQ = dS K scale, dK = dS^T Q scale, a float mask receives dS.
    """

    def __init__(self, scale: float | None):
        self.scale = scale

    def forward(self, q: Array, k: Array, v: Array, *mask: Array) -> Array:
        q, k, v = _float(q), _float(k), _float(v)
        self.scale = 1 / math.sqrt(q.shape[-1]) if self.scale is None else self.scale
        o = _masked_softmax(q, k, mask, self.scale, self.xp) @ v
        self.save_for_backward(q, k, v, o, *mask)
        return o

    def backward(self, go: Array) -> tuple[Array, ...]:
        xp, scale = self.xp, self.scale
        assert scale is not None  # forward resolved None to 1 / sqrt(E)
        q, k, v, o, *mask = self.saved_tensors
        p = _masked_softmax(q, k, tuple(mask), scale, xp)
        gv = xp.swapaxes(p, -1, -2) @ go
        ds = go @ xp.swapaxes(v, -1, -2)
        ds -= (go * o).sum(axis=-1, keepdims=True)
        ds *= p
        gq = ds @ k
        gq *= self.scale
        gk = xp.swapaxes(ds, -1, -2) @ q
        gk *= self.scale
        gm = (ds,) if len(self.needs_input_grad) == 4 else ()
        return (gq, gk, gv) + gm


def _check_mask(op: str, attn_mask: Any, shape: tuple[int, ...]) -> Tensor:
    m = as_tensor(attn_mask)
    if m.dtype != bool and m.dtype.kind != "f":
        raise TypeError(f"{op}: attn_mask must be boolean or floating, got {m.dtype}")
    try:
        numpy.broadcast_shapes(m.shape, shape)
    except ValueError:
        raise ValueError(
            f"{op}: attn_mask of shape {m.shape} does not broadcast to the scores' "
            f"shape {shape} (..., L, S)"
        ) from None
    return m


def attention_weights(
    q: Tensor | Array,
    k: Tensor | Array,
    attn_mask: Tensor | Array | None = None,
    scale: float | None = None,
) -> Tensor:
    """softmax(Q K^T / sqrt(E) + mask) over the keys: (..., L, S) for q (..., L, E), k (..., S, E).

    ``attn_mask``: boolean, **True = may attend** (``scaled_dot_product_attention``'s convention),
    or float, added to the scores (-inf forbids). Fully masked rows give zeros (see
    :class:`AttentionWeightsFunction`). ``scale`` defaults to 1 / sqrt(E).
    """
    q, k = as_tensor(q), as_tensor(k)
    if q.ndim < 2 or k.ndim < 2 or q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"attention: q (..., L, E) and k (..., S, E) need the same E, got shapes "
            f"{q.shape} and {k.shape}"
        )
    if attn_mask is None:
        return AttentionWeightsFunction(scale)(q, k)
    lead = numpy.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    mask = _check_mask("attention", attn_mask, lead + (q.shape[-2], k.shape[-2]))
    return AttentionWeightsFunction(scale)(q, k, mask)


def scaled_dot_product_attention(
    q: Tensor | Array,
    k: Tensor | Array,
    v: Tensor | Array,
    attn_mask: Tensor | Array | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    *,
    scale: float | None = None,
) -> Tensor:
    """softmax(Q K^T / sqrt(E) + mask) V, as ``torch.nn.functional.scaled_dot_product_attention``
    (its arguments, in its order; ``scale``, keyword-only, replaces 1 / sqrt(E)).

    Shapes: q (..., L, E), k (..., S, E), v (..., S, Ev) -> (..., L, Ev); leading axes broadcast.
    ``attn_mask`` (broadcasting to (..., L, S)): **boolean, True = the query may attend to
    that key** (PyTorch's convention for this function; ``nn.MultiheadAttention``'s boolean mask
    means the opposite), or float, added to the scores. A query whose keys are all masked gets an
    output of **zeros** (PyTorch returns NaN there). One Function
    (:class:`ScaledDotProductAttentionFunction`) keeps no (L, S) matrix for backward: it recomputes
    P there. For the weights themselves use :func:`attention_weights`. ``is_causal=True``: query
    i attends to keys 0..i (the mask ``tril(ones(L, S))``, PyTorch's). ``dropout_p`` must be 0:
    no dropout inside the op (apply ``nn.Dropout`` to the output instead).
    """
    op = "scaled_dot_product_attention"
    if dropout_p != 0.0:
        raise ValueError(
            f"{op}: dropout_p={dropout_p!r}: there is no dropout inside this op; pass 0.0 and "
            "apply nn.Dropout to its output"
        )
    v = as_tensor(v)
    k = as_tensor(k)
    if v.ndim < 2 or v.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"scaled_dot_product_attention: k (..., S, E) and v (..., S, Ev) need the "
            f"same S, got shapes {k.shape} and {v.shape}"
        )
    q = as_tensor(q)
    if q.ndim < 2 or k.ndim < 2 or q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"scaled_dot_product_attention: q (..., L, E) and k (..., S, E) need the "
            f"same E, got shapes {q.shape} and {k.shape}"
        )
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{op}: give attn_mask or is_causal=True, not both")
        n_q, n_k = q.shape[-2], k.shape[-2]
        attn_mask = q.xp.tril(q.xp.ones((n_q, n_k), dtype=bool))
    if attn_mask is None:
        return ScaledDotProductAttentionFunction(scale)(q, k, v)
    lead = numpy.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    mask = _check_mask("scaled_dot_product_attention", attn_mask, lead + (q.shape[-2], k.shape[-2]))
    return ScaledDotProductAttentionFunction(scale)(q, k, v, mask)


# ----------------------------------------------------------------------------------------------
# roll and Swin's windows


class RollFunction(Function):
    """y = x shifted cyclically by ``shifts`` along ``dims`` (``torch.roll``; no dims: the flattened
    tensor is rolled and reshaped back). The gradient is rolled back by -shifts."""

    def __init__(self, shifts: Any, dims: Any):
        self.shifts, self.dims = shifts, dims

    def forward(self, x: Array) -> Array:
        return self.xp.roll(x, self.shifts, axis=self.dims)

    def backward(self, gy: Array) -> Array:
        back = -self.shifts if isinstance(self.shifts, int) else tuple(-s for s in self.shifts)
        return self.xp.roll(gy, back, axis=self.dims)


def roll(
    x: Tensor | Array, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None
) -> Tensor:
    """``torch.roll``: element i moves to i + shift (mod n) along each of ``dims``; with no
    ``dims`` the tensor is flattened, rolled by one int ``shifts`` and reshaped back."""
    x = as_tensor(x)
    if not isinstance(shifts, int):
        shifts = tuple(int(s) for s in shifts)
    if dims is None:
        if not isinstance(shifts, int):
            raise ValueError(f"roll: without dims, shifts must be one int, got {shifts}")
    else:
        dims = dims if isinstance(dims, int) else tuple(int(d) for d in dims)
        n_shifts = 1 if isinstance(shifts, int) else len(shifts)
        n_dims = 1 if isinstance(dims, int) else len(dims)
        if n_shifts != n_dims:
            raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the same length")
        for d in (dims,) if isinstance(dims, int) else dims:
            if not -x.ndim <= d < x.ndim:
                raise ValueError(f"roll: dim {d} is out of range for a tensor of shape {x.shape}")
    return RollFunction(shifts, dims)(x)


def window_partition(x: Tensor | Array, window_size: int) -> Tensor:
    """(B, H, W, C) -> (B * H/ws * W/ws, ws * ws, C): the tokens of each ws x ws window, windows in
    row-major order per image, tokens in row-major order inside a window."""
    x = as_tensor(x)
    b, h, w, c = x.shape
    ws = window_size
    if h % ws or w % ws:
        raise ValueError(
            f"window_partition: the map is {h}x{w}, not a multiple of the window size "
            f"{ws} on both sides"
        )
    x = reshape(x, (b, h // ws, ws, w // ws, ws, c))
    return reshape(permute(x, (0, 1, 3, 2, 4, 5)), (-1, ws * ws, c))


def window_reverse(windows: Tensor | Array, window_size: int, h: int, w: int) -> Tensor:
    """The inverse of :func:`window_partition`: (B * nW, ws * ws, C) -> (B, H, W, C)."""
    windows = as_tensor(windows)
    ws, c = window_size, windows.shape[-1]
    x = reshape(windows, (-1, h // ws, w // ws, ws, ws, c))
    return reshape(permute(x, (0, 1, 3, 2, 4, 5)), (-1, h, w, c))


def shifted_window_mask(h: int, w: int, window_size: int, shift: int, xp: Any = numpy) -> Any:
    """Boolean (nW, ws^2, ws^2) array, True where two tokens of a window may attend to each other.

    After the map is rolled by -shift, the last row/column of windows holds pieces that were far
    apart in the image (the wrapped-around border). Label the map in 3 x 3 regions, cut at
    -ws and -shift on each axis (Swin's slices); inside a window two tokens may attend to each
    other only if they carry the same label.
    """
    ws = window_size
    label = xp.zeros((h, w), dtype=numpy.int64)
    cuts = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)) if shift else (slice(None),)
    n = 0
    for rows in cuts:
        for cols in cuts:
            label[rows, cols] = n
            n += 1
    lab = label.reshape(h // ws, ws, w // ws, ws).transpose(0, 2, 1, 3).reshape(-1, ws * ws)
    return lab[:, :, None] == lab[:, None, :]


def relative_position_index(
    window_size: int, table_size: int | None = None, xp: Any = numpy
) -> Any:
    """(ws^2, ws^2) int array: for tokens i, j of a window at (yi, xi), (yj, xj), the row
    (yi - yj + T - 1) (2 T - 1) + (xi - xj + T - 1) of the (2 T - 1)^2-row bias table, T =
    ``table_size`` (default ws; a larger table serves a smaller window, e.g. a stage map smaller
    than the window)."""
    ws = window_size
    t = ws if table_size is None else table_size
    if t < ws:
        raise ValueError(
            f"relative_position_index: a table for windows of {t} cannot serve a window of {ws}"
        )
    yy, xx = xp.meshgrid(xp.arange(ws), xp.arange(ws), indexing="ij")
    coords = xp.stack([yy.ravel(), xx.ravel()])  # (2, N)
    rel = coords[:, :, None] - coords[:, None, :] + (t - 1)  # (2, N, N), each in [0, 2 t - 2]
    return rel[0] * (2 * t - 1) + rel[1]
