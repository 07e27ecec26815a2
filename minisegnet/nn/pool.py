"""Pooling, unpooling and resizing layers (thin wrappers of :mod:`minisegnet.functional`)."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..autograd import Tensor
from ..functional.pool import _no_ceil_mode
from ..functional.sizes import pair
from .conv import Pair
from .module import Module

__all__ = ["MaxPool2d", "MaxUnpool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Upsample"]


class _Pool(Module):
    name = "pool"

    def __init__(
        self, kernel_size: int | Pair, stride: int | Pair | None = None, padding: int | Pair = 0
    ) -> None:
        super().__init__()
        layer = type(self).__name__
        self.kernel_size = pair(kernel_size, "kernel_size", layer, 1)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", layer, 1)
        self.padding = pair(padding, "padding", layer, 0)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool):
    """Max over each kH x kW window; ``return_indices=True`` also returns where each maximum was
    (flat indices into the input's H*W plane), which ``MaxUnpool2d`` / SegNet's decoder reuse."""

    def __init__(
        self,
        kernel_size: int | Pair,
        stride: int | Pair | None = None,
        padding: int | Pair = 0,
        dilation: int | Pair = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        _no_ceil_mode("MaxPool2d", ceil_mode, dilation)  # PyTorch's arguments, in its order
        self.return_indices = bool(return_indices)

    def forward(self, x: Tensor) -> Any:
        return F.max_pool2d(
            x, self.kernel_size, self.stride, self.padding, return_indices=self.return_indices
        )

    def extra_repr(self) -> str:
        return super().extra_repr() + (", return_indices=True" if self.return_indices else "")


class AvgPool2d(_Pool):
    """Mean over each kH x kW window (:func:`~minisegnet.functional.avg_pool2d`'s options)."""

    def __init__(
        self,
        kernel_size: int | Pair,
        stride: int | Pair | None = None,
        padding: int | Pair = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        _no_ceil_mode("AvgPool2d", ceil_mode)
        self.count_include_pad, self.divisor_override = bool(count_include_pad), divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            count_include_pad=self.count_include_pad,
            divisor_override=self.divisor_override,
        )


class MaxUnpool2d(_Pool):
    """Max-unpooling: each value goes back to the position its max-pool remembered (the unpool
    indices), zeros elsewhere (a sparse map). ``output_size`` fixes the size when the pooled map's
    size was odd (pass the encoder map's shape)."""

    def forward(
        self, x: Tensor, indices: Any, output_size: tuple[int, ...] | None = None
    ) -> Tensor:
        return F.max_unpool2d(
            x, indices, self.kernel_size, self.stride, self.padding, output_size=output_size
        )


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (1 = global average pooling)."""

    def __init__(self, output_size: int | Pair) -> None:
        super().__init__()
        self.output_size = pair(output_size, "output_size", "AdaptiveAvgPool2d", 1)

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class Upsample(Module):
    """Resize by ``scale_factor`` or to ``size`` with nearest or bilinear interpolation."""

    def __init__(
        self,
        size: int | Pair | None = None,
        scale_factor: float | None = None,
        mode: str = "nearest",
        align_corners: bool = False,
    ) -> None:
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError(
                "Upsample: give exactly one of size and scale_factor, got "
                f"size={size!r}, scale_factor={scale_factor!r}"
            )
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"Upsample: mode must be 'nearest' or 'bilinear', got {mode!r}")
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners = bool(align_corners)

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "nearest":
            return F.interpolate(x, size=self.size, scale_factor=self.scale_factor, mode="nearest")
        return F.interpolate(
            x,
            size=self.size,
            scale_factor=self.scale_factor,
            mode=self.mode,
            align_corners=self.align_corners,
        )

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"
