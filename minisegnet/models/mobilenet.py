"""MobileNet-style encoder (Howard et al., 2017) and a U-Net on top of it.

The building block is the depthwise separable convolution
(:class:`~minisegnet.nn.DepthwiseSeparableConv2d`): a 3x3 depthwise conv (one filter per channel),
batch-norm, ReLU, a 1x1 pointwise conv, batch-norm, ReLU. It costs about 1 / C_out + 1 / 9 of a
standard 3x3 conv (:func:`minisegnet.summary.separable_savings` prints both counts side by side).

:class:`Encoder` is the backbone shared by :class:`MobileNetUNet`, :class:`~.pspnet.PSPNet` and
:class:`~.deeplab.DeepLabV3` / :class:`~.deeplab.DeepLabV3Plus`:

* a stem (standard 3x3 conv + BN + ReLU at full resolution -- MobileNet's first layer is a
  standard conv too: a depthwise filter on 3 input channels would save little);
* ``depth`` stages; each starts with a stride-2 block (a strided conv instead of a max-pool, the
  "modern alternative" of deck 001) and doubles the width (base, 2 base, 4 base ..., capped at
  ``max_width``), then ``blocks_per_stage - 1`` stride-1 blocks;
* ``output_stride`` (DeepLab's word; 2**depth by default): once the feature map is that many
  times smaller than the input, the remaining stages keep stride 1 and *dilate* their 3x3 convs
  instead (dilation 2, then 4 ...), so they still grow the receptive field as if they had
  downsampled (deck 002: a 3x3 kernel with dilation 2 covers 5x5 with 9 weights) but the map
  keeps its resolution -- the "dilated backbone" of DeepLab and PSPNet.

``kind="mobilenet"`` uses depthwise separable blocks, ``kind="vgg"`` standard 3x3 convs (the plain
backbone, for comparison). Any input size works: a stride-2 3x3 conv with padding 1 maps n to
ceil(n / 2), and every decoder here resizes with bilinear interpolation to the size of the map it
is fused with.
"""

from __future__ import annotations

from .. import functional as F
from .. import nn
from ..autograd import Tensor
from ..nn.separable import DepthwiseSeparableConv2d
from .blocks import StagedEncoder, check_input, check_positive

__all__ = [
    "ConvBlock",
    "Encoder",
    "MobileNetEncoder",
    "MobileNetUNet",
    "ENCODER_KINDS",
    "check_input",
]

ENCODER_KINDS = ("mobilenet", "vgg")


