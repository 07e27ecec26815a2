"""Residual networks (He et al., 2016): basic and bottleneck blocks, a small (dilated) backbone.

A residual block learns a correction F(x) to its input instead of a whole new mapping:

    y = ReLU(F(x) + shortcut(x))

The **shortcut** is the identity when the block keeps the shape (so a block whose residual branch
outputs 0 passes its input through unchanged, and the gradient reaches earlier layers through
the "+" untouched), and a **projection** -- 1x1 conv (with the block's stride) + batch-norm, the
paper's option B -- when the stride or the channel count changes.

* :class:`BasicBlock` (ResNet-18/34): F = conv3x3 - BN - ReLU - conv3x3 - BN; ``expansion`` 1.
* :class:`Bottleneck` (ResNet-50/101/152): F = conv1x1 (reduce to ``channels``) - BN - ReLU -
  conv3x3 - BN - ReLU - conv1x1 (expand to 4 ``channels``) - BN; the stride sits on the 3x3 conv
  (as in torchvision's "ResNet v1.5"); ``expansion`` 4.

:class:`ResNetEncoder` is a backbone with :class:`~.mobilenet.Encoder`'s interface (a list of
feature maps, ``out_channels``, ``strides``, ``dilations``, ``feature_index``), so DeepLab and
PSPNet heads can use it. Scaled to toy inputs: the paper's 7x7 stride-2 stem and max-pool (stride 4)
become one 3x3 conv at full resolution, and each of the ``len(layers)`` stages starts with a
stride-2 block, so the feature maps come at strides 1, 2, 4, 8, 16. With ``output_stride`` 8 or
16 (DeepLab's dilated ResNet) the stages past that stride keep stride 1 and dilate all their 3x3
convs by 2, then 4 ...: the map keeps its resolution, the receptive field still grows.
At ``base_width=64`` the parameter counts are torchvision's ResNet-18 / ResNet-50 without the fc
layer, with the smaller stem, plus (basic blocks only) stage 1's projection shortcut, which the
paper does not need because its stage 1 keeps the max-pool's resolution (a test checks this).
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import nn
from ..autograd import Tensor
from .blocks import StagedEncoder, check_positive
from .mobilenet import Encoder

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNetEncoder",
    "RESNET_BLOCKS",
    "BACKBONES",
    "build_backbone",
]


def _conv_bn(in_ch: int, out_ch: int, k: int, stride: int = 1, dilation: int = 1) -> list:
    pad = dilation * (k - 1) // 2
    return [nn.Conv2d(in_ch, out_ch, k, stride, pad, dilation, bias=False), nn.BatchNorm2d(out_ch)]


def _shortcut(in_ch: int, out_ch: int, stride: int) -> nn.Module:
    """Identity when the shape is kept, else a 1x1 projection conv (with the stride) + BN."""
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    return nn.Sequential(*_conv_bn(in_ch, out_ch, 1, stride))


class BasicBlock(nn.Module):
    """y = ReLU(BN(conv3x3(ReLU(BN(conv3x3_stride(x))))) + shortcut(x)); out = ``channels``."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        check_positive(
            "BasicBlock",
            in_channels=in_channels,
            channels=channels,
            stride=stride,
            dilation=dilation,
        )
        self.in_channels, self.out_channels = in_channels, channels
        self.residual = nn.Sequential(
            *_conv_bn(in_channels, channels, 3, stride, dilation),
            nn.ReLU(),
            *_conv_bn(channels, channels, 3, 1, dilation),
        )
        self.shortcut = _shortcut(in_channels, channels, stride)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.residual(x) + self.shortcut(x))


class Bottleneck(nn.Module):
    """y = ReLU(BN(conv1x1(ReLU(BN(conv3x3_stride(ReLU(BN(conv1x1(x))))))) + shortcut(x));
    the 1x1 convs reduce to ``channels`` and expand to ``expansion * channels`` (4 by default)."""

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        dilation: int = 1,
        expansion: int = 4,
    ) -> None:
        super().__init__()
        check_positive(
            "Bottleneck",
            in_channels=in_channels,
            channels=channels,
            stride=stride,
            dilation=dilation,
            expansion=expansion,
        )
        self.expansion = expansion
        out = channels * expansion
        self.in_channels, self.out_channels = in_channels, out
        self.residual = nn.Sequential(
            *_conv_bn(in_channels, channels, 1),
            nn.ReLU(),
            *_conv_bn(channels, channels, 3, stride, dilation),
            nn.ReLU(),
            *_conv_bn(channels, out, 1),
        )
        self.shortcut = _shortcut(in_channels, out, stride)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.residual(x) + self.shortcut(x))


