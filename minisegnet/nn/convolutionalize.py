"""Convolutionalization: a classifier's fully connected layers as convolutions (FCN; decks 1, 2, 4).

A ``Linear(C*H*W, F)`` applied to a flattened (C, H, W) map computes, for each output f,

    y_f = b_f + sum_{c,i,j} W[f, c*H*W + i*W + j] x[c, i, j],

which is exactly an ``H x W`` convolution (no padding, stride 1) with kernel
``W.reshape(F, C, H, W)`` evaluated at the single position where it fits. The following
``Linear(F, G)`` layers act on one vector per position: 1x1 convolutions with kernel
``W.reshape(G, F, 1, 1)``. On the training size the converted network gives the same numbers; on a
larger (C, H', W') map it slides the classifier over every H x W window at once and returns an
(H' - H + 1) x (W' - W + 1) **score map** whose position (r, s) is the classifier applied to the
window starting at (r, s) -- computed with shared work instead of one forward pass per window
(FCN: "the fully connected layers are replaced by convolution layers").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .activation import LeakyReLU, ReLU, Sigmoid, Softplus, Tanh
from .conv import Conv2d
from .dropout import Dropout
from .module import Identity, Module, Parameter, Sequential
from .transformer import GELU, Linear

__all__ = ["convolutionalize"]

# element-wise layers: the same on an (N, F) vector batch and an (N, F, h, w) map
ELEMENTWISE = (ReLU, LeakyReLU, Sigmoid, Tanh, Softplus, GELU, Dropout, Identity)


def convolutionalize(layers: Sequential | Iterable[Module], in_shape: Sequence[int]) -> Sequential:
    """Turn a classifier head -- ``layers`` (a Sequential or a list) applied to the flattened
    (C, H, W) map ``in_shape`` -- into the equivalent fully convolutional Sequential.

    The first ``Linear`` (in_features must be C*H*W, flattened in (C, H, W) order, as
    ``x.reshape(N, -1)`` does) becomes a ``Conv2d(C, F, (H, W))``, every later ``Linear`` a 1x1
    ``Conv2d``; element-wise layers (ReLU, LeakyReLU, Sigmoid, Tanh, Softplus, GELU, Dropout,
    Identity) are kept as they are (the same objects). Weights are copied (reshaped), on the
    Linear's device and dtype. ``net(x).reshape(N, -1)`` equals ``layers(x.reshape(N, -1))`` on a
    (N, C, H, W) input; a larger input gives the score map of every H x W window (stride 1).
    """
    modules = list(layers.children()) if isinstance(layers, Sequential) else list(layers)
    shape = tuple(in_shape)
    if len(shape) != 3 or not all(isinstance(n, int) and n >= 1 for n in shape):
        raise ValueError(
            f"convolutionalize: in_shape must be (C, H, W), the shape of the map the "
            f"classifier flattens, got {in_shape!r}"
        )
    if not any(isinstance(m, Linear) for m in modules):
        raise ValueError(
            "convolutionalize: layers hold no Linear layer to convert; pass the "
            "classifier head, e.g. [Linear(C*H*W, F), ReLU(), Linear(F, K)]"
        )
    c, h, w = shape
    out: list[Module] = []
    first = True
    for i, m in enumerate(modules):
        if isinstance(m, Linear):
            fan_in = c * h * w if first else c
            if m.in_features != fan_in:
                what = (
                    f"the flattened {shape} map (C*H*W = {fan_in})"
                    if first
                    else f"the previous layer's {c} features"
                )
                raise ValueError(
                    f"convolutionalize: layer {i} is Linear({m.in_features}, "
                    f"{m.out_features}) but receives {what}"
                )
            k = (h, w) if first else (1, 1)
            conv = Conv2d(c if first else m.in_features, m.out_features, k, bias=m.bias is not None)
            conv.weight = Parameter(m.weight.data.reshape(m.out_features, -1, *k).copy())
            if m.bias is not None:
                conv.bias = Parameter(m.bias.data.copy())
            out.append(conv)
            c, first = m.out_features, False
        elif isinstance(m, ELEMENTWISE):
            out.append(m)
        else:
            raise ValueError(
                f"convolutionalize: layer {i} ({type(m).__name__}) cannot be "
                f"converted; only Linear layers and element-wise layers "
                f"({', '.join(t.__name__ for t in ELEMENTWISE)}) can (apply a "
                f"softmax over axis 1 of the score map yourself)"
            )
    return Sequential(*out)
