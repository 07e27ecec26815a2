"""minisegnet: a from-scratch NumPy/CuPy deep-learning engine that teaches semantic segmentation.

Shaped like PyTorch::

    import minisegnet as ms
    import minisegnet.functional as F            # every differentiable op: conv2d, max_pool2d ...

    x = ms.Tensor([[[[1.0, 2.0], [3.0, 4.0]]]], requires_grad=True)   # (N, C, H, W)
    y = F.conv2d(x, ms.ones(1, 1, 2, 2)).sum()
    y.backward()                                  # x.grad: dy/dx, through autograd

Where things are: ``Tensor`` / ``Function`` / ``no_grad`` / ``gradcheck`` (autograd),
``minisegnet.functional`` (ops), ``minisegnet.nn`` (layers, ``Module``), ``minisegnet.models``
(U-Net, FCN, SegNet, DeconvNet, DeepLab, PSPNet, SETR, Swin ...; ``build_model``),
``minisegnet.losses`` / ``minisegnet.metrics``, ``minisegnet.optim``, ``minisegnet.data`` (toy
datasets), ``minisegnet.train`` (``train``, ``Trainer``, ``TrainConfig``, ``predict``),
``summary`` (layer table), ``save`` / ``load``, ``set_default_device("gpu")`` (CuPy).

Command line: ``minisegnet train`` (a U-Net on the built-in shapes, CPU), ``minisegnet predict``,
``minisegnet models``. Docs: docs/index.md; lessons: lessons/README.md.
"""

from . import backend, cuda, data, functional, losses, metrics, models, nn, optim, random
from .autograd import (
    Function,
    Tensor,
    as_tensor,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from .backend import Device as device
from .backend import DeviceError, set_default_device
from .creation import (
    DTYPES,
    arange,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .functional import (
    abs,
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    cat,
    ceil,
    chunk,
    clamp,
    clip,
    concatenate,
    eq,
    exp,
    flatten,
    flip,
    floor,
    floor_divide,
    gather,
    ge,
    gt,
    isfinite,
    isnan,
    le,
    log,
    log_softmax,
    logical_and,
    logical_not,
    logical_or,
    lt,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    ne,
    permute,
    pow,
    prod,
    relu,
    remainder,
    reshape,
    roll,
    round,
    sigmoid,
    sign,
    softmax,
    sort,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sum,
    swapaxes,
    tanh,
    topk,
    transpose,
    unsqueeze,
    var,
    where,
)
from .gradcheck import GradcheckError, gradcheck
from .random import manual_seed
from .summary import summary

# dtype names in PyTorch's spelling; they are NumPy dtype classes (creation.DTYPES lists them)
float32 = float = DTYPES["float32"]
float64 = double = DTYPES["float64"]
float16 = half = DTYPES["float16"]
int64 = long = DTYPES["int64"]
int32 = int = DTYPES["int32"]
int16, int8, uint8 = DTYPES["int16"], DTYPES["int8"], DTYPES["uint8"]
bool = DTYPES["bool"]

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "Function",
    "tensor",
    "as_tensor",
    "from_numpy",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "set_grad_enabled",
    "inference_mode",
    "gradcheck",
    "GradcheckError",
    "DeviceError",
    "set_default_device",
    "device",
    "cuda",
    "backend",
    "functional",
    "__version__",
    "random",
    "manual_seed",
    "nn",
    "optim",
    "models",
    "summary",
    "data",
    "losses",
    "metrics",
    "roll",
    # creation (minisegnet.creation) and ops at top level, as torch.*
    "zeros",
    "ones",
    "full",
    "empty",
    "zeros_like",
    "ones_like",
    "full_like",
    "rand",
    "randn",
    "randint",
    "arange",
    "linspace",
    "eye",
    "cat",
    "stack",
    "argmax",
    "sigmoid",
    "softmax",
    "exp",
    "log",
    "sum",
    "mean",
    "max",
    "min",
    # torch.* spellings of more ops (minisegnet.functional; the Tensor methods of the same name)
    "abs",
    "all",
    "amax",
    "amin",
    "any",
    "argmin",
    "ceil",
    "chunk",
    "clamp",
    "clip",
    "concatenate",
    "eq",
    "flatten",
    "flip",
    "floor",
    "floor_divide",
    "gather",
    "ge",
    "gt",
    "isfinite",
    "isnan",
    "le",
    "log_softmax",
    "logical_and",
    "logical_not",
    "logical_or",
    "lt",
    "masked_fill",
    "matmul",
    "maximum",
    "minimum",
    "ne",
    "permute",
    "pow",
    "prod",
    "relu",
    "remainder",
    "reshape",
    "round",
    "sign",
    "sort",
    "split",
    "sqrt",
    "squeeze",
    "std",
    "swapaxes",
    "tanh",
    "topk",
    "transpose",
    "unsqueeze",
    "var",
    "where",
    # dtypes
    "float32",
    "float",
    "float64",
    "double",
    "float16",
    "half",
    "int64",
    "long",
    "int32",
    "int",
    "int16",
    "int8",
    "uint8",
    "bool",
]

# PyTorch habits: minisegnet.save / minisegnet.load, minisegnet.utils.data
from . import utils  # noqa: E402
from .serialization import load, save  # noqa: E402

__all__ += ["save", "load", "utils"]
