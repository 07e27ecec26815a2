"""Dense blocks of FC-DenseNet, "the One Hundred Layers Tiramisu" (Jegou et al., 2017; deck 001).

In a **dense block** every layer sees the concatenation of the block's input and of all the
feature maps produced before it inside the block, and adds ``growth_rate`` (k) new ones:

    x_l = H_l([x_0, x_1, ..., x_{l-1}]),   H_l = BN - ReLU - conv 3x3 - dropout     (DenseLayer)

so a block of l layers on m input channels outputs m + l k channels (its input and the l k new
maps). On FC-DenseNet's upsampling path only the l k *new* maps of a block go on
(``new_features_only=True``): concatenating the input too would make the channel count explode.

* :class:`TransitionDown`: BN - ReLU - conv 1x1 (channels kept) - dropout - 2x2 max-pool;
* :class:`TransitionUp`: a 3x3 transposed convolution with stride 2 (the size doubles; with a
  skip connection, the output matches the skip's size and is concatenated with it, as the
  paper's upsampling path does).

Dropout p = 0.2 as in the paper (``dropout=0`` turns it off).
"""

from __future__ import annotations

from .. import functional as F
from .. import nn
from ..autograd import Tensor
from .blocks import check_positive

__all__ = ["DenseLayer", "DenseBlock", "TransitionDown", "TransitionUp"]


def _brc(in_channels: int, out_channels: int, k: int, dropout: float) -> list:
    """BN - ReLU - conv k x k ('same' padding) - dropout: the unit of FC-DenseNet."""
    return [
        nn.BatchNorm2d(in_channels),
        nn.ReLU(),
        nn.Conv2d(in_channels, out_channels, k, padding=k // 2),
        nn.Dropout(dropout),
    ]


class DenseLayer(nn.Sequential):
    """H_l = BN - ReLU - conv 3x3 (in_channels -> growth_rate) - dropout."""

    def __init__(self, in_channels: int, growth_rate: int, dropout: float = 0.2) -> None:
        check_positive("DenseLayer", in_channels=in_channels, growth_rate=growth_rate)
        super().__init__(*_brc(in_channels, growth_rate, 3, dropout))
        self.in_channels, self.out_channels = in_channels, growth_rate


class DenseBlock(nn.Module):
    """``n_layers`` :class:`DenseLayer` s, each fed the concatenation of the block input and all
    earlier layers' outputs. Output: [x, x_1, ..., x_l] (in_channels + n_layers * growth_rate
    channels) or, with ``new_features_only=True``, [x_1, ..., x_l] (n_layers * growth_rate)."""

    def __init__(
        self,
        in_channels: int,
        n_layers: int,
        growth_rate: int,
        dropout: float = 0.2,
        new_features_only: bool = False,
    ) -> None:
        super().__init__()
        check_positive(
            "DenseBlock", in_channels=in_channels, n_layers=n_layers, growth_rate=growth_rate
        )
        self.in_channels, self.n_layers, self.growth_rate = in_channels, n_layers, growth_rate
        self.new_features_only = bool(new_features_only)
        self.layers = nn.ModuleList(
            [
                DenseLayer(in_channels + i * growth_rate, growth_rate, dropout)
                for i in range(n_layers)
            ]
        )
        self.out_channels = n_layers * growth_rate + (0 if new_features_only else in_channels)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"DenseBlock: expected an (N, {self.in_channels}, H, W) input, got shape {x.shape}"
            )
        feats, new = x, []
        for layer in self.layers:
            new.append(layer(feats))
            feats = F.cat([feats, new[-1]], axis=1)
        return F.cat(new, axis=1) if self.new_features_only else feats

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, n_layers={self.n_layers}, growth_rate="
            f"{self.growth_rate}, out_channels={self.out_channels}"
            + (", new_features_only=True" if self.new_features_only else "")
        )


class TransitionDown(nn.Sequential):
    """BN - ReLU - conv 1x1 (channels kept) - dropout - 2x2 max-pool (stride 2): halves H and W."""

    def __init__(self, channels: int, dropout: float = 0.2) -> None:
        check_positive("TransitionDown", channels=channels)
        super().__init__(*_brc(channels, channels, 1, dropout), nn.MaxPool2d(2))
        self.in_channels = self.out_channels = channels


class TransitionUp(nn.Module):
    """3x3 transposed convolution, stride 2 (padding 1): H -> 2H. ``forward(x, skip)`` sizes the
    output like ``skip`` (odd sizes too) and returns [up(x), skip] concatenated on channels."""

    def __init__(self, in_channels: int, out_channels: int | None = None) -> None:
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        check_positive("TransitionUp", in_channels=in_channels, out_channels=out_channels)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1)

    def forward(self, x: Tensor, skip: Tensor | None = None) -> Tensor:
        if skip is None:
            return self.conv(x, output_size=(2 * x.shape[2], 2 * x.shape[3]))
        h, w = skip.shape[2:]
        if not all(2 * n - 1 <= m <= 2 * n for n, m in zip(x.shape[2:], (h, w))):
            raise ValueError(
                f"TransitionUp: the skip connection {skip.shape} must be about twice "
                f"the size of the input {x.shape} (2n or 2n - 1 per axis)"
            )
        return F.cat([self.conv(x, output_size=(h, w)), skip], axis=1)
