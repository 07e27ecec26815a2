"""minisegnet.nn: Module bookkeeping, state_dict, devices, every layer's forward, init and
gradient."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minisegnet as ms
import minisegnet.functional as F
import minisegnet.nn as nn
from minisegnet import Tensor, gradcheck

import fake_cupy
import reference as R


def rand(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


class Tiny(nn.Module):
    """conv -> BN -> ReLU -> conv, with a nested Sequential (for names) and a plain attribute."""

    def __init__(self, c_in=2, c_mid=3, c_out=2):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(c_in, c_mid, 3, padding=1, bias=False), nn.BatchNorm2d(c_mid), nn.ReLU()
        )
        self.head = nn.Conv2d(c_mid, c_out, 1)
        self.note = "not registered"

    def forward(self, x):
        return self.head(self.features(x))


def call_with(model, params, x):
    """Run ``model`` with its parameters replaced by ``params`` (tensors gradcheck can vary)."""
    slots = [(m, n) for m in model.modules() for n, p in m._parameters.items() if p is not None]
    saved = [m._parameters[n] for m, n in slots]
    try:
        for (m, n), t in zip(slots, params):
            m._parameters[n] = t
        return model(x)
    finally:
        for (m, n), p in zip(slots, saved):
            m._parameters[n] = p


# ----------------------------------------------------------------------------------------------
# Module bookkeeping


def test_parameters_children_and_dotted_names():
    m = Tiny()
    names = [n for n, _ in m.named_parameters()]
    assert names == [
        "features.0.weight",
        "features.1.weight",
        "features.1.bias",
        "head.weight",
        "head.bias",
    ]
    assert [n for n, _ in m.named_children()] == ["features", "head"]
    assert [n for n, _ in m.named_buffers()] == [
        "features.1.running_mean",
        "features.1.running_var",
    ]
    assert m.num_parameters() == 3 * 2 * 9 + 3 + 3 + 2 * 3 + 2
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())
    assert len(list(m.modules())) == 6  # Tiny, Sequential, Conv2d, BatchNorm2d, ReLU, Conv2d
    assert m.note == "not registered" and "note" not in dict(m.named_parameters())
    # re-assigning replaces the registration; None keeps an empty slot
    m.head = nn.Conv2d(3, 5, 1, bias=False)
    assert [n for n, _ in m.named_parameters()][-1] == "head.weight"
    with pytest.raises(TypeError, match="is a Parameter"):
        m.head.weight = np.zeros((5, 3, 1, 1))


def test_shared_parameter_is_listed_once_and_containers_index():
    conv = nn.Conv2d(2, 2, 3)
    seq = nn.Sequential(conv, nn.ReLU(), conv)
    assert len(list(seq.parameters())) == 2
    assert len(seq) == 3 and seq[0] is conv and isinstance(seq[1:], nn.Sequential)
    ml = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    ml.append(nn.Sigmoid())
    assert [type(m).__name__ for m in ml] == ["ReLU", "Tanh", "Sigmoid"]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), "relu")
    with pytest.raises(TypeError, match="no forward"):
        ml(Tensor(rand((1,))))


def test_train_eval_switch_every_submodule():
    m = Tiny()
    assert all(sub.training for sub in m.modules())
    assert m.eval() is m and not any(sub.training for sub in m.modules())
    m.train()
    assert all(sub.training for sub in m.modules())


def test_zero_grad_and_parameters_receive_gradients():
    m = Tiny()
    x = Tensor(rand((2, 2, 5, 5), dtype=np.float32))
    m(x).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


# ----------------------------------------------------------------------------------------------
# state_dict / load_state_dict / to(device)


def test_state_dict_round_trip_gives_identical_outputs():
    ms.manual_seed(1)
    a = Tiny()
    x = Tensor(rand((2, 2, 6, 6), dtype=np.float32))
    a(x)  # one training forward moves the BN running statistics away from 0 / 1
    a.eval()
    state = a.state_dict()
    assert set(state) == {
        "features.0.weight",
        "features.1.weight",
        "features.1.bias",
        "features.1.running_mean",
        "features.1.running_var",
        "head.weight",
        "head.bias",
    }
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert not np.allclose(state["features.1.running_mean"], 0)
    ms.manual_seed(2)
    b = Tiny().eval()
    assert not np.allclose(b(x).numpy(), a(x).numpy())
    weight_array = b.head.weight.data
    b.load_state_dict(state)
    np.testing.assert_array_equal(b(x).numpy(), a(x).numpy())
    assert b.head.weight.data is weight_array  # copied in place: optimizers keep their references
    # the state dict is a copy: changing the model later does not change it
    a.head.weight.data[...] = 0
    assert not np.allclose(state["head.weight"], 0)


def test_load_state_dict_names_missing_unexpected_and_misshaped_keys():
    m = Tiny()
    state = m.state_dict()
    del state["head.bias"]
    state["extra.weight"] = np.zeros(3)
    with pytest.raises(
        ValueError,
        match=r"missing keys: \['head.bias'\].*unexpected keys: "
        r"\['extra.weight'\]",
    ):
        m.load_state_dict(state)
    result = m.load_state_dict(state, strict=False)
    assert result.missing_keys == ["head.bias"] and result.unexpected_keys == ["extra.weight"]
    bad = Tiny(c_mid=4).state_dict()
    with pytest.raises(
        ValueError,
        match=r"mis-shaped keys: features.0.weight: checkpoint "
        r"\(4, 2, 3, 3\), model \(3, 2, 3, 3\)",
    ):
        m.load_state_dict(bad, strict=False)


def test_a_pytorch_state_dict_with_num_batches_tracked_loads():
    """torch.nn.BatchNorm2d also saves ``num_batches_tracked`` (oracle sweep: a torch model's
    state dict was refused as "unexpected keys"); it is accepted and ignored, nothing else is."""
    m = Tiny()
    state = {k: v + 0.5 for k, v in m.state_dict().items()}
    state["features.1.num_batches_tracked"] = np.array(7, np.int64)
    result = m.load_state_dict(state)
    assert result.unexpected_keys == [] and result.missing_keys == []
    np.testing.assert_array_equal(m.features[1].running_var, state["features.1.running_var"])
    assert "features.1.num_batches_tracked" not in m.state_dict()
    state["head.num_batches_tracked"] = np.array(7, np.int64)  # not a BatchNorm2d: unexpected
    with pytest.raises(ValueError, match=r"unexpected keys: \['head.num_batches_tracked'\]"):
        m.load_state_dict(state)


def test_to_moves_parameters_and_buffers(device):
    m = Tiny().double()  # float64: the CPU/GPU comparison below is to rounding on any machine
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert m.features[1].running_var.dtype == np.float64
    x = Tensor(rand((2, 2, 5, 5)))
    m(x)  # one training forward: the BN running statistics move away from 0 / 1
    m.eval()
    want = m(x).numpy()
    assert m.to(device) is m and m.device == device
    assert all(p.device == device for p in m.parameters())
    assert all(ms.backend.device_of(b) == device for b in m.buffers())
    np.testing.assert_allclose(m(x.to(device)).numpy(), want, rtol=1e-10, atol=1e-12)
    state = m.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    m.float()
    assert all(p.dtype == np.float32 and p.device == device for p in m.parameters())
    assert m.features[1].running_var.dtype == np.float32
    assert m(x.to(device).float()).dtype == np.float32
    with pytest.raises(ValueError, match="unknown device"):
        m.to("tpu")


def test_layers_built_on_the_gpu_stay_there(monkeypatch):
    """With a NumPy-backed stand-in for CuPy and "gpu" as the default device: initialisation
    (drawn on the CPU, then copied), forward, dropout masks and load_state_dict keep to the gpu."""
    backend = fake_cupy.install(monkeypatch)
    monkeypatch.setattr(backend, "_default_device", "gpu")
    ms.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.Dropout2d(0.5),
        nn.ConvTranspose2d(3, 3, 4, stride=2, padding=1, bilinear_init=True),
    )
    assert m.device == "gpu" and all(p.device == "gpu" for p in m.parameters())
    assert all(backend.device_of(b) == "gpu" for b in m.buffers())
    x = Tensor(rand((2, 2, 4, 4), dtype=np.float32), device="gpu")
    y = m(x)
    assert y.device == "gpu" and y.shape == (2, 3, 8, 8)
    ms.manual_seed(0)
    cpu = nn.Conv2d(2, 3, 3, padding=1).to("cpu")
    np.testing.assert_array_equal(m[0].weight.numpy(), cpu.weight.numpy())  # same draws
    m.load_state_dict({k: np.zeros_like(v) for k, v in m.state_dict().items()})
    assert all(p.device == "gpu" for p in m.parameters())
    assert all(backend.device_of(b) == "gpu" for b in m.buffers())


# ----------------------------------------------------------------------------------------------
# random state


def test_manual_seed_makes_init_reproducible_and_state_restores():
    ms.manual_seed(123)
    a = nn.Conv2d(3, 4, 3)
    ms.manual_seed(123)
    b = nn.Conv2d(3, 4, 3)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    state = ms.random.get_state()
    c = nn.Conv2d(3, 4, 3)
    ms.random.set_state(state)
    d = nn.Conv2d(3, 4, 3)
    np.testing.assert_array_equal(c.weight.numpy(), d.weight.numpy())
    assert not np.array_equal(a.weight.numpy(), c.weight.numpy())
    with pytest.raises(ValueError, match="non-negative integer"):
        ms.manual_seed(-1)


# ----------------------------------------------------------------------------------------------
# convolutions


@settings(max_examples=10)
@given(
    cin=st.integers(1, 3),
    cout=st.integers(1, 3),
    k=st.integers(1, 3),
    s=st.integers(1, 2),
    p=st.integers(0, 1),
    d=st.integers(1, 2),
    hw=st.integers(5, 8),
    seed=st.integers(0, 9),
)
def test_conv2d_layer_matches_reference(cin, cout, k, s, p, d, hw, seed):
    conv = nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d).double()
    conv.bias.data[...] = rand((cout,), seed + 1)
    x = rand((2, cin, hw, hw + 1), seed)
    y = conv(Tensor(x))
    ho = (hw + 2 * p - d * (k - 1) - 1) // s + 1
    assert y.shape == (2, cout, ho, (hw + 1 + 2 * p - d * (k - 1) - 1) // s + 1)
    np.testing.assert_allclose(
        y.numpy(), R.conv2d(x, conv.weight.numpy(), conv.bias.numpy(), s, p, d), atol=1e-10
    )


def test_conv2d_he_initialisation_statistics():
    ms.manual_seed(0)
    conv = nn.Conv2d(64, 64, 3)
    fan_in = 64 * 9
    w = conv.weight.numpy()
    assert conv.weight.shape == (64, 64, 3, 3) and w.dtype == np.float32
    assert abs(w.mean()) < 0.05 * np.sqrt(2 / fan_in)
    assert abs(w.std() / np.sqrt(2 / fan_in) - 1) < 0.02  # 36,864 draws: std within 2 %
    np.testing.assert_array_equal(conv.bias.numpy(), np.zeros(64))
    assert nn.Conv2d(4, 6, 3, groups=2).weight.shape == (6, 2, 3, 3)
    assert nn.Conv2d(4, 6, 3, bias=False).bias is None
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(4, 6, 3, groups=4)


@pytest.mark.parametrize(
    "make, op",
    [
        (lambda **kw: nn.Conv2d(1, 1, **kw), "conv2d"),
        (
            lambda **kw: F.conv2d(
                np.zeros((1, 1, 6, 6)),
                np.zeros((1, 1, 3, 3)),
                **{k: v for k, v in kw.items() if k != "kernel_size"},
            ),
            "conv2d",
        ),
    ],
)
def test_layer_and_op_share_the_size_argument_rules(make, op):
    """nn.Conv2d reads kernel_size / stride / padding with F.conv2d's rule (sizes.pair)."""
    ok = make(kernel_size=np.int64(3), stride=np.int64(2), padding=(np.int32(1), 1))
    if isinstance(ok, nn.Conv2d):
        assert ok.kernel_size == (3, 3) and ok.stride == (2, 2) and ok.padding == (1, 1)
        assert all(type(v) is int for v in ok.kernel_size + ok.stride + ok.padding)
    else:
        assert ok.shape == (1, 1, 3, 3)  # (6 + 2 - 3) // 2 + 1
    for bad, error, message in [
        ({"stride": 0}, ValueError, "stride must be positive, got 0"),
        ({"stride": 1.5}, TypeError, "stride must be an int or a pair"),
        ({"stride": (2.0, 1)}, TypeError, "stride must be an int or a pair"),
        ({"padding": True}, TypeError, "padding must be an int or a pair"),
        (
            {"stride": (1, 2, 3)},
            ValueError,
            r"stride must be an int or a "
            r"pair \(h, w\)",
        ),
    ]:
        with pytest.raises(error, match=message):
            make(kernel_size=3, **bad)


