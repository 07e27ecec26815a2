"""minisegnet.nn.functional: torch.nn.functional's namespace (the ops, plus the losses with
PyTorch's signatures), against NumPy formulas, PyTorch's documented numbers and gradcheck."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minisegnet
import minisegnet.functional as ops
import minisegnet.nn.functional as F
from minisegnet import Tensor, backend, gradcheck
from minisegnet.nn import functional as F2


def dev(a, device):
    return backend.to_device(np.asarray(a), device)


def np_log_softmax(x, axis=1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def np_nll(logp, t, weight=None, ignore_index=-100, reduction="mean"):
    """-w_y logp_y per pixel, mean divides by Σ w_y over the counted pixels (PyTorch's rule)."""
    k = logp.shape[1]
    w = np.ones(k) if weight is None else np.asarray(weight, np.float64)
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    picked = np.take_along_axis(logp, safe[:, None], axis=1)[:, 0]
    wy = w[safe] * valid
    loss = -wy * picked
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / wy.sum()


# ----------------------------------------------------------------------------------------------
# the namespace


def test_both_import_spellings_give_one_module_holding_every_op():
    assert F is F2 is minisegnet.nn.functional
    for name in ops.__all__:
        assert getattr(F, name) is getattr(ops, name), name
    for name in F.LOSS_NAMES:
        assert name in F.__all__ and callable(getattr(F, name))
    # minisegnet.functional hands out the same loss functions (no second definition)
    assert ops.cross_entropy is F.cross_entropy and ops.one_hot is F.one_hot
    with pytest.raises(AttributeError, match="no attribute 'not_an_op'"):
        ops.not_an_op  # noqa: B018


# ----------------------------------------------------------------------------------------------
# cross entropy and nll


def test_cross_entropy_matches_pytorchs_documented_number():
    # -log softmax([1, 2, 3])[2] = log(e + e^2 + e^3) - 3 = 0.4076059644...
    got = F.cross_entropy(Tensor([[1.0, 2.0, 3.0]]), np.array([2]))
    assert math.isclose(got.item(), 0.40760596444438, rel_tol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_default_ignore_index_is_minus_100(device, reduction):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 3, 4))
    t = rng.integers(0, 3, size=(2, 3, 4))
    t[0, 1, :2] = -100
    w = [0.5, 2.0, 1.25]
    got = F.cross_entropy(Tensor(x, device=device), dev(t, device), weight=w, reduction=reduction)
    want = np_nll(np_log_softmax(x), t, w, reduction=reduction)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)


def test_cross_entropy_label_smoothing_is_pytorchs():
    # ε = 0.2, K = 3: L = (1 - ε)(-log q_y) + (ε / K) Σ_c (-log q_c)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3))
    t = np.array([0, 2, 1, 1])
    logq = np_log_softmax(x)
    want = (0.8 * -logq[np.arange(4), t] + 0.2 / 3 * -logq.sum(axis=1)).mean()
    got = F.cross_entropy(Tensor(x), t, label_smoothing=0.2)
    assert math.isclose(got.item(), want, rel_tol=1e-10)


def test_cross_entropy_soft_target_with_the_default_ignore_index(device):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 2, 2))
    p = np.exp(np_log_softmax(rng.normal(size=(2, 3, 2, 2))))
    got = F.cross_entropy(Tensor(x, device=device), dev(p, device))
    want = -(p * np_log_softmax(x)).sum(axis=1).mean()
    assert math.isclose(got.item(), want, rel_tol=1e-10)


def test_nll_loss_of_log_softmax_is_cross_entropy(device):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 3, 3))
    t = rng.integers(0, 4, size=(2, 3, 3))
    t[1, 0, 0] = -100
    w = [1.0, 0.25, 3.0, 1.5]
    for reduction in ("mean", "sum", "none"):
        xt = Tensor(x, device=device)
        got = F.nll_loss(F.log_softmax(xt, axis=1), dev(t, device), weight=w, reduction=reduction)
        ce = F.cross_entropy(xt, dev(t, device), weight=w, reduction=reduction)
        np.testing.assert_allclose(got.numpy(), ce.numpy(), rtol=1e-10)
        np.testing.assert_allclose(
            got.numpy(), np_nll(np_log_softmax(x), t, w, reduction=reduction), rtol=1e-10
        )


