"""Depthwise separable convolution (MobileNet; the "atrous separable convolution" of DeepLab v3+).

A standard k x k convolution from C_in to C_out channels mixes space and channels at once:
every output channel has its own k x k x C_in kernel. The separable version factors it in two:

1. **depthwise**: one k x k filter per input channel (``groups = C_in``), no mixing of channels;
2. **pointwise**: a 1x1 convolution that mixes the channels (deck 003's 1x1 convolution).

Costs for an H x W output (no bias; multiply-adds as in deck 003):

    standard:   params C_out C_in k^2          mult-adds H W C_out C_in k^2
    separable:  params C_in k^2 + C_in C_out   mult-adds H W C_in k^2 + H W C_in C_out

    ratio separable / standard = 1 / C_out + 1 / k^2

e.g. 3x3 from 32 to 64 channels on 56x56: 57,802,752 -> 7,325,696 multiply-adds (1/64 + 1/9 =
0.1267, about 7.9 times fewer), 18,432 -> 2,336 weights.
"""

from __future__ import annotations

from ..autograd import Tensor
from ..functional.sizes import pair
from .activation import ReLU
from .conv import Conv2d, Pair
from .module import Identity, Module
from .norm import BatchNorm2d

__all__ = ["DepthwiseSeparableConv2d"]


class DepthwiseSeparableConv2d(Module):
    """``depthwise`` (k x k conv with groups = in_channels, one filter per channel) followed by
    ``pointwise`` (1x1 conv from in_channels to out_channels): a cheap stand-in for
    ``Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation)`` with the same
    output shape.

    ``stride``, ``padding`` and ``dilation`` belong to the depthwise conv (an *atrous* separable
    conv when dilation > 1). ``padding=None`` (the default) pads by dilation * (k - 1) / 2, so a
    stride-1 layer keeps the size ("same" padding; needs an odd k). ``mid_norm=True`` puts
    batch-norm and ReLU between the two convs (MobileNet v1's block). The depthwise conv has no
    bias: followed directly by the linear 1x1 conv, a bias there could be folded into the
    pointwise conv's ``bias`` (and batch-norm's shift does its job when ``mid_norm``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Pair = 3,
        stride: int | Pair = 1,
        padding: int | Pair | None = None,
        dilation: int | Pair = 1,
        bias: bool = True,
        mid_norm: bool = False,
    ) -> None:
        super().__init__()
        layer = "DepthwiseSeparableConv2d"
        k = pair(kernel_size, "kernel_size", layer, 1)
        d = pair(dilation, "dilation", layer, 1)
        if padding is None:
            if k[0] % 2 == 0 or k[1] % 2 == 0:
                raise ValueError(
                    f"{layer}: padding=None ('same') needs an odd kernel_size, got "
                    f"{kernel_size!r}; pass padding explicitly"
                )
            padding = (d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.mid_norm = bool(mid_norm)
        self.depthwise = Conv2d(
            in_channels,
            in_channels,
            k,
            stride=stride,
            padding=padding,
            dilation=d,
            groups=in_channels,
            bias=False,
        )
        self.norm = BatchNorm2d(in_channels) if self.mid_norm else Identity()
        self.act = ReLU() if self.mid_norm else Identity()
        self.pointwise = Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"DepthwiseSeparableConv2d({self.in_channels}, {self.out_channels}): "
                f"expected an (N, {self.in_channels}, H, W) input, got shape {x.shape}"
            )
        return self.pointwise(self.act(self.norm(self.depthwise(x))))

    # the geometry of the depthwise conv (the pointwise conv keeps it)
    @property
    def kernel_size(self) -> Pair:
        return self.depthwise.kernel_size

    @property
    def stride(self) -> Pair:
        return self.depthwise.stride

    @property
    def padding(self) -> Pair:
        return self.depthwise.padding

    @property
    def dilation(self) -> Pair:
        return self.depthwise.dilation

    def standard_equivalent(self, bias: bool | None = None) -> Conv2d:
        """A fresh standard ``Conv2d`` with the same geometry and output shape, the layer this one
        replaces (for comparing parameter and multiply-add counts with ``summary``)."""
        return Conv2d(
            self.in_channels,
            self.out_channels,
            self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            bias=self.pointwise.bias is not None if bias is None else bias,
        )

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}"
        )
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        return s + (", mid_norm=True" if self.mid_norm else "")
