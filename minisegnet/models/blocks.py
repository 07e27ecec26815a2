"""Building blocks shared by the models: conv (or transposed conv) + batch-norm + ReLU."""

from __future__ import annotations

from .. import nn
from ..autograd import Tensor

__all__ = ["ConvBNReLU", "DoubleConv", "StagedEncoder", "check_input", "check_positive"]


def check_positive(model: str, **values: int) -> None:
    """Raise a ValueError naming the argument when a width / depth / class count is not >= 1."""
    for name, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{model}: {name} must be a positive int, got {v!r}")


def check_input(model: str, x: Tensor, in_channels: int, sizes: str = "any H, W >= 1") -> None:
    """A clear error for a batch that is not (N, in_channels, H, W); ``sizes`` says which H, W
    work ("" where the model checks them itself, with its own message)."""
    if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] != in_channels:
        shape = getattr(x, "shape", type(x).__name__)
        what = f" ({sizes})" if sizes else ""
        raise ValueError(
            f"{model}: expected an (N, {in_channels}, H, W) input{what}, got shape {shape}"
        )


class StagedEncoder(nn.Module):
    """A backbone that returns its feature maps, [stem output, stage 1 output, ...].

    A subclass builds ``stem`` and ``stages`` (an ``nn.ModuleList``) and lists, per feature map,
    ``out_channels``, ``strides`` and ``dilations``; DeepLab, PSPNet and the U-Nets pick maps by
    stride with :meth:`feature_index`."""

    in_channels: int
    stem: nn.Module
    stages: nn.ModuleList
    out_channels: list[int]
    strides: list[int]
    dilations: list[int]

    def forward(self, x: Tensor) -> list[Tensor]:
        check_input(type(self).__name__, x, self.in_channels)
        feats = [self.stem(x)]
        for stage in self.stages:
            feats.append(stage(feats[-1]))
        return feats

    def feature_index(self, stride: int) -> int:
        """Index of the last feature map at ``stride`` (ValueError naming the strides there are)."""
        if stride not in self.strides:
            raise ValueError(
                f"{type(self).__name__}: no feature map at stride {stride!r}; the "
                f"strides are {sorted(set(self.strides))}"
            )
        return len(self.strides) - 1 - self.strides[::-1].index(stride)


class ConvBNReLU(nn.Module):
    """conv k x k -> batch-norm -> ReLU (the conv has no bias when batch-norm follows: BN's shift
    does the same job). ``transposed=True`` uses a stride-1 transposed convolution (a
    "deconvolution" layer of DeconvNet's decoder)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        padding: int = 1,
        batch_norm: bool = True,
        transposed: bool = False,
    ) -> None:
        super().__init__()
        layer = nn.ConvTranspose2d if transposed else nn.Conv2d
        self.conv = layer(
            in_channels, out_channels, kernel_size, padding=padding, bias=not batch_norm
        )
        self.bn = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


class DoubleConv(nn.Module):
    """Two ConvBNReLU blocks: U-Net's (and SegNet's) unit of work at one resolution."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        padding: int = 1,
        batch_norm: bool = True,
        mid_channels: int | None = None,
    ) -> None:
        super().__init__()
        mid = out_channels if mid_channels is None else mid_channels
        self.conv1 = ConvBNReLU(in_channels, mid, 3, padding, batch_norm)
        self.conv2 = ConvBNReLU(mid, out_channels, 3, padding, batch_norm)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(self.conv1(x))
