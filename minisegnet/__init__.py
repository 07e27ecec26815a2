"""minisegnet: a from-scratch NumPy/CuPy deep-learning engine that teaches semantic segmentation."""

from . import backend, data, functional, losses, metrics, models, nn, optim, random
from .autograd import Function, Tensor, as_tensor, enable_grad, is_grad_enabled, no_grad, tensor
from .backend import DeviceError, set_default_device
from .functional import roll
from .gradcheck import GradcheckError, gradcheck
from .random import manual_seed
from .summary import summary

__version__ = "0.1.0"

__all__ = ["Tensor", "Function", "tensor", "as_tensor", "no_grad", "enable_grad",
           "is_grad_enabled", "gradcheck", "GradcheckError", "DeviceError", "set_default_device",
           "backend", "functional", "__version__",
           "random", "manual_seed", "nn", "optim", "models", "summary", "data", "losses",
           "metrics", "roll"]
