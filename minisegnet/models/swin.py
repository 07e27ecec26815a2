"""Swin Transformer (Liu et al., 2021) as a segmenter, with an FPN head (default) or a
Swin-UNet decoder (Cao et al.).

Encoder. A p x p patch embedding gives a map of tokens (N, H/p, W/p, C). Each of the ``depth``
stages runs ``blocks_per_stage`` Swin blocks, alternately

* **W-MSA**: the map is cut into non-overlapping ws x ws windows and self-attention runs inside
  each window only: (H W / ws^2) windows of ws^4 scores instead of (H W)^2, linear in H W;
* **SW-MSA**: the same after a cyclic shift of the map by -ws/2 (``roll``), so the new windows
  straddle the old borders and information crosses windows. The windows at the bottom/right then
  hold pieces that were far apart in the image; an attention mask
  (:func:`~minisegnet.functional.shifted_window_mask`) keeps those pieces from attending to each
  other. The map is rolled back afterwards.

Both add a learned relative position bias B (one table of (2 ws - 1)^2 offsets per head) to the
scores: softmax(Q K^T / sqrt(d) + B + mask) V. A block is pre-norm, like ViT's:
x = x + (S)W-MSA(LN(x)), x = x + MLP(LN(x)). Between stages, **patch merging** concatenates each
2 x 2 group of tokens (4C) and maps it linearly to 2C: half the resolution, twice the width.

Decoders (``decoder=``):

* ``"fpn"`` (default; the paper segments with a convolutional UperNet head, this is its FPN part):
  each stage's map (after a LayerNorm) gets a 1x1 conv to C channels; top-down, every map adds
  the coarser one upsampled bilinearly; each sum gets a 3x3 conv + BN + ReLU and is upsampled to
  the finest map; the maps are concatenated, fused by a 3x3 conv + BN + ReLU, a 1x1 conv gives the
  class scores, and a bilinear upsampling by p returns to the input size. Measured against the
  pure-transformer decoder below: docs/results.md and benchmarks/results/transformers_*.txt.
* ``"unet"`` (Swin-UNet): from the deepest stage up, **patch expanding** (Linear C -> 2C, then
  each token's 2C values rearranged into a 2 x 2 block of C/2: twice the resolution, half the
  width, + LayerNorm), concatenation with the encoder map of the same stage (the U-Net skip), a
  Linear back to the stage width, and ``blocks_per_stage`` Swin blocks; a final patch expanding by
  p returns to the input resolution and a Linear (a 1x1 conv) gives the class scores.

Window rule (the paper's): at a stage whose map is no larger than the window on its shorter
side, the window shrinks to that side and is not shifted. Inputs: H and W multiples of
p * 2^(depth - 1), and every stage map a multiple of its window; the error names the nearest
square sizes that work.

Defaults, scaled to 32-64 px images:

=======================  ==========================  =====================================
                         Swin-T (paper)              minisegnet default
=======================  ==========================  =====================================
patch size               4                           2
window                   7                           4
stages (``depth``)       4, blocks (2, 2, 6, 2)      2, 2 blocks each (W-MSA + SW-MSA)
width C                  96 (3 heads x 32)           32 (``num_heads`` 2 x ``base_width`` 16)
heads per stage          3, 6, 12, 24                2, 4 (doubling, as the width)
MLP width                4 C                         4 C
=======================  ==========================  =====================================
"""

from __future__ import annotations

from typing import Any

import numpy

from .. import functional as F
from .. import nn
from ..autograd import Tensor
from .blocks import ConvBNReLU, check_input, check_positive
from .setr import Mlp

__all__ = ["Swin", "SwinBlock", "PatchMerging", "PatchExpanding", "stage_windows"]


