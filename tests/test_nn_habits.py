"""PyTorch habits in minisegnet.nn: gradient clipping, torch.nn.init's initialisers, and the
containers / modules a PyTorch user reaches for. Expected values are PyTorch's formulas."""

import math

import numpy as np
import pytest

import minisegnet as ms
import minisegnet.nn as nn
from minisegnet import Tensor


def params_with_grads(*grads):
    out = []
    for g in grads:
        p = nn.Parameter(np.zeros(len(g)))
        p.grad = Tensor(np.array(g, np.float64))
        out.append(p)
    return out


# ----- nn.utils.clip_grad_norm_ / clip_grad_value_ -----------------------------------------------


def test_clip_grad_norm_scales_by_pytorchs_coefficient_and_returns_the_norm():
    ps = params_with_grads([3.0, 4.0], [12.0])  # ||(5, 12)|| = 13
    total = nn.utils.clip_grad_norm_(ps, max_norm=6.5)
    assert float(total) == pytest.approx(13.0, rel=1e-15)
    coef = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(ps[0].grad.data, [3 * coef, 4 * coef], rtol=1e-15)
    np.testing.assert_allclose(ps[1].grad.data, [12 * coef], rtol=1e-15)
    # below max_norm: the coefficient clamps to 1, gradients unchanged
    ps = params_with_grads([3.0, 4.0])
    assert float(nn.utils.clip_grad_norm_(ps, 100.0)) == pytest.approx(5.0)
    assert np.array_equal(ps[0].grad.data, [3.0, 4.0])


