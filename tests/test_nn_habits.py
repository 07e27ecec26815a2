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
    # the norm in the gradients' dtype (oracle sweep: a float64 norm came back as float32,
    # 45.455230712890625 for 45.455230076810324)
    ps = params_with_grads([0.1, 0.2])
    total = nn.utils.clip_grad_norm_(ps, 100.0)
    assert total.dtype == np.float64
    assert total.item() == pytest.approx(math.sqrt(0.1**2 + 0.2**2), rel=1e-15)
    p32 = nn.Parameter(np.zeros(2, np.float32))
    p32.grad = Tensor(np.array([3.0, 4.0], np.float32))
    assert nn.utils.clip_grad_norm_([p32], 1.0).dtype == np.float32


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

SHAPE = (64, 32, 5, 5)  # fan_in = 32 * 25 = 800, fan_out = 64 * 25 = 1600
N = math.prod(SHAPE)  # 51200 draws
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
    # the standard error of a uniform sample's std is ~0.447 std / sqrt(N): this allows ~10 of them
    assert abs(w.std() - std) < 5 * 0.9 * std / math.sqrt(N)


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
    assert nn.init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert nn.init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        nn.init.calculate_gain("swish")


def test_kaiming_normal_statistics_modes_and_gains():
    ms.manual_seed(0)
    check_normal(draw(nn.init.kaiming_normal_), math.sqrt(2 / FAN_IN))  # leaky_relu, a = 0
    check_normal(
        draw(nn.init.kaiming_normal_, mode="fan_out", nonlinearity="relu"), math.sqrt(2 / FAN_OUT)
    )
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
    check_normal(
        ms.backend.asnumpy(nn.init.normal_(w, mean=0.0, std=0.3).data).astype(np.float64), 0.3
    )
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
    with pytest.raises(ValueError, match=r"kaiming_normal_: fan in and fan out need .* \(5,\)"):
        nn.init.kaiming_normal_(nn.Parameter(np.zeros(5)))
    # on a Linear layer (out, in): fan_in = in
    lin = nn.Linear(400, 300)
    nn.init.kaiming_uniform_(lin.weight, nonlinearity="relu")
    assert np.abs(lin.weight.data).max() <= math.sqrt(6 / 400)


# ----- containers and small modules ------------------------------------------------------------

from collections import OrderedDict  # noqa: E402

import minisegnet.functional as F  # noqa: E402
from minisegnet import losses  # noqa: E402

import fake_cupy  # noqa: E402


def rand(*shape):
    return np.random.default_rng(sum(shape)).standard_normal(shape)


def test_flatten_defaults_ranges_gradient_and_errors():
    x = Tensor(rand(2, 3, 4, 5), requires_grad=True)
    y = nn.Flatten()(x)
    assert y.shape == (2, 60) and np.array_equal(y.data, x.data.reshape(2, 60))
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5) and nn.Flatten(-2)(x).shape == (2, 3, 20)
    assert nn.Flatten(2, 2)(x).shape == (2, 3, 4, 5)
    (y * Tensor(np.arange(60.0))).sum().backward()
    assert np.array_equal(x.grad.data, np.broadcast_to(np.arange(60.0).reshape(3, 4, 5), x.shape))
    with pytest.raises(ValueError, match=r"Flatten\(start_dim=3, end_dim=1\): does not fit"):
        nn.Flatten(3, 1)(x)
    with pytest.raises(ValueError, match=r"Flatten\(start_dim=1, end_dim=-1\).*shape \(4,\)"):
        nn.Flatten()(Tensor(np.zeros(4)))
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


def test_identity_takes_any_arguments():
    x = Tensor(rand(2, 3))
    assert nn.Identity(54, unused=0.1)(x) is x


def test_sequential_from_ordered_dict_names_its_children():
    ms.manual_seed(0)
    seq = nn.Sequential(
        OrderedDict(
            [
                ("conv", nn.Conv2d(1, 2, 3, padding=1)),
                ("act", nn.ReLU()),
                ("head", nn.Conv2d(2, 1, 1)),
            ]
        )
    )
    assert [n for n, _ in seq.named_children()] == ["conv", "act", "head"]
    assert list(seq.state_dict()) == ["conv.weight", "conv.bias", "head.weight", "head.bias"]
    assert seq.conv is seq[0] and seq[-1] is seq.head and len(seq) == 3
    x = Tensor(rand(1, 1, 5, 5))
    np.testing.assert_array_equal(seq(x).data, seq.head(seq.act(seq.conv(x))).data)
    tail = seq[1:]
    assert [n for n, _ in tail.named_children()] == ["act", "head"]
    with pytest.raises(TypeError, match="Sequential: item 'b' is a int"):
        nn.Sequential(OrderedDict([("a", nn.ReLU()), ("b", 3)]))