def test_conv_transpose2d_layer_matches_reference_and_output_size():
    ct = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    ct.bias.data[...] = [0.5, -1.0]
    x = rand((1, 3, 4, 5), 3)
    y = ct(Tensor(x))
    assert y.shape == (1, 2, 7, 9)  # (4 - 1) * 2 - 2 + 3
    np.testing.assert_allclose(
        y.numpy(), R.conv_transpose2d(x, ct.weight.numpy(), ct.bias.numpy(), 2, 1), atol=1e-10
    )
    assert ct(Tensor(x), output_size=(8, 10)).shape == (1, 2, 8, 10)
    assert ct.weight.shape == (3, 2, 3, 3)


def test_bilinear_transposed_conv_upsamples_a_constant_to_a_constant_interior():
    k = nn.init.bilinear_kernel(4)
    t = np.array([0.25, 0.75, 0.75, 0.25])
    np.testing.assert_allclose(k, np.outer(t, t))
    up = nn.ConvTranspose2d(3, 3, 4, stride=2, padding=1, bilinear_init=True)
    x = np.full((1, 3, 5, 6), 2.5, np.float32)
    y = up(Tensor(x)).numpy()
    assert y.shape == (1, 3, 10, 12)
    np.testing.assert_allclose(y[:, :, 1:-1, 1:-1], 2.5, rtol=1e-6)
    assert np.all(y[:, :, 0, 1:-1] < 2.5)  # the border sees only half the kernel (zeros outside)
    # a ramp is interpolated linearly: output o sits at input coordinate (o + 0.5) / 2 - 0.5
    ramp = np.broadcast_to(np.arange(6, dtype=np.float32), (1, 3, 5, 6)).copy()
    y = up(Tensor(ramp)).numpy()
    o = np.arange(1, 11)
    np.testing.assert_allclose(y[0, 1, 4, 1:-1], (o + 0.5) / 2 - 0.5, rtol=1e-6)
    with pytest.raises(ValueError, match="in_channels == out_channels"):
        nn.ConvTranspose2d(3, 2, 4, stride=2, bilinear_init=True)


