"""SETR (Zheng et al., 2021): a ViT encoder (the image as a sequence of patches) and three decoders
back to pixels: naive, progressive upsampling ("PUP") and multi-level aggregation ("MLA").

Encoder (ViT, Dosovitskiy et al. 2021): a p x p patch embedding (a conv with kernel = stride = p)
turns an (N, C, H, W) image into (N, E, H/p, W/p), a learned position embedding is added (resized
bilinearly when the input grid differs from the one it was made for, see
:class:`~minisegnet.nn.PositionEmbedding`), the map is flattened to a sequence of L = HW / p^2
tokens (N, L, E), and ``depth`` pre-norm transformer layers follow:

    x = x + MSA(LN(x)),   x = x + MLP(LN(x)),   MLP = Linear(E, 4E) -> GELU -> Linear(4E, E),

then a final LayerNorm. Global self-attention costs L^2 scores per head and layer.

Defaults, scaled from the paper's to 32-64 px toy images:

===================  ======================  ====================
                     SETR paper (ViT-Large)  minisegnet default
===================  ======================  ====================
patch size           16                      4
input                512 x 512 (32^2 tokens) 32 x 32 (8^2 tokens)
layers (``depth``)   24                      4
heads                16                      4
width E              1024 (64 per head)      64 (``base_width`` = 16 per head)
MLP width            4096                    4 E
MLA streams          layers 6, 12, 18, 24    4 evenly spaced layers (every layer at depth 4)
decoder width        256                     E / 2
===================  ======================  ====================

Decoders (all end at the input size; K = num_classes, D = decoder width):

* ``"naive"``: the last layer's map -> 1x1 conv (E -> D) + BN + ReLU -> 1x1 conv (D -> K) ->
  bilinear upsampling by p;
* ``"pup"``: ceil(log2 p) stages of 3x3 conv + BN + ReLU followed by a x2 bilinear upsampling
  (the last one lands exactly on H x W), then a 1x1 conv to K;
* ``"mla"``: M = min(4, depth) streams from evenly spaced layers, each reshaped to a map and
  projected by a 1x1 conv (E -> D); a top-down aggregation adds each stream to the sum of the
  deeper ones; each aggregated map gets a 3x3 conv + BN + ReLU (D -> D/2); the M maps are
  concatenated, a 1x1 conv gives K scores at the patch grid, and bilinear upsampling by p gives
  the input size.

Stem (``stem``): ``"patch"`` (the default) is the pure ViT above: the p x p patch embedding sees
the raw pixels. ``"conv"`` is SETR's *hybrid* encoder scaled down (ViT's hybrid model, which SETR
also reports: a ResNet-50 computes a feature map and the transformer runs on its 1x1 patches):
a small CNN (:class:`ConvStem`, S = E / 2 channels) brings the image to the token grid and the
patch embedding is a 1x1 conv on its output (for p = 4):

    x -> ConvBNReLU3x3(C, S) -> ConvBNReLU3x3/2(S, 2S) -> ConvBNReLU3x3/2(2S, 2S)
      -> ConvBNReLU3x3(2S, 2S) -> PatchEmbed(2S, E, 1) -> + position embedding -> layers ...

Why: self-attention has no local inductive bias, and the naive head's 1x1 convolutions add none,
so a pure ViT with the naive head must learn from the data alone that neighbouring pixels form a
shape (on 1,200 ``shapes`` images it does not: val mIoU 0.37-0.41). With the stem every token
starts from convolution features of a 17 x 17 pixel window around its patch (edges, corners,
the curvature that tells a circle from a square), and attention only has to relate them. At 32x32,
E = 32 (the trainer's defaults) the stem costs 2.8 M multiply-adds per image, about as much as
the three transformer layers on 64 tokens.

Inputs: any H, W that are multiples of the patch size (the error names the nearest ones).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy

from .. import backend, nn
from .. import functional as F
from ..autograd import Tensor
from .blocks import ConvBNReLU, check_input, check_positive

__all__ = [
    "SETR",
    "ViTEncoder",
    "TransformerLayer",
    "Mlp",
    "SETR_DECODERS",
    "SETR_STEMS",
    "init_transformer_weights",
]

SETR_DECODERS = ("naive", "pup", "mla")
#: ``"patch"``: the pure ViT's patch embedding; ``"conv"``: a small CNN first (hybrid encoder)
SETR_STEMS = ("patch", "conv")


def init_transformer_weights(model: nn.Module, std: float = 0.02) -> None:
    """ViT's / Swin's initialisation (timm's): every Linear weight and ``in_proj_weight`` drawn
    from N(0, std^2) clipped at 2 std, their biases 0; convolutions keep He's initialisation.
    Small projections make every residual branch start near zero, so a fresh network is close to
    the identity plus the patch embedding and trains faster than with PyTorch's nn.Linear default.
    """
    from ..random import generator

    for m in model.modules():
        for name in ("weight", "in_proj_weight"):
            p = m._parameters.get(name)
            if p is None or not (isinstance(m, nn.Linear) or name == "in_proj_weight"):
                continue
            w = numpy.clip(generator().standard_normal(p.shape) * std, -2 * std, 2 * std)
            p.data[...] = backend.to_device(w.astype(p.dtype), p.device)
        bias = m._parameters.get("bias") if isinstance(m, nn.Linear) else None
        if bias is not None:
            bias.data[...] = 0


class Mlp(nn.Module):
    """The transformer's feed-forward part: Linear(E, hidden) -> GELU -> Linear(hidden, E)."""

    def __init__(self, dim: int, hidden: int, approximate: str = "none") -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TransformerLayer(nn.Module):
    """A pre-norm ViT layer: x + MSA(LN(x)), then x + MLP(LN(x)) on (N, L, E) tokens."""

    def __init__(
        self, dim: int, num_heads: int, mlp_ratio: float = 4.0, approximate: str = "none"
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), approximate)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


