"""All differentiable ops, PyTorch-style: ``import minisegnet.functional as F``.

Each op is a short forward/backward pair in one of the modules below; this module only gathers
their public names (each module's ``__all__``):

* :mod:`~minisegnet.functional.basic` -- arithmetic, elementwise functions, reductions, shape ops,
  deck 001's activation table, softmax / log-softmax;
* :mod:`~minisegnet.functional.sizes` -- the one output-size helper every spatial op uses;
* :mod:`~minisegnet.functional.conv` -- im2col convolution, transposed convolution (splat + crop);
* :mod:`~minisegnet.functional.pool` -- max-pool with indices, max-unpool, average pools;
* :mod:`~minisegnet.functional.fast` -- the fast path of conv, transposed conv and max-pool, chosen
  by :func:`fast_path` (:mod:`~minisegnet.functional.paths`; on by default);
* :mod:`~minisegnet.functional.resize` -- interpolate / upsample, center_crop;
* :mod:`~minisegnet.functional.attention` -- linear (a weight, or the identity), layer norm, GELU,
  scaled dot-product attention, roll and Swin's window helpers.
"""

from . import attention, basic, conv, fast, paths, pool, resize, sizes
from .paths import fast_path, fast_path_enabled
from .basic import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .resize import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403  (after basic: its linear takes a weight)

basic.__all__ = [k for k, v in vars(basic).items() if callable(v) and not k.startswith("_")
                 and k[0].islower() and getattr(v, "__module__", "") == basic.__name__]
__all__ = basic.__all__ + conv.__all__ + pool.__all__ + paths.__all__ + resize.__all__ + [
    n for n in attention.__all__ if n not in basic.__all__]


_NN_FUNCTIONAL_LOSSES = ("cross_entropy", "nll_loss", "binary_cross_entropy",
                         "binary_cross_entropy_with_logits", "mse_loss", "one_hot")


def __getattr__(name: str):  # PEP 562: the losses live in minisegnet.nn.functional
    """``minisegnet.functional.cross_entropy`` and the other PyTorch loss names are the functions
    of :mod:`minisegnet.nn.functional` (imported on first use: they are built on
    :mod:`minisegnet.losses`, which itself uses this module)."""
    if name in _NN_FUNCTIONAL_LOSSES:
        from ..nn import functional as nn_functional
        return getattr(nn_functional, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
