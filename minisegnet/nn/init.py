"""Weight initialisation: He (Kaiming) normal and the bilinear-upsampling kernel of FCN.

Random draws come from :mod:`minisegnet.random` (one seeded NumPy generator) on the CPU, then the
array is copied to the target device, so a seed gives the same weights on every device.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy

from .. import backend
from ..autograd import DEFAULT_FLOAT
from ..random import generator

__all__ = ["kaiming_normal", "zeros", "bilinear_kernel"]


def kaiming_normal(shape: Sequence[int], fan_in: float, device: str | None = None,
                   dtype: Any = DEFAULT_FLOAT, gain: float = math.sqrt(2.0)) -> Any:
    """He et al. (2015) initialisation for ReLU networks: w ~ N(0, gain^2 / fan_in), gain = sqrt(2).

    Keeps the variance of the activations roughly constant from layer to layer.
    """
    std = gain / math.sqrt(max(float(fan_in), 1.0))
    w = generator().standard_normal(tuple(shape), dtype=numpy.float64) * std
    return backend.to_device(w.astype(dtype), device or backend.get_default_device())


def zeros(shape: Sequence[int], device: str | None = None, dtype: Any = DEFAULT_FLOAT) -> Any:
    """An array of zeros on ``device``."""
    return backend.xp_for(device or backend.get_default_device()).zeros(tuple(shape), dtype=dtype)


def bilinear_kernel(size: int, device: str = "cpu", dtype: Any = DEFAULT_FLOAT) -> Any:
    """The (size, size) kernel that makes a stride-``f`` transposed conv a bilinear upsampling.

    FCN's ``upsample_filt``: factor = ceil(size / 2), centre = factor - 1 (odd size) or
    factor - 1/2 (even size), k(i, j) = (1 - |i - c| / factor) (1 - |j - c| / factor).
    With size = 2f, stride f and padding f/2 a constant image stays constant away from the border
    (for size 4: taps 1/4, 3/4, 3/4, 1/4, and each output pixel receives 3/4 + 1/4 = 1 per axis).
    """
    if size < 1:
        raise ValueError(f"bilinear_kernel: size must be >= 1, got {size}")
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    xp = backend.xp_for(device)
    t = 1.0 - xp.abs(xp.arange(size, dtype=numpy.float64) - center) / factor
    return (t[:, None] * t[None, :]).astype(dtype)
