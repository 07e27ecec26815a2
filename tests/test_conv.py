"""conv2d / conv_transpose2d against the naive references (every backend, both paths), the adjoint
identity, gradients, errors."""

import numpy as np
import pytest
from backends import WHERE, running_on
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minisegnet.functional as F
from minisegnet import Tensor, gradcheck, no_grad
from minisegnet.functional import sizes

import reference as R


@st.composite
def conv_params(draw, max_hw=7):
    """A valid parameter set: groups, channels, kernel, stride, padding, dilation, input size."""
    g = draw(st.integers(1, 3))
    cin, cout = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    hw = tuple(
        draw(st.integers(max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i]), max_hw + 2)) for i in range(2)
    )
    n = draw(st.integers(1, 2))
    return dict(
        n=n, g=g, cin=cin, cout=cout, k=k, s=s, d=d, p=p, hw=hw, seed=draw(st.integers(0, 99))
    )


def _arrays(c, transposed=False):
    rng = np.random.default_rng(c["seed"])
    x = rng.standard_normal((c["n"], c["cin"], *c["hw"]))
    wshape = (
        (c["cin"], c["cout"] // c["g"], *c["k"])
        if transposed
        else (c["cout"], c["cin"] // c["g"], *c["k"])
    )
    return x, rng.standard_normal(wshape), rng.standard_normal(c["cout"])


def _out_pad(c):
    return tuple(c["seed"] % max(s, d) for s, d in zip(c["s"], c["d"]))


def _on(device, *arrays, requires_grad=False):
    return [Tensor(a, device=device, requires_grad=requires_grad) for a in arrays]


def _full_size(c, a):
    """The transposed convolution's output size before it is checked (may be < 1)."""
    return [
        (n - 1) * s + d * (k - 1) + 1 - 2 * p + ai
        for n, s, d, k, p, ai in zip(c["hw"], c["s"], c["d"], c["k"], c["p"], a)
    ]


@pytest.mark.parametrize("where", WHERE)
@settings(max_examples=25)
@given(c=conv_params())
def test_conv2d_matches_reference(where, c):
    x, w, b = _arrays(c)
    with running_on(where) as device:
        y = F.conv2d(
            *_on(device, x, w, b), stride=c["s"], padding=c["p"], dilation=c["d"], groups=c["g"]
        )
        assert y.device == device
    np.testing.assert_allclose(
        y.numpy(), R.conv2d(x, w, b, c["s"], c["p"], c["d"], c["g"]), rtol=1e-10, atol=1e-10
    )


@pytest.mark.parametrize("where", WHERE)
@settings(max_examples=25)
@given(c=conv_params())
def test_conv_transpose2d_matches_splat_reference(where, c):
    x, w, b = _arrays(c, transposed=True)
    a = _out_pad(c)
    assume(min(_full_size(c, a)) >= 1)
    with running_on(where) as device:
        y = F.conv_transpose2d(
            *_on(device, x, w, b),
            stride=c["s"],
            padding=c["p"],
            output_padding=a,
            dilation=c["d"],
            groups=c["g"],
        )
        assert y.device == device
    ref = R.conv_transpose2d(x, w, b, c["s"], c["p"], a, c["d"], c["g"])
    assert y.shape == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("where", WHERE)
@settings(max_examples=15)
@given(c=conv_params())
def test_conv_transpose_is_the_adjoint_of_conv(where, c):
    """<conv(x), y> == <x, conv_T(y)> with the same weight and parameters (output_size = x's)."""
    x, w, _ = _arrays(c)
    rng = np.random.default_rng(c["seed"] + 1)
    with running_on(where) as device:
        xt, wt = _on(device, x, w)
        cx = F.conv2d(xt, wt, stride=c["s"], padding=c["p"], dilation=c["d"], groups=c["g"])
        yv = rng.standard_normal(cx.shape)
        ty = F.conv_transpose2d(
            Tensor(yv, device=device),
            wt,
            stride=c["s"],
            padding=c["p"],
            dilation=c["d"],
            groups=c["g"],
            output_size=x.shape[2:],
        )
    assert ty.shape == x.shape
    lhs, rhs = (cx.numpy() * yv).sum(), (x * ty.numpy()).sum()
    assert abs(lhs - rhs) <= 1e-9 * (1 + abs(lhs))


def _same_reference(x, w, b, d, g):
    """'same' by hand: pad the total d (k - 1) as floor(total / 2) before, the rest after."""
    tot = [di * (ki - 1) for di, ki in zip(d, w.shape[2:])]
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple((t // 2, t - t // 2) for t in tot))
    return R.conv2d(xp, w, b, 1, 0, d, g)


@settings(max_examples=20)
@given(c=conv_params(max_hw=6))
def test_conv2d_padding_same_and_valid_strings(c):
    """PyTorch's F.conv2d(padding='same' / 'valid') (oracle sweep: they were refused)."""
    x, w, b = _arrays(c)
    d, g = c["d"], c["g"]
    y = F.conv2d(x, w, b, padding="same", dilation=d, groups=g)
    assert y.shape[2:] == x.shape[2:]
    np.testing.assert_allclose(y.numpy(), _same_reference(x, w, b, d, g), rtol=1e-10, atol=1e-10)
    assume(all(n >= di * (k - 1) + 1 for n, di, k in zip(c["hw"], d, c["k"])))
    y = F.conv2d(x, w, b, padding="valid", dilation=d, groups=g)
    np.testing.assert_allclose(y.numpy(), R.conv2d(x, w, b, 1, 0, d, g), rtol=1e-10, atol=1e-10)


def test_conv2d_padding_same_worked_numbers_and_gradient():
    """A 1x2 kernel [1, 10] on the row [1, 2, 3]: total padding 1, all of it on the right:
    [1 + 20, 2 + 30, 3 + 0] = [21, 32, 3]."""
    x = np.array([[[[1.0, 2.0, 3.0]]]])
    w = np.array([[[[1.0, 10.0]]]])
    np.testing.assert_allclose(F.conv2d(x, w, padding="same").numpy(), [[[[21.0, 32.0, 3.0]]]])
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((1, 2, 4, 3)), rng.standard_normal((2, 2, 2, 3))
    gradcheck(
        lambda x, w: F.conv2d(x, w, padding="same", dilation=(1, 2)),
        Tensor(x, requires_grad=True),
        Tensor(w, requires_grad=True),
        name="conv2d same",
    )


def test_conv_transpose2d_takes_pytorchs_positional_order():
    """F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation), as torch's
    (oracle sweep: dilation came before groups, so a positional groups=2 became dilation=2)."""
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((1, 4, 3, 3)), rng.standard_normal((4, 1, 2, 2)), np.zeros(2)
    y = F.conv_transpose2d(x, w, b, 2, 1, 1, 2, 1)  # groups 2, dilation 1
    want = R.conv_transpose2d(x, w, b, 2, 1, 1, dilation=1, groups=2)
    assert y.shape == want.shape == (1, 2, 5, 5)  # (3 - 1) 2 - 2 + (2 - 1) + 1 + 1
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("where", WHERE)
@settings(max_examples=6)
@given(c=conv_params(max_hw=5))
def test_conv2d_gradients(where, c):
    x, w, b = _arrays(c)
    args = dict(stride=c["s"], padding=c["p"], dilation=c["d"], groups=c["g"])
    with running_on(where) as device:
        gradcheck(
            lambda x, w, b: F.conv2d(x, w, b, **args),
            *_on(device, x, w, b, requires_grad=True),
            name="conv2d",
        )


@pytest.mark.parametrize("where", WHERE)
@settings(max_examples=6)
@given(c=conv_params(max_hw=4))
def test_conv_transpose2d_gradients(where, c):
    x, w, b = _arrays(c, transposed=True)
    a = _out_pad(c)
    args = dict(stride=c["s"], padding=c["p"], output_padding=a, dilation=c["d"], groups=c["g"])
    assume(min(_full_size(c, a)) >= 1)
    with running_on(where) as device:
        gradcheck(
            lambda x, w, b: F.conv_transpose2d(x, w, b, **args),
            *_on(device, x, w, b, requires_grad=True),
            name="conv_transpose2d",
        )


@pytest.mark.parametrize("where", WHERE)
def test_only_the_gradients_asked_for(where):
    """x, w or b alone requiring a gradient: the others get none, on both paths."""
    rng = np.random.default_rng(9)
    x, w, b = (
        rng.standard_normal((2, 4, 6, 5)),
        rng.standard_normal((6, 2, 3, 3)),
        rng.standard_normal(6),
    )
    wt = rng.standard_normal((4, 3, 2, 3))
    with running_on(where) as device:
        for k in range(3):
            ts = [Tensor(a, device=device, requires_grad=i == k) for i, a in enumerate((x, w, b))]
            F.conv2d(*ts, stride=2, padding=1, groups=2).sum().backward()
            assert [t.grad is not None for t in ts] == [i == k for i in range(3)]
            ts = [
                Tensor(a, device=device, requires_grad=i == k) for i, a in enumerate((x, wt, b[:3]))
            ]
            F.conv_transpose2d(*ts, stride=(2, 1), output_padding=(1, 0)).sum().backward()
            assert [t.grad is not None for t in ts] == [i == k for i in range(3)]


def test_gradients_when_only_some_inputs_require_grad(device):
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((2, 3, 6, 6)), device=device)
    w = Tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True, device=device)
    F.conv2d(x, w, padding=1).sum().backward()
    assert x.grad is None and w.grad.shape == (4, 3, 3, 3)
    x2 = Tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True, device=device)
    w2 = Tensor(rng.standard_normal((4, 3, 3, 3)), device=device)
    F.conv2d(x2, w2, stride=2).sum().backward()
    assert w2.grad is None and x2.grad.shape == (2, 3, 6, 6)
    # every input pixel that some window reads gets a gradient; row 5 / column 5 are never read
    g = x2.grad.numpy()
    assert np.all(g[:, :, 5, :] == 0) and np.any(g[:, :, 4, :] != 0)


def test_float32_in_float32_out_and_no_grad(device):
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32), device=device)
    w = Tensor(
        rng.standard_normal((5, 3, 3, 3)).astype(np.float32), requires_grad=True, device=device
    )
    with no_grad():
        y = F.conv2d(x, w, padding=1)
    assert y.dtype == np.float32 and y.creator is None
    t = F.conv_transpose2d(
        y, Tensor(rng.standard_normal((5, 2, 2, 2)).astype(np.float32), device=device), stride=2
    )
    assert t.dtype == np.float32 and t.shape == (2, 2, 16, 16)
    ref = R.conv2d(x.numpy(), w.numpy(), padding=1)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "k, s, p, d",
    [(3, 1, 1, 1), (3, 2, 1, 1), (2, 2, 0, 1), (3, 1, 2, 2), (5, 3, 2, 1), (1, 1, 0, 1)],
)
def test_output_shape_helpers_agree_with_the_ops(k, s, p, d):
    x = np.zeros((2, 3, 11, 9))
    w = np.zeros((4, 3, k, k))
    assert F.conv2d(x, w, stride=s, padding=p, dilation=d).shape == sizes.conv2d_output_shape(
        x.shape, 4, k, s, p, d
    )
    wt = np.zeros((3, 4, k, k))
    for a in range(max(s, d)):
        shape = sizes.conv_transpose2d_output_shape(x.shape, 4, k, s, p, a, d)
        if min(shape[2:]) > 0:
            assert (
                F.conv_transpose2d(x, wt, stride=s, padding=p, output_padding=a, dilation=d).shape
                == shape
            )


