"""interpolate / upsample (nearest, bilinear with align_corners both ways) and center_crop."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minisegnet.functional as F
from minisegnet import Tensor, gradcheck

import reference as R

sizes_in = st.tuples(st.integers(1, 7), st.integers(1, 7))
sizes_out = st.tuples(st.integers(1, 13), st.integers(1, 13))


def rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@given(sizes_in, sizes_out, st.booleans())
def test_bilinear_matches_reference(hw, out, align):
    x = rand((2, 3, *hw), hw[0] * 7 + hw[1])
    y = F.interpolate(x, size=out, mode="bilinear", align_corners=align)
    np.testing.assert_allclose(
        y.numpy(), R.interpolate_bilinear(x, out, align), rtol=1e-12, atol=1e-12
    )


@given(sizes_in, sizes_out)
def test_nearest_matches_reference(hw, out):
    x = rand((2, 3, *hw), 1)
    np.testing.assert_allclose(F.interpolate(x, size=out).numpy(), R.interpolate_nearest(x, out))


factors = st.sampled_from([0.5, 0.75, 1.1, 1.25, 1.5, 2.0, 2.2, 2.5, 3.0, 4.0])


@given(sizes_in, st.one_of(factors, st.tuples(factors, factors)))
def test_scale_factor_matches_reference(hw, sf):
    x = rand((1, 2, *hw), 2)
    sh, sw = sf if isinstance(sf, tuple) else (sf, sf)
    out = (int(hw[0] * sh), int(hw[1] * sw))
    assume(min(out) >= 1)  # an empty output is an error: test_scale_factor_to_an_empty_output
    np.testing.assert_allclose(
        F.interpolate(x, scale_factor=sf).numpy(), R.interpolate_nearest(x, out, sf)
    )
    np.testing.assert_allclose(
        F.interpolate(x, scale_factor=sf, mode="bilinear").numpy(),
        R.interpolate_bilinear(x, out, False, sf),
        rtol=1e-12,
        atol=1e-12,
    )


def test_scale_factor_keeping_a_size_copies_and_nearest_doubling_halves(device):
    """PyTorch's rules (oracle sweep): 3 columns x 1.25 -> floor(3.75) = 3 columns, a copy (not
    src = floor(o / 1.25) = 0, 0, 1); 4 rows x 2.2 -> 8 = 2 x 4 rows: nearest takes o // 2
    (floor(o / 2.2) would give 0, 0, 0, 1, 1, 2, 2, 3)."""
    x = Tensor(np.arange(12.0).reshape(1, 1, 4, 3), device=device)
    y = F.interpolate(x, scale_factor=(1.0, 1.25)).numpy()
    np.testing.assert_array_equal(y[0, 0], np.arange(12.0).reshape(4, 3))
    y = F.interpolate(x, scale_factor=(1.0, 1.25), mode="bilinear").numpy()
    np.testing.assert_allclose(y[0, 0], np.arange(12.0).reshape(4, 3), atol=1e-12)
    y = F.interpolate(x, scale_factor=(2.2, 1.0)).numpy()
    np.testing.assert_array_equal(y[0, 0, :, 0], [0, 0, 3, 3, 6, 6, 9, 9])
    # bilinear has no doubling rule: x 2.2 keeps src = (o + 0.5) / 2.2 - 0.5
    y = F.interpolate(x, scale_factor=(2.2, 1.0), mode="bilinear").numpy()
    src = np.maximum((np.arange(8) + 0.5) / 2.2 - 0.5, 0)
    np.testing.assert_allclose(y[0, 0, :, 0], np.minimum(src, 3) * 3, atol=1e-12)


@settings(max_examples=30)
@given(st.integers(1, 60), st.integers(1, 150))
def test_nearest_large_sizes_pick_pytorchs_float32_indices(n_in, n_out):
    x = rand((1, 1, 1, n_in), 3)
    np.testing.assert_array_equal(
        F.interpolate(x, size=(1, n_out)).numpy(), R.interpolate_nearest(x, (1, n_out))
    )


def test_nearest_index_is_pytorchs_float32_product():
    """Oracle sweep: 2 -> 82 columns, o = 41: float32(41) * (float32(2) / float32(82)) =
    0.99999994, so PyTorch copies column 0 where exact arithmetic gives 41 * 2 / 82 = 1."""
    x = np.array([[[[10.0, 20.0]]]])
    y = F.interpolate(x, size=(1, 82)).numpy()[0, 0, 0]
    assert y[40] == 10.0 and y[41] == 10.0 and y[42] == 20.0
    assert (y == 10.0).sum() == 42  # columns 0..41


@pytest.mark.parametrize("hw, sf", [((1, 4), 0.5), ((3, 1), 0.75), ((1, 1), 0.5)])
def test_scale_factor_to_an_empty_output_is_an_error(hw, sf):
    with pytest.raises(ValueError, match="interpolate: scale_factor"):
        F.interpolate(rand((1, 2, *hw)), scale_factor=sf)


def test_bilinear_known_values(device):
    """[0, 1] -> 3 with corners aligned: 0, 0.5, 1. -> 4 with centres aligned (PyTorch's default):
    sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to the last pixel): 0, .25, .75, 1."""
    x = Tensor(np.array([[[[0.0, 1.0]]]]), device=device)
    np.testing.assert_allclose(
        F.interpolate(x, size=(1, 3), mode="bilinear", align_corners=True).numpy().ravel(),
        [0, 0.5, 1],
    )
    np.testing.assert_allclose(
        F.interpolate(x, size=(1, 4), mode="bilinear").numpy().ravel(), [0, 0.25, 0.75, 1]
    )


def test_nearest_upsample_by_2_repeats_pixels(device):
    x = Tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), device=device)
    np.testing.assert_array_equal(
        F.upsample(x, scale_factor=2).numpy()[0, 0],
        [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]],
    )
    np.testing.assert_array_equal(
        F.interpolate(x, size=(4, 4)).numpy(), F.interpolate(x, scale_factor=2).numpy()
    )


@settings(max_examples=10)
@given(
    st.tuples(st.integers(1, 4), st.integers(1, 4)),
    st.tuples(st.integers(1, 7), st.integers(1, 7)),
    st.sampled_from(["nearest", "bilinear-true", "bilinear-false"]),
)
def test_interpolate_gradients(hw, out, mode):
    x = Tensor(rand((1, 2, *hw), 3), requires_grad=True)
    m, _, align = mode.partition("-")
    kwargs = {} if m == "nearest" else {"align_corners": align == "true"}
    gradcheck(lambda a: F.interpolate(a, size=out, mode=m, **kwargs), x, name=f"interpolate {mode}")


def test_nearest_repeat_path_gradient():
    x = Tensor(rand((2, 2, 3, 2), 4), requires_grad=True)
    gradcheck(lambda a: F.interpolate(a, scale_factor=(2, 3)), x, name="nearest x2x3")
    y = F.interpolate(x, scale_factor=2)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(x.shape, 4.0))  # each pixel copied 4x


def test_float32_stays_float32(device):
    x = Tensor(rand((1, 2, 5, 5)).astype(np.float32), device=device)
    assert F.interpolate(x, size=9, mode="bilinear").dtype == np.float32
    assert F.interpolate(x, scale_factor=2).dtype == np.float32


# ----------------------------------------------------------------------------------------------
# center_crop


def test_center_crop_values_and_gradient(device):
    x = np.arange(2 * 3 * 6 * 7, dtype=np.float64).reshape(2, 3, 6, 7)
    y = F.center_crop(Tensor(x, device=device), (2, 3))
    np.testing.assert_array_equal(y.numpy(), x[:, :, 2:4, 2:5])
    # odd margin (7 - 4 = 3): one column on the left, two on the right
    np.testing.assert_array_equal(F.center_crop(x, 4).numpy(), x[:, :, 1:5, 1:5])
    xt = Tensor(x[:1, :1, :4, :5], requires_grad=True)
    gradcheck(lambda a: F.center_crop(a, (2, 2)), xt, name="center_crop")
    assert F.center_crop(xt, (4, 5)).shape == (1, 1, 4, 5)


def test_unet_crop_and_concatenate():
    """U-Net: the 64x64 encoder map is cropped to the decoder's 56x56 and concatenated."""
    enc, dec = np.ones((1, 8, 64, 64)), np.zeros((1, 8, 56, 56))
    cat = F.concatenate([F.center_crop(enc, dec.shape[2:]), dec], axis=1)
    assert cat.shape == (1, 16, 56, 56) and cat.numpy()[:, :8].all()


