"""SegNet (Badrinarayanan, Kendall & Cipolla, 2017) and DeconvNet (Noh, Hong & Han, 2015).

SegNet (deck 004): no dense layers. Encoder blocks of [3x3 conv + batch-norm + ReLU] x 2 then a
non-overlapping 2x2 max-pool that *keeps its indices*; the decoder *unpools* with those same
indices (a sparse map: each value returns to where its maximum came from, zeros elsewhere) and
densifies it with [conv + BN + ReLU] x 2. A 1x1 conv classifies each pixel. Pooling floors odd
sizes; unpooling is told the encoder map's size (``output_size``), so any input size works.

DeconvNet (deck 004): the same encoder, then VGG's dense layers as convolutions in the centre --
fc6 a ``center_kernel`` x ``center_kernel`` conv without padding (with the kernel equal to the
bottleneck's size, as the paper's 7x7 on 224x224 inputs, it collapses the map to 1x1), fc7 a 1x1
conv -- and a mirror-symmetric decoder: a transposed conv undoing fc6 ("deconv-fc6"), then per
level unpooling with the stored indices and [3x3 transposed conv ("deconvolution") + BN + ReLU] x 2.
"""

from __future__ import annotations

from .. import nn
from ..autograd import Tensor
from .blocks import ConvBNReLU, check_positive

__all__ = ["SegNet", "DeconvNet"]


class _EncoderDecoder(nn.Module):
    """Shared by SegNet and DeconvNet: pooling with indices, unpooling with the same indices."""

    def _build(
        self,
        in_channels: int,
        num_classes: int,
        base_width: int,
        depth: int,
        batch_norm: bool,
        transposed_decoder: bool,
    ) -> list[int]:
        name = type(self).__name__
        check_positive(
            name,
            in_channels=in_channels,
            num_classes=num_classes,
            base_width=base_width,
            depth=depth,
        )
        self.in_channels, self.num_classes = in_channels, num_classes
        self.base_width, self.depth = base_width, depth
        widths = [base_width * 2 ** min(i, 3) for i in range(depth)]  # capped at 8x, like VGG's 512
        self.enc = nn.ModuleList()
        self.pools = nn.ModuleList()
        c = in_channels
        for wd in widths:
            self.enc.append(
                nn.Sequential(
                    ConvBNReLU(c, wd, 3, 1, batch_norm), ConvBNReLU(wd, wd, 3, 1, batch_norm)
                )
            )
            self.pools.append(nn.MaxPool2d(2, return_indices=True))
            c = wd
        self.unpools = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in reversed(range(depth)):
            out = widths[i - 1] if i > 0 else widths[0]
            self.unpools.append(nn.MaxUnpool2d(2))
            self.dec.append(
                nn.Sequential(
                    ConvBNReLU(
                        widths[i], widths[i], 3, 1, batch_norm, transposed=transposed_decoder
                    ),
                    ConvBNReLU(widths[i], out, 3, 1, batch_norm, transposed=transposed_decoder),
                )
            )
        return widths

    def _check_input(self, x: Tensor, min_bottleneck: int = 1) -> None:
        name = type(self).__name__
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{name}: expected an (N, {self.in_channels}, H, W) input, got shape {x.shape}"
            )
        # floor-halving depth times leaves at least min_bottleneck pixels iff n >= that * 2**depth
        smallest = min_bottleneck * 2**self.depth
        if min(x.shape[2:]) < smallest:
            need = f"{self.depth} 2x2 poolings" + (
                f" followed by fc6's {min_bottleneck}x{min_bottleneck} kernel (center_kernel)"
                if min_bottleneck > 1
                else ""
            )
            raise ValueError(
                f"{name}(depth={self.depth}): input {x.shape[2]}x{x.shape[3]} is too "
                f"small; {need} need at least {smallest}x{smallest} pixels (use a "
                "larger input or a smaller depth)"
            )

    def _encode(self, x: Tensor) -> tuple[Tensor, list]:
        memory = []
        for block, pool in zip(self.enc, self.pools):
            x = block(x)
            size = x.shape
            x, indices = pool(x)
            memory.append((indices, size))
        return x, memory

    def _decode(self, x: Tensor, memory: list) -> Tensor:
        for unpool, block, (indices, size) in zip(self.unpools, self.dec, reversed(memory)):
            x = block(unpool(x, indices, output_size=size))
        return x

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, num_classes={self.num_classes}, "
            f"base_width={self.base_width}, depth={self.depth}"
        )


class SegNet(_EncoderDecoder):
    """SegNet with ``depth`` encoder / decoder levels (widths base, 2, 4, 8, 8, ... x base)."""

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 4,
        base_width: int = 16,
        depth: int = 4,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        widths = self._build(in_channels, num_classes, base_width, depth, batch_norm, False)
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        x, memory = self._encode(x)
        return self.classifier(self._decode(x, memory))


class DeconvNet(_EncoderDecoder):
    """DeconvNet: SegNet-like encoder, dense centre as convolutions, deconvolution decoder.

    ``center_kernel`` is fc6's kernel (no padding): the bottleneck map (input / 2**depth) must be
    at least that large. ``DeconvNet(center_kernel=7)`` on 224x224 inputs with depth 5 is the
    paper's 7x7 fc6 collapsing pool5 to 1x1.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 4,
        base_width: int = 16,
        depth: int = 4,
        center_kernel: int = 3,
        fc_width: int | None = None,
        batch_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_positive("DeconvNet", center_kernel=center_kernel)
        widths = self._build(in_channels, num_classes, base_width, depth, batch_norm, True)
        self.center_kernel = center_kernel
        c = widths[-1]
        fc = fc_width or 2 * c
        self.fc6 = nn.Sequential(
            ConvBNReLU(c, fc, center_kernel, 0, batch_norm), nn.Dropout2d(dropout)
        )
        self.fc7 = nn.Sequential(ConvBNReLU(fc, fc, 1, 0, batch_norm), nn.Dropout2d(dropout))
        self.deconv_fc6 = ConvBNReLU(fc, c, center_kernel, 0, batch_norm, transposed=True)
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x, self.center_kernel)
        x, memory = self._encode(x)
        x = self.deconv_fc6(self.fc7(self.fc6(x)))
        return self.classifier(self._decode(x, memory))
