"""minisegnet.summary: deck 003's operation counts and deck 001's receptive fields, read off real
layers; the table; the model is left as it was."""

import numpy as np
import pytest

import minisegnet.nn as nn
from minisegnet import Tensor
from minisegnet.models import UNet
from minisegnet.summary import Summary, summary


def test_deck003_five_by_five_conv_costs_120m_multiplies():
    s = summary(nn.Conv2d(192, 32, 5, padding=2), (192, 28, 28))
    assert isinstance(s, Summary)
    assert s.rows[0].output_shape == (1, 32, 28, 28)
    assert s.rows[0].mult_adds == 120_422_400  # (28 * 28 * 32) * (5 * 5 * 192)
    assert s.total_mult_adds == 120_422_400
    assert "120,422,400" in str(s)


def test_deck003_one_by_one_bottleneck_costs_12m():
    s = summary(
        nn.Sequential(nn.Conv2d(192, 16, 1), nn.Conv2d(16, 32, 5, padding=2)), (192, 28, 28)
    )
    assert [r.mult_adds for r in s.rows] == [2_408_448, 10_035_200]  # 28*28*16*192, 28*28*32*5*5*16
    assert s.total_mult_adds == 12_443_648
    assert [r.params for r in s.rows] == [192 * 16 + 16, 16 * 25 * 32 + 32]
    assert s.total_params == s.trainable_params == 3_088 + 12_832


def test_multiply_adds_scale_with_batch_and_groups_and_transposed_convs():
    s = summary(nn.Conv2d(4, 6, 3, padding=1, groups=2), (3, 4, 5, 5))
    assert s.total_mult_adds == 3 * 5 * 5 * 6 * 2 * 9
    t = summary(nn.ConvTranspose2d(4, 6, 2, stride=2), (4, 5, 5))
    assert t.rows[0].output_shape == (1, 6, 10, 10)
    assert t.total_mult_adds == 5 * 5 * 4 * 6 * 2 * 2  # every input times the whole kernel


@pytest.mark.parametrize("layers, field", [(1, 3), (2, 5), (49, 99)])
def test_deck001_receptive_field_of_stacked_3x3_convs(layers, field):
    net = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(layers)])
    s = summary(net, (1, 8, 8))
    assert s.receptive_field == (field, field) == (1 + 2 * layers, 1 + 2 * layers)
    assert [r.receptive_field[0] for r in s.rows] == list(range(3, 2 * layers + 2, 2))
    assert s.jump == (1, 1)


def test_deck001_twelve_convs_in_pairs_with_five_pools_see_284():
    layers = []
    for pair in range(6):
        layers += [nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, padding=1)]
        if pair < 5:
            layers.append(nn.MaxPool2d(2))
    s = summary(nn.Sequential(*layers), (1, 32, 32))
    # r: 5, pool 6 (j 2), 14, 16 (j 4), 32, 36 (j 8), 68, 76 (j 16), 140, 156 (j 32), 220, 284
    assert [int(r.receptive_field[0]) for r in s.rows] == [
        3,
        5,
        6,
        10,
        14,
        16,
        24,
        32,
        36,
        52,
        68,
        76,
        108,
        140,
        156,
        220,
        284,
    ]
    assert s.receptive_field == (284, 284) and s.jump == (32, 32)
    assert s.output_shape == (1, 1, 1, 1)


def test_dilation_and_rectangular_kernels():
    s = summary(nn.Conv2d(1, 1, 3, dilation=2, padding=2), (1, 9, 9))  # 3x3 covering 5x5 (deck 002)
    assert s.receptive_field == (5, 5)
    s = summary(nn.Conv2d(1, 1, (3, 5), stride=(1, 2)), (1, 9, 9))
    assert s.receptive_field == (3, 5) and s.jump == (1, 2)
    assert "3x5" in str(s)


def test_unet_summary_follows_skip_connections_and_totals():
    m = UNet(3, 4, base_width=2, depth=4)
    s = summary(m, (3, 64, 64))
    assert s.output_shape == (1, 4, 64, 64)
    assert s.total_params == m.num_parameters()
    assert sum(r.params for r in s.rows) == m.num_parameters()
    # encoder: 5, 6 | 14, 16 | 32, 36 | 68, 76 | bottleneck 140 (jump 16); each up-conv halves
    # the jump and adds nothing (k = s = 2), each decoder conv adds 2 * jump:
    # 140 + 16 + 16 = 172, + 8 + 8 = 188, + 4 + 4 = 196, + 2 + 2 = 200
    assert s.receptive_field == (200, 200) and s.jump == (1, 1)
    first_up = next(r for r in s.rows if r.name == "up.0")
    assert first_up.type == "ConvTranspose2d" and first_up.jump == (8, 8)
    text = str(s)
    assert "down.0.conv1.conv" in text and "Receptive field:     200 pixels" in text


def test_summary_leaves_the_model_as_it_was():
    m = UNet(1, 2, base_width=2, depth=2, dropout=0.5)
    m.bottleneck.eval()
    frozen = m.head.weight
    frozen.requires_grad = False
    before = m.state_dict()
    s = summary(m, (2, 1, 16, 16))
    assert s.trainable_params == m.num_parameters() - frozen.numel()
    after = m.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)  # BN statistics untouched
    assert m.training and m.down.training and not m.bottleneck.training
    assert not frozen.requires_grad
    assert all(p.requires_grad for p in m.parameters() if p is not frozen)
    assert not any(layer._forward_hooks for layer in m.modules())  # summary's hooks removed
    y = m(Tensor(np.zeros((2, 1, 16, 16), np.float32)))
    assert y.requires_grad
    assert len(summary(m, (2, 1, 16, 16)).rows) == len(s.rows)  # no hook left to count twice


def test_summary_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"input_shape must be \(C, H, W\) or \(N, C, H, W\)"):
        summary(nn.ReLU(), (8, 8))
    with pytest.raises(TypeError, match="expected an nn.Module"):
        summary(lambda x: x, (1, 8, 8))


def test_summary_owns_the_layer_rules_and_takes_new_ones():
    """The rules live in minisegnet.summary (no layer carries a summary hook); a layer of one's
    own is taught with register_layer, and a subclass inherits its parent's rule."""
    from minisegnet.summary import MULT_ADDS, RECEPTIVE_FIELDS, register_layer

    for layer in (
        nn.Conv2d(1, 1, 3),
        nn.ConvTranspose2d(1, 1, 3),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(1),
        nn.Linear(2, 2),
        nn.Upsample(scale_factor=2),
    ):
        assert not hasattr(layer, "_mult_adds") and not hasattr(layer, "_receptive_field")

    class Shift(nn.Module):  # a 2x2 window, stride 1, one multiply-add per output element
        def forward(self, x):
            return x[:, :, 1:, 1:] + x[:, :, :-1, :-1]

    class WideConv(nn.Conv2d):
        pass

    try:
        register_layer(
            Shift,
            mult_adds=lambda m, x, y: int(np.prod(y)),
            receptive_field=lambda m, r, j, x, y: ((r[0] + j[0], r[1] + j[1]), j),
        )
        s = summary(nn.Sequential(WideConv(1, 2, 3), Shift(), Shift()), (1, 9, 9))
        assert [row.mult_adds for row in s.rows] == [7 * 7 * 2 * 9, 6 * 6 * 2, 5 * 5 * 2]
        assert [int(row.receptive_field[0]) for row in s.rows] == [3, 4, 5]
    finally:
        MULT_ADDS.pop(Shift, None)
        RECEPTIVE_FIELDS.pop(Shift, None)
