"""max_pool2d (with indices), max_unpool2d, avg_pool2d, adaptive_avg_pool2d."""

import numpy as np
import pytest
from backends import BACKENDS, WHERE, running_on
from hypothesis import given, settings
from hypothesis import strategies as st

import minisegnet.functional as F
import minisegnet.nn as nn
from minisegnet import Tensor, gradcheck

import reference as R


@st.composite
def pool_params(draw, max_hw=9):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    hw = (
        draw(st.integers(max(1, k[0] - 2 * p[0]), max_hw)),
        draw(st.integers(max(1, k[1] - 2 * p[1]), max_hw)),
    )
    return dict(
        k=k,
        s=s,
        p=p,
        shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)), *hw),
        seed=draw(st.integers(0, 99)),
    )


def distinct(shape, seed):
    """Values without ties, spaced 1 apart (so max-pool is differentiable everywhere)."""
    rng = np.random.default_rng(seed)
    return rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) - 7.5


@pytest.mark.parametrize("where", WHERE)
@given(c=pool_params())
def test_max_pool_values_and_indices_match_reference(where, c):
    x = distinct(c["shape"], c["seed"])
    with running_on(where) as device:
        y, idx = F.max_pool2d(Tensor(x, device=device), c["k"], c["s"], c["p"], return_indices=True)
        assert y.device == idx.device == device
    ref_y, ref_idx = R.max_pool2d(x, c["k"], c["s"], c["p"])
    np.testing.assert_array_equal(y.numpy(), ref_y)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)
    assert idx.dtype == np.int64 and not idx.requires_grad
    # the index points at the value: x[n, c].flat[idx] == y
    n, ch = x.shape[:2]
    flat = x.reshape(n, ch, -1)
    np.testing.assert_array_equal(
        np.take_along_axis(flat, idx.numpy().reshape(n, ch, -1), 2), y.numpy().reshape(n, ch, -1)
    )


@pytest.mark.parametrize("where", WHERE)
@given(c=pool_params())
def test_max_pool_ties_pick_the_first_maximum_in_row_major_order(where, c):
    """After a ReLU many window values tie (zeros): the index is the first maximum, scanning the
    window row by row, as in the reference (and PyTorch)."""
    x = np.random.default_rng(c["seed"]).integers(0, 3, c["shape"]).astype(np.float32)
    with running_on(where) as device:
        y, idx = F.max_pool2d(Tensor(x, device=device), c["k"], c["s"], c["p"], return_indices=True)
    ref_y, ref_idx = R.max_pool2d(x, c["k"], c["s"], c["p"])
    np.testing.assert_array_equal(y.numpy(), ref_y)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)


@pytest.mark.parametrize("where", WHERE)
def test_max_pool_wide_kernel_and_padding_counts_as_minus_infinity(where):
    """Kernel 5, stride 1, padding 2 on negative values: padding never wins (it is -inf, not 0)."""
    x = -1 - distinct((1, 2, 6, 7), 3) - 10
    with running_on(where) as device:
        y, idx = F.max_pool2d(Tensor(x, device=device), 5, stride=1, padding=2, return_indices=True)
    ref_y, ref_idx = R.max_pool2d(x, 5, 1, 2)
    assert (y.numpy() < 0).all()
    np.testing.assert_array_equal(y.numpy(), ref_y)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)


@pytest.mark.parametrize("where", WHERE)
@settings(max_examples=8)
@given(c=pool_params(max_hw=6))
def test_max_pool_gradient(where, c):
    with running_on(where) as device:
        x = Tensor(distinct(c["shape"], c["seed"]), requires_grad=True, device=device)
        gradcheck(lambda a: F.max_pool2d(a, c["k"], c["s"], c["p"]), x, name="max_pool2d")


@pytest.mark.parametrize("where", WHERE)
def test_max_pool_with_indices_is_one_two_output_op(where):
    """Values and indices come from one graph node; the indices carry no gradient, and backward
    through the values alone is the unpool of dy."""
    x = distinct((1, 2, 4, 6), 8)
    g = np.random.default_rng(8).standard_normal((1, 2, 2, 3))
    with running_on(where) as device:
        xt = Tensor(x, requires_grad=True, device=device)
        y, idx = F.max_pool2d(xt, 2, return_indices=True)
        assert y.creator is not None and idx.creator is None and not idx.requires_grad
        y.backward(Tensor(g, device=device))
    np.testing.assert_array_equal(xt.grad.numpy(), R.max_unpool2d(g, idx.numpy(), (4, 6)))


