"""minisegnet.optim: SGD / Adam against steps worked out by hand, schedules, state dicts."""

import math

import numpy as np
import pytest

import minisegnet as ms
import minisegnet.nn as nn
from minisegnet import Tensor
from minisegnet.optim import SGD, Adam, CosineAnnealingLR, StepLR

import fake_cupy


def run(opt_cls, grads, p0=1.0, **kw):
    """Values of a one-element parameter after each step, with the given gradient at each step."""
    p = nn.Parameter(np.array([p0], np.float64))
    opt = opt_cls([p], **kw)
    out = []
    for g in grads:
        p.grad = Tensor(np.array([g], np.float64))
        opt.step()
        out.append(float(p.data[0]))
    return out


def test_sgd_plain_step_is_theta_minus_lr_grad():
    # 1 - 0.1 * 1 = 0.9;  0.9 - 0.1 * 2 = 0.7;  0.7 - 0.1 * (-1) = 0.8
    np.testing.assert_allclose(run(SGD, [1.0, 2.0, -1.0], lr=0.1), [0.9, 0.7, 0.8], rtol=1e-12)


def test_sgd_momentum_by_hand():
    # b1 = 1            -> p = 1 - 0.1 * 1      = 0.9
    # b2 = 0.9 * 1 + 2  = 2.9  -> p = 0.9 - 0.29  = 0.61
    # b3 = 0.9 * 2.9 - 1 = 1.61 -> p = 0.61 - 0.161 = 0.449
    np.testing.assert_allclose(run(SGD, [1.0, 2.0, -1.0], lr=0.1, momentum=0.9),
                               [0.9, 0.61, 0.449], rtol=1e-12)


def test_sgd_nesterov_by_hand():
    # same buffers b = 1, 2.9, 1.61; the step uses d = g + 0.9 b:
    # d1 = 1 + 0.9 = 1.9 -> 0.81;  d2 = 2 + 2.61 = 4.61 -> 0.349;  d3 = -1 + 1.449 = 0.449 -> 0.3041
    np.testing.assert_allclose(run(SGD, [1.0, 2.0, -1.0], lr=0.1, momentum=0.9, nesterov=True),
                               [0.81, 0.349, 0.3041], rtol=1e-12)


def test_sgd_weight_decay_by_hand():
    # g' = g + 0.1 p: 1 + 0.1 = 1.1 -> 1 - 0.11 = 0.89;  2 + 0.089 = 2.089 -> 0.89 - 0.2089 = 0.6811
    np.testing.assert_allclose(run(SGD, [1.0, 2.0], lr=0.1, weight_decay=0.1), [0.89, 0.6811],
                               rtol=1e-12)


def test_adam_by_hand():
    # lr 0.1, betas (0.9, 0.999), eps 1e-8, gradients 1, 2, -1:
    # t=1: m = 0.1, v = 0.001, m_hat = 1, v_hat = 1            -> p = 1 - 0.1 / (1 + 1e-8) = 0.9
    # t=2: m = 0.29, v = 0.004999, m_hat = 0.29 / 0.19 = 1.5263158,
    #      v_hat = 0.004999 / 0.001999 = 2.5007504, sqrt = 1.5813761 -> p = 0.9 - 0.0965182
    # t=3: m = 0.161, v = 0.005994001, m_hat = 0.161 / 0.271 = 0.5940959,
    #      v_hat = 0.005994001 / 0.002997001 = 2.0000000, sqrt = 1.4142135
    #      -> p = 0.8034818 - 0.0420089
    np.testing.assert_allclose(run(Adam, [1.0, 2.0, -1.0], lr=0.1),
                               [0.9, 0.8034818, 0.7614729], rtol=0, atol=1e-7)


def test_adam_is_elementwise_and_first_step_is_lr_times_sign():
    p = nn.Parameter(np.array([[1.0, -2.0], [0.5, 3.0]], np.float32))
    opt = Adam([p], lr=0.01)
    p.grad = Tensor(np.array([[3.0, -0.5], [1e-3, -100.0]], np.float32))
    opt.step()
    np.testing.assert_allclose(p.numpy(), [[0.99, -1.99], [0.49, 3.01]], rtol=0, atol=2e-6)
    assert p.dtype == np.float32


def test_adam_weight_decay_adds_l2_gradient():
    # g' = 0 + 0.5 * p = 0.5 at p = 1: the first step is still lr * sign = 0.1 -> 0.9;
    # then g' = 0.45: m = 0.09 + 0.045 = 0.135, v = 0.000250 * 0.999 + 0.001 * 0.2025
    a = run(Adam, [0.0, 0.0], lr=0.1, weight_decay=0.5)
    m = 0.9 * 0.05 + 0.1 * 0.45
    v = 0.999 * 0.00025 + 0.001 * 0.45 ** 2
    second = a[0] - 0.1 * (m / (1 - 0.81)) / (math.sqrt(v / (1 - 0.999 ** 2)) + 1e-8)
    np.testing.assert_allclose(a, [0.9, second], rtol=0, atol=1e-8)  # eps moves it by 2e-9


