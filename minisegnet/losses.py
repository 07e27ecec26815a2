"""The segmentation losses of the lectures, differentiable and numerically safe.

Every loss returns a :class:`~minisegnet.Tensor` and takes ``reduction``: ``"mean"`` (default),
``"sum"`` or ``"none"``. Losses are built from minisegnet ops or are one short
:class:`~minisegnet.Function` with forward and backward side by side, so ``loss.backward()``
works, and a sum of losses (``dice_loss(...) + cross_entropy(...)``) is itself a loss.

What each family expects (details in docs/losses.md):

* **multi-class cross entropy** (deck 000, deck 003): :func:`cross_entropy` and
  :func:`softmax_focal_loss` take *logits* (N, K, H, W) (or (N, K)), K >= 2, and integer labels
  (N, H, W) (:func:`cross_entropy` also takes one-hot / soft targets of the logits' shape, a
  distribution over the classes at every pixel);
* **binary family** on one channel (deck 004: CE, WCE, BCE, FL): the input is the predicted
  probability p̂ unless ``from_logits=True`` (then p̂ = sigmoid(input), computed in the stable
  log-sigmoid form); the target p has the input's shape, values in [0, 1];
* **overlap family** (deck 004: Dice, Tversky; soft Jaccard): probabilities by default,
  ``from_logits=True`` applies softmax over the class axis (sigmoid for one channel); integer
  labels are one-hot encoded; per-class scores are computed over the whole batch, then averaged.

One channel (N, 1, H, W) is the binary convention everywhere (losses and
:mod:`minisegnet.metrics`): the foreground score, a probability p̂ in [0, 1] (or a logit with
``from_logits=True``), label 1 the foreground; the metrics label a pixel 1 where p̂ > 0.5.

Targets are constants, as labels are: a target Tensor that requires grad is refused with an error
(pass ``target.detach()``), except where PyTorch passes a gradient to it and so does minisegnet:
:func:`mse_loss` / :func:`sse_loss`, :func:`cross_entropy` with a soft target, and
:func:`minisegnet.nn.functional.binary_cross_entropy_with_logits`.

Probabilities are clamped from below at ``eps`` inside logarithms (p̂ = 0 or 1 gives a finite
loss and a finite gradient); logits go through log-softmax / log-sigmoid (finite for ±1e4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy

from . import backend
from . import functional as F
from .autograd import Function, Tensor, as_tensor, is_grad_enabled
from .backend import Array
from .validation import as_array, check_labels, is_float, scalar_like

__all__ = [
    "cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "weighted_binary_cross_entropy",
    "balanced_binary_cross_entropy",
    "focal_loss",
    "softmax_focal_loss",
    "dice_loss",
    "tversky_loss",
    "jaccard_loss",
    "sse_loss",
    "mse_loss",
    "CrossEntropyLabelsFunction",
    "SoftmaxFocalFunction",
    "BinaryFocalFamilyFunction",
    "BinaryFocalFamilyWithLogitsFunction",
]

REDUCTIONS = ("mean", "sum", "none")


# ----------------------------------------------------------------------------------------------
# input checks and helpers


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _float_input(op: str, x: Any, min_ndim: int = 0) -> Tensor:
    x = as_tensor(x)
    if not is_float(x.dtype):
        raise TypeError(
            f"{op}: input must be a floating tensor (logits or probabilities), got "
            f"dtype {x.dtype} (shape {x.shape}); convert with .float()"
        )
    if x.ndim < min_ndim:
        raise ValueError(
            f"{op}: input of shape {x.shape} has no class axis; expected (N, K) or "
            "(N, K, H, W) logits"
        )
    return x


def grad_target(target: Any) -> bool:
    """Whether ``target`` is a Tensor asking for a gradient (``requires_grad``, in grad mode)."""
    return isinstance(target, Tensor) and target.requires_grad and is_grad_enabled()


def target_tensor(target: Tensor, x: Tensor) -> Tensor:
    """A target that requires grad, in the input's dtype (the cast is differentiable)."""
    return target if target.dtype == x.dtype else F.to(target, dtype=x.dtype)


def _target(op: str, target: Any, x: Tensor, differentiable: bool = False) -> Any:
    """The target's array (checked to be on the input's device). A target that requires grad is
    refused unless the loss passes its gradient on (``differentiable``)."""
    if not differentiable and grad_target(target):
        raise ValueError(
            f"{op}: the target (shape {tuple(target.shape)}) requires grad, but this loss treats "
            "its target as a constant: no gradient would reach it. Pass target.detach() "
            "(mse_loss, sse_loss, cross_entropy with a soft target and "
            "nn.functional.binary_cross_entropy_with_logits do pass a gradient to the target)"
        )
    if isinstance(target, (list, tuple)):  # plain numbers go to the input's device
        return x.xp.asarray(target)
    t = as_array(target)
    backend.check_same_device(x.data, t, op=op)
    return t


