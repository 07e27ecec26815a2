"""Every op of minisegnet.functional.basic: (1) its value against the NumPy / lecture definition and
(2) its gradient through gradcheck, both on hypothesis-drawn inputs, on every backend present.

Values are drawn away from kinks (0 for ReLU/abs, +-1/2 for the piece-wise linear unit, the clip
bounds) and without ties (max/min, maximum/minimum), so central differences are meaningful.
"""

import numpy as np
import pytest
from backends import BACKENDS, running_on
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minisegnet.functional as F
from minisegnet import Tensor, gradcheck

from conftest import DEVICES
from strategies import (
    arrays,
    axes,
    broadcast_pairs,
    crops,
    distinct_arrays,
    int_indices,
    permutations,
    positive_arrays,
    shapes,
)

TESTED: set[str] = set()  # public names of functional.basic covered below (checked at the end)


def covers(*names):
    """Mark the public op names a test covers (at import, so the final check sees all)."""
    TESTED.update(names)
    return lambda f: f


def T(x, device, grad=True):
    """A float64 tensor on ``device`` (gradcheck's precision)."""
    return Tensor(np.asarray(x, dtype=np.float64), requires_grad=grad, device=device)


def assert_close(y, expected, rtol=1e-10, atol=1e-12):
    assert isinstance(y, Tensor)
    np.testing.assert_allclose(y.numpy(), expected, rtol=rtol, atol=atol)
    assert y.shape == np.shape(expected)


# ----------------------------------------------------------------------------------------------
# elementwise functions: deck 001's activation table, written as the deck defines each unit


def _scalar(f):
    return lambda x: np.vectorize(f, otypes=[np.float64])(x)


UNARY = {
    # name: (op, definition, values)
    "exp": (F.exp, np.exp, arrays),
    "log": (F.log, np.log, positive_arrays),
    "sqrt": (F.sqrt, np.sqrt, positive_arrays),
    "abs": (F.abs, np.abs, arrays),
    "neg": (F.neg, np.negative, arrays),
    "step": (F.step, _scalar(lambda z: 1.0 if z > 0 else (0.5 if z == 0 else 0.0)), arrays),
    "sign": (F.sign, _scalar(lambda z: 1.0 if z > 0 else (0.0 if z == 0 else -1.0)), arrays),
    "linear": (F.linear, _scalar(lambda z: z), arrays),
    "piecewise_linear": (
        F.piecewise_linear,
        _scalar(lambda z: 0.0 if z < -0.5 else (z + 0.5 if z <= 0.5 else 1.0)),
        lambda s: arrays(s, avoid=(-0.5, 0.5)),
    ),
    "sigmoid": (F.sigmoid, _scalar(lambda z: 1 / (1 + np.exp(-z))), arrays),
    "tanh": (
        F.tanh,
        _scalar(lambda z: (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))),
        arrays,
    ),
    "relu": (F.relu, _scalar(lambda z: max(0.0, z)), arrays),
    "leaky_relu": (F.leaky_relu, _scalar(lambda z: z if z > 0 else 0.01 * z), arrays),
    "softplus": (F.softplus, _scalar(lambda z: np.log(1 + np.exp(z))), arrays),
}
TESTED.update(UNARY)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_value(name, device, data):
    op, definition, values = UNARY[name]
    x = data.draw(shapes().flatmap(values))
    assert_close(op(T(x, device, grad=False)), definition(x))
    y32 = op(Tensor(x.astype(np.float32), device=device))  # float32 in, float32 out
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32.numpy(), definition(x.astype(np.float32)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=10)
@given(data=st.data())
def test_unary_grad(name, device, data):
    op, _, values = UNARY[name]
    x = data.draw(shapes().flatmap(values))
    assert gradcheck(op, T(x, device), name=name)


@pytest.mark.parametrize("device", DEVICES)
def test_activation_table_at_the_kinks(device):
    """The deck's special points: step(0) = 0.5, sign(0) = 0, piece-wise linear at +-1/2."""
    z = T([-1.0, -0.5, 0.0, 0.5, 1.0], device, grad=False)
    assert_close(F.step(z), [0.0, 0.0, 0.5, 1.0, 1.0])
    assert_close(F.sign(z), [-1.0, -1.0, 0.0, 1.0, 1.0])
    assert_close(F.piecewise_linear(z), [0.0, 0.0, 0.5, 1.0, 1.0])
    assert_close(F.relu(z), [0.0, 0.0, 0.0, 0.5, 1.0])
    assert_close(F.sigmoid(z)[2:3], [0.5])
    assert_close(F.softplus(z)[2:3], [np.log(2.0)])