def test_module_dict_registers_and_behaves_like_a_dict():
    md = nn.ModuleDict({"enc": nn.Conv2d(1, 2, 3), "dec": nn.Conv2d(2, 1, 1)})
    md["act"] = nn.ReLU()
    assert list(md) == ["enc", "dec", "act"] and len(md) == 3 and "dec" in md
    assert list(md.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert md.num_parameters() == 2 * 9 + 2 + 2 + 1
    assert [k for k, _ in md.items()] == md.keys()
    del md["dec"]
    assert md.keys() == ["enc", "act"] and md.num_parameters() == 20
    assert isinstance(md.pop("act"), nn.ReLU) and len(md) == 1
    with pytest.raises(KeyError, match="ModuleDict has no key 'dec'"):
        md["dec"]
    with pytest.raises(TypeError, match=r"ModuleDict\['x'\]: expected a Module, got int"):
        md["x"] = 1
    with pytest.raises(TypeError, match="ModuleDict has no forward"):
        md(Tensor(np.zeros(1)))


def test_apply_visits_children_first_then_self_and_initialises():
    ms.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sequential(nn.Conv2d(2, 2, 1), nn.ReLU()))
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Conv2d", "Conv2d", "ReLU", "Sequential", "Sequential"]

    def init(m):
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 0.5)
            nn.init.zeros_(m.bias)

    net.apply(init)
    assert all(np.all(m.weight.data == 0.5) for m in net.modules() if isinstance(m, nn.Conv2d))


def test_module_zero_grad_set_to_none_false():
    lin = nn.Linear(3, 2)
    lin(Tensor(rand(4, 3))).sum().backward()
    lin.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in lin.parameters())
    lin.zero_grad()
    assert all(p.grad is None for p in lin.parameters())


def test_inplace_is_accepted_and_leaves_the_input_alone():
    x = Tensor(rand(2, 5))
    before = x.data.copy()
    for layer in (
        nn.ReLU(inplace=True),
        nn.LeakyReLU(0.1, inplace=True),
        nn.Dropout(0.5, inplace=True),
    ):
        layer.eval()
        layer(x)
    np.testing.assert_array_equal(x.data, before)
    np.testing.assert_array_equal(nn.ReLU(inplace=True)(x).data, np.maximum(before, 0))


