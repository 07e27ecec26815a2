"""DeepLab v3 (Chen, Papandreou, Schroff & Adam, 2017) and v3+ (Chen et al., 2018), deck 004.

**Atrous (dilated) convolution** (deck 002): a 3x3 kernel with dilation r samples the input r
pixels apart, so it covers (2r + 1) x (2r + 1) pixels with 9 weights and no loss of resolution.

**DeepLabV3** = a dilated backbone (:class:`~.mobilenet.Encoder` at ``output_stride`` 8: the last
stage keeps the 8x8 map of a 64x64 image and dilates its convs) + **ASPP**, atrous spatial pyramid
pooling: five parallel branches on the feature map,

* a 1x1 conv,
* three 3x3 atrous convs with rates ``atrous_rates``,
* image pooling: global average pool -> 1x1 conv -> BN -> ReLU -> upsampled back (every pixel
  gets the whole image's summary, the context the largest rates fail to see once their taps fall
  off the map),

each with BN + ReLU, concatenated and projected by a 1x1 conv (+ BN + ReLU, dropout); then a 3x3
conv, a 1x1 classifier and bilinear upsampling to the input's size.

**DeepLabV3Plus** adds the decoder: a low-level feature map (``low_level_stride`` 4 by default, as
in the paper) is reduced by a 1x1 conv (+ BN + ReLU) to few channels, concatenated with the ASPP
output upsampled bilinearly to its size, refined by two 3x3 convs, classified by a 1x1 conv and
upsampled bilinearly to the input's size.

**Rates.** The paper uses rates 6, 12, 18 at output stride 16 on 513x513 crops: a 33x33 feature
map, the largest rate's 3x3 kernel spanning 37 pixels, a little more than the map. A 64x64 toy
image at output stride 8 gives an 8x8 map; scaling the paper's rates by 8 / 33 gives 1.45, 2.9,
4.4 (:func:`scale_atrous_rates`), rounded to the defaults **(2, 3, 4)** (the smallest rounded up,
so that every atrous branch is dilated): the rate-4 kernel spans 9 pixels, again a little more than
the map. Pass ``atrous_rates=(6, 12, 18)`` with ``output_stride=16`` on large images for the
paper's setting. ``backbone="mobilenet"`` uses depthwise separable blocks in the backbone and in
ASPP / the decoder (v3+'s "atrous separable convolution"). In training mode the image-pooling
branch's batch-norm needs a batch of 2 or more. Any input size works.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import functional as F
from .. import nn
from ..autograd import Tensor
from .blocks import check_input, check_positive
from .mobilenet import ConvBlock
from .resnet import build_backbone

__all__ = ["ASPP", "DeepLabV3", "DeepLabV3Plus", "scale_atrous_rates", "PAPER_RATES"]

PAPER_RATES = (6, 12, 18)  # at output stride 16 on 513x513 crops (a 33x33 feature map)


def scale_atrous_rates(
    feature_size: int, paper_rates: Sequence[int] = PAPER_RATES, paper_feature_size: int = 33
) -> tuple[float, ...]:
    """The paper's rates scaled to a ``feature_size`` map: r * feature_size / 33 (unrounded)."""
    return tuple(r * feature_size / paper_feature_size for r in paper_rates)


