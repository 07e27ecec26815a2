"""Layers and containers, shaped like ``torch.nn``: ``import minisegnet.nn as nn``.

* :mod:`~minisegnet.nn.module` -- ``Module`` (parameters, buffers, train / eval, state_dict,
  ``to(device)``, ``apply``), ``Parameter``, ``Sequential`` (also from an ``OrderedDict``),
  ``ModuleList``, ``ModuleDict``, ``Identity``, ``Flatten``;
* :mod:`~minisegnet.nn.loss` -- ``CrossEntropyLoss``, ``BCEWithLogitsLoss``, ``BCELoss``,
  ``MSELoss``, ``DiceLoss``, ``TverskyLoss``, ``JaccardLoss``, ``FocalLoss`` (modules over
  :mod:`minisegnet.losses`);
* :mod:`~minisegnet.nn.conv` -- ``Conv2d`` (He init), ``ConvTranspose2d`` (optionally bilinear);
* :mod:`~minisegnet.nn.pool` -- ``MaxPool2d`` (with indices), ``MaxUnpool2d``, ``AvgPool2d``,
  ``AdaptiveAvgPool2d``, ``Upsample``;
* :mod:`~minisegnet.nn.norm` -- ``BatchNorm2d`` (one Function with an analytic backward);
* :mod:`~minisegnet.nn.dropout` -- ``Dropout``, ``Dropout2d`` (inverted dropout);
* :mod:`~minisegnet.nn.activation` -- ``ReLU``, ``LeakyReLU``, ``Sigmoid``, ``Tanh``,
  ``Softmax``, ``SiLU``, ``Hardtanh``, ``ReLU6`` ...;
* :mod:`~minisegnet.nn.separable` -- ``DepthwiseSeparableConv2d`` (depthwise k x k + pointwise 1x1);
* :mod:`~minisegnet.nn.init` -- He initialisation, the bilinear kernel and ``torch.nn.init``'s
  in-place initialisers (``kaiming_normal_``, ``xavier_uniform_`` ...);
* :mod:`~minisegnet.nn.utils` -- ``clip_grad_norm_``, ``clip_grad_value_``;
* :mod:`~minisegnet.nn.functional` -- ``torch.nn.functional``'s namespace: every op of
  :mod:`minisegnet.functional` plus ``cross_entropy``, ``nll_loss``, ``binary_cross_entropy``
  (``_with_logits``), ``mse_loss``, ``one_hot`` with PyTorch's signatures;
* :mod:`~minisegnet.nn.transformer` -- ``Linear``, ``LayerNorm``, ``GELU``, ``MultiheadAttention``,
  ``PatchEmbed``, ``PositionEmbedding``, ``RelativePositionBias``;
* :mod:`~minisegnet.nn.convolutionalize` -- ``convolutionalize``: a classifier's Linear layers as
  the equivalent convolutions (FCN).
"""

from . import functional, init, utils
from .activation import (
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from .conv import Conv2d, ConvTranspose2d
from .convolutionalize import convolutionalize
from .dropout import Dropout, Dropout2d, dropout, dropout2d
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    DiceLoss,
    FocalLoss,
    JaccardLoss,
    MSELoss,
    TverskyLoss,
)
from .module import (
    Flatten,
    Identity,
    IncompatibleKeys,
    Module,
    ModuleDict,
    ModuleList,
    Parameter,
    Sequential,
)
from .norm import BatchNorm2d, batch_norm
from .pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d, MaxUnpool2d, Upsample
from .separable import DepthwiseSeparableConv2d
from .transformer import (
    GELU,
    LayerNorm,
    Linear,
    MultiheadAttention,
    PatchEmbed,
    PositionEmbedding,
    RelativePositionBias,
)

__all__ = [
    "Module",
    "Parameter",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "Identity",
    "Flatten",
    "IncompatibleKeys",
    "CrossEntropyLoss",
    "BCEWithLogitsLoss",
    "BCELoss",
    "MSELoss",
    "DiceLoss",
    "TverskyLoss",
    "JaccardLoss",
    "FocalLoss",
    "Conv2d",
    "ConvTranspose2d",
    "MaxPool2d",
    "MaxUnpool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "Upsample",
    "BatchNorm2d",
    "Dropout",
    "Dropout2d",
    "ReLU",
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "Softmax",
    "LogSoftmax",
    "SiLU",
    "Hardtanh",
    "ReLU6",
    "batch_norm",
    "dropout",
    "dropout2d",
    "init",
    "utils",
    "functional",
    "DepthwiseSeparableConv2d",
    "Linear",
    "LayerNorm",
    "GELU",
    "MultiheadAttention",
    "PatchEmbed",
    "PositionEmbedding",
    "RelativePositionBias",
    "convolutionalize",
]
