"""Gradient clipping, as ``torch.nn.utils``: ``clip_grad_norm_`` and ``clip_grad_value_``.

Both act in place on the ``.grad`` of the given parameters, between ``loss.backward()`` and
``optimizer.step()``; parameters without a gradient are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .. import backend
from ..autograd import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Any]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad.data for p in params if p.grad is not None]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Rescale the gradients so that their joint norm is at most ``max_norm``; returns the norm
    before clipping (a 0-d Tensor of the gradients' dtype and device, as PyTorch).

        total = || (||g_1||_p, ..., ||g_n||_p) ||_p      (p = norm_type; inf: the largest |g|)
        g_i <- g_i * min(1, max_norm / (total + 1e-6))

    The 1e-6 is PyTorch's: a norm exactly at ``max_norm`` is scaled by a factor just below 1.
    """
    p = float(norm_type)
    if not p > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 (or inf), got {norm_type!r}")
    grads = _grads(parameters)
    if not grads:
        return Tensor(0.0)
    xp = backend.get_array_module(grads[0])
    if math.isinf(p):
        norms = [float(xp.abs(g).max()) if g.size else 0.0 for g in grads]
        total = max(norms)
    else:
        total = sum(float((xp.abs(g.astype("float64")) ** p).sum()) for g in grads) ** (1.0 / p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients "
            f"is {total}; pass error_if_nonfinite=False to clip anyway"
        )
    coef = min(1.0, float(max_norm) / (total + 1e-6))
    for g in grads:
        g *= g.dtype.type(coef)
    return Tensor(xp.asarray(total, dtype=grads[0].dtype))  # the gradients' dtype and device


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient entry to [-clip_value, clip_value], in place."""
    c = float(clip_value)
    if c < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value!r}")
    for g in _grads(parameters):
        xp = backend.get_array_module(g)
        xp.clip(g, -c, c, out=g)
