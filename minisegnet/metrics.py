"""Evaluation metrics of the lectures: confusion matrix, pixel accuracy, IoU (Jaccard), Dice.

Plain arrays in (NumPy or CuPy; a :class:`~minisegnet.Tensor` is accepted and its ``.data`` used),
no graph. The counting runs on the device the arrays live on; what comes back is small:

* :func:`confusion_matrix` returns the (K, K) count matrix on the input's device
  (``C[i, j]`` = number of pixels of true class ``i`` predicted as ``j``, rows = target);
* scalar metrics return a Python ``float``; per-class metrics a NumPy ``float64`` vector of K
  values.

Formulas (deck 003, deck 004), with A the predicted mask and B the target mask of a class:

    IoU  = |A ∩ B| / |A ∪ B|          = TP / (TP + FP + FN)       (Jaccard index)
    Dice = 2 |A ∩ B| / (|A| + |B|)    = 2TP / (2TP + FP + FN)
    soft Dice (probabilities p̂, target p) = 2 Σ p p̂ / (Σ p̂ + Σ p)   (squared: Σ p̂² + Σ p²)

Undefined ratios (0 / 0: the class is absent from both prediction and target) are ``nan``: a
per-class vector shows ``nan`` there and :func:`mean_iou` / :func:`mean_dice` skip such classes
instead of counting them as 0 or 1. Pixels whose target equals ``ignore_index`` are not counted.

Predictions may be given as labels (N, *spatial) or as scores / probabilities (N, K, *spatial),
which are turned into labels with ``argmax`` over the class axis (logits or probabilities alike).

The binary convention (the same as the losses'): **one channel (N, 1, *spatial) is the foreground
probability p̂**, and the predicted label is 1 where p̂ > 0.5, 0 elsewhere (labels 0/1, so
``num_classes=2``). Floating predictions read as probabilities (one channel here, and ``iou`` /
``dice_coefficient``) must lie in [0, 1]: a value outside (a logit) is a ``ValueError``, never
thresholded silently; pass ``F.sigmoid(logits)``, or the mask ``logits > 0``. An integer or bool
one-channel map is taken as 0/1 labels.
"""

from __future__ import annotations

from typing import Any

import numpy

from . import backend
from .validation import as_array, check_labels, check_probability_range

__all__ = [
    "confusion_matrix",
    "pixel_accuracy",
    "iou",
    "per_class_iou",
    "mean_iou",
    "dice_coefficient",
    "per_class_dice",
    "mean_dice",
    "ConfusionMatrix",
]


# ----------------------------------------------------------------------------------------------
# input handling (the shared checks are in minisegnet.validation)


def _one_channel_labels(op: str, p: Any) -> Any:
    """(N, 1, ...) one-channel map -> (N, ...) 0/1 labels: p̂ > 0.5 for probabilities."""
    p = p[:, 0]
    if p.dtype.kind != "f":
        return p  # integer / bool labels: checked against K by the caller
    check_probability_range(
        op,
        p,
        "pred (one channel, shape (N, 1, H, W): the foreground probability p̂, labelled 1 "
        "where p̂ > 0.5)",
        "for logits pass F.sigmoid(logits) or the labels (logits > 0), or give "
        "K >= 2 channels of scores (argmax is taken)",
    )
    return (p > 0.5).astype(numpy.int64)


def _label_pair(op: str, pred: Any, target: Any) -> tuple[Any, Any]:
    """(pred labels, target labels), same shape; scores (N, K, ...) become labels by argmax.

    One channel (N, 1, ...) is the binary convention: foreground probability p̂, label p̂ > 0.5.
    """
    p, t = as_array(pred), as_array(target)
    backend.check_same_device(p, t, op=op)
    if p.ndim == t.ndim + 1 and p.shape[:1] + p.shape[2:] == t.shape:
        p = _one_channel_labels(op, p) if p.shape[1] == 1 else p.argmax(axis=1)
    if p.shape != t.shape:
        raise ValueError(
            f"{op}: pred shape {tuple(p.shape)} and target shape {tuple(t.shape)} do not match; "
            "pass labels of the target's shape (N, H, W) or scores (N, K, H, W)"
        )
    if p.dtype.kind not in "biu":
        raise TypeError(
            f"{op}: pred must be integer labels (or scores with a class axis 1), got dtype "
            f"{p.dtype} with the target's shape {tuple(t.shape)}; take argmax over the class "
            "axis first"
        )
    return p, t


