"""Beyond the three classics (issue 8): the depthwise separable conv (against a naive conv with the
composed weight, and its parameter / multiply-add savings), the MobileNet-style encoder, PSPNet's
pyramid pooling, DeepLab v3 / v3+'s ASPP and decoder: shapes on odd sizes, clear errors, tiny-model
gradchecks, the registry."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minisegnet as ms
import minisegnet.nn as nn
from minisegnet import Tensor, gradcheck
from minisegnet.models import build_model
from minisegnet.models.deeplab import ASPP, DeepLabV3, DeepLabV3Plus, scale_atrous_rates
from minisegnet.models.mobilenet import Encoder, MobileNetEncoder, MobileNetUNet
from minisegnet.models.pspnet import PSPNet, PyramidPooling
from minisegnet.nn.separable import DepthwiseSeparableConv2d
from minisegnet.summary import separable_savings, summary

import reference as ref
from conftest import DEVICES
from overfit import (
    check_any_input_size,
    check_rejects_wrong_channels,
    gradcheck_tiny_model,
    overfit_two_masks,
    rand,
    with_params,
)


def composed_weight(layer):
    """The standard conv kernel a separable layer equals: W[o, c, i, j] = pw[o, c] dw[c, i, j]."""
    dw = layer.depthwise.weight.numpy().astype(np.float64)[:, 0]  # (C_in, kH, kW)
    pw = layer.pointwise.weight.numpy().astype(np.float64)[:, :, 0, 0]  # (C_out, C_in)
    return pw[:, :, None, None] * dw[None]


# ----------------------------------------------------------------------------------------------
# depthwise separable convolution


@settings(max_examples=12)
@given(
    cin=st.integers(1, 3),
    cout=st.integers(1, 4),
    k=st.sampled_from([1, 3]),
    stride=st.integers(1, 2),
    dilation=st.integers(1, 2),
    hw=st.tuples(st.integers(3, 7), st.integers(3, 7)),
    seed=st.integers(0, 99),
)
def test_separable_equals_naive_conv_with_composed_kernel(cin, cout, k, stride, dilation, hw, seed):
    ms.manual_seed(seed)
    layer = DepthwiseSeparableConv2d(cin, cout, k, stride, dilation=dilation).double()
    layer.pointwise.bias.data[...] = np.random.default_rng(seed).standard_normal(cout)
    x = np.random.default_rng(seed + 1).standard_normal((2, cin, *hw))
    y = layer(Tensor(x)).numpy()
    pad = dilation * (k - 1) // 2  # "same" padding by default
    expected = ref.conv2d(
        x, composed_weight(layer), layer.pointwise.bias.numpy(), stride, pad, dilation
    )
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)
    assert layer.depthwise.groups == cin and layer.depthwise.bias is None
    assert layer.pointwise.kernel_size == (1, 1)


@pytest.mark.parametrize("device", DEVICES)
def test_separable_gradcheck_and_mid_norm(device):
    ms.manual_seed(0)
    layer = DepthwiseSeparableConv2d(3, 4, 3, stride=2, dilation=2).double().to(device)
    x = rand((2, 3, 7, 6), 1, np.float64).to(device)
    x.requires_grad = True
    fn, params = with_params(layer)
    assert [p.shape for p in params] == [(3, 1, 3, 3), (4, 3, 1, 1), (4,)]
    assert gradcheck(fn, x, *params)  # every element of the input and of the 3 weights
    assert layer(x).shape == (2, 4, 4, 3)  # (7 + 4 - 5) // 2 + 1 = 4, (6 + 4 - 5) // 2 + 1 = 3
    # MobileNet's block: batch-norm + ReLU between the two halves
    block = DepthwiseSeparableConv2d(3, 4, mid_norm=True).double().to(device)
    assert [type(m).__name__ for m in block.children()] == [
        "Conv2d",
        "BatchNorm2d",
        "ReLU",
        "Conv2d",
    ]
    assert gradcheck(lambda x: block(x), x, n_directions=6)


def test_separable_layer_errors():
    with pytest.raises(ValueError, match=r"padding=None \('same'\) needs an odd kernel_size"):
        DepthwiseSeparableConv2d(4, 8, 2)
    layer = DepthwiseSeparableConv2d(4, 8)
    with pytest.raises(
        ValueError,
        match=r"DepthwiseSeparableConv2d\(4, 8\): expected an "
        r"\(N, 4, H, W\) input, got shape \(1, 3, 5, 5\)",
    ):
        layer(Tensor(np.zeros((1, 3, 5, 5), np.float32)))
    assert DepthwiseSeparableConv2d(4, 8, 2, padding=0)(rand((1, 4, 5, 5))).shape == (1, 8, 4, 4)


def test_summary_savings_3x3_conv_32_to_64_on_56x56():
    """The issue's example: ratio 1/C_out + 1/k^2 = 1/64 + 1/9 for both counts (no bias)."""
    s = separable_savings(32, 64, 3, (56, 56))
    assert s.standard.total_params == 64 * 32 * 9 == 18_432
    assert [r.params for r in s.separable.rows] == [32 * 9, 32 * 64] == [288, 2_048]
    assert s.separable.total_params == 2_336
    assert s.standard.total_mult_adds == 56 * 56 * 64 * 32 * 9 == 57_802_752
    assert [r.mult_adds for r in s.separable.rows] == [903_168, 6_422_528]  # 56*56*32*9, *32*64
    assert s.separable.total_mult_adds == 7_325_696
    exact = Fraction(1, 64) + Fraction(1, 9)
    assert Fraction(s.separable.total_mult_adds, s.standard.total_mult_adds) == exact
    assert Fraction(s.separable.total_params, s.standard.total_params) == exact
    assert abs(s.mult_add_ratio - float(exact)) < 1e-12 and abs(s.formula_ratio - 0.126736) < 1e-6
    text = str(s)
    for number in ("18,432", "2,336", "57,802,752", "7,325,696", "903,168", "6,422,528", "7.89x"):
        assert number in text


