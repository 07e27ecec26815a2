"""The rest of the decks' models (issue 15): DeepLab v1 (VGG-style atrous backbone at output
stride 8, fc6-fc8, bilinear upsampling), DeepLab v2 (dilated ResNet + ASPP with summed branches)
and FC-DenseNet (the Tiramisu: the paper's layer and parameter counts). Shapes on odd sizes,
structure, ASPP-v2 against a naive sum of looped convs, tiny float64 gradchecks, overfitting one
batch, clear errors. (Every registered model is also covered by tests/test_models.py and the GPU
parity tests through ``MODEL_NAMES``.)"""

import math

import numpy as np
import pytest

import minisegnet as ms
import minisegnet.nn as nn
from minisegnet import Tensor
from minisegnet.models import build_model
from minisegnet.models.deeplab import DeepLabV3, DeepLabV3Plus, scale_atrous_rates
from minisegnet.models.deeplab_v1v2 import V2_PAPER_RATES, ASPPSum, DeepLabV1, DeepLabV2
from minisegnet.models.fcdensenet import FCDenseNet
from minisegnet.models.pspnet import PSPNet
from minisegnet.models.resnet import ResNetEncoder
from minisegnet.summary import summary

import reference as ref
from overfit import (
    check_any_input_size,
    check_rejects_wrong_channels,
    gradcheck_tiny_model,
    overfit_two_masks,
    rand,
)

TINY = {
    "deeplabv1": lambda c, k: DeepLabV1(c, k, base_width=4, depth=3),
    "deeplabv2": lambda c, k: DeepLabV2(c, k, base_width=4, depth=3),
    "deeplabv2-os4": lambda c, k: DeepLabV2(c, k, base_width=4, depth=3, output_stride=4),
    "fcdensenet": lambda c, k: FCDenseNet(c, k, base_width=3, depth=1, layers_per_block=2),
    "pspnet-resnet": lambda c, k: PSPNet(c, k, base_width=4, depth=3, backbone="resnet"),
    "deeplabv3-resnet": lambda c, k: DeepLabV3(c, k, base_width=4, depth=3, backbone="resnet"),
    "deeplabv3plus-resnet": lambda c, k: DeepLabV3Plus(
        c, k, base_width=4, depth=3, backbone="resnet"
    ),
}


@pytest.mark.parametrize("name", list(TINY))
@pytest.mark.parametrize("hw", [(32, 32), (37, 45), (5, 3)])
def test_models_map_any_input_size_to_class_scores(name, hw):
    check_any_input_size(TINY[name], hw)


@pytest.mark.parametrize("name", list(TINY))
def test_models_reject_a_wrong_input_with_the_expected_shape(name):
    check_rejects_wrong_channels(TINY[name])


@pytest.mark.parametrize(
    "name, cls", [("deeplabv1", DeepLabV1), ("deeplabv2", DeepLabV2), ("FC-DenseNet", FCDenseNet)]
)
def test_registry_builds_them_with_the_trainers_options(name, cls):
    m = build_model(name, 3, 4, base_width=8, depth=3)  # minisegnet train's defaults
    assert type(m) is cls
    assert m(rand((2, 3, 32, 32))).shape == (2, 4, 32, 32)
    assert cls.__doc__.splitlines()[0].split(":")[0] in (
        "DeepLab v1 (Chen et al. 2015)",
        "DeepLab v2 (Chen et al. 2017)",
        "FC-DenseNet (Jegou et al. 2017), the One Hundred Layers Tiramisu",
    )


# ----------------------------------------------------------------------------------------------
# DeepLab v1 / v2


def test_deeplabv1_is_dense_at_output_stride_8_with_an_atrous_fc6():
    m = DeepLabV1(3, 4, base_width=4)  # depth 4: widths 4 8 16 32 32, the last stage dilated 2
    assert m.backbone.strides[-1] == 8 and m.backbone.dilations[-1] == 2
    assert m.backbone.kind == "vgg"
    assert m.fc6.conv.kernel_size == (3, 3) and m.fc6.conv.dilation == (2, 2)
    assert m.fc6.conv.padding == (2, 2) and m.fc6.conv.out_channels == 2 * 32
    assert m.fc7.conv.kernel_size == (1, 1) and m.fc8.kernel_size == (1, 1)
    rows = summary(m, (3, 64, 64)).rows
    assert [r.output_shape for r in rows if r.name == "fc8"] == [(1, 4, 8, 8)]  # 64 / 8
    # no learned decoder: the only layer after fc8 is the (parameter-free) bilinear resize
    assert rows[-1].name == "fc8"
    # the paper's LargeFOV rate 12 on a ~40x40 map, scaled to the 8x8 map of a 64x64 image
    assert round(12 * 8 / 40) == 2 == DeepLabV1().fc_rate


