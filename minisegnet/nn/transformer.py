"""Transformer layers, shaped like ``torch.nn``: ``Linear``, ``LayerNorm``, ``GELU``,
``MultiheadAttention``, and the image-specific pieces of ViT and Swin: ``PatchEmbed``,
``PositionEmbedding`` (learned, resized bilinearly) and ``RelativePositionBias``.

Initialisation: ``Linear`` as PyTorch (U(-1/sqrt(in), 1/sqrt(in)) for weight and bias);
``MultiheadAttention`` as PyTorch (Xavier-uniform ``in_proj_weight``, zero biases); position
embeddings and relative-position tables N(0, 0.02^2) (ViT / Swin's truncated normal, untruncated).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .. import backend
from .. import functional as F
from ..autograd import DEFAULT_FLOAT, Tensor
from ..random import generator
from .conv import Conv2d
from .dropout import dropout
from .init import zeros
from .module import Module, Parameter

__all__ = [
    "Linear",
    "LayerNorm",
    "GELU",
    "MultiheadAttention",
    "PatchEmbed",
    "PositionEmbedding",
    "RelativePositionBias",
]


def _uniform(shape: Sequence[int], bound: float) -> Any:
    w = generator().uniform(-bound, bound, size=tuple(shape))
    return backend.to_device(w.astype(DEFAULT_FLOAT), backend.get_default_device())


def _normal(shape: Sequence[int], std: float) -> Any:
    w = generator().standard_normal(tuple(shape)) * std
    return backend.to_device(w.astype(DEFAULT_FLOAT), backend.get_default_device())


def _positive(layer: str, **values: int) -> None:
    for name, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{layer}: {name} must be a positive int, got {v!r}")


class Linear(Module):
    """y = x W^T + b on the last axis: ``weight`` (out_features, in_features), ``bias``
    (out_features,); a 1x1 convolution of a token sequence."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        _positive("Linear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight = Parameter(_uniform((out_features, in_features), bound))
        if bias:
            self.bias = Parameter(_uniform((out_features,), bound))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}): expected an input "
                f"of shape (..., {self.in_features}), got {x.shape}"
            )
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class LayerNorm(Module):
    """Normalise each token over its last axes (``normalized_shape``), then scale by ``weight``
    (starts at 1) and shift by ``bias`` (starts at 0): see :func:`minisegnet.functional.layer_norm`.
    Unlike batch norm it uses no batch statistics, so train and eval behave the same."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
    ) -> None:
        super().__init__()
        shape = (
            (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        )
        _positive("LayerNorm", **{f"normalized_shape[{i}]": n for i, n in enumerate(shape)})
        self.normalized_shape, self.eps = shape, float(eps)
        if elementwise_affine:
            self.weight = Parameter(zeros(shape) + 1)
            self.bias = Parameter(zeros(shape))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


class GELU(Module):
    """x Phi(x) (``approximate="none"``) or its tanh approximation."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class MultiheadAttention(Module):
    """Multi-head attention, with ``torch.nn.MultiheadAttention``'s parameters (so weights can be
    exchanged): ``in_proj_weight`` (3E, E) = [W_q; W_k; W_v], ``in_proj_bias`` (3E,),
    ``out_proj.weight`` (E, E), ``out_proj.bias`` (E,).

    For each head h (d = E / num_heads channels): Q_h = query W_q,h^T + b_q,h (likewise K_h, V_h),
    O_h = softmax(Q_h K_h^T / sqrt(d) + mask) V_h; the heads are concatenated and projected:
    out = [O_1 ... O_H] W_o^T + b_o.

    ``forward(query, key, value, attn_mask=None, need_weights=True)`` returns ``(out, weights)``:
    weights (N, L, S) averaged over the heads (None when ``need_weights=False``).
    **Boolean attn_mask: True means the position may NOT be attended**
    (torch.nn.MultiheadAttention's convention, the opposite of
    :func:`~minisegnet.functional.scaled_dot_product_attention`); a float mask is added to the
    scores. The mask is (L, S) or (N * num_heads, L, S). A query with
    every key masked gets zeros (PyTorch: NaN). Inputs are (L, N, E) by default, as PyTorch's
    (sequence first), (N, L, E) with ``batch_first=True`` (the models here pass it), or unbatched
    (L, E). ``dropout`` (PyTorch's third argument) drops attention weights in training: the
    weights returned are the dropped ones, as PyTorch's.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        *,
        batch_first: bool = False,
    ) -> None:
        super().__init__()
        _positive("MultiheadAttention", embed_dim=embed_dim, num_heads=num_heads)
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim={embed_dim} must be divisible by "
                f"num_heads={num_heads}"
            )
        if isinstance(dropout, bool) or not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"MultiheadAttention: dropout must be a probability in [0, 1), got {dropout!r} "
                "(the arguments are PyTorch's: embed_dim, num_heads, dropout, bias)"
            )
        self.embed_dim, self.num_heads, self.batch_first = embed_dim, num_heads, batch_first
        self.dropout = float(dropout)
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = Parameter(
            _uniform((3 * embed_dim, embed_dim), math.sqrt(6 / (4 * embed_dim)))
        )
        if bias:
            self.in_proj_bias = Parameter(zeros((3 * embed_dim,)))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        if bias:
            self.out_proj.bias.data[...] = 0

    def _project(self, x: Tensor, part: slice) -> Tensor:
        w = self.in_proj_weight[part]
        b = None if self.in_proj_bias is None else self.in_proj_bias[part]
        return F.linear(x, w, b)

    def _heads(self, x: Tensor) -> Tensor:  # (N, L, E) -> (N, heads, L, d)
        n, length, _ = x.shape
        return x.reshape(n, length, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        attn_mask: Any = None,
        need_weights: bool = True,
        average_attn_weights: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        e = self.embed_dim
        given = (query.shape, key.shape, value.shape)  # as passed, for the error message
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = (t.reshape(1, *t.shape) for t in (query, key, value))
        elif not self.batch_first:
            query, key, value = (t.permute(1, 0, 2) for t in (query, key, value))
        if (
            query.ndim != 3
            or query.shape[-1] != e
            or key.shape[-1] != e
            or value.shape[-1] != e
            or key.shape[:2] != value.shape[:2]
            or key.shape[0] != query.shape[0]
        ):
            q_lay, kv_lay = (
                (f"(N, L, {e})", f"(N, S, {e})")
                if self.batch_first
                else (f"(L, N, {e})", f"(S, N, {e})")
            )
            raise ValueError(
                f"MultiheadAttention(embed_dim={e}, batch_first={self.batch_first}): expected "
                f"query {q_lay} and key / value {kv_lay} (or unbatched (L, {e}) / (S, {e})), "
                f"got {given[0]}, {given[1]}, {given[2]}"
            )
        n, length, s = query.shape[0], query.shape[1], key.shape[1]
        if query is key and key is value:  # self-attention: one product for Q, K and V
            q, k, v = (
                self._heads(t)
                for t in (
                    self._project(query, slice(None))[..., i * e : (i + 1) * e] for i in range(3)
                )
            )
        else:
            q, k, v = (
                self._heads(self._project(t, slice(i * e, (i + 1) * e)))
                for i, t in enumerate((query, key, value))
            )
        mask = None
        if attn_mask is not None:
            mask = attn_mask if isinstance(attn_mask, Tensor) else Tensor(attn_mask)
            if mask.shape not in ((length, s), (n * self.num_heads, length, s)):
                raise ValueError(
                    f"MultiheadAttention: attn_mask must be ({length}, {s}) or "
                    f"({n * self.num_heads}, {length}, {s}), got {mask.shape}"
                )
            if mask.ndim == 3:
                mask = mask.reshape(n, self.num_heads, length, s)
            if mask.dtype == bool:
                mask = Tensor(~mask.data)  # True = may NOT attend -> True = may attend
        drop = self.dropout if self.training else 0.0
        if need_weights or drop:
            p = F.attention_weights(q, k, mask)  # (N, heads, L, S)
            if drop:
                p = dropout(p, drop)
            out = p @ v
            weights = (p.mean(axis=1) if average_attn_weights else p) if need_weights else None
        else:  # the fused op keeps no (L, S) map for backward
            out, weights = F.scaled_dot_product_attention(q, k, v, mask), None
        out = self.out_proj(out.permute(0, 2, 1, 3).reshape(n, length, e))
        if unbatched:
            out = out.reshape(length, e)
            weights = None if weights is None else weights.reshape(*weights.shape[1:])
        elif not self.batch_first:
            out = out.permute(1, 0, 2)
        return out, weights

    def extra_repr(self) -> str:
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        s += f", dropout={self.dropout}" if self.dropout else ""
        return s + (", batch_first=True" if self.batch_first else "")


class PatchEmbed(Module):
    """ViT's patch embedding: a convolution with kernel = stride = ``patch_size``, so every
    non-overlapping p x p patch becomes one E-vector. (N, C, H, W) -> (N, E, H/p, W/p); H and W
    must be multiples of p."""

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        _positive("PatchEmbed", in_channels=in_channels, embed_dim=embed_dim, patch_size=patch_size)
        self.patch_size = patch_size
        self.proj = Conv2d(in_channels, embed_dim, patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        p = self.patch_size
        if x.ndim != 4 or x.shape[2] % p or x.shape[3] % p:
            raise ValueError(
                f"PatchEmbed(patch_size={p}): expected an (N, C, H, W) input with H "
                f"and W multiples of {p}, got shape {x.shape}"
            )
        return self.proj(x)


class PositionEmbedding(Module):
    """Learned position embeddings for a ``grid_size`` grid of patches: a parameter of shape
    (1, E, gh, gw), added to the (N, E, h, w) patch map.

    Another input size gives another grid: the table is then resized to (h, w) by **bilinear
    interpolation of the (E, gh, gw) grid with align_corners=False** (pixel centres aligned), as
    ViT does when fine-tuning at a new resolution (timm resizes bicubically). Equal sizes use the
    table as it is.
    """

    def __init__(self, embed_dim: int, grid_size: int | tuple[int, int]) -> None:
        super().__init__()
        gh, gw = (grid_size, grid_size) if isinstance(grid_size, int) else tuple(grid_size)
        _positive("PositionEmbedding", embed_dim=embed_dim, grid_height=gh, grid_width=gw)
        self.grid_size = (gh, gw)
        self.weight = Parameter(_normal((1, embed_dim, gh, gw), 0.02))

    def forward(self, grid: tuple[int, int]) -> Tensor:
        """The (1, E, h, w) embedding for an (h, w) grid of patches."""
        if tuple(grid) == self.grid_size:
            return self.weight
        return F.interpolate(self.weight, size=tuple(grid), mode="bilinear", align_corners=False)

    def extra_repr(self) -> str:
        return f"grid_size={self.grid_size}"


class RelativePositionBias(Module):
    """Swin's relative position bias: a learned table of (2 ws - 1)^2 rows (one per relative
    offset (dy, dx), each in [-(ws - 1), ws - 1]) and ``num_heads`` columns; ``forward()`` looks up
    B[h, i, j] = table[index[i, j], h] for the ws^2 tokens of a window
    (:func:`~minisegnet.functional.relative_position_index`), a (heads, ws^2, ws^2) bias added to
    every window's scores. The gradient of a row is the sum over every pair with that offset."""

    def __init__(self, window_size: int, num_heads: int) -> None:
        super().__init__()
        _positive("RelativePositionBias", window_size=window_size, num_heads=num_heads)
        self.window_size, self.num_heads = window_size, num_heads
        self.table = Parameter(_normal(((2 * window_size - 1) ** 2, num_heads), 0.02))
        self.register_buffer(
            "index",
            F.relative_position_index(window_size, xp=backend.xp_for(backend.get_default_device())),
        )

    def forward(self, window_size: int | None = None) -> Tensor:
        """The (heads, n, n) bias of an n = ws^2-token window (``window_size`` <= the table's,
        default the table's: a smaller window uses the central rows of the same table)."""
        ws = self.window_size if window_size is None else window_size
        index = (
            self.index
            if ws == self.window_size
            else F.relative_position_index(
                ws, self.window_size, xp=backend.get_array_module(self.index)
            )
        )
        rows = self.table[index.reshape(-1)]  # (n * n, heads)
        return rows.reshape(ws * ws, ws * ws, self.num_heads).permute(2, 0, 1)

    def extra_repr(self) -> str:
        return f"window_size={self.window_size}, num_heads={self.num_heads}"