def test_output_size_picks_output_padding():
    """A stride-2 conv maps 7 and 8 rows to 4: the transposed conv reaches both via output_size."""
    x, w = np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3))
    assert F.conv_transpose2d(x, w, stride=2, padding=1, output_size=(7, 8)).shape == (1, 1, 7, 8)
    y = F.conv_transpose2d(x, w, stride=2, padding=1, output_size=(1, 1, 8, 7))
    assert y.shape == (1, 1, 8, 7)
    assert sizes.output_padding_for(8, 4, 3, stride=2, padding=1) == 1
    with pytest.raises(ValueError, match=r"conv_transpose2d: output_size 9 along H.*\[7, 8\]"):
        F.conv_transpose2d(x, w, stride=2, padding=1, output_size=9)


@pytest.mark.parametrize("groups", [1, 2])
def test_unet_up_convolution_with_bias(groups, device):
    """2x2 stride-2 transposed conv doubles the size exactly (U-Net's up-convolution): the stamps
    tile the output without overlap, and the bias is added to every pixel once."""
    rng = np.random.default_rng(groups)
    x, w = rng.standard_normal((2, 8, 5, 7)), rng.standard_normal((8, 2, 2, 2))
    b = rng.standard_normal(2 * groups)
    y = F.conv_transpose2d(
        Tensor(x, device=device),
        Tensor(w, device=device),
        Tensor(b, device=device),
        stride=2,
        groups=groups,
    )
    assert y.shape == (2, 2 * groups, 10, 14)
    np.testing.assert_allclose(y.numpy(), R.conv_transpose2d(x, w, b, 2, groups=groups), atol=1e-12)


