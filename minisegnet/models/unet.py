"""U-Net (Ronneberger, Fischer & Brox, 2015), as deck 004 draws it.

Contracting path: ``depth`` down blocks of 2 x [3x3 conv + batch-norm + ReLU] followed by a 2x2
max-pool (widths base, 2 base, 4 base, ...). Bottleneck: 2 convs (16 base for depth 4) with
optional dropout. Expanding path: ``depth`` up blocks of a stride-2 2x2 transposed conv (halving
the channels), concatenation with the encoder map of the same level (cropped to the same size),
and 2 x [conv + BN + ReLU]. A 1x1 convolution gives the class scores.

``padding="valid"`` is the original network: unpadded 3x3 convs lose 2 pixels per conv, so the
encoder maps are larger than the upsampled ones and are *cropped* (centre crop) before the
concatenation, and the output is smaller than the input (572x572 -> 388x388 with depth 4; see
:meth:`UNet.output_size`). ``padding="same"`` (the modern variant) pads every conv by 1, so the
output has the input's size; the input size must then be divisible by 2**depth.
"""

from __future__ import annotations

from .. import functional as F
from .. import nn
from ..autograd import Tensor
from .blocks import DoubleConv, check_positive

__all__ = ["UNet"]


class UNet(nn.Module):
    """U-Net with configurable width, depth, padding mode, batch-norm and bottleneck dropout.

    The paper's network is ``UNet(in_channels=1, num_classes=2, base_width=64, depth=4,
    padding="valid", batch_norm=False)``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 4,
        base_width: int = 16,
        depth: int = 4,
        padding: str = "same",
        batch_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_positive(
            "UNet",
            in_channels=in_channels,
            num_classes=num_classes,
            base_width=base_width,
            depth=depth,
        )
        if padding not in ("same", "valid"):
            raise ValueError(
                f"UNet: padding must be 'same' (padded convs, output size = input "
                f"size) or 'valid' (the original unpadded convs), got {padding!r}"
            )
        self.in_channels, self.num_classes = in_channels, num_classes
        self.base_width, self.depth, self.padding = base_width, depth, padding
        pad = 1 if padding == "same" else 0
        widths = [base_width * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList()
        self.pools = nn.ModuleList()
        c = in_channels
        for i in range(depth):
            self.down.append(DoubleConv(c, widths[i], pad, batch_norm))
            self.pools.append(nn.MaxPool2d(2))
            c = widths[i]
        self.bottleneck = DoubleConv(c, widths[depth], pad, batch_norm)
        self.dropout = nn.Dropout(dropout)
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in reversed(range(depth)):
            self.up.append(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2))
            self.dec.append(DoubleConv(2 * widths[i], widths[i], pad, batch_norm))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    # ----- sizes ----------------------------------------------------------------------------------
    def _out_len(self, n: int) -> int | None:
        """Output length for an input length ``n``, or None when the network cannot take it."""
        if n < 1:
            return None
        if self.padding == "same":
            return n if n % 2**self.depth == 0 else None
        for _ in range(self.depth):
            n -= 4  # two unpadded 3x3 convs
            if n < 2 or n % 2:
                return None  # a 2x2 pool needs an even size
            n //= 2
        n -= 4
        if n < 1:
            return None
        for _ in range(self.depth):
            n = 2 * n - 4  # x2 transposed conv, then two unpadded convs
            if n < 1:
                return None
        return n

    def _nearest(self, n: int) -> str:
        below = next((m for m in range(n - 1, 0, -1) if self._out_len(m) is not None), None)
        above = next(
            m for m in range(n + 1, n + 2 ** (self.depth + 3) + 200) if self._out_len(m) is not None
        )
        parts = [f"{m} (output {self._out_len(m)})" for m in (below, above) if m is not None]
        return " or ".join(parts)

    def check_input_size(self, h: int, w: int) -> None:
        """Raise a ValueError naming the nearest sizes that work when (h, w) does not."""
        for name, n in (("height", h), ("width", w)):
            if self._out_len(n) is None:
                rule = (
                    f"divisible by 2**depth = {2**self.depth}"
                    if self.padding == "same"
                    else "such that every map before a 2x2 max-pool has an even size (each "
                    "unpadded 3x3 conv removes 2 pixels)"
                )
                raise ValueError(
                    f"UNet(padding={self.padding!r}, depth={self.depth}): input {name} {n} does "
                    f"not work; it must be {rule}. Nearest sizes that work: {self._nearest(n)}"
                )

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        """Output (height, width) for an input of (h, w), by shape arithmetic (no forward pass):
        the input size for "same", e.g. 572x572 -> 388x388 for "valid" with depth 4."""
        self.check_input_size(h, w)
        out_h, out_w = self._out_len(h), self._out_len(w)
        assert out_h is not None and out_w is not None  # check_input_size raised otherwise
        return out_h, out_w

    # ----- forward --------------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"UNet: expected an (N, {self.in_channels}, H, W) input, got shape {x.shape}"
            )
        self.check_input_size(x.shape[2], x.shape[3])
        skips = []
        for block, pool in zip(self.down, self.pools):
            x = block(x)
            skips.append(x)
            x = pool(x)
        x = self.dropout(self.bottleneck(x))
        for up, block, skip in zip(self.up, self.dec, reversed(skips)):
            x = up(x)
            if skip.shape[2:] != x.shape[2:]:  # "valid": crop the encoder map to the same size
                skip = F.center_crop(skip, x.shape[2:])
            x = block(F.cat([skip, x], axis=1))
        return self.head(x)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, num_classes={self.num_classes}, "
            f"base_width={self.base_width}, depth={self.depth}, padding={self.padding!r}"
        )