def test_aspp_v2_sums_its_atrous_branches():
    ms.manual_seed(1)
    aspp = ASPPSum(3, 2, (1, 2, 4)).double()
    x = rand((2, 3, 7, 6), 2, np.float64)
    naive = sum(
        ref.conv2d(x.numpy(), b.weight.numpy(), b.bias.numpy(), 1, r, r)
        for b, r in zip(aspp.branches, (1, 2, 4))
    )
    np.testing.assert_allclose(aspp(x).numpy(), naive, rtol=1e-12, atol=1e-12)
    with pytest.raises(
        ValueError,
        match=r"ASPPSum: atrous_rates must be a non-empty list of "
        r"positive ints, got \(\)",
    ):
        ASPPSum(3, 2, ())


def test_deeplabv2_rates_backbone_and_head():
    # 6, 12, 18, 24 on a 41x41 map scaled to an 8x8 map, rounded up
    scaled = scale_atrous_rates(8, V2_PAPER_RATES, paper_feature_size=41)
    assert tuple(math.ceil(r) for r in scaled) == (2, 3, 4, 5)
    m = DeepLabV2(3, 4, base_width=4)
    assert m.aspp.atrous_rates == (2, 3, 4, 5)
    assert m.backbone.strides == [1, 2, 4, 8, 8] and m.backbone.dilations == [1, 1, 1, 1, 2]
    assert all(type(b).__name__ == "BasicBlock" for s in m.backbone.stages for b in s)
    # each branch goes from the 32 backbone channels straight to the 4 class scores
    assert [(b.in_channels, b.out_channels, b.dilation) for b in m.aspp.branches] == [
        (32, 4, (r, r)) for r in (2, 3, 4, 5)
    ]
    assert [
        r.output_shape for r in summary(m, (3, 64, 64)).rows if r.name == "aspp.branches.3"
    ] == [(1, 4, 8, 8)]
    m16 = DeepLabV2(
        3, 4, base_width=4, output_stride=16, layers=(1, 1, 1, 1, 1), block="bottleneck"
    )
    assert m16.backbone.strides[-1] == 16 and m16.backbone.out_channels[-1] == 4 * 16 * 4


def test_resnet_backbone_for_pspnet_and_deeplabv3():
    for cls in (PSPNet, DeepLabV3, DeepLabV3Plus):
        m = cls(3, 4, base_width=4, backbone="resnet")  # depth 4, 2 basic blocks per stage
        assert isinstance(m.backbone, ResNetEncoder) and m.backbone.layers == (2, 2, 2, 2)
        assert m.backbone.strides[-1] == 8 and m.backbone.dilations[-1] == 2
    assert DeepLabV3Plus(backbone="resnet").reduce.conv.in_channels == 16 * 2  # stride-4 stage
    with pytest.raises(
        ValueError,
        match=r"PSPNet: backbone must be one of \('vgg', 'mobilenet', "
        r"'resnet'\), got 'vit'",
    ):
        PSPNet(backbone="vit")


# ----------------------------------------------------------------------------------------------
# FC-DenseNet


@pytest.mark.parametrize(
    "make, n_layers, paper_millions, tolerance",
    [
        (FCDenseNet.fc_densenet56, 56, 1.5, 0.10),
        (FCDenseNet.fc_densenet67, 67, 3.5, 0.02),
        (FCDenseNet.fc_densenet103, 103, 9.4, 0.02),
    ],
)
def test_tiramisu_layer_and_parameter_counts_match_the_paper(
    make, n_layers, paper_millions, tolerance
):
    m = make()  # 11 classes (CamVid)
    # the name counts the conv layers: first conv, the dense layers, the transitions, the last 1x1
    convs = [mod for mod in m.modules() if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d))]
    assert len(convs) == n_layers
    # built here: 1.38 M, 3.46 M, 9.32 M (every conv with a bias, BN with 2 weights per channel)
    count = m.num_parameters()
    assert abs(count / (paper_millions * 1e6) - 1) < tolerance, count


