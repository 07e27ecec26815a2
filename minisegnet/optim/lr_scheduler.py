"""Learning-rate schedules, as ``torch.optim.lr_scheduler``.

A scheduler sets each parameter group's ``lr`` from a step count ``last_epoch``: 0 when it is
built, +1 at every ``step()`` (call it once per epoch after the optimizer's steps, or once per
batch for :class:`OneCycleLR`). The values are PyTorch's closed forms, so a minisegnet run and a
PyTorch run with the same settings see the same learning rates; ``get_last_lr()`` returns the
list of rates (one per group) as last set, ``state_dict()`` / ``load_state_dict()`` save and
restore the position (plain numbers: they go into a checkpoint).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from . import Optimizer

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "CosineAnnealingLR", "LambdaLR", "OneCycleLR"]


class LRScheduler:
    """Sets each group's ``lr`` to a function of the step count ``last_epoch`` and its
    ``initial_lr`` (the group's lr when the first scheduler was built)."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def lr_at(self, base_lr: float, epoch: int) -> float:
        raise TypeError(f"{type(self).__name__} must define lr_at()")  # pragma: no cover

    def get_lr(self) -> list[float]:
        """The learning rate of each group at step ``last_epoch``."""
        return [self.lr_at(base, self.last_epoch) for base in self.base_lrs]

    def _apply(self) -> None:
        for g, lr in zip(self.optimizer.param_groups, self.get_lr()):
            g["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def step(self) -> None:
        """Advance one epoch (or batch) and set the new learning rates."""
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The learning rate of each group, as last set."""
        return list(self._last_lr)

    _not_saved: tuple[str, ...] = ("optimizer",)

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's settings and position (everything but the optimizer)."""
        return {k: v for k, v in vars(self).items() if k not in self._not_saved}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        vars(self).update({k: v for k, v in state.items() if k not in self._not_saved})
        self._apply()


def _check_positive_int(name: str, what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: {what} must be a positive int, got {value!r}")
    return value


class StepLR(LRScheduler):
    """Step decay: lr = initial_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = _check_positive_int("StepLR", "step_size", step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class MultiStepLR(LRScheduler):
    """Decay at given epochs: lr = initial_lr * gamma ** (number of milestones <= epoch)
    (a milestone listed twice counts twice, as in PyTorch)."""

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1) -> None:
        ms = list(milestones)
        if not all(isinstance(m, int) and not isinstance(m, bool) and m >= 0 for m in ms):
            raise ValueError(
                f"MultiStepLR: milestones must be non-negative ints, got {milestones!r}"
            )
        self.milestones, self.gamma = sorted(ms), float(gamma)
        super().__init__(optimizer)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** bisect_right(self.milestones, epoch)


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing (Loshchilov & Hutter): lr = eta_min + (initial_lr - eta_min) *
    (1 + cos(pi * epoch / T_max)) / 2, from initial_lr at epoch 0 to eta_min at epoch T_max.

    Past T_max it goes on as PyTorch's does: the cosine continues, so the rate climbs back to
    initial_lr at 2 T_max, falls to eta_min at 3 T_max, ... (PyTorch computes it recursively;
    without outside changes to ``lr`` that recursion equals this closed form). To anneal once and
    stay at eta_min, stop stepping at T_max or use T_max = the number of epochs.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_max: int,  # T_max: PyTorch's name
        eta_min: float = 0.0,
    ) -> None:
        self.T_max = _check_positive_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        cos = math.cos(math.pi * epoch / self.T_max)
        return self.eta_min + (base_lr - self.eta_min) * (1 + cos) / 2


class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch), with one function for every group or a list of one per
    group. The functions are not saved by ``state_dict()`` (pass the same ones when rebuilding)."""

    _not_saved = ("optimizer", "lr_lambdas")

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
    ) -> None:
        n = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 0
        fns: list[Callable[[int], float]]
        if isinstance(lr_lambda, (list, tuple)):
            fns = list(lr_lambda)
        else:
            fns = [lr_lambda] * n  # type: ignore[list-item]
        if isinstance(optimizer, Optimizer) and len(fns) != n:
            raise ValueError(
                f"LambdaLR: expected {n} lr_lambda(s), one per param group, got {len(fns)}"
            )
        if not all(callable(f) for f in fns):
            raise TypeError(
                "LambdaLR: lr_lambda must be a function of the epoch (or a list of them)"
            )
        self.lr_lambdas = fns
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        return [base * float(f(self.last_epoch)) for base, f in zip(self.base_lrs, self.lr_lambdas)]


def _anneal_cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _anneal_linear(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018), stepped once per *batch*, as PyTorch's OneCycleLR.

    The lr rises from initial_lr = max_lr / div_factor to max_lr over the first pct_start of the
    ``total_steps`` (phase end at step pct_start * total_steps - 1), then falls to
    min_lr = initial_lr / final_div_factor at step total_steps - 1, each phase annealed by
    ``anneal_strategy`` ("cos": end + (start - end) (1 + cos(pi pct)) / 2, or "linear"). With
    ``three_phase=True`` it rises, falls back to initial_lr (by step 2 pct_start total_steps - 2),
    then falls to min_lr. With ``cycle_momentum`` the momentum (SGD's ``momentum``, Adam's beta1)
    moves the opposite way, between max_momentum and base_momentum. Give ``total_steps`` or
    ``epochs`` and ``steps_per_epoch``. Stepping more than total_steps times is an error.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
    ) -> None:
        name = "OneCycleLR"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: expected an Optimizer, got {type(optimizer).__name__}")
        if total_steps is not None:
            self.total_steps = _check_positive_int(name, "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = _check_positive_int(name, "epochs", epochs) * _check_positive_int(
                name, "steps_per_epoch", steps_per_epoch
            )
        else:
            raise ValueError(f"{name}: give total_steps, or epochs and steps_per_epoch")
        if not 0.0 <= pct_start <= 1.0:
            raise ValueError(f"{name}: pct_start must lie in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"{name}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        self.anneal_strategy = anneal_strategy
        self.pct_start, self.three_phase = float(pct_start), bool(three_phase)
        groups = optimizer.param_groups
        max_lrs = self._per_group("max_lr", max_lr, len(groups))
        for g, m in zip(groups, max_lrs):
            g["initial_lr"] = m / div_factor
            g["max_lr"] = m
            g["min_lr"] = g["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"{name}: cycle_momentum=True needs an optimizer with momentum "
                    f"or betas ({type(optimizer).__name__} has neither); pass "
                    "cycle_momentum=False"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            for g, hi, lo in zip(
                groups,
                self._per_group("max_momentum", max_momentum, len(groups)),
                self._per_group("base_momentum", base_momentum, len(groups)),
            ):
                g["max_momentum"], g["base_momentum"] = hi, lo
                self._set_momentum(g, hi)
        super().__init__(optimizer)

    @staticmethod
    def _per_group(what: str, value: Any, n: int) -> list[float]:
        if isinstance(value, (list, tuple)):
            if len(value) != n:
                raise ValueError(
                    f"OneCycleLR: expected {n} value(s) of {what}, one per param "
                    f"group, got {len(value)}"
                )
            return [float(v) for v in value]
        return [float(value)] * n

    def _set_momentum(self, group: dict[str, Any], value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _phases(self) -> list[tuple[float, str, str, str, str]]:
        """(end step, start lr, end lr, start momentum, end momentum) of each phase."""
        n, p = self.total_steps, self.pct_start
        if self.three_phase:
            return [
                (p * n - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (2 * p * n - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (n - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        return [
            (p * n - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
            (n - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
        ]

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {step} times; total_steps is "
                f"{self.total_steps} (build it with the number of batches of the "
                "whole run: epochs * steps_per_epoch)"
            )
        anneal = _anneal_cos if self.anneal_strategy == "cos" else _anneal_linear
        phases = self._phases()
        lrs = []
        for g in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr0, lr1, m0, m1) in enumerate(phases):
                if step <= end or i == len(phases) - 1:
                    pct = (step - start) / (end - start)
                    lrs.append(anneal(g[lr0], g[lr1], pct))
                    if self.cycle_momentum:
                        self._set_momentum(g, anneal(g[m0], g[m1], pct))
                    break
                start = end
        return lrs
