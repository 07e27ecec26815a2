"""Central finite differences against the analytic gradient: the test every op must pass.

``gradcheck(fn, *inputs)`` evaluates ``fn`` on float64 copies of the inputs and compares, for each
input that requires a gradient, the analytic gradient of ``sum(fn(*inputs) * r)`` (``r`` a fixed
random projection, so every output element matters) with

    (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

element by element for small inputs and along ``n_directions`` random unit directions ``v`` for
large ones (then it compares <grad, v> with (f(x + eps v) - f(x - eps v)) / (2 eps)).
On failure it raises :class:`GradcheckError` naming the op, the input, the worst element's index
and both values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy

from .autograd import Tensor, no_grad

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree."""


def gradcheck(
    fn: Callable[..., Tensor],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    max_elements: int = 64,
    n_directions: int = 12,
    seed: int = 0,
    name: str | None = None,
) -> bool:
    """Check the gradients of ``fn`` with respect to every input tensor that requires a gradient.

    ``inputs`` may mix tensors and other arguments (ints, arrays of labels...); only float tensors
    with ``requires_grad=True`` are checked, after being copied to float64. Returns True or raises
    :class:`GradcheckError`.
    """
    label = name or getattr(fn, "__name__", "fn")
    rng = numpy.random.default_rng(seed)
    args = [_as_float64(x) for x in inputs]
    checked = [i for i, x in enumerate(args) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError(f"gradcheck({label}): no input has requires_grad=True, nothing to check")

    out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck({label}): fn must return a Tensor, got {type(out).__name__}")
    xp = out.xp
    proj = xp.asarray(rng.standard_normal(out.shape))

    def scalar(values: list[Any]) -> float:
        with_values = [
            Tensor(v) if i in checked else a for i, (a, v) in enumerate(zip(args, values))
        ]
        with no_grad():  # the numeric side needs values only
            return float((fn(*with_values).data * proj).sum())

    for a in args:
        if isinstance(a, Tensor):
            a.grad = None
    loss = (out * Tensor(proj)).sum()
    if loss.requires_grad:  # else fn ignores its inputs: every analytic gradient is zero
        loss.backward()
    base = [a.data if isinstance(a, Tensor) else None for a in args]

    for i in checked:
        x = args[i]
        xi = x.xp  # the input's own array module: fn may move its result to another device
        analytic = x.grad.data if x.grad is not None else xi.zeros_like(x.data)

        def f_at(delta: Any, i: int = i, x: Tensor = x) -> float:  # bound: this i, this x
            vals = list(base)
            vals[i] = x.data + delta
            return scalar(vals)

        if x.numel() <= max_elements:
            numeric = numpy.zeros(x.shape)
            for idx in numpy.ndindex(*x.shape):
                d = xi.zeros(x.shape)
                d[idx] = eps
                numeric[idx] = (f_at(d) - f_at(-d)) / (2 * eps)
            ana = numpy.asarray(analytic.get() if hasattr(analytic, "get") else analytic)
            err = numpy.abs(ana - numeric) - (atol + rtol * numpy.abs(numeric))
            if (err > 0).any():
                worst = numpy.unravel_index(int(err.argmax()), err.shape)
                raise GradcheckError(
                    f"gradcheck({label}): gradient of input {i} (shape {x.shape}) is wrong at "
                    f"index {tuple(int(v) for v in worst)}: analytic {ana[worst]:.8g}, numeric "
                    f"{numeric[worst]:.8g} (atol={atol}, rtol={rtol})"
                )
        else:
            for k in range(n_directions):
                v = rng.standard_normal(x.shape)
                v /= numpy.linalg.norm(v)
                v = xi.asarray(v)
                # the directional derivatives along v: numeric and analytic
                slope_num = (f_at(eps * v) - f_at(-eps * v)) / (2 * eps)
                slope_ana = float((analytic * v).sum())
                if abs(slope_ana - slope_num) > atol + rtol * abs(slope_num):
                    raise GradcheckError(
                        f"gradcheck({label}): gradient of input {i} (shape {x.shape}) is wrong "
                        f"along random direction {k}: analytic {slope_ana:.8g}, numeric "
                        f"{slope_num:.8g} "
                        f"(atol={atol}, rtol={rtol})"
                    )
    return True


def _as_float64(x: Any) -> Any:
    if isinstance(x, Tensor) and x.dtype.kind == "f":
        return Tensor(x.data.astype(numpy.float64), requires_grad=x.requires_grad)
    return x