def _shape_error(op: str, x: Tensor, t: Any, expected: str) -> ValueError:
    return ValueError(
        f"{op}: input shape {x.shape} and target shape {tuple(t.shape)} do not "
        f"match; expected {expected}"
    )


def _label_shape(x: Tensor) -> tuple[int, ...]:
    return x.shape[:1] + x.shape[2:]


def _class_shape(x: Tensor) -> tuple[int, ...]:
    """Shape that broadcasts a (K,) vector along axis 1 of ``x``."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _class_weight(op: str, weight: Any, k: int, x: Tensor, name: str = "weight") -> Any:
    if weight is None:
        return None
    if isinstance(weight, (list, tuple)):  # plain numbers go to the input's device
        w = x.xp.asarray(weight, dtype=x.dtype)
    else:
        w = as_array(weight)
        backend.check_same_device(x.data, w, op=op)
    if w.shape != (k,):
        raise ValueError(
            f"{op}: {name} must have one entry per class, shape ({k},), got {tuple(w.shape)}"
        )
    w = w.astype(x.dtype, copy=False)
    return w


def _check_multi_class(op: str, x: Tensor) -> None:
    """Softmax over one channel is 1 everywhere (the loss would be 0 whatever the input): refuse."""
    if x.shape[1] == 1:
        raise ValueError(
            f"{op}: the input has one channel (shape {x.shape}), and a softmax over a single class "
            "is 1 everywhere, so this loss would be 0 whatever the prediction. One channel is a "
            "binary foreground score: use binary_cross_entropy_with_logits / focal_loss(..., "
            "from_logits=True) with a 0/1 target of the input's shape, or dice_loss(..., "
            "from_logits=True); or give K >= 2 channels of logits"
        )


def _check_soft_target(op: str, p: Any) -> None:
    """A soft target of the logits' shape is a distribution over axis 1 at every pixel (entries in
    [0, 1] summing to 1), or all zeros (a pixel left out). Anything else gives a loss that is not a
    cross entropy (negative entries: a negative loss)."""
    if p.size == 0:
        return
    lo, hi = float(p.min()), float(p.max())
    if not (0.0 <= lo and hi <= 1.0):
        raise ValueError(
            f"{op}: a one-hot / soft target holds values in [{lo:.4g}, {hi:.4g}], outside [0, 1]; "
            "it must be a probability distribution over the class axis 1 at every pixel (or "
            "integer labels of shape (N, H, W))"
        )
    sums = p.sum(axis=1)
    bad = (abs(sums - 1) > 1e-3) & (sums != 0)
    if bool(bad.any()):
        raise ValueError(
            f"{op}: a one-hot / soft target must sum to 1 over the class axis 1 at every pixel "
            f"(or be all 0 to leave the pixel out), but a pixel's entries sum to "
            f"{float(sums[bad].ravel()[0]):.4g}; normalise it (p / p.sum(axis=1, keepdims=True))"
        )


def _check_probabilities(op: str, x: Tensor) -> None:
    if x.size == 0:
        return
    lo, hi = float(x.data.min()), float(x.data.max())
    if lo < 0 or hi > 1 or lo != lo or hi != hi:
        raise ValueError(
            f"{op}: input values lie in [{lo:.4g}, {hi:.4g}], outside [0, 1], so they are not "
            "probabilities; if they are logits pass from_logits=True"
        )


def _check_unit_interval(op: str, name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{op}: {name} must lie in [0, 1], got {value}")


def _one_hot(labels: Any, k: int, dtype: Any, xp: Any) -> Any:
    """(N, *S) integer labels -> (N, K, *S) one-hot (labels outside [0, K) give all zeros)."""
    classes = xp.arange(k).reshape((1, k) + (1,) * (labels.ndim - 1))
    return (xp.expand_dims(labels, 1) == classes).astype(dtype)


def _log_softmax_parts(x: Any, xp: Any) -> tuple[Any, Any, Any]:
    """shifted = x - max, e = exp(shifted), lse = ln Σ e (all along axis 1, keepdims)."""
    shifted = x - x.max(axis=1, keepdims=True)
    e = xp.exp(shifted)
    se = e.sum(axis=1, keepdims=True)
    return shifted, e / se, xp.log(se)


# ----------------------------------------------------------------------------------------------
# cross entropy (deck 000)


class CrossEntropyLabelsFunction(Function):
    """Pixel-wise cross entropy against integer labels y (deck 000, deck 003), one value per pixel:

        L(x, y) = -w_y log q_y,     log q = log_softmax(x) over the class axis (finite for ±1e4)

    i.e. -Σ_i p_i log q_i with the one-hot p, read at the target class with ``take_along_axis``
    (no one-hot on the forward). With label smoothing ε (PyTorch's definition, K classes):

        L = (1 - ε) w_y (-log q_y) + (ε / K) Σ_c w_c (-log q_c)

    Ignored pixels give 0. Backward, W = Σ_c w_c (W = K without weights):

        dL/dx_j = (1 - ε) w_y (q_j - [j = y]) + (ε / K) (W q_j - w_j)
    """

    def __init__(
        self,
        target: Any,
        weight: Any = None,
        ignore_index: int | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        self.target, self.weight = target, weight
        self.ignore_index, self.eps = ignore_index, float(label_smoothing)

    def forward(self, x: Array) -> Array:
        xp, t, w, eps = self.xp, self.target, self.weight, self.eps
        k = x.shape[1]
        valid = (t != self.ignore_index) if self.ignore_index is not None else None
        if valid is not None:
            t = xp.where(valid, t, 0)
        idx = xp.expand_dims(t, 1).astype(numpy.int64)
        shifted, q, lse = _log_softmax_parts(x, xp)
        nll = (lse - xp.take_along_axis(shifted, idx, axis=1))[:, 0]  # -log q_y
        w_y = w[t] if w is not None else None
        self.save_for_backward(q, idx, valid, w_y)
        loss = nll if w_y is None else w_y * nll
        if eps:
            ws = (
                shifted.sum(axis=1)
                if w is None
                else (shifted * w.reshape((1, k) + (1,) * (x.ndim - 2))).sum(axis=1)
            )
            big_w = float(k) if w is None else w.sum()
            loss = (1 - eps) * loss + (eps / k) * (big_w * lse[:, 0] - ws)
        if valid is not None:
            loss = loss * valid
        return loss.astype(x.dtype, copy=False)

    def backward(self, gy: Array) -> Array:
        xp, eps, w = self.xp, self.eps, self.weight
        q, idx, valid, w_y = self.saved_tensors
        k = q.shape[1]
        g = gy if valid is None else gy * valid
        a = (1 - eps) * (g if w_y is None else g * w_y)  # coefficient of (q - onehot)
        a, g = xp.expand_dims(a, 1), xp.expand_dims(g, 1)
        onehot = xp.arange(k).reshape((1, k) + (1,) * (q.ndim - 2)) == idx
        gx = q * a - onehot * a
        if eps:
            big_w = float(k) if w is None else w.sum()
            w_b = 1.0 if w is None else w.reshape((1, k) + (1,) * (q.ndim - 2))
            gx = gx + (eps / k) * g * (big_w * q - w_b)
        return gx


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """Pixel-wise cross entropy from logits (deck 000), PyTorch's ``F.cross_entropy``:

        L = -(1/N) Σ_pixels Σ_i p_i log q_i,    q = softmax(logits), p = one-hot target

    Deck 000's pixel: target (0, 1, 0, 0), prediction q = (0.2, 0.3, 0.4, 0.1) gives
    -ln 0.3 = 1.2040 (pass log q as logits: log_softmax(log q) = log q).

    * ``input``: logits (N, K, H, W) or (N, K), floating;
    * ``target``: integer labels (N, H, W) / (N,) in [0, K), or a one-hot / soft target of the
      input's shape: at every pixel a distribution over the classes (entries in [0, 1] summing to
      1, or all 0 to leave the pixel out; anything else is refused), and then ``ignore_index`` is
      not allowed; a soft target Tensor that requires grad gets d/dp_i = -log q_i (times the
      weights and the reduction's scale), as in PyTorch;
    * K >= 2 channels: one channel is refused (softmax over one class is 1, the loss would be 0);
      a binary foreground map goes to :func:`binary_cross_entropy_with_logits`;
    * ``weight``: per-class weights w (K,): pixel loss -w_y log q_y;
    * ``ignore_index``: pixels with this label contribute nothing (loss 0, gradient 0);
    * ``label_smoothing`` ε: the target becomes (1 - ε) p + ε / K;
    * ``reduction="mean"`` divides by Σ w_y over the counted pixels (the pixel count without
      weights; N*H*W with soft targets), as PyTorch does. When every pixel is ignored (or the
      counted weights sum to 0) the mean is 0 with a zero gradient, not NaN.
    """
    op = "cross_entropy"
    _check_reduction(op, reduction)
    _check_unit_interval(op, "label_smoothing", label_smoothing)
    x = _float_input(op, input, min_ndim=2)
    _check_multi_class(op, x)
    t = _target(op, target, x, differentiable=True)  # a soft target may require grad
    k = x.shape[1]
    w = _class_weight(op, weight, k, x)
    if t.shape == x.shape:  # one-hot / soft target
        if ignore_index is not None:
            raise ValueError(
                f"{op}: ignore_index works with integer label targets of shape "
                f"{_label_shape(x)}, not with a one-hot / soft target of shape "
                f"{tuple(t.shape)}; pass labels, or zero the ignored pixels' targets"
            )
        _check_soft_target(op, t)
        p: Any = target_tensor(target, x) if grad_target(target) else t.astype(x.dtype)
        if label_smoothing:
            p = (1 - label_smoothing) * p + label_smoothing / k
        if w is not None:
            p = p * w.reshape(_class_shape(x))
        return _reduce(-(F.log_softmax(x, axis=1) * p).sum(axis=1), reduction)
    if t.shape != _label_shape(x):
        raise _shape_error(
            op,
            x,
            t,
            f"integer labels of shape {_label_shape(x)} or a one-hot / "
            f"soft target of shape {x.shape}",
        )
    check_labels(op, t, k, ignore_index)
    loss = CrossEntropyLabelsFunction(t, w, ignore_index, label_smoothing)(x)
    if reduction != "mean":
        return _reduce(loss, reduction)
    xp = x.xp
    valid = (t != ignore_index) if ignore_index is not None else xp.ones(t.shape, dtype=bool)
    if w is None:
        denom = valid.sum()
    else:
        denom = (w[xp.where(valid, t, 0)] * valid).sum()
    scale = xp.where(denom > 0, 1.0 / xp.where(denom > 0, denom, 1), 0.0).astype(x.dtype)
    return loss.sum() * Tensor(scale)


# ----------------------------------------------------------------------------------------------
# the binary family (deck 004): CE, WCE, BCE and focal loss are one formula


class BinaryFocalFamilyFunction(Function):
    """Deck 004's binary losses from probabilities p̂, target p in [0, 1], one value per pixel:

        L = -(a (1 - p̂)^γ p log p̂ + b p̂^γ (1 - p) log(1 - p̂))

    CE: a = b = 1, γ = 0;  WCE: a = β, b = 1;  BCE: a = β, b = 1 - β;  FL: a = α, b = 1 - α.
    p̂ and 1 - p̂ are clamped from below at ``eps`` (so p̂ = 0 or 1 stays finite); the gradient is
    the formula's derivative at the clamped point (it keeps pushing a confident wrong p̂ back):

        dL/dp̂ = a p (γ (1-p̂)^(γ-1) log p̂ - (1-p̂)^γ / p̂)
              + b (1-p) (p̂^γ / (1-p̂) - γ p̂^(γ-1) log(1-p̂))
    """

    def __init__(self, target: Any, a: float, b: float, gamma: float, eps: float) -> None:
        self.y, self.a, self.b, self.gamma, self.eps = target, a, b, gamma, eps

    def forward(self, p: Array) -> Array:
        xp, y = self.xp, self.y
        a, b, g, eps, one = (scalar_like(p, v) for v in (self.a, self.b, self.gamma, self.eps, 1))
        pc, qc = xp.maximum(p, eps), xp.maximum(one - p, eps)
        lp, lq = xp.log(pc), xp.log(qc)
        fp, fn = qc**g, pc**g  # focal factors (1 - p̂)^γ and p̂^γ
        self.save_for_backward(pc, qc, lp, lq, fp, fn)
        return -(a * y * fp * lp + b * (one - y) * fn * lq)

    def backward(self, gy: Array) -> Array:
        y, a, b, g = self.y, self.a, self.b, self.gamma
        pc, qc, lp, lq, fp, fn = self.saved_tensors
        pos = g * qc ** (g - 1) * lp - fp / pc
        neg = fn / qc - g * pc ** (g - 1) * lq
        return gy * (a * y * pos + b * (1 - y) * neg)


class BinaryFocalFamilyWithLogitsFunction(Function):
    """The same formula with p̂ = sigmoid(z), in the stable form (finite for z = ±1e4):

        log p̂ = -softplus(-z),  log(1 - p̂) = -softplus(z),  1 - p̂ = sigmoid(-z)
        L = -(a (1 - p̂)^γ p log p̂ + b p̂^γ (1 - p) log(1 - p̂))

        dL/dz = a p (1-p̂)^γ (γ p̂ log p̂ - (1-p̂)) + b (1-p) p̂^γ (p̂ - γ (1-p̂) log(1-p̂))

    (γ = 0, a = b = 1: dL/dz = p̂ - p.)
    """

    def __init__(self, target: Any, a: float, b: float, gamma: float) -> None:
        self.y, self.a, self.b, self.gamma = target, a, b, gamma

    def forward(self, z: Array) -> Array:
        xp, y = self.xp, self.y
        a, b, g, zero, one = (scalar_like(z, v) for v in (self.a, self.b, self.gamma, 0, 1))
        e = xp.exp(-xp.abs(z))  # in (0, 1]: never overflows
        pos = z >= 0
        s = xp.where(pos, one / (one + e), e / (one + e))  # p̂
        r = xp.where(pos, e / (one + e), one / (one + e))  # 1 - p̂
        log1p_e = xp.log1p(e)
        ls = -(xp.maximum(-z, zero) + log1p_e)  # log p̂
        lr = -(xp.maximum(z, zero) + log1p_e)  # log(1 - p̂)
        fp, fn = r**g, s**g
        self.save_for_backward(s, r, ls, lr, fp, fn)
        return -(a * y * fp * ls + b * (one - y) * fn * lr)

    def backward(self, gy: Array) -> Array:
        y, a, b, g = self.y, self.a, self.b, self.gamma
        s, r, ls, lr, fp, fn = self.saved_tensors
        pos = fp * (g * s * ls - r)
        neg = fn * (s - g * r * lr)
        return gy * (a * y * pos + b * (1 - y) * neg)


def _binary_target(op: str, target: Any, x: Tensor, differentiable: bool = False) -> Any:
    t = _target(op, target, x, differentiable)
    if t.shape != x.shape:
        raise _shape_error(
            op,
            x,
            t,
            f"a target of the input's shape {x.shape} with values in "
            "[0, 1] (for K-class logits use cross_entropy)",
        )
    if t.size:
        lo, hi = float(t.min()), float(t.max())
        if lo < 0 or hi > 1:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"{op}: target holds {bad:g}, outside [0, 1]; a binary target is a "
                "0/1 mask or a probability (for K-class labels use cross_entropy)"
            )
    return t.astype(x.dtype)


def _binary_family(
    op: str,
    input: Any,
    target: Any,
    a: float,
    b: float,
    gamma: float,
    from_logits: bool,
    eps: float,
    reduction: str,
) -> Tensor:
    _check_reduction(op, reduction)
    if gamma < 0:
        raise ValueError(f"{op}: gamma must be >= 0, got {gamma}")
    x = _float_input(op, input)
    y = _binary_target(op, target, x)
    if from_logits:
        loss = BinaryFocalFamilyWithLogitsFunction(y, a, b, gamma)(x)
    else:
        _check_probabilities(op, x)
        if not 0 < eps < 0.5:
            raise ValueError(f"{op}: eps must lie in (0, 0.5), got {eps}")
        loss = BinaryFocalFamilyFunction(y, a, b, gamma, eps)(x)
    return _reduce(loss, reduction)


def binary_cross_entropy(
    input: Any,
    target: Any,
    *,
    from_logits: bool = False,
    eps: float = 1e-7,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross entropy (deck 004): CE(p, p̂) = -(p log p̂ + (1 - p) log(1 - p̂)).

    ``input`` is the probability p̂ (clamped at ``eps`` inside the logs: p̂ = 0 or 1 is finite),
    or logits with ``from_logits=True`` (stable form; same as
    :func:`binary_cross_entropy_with_logits`). ``target`` p: the input's shape, values in [0, 1].
    """
    return _binary_family(
        "binary_cross_entropy", input, target, 1.0, 1.0, 0.0, from_logits, eps, reduction
    )


def binary_cross_entropy_with_logits(input: Any, target: Any, *, reduction: str = "mean") -> Tensor:
    """Binary cross entropy on logits z, p̂ = sigmoid(z), computed stably (finite for z = ±1e4):
    CE = -(p log p̂ + (1 - p) log(1 - p̂)) = softplus(z) - p z."""
    return _binary_family(
        "binary_cross_entropy_with_logits", input, target, 1.0, 1.0, 0.0, True, 1e-7, reduction
    )


def weighted_binary_cross_entropy(
    input: Any,
    target: Any,
    beta: float,
    *,
    from_logits: bool = False,
    eps: float = 1e-7,
    reduction: str = "mean",
) -> Tensor:
    """Weighted cross entropy (deck 004's WCE): WCE(p, p̂) = -(β p log p̂ + (1 - p) log(1 - p̂)).

    β > 1 weights the positives up (fewer false negatives), β < 1 down; β = 1 is the plain CE.
    Input as in :func:`binary_cross_entropy`.
    """
    op = "weighted_binary_cross_entropy"
    if beta < 0:
        raise ValueError(f"{op}: beta must be >= 0, got {beta}")
    return _binary_family(op, input, target, float(beta), 1.0, 0.0, from_logits, eps, reduction)


def balanced_binary_cross_entropy(
    input: Any,
    target: Any,
    beta: float,
    *,
    from_logits: bool = False,
    eps: float = 1e-7,
    reduction: str = "mean",
) -> Tensor:
    """Balanced cross entropy (deck 004's BCE):

        BCE(p, p̂) = -(β p log p̂ + (1 - β)(1 - p) log(1 - p̂))

    β in [0, 1] weights positives, 1 - β negatives (β = 1/2 is CE / 2). Input as in
    :func:`binary_cross_entropy`.
    """
    op = "balanced_binary_cross_entropy"
    _check_unit_interval(op, "beta", beta)
    return _binary_family(
        op, input, target, float(beta), 1.0 - beta, 0.0, from_logits, eps, reduction
    )


def focal_loss(
    input: Any,
    target: Any,
    alpha: float | None = 0.25,
    gamma: float = 2.0,
    *,
    from_logits: bool = False,
    eps: float = 1e-7,
    reduction: str = "mean",
) -> Tensor:
    """Binary focal loss (deck 004's FL), which down-weights easy pixels:

        FL(p, p̂) = -(α (1 - p̂)^γ p log p̂ + (1 - α) p̂^γ (1 - p) log(1 - p̂))

    ``alpha=None`` weights both terms 1. γ = 0 and α = 1/2 give CE / 2. Input as in
    :func:`binary_cross_entropy`; for K-class logits use :func:`softmax_focal_loss`.
    """
    op = "focal_loss"
    if alpha is None:
        a, b = 1.0, 1.0
    else:
        _check_unit_interval(op, "alpha", alpha)
        a, b = float(alpha), 1.0 - alpha
    return _binary_family(op, input, target, a, b, float(gamma), from_logits, eps, reduction)


class SoftmaxFocalFunction(Function):
    """Multi-class focal loss from logits x and integer labels y, one value per pixel:

        FL = -α_y (1 - q_y)^γ log q_y,     q = softmax(x) over the class axis

    (γ = 0, α = 1: the cross entropy.) 1 - q_y is computed as -expm1(log q_y) (exact near q_y = 1).
    Backward: dL/dx_j = α_y c (q_j - [j = y]),  c = (1 - q_y)^γ - γ q_y log q_y (1 - q_y)^(γ-1).
    """

    def __init__(self, target: Any, alpha: Any, gamma: float, ignore_index: int | None) -> None:
        self.target, self.alpha, self.gamma, self.ignore_index = target, alpha, gamma, ignore_index

    def forward(self, x: Array) -> Array:
        xp, t, g = self.xp, self.target, self.gamma
        valid = (t != self.ignore_index) if self.ignore_index is not None else None
        if valid is not None:
            t = xp.where(valid, t, 0)
        idx = xp.expand_dims(t, 1).astype(numpy.int64)
        shifted, q, lse = _log_softmax_parts(x, xp)
        lq = (xp.take_along_axis(shifted, idx, axis=1) - lse)[:, 0]  # log q_y
        r = -xp.expm1(lq)  # 1 - q_y
        f = r**g
        weight = self.alpha[t] if hasattr(self.alpha, "shape") else self.alpha
        if valid is not None:
            weight = weight * valid
        coef = f - g * xp.exp(lq) * lq * xp.maximum(r, 1e-30) ** (g - 1)
        self.save_for_backward(q, idx, (weight * coef).astype(x.dtype, copy=False))
        return (-weight * f * lq).astype(x.dtype, copy=False)

    def backward(self, gy: Array) -> Array:
        xp, (q, idx, coef) = self.xp, self.saved_tensors
        k = q.shape[1]
        a = xp.expand_dims(gy * coef, 1)
        onehot = xp.arange(k).reshape((1, k) + (1,) * (q.ndim - 2)) == idx
        return q * a - onehot * a


def softmax_focal_loss(
    input: Any,
    target: Any,
    alpha: Any = None,
    gamma: float = 2.0,
    ignore_index: int | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class focal loss from logits (N, K, H, W) and integer labels (N, H, W):

        FL = -α_y (1 - q_y)^γ log q_y,    q = softmax(logits)

    deck 004's focal loss with the softmax probability of the true class in place of p̂.
    ``alpha``: None (1), a number, or one weight per class (K,). ``"mean"`` divides by the number
    of counted (not ignored) pixels; 0 with a zero gradient when every pixel is ignored.
    γ = 0 and α = 1 give :func:`cross_entropy`.
    """
    op = "softmax_focal_loss"
    _check_reduction(op, reduction)
    if gamma < 0:
        raise ValueError(f"{op}: gamma must be >= 0, got {gamma}")
    x = _float_input(op, input, min_ndim=2)
    _check_multi_class(op, x)
    t = _target(op, target, x)
    if t.shape != _label_shape(x):
        raise _shape_error(op, x, t, f"integer labels of shape {_label_shape(x)}")
    k = x.shape[1]
    check_labels(op, t, k, ignore_index)
    if alpha is None:
        alpha = 1.0
    elif not isinstance(alpha, (int, float)):
        alpha = _class_weight(op, alpha, k, x, name="alpha")
    loss = SoftmaxFocalFunction(t, alpha, float(gamma), ignore_index)(x)
    if reduction != "mean":
        return _reduce(loss, reduction)
    xp = x.xp
    count = (t != ignore_index).sum() if ignore_index is not None else xp.asarray(t.size)
    scale = xp.where(count > 0, 1.0 / xp.maximum(count, 1), 0.0).astype(x.dtype)
    return loss.sum() * Tensor(scale)


# ----------------------------------------------------------------------------------------------
# the overlap family (deck 004): Dice, Tversky, soft Jaccard


def _overlap_sums(
    op: str,
    input: Any,
    target: Any,
    from_logits: bool,
    ignore_index: int | None,
    classes: Sequence[int] | None,
    squared: bool = False,
) -> tuple[Any, Any, Any]:
    """Per-class soft sums over every pixel of the batch: (Σ p̂ p, Σ p̂ [or Σ p̂²], Σ p [or Σ p²]).

    Layouts: labels (N, *S) with input (N, K, *S) (K = 1: binary 0/1 labels, else one-hot);
    a target of the input's shape, class axis 1 when input.ndim >= 4, a single binary map when
    input.ndim <= 3. Pixels whose target equals ``ignore_index`` are left out.
    """
    x = _float_input(op, input)
    t = _target(op, target, x)
    xp = x.xp
    mask = None
    if x.ndim >= 2 and t.shape == _label_shape(x):  # integer labels
        k = x.shape[1]
        check_labels(op, t, max(k, 2), ignore_index)
        if ignore_index is not None:
            mask = xp.expand_dims(t != ignore_index, 1).astype(x.dtype)
        if k == 1:  # one foreground channel: label 1 is the foreground
            p_true = (xp.expand_dims(t, 1) == 1).astype(x.dtype)
        else:
            p_true = _one_hot(t, k, x.dtype, xp)
    elif t.shape == x.shape:  # one-hot, probability map or 0/1 mask
        if x.ndim <= 3:  # one binary map per batch: give it a class axis of size 1
            x, t = x.reshape(1, 1, -1), t.reshape(1, 1, -1)
        if ignore_index is not None:
            mask = (t != ignore_index).astype(x.dtype)
            t = xp.where(mask > 0, t, 0)
        if t.size:
            lo, hi = float(t.min()), float(t.max())
            if lo < 0 or hi > 1:
                raise ValueError(
                    f"{op}: target holds {lo if lo < 0 else hi:g}, outside [0, 1]; "
                    "a target of the input's shape is one-hot / a probability map "
                    "(pass integer labels of shape (N, H, W) for K classes)"
                )
        p_true = t.astype(x.dtype)
    else:
        raise _shape_error(
            op,
            x,
            t,
            f"integer labels of shape {_label_shape(x)} or a one-hot / "
            f"probability map of shape {x.shape}",
        )
    k = x.shape[1]
    if from_logits:
        p_hat = F.sigmoid(x) if k == 1 else F.softmax(x, axis=1)
    else:
        _check_probabilities(op, x)
        p_hat = x
    if mask is not None:
        p_hat, p_true = p_hat * mask, p_true * mask
    axes = (0,) + tuple(range(2, x.ndim))
    inter = (p_hat * p_true).sum(axis=axes)
    size_hat = (p_hat * p_hat if squared else p_hat).sum(axis=axes)
    size_true = (p_true * p_true if squared else p_true).sum(axis=axes)
    if classes is not None:
        chosen = [int(c) for c in classes]
        if not chosen or any(not 0 <= c < k for c in chosen):
            raise ValueError(
                f"{op}: classes={list(classes)} must be a non-empty selection of "
                f"class indices in [0, {k})"
            )
        # K is small: pick the classes one by one (basic indexing, no scatter in the backward)
        inter, size_hat = (F.stack([v[c] for c in chosen]) for v in (inter, size_hat))
        size_true = xp.stack([size_true[c] for c in chosen])
    return inter, size_hat, Tensor(size_true)


def _ratio(num: Tensor, den: Tensor) -> Tensor:
    """num / den per class, with 0 / 0 scored 1 (nothing to find, nothing found)."""
    empty = den.data == 0
    return F.where(empty, 1.0, num / (den + empty.astype(den.dtype)))


def _overlap_loss(score: Tensor, reduction: str) -> Tensor:
    return _reduce(1 - score, reduction)


def dice_loss(
    input: Any,
    target: Any,
    smooth: float = 1.0,
    squared: bool = False,
    *,
    from_logits: bool = False,
    classes: Sequence[int] | None = None,
    ignore_index: int | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Dice loss (deck 004's DL), per class c, sums over every pixel of the batch:

        DL_c = 1 - (2 Σ p p̂ + s) / (Σ p + Σ p̂ + s)        (s = ``smooth``, the deck's +1)
        squared=True: denominators Σ p² + Σ p̂² (the deck's optional variant)

    Deck 004's example (4x4 probabilities, bottom half the target): Σ p p̂ = 7.41, Σ p̂ = 7.82,
    Σ p = 8, so DL = 1 - 15.82 / 16.82 with s = 1.

    * ``input``: probabilities (default) or logits (``from_logits=True``: softmax over axis 1,
      sigmoid for one channel). Multi-class: (N, K, H, W); binary: (N, 1, H, W), or any shape
      with up to 3 axes equal to the target's (one map);
    * ``target``: integer labels (N, H, W) (one-hot encoded; 0/1 for one channel) or a one-hot /
      probability map of the input's shape;
    * ``classes``: which classes to score (e.g. ``[1, 2]`` to leave the background out);
    * ``ignore_index``: pixels with this target value count in no sum;
    * ``reduction``: "mean" over the selected classes, "sum", or "none" (one loss per class).

    A class absent from the target scores 1 - s / (Σ p̂ + s): loss 0 for an empty prediction
    (with smoothing), rising towards 1 as the prediction claims pixels. With ``smooth=0`` a class
    empty in both is scored loss 0 (0/0 taken as a perfect match), never NaN.
    """
    op = "dice_loss"
    _check_reduction(op, reduction)
    inter, size_hat, size_true = _overlap_sums(
        op, input, target, from_logits, ignore_index, classes, squared
    )
    return _overlap_loss(_ratio(2 * inter + smooth, size_hat + size_true + smooth), reduction)


def tversky_loss(
    input: Any,
    target: Any,
    beta: float = 0.5,
    smooth: float = 1.0,
    *,
    from_logits: bool = False,
    classes: Sequence[int] | None = None,
    ignore_index: int | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Tversky loss 1 - TI (deck 004), per class, sums over every pixel of the batch:

        TI = Σ p p̂ / (Σ p p̂ + β Σ (1 - p) p̂ + (1 - β) Σ p (1 - p̂))

    β weights the false positives, 1 - β the false negatives; β = 1/2 gives the Dice loss. The
    smoothing is added as in :func:`dice_loss`, to the doubled form, so that β = 1/2 equals
    ``dice_loss`` with the same ``smooth`` exactly:

        TI_s = (2 TP + s) / (2 TP + 2β FP + 2(1 - β) FN + s)

    Arguments, layouts and edge cases as in :func:`dice_loss`.
    """
    op = "tversky_loss"
    _check_reduction(op, reduction)
    _check_unit_interval(op, "beta", beta)
    tp, size_hat, size_true = _overlap_sums(op, input, target, from_logits, ignore_index, classes)
    fp, fn = size_hat - tp, size_true - tp
    den = 2 * tp + (2 * beta) * fp + (2 * (1 - beta)) * fn + smooth
    return _overlap_loss(_ratio(2 * tp + smooth, den), reduction)


def jaccard_loss(
    input: Any,
    target: Any,
    smooth: float = 1.0,
    *,
    from_logits: bool = False,
    classes: Sequence[int] | None = None,
    ignore_index: int | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Soft Jaccard (IoU) loss, per class, sums over every pixel of the batch:

        J = (Σ p p̂ + s) / (Σ p + Σ p̂ - Σ p p̂ + s),   loss = 1 - J

    the differentiable form of deck 003's |A ∩ B| / |A ∪ B|. Arguments, layouts and edge cases
    as in :func:`dice_loss`.
    """
    op = "jaccard_loss"
    _check_reduction(op, reduction)
    inter, size_hat, size_true = _overlap_sums(
        op, input, target, from_logits, ignore_index, classes
    )
    return _overlap_loss(_ratio(inter + smooth, size_hat + size_true - inter + smooth), reduction)


# ----------------------------------------------------------------------------------------------
# squared error (deck 000's weaker alternative)


def _dense_target(op: str, target: Any, x: Tensor) -> Any:
    """The target of (input - target)^2: an array, or the target Tensor itself when it requires
    grad (the squared error passes its gradient on, as PyTorch's)."""
    t = _target(op, target, x, differentiable=True)
    if t.shape == x.shape:
        return target_tensor(target, x) if grad_target(target) else t.astype(x.dtype)
    if x.ndim >= 2 and t.shape == _label_shape(x):
        k = x.shape[1]
        check_labels(op, t, max(k, 2))
        if k == 1:
            return x.xp.expand_dims(t, 1).astype(x.dtype)
        return _one_hot(t, k, x.dtype, x.xp)
    raise _shape_error(
        op,
        x,
        t,
        f"a target of the input's shape {x.shape} or integer labels of shape {_label_shape(x)}",
    )


def sse_loss(input: Any, target: Any, reduction: str = "sum") -> Tensor:
    """Sum of squared error (deck 000): SSE = Σ_pixels Σ_i (q_i - p_i)^2.

    ``input`` q: predicted probabilities (e.g. ``softmax(logits)``); ``target`` p: a map of the
    input's shape (a Tensor that requires grad gets d/dp = -2 (q - p), as in PyTorch), or integer
    labels (N, H, W), which are one-hot encoded. ``reduction="sum"``
    by default (the deck's SSE); "mean" is :func:`mse_loss`; "none" gives (q - p)^2 per element.
    """
    op = "sse_loss"
    _check_reduction(op, reduction)
    x = _float_input(op, input)
    diff = x - _dense_target(op, target, x)
    return _reduce(diff * diff, reduction)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error: (1 / #elements) Σ (q - p)^2 (PyTorch's ``F.mse_loss``); targets as in
    :func:`sse_loss`."""
    op = "mse_loss"
    _check_reduction(op, reduction)
    x = _float_input(op, input)
    diff = x - _dense_target(op, target, x)
    return _reduce(diff * diff, reduction)
