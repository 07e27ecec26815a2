"""Convolution layers: ``Conv2d`` (He initialisation) and ``ConvTranspose2d`` (optionally bilinear).

Their multiply-adds and receptive-field rules (deck 001) live in :mod:`minisegnet.summary`.
Size arguments follow :func:`minisegnet.functional.sizes.pair`, the rule ``F.conv2d`` uses.
"""

from __future__ import annotations

from .. import backend
from .. import functional as F
from ..autograd import Tensor
from ..functional.sizes import pair
from .init import bilinear_kernel, kaiming_normal, zeros
from .module import Module, Parameter

__all__ = ["Conv2d", "ConvTranspose2d"]

Pair = tuple[int, int]


def _check_channels(layer: str, in_ch: int, out_ch: int, groups: int) -> None:
    for name, v in (("in_channels", in_ch), ("out_channels", out_ch), ("groups", groups)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{layer}: {name} must be a positive int, got {v!r}")
    if in_ch % groups or out_ch % groups:
        raise ValueError(
            f"{layer}: in_channels={in_ch} and out_channels={out_ch} must both be "
            f"divisible by groups={groups}"
        )


class Conv2d(Module):
    """2-D convolution, y(i,j,l) = b_l + sum_{s,t,k} x(i+s, j+t, k) w_l(s,t,k) (deck 001).

    ``weight`` has shape (out_channels, in_channels / groups, kH, kW) and is drawn from
    He et al.'s N(0, 2 / fan_in), fan_in = in_channels / groups * kH * kW; the bias starts at 0.
    Multiply-adds per image: H_out W_out C_out (C_in / groups) kH kW (bias additions not counted).

    ``padding`` may also be ``"valid"`` (0) or ``"same"`` (stride 1 only, as PyTorch): the output
    keeps the input's size; the total padding d (k - 1) per axis is split as PyTorch does,
    half on each side and the odd pixel (even kernels) at the bottom / right.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Pair,
        stride: int | Pair = 1,
        padding: int | Pair | str = 0,
        dilation: int | Pair = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        _check_channels("Conv2d", in_channels, out_channels, groups)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = pair(stride, "stride", "Conv2d", 1)
        self.dilation = pair(dilation, "dilation", "Conv2d", 1)
        kh, kw = self.kernel_size
        self.padding_mode_name = padding if isinstance(padding, str) else None
        self._extra_pad = (0, 0)  # "same" with an odd total: one more row / column at the end
        if padding == "valid":
            self.padding = (0, 0)
        elif padding == "same":
            if self.stride != (1, 1):
                raise ValueError(
                    f"Conv2d: padding='same' is not supported for strided "
                    f"convolutions (stride={self.stride}); give an int padding"
                )
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            self.padding = (totals[0] // 2, totals[1] // 2)
            self._extra_pad = (totals[0] % 2, totals[1] % 2)
        elif isinstance(padding, str):
            raise ValueError(
                f"Conv2d: padding must be an int, a pair of ints, 'same' or 'valid', "
                f"got {padding!r}"
            )
        else:
            self.padding = pair(padding, "padding", "Conv2d", 0)
        fan_in = in_channels // groups * kh * kw
        shape = (out_channels, in_channels // groups, kh, kw)
        self.weight = Parameter(kaiming_normal(shape, fan_in))
        self.bias = Parameter(zeros((out_channels,))) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if self._extra_pad != (0, 0):
            x = F.pad(x, ((0, 0), (0, 0), (0, self._extra_pad[0]), (0, self._extra_pad[1])))
        return F.conv2d(
            x,
            self.weight,
            self.bias,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.groups,
        )

    def extra_repr(self) -> str:
        pad = repr(self.padding_mode_name) if self.padding_mode_name else self.padding
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={pad}"
        )
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.bias is not None else ", bias=False")


class ConvTranspose2d(Module):
    """Transposed ("fractionally strided") convolution: each input value splats a copy of the
    kernel, scaled by it, into the output at stride spacing; overlaps add; then ``padding``
    rows/columns are cropped from every border (deck 003's step-by-step recipe).

    ``weight`` has shape (in_channels, out_channels / groups, kH, kW). Default init: He normal with
    fan_in = in_channels / groups * kH kW / (sH sW), the average number of products summed into one
    output. ``bilinear_init=True`` (FCN): every channel c maps to itself with the bilinear kernel
    (:func:`~minisegnet.nn.init.bilinear_kernel`) and the bias is 0, so a k = 2s, padding s/2
    layer starts as bilinear upsampling by s; needs in_channels == out_channels (or depthwise
    groups).
    Multiply-adds per image: H_in W_in C_in (C_out / groups) kH kW.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Pair,
        stride: int | Pair = 1,
        padding: int | Pair = 0,
        output_padding: int | Pair = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | Pair = 1,
        bilinear_init: bool = False,
    ) -> None:
        super().__init__()
        _check_channels("ConvTranspose2d", in_channels, out_channels, groups)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = pair(kernel_size, "kernel_size", "ConvTranspose2d", 1)
        self.stride = pair(stride, "stride", "ConvTranspose2d", 1)
        self.padding = pair(padding, "padding", "ConvTranspose2d", 0)
        self.output_padding = pair(output_padding, "output_padding", "ConvTranspose2d", 0)
        self.dilation = pair(dilation, "dilation", "ConvTranspose2d", 1)
        self.bilinear_init = bool(bilinear_init)
        kh, kw = self.kernel_size
        shape = (in_channels, out_channels // groups, kh, kw)
        if bilinear_init:
            if in_channels != out_channels or groups not in (1, in_channels):
                raise ValueError(
                    f"ConvTranspose2d(bilinear_init=True): needs in_channels == out_channels "
                    f"(each channel upsampled on its own), got {in_channels} -> {out_channels} "
                    f"with groups={groups}"
                )
            w = zeros(shape)
            if kh != kw:
                raise ValueError(
                    f"ConvTranspose2d(bilinear_init=True): needs a square kernel, "
                    f"got {self.kernel_size}"
                )
            k = bilinear_kernel(kh, device=backend.device_of(w), dtype=w.dtype)
            if groups == 1:
                for c in range(in_channels):
                    w[c, c] = k
            else:
                w[:, 0] = k
            self.weight = Parameter(w)
        else:
            fan_in = in_channels // groups * kh * kw / (self.stride[0] * self.stride[1])
            self.weight = Parameter(kaiming_normal(shape, fan_in))
        self.bias = Parameter(zeros((out_channels,))) if bias else None

    def forward(self, x: Tensor, output_size: tuple[int, ...] | None = None) -> Tensor:
        return F.conv_transpose2d(
            x,
            self.weight,
            self.bias,
            stride=self.stride,
            padding=self.padding,
            output_padding=self.output_padding,
            dilation=self.dilation,
            groups=self.groups,
            output_size=output_size,
        )

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}"
        )
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bilinear_init:
            s += ", bilinear_init=True"
        return s + ("" if self.bias is not None else ", bias=False")
