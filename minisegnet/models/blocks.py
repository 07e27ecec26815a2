"""Building blocks shared by the models: conv (or transposed conv) + batch-norm + ReLU."""

from __future__ import annotations

from .. import nn
from ..autograd import Tensor

__all__ = ["ConvBNReLU", "DoubleConv", "check_positive"]


def check_positive(model: str, **values: int) -> None:
    """Raise a ValueError naming the argument when a width / depth / class count is not >= 1."""
    for name, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{model}: {name} must be a positive int, got {v!r}")


class ConvBNReLU(nn.Module):
    """conv k x k -> batch-norm -> ReLU (the conv has no bias when batch-norm follows: BN's shift
    does the same job). ``transposed=True`` uses a stride-1 transposed convolution (a
    "deconvolution" layer of DeconvNet's decoder)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, padding: int = 1,
                 batch_norm: bool = True, transposed: bool = False) -> None:
        super().__init__()
        layer = nn.ConvTranspose2d if transposed else nn.Conv2d
        self.conv = layer(in_channels, out_channels, kernel_size, padding=padding,
                          bias=not batch_norm)
        self.bn = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


class DoubleConv(nn.Module):
    """Two ConvBNReLU blocks: U-Net's (and SegNet's) unit of work at one resolution."""

    def __init__(self, in_channels: int, out_channels: int, padding: int = 1,
                 batch_norm: bool = True, mid_channels: int | None = None) -> None:
        super().__init__()
        mid = out_channels if mid_channels is None else mid_channels
        self.conv1 = ConvBNReLU(in_channels, mid, 3, padding, batch_norm)
        self.conv2 = ConvBNReLU(mid, out_channels, 3, padding, batch_norm)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(self.conv1(x))