def test_summary_savings_with_stride_dilation_and_bias():
    s = separable_savings(16, 24, 5, (20, 18), stride=2, dilation=2, bias=True)
    # output 10x9; biases: 24 on the standard conv, 24 on the pointwise conv only
    assert s.standard.output_shape == s.separable.output_shape == (1, 24, 10, 9)
    assert s.standard.total_params == 24 * 16 * 25 + 24
    assert s.separable.total_params == 16 * 25 + 16 * 24 + 24
    assert s.standard.total_mult_adds == 10 * 9 * 24 * 16 * 25
    assert s.separable.total_mult_adds == 10 * 9 * 16 * 25 + 10 * 9 * 16 * 24
    assert Fraction(s.separable.total_mult_adds, s.standard.total_mult_adds) == Fraction(
        1, 24
    ) + Fraction(1, 25)
    # the standard equivalent has the same geometry
    sep = DepthwiseSeparableConv2d(16, 24, 5, stride=2, dilation=2)
    std = sep.standard_equivalent()
    assert (std.kernel_size, std.stride, std.padding, std.dilation) == (
        (5, 5),
        (2, 2),
        (4, 4),
        (2, 2),
    )


# ----------------------------------------------------------------------------------------------
# encoder


def test_encoder_strides_dilations_and_widths():
    e = Encoder(3, base_width=4, depth=4, output_stride=8, kind="vgg")
    assert e.strides == [1, 2, 4, 8, 8] and e.dilations == [1, 1, 1, 1, 2]
    assert e.out_channels == [4, 8, 16, 32, 32]  # capped at 8 * base_width
    feats = e(rand((2, 3, 37, 45)))
    assert [f.shape[2:] for f in feats] == [(37, 45), (19, 23), (10, 12), (5, 6), (5, 6)]
    last = e.stages[3][0].conv
    assert last.stride == (1, 1) and last.dilation == (2, 2) and last.padding == (2, 2)
    assert e.feature_index(4) == 2 and e.feature_index(8) == 4
    m = MobileNetEncoder(3, base_width=4, depth=3, output_stride=2)
    assert m.strides == [1, 2, 2, 2] and m.dilations == [1, 1, 2, 4]
    assert isinstance(m.stages[0][0].conv, DepthwiseSeparableConv2d)
    # receptive field of the last map: stem 3, 5; stage 1 (stride 2) +2, +4; the dilated stages
    # grow it as if they had downsampled: dilation 2 (k_eff 5) +8, +8; dilation 4 (k_eff 9) +16, +16
    last = summary(m, (3, 16, 16)).rows[-1]
    assert last.output_shape == (1, 32, 8, 8)
    assert last.receptive_field == (Fraction(59), Fraction(59)) and last.jump == (2, 2)
    with pytest.raises(ValueError, match=r"output_stride must be one of \[1, 2, 4, 8\]"):
        Encoder(depth=3, output_stride=16)
    with pytest.raises(ValueError, match=r"kind must be one of \('mobilenet', 'vgg'\)"):
        Encoder(kind="resnet")
    with pytest.raises(
        ValueError,
        match=r"no feature map at stride 16; the strides are "
        r"\[1, 2, 4, 8\]",
    ):
        e.feature_index(16)


