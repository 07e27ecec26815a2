"""minisegnet.losses against the lectures' numbers, naive NumPy references and gradcheck.

The references below are the lecture formulas written directly (loops over pixels and classes,
float64): deck 000's pixel-wise cross entropy, deck 004's binary family (CE, WCE, BCE, FL), Dice,
Tversky, soft Jaccard, and deck 000's sum of squared error.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minisegnet import Tensor, backend, gradcheck, losses
from minisegnet import functional as F

import fake_cupy
from conftest import DEVICES
from strategies import seeds

# ----------------------------------------------------------------------------------------------
# naive references (the lecture formulas, one pixel at a time)


def ref_log_softmax(row):
    m = max(row)
    lse = m + math.log(sum(math.exp(v - m) for v in row))
    return [v - lse for v in row]


def ref_cross_entropy(x, t, weight=None, ignore_index=None, eps=0.0, reduction="mean"):
    """-Σ_i w_i p_i log q_i per pixel, p = (1 - ε) one-hot + ε / K; mean divides by Σ w_y."""
    k = x.shape[1]
    w = np.ones(k) if weight is None else np.asarray(weight, np.float64)
    rows = np.moveaxis(x, 1, -1).reshape(-1, k)
    out, wsum = [], 0.0
    for row, y in zip(rows, t.reshape(-1)):
        if ignore_index is not None and y == ignore_index:
            out.append(0.0)
            continue
        logq = ref_log_softmax(row)
        p = [(1 - eps) * (i == y) + eps / k for i in range(k)]
        out.append(-sum(w[i] * p[i] * logq[i] for i in range(k)))
        wsum += w[y]
    out = np.array(out).reshape(t.shape)
    if reduction == "none":
        return out
    if reduction == "sum":
        return out.sum()
    return out.sum() / wsum if wsum > 0 else 0.0


def ref_soft_cross_entropy(x, p, weight=None, eps=0.0):
    """Mean over pixels of -Σ_i w_i ((1 - ε) p_i + ε / K) log q_i."""
    k = x.shape[1]
    w = np.ones(k) if weight is None else np.asarray(weight, np.float64)
    rows, targets = np.moveaxis(x, 1, -1).reshape(-1, k), np.moveaxis(p, 1, -1).reshape(-1, k)
    vals = []
    for row, prow in zip(rows, targets):
        logq = ref_log_softmax(row)
        vals.append(-sum(w[i] * ((1 - eps) * prow[i] + eps / k) * logq[i] for i in range(k)))
    return float(np.mean(vals))


def ref_binary(p_hat, p, a, b, gamma):
    """Deck 004: -(a (1-p̂)^γ p log p̂ + b p̂^γ (1-p) log(1-p̂)), element by element."""
    out = np.empty(p.shape)
    for idx in np.ndindex(*p.shape):
        q, y = float(p_hat[idx]), float(p[idx])
        out[idx] = -(
            a * (1 - q) ** gamma * y * math.log(q) + b * q**gamma * (1 - y) * math.log(1 - q)
        )
    return out


def ref_softmax_focal(x, t, alpha=1.0, gamma=2.0, ignore_index=None):
    """Mean over counted pixels of -α_y (1 - q_y)^γ log q_y."""
    k = x.shape[1]
    rows = np.moveaxis(x, 1, -1).reshape(-1, k)
    vals = []
    for row, y in zip(rows, t.reshape(-1)):
        if ignore_index is not None and y == ignore_index:
            continue
        lq = ref_log_softmax(row)[y]
        a = alpha[y] if hasattr(alpha, "__len__") else alpha
        vals.append(-a * (1 - math.exp(lq)) ** gamma * lq)
    return float(np.mean(vals)) if vals else 0.0


def ref_overlap_sums(prob, labels, ignore_index=None):
    """Per class c: Σ p̂ p, Σ p̂, Σ p over every counted pixel (loops)."""
    n, k = prob.shape[:2]
    inter, s_hat, s_true = np.zeros(k), np.zeros(k), np.zeros(k)
    for i in range(n):
        for pos in np.ndindex(*labels.shape[1:]):
            y = labels[(i,) + pos]
            if ignore_index is not None and y == ignore_index:
                continue
            for c in range(k):
                q, p = prob[(i, c) + pos], float(y == c)
                inter[c] += q * p
                s_hat[c] += q
                s_true[c] += p
    return inter, s_hat, s_true


def ref_dice(prob, labels, smooth, classes=None, ignore_index=None):
    inter, s_hat, s_true = ref_overlap_sums(prob, labels, ignore_index)
    loss = 1 - (2 * inter + smooth) / (s_hat + s_true + smooth)
    return loss if classes is None else loss[list(classes)]


def ref_tversky(prob, labels, beta, smooth, ignore_index=None):
    tp, s_hat, s_true = ref_overlap_sums(prob, labels, ignore_index)
    fp, fn = s_hat - tp, s_true - tp
    return 1 - (2 * tp + smooth) / (2 * tp + 2 * beta * fp + 2 * (1 - beta) * fn + smooth)


def ref_jaccard(prob, labels, smooth, ignore_index=None):
    inter, s_hat, s_true = ref_overlap_sums(prob, labels, ignore_index)
    return 1 - (inter + smooth) / (s_hat + s_true - inter + smooth)


def np_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def dev(a, device):
    return backend.to_device(np.asarray(a), device)


def grad_of(loss_fn, x, device):
    t = Tensor(x, requires_grad=True, device=device)
    loss = loss_fn(t)
    loss.backward()
    return float(loss.item()), t.grad.numpy()


# ----------------------------------------------------------------------------------------------
# cross entropy (deck 000)


def test_deck000_pixel_cross_entropy_is_minus_ln_0_3(device):
    q = np.array([0.2, 0.3, 0.4, 0.1])
    logits = Tensor(np.log(q).reshape(1, 4, 1, 1), device=device)  # log_softmax(log q) = log q
    by_label = losses.cross_entropy(logits, dev(np.array([[[1]]]), device))
    one_hot = dev(np.array([0.0, 1.0, 0.0, 0.0]).reshape(1, 4, 1, 1), device)
    by_one_hot = losses.cross_entropy(logits, one_hot)
    assert by_label.item() == pytest.approx(1.2040, abs=5e-5)
    assert by_label.item() == pytest.approx(-math.log(0.3), rel=1e-6)
    assert by_one_hot.item() == pytest.approx(by_label.item(), rel=1e-6)


def test_deck000_ground_truth_labels_and_one_hot_agree(device):
    # the slide's 4x4, 4 classes: car=0 at (0,0), man=2 at (1,1), horse=1 at (2,0), cat=3 at (3,3)
    labels = np.zeros((1, 4, 4), np.int64)
    labels[0, 1, 1], labels[0, 2, 0], labels[0, 3, 3] = 2, 1, 3
    one_hot = np.moveaxis(np.eye(4)[labels], -1, 1)
    assert one_hot[0, :, 0, 0].tolist() == [1, 0, 0, 0] and one_hot[0, 3, 3, 3] == 1
    x = np.random.default_rng(0).normal(size=(1, 4, 4, 4))
    l1, g1 = grad_of(lambda t: losses.cross_entropy(t, dev(labels, device)), x, device)
    l2, g2 = grad_of(lambda t: losses.cross_entropy(t, dev(one_hot, device)), x, device)
    assert l1 == pytest.approx(ref_cross_entropy(x, labels), rel=1e-10)
    assert l2 == pytest.approx(l1, rel=1e-10)
    np.testing.assert_allclose(g2, g1, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("device", DEVICES)
@given(
    seed=seeds(),
    n=st.integers(1, 2),
    k=st.integers(2, 4),
    h=st.integers(1, 3),
    w=st.integers(1, 3),
    weighted=st.booleans(),
    ignore=st.sampled_from([None, 255, -100, 0]),
    eps=st.sampled_from([0.0, 0.1, 0.5]),
    reduction=st.sampled_from(["mean", "sum", "none"]),
)
def test_cross_entropy_matches_reference(
    device, seed, n, k, h, w, weighted, ignore, eps, reduction
):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=2.0, size=(n, k, h, w))
    t = rng.integers(0, k, size=(n, h, w))
    if ignore is not None:
        t[rng.random(t.shape) < 0.3] = ignore
    weight = rng.uniform(0.2, 2.0, size=k) if weighted else None
    got = losses.cross_entropy(
        Tensor(x, device=device),
        dev(t, device),
        weight=None if weight is None else dev(weight, device),
        ignore_index=ignore,
        label_smoothing=eps,
        reduction=reduction,
    )
    want = ref_cross_entropy(x, t, weight, ignore, eps, reduction)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@given(seed=seeds(), k=st.integers(2, 4), weighted=st.booleans(), eps=st.sampled_from([0.0, 0.2]))
def test_cross_entropy_soft_targets_match_reference(device, seed, k, weighted, eps):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, k, 2, 3))
    p = np_softmax(rng.normal(size=(2, k, 2, 3)))
    weight = rng.uniform(0.2, 2.0, size=k) if weighted else None
    got = losses.cross_entropy(
        Tensor(x, device=device),
        dev(p, device),
        weight=None if weight is None else dev(weight, device),
        label_smoothing=eps,
    )
    assert got.item() == pytest.approx(ref_soft_cross_entropy(x, p, weight, eps), rel=1e-10)


def test_cross_entropy_on_n_by_k_logits(device):
    x = np.array([[2.0, -1.0, 0.5], [0.0, 0.3, -0.2]])
    t = np.array([0, 2])
    got = losses.cross_entropy(Tensor(x, device=device), dev(t, device), reduction="none")
    assert got.shape == (2,)
    np.testing.assert_allclose(got.numpy(), ref_cross_entropy(x, t, reduction="none"), rtol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore,eps", [(None, 0.0), (255, 0.0), (1, 0.3)])
def test_cross_entropy_gradcheck(device, weighted, ignore, eps):
    rng = np.random.default_rng(1)
    x = Tensor(rng.normal(size=(2, 3, 2, 2)), requires_grad=True, device=device)
    t = rng.integers(0, 3, size=(2, 2, 2))
    if ignore is not None:
        t[0, 0] = ignore
    weight = [0.5, 2.0, 1.0] if weighted else None
    t = dev(t, device)
    for reduction in ("mean", "none"):
        assert gradcheck(
            lambda z, r=reduction: losses.cross_entropy(
                z, t, weight=weight, ignore_index=ignore, label_smoothing=eps, reduction=r
            ),
            x,
        )


def test_cross_entropy_soft_target_gradcheck(device):
    rng = np.random.default_rng(2)
    x = Tensor(rng.normal(size=(2, 3, 2, 2)), requires_grad=True, device=device)
    p = dev(np_softmax(rng.normal(size=(2, 3, 2, 2))), device)
    assert gradcheck(
        lambda z: losses.cross_entropy(z, p, weight=[1.0, 2.0, 0.5], label_smoothing=0.1), x
    )


def test_weighted_cross_entropy_with_unit_weights_is_cross_entropy(device):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 3, 3))
    t = dev(rng.integers(0, 4, size=(2, 3, 3)), device)
    l1, g1 = grad_of(lambda z: losses.cross_entropy(z, t), x, device)
    l2, g2 = grad_of(
        lambda z: losses.cross_entropy(z, t, weight=dev(np.ones(4), device)), x, device
    )
    assert l2 == pytest.approx(l1, rel=1e-12)
    np.testing.assert_allclose(g2, g1, rtol=1e-12)
    # and the class weights do change it
    l3, _ = grad_of(lambda z: losses.cross_entropy(z, t, weight=[1.0, 5.0, 1.0, 1.0]), x, device)
    assert abs(l3 - l1) > 1e-3


def test_cross_entropy_every_pixel_ignored_is_zero_with_zero_gradient(device):
    x = Tensor(
        np.random.default_rng(4).normal(size=(2, 3, 2, 2)), requires_grad=True, device=device
    )
    t = dev(np.full((2, 2, 2), 255), device)
    for eps, weight in ((0.0, None), (0.2, [1.0, 2.0, 3.0])):
        x.grad = None
        loss = losses.cross_entropy(x, t, ignore_index=255, label_smoothing=eps, weight=weight)
        loss.backward()
        assert loss.item() == 0.0
        assert np.all(x.grad.numpy() == 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_finite_for_huge_logits(device, dtype):
    x = np.array([1e4, -1e4, 0.0], dtype=dtype).reshape(1, 3, 1, 1)
    x = np.concatenate([x, -x], axis=0)  # two images
    t = np.array([0, 0]).reshape(2, 1, 1)  # right, then very wrong (by 2e4)
    xt = Tensor(x, requires_grad=True, device=device)
    loss = losses.cross_entropy(xt, dev(t, device), reduction="none", label_smoothing=0.1)
    loss.sum().backward()
    vals, grad = loss.numpy(), xt.grad.numpy()
    assert loss.dtype == dtype and np.isfinite(vals).all() and np.isfinite(grad).all()
    # eps = 0.1, K = 3: smoothing puts 0.1/3 on each class
    want_right = 0.1 / 3 * (2e4 + 1e4)
    want_wrong = 0.9 * 2e4 + 0.1 / 3 * (2e4 + 0 + 1e4)
    np.testing.assert_allclose(vals.ravel(), [want_right, want_wrong], rtol=1e-5)
    np.testing.assert_allclose(grad[1].ravel(), [-0.9 - 0.1 / 3, 1 - 0.1 / 3, -0.1 / 3], atol=1e-6)


def test_one_channel_logits_are_refused_by_the_softmax_losses(device):
    # a binary model with num_classes=1: softmax over one class is 1, the loss would be 0 (PyTorch
    # returns 0 and trains nothing); the one-channel convention is the binary family's
    x = Tensor(np.array([[[[3.0, -2.0]]]]), requires_grad=True, device=device)  # (1, 1, 1, 2)
    labels = dev(np.zeros((1, 1, 2), np.int64), device)
    for loss_fn in (losses.cross_entropy, losses.softmax_focal_loss):
        with pytest.raises(ValueError, match=r"one channel.*binary_cross_entropy_with_logits"):
            loss_fn(x, labels)
    with pytest.raises(ValueError, match=r"one channel"):
        losses.cross_entropy(x, dev(np.ones((1, 1, 1, 2)), device))  # a "soft" target too
    # what the message suggests works and is not 0: -log sigmoid(3) at the first pixel...
    bce = losses.binary_cross_entropy_with_logits(
        x, dev(np.array([[[[1.0, 0.0]]]]), device), reduction="none"
    )
    np.testing.assert_allclose(
        bce.numpy().ravel(), [np.log1p(np.exp(-3.0)), np.log1p(np.exp(-2.0))], rtol=1e-12
    )


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([1.5, -0.5, 0.0]), r"values in \[-0.5, 1.5\], outside \[0, 1\]"),
        (np.array([0.5, 0.2, 0.0]), r"sum to 1.*sum to 0.7"),
    ],
)
def test_cross_entropy_refuses_soft_targets_that_are_not_distributions(device, bad, match):
    # before: the negative entry gave a negative loss, -(1.5 log q0 - 0.5 log q1)
    x = Tensor(np.array([0.0, 2.0, -1.0]).reshape(1, 3, 1, 1), device=device)
    with pytest.raises(ValueError, match=r"cross_entropy: .*" + match):
        losses.cross_entropy(x, dev(bad.reshape(1, 3, 1, 1), device))


def test_cross_entropy_soft_target_all_zero_pixel_is_left_out(device):
    # the ignore_index message advises zeroing ignored pixels' targets: such pixels count 0
    x = np.array([[0.0, 2.0, -1.0], [1.0, 0.0, 0.5]]).T.reshape(1, 3, 1, 2)
    p = np.zeros((1, 3, 1, 2))
    p[0, 1, 0, 0] = 1.0
    got = losses.cross_entropy(Tensor(x, device=device), dev(p, device), reduction="none")
    lse = np.log(np.exp([0.0, 2.0, -1.0]).sum())
    np.testing.assert_allclose(got.numpy().ravel(), [lse - 2.0, 0.0], rtol=1e-12)


def test_cross_entropy_bad_input(device):
    x = Tensor(np.zeros((2, 3, 4, 4)), device=device)
    t = np.zeros((2, 4, 4), np.int64)
    t[1, 2, 3] = 3
    with pytest.raises(ValueError, match=r"label 3.*\[0, 3\).*K = 3"):
        losses.cross_entropy(x, dev(t, device))
    t[1, 2, 3] = -1
    with pytest.raises(ValueError, match=r"label -1.*K = 3"):
        losses.cross_entropy(x, dev(t, device), ignore_index=255)
    t[1, 2, 3] = 255
    assert np.isfinite(losses.cross_entropy(x, dev(t, device), ignore_index=255).item())
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 4\).*\(2, 5, 5\)"):
        losses.cross_entropy(x, dev(np.zeros((2, 5, 5), np.int64), device))
    with pytest.raises(TypeError, match="integer class labels.*float64"):
        losses.cross_entropy(x, dev(np.zeros((2, 4, 4)), device))
    with pytest.raises(TypeError, match="floating"):
        losses.cross_entropy(
            Tensor(np.zeros((2, 3, 4, 4), np.int64), device=device),
            dev(np.zeros((2, 4, 4), np.int64), device),
        )
    with pytest.raises(ValueError, match="reduction"):
        losses.cross_entropy(x, dev(np.zeros((2, 4, 4), np.int64), device), reduction="avg")
    with pytest.raises(ValueError, match="ignore_index"):
        losses.cross_entropy(x, dev(np.zeros((2, 3, 4, 4)), device), ignore_index=0)
    with pytest.raises(ValueError, match=r"weight.*\(3,\)"):
        losses.cross_entropy(x, dev(np.zeros((2, 4, 4), np.int64), device), weight=[1.0, 2.0])


# ----------------------------------------------------------------------------------------------
# the binary family (deck 004)

BINARY = {  # name -> (call, a, b, gamma) for the deck's one formula
    "ce": (lambda x, t, **kw: losses.binary_cross_entropy(x, t, **kw), 1.0, 1.0, 0.0),
    "wce": (
        lambda x, t, **kw: losses.weighted_binary_cross_entropy(x, t, 3.0, **kw),
        3.0,
        1.0,
        0.0,
    ),
    "bce": (
        lambda x, t, **kw: losses.balanced_binary_cross_entropy(x, t, 0.7, **kw),
        0.7,
        0.3,
        0.0,
    ),
    "fl": (
        lambda x, t, **kw: losses.focal_loss(x, t, alpha=0.25, gamma=2.0, **kw),
        0.25,
        0.75,
        2.0,
    ),
    "fl_half": (
        lambda x, t, **kw: losses.focal_loss(x, t, alpha=0.6, gamma=0.5, **kw),
        0.6,
        0.4,
        0.5,
    ),
    "fl_noalpha": (
        lambda x, t, **kw: losses.focal_loss(x, t, alpha=None, gamma=1.0, **kw),
        1.0,
        1.0,
        1.0,
    ),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(BINARY))
@given(
    seed=seeds(),
    shape=st.sampled_from([(3,), (2, 1, 2, 3), (2, 4, 4)]),
    soft=st.booleans(),
    reduction=st.sampled_from(["mean", "sum", "none"]),
)
@settings(max_examples=8)
def test_binary_family_matches_deck004_formula(device, name, seed, shape, soft, reduction):
    call, a, b, gamma = BINARY[name]
    rng = np.random.default_rng(seed)
    z = rng.uniform(-4, 4, size=shape)
    p_hat = 1 / (1 + np.exp(-z))
    y = rng.random(shape) if soft else (rng.random(shape) < 0.5).astype(np.float64)
    want = ref_binary(p_hat, y, a, b, gamma)
    want = {"mean": want.mean(), "sum": want.sum(), "none": want}[reduction]
    from_probs = call(Tensor(p_hat, device=device), dev(y, device), reduction=reduction)
    from_logits = call(
        Tensor(z, device=device), dev(y, device), from_logits=True, reduction=reduction
    )
    np.testing.assert_allclose(from_probs.numpy(), want, rtol=1e-9)
    np.testing.assert_allclose(from_logits.numpy(), want, rtol=1e-9)


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_family_gradcheck(device, name):
    call, *_ = BINARY[name]
    rng = np.random.default_rng(5)
    y = dev(np.array([[1.0, 0.0, 1.0], [0.0, 0.3, 1.0]]), device)
    p_hat = Tensor(rng.uniform(0.05, 0.95, size=(2, 3)), requires_grad=True, device=device)
    z = Tensor(rng.uniform(-3, 3, size=(2, 3)), requires_grad=True, device=device)
    for reduction in ("mean", "none"):
        assert gradcheck(lambda q, r=reduction: call(q, y, reduction=r), p_hat)
        assert gradcheck(lambda q, r=reduction: call(q, y, from_logits=True, reduction=r), z)


def test_binary_special_cases_agree(device):
    rng = np.random.default_rng(6)
    p_hat = rng.uniform(0.02, 0.98, size=(2, 1, 3, 3))
    y = dev((rng.random((2, 1, 3, 3)) < 0.4).astype(np.float64), device)
    ce, g_ce = grad_of(lambda q: losses.binary_cross_entropy(q, y), p_hat, device)
    for fn, scale in [
        (lambda q: losses.weighted_binary_cross_entropy(q, y, beta=1.0), 1.0),
        (lambda q: losses.balanced_binary_cross_entropy(q, y, beta=0.5), 0.5),
        (lambda q: losses.focal_loss(q, y, alpha=0.5, gamma=0.0), 0.5),  # FL(γ=0, α=1/2) = CE/2
        (lambda q: losses.focal_loss(q, y, alpha=None, gamma=0.0), 1.0),
    ]:
        val, grad = grad_of(fn, p_hat, device)
        assert val == pytest.approx(scale * ce, rel=1e-12)
        np.testing.assert_allclose(grad, scale * g_ce, rtol=1e-12)
    z = np.log(p_hat / (1 - p_hat))
    a = losses.binary_cross_entropy_with_logits(Tensor(z, device=device), y)
    b = losses.binary_cross_entropy(Tensor(z, device=device), y, from_logits=True)
    assert a.item() == pytest.approx(ce, rel=1e-10) and b.item() == pytest.approx(ce, rel=1e-10)
    # weighting the positives moves the loss
    assert losses.weighted_binary_cross_entropy(Tensor(p_hat, device=device), y, 4.0).item() > ce


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_family_finite_at_probability_0_and_1(device, name, dtype):
    call, a, b, _ = BINARY[name]
    p_hat = Tensor(np.array([0.0, 1.0, 0.0, 1.0], dtype), requires_grad=True, device=device)
    y = dev(np.array([0.0, 1.0, 1.0, 0.0], dtype), device)
    loss = call(p_hat, y, reduction="none")
    loss.sum().backward()
    vals, grad = loss.numpy(), p_hat.grad.numpy()
    assert np.isfinite(vals).all() and np.isfinite(grad).all()
    assert vals[0] == pytest.approx(0.0, abs=1e-5) and vals[1] == pytest.approx(0.0, abs=1e-5)
    # confident and wrong: the log is clamped at eps = 1e-7, -ln(1e-7) = 16.12, times the weight
    np.testing.assert_allclose(vals[2:], [-a * math.log(1e-7), -b * math.log(1e-7)], rtol=1e-3)
    assert grad[2] < 0 < grad[3]  # still pushes p̂ towards the target


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_family_finite_for_huge_logits(device, name, dtype):
    call, a, b, gamma = BINARY[name]
    z = Tensor(np.array([1e4, -1e4, -1e4, 1e4], dtype), requires_grad=True, device=device)
    y = dev(np.array([1.0, 0.0, 1.0, 0.0], dtype), device)
    loss = call(z, y, from_logits=True, reduction="none")
    loss.sum().backward()
    vals, grad = loss.numpy(), z.grad.numpy()
    assert np.isfinite(vals).all() and np.isfinite(grad).all()
    np.testing.assert_allclose(vals, [0, 0, a * 1e4, b * 1e4], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grad, [0, 0, -a, b], atol=1e-6)


def test_binary_family_all_background_target(device):
    rng = np.random.default_rng(7)
    p_hat = rng.uniform(0.01, 0.99, size=(2, 1, 3, 3))
    y = np.zeros(p_hat.shape)
    val, grad = grad_of(
        lambda q: losses.focal_loss(q, dev(y, device), alpha=0.25, gamma=2.0), p_hat, device
    )
    assert val == pytest.approx(ref_binary(p_hat, y, 0.25, 0.75, 2.0).mean(), rel=1e-10)
    assert np.isfinite(grad).all() and (grad > 0).all()


def test_binary_family_bad_input(device):
    p = Tensor(np.full((2, 1, 2, 2), 0.5), device=device)
    with pytest.raises(ValueError, match=r"\(2, 1, 2, 2\).*\(2, 2, 2\)"):
        losses.binary_cross_entropy(p, dev(np.zeros((2, 2, 2)), device))
    with pytest.raises(ValueError, match=r"target holds 2.*\[0, 1\]"):
        losses.focal_loss(p, dev(np.full((2, 1, 2, 2), 2), device))
    with pytest.raises(ValueError, match="from_logits=True"):
        losses.binary_cross_entropy(
            Tensor(np.full((2, 2), 3.0), device=device), dev(np.ones((2, 2)), device)
        )
    with pytest.raises(ValueError, match="beta"):
        losses.balanced_binary_cross_entropy(p, dev(np.ones((2, 1, 2, 2)), device), beta=1.5)
    with pytest.raises(ValueError, match="gamma"):
        losses.focal_loss(p, dev(np.ones((2, 1, 2, 2)), device), gamma=-1.0)


# ----------------------------------------------------------------------------------------------
# multi-class focal loss


@pytest.mark.parametrize("device", DEVICES)
@given(
    seed=seeds(),
    k=st.integers(2, 4),
    gamma=st.sampled_from([0.0, 0.5, 2.0]),
    alpha=st.sampled_from([None, 0.25, "per-class"]),
    ignore=st.sampled_from([None, 255]),
)
def test_softmax_focal_matches_reference(device, seed, k, gamma, alpha, ignore):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=2.0, size=(2, k, 2, 3))
    t = rng.integers(0, k, size=(2, 2, 3))
    if ignore is not None:
        t[rng.random(t.shape) < 0.3] = ignore
    alpha = rng.uniform(0.1, 1.0, size=k) if alpha == "per-class" else alpha
    got = losses.softmax_focal_loss(
        Tensor(x, device=device),
        dev(t, device),
        alpha=dev(alpha, device) if isinstance(alpha, np.ndarray) else alpha,
        gamma=gamma,
        ignore_index=ignore,
    )
    want = ref_softmax_focal(x, t, 1.0 if alpha is None else alpha, gamma, ignore)
    assert got.item() == pytest.approx(want, rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_softmax_focal_gradcheck(device, gamma):
    rng = np.random.default_rng(8)
    x = Tensor(rng.normal(size=(2, 3, 2, 2)), requires_grad=True, device=device)
    t = rng.integers(0, 3, size=(2, 2, 2))
    t[1, 1, 1] = 255
    t = dev(t, device)
    assert gradcheck(
        lambda z: losses.softmax_focal_loss(
            z, t, alpha=[0.2, 0.5, 1.0], gamma=gamma, ignore_index=255, reduction="none"
        ),
        x,
    )
    assert gradcheck(lambda z: losses.softmax_focal_loss(z, t, gamma=gamma, ignore_index=255), x)


def test_softmax_focal_gamma0_is_cross_entropy(device):
    rng = np.random.default_rng(9)
    x = rng.normal(size=(2, 3, 3, 3))
    t = dev(rng.integers(0, 3, size=(2, 3, 3)), device)
    ce, g_ce = grad_of(lambda z: losses.cross_entropy(z, t), x, device)
    fl, g_fl = grad_of(lambda z: losses.softmax_focal_loss(z, t, gamma=0.0), x, device)
    half, g_half = grad_of(
        lambda z: losses.softmax_focal_loss(z, t, alpha=0.5, gamma=0.0), x, device
    )
    assert fl == pytest.approx(ce, rel=1e-12) and half == pytest.approx(ce / 2, rel=1e-12)
    np.testing.assert_allclose(g_fl, g_ce, rtol=1e-12)
    np.testing.assert_allclose(g_half, g_ce / 2, rtol=1e-12)
    focused, _ = grad_of(lambda z: losses.softmax_focal_loss(z, t, gamma=2.0), x, device)
    assert 0 < focused < ce  # easy pixels are down-weighted


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_softmax_focal_edge_cases_finite(device, gamma):
    # q_y exactly 1, q_y exactly 0, and a fully ignored batch
    x = Tensor(
        np.array([[1e4, 0.0], [-1e4, 1e4]], np.float32).reshape(2, 2, 1, 1),
        requires_grad=True,
        device=device,
    )
    t = dev(np.array([0, 0]).reshape(2, 1, 1), device)
    loss = losses.softmax_focal_loss(x, t, gamma=gamma, reduction="none")
    loss.sum().backward()
    assert np.isfinite(loss.numpy()).all() and np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(loss.numpy().ravel(), [0.0, 2e4], rtol=1e-6)
    x.grad = None
    ignored = losses.softmax_focal_loss(
        x, dev(np.full((2, 1, 1), 7), device), gamma=gamma, ignore_index=7
    )
    ignored.backward()
    assert ignored.item() == 0.0 and np.all(x.grad.numpy() == 0)


def test_softmax_focal_bad_input(device):
    x = Tensor(np.zeros((1, 3, 2, 2)), device=device)
    with pytest.raises(ValueError, match=r"label 5.*K = 3"):
        losses.softmax_focal_loss(x, dev(np.full((1, 2, 2), 5), device))
    with pytest.raises(TypeError, match="integer"):
        losses.softmax_focal_loss(x, dev(np.zeros((1, 2, 2)), device))
    with pytest.raises(ValueError, match=r"\(1, 3, 2, 2\).*\(1, 3, 3\)"):
        losses.softmax_focal_loss(x, dev(np.zeros((1, 3, 3), np.int64), device))


# ----------------------------------------------------------------------------------------------
# overlap family (deck 004): Dice, Tversky, soft Jaccard

DECK004_PRED = np.array(
    [
        [0.01, 0.03, 0.02, 0.02],
        [0.05, 0.12, 0.09, 0.07],
        [0.89, 0.85, 0.88, 0.91],
        [0.99, 0.97, 0.95, 0.97],
    ]
)
DECK004_TARGET = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1]])


def test_deck004_dice_loss_numbers(device):
    pred, target = Tensor(DECK004_PRED, device=device), dev(DECK004_TARGET, device)
    assert (1 - losses.dice_loss(pred, target, smooth=0.0).item()) == pytest.approx(
        0.9368, abs=5e-5
    )
    assert (1 - losses.dice_loss(pred, target, smooth=0.0, squared=True).item()) == pytest.approx(
        0.9938, abs=5e-5
    )
    # the deck's DL with +1 smoothing: 1 - (2*7.41 + 1) / (7.82 + 8 + 1)
    assert losses.dice_loss(pred, target).item() == pytest.approx(1 - 15.82 / 16.82, rel=1e-9)
    assert losses.dice_loss(pred, target, squared=True).item() == pytest.approx(
        1 - 15.82 / (6.9132 + 8 + 1), rel=1e-9
    )
    # the same map as (N, 1, H, W) with labels (N, H, W), or with a (N, 1, H, W) mask
    as_nchw = Tensor(DECK004_PRED.reshape(1, 1, 4, 4), device=device)
    by_label = losses.dice_loss(as_nchw, dev(DECK004_TARGET.reshape(1, 4, 4), device))
    by_mask = losses.dice_loss(as_nchw, dev(DECK004_TARGET.reshape(1, 1, 4, 4), device))
    assert by_label.item() == pytest.approx(1 - 15.82 / 16.82, rel=1e-9)
    assert by_mask.item() == pytest.approx(1 - 15.82 / 16.82, rel=1e-9)


@pytest.mark.parametrize("device", DEVICES)
@given(
    seed=seeds(),
    k=st.integers(2, 4),
    smooth=st.sampled_from([0.0, 1.0, 0.3]),
    ignore=st.sampled_from([None, 255]),
    from_logits=st.booleans(),
    beta=st.floats(0.0, 1.0),
    use_classes=st.booleans(),
)
@settings(max_examples=15)
def test_overlap_losses_match_reference(
    device, seed, k, smooth, ignore, from_logits, beta, use_classes
):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=2.0, size=(2, k, 3, 2))
    prob = np_softmax(x)
    t = rng.integers(0, k, size=(2, 3, 2))
    if ignore is not None:
        t[rng.random(t.shape) < 0.3] = ignore
    inp = Tensor(x if from_logits else prob, device=device)
    kw = dict(smooth=smooth, from_logits=from_logits, ignore_index=ignore, reduction="none")
    td = dev(t, device)
    classes = [k - 1, 0] if use_classes else None
    dice = losses.dice_loss(inp, td, classes=classes, **kw)
    np.testing.assert_allclose(
        dice.numpy(), ref_dice(prob, t, smooth, classes, ignore), rtol=1e-9, atol=1e-12
    )
    tversky = losses.tversky_loss(inp, td, beta=beta, **kw)
    np.testing.assert_allclose(
        tversky.numpy(), ref_tversky(prob, t, beta, smooth, ignore), rtol=1e-9, atol=1e-12
    )
    jaccard = losses.jaccard_loss(inp, td, **kw)
    np.testing.assert_allclose(
        jaccard.numpy(), ref_jaccard(prob, t, smooth, ignore), rtol=1e-9, atol=1e-12
    )
    mean = losses.dice_loss(inp, td, smooth=smooth, from_logits=from_logits, ignore_index=ignore)
    assert mean.item() == pytest.approx(
        ref_dice(prob, t, smooth, None, ignore).mean(), rel=1e-9, abs=1e-12
    )


@pytest.mark.parametrize("device", DEVICES)
@given(seed=seeds(), smooth=st.floats(0.0, 2.0), squared_shape=st.booleans())
@settings(max_examples=10)
def test_tversky_half_is_dice(device, seed, smooth, squared_shape):
    rng = np.random.default_rng(seed)
    shape = (2, 3, 2, 2) if squared_shape else (2, 3, 3, 1)
    x = rng.normal(size=shape)
    t = dev(rng.integers(0, 3, size=(shape[0],) + shape[2:]), device)
    d, gd = grad_of(lambda z: losses.dice_loss(z, t, smooth=smooth, from_logits=True), x, device)
    tv, gt = grad_of(
        lambda z: losses.tversky_loss(z, t, beta=0.5, smooth=smooth, from_logits=True), x, device
    )
    assert tv == pytest.approx(d, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(gt, gd, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("name", ["dice", "dice_sq", "tversky", "jaccard"])
def test_overlap_gradcheck(device, name):
    call = {
        "dice": lambda z, t, **kw: losses.dice_loss(z, t, **kw),
        "dice_sq": lambda z, t, **kw: losses.dice_loss(z, t, squared=True, **kw),
        "tversky": lambda z, t, **kw: losses.tversky_loss(z, t, beta=0.7, **kw),
        "jaccard": lambda z, t, **kw: losses.jaccard_loss(z, t, **kw),
    }[name]
    rng = np.random.default_rng(10)
    t = rng.integers(0, 3, size=(2, 2, 2))
    t[0, 0, 0] = 255
    t = dev(t, device)
    logits = Tensor(rng.normal(size=(2, 3, 2, 2)), requires_grad=True, device=device)
    assert gradcheck(
        lambda z: call(z, t, from_logits=True, ignore_index=255, reduction="none"), logits
    )
    probs = Tensor(rng.uniform(0.05, 0.95, size=(2, 3, 2, 2)), requires_grad=True, device=device)
    assert gradcheck(lambda z: call(z, t, ignore_index=255, classes=[1, 2]), probs)
    # binary: one channel with 0/1 labels, sigmoid of the logits
    tb = dev(rng.integers(0, 2, size=(2, 2, 2)), device)
    one = Tensor(rng.normal(size=(2, 1, 2, 2)), requires_grad=True, device=device)
    assert gradcheck(lambda z: call(z, tb, from_logits=True, smooth=0.5), one)


def test_overlap_binary_one_channel_matches_two_class_foreground(device):
    rng = np.random.default_rng(11)
    prob = rng.uniform(0.01, 0.99, size=(2, 1, 3, 3))
    t = rng.integers(0, 2, size=(2, 3, 3))
    one_channel = losses.dice_loss(Tensor(prob, device=device), dev(t, device))
    two = np.concatenate([1 - prob, prob], axis=1)
    foreground = losses.dice_loss(Tensor(two, device=device), dev(t, device), classes=[1])
    assert one_channel.item() == pytest.approx(foreground.item(), rel=1e-12)
    assert one_channel.item() == pytest.approx(ref_dice(two, t, 1.0)[1], rel=1e-12)
    # sigmoid for one channel when from_logits
    z = np.log(prob / (1 - prob))
    by_logits = losses.dice_loss(Tensor(z, device=device), dev(t, device), from_logits=True)
    assert by_logits.item() == pytest.approx(one_channel.item(), rel=1e-10)


@pytest.mark.parametrize("name", ["dice", "tversky", "jaccard"])
@pytest.mark.parametrize("smooth", [0.0, 1.0])
def test_overlap_absent_class_and_empty_prediction(device, name, smooth):
    call = {
        "dice": losses.dice_loss,
        "tversky": losses.tversky_loss,
        "jaccard": losses.jaccard_loss,
    }[name]
    # class 2 absent from the target and (exactly) from the prediction; all-background batch
    prob = np.zeros((1, 3, 2, 2))
    prob[0, 0] = 0.6
    prob[0, 1] = 0.4
    t = dev(np.zeros((1, 2, 2), np.int64), device)
    x = Tensor(prob, requires_grad=True, device=device)
    per_class = call(x, t, smooth=smooth, reduction="none")
    per_class.sum().backward()
    vals = per_class.numpy()
    assert np.isfinite(vals).all() and np.isfinite(x.grad.numpy()).all()
    assert vals[2] == 0.0  # empty prediction on an empty target: a perfect score
    assert vals[1] > 0.2  # class 1 is absent from the target but predicted: penalised
    # one pixel predicted in an absent class costs 1 - s/(p + s) (Dice) with smoothing
    if name == "dice" and smooth:
        assert vals[1] == pytest.approx(1 - 1.0 / (1.6 + 1.0), rel=1e-12)


def test_overlap_all_background_binary(device):
    x = Tensor(np.full((2, 1, 2, 2), -1e4, np.float32), requires_grad=True, device=device)
    t = dev(np.zeros((2, 2, 2), np.int64), device)
    for call in (losses.dice_loss, losses.tversky_loss, losses.jaccard_loss):
        x.grad = None
        loss = call(x, t, from_logits=True, smooth=1.0)
        loss.backward()
        assert loss.item() == pytest.approx(0.0, abs=1e-6)
        assert np.isfinite(x.grad.numpy()).all()


def test_overlap_every_pixel_ignored_is_finite(device):
    x = Tensor(
        np.random.default_rng(12).normal(size=(1, 3, 2, 2)), requires_grad=True, device=device
    )
    t = dev(np.full((1, 2, 2), 255), device)
    for smooth in (0.0, 1.0):
        x.grad = None
        loss = losses.dice_loss(x, t, smooth=smooth, from_logits=True, ignore_index=255)
        loss.backward()
        assert loss.item() == 0.0 and np.all(x.grad.numpy() == 0)


def test_overlap_bad_input(device):
    p = Tensor(np.full((2, 3, 2, 2), 1 / 3), device=device)
    with pytest.raises(ValueError, match=r"label 3.*K = 3"):
        losses.dice_loss(p, dev(np.full((2, 2, 2), 3), device))
    with pytest.raises(TypeError, match="integer"):
        losses.tversky_loss(p, dev(np.zeros((2, 2, 2)), device))
    with pytest.raises(ValueError, match=r"\(2, 3, 2, 2\).*\(2, 3, 3\)"):
        losses.jaccard_loss(p, dev(np.zeros((2, 3, 3), np.int64), device))
    with pytest.raises(ValueError, match="classes"):
        losses.dice_loss(p, dev(np.zeros((2, 2, 2), np.int64), device), classes=[3])
    with pytest.raises(ValueError, match="from_logits=True"):
        losses.dice_loss(
            Tensor(np.full((2, 3, 2, 2), 2.0), device=device),
            dev(np.zeros((2, 2, 2), np.int64), device),
        )
    with pytest.raises(ValueError, match=r"label 2.*\[0, 2\)"):  # one channel: 0/1 labels
        losses.dice_loss(
            Tensor(np.full((2, 1, 2, 2), 0.5), device=device), dev(np.full((2, 2, 2), 2), device)
        )
    with pytest.raises(ValueError, match="beta"):
        losses.tversky_loss(p, dev(np.zeros((2, 2, 2), np.int64), device), beta=-0.1)


# ----------------------------------------------------------------------------------------------
# sum of squared error (deck 000), and Dice + CE


def test_sse_and_mse(device):
    rng = np.random.default_rng(13)
    x = rng.normal(size=(2, 3, 2, 2))
    prob = np_softmax(x)
    t = rng.integers(0, 3, size=(2, 2, 2))
    one_hot = np.moveaxis(np.eye(3)[t], -1, 1)
    want = sum((prob[idx] - one_hot[idx]) ** 2 for idx in np.ndindex(*prob.shape))
    sse = losses.sse_loss(Tensor(prob, device=device), dev(t, device))
    assert sse.item() == pytest.approx(want, rel=1e-12)
    assert losses.sse_loss(
        Tensor(prob, device=device), dev(one_hot, device)
    ).item() == pytest.approx(want, rel=1e-12)
    assert losses.mse_loss(
        Tensor(prob, device=device), dev(one_hot, device)
    ).item() == pytest.approx(want / prob.size, rel=1e-12)
    none = losses.sse_loss(Tensor(prob, device=device), dev(t, device), reduction="none")
    assert none.shape == prob.shape
    xt = Tensor(x, requires_grad=True, device=device)
    td = dev(t, device)
    assert gradcheck(lambda z: losses.sse_loss(F.softmax(z, axis=1), td), xt)
    with pytest.raises(ValueError, match=r"\(2, 3, 2, 2\).*\(2, 2\)"):
        losses.mse_loss(Tensor(prob, device=device), dev(np.zeros((2, 2)), device))


def test_dice_plus_cross_entropy_is_a_plain_sum(device):
    rng = np.random.default_rng(14)
    x = rng.normal(size=(2, 3, 3, 3))
    t = dev(rng.integers(0, 3, size=(2, 3, 3)), device)
    ce, g_ce = grad_of(lambda z: losses.cross_entropy(z, t), x, device)
    dl, g_dl = grad_of(lambda z: losses.dice_loss(z, t, from_logits=True), x, device)
    both, g_both = grad_of(
        lambda z: losses.cross_entropy(z, t) + 0.5 * losses.dice_loss(z, t, from_logits=True),
        x,
        device,
    )
    assert both == pytest.approx(ce + 0.5 * dl, rel=1e-12)
    np.testing.assert_allclose(g_both, g_ce + 0.5 * g_dl, rtol=1e-10, atol=1e-15)


def test_reduction_shapes(device):
    x = Tensor(np.zeros((2, 3, 4, 5)), device=device)
    t = dev(np.zeros((2, 4, 5), np.int64), device)
    assert losses.cross_entropy(x, t, reduction="none").shape == (2, 4, 5)
    assert losses.softmax_focal_loss(x, t, reduction="none").shape == (2, 4, 5)
    assert losses.cross_entropy(x, t, reduction="sum").shape == ()
    assert losses.dice_loss(x, t, from_logits=True, reduction="none").shape == (3,)
    assert losses.dice_loss(x, t, from_logits=True, reduction="sum").shape == ()
    p = Tensor(np.full((2, 1, 4, 5), 0.5), device=device)
    assert losses.focal_loss(p, dev(np.ones((2, 1, 4, 5)), device), reduction="none").shape == (
        2,
        1,
        4,
        5,
    )
    # float32 in, float32 out
    x32 = Tensor(np.zeros((2, 3, 4, 5), np.float32), device=device)
    assert losses.cross_entropy(x32, t).dtype == np.float32
    assert losses.dice_loss(x32, t, from_logits=True).dtype == np.float32


# ----------------------------------------------------------------------------------------------
# device discipline: every loss keeps "gpu" data on the (fake) gpu


def test_losses_keep_data_on_the_gpu_array_module(monkeypatch):
    fake_cupy.install(monkeypatch)
    rng = np.random.default_rng(15)
    x = Tensor(rng.normal(size=(2, 3, 2, 2)), requires_grad=True, device="gpu")
    t = backend.to_device(rng.integers(0, 3, size=(2, 2, 2)), "gpu")
    soft = backend.to_device(np_softmax(rng.normal(size=(2, 3, 2, 2))), "gpu")
    p = Tensor(rng.uniform(0.1, 0.9, size=(2, 1, 2, 2)), requires_grad=True, device="gpu")
    y = backend.to_device((rng.random((2, 1, 2, 2)) < 0.5).astype(np.float64), "gpu")
    calls = [
        lambda: losses.cross_entropy(
            x, t, weight=[1.0, 2.0, 3.0], ignore_index=1, label_smoothing=0.1
        ),
        lambda: losses.cross_entropy(x, soft),
        lambda: losses.softmax_focal_loss(x, t, alpha=[0.2, 0.3, 0.5], ignore_index=2),
        lambda: losses.dice_loss(x, t, from_logits=True, ignore_index=0, classes=[1, 2]),
        lambda: losses.tversky_loss(x, t, from_logits=True, beta=0.3),
        lambda: losses.jaccard_loss(x, t, from_logits=True),
        lambda: losses.sse_loss(F.softmax(x, axis=1), t),
        lambda: losses.binary_cross_entropy(p, y),
        lambda: losses.focal_loss(p, y, from_logits=True),
        lambda: losses.dice_loss(p, y),
    ]
    for call in calls:
        x.grad = p.grad = None
        loss = call()
        loss.backward()
        assert loss.device == "gpu"
        assert all(g is None or g.device == "gpu" for g in (x.grad, p.grad))
        assert any(g is not None for g in (x.grad, p.grad))