@pytest.mark.parametrize("where", BACKENDS)
@given(c=pool_params())
def test_avg_pool_matches_reference(where, c):
    x = np.random.default_rng(c["seed"]).standard_normal(c["shape"])
    with running_on(where) as device:
        y = F.avg_pool2d(Tensor(x, device=device), c["k"], c["s"], c["p"])
    np.testing.assert_allclose(
        y.numpy(), R.avg_pool2d(x, c["k"], c["s"], c["p"]), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("where", BACKENDS)
@settings(max_examples=8)
@given(c=pool_params(max_hw=6))
def test_avg_pool_gradient(where, c):
    with running_on(where) as device:
        x = Tensor(
            np.random.default_rng(c["seed"]).standard_normal(c["shape"]),
            requires_grad=True,
            device=device,
        )
        gradcheck(lambda a: F.avg_pool2d(a, c["k"], c["s"], c["p"]), x, name="avg_pool2d")


@settings(max_examples=25)
@given(c=pool_params(max_hw=6), divisor=st.sampled_from([None, 1, 3]))
def test_avg_pool_count_include_pad_false_and_divisor_override(c, divisor):
    """PyTorch's count_include_pad / divisor_override (oracle sweep: not offered)."""
    rng = np.random.default_rng(c["seed"])
    x = Tensor(rng.standard_normal(c["shape"]), requires_grad=True)
    k, s, p = c["k"], c["s"], c["p"]
    y = F.avg_pool2d(x, k, s, p, count_include_pad=False, divisor_override=divisor)
    want = R.avg_pool2d(x.numpy(), k, s, p, count_include_pad=divisor is not None, divisor=divisor)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)
    gradcheck(lambda a: F.avg_pool2d(a, k, s, p, False, False, divisor), x, name="avg_pool2d")


@pytest.mark.parametrize("where", BACKENDS)
def test_avg_pool_count_include_pad_false_on_every_backend(where):
    x = np.random.default_rng(3).standard_normal((2, 2, 5, 4))
    want = R.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
    with running_on(where) as device:
        xt = Tensor(x, requires_grad=True, device=device)
        y = F.avg_pool2d(xt, 3, 2, 1, count_include_pad=False)
        assert y.device == device
        y.sum().backward()
        assert xt.grad.device == device
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)


