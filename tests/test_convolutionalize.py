"""Convolutionalization (issue 15): a classifier's Linear layers as convolutions give exactly the
classifier's outputs on the training size and, on a larger input, a score map whose every
position is the classifier applied to that window."""

import numpy as np
import pytest

import minisegnet as ms
import minisegnet.nn as nn
from minisegnet import Tensor


def classifier(c=2, h=3, w=4, hidden=5, classes=3):
    ms.manual_seed(0)
    return (
        nn.Sequential(
            nn.Linear(c * h * w, hidden),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(hidden, 6),
            nn.Tanh(),
            nn.Linear(6, classes),
        )
        .double()
        .eval()
    )


def classify(head, x):
    return head(Tensor(x.reshape(x.shape[0], -1), device=head[0].weight.device)).numpy()


def test_equal_on_training_size(device):
    head = classifier().to(device)
    conv = nn.convolutionalize(head, (2, 3, 4))
    assert [type(m).__name__ for m in conv.children()] == [
        "Conv2d",
        "ReLU",
        "Dropout",
        "Conv2d",
        "Tanh",
        "Conv2d",
    ]
    assert conv[0].kernel_size == (3, 4) and conv[3].kernel_size == (1, 1)
    assert conv[0].weight.device == device and conv[0].weight.dtype == np.float64
    x = np.random.default_rng(1).standard_normal((5, 2, 3, 4))
    y = conv(Tensor(x, device=device))
    assert y.shape == (5, 3, 1, 1)
    np.testing.assert_allclose(y.numpy().reshape(5, 3), classify(head, x), rtol=1e-12, atol=1e-12)
    if device == "cpu":  # weights are copies: training one does not move the other
        assert not np.shares_memory(conv[0].weight.data, head[0].weight.data)
        assert not np.shares_memory(conv[5].bias.data, head[5].bias.data)


def test_score_map_on_larger_input():
    head = classifier()
    conv = nn.convolutionalize(list(head.children()), (2, 3, 4))
    x = np.random.default_rng(2).standard_normal((2, 2, 7, 9))
    scores = conv(Tensor(x)).numpy()
    assert scores.shape == (2, 3, 7 - 3 + 1, 9 - 4 + 1)  # one score vector per 3x4 window
    for r, s in [(0, 0), (2, 3), (4, 5), (1, 4), (3, 0)]:
        window = x[:, :, r : r + 3, s : s + 4]
        np.testing.assert_allclose(
            scores[:, :, r, s], classify(head, window), rtol=1e-12, atol=1e-12
        )
    assert np.abs(scores[:, :, 0, 0] - scores[:, :, 4, 5]).max() > 1e-3  # windows differ


def test_without_bias_and_a_single_layer():
    ms.manual_seed(1)
    lin = nn.Linear(12, 2, bias=False).double()
    conv = nn.convolutionalize([lin], (3, 2, 2))
    assert conv[0].bias is None
    x = np.random.default_rng(3).standard_normal((4, 3, 2, 2))
    np.testing.assert_allclose(
        conv(Tensor(x)).numpy()[:, :, 0, 0],
        lin(Tensor(x.reshape(4, -1))).numpy(),
        rtol=1e-12,
        atol=1e-12,
    )


def test_errors():
    head = classifier()
    with pytest.raises(ValueError, match=r"Linear\(24, 5\) but receives the flattened \(2, 3, 3\)"):
        nn.convolutionalize(head, (2, 3, 3))
    with pytest.raises(ValueError, match=r"in_shape must be \(C, H, W\)"):
        nn.convolutionalize(head, (24,))
    with pytest.raises(ValueError, match="Softmax.*cannot be converted"):
        nn.convolutionalize([nn.Linear(4, 2), nn.Softmax(axis=-1)], (1, 2, 2))
    with pytest.raises(ValueError, match="no Linear layer"):
        nn.convolutionalize([nn.ReLU()], (1, 2, 2))
    with pytest.raises(
        ValueError,
        match=r"layer 2 is Linear\(4, 2\) but receives the previous "
        r"layer's 3 features",
    ):
        nn.convolutionalize([nn.Linear(4, 3), nn.ReLU(), nn.Linear(4, 2)], (1, 2, 2))