# ----------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    "call, pattern",
    [
        (
            lambda: F.conv2d(np.ones((1, 3, 5, 5)), np.ones((4, 2, 3, 3))),
            r"conv2d: input \(1, 3, 5, 5\) has 3 channels but weight \(4, 2, 3, 3\)"
            r".*C_in = weight\.shape\[1\] \* groups = 2",
        ),
        (
            lambda: F.conv2d(np.ones((1, 4, 5, 5)), np.ones((3, 2, 3, 3)), groups=2),
            r"conv2d: C_out = weight\.shape\[0\] = 3 is not divisible by groups = 2",
        ),
        (
            lambda: F.conv2d(np.ones((1, 3, 2, 2)), np.ones((4, 3, 5, 5)), padding=1),
            r"conv2d: kernel 5x5 is larger than the padded input 4x4 "
            r"\(input shape \(1, 3, 2, 2\), padding \(1, 1\)\)",
        ),
        (
            lambda: F.conv2d(np.ones((1, 3, 4, 4)), np.ones((4, 3, 3, 3)), dilation=2),
            r"conv2d: kernel 3x3 \(extent 5x5 with dilation \(2, 2\)\) "
            r"is larger than the padded input 4x4",
        ),
        (
            lambda: F.conv2d(np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), stride=0),
            r"conv2d: stride must be positive, got 0",
        ),
        (
            lambda: F.conv2d(np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), stride=(1, -2)),
            r"conv2d: stride must be positive, got \(1, -2\)",
        ),
        (
            lambda: F.conv2d(np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), padding=-1),
            r"conv2d: padding must be >= 0",
        ),
        (
            lambda: F.conv2d(np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), None, 2, "same"),
            r"conv2d: padding='same' is not supported for strided convolutions",
        ),
        (
            lambda: F.conv2d(np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), padding="full"),
            r"conv2d: padding must be an int, a pair \(h, w\), 'same' or 'valid', got 'full'",
        ),
        (
            lambda: F.conv2d(np.ones((3, 5, 5)), np.ones((4, 3, 3, 3))),
            r"conv2d: expected a 4-D input \(N, C, H, W\), got shape \(3, 5, 5\) \(3-D\)",
        ),
        (
            lambda: F.conv2d(np.ones((1, 3, 5, 5)), np.ones((4, 3, 3))),
            r"conv2d: expected a 4-D weight \(C_out, C_in/groups, kH, kW\), got shape \(4, 3, 3\)",
        ),
        (
            lambda: F.conv2d(np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), np.ones(3)),
            r"conv2d: bias must have shape \(4,\)",
        ),
        (
            lambda: F.conv_transpose2d(np.ones((1, 3, 5, 5)), np.ones((4, 2, 3, 3))),
            r"conv_transpose2d: input \(1, 3, 5, 5\) has 3 channels but weight \(4, 2, 3, 3\) "
            r"expects C_in = weight\.shape\[0\] = 4",
        ),
        (
            lambda: F.conv_transpose2d(np.ones((1, 3, 5, 5)), np.ones((3, 2, 3, 3)), stride=0),
            r"conv_transpose2d: stride must be positive",
        ),
        (
            lambda: F.conv_transpose2d(np.ones((1, 3, 5)), np.ones((3, 2, 3, 3))),
            r"conv_transpose2d: expected a 4-D input",
        ),
        (
            lambda: F.conv_transpose2d(
                np.ones((1, 3, 5, 5)), np.ones((3, 2, 3, 3)), stride=2, output_padding=2
            ),
            r"conv_transpose2d: output_padding \(2, 2\) must be smaller than "
            r"max\(stride, dilation\) = 2",
        ),
        (
            lambda: F.conv_transpose2d(np.ones((1, 1, 1, 1)), np.ones((1, 1, 2, 2)), padding=1),
            r"conv_transpose2d: the crop \(padding \(1, 1\)\) removes everything",
        ),
    ],
)
def test_bad_input_is_a_clear_value_error(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


@pytest.mark.parametrize("stacked", [False, True])
@settings(max_examples=30)
@given(c=conv_params(max_hw=9), lo=st.tuples(*[st.integers(-1, 2)] * 2), extra=st.integers(0, 2))
def test_row_shift_convolution_equals_im2col(stacked, c, lo, extra):
    """The fast path's stride-1 convolution as kH GEMMs on row-shifted views (fast._conv2d_rows),
    one per kernel row or with the rows stacked into one GEMM, equals the im2col one and the naive
    reference, with dilation, 1xk / kx1 kernels, asymmetric padding and cropping (negative
    padding: the transposed convolution's adjoint uses both)."""
    from minisegnet.functional import fast

    x, w, _ = _arrays(dict(c, g=1, cin=c["cin"] + 1))
    hi = (lo[0] + extra, lo[1])
    ho, wo = (n + a + b - d * (k - 1) for n, a, b, d, k in zip(c["hw"], lo, hi, c["d"], c["k"]))
    assume(ho >= 1 and wo >= 1)
    out = []
    for rows in (True, False):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(fast, "ROW_SHIFTS", rows)
            mp.setattr(fast, "ROW_SHIFTS_MIN_PIXELS", 1)
            mp.setattr(fast, "ROW_SHIFTS_STACK_MAX_COUT", 10**6 if stacked else 0)
            mp.setattr(fast, "ROW_SHIFTS_STACK_MIN_K", 0)
            y, _ = fast._conv2d_array(x, w, (1, 1), lo, hi, c["d"], 1, np)
            out.append(y)
    assert out[0].shape == (c["n"], c["cout"], ho, wo)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-12, atol=1e-12)
    pads = [(max(a, 0), max(b, 0)) for a, b in zip(lo, hi)]
    xpad = np.pad(x, ((0, 0), (0, 0), *pads))
    xpad = xpad[:, :, max(-lo[0], 0) : xpad.shape[2] - max(-hi[0], 0)]
    xpad = xpad[:, :, :, max(-lo[1], 0) : xpad.shape[3] - max(-hi[1], 0)]
    ref = R.conv2d(xpad, w, None, 1, 0, c["d"], 1)
    np.testing.assert_allclose(out[0], ref, rtol=1e-10, atol=1e-10)