def test_avg_pool_count_include_pad_worked_numbers_and_modules():
    """[[1, 2], [3, 4]], 2x2 windows, stride 2, padding 1: the corner window holds one input
    pixel: 1 / 4 with the padding counted, 1 / 1 without it, 1 / 2 with divisor_override=2."""
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    assert F.avg_pool2d(x, 2, 2, 1).numpy()[0, 0].tolist() == [[0.25, 0.5], [0.75, 1.0]]
    y = nn.AvgPool2d(2, 2, 1, count_include_pad=False)(Tensor(x))
    assert y.numpy()[0, 0].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    y = nn.AvgPool2d(2, 2, 1, divisor_override=2)(Tensor(x))
    assert y.numpy()[0, 0].tolist() == [[0.5, 1.0], [1.5, 2.0]]


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda x: F.max_pool2d(x, 2, 2, 0, 1, True), r"max_pool2d: ceil_mode=True is not"),
        (lambda x: F.max_pool2d(x, 2, 2, 0, 2), r"max_pool2d: dilation=2 is not implemented"),
        (lambda x: F.avg_pool2d(x, 2, ceil_mode=True), r"avg_pool2d: ceil_mode=True is not"),
        (lambda x: nn.MaxPool2d(2, dilation=(1, 2))(x), r"MaxPool2d: dilation=\(1, 2\) is not"),
        (lambda x: nn.AvgPool2d(2, ceil_mode=True)(x), r"AvgPool2d: ceil_mode=True is not"),
        (lambda x: F.avg_pool2d(x, 2, divisor_override=0), r"divisor_override must be a positive"),
    ],
)
def test_pytorchs_pool_options_that_are_not_implemented_are_refused(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call(Tensor(np.ones((1, 1, 4, 4))))


def test_pools_take_pytorchs_positional_order():
    """torch: F.max_pool2d(x, k, stride, padding, dilation, ceil_mode, return_indices) and
    nn.MaxPool2d(k, stride, padding, dilation, return_indices, ceil_mode) (oracle sweep: a
    positional dilation=1 was taken for return_indices)."""
    x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    assert isinstance(F.max_pool2d(x, 2, 2, 0, 1), Tensor)
    y, idx = F.max_pool2d(x, 2, 2, 0, 1, False, True)
    assert idx.numpy()[0, 0].tolist() == [[5, 7], [13, 15]]
    y, idx = nn.MaxPool2d(2, 2, 0, 1, True)(x)
    assert y.numpy()[0, 0].tolist() == [[5.0, 7.0], [13.0, 15.0]]


@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 7), st.integers(1, 7))
def test_adaptive_avg_pool_matches_reference(h, w, oh, ow):
    x = np.random.default_rng(h * w + oh).standard_normal((2, 3, h, w))
    np.testing.assert_allclose(
        F.adaptive_avg_pool2d(x, (oh, ow)).numpy(),
        R.adaptive_avg_pool2d(x, (oh, ow)),
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("bins", [1, 2, 3, 6])
def test_adaptive_avg_pool_pspnet_bins(bins, device):
    """PSPNet's pyramid on a 10x10 map (not divisible by 3 or 6: bins overlap as in PyTorch)."""
    x = np.random.default_rng(bins).standard_normal((2, 4, 10, 10))
    y = F.adaptive_avg_pool2d(Tensor(x, device=device), bins)
    assert y.shape == (2, 4, bins, bins)
    np.testing.assert_allclose(y.numpy(), R.adaptive_avg_pool2d(x, bins), rtol=1e-12, atol=1e-12)
    if bins == 1:
        np.testing.assert_allclose(y.numpy()[..., 0, 0], x.mean(axis=(2, 3)), rtol=1e-12)
    xt = Tensor(x[:1, :1, :5, :7], requires_grad=True)
    gradcheck(lambda a: F.adaptive_avg_pool2d(a, bins), xt, name="adaptive_avg_pool2d")


@pytest.mark.parametrize("where", WHERE)
@settings(max_examples=10)
@given(c=pool_params())
def test_unpool_puts_values_back_at_the_indices(where, c):
    """Non-overlapping pools (stride >= kernel): unpool(pool(x)) keeps each window's max in place,
    zeros elsewhere; the output size is the pooled input's (via output_size)."""
    k = c["k"]
    s = (max(k[0], c["s"][0]), max(k[1], c["s"][1]))
    x = distinct(c["shape"], c["seed"])
    h, w = x.shape[2:]
    with running_on(where) as device:
        y, idx = F.max_pool2d(Tensor(x, device=device), k, s, c["p"], return_indices=True)
        out = F.max_unpool2d(y, idx, k, s, c["p"], output_size=(h, w)).numpy()
    np.testing.assert_array_equal(out, R.max_unpool2d(y.numpy(), idx.numpy(), (h, w)))
    kept = out != 0
    np.testing.assert_array_equal(out[kept], x[kept])
    assert kept.sum() == (y.numpy() != 0).sum()


def test_unpool_gradient_gathers(device):
    x = distinct((2, 3, 6, 4), 1)
    y, idx = F.max_pool2d(Tensor(x, device=device), 2, return_indices=True)
    v = Tensor(np.random.default_rng(2).standard_normal(y.shape), requires_grad=True, device=device)
    gradcheck(lambda a: F.max_unpool2d(a, idx, 2), v, name="max_unpool2d")
    g = np.random.default_rng(3).standard_normal((2, 3, 6, 4))
    F.max_unpool2d(v, idx, 2).backward(Tensor(g, device=device))
    np.testing.assert_array_equal(
        v.grad.numpy(),
        np.take_along_axis(g.reshape(2, 3, -1), idx.numpy().reshape(2, 3, -1), 2).reshape(y.shape),
    )


def test_unpool_accepts_raw_index_arrays_and_odd_sizes():
    x = distinct((1, 2, 5, 7), 4)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert y.shape == (1, 2, 2, 3)
    out = F.max_unpool2d(y, idx.numpy(), 2, output_size=(1, 2, 5, 7))
    assert out.shape == (1, 2, 5, 7)
    with pytest.raises(ValueError, match="pass output_size"):  # default 4x6 cannot hold them
        F.max_unpool2d(y, idx, 2)
    y2, idx2 = F.max_pool2d(x[:, :, :4, :6], 2, return_indices=True)
    assert F.max_unpool2d(y2, idx2, 2).shape == (1, 2, 4, 6)  # default (H-1)s - 2p + k


def test_max_pool_backward_routes_to_the_argmax_only(device):
    deck = [[1, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]]
    x = Tensor(np.array(deck, float)[None, None], requires_grad=True, device=device)
    F.max_pool2d(x, 2).backward(Tensor(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]), device=device))
    np.testing.assert_array_equal(
        x.grad.numpy()[0, 0], [[0, 0, 20, 0], [0, 10, 0, 0], [0, 0, 0, 0], [30, 0, 0, 40]]
    )