@pytest.mark.parametrize("device", DEVICES)
def test_activations_finite_for_huge_inputs(device):
    z = T([-1e4, -800.0, 0.0, 800.0, 1e4], device)
    for op in (F.sigmoid, F.tanh, F.softplus):
        y = op(z)
        y.sum().backward()
        assert np.isfinite(y.numpy()).all() and np.isfinite(z.grad.numpy()).all(), op.__name__
        z.grad = None
    assert_close(F.sigmoid(z), [0.0, 0.0, 0.5, 1.0, 1.0])
    assert_close(F.softplus(z), [0.0, 0.0, np.log(2.0), 800.0, 1e4])


# ----------------------------------------------------------------------------------------------
# binary elementwise ops with broadcasting


@st.composite
def offset_grid(draw, shape, offset):
    """Values 0.2 k + offset + jitter (|jitter| < 0.03): arrays with offsets 0 and 0.1 never tie."""
    k = draw(hnp.arrays(np.int64, shape, elements=st.integers(-15, 15)))
    jitter = draw(hnp.arrays(np.float64, shape, elements=st.floats(-0.029, 0.029)))
    return 0.2 * k + offset + jitter


BINARY = {
    # name: (op, definition, (values of a, values of b))
    "add": (F.add, np.add, (arrays, arrays)),
    "sub": (F.sub, np.subtract, (arrays, arrays)),
    "mul": (F.mul, np.multiply, (arrays, arrays)),
    "div": (F.div, np.divide, (arrays, lambda s: arrays(s, avoid=(0.0,), margin=0.3))),
    "pow": (F.pow, np.power, (positive_arrays, lambda s: arrays(s, low=-2, high=2))),
    "maximum": (
        F.maximum,
        np.maximum,
        (lambda s: offset_grid(s, 0.0), lambda s: offset_grid(s, 0.1)),
    ),
    "minimum": (
        F.minimum,
        np.minimum,
        (lambda s: offset_grid(s, 0.0), lambda s: offset_grid(s, 0.1)),
    ),
}
TESTED.update(BINARY)


def _draw_binary(data, name):
    _, _, (va, vb) = BINARY[name]
    sa, sb = data.draw(broadcast_pairs())
    return data.draw(va(sa)), data.draw(vb(sb))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_value(name, device, data):
    op, definition, _ = BINARY[name]
    a, b = _draw_binary(data, name)
    assert_close(op(T(a, device, False), T(b, device, False)), definition(a, b))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=10)
@given(data=st.data())
def test_binary_grad(name, device, data):
    op, _, _ = BINARY[name]
    a, b = _draw_binary(data, name)
    assert gradcheck(op, T(a, device), T(b, device), name=name)


@pytest.mark.parametrize("device", DEVICES)
@given(x=shapes().flatmap(arrays), c=st.floats(0.5, 2.0))
def test_operators_and_numbers(device, x, c):
    """Python operators call the ops; a number takes the tensor's dtype (float32 stays float32)."""
    t = T(x, device, grad=False)
    (
        assert_close(t + c, x + c),
        assert_close(c + t, c + x),
        assert_close(t - c, x - c),
        assert_close(c - t, c - x),
    )
    (
        assert_close(t * c, x * c),
        assert_close(c * t, c * x),
        assert_close(t / c, x / c),
        assert_close(c / t, c / x),
    )
    (
        assert_close(-t, -x),
        assert_close(abs(t), np.abs(x)),
        assert_close(t**2, x**2),
        assert_close(c**t, c**x),
    )
    t32 = Tensor(x.astype(np.float32), device=device)
    for y in (t32 + c, c * t32, t32 / c, t32**2, c - t32):
        assert y.dtype == np.float32


@pytest.mark.parametrize("device", DEVICES)
def test_pow_gradient_of_the_exponent(device):
    """d(a^b)/db = a^b ln a; with a constant base (2 ** x) too."""
    a, b = T([0.5, 2.0, 3.0], device), T([1.5, -1.0, 2.0], device)
    (a**b).sum().backward()
    assert_close(b.grad, np.array([0.5, 2.0, 3.0]) ** [1.5, -1.0, 2.0] * np.log([0.5, 2.0, 3.0]))
    assert gradcheck(lambda e: 2.0**e, T([0.3, -1.2], device))


