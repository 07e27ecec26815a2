"""DeepLab v1 (Chen, Papandreou, Kokkinos, Murphy & Yuille, 2015) and v2 (Chen et al., 2017),
deck 004: the first two DeepLabs, before v3's concatenated ASPP with image pooling
(:mod:`.deeplab`).

**DeepLab v1** makes a VGG-16 classifier dense: pool4 and pool5 keep stride 1, the convs after
them are *atrous* (conv5 at rate 2, fc6 at rate 12 in "DeepLab-LargeFOV"), so the score map comes
at **output stride 8**; fc6 (3x3, 1024 channels), fc7 (1x1, 1024) and fc8 (1x1, the classes) are
the convolutionalized fully connected layers, and the scores are upsampled **bilinearly** by 8
(no learned decoder). A fully connected CRF (:func:`minisegnet.crf.dense_crf`) then sharpens the
coarse, blobby map along the image's edges.

Here: the backbone is :class:`~.mobilenet.Encoder` with ``kind="vgg"`` at ``output_stride`` 8
(stride-2 convs instead of max-pools, batch-norm after every conv; the stages past stride 8 are
dilated 2, 4 ...), fc6 / fc7 are conv + BN + ReLU with dropout (the paper: 0.5 and no BN; 0.1
here, as for the other DeepLabs), ``fc_width`` (the paper's 1024 beside conv5's 512) defaults to
twice the backbone's last width. **fc6's rate**: 12 on the paper's feature map of about 40x40
(crops of ~321x321 at stride 8); a 64x64 toy image gives an 8x8 map, and 12 * 8 / 40 = 2.4,
rounded to the default ``fc_rate=2`` (a 5x5 span, more than half the map as in the paper).

**DeepLab v2** swaps VGG for a dilated **ResNet** (:class:`~.resnet.ResNetEncoder`, output stride
8 by default, 16 possible) and replaces fc6-fc8 by **ASPP as in v2**: parallel 3x3 atrous convs,
each straight to the class scores (the paper's ResNet-101 variant), **summed** -- v3 instead
concatenates its branches (with a 1x1 conv and image pooling) and projects them.
**Rates**: the paper's ASPP-L uses 6, 12, 18, 24 at output stride 8 on 321x321 crops (a 41x41
map; rate 24's kernel spans 49 pixels, more than the map). On a 64x64 toy image (8x8 map) they
scale to 1.17, 2.34, 3.51, 4.68 (:func:`~.deeplab.scale_atrous_rates` with
``paper_feature_size=41``), rounded *up* to the defaults **(2, 3, 4, 5)**: every branch is dilated
and the largest (an 11-pixel span) again covers more than the map. Any input size works.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import functional as F
from .. import nn
from ..autograd import Tensor
from .blocks import check_input, check_positive
from .mobilenet import ConvBlock, Encoder
from .resnet import ResNetEncoder

__all__ = ["DeepLabV1", "DeepLabV2", "ASPPSum", "V2_PAPER_RATES"]

V2_PAPER_RATES = (6, 12, 18, 24)  # ASPP-L, output stride 8, 321x321 crops (a 41x41 map)


class DeepLabV1(nn.Module):
    """DeepLab v1 (Chen et al. 2015): VGG-style atrous backbone at output stride 8, fc6 (3x3,
    rate ``fc_rate``) - fc7 (1x1) - fc8 (1x1 classifier), bilinear upsampling (module docstring).

    ``output_stride`` is capped at 2**depth; ``fc_width`` defaults to twice the backbone's last
    width. Refine its probabilities with :func:`minisegnet.crf.dense_crf` as the paper does."""

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 4,
        base_width: int = 16,
        depth: int = 4,
        output_stride: int = 8,
        fc_rate: int = 2,
        fc_width: int | None = None,
        dropout: float = 0.1,
        blocks_per_stage: int = 2,
    ) -> None:
        super().__init__()
        check_positive(
            "DeepLabV1",
            in_channels=in_channels,
            num_classes=num_classes,
            base_width=base_width,
            depth=depth,
            fc_rate=fc_rate,
        )
        self.in_channels, self.num_classes, self.base_width = in_channels, num_classes, base_width
        self.backbone = Encoder(
            in_channels, base_width, depth, min(output_stride, 2**depth), "vgg", blocks_per_stage
        )
        c = self.backbone.out_channels[-1]
        width = fc_width or 2 * c
        check_positive("DeepLabV1", fc_width=width)
        self.fc_rate = fc_rate
        self.fc6 = ConvBlock(c, width, 3, dilation=fc_rate)
        self.drop6 = nn.Dropout2d(dropout)
        self.fc7 = ConvBlock(width, width, 1)
        self.drop7 = nn.Dropout2d(dropout)
        self.fc8 = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        check_input("DeepLabV1", x, self.in_channels)
        y = self.drop6(self.fc6(self.backbone(x)[-1]))
        y = self.fc8(self.drop7(self.fc7(y)))
        return F.interpolate(y, size=x.shape[2:], mode="bilinear")

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, num_classes={self.num_classes}, "
            f"base_width={self.base_width}, output_stride={self.backbone.output_stride}, "
            f"fc_rate={self.fc_rate}"
        )


class ASPPSum(nn.Module):
    """DeepLab v2's ASPP: one 3x3 atrous conv per rate, each from the features straight to
    ``out_channels`` (the class scores), the branch outputs **summed** (v3 concatenates)."""

    def __init__(
        self, in_channels: int, out_channels: int, atrous_rates: Sequence[int] = (2, 3, 4, 5)
    ) -> None:
        super().__init__()
        rates = tuple(atrous_rates)
        if not rates or not all(
            isinstance(r, int) and not isinstance(r, bool) and r >= 1 for r in rates
        ):
            raise ValueError(
                f"ASPPSum: atrous_rates must be a non-empty list of positive ints, "
                f"got {atrous_rates!r}"
            )
        self.atrous_rates = rates
        self.branches = nn.ModuleList(
            [nn.Conv2d(in_channels, out_channels, 3, padding=r, dilation=r) for r in rates]
        )

    def forward(self, x: Tensor) -> Tensor:
        y = self.branches[0](x)
        for branch in self.branches[1:]:
            y = y + branch(x)
        return y

    def extra_repr(self) -> str:
        return f"atrous_rates={self.atrous_rates}"


class DeepLabV2(nn.Module):
    """DeepLab v2 (Chen et al. 2017): dilated ResNet backbone + ASPP with summed branches +
    bilinear upsampling (module docstring).

    The backbone has ``depth`` stages of ``blocks_per_stage`` basic blocks (``layers`` and
    ``block="bottleneck"`` give other layouts: (3, 4, 23, 3) bottlenecks is the paper's
    ResNet-101); ``output_stride`` (8 or 16 in the paper) is capped at 2**depth."""

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 4,
        base_width: int = 16,
        depth: int = 4,
        output_stride: int = 8,
        atrous_rates: Sequence[int] = (2, 3, 4, 5),
        blocks_per_stage: int = 2,
        layers: Sequence[int] | None = None,
        block: str = "basic",
    ) -> None:
        super().__init__()
        check_positive(
            "DeepLabV2",
            in_channels=in_channels,
            num_classes=num_classes,
            base_width=base_width,
            depth=depth,
            blocks_per_stage=blocks_per_stage,
        )
        self.in_channels, self.num_classes, self.base_width = in_channels, num_classes, base_width
        layers = tuple(layers) if layers is not None else (blocks_per_stage,) * depth
        self.backbone = ResNetEncoder(
            in_channels, base_width, layers, block, min(output_stride, 2 ** len(layers))
        )
        self.aspp = ASPPSum(self.backbone.out_channels[-1], num_classes, atrous_rates)

    def forward(self, x: Tensor) -> Tensor:
        check_input("DeepLabV2", x, self.in_channels)
        y = self.aspp(self.backbone(x)[-1])
        return F.interpolate(y, size=x.shape[2:], mode="bilinear")

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, num_classes={self.num_classes}, "
            f"base_width={self.base_width}, output_stride={self.backbone.output_stride}"
        )
