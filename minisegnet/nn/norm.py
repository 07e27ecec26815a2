"""Batch normalisation: one Function with its analytic backward, and the ``BatchNorm2d`` layer."""

from __future__ import annotations

from typing import Any

from ..autograd import Function, Tensor
from ..backend import Array
from .init import zeros
from .module import Module, Parameter

__all__ = ["BatchNorm2d", "BatchNorm2dFunction", "batch_norm"]


class BatchNorm2dFunction(Function):
    """Per channel c of an (N, C, H, W) input, over the M = N H W values of that channel:

        mu = mean(x),  var = mean((x - mu)^2)          (batch statistics; running ones in eval)
        x_hat = (x - mu) / sqrt(var + eps),   y = gamma x_hat + beta

    Backward (training, where mu and var depend on x):

        dx = gamma / sqrt(var + eps) * (g - mean(g) - x_hat * mean(g * x_hat))
        dgamma = sum(g * x_hat),  dbeta = sum(g)

    In eval mode mu and var are constants, so dx = gamma / sqrt(var + eps) * g.
    In training the running statistics are updated in place (PyTorch's rule, unbiased variance):
    running = (1 - momentum) running + momentum * batch_stat, with var * M / (M - 1).
    """

    def __init__(
        self,
        training: bool,
        eps: float = 1e-5,
        running_mean: Any = None,
        running_var: Any = None,
        momentum: float = 0.1,
    ) -> None:
        self.training, self.eps, self.momentum = training, eps, momentum
        self.running_mean, self.running_var = running_mean, running_var

    def forward(self, x: Array, gamma: Array, beta: Array) -> Array:
        xp = self.xp
        n, c, h, w = x.shape
        shape = (1, c, 1, 1)
        if self.training:
            m = n * h * w
            mean = xp.einsum("nchw->c", x) / m  # einsum: one pass, no temporary
            xc = x - mean.reshape(shape)
            var = xp.einsum("nchw,nchw->c", xc, xc) / m
            if self.running_mean is not None:
                mom = self.momentum
                self.running_mean *= 1 - mom
                self.running_mean += mom * mean
                self.running_var *= 1 - mom
                self.running_var += (mom * m / (m - 1)) * var
        else:
            xc = x - self.running_mean.reshape(shape).astype(x.dtype, copy=False)
            var = self.running_var.astype(x.dtype, copy=False)
        invstd = 1.0 / xp.sqrt(var + self.eps)
        xc *= invstd.reshape(shape)  # xc is now x_hat
        self.save_for_backward(xc, invstd, gamma)
        y = xc * gamma.reshape(shape)
        y += beta.reshape(shape)
        return y

    def backward(self, gy: Array) -> tuple[Array, Array, Array]:
        xp = self.xp
        c = gy.shape[1]
        shape = (1, c, 1, 1)
        x_hat, invstd, gamma = self.saved_tensors
        dbeta = xp.einsum("nchw->c", gy)
        dgamma = xp.einsum("nchw,nchw->c", gy, x_hat)
        scale = (gamma * invstd).reshape(shape)
        if not self.training:
            return gy * scale, dgamma, dbeta
        m = gy.size // c
        dx = x_hat * (-dgamma / m).reshape(shape)
        dx += gy
        dx -= (dbeta / m).reshape(shape)
        dx *= scale
        return dx, dgamma, dbeta


def batch_norm(
    x: Tensor,
    running_mean: Any,
    running_var: Any,
    weight: Tensor,
    bias: Tensor,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation of an (N, C, H, W) tensor (see :class:`BatchNorm2dFunction`).

    ``running_mean`` / ``running_var`` are arrays of shape (C,), updated in place when training
    (pass None to skip the update); in eval mode they normalise the input.
    """
    if x.ndim != 4:
        raise ValueError(f"batch_norm: expected an (N, C, H, W) input, got shape {x.shape}")
    c = x.shape[1]
    if tuple(weight.shape) != (c,) or tuple(bias.shape) != (c,):
        raise ValueError(
            f"batch_norm: the input has {c} channels (shape {x.shape}) but weight / "
            f"bias have shapes {weight.shape} / {bias.shape}"
        )
    if training and x.shape[0] * x.shape[2] * x.shape[3] < 2:
        raise ValueError(
            f"batch_norm: training needs more than one value per channel to compute "
            f"a variance, got input shape {x.shape}; use a batch of 2 or more, or "
            "call model.eval()"
        )
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: eval mode needs running_mean and running_var")
    return BatchNorm2dFunction(training, eps, running_mean, running_var, momentum)(x, weight, bias)


class BatchNorm2d(Module):
    """Normalise each channel with batch statistics in training and running statistics in eval,
    then scale by ``weight`` (gamma, starts at 1) and shift by ``bias`` (beta, starts at 0).

    Buffers ``running_mean`` (starts at 0) and ``running_var`` (starts at 1) are saved in the
    state dict and follow ``momentum`` (weight of the new batch, as in PyTorch). PyTorch's third
    buffer ``num_batches_tracked`` (used only by its ``momentum=None``, a cumulative average, not
    offered here) is not kept: a PyTorch state dict holding it loads, the entry ignored.
    """

    _ignored_state_keys = ("num_batches_tracked",)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        if not isinstance(num_features, int) or num_features < 1:
            raise ValueError(
                f"BatchNorm2d: num_features must be a positive int, got {num_features!r}"
            )
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm2d: momentum must lie in [0, 1], got {momentum}")
        self.num_features, self.eps, self.momentum = num_features, float(eps), float(momentum)
        self.weight = Parameter(zeros((num_features,)) + 1)
        self.bias = Parameter(zeros((num_features,)))
        self.register_buffer("running_mean", zeros((num_features,)))
        self.register_buffer("running_var", zeros((num_features,)) + 1)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm2d({self.num_features}): expected an (N, "
                f"{self.num_features}, H, W) input, got shape {x.shape}"
            )
        return batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training,
            self.momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