@settings(max_examples=30)
@given(c=conv_params(max_hw=9))
def test_row_shift_weight_gradient_equals_im2col(c):
    """dW of a stride-1 convolution from the row copy (fast._conv2d_weight_grad_rows) equals
    dW = dy @ im2col(x)^T, with dilation and padding."""
    from minisegnet.functional import fast

    x, w, _ = _arrays(dict(c, g=1, cin=c["cin"] + 1))
    p, d = c["p"], c["d"]
    ho, wo = (
        sizes.conv_output_size(n, k, 1, pi, di) for n, k, pi, di in zip(c["hw"], c["k"], p, d)
    )
    assume(ho >= 1 and wo >= 1)
    gy = np.random.default_rng(c["seed"] + 1).standard_normal((c["n"], c["cout"], ho, wo))
    got = fast._conv2d_weight_grad_rows(x, gy, w.shape, p, d, np)
    cols = fast._im2col(x, w.shape[2:], (1, 1), p, (ho, wo), d, np)
    np.testing.assert_allclose(
        got, fast._conv2d_weight_grad(cols, gy, w.shape, 1, np), rtol=1e-11, atol=1e-11
    )
    # the definition, tap by tap: dW[:, c, i, j] = sum over n, p, q of dy times the input values
    # that tap (i, j) of the kernel meets, read off the naive convolution with a one-hot kernel
    want = np.zeros(w.shape)
    for c_in, i, j in np.ndindex(w.shape[1:]):
        onehot = np.zeros((1, 1, *w.shape[2:]))
        onehot[0, 0, i, j] = 1.0
        taps = R.conv2d(x[:, c_in : c_in + 1], onehot, None, 1, p, d)[:, 0]
        want[:, c_in, i, j] = np.einsum("nopq,npq->o", gy, taps)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_recycled_scratch_buffers_do_not_leak_between_calls():
    """conv2d recycles its large im2col buffers (>= 1 MB) once the graph is freed: repeated
    training steps, interleaved layers and retain_graph must all still give the same gradients."""
    rng = np.random.default_rng(5)
    x1 = Tensor(rng.standard_normal((2, 16, 48, 48)).astype(np.float32), requires_grad=True)
    x2 = Tensor(rng.standard_normal((2, 16, 48, 48)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((16, 16, 3, 3)).astype(np.float32) * 0.1, requires_grad=True)
    grads = []
    for _ in range(2):
        w.grad = x1.grad = x2.grad = None
        y1 = F.conv2d(x1, w, padding=1)  # both graphs alive: two im2col buffers in use at once
        y2 = F.conv2d(x2, w, padding=1)
        (y1 * y1).sum().backward(retain_graph=True)
        g_once = w.grad.numpy().copy()
        w.grad = None
        (y1 * y1).sum().backward()  # the retained graph still holds its own buffer
        np.testing.assert_allclose(w.grad.numpy(), g_once, rtol=1e-5)
        (y2 * 2).sum().backward()
        grads.append((g_once, x1.grad.numpy().copy()))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])
    ref = R.conv2d(x1.numpy()[:1, :2, :6, :6], w.numpy()[:3, :2], padding=1)
    small = F.conv2d(x1.numpy()[:1, :2, :6, :6], w.numpy()[:3, :2], padding=1).numpy()
    np.testing.assert_allclose(small, ref, rtol=1e-4, atol=1e-4)