# ----------------------------------------------------------------------------------------------
# pooling, unpooling, resizing


def test_max_pool_with_indices_and_unpool_reproduce_deck_002():
    x = Tensor(np.array([[[[1, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]]]], np.float32))
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    y, idx = pool(x)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[5, 6], [7, 8]])
    z = unpool(Tensor(np.array([[[[1, 2], [3, 4]]]], np.float32)), idx)
    np.testing.assert_array_equal(
        z.numpy()[0, 0], [[0, 0, 2, 0], [0, 1, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]]
    )
    assert isinstance(nn.MaxPool2d(2)(x), Tensor)


def test_unpool_output_size_restores_odd_sizes():
    x = Tensor(rand((1, 2, 5, 7), 4))
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    assert y.shape == (1, 2, 2, 3)
    z = nn.MaxUnpool2d(2)(y, idx, output_size=x.shape)
    assert z.shape == (1, 2, 5, 7)
    np.testing.assert_array_equal(np.sort(z.numpy()[z.numpy() != 0]), np.sort(y.numpy().ravel()))


def test_avg_pools_and_upsample_layers():
    x = rand((2, 3, 6, 8), 5)
    np.testing.assert_allclose(nn.AvgPool2d(2)(Tensor(x)).numpy(), R.avg_pool2d(x, 2), atol=1e-12)
    np.testing.assert_allclose(
        nn.AdaptiveAvgPool2d(1)(Tensor(x)).numpy(), x.mean(axis=(2, 3), keepdims=True), atol=1e-12
    )
    up = nn.Upsample(scale_factor=2)
    np.testing.assert_array_equal(up(Tensor(x)).numpy(), x.repeat(2, axis=2).repeat(2, axis=3))
    y = nn.Upsample(size=(9, 11), mode="bilinear")(Tensor(x))
    np.testing.assert_allclose(y.numpy(), R.interpolate_bilinear(x, (9, 11), False), atol=1e-10)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        nn.Upsample()