def naive_nll(logp, t, weight, ignore_index):
    """The definition, one pixel at a time: Σ -w_y logp[y] / Σ w_y over the counted pixels."""
    n, k = logp.shape[:2]
    total, wsum = 0.0, 0.0
    for b in range(n):
        for idx in np.ndindex(*t.shape[1:]):
            y = int(t[(b, *idx)])
            if y == ignore_index:
                continue
            total -= weight[y] * logp[(b, y, *idx)]
            wsum += weight[y]
    return total / wsum if wsum else 0.0


@given(n=st.integers(1, 2), k=st.integers(1, 4), h=st.integers(1, 3), seed=st.integers(0, 999))
def test_nll_loss_matches_the_per_pixel_definition(n, k, h, seed):
    rng = np.random.default_rng(seed)
    logp = rng.normal(size=(n, k, h, 2))
    t = rng.integers(0, k, size=(n, h, 2))
    t[rng.random(t.shape) < 0.2] = -100
    w = rng.uniform(0.1, 2.0, size=k)
    got = F.nll_loss(Tensor(logp), t, weight=w).item()
    assert math.isclose(got, naive_nll(logp, t, w, -100), rel_tol=1e-10, abs_tol=1e-12)


def test_nll_loss_on_any_input_and_every_pixel_ignored():
    logp = np.array([[-0.5, -2.0], [-1.5, -0.1]])  # need not be normalised
    assert math.isclose(F.nll_loss(Tensor(logp), np.array([1, 0])).item(), (2.0 + 1.5) / 2)
    x = Tensor(logp, requires_grad=True)
    loss = F.nll_loss(x, np.array([-100, -100]))
    loss.backward()
    assert loss.item() == 0.0 and not x.grad.numpy().any()


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_nll_loss_gradcheck(device, reduction):
    rng = np.random.default_rng(4)
    x = Tensor(rng.normal(size=(2, 3, 2, 2)), requires_grad=True, device=device)
    t = rng.integers(0, 3, size=(2, 2, 2))
    t[0, 0, 1] = 7
    t = dev(t, device)
    assert gradcheck(
        lambda z: F.nll_loss(z, t, weight=[0.5, 2.0, 1.0], ignore_index=7, reduction=reduction), x
    )


def test_nll_loss_refuses_a_bad_target():
    with pytest.raises(ValueError, match="nll_loss"):
        F.nll_loss(Tensor(np.zeros((2, 3))), np.array([[0, 1]]))
    with pytest.raises(ValueError, match="nll_loss"):
        F.nll_loss(Tensor(np.zeros((2, 3))), np.array([0, 3]))


# ----------------------------------------------------------------------------------------------
# the binary losses


def test_binary_cross_entropy_with_weight(device):
    rng = np.random.default_rng(5)
    p_hat = rng.uniform(0.05, 0.95, size=(2, 1, 3, 3))
    p = (rng.random((2, 1, 3, 3)) < 0.5).astype(np.float64)
    w = rng.uniform(0.5, 2.0, size=(1, 1, 3, 3))  # broadcast, as PyTorch's weight
    want = -w * (p * np.log(p_hat) + (1 - p) * np.log(1 - p_hat))
    for reduction, ref in (("none", want), ("sum", want.sum()), ("mean", want.mean())):
        got = F.binary_cross_entropy(
            Tensor(p_hat, device=device), dev(p, device), weight=dev(w, device), reduction=reduction
        )
        np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10)
    x = Tensor(p_hat, requires_grad=True, device=device)
    assert gradcheck(lambda z: F.binary_cross_entropy(z, dev(p, device), weight=dev(w, device)), x)
    with pytest.raises(ValueError, match="binary_cross_entropy: weight of shape"):
        F.binary_cross_entropy(Tensor(p_hat), p, weight=np.ones(4))


def test_bce_with_logits_matches_pytorchs_documented_numbers():
    # BCE(σ(0), 1) = log 2; BCE(σ(z), 0) = softplus(z): 100 at z = 100 (finite, not inf)
    assert math.isclose(
        F.binary_cross_entropy_with_logits(Tensor([0.0]), [1.0]).item(), math.log(2), rel_tol=1e-6
    )
    got = F.binary_cross_entropy_with_logits(Tensor([100.0]), [0.0], reduction="sum")
    assert math.isclose(got.item(), 100.0, rel_tol=1e-6)


