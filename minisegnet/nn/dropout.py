"""Inverted dropout: zero each unit with probability p in training and scale the survivors by
1 / (1 - p), so the expected activation is unchanged and evaluation is the identity."""

from __future__ import annotations

import numpy

from .. import backend
from ..autograd import Tensor
from ..random import generator
from .module import Module

__all__ = ["Dropout", "Dropout2d", "dropout", "dropout2d"]


def _check_p(p: float, op: str) -> float:
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(
            f"{op}: p is the probability of dropping a unit and must lie in [0, 1], got {p}"
        )
    return float(p)


def _drop(x: Tensor, p: float, mask_shape: tuple[int, ...]) -> Tensor:
    # the mask is drawn on the CPU from the package generator (reproducible on every device)
    keep = generator().random(mask_shape, dtype=numpy.float32) >= p
    scale = keep.astype(x.dtype)
    if p < 1.0:
        scale *= x.dtype.type(1.0 / (1.0 - p))
    return x * Tensor(backend.to_device(scale, x.device))


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout of single units: y = x * m / (1 - p), m ~ Bernoulli(1 - p) per element."""
    p = _check_p(p, "dropout")
    if not training or p == 0.0:
        return x
    return _drop(x, p, x.shape)


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout of whole channels: one draw per (sample, channel) of (N, C, H, W)."""
    p = _check_p(p, "dropout2d")
    if x.ndim != 4:
        raise ValueError(f"dropout2d: expected an (N, C, H, W) input, got shape {x.shape}")
    if not training or p == 0.0:
        return x
    return _drop(x, p, x.shape[:2] + (1, 1))


class Dropout(Module):
    """Drops single units with probability ``p`` in training; the identity in eval mode.
    ``inplace`` is accepted (PyTorch's signature) and ignored: the output is a new tensor."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = _check_p(p, type(self).__name__)
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout2d(Dropout):
    """Drops whole feature maps (channels) with probability ``p`` in training."""

    def forward(self, x: Tensor) -> Tensor:
        return dropout2d(x, self.p, self.training)