def test_mobilenet_encoder_is_cheaper_than_the_standard_one():
    mob = summary(Encoder(3, 16, 3, kind="mobilenet"), (3, 64, 64))
    vgg = summary(Encoder(3, 16, 3, kind="vgg"), (3, 64, 64))
    assert mob.rows[-1].output_shape == vgg.rows[-1].output_shape == (1, 128, 8, 8)
    # standard: 3x3 convs 3-16-16 | 16-32-32 | 32-64-64 | 64-128-128, plus BN (2 per channel)
    convs = 9 * (3 * 16 + 16 * 16 + 16 * 32 + 32 * 32 + 32 * 64 + 64 * 64 + 64 * 128 + 128 * 128)
    bn = 2 * 2 * (16 + 32 + 64 + 128)
    assert vgg.total_params == convs + bn == 294_000
    # separable: the stem conv stays standard; each other block: dw 9 C_in + BN + pw C_in C_out + BN
    blocks = [(16, 16), (16, 32), (32, 32), (32, 64), (64, 64), (64, 128), (128, 128)]
    sep = 9 * 3 * 16 + 2 * 16 + sum(9 * a + 2 * a + a * b + 2 * b for a, b in blocks)
    assert mob.total_params == sep == 37_776
    assert mob.total_mult_adds == 9_297_920 and vgg.total_mult_adds == 53_919_744


# ----------------------------------------------------------------------------------------------
# shapes of the four models

TINY = {
    "pspnet": lambda c, k: PSPNet(c, k, base_width=4, depth=3),
    "pspnet-mobilenet": lambda c, k: PSPNet(c, k, base_width=4, depth=3, backbone="mobilenet"),
    "deeplabv3": lambda c, k: DeepLabV3(c, k, base_width=4, depth=3),
    "deeplabv3plus": lambda c, k: DeepLabV3Plus(c, k, base_width=4, depth=3),
    "deeplabv3plus-mobilenet": lambda c, k: DeepLabV3Plus(
        c, k, base_width=4, depth=3, backbone="mobilenet"
    ),
    "unet-mobilenet": lambda c, k: MobileNetUNet(c, k, base_width=4, depth=3),
}


@pytest.mark.parametrize("name", list(TINY))
@pytest.mark.parametrize("hw", [(64, 64), (37, 45), (5, 3)])
def test_models_map_any_input_size_to_class_scores(name, hw):
    check_any_input_size(TINY[name], hw)


@pytest.mark.parametrize("name", list(TINY))
def test_models_reject_a_wrong_input_with_the_expected_shape(name):
    check_rejects_wrong_channels(TINY[name])


