"""Convolution layers: ``Conv2d`` (He initialisation) and ``ConvTranspose2d`` (optionally bilinear).

Each layer also reports, for :func:`minisegnet.summary`, its multiply-adds and how it changes the
receptive field ``r`` and the jump ``j`` (the distance in input pixels between two neighbouring
outputs), per axis (deck 001):

    k_eff = d (k - 1) + 1,   r_out = r_in + (k_eff - 1) j_in,   j_out = j_in * stride.

A transposed convolution divides the jump by its stride; one of its outputs sees at most
ceil(k_eff / stride) neighbouring inputs, so r_out = r_in + (ceil(k_eff / s) - 1) j_in.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from .. import backend
from .. import functional as F
from ..autograd import Tensor
from .init import bilinear_kernel, kaiming_normal, zeros
from .module import Module, Parameter

__all__ = ["Conv2d", "ConvTranspose2d"]

Pair = tuple[int, int]


def _pair(v: Any, name: str, layer: str, minimum: int = 0) -> Pair:
    t = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(t) != 2 or not all(isinstance(a, int) and not isinstance(a, bool) for a in t):
        raise TypeError(f"{layer}: {name} must be an int or a pair of ints, got {v!r}")
    if min(t) < minimum:
        raise ValueError(f"{layer}: {name} must be >= {minimum}, got {v!r}")
    return t  # type: ignore[return-value]


def _check_channels(layer: str, in_ch: int, out_ch: int, groups: int) -> None:
    for name, v in (("in_channels", in_ch), ("out_channels", out_ch), ("groups", groups)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{layer}: {name} must be a positive int, got {v!r}")
    if in_ch % groups or out_ch % groups:
        raise ValueError(f"{layer}: in_channels={in_ch} and out_channels={out_ch} must both be "
                         f"divisible by groups={groups}")


def conv_rf(r: Fraction, j: Fraction, k: int, s: int, d: int = 1) -> tuple[Fraction, Fraction]:
    """Receptive field and jump after a conv / pool along one axis (deck 001's rule)."""
    k_eff = d * (k - 1) + 1
    return r + (k_eff - 1) * j, j * s


def transposed_rf(r: Fraction, j: Fraction, k: int, s: int,
                  d: int = 1) -> tuple[Fraction, Fraction]:
    """Receptive field and jump after a transposed conv / unpool along one axis."""
    k_eff = d * (k - 1) + 1
    return r + (math.ceil(k_eff / s) - 1) * j, j / s


class Conv2d(Module):
    """2-D convolution, y(i,j,l) = b_l + sum_{s,t,k} x(i+s, j+t, k) w_l(s,t,k) (deck 001).

    ``weight`` has shape (out_channels, in_channels / groups, kH, kW) and is drawn from
    He et al.'s N(0, 2 / fan_in), fan_in = in_channels / groups * kH * kW; the bias starts at 0.
    Multiply-adds per image: H_out W_out C_out (C_in / groups) kH kW (bias additions not counted).

    ``padding`` may also be ``"valid"`` (0) or ``"same"`` (stride 1 only, as PyTorch): the output
    keeps the input's size; the total padding d (k - 1) per axis is split as PyTorch does,
    half on each side and the odd pixel (even kernels) at the bottom / right.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Pair,
                 stride: int | Pair = 1, padding: int | Pair | str = 0, dilation: int | Pair = 1,
                 groups: int = 1, bias: bool = True) -> None:
        super().__init__()
        _check_channels("Conv2d", in_channels, out_channels, groups)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = _pair(stride, "stride", "Conv2d", 1)
        self.dilation = _pair(dilation, "dilation", "Conv2d", 1)
        kh, kw = self.kernel_size
        self.padding_mode_name = padding if isinstance(padding, str) else None
        self._extra_pad = (0, 0)  # "same" with an odd total: one more row / column at the end
        if padding == "valid":
            self.padding = (0, 0)
        elif padding == "same":
            if self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' is not supported for strided "
                                 f"convolutions (stride={self.stride}); give an int padding")
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            self.padding = (totals[0] // 2, totals[1] // 2)
            self._extra_pad = (totals[0] % 2, totals[1] % 2)
        elif isinstance(padding, str):
            raise ValueError(f"Conv2d: padding must be an int, a pair of ints, 'same' or 'valid', "
                             f"got {padding!r}")
        else:
            self.padding = _pair(padding, "padding", "Conv2d", 0)
        fan_in = in_channels // groups * kh * kw
        shape = (out_channels, in_channels // groups, kh, kw)
        self.weight = Parameter(kaiming_normal(shape, fan_in))
        self.bias = Parameter(zeros((out_channels,))) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if self._extra_pad != (0, 0):
            x = F.pad(x, ((0, 0), (0, 0), (0, self._extra_pad[0]), (0, self._extra_pad[1])))
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                        dilation=self.dilation, groups=self.groups)

    def extra_repr(self) -> str:
        pad = repr(self.padding_mode_name) if self.padding_mode_name else self.padding
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={pad}")
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.bias is not None else ", bias=False")

    def _mult_adds(self, in_shape: tuple, out_shape: tuple) -> int:
        n, c_out, h, w = out_shape
        kh, kw = self.kernel_size
        return n * h * w * c_out * (self.in_channels // self.groups) * kh * kw

    def _receptive_field(self, r: tuple, j: tuple, in_shape: tuple, out_shape: tuple) -> tuple:
        out = [conv_rf(r[a], j[a], self.kernel_size[a], self.stride[a], self.dilation[a])
               for a in range(2)]
        return (out[0][0], out[1][0]), (out[0][1], out[1][1])


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

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Pair,
                 stride: int | Pair = 1, padding: int | Pair = 0, output_padding: int | Pair = 0,
                 groups: int = 1, bias: bool = True, dilation: int | Pair = 1,
                 bilinear_init: bool = False) -> None:
        super().__init__()
        _check_channels("ConvTranspose2d", in_channels, out_channels, groups)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _pair(kernel_size, "kernel_size", "ConvTranspose2d", 1)
        self.stride = _pair(stride, "stride", "ConvTranspose2d", 1)
        self.padding = _pair(padding, "padding", "ConvTranspose2d", 0)
        self.output_padding = _pair(output_padding, "output_padding", "ConvTranspose2d", 0)
        self.dilation = _pair(dilation, "dilation", "ConvTranspose2d", 1)
        self.bilinear_init = bool(bilinear_init)
        kh, kw = self.kernel_size
        shape = (in_channels, out_channels // groups, kh, kw)
        if bilinear_init:
            if in_channels != out_channels or groups not in (1, in_channels):
                raise ValueError(
                    f"ConvTranspose2d(bilinear_init=True): needs in_channels == out_channels "
                    f"(each channel upsampled on its own), got {in_channels} -> {out_channels} "
                    f"with groups={groups}")
            w = zeros(shape)
            if kh != kw:
                raise ValueError(f"ConvTranspose2d(bilinear_init=True): needs a square kernel, "
                                 f"got {self.kernel_size}")
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
        return F.conv_transpose2d(x, self.weight, self.bias, stride=self.stride,
                                  padding=self.padding, output_padding=self.output_padding,
                                  dilation=self.dilation, groups=self.groups,
                                  output_size=output_size)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding}")
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bilinear_init:
            s += ", bilinear_init=True"
        return s + ("" if self.bias is not None else ", bias=False")

    def _mult_adds(self, in_shape: tuple, out_shape: tuple) -> int:
        n, c_in, h, w = in_shape
        kh, kw = self.kernel_size
        return n * h * w * c_in * (self.out_channels // self.groups) * kh * kw

    def _receptive_field(self, r: tuple, j: tuple, in_shape: tuple, out_shape: tuple) -> tuple:
        out = [transposed_rf(r[a], j[a], self.kernel_size[a], self.stride[a], self.dilation[a])
               for a in range(2)]
        return (out[0][0], out[1][0]), (out[0][1], out[1][1])