def test_one_switch_picks_the_path_and_restores_it():
    """F.fast_path(False) as a call switches from then on; as a context manager, for the block.
    The fast Functions keep the op's short name in messages and reprs."""
    from minisegnet.functional import conv, fast, pool

    x = Tensor(np.ones((1, 2, 4, 4)), requires_grad=True)
    w = Tensor(np.ones((3, 2, 3, 3)), requires_grad=True)
    assert F.fast_path_enabled()
    assert type(F.conv2d(x, w).creator) is fast.FastConv2dFunction
    assert "grad_fn=Conv2d" in repr(F.conv2d(x, w))
    with F.fast_path(False):
        assert not F.fast_path_enabled()
        assert type(F.conv2d(x, w).creator) is conv.Conv2dFunction
        assert (
            type(F.conv_transpose2d(x, w.detach().numpy().transpose(1, 0, 2, 3)).creator)
            is conv.ConvTranspose2dFunction
        )
        assert type(F.max_pool2d(x, 2).creator) is pool.MaxPool2dFunction
    assert F.fast_path_enabled()
    assert type(F.max_pool2d(x, 2).creator) is fast.FastMaxPool2dFunction
    F.fast_path(False)
    try:
        assert not F.fast_path_enabled()
    finally:
        F.fast_path(True)
    assert F.fast_path_enabled()