def _is_one_channel(pred: Any, target_labels: Any) -> bool:
    shape = tuple(as_array(pred).shape)
    return len(shape) == target_labels.ndim + 1 and shape[1:2] == (1,)


def _binary_mask(op: str, x: Any, what: str, threshold: float | None) -> Any:
    """A 0/1 mask: bool kept, integers checked to be 0 or 1, floats (probabilities, checked to lie
    in [0, 1]) thresholded (x > threshold) or, with ``threshold=None``, kept as they are."""
    if x.dtype.kind == "f":
        check_probability_range(
            op,
            x,
            what,
            "pass probabilities (e.g. F.sigmoid(logits)), or a 0/1 or bool mask (e.g. logits > 0)",
        )
    if x.dtype.kind == "b":
        return x
    if x.dtype.kind in "iu":
        bad = (x != 0) & (x != 1)
        if bool(bad.any()):
            raise ValueError(
                f"{op}: {what} holds {int(x[bad].ravel()[0])}, but a binary mask holds 0 or 1; "
                "for multi-class labels use per_class_iou / per_class_dice"
            )
        return x.astype(bool)
    if threshold is None:
        return x
    return x > threshold


def _mask_pair(op: str, pred: Any, target: Any, hint: str) -> tuple[Any, Any]:
    """Two arrays of one shape on one device (binary masks or probability maps), or a ValueError."""
    a, b = as_array(pred), as_array(target)
    backend.check_same_device(a, b, op=op)
    if (
        a.ndim == b.ndim + 1
        and a.ndim >= 2
        and a.shape[1] == 1
        and a.shape[:1] + a.shape[2:] == b.shape
    ):
        a = a[:, 0]  # the (N, 1, H, W) one-channel layout against (N, H, W), as in dice_loss
    if a.shape != b.shape:
        raise ValueError(
            f"{op}: pred shape {tuple(a.shape)} and target shape {tuple(b.shape)} differ; {hint}"
        )
    return a, b


def _safe_ratio(num: Any, den: Any) -> Any:
    """num / den with nan where den == 0 (no warnings)."""
    xp = backend.get_array_module(num, den)
    num = num.astype(numpy.float64)
    den = den.astype(numpy.float64)
    ok = den > 0
    return xp.where(ok, num / xp.where(ok, den, 1.0), numpy.nan)


def _nanmean(values: numpy.ndarray) -> float:
    kept = values[~numpy.isnan(values)]
    return float(kept.mean()) if kept.size else float("nan")


# ----------------------------------------------------------------------------------------------
# confusion matrix and the metrics it gives


def confusion_matrix(
    pred: Any, target: Any, num_classes: int, ignore_index: int | None = None
) -> Any:
    """The (K, K) confusion matrix: ``C[i, j]`` = pixels of true class i predicted as class j.

    One ``bincount`` over ``i * K + j`` (ignored pixels go to an extra bin that is dropped), on the
    device of the inputs. ``pred`` is labels (N, H, W) or scores (N, K, H, W) (argmax is taken;
    one channel (N, 1, H, W) is a foreground probability, label p̂ > 0.5, with ``num_classes=2``).
    """
    op = "confusion_matrix"
    k = int(num_classes)
    if k < 1:
        raise ValueError(f"{op}: num_classes must be >= 1, got {num_classes}")
    p, t = _label_pair(op, pred, target)
    if k < 2 and _is_one_channel(pred, t):
        raise ValueError(
            f"{op}: pred has one channel, a binary map (label 1 where p̂ > 0.5), which has two "
            f"classes (0 background, 1 foreground); pass num_classes=2, got {num_classes}"
        )
    check_labels(op, t, k, ignore_index, "target")
    check_labels(op, p, k, None, "pred")
    xp = backend.get_array_module(p, t)
    p, t = p.astype(numpy.int64), t.astype(numpy.int64)
    idx = t * k + p
    if ignore_index is not None:
        idx = xp.where(t != ignore_index, idx, k * k)
    counts = xp.bincount(idx.ravel(), minlength=k * k + 1)
    return counts[: k * k].reshape(k, k)