# ----------------------------------------------------------------------------------------------
# batch normalisation


def bn_reference(x, gamma, beta, eps=1e-5):
    """Per channel: (x - mean) / sqrt(var + eps) * gamma + beta, biased variance (a loop)."""
    y = np.empty_like(x)
    for c in range(x.shape[1]):
        v = x[:, c]
        y[:, c] = (v - v.mean()) / np.sqrt(v.var() + eps) * gamma[c] + beta[c]
    return y


def test_batchnorm_training_uses_batch_statistics_and_updates_running_stats():
    bn = nn.BatchNorm2d(3, momentum=0.1).double()
    bn.weight.data[...] = [1.0, 2.0, 0.5]
    bn.bias.data[...] = [0.0, -1.0, 3.0]
    x1, x2 = rand((4, 3, 5, 6), 1) * 2 + 1, rand((4, 3, 5, 6), 2) - 3
    y = bn(Tensor(x1))
    np.testing.assert_allclose(
        y.numpy(), bn_reference(x1, bn.weight.numpy(), bn.bias.numpy()), atol=1e-12
    )
    bn(Tensor(x2))
    # running = 0.9 running + 0.1 batch, variance unbiased (M / (M - 1)), from 0 and 1
    m1, m2 = x1.mean(axis=(0, 2, 3)), x2.mean(axis=(0, 2, 3))
    v1, v2 = x1.var(axis=(0, 2, 3), ddof=1), x2.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(bn.running_mean, 0.9 * (0.1 * m1) + 0.1 * m2, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.9 * (0.9 * 1 + 0.1 * v1) + 0.1 * v2, rtol=1e-12)