def test_pspnet_pyramid_bins_and_output_stride_8():
    ms.manual_seed(0)
    m = PSPNet(3, 4, base_width=4)  # depth 4, widths 4 8 16 32 32, stride 8 then dilated
    assert m.backbone.strides[-1] == 8 and m.backbone.dilations[-1] == 2
    assert m.ppm.bins == (1, 2, 3, 6) and m.ppm.branch_channels == 8 and m.ppm.out_channels == 64
    rows = summary(m, (3, 64, 64)).rows
    pooled = [r.output_shape for r in rows if r.type == "AdaptiveAvgPool2d"]
    assert pooled == [(1, 32, 1, 1), (1, 32, 2, 2), (1, 32, 3, 3), (1, 32, 6, 6)]
    assert [r.output_shape for r in rows if r.name == "fuse.conv"] == [(1, 8, 8, 8)]
    # the global (1x1) bin comes back as the same vector at every pixel of the 8x8 map
    ppm = PyramidPooling(4, (1, 3)).eval()
    y = ppm(rand((1, 4, 8, 8), 3)).numpy()
    assert ppm.branch_channels == 2 and y.shape == (1, 4 + 2 * 2, 8, 8)
    np.testing.assert_array_equal(y[0, :4], ppm(rand((1, 4, 8, 8), 3)).numpy()[0, :4])
    np.testing.assert_allclose(y[0, 4:6], y[0, 4:6, :1, :1] * np.ones((1, 8, 8)), rtol=1e-6)
    assert np.ptp(y[0, 6:8] + y[0, 4:6]) > 0  # the 3x3 bins differ across the map
    with pytest.raises(ValueError, match="bins must be positive ints"):
        PyramidPooling(4, (0, 2))


def test_pyramid_pooling_matches_a_naive_computation():
    ms.manual_seed(1)
    ppm = PyramidPooling(2, (2,)).double().eval()
    x = rand((1, 2, 5, 6), 4, np.float64)
    conv = ppm.branches[0][1]
    w = conv.conv.weight.numpy()[:, :, 0, 0]
    scale = conv.bn.weight.numpy() / np.sqrt(conv.bn.running_var + conv.bn.eps)
    pooled = ref.adaptive_avg_pool2d(x.numpy(), (2, 2))
    branch = np.maximum(np.einsum("oc,nchw->nohw", w, pooled) * scale[None, :, None, None], 0)
    up = ref.interpolate_bilinear(branch, (5, 6), align_corners=False)
    np.testing.assert_allclose(ppm(x).numpy(), np.concatenate([x.numpy(), up], 1), atol=1e-12)


def test_aspp_branches_rates_and_image_pooling():
    aspp = ASPP(8, 6, (2, 3, 4))
    kinds = [
        (type(b).__name__, getattr(getattr(b, "conv", None), "dilation", None))
        for b in aspp.branches
    ]
    assert kinds == [
        ("ConvBlock", (1, 1)),
        ("ConvBlock", (2, 2)),
        ("ConvBlock", (3, 3)),
        ("ConvBlock", (4, 4)),
        ("ImagePooling", None),
    ]
    assert [b.conv.kernel_size for b in aspp.branches[:4]] == [(1, 1), (3, 3), (3, 3), (3, 3)]
    assert [b.conv.padding for b in aspp.branches[1:4]] == [(2, 2), (3, 3), (4, 4)]
    assert aspp.project.conv.in_channels == 5 * 6
    aspp.eval()
    x = rand((1, 8, 8, 8), 5)
    pooled = aspp.branches[4](x).numpy()
    assert pooled.shape == (1, 6, 8, 8)
    np.testing.assert_allclose(pooled, pooled[:, :, :1, :1] * np.ones((1, 1, 8, 8)), rtol=1e-6)
    assert aspp(x).shape == (1, 6, 8, 8)
    sep = ASPP(8, 6, (2,), separable=True)
    assert isinstance(sep.branches[1].conv, DepthwiseSeparableConv2d)
    assert sep.branches[1].conv.dilation == (2, 2)
    with pytest.raises(ValueError, match=r"atrous_rates must be positive ints, got \(0, 2\)"):
        ASPP(8, 6, (0, 2))


def test_atrous_rate_defaults_scale_the_papers_rates():
    rates = scale_atrous_rates(8)  # 6, 12, 18 at a 33x33 map -> an 8x8 map
    np.testing.assert_allclose(rates, (48 / 33, 96 / 33, 144 / 33))
    m = DeepLabV3(3, 4, base_width=4)
    assert m.aspp.atrous_rates == (2, 3, 4) and m.backbone.output_stride == 8
    # the largest rate's kernel spans more than the 8x8 map (37 > 33 in the paper)
    assert 2 * 4 + 1 > 8