RESNET_BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


class ResNetEncoder(StagedEncoder):
    """A small ResNet backbone returning [stem (stride 1), stage 1 (stride 2), ...] (module
    docstring). Stage i has ``layers[i-1]`` blocks of ``base_width * 2**(i-1)`` channels (times 4
    at a bottleneck's output); ``layers=(2, 2, 2, 2)`` with ``block="basic"`` is ResNet-18's
    layout, ``(3, 4, 6, 3)`` with ``"bottleneck"`` ResNet-50's. ``output_stride`` (8 or 16 for
    DeepLab; default 2**len(layers): no dilation) stops the downsampling there and dilates the
    later stages instead."""

    def __init__(
        self,
        in_channels: int = 3,
        base_width: int = 16,
        layers: Sequence[int] = (2, 2, 2, 2),
        block: str = "basic",
        output_stride: int | None = None,
    ) -> None:
        super().__init__()
        layers = tuple(layers)
        check_positive(
            "ResNetEncoder",
            in_channels=in_channels,
            base_width=base_width,
            **{f"layers[{i}]": n for i, n in enumerate(layers)},
        )
        if not layers:
            raise ValueError(
                "ResNetEncoder: layers must list at least one stage, e.g. (2, 2, 2, 2)"
            )
        if block not in RESNET_BLOCKS:
            raise ValueError(
                f"ResNetEncoder: block must be one of {tuple(RESNET_BLOCKS)}, got {block!r}"
            )
        depth = len(layers)
        output_stride = 2**depth if output_stride is None else output_stride
        allowed = [2**i for i in range(depth + 1)]
        if output_stride not in allowed:
            raise ValueError(
                f"ResNetEncoder(layers={layers}): output_stride must be one of "
                f"{allowed} (a power of 2 no larger than 2**len(layers)), got "
                f"{output_stride!r}"
            )
        self.in_channels, self.block, self.layers = in_channels, block, layers
        self.output_stride, self.depth = output_stride, depth
        cls = RESNET_BLOCKS[block]
        self.stem = nn.Sequential(*_conv_bn(in_channels, base_width, 3), nn.ReLU())
        self.stages = nn.ModuleList()
        self.out_channels, self.strides, self.dilations = [base_width], [1], [1]
        width, stride, dilation = base_width, 1, 1
        for i, n_blocks in enumerate(layers):
            if stride < output_stride:
                s, stride = 2, stride * 2
            else:  # past the output stride: keep the resolution, dilate instead
                s, dilation = 1, dilation * 2
            channels = base_width * 2**i
            blocks = []
            for b in range(n_blocks):
                blocks.append(cls(width, channels, s if b == 0 else 1, dilation))
                width = blocks[-1].out_channels
            self.stages.append(nn.Sequential(*blocks))
            self.out_channels.append(width)
            self.strides.append(stride)
            self.dilations.append(dilation)

    def extra_repr(self) -> str:
        return (
            f"block={self.block!r}, layers={self.layers}, output_stride={self.output_stride}, "
            f"widths={self.out_channels}"
        )


BACKBONES = ("vgg", "mobilenet", "resnet")


def build_backbone(
    model: str,
    in_channels: int,
    base_width: int,
    depth: int,
    output_stride: int,
    kind: str,
    blocks_per_stage: int = 2,
) -> nn.Module:
    """The dilated backbone of PSPNet / DeepLabV3 / DeepLabV3Plus by name: "vgg" or "mobilenet"
    (:class:`~.mobilenet.Encoder`), or "resnet" (:class:`ResNetEncoder` with ``depth`` stages of
    ``blocks_per_stage`` basic blocks: (2, 2, 2, 2) is ResNet-18's layout). ``output_stride`` is
    capped at 2**depth."""
    if kind not in BACKBONES:
        raise ValueError(f"{model}: backbone must be one of {BACKBONES}, got {kind!r}")
    os_ = min(output_stride, 2**depth)
    if kind == "resnet":
        check_positive(model, depth=depth, blocks_per_stage=blocks_per_stage)
        return ResNetEncoder(in_channels, base_width, (blocks_per_stage,) * depth, "basic", os_)
    return Encoder(in_channels, base_width, depth, os_, kind, blocks_per_stage)