def test_tiramisu_channel_arithmetic():
    # first conv 12 channels, k = 3, 2 layers per block, 2 poolings: down 12 -> 18 -> 24 (skips),
    # the bottleneck's 6 new maps go up: 6 + 24 -> 6 new maps; 6 + 18 = 24 -> 24 + 6 = 30, all of
    # which (the last block's input and new maps) go to the classifier
    m = FCDenseNet(3, 4, base_width=3, depth=2, layers_per_block=2)
    assert [b.out_channels for b in m.down_blocks] == [18, 24]
    assert m.bottleneck.out_channels == 6 and m.bottleneck.new_features_only
    assert [b.in_channels for b in m.up_blocks] == [6 + 24, 6 + 18]
    assert [b.new_features_only for b in m.up_blocks] == [True, False]
    assert m.classifier.in_channels == 30
    rows = summary(m, (3, 16, 16)).rows
    shapes = {r.name: r.output_shape for r in rows}
    assert shapes["transitions_down.1.4"] == (1, 24, 4, 4)  # 16 / 2**2
    assert shapes["transitions_up.0.conv"] == (1, 6, 8, 8)  # the bottleneck's 6 new maps, x 2
    assert shapes["transitions_up.1.conv"] == (1, 6, 16, 16)
    with pytest.raises(
        ValueError,
        match=r"FCDenseNet: layers_per_block needs 2 \* depth \+ 1 = 5 "
        r"counts .* got 3",
    ):
        FCDenseNet(depth=2, layers_per_block=(1, 2, 3))


def test_tiramisu_pads_odd_sizes_and_crops_back():
    ms.manual_seed(0)
    m = FCDenseNet(1, 2, base_width=2, depth=2, layers_per_block=1).eval()
    x = rand((1, 1, 13, 10), 3)
    padded = Tensor(np.pad(x.numpy(), ((0, 0), (0, 0), (0, 3), (0, 2))))
    np.testing.assert_array_equal(m(x).numpy(), m(padded).numpy()[:, :, :13, :10])
    with pytest.raises(
        ValueError,
        match=r"FCDenseNet\(depth=2\): input 3x10 is too small; its 2 "
        r"2x2 poolings need at least 4x4",
    ):
        m(rand((1, 1, 3, 10)))


# ----------------------------------------------------------------------------------------------
# gradients and learning


GRAD_MODELS = {
    "deeplabv1": lambda: DeepLabV1(
        1, 2, base_width=2, depth=2, output_stride=2, dropout=0.0, blocks_per_stage=1
    ),
    "deeplabv2": lambda: DeepLabV2(
        1, 2, base_width=2, depth=2, output_stride=2, atrous_rates=(1, 2), blocks_per_stage=1
    ),
    "fcdensenet": lambda: FCDenseNet(1, 2, base_width=2, depth=1, layers_per_block=1, dropout=0.0),
    "deeplabv3-resnet": lambda: DeepLabV3(
        1,
        2,
        base_width=2,
        depth=2,
        output_stride=2,
        atrous_rates=(2,),
        dropout=0.0,
        backbone="resnet",
        blocks_per_stage=1,
    ),
}


@pytest.mark.parametrize("name", list(GRAD_MODELS))
def test_tiny_model_gradcheck(name):
    ms.manual_seed(0)
    m = GRAD_MODELS[name]().double()  # training mode: BN's batch statistics are differentiated
    gradcheck_tiny_model(m, rand((2, 1, 9, 11), 1, np.float64))


OVERFIT = {
    "deeplabv1": lambda: DeepLabV1(1, 2, base_width=4, depth=2, output_stride=2, dropout=0.0),
    "deeplabv2": lambda: DeepLabV2(1, 2, base_width=4, depth=2, output_stride=2),
    "fcdensenet": lambda: FCDenseNet(1, 2, base_width=4, depth=2, layers_per_block=2, dropout=0.0),
}


@pytest.mark.parametrize("name", list(OVERFIT))
def test_overfits_one_batch(name):
    ms.manual_seed(0)
    losses, accuracy = overfit_two_masks(OVERFIT[name](), steps=200, stop_below=0.05)
    assert losses[0] > 0.3 and losses[-1] < 0.05, losses[::10]
    assert accuracy > 0.99, len(losses)