@covers("where")
@pytest.mark.parametrize("device", DEVICES)
@given(data=st.data())
def test_where(device, data):
    sc, sa, sb = data.draw(
        hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=4)
    ).input_shapes
    cond = data.draw(hnp.arrays(np.bool_, sc))
    a, b = data.draw(arrays(sa)), data.draw(arrays(sb))
    assert_close(
        F.where(Tensor(cond, device=device), T(a, device, False), T(b, device, False)),
        np.where(cond, a, b),
    )
    assert gradcheck(
        lambda x, y: F.where(Tensor(cond, device=device), x, y),
        T(a, device),
        T(b, device),
        name="where",
    )


@covers("clip", "clamp")
@pytest.mark.parametrize("device", DEVICES)
@given(data=st.data())
def test_clip(device, data):
    lo = data.draw(st.floats(-2, 0))
    hi = data.draw(st.one_of(st.none(), st.floats(lo + 0.5, 2.5)))
    x = data.draw(shapes().flatmap(lambda s: arrays(s, avoid=(lo,) if hi is None else (lo, hi))))
    assert_close(F.clip(T(x, device, False), lo, hi), np.clip(x, lo, hi))
    assert_close(F.clamp(T(x, device, False), min=None, max=lo), np.minimum(x, lo))
    assert gradcheck(lambda t: F.clip(t, lo, hi), T(x, device), name="clip")
    assert gradcheck(lambda t: t.clamp(max=lo), T(x, device), name="clamp")


# ----------------------------------------------------------------------------------------------
# matmul: 1-D, 2-D, batched with broadcasting


@st.composite
def matmul_pair(draw, kind):
    """kind: v = a 1-D operand, m = a (batched) matrix."""
    m, k, n = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ba, bb = draw(broadcast_pairs(max_dims=2, max_side=2))
    sa = (k,) if kind[0] == "v" else ba + (m, k)
    sb = (k,) if kind[1] == "v" else bb + (k, n)
    return draw(arrays(sa)), draw(arrays(sb))


@covers("matmul")
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["vv", "vm", "mv", "mm"])
@settings(max_examples=10)
@given(data=st.data())
def test_matmul(device, kind, data):
    a, b = data.draw(matmul_pair(kind))
    expected = np.einsum(
        "...ij,...jk->...ik",
        np.atleast_2d(a) if a.ndim > 1 else a[None],
        b if b.ndim > 1 else b[:, None],
    )  # the sum over k, written out
    expected = expected[..., 0, :] if a.ndim == 1 else expected
    expected = expected[..., 0] if b.ndim == 1 else expected
    assert_close(F.matmul(T(a, device, False), T(b, device, False)), expected)
    assert_close(T(a, device, False) @ T(b, device, False), expected)
    assert gradcheck(F.matmul, T(a, device), T(b, device), name="matmul")


def test_matmul_errors_name_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) @ \(2, 3\)"):
        F.matmul(Tensor(np.ones((2, 3))), Tensor(np.ones((2, 3))))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        F.matmul(Tensor(2.0), Tensor(np.ones(3)))


# ----------------------------------------------------------------------------------------------
# reductions


@covers("sum", "mean", "max", "min")
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "name, values",
    [
        ("sum", arrays),
        ("mean", arrays),
        ("max", distinct_arrays),
        ("min", distinct_arrays),  # no ties: one element wins each window
    ],
)
@given(data=st.data(), keepdims=st.booleans())
def test_reductions(name, values, device, data, keepdims):
    """F.sum / mean / max / min against NumPy; the gradient through the function and the
    Tensor method of the same name."""
    x = data.draw(shapes().flatmap(values))
    axis = data.draw(axes(x.ndim))
    op = getattr(F, name)
    assert_close(
        op(T(x, device, False), axis=axis, keepdims=keepdims),
        getattr(np, name)(x, axis=axis, keepdims=keepdims),
    )
    assert gradcheck(lambda t: op(t, axis=axis, keepdims=keepdims), T(x, device), name=name)
    assert gradcheck(
        lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), T(x, device), name=name
    )


@pytest.mark.parametrize("device", DEVICES)
def test_max_splits_the_gradient_on_ties(device):
    x = T([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], device)
    F.max(x, axis=1).sum().backward()
    assert_close(x.grad, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])


