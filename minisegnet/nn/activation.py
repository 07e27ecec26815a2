"""Activation layers (deck 001's table): each wraps the function of the same name.

``inplace=`` is accepted where PyTorch has it (``ReLU``, ``LeakyReLU``) so PyTorch code runs
unchanged, and ignored: minisegnet never overwrites an activation's input (autograd may still
need it), the output is always a new tensor.
"""

from __future__ import annotations

from .. import functional as F
from ..autograd import Tensor
from .module import Module

__all__ = [
    "ReLU",
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "Softmax",
    "LogSoftmax",
    "SiLU",
    "Hardtanh",
    "ReLU6",
]


class ReLU(Module):
    """max(0, x). ``inplace`` is accepted and ignored (see the module docstring)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope`` * x otherwise."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)
        self.inplace = bool(inplace)  # accepted, ignored

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """1 / (1 + e^-x): independent (non-exclusive) class probabilities."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class Softplus(Module):
    """ln(1 + e^x), a smooth ReLU."""

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x)


class Softmax(Module):
    """Softmax over ``axis`` (alias ``dim``, PyTorch's name; default 1 = the class axis of
    (N, K, H, W)): exclusive class probabilities."""

    def __init__(self, axis: int | None = None, *, dim: int | None = None) -> None:
        super().__init__()
        if axis is not None and dim is not None:
            raise TypeError(f"{type(self).__name__}: got both axis= and dim=; give one")
        self.axis = int(dim if dim is not None else 1 if axis is None else axis)

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """log(softmax(x)) over ``axis``, computed without overflow."""

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, axis=self.axis)


class SiLU(Module):
    """x * sigmoid(x) ("swish"). ``inplace`` is accepted and ignored."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


class Hardtanh(Module):
    """x clamped to [``min_val``, ``max_val``] (default [-1, 1]); gradient 1 strictly inside."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if min_val > max_val:
            raise ValueError(
                f"{type(self).__name__}: min_val {min_val} is greater than max_val {max_val}"
            )
        self.min_val, self.max_val = float(min_val), float(max_val)
        self.inplace = bool(inplace)  # accepted, ignored

    def forward(self, x: Tensor) -> Tensor:
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6) (MobileNet's activation): ``Hardtanh(0, 6)``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return ""