def test_batchnorm_eval_uses_running_statistics():
    bn = nn.BatchNorm2d(2).double()
    bn.running_mean[...] = [1.0, -2.0]
    bn.running_var[...] = [4.0, 0.25]
    bn.weight.data[...] = [3.0, 1.0]
    bn.bias.data[...] = [0.5, 0.0]
    bn.eval()
    x = rand((3, 2, 4, 4), 7)
    want = (x - np.array([1.0, -2.0])[:, None, None]) / np.sqrt(
        np.array([4.0, 0.25])[:, None, None] + 1e-5
    ) * np.array([3.0, 1.0])[:, None, None] + np.array([0.5, 0.0])[:, None, None]
    np.testing.assert_allclose(bn(Tensor(x)).numpy(), want, atol=1e-12)
    before = bn.running_mean.copy()
    bn(Tensor(x))
    np.testing.assert_array_equal(bn.running_mean, before)  # eval never updates the statistics


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradcheck(training):
    x = Tensor(rand((2, 3, 3, 4), 8), requires_grad=True)
    g = Tensor(rand((3,), 9) + 1.5, requires_grad=True)
    b = Tensor(rand((3,), 10), requires_grad=True)
    rm, rv = np.array([0.1, -0.2, 0.3]), np.array([1.5, 0.5, 2.0])
    assert gradcheck(
        lambda x, g, b: F.tanh(nn.batch_norm(x, rm.copy(), rv.copy(), g, b, training=training)),
        x,
        g,
        b,
    )