@pytest.mark.parametrize("pos_weight", [None, 3.0, "per-class"])
def test_bce_with_logits_pos_weight_and_weight(device, pos_weight):
    rng = np.random.default_rng(6)
    z = rng.normal(scale=2.0, size=(2, 3, 2, 2))
    p = (rng.random((2, 3, 2, 2)) < 0.4).astype(np.float64)
    w = rng.uniform(0.5, 2.0, size=(2, 3, 2, 2))
    pw = np.array([1.0, 4.0, 0.5]).reshape(3, 1, 1) if pos_weight == "per-class" else pos_weight
    pw_np = 1.0 if pw is None else pw
    s = 1 / (1 + np.exp(-z))
    want = -w * (pw_np * p * np.log(s) + (1 - p) * np.log(1 - s))
    pw_dev = dev(pw, device) if isinstance(pw, np.ndarray) else pw
    got = F.binary_cross_entropy_with_logits(
        Tensor(z, device=device), dev(p, device), weight=dev(w, device), pos_weight=pw_dev
    )
    assert math.isclose(got.item(), want.mean(), rel_tol=1e-10)
    x = Tensor(z, requires_grad=True, device=device)
    assert gradcheck(
        lambda t: F.binary_cross_entropy_with_logits(
            t, dev(p, device), weight=dev(w, device), pos_weight=pw_dev, reduction="none"
        ),
        x,
    )


def test_mse_loss_is_the_mean_square():
    a, b = np.array([1.0, 2.0, 4.0]), np.array([0.0, 2.0, 1.0])
    assert math.isclose(F.mse_loss(Tensor(a), b).item(), 10.0 / 3, rel_tol=1e-6)
    assert math.isclose(F.mse_loss(Tensor(a), b, reduction="sum").item(), 10.0, rel_tol=1e-6)


def test_a_target_that_requires_grad_gets_pytorchs_gradient(device):
    """Oracle sweep: mse_loss's target.grad stayed None (PyTorch: -2 (q - p) / n). The losses
    PyTorch differentiates in the target do so here too; worked numbers, then gradcheck."""
    rng = np.random.default_rng(11)
    q, p = rng.normal(size=(2, 3, 2, 2)), rng.uniform(0.1, 0.5, size=(2, 3, 2, 2))
    p = p / p.sum(axis=1, keepdims=True)  # a distribution over the classes (soft CE)
    x = Tensor(q, requires_grad=True, device=device)
    t = Tensor(p, requires_grad=True, device=device)
    F.mse_loss(x, t).backward()
    np.testing.assert_allclose(t.grad.numpy(), -2 * (q - p) / q.size, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), 2 * (q - p) / q.size, rtol=1e-12)
    t.grad = None
    w = np.array([0.5, 1.0, 2.0])
    F.cross_entropy(x, t, weight=dev(w, device)).backward()  # d/dp_i = -w_i log q_i / (N H W)
    want = -w.reshape(1, 3, 1, 1) * np_log_softmax(q) / (2 * 2 * 2)
    np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-12)
    t.grad = None
    F.binary_cross_entropy_with_logits(x, t, reduction="sum").backward()  # -log σ + log(1 - σ)
    np.testing.assert_allclose(t.grad.numpy(), -q, rtol=1e-12, atol=1e-12)
    losses = [
        lambda a, b: F.mse_loss(a, b, reduction="sum"),
        lambda a, b: minisegnet.losses.sse_loss(a, b),
        lambda a, b: F.cross_entropy(a, b, label_smoothing=0.2, reduction="none"),
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=2.5),
        lambda a, b: minisegnet.nn.BCEWithLogitsLoss(pos_weight=3.0)(a, b),
        lambda a, b: minisegnet.nn.MSELoss()(a, b),
    ]
    for fn in losses:
        assert gradcheck(fn, x, t)
    t32 = Tensor(p.astype(np.float32), requires_grad=True, device=device)
    F.mse_loss(Tensor(q, device=device), t32).backward()  # the cast to the input's dtype too
    assert t32.grad.dtype == np.float32
    np.testing.assert_allclose(t32.grad.numpy(), -2 * (q - p) / q.size, rtol=1e-5)