def stage_windows(h: int, w: int, window_size: int) -> tuple[int, int] | None:
    """(window, shift) for a stage map of h x w, or None when the window does not tile the map.
    A map no larger than the window on its shorter side gets a window of that side and no shift."""
    ws = min(window_size, h, w)
    if h % ws or w % ws:
        return None
    return ws, (ws // 2 if min(h, w) > window_size else 0)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside ws x ws windows, with the relative position bias."""

    def __init__(self, dim: int, num_heads: int, window_size: int) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.bias = nn.RelativePositionBias(window_size, num_heads)
        self.proj = nn.Linear(dim, dim)

    def forward(self, windows: Tensor, batch: int, ws: int, mask: Any = None) -> Tensor:
        """windows (B * nW, ws^2, C) -> same shape; ``mask``: (nW, ws^2, ws^2) of 0 / -inf."""
        bn, n, c = windows.shape
        nw = bn // batch
        qkv = self.qkv(windows).reshape(batch, nw, n, 3, self.num_heads, self.head_dim)
        qkv = qkv.permute(3, 0, 1, 4, 2, 5)  # (3, B, nW, heads, n, d)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores_add = self.bias(ws)  # (heads, n, n)
        if mask is not None:
            scores_add = scores_add + Tensor(mask[:, None])  # (nW, heads, n, n)
        out = F.scaled_dot_product_attention(q, k, v, scores_add)  # (B, nW, heads, n, d)
        out = out.permute(0, 1, 3, 2, 4).reshape(bn, n, c)
        return self.proj(out)


class SwinBlock(nn.Module):
    """x + (S)W-MSA(LN(x)), then x + MLP(LN(x)), on an (N, H, W, C) map; ``shifted`` selects
    SW-MSA (cyclic shift by -ws/2, the mask, the shift back)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        shifted: bool,
        mlp_ratio: float = 4.0,
        approximate: str = "none",
    ) -> None:
        super().__init__()
        self.window_size, self.shifted = window_size, shifted
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, num_heads, window_size)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), approximate)
        self._masks: dict[tuple, Any] = {}

    def _mask(self, h: int, w: int, ws: int, shift: int, xp: Any) -> Any:
        key = (h, w, ws, shift, xp.__name__)
        if key not in self._masks:
            allowed = F.shifted_window_mask(h, w, ws, shift)
            self._masks[key] = xp.asarray(numpy.where(allowed, 0.0, -numpy.inf))
        return self._masks[key]

    def forward(self, x: Tensor) -> Tensor:
        b, h, w, c = x.shape
        found = stage_windows(h, w, self.window_size)
        if found is None:  # Swin.check_input_size rules this out before the first stage
            raise ValueError(
                f"{type(self).__name__}: a {h}x{w} map does not tile into windows of "
                f"{self.window_size}"
            )
        ws, shift = found
        shift = shift if self.shifted else 0
        y = self.norm1(x)
        if shift:
            y = F.roll(y, (-shift, -shift), (1, 2))
        mask = self._mask(h, w, ws, shift, x.xp) if shift else None
        if mask is not None and mask.dtype != x.dtype:
            mask = mask.astype(x.dtype)
        y = self.attn(F.window_partition(y, ws), b, ws, mask)
        y = F.window_reverse(y, ws, h, w)
        if shift:
            y = F.roll(y, (shift, shift), (1, 2))
        x = x + y
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """(N, H, W, C) -> (N, H/2, W/2, 2C): each 2 x 2 group of tokens concatenated (4C, in Swin's
    order x(0,0), x(1,0), x(0,1), x(1,1)), LayerNorm, Linear(4C, 2C) without bias."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        b, h, w, c = x.shape
        x = x.reshape(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2, 5)
        return self.reduction(self.norm(x.reshape(b, h // 2, w // 2, 4 * c)))


class PatchExpanding(nn.Module):
    """(N, H, W, C) -> (N, fH, fW, out): Linear(C, f^2 out) without bias, each token's values
    rearranged into an f x f block of ``out`` channels (a "pixel shuffle"), then LayerNorm."""

    def __init__(self, dim: int, out_dim: int, factor: int) -> None:
        super().__init__()
        self.factor, self.out_dim = factor, out_dim
        self.expand = nn.Linear(dim, factor * factor * out_dim, bias=False)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x: Tensor) -> Tensor:
        b, h, w, _ = x.shape
        f, o = self.factor, self.out_dim
        x = self.expand(x).reshape(b, h, w, f, f, o).permute(0, 1, 3, 2, 4, 5)
        return self.norm(x.reshape(b, h * f, w * f, o))


class Swin(nn.Module):
    """Swin Transformer encoder + an FPN head or a Swin-UNet decoder (module docstring).

    ``base_width`` is the width of one head; stage i has ``num_heads * 2**i`` heads and
    ``base_width * num_heads * 2**i`` channels. ``depth`` is the number of stages.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 4,
        base_width: int = 16,
        depth: int = 2,
        num_heads: int = 2,
        patch_size: int = 2,
        window_size: int = 4,
        blocks_per_stage: int = 2,
        mlp_ratio: float = 4.0,
        approximate: str = "tanh",
        decoder: str = "fpn",
    ) -> None:
        super().__init__()
        check_positive(
            "Swin",
            in_channels=in_channels,
            num_classes=num_classes,
            base_width=base_width,
            depth=depth,
            num_heads=num_heads,
            patch_size=patch_size,
            window_size=window_size,
            blocks_per_stage=blocks_per_stage,
        )
        if decoder not in ("fpn", "unet"):
            raise ValueError(f"Swin: decoder must be 'fpn' or 'unet', got {decoder!r}")
        self.in_channels, self.num_classes, self.depth = in_channels, num_classes, depth
        self.decoder = decoder
        self.patch_size, self.window_size = patch_size, window_size
        dims = [base_width * num_heads * 2**i for i in range(depth)]
        heads = [num_heads * 2**i for i in range(depth)]

        def blocks(i: int) -> nn.ModuleList:
            return nn.ModuleList(
                [
                    SwinBlock(dims[i], heads[i], window_size, j % 2 == 1, mlp_ratio, approximate)
                    for j in range(blocks_per_stage)
                ]
            )

        self.patch_embed = nn.PatchEmbed(in_channels, dims[0], patch_size)
        self.embed_norm = nn.LayerNorm(dims[0])
        self.stages = nn.ModuleList([blocks(i) for i in range(depth)])
        self.merges = nn.ModuleList([PatchMerging(dims[i]) for i in range(depth - 1)])
        self.norms = nn.ModuleList([nn.LayerNorm(d) for d in dims])  # each stage's output
        if decoder == "unet":
            self.expands = nn.ModuleList(
                [PatchExpanding(dims[i + 1], dims[i], 2) for i in reversed(range(depth - 1))]
            )
            self.fuse = nn.ModuleList(
                [nn.Linear(2 * dims[i], dims[i]) for i in reversed(range(depth - 1))]
            )
            self.dec_stages = nn.ModuleList([blocks(i) for i in reversed(range(depth - 1))])
            self.final_expand = PatchExpanding(dims[0], dims[0], patch_size)
            self.head: nn.Module = nn.Linear(dims[0], num_classes)
        else:
            f = dims[0]
            self.lateral = nn.ModuleList([nn.Conv2d(d, f, 1) for d in dims])
            self.smooth = nn.ModuleList([ConvBNReLU(f, f, 3, 1) for _ in dims])
            self.fuse_conv = ConvBNReLU(depth * f, f, 3, 1)
            self.head = nn.Conv2d(f, num_classes, 1)

    # ----- sizes ----------------------------------------------------------------------------------
    def _works(self, h: int, w: int) -> bool:
        step = self.patch_size * 2 ** (self.depth - 1)
        if h < step or w < step or h % step or w % step:
            return False
        h, w = h // self.patch_size, w // self.patch_size
        for _ in range(self.depth):
            if stage_windows(h, w, self.window_size) is None:
                return False
            h, w = h // 2, w // 2
        return True

    def check_input_size(self, h: int, w: int) -> None:
        """Raise a ValueError naming the nearest square sizes that work when (h, w) does not."""
        if self._works(h, w):
            return
        n = max(h, w) if not self._works(min(h, w), min(h, w)) else min(h, w)
        step = self.patch_size * 2 ** (self.depth - 1)
        below = next((m for m in range(n - 1, 0, -1) if self._works(m, m)), None)
        above = next(m for m in range(n + 1, n + 64 * step) if self._works(m, m))
        near = " or ".join(str(m) for m in (below, above) if m is not None)
        raise ValueError(
            f"Swin(patch_size={self.patch_size}, window_size={self.window_size}, depth="
            f"{self.depth}): input {h}x{w} does not work; H and W must be multiples of patch_size "
            f"* 2**(depth-1) = {step}, and each stage's map a multiple of its window (a map "
            f"smaller than the window uses one window). Nearest square sizes that work: {near}"
        )

    # ----- forward --------------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        check_input("Swin", x, self.in_channels, sizes="")
        self.check_input_size(x.shape[2], x.shape[3])
        y = self.embed_norm(self.patch_embed(x).permute(0, 2, 3, 1))  # (N, h, w, C)
        feats = []
        for i, stage in enumerate(self.stages):
            assert isinstance(stage, nn.ModuleList)  # a stage: its blocks
            for block in stage:
                y = block(y)
            feats.append(self.norms[i](y))
            if i < self.depth - 1:
                y = self.merges[i](y)
        return (
            self._unet(feats)
            if self.decoder == "unet"
            else self._fpn(feats, (x.shape[2], x.shape[3]))
        )

    def _unet(self, feats: list[Tensor]) -> Tensor:
        y = feats[-1]
        for expand, fuse, stage, skip in zip(
            self.expands, self.fuse, self.dec_stages, reversed(feats[:-1])
        ):
            y = fuse(F.cat([expand(y), skip], axis=3))
            assert isinstance(stage, nn.ModuleList)  # a stage: its blocks
            for block in stage:
                y = block(y)
        y = self.final_expand(y)  # (N, H, W, C)
        return self.head(y).permute(0, 3, 1, 2)

    def _fpn(self, feats: list[Tensor], size: tuple[int, int]) -> Tensor:
        maps = [lat(f.permute(0, 3, 1, 2)) for lat, f in zip(self.lateral, feats)]
        for i in range(self.depth - 2, -1, -1):  # top-down: add the coarser map, upsampled
            maps[i] = maps[i] + F.interpolate(maps[i + 1], size=maps[i].shape[2:], mode="bilinear")
        top = maps[0].shape[2:]
        outs = [
            F.interpolate(sm(m), size=top, mode="bilinear") if m.shape[2:] != top else sm(m)
            for sm, m in zip(self.smooth, maps)
        ]
        y = self.head(self.fuse_conv(F.cat(outs, axis=1)))
        return F.interpolate(y, size=size, mode="bilinear") if y.shape[2:] != size else y

    def extra_repr(self) -> str:
        return f"depth={self.depth}, patch_size={self.patch_size}, window_size={self.window_size}"
