"""ResNet blocks and the (dilated) ResNet backbone (issue 15): values against a NumPy reference
built from tests/reference.py's looped conv, identity vs projection shortcuts, float64
gradchecks, the feature shapes at each output stride, clear errors."""

import numpy as np
import pytest

import minisegnet as ms
import minisegnet.nn as nn
from minisegnet import Tensor, gradcheck
from minisegnet.models.resnet import BasicBlock, Bottleneck, ResNetEncoder

import reference as ref
from conftest import DEVICES
from overfit import with_params


def randomise_bn(block, seed):
    """Random affine parameters and running statistics, so eval-mode BN is not the identity."""
    rng = np.random.default_rng(seed)
    for m in block.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.weight.shape[0]
            m.weight.data[...] = rng.uniform(0.5, 1.5, c)
            m.bias.data[...] = rng.uniform(-0.5, 0.5, c)
            m.running_mean[...] = rng.uniform(-0.5, 0.5, c)
            m.running_var[...] = rng.uniform(0.5, 2.0, c)


def ref_conv_bn(x, seq, relu):
    """conv (from the layer's weights, looped reference) then eval-mode BN, then maybe ReLU."""
    conv, bn = seq
    y = ref.conv2d(x, conv.weight.numpy(), None, conv.stride, conv.padding, conv.dilation)
    scale = bn.weight.numpy() / np.sqrt(bn.running_var + bn.eps)
    y = (y - bn.running_mean[None, :, None, None]) * scale[None, :, None, None]
    y = y + bn.bias.numpy()[None, :, None, None]
    return np.maximum(y, 0) if relu else y


def ref_block(block, x):
    mods = list(block.residual.children())
    convs = [mods[i : i + 2] for i in range(0, len(mods), 3)]  # (conv, bn) pairs, ReLU between
    y = x
    for j, pair in enumerate(convs):
        y = ref_conv_bn(y, pair, relu=j < len(convs) - 1)
    short = (
        x
        if isinstance(block.shortcut, nn.Identity)
        else ref_conv_bn(x, list(block.shortcut.children()), relu=False)
    )
    return np.maximum(y + short, 0)