def test_batchnorm_rejects_bad_input():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(
        ValueError,
        match=r"BatchNorm2d\(3\): expected an \(N, 3, H, W\) input, "
        r"got shape \(2, 4, 5, 5\)",
    ):
        bn(Tensor(np.zeros((2, 4, 5, 5), np.float32)))
    with pytest.raises(ValueError, match="more than one value per channel"):
        bn(Tensor(np.zeros((1, 3, 1, 1), np.float32)))
    assert bn.eval()(Tensor(np.zeros((1, 3, 1, 1), np.float32))).shape == (1, 3, 1, 1)


# ----------------------------------------------------------------------------------------------
# dropout and activations


def test_dropout_is_inverted_in_training_and_identity_in_eval():
    ms.manual_seed(0)
    x = Tensor(np.ones((20, 10, 10, 10), np.float32))
    drop = nn.Dropout(0.25)
    y = drop(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01  # 20,000 draws
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)  # survivors scaled by 1 / (1 - p)
    assert drop.eval()(x) is x
    ch = nn.Dropout2d(0.5)(x).numpy()
    per_channel = ch.reshape(20, 10, -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))  # whole maps dropped
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7
    ms.manual_seed(5)
    a = nn.Dropout(0.5)(x).numpy()
    ms.manual_seed(5)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).numpy(), a)
    assert np.all(nn.Dropout(1.0)(x).numpy() == 0)
    with pytest.raises(ValueError, match=r"p is the probability .* got 1.5"):
        nn.Dropout(1.5)


def test_dropout_gradient_is_the_mask():
    ms.manual_seed(3)
    x = Tensor(rand((2, 3, 4, 4), 1), requires_grad=True)
    y = nn.Dropout(0.5)(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), (y.numpy() != 0) * 2.0)


@pytest.mark.parametrize(
    "layer, fn",
    [
        (nn.ReLU(), F.relu),
        (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)),
        (nn.Sigmoid(), F.sigmoid),
        (nn.Tanh(), F.tanh),
        (nn.Softplus(), F.softplus),
        (nn.Softmax(axis=1), lambda x: F.softmax(x, axis=1)),
        (nn.LogSoftmax(axis=1), lambda x: F.log_softmax(x, axis=1)),
        (nn.Identity(), lambda x: x),
    ],
)
def test_activation_layers_match_functions(layer, fn):
    x = Tensor(rand((2, 3, 4, 5), 11))
    np.testing.assert_array_equal(layer(x).numpy(), fn(x).numpy())
    assert layer.num_parameters() == 0


# ----------------------------------------------------------------------------------------------
# a tiny network end to end


def test_tiny_network_gradcheck_input_and_all_parameters():
    ms.manual_seed(4)
    m = Tiny().double()
    x = Tensor(rand((2, 2, 4, 4), 12) + 0.3, requires_grad=True)
    params = [Tensor(p.data.copy(), requires_grad=True) for p in m.parameters()]
    assert gradcheck(lambda x, *ps: call_with(m, ps, x), x, *params, atol=1e-6, rtol=1e-4)
    m.eval()
    assert gradcheck(lambda x, *ps: call_with(m, ps, x), x, *params, atol=1e-6, rtol=1e-4)


def test_forward_hooks_run_and_can_be_removed():
    seen = []
    m = Tiny()
    remove = m.head.register_forward_hook(lambda mod, inp, out: seen.append(out.shape))
    m(Tensor(np.zeros((1, 2, 3, 3), np.float32)))
    remove()
    m(Tensor(np.zeros((1, 2, 3, 3), np.float32)))
    assert seen == [(1, 2, 3, 3)]
