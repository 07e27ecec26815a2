"""minisegnet.optim: SGD / Adam against steps worked out by hand, schedules, state dicts."""

import math

import numpy as np
import pytest

import minisegnet as ms
import minisegnet.nn as nn
from minisegnet import Tensor
from minisegnet.optim import SGD, Adam, AdamW, CosineAnnealingLR, StepLR
from minisegnet.optim.lr_scheduler import LambdaLR, MultiStepLR, OneCycleLR

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
    np.testing.assert_allclose(
        run(SGD, [1.0, 2.0, -1.0], lr=0.1, momentum=0.9), [0.9, 0.61, 0.449], rtol=1e-12
    )


def test_sgd_nesterov_by_hand():
    # same buffers b = 1, 2.9, 1.61; the step uses d = g + 0.9 b:
    # d1 = 1 + 0.9 = 1.9 -> 0.81;  d2 = 2 + 2.61 = 4.61 -> 0.349;  d3 = -1 + 1.449 = 0.449 -> 0.3041
    np.testing.assert_allclose(
        run(SGD, [1.0, 2.0, -1.0], lr=0.1, momentum=0.9, nesterov=True),
        [0.81, 0.349, 0.3041],
        rtol=1e-12,
    )


def test_sgd_dampening_by_hand_and_torchs_argument_order():
    # dampening 0.5 (oracle sweep: the argument was missing): the first buffer is g itself,
    # b1 = 1 -> 0.9;  b2 = 0.9 * 1 + 0.5 * 2 = 1.9 -> 0.71;  b3 = 0.9 * 1.9 + 0.5 * (-1) = 1.21
    # -> 0.589
    np.testing.assert_allclose(
        run(SGD, [1.0, 2.0, -1.0], lr=0.1, momentum=0.9, dampening=0.5),
        [0.9, 0.71, 0.589],
        rtol=1e-12,
    )
    p = nn.Parameter(np.zeros(1))
    opt = SGD([p], 0.1, 0.9, 0.5, 0.01, False)  # torch.optim.SGD's positional order
    assert [opt.defaults[k] for k in ("momentum", "dampening", "weight_decay", "nesterov")] == [
        0.9,
        0.5,
        0.01,
        False,
    ]
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0 and dampening = 0"):
        SGD([p], 0.1, momentum=0.9, dampening=0.1, nesterov=True)


def test_sgd_weight_decay_by_hand():
    # g' = g + 0.1 p: 1 + 0.1 = 1.1 -> 1 - 0.11 = 0.89;  2 + 0.089 = 2.089 -> 0.89 - 0.2089 = 0.6811
    np.testing.assert_allclose(
        run(SGD, [1.0, 2.0], lr=0.1, weight_decay=0.1), [0.89, 0.6811], rtol=1e-12
    )


def test_adam_by_hand():
    # lr 0.1, betas (0.9, 0.999), eps 1e-8, gradients 1, 2, -1:
    # t=1: m = 0.1, v = 0.001, m_hat = 1, v_hat = 1            -> p = 1 - 0.1 / (1 + 1e-8) = 0.9
    # t=2: m = 0.29, v = 0.004999, m_hat = 0.29 / 0.19 = 1.5263158,
    #      v_hat = 0.004999 / 0.001999 = 2.5007504, sqrt = 1.5813761 -> p = 0.9 - 0.0965182
    # t=3: m = 0.161, v = 0.005994001, m_hat = 0.161 / 0.271 = 0.5940959,
    #      v_hat = 0.005994001 / 0.002997001 = 2.0000000, sqrt = 1.4142135
    #      -> p = 0.8034818 - 0.0420089
    np.testing.assert_allclose(
        run(Adam, [1.0, 2.0, -1.0], lr=0.1), [0.9, 0.8034818, 0.7614729], rtol=0, atol=1e-7
    )


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
    v = 0.999 * 0.00025 + 0.001 * 0.45**2
    second = a[0] - 0.1 * (m / (1 - 0.81)) / (math.sqrt(v / (1 - 0.999**2)) + 1e-8)
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


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
        lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
        lambda ps: Adam(ps, lr=0.1, weight_decay=0.1),
    ],
    ids=["sgd", "nesterov", "adam"],
)
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
    # 0.01 + 0.09 (1 + cos(pi e / 4)) / 2 for e = 0..4; past T_max the cosine goes on (PyTorch):
    # e = 5 gives cos(5 pi / 4) = cos(3 pi / 4), the value of e = 3
    want = [
        0.1,
        0.01 + 0.09 * (1 + math.sqrt(0.5)) / 2,
        0.055,
        0.01 + 0.09 * (1 - math.sqrt(0.5)) / 2,
        0.01,
        0.01 + 0.09 * (1 - math.sqrt(0.5)) / 2,
    ]
    np.testing.assert_allclose(lrs, want, rtol=1e-12)
    opt2 = Adam([p], lr=0.1)
    sched2 = CosineAnnealingLR(opt2, T_max=4, eta_min=0.01)
    sched2.load_state_dict(sched.state_dict())
    assert sched2.last_epoch == 5
    assert opt2.param_groups[0]["lr"] == pytest.approx(want[5], rel=1e-12)


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
        assert all(
            backend.device_of(v) == p.device
            for opt in opts
            for st in opt.state.values()
            for v in st.values()
            if hasattr(v, "shape")
        )
        finals.append(p.numpy())
    np.testing.assert_allclose(finals[1], finals[0], rtol=1e-12)


