"""Loss modules, as ``torch.nn``'s: each holds its settings and calls the function of
:mod:`minisegnet.losses` on ``(input, target)``, so ``criterion = nn.CrossEntropyLoss()`` then
``loss = criterion(model(x), y)`` works as in PyTorch.

* ``CrossEntropyLoss`` -- :func:`~minisegnet.losses.cross_entropy` (logits, labels or soft
  targets; ``weight``, ``ignore_index`` (PyTorch's default -100), ``label_smoothing``,
  ``reduction``);
* ``BCEWithLogitsLoss`` -- :func:`~minisegnet.losses.binary_cross_entropy_with_logits` (a scalar
  ``pos_weight`` gives deck 004's weighted cross entropy, β = pos_weight); ``BCELoss`` on
  probabilities; ``MSELoss``;
* the lecture's region losses, on **logits** by default (a module takes the model's output):
  ``DiceLoss``, ``TverskyLoss``, ``JaccardLoss``, and ``FocalLoss`` (the softmax focal loss for
  K-class logits and integer labels). Pass ``from_logits=False`` to the region losses to give
  probabilities instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import losses
from ..autograd import Tensor
from . import functional as nn_functional
from .module import Module

__all__ = [
    "CrossEntropyLoss",
    "BCEWithLogitsLoss",
    "BCELoss",
    "MSELoss",
    "DiceLoss",
    "TverskyLoss",
    "JaccardLoss",
    "FocalLoss",
]


class CrossEntropyLoss(Module):
    """Pixel-wise cross entropy from logits (N, K, H, W) or (N, K) and integer labels or soft
    targets. ``ignore_index=-100`` as PyTorch (a label that never occurs); it applies to integer
    labels only (with a soft target there is nothing to ignore)."""

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self.weight, self.ignore_index = weight, ignore_index
        self.reduction, self.label_smoothing = reduction, float(label_smoothing)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        soft = tuple(getattr(target, "shape", ())) == tuple(input.shape)
        ignore = None if soft else self.ignore_index
        return losses.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=ignore,
            label_smoothing=self.label_smoothing,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"


def _check_weight(layer: str, weight: Any) -> Any:
    """PyTorch's first argument of the BCE modules: per-element weights (broadcast to the input)."""
    if isinstance(weight, str):
        raise TypeError(
            f"{layer}: the first argument is PyTorch's weight (an array or None), got "
            f"{weight!r}; pass the reduction by name: {layer}(reduction={weight!r})"
        )
    return weight


class BCEWithLogitsLoss(Module):
    """Binary cross entropy on logits z: softplus(z) - p z, stable for large |z|, with PyTorch's
    arguments: ``weight`` (broadcast to the input) multiplies each element's loss, ``pos_weight``
    β (a number, or an array broadcast against the input, e.g. (K, 1, 1) per class) weights the
    positive term: -w (β p log σ(z) + (1 - p) log(1 - σ(z)))."""

    def __init__(
        self, weight: Any = None, *, reduction: str = "mean", pos_weight: Any = None
    ) -> None:
        super().__init__()
        self.weight = _check_weight("BCEWithLogitsLoss", weight)
        self.reduction, self.pos_weight = reduction, pos_weight

    def forward(self, input: Tensor, target: Any) -> Tensor:
        pw = self.pos_weight
        plain_pw = pw is None or (isinstance(pw, (int, float)) and not isinstance(pw, bool))
        if self.weight is not None or not plain_pw or losses.grad_target(target):
            return nn_functional.binary_cross_entropy_with_logits(
                input, target, self.weight, reduction=self.reduction, pos_weight=pw
            )
        if pw is None:
            return losses.binary_cross_entropy_with_logits(input, target, reduction=self.reduction)
        return losses.weighted_binary_cross_entropy(
            input, target, float(pw), from_logits=True, reduction=self.reduction
        )


class BCELoss(Module):
    """Binary cross entropy on probabilities (clamped away from 0 and 1 inside the logs);
    ``weight`` (PyTorch's first argument, broadcast to the input) multiplies each element."""

    def __init__(self, weight: Any = None, *, reduction: str = "mean") -> None:
        super().__init__()
        self.weight = _check_weight("BCELoss", weight)
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        if self.weight is not None:
            return nn_functional.binary_cross_entropy(
                input, target, self.weight, reduction=self.reduction
            )
        return losses.binary_cross_entropy(input, target, reduction=self.reduction)


class MSELoss(Module):
    """Mean squared error (deck 000's alternative to cross entropy)."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.mse_loss(input, target, reduction=self.reduction)


class _RegionLoss(Module):
    """Shared settings of the overlap losses (see :func:`minisegnet.losses.dice_loss`)."""

    def __init__(
        self,
        smooth: float = 1.0,
        from_logits: bool = True,
        classes: Sequence[int] | None = None,
        ignore_index: int | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.smooth, self.from_logits, self.classes = float(smooth), bool(from_logits), classes
        self.ignore_index, self.reduction = ignore_index, reduction

    def _kw(self) -> dict[str, Any]:
        return dict(
            from_logits=self.from_logits,
            classes=self.classes,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return f"smooth={self.smooth}, from_logits={self.from_logits}"


class DiceLoss(_RegionLoss):
    """Dice loss (deck 004): per class 1 - (2 Σ p p̂ + s) / (Σ p + Σ p̂ + s), averaged over the
    classes; ``squared=True`` uses Σ p² + Σ p̂² in the denominator."""

    def __init__(
        self,
        smooth: float = 1.0,
        squared: bool = False,
        from_logits: bool = True,
        classes: Sequence[int] | None = None,
        ignore_index: int | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(smooth, from_logits, classes, ignore_index, reduction)
        self.squared = bool(squared)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.dice_loss(input, target, self.smooth, self.squared, **self._kw())


class TverskyLoss(_RegionLoss):
    """Tversky loss (deck 004): 1 - TI, β weighting the false positives, 1 - β the false
    negatives (β = 1/2 is the Dice loss)."""

    def __init__(
        self,
        beta: float = 0.5,
        smooth: float = 1.0,
        from_logits: bool = True,
        classes: Sequence[int] | None = None,
        ignore_index: int | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(smooth, from_logits, classes, ignore_index, reduction)
        self.beta = float(beta)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.tversky_loss(input, target, self.beta, self.smooth, **self._kw())


class JaccardLoss(_RegionLoss):
    """Soft Jaccard (IoU) loss: 1 - (Σ p p̂ + s) / (Σ p + Σ p̂ - Σ p p̂ + s) per class."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.jaccard_loss(input, target, self.smooth, **self._kw())


class FocalLoss(Module):
    """Multi-class focal loss from logits (N, K, H, W) and labels (N, H, W):
    -α_y (1 - q_y)^γ log q_y, q = softmax (deck 004's focal loss; γ = 0, α = 1 is cross
    entropy). For one binary channel use :func:`minisegnet.losses.focal_loss`."""

    def __init__(
        self,
        alpha: Any = None,
        gamma: float = 2.0,
        ignore_index: int | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.alpha, self.gamma = alpha, float(gamma)
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.softmax_focal_loss(
            input,
            target,
            alpha=self.alpha,
            gamma=self.gamma,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}"