@pytest.mark.parametrize("device", DEVICES)
def test_max_with_dim_sends_the_gradient_to_the_returned_index(device):
    """Oracle sweep: max(x, dim).values split the gradient between tied maxima; PyTorch sends it
    to the one element whose index it returns (the first maximum), amax splits (above)."""
    x = T([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], device)
    values, indices = F.max(x, dim=1)
    assert indices.numpy().tolist() == [1, 0]
    (values * T([1.0, 10.0], device, False)).sum().backward()
    assert_close(x.grad, [[0.0, 1.0, 0.0], [10.0, 0.0, 0.0]])
    y = T([[1.0, -1.0], [-1.0, 5.0], [-1.0, 0.0]], device)
    v, i = F.min(y, dim=0, keepdim=True)
    assert i.numpy().tolist() == [[1, 0]] and v.shape == (1, 2)
    (v * T([[2.0, 3.0]], device, False)).sum().backward()
    assert_close(y.grad, [[0.0, 3.0], [2.0, 0.0], [0.0, 0.0]])
    z = T(np.random.default_rng(4).standard_normal((2, 3, 4)), device)
    assert gradcheck(lambda t: F.max(t, dim=-1).values + F.min(t, 2, keepdim=True)[0][..., 0], z)


@pytest.mark.parametrize("device", DEVICES)
def test_maximum_and_minimum_split_the_gradient_half_and_half_on_ties(device):
    """Oracle sweep: the whole gradient went to the first input on a tie; PyTorch gives each
    input half (a broadcast scalar input collects its halves)."""
    a, b = T([1.0, 2.0, 3.0], device), T([1.0, 5.0, 0.0], device)
    (F.maximum(a, b) * T([2.0, 4.0, 8.0], device, False)).sum().backward()
    assert_close(a.grad, [1.0, 0.0, 8.0])
    assert_close(b.grad, [1.0, 4.0, 0.0])
    c, s = T([0.5, 1.0, 2.0, 1.0], device), T(1.0, device)
    F.minimum(c, s).sum().backward()
    assert_close(c.grad, [1.0, 0.5, 0.0, 0.5])
    assert_close(s.grad, 0.5 + 1.0 + 0.5)