class ConvBlock(nn.Module):
    """conv -> batch-norm -> ReLU, where the conv is a standard k x k ``Conv2d`` or (with
    ``separable=True`` and k > 1) a :class:`~minisegnet.nn.DepthwiseSeparableConv2d` with BN +
    ReLU between its depthwise and pointwise halves (MobileNet's block). ``dilation`` makes it an
    atrous conv; the padding keeps the size at stride 1 (dilation * (k - 1) / 2). No conv bias:
    batch-norm's shift does that job."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        separable: bool = False,
    ) -> None:
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2
        self.separable = bool(separable and kernel_size > 1)
        if self.separable:
            self.conv: nn.Module = DepthwiseSeparableConv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                pad,
                dilation,
                bias=False,
                mid_norm=True,
            )
        else:
            self.conv = nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=pad,
                dilation=dilation,
                bias=False,
            )
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


class Encoder(StagedEncoder):
    """A backbone that returns its feature maps at every stride: ``forward(x)`` gives the list
    [stem (stride 1), stage 1 (stride 2), ..., stage ``depth``] (see the module docstring).

    ``out_channels[i]``, ``strides[i]`` and ``dilations[i]`` describe feature map i.
    """

    def __init__(
        self,
        in_channels: int = 3,
        base_width: int = 16,
        depth: int = 4,
        output_stride: int | None = None,
        kind: str = "mobilenet",
        blocks_per_stage: int = 2,
        max_width: int | None = None,
    ) -> None:
        super().__init__()
        check_positive(
            "Encoder",
            in_channels=in_channels,
            base_width=base_width,
            depth=depth,
            blocks_per_stage=blocks_per_stage,
        )
        if kind not in ENCODER_KINDS:
            raise ValueError(
                f"Encoder: kind must be one of {ENCODER_KINDS} (depthwise separable "
                f"or standard 3x3 convs), got {kind!r}"
            )
        full = 2**depth
        output_stride = full if output_stride is None else output_stride
        allowed = [2**i for i in range(depth + 1)]
        if output_stride not in allowed:
            raise ValueError(
                f"Encoder(depth={depth}): output_stride must be one of {allowed} (a "
                f"power of 2 no larger than 2**depth), got {output_stride!r}"
            )
        max_width = 8 * base_width if max_width is None else max_width
        check_positive("Encoder", max_width=max_width)
        self.in_channels, self.kind, self.depth = in_channels, kind, depth
        self.output_stride = output_stride
        sep = kind == "mobilenet"
        widths = [min(base_width * 2**i, max(max_width, base_width)) for i in range(depth + 1)]
        self.stem = nn.Sequential(
            ConvBlock(in_channels, widths[0], 3),
            *[
                ConvBlock(widths[0], widths[0], 3, separable=sep)
                for _ in range(blocks_per_stage - 1)
            ],
        )
        self.stages = nn.ModuleList()
        stride, dilation = 1, 1
        self.out_channels, self.strides, self.dilations = [widths[0]], [1], [1]
        for i in range(1, depth + 1):
            if stride < output_stride:
                s, stride = 2, stride * 2
            else:  # past the output stride: keep the resolution, dilate instead
                s, dilation = 1, dilation * 2
            blocks = [ConvBlock(widths[i - 1], widths[i], 3, s, dilation, sep)]
            blocks += [
                ConvBlock(widths[i], widths[i], 3, 1, dilation, sep)
                for _ in range(blocks_per_stage - 1)
            ]
            self.stages.append(nn.Sequential(*blocks))
            self.out_channels.append(widths[i])
            self.strides.append(stride)
            self.dilations.append(dilation)

    def extra_repr(self) -> str:
        return (
            f"kind={self.kind!r}, depth={self.depth}, output_stride={self.output_stride}, "
            f"widths={self.out_channels}"
        )


class MobileNetEncoder(Encoder):
    """:class:`Encoder` with depthwise separable blocks (``kind="mobilenet"``)."""

    def __init__(
        self,
        in_channels: int = 3,
        base_width: int = 16,
        depth: int = 4,
        output_stride: int | None = None,
        blocks_per_stage: int = 2,
        max_width: int | None = None,
    ) -> None:
        super().__init__(
            in_channels, base_width, depth, output_stride, "mobilenet", blocks_per_stage, max_width
        )


class MobileNetUNet(nn.Module):
    """U-Net with a MobileNet encoder: the encoder's feature maps at strides 1, 2, ..., 2**depth
    are the skip connections; each decoder level upsamples bilinearly to the skip's size,
    concatenates (skip first, as in :class:`~.unet.UNet`) and applies two separable conv blocks;
    a 1x1 conv gives the class scores at the input's size. Any input size (odd ones too).
    ``encoder="vgg"`` swaps in standard convs everywhere (the same network at full price)."""

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 4,
        base_width: int = 16,
        depth: int = 4,
        encoder: str = "mobilenet",
        blocks_per_stage: int = 2,
        max_width: int | None = None,
    ) -> None:
        super().__init__()
        check_positive(
            "MobileNetUNet",
            in_channels=in_channels,
            num_classes=num_classes,
            base_width=base_width,
            depth=depth,
        )
        self.in_channels, self.num_classes = in_channels, num_classes
        self.base_width, self.depth = base_width, depth
        self.encoder = Encoder(
            in_channels, base_width, depth, None, encoder, blocks_per_stage, max_width
        )
        sep = encoder == "mobilenet"
        w = self.encoder.out_channels
        self.dec = nn.ModuleList()
        for i in reversed(range(depth)):
            self.dec.append(
                nn.Sequential(
                    ConvBlock(w[i] + w[i + 1], w[i], 3, separable=sep),
                    ConvBlock(w[i], w[i], 3, separable=sep),
                )
            )
        self.head = nn.Conv2d(w[0], num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        check_input("MobileNetUNet", x, self.in_channels)
        feats = self.encoder(x)
        y = feats[-1]
        for block, skip in zip(self.dec, reversed(feats[:-1])):
            y = F.interpolate(y, size=skip.shape[2:], mode="bilinear")
            y = block(F.cat([skip, y], axis=1))
        return self.head(y)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, num_classes={self.num_classes}, "
            f"base_width={self.base_width}, depth={self.depth}"
        )
