"""FC-DenseNet, "the One Hundred Layers Tiramisu" (Jegou, Drozdzal, Vazquez, Romero & Bengio,
2017; deck 001): a U-shaped network built of dense blocks (:mod:`.densenet`).

* a 3x3 conv to ``first_channels`` (the paper's 48);
* **down path**, ``depth`` times: a dense block (m -> m + l k channels: its input and l new maps
  of ``growth_rate`` k), kept as the skip connection, then a transition down (BN - ReLU - 1x1 conv
  - dropout - 2x2 max-pool);
* the **bottleneck** dense block, of which only the l k *new* maps go up;
* **up path**, ``depth`` times: a transition up (3x3 transposed conv, stride 2, channels kept)
  concatenated with the skip of the same size, then a dense block; again only its new maps go up,
  except after the last block, whose whole output (input and new maps) goes to
* a 1x1 conv to the class scores.

``layers_per_block`` is one int (every block) or the 2 ``depth`` + 1 counts, down path,
bottleneck, up path. The paper's three networks (5 poolings, first conv 48, dropout 0.2):

=================  ===============================================  ====  ============
network            layers per block                                 k     parameters
=================  ===============================================  ====  ============
FC-DenseNet56      4 everywhere                                     12    1.5 M
FC-DenseNet67      5 everywhere                                     16    3.5 M
FC-DenseNet103     4, 5, 7, 10, 12, 15, 12, 10, 7, 5, 4             16    9.4 M
=================  ===============================================  ====  ============

(:meth:`FCDenseNet.fc_densenet56` ...). Built here, for 11 classes (CamVid), every conv with a
bias and batch-norm with two weights per channel, they count 1.38 M, 3.46 M and 9.32 M: 67 and
103 within 1.2 % of the paper, 56 8 % below its 1.5 M (the paper does not say what else it
counted; a test checks 67 and 103 within 2 %, 56 within 10 %).

**Toy default**: 3 poolings, 4 layers per block, growth rate k = ``base_width`` (8 from
``minisegnet train``), first conv 4 k, dropout 0.2 as in the paper. Inputs whose sides are not
multiples of 2**depth are zero-padded at the bottom / right to the next multiple and the scores
cropped back, so any input size of at least 2**depth per side works.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import functional as F
from .. import nn
from ..autograd import Tensor
from .blocks import check_input, check_positive
from .densenet import DenseBlock, TransitionDown, TransitionUp

__all__ = ["FCDenseNet"]


class FCDenseNet(nn.Module):
    """FC-DenseNet (Jegou et al. 2017), the One Hundred Layers Tiramisu: dense blocks on a U-shaped
    down / up path (module docstring). ``growth_rate`` defaults to ``base_width``,
    ``first_channels`` to 4 ``growth_rate``."""

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 4,
        base_width: int = 8,
        depth: int = 3,
        layers_per_block: int | Sequence[int] = 4,
        growth_rate: int | None = None,
        first_channels: int | None = None,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        k = base_width if growth_rate is None else growth_rate
        first = 4 * k if first_channels is None else first_channels
        check_positive(
            "FCDenseNet",
            in_channels=in_channels,
            num_classes=num_classes,
            base_width=base_width,
            depth=depth,
            growth_rate=k,
            first_channels=first,
        )
        if isinstance(layers_per_block, int):
            layers = (layers_per_block,) * (2 * depth + 1)
        else:
            layers = tuple(layers_per_block)
        if len(layers) != 2 * depth + 1:
            raise ValueError(
                f"FCDenseNet: layers_per_block needs 2 * depth + 1 = {2 * depth + 1} "
                f"counts (down path, bottleneck, up path) for depth {depth}, got "
                f"{len(layers)}: {layers_per_block!r}"
            )
        check_positive("FCDenseNet", **{f"layers_per_block[{i}]": n for i, n in enumerate(layers)})
        self.in_channels, self.num_classes, self.depth = in_channels, num_classes, depth
        self.growth_rate, self.layers_per_block = k, layers
        self.first_conv = nn.Conv2d(in_channels, first, 3, padding=1)
        self.down_blocks, self.transitions_down = nn.ModuleList(), nn.ModuleList()
        m, skips = first, []
        for i in range(depth):
            block = DenseBlock(m, layers[i], k, dropout)
            m = block.out_channels
            skips.append(m)
            self.down_blocks.append(block)
            self.transitions_down.append(TransitionDown(m, dropout))
        self.bottleneck = DenseBlock(m, layers[depth], k, dropout, new_features_only=True)
        up = self.bottleneck.out_channels
        self.transitions_up, self.up_blocks = nn.ModuleList(), nn.ModuleList()
        for i in range(depth):
            last = i == depth - 1
            self.transitions_up.append(TransitionUp(up))
            block = DenseBlock(
                up + skips[-1 - i], layers[depth + 1 + i], k, dropout, new_features_only=not last
            )
            self.up_blocks.append(block)
            up = block.out_channels
        self.classifier = nn.Conv2d(up, num_classes, 1)

    @classmethod
    def fc_densenet56(
        cls, in_channels: int = 3, num_classes: int = 11, dropout: float = 0.2
    ) -> FCDenseNet:
        """The paper's FC-DenseNet56: 4 layers per block, k = 12 (1.5 M parameters)."""
        return cls(in_channels, num_classes, 12, 5, 4, 12, 48, dropout)

    @classmethod
    def fc_densenet67(
        cls, in_channels: int = 3, num_classes: int = 11, dropout: float = 0.2
    ) -> FCDenseNet:
        """The paper's FC-DenseNet67: 5 layers per block, k = 16 (3.5 M parameters)."""
        return cls(in_channels, num_classes, 16, 5, 5, 16, 48, dropout)

    @classmethod
    def fc_densenet103(
        cls, in_channels: int = 3, num_classes: int = 11, dropout: float = 0.2
    ) -> FCDenseNet:
        """The paper's FC-DenseNet103: 4, 5, 7, 10, 12 / 15 / 12, 10, 7, 5, 4 layers, k = 16
        (9.4 M parameters)."""
        return cls(
            in_channels, num_classes, 16, 5, (4, 5, 7, 10, 12, 15, 12, 10, 7, 5, 4), 16, 48, dropout
        )

    def forward(self, x: Tensor) -> Tensor:
        check_input("FCDenseNet", x, self.in_channels)
        h, w = x.shape[2:]
        step = 2**self.depth
        if min(h, w) < step:
            raise ValueError(
                f"FCDenseNet(depth={self.depth}): input {h}x{w} is too small; its "
                f"{self.depth} 2x2 poolings need at least {step}x{step} (or a "
                f"smaller depth)"
            )
        ph, pw = -h % step, -w % step
        if ph or pw:  # pad to a multiple of 2**depth: every pooling halves exactly
            x = F.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)))
        y = self.first_conv(x)
        skips = []
        for block, down in zip(self.down_blocks, self.transitions_down):
            y = block(y)
            skips.append(y)
            y = down(y)
        y = self.bottleneck(y)
        for up, block, skip in zip(self.transitions_up, self.up_blocks, reversed(skips)):
            y = block(up(y, skip))
        y = self.classifier(y)
        return y[:, :, :h, :w] if ph or pw else y

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, num_classes={self.num_classes}, "
            f"growth_rate={self.growth_rate}, layers_per_block={self.layers_per_block}"
        )