class ImagePooling(nn.Module):
    """ASPP's image-level branch: global average pool -> 1x1 conv -> BN -> ReLU -> upsample
    (bilinear from a 1x1 map: the same vector at every pixel)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = ConvBlock(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(self.conv(self.pool(x)), size=x.shape[2:], mode="bilinear")


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: [1x1 conv, 3x3 atrous conv at each rate, image pooling],
    each with BN + ReLU, concatenated, then 1x1 conv + BN + ReLU + dropout to ``out_channels``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        atrous_rates: Sequence[int] = (2, 3, 4),
        separable: bool = False,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        rates = tuple(atrous_rates)
        if not all(isinstance(r, int) and not isinstance(r, bool) and r >= 1 for r in rates):
            raise ValueError(f"ASPP: atrous_rates must be positive ints, got {atrous_rates!r}")
        self.atrous_rates = rates
        self.branches = nn.ModuleList([ConvBlock(in_channels, out_channels, 1)])
        for r in rates:
            self.branches.append(
                ConvBlock(in_channels, out_channels, 3, dilation=r, separable=separable)
            )
        self.branches.append(ImagePooling(in_channels, out_channels))
        self.project = ConvBlock((len(rates) + 2) * out_channels, out_channels, 1)
        self.dropout = nn.Dropout2d(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.project(F.cat([b(x) for b in self.branches], axis=1)))

    def extra_repr(self) -> str:
        return f"atrous_rates={self.atrous_rates}"


class DeepLabV3(nn.Module):
    """Dilated backbone + ASPP + 3x3 conv + 1x1 classifier + bilinear upsampling (module docstring).
    ``aspp_width`` defaults to 4 * base_width; ``output_stride`` is capped at 2**depth;
    ``backbone``: "vgg", "mobilenet" (:class:`~.mobilenet.Encoder`'s ``kind``) or "resnet"
    (:class:`~.resnet.ResNetEncoder`, basic blocks; :func:`~.resnet.build_backbone`)."""

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 4,
        base_width: int = 16,
        depth: int = 4,
        output_stride: int = 8,
        atrous_rates: Sequence[int] = (2, 3, 4),
        aspp_width: int | None = None,
        backbone: str = "vgg",
        dropout: float = 0.1,
        blocks_per_stage: int = 2,
    ) -> None:
        super().__init__()
        check_positive(
            type(self).__name__,
            in_channels=in_channels,
            num_classes=num_classes,
            base_width=base_width,
            depth=depth,
        )
        self.in_channels, self.num_classes, self.base_width = in_channels, num_classes, base_width
        self.backbone = build_backbone(
            type(self).__name__,
            in_channels,
            base_width,
            depth,
            output_stride,
            backbone,
            blocks_per_stage,
        )
        width = aspp_width or 4 * base_width
        sep = backbone == "mobilenet"
        self.aspp = ASPP(self.backbone.out_channels[-1], width, atrous_rates, sep, dropout)
        self.head = ConvBlock(width, width, 3, separable=sep)
        self.classifier = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        check_input(type(self).__name__, x, self.in_channels)
        y = self.classifier(self.head(self.aspp(self.backbone(x)[-1])))
        return F.interpolate(y, size=x.shape[2:], mode="bilinear")

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, num_classes={self.num_classes}, "
            f"base_width={self.base_width}, output_stride={self.backbone.output_stride}"
        )


class DeepLabV3Plus(nn.Module):
    """DeepLabV3's encoder (backbone + ASPP) + a decoder fusing the low-level feature map at
    ``low_level_stride`` (module docstring). ``low_level_width`` (the paper's 48 beside 256 ASPP
    channels) defaults to base_width; ``aspp_width`` to 4 * base_width. ``backbone="mobilenet"``
    gives v3+'s atrous separable convolutions (backbone, ASPP and decoder), "resnet" a dilated
    ResNet (the paper's backbone family, basic blocks); the default "vgg"
    (standard convs, as for PSPNet and DeepLabV3) converges faster on the toy data sets."""

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 4,
        base_width: int = 16,
        depth: int = 4,
        output_stride: int = 8,
        atrous_rates: Sequence[int] = (2, 3, 4),
        aspp_width: int | None = None,
        low_level_stride: int = 4,
        low_level_width: int | None = None,
        backbone: str = "vgg",
        dropout: float = 0.1,
        blocks_per_stage: int = 2,
    ) -> None:
        super().__init__()
        check_positive(
            "DeepLabV3Plus",
            in_channels=in_channels,
            num_classes=num_classes,
            base_width=base_width,
            depth=depth,
        )
        self.in_channels, self.num_classes, self.base_width = in_channels, num_classes, base_width
        os_ = min(output_stride, 2**depth)
        self.backbone = build_backbone(
            "DeepLabV3Plus", in_channels, base_width, depth, os_, backbone, blocks_per_stage
        )
        if not (
            isinstance(low_level_stride, int)
            and low_level_stride < os_
            and low_level_stride in self.backbone.strides
        ):
            finer = [s for s in sorted(set(self.backbone.strides)) if s < os_]
            raise ValueError(
                f"DeepLabV3Plus: low_level_stride must be a stride finer than the "
                f"output stride {os_}, one of {finer}; got {low_level_stride!r}"
            )
        self.low_level_stride = low_level_stride
        self.low_index = self.backbone.feature_index(low_level_stride)
        width = aspp_width or 4 * base_width
        low = low_level_width or base_width
        sep = backbone == "mobilenet"
        self.aspp = ASPP(self.backbone.out_channels[-1], width, atrous_rates, sep, dropout)
        self.reduce = ConvBlock(self.backbone.out_channels[self.low_index], low, 1)
        self.decoder = nn.Sequential(
            ConvBlock(width + low, width, 3, separable=sep),
            ConvBlock(width, width, 3, separable=sep),
        )
        self.classifier = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        check_input("DeepLabV3Plus", x, self.in_channels)
        feats = self.backbone(x)
        low = self.reduce(feats[self.low_index])
        y = F.interpolate(self.aspp(feats[-1]), size=low.shape[2:], mode="bilinear")
        y = self.classifier(self.decoder(F.cat([low, y], axis=1)))
        return F.interpolate(y, size=x.shape[2:], mode="bilinear")

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, num_classes={self.num_classes}, "
            f"base_width={self.base_width}, output_stride={self.backbone.output_stride}, "
            f"low_level_stride={self.low_level_stride}"
        )
