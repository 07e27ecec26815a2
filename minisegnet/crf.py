"""A fully connected CRF refining a network's class probabilities (DeepLab v1/v2's post-processing).

Krahenbuhl & Koltun (2011): every pixel is connected to every other one. With labels x_i,

    E(x) = sum_i psi_u(x_i) + sum_{i<j} mu(x_i, x_j) k(f_i, f_j),     psi_u(l) = -log P_i(l),

    k(f_i, f_j) = w1 exp(-|p_i - p_j|^2 / (2 theta_alpha^2) - |I_i - I_j|^2 / (2 theta_beta^2))
                + w2 exp(-|p_i - p_j|^2 / (2 theta_gamma^2)),

the first (bilateral, appearance) kernel says that nearby pixels of similar colour tend to share a
label, the second (spatial, smoothness) kernel removes small isolated regions; p is the position in
pixels (row, column), I the colour. The Potts compatibility mu(l, l') = [l != l'] penalises every
disagreeing pair the same.

Mean-field inference approximates P(x) by a product of per-pixel distributions Q_i and repeats

    m_i(l') = sum_{j != i} k(f_i, f_j) Q_j(l')                    (message passing)
    Q_i(l) = softmax_l( -psi_u(l) - sum_{l'} mu(l, l') m_i(l') )   (compatibility, update)

starting from Q_i = P_i. With Potts, sum_{l'} mu(l, l') m_i(l') = sum_{l'} m_i(l') - m_i(l).

Here the messages are **exact** sums over all pairs (no permutohedral lattice approximation),
vectorised over pixels and batch, and computed in chunks of rows of the HW x HW kernel so that at
most ``chunk_elements`` kernel entries exist at once. Cost: time O(iterations (HW)^2 (K + C)) for
C colour channels (O((HW)^2 C) once + O(iterations (HW)^2 K) when the kernel fits in one chunk),
memory O(chunk_elements) -- fine for toy images (32 x 32: HW = 1024, a 1024 x 1024 kernel per
image); for photographs use a permutohedral-lattice implementation instead.
"""

from __future__ import annotations

import inspect
from typing import Any

from . import backend
from .autograd import Tensor

__all__ = ["CRF_OPTIONS", "check_crf_options", "crf_defaults", "dense_crf", "refine_logits"]

#: the parameters of :func:`dense_crf` that ``--crf-*`` options set (``minisegnet predict --crf``)
CRF_OPTIONS = ("iterations", "theta_alpha", "theta_beta", "theta_gamma", "w1", "w2")


def _as_array(x: Any, name: str) -> Any:
    if isinstance(x, Tensor):
        return x.data
    if backend.is_array(x):
        return x
    raise TypeError(
        f"dense_crf: {name} must be a NumPy / CuPy array or a Tensor, got {type(x).__name__}"
    )


def _check(probs: Any, image: Any) -> None:
    if probs.ndim not in (3, 4):
        raise ValueError(
            f"dense_crf: probs must be (K, H, W) or (N, K, H, W) class probabilities, "
            f"got shape {probs.shape}"
        )
    if image.ndim != probs.ndim:
        raise ValueError(
            f"dense_crf: image must be (C, H, W) with (K, H, W) probs or (N, C, H, W) "
            f"with (N, K, H, W) probs, got image {image.shape} and probs "
            f"{probs.shape}"
        )
    if probs.ndim == 4 and image.shape[0] != probs.shape[0]:
        raise ValueError(
            f"dense_crf: image and probs must hold the same number of images, got "
            f"image {image.shape} and probs {probs.shape}"
        )
    if image.shape[-2:] != probs.shape[-2:]:
        raise ValueError(
            f"dense_crf: image and probs must have the same height and width, got "
            f"image {image.shape} and probs {probs.shape}; resize the "
            f"probabilities to the image first (F.interpolate)"
        )
    if probs.shape[-3] < 1 or image.shape[-3] < 1 or probs.size == 0:
        raise ValueError(f"dense_crf: empty input: probs {probs.shape}, image {image.shape}")
    if probs.dtype.kind != "f":
        raise TypeError(f"dense_crf: probs must be floating point, got dtype {probs.dtype}")
    lo, hi = float(image.min()), float(image.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"dense_crf: image values must lie in [0, 1] (the default theta_beta is "
            f"in those colour units), got [{lo:g}, {hi:g}]; divide 8-bit images by "
            f"255 and undo any mean/std normalisation"
        )
    sums = probs.sum(axis=-3)
    if float(probs.min()) < 0.0 or float(abs(sums - 1).max()) > 1e-3:
        raise ValueError(
            f"dense_crf: probs must be non-negative and sum to 1 over the class axis "
            f"(axis -3), got min {float(probs.min()):g} and sums in "
            f"[{float(sums.min()):g}, {float(sums.max()):g}]; pass "
            f"F.softmax(logits, axis=1), not the logits"
        )


