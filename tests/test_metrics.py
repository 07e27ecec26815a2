"""minisegnet.metrics against the lectures' numbers (deck 003's IoU 3/11, deck 004's Dice) and
naive loop references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minisegnet import Tensor, backend, losses, metrics

import fake_cupy
from conftest import DEVICES
from strategies import seeds

DECK003_A = np.array([[1, 1, 0, 1], [1, 1, 1, 1], [0, 1, 1, 1], [0, 0, 0, 0]])
DECK003_B = np.array([[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
DECK004_PRED = np.array(
    [
        [0.01, 0.03, 0.02, 0.02],
        [0.05, 0.12, 0.09, 0.07],
        [0.89, 0.85, 0.88, 0.91],
        [0.99, 0.97, 0.95, 0.97],
    ]
)
DECK004_TARGET = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1]])


def dev(a, device):
    return backend.to_device(np.asarray(a), device)


def ref_confusion(pred, target, k, ignore_index=None):
    cm = np.zeros((k, k), np.int64)
    for p, t in zip(pred.ravel(), target.ravel()):
        if ignore_index is not None and t == ignore_index:
            continue
        cm[t, p] += 1
    return cm


def ref_per_class_iou(pred, target, k, ignore_index=None):
    """|A ∩ B| / |A ∪ B| per class from the masks themselves (deck 003)."""
    keep = np.ones(target.shape, bool) if ignore_index is None else target != ignore_index
    out = []
    for c in range(k):
        a, b = (pred == c) & keep, (target == c) & keep
        union = (a | b).sum()
        out.append((a & b).sum() / union if union else math.nan)
    return np.array(out)


# ----------------------------------------------------------------------------------------------
# the lectures' numbers


def test_deck003_iou_is_3_over_11(device):
    a, b = dev(DECK003_A, device), dev(DECK003_B, device)
    assert metrics.iou(a, b) == pytest.approx(3 / 11, rel=1e-12)
    assert round(metrics.iou(a, b), 2) == 0.27
    assert metrics.iou(dev(DECK003_A.astype(bool), device), b) == pytest.approx(3 / 11)
    # "round the probabilities": probabilities above 1/2 are foreground
    probs = np.where(DECK003_A == 1, 0.8, 0.3)
    assert metrics.iou(dev(probs, device), b) == pytest.approx(3 / 11, rel=1e-12)
    # the same pair as two-class label maps: the foreground class's IoU
    per_class = metrics.per_class_iou(a, b, num_classes=2)
    assert per_class[1] == pytest.approx(3 / 11, rel=1e-12)
    assert per_class[0] == pytest.approx(ref_per_class_iou(DECK003_A, DECK003_B, 2)[0])


def test_deck004_dice_soft_and_squared(device):
    pred, target = dev(DECK004_PRED, device), dev(DECK004_TARGET, device)
    assert float((DECK004_PRED * DECK004_TARGET).sum()) == pytest.approx(7.41)
    assert float(DECK004_PRED.sum()) == pytest.approx(7.82)
    assert float((DECK004_PRED**2).sum()) == pytest.approx(6.9132)
    assert metrics.dice_coefficient(pred, target) == pytest.approx(14.82 / 15.82, rel=1e-12)
    assert round(metrics.dice_coefficient(pred, target), 4) == 0.9368
    assert metrics.dice_coefficient(pred, target, squared=True) == pytest.approx(
        14.82 / 14.9132, rel=1e-12
    )
    assert round(metrics.dice_coefficient(pred, target, squared=True), 4) == 0.9938
    # hard: on labels, or thresholded
    hard = (DECK004_PRED > 0.5).astype(np.int64)
    assert metrics.dice_coefficient(dev(hard, device), target) == 1.0
    assert metrics.dice_coefficient(pred, target, threshold=0.5) == 1.0
    assert metrics.dice_coefficient(
        dev(DECK003_A, device), dev(DECK003_B, device)
    ) == pytest.approx(2 * 3 / (11 + 3), rel=1e-12)  # 2|A∩B| / (|A| + |B|), |A| + |B| = 14
    assert metrics.dice_coefficient(Tensor(DECK004_PRED, device=device), target) == pytest.approx(
        14.82 / 15.82, rel=1e-12
    )


# ----------------------------------------------------------------------------------------------
# confusion matrix and the metrics it gives


@pytest.mark.parametrize("device", DEVICES)
@given(
    seed=seeds(), k=st.integers(1, 5), ignore=st.sampled_from([None, 255, -1]), scores=st.booleans()
)
def test_confusion_matrix_and_iou_match_reference(device, seed, k, ignore, scores):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, k, size=(2, 3, 4))
    if ignore is not None:
        target[rng.random(target.shape) < 0.3] = ignore
    logits = rng.normal(size=(2, k, 3, 4))
    pred = logits.argmax(axis=1)
    given_pred = dev(logits if scores and k > 1 else pred, device)  # one channel: see below
    td = dev(target, device)
    cm = metrics.confusion_matrix(given_pred, td, k, ignore_index=ignore)
    assert backend.device_of(cm) == device
    want = ref_confusion(pred, target, k, ignore)
    np.testing.assert_array_equal(backend.asnumpy(cm), want)
    per_class = metrics.per_class_iou(given_pred, td, k, ignore_index=ignore)
    ref = ref_per_class_iou(pred, target, k, ignore)
    np.testing.assert_allclose(per_class, ref, rtol=1e-12)
    kept = ref[~np.isnan(ref)]
    miou = metrics.mean_iou(given_pred, td, k, ignore_index=ignore)
    if kept.size:
        assert miou == pytest.approx(kept.mean(), rel=1e-12)
    else:
        assert math.isnan(miou)
    counted = target != ignore if ignore is not None else np.ones(target.shape, bool)
    acc = metrics.pixel_accuracy(given_pred, td, ignore_index=ignore)
    if counted.any():
        assert acc == pytest.approx(((pred == target) & counted).sum() / counted.sum(), rel=1e-12)
    else:
        assert math.isnan(acc)
    dice = metrics.per_class_dice(given_pred, td, k, ignore_index=ignore)
    np.testing.assert_allclose(dice, 2 * ref / (1 + ref), rtol=1e-12)  # Dice = 2 IoU / (1 + IoU)


def test_mean_iou_skips_classes_absent_from_both(device):
    pred = dev(np.array([[0, 0, 1, 1]]), device)
    target = dev(np.array([[0, 1, 1, 1]]), device)
    per_class = metrics.per_class_iou(pred, target, num_classes=4)
    np.testing.assert_allclose(per_class[:2], [1 / 2, 2 / 3])
    assert np.isnan(per_class[2:]).all()
    assert metrics.mean_iou(pred, target, num_classes=4) == pytest.approx((1 / 2 + 2 / 3) / 2)
    # a class predicted but absent from the target scores 0 and is counted
    pred2 = dev(np.array([[0, 3, 1, 1]]), device)
    assert metrics.per_class_iou(pred2, target, num_classes=4)[3] == 0.0
    assert metrics.mean_iou(pred2, target, num_classes=4) == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_everything_ignored_and_empty_masks_give_nan(device):
    target = dev(np.full((1, 2, 2), 255), device)
    pred = dev(np.zeros((1, 2, 2), np.int64), device)
    assert math.isnan(metrics.pixel_accuracy(pred, target, ignore_index=255))
    assert math.isnan(metrics.mean_iou(pred, target, 3, ignore_index=255))
    assert np.all(backend.asnumpy(metrics.confusion_matrix(pred, target, 3, 255)) == 0)
    empty = dev(np.zeros((2, 2), np.int64), device)
    assert math.isnan(metrics.iou(empty, empty))
    assert math.isnan(metrics.dice_coefficient(empty, empty))
    assert metrics.dice_coefficient(empty, empty, smooth=1.0) == 1.0


def test_streaming_confusion_matrix_equals_one_shot(device):
    rng = np.random.default_rng(3)
    preds = [rng.integers(0, 3, size=(2, 4, 4)) for _ in range(3)]
    targets = [rng.integers(0, 3, size=(2, 4, 4)) for _ in range(3)]
    targets[1][0, 0] = 255
    running = metrics.ConfusionMatrix(num_classes=3, ignore_index=255)
    for p, t in zip(preds, targets):
        assert running.update(Tensor(dev(p, device)), Tensor(dev(t, device))) is running
    p_all, t_all = np.concatenate(preds), np.concatenate(targets)
    np.testing.assert_array_equal(running.matrix, ref_confusion(p_all, t_all, 3, 255))
    assert running.total == int((t_all != 255).sum())
    assert running.mean_iou() == pytest.approx(metrics.mean_iou(p_all, t_all, 3, 255), rel=1e-12)
    assert running.pixel_accuracy() == pytest.approx(
        metrics.pixel_accuracy(p_all, t_all, ignore_index=255), rel=1e-12
    )
    np.testing.assert_allclose(
        running.per_class_iou(), ref_per_class_iou(p_all, t_all, 3, 255), rtol=1e-12
    )
    np.testing.assert_allclose(
        running.per_class_dice(), metrics.per_class_dice(p_all, t_all, 3, 255), rtol=1e-12
    )
    assert running.mean_dice() == pytest.approx(metrics.mean_dice(p_all, t_all, 3, 255))
    assert "mean_iou" in repr(running)
    running.reset()
    assert running.total == 0 and math.isnan(running.mean_iou())


def test_scores_are_argmaxed(device):
    logits = np.zeros((1, 3, 1, 2))
    logits[0, 2, 0, 0] = 5.0  # pixel 0 -> class 2
    logits[0, 1, 0, 1] = 5.0  # pixel 1 -> class 1
    target = dev(np.array([[[2, 0]]]), device)
    assert metrics.pixel_accuracy(Tensor(logits, device=device), target) == 0.5
    cm = metrics.confusion_matrix(dev(logits, device), target, 3)
    assert backend.asnumpy(cm)[2, 2] == 1 and backend.asnumpy(cm)[0, 1] == 1


def test_one_channel_probabilities_are_thresholded_at_one_half(device):
    # a (N, 1, H, W) sigmoid output: before, argmax over the size-1 axis made every pixel class 0
    # (pixel accuracy 0.34 and mIoU 0.17 for a perfect map); now label 1 where p̂ > 0.5
    target = np.array([[[1, 0, 0], [1, 1, 0]]])  # (1, 2, 3): 3 of 6 foreground
    perfect = np.where(target == 1, 0.93, 0.04)[:, None]  # (1, 1, 2, 3) probabilities
    td = dev(target, device)
    assert metrics.pixel_accuracy(dev(perfect, device), td) == 1.0
    assert metrics.mean_iou(Tensor(perfect, device=device), td, num_classes=2) == 1.0
    assert metrics.mean_dice(dev(perfect, device), td, num_classes=2) == 1.0
    np.testing.assert_array_equal(
        backend.asnumpy(metrics.confusion_matrix(dev(perfect, device), td, 2)), [[3, 0], [0, 3]]
    )
    # one wrong pixel (0.6 on background) and 0.5 itself, which is not above 0.5: background
    probs = perfect.copy()
    probs[0, 0, 0, 1] = 0.6
    probs[0, 0, 0, 0] = 0.5  # a foreground pixel missed
    assert metrics.pixel_accuracy(dev(probs, device), td) == pytest.approx(4 / 6, rel=1e-12)
    # foreground: TP 2, FP 1, FN 1 -> 2/4; background: TP 2, FP 1, FN 1 -> 2/4
    np.testing.assert_allclose(metrics.per_class_iou(dev(probs, device), td, 2), [0.5, 0.5])
    # the same convention as the losses: iou / dice_coefficient / dice_loss on this map agree
    assert metrics.iou(dev(probs, device), td) == pytest.approx(2 / 4, rel=1e-12)
    assert metrics.dice_coefficient(dev(probs, device), td, threshold=0.5) == pytest.approx(
        2 * 2 / (3 + 3), rel=1e-12
    )
    soft = metrics.dice_coefficient(dev(probs, device), td)  # soft Dice, (N, 1, H, W) layout
    hard_loss = 1 - losses.dice_loss(Tensor(probs, device=device), td, smooth=0).item()
    assert soft == pytest.approx(hard_loss, rel=1e-12)
    # integer / bool one-channel maps are 0/1 labels
    assert metrics.pixel_accuracy(dev(target[:, None].astype(bool), device), td) == 1.0


def test_one_channel_logits_and_out_of_range_probabilities_are_refused(device):
    target = dev(np.array([[[1, 0]]]), device)
    logits = dev(np.array([[[[2.5, -1.0]]]]), device)  # logits, not probabilities
    for fn in (
        lambda p: metrics.pixel_accuracy(p, target),
        lambda p: metrics.mean_iou(p, target, num_classes=2),
        lambda p: metrics.ConfusionMatrix(2).update(p, target),
    ):
        with pytest.raises(
            ValueError, match=r"one channel.*\[-1, 2.5\], outside \[0, 1\].*sigmoid"
        ):
            fn(logits)
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        metrics.pixel_accuracy(dev(np.array([[[[np.nan, 0.2]]]]), device), target)
    with pytest.raises(ValueError, match=r"one channel.*num_classes=2, got 1"):
        metrics.mean_iou(dev(np.array([[[[0.9, 0.1]]]]), device), target, num_classes=1)
    with pytest.raises(ValueError, match=r"iou: pred holds values in \[-1, 2.5\]"):
        metrics.iou(logits, target)
    # what the message suggests works: sigmoid, or the mask logits > 0
    assert (
        metrics.pixel_accuracy(dev(1 / (1 + np.exp(-backend.asnumpy(logits))), device), target)
        == 1.0
    )
    assert metrics.iou(logits > 0, target) == 1.0


def test_dice_coefficient_refuses_probabilities_above_one(device):
    # before: 2 * 2.5 / (2.5 + 0.5 + 1) ... a "Dice" of 1.67 for pred [2.5, 0.5] against [1, 0]
    target = dev(np.array([1.0, 0.0]), device)
    with pytest.raises(
        ValueError,
        match=r"dice_coefficient: pred holds values in \[0.5, 2.5\], "
        r"outside \[0, 1\].*probabilities",
    ):
        metrics.dice_coefficient(dev(np.array([2.5, 0.5]), device), target)
    with pytest.raises(ValueError, match=r"dice_coefficient: pred .*\[-0.2, 0.5\]"):
        metrics.dice_coefficient(dev(np.array([-0.2, 0.5]), device), target, threshold=0.5)
    with pytest.raises(ValueError, match=r"dice_coefficient: target holds values in \[0, 3\]"):
        metrics.dice_coefficient(
            dev(np.array([1.0, 0.5]), device), dev(np.array([3.0, 0.0]), device)
        )
    # in range: (2 * 0.9) / (0.9 + 0.5 + 1)
    assert metrics.dice_coefficient(dev(np.array([0.9, 0.5]), device), target) == pytest.approx(
        1.8 / 2.4, rel=1e-12
    )


# ----------------------------------------------------------------------------------------------
# bad input


def test_metrics_bad_input(device):
    t = dev(np.zeros((2, 3), np.int64), device)
    with pytest.raises(ValueError, match=r"label 4.*\[0, 3\).*K = 3"):
        metrics.confusion_matrix(dev(np.array([[0, 1, 4], [0, 0, 0]]), device), t, 3)
    with pytest.raises(ValueError, match=r"label 7.*K = 3"):
        metrics.mean_iou(t, dev(np.array([[0, 1, 7], [0, 0, 0]]), device), 3, ignore_index=255)
    with pytest.raises(TypeError, match="integer"):
        metrics.confusion_matrix(t, dev(np.zeros((2, 3)), device), 3)
    with pytest.raises(TypeError, match="argmax"):
        metrics.pixel_accuracy(dev(np.zeros((2, 3)), device), t)
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(2, 3\)"):
        metrics.confusion_matrix(dev(np.zeros((2, 4), np.int64), device), t, 3)
    with pytest.raises(ValueError, match="holds 2.*0 or 1"):
        metrics.iou(dev(np.array([0, 2]), device), dev(np.array([0, 1]), device))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        metrics.dice_coefficient(dev(np.zeros(3), device), dev(np.zeros(2), device))
    with pytest.raises(ValueError, match="num_classes"):
        metrics.ConfusionMatrix(0)


def test_metrics_keep_counting_on_the_gpu_array_module(monkeypatch):
    fake_cupy.install(monkeypatch)
    rng = np.random.default_rng(4)
    pred = backend.to_device(rng.normal(size=(2, 3, 4, 4)), "gpu")
    target = backend.to_device(rng.integers(0, 3, size=(2, 4, 4)), "gpu")
    cm = metrics.confusion_matrix(pred, target, 3, ignore_index=255)
    assert backend.device_of(cm) == "gpu"
    assert int(backend.asnumpy(cm).sum()) == 32
    assert isinstance(metrics.mean_iou(pred, target, 3), float)
    assert isinstance(metrics.pixel_accuracy(pred, target, ignore_index=0), float)
    mask = backend.to_device(rng.random((4, 4)), "gpu")
    assert 0 <= metrics.dice_coefficient(mask, target[0] % 2) <= 1
    assert 0 <= metrics.iou(mask, target[0] % 2) <= 1
    running = metrics.ConfusionMatrix(3).update(Tensor(pred), Tensor(target))
    assert running.total == 32 and isinstance(running.mean_iou(), float)