@pytest.mark.parametrize(
    "call, pattern",
    [
        (
            lambda: F.center_crop(np.ones((1, 1, 4, 4)), (5, 4)),
            r"center_crop: cannot crop 4x4 \(shape \(1, 1, 4, 4\)\) to a larger 5x4",
        ),
        (lambda: F.center_crop(np.ones(4), 2), r"center_crop: needs at least 2 axes"),
        (
            lambda: F.interpolate(np.ones((1, 1, 4, 4))),
            r"interpolate: give exactly one of size and scale_factor",
        ),
        (lambda: F.interpolate(np.ones((1, 1, 4, 4)), size=2, scale_factor=2), r"exactly one of"),
        (
            lambda: F.interpolate(np.ones((1, 1, 4, 4)), size=2, mode="bicubic"),
            r"interpolate: mode must be one of",
        ),
        (
            lambda: F.interpolate(np.ones((1, 1, 4, 4)), size=2, align_corners=True),
            r"interpolate: align_corners only applies to mode='bilinear'",
        ),
        (lambda: F.interpolate(np.ones((1, 4, 4)), size=2), r"interpolate: expected a 4-D input"),
        (
            lambda: F.interpolate(np.ones((1, 1, 4, 4)), size=0),
            r"interpolate: size must be positive",
        ),
        (
            lambda: F.interpolate(np.ones((1, 1, 4, 4)), scale_factor=-1.0),
            r"interpolate: scale_factor must be a positive number",
        ),
    ],
)
def test_bad_input_is_a_clear_value_error(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
