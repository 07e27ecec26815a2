"""All differentiable ops, PyTorch-style: ``import minisegnet.functional as F``.

Each op is a short forward/backward pair in one of the modules below; this module only gathers
their public functions (each module's ``__all__``, imported by name) and exports exactly
``__all__``. The op classes (``...Function``) stay in their modules, e.g.
``F.conv.Conv2dFunction``; besides ``__all__``, ``dir(F)`` holds only these submodules:

* :mod:`~minisegnet.functional.basic` -- arithmetic, elementwise functions, reductions, shape ops,
  deck 001's activation table, softmax / log-softmax;
* :mod:`~minisegnet.functional.sizes` -- the one output-size helper every spatial op uses;
* :mod:`~minisegnet.functional.conv` -- im2col convolution, transposed convolution (splat + crop);
* :mod:`~minisegnet.functional.pool` -- max-pool with indices, max-unpool, average pools;
* :mod:`~minisegnet.functional.fast` -- the fast path of conv, transposed conv and max-pool, chosen
  by :func:`fast_path` (:mod:`~minisegnet.functional.paths`; on by default);
* :mod:`~minisegnet.functional.resize` -- interpolate / upsample, center_crop;
* :mod:`~minisegnet.functional.attention` -- linear (a weight, or the identity), layer norm, GELU,
  scaled dot-product attention, roll and Swin's window helpers;
* :mod:`~minisegnet.functional.tensorops` -- the rest of ``torch.Tensor``'s everyday methods:
  std/var/prod/amax/norm/cumsum, flip, chunk/split, gather, sort/topk, masked_fill, rounding,
  ``//`` and ``%``, any/all, comparisons and logical tests; silu/hardtanh/relu6, normalize,
  rsqrt, lerp, fmod, index_select/masked_select/narrow, unique, concat.

PyTorch's argument names work next to NumPy's: ``dim=`` for ``axis=``, ``keepdim=`` for
``keepdims=``.
"""

# private names: the module exports exactly its __all__ (and its submodules)
from collections.abc import Callable as _Callable
from typing import Any as _Any

from . import (  # noqa: F401 (submodules)
    attention,
    basic,
    conv,
    fast,
    paths,
    pool,
    resize,
    sizes,
    tensorops,
)
from .attention import (
    attention_weights,
    erf,
    gelu,
    layer_norm,
    linear,
    relative_position_index,
    roll,
    scaled_dot_product_attention,
    shifted_window_mask,
    window_partition,
    window_reverse,
)
from .basic import (
    abs,
    add,
    argmax,
    argmin,
    cat,
    clamp,
    clip,
    concatenate,
    div,
    exp,
    flatten,
    getitem,
    leaky_relu,
    log,
    log_softmax,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    pad,
    permute,
    piecewise_linear,
    pow,
    relu,
    reshape,
    sigmoid,
    sign,
    softmax,
    softplus,
    sqrt,
    stack,
    step,
    sub,
    sum,
    tanh,
    to,
    transpose,
    where,
)
from .conv import conv2d, conv_transpose2d
from .paths import fast_path, fast_path_enabled
from .pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d, max_unpool2d
from .resize import center_crop, interpolate, upsample
from .tensorops import (
    all,
    amax,
    amin,
    any,
    argsort,
    ceil,
    chunk,
    concat,
    cumsum,
    eq,
    expm1,
    flip,
    floor,
    floor_divide,
    fmod,
    gather,
    ge,
    gt,
    hardtanh,
    index_select,
    isfinite,
    isnan,
    le,
    lerp,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    lt,
    masked_fill,
    masked_select,
    narrow,
    ne,
    nonzero,
    norm,
    normalize,
    prod,
    relu6,
    remainder,
    round,
    rsqrt,
    silu,
    sort,
    split,
    squeeze,
    std,
    swapaxes,
    topk,
    unique,
    unsqueeze,
    var,
)

# every module's __all__ (a test keeps this list equal to their union); attention's linear
# (x W^T + b, the identity without a weight) replaces basic's identity one
__all__ = [
    # basic
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "pow",
    "matmul",
    "exp",
    "log",
    "sqrt",
    "abs",
    "clip",
    "clamp",
    "maximum",
    "minimum",
    "where",
    "sum",
    "mean",
    "max",
    "min",
    "argmax",
    "argmin",
    "reshape",
    "flatten",
    "permute",
    "transpose",
    "getitem",
    "concatenate",
    "cat",
    "stack",
    "pad",
    "to",
    "step",
    "sign",
    "piecewise_linear",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "softplus",
    "softmax",
    "log_softmax",
    # conv, pool, resize
    "conv2d",
    "conv_transpose2d",
    "max_pool2d",
    "max_unpool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "interpolate",
    "upsample",
    "center_crop",
    # attention
    "linear",
    "layer_norm",
    "gelu",
    "erf",
    "attention_weights",
    "scaled_dot_product_attention",
    "roll",
    "window_partition",
    "window_reverse",
    "shifted_window_mask",
    "relative_position_index",
    # tensorops: the rest of torch.Tensor's everyday methods
    "var",
    "std",
    "prod",
    "amax",
    "amin",
    "norm",
    "cumsum",
    "log1p",
    "expm1",
    "flip",
    "chunk",
    "split",
    "gather",
    "sort",
    "argsort",
    "topk",
    "nonzero",
    "masked_fill",
    "floor",
    "ceil",
    "round",
    "floor_divide",
    "remainder",
    "any",
    "all",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "logical_not",
    "logical_and",
    "logical_or",
    "isnan",
    "isfinite",
    "unsqueeze",
    "squeeze",
    "swapaxes",
    "silu",
    "hardtanh",
    "relu6",
    "normalize",
    "rsqrt",
    "lerp",
    "fmod",
    "index_select",
    "masked_select",
    "narrow",
    "unique",
    "concat",
    # paths: the switch between the teaching path and the fast path
    "fast_path",
    "fast_path_enabled",
]


_NN_FUNCTIONAL_LOSSES = (
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "mse_loss",
    "one_hot",
)


# PEP 562: the losses live in minisegnet.nn.functional
def __getattr__(name: str) -> _Callable[..., _Any]:
    """``minisegnet.functional.cross_entropy`` and the other PyTorch loss names are the functions
    of :mod:`minisegnet.nn.functional` (imported on first use: they are built on
    :mod:`minisegnet.losses`, which itself uses this module)."""
    if name in _NN_FUNCTIONAL_LOSSES:
        from ..nn import functional as nn_functional

        return getattr(nn_functional, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
