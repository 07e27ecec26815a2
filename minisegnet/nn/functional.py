"""PyTorch's ``torch.nn.functional``: ``import minisegnet.nn.functional as F``.

Every op of :mod:`minisegnet.functional` (re-exported here: ``F.relu``, ``F.conv2d``,
``F.softmax``, ``F.interpolate`` ... are the same functions), plus the losses a PyTorch user looks
for in this namespace, with PyTorch's signatures and defaults and the math of
:mod:`minisegnet.losses`:

* ``cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
  label_smoothing=0.0)`` -- logits (N, K, ...) and class indices (N, ...) or class
  probabilities of the input's shape;
* ``nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean")`` -- on
  log-probabilities: ``nll_loss(log_softmax(x, axis=1), y) == cross_entropy(x, y)``;
* ``binary_cross_entropy(input, target, weight=None, reduction="mean")`` on probabilities;
* ``binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
  pos_weight=None)``;
* ``mse_loss(input, target, reduction="mean")``;
* ``one_hot(tensor, num_classes=-1)`` -- int64 one-hot, the class axis *last* (as PyTorch);
* ``dropout``, ``dropout2d``, ``batch_norm`` -- the functional forms of the layers, with
  PyTorch's signatures (``F.dropout``'s ``training`` is True by default, as PyTorch's).

What differs from PyTorch on purpose: when every pixel is ignored, ``"mean"`` gives 0 (PyTorch:
NaN); probabilities are clamped at 1e-7 inside the logarithms of ``binary_cross_entropy``
(PyTorch clamps the log at -100). The lecture losses (Dice, Tversky, focal ...) live in
:mod:`minisegnet.losses`; the loss modules (``nn.CrossEntropyLoss`` ...) in :mod:`minisegnet.nn`.

``minisegnet.functional`` itself holds the ops only; asking it for one of these loss names
(``minisegnet.functional.cross_entropy``) returns the function defined here.
"""

from __future__ import annotations

from typing import Any

import numpy

from .. import backend
from .. import functional as _ops
from .. import losses as _losses
from ..autograd import Tensor, as_tensor
from ..functional import *  # noqa: F403  (every op: this module is the functional namespace)
from ..validation import as_array, check_labels
from . import dropout as _dropout
from . import norm as _norm

LAYER_NAMES = ["dropout", "dropout2d", "batch_norm"]  # the functional forms of nn's layers
LOSS_NAMES = [
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "mse_loss",
    "one_hot",
]
__all__ = list(_ops.__all__) + LOSS_NAMES + LAYER_NAMES


def _is_soft(input: Any, target: Any) -> bool:
    return tuple(getattr(target, "shape", numpy.shape(target))) == tuple(as_tensor(input).shape)


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """PyTorch's ``F.cross_entropy``: -w_y log softmax(input)_y per pixel, averaged over the
    counted pixels weighted by w_y (``"mean"``). ``ignore_index`` applies to class-index targets
    (a target of the input's shape is a distribution over the classes; nothing is ignored).
    See :func:`minisegnet.losses.cross_entropy` for the formula and the checks."""
    ignore = None if _is_soft(input, target) else ignore_index
    return _losses.cross_entropy(
        input,
        target,
        weight=weight,
        ignore_index=ignore,
        label_smoothing=label_smoothing,
        reduction=reduction,
    )


