"""Optimizers (SGD with momentum / Nesterov, Adam, AdamW) and, in :mod:`.lr_scheduler`,
learning-rate schedules (``StepLR``, ``MultiStepLR``, ``CosineAnnealingLR``, ``LambdaLR``,
``OneCycleLR``), as ``torch.optim`` / ``torch.optim.lr_scheduler``.

An optimizer holds references to the parameters and, on ``step()``, updates ``param.data`` in
place from ``param.grad`` -- plain array arithmetic, no graph is recorded. Parameters whose
``.grad`` is None (unused in this step) are skipped. Per-parameter state (momentum buffers,
Adam's moments) is created lazily on the parameter's device. The step is announced to autograd
(:func:`~minisegnet.autograd.mark_modified`): a graph still holding a parameter (a forward whose
``backward()`` has not run yet) will refuse to backpropagate through the changed values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .. import backend
from ..autograd import Tensor, mark_modified

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "lr_scheduler",
    "LRScheduler",
    "StepLR",
    "MultiStepLR",
    "CosineAnnealingLR",
    "LambdaLR",
    "OneCycleLR",
]


class Optimizer:
    """Base class: ``param_groups`` (a list of dicts, each with "params" and its settings),
    ``state`` (per-parameter dicts of arrays), ``step()``, ``zero_grad()``, ``state_dict()`` /
    ``load_state_dict()``."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        params = list(params)
        name = type(self).__name__
        if not params:
            raise ValueError(
                f"{name}: got an empty parameter list (did you pass "
                "model.parameters() of a model without weights?)"
            )
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        for g in groups:
            g = dict(g)
            g["params"] = list(g["params"])
            for p in g["params"]:
                if not isinstance(p, Tensor) or p.dtype.kind != "f":
                    raise TypeError(
                        f"{name}: parameters must be float Tensors, got {type(p).__name__}"
                    )
            for k, v in self.defaults.items():
                g.setdefault(k, v)
            self.param_groups.append(g)
        self.state: dict[int, dict[str, Any]] = {}  # keyed by id(param)

    def _params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient: ``.grad = None`` (the default, as PyTorch), or with
        ``set_to_none=False`` fill the existing gradients with zeros."""
        for p in self._params():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def step(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state.setdefault(id(p), {})
                _follow_device(st, p.data)
                g = p.grad.data
                if g.dtype != p.data.dtype:
                    g = g.astype(p.data.dtype)
                mark_modified(p)  # a no-op unless a live graph saved p
                self._update(p, g, st, group)

    def _update(self, p: Tensor, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise TypeError(f"{type(self).__name__} must define _update()")  # pragma: no cover

    # ----- saving -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Settings and per-parameter state (NumPy copies), parameters referred to by position."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {}
        for pid, st in self.state.items():
            if pid in index:
                state[index[pid]] = {
                    k: (backend.asnumpy(v).copy() if hasattr(v, "shape") else v)
                    for k, v in st.items()
                }
        groups = []
        for g in self.param_groups:
            d = {k: v for k, v in g.items() if k != "params"}
            d["params"] = [index[id(p)] for p in g["params"]]
            groups.append(d)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore settings and state saved by :meth:`state_dict` (arrays go to each parameter's
        device)."""
        name = type(self).__name__
        groups = state_dict.get("param_groups")
        if groups is None or len(groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: expected {len(self.param_groups)} param "
                f"group(s), got {None if groups is None else len(groups)}"
            )
        for mine, saved in zip(self.param_groups, groups):
            if len(saved["params"]) != len(mine["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: a saved group has "
                    f"{len(saved['params'])} parameters, this optimizer "
                    f"{len(mine['params'])}; build it from the same model"
                )
        params = self._params()
        for i, st in state_dict.get("state", {}).items():
            p = params[int(i)]
            new = {}
            for k, v in st.items():
                if hasattr(v, "shape") and v.ndim > 0:
                    if tuple(v.shape) != p.shape:
                        raise ValueError(
                            f"{name}.load_state_dict: state {k!r} of parameter {i} "
                            f"has shape {tuple(v.shape)}, the parameter {p.shape}"
                        )
                    v = backend.to_device(v, p.device).astype(p.dtype, copy=True)
                new[k] = v
            self.state[id(p)] = new
        for mine, saved in zip(self.param_groups, groups):
            for k, v in saved.items():
                if k != "params":
                    mine[k] = tuple(v) if isinstance(v, list) else v


def _follow_device(state: dict[str, Any], like: Any) -> None:
    """Move state arrays to the parameter's device (after ``model.to(...)``)."""
    dev = backend.device_of(like)
    for k, v in state.items():
        if hasattr(v, "shape") and backend.device_of(v) != dev:
            state[k] = backend.to_device(v, dev)


def _check_lr(name: str, lr: float) -> float:
    if not isinstance(lr, (int, float)) or lr < 0:
        raise ValueError(f"{name}: lr must be a non-negative number, got {lr!r}")
    return float(lr)


class SGD(Optimizer):
    """Stochastic gradient descent, theta <- theta - lr * d (deck 001), with PyTorch's options:

    g = grad + weight_decay * theta
    momentum:  b <- momentum * b + (1 - dampening) * g   (b = g on the first step)
    d = g + momentum * b  (Nesterov)   or   d = b   (classic momentum)   or   d = g

    The arguments are torch.optim.SGD's, in its order (``lr`` has no default here: pick one).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        lr = _check_lr("SGD", lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError(
                f"SGD: momentum and weight_decay must be >= 0, got {momentum}, {weight_decay}"
            )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got momentum "
                f"{momentum}, dampening {dampening}"
            )
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=float(momentum),
                dampening=float(dampening),
                nesterov=bool(nesterov),
                weight_decay=float(weight_decay),
            ),
        )

    def _update(self, p: Tensor, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        # constants of the parameter's dtype: a 0-d float32 parameter stays in float32 on NumPy 1.x
        lr, mu, wd = (p.data.dtype.type(group[k]) for k in ("lr", "momentum", "weight_decay"))
        damp = p.data.dtype.type(group.get("dampening", 0.0))  # (older state dicts lack it)
        if wd:
            g = g + wd * p.data
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:  # an array (g of a 0-d parameter may be a NumPy scalar): in place
                xp = backend.get_array_module(p.data)
                buf = state["momentum_buffer"] = xp.array(g, dtype=p.data.dtype)
            else:
                buf *= mu
                buf += g if not damp else (1 - damp) * g
            g = g + mu * buf if group["nesterov"] else buf
        p.data -= lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), the optimizer deck 001 recommends, with bias correction:

        m <- b1 m + (1 - b1) g,        v <- b2 v + (1 - b2) g^2
        m_hat = m / (1 - b1^t),        v_hat = v / (1 - b2^t)
        theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)

    ``weight_decay`` adds weight_decay * theta to g first (L2 regularisation, as torch.optim.Adam).
    ``amsgrad=True`` (Reddi et al., 2018) divides by the running maximum of v instead of v (as
    PyTorch: v_max <- max(v_max, v), then sqrt(v_max / (1 - b2^t))).
    """

    decoupled = False  # AdamW: the decay is applied to theta directly, not added to g

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        name = type(self).__name__
        lr = _check_lr(name, lr)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"{name}: betas must lie in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError(
                f"{name}: eps and weight_decay must be >= 0, got {eps}, {weight_decay}"
            )
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=(float(b1), float(b2)),
                eps=float(eps),
                weight_decay=float(weight_decay),
                amsgrad=bool(amsgrad),
            ),
        )

    def _update(self, p: Tensor, g: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = backend.get_array_module(p.data)
        b1, b2 = group["betas"]
        wd = group["weight_decay"]
        if wd and self.decoupled:
            p.data *= p.data.dtype.type(1 - group["lr"] * wd)
        elif wd:
            g = g + wd * p.data
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
        if group.get("amsgrad") and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = xp.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        if group.get("amsgrad"):
            xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        # lr * m_hat / (sqrt(v_hat) + eps) with the corrections folded into two scalars
        denom = xp.sqrt(v)
        denom *= 1.0 / math.sqrt(1 - b2**t)
        denom += group["eps"]
        step = m / denom
        step *= group["lr"] / (1 - b1**t)
        p.data -= step


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam with *decoupled* weight decay, as torch.optim.AdamW.

        theta <- theta - lr * weight_decay * theta        (before the Adam step, g untouched)
        theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)

    The decay does not pass through the moments, so it shrinks every weight by the same factor
    (1 - lr * weight_decay) per step whatever its gradient scale. PyTorch's defaults: lr 1e-3,
    betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2.
    """

    decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad
        )


from . import lr_scheduler  # noqa: E402 - the schedulers need Optimizer defined above
from .lr_scheduler import (  # noqa: E402
    CosineAnnealingLR,
    LambdaLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    StepLR,
)