@pytest.mark.parametrize("where", BACKENDS)
def test_tie_rules_negative_pad_and_item_assignment_on_every_backend(where):
    """The oracle sweep's new paths (take_along_axis, the tie shares, the crop, __setitem__) on
    the fake GPU backend too."""
    with running_on(where) as device:
        x = T([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], device)
        F.max(x, dim=1).values.sum().backward()
        assert_close(x.grad, [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
        a, b = T([1.0, 2.0], device), T([1.0, 0.0], device)
        F.maximum(a, b).sum().backward()
        assert_close(a.grad, [0.5, 1.0])
        y = F.pad(T(np.arange(6.0).reshape(2, 3), device, False), pad=(-1, 1))
        assert y.device == device
        assert_close(y, [[1.0, 2.0, 0.0], [4.0, 5.0, 0.0]])
        z = T(np.zeros(3), device, False)
        z[z == 0] = 2.0
        z[Tensor(np.array([1]), device=device)] = -1.0
        assert z.device == device
        assert_close(z, [2.0, -1.0, 2.0])


@covers("argmax", "argmin")
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(data=st.data(), keepdims=st.booleans())
def test_argmax_argmin(name, device, data, keepdims):
    x = data.draw(shapes(min_dims=1).flatmap(distinct_arrays))
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    y = getattr(F, name)(T(x, device), axis=axis, keepdims=keepdims)
    assert_close(y, getattr(np, name)(x, axis=axis, keepdims=keepdims))
    assert y.dtype.kind == "i" and not y.requires_grad and y.creator is None  # no gradient


# ----------------------------------------------------------------------------------------------
# shape ops


@covers("reshape", "flatten")
@pytest.mark.parametrize("device", DEVICES)
@given(data=st.data())
def test_reshape_flatten(device, data):
    x = data.draw(shapes().flatmap(arrays))
    new = data.draw(st.permutations(x.shape + (1,)).map(tuple))  # same size, size-1 axis inserted
    assert_close(F.reshape(T(x, device, False), new), x.reshape(new))
    assert_close(T(x, device, False).reshape(-1), x.reshape(-1))
    assert_close(
        F.flatten(T(x, device, False), start_dim=min(1, x.ndim)),
        x.reshape(x.shape[: min(1, x.ndim)] + (-1,)),
    )
    assert gradcheck(lambda t: F.reshape(t, new), T(x, device), name="reshape")
    assert gradcheck(lambda t: t.flatten(), T(x, device), name="flatten")


def test_reshape_error_names_shapes():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\)"):
        F.reshape(Tensor(np.ones((2, 3))), (4, 2))


@covers("permute", "transpose")
@pytest.mark.parametrize("device", DEVICES)
@given(data=st.data())
def test_permute_transpose(device, data):
    x = data.draw(shapes(min_dims=1).flatmap(arrays))
    order = data.draw(permutations(x.ndim))
    i, j = data.draw(st.integers(-x.ndim, x.ndim - 1)), data.draw(st.integers(0, x.ndim - 1))
    assert_close(F.permute(T(x, device, False), order), np.transpose(x, order))
    assert_close(F.transpose(T(x, device, False), i, j), np.swapaxes(x, i, j))
    assert_close(T(x, device, False).T, x.T)
    assert gradcheck(lambda t: t.permute(*order), T(x, device), name="permute")
    assert gradcheck(lambda t: F.transpose(t, i, j), T(x, device), name="transpose")


@covers("getitem")
@pytest.mark.parametrize("device", DEVICES)
@given(data=st.data())
def test_getitem_crops_and_basic_indices(device, data):
    """A crop is a slice; basic indices (ints, slices, Ellipsis, None) as NumPy reads them."""
    x = data.draw(shapes(min_dims=1).flatmap(arrays))
    for index in (
        data.draw(crops(x.shape)),
        data.draw(hnp.basic_indices(x.shape, allow_newaxis=True)),
    ):
        assert_close(T(x, device, False)[index], x[index])
        assert gradcheck(lambda t, i=index: F.getitem(t, i), T(x, device), name="getitem")


@pytest.mark.parametrize("device", DEVICES)
@given(data=st.data())
def test_getitem_integer_arrays_accumulate(device, data):
    """x[idx] with repeated indices: each pick sends its gradient back, so repeats add up."""
    x = data.draw(shapes(min_dims=1).flatmap(arrays))
    idx = data.draw(int_indices(x.shape[0]))
    t = T(x, device)
    y = t[Tensor(idx, device=device)]  # a Tensor index works like an array index
    assert_close(y, x[idx])
    y.sum().backward()
    counts = np.zeros(x.shape[0])
    for i in idx:  # the definition: one count per pick
        counts[i] += 1
    assert_close(t.grad, np.broadcast_to(counts.reshape((-1,) + (1,) * (x.ndim - 1)), x.shape))
    assert gradcheck(lambda u: u[idx], T(x, device), name="getitem")
    mask = x > 0
    assert_close(T(x, device, False)[mask], x[mask])
    assert gradcheck(lambda u: u[mask], T(x, device), name="getitem[mask]")


@covers("concatenate", "cat", "stack")
@pytest.mark.parametrize("device", DEVICES)
@given(data=st.data(), n=st.integers(1, 3))
def test_concatenate_stack(device, data, n):
    base = data.draw(shapes(min_dims=1))
    axis = data.draw(st.integers(-len(base), len(base) - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    parts = []
    for s in sizes:
        shape = list(base)
        shape[axis] = s
        parts.append(data.draw(arrays(tuple(shape))))
    assert_close(
        F.concatenate([T(p, device, False) for p in parts], axis=axis), np.concatenate(parts, axis)
    )
    assert gradcheck(lambda *ts: F.cat(ts, axis=axis), *[T(p, device) for p in parts], name="cat")
    same = [data.draw(arrays(base)) for _ in range(n)]
    new_axis = data.draw(st.integers(-len(base) - 1, len(base)))
    assert_close(
        F.stack([T(p, device, False) for p in same], axis=new_axis), np.stack(same, new_axis)
    )
    assert gradcheck(
        lambda *ts: F.stack(ts, axis=new_axis), *[T(p, device) for p in same], name="stack"
    )


def test_concatenate_error_suggests_crop():
    with pytest.raises(
        ValueError, match=r"concatenate: shapes \[\(1, 2, 4, 4\), \(1, 3, 6, 6\)\].*crop"
    ):
        F.concatenate([Tensor(np.ones((1, 2, 4, 4))), Tensor(np.ones((1, 3, 6, 6)))], axis=1)


@covers("pad")
@pytest.mark.parametrize("device", DEVICES)
@given(data=st.data(), value=st.floats(-2, 2))
def test_pad(device, data, value):
    x = data.draw(shapes(min_dims=1).flatmap(arrays))
    widths = data.draw(
        st.one_of(
            st.integers(0, 2),
            st.tuples(st.integers(0, 2), st.integers(0, 2)),
            st.lists(
                st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=x.ndim, max_size=x.ndim
            ),
        )
    )
    assert_close(
        F.pad(T(x, device, False), widths, value=value),
        np.pad(x, widths, mode="constant", constant_values=value),
    )
    assert gradcheck(lambda t: F.pad(t, widths, value), T(x, device), name="pad")


def test_pad_error():
    with pytest.raises(ValueError, match=r"pad: pad_width \(-1, 2\) does not fit .* \(2, 2\)"):
        F.pad(Tensor(np.ones((2, 2))), (-1, 2))


@covers("to")
@pytest.mark.parametrize("device", DEVICES)
@given(x=shapes().flatmap(arrays))
def test_to_dtype_and_device(device, x):
    t = T(x, device)
    y = F.to(t, device=device, dtype=np.float32)
    assert y.dtype == np.float32 and y.device == device
    np.testing.assert_allclose(y.numpy(), x.astype(np.float32))
    (y * 2).sum().backward()
    assert t.grad.dtype == np.float64 and t.grad.device == device
    assert_close(t.grad, np.full(x.shape, 2.0))
    assert F.to(t, device) is t  # nothing to do: the same tensor
    assert gradcheck(lambda u: F.to(u, "cpu") * 3, T(x, device), name="to")
    labels = F.to(t, dtype=np.int64)  # an integer copy leaves the graph instead of failing
    assert labels.dtype == np.int64 and not labels.requires_grad


# ----------------------------------------------------------------------------------------------
# softmax and log-softmax


def _softmax_definition(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@covers("softmax", "log_softmax")
@pytest.mark.parametrize("device", DEVICES)
@given(data=st.data())
def test_softmax_log_softmax(device, data):
    x = data.draw(shapes(min_dims=2).flatmap(lambda s: arrays(s, low=-5, high=5)))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    p = F.softmax(T(x, device, False), axis=axis)
    assert_close(p, _softmax_definition(x, axis))
    assert_close(p.sum(axis=axis), np.ones(np.delete(x.shape, axis % x.ndim)))
    assert_close(
        F.log_softmax(T(x, device, False), axis=axis), np.log(_softmax_definition(x, axis))
    )
    assert_close(
        T(x, device, False).softmax(), _softmax_definition(x, 1)
    )  # the class axis by default
    assert gradcheck(lambda t: F.softmax(t, axis=axis), T(x, device), name="softmax")
    assert gradcheck(lambda t: F.log_softmax(t, axis=axis), T(x, device), name="log_softmax")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_finite_for_huge_logits(device, dtype):
    """Logits of +-1e4: probabilities finite, summing to 1; log-softmax and gradients finite."""
    logits = np.array([[1e4, -1e4, 0.0, 1e4 - 1.0], [-1e4, -1e4, -1e4, -1e4]], dtype=dtype)
    for op in (F.softmax, F.log_softmax):
        x = Tensor(logits, requires_grad=True, device=device)
        y = op(x, axis=1)
        (y * Tensor(np.arange(8, dtype=dtype).reshape(2, 4), device=device)).sum().backward()
        assert np.isfinite(y.numpy()).all() and np.isfinite(x.grad.numpy()).all(), op.__name__
    p = F.softmax(Tensor(logits, device=device), axis=1).numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    e = 1 / (1 + np.exp(-1.0))
    np.testing.assert_allclose(p, [[e, 0, 0, 1 - e], [0.25] * 4], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        F.log_softmax(Tensor(logits, device=device), axis=1).numpy()[0, 1],
        -2e4 - np.log1p(np.exp(-1.0)),
        rtol=1e-6,
    )


def test_every_public_op_is_tested():
    """A new op in functional/basic.py needs a value test and a gradient test here."""
    import minisegnet.functional.basic as basic

    missing = sorted(set(basic.__all__) - TESTED)
    assert not missing, f"ops without tests in {__file__}: {missing}"


def test_pow_gradient_of_zeroth_power_at_zero_is_zero_not_nan():
    # d/dx x**0 = 0 everywhere; b * a**(b-1) would be 0 * inf = nan at a = 0
    x = Tensor(np.array([0.0, 1.0, 2.0]), requires_grad=True)
    (x**0.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])
