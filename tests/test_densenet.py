"""FC-DenseNet's blocks (issue 15): the channel arithmetic m + l k, the concatenation order
against a NumPy reference, transitions' shapes, float64 gradchecks, clear errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_resnet import randomise_bn, with_params

import minisegnet as ms
import minisegnet.nn as nn
from minisegnet import Tensor, gradcheck
from minisegnet.models.densenet import DenseBlock, DenseLayer, TransitionDown, TransitionUp

import reference as ref
from conftest import DEVICES


def ref_layer(layer, x):
    """eval-mode BN - ReLU - conv 3x3 (looped reference conv); dropout is the identity in eval."""
    bn, _, conv, _ = layer.children()
    scale = bn.weight.numpy() / np.sqrt(bn.running_var + bn.eps)
    y = (x - bn.running_mean[None, :, None, None]) * scale[None, :, None, None]
    y = np.maximum(y + bn.bias.numpy()[None, :, None, None], 0)
    return ref.conv2d(y, conv.weight.numpy(), conv.bias.numpy(), 1, 1)


@settings(max_examples=8)
@given(m=st.integers(1, 5), n_layers=st.integers(1, 4), k=st.integers(1, 4), new_only=st.booleans())
def test_channel_arithmetic(m, n_layers, k, new_only):
    block = DenseBlock(m, n_layers, k, new_features_only=new_only)
    y = block(Tensor(np.zeros((1, m, 3, 2), np.float32)))
    expected = n_layers * k + (0 if new_only else m)  # m + l k, or l k on the way up
    assert y.shape == (1, expected, 3, 2) and block.out_channels == expected
    assert [layer.in_channels for layer in block.layers] == [m + i * k for i in range(n_layers)]


@pytest.mark.parametrize("new_only", [False, True])
def test_block_values_and_concatenation_order(new_only):
    ms.manual_seed(0)
    block = DenseBlock(3, 3, 2, new_features_only=new_only).double()
    randomise_bn(block, 1)
    for layer in block.layers:
        layer[2].bias.data[...] = np.random.default_rng(2).standard_normal(2)
    block.eval()
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 4))
    feats, new = x, []
    for layer in block.layers:
        new.append(ref_layer(layer, feats))
        feats = np.concatenate([feats, new[-1]], axis=1)
    expected = np.concatenate(new, axis=1) if new_only else feats
    y = block(Tensor(x)).numpy()
    assert y.shape == expected.shape == (2, 6 if new_only else 9, 5, 4)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)
    if not new_only:
        np.testing.assert_array_equal(y[:, :3], x)  # the input goes through untouched


def test_transitions_shapes_and_values():
    ms.manual_seed(0)
    td = TransitionDown(4, dropout=0.0).double()
    x = np.random.default_rng(0).standard_normal((2, 4, 7, 6))
    y = td(Tensor(x))
    assert y.shape == (2, 4, 3, 3)  # floor(7 / 2), 6 / 2
    assert [type(m).__name__ for m in td.children()] == [
        "BatchNorm2d",
        "ReLU",
        "Conv2d",
        "Dropout",
        "MaxPool2d",
    ]
    assert td[2].kernel_size == (1, 1)
    tu = TransitionUp(4, 3).double()
    assert tu(Tensor(x)).shape == (2, 3, 14, 12)
    skip = np.random.default_rng(1).standard_normal((2, 5, 13, 12))  # odd sizes too
    out = tu(Tensor(x), Tensor(skip)).numpy()
    assert out.shape == (2, 8, 13, 12)
    np.testing.assert_array_equal(out[:, 3:], skip)
    up = ref.conv_transpose2d(x, tu.conv.weight.numpy(), tu.conv.bias.numpy(), 2, 1, 1)
    np.testing.assert_allclose(tu(Tensor(x)).numpy(), up, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out[:, :3], up[:, :, :13], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("device", DEVICES)
def test_gradcheck(device):
    ms.manual_seed(0)
    rng = np.random.default_rng(0)
    cases = [
        (DenseLayer(3, 2, dropout=0.0), (2, 3, 4, 3)),
        (DenseBlock(2, 2, 2, dropout=0.0, new_features_only=True), (2, 2, 4, 3)),
        (TransitionDown(3, dropout=0.0), (2, 3, 4, 4)),
        (TransitionUp(3, 2), (2, 3, 3, 2)),
    ]
    for module, shape in cases:
        module = module.double().to(device)
        # distinct values: no ties in the max-pool
        x = Tensor(
            rng.permutation(np.prod(shape)).reshape(shape) / 7.0 - 1.0,
            requires_grad=True,
            device=device,
        )
        fn, params = with_params(module)
        assert gradcheck(fn, x, *params, n_directions=6, name=type(module).__name__)


def test_dropout_is_on_in_training_only():
    ms.manual_seed(0)
    layer = DenseLayer(3, 4, dropout=0.5)
    x = Tensor(np.random.default_rng(0).standard_normal((4, 3, 6, 6)).astype(np.float32))
    zeros = (layer(x).numpy() == 0).mean()  # ReLU zeros reach the conv, but not its output
    assert zeros > 0.3
    layer.eval()
    assert (layer(x).numpy() == 0).mean() < 0.05


def test_errors():
    with pytest.raises(ValueError, match="growth_rate must be a positive int"):
        DenseBlock(3, 2, 0)
    with pytest.raises(ValueError, match=r"expected an \(N, 3, H, W\)"):
        DenseBlock(3, 2, 2)(Tensor(np.zeros((1, 4, 3, 3), np.float32)))
    with pytest.raises(ValueError, match="about twice the size"):
        TransitionUp(2)(
            Tensor(np.zeros((1, 2, 3, 3), np.float32)), Tensor(np.zeros((1, 2, 9, 6), np.float32))
        )
    with pytest.raises(ValueError, match="Dropout: p"):
        DenseLayer(3, 2, dropout=1.5)


def test_issue15_blocks_on_fake_gpu(monkeypatch):
    """Device discipline of every issue-15 block (ResNet, dense, transitions, convolutionalized
    head) under tests/fake_cupy.py: outputs and gradients stay on the "gpu" and equal the CPU's."""
    from minisegnet.models.resnet import BasicBlock, Bottleneck

    import fake_cupy

    fake_cupy.install(monkeypatch)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 6, 5))
    makers = [
        lambda: BasicBlock(4, 3, stride=2),
        lambda: Bottleneck(4, 2, dilation=2),
        lambda: DenseBlock(4, 2, 3, dropout=0.0),
        lambda: TransitionDown(4, dropout=0.0),
        lambda: TransitionUp(4, 2),
        lambda: nn.convolutionalize(
            [nn.Linear(4 * 3 * 3, 5), nn.ReLU(), nn.Linear(5, 2)], (4, 3, 3)
        ),
    ]
    for make in makers:
        results = []
        for device in ("cpu", "gpu"):
            ms.manual_seed(0)
            module = make().double().to(device)
            t = Tensor(x, device=device, requires_grad=True)
            y = module(t)
            assert y.device == device
            weights = Tensor(np.linspace(-1, 1, y.numel()).reshape(y.shape), device=device)
            (y * weights).sum().backward()
            assert t.grad.device == device
            results.append((y.numpy(), t.grad.numpy()))
        # the fake's matmul sums in another order: float64 rounding only
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