def _iou_from_matrix(cm: Any) -> numpy.ndarray:
    cm = backend.asnumpy(cm)
    tp = numpy.diag(cm)
    return backend.asnumpy(_safe_ratio(tp, cm.sum(0) + cm.sum(1) - tp))


def _dice_from_matrix(cm: Any) -> numpy.ndarray:
    cm = backend.asnumpy(cm)
    tp = numpy.diag(cm)
    return backend.asnumpy(_safe_ratio(2 * tp, cm.sum(0) + cm.sum(1)))


def _accuracy_from_matrix(cm: Any) -> float:
    cm = backend.asnumpy(cm)
    total = cm.sum()
    return float(numpy.trace(cm) / total) if total else float("nan")


def pixel_accuracy(pred: Any, target: Any, ignore_index: int | None = None) -> float:
    """Fraction of counted pixels whose predicted label equals the target: Σ [ŷ = y] / #pixels.

    ``pred`` as in :func:`confusion_matrix` (a one-channel map: ŷ = [p̂ > 0.5]).
    ``nan`` when no pixel is counted (all ignored).
    """
    p, t = _label_pair("pixel_accuracy", pred, target)
    valid = t != ignore_index if ignore_index is not None else None
    hits = p == t
    if valid is not None:
        hits &= valid
        total = int(valid.sum())
    else:
        total = int(t.size)
    return float(int(hits.sum()) / total) if total else float("nan")


def iou(pred: Any, target: Any, threshold: float = 0.5) -> float:
    """IoU (Jaccard index) of two binary masks: |A ∩ B| / |A ∪ B| (deck 003).

    ``pred`` may be a 0/1 or bool mask, or probabilities in [0, 1], which are rounded first
    (p̂ > threshold is foreground, as the deck's "round the probabilities"); floats outside [0, 1]
    (logits) are refused. A (N, 1, H, W) map against a (N, H, W) target is read as one channel.
    ``nan`` when both masks are empty. Deck 003's example gives |A ∩ B| = 3, |A ∪ B| = 11,
    IoU = 3/11.
    """
    op = "iou"
    a, b = _mask_pair(op, pred, target, "binary masks must have the same shape")
    a, b = _binary_mask(op, a, "pred", threshold), _binary_mask(op, b, "target", 0.5)
    inter, union = int((a & b).sum()), int((a | b).sum())
    return inter / union if union else float("nan")


def per_class_iou(
    pred: Any, target: Any, num_classes: int, ignore_index: int | None = None
) -> numpy.ndarray:
    """IoU_c = TP_c / (TP_c + FP_c + FN_c) for every class c (NumPy vector, nan if c is absent)."""
    return _iou_from_matrix(confusion_matrix(pred, target, num_classes, ignore_index))


def mean_iou(pred: Any, target: Any, num_classes: int, ignore_index: int | None = None) -> float:
    """mIoU: the mean of :func:`per_class_iou` over the classes present in prediction or target.

    A class absent from both is skipped (it is ``nan`` in the per-class vector), not counted as
    0 or 1 (deck 003: per-class Jaccard, averaged over the classes).
    """
    return _nanmean(per_class_iou(pred, target, num_classes, ignore_index))


def per_class_dice(
    pred: Any, target: Any, num_classes: int, ignore_index: int | None = None
) -> numpy.ndarray:
    """Hard Dice per class, 2TP / (2TP + FP + FN) (NumPy vector, nan where the class is absent)."""
    return _dice_from_matrix(confusion_matrix(pred, target, num_classes, ignore_index))


def mean_dice(pred: Any, target: Any, num_classes: int, ignore_index: int | None = None) -> float:
    """Mean of :func:`per_class_dice` over the classes present (absent classes skipped)."""
    return _nanmean(per_class_dice(pred, target, num_classes, ignore_index))