# ----- AdamW and the PyTorch schedulers: expected values from PyTorch's documented formulas -----


def adamw_reference(theta, grads, lr, b1, b2, eps, wd, amsgrad=False):
    """torch.optim.AdamW's algorithm for one scalar, in plain Python floats (float64):
    theta <- theta - lr wd theta; m, v moments; theta <- theta - lr m_hat / (sqrt(v_hat) + eps);
    amsgrad as PyTorch computes it: v_max <- max(v_max, v), v_hat = v_max / (1 - b2^t)."""
    m = v = v_max = 0.0
    out = []
    for t, g in enumerate(grads, start=1):
        theta = theta - lr * wd * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_max = max(v_max, v)
        m_hat = m / (1 - b1**t)
        v_hat = (v_max if amsgrad else v) / (1 - b2**t)
        theta = theta - lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(theta)
    return out


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_matches_pytorchs_algorithm_over_several_steps(amsgrad):
    # a large first gradient then small ones: v decreases, so amsgrad's running max matters
    grads = [[2.0, -0.5], [0.1, 0.3], [0.1, -0.2], [-0.05, 0.4], [0.2, 0.1]]
    p = nn.Parameter(np.array([1.5, -0.7], np.float64))
    opt = AdamW([p], lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.3, amsgrad=amsgrad)
    got = []
    for g in grads:
        p.grad = Tensor(np.array(g, np.float64))
        opt.step()
        got.append(p.data.copy())
    for i, theta0 in enumerate([1.5, -0.7]):
        want = adamw_reference(theta0, [g[i] for g in grads], 0.05, 0.8, 0.9, 1e-6, 0.3, amsgrad)
        np.testing.assert_allclose([x[i] for x in got], want, rtol=1e-13)
    if amsgrad:  # the running max differs from v here, so the two variants really differ
        plain = adamw_reference(1.5, [g[0] for g in grads], 0.05, 0.8, 0.9, 1e-6, 0.3)
        assert abs(plain[-1] - got[-1][0]) > 1e-3


def test_adamw_defaults_are_pytorchs_and_decay_is_decoupled():
    p = nn.Parameter(np.array([2.0], np.float64))
    opt = AdamW([p])
    g = opt.param_groups[0]
    assert (g["lr"], g["betas"], g["eps"], g["weight_decay"], g["amsgrad"]) == (
        1e-3,
        (0.9, 0.999),
        1e-8,
        1e-2,
        False,
    )
    # with a zero gradient Adam's step is 0, so only the decay acts: 2 (1 - 1e-3 * 1e-2) per step
    p.grad = Tensor(np.zeros(1))
    opt.step()
    opt.step()
    assert p.data[0] == pytest.approx(2.0 * (1 - 1e-5) ** 2, rel=1e-15)
    # Adam's L2 weight decay goes through the moments instead: a step of ~lr, not lr * wd * theta
    q = nn.Parameter(np.array([2.0], np.float64))
    adam = Adam([q], weight_decay=1e-2)
    q.grad = Tensor(np.zeros(1))
    adam.step()
    assert q.data[0] == pytest.approx(2.0 - 1e-3, rel=1e-6)


def test_optimizer_zero_grad_set_to_none_false_keeps_zeroed_arrays():
    p = nn.Parameter(np.ones(3))
    opt = SGD([p], lr=0.1)
    p.grad = Tensor(np.array([1.0, 2.0, 3.0]))
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and np.array_equal(p.grad.data, np.zeros(3))
    opt.zero_grad()
    assert p.grad is None


def lrs_of(sched, steps):
    out = [sched.get_last_lr()[0]]
    for _ in range(steps):
        sched.step()
        out.append(sched.get_last_lr()[0])
    return out


def test_multistep_lr_matches_pytorch():
    opt = SGD([nn.Parameter(np.ones(1))], lr=1.0)
    sched = MultiStepLR(opt, milestones=[5, 2], gamma=0.1)
    np.testing.assert_allclose(lrs_of(sched, 6), [1, 1, 0.1, 0.1, 0.1, 0.01, 0.01], rtol=1e-12)
    assert opt.param_groups[0]["lr"] == sched.get_last_lr()[0]
    with pytest.raises(ValueError, match="MultiStepLR: milestones"):
        MultiStepLR(opt, milestones=[1.5])


