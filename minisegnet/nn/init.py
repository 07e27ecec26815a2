"""Weight initialisation: He (Kaiming) normal and the bilinear-upsampling kernel of FCN, and
PyTorch's in-place initialisers (``kaiming_normal_``, ``kaiming_uniform_``, ``xavier_normal_``,
``xavier_uniform_``, ``normal_``, ``uniform_``, ``constant_``, ``zeros_``, ``ones_``,
``calculate_gain``) with ``torch.nn.init``'s signatures and distributions.

Random draws come from :mod:`minisegnet.random` (one seeded NumPy generator) on the CPU, then the
array is copied to the target device, so a seed gives the same weights on every device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy

from .. import backend
from ..autograd import DEFAULT_FLOAT, Tensor, mark_modified
from ..random import generator

__all__ = [
    "kaiming_normal",
    "zeros",
    "bilinear_kernel",
    "calculate_gain",
    "kaiming_normal_",
    "kaiming_uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "normal_",
    "uniform_",
    "constant_",
    "zeros_",
    "ones_",
]


def kaiming_normal(
    shape: Sequence[int],
    fan_in: float,
    device: str | None = None,
    dtype: Any = DEFAULT_FLOAT,
    gain: float = math.sqrt(2.0),
) -> Any:
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


# ----------------------------------------------------------------------------------------------
# torch.nn.init's in-place initialisers: fill a Tensor (or array) in place and return it.
# Draws are float64 on the CPU from minisegnet.random, then cast and copied to the tensor's device,
# so manual_seed gives the same weights everywhere.


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain PyTorch recommends for a nonlinearity: 1 for linear / conv / sigmoid, 5/3 for tanh,
    sqrt(2) for relu, sqrt(2 / (1 + a^2)) for leaky_relu (a = ``param``, default 0.01), 3/4 for
    selu."""
    linear = (
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "sigmoid",
    )
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        a = 0.01 if param is None else param
        if isinstance(a, bool) or not isinstance(a, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope {a!r} is not a number")
        return math.sqrt(2.0 / (1 + a**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; use one of "
        f"{linear + ('tanh', 'relu', 'leaky_relu', 'selu')}"
    )


def _calculate_fan_in_and_fan_out(shape: tuple[int, ...], op: str) -> tuple[int, int]:
    """PyTorch's rule: fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field
    (for ConvTranspose2d's (in, out, k, k) weight this is PyTorch's convention too)."""
    if len(shape) < 2:
        raise ValueError(
            f"{op}: fan in and fan out need a tensor of at least 2 dimensions, got shape {shape}"
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _target(tensor: Any, op: str) -> Any:
    """The array to write into (announced to autograd: a live graph that saved it will refuse
    to backpropagate)."""
    arr = tensor.data if isinstance(tensor, Tensor) else tensor
    if not hasattr(arr, "shape"):
        raise TypeError(f"{op}: expected a Tensor or an array, got {type(tensor).__name__}")
    mark_modified(arr)
    return arr


def _fill(tensor: Any, values: numpy.ndarray, op: str) -> Any:
    """Write host draws ``values`` (float64) into ``tensor`` in place, on its device and dtype."""
    arr = _target(tensor, op)
    arr[...] = backend.to_device(values.astype(arr.dtype), backend.device_of(arr))
    return tensor


def _shape(tensor: Any) -> tuple[int, ...]:
    return tuple((tensor.data if isinstance(tensor, Tensor) else tensor).shape)


def uniform_(tensor: Any, a: float = 0.0, b: float = 1.0) -> Any:
    """Fill with U(a, b)."""
    return _fill(tensor, generator().uniform(a, b, _shape(tensor)), "uniform_")


def normal_(tensor: Any, mean: float = 0.0, std: float = 1.0) -> Any:
    """Fill with N(mean, std^2)."""
    return _fill(tensor, mean + std * generator().standard_normal(_shape(tensor)), "normal_")


def constant_(tensor: Any, val: float) -> Any:
    """Fill with ``val``."""
    _target(tensor, "constant_")[...] = val
    return tensor


def zeros_(tensor: Any) -> Any:
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor: Any) -> Any:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def _kaiming_std(tensor: Any, a: float, mode: str, nonlinearity: str, op: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(_shape(tensor), op)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_normal_(
    tensor: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Any:
    """He et al. (2015): N(0, std^2), std = gain / sqrt(fan), gain = calculate_gain(nonlinearity,
    a) (the default leaky_relu with a = 0 is ReLU's sqrt(2)); fan = fan_in (keeps the forward
    variance) or fan_out (the backward one)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return _fill(tensor, std * generator().standard_normal(_shape(tensor)), "kaiming_normal_")


def kaiming_uniform_(
    tensor: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Any:
    """He et al. (2015), uniform: U(-bound, bound), bound = sqrt(3) * gain / sqrt(fan) (the same
    variance as :func:`kaiming_normal_`)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return _fill(tensor, generator().uniform(-bound, bound, _shape(tensor)), "kaiming_uniform_")


def xavier_normal_(tensor: Any, gain: float = 1.0) -> Any:
    """Glorot & Bengio (2010): N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(_shape(tensor), "xavier_normal_")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _fill(tensor, std * generator().standard_normal(_shape(tensor)), "xavier_normal_")


def xavier_uniform_(tensor: Any, gain: float = 1.0) -> Any:
    """Glorot & Bengio (2010): U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(_shape(tensor), "xavier_uniform_")
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _fill(tensor, generator().uniform(-a, a, _shape(tensor)), "xavier_uniform_")