def dice_coefficient(
    pred: Any,
    target: Any,
    squared: bool = False,
    smooth: float = 0.0,
    threshold: float | None = None,
) -> float:
    """Dice coefficient of a binary map (deck 004): DC = (2 |A ∩ B| + s) / (|A| + |B| + s).

    * soft, when ``pred`` holds probabilities: |A ∩ B| = Σ p̂ p, |A| = Σ p̂, |B| = Σ p
      (``squared=True``: |A| = Σ p̂², |B| = Σ p², the deck's optional variant);
    * hard, when ``pred`` holds 0/1 labels or a bool mask (or with ``threshold``: p̂ > threshold).

    Floating ``pred`` and ``target`` are probabilities and must lie in [0, 1] (a value above 1
    would give a "Dice" above 1; logits are refused: pass ``F.sigmoid(logits)``). A (N, 1, H, W)
    map against a (N, H, W) target is read as one channel, as in
    :func:`~minisegnet.losses.dice_loss`.

    Deck 004's example: |A ∩ B| = 7.41, |A| = 7.82, |B| = 8, DC = 14.82 / 15.82 = 0.9368
    (0.9938 with squared sums, |A| = 6.9132). ``smooth`` (default 0) is added to numerator and
    denominator; ``nan`` when both are 0 (empty prediction on an empty target, no smoothing).
    For multi-class label maps use :func:`per_class_dice`.
    """
    op = "dice_coefficient"
    a, b = _mask_pair(op, pred, target, "give a probability map or mask of the target's shape")
    a = _binary_mask(op, a, "pred", threshold).astype(numpy.float64)
    b = _binary_mask(op, b, "target", None).astype(numpy.float64)
    inter = float((a * b).sum())
    size_a = float((a * a).sum() if squared else a.sum())
    size_b = float((b * b).sum() if squared else b.sum())
    den = size_a + size_b + smooth
    return (2 * inter + smooth) / den if den else float("nan")


# ----------------------------------------------------------------------------------------------
# streaming


class ConfusionMatrix:
    """A running confusion matrix for evaluation over many batches (running mIoU in the trainer).

    ``update(pred, target)`` adds one batch (labels or scores, NumPy or CuPy or Tensor; the
    (K, K) counts of the batch are computed on its device and added on the host); the metrics
    read the totals so far::

        cm = ConfusionMatrix(num_classes=3)
        for images, labels in loader:
            cm.update(model(images), labels)
        cm.mean_iou(), cm.pixel_accuracy(), cm.per_class_iou()
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None) -> None:
        if int(num_classes) < 1:
            raise ValueError(f"ConfusionMatrix: num_classes must be >= 1, got {num_classes}")
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.reset()

    def reset(self) -> None:
        """Forget every batch seen so far."""
        self.matrix = backend.xp_for("cpu").zeros(
            (self.num_classes, self.num_classes), dtype=numpy.int64
        )

    def update(self, pred: Any, target: Any) -> ConfusionMatrix:
        """Add one batch; returns ``self``."""
        self.matrix += backend.asnumpy(
            confusion_matrix(pred, target, self.num_classes, self.ignore_index)
        )
        return self

    @property
    def total(self) -> int:
        """Number of pixels counted so far."""
        return int(self.matrix.sum())

    def pixel_accuracy(self) -> float:
        return _accuracy_from_matrix(self.matrix)

    def per_class_iou(self) -> numpy.ndarray:
        return _iou_from_matrix(self.matrix)

    def mean_iou(self) -> float:
        return _nanmean(self.per_class_iou())

    def per_class_dice(self) -> numpy.ndarray:
        return _dice_from_matrix(self.matrix)

    def mean_dice(self) -> float:
        return _nanmean(self.per_class_dice())

    def __repr__(self) -> str:
        return (
            f"ConfusionMatrix(num_classes={self.num_classes}, pixels={self.total}, "
            f"mean_iou={self.mean_iou():.4f})"
        )
