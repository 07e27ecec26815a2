"""minisegnet: a from-scratch NumPy/CuPy deep-learning engine that teaches semantic segmentation."""

from . import backend
from .autograd import Function, Tensor, as_tensor, enable_grad, is_grad_enabled, no_grad, tensor
from .backend import DeviceError, set_default_device
from .gradcheck import GradcheckError, gradcheck
from . import functional
from .functional import roll
from . import random
from .random import manual_seed
from . import data, losses, metrics, models, nn, optim
from .summary import summary

__version__ = "0.1.0"

__all__ = ["Tensor", "Function", "tensor", "as_tensor", "no_grad", "enable_grad",
           "is_grad_enabled", "gradcheck", "GradcheckError", "DeviceError", "set_default_device",
           "backend", "functional", "__version__",
           "random", "manual_seed", "nn", "optim", "models", "summary", "data", "losses",
           "metrics", "roll"]

# PyTorch habits: minisegnet.save / minisegnet.load, minisegnet.utils.data
from .serialization import load, save  # noqa: E402
from . import utils  # noqa: E402

__all__ += ["save", "load", "utils"]