@pytest.mark.parametrize(
    "cls, cin, ch, stride, dilation",
    [
        (BasicBlock, 4, 4, 1, 1),  # identity shortcut
        (BasicBlock, 3, 5, 2, 1),  # projection (channels and stride)
        (BasicBlock, 4, 4, 1, 2),  # dilated, identity
        (Bottleneck, 8, 2, 1, 1),  # 8 -> 2 -> 8: identity
        (Bottleneck, 3, 2, 2, 2),  # projection to 8 channels, stride 2, dilation 2
    ],
)
def test_block_values_against_reference(cls, cin, ch, stride, dilation):
    ms.manual_seed(1)
    block = cls(cin, ch, stride, dilation).double()
    randomise_bn(block, 2)
    block.eval()
    x = np.random.default_rng(3).standard_normal((2, cin, 7, 6))
    y = block(Tensor(x)).numpy()
    expected = ref_block(block, x)
    out_ch = ch * cls.expansion
    assert y.shape == (2, out_ch, -(-7 // stride), -(-6 // stride)) == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)
    identity = stride == 1 and cin == out_ch
    assert isinstance(block.shortcut, nn.Identity) == identity
    assert block.out_channels == out_ch


@pytest.mark.parametrize("cls", [BasicBlock, Bottleneck])
def test_zeroed_residual_branch_passes_the_input(cls):
    """With the last BN's scale and shift at 0 the residual branch outputs 0, so an identity-
    shortcut block returns ReLU(x) = x for a non-negative x (the output of an earlier block)."""
    ms.manual_seed(0)
    cin = 4 * cls.expansion
    block = cls(cin, 4).double()
    last_bn = list(block.residual.children())[-1]
    last_bn.weight.data[...] = 0
    last_bn.bias.data[...] = 0
    x = np.abs(np.random.default_rng(0).standard_normal((2, cin, 5, 5))) + 0.1
    np.testing.assert_array_equal(block(Tensor(x)).numpy(), x)
    # and the gradient through the "+" reaches the input untouched
    t = Tensor(x, requires_grad=True)
    block(t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.ones_like(x))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "cls, cin, ch, stride, dilation",
    [(BasicBlock, 2, 3, 2, 1), (BasicBlock, 3, 3, 1, 2), (Bottleneck, 3, 2, 2, 1)],
)
def test_block_gradcheck(device, cls, cin, ch, stride, dilation):
    ms.manual_seed(0)
    block = cls(cin, ch, stride, dilation).double().to(device)  # training mode: batch statistics
    x = Tensor(
        np.random.default_rng(1).standard_normal((2, cin, 5, 4)), requires_grad=True, device=device
    )
    fn, params = with_params(block)
    assert gradcheck(fn, x, *params, n_directions=6, name=cls.__name__)


@pytest.mark.parametrize(
    "block, os_, sizes, dilations",
    [
        ("basic", None, [32, 16, 8, 4, 2], [1, 1, 1, 1, 1]),
        ("basic", 16, [32, 16, 8, 4, 2], [1, 1, 1, 1, 1]),
        ("basic", 8, [32, 16, 8, 4, 4], [1, 1, 1, 1, 2]),
        ("bottleneck", 8, [32, 16, 8, 4, 4], [1, 1, 1, 1, 2]),
        ("bottleneck", 4, [32, 16, 8, 8, 8], [1, 1, 1, 2, 4]),
    ],
)
def test_encoder_shapes_per_output_stride(block, os_, sizes, dilations):
    ms.manual_seed(0)
    enc = ResNetEncoder(3, 4, layers=(1, 1, 2, 1), block=block, output_stride=os_)
    feats = enc(
        ms.Tensor(np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32))
    )
    e = 4 if block == "bottleneck" else 1
    widths = [4, 4 * e, 8 * e, 16 * e, 32 * e]
    assert [f.shape for f in feats] == [(1, c, s, s) for c, s in zip(widths, sizes)]
    assert enc.out_channels == widths and enc.dilations == dilations
    assert enc.strides == [32 // s for s in sizes]
    assert enc.output_stride == (os_ or 16)
    assert enc.feature_index(enc.output_stride) == 4  # the last map at that stride
    assert len(enc.stages[2]) == 2
    # the dilated stages' 3x3 convs carry the dilation
    convs = [
        m for m in enc.stages[3].modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)
    ]
    assert {c.dilation for c in convs} == {(dilations[4], dilations[4])}


def test_errors():
    with pytest.raises(ValueError, match="output_stride must be one of"):
        ResNetEncoder(layers=(1, 1), output_stride=8)
    with pytest.raises(ValueError, match="block must be one of"):
        ResNetEncoder(block="dense")
    with pytest.raises(ValueError, match="layers"):
        ResNetEncoder(layers=())
    with pytest.raises(ValueError, match="channels must be a positive int"):
        BasicBlock(3, 0)
    with pytest.raises(ValueError, match=r"expected an \(N, 3, H, W\) input"):
        ResNetEncoder(layers=(1,))(ms.Tensor(np.zeros((1, 2, 4, 4), np.float32)))
    with pytest.raises(ValueError, match="no feature map at stride 3"):
        ResNetEncoder(layers=(1,)).feature_index(3)


@pytest.mark.parametrize(
    "layers, block, torchvision_total, fc, extra",
    [
        # ResNet-18: stage 1 downsamples here (the paper's max-pool is gone), so its first block
        # needs a projection shortcut the paper's does not have: 64 * 64 + 2 * 64 = 4224 parameters
        ((2, 2, 2, 2), "basic", 11_689_512, 512 * 1000 + 1000, 4224),
        # ResNet-50: stage 1 already has a projection (64 -> 256) in the paper
        ((3, 4, 6, 3), "bottleneck", 25_557_032, 2048 * 1000 + 1000, 0),
    ],
)
def test_parameter_counts_match_the_paper(layers, block, torchvision_total, fc, extra):
    """At base width 64 the encoder is ResNet-18 / ResNet-50 (torchvision's published totals)
    without the 1000-class fc layer and with a 3x3 stem conv instead of the 7x7 one."""
    enc = ResNetEncoder(3, 64, layers, block)
    n = sum(p.data.size for p in enc.parameters())
    stem_change = 3 * 64 * 3 * 3 - 3 * 64 * 7 * 7
    assert n == torchvision_total - fc + stem_change + extra
    assert enc.out_channels[-1] == (512 if block == "basic" else 2048)