def test_step_updates_in_place_without_graph_and_skips_missing_grads():
    p, q = nn.Parameter(np.ones(3, np.float32)), nn.Parameter(np.ones(2, np.float32))
    arr = p.data
    opt = SGD([p, q], lr=0.5, momentum=0.9)
    loss = (p * p).sum()
    loss.backward()
    opt.step()
    assert p.data is arr and p.creator is None
    np.testing.assert_allclose(p.numpy(), [0.0, 0.0, 0.0])  # 1 - 0.5 * 2
    np.testing.assert_array_equal(q.numpy(), [1.0, 1.0])  # no gradient: untouched
    opt.zero_grad()
    assert p.grad is None and q.grad is None


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    lambda ps: Adam(ps, lr=0.1, weight_decay=0.1)], ids=["sgd", "nesterov", "adam"])
def test_a_0d_parameter_steps_like_a_1d_one(make):
    """A 0-d parameter's gradient with weight decay is a NumPy scalar, not an array: its momentum
    buffer must still be updated in place (it once kept its first value), and on NumPy 1.x a 0-d
    float32 meeting a Python float is computed in float64: the steps use float32 constants."""
    p0, p1 = nn.Parameter(np.float32(1.0)), nn.Parameter(np.ones(1, np.float32))
    opt0, opt1 = make([p0]), make([p1])
    for k in range(4):
        for p, opt in ((p0, opt0), (p1, opt1)):
            p.grad = Tensor(np.full(p.shape, 0.5 * (k + 1), np.float32))
            opt.step()
    assert p0.shape == () and p0.dtype == np.float32
    np.testing.assert_allclose(p0.numpy(), p1.numpy()[0], rtol=1e-6)
    assert abs(float(p1.numpy()[0]) - 1.0) > 0.1  # it moved


def test_optimizer_state_dict_resumes_exactly():
    def make():
        ms.manual_seed(0)
        m = nn.Conv2d(2, 3, 3)
        return m, Adam(m.parameters(), lr=0.05)

    x = Tensor(np.random.default_rng(0).standard_normal((2, 2, 5, 5)).astype(np.float32))

    def train(m, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            (m(x) ** 2).mean().backward()
            opt.step()

    a, oa = make()
    train(a, oa, 4)
    b, ob = make()
    train(b, ob, 2)
    saved_model, saved_opt = b.state_dict(), ob.state_dict()
    assert saved_opt["state"][0]["step"] == 2
    assert isinstance(saved_opt["state"][0]["exp_avg"], np.ndarray)
    c, oc = make()
    c.load_state_dict(saved_model)
    oc.load_state_dict(saved_opt)
    train(c, oc, 2)
    np.testing.assert_array_equal(c.weight.numpy(), a.weight.numpy())
    with pytest.raises(ValueError, match="build it from the same model"):
        Adam([nn.Parameter(np.ones(2))]).load_state_dict(saved_opt)


def test_optimizer_argument_errors():
    p = nn.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="lr must be a non-negative number"):
        SGD([p], lr=-1)
    with pytest.raises(ValueError, match="nesterov=True needs momentum"):
        SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"betas must lie in \[0, 1\)"):
        Adam([p], betas=(0.9, 1.0))
    assert Adam([p]).param_groups[0]["lr"] == 1e-3


def test_step_lr_schedule():
    p = nn.Parameter(np.ones(1))
    opt = SGD([p], lr=1.0)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(5):
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_cosine_schedule_and_its_state_dict():
    p = nn.Parameter(np.ones(1))
    opt = Adam([p], lr=0.1)
    sched = CosineAnnealingLR(opt, T_max=4, eta_min=0.01)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(5):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    # 0.01 + 0.09 (1 + cos(pi e / 4)) / 2 for e = 0..4, then it stays at eta_min
    want = [0.1, 0.01 + 0.09 * (1 + math.sqrt(0.5)) / 2, 0.055,
            0.01 + 0.09 * (1 - math.sqrt(0.5)) / 2, 0.01, 0.01]
    np.testing.assert_allclose(lrs, want, rtol=1e-12)
    opt2 = Adam([p], lr=0.1)
    sched2 = CosineAnnealingLR(opt2, T_max=4, eta_min=0.01)
    sched2.load_state_dict(sched.state_dict())
    assert sched2.last_epoch == 5 and opt2.param_groups[0]["lr"] == pytest.approx(0.01)


def test_state_follows_the_model_to_another_device(monkeypatch):
    """Optimizer built on the CPU, model moved to the (NumPy-backed stand-in) GPU between steps:
    the momentum / moment buffers move with it and the numbers are those of a CPU-only run."""
    backend = fake_cupy.install(monkeypatch)
    finals = []
    for move in (False, True):
        p = nn.Parameter(np.array([1.0, -2.0], np.float64))
        m = nn.Module()
        m.w = p
        opts = [SGD([p], lr=0.1, momentum=0.9), Adam([p], lr=0.1)]
        for step in range(3):
            if move and step == 1:
                m.to("gpu")
            for opt in opts:
                p.grad = Tensor(backend.to_device(np.array([0.5, -1.0]) * (step + 1), p.device))
                opt.step()
        assert p.device == ("gpu" if move else "cpu")
        assert all(backend.device_of(v) == p.device for opt in opts for st in opt.state.values()
                   for v in st.values() if hasattr(v, "shape"))
        finals.append(p.numpy())
    np.testing.assert_allclose(finals[1], finals[0], rtol=1e-12)
