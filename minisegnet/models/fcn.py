"""Fully convolutional network (Long, Shelhamer & Darrell, 2015): FCN-32s, FCN-16s, FCN-8s.

A small VGG-style backbone (5 stages of 3x3 conv + BN + ReLU, each ending in a 2x2 max-pool, so
pool5 is 1/32 of the input), VGG's dense layers as convolutions (fc6: 3x3 conv, fc7: 1x1 conv,
each with ReLU and dropout) and a 1x1 ``score_fr`` conv giving class scores at stride 32. Then
(decks 000, 001, 004):

* FCN-32s: one x32 transposed conv (kernel 64, stride 32, initialised as bilinear upsampling);
* FCN-16s: x2 transposed conv of the scores, *summed* with 1x1 scores of pool4 (stride 16),
  then x16 upsampling;
* FCN-8s: the same again with pool3 (stride 8), then x8 upsampling.

More upsampling steps, finer masks. The skip score layers start at zero, as in the paper, so at
initialisation the skips add nothing and training grows them from there (the chained x2, x2, x8
bilinear upsamplers are close to, but not the same as, FCN-32s's single x32 one).

Any input size: the input is zero-padded at the bottom / right to a multiple of 32, so every
pooled map is exactly half the previous one and the x2 upsampled scores align with the skip
scores (they are still cropped to the skip's size, from the top-left corner where both maps
start); the final upsampled map is cropped back to the input's H x W. (The original pads by 100
pixels at conv1 and crops with offsets 5, 9 and 31 instead.)
"""

from __future__ import annotations

from .. import functional as F
from .. import nn
from ..autograd import Tensor
from .blocks import ConvBNReLU, check_positive

__all__ = ["FCN", "FCN_VARIANTS"]

FCN_VARIANTS = ("32s", "16s", "8s")


def _crop_to(x: Tensor, h: int, w: int) -> Tensor:
    """Crop the last two axes to (h, w) keeping the top-left corner (where every map starts)."""
    return x if x.shape[2:] == (h, w) else x[:, :, :h, :w]


def _upsampler(channels: int, factor: int) -> nn.ConvTranspose2d:
    """x``factor`` bilinear-initialised transposed conv: kernel 2f, stride f, crop f/2 per border,
    so (n / f - 1) f - f + 2f = n: it maps an n / f map back to n exactly."""
    return nn.ConvTranspose2d(
        channels,
        channels,
        2 * factor,
        stride=factor,
        padding=factor // 2,
        bias=False,
        bilinear_init=True,
    )


class FCN(nn.Module):
    """FCN-32s / 16s / 8s on a small VGG-style backbone (widths base, 2, 4, 8, 8 x base).

    ``variant`` is ``"32s"``, ``"16s"`` or ``"8s"`` (``"fcn8s"`` also works): one, two or three
    upsampling steps (module docstring). ``convs_per_stage``: 3x3 convs in each of the five
    pooling stages; ``fc_width``: channels of fc6 / fc7 (default 16 x ``base_width``).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 4,
        variant: str = "8s",
        base_width: int = 16,
        convs_per_stage: tuple[int, ...] = (2, 2, 3, 3, 3),
        fc_width: int | None = None,
        batch_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_positive(
            "FCN", in_channels=in_channels, num_classes=num_classes, base_width=base_width
        )
        variant = variant[3:] if isinstance(variant, str) and variant.startswith("fcn") else variant
        if variant not in FCN_VARIANTS:
            raise ValueError(f"FCN: variant must be one of {FCN_VARIANTS}, got {variant!r}")
        if len(convs_per_stage) != 5 or min(convs_per_stage) < 1:
            raise ValueError(
                f"FCN: convs_per_stage needs 5 positive counts (one per pooling "
                f"stage), got {convs_per_stage}"
            )
        self.in_channels, self.num_classes, self.variant = in_channels, num_classes, variant
        self.base_width = base_width
        widths = [base_width * m for m in (1, 2, 4, 8, 8)]
        fc = fc_width or 16 * base_width
        self.stages = nn.ModuleList()
        c = in_channels
        for width, n in zip(widths, convs_per_stage):
            layers: list[nn.Module] = []
            for _ in range(n):
                layers.append(ConvBNReLU(c, width, 3, 1, batch_norm))
                c = width
            layers.append(nn.MaxPool2d(2))
            self.stages.append(nn.Sequential(*layers))
        # the dense layers as convolutions
        self.fc6 = nn.Sequential(ConvBNReLU(c, fc, 3, 1, batch_norm), nn.Dropout2d(dropout))
        self.fc7 = nn.Sequential(ConvBNReLU(fc, fc, 1, 0, batch_norm), nn.Dropout2d(dropout))
        self.score_fr = nn.Conv2d(fc, num_classes, 1)
        k = num_classes
        if variant in ("16s", "8s"):
            self.upscore2 = _upsampler(k, 2)
            self.score_pool4 = nn.Conv2d(widths[3], k, 1)
            self.score_pool4.weight.data[...] = 0
        if variant == "8s":
            self.upscore_pool4 = _upsampler(k, 2)
            self.score_pool3 = nn.Conv2d(widths[2], k, 1)
            self.score_pool3.weight.data[...] = 0
        self.factor = {"32s": 32, "16s": 16, "8s": 8}[variant]
        self.upscore = _upsampler(k, self.factor)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"FCN: expected an (N, {self.in_channels}, H, W) input, got shape {x.shape}"
            )
        h, w = x.shape[2:]
        ph, pw = -h % 32, -w % 32
        if ph or pw:  # pad to a multiple of 32 so that every pooled map halves exactly
            x = F.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)))
        pools = []
        for stage in self.stages:
            x = stage(x)
            pools.append(x)
        score = self.score_fr(self.fc7(self.fc6(x)))
        if self.variant in ("16s", "8s"):
            pool4 = pools[3]
            up = _crop_to(self.upscore2(score), *pool4.shape[2:])
            score = up + self.score_pool4(pool4)  # skip fusion by summation (stride 16)
        if self.variant == "8s":
            pool3 = pools[2]
            up = _crop_to(self.upscore_pool4(score), *pool3.shape[2:])
            score = up + self.score_pool3(pool3)  # and again with pool3 (stride 8)
        return _crop_to(self.upscore(score), h, w)

    def extra_repr(self) -> str:
        return (
            f"variant={self.variant!r}, in_channels={self.in_channels}, "
            f"num_classes={self.num_classes}, base_width={self.base_width}"
        )