def _conv_bn_relu(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """3x3 conv (padding 1, no bias) -> batch-norm -> ReLU; stride 2 halves the map. Named like
    :class:`ConvBNReLU`'s parts (``conv``, ``bn``, ``relu``) at any stride."""
    if stride == 1:
        return ConvBNReLU(in_channels, out_channels, 3, 1)
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            bn=nn.BatchNorm2d(out_channels),
            relu=nn.ReLU(),
        )
    )


class ConvStem(nn.Module):
    """The CNN of SETR's hybrid encoder, in small: it brings the image towards the token grid.

    A 3x3 ConvBNReLU at full resolution (C -> S), one 3x3 ConvBNReLU of stride 2 for every
    factor 2 of the patch size p (channels doubling, at most ``max_channels``), and one more
    3x3 ConvBNReLU at the last resolution. For p = 4: maps of H x W, H/2 x W/2 and twice H/4 x W/4,
    so each output pixel sees a 17 x 17 window of the image (receptive field 3, 5, 9, 17). What
    is left of p (``patch_left`` = p / 2^k, 1 for a power of 2) is the patch embedding's patch,
    on ``out_channels`` channels.
    """

    def __init__(self, in_channels: int, channels: int, max_channels: int, patch_size: int) -> None:
        super().__init__()
        layers = [_conv_bn_relu(in_channels, channels, 1)]
        c, p = channels, patch_size
        while p % 2 == 0:
            out = max(c, min(2 * c, max_channels))
            layers.append(_conv_bn_relu(c, out, 2))
            c, p = out, p // 2
        layers.append(_conv_bn_relu(c, c, 1))
        self.layers = nn.Sequential(*layers)
        self.out_channels, self.patch_left = c, p

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class ViTEncoder(nn.Module):
    """Patch embedding + position embedding + ``depth`` transformer layers (+ a final LayerNorm).

    ``stem="conv"`` runs a :class:`ConvStem` (``stem_channels`` S, default E / 2) before the
    patch embedding, which then embeds what is left of the patch (1x1 for p a power of 2): SETR's
    hybrid encoder, scaled down (module docstring); ``"patch"`` embeds the raw pixels (pure ViT).

    ``forward(x)`` returns the list of every layer's output as an (N, E, H/p, W/p) map (the last
    one after the final LayerNorm).
    """

    def __init__(
        self,
        in_channels: int,
        embed_dim: int,
        depth: int,
        num_heads: int,
        patch_size: int,
        img_size: int,
        mlp_ratio: float = 4.0,
        approximate: str = "none",
        stem: str = "patch",
        stem_channels: int | None = None,
    ) -> None:
        super().__init__()
        check_stem("ViTEncoder", stem)
        self.patch_size, self.stem_kind = patch_size, stem
        self.stem: nn.Module = nn.Identity()
        embed_patch = patch_size
        if stem == "conv":
            s = stem_channels or max(1, embed_dim // 2)
            check_positive("ViTEncoder", stem_channels=s)
            self.stem = ConvStem(in_channels, s, embed_dim, patch_size)
            in_channels, embed_patch = self.stem.out_channels, self.stem.patch_left
        self.patch_embed = nn.PatchEmbed(in_channels, embed_dim, embed_patch)
        self.pos_embed = nn.PositionEmbedding(embed_dim, max(1, img_size // patch_size))
        self.layers = nn.ModuleList(
            [TransformerLayer(embed_dim, num_heads, mlp_ratio, approximate) for _ in range(depth)]
        )
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.patch_embed(self.stem(x))  # (N, E, h, w)
        n, e, h, w = x.shape
        x = x + self.pos_embed((h, w))
        tokens = x.reshape(n, e, h * w).permute(0, 2, 1)  # (N, L, E), L = h w
        maps = []
        for i, layer in enumerate(self.layers):
            tokens = layer(tokens)
            out = self.norm(tokens) if i == len(self.layers) - 1 else tokens
            maps.append(out.permute(0, 2, 1).reshape(n, e, h, w))
        return maps


def check_stem(op: str, stem: str) -> None:
    """Raise a ValueError naming the valid stems unless ``stem`` is one of ``SETR_STEMS``."""
    if stem not in SETR_STEMS:
        raise ValueError(f"{op}: stem must be one of {', '.join(SETR_STEMS)}, got {stem!r}")


class SETR(nn.Module):
    """SETR with a ViT encoder and the ``decoder`` "naive", "pup" or "mla" (module docstring).

    ``base_width`` is the width of one attention head, so E = ``num_heads * base_width``;
    ``depth`` is the number of transformer layers; ``img_size`` the side the position embedding is
    made for (other sizes resize it); ``stem`` is ``"patch"`` (pure ViT) or ``"conv"`` (a small
    CNN before the patch embedding: the paper's hybrid encoder, scaled down).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 4,
        decoder: str = "pup",
        base_width: int = 16,
        depth: int = 4,
        num_heads: int = 4,
        patch_size: int = 4,
        img_size: int = 32,
        mlp_ratio: float = 4.0,
        decoder_width: int | None = None,
        approximate: str = "tanh",
        stem: str = "patch",
    ) -> None:
        super().__init__()
        check_positive(
            "SETR",
            in_channels=in_channels,
            num_classes=num_classes,
            base_width=base_width,
            depth=depth,
            num_heads=num_heads,
            patch_size=patch_size,
            img_size=img_size,
        )
        if decoder not in SETR_DECODERS:
            raise ValueError(
                f"SETR: decoder must be one of {', '.join(SETR_DECODERS)}, got {decoder!r}"
            )
        check_stem("SETR", stem)
        e = num_heads * base_width
        d = decoder_width or max(2, e // 2)
        self.in_channels, self.num_classes, self.decoder = in_channels, num_classes, decoder
        self.patch_size, self.depth, self.embed_dim, self.stem = patch_size, depth, e, stem
        self.encoder = ViTEncoder(
            in_channels, e, depth, num_heads, patch_size, img_size, mlp_ratio, approximate, stem
        )
        if decoder == "naive":
            self.head: nn.Module = nn.Sequential(
                ConvBNReLU(e, d, 1, 0), nn.Conv2d(d, num_classes, 1)
            )
        elif decoder == "pup":
            stages = max(1, math.ceil(math.log2(patch_size)))
            self.stages = nn.ModuleList(
                [ConvBNReLU(e if i == 0 else d, d, 3, 1) for i in range(stages)]
            )
            self.head = nn.Conv2d(d, num_classes, 1)
        else:
            streams = min(4, depth)
            self.taps = [round((i + 1) * depth / streams) - 1 for i in range(streams)]
            self.project = nn.ModuleList([nn.Conv2d(e, d, 1) for _ in self.taps])
            self.refine = nn.ModuleList([ConvBNReLU(d, max(1, d // 2), 3, 1) for _ in self.taps])
            self.head = nn.Conv2d(streams * max(1, d // 2), num_classes, 1)
        init_transformer_weights(self)

    def check_input_size(self, h: int, w: int) -> None:
        """Raise a ValueError naming the nearest sizes that work when H or W is no multiple of p."""
        p = self.patch_size
        for name, n in (("height", h), ("width", w)):
            if n % p or n < p:
                below, above = (n // p) * p, (n // p + 1) * p
                near = f"{below} or {above}" if below >= p else f"{above}"
                raise ValueError(
                    f"SETR(patch_size={p}): input {name} {n} does not work; it must "
                    f"be a multiple of the patch size {p}. Nearest sizes that work: "
                    f"{near}"
                )

    def forward(self, x: Tensor) -> Tensor:
        check_input("SETR", x, self.in_channels, sizes="")
        size = x.shape[2:]
        self.check_input_size(*size)
        maps = self.encoder(x)
        if self.decoder == "naive":
            y = self.head(maps[-1])
        elif self.decoder == "pup":
            y = maps[-1]
            h, w = y.shape[2:]
            for i, stage in enumerate(self.stages):
                last = i == len(self.stages) - 1
                h, w = size if last else (min(2 * h, size[0]), min(2 * w, size[1]))
                y = F.interpolate(stage(y), size=(h, w), mode="bilinear")
            return self.head(y)
        else:
            agg, outs = None, []
            for tap, proj, refine in zip(
                reversed(self.taps), reversed(self.project), reversed(self.refine)
            ):  # deepest stream first
                s = proj(maps[tap])
                agg = s if agg is None else agg + s
                outs.append(refine(agg))
            y = self.head(F.cat(outs, axis=1))
        return F.interpolate(y, size=size, mode="bilinear") if y.shape[2:] != size else y

    def extra_repr(self) -> str:
        return (
            f"decoder={self.decoder!r}, embed_dim={self.embed_dim}, depth={self.depth}, "
            f"patch_size={self.patch_size}"
            + (f", stem={self.stem!r}" if self.stem != "patch" else "")
        )