def test_overlapping_max_pool_gradient_accumulates():
    """3x3 windows, stride 1: the global maximum wins 4 windows and gets 4 gradients."""
    x = Tensor(
        distinct((1, 1, 4, 4), 0) + 100 * np.eye(4)[None, None] * (np.arange(4) == 1),
        requires_grad=True,
    )
    y = F.max_pool2d(x, 3, stride=1)
    y.sum().backward()
    g = x.grad.numpy()[0, 0]
    assert g[1, 1] == 4 and g.sum() == 4


def test_pool_float32_stays_float32(device):
    x = Tensor(distinct((2, 3, 8, 8), 5).astype(np.float32), device=device)
    assert F.max_pool2d(x, 2).dtype == np.float32
    assert F.avg_pool2d(x, 2).dtype == np.float32
    assert F.adaptive_avg_pool2d(x, 3).dtype == np.float32


@pytest.mark.parametrize(
    "call, pattern",
    [
        (
            lambda: F.max_pool2d(np.ones((3, 4, 4)), 2),
            r"max_pool2d: expected a 4-D input \(N, C, H, W\), got shape \(3, 4, 4\)",
        ),
        (
            lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 2, stride=0),
            r"max_pool2d: stride must be positive",
        ),
        (
            lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 2, stride=-1),
            r"max_pool2d: stride must be positive",
        ),
        (
            lambda: F.max_pool2d(np.ones((1, 1, 2, 2)), 3),
            r"max_pool2d: kernel 3x3 is larger than the padded input 2x2 "
            r"\(input shape \(1, 1, 2, 2\)",
        ),
        (
            lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 2, padding=2),
            r"max_pool2d: padding \(2, 2\) must be at most half the kernel size",
        ),
        (lambda: F.avg_pool2d(np.ones((1, 1, 2, 2)), 3), r"avg_pool2d: kernel 3x3 is larger"),
        (lambda: F.avg_pool2d(np.ones((4, 4)), 2), r"avg_pool2d: expected a 4-D input"),
        (
            lambda: F.adaptive_avg_pool2d(np.ones((1, 4, 4)), 2),
            r"adaptive_avg_pool2d: expected a 4-D",
        ),
        (
            lambda: F.adaptive_avg_pool2d(np.ones((1, 1, 4, 4)), 0),
            r"adaptive_avg_pool2d: output_size must be positive",
        ),
        (
            lambda: F.max_unpool2d(
                np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 3), dtype=np.int64), 2
            ),
            r"max_unpool2d: indices must have the shape of the input"
            r".*indices \(1, 1, 2, 3\) for input \(1, 1, 2, 2\)",
        ),
        (
            lambda: F.max_unpool2d(
                np.ones((1, 1, 2, 2)), np.full((1, 1, 2, 2), 16, dtype=np.int64), 2
            ),
            r"max_unpool2d: indices range over \[16, 16\] but an output plane 4x4 has "
            r"positions 0..15",
        ),
        (
            lambda: F.max_unpool2d(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)), 2),
            r"max_unpool2d: indices must be integers",
        ),
        (
            lambda: F.max_unpool2d(
                np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), dtype=np.int64), 2, output_size=6
            ),
            r"max_unpool2d: output_size \(6, 6\) is not a size this pool maps to.*\[4, 5\]",
        ),
        (
            lambda: F.max_unpool2d(np.ones((2, 2)), np.zeros((2, 2), dtype=np.int64), 2),
            r"max_unpool2d: expected a 4-D input",
        ),
    ],
)
def test_bad_input_is_a_clear_value_error(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