def test_clip_grad_norm_other_orders_skips_missing_grads_and_single_tensor():
    ps = params_with_grads([3.0, -4.0], [1.0])
    ps.append(nn.Parameter(np.ones(2)))  # no gradient: skipped
    assert float(nn.utils.clip_grad_norm_(ps, 100.0, norm_type=1)) == pytest.approx(8.0)
    assert float(nn.utils.clip_grad_norm_(ps, 2.0, norm_type=math.inf)) == pytest.approx(4.0)
    np.testing.assert_allclose(ps[0].grad.data, [3 * 2 / (4 + 1e-6), -4 * 2 / (4 + 1e-6)])
    (p,) = params_with_grads([6.0, 8.0])
    assert float(nn.utils.clip_grad_norm_(p, 1.0)) == pytest.approx(10.0)
    assert np.linalg.norm(p.grad.data) == pytest.approx(1.0, rel=1e-6)
    assert float(nn.utils.clip_grad_norm_([nn.Parameter(np.ones(1))], 1.0)) == 0.0
    (q,) = params_with_grads([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm"):
        nn.utils.clip_grad_norm_(q, 1.0, error_if_nonfinite=True)


def test_clip_grad_value_clamps_in_place():
    ps = params_with_grads([-3.0, 0.5, 2.0])
    nn.utils.clip_grad_value_(ps, 1.0)
    assert np.array_equal(ps[0].grad.data, [-1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        nn.utils.clip_grad_value_(ps, -1.0)


# ----- nn.init: distributions' statistics -------------------------------------------------------

SHAPE = (64, 32, 5, 5)          # fan_in = 32 * 25 = 800, fan_out = 64 * 25 = 1600
N = math.prod(SHAPE)            # 51200 draws
FAN_IN, FAN_OUT = 800, 1600


def check_normal(w, std):
    """Sample mean within 5 standard errors of 0, sample std within 5 of its standard error
    (std / sqrt(2N)) of ``std``."""
    assert abs(w.mean()) < 5 * std / math.sqrt(N)
    assert abs(w.std() - std) < 5 * std / math.sqrt(2 * N)


def check_uniform(w, bound):
    """Inside [-bound, bound], reaching within 20 / N of each end (missed with prob. e^-10),
    sample std near bound / sqrt(3)."""
    assert w.min() >= -bound and w.max() <= bound
    assert w.max() > bound * (1 - 20 / N) and w.min() < -bound * (1 - 20 / N)
    std = bound / math.sqrt(3)
    assert abs(w.mean()) < 5 * std / math.sqrt(N)
    assert abs(w.std() - std) < 5 * 0.9 * std / math.sqrt(N)  # sd of a uniform's s: ~0.447 std / sqrt(N)


def draw(fn, *args, **kw):
    w = nn.Parameter(np.zeros(SHAPE, np.float64))
    out = fn(w, *args, **kw)
    assert out is w
    return w.data


def test_calculate_gain_is_pytorchs():
    assert nn.init.calculate_gain("linear") == 1.0
    assert nn.init.calculate_gain("conv2d") == 1.0
    assert nn.init.calculate_gain("sigmoid") == 1.0
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert nn.init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert nn.init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert nn.init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        nn.init.calculate_gain("swish")


def test_kaiming_normal_statistics_modes_and_gains():
    ms.manual_seed(0)
    check_normal(draw(nn.init.kaiming_normal_), math.sqrt(2 / FAN_IN))  # leaky_relu, a = 0
    check_normal(draw(nn.init.kaiming_normal_, mode="fan_out", nonlinearity="relu"),
                 math.sqrt(2 / FAN_OUT))
    check_normal(draw(nn.init.kaiming_normal_, a=0.2), math.sqrt(2 / 1.04 / FAN_IN))
    check_normal(draw(nn.init.kaiming_normal_, nonlinearity="tanh"), 5 / 3 / math.sqrt(FAN_IN))


def test_kaiming_uniform_bounds():
    ms.manual_seed(1)
    check_uniform(draw(nn.init.kaiming_uniform_), math.sqrt(6 / FAN_IN))
    # a = sqrt(5), PyTorch's Conv2d / Linear default: bound 1 / sqrt(fan_in)
    check_uniform(draw(nn.init.kaiming_uniform_, a=math.sqrt(5)), 1 / math.sqrt(FAN_IN))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        draw(nn.init.kaiming_uniform_, mode="fan_avg")


def test_xavier_statistics_with_gain():
    ms.manual_seed(2)
    check_normal(draw(nn.init.xavier_normal_), math.sqrt(2 / (FAN_IN + FAN_OUT)))
    check_uniform(draw(nn.init.xavier_uniform_, gain=2.0), 2.0 * math.sqrt(6 / (FAN_IN + FAN_OUT)))


def test_normal_uniform_constant_zeros_ones(device):
    ms.manual_seed(3)
    w = nn.Parameter(np.zeros(SHAPE, np.float32), device=device)
    check_normal(ms.backend.asnumpy(nn.init.normal_(w, mean=0.0, std=0.3).data).astype(np.float64),
                 0.3)
    assert w.dtype == np.float32 and w.device == device
    w64 = draw(nn.init.normal_, mean=2.0, std=0.5)
    assert abs(w64.mean() - 2.0) < 5 * 0.5 / math.sqrt(N)
    w64 = draw(nn.init.uniform_, -0.5, 1.5)
    assert w64.min() >= -0.5 and w64.max() <= 1.5 and abs(w64.mean() - 0.5) < 5 * 0.6 / math.sqrt(N)
    assert np.all(draw(nn.init.constant_, 0.25) == 0.25)
    assert np.all(draw(nn.init.zeros_) == 0) and np.all(draw(nn.init.ones_) == 1)


def test_init_is_reproducible_under_manual_seed_and_needs_two_dims():
    ms.manual_seed(7)
    a = draw(nn.init.kaiming_normal_).copy()
    ms.manual_seed(7)
    b = draw(nn.init.kaiming_normal_)
    ms.manual_seed(8)
    c = draw(nn.init.kaiming_normal_)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    with pytest.raises(ValueError, match="kaiming_normal_: fan in and fan out need .* shape \\(5,\\)"):
        nn.init.kaiming_normal_(nn.Parameter(np.zeros(5)))
    # on a Linear layer (out, in): fan_in = in
    lin = nn.Linear(400, 300)
    nn.init.kaiming_uniform_(lin.weight, nonlinearity="relu")
    assert np.abs(lin.weight.data).max() <= math.sqrt(6 / 400)