def nll_loss(
    input: Any, target: Any, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """Negative log-likelihood on log-probabilities ``input`` (N, K, ...) and class indices
    ``target`` (N, ...), PyTorch's ``F.nll_loss``:

        L = -w_y input_y  per pixel,   "mean": Σ L / Σ w_y over the counted pixels

    (0 when no pixel counts). ``nll_loss(log_softmax(x, axis=1), y) == cross_entropy(x, y)``.
    """
    op = "nll_loss"
    _losses._check_reduction(op, reduction)
    x = _losses._float_input(op, input, min_ndim=2)
    t = _losses._target(op, target, x)
    if t.shape != _losses._label_shape(x):
        raise _losses._shape_error(op, x, t, f"class indices of shape {_losses._label_shape(x)}")
    k = x.shape[1]
    check_labels(op, t, k, ignore_index)
    w = _losses._class_weight(op, weight, k, x)
    xp = x.xp
    valid = t != ignore_index
    pick = _losses._one_hot(xp.where(valid, t, 0), k, x.dtype, xp)
    pick = pick * xp.expand_dims(valid, 1).astype(x.dtype)
    if w is not None:
        pick = pick * w.reshape(_losses._class_shape(x))
    loss = -(x * pick).sum(axis=1)  # -w_y input_y, 0 where ignored
    if reduction != "mean":
        return _losses._reduce(loss, reduction)
    denom = pick.sum()
    scale = xp.where(denom > 0, 1.0 / xp.where(denom > 0, denom, 1), 0.0).astype(x.dtype)
    return loss.sum() * Tensor(scale)


def _weighted(op: str, loss: Tensor, weight: Any, reduction: str) -> Tensor:
    """``weight`` (broadcast to the loss's shape) times the per-element loss, then reduced."""
    _losses._check_reduction(op, reduction)
    if weight is not None:
        w = as_array(weight)
        try:
            numpy.broadcast_shapes(tuple(w.shape), loss.shape)
        except ValueError:
            raise ValueError(
                f"{op}: weight of shape {tuple(w.shape)} does not broadcast to the "
                f"input's shape {loss.shape}"
            ) from None
        loss = loss * Tensor(w.astype(loss.dtype, copy=False))
    return _losses._reduce(loss, reduction)


def binary_cross_entropy(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean"
) -> Tensor:
    """PyTorch's ``F.binary_cross_entropy`` on probabilities p̂ (target p of the same shape):
    -w (p log p̂ + (1 - p) log(1 - p̂)), p̂ clamped to [1e-7, 1 - 1e-7] inside the logs."""
    op = "binary_cross_entropy"
    _losses._check_reduction(op, reduction)
    loss = _losses.binary_cross_entropy(input, target, reduction="none")
    return _weighted(op, loss, weight, reduction)


def binary_cross_entropy_with_logits(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean", pos_weight: Any = None
) -> Tensor:
    """PyTorch's ``F.binary_cross_entropy_with_logits`` on logits z (stable for large |z|):

        L = -w (pos_weight p log σ(z) + (1 - p) log(1 - σ(z)))

    ``pos_weight``: a number or an array broadcast against the input (PyTorch's rule: for
    (N, K, H, W) logits give shape (K, 1, 1) for one weight per class). A target Tensor that
    requires grad gets its gradient, as in PyTorch:

        dL/dp = -w (pos_weight log σ(z) - log(1 - σ(z)))
    """
    op = "binary_cross_entropy_with_logits"
    _losses._check_reduction(op, reduction)
    grad_target = _losses.grad_target(target)
    if pos_weight is None and not grad_target:
        loss = _losses.binary_cross_entropy_with_logits(input, target, reduction="none")
    else:
        x = as_tensor(input)
        p = _losses._binary_target(op, target, x, differentiable=True)
        pt = _losses.target_tensor(target, x) if grad_target else Tensor(p)
        pw = 1.0 if pos_weight is None else pos_weight
        pw = as_array(pw) if not isinstance(pw, (int, float)) else pw
        # -log σ(z) and -log(1 - σ(z)): the stable binary cross entropy against all-1 / all-0
        minus_log_p = _losses.binary_cross_entropy_with_logits(
            x, x.xp.ones_like(p), reduction="none"
        )
        minus_log_q = _losses.binary_cross_entropy_with_logits(
            x, x.xp.zeros_like(p), reduction="none"
        )
        loss = minus_log_p * (pt * pw) + minus_log_q * (1 - pt)
    return _weighted(op, loss, weight, reduction)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """PyTorch's ``F.mse_loss``: (input - target)^2 per element, averaged (``"mean"``)."""
    return _losses.mse_loss(input, target, reduction=reduction)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """PyTorch's ``F.one_hot``: int64 class indices (any shape S) -> int64 (*S, K), the class axis
    last (``.permute(0, 3, 1, 2)`` gives the (N, K, H, W) layout of the losses). ``num_classes=-1``
    takes max + 1. Not differentiable (its input is an integer array)."""
    t = as_array(tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"one_hot: expects integer class indices, got dtype {t.dtype} (shape "
            f"{tuple(t.shape)}); convert with .long()"
        )
    lo = int(t.min()) if t.size else 0
    hi = int(t.max()) if t.size else -1
    k = hi + 1 if num_classes == -1 else int(num_classes)
    if lo < 0 or hi >= k or k < 0:
        raise ValueError(
            f"one_hot: class indices must lie in [0, num_classes={k}), got values in "
            f"[{lo}, {hi}] (shape {tuple(t.shape)}); num_classes=-1 uses max + 1"
        )
    xp = backend.get_array_module(t)
    out = (xp.expand_dims(t, -1) == xp.arange(k)).astype(numpy.int64)
    return Tensor(out)


# ----------------------------------------------------------------------------------------------
# the functional forms of nn's layers, with PyTorch's signatures


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """PyTorch's ``F.dropout``: inverted dropout, y = x m / (1 - p) with m ~ Bernoulli(1 - p)
    per element when ``training`` (note: True by default, as PyTorch's; pass
    ``training=model.training``). ``inplace`` is accepted and ignored (a new tensor)."""
    return _dropout.dropout(as_tensor(input), p, training)


def dropout2d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """PyTorch's ``F.dropout2d``: whole channels of (N, C, H, W) dropped (see :func:`dropout`)."""
    return _dropout.dropout2d(as_tensor(input), p, training)


def batch_norm(
    input: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """PyTorch's ``F.batch_norm`` on (N, C, H, W): :func:`minisegnet.nn.batch_norm` with
    ``weight`` / ``bias`` optional (1 / 0). ``running_mean`` / ``running_var`` (arrays, or None
    in training) are updated in place when training."""
    x = as_tensor(input)
    c = x.shape[1] if x.ndim > 1 else 0
    dtype = x.dtype if x.dtype.kind == "f" else numpy.float32
    w = as_tensor(weight) if weight is not None else Tensor(x.xp.ones(c, dtype=dtype))
    b = as_tensor(bias) if bias is not None else Tensor(x.xp.zeros(c, dtype=dtype))
    rm = running_mean.data if isinstance(running_mean, Tensor) else running_mean
    rv = running_var.data if isinstance(running_var, Tensor) else running_var
    return _norm.batch_norm(x, rm, rv, w, b, training, momentum, eps)