def _softmax(z: Any, xp: Any) -> Any:
    z = z - z.max(axis=1, keepdims=True)
    e = xp.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _check_options(
    iterations: Any,
    theta_alpha: Any,
    theta_beta: Any,
    theta_gamma: Any,
    w1: Any,
    w2: Any,
    chunk_elements: Any,
) -> None:
    """Raise ValueError naming the first bad parameter of :func:`dense_crf`."""
    if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 0:
        raise ValueError(f"dense_crf: iterations must be an int >= 0, got {iterations!r}")
    for name, v in (
        ("theta_alpha", theta_alpha),
        ("theta_beta", theta_beta),
        ("theta_gamma", theta_gamma),
    ):
        if not float(v) > 0:
            raise ValueError(f"dense_crf: {name} must be > 0, got {v!r}")
    for name, v in (("w1", w1), ("w2", w2)):
        if not float(v) >= 0:
            raise ValueError(f"dense_crf: {name} must be >= 0, got {v!r}")
    if int(chunk_elements) < 1:
        raise ValueError(f"dense_crf: chunk_elements must be >= 1, got {chunk_elements!r}")


def dense_crf(
    probs: Any,
    image: Any,
    iterations: int = 5,
    theta_alpha: float = 5.0,
    theta_beta: float = 0.1,
    theta_gamma: float = 1.0,
    w1: float = 3.0,
    w2: float = 1.0,
    chunk_elements: int = 2**24,
) -> Any:
    """Refine class probabilities with ``iterations`` mean-field steps of a fully connected CRF.

    ``probs``: (K, H, W) or (N, K, H, W) probabilities (non-negative, summing to 1 over K);
    ``image``: (C, H, W) or (N, C, H, W) colours **in [0, 1]** (RGB: C = 3). Both NumPy / CuPy
    arrays or Tensors on one device; the result has the kind, shape, dtype and device of
    ``probs`` (a Tensor without gradient for a Tensor).

    Defaults are tuned for 32 x 32 toy images with colours in [0, 1]: the bilateral kernel
    (weight ``w1`` = 3) reaches ``theta_alpha`` = 5 pixels and colour differences of about
    ``theta_beta`` = 0.1 (25 on a 0-255 scale), the spatial kernel (``w2`` = 1) ``theta_gamma`` = 1
    pixel. DeepLab's values for 0-255 photographs (w1 = 4, theta_alpha = 121, theta_beta = 5,
    w2 = 3, theta_gamma = 3) become theta_beta = 5 / 255 here.

    Exact pairwise sums in chunks of at most ``chunk_elements`` kernel entries (N included; 2**24,
    128 MiB in float64, by default): time O(iterations (HW)^2 (K + C)), memory
    O(chunk_elements). When the whole N x HW x HW kernel fits in one chunk it is computed once,
    and each iteration costs one batched matrix product, O(N (HW)^2 K). ``iterations=0`` returns
    the input probabilities (renormalised).
    """
    is_tensor = isinstance(probs, Tensor)
    p, img = _as_array(probs, "probs"), _as_array(image, "image")
    xp = backend.get_array_module(p, img)
    _check_options(iterations, theta_alpha, theta_beta, theta_gamma, w1, w2, chunk_elements)
    _check(p, img)
    single = p.ndim == 3
    if single:
        p, img = p[None], img[None]
    n, k, h, w = p.shape
    c, hw = img.shape[1], h * w
    dtype = p.dtype
    unary = -xp.log(xp.maximum(p, xp.finfo(dtype).tiny)).reshape(n, k, hw)
    rows, cols = xp.meshgrid(xp.arange(h, dtype=dtype), xp.arange(w, dtype=dtype), indexing="ij")
    pos = xp.stack([rows.ravel(), cols.ravel()])  # (2, HW)
    colour = img.astype(dtype).reshape(n, c, hw) / dtype.type(theta_beta)  # (N, C, HW)
    chunk = max(1, min(hw, int(chunk_elements) // (n * hw)))
    slices = [slice(s, min(s + chunk, hw)) for s in range(0, hw, chunk)]

    def kernel(sl: slice) -> Any:
        """k(f_i, f_j) for the rows i in ``sl`` and every j: (N, rows, HW)."""
        d_pos = sum((pos[a, sl, None] - pos[a, None, :]) ** 2 for a in range(2))  # (rows, HW)
        d_col = sum(
            (colour[:, a, sl, None] - colour[:, a, None, :]) ** 2 for a in range(c)
        )  # (N, rows, HW)
        kern = w1 * xp.exp(-d_pos / (2 * theta_alpha**2) - d_col / 2)
        kern += w2 * xp.exp(-d_pos / (2 * theta_gamma**2))
        return kern

    # the whole kernel within the budget: compute it once; else recompute each chunk every time
    cached = [kernel(sl) for sl in slices] if len(slices) == 1 and iterations else None

    def messages(q: Any) -> Any:
        """m[n, l, i] = sum_{j != i} k(f_i, f_j) q[n, l, j], chunk by chunk of rows i."""
        out, qt = xp.empty_like(q), q.transpose(0, 2, 1)
        for i, sl in enumerate(slices):  # loop over chunks of pixels, each vectorised
            kern = cached[i] if cached is not None else kernel(sl)
            out[:, :, sl] = (kern @ qt).transpose(0, 2, 1)  # (N, rows, HW) @ (N, HW, K)
        return out - (w1 + w2) * q  # drop j = i (k(f_i, f_i) = w1 + w2)

    q = _softmax(-unary, xp)
    for _ in range(iterations):
        m = messages(q)
        pairwise = m.sum(axis=1, keepdims=True) - m  # Potts: sum over l' != l
        q = _softmax(-unary - pairwise, xp)
    q = q.reshape(n, k, h, w).astype(dtype, copy=False)
    if single:
        q = q[0]
    return Tensor(q) if is_tensor else q


def crf_defaults() -> dict[str, Any]:
    """``{name: default}`` of :func:`dense_crf`'s :data:`CRF_OPTIONS` (iterations 5, ...)."""
    params = inspect.signature(dense_crf).parameters
    return {name: params[name].default for name in CRF_OPTIONS}


def check_crf_options(crf: dict[str, Any]) -> dict[str, Any]:
    """``crf`` completed with the defaults; an unknown name or a bad value raises ValueError."""
    unknown = sorted(set(crf) - set(CRF_OPTIONS))
    if unknown:
        raise ValueError(
            f"dense_crf: unknown CRF option(s) {unknown}; valid: {', '.join(CRF_OPTIONS)}"
        )
    full = {**crf_defaults(), **crf}
    _check_options(**{"chunk_elements": 1, **full})
    return full


def refine_logits(logits: Any, images: Any, **crf: Any) -> Any:
    """Class probabilities refined by :func:`dense_crf`: ``softmax(logits)`` over axis 1 of the
    (N, K, H, W) scores (a Tensor or an array), with the (N, C, H, W) ``images`` **in [0, 1]**
    on the same device; computed in float64 (the Potts messages sum HW terms). Returns an array
    (N, K, H, W) on the logits' device; ``crf`` are :func:`dense_crf`'s keyword arguments
    (``chunk_elements`` 2**20 unless given)."""
    z = _as_array(logits, "logits")
    img = _as_array(images, "images")
    xp = backend.get_array_module(z, img)
    if z.ndim != 4:
        raise ValueError(
            f"refine_logits: logits must be (N, K, H, W) class scores, got shape {z.shape}"
        )
    probs, img = _softmax(z.astype(xp.float64), xp), img.astype(xp.float64)
    # a batch's kernel rows in small chunks (recomputed each iteration) stay in the CPU's cache:
    # on 32 x 32 images 2**20 entries ran faster than computing a 2**24 kernel once per image
    crf.setdefault("chunk_elements", 2**20)
    return dense_crf(probs, img, **crf)
