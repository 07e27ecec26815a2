"""The lectures' worked examples of convolution, transposed convolution, pooling and unpooling.

Numbers copied from decks 001, 002 and 003 (see the docstring of each test for where they come from
and, where a slide's label disagrees with its numbers, which parameters reproduce the numbers).
"""

import numpy as np
import pytest

import minisegnet.functional as F
from minisegnet import Tensor

import reference as R


def img(rows, device="cpu"):
    """A (1, 1, H, W) float64 tensor from a nested list."""
    return Tensor(np.array(rows, dtype=np.float64)[None, None], device=device)


def plane(t):
    return t.numpy()[0, 0]


# ----------------------------------------------------------------------------------------------
# deck 001: the 2x2 stride-2 "splat" examples

K2 = [[1, 2], [3, 4]]


@pytest.mark.parametrize(
    "inp, expected",
    [
        ([[1, 0], [0, 0]], [[1, 2, 0, 0], [3, 4, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]),
        ([[0, 1], [0, 0]], [[0, 0, 1, 2], [0, 0, 3, 4], [0, 0, 0, 0], [0, 0, 0, 0]]),
        ([[1, 1], [0, 0]], [[1, 2, 1, 2], [3, 4, 3, 4], [0, 0, 0, 0], [0, 0, 0, 0]]),
    ],
)
def test_deck001_splat_2x2_kernel_stride_2(inp, expected, device):
    """Kernel [[1,2],[3,4]], stride 2: each input value stamps the kernel; kernel = stride, so the
    stamps do not overlap."""
    y = F.conv_transpose2d(img(inp, device), img(K2, device), stride=2)
    np.testing.assert_array_equal(plane(y), expected)


# ----------------------------------------------------------------------------------------------
# deck 001: the 3x3 examples labelled "size 3 and stride=2"

K3 = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
SLIDE_3x3 = [  # (input, the 4x4 numbers printed on the slide)
    ([[1, 0], [0, 0]], [[1, 2, 3, 0], [4, 5, 6, 0], [7, 8, 9, 0], [0, 0, 0, 0]]),
    ([[0, 1], [0, 0]], [[0, 1, 2, 3], [0, 4, 5, 6], [0, 7, 8, 9], [0, 0, 0, 0]]),
    ([[1, 1], [0, 0]], [[1, 3, 5, 3], [4, 9, 11, 6], [7, 15, 17, 9], [0, 0, 0, 0]]),
]
STRIDE_2_5x5 = [  # what the label (stride 2, no crop) really gives: 5x5 outputs
    [[1, 2, 3, 0, 0], [4, 5, 6, 0, 0], [7, 8, 9, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
    [[0, 0, 1, 2, 3], [0, 0, 4, 5, 6], [0, 0, 7, 8, 9], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
    [[1, 2, 4, 2, 3], [4, 5, 10, 5, 6], [7, 8, 16, 8, 9], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
]


@pytest.mark.parametrize("case", range(3))
def test_deck001_size3_slides_are_stride_1_without_crop(case, device):
    """The slide's printed 4x4 numbers are a transposed convolution with STRIDE 1 and no crop
    (padding 0): output (2-1)*1 + 3 = 4. The stamps of neighbouring inputs sit one pixel apart,
    which is why [[1,1],[0,0]] gives 1 3 5 3 (= 1 2 3 0 + 0 1 2 3)."""
    inp, printed = SLIDE_3x3[case]
    y = F.conv_transpose2d(img(inp, device), img(K3, device), stride=1, padding=0)
    np.testing.assert_array_equal(plane(y), printed)


@pytest.mark.parametrize("case", range(3))
def test_deck001_size3_with_the_labelled_stride_2_gives_5x5(case, device):
    """The label says stride 2: that gives (2-1)*2 + 3 = 5, a 5x5 output whose stamps sit two
    pixels apart, so [[1,1],[0,0]] gives 1 2 4 2 3, not the printed 1 3 5 3."""
    inp, printed = SLIDE_3x3[case]
    y = plane(F.conv_transpose2d(img(inp, device), img(K3, device), stride=2))
    np.testing.assert_array_equal(y, STRIDE_2_5x5[case])
    assert y.shape == (5, 5)
    # no crop of the stride-2 result reproduces the printed numbers either: 4x4 is reached with
    # crop 1 plus output_padding 1 (output_size=4), and that is a different 4x4
    y4 = plane(F.conv_transpose2d(img(inp), img(K3), stride=2, padding=1, output_size=(4, 4)))
    assert y4.shape == (4, 4)
    if case == 2:
        assert not np.array_equal(y4, printed)


def test_deck001_stride_2_reachable_4x4_only_with_crop():
    """With stride 2 and kernel 3, a 2x2 input reaches the sizes (2-1)*2 - 2p + 3 + a, a in {0, 1}:
    5, 6 without crop and 3, 4 with crop 1; asking for 4 without crop is refused, listing them."""
    with pytest.raises(ValueError, match=r"reachable sizes are \[5, 6\]"):
        F.conv_transpose2d(img([[1, 0], [0, 0]]), img(K3), stride=2, output_size=4)
    assert F.sizes.reachable_sizes(2, 3, stride=2, padding=1) == [3, 4]


# ----------------------------------------------------------------------------------------------
# deck 003: transposed convolution step by step, stride 3, crop 1

FILTER = [[2, 1, 4], [-1, -2, -3], [-2, 1, 4]]


def test_deck003_stride3_crop1(device):
    """Input [[2,3],[-2,1]], filter [[2,1,4],[-1,-2,-3],[-2,1,4]], stride 3, crop 1: the 6x6
    splat (stamps 3 apart, no overlap) loses one row/column at every border -> 4x4."""
    y = F.conv_transpose2d(img([[2, 3], [-2, 1]], device), img(FILTER, device), stride=3, padding=1)
    np.testing.assert_array_equal(
        plane(y), [[-4, -6, -3, -6], [2, 8, -6, 3], [-2, -8, 2, 1], [4, 6, -1, -2]]
    )


def test_deck003_filter_last_entry_must_be_4():
    """The deck prints the filter's last entry once as 5: that changes one output (8 -> 10), so
    the printed output needs 4."""
    f5 = np.array(FILTER, float)
    f5[2, 2] = 5
    y5 = plane(F.conv_transpose2d(img([[2, 3], [-2, 1]]), img(f5), stride=3, padding=1))
    y4 = plane(F.conv_transpose2d(img([[2, 3], [-2, 1]]), img(FILTER), stride=3, padding=1))
    diff = np.argwhere(y5 != y4)
    assert diff.tolist() == [[1, 1]] and (y4[1, 1], y5[1, 1]) == (8, 10)


def test_deck003_stride3_crop1_is_the_cropped_splat():
    """Crop = drop rows/columns of the uncropped result: padding 1 == padding 0 then [1:-1]."""
    full = plane(F.conv_transpose2d(img([[2, 3], [-2, 1]]), img(FILTER), stride=3))
    cropped = plane(F.conv_transpose2d(img([[2, 3], [-2, 1]]), img(FILTER), stride=3, padding=1))
    assert full.shape == (6, 6)
    np.testing.assert_array_equal(full[1:-1, 1:-1], cropped)


EXERCISE_MINUS_2 = [
    [4, 2, 14, 3, 12],
    [-2, -4, -9, -6, -9],
    [-8, 0, -4, 4, 16],
    [2, 4, 5, -2, -3],
    [4, -2, -10, 1, 4],
]
EXERCISE_PLUS_2 = [
    [4, 2, 14, 3, 12],
    [-2, -4, -9, -6, -9],
    [0, 4, 12, 4, 16],
    [-2, -4, -7, -2, -3],
    [-4, 2, 6, 1, 4],
]


@pytest.mark.parametrize(
    "inp, expected", [([[2, 3], [-2, 1]], EXERCISE_MINUS_2), ([[2, 3], [2, 1]], EXERCISE_PLUS_2)]
)
def test_deck003_exercise_stride2_both_readings(inp, expected, device):
    """The exercise: same filter, stride 2, crop 0, 5x5 outputs. The input is printed as
    [[2,3],[2,1]] but the partial solution uses 3*filter and -2*filter, i.e. the reading
    [[2,3],[-2,1]] (the stride-3 example's input). Both readings are computed."""
    y = F.conv_transpose2d(img(inp, device), img(FILTER, device), stride=2)
    np.testing.assert_array_equal(plane(y), expected)


def test_deck003_exercise_partial_solution_matches_minus_2_reading():
    """The partial solution's stamp -2*filter at the bottom-left belongs to the [[2,3],[-2,1]]
    reading: its output minus the other three stamps is exactly -2*filter there."""
    f = np.array(FILTER, float)
    y = np.array(EXERCISE_MINUS_2, float)
    rest = np.zeros((5, 5))
    rest[0:3, 0:3] += 2 * f
    rest[0:3, 2:5] += 3 * f
    rest[2:5, 2:5] += 1 * f
    stamp = (y - rest)[2:5, 0:3]
    np.testing.assert_array_equal(stamp, -2 * f)
    assert not np.array_equal((np.array(EXERCISE_PLUS_2) - rest)[2:5, 0:3], -2 * f)


# ----------------------------------------------------------------------------------------------
# deck 001: the 1-D matrix example, kernel (x, y, z), stride 2, padding 1

X, Y, Z = 2.0, 3.0, 5.0
A, B, C, D = 7.0, 11.0, 13.0, 17.0


def test_deck001_1d_matrix_rows():
    """The 2x6 matrix acting on the padded input (0, a, b, c, d, 0)."""
    m = R.conv_matrix_1d([X, Y, Z], 4, stride=2, padding=1)
    np.testing.assert_array_equal(m, [[X, Y, Z, 0, 0, 0], [0, 0, X, Y, Z, 0]])


def test_deck001_1d_conv_stride2_padding1(device):
    """(0,a,b,c,d,0) -> (ay + bz, bx + cy + dz), a 1-D conv as a 1xW image."""
    x = Tensor(np.array([A, B, C, D]).reshape(1, 1, 1, 4), device=device)
    w = Tensor(np.array([X, Y, Z]).reshape(1, 1, 1, 3), device=device)
    y = F.conv2d(x, w, stride=(1, 2), padding=(0, 1)).numpy().ravel()
    np.testing.assert_array_equal(y, [A * Y + B * Z, B * X + C * Y + D * Z])


def test_deck001_1d_transpose_is_the_transposed_matrix(device):
    """The transpose applied to (a, b) gives (ax, ay, az + bx, by, bz, 0) in the padded frame: that
    is conv_transpose2d without crop plus one output_padding column; with crop 1 (padding=1) and
    output_padding 1 it is the middle four, the gradient w.r.t. the unpadded input."""
    m = R.conv_matrix_1d([X, Y, Z], 4, stride=2, padding=1)
    ab = np.array([A, B])
    expected = [A * X, A * Y, A * Z + B * X, B * Y, B * Z, 0.0]
    np.testing.assert_array_equal(m.T @ ab, expected)
    x = Tensor(ab.reshape(1, 1, 1, 2), device=device)
    w = Tensor(np.array([X, Y, Z]).reshape(1, 1, 1, 3), device=device)
    full = F.conv_transpose2d(x, w, stride=(1, 2), output_padding=(0, 1)).numpy().ravel()
    np.testing.assert_array_equal(full, expected)
    inner = F.conv_transpose2d(x, w, stride=(1, 2), padding=(0, 1), output_padding=(0, 1))
    np.testing.assert_array_equal(inner.numpy().ravel(), expected[1:5])


def test_deck001_stride1_transpose_is_conv_with_rotated_kernel():
    """With stride 1 the transposed convolution equals a convolution with the 180-degree-rotated
    kernel over the input padded by k-1; with stride 2 no such single convolution exists, the
    output is not even the same size."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 1, 4, 5)), rng.standard_normal((1, 1, 3, 3))
    t = F.conv_transpose2d(x, w).numpy()
    c = F.conv2d(x, np.ascontiguousarray(w[:, :, ::-1, ::-1]), padding=2).numpy()
    np.testing.assert_allclose(t, c, atol=1e-12)
    assert F.conv_transpose2d(x, w, stride=2).shape == (1, 1, 9, 11)


@pytest.mark.parametrize("n", [3, 4, 7])
def test_deck002_1d_transpose_doubles_the_size(n):
    """Deck 002: copies of the filter weighted by each input, summed where they overlap, one pixel
    cropped so the output is exactly twice the input (kernel 3, stride 2: 2n + 1 before the crop;
    in PyTorch terms padding 1 and output_padding 1)."""
    rng = np.random.default_rng(n)
    x, w = rng.standard_normal((1, 1, 1, n)), rng.standard_normal((1, 1, 1, 3))
    full = F.conv_transpose2d(x, w, stride=(1, 2)).numpy().ravel()
    y = (
        F.conv_transpose2d(x, w, stride=(1, 2), padding=(0, 1), output_padding=(0, 1))
        .numpy()
        .ravel()
    )
    assert full.size == 2 * n + 1 and y.size == 2 * n
    np.testing.assert_allclose(y, full[1:], atol=1e-12)
    copies = sum(np.pad(x.ravel()[i] * w.ravel(), (2 * i, 2 * n - 2 - 2 * i)) for i in range(n))
    np.testing.assert_allclose(full, copies, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# deck 003: "why transposed": 122 148 / 126 134

X44 = [[4, 5, 8, 7], [1, 8, 8, 8], [3, 6, 6, 4], [6, 5, 7, 8]]  # our choice (the deck prints none)
K33 = [[1, 4, 1], [1, 4, 3], [3, 3, 1]]


def conv_matrix_4x16(k):
    """Row (p, q) of the 4x16 matrix: the 3x3 kernel placed at (p, q) in a 4x4 grid, flattened."""
    m = np.zeros((4, 16))
    for p in range(2):
        for q in range(2):
            row = np.zeros((4, 4))
            row[p : p + 3, q : q + 3] = k
            m[2 * p + q] = row.ravel()
    return m


def test_deck003_122_148_126_134(device):
    y = F.conv2d(img(X44, device), img(K33, device))
    np.testing.assert_array_equal(plane(y), [[122, 148], [126, 134]])


def test_deck003_conv_is_4x16_matrix_times_flattened_input():
    m = conv_matrix_4x16(np.array(K33, float))
    np.testing.assert_array_equal(m @ np.array(X44, float).ravel(), [122, 148, 126, 134])
    np.testing.assert_array_equal(m, R.conv_matrix_2d(K33, (4, 4)))


def test_deck003_conv_transpose_is_16x4_transpose_times_flattened_2x2(device):
    """Transposed convolution of a 2x2 map = the 16x4 transposed matrix times the flattened map,
    reshaped to 4x4 (going back from 2x2 to 4x4: the shape, not the values, of the inverse)."""
    m = conv_matrix_4x16(np.array(K33, float))
    small = np.array([[122, 148], [126, 134]], float)
    expected = (m.T @ small.ravel()).reshape(4, 4)
    y = F.conv_transpose2d(img(small, device), img(K33, device))
    np.testing.assert_array_equal(plane(y), expected)
    assert m.T.shape == (16, 4)
    assert not np.allclose(expected, X44)  # the transpose is not the inverse


# ----------------------------------------------------------------------------------------------
# deck 002: max-pool, remember the positions, max-unpool

POOL_IN = [[1, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]]


def test_deck002_max_pool_and_positions(device):
    y, idx = F.max_pool2d(img(POOL_IN, device), 2, stride=2, return_indices=True)
    np.testing.assert_array_equal(plane(y), [[5, 6], [7, 8]])
    np.testing.assert_array_equal(
        idx.numpy()[0, 0], [[1 * 4 + 1, 0 * 4 + 2], [3 * 4 + 0, 3 * 4 + 3]]
    )


def test_deck002_max_unpool(device):
    _, idx = F.max_pool2d(img(POOL_IN, device), 2, stride=2, return_indices=True)
    out = F.max_unpool2d(img([[1, 2], [3, 4]], device), idx, 2, stride=2)
    np.testing.assert_array_equal(
        plane(out), [[0, 0, 2, 0], [0, 1, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]]
    )


def test_deck002_dilated_3x3_covers_5x5_with_9_weights():
    """Atrous convolution: a 3x3 kernel with dilation 2 reads every other pixel of a 5x5 field."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((1, 1, 5, 5)), rng.standard_normal((1, 1, 3, 3))
    y = F.conv2d(x, w, dilation=2).numpy()
    assert y.shape == (1, 1, 1, 1)
    np.testing.assert_allclose(y.item(), (x[0, 0, ::2, ::2] * w[0, 0]).sum(), atol=1e-12)
    assert F.sizes.conv_output_size(5, 3, dilation=2) == 1
