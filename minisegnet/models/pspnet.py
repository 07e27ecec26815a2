"""PSPNet (Zhao, Shi, Qi, Wang & Jia, 2017): pyramid pooling on a dilated backbone (deck 004).

1. A backbone at **output stride 8**: the last stages are dilated instead of downsampled
   (:class:`~.mobilenet.Encoder`), so a 64x64 image gives an 8x8 feature map with a large
   receptive field.
2. The **pyramid pooling module**: the feature map (C channels) is average-pooled to 1x1 (global
   average: the whole image's context), 2x2, 3x3 and 6x6 bins (``F.adaptive_avg_pool2d``); each
   pooled map goes through a 1x1 conv (C / 4 channels for 4 bins), batch-norm and ReLU and is
   upsampled bilinearly back to the feature map's size.
3. The feature map and the 4 upsampled maps are **concatenated** (2C channels), a 3x3 conv
   (+ BN + ReLU, C / 4 channels; the paper's 4096 -> 512) and dropout fuse them, a 1x1 conv
   gives the class scores, and bilinear upsampling brings them to the input's size.

Toy defaults: ``base_width=16``, depth 4 (widths 16, 32, 64, 128, 128), output stride 8, standard
3x3 convs in the backbone (the paper uses a dilated ResNet: ``backbone="resnet"``, basic blocks;
``backbone="mobilenet"`` gives depthwise separable blocks). The paper's auxiliary loss on an
intermediate stage is left out.
Any input size works; the pooling bins may be larger than a tiny feature map (adaptive pooling's
windows then overlap). In training mode the 1x1 bin's batch-norm needs a batch of 2 or more.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import functional as F
from .. import nn
from ..autograd import Tensor
from .blocks import check_input, check_positive
from .mobilenet import ConvBlock
from .resnet import build_backbone

__all__ = ["PSPNet", "PyramidPooling"]


class PyramidPooling(nn.Module):
    """Pool to each of ``bins`` (b x b), 1x1 conv -> BN -> ReLU, upsample bilinearly to the input
    map's size, and concatenate with the input: C + len(bins) * branch_channels channels out."""

    def __init__(
        self,
        in_channels: int,
        bins: Sequence[int] = (1, 2, 3, 6),
        branch_channels: int | None = None,
    ) -> None:
        super().__init__()
        bins = tuple(bins)
        if not bins or not all(isinstance(b, int) and b >= 1 for b in bins):
            raise ValueError(f"PyramidPooling: bins must be positive ints, got {bins!r}")
        self.bins = bins
        self.branch_channels = branch_channels or max(in_channels // len(bins), 1)
        self.branches = nn.ModuleList(
            [
                nn.Sequential(
                    nn.AdaptiveAvgPool2d(b), ConvBlock(in_channels, self.branch_channels, 1)
                )
                for b in bins
            ]
        )
        self.out_channels = in_channels + len(bins) * self.branch_channels

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[2:]
        pooled = [F.interpolate(branch(x), size=size, mode="bilinear") for branch in self.branches]
        return F.cat([x, *pooled], axis=1)

    def extra_repr(self) -> str:
        return f"bins={self.bins}, branch_channels={self.branch_channels}"


class PSPNet(nn.Module):
    """Pyramid scene parsing network (see the module docstring). ``output_stride`` is capped at
    2**depth (a shallower backbone cannot downsample further); ``backbone``: "vgg", "mobilenet"
    (:class:`~.mobilenet.Encoder`'s ``kind``) or "resnet" (:class:`~.resnet.ResNetEncoder`)."""

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 4,
        base_width: int = 16,
        depth: int = 4,
        output_stride: int = 8,
        bins: Sequence[int] = (1, 2, 3, 6),
        backbone: str = "vgg",
        dropout: float = 0.1,
        blocks_per_stage: int = 2,
    ) -> None:
        super().__init__()
        check_positive(
            "PSPNet",
            in_channels=in_channels,
            num_classes=num_classes,
            base_width=base_width,
            depth=depth,
        )
        self.in_channels, self.num_classes, self.base_width = in_channels, num_classes, base_width
        self.backbone = build_backbone(
            "PSPNet", in_channels, base_width, depth, output_stride, backbone, blocks_per_stage
        )
        c = self.backbone.out_channels[-1]
        self.ppm = PyramidPooling(c, bins)
        head = max(c // 4, 1)
        self.fuse = ConvBlock(self.ppm.out_channels, head, 3)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(head, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        check_input("PSPNet", x, self.in_channels)
        feat = self.backbone(x)[-1]
        y = self.classifier(self.dropout(self.fuse(self.ppm(feat))))
        return F.interpolate(y, size=x.shape[2:], mode="bilinear")

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, num_classes={self.num_classes}, "
            f"base_width={self.base_width}, output_stride={self.backbone.output_stride}"
        )