def test_deeplabv3plus_fuses_the_stride_4_map():
    ms.manual_seed(0)
    m = DeepLabV3Plus(3, 4, base_width=4)
    assert m.low_level_stride == 4 and m.backbone.strides[m.low_index] == 4
    rows = summary(m, (3, 64, 64)).rows
    assert [r.output_shape for r in rows if r.name == "reduce.conv"] == [(1, 4, 16, 16)]
    assert [r.output_shape for r in rows if r.name == "aspp.project.conv"] == [(1, 16, 8, 8)]
    assert rows[-1].output_shape == (1, 4, 16, 16) and rows[-1].name == "classifier"
    assert m.decoder[0].conv.in_channels == 16 + 4
    with pytest.raises(
        ValueError,
        match=r"low_level_stride must be a stride finer than the "
        r"output stride 8, one of \[1, 2, 4\]; got 8",
    ):
        DeepLabV3Plus(low_level_stride=8)


def test_image_pooling_needs_a_batch_of_two_in_training():
    m = DeepLabV3(1, 2, base_width=2, depth=2)
    with pytest.raises(ValueError, match="use a batch of 2 or more, or call model.eval"):
        m(rand((1, 1, 8, 8)))
    assert m.eval()(rand((1, 1, 8, 8))).shape == (1, 2, 8, 8)


# ----------------------------------------------------------------------------------------------
# gradients: random-direction gradchecks of tiny float64 models (input and every weight)


GRAD_MODELS = {
    "pspnet": lambda: PSPNet(1, 2, base_width=2, depth=2, output_stride=2, dropout=0.0),
    "deeplabv3": lambda: DeepLabV3(
        1, 2, base_width=2, depth=2, output_stride=2, atrous_rates=(2,), dropout=0.0
    ),
    "deeplabv3plus": lambda: DeepLabV3Plus(
        1,
        2,
        base_width=2,
        depth=2,
        output_stride=4,
        low_level_stride=2,
        atrous_rates=(2,),
        dropout=0.0,
    ),
    "deeplabv3plus-mobilenet": lambda: DeepLabV3Plus(
        1,
        2,
        base_width=2,
        depth=2,
        output_stride=4,
        low_level_stride=2,
        atrous_rates=(2,),
        dropout=0.0,
        backbone="mobilenet",
    ),
    "unet-mobilenet": lambda: MobileNetUNet(1, 2, base_width=2, depth=2, blocks_per_stage=1),
}


@pytest.mark.parametrize("name", list(GRAD_MODELS))
def test_tiny_model_gradcheck(name):
    ms.manual_seed(0)
    m = GRAD_MODELS[name]().double()  # training mode: BN's batch statistics are differentiated
    gradcheck_tiny_model(m, rand((2, 1, 9, 11), 1, np.float64))


# ----------------------------------------------------------------------------------------------
# learning, state dicts, the registry


def test_deeplabv3plus_overfits_one_batch():
    ms.manual_seed(0)
    m = DeepLabV3Plus(1, 2, base_width=4, depth=3, low_level_stride=2, dropout=0.0)
    losses, accuracy = overfit_two_masks(m, steps=120, stop_below=0.1)
    assert losses[0] > 0.3 and losses[-1] < 0.1, losses[::10]
    assert accuracy > 0.97


@pytest.mark.parametrize("name", list(TINY))
def test_state_dict_round_trip(name):
    ms.manual_seed(1)
    a = TINY[name](3, 4)
    x = rand((2, 3, 24, 24), 2)
    a(x)
    a.eval()
    ms.manual_seed(2)
    b = TINY[name](3, 4).eval()
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b(x).numpy(), a(x).numpy())


@pytest.mark.parametrize(
    "name, cls",
    [
        ("pspnet", PSPNet),
        ("deeplabv3", DeepLabV3),
        ("deeplabv3plus", DeepLabV3Plus),
        ("unet-mobilenet", MobileNetUNet),
    ],
)
def test_registry_builds_the_new_models(name, cls):
    m = build_model(name, 1, 3, base_width=2)
    assert type(m) is cls
    assert m(rand((2, 1, 20, 20))).shape == (2, 3, 20, 20)
    assert isinstance(nn.DepthwiseSeparableConv2d, type)
    assert nn.DepthwiseSeparableConv2d is DepthwiseSeparableConv2d