def test_cosine_annealing_continues_past_t_max_as_pytorch():
    # PyTorch's CosineAnnealingLR(T_max=2, eta_min=0) from lr 1: 1, 0.5, 0, 0.5, 1, 0.5, 0, ...
    opt = SGD([nn.Parameter(np.ones(1))], lr=1.0)
    sched = CosineAnnealingLR(opt, T_max=2)
    np.testing.assert_allclose(lrs_of(sched, 6), [1, 0.5, 0, 0.5, 1, 0.5, 0], atol=1e-15)


def test_lambda_lr_one_function_per_group_and_state_dict():
    a, b = nn.Parameter(np.ones(1)), nn.Parameter(np.ones(1))
    opt = SGD([{"params": [a], "lr": 1.0}, {"params": [b], "lr": 0.5}], lr=0.1)
    sched = LambdaLR(opt, [lambda e: 0.5**e, lambda e: 1.0 / (e + 1)])
    sched.step()
    sched.step()
    assert sched.get_last_lr() == [0.25, 0.5 / 3]
    state = sched.state_dict()
    assert "lr_lambdas" not in state and state["last_epoch"] == 2
    opt2 = SGD([{"params": [a], "lr": 1.0}, {"params": [b], "lr": 0.5}], lr=0.1)
    sched2 = LambdaLR(opt2, lambda e: 0.1 * e)
    sched2.load_state_dict(state)
    assert sched2.get_last_lr() == pytest.approx([0.2, 0.1], rel=1e-12)
    with pytest.raises(ValueError, match="LambdaLR: expected 2 lr_lambda"):
        LambdaLR(opt, [lambda e: 1.0])


def one_cycle_reference(step, total, max_lr, pct=0.3, div=25.0, final_div=1e4):
    """PyTorch's OneCycleLR (cos, two phases) at ``step``: (lr, momentum)."""

    def cos(a, b, t):
        return b + (a - b) / 2 * (math.cos(math.pi * t) + 1)

    lo, end1 = max_lr / div, pct * total - 1
    if step <= end1:
        t = step / end1
        return cos(lo, max_lr, t), cos(0.95, 0.85, t)
    t = (step - end1) / (total - 1 - end1)
    return cos(max_lr, lo / final_div, t), cos(0.85, 0.95, t)


def test_one_cycle_lr_matches_pytorch_with_sgd_momentum():
    opt = SGD([nn.Parameter(np.ones(1))], lr=123.0, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=1.0, total_steps=10)
    lrs, moms = [opt.param_groups[0]["lr"]], [opt.param_groups[0]["momentum"]]
    for _ in range(10):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
        moms.append(opt.param_groups[0]["momentum"])
    # literal anchors: initial 1 / 25, halfway up (1 + 0.04) / 2, the peak at step 0.3 * 10 - 1,
    # the floor 0.04 / 1e4 at step 9; momentum 0.95 -> 0.85 -> 0.95 the other way round
    np.testing.assert_allclose(lrs[:3], [0.04, 0.52, 1.0], rtol=1e-12)
    assert lrs[9] == pytest.approx(4e-6, rel=1e-12)
    np.testing.assert_allclose(moms[:3], [0.95, 0.90, 0.85], rtol=1e-12)
    want = [one_cycle_reference(s, 10, 1.0) for s in range(11)]
    np.testing.assert_allclose(lrs, [w[0] for w in want], rtol=1e-12)
    np.testing.assert_allclose(moms, [w[1] for w in want], rtol=1e-12)
    with pytest.raises(ValueError, match="tried to step 11 times; total_steps is 10"):
        sched.step()


def test_one_cycle_lr_adam_betas_three_phase_linear_and_state_dict():
    opt = Adam([nn.Parameter(np.ones(1))], lr=0.5, betas=(0.9, 0.99))
    sched = OneCycleLR(
        opt, max_lr=2.0, epochs=2, steps_per_epoch=5, three_phase=True, anneal_strategy="linear"
    )
    # phases end at steps 2, 4, 9: 0.08 -> 2 -> 0.08 -> 8e-6, linearly
    lrs = lrs_of(sched, 9)
    want = [0.08, 1.04, 2.0, 1.04, 0.08] + [0.08 + (8e-6 - 0.08) * k / 5 for k in range(1, 6)]
    np.testing.assert_allclose(lrs, want, rtol=1e-12)
    assert opt.param_groups[0]["betas"] == pytest.approx((0.95, 0.99))  # last phase: max momentum
    opt2 = Adam([nn.Parameter(np.ones(1))], lr=0.5, betas=(0.9, 0.99))
    sched2 = OneCycleLR(
        opt2, max_lr=2.0, total_steps=10, three_phase=True, anneal_strategy="linear"
    )
    sched2.load_state_dict(sched.state_dict())
    assert sched2.get_last_lr() == pytest.approx([8e-6], rel=1e-12)
    with pytest.raises(ValueError, match="OneCycleLR: give total_steps"):
        OneCycleLR(opt, max_lr=1.0)