@pytest.mark.parametrize(
    "call",
    [
        lambda x, t: F.binary_cross_entropy(minisegnet.sigmoid(x), t),
        lambda x, t: minisegnet.nn.BCELoss()(minisegnet.sigmoid(x), t),
        lambda x, t: minisegnet.losses.dice_loss(x, t, from_logits=True),
        lambda x, t: minisegnet.losses.focal_loss(x, t, from_logits=True),
    ],
)
def test_a_loss_that_treats_its_target_as_a_constant_refuses_one_that_requires_grad(call):
    x = Tensor(np.zeros((2, 1, 2, 2)), requires_grad=True)
    t = Tensor(np.full((2, 1, 2, 2), 0.5), requires_grad=True)
    with pytest.raises(ValueError, match=r"requires grad, but this loss treats its target"):
        call(x, t)
    call(x, t.detach()).backward()  # the fix the message names
    with minisegnet.no_grad():
        call(x, t)  # no graph: nothing to refuse


# ----------------------------------------------------------------------------------------------
# the functional forms of the layers (oracle sweep: F.dropout / F.batch_norm were missing)


def test_functional_batch_norm_has_pytorchs_signature():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(3, 2, 2, 2))
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    rm, rv = np.zeros(2), np.ones(2)
    y = F.batch_norm(Tensor(x), rm, rv, training=True, momentum=0.5)  # weight / bias: 1 / 0
    want = (x - mean.reshape(1, 2, 1, 1)) / np.sqrt(var.reshape(1, 2, 1, 1) + 1e-5)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rm, 0.5 * mean, rtol=1e-12)  # updated in place
    np.testing.assert_allclose(rv, 0.5 + 0.5 * var * 12 / 11, rtol=1e-12)  # unbiased variance
    w, b = Tensor(np.array([2.0, 3.0])), Tensor(np.array([0.5, -1.0]))
    y = F.batch_norm(Tensor(x), Tensor(rm), Tensor(rv), w, b)  # eval: the running statistics
    want = (x - rm.reshape(1, 2, 1, 1)) / np.sqrt(rv.reshape(1, 2, 1, 1) + 1e-5)
    want = want * np.array([2.0, 3.0]).reshape(1, 2, 1, 1) + np.array([0.5, -1.0]).reshape(
        1, 2, 1, 1
    )
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda t: F.batch_norm(t, None, None, training=True), Tensor(x, True))


def test_functional_dropout_has_pytorchs_signature():
    x = Tensor(np.ones((4, 3, 5, 5)))
    assert F.dropout(x, 0.5, False) is x and F.dropout2d(x, 0.5, training=False) is x
    minisegnet.manual_seed(0)
    y = F.dropout(x, 0.25, inplace=False).numpy()  # training=True by default, as PyTorch's
    assert set(np.unique(y)) == {0.0, 1 / 0.75} and 0.1 < (y == 0).mean() < 0.4
    y = F.dropout2d(x, 0.5).numpy()
    per_channel = y.reshape(4, 3, -1)
    assert (per_channel.min(-1) == per_channel.max(-1)).all()  # whole channels kept or dropped


# ----------------------------------------------------------------------------------------------
# one_hot


def test_one_hot_puts_the_class_axis_last(device):
    t = dev(np.array([[0, 2], [1, 2]]), device)
    got = F.one_hot(t)
    assert got.dtype == np.int64 and got.shape == (2, 2, 3)
    np.testing.assert_array_equal(got.numpy(), [[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [0, 0, 1]]])
    assert backend.device_of(got.data) == device
    assert F.one_hot(Tensor([1, 0]), num_classes=4).numpy().tolist() == [[0, 1, 0, 0], [1, 0, 0, 0]]


def test_one_hot_refuses_out_of_range_and_float_input():
    with pytest.raises(ValueError, match=r"one_hot: class indices must lie in \[0, num_cl"):
        F.one_hot(np.array([0, 2]), num_classes=2)
    with pytest.raises(ValueError, match="one_hot"):
        F.one_hot(np.array([-1, 0]))
    with pytest.raises(TypeError, match="one_hot: expects integer class indices"):
        F.one_hot(Tensor([0.0, 1.0]))