@pytest.mark.parametrize("k,d", [(3, 1), (4, 1), (3, 2), (2, 3)])
def test_conv2d_padding_same_keeps_the_size_as_pytorch(k, d):
    """'same': total d (k - 1) per axis, floor half before, the rest after (PyTorch's split);
    reference: NumPy padding of the input, then an unpadded convolution."""
    ms.manual_seed(1)
    conv = nn.Conv2d(2, 3, k, padding="same", dilation=d).double()
    x = rand(1, 2, 6, 7)
    total = d * (k - 1)
    xp = np.pad(
        x, ((0, 0), (0, 0), (total // 2, total - total // 2), (total // 2, total - total // 2))
    )
    want = F.conv2d(Tensor(xp), conv.weight, conv.bias, dilation=d).data
    got = conv(Tensor(x)).data
    assert got.shape == (1, 3, 6, 7)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_conv2d_padding_valid_and_errors():
    conv = nn.Conv2d(1, 1, 3, padding="valid")
    assert conv.padding == (0, 0) and conv(Tensor(rand(1, 1, 5, 5))).shape == (1, 1, 3, 3)
    assert "padding='valid'" in repr(conv)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding must be an int, a pair of ints, 'same' or"):
        nn.Conv2d(1, 1, 3, padding="full")


def test_cuda_and_cpu_move_a_module(monkeypatch):
    backend = fake_cupy.install(monkeypatch)
    lin = nn.Linear(3, 2)
    assert lin.cuda() is lin and lin.device == "gpu"
    assert backend.device_of(lin.weight.data) == "gpu"
    assert lin.cpu().device == "cpu" and lin.to("cuda").device == "gpu"
    with pytest.raises(ValueError, match="unknown device 'tpu'.*'cuda', the same as 'gpu'"):
        lin.to("tpu")


# ----- loss modules ----------------------------------------------------------------------------


def test_cross_entropy_loss_module_pytorch_defaults_and_deck_value():
    # deck 000's pixel: target class 1, q = (0.2, 0.3, 0.4, 0.1): -ln 0.3 = 1.2040
    logits = Tensor(np.log(np.array([[0.2, 0.3, 0.4, 0.1]])))
    assert float(nn.CrossEntropyLoss()(logits, np.array([1]))) == pytest.approx(-math.log(0.3))
    x, y = Tensor(rand(2, 3, 4, 4)), np.random.default_rng(0).integers(0, 3, (2, 4, 4))
    y[0, 0, 0] = -100  # PyTorch's default ignore_index
    w = np.array([1.0, 2.0, 0.5])
    crit = nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)
    want = losses.cross_entropy(x, y, weight=w, ignore_index=-100, label_smoothing=0.1)
    assert float(crit(x, y)) == pytest.approx(float(want), rel=1e-12)
    soft = np.full((2, 3, 4, 4), 1 / 3)
    assert float(nn.CrossEntropyLoss()(x, soft)) == pytest.approx(
        float(losses.cross_entropy(x, soft)), rel=1e-12
    )


def test_bce_with_logits_loss_module_and_pos_weight_by_hand():
    z, p = np.array([[-1.5, 0.3], [2.0, -0.2]]), np.array([[0.0, 1.0], [1.0, 0.0]])
    s = 1 / (1 + np.exp(-z))
    plain = -(p * np.log(s) + (1 - p) * np.log(1 - s)).mean()
    weighted = -(3.0 * p * np.log(s) + (1 - p) * np.log(1 - s)).mean()
    assert float(nn.BCEWithLogitsLoss()(Tensor(z), p)) == pytest.approx(plain, rel=1e-10)
    assert float(nn.BCEWithLogitsLoss(pos_weight=3.0)(Tensor(z), p)) == pytest.approx(
        weighted, rel=1e-10
    )
    assert float(nn.BCELoss()(Tensor(s), p)) == pytest.approx(plain, rel=1e-6)
    assert float(nn.MSELoss()(Tensor(z), p)) == pytest.approx(((z - p) ** 2).mean())
    # PyTorch's weight (first argument) and an array pos_weight (oracle sweep: refused before)
    w, pw = np.array([[0.5, 2.0], [1.0, 3.0]]), np.array([2.0, 0.5])
    want = -(w * (pw * p * np.log(s) + (1 - p) * np.log(1 - s))).sum()
    got = nn.BCEWithLogitsLoss(w, reduction="sum", pos_weight=pw)(Tensor(z), p)
    assert float(got) == pytest.approx(want, rel=1e-10)
    want = -(w * (p * np.log(s) + (1 - p) * np.log(1 - s))).mean()
    assert float(nn.BCELoss(w)(Tensor(s), p)) == pytest.approx(want, rel=1e-6)
    with pytest.raises(TypeError, match=r"BCEWithLogitsLoss\(reduction='sum'\)"):
        nn.BCEWithLogitsLoss("sum")


def test_region_loss_modules_take_logits_and_match_the_functions():
    x = Tensor(rand(2, 3, 5, 5), requires_grad=True)
    y = np.random.default_rng(1).integers(0, 3, (2, 5, 5))
    pairs = [
        (nn.DiceLoss(), losses.dice_loss(x, y, from_logits=True)),
        (
            nn.DiceLoss(smooth=0.5, squared=True, classes=[1, 2]),
            losses.dice_loss(x, y, 0.5, True, from_logits=True, classes=[1, 2]),
        ),
        (nn.TverskyLoss(beta=0.3), losses.tversky_loss(x, y, 0.3, from_logits=True)),
        (nn.JaccardLoss(), losses.jaccard_loss(x, y, from_logits=True)),
        (nn.FocalLoss(gamma=1.5), losses.softmax_focal_loss(x, y, gamma=1.5)),
    ]
    for crit, want in pairs:
        assert float(crit(x, y)) == pytest.approx(float(want), rel=1e-12), crit
    q = F.softmax(x, axis=1)
    assert float(nn.DiceLoss(from_logits=False)(q, y)) == pytest.approx(
        float(losses.dice_loss(x, y, from_logits=True)), rel=1e-10
    )
    nn.DiceLoss()(x, y).backward()
    assert x.grad is not None and np.abs(x.grad.data).sum() > 0


def test_clipping_init_and_adamw_keep_gpu_data_on_the_gpu(monkeypatch):
    """Under the NumPy-backed CuPy stand-in (which refuses host arrays in its ufuncs): the new
    functions take the array module from their inputs and leave the data on the "gpu"."""
    backend = fake_cupy.install(monkeypatch)
    lin = nn.Linear(4, 3).to("gpu")
    nn.init.xavier_uniform_(lin.weight)
    nn.init.constant_(lin.bias, 0.1)
    assert backend.device_of(lin.weight.data) == "gpu"
    assert float(lin.bias.data[0]) == pytest.approx(0.1)
    opt = ms.optim.AdamW(lin.parameters(), lr=0.1, amsgrad=True)
    x = Tensor(rand(5, 4), device="gpu")
    for _ in range(2):
        opt.zero_grad()
        lin(x).sum().backward()
        norm = nn.utils.clip_grad_norm_(lin.parameters(), 0.5)
        nn.utils.clip_grad_value_(lin.parameters(), 0.1)
        opt.step()
    assert float(norm) > 0 and all(backend.device_of(p.data) == "gpu" for p in lin.parameters())
    assert all(
        backend.device_of(v) == "gpu"
        for st in opt.state.values()
        for v in st.values()
        if hasattr(v, "shape")
    )
