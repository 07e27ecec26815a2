"""The Tensor-API gaps a PyTorch user hits first (minisegnet/functional/tensorops.py and the Tensor
methods that delegate to it): std/var/prod/amax, flip, chunk/split, gather, sort/topk,
masked_fill, rounding, ``//`` and ``%``, any/all, comparisons, ``&``/``|``/``~``, new_* ...

Each op against a naive NumPy reference (loops where NumPy has no twin), with a float64
gradcheck where it is differentiable and an error test for a bad dim; one body for every backend.
torch is never imported (the comparison with PyTorch was a throwaway script outside the repo).
"""

import itertools
import math

import numpy as np
import pytest
from backends import BACKENDS, running_on
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minisegnet as ms
import minisegnet.functional as F
from minisegnet import Tensor, gradcheck

from strategies import (
    arrays,
    axes,
    broadcast_pairs,
    distinct_arrays,
    positive_arrays,
    shapes,
)

rng = np.random.default_rng(31)


def t(a, device, grad=False):
    return Tensor(np.asarray(a), requires_grad=grad, device=device)


def gaps(a):
    """The values of ``a`` lie at least this far from their neighbours (for tie-free draws)."""
    return np.diff(np.sort(a.ravel())).min() if a.size > 1 else 1.0


# ----- var / std / prod / amax / amin ------------------------------------------------------------


def var_reference(a, axes_, correction, keepdims):
    """sum((x - mean)^2) / (n - correction), written out."""
    axes_ = tuple(range(a.ndim)) if axes_ is None else axes_
    axes_ = (axes_,) if isinstance(axes_, int) else axes_
    n = math.prod(a.shape[d] for d in axes_)
    d = a - a.mean(axis=axes_, keepdims=True)
    return (d * d).sum(axis=axes_, keepdims=keepdims) / (n - correction)


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data(), keepdim=st.booleans(), correction=st.sampled_from([0, 1]))
def test_var_std_match_the_formula_and_gradcheck(where, data, keepdim, correction):
    with running_on(where) as device:
        shape = data.draw(shapes(min_dims=1, min_side=2))
        dim = data.draw(axes(len(shape)))
        a = data.draw(arrays(shape))
        x = t(a, device, grad=True)
        want = var_reference(a, dim, correction, keepdim)
        np.testing.assert_allclose(x.var(dim, keepdim=keepdim, correction=correction).numpy(), want)
        np.testing.assert_allclose(
            F.std(x, dim, correction == 1, keepdim).numpy(), np.sqrt(want), rtol=1e-10
        )
        np.testing.assert_allclose(
            np.asarray(ms.var(x, dim, unbiased=bool(correction)).numpy()),
            var_reference(a, dim, correction, False),
        )
        assert gradcheck(lambda u: u.var(dim, keepdim=keepdim, correction=correction), x)
        if np.all(want > 1e-3):  # sqrt's derivative is steep near 0
            assert gradcheck(lambda u: u.std(dim, keepdim=keepdim, correction=correction), x)


def test_var_std_worked_numbers_and_spellings():
    x = Tensor([1.0, 2.0, 3.0, 4.0])
    assert x.var().item() == pytest.approx(5 / 3)  # Bessel: / (n - 1)
    assert x.var(False).item() == pytest.approx(1.25)  # torch's x.var(unbiased)
    assert x.var(unbiased=False).item() == pytest.approx(1.25)
    assert x.std(correction=0).item() == pytest.approx(np.sqrt(1.25))
    assert x.var().dtype == np.float32 and Tensor([1, 2]).var().dtype == np.float32
    assert np.isnan(Tensor([3.0]).var().item())  # one element, n - 1 = 0: nan, as PyTorch
    with pytest.raises(TypeError, match=r"var: got both unbiased= and correction="):
        x.var(unbiased=True, correction=0)
    with pytest.raises(ValueError, match=r"axis 2 is out of range for a 1-D tensor"):
        x.std(dim=2)


def prod_reference(a, dim):
    """Product by a loop over the axis (dim None: over everything)."""
    if dim is None:
        a, dim = a.reshape(-1), 0
    out = np.ones(np.delete(a.shape, dim))
    for i in range(a.shape[dim]):
        out = out * np.take(a, i, axis=dim)
    return out


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data(), keepdim=st.booleans())
def test_prod_matches_a_loop_and_gradcheck(where, data, keepdim):
    with running_on(where) as device:
        shape = data.draw(shapes(min_dims=1))
        dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
        a = data.draw(arrays(shape, low=-2, high=2))
        x = t(a, device, grad=True)
        want = prod_reference(a, dim)
        if dim is not None and keepdim:
            want = np.expand_dims(want, dim)
        got = x.prod() if dim is None else x.prod(dim, keepdim=keepdim)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
        assert gradcheck(lambda u: u.prod() if dim is None else F.prod(u, dim, keepdim), x)


def test_prod_gradient_with_zeros_is_the_product_of_the_others():
    x = Tensor(np.array([[2.0, 0.0, 3.0], [0.0, 4.0, 0.0]]), requires_grad=True)
    x.prod(1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0]])
    assert gradcheck(lambda u: u.prod(dim=1), Tensor(np.array([[2.0, 0.0, 3.0]]), True))
    with pytest.raises(ValueError, match=r"prod: dim 2 is out of range for a tensor of shape"):
        x.prod(2)


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data(), keepdim=st.booleans())
def test_amax_amin_are_the_values_over_dims(where, data, keepdim):
    with running_on(where) as device:
        shape = data.draw(shapes(min_dims=1))
        dim = data.draw(axes(len(shape)))
        a = data.draw(distinct_arrays(shape))
        x = t(a, device, grad=True)
        np.testing.assert_array_equal(x.amax(dim, keepdim).numpy(), a.max(dim, keepdims=keepdim))
        np.testing.assert_array_equal(ms.amin(x, dim=dim).numpy(), a.min(dim))
        assert gradcheck(lambda u: u.amax(dim, keepdim) + F.amin(u, dim, keepdim), x)


# ----- flip, chunk, split ------------------------------------------------------------------------


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data())
def test_flip_reverses_the_axes_and_gradcheck(where, data):
    with running_on(where) as device:
        shape = data.draw(shapes(min_dims=1))
        dims = data.draw(hnp.valid_tuple_axes(len(shape), min_size=1))
        a = data.draw(arrays(shape))
        x = t(a, device, grad=True)
        want = a[
            tuple(
                slice(None, None, -1) if i in {d % a.ndim for d in dims} else slice(None)
                for i in range(a.ndim)
            )
        ]
        np.testing.assert_array_equal(x.flip(*dims).numpy(), want)
        np.testing.assert_array_equal(ms.flip(x, list(dims)).numpy(), want)
        np.testing.assert_array_equal(x.flip(dims=dims).numpy(), want)
        assert gradcheck(lambda u: F.flip(u, dims) * F.flip(u, dims[0]), x)


def test_flip_errors():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"flip: dim 2 is out of range for a tensor of shape"):
        x.flip(2)
    with pytest.raises(ValueError, match=r"flip: dims \(1, -1\) name an axis twice"):
        x.flip(1, -1)


def split_reference(n, size):
    """The lengths torch.split gives for an int size: size, size, ..., the rest."""
    return [min(size, n - i) for i in range(0, n, size)]


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data())
def test_chunk_and_split_cut_like_pytorch(where, data):
    with running_on(where) as device:
        shape = data.draw(shapes(min_dims=1, max_side=6))
        dim = data.draw(st.integers(-len(shape), len(shape) - 1))
        n = shape[dim]
        a = data.draw(arrays(shape))
        x = t(a, device, grad=True)
        size = data.draw(st.integers(1, n + 1))
        cuts = np.cumsum(split_reference(n, size))[:-1]
        pieces = x.split(size, dim)
        assert [p.shape for p in pieces] == [q.shape for q in np.split(a, cuts, axis=dim)]
        for p, q in zip(pieces, np.split(a, cuts, axis=dim)):
            np.testing.assert_array_equal(p.numpy(), q)
        chunks = data.draw(st.integers(1, n + 1))
        want = split_reference(n, -(-n // chunks))  # ceil(n / chunks) each
        got = ms.chunk(x, chunks, dim)
        assert [p.shape[dim] for p in got] == want and len(got) <= chunks
        sections = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
        sections[-1] += n - sum(sections)
        if sections[-1] >= 0:
            cuts = np.cumsum(sections)[:-1]
            for p, q in zip(F.split(x, sections, dim=dim), np.split(a, cuts, axis=dim)):
                np.testing.assert_array_equal(p.numpy(), q)
        w = rng.standard_normal(len(pieces))
        assert gradcheck(lambda u: sum(wi * p.sum() for wi, p in zip(w, u.chunk(2, dim))), x)


def test_chunk_split_worked_numbers_and_errors():
    x = Tensor(np.arange(5.0))
    assert [p.tolist() for p in x.chunk(3)] == [[0.0, 1.0], [2.0, 3.0], [4.0]]
    assert [p.tolist() for p in x.split([1, 4])] == [[0.0], [1.0, 2.0, 3.0, 4.0]]
    with pytest.raises(ValueError, match=r"split: sections \[1, 2\] add up to 3, but axis 0"):
        x.split([1, 2])
    with pytest.raises(ValueError, match=r"chunk: chunks must be a positive int, got 0"):
        x.chunk(0)
    with pytest.raises(ValueError, match=r"split: dim 1 is out of range for a tensor of shape"):
        x.split(2, dim=1)


# ----- gather, sort, topk ------------------------------------------------------------------------


def gather_reference(a, dim, index):
    """out[i, j, k] = a[i, index[i, j, k], k] for dim=1: one element at a time."""
    out = np.empty(index.shape)
    for pos in itertools.product(*map(range, index.shape)):
        src = list(pos)
        src[dim] = index[pos]
        out[pos] = a[tuple(src)]
    return out


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data())
def test_gather_matches_a_loop_and_gradcheck(where, data):
    with running_on(where) as device:
        shape = data.draw(shapes(min_dims=1))
        dim = data.draw(st.integers(-len(shape), len(shape) - 1))
        ishape = tuple(
            data.draw(st.integers(1, 4)) if i == dim % len(shape) else data.draw(st.integers(1, n))
            for i, n in enumerate(shape)
        )
        index = data.draw(hnp.arrays(np.int64, ishape, elements=st.integers(0, shape[dim] - 1)))
        a = data.draw(arrays(shape))
        x = t(a, device, grad=True)
        want = gather_reference(a, dim % len(shape), index)
        np.testing.assert_array_equal(x.gather(dim, t(index, device)).numpy(), want)
        np.testing.assert_array_equal(ms.gather(x, dim, index).numpy(), want)
        assert gradcheck(lambda u: F.gather(u, dim, index), x)  # repeated indices add up


def test_gather_errors():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"gather: index must be an integer tensor with as many"):
        x.gather(1, np.zeros((2,), np.int64))
    with pytest.raises(ValueError, match=r"gather: index must be an integer tensor"):
        x.gather(1, np.zeros((2, 1)))
    with pytest.raises(IndexError, match=r"gather: index values must be in 0 \.\. 2"):
        x.gather(1, np.array([[3], [0]]))
    with pytest.raises(ValueError, match=r"longer than the input \(2, 3\) on an axis other"):
        x.gather(1, np.zeros((3, 1), np.int64))


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data(), descending=st.booleans(), largest=st.booleans())
def test_sort_and_topk_match_numpy_and_gradcheck(where, data, descending, largest):
    with running_on(where) as device:
        shape = data.draw(shapes(min_dims=1))
        dim = data.draw(st.integers(-len(shape), len(shape) - 1))
        a = data.draw(distinct_arrays(shape))
        x = t(a, device, grad=True)
        order = np.argsort(-a if descending else a, axis=dim)
        values, indices = x.sort(dim, descending=descending)
        np.testing.assert_array_equal(indices.numpy(), order)
        np.testing.assert_array_equal(values.numpy(), np.take_along_axis(a, order, dim))
        assert indices.dtype == np.int64 and not indices.requires_grad
        k = data.draw(st.integers(0, shape[dim]))
        best = np.take(np.argsort(-a if largest else a, axis=dim), range(k), axis=dim)
        got = ms.topk(x, k, dim=dim, largest=largest)
        np.testing.assert_array_equal(got.indices.numpy(), best)
        np.testing.assert_array_equal(got.values.numpy(), np.take_along_axis(a, best, dim))
        assert gradcheck(lambda u: F.sort(u, dim, descending).values, x)
        assert gradcheck(lambda u: u.topk(k, dim, largest).values, x)


def test_sort_topk_worked_numbers_and_errors():
    x = Tensor([[3.0, 1.0, 2.0]])
    assert x.sort().values.tolist() == [[1.0, 2.0, 3.0]]
    assert x.sort(descending=True).indices.tolist() == [[0, 2, 1]]
    v, i = x.topk(2)
    assert v.tolist() == [[3.0, 2.0]] and i.tolist() == [[0, 2]]
    assert Tensor([True, False]).sort().values.tolist() == [False, True]
    assert Tensor(np.array([1, 200], np.uint8)).topk(1).values.tolist() == [200]
    with pytest.raises(ValueError, match=r"topk: k=4 is out of range for axis -1 of shape"):
        x.topk(4)
    with pytest.raises(ValueError, match=r"sort: dim 2 is out of range"):
        x.sort(2)


# ----- masked_fill, where, rounding, // and % ----------------------------------------------------


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data(), value=st.floats(-5, 5))
def test_masked_fill_matches_numpy_where_and_gradcheck(where, data, value):
    with running_on(where) as device:
        shape, mshape = data.draw(
            shapes(min_dims=1).flatmap(lambda s: st.tuples(st.just(s), st.just(s[-1:])))
        )
        a = data.draw(arrays(shape))
        mask = data.draw(hnp.arrays(np.bool_, data.draw(st.sampled_from([shape, mshape]))))
        x = t(a, device, grad=True)
        want = np.where(mask, value, a)
        np.testing.assert_array_equal(x.masked_fill(t(mask, device), value).numpy(), want)
        np.testing.assert_array_equal(ms.masked_fill(x, mask, value).numpy(), want)
        np.testing.assert_array_equal(x.where(t(~mask, device), value).numpy(), want)
        assert gradcheck(lambda u: u.masked_fill(mask, value), x)


def test_masked_fill_dtypes_and_errors():
    labels = Tensor(np.array([0, 3, 255]))
    filled = labels.masked_fill(labels == 255, 0)
    assert filled.tolist() == [0, 3, 0] and filled.dtype == np.int64
    assert Tensor([1.0, 2.0]).masked_fill(Tensor([True, False]), 2.5).dtype == np.float32
    v = Tensor(np.array(2.0), requires_grad=True)  # a 0-D tensor value gets its gradient
    Tensor(np.zeros(3)).masked_fill(Tensor([True, True, False]), v).sum().backward()
    assert v.grad.item() == 2.0
    with pytest.raises(TypeError, match=r"masked_fill: mask must be a bool tensor, got int64"):
        labels.masked_fill(labels, 0)
    with pytest.raises(ValueError, match=r"mask of shape \(2,\) does not broadcast to the input"):
        labels.masked_fill(Tensor([True, False]), 0)


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data())
def test_floor_ceil_round_match_numpy_with_zero_gradient(where, data):
    with running_on(where) as device:
        shape = data.draw(shapes())
        halves = tuple(k / 2 for k in range(-8, 9))  # integers and halves: the jumps
        a = data.draw(arrays(shape, avoid=halves, margin=0.02))
        x = t(a, device, grad=True)
        np.testing.assert_array_equal(x.floor().numpy(), np.floor(a))
        np.testing.assert_array_equal(ms.ceil(x).numpy(), np.ceil(a))
        np.testing.assert_array_equal(x.round().numpy(), np.round(a))
        np.testing.assert_array_equal(F.round(x, decimals=1).numpy(), np.round(a, 1))
        assert gradcheck(lambda u: u.floor() + u.ceil() + u.round() + u, x)  # the + u: slope 1
        assert Tensor([2.5, 3.5, -0.5]).round().tolist() == [2.0, 4.0, -0.0]  # halves to even
        assert Tensor(np.array([3, -2])).floor().dtype == np.int64


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data(), divisor=st.sampled_from([1.5, -1.5, 0.7, 4.0]))
def test_floor_divide_and_remainder_follow_pythons_signs(where, data, divisor):
    with running_on(where) as device:
        shape = data.draw(shapes())
        a = data.draw(arrays(shape, low=-5, high=5, avoid=tuple(divisor * k for k in range(-8, 9))))
        x = t(a, device, grad=True)
        q, r = x // divisor, x % divisor
        np.testing.assert_allclose(q.numpy(), np.floor(a / divisor), rtol=1e-12)
        np.testing.assert_allclose(r.numpy(), a - np.floor(a / divisor) * divisor, atol=1e-12)
        assert not q.requires_grad and r.requires_grad  # // is a staircase: outside the graph
        assert np.all(np.sign(r.numpy()) * np.sign(divisor) >= 0)  # the sign of the divisor
        b = data.draw(positive_arrays(shape, low=0.5, high=2.0))
        if np.all(np.abs(a / b - np.round(a / b)) > 0.01):  # away from the jumps
            assert gradcheck(lambda u, v: u % v, x, t(b, device, grad=True))
        np.testing.assert_allclose((7.0 // t(b, device)).numpy(), np.floor(7.0 / b))
        np.testing.assert_allclose((7.0 % t(b, device)).numpy(), np.mod(7.0, b))


def test_integer_division_worked_numbers_and_errors():
    i = Tensor(np.array([-7, -3, 0, 4, 9]))
    assert (i // 2).tolist() == [-4, -2, 0, 2, 4] and (i // 2).dtype == np.int64
    assert (i % 3).tolist() == [2, 0, 0, 1, 0] and (i % -4).tolist() == [-3, -3, 0, 0, -3]
    assert (i // 2.0).dtype == np.float32  # an int tensor meeting a Python float: float32
    assert ms.floor_divide(i, 4).tolist() == [-2, -1, 0, 1, 2]
    assert ms.remainder(i, 4).tolist() == [1, 1, 0, 0, 1]
    with pytest.raises(ZeroDivisionError, match=r"floor_divide: integer division by zero"):
        i // 0
    with pytest.raises(ZeroDivisionError, match=r"remainder: integer division by zero"):
        i % Tensor(np.array([1, 0, 1, 1, 1]))


# ----- any / all, comparisons, logical ops: bool tensors outside the graph -----------------------


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data(), keepdim=st.booleans())
def test_any_all_match_numpy(where, data, keepdim):
    with running_on(where) as device:
        shape = data.draw(shapes(min_dims=1))
        dim = data.draw(axes(len(shape)))
        a = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 2)))
        x = t(a, device)
        for name in ("any", "all"):
            want = getattr(np, name)(a, axis=dim, keepdims=keepdim)
            got = getattr(x, name)(dim, keepdim=keepdim)
            assert got.dtype == np.bool_ and not got.requires_grad
            np.testing.assert_array_equal(got.numpy(), want)
            want = getattr(np, name)(a > 0, axis=dim)
            np.testing.assert_array_equal(getattr(ms, name)(x > 0, dim).numpy(), want)
        want = np.any(a, axis=dim, keepdims=True)  # NumPy's spelling: numpy.any(x) calls it
        np.testing.assert_array_equal(np.any(x, axis=dim, keepdims=True).numpy(), want)
        assert bool(np.all(x == x)) and bool(np.any(x)) == bool(a.any())
        with pytest.raises(ValueError, match=r"any: dim 3 is out of range for a tensor of shape"):
            x.any(3)


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data())
def test_comparison_and_logical_methods_match_numpy(where, data):
    with running_on(where) as device:
        shape = data.draw(shapes())
        a = data.draw(
            hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 0.0, 0.5, 2.0]))
        )
        b = data.draw(
            hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 0.0, 0.5, 2.0]))
        )
        x, y = t(a, device, grad=True), t(b, device)
        for name, want in (
            ("eq", a == b),
            ("ne", a != b),
            ("lt", a < b),
            ("le", a <= b),
            ("gt", a > b),
            ("ge", a >= b),
        ):
            got = getattr(x, name)(y)
            assert got.dtype == np.bool_ and not got.requires_grad
            np.testing.assert_array_equal(got.numpy(), want)
            np.testing.assert_array_equal(
                getattr(ms, name)(x, 0.5).numpy(),
                getattr(
                    np,
                    {
                        "eq": "equal",
                        "ne": "not_equal",
                        "lt": "less",
                        "le": "less_equal",
                        "gt": "greater",
                        "ge": "greater_equal",
                    }[name],
                )(a, 0.5),
            )
        p, q = x > 0, y > 0
        np.testing.assert_array_equal((p & q).numpy(), (a > 0) & (b > 0))
        np.testing.assert_array_equal((p | q).numpy(), (a > 0) | (b > 0))
        np.testing.assert_array_equal((p ^ q).numpy(), (a > 0) ^ (b > 0))
        np.testing.assert_array_equal((~p).numpy(), ~(a > 0))
        if device == "cpu":  # an ndarray & a Tensor (a GPU tensor refuses host arrays)
            np.testing.assert_array_equal(((b > 0) & p).numpy(), (a > 0) & (b > 0))
        np.testing.assert_array_equal(ms.logical_and(x, y).numpy(), np.logical_and(a, b))
        np.testing.assert_array_equal(ms.logical_or(x, y).numpy(), np.logical_or(a, b))
        np.testing.assert_array_equal(x.logical_not().numpy(), np.logical_not(a))


def test_logical_operators_refuse_floats_and_nan_tests():
    x = Tensor([1.0, float("nan"), float("inf")])
    with pytest.raises(TypeError, match=r"__and__: needs bool \(or integer\) tensors, got float32"):
        _ = x & (x > 0)
    with pytest.raises(TypeError, match=r"~: needs a bool \(or integer\) tensor, got float32"):
        _ = ~x
    assert (Tensor(np.array([6, 3])) & 5).tolist() == [4, 1]  # integers: bitwise
    assert x.isnan().tolist() == [False, True, False]
    assert ms.isfinite(x).tolist() == [True, False, False]
    assert Tensor(np.array([1, 2])).isfinite().tolist() == [True, True]
    valid = Tensor(np.array([0, 255, 2])) != 255  # the ignore_index habit
    assert (valid & (Tensor(np.array([0, 1, 1])) == 0)).tolist() == [True, False, False]


# ----- the smaller methods: shapes, new_*, copy_, aliases -----------------------------------------


@pytest.mark.parametrize("where", BACKENDS)
def test_shape_aliases_and_new_tensors(where):
    with running_on(where) as device:
        a = rng.standard_normal((2, 3, 4))
        x = t(a, device, grad=True)
        np.testing.assert_array_equal(x.swapaxes(0, 2).numpy(), np.swapaxes(a, 0, 2))
        np.testing.assert_array_equal(x.swapdims(1, -1).numpy(), np.swapaxes(a, 1, 2))
        np.testing.assert_array_equal(ms.swapaxes(x, 0, 1).numpy(), np.swapaxes(a, 0, 1))
        np.testing.assert_array_equal(x.flatten(1).unflatten(1, (3, -1)).numpy(), a)
        np.testing.assert_array_equal(
            x[:, :1].expand_as(x).numpy(), np.broadcast_to(a[:, :1], a.shape)
        )
        assert x.view_as(x.flatten()).shape == (24,) and x[0, 0].reshape_as(x[0, :2, :2]).shape == (
            2,
            2,
        )
        assert x.flatten().view_as(x).shape == (2, 3, 4)
        assert x.contiguous() is x
        assert ms.unsqueeze(x, 1).shape == (2, 1, 3, 4) and ms.squeeze(x[:1]).shape == (3, 4)
        assert x.type_as(Tensor(np.zeros(1, np.float32))).dtype == np.float32
        for new in (x.new_zeros(2, 5), x.new_ones((2, 5)), x.new_full((2, 5), 3.0)):
            assert new.shape == (2, 5) and new.dtype == np.float64 and new.device == device
            assert not new.requires_grad
        assert x.new_full((2,), 3.0).tolist() == [3.0, 3.0] and x.new_ones(1).tolist() == [1.0]
        assert x.new_zeros(3, dtype=np.int64).dtype == np.int64
        assert x.new_tensor([1, 2]).dtype == np.float64 and x.new_tensor([1, 2]).tolist() == [1, 2]
        y = np.square(a)
        np.testing.assert_allclose(x.square().numpy(), y)
        np.testing.assert_allclose(x.pow(2).numpy(), y)
        np.testing.assert_allclose(
            x.neg().add(1).mul(2).sub(1).div(4).numpy(), ((1 - a) * 2 - 1) / 4
        )
        np.testing.assert_array_equal(x.sign().numpy(), np.sign(a))
        assert gradcheck(lambda u: u.unflatten(2, (2, 2)).swapaxes(0, 3).square().pow(1.5), x)
        with pytest.raises(ValueError, match=r"unflatten: dim 3 is out of range"):
            x.unflatten(3, (2, 2))


@pytest.mark.parametrize("where", BACKENDS)
def test_copy_writes_in_place(where):
    with running_on(where) as device:
        x = t(np.zeros((2, 3)), device)
        data = x.data
        assert x.copy_(t(np.arange(3.0), device)) is x and x.data is data
        np.testing.assert_array_equal(x.numpy(), [[0.0, 1.0, 2.0]] * 2)
        x.copy_(np.ones((2, 3), np.float32))
        assert x.dtype == np.float64 and x.numpy().sum() == 6.0
        with pytest.raises(RuntimeError, match=r"copy_: a leaf tensor that requires grad"):
            t(np.zeros(2), device, grad=True).copy_(np.ones(2))
        with pytest.raises(ValueError, match=r"copy_: a result of shape \(4,\) does not fit"):
            x.copy_(np.ones(4))


def test_top_level_names_are_the_functional_ops():
    for name in (
        "where",
        "flip",
        "chunk",
        "split",
        "any",
        "all",
        "std",
        "var",
        "prod",
        "amax",
        "gather",
        "topk",
        "sort",
        "masked_fill",
        "floor",
        "round",
        "eq",
        "ge",
        "unsqueeze",
        "permute",
        "transpose",
        "matmul",
        "pow",
        "sqrt",
        "clamp",
    ):
        assert getattr(ms, name) is getattr(F, name), name
        assert name in ms.__all__


# ----- norm, cumsum, log1p / expm1, argsort, nonzero, mT ------------------------------------------


def norm_reference(a, p, dim, keepdim):
    """(sum |x|^p)^(1/p), the largest |x| for p = inf."""
    if p == np.inf:
        return np.abs(a).max(axis=dim, keepdims=keepdim)
    return (np.abs(a) ** p).sum(axis=dim, keepdims=keepdim) ** (1 / p)


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data(), p=st.sampled_from([1, 2, 3, np.inf]), keepdim=st.booleans())
def test_norm_matches_the_formula_and_gradcheck(where, data, p, keepdim):
    with running_on(where) as device:
        shape = data.draw(shapes(min_dims=1))
        dim = data.draw(axes(len(shape)))
        a = data.draw(distinct_arrays(shape, spacing=0.3))  # no zeros (|x|), no ties (inf)
        x = t(a, device, grad=True)
        want = norm_reference(a, p, dim, keepdim)
        np.testing.assert_allclose(x.norm(p, dim, keepdim).numpy(), want, rtol=1e-12)
        np.testing.assert_allclose(ms.norm(x, p=p, dim=dim).numpy(), norm_reference(a, p, dim, 0))
        assert gradcheck(lambda u: F.norm(u, p, dim, keepdim), x)


def cumsum_reference(a, dim):
    """Running totals by a loop over the axis."""
    out, total = np.empty_like(a), 0
    for i in range(a.shape[dim]):
        total = total + np.take(a, [i], axis=dim)
        out[(slice(None),) * (dim % a.ndim) + (slice(i, i + 1),)] = total
    return out


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data())
def test_cumsum_log1p_expm1_match_numpy_and_gradcheck(where, data):
    with running_on(where) as device:
        shape = data.draw(shapes(min_dims=1))
        dim = data.draw(st.integers(-len(shape), len(shape) - 1))
        a = data.draw(arrays(shape, low=-0.9, high=2.0, avoid=()))
        x = t(a, device, grad=True)
        np.testing.assert_allclose(x.cumsum(dim).numpy(), cumsum_reference(a, dim), rtol=1e-12)
        np.testing.assert_allclose(x.log1p().numpy(), np.log1p(a), rtol=1e-12)
        np.testing.assert_allclose(ms.expm1(x).numpy(), np.expm1(a), rtol=1e-12)
        w = data.draw(arrays(shape))
        assert gradcheck(lambda u: u.cumsum(dim) * t(w, device), x)
        assert gradcheck(lambda u: u.log1p() + F.expm1(u), x)
        i = t(np.arange(4) % 3 == 0, device)  # bool running counts are integers, as PyTorch
        assert ms.cumsum(i, 0).tolist() == [1, 1, 1, 2] and i.cumsum(0).dtype == np.int64


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data(), descending=st.booleans())
def test_argsort_nonzero_mT_match_numpy(where, data, descending):
    with running_on(where) as device:
        shape = data.draw(shapes(min_dims=2))
        a = data.draw(distinct_arrays(shape))
        x = t(a, device)
        want = np.argsort(-a if descending else a, axis=0)
        np.testing.assert_array_equal(x.argsort(0, descending).numpy(), want)
        np.testing.assert_array_equal(ms.argsort(x, dim=0, descending=descending).numpy(), want)
        m = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 1)))
        assert x.mT.shape == np.swapaxes(a, -1, -2).shape
        np.testing.assert_array_equal(x.mT.numpy(), np.swapaxes(a, -1, -2))
        got = t(m, device).nonzero()
        assert got.dtype == np.int64 and got.shape == (m.sum(), len(shape))
        np.testing.assert_array_equal(got.numpy(), np.argwhere(m))


def test_norm_mT_sort_errors_and_ties():
    with pytest.raises(ValueError, match=r"norm: p must be a positive number or inf, got -1"):
        Tensor([1.0]).norm(-1)
    with pytest.raises(ValueError, match=r"mT: needs at least 2 axes, got shape \(2,\)"):
        _ = Tensor([1.0, 2.0]).mT
    with pytest.raises(ValueError, match=r"cumsum: dim 1 is out of range"):
        Tensor([1.0]).cumsum(1)
    ties = Tensor([1.0, 0.0, 1.0, 0.0])  # ties keep their order, ascending or descending
    assert ties.argsort().tolist() == [1, 3, 0, 2]
    assert ties.argsort(descending=True).tolist() == [0, 2, 1, 3]
    assert Tensor([3.0, 4.0]).norm().item() == 5.0


# ----- silu, hardtanh/relu6, normalize, rsqrt, lerp, fmod, index_select ... unique, concat -------


def normalize_reference(a, p, dim, eps):
    """Each vector along ``dim`` divided by max(its p-norm, eps), one vector at a time."""
    moved = np.moveaxis(a, dim, -1)
    out = np.empty_like(moved)
    for i in np.ndindex(moved.shape[:-1]):
        v = moved[i]
        n = np.abs(v).max() if p == np.inf else (np.abs(v) ** p).sum() ** (1 / p)
        out[i] = v / max(n, eps)
    return np.moveaxis(out, -1, dim)


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data(), bounds=st.sampled_from([(-1.0, 1.0), (0.0, 6.0), (-2.0, 0.5)]))
def test_silu_hardtanh_relu6_match_the_formulas_and_gradcheck(where, data, bounds):
    with running_on(where) as device:
        shape = data.draw(shapes())
        lo, hi = bounds
        a = data.draw(arrays(shape, low=-8, high=8, avoid=(lo, hi, 0.0, 6.0)))
        x = t(a, device, grad=True)
        np.testing.assert_allclose(F.silu(x).numpy(), a / (1 + np.exp(-a)), rtol=1e-12)
        np.testing.assert_array_equal(F.hardtanh(x, lo, hi).numpy(), np.clip(a, lo, hi))
        np.testing.assert_array_equal(F.relu6(x).numpy(), np.minimum(np.maximum(a, 0), 6))
        np.testing.assert_array_equal(ms.nn.ReLU6()(x).numpy(), np.clip(a, 0, 6))
        np.testing.assert_array_equal(ms.nn.Hardtanh(lo, hi)(x).numpy(), np.clip(a, lo, hi))
        np.testing.assert_allclose(ms.nn.SiLU()(x).numpy(), a / (1 + np.exp(-a)), rtol=1e-12)
        assert gradcheck(lambda u: F.silu(u) + F.hardtanh(u, lo, hi) + F.relu6(u), x)


def test_silu_hardtanh_worked_numbers_and_errors():
    x = Tensor([-1.0, 0.0, 1.0, 6.0, 7.0], requires_grad=True)
    F.relu6(x).sum().backward()  # PyTorch's: the gradient is 0 at the bounds 0 and 6
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert F.silu(Tensor([1000.0, -1000.0])).tolist() == [1000.0, -0.0]  # no overflow
    with pytest.raises(ValueError, match=r"hardtanh: min_val 1 is greater than max_val 0"):
        F.hardtanh(x, 1, 0)
    with pytest.raises(ValueError, match=r"Hardtanh: min_val 2.0 is greater than max_val 1.0"):
        ms.nn.Hardtanh(2.0, 1.0)
    assert repr(ms.nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data(), p=st.sampled_from([2, 1, 3, 0.5, np.inf]))
def test_normalize_matches_the_loop_and_gradchecks(where, data, p):
    with running_on(where) as device:
        shape = data.draw(shapes(min_dims=1))
        dim = data.draw(st.integers(-len(shape), len(shape) - 1))
        a = data.draw(distinct_arrays(shape, spacing=0.3))  # no zeros (|x|), no ties (inf)
        x = t(a, device, grad=True)
        want = normalize_reference(a, p, dim, 1e-12)
        np.testing.assert_allclose(F.normalize(x, p, dim).numpy(), want, rtol=1e-12)
        assert gradcheck(lambda u: F.normalize(u, p=p, dim=dim), x)
        big = 10.0  # eps above every norm: x / eps
        np.testing.assert_allclose(F.normalize(x, p, dim, eps=1e6 * big).numpy(), a / (1e6 * big))


def test_normalize_zero_vector_and_errors():
    x = Tensor(np.array([[3.0, 4.0], [0.0, 0.0]]), requires_grad=True)
    y = F.normalize(x, dim=1)
    assert y.tolist() == [[0.6, 0.8], [0.0, 0.0]]
    y.sum().backward()  # a zero vector is x / eps there: gradient 1 / eps, not NaN (PyTorch's)
    assert np.all(np.isfinite(x.grad.numpy())) and x.grad.numpy()[1].tolist() == [1e12, 1e12]
    with pytest.raises(ValueError, match=r"normalize: dim 1 is out of range .* shape \(3,\)"):
        F.normalize(Tensor([1.0, 2.0, 3.0]))  # dim=1 by default, as PyTorch
    with pytest.raises(ValueError, match=r"normalize: p must be a positive number or inf"):
        F.normalize(x, p=0)


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data())
def test_rsqrt_lerp_match_the_formulas_and_gradcheck(where, data):
    with running_on(where) as device:
        shape_a, shape_b = data.draw(broadcast_pairs())
        a = data.draw(positive_arrays(shape_a))
        b = data.draw(arrays(shape_b))
        w = data.draw(arrays(shape_b, low=-0.5, high=1.5, avoid=()))
        x, e, wt = t(a, device, grad=True), t(b, device, grad=True), t(w, device, grad=True)
        np.testing.assert_allclose(x.rsqrt().numpy(), 1 / np.sqrt(a), rtol=1e-12)
        np.testing.assert_allclose(ms.lerp(x, e, wt).numpy(), a + w * (b - a), atol=1e-12)
        np.testing.assert_allclose(x.lerp(e, 0.25).numpy(), a + 0.25 * (b - a), atol=1e-12)
        assert gradcheck(lambda u: ms.rsqrt(u), x)
        assert gradcheck(lambda u, v, s: u.lerp(v, s), x, e, wt)


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data(), divisor=st.sampled_from([1.5, -1.5, 0.7]))
def test_fmod_keeps_the_sign_of_the_dividend_and_gradchecks(where, data, divisor):
    with running_on(where) as device:
        shape = data.draw(shapes())
        a = data.draw(arrays(shape, low=-5, high=5, avoid=tuple(divisor * k for k in range(-8, 9))))
        x = t(a, device, grad=True)
        r = x.fmod(divisor)
        np.testing.assert_allclose(r.numpy(), a - np.trunc(a / divisor) * divisor, atol=1e-12)
        assert np.all(np.sign(r.numpy()) * np.sign(a) >= 0)  # the sign of the dividend
        b = data.draw(positive_arrays(shape, low=0.5, high=2.0)) * np.sign(divisor)
        if np.all(np.abs(a / b - np.round(a / b)) > 0.01):  # away from the jumps
            assert gradcheck(lambda u, v: ms.fmod(u, v), x, t(b, device, grad=True))


def test_fmod_worked_numbers_and_errors():
    i = Tensor(np.array([-7, -3, 0, 4, 9]))
    assert i.fmod(3).tolist() == [-1, 0, 0, 1, 0] and i.fmod(3).dtype == np.int64
    assert F.fmod(i, -4).tolist() == [-3, -3, 0, 0, 1]  # the sign of a, not of b
    assert Tensor([-3.0]).fmod(2.0).tolist() == [-1.0] and (Tensor([-3.0]) % 2.0).tolist() == [1.0]
    with pytest.raises(ZeroDivisionError, match=r"fmod: integer division by zero"):
        i.fmod(0)


@pytest.mark.parametrize("where", BACKENDS)
@given(data=st.data())
def test_index_select_masked_select_narrow_match_loops_and_gradcheck(where, data):
    with running_on(where) as device:
        shape = data.draw(shapes(min_dims=1))
        dim = data.draw(st.integers(-len(shape), len(shape) - 1))
        n = shape[dim]
        a = data.draw(arrays(shape))
        x = t(a, device, grad=True)
        idx = data.draw(hnp.arrays(np.int64, st.integers(0, 5), elements=st.integers(0, n - 1)))
        want = (
            np.stack([np.take(a, i, axis=dim) for i in idx], axis=dim % len(shape))
            if len(idx)
            else np.take(a, idx, axis=dim)
        )
        np.testing.assert_array_equal(x.index_select(dim, t(idx, device)).numpy(), want)
        assert gradcheck(lambda u: ms.index_select(u, dim, idx), x)  # repeats add up
        mask = data.draw(hnp.arrays(np.bool_, shape[1:]))  # broadcasts over the first axis
        full = np.broadcast_to(mask, shape)
        want = np.array([a[i] for i in np.ndindex(shape) if full[i]])
        np.testing.assert_array_equal(x.masked_select(t(mask, device)).numpy().ravel(), want)
        assert gradcheck(lambda u: ms.masked_select(u, t(mask, device)), x)
        start = data.draw(st.integers(-n, n))
        length = data.draw(st.integers(0, n - start % (n + 1) if start >= 0 else -start))
        begin = start + n if start < 0 else start
        want = np.take(a, range(begin, begin + length), axis=dim)
        np.testing.assert_array_equal(x.narrow(dim, start, length).numpy(), want)
        assert gradcheck(lambda u: ms.narrow(u, dim, start, length), x)


def test_selections_worked_numbers_and_errors():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x.index_select(1, Tensor(np.array([2, 0, 2])))
    assert y.tolist() == [[2.0, 0.0, 2.0], [5.0, 3.0, 5.0]]
    y.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 2.0], [1.0, 0.0, 2.0]]  # column 2 picked twice
    assert x.masked_select(x > 2).tolist() == [3.0, 4.0, 5.0]
    assert x.narrow(1, -2, 2).tolist() == [[1.0, 2.0], [4.0, 5.0]]
    assert ms.concat([x, x], dim=1).shape == (2, 6) and F.concat is F.cat
    with pytest.raises(IndexError, match=r"index_select: index values must be in 0 \.\. 2"):
        x.index_select(1, [3])
    with pytest.raises(ValueError, match=r"index_select: index must be a 1-D integer tensor"):
        x.index_select(0, Tensor([0.0]))
    with pytest.raises(TypeError, match=r"masked_select: mask must be a bool tensor"):
        x.masked_select(Tensor(np.ones(3, np.int64)))
    with pytest.raises(ValueError, match=r"masked_select: a mask of shape \(2,\) does not"):
        x.masked_select(Tensor(np.ones(2, bool)))
    with pytest.raises(ValueError, match=r"narrow: start 2 and length 2 do not fit axis 1"):
        x.narrow(1, 2, 2)
    with pytest.raises(ValueError, match=r"narrow: dim 2 is out of range"):
        x.narrow(2, 0, 1)


@pytest.mark.parametrize("where", BACKENDS)
@given(a=hnp.arrays(np.int64, shapes(), elements=st.integers(-3, 3)))
def test_unique_values_inverse_counts_match_a_loop(where, a):
    with running_on(where) as device:
        x = t(a, device)
        values = sorted(set(a.ravel().tolist()))
        assert ms.unique(x).tolist() == values
        v, inverse, counts = x.unique(return_inverse=True, return_counts=True)
        assert v.tolist() == values and inverse.shape == a.shape and inverse.dtype == np.int64
        np.testing.assert_array_equal(v.numpy()[inverse.numpy()], a)  # values[inverse] is x
        assert counts.tolist() == [int((a == k).sum()) for k in values]
        _, c = F.unique(x, sorted=False, return_counts=True)
        assert c.tolist() == counts.tolist()


def test_unique_and_half_worked_numbers_and_errors():
    x = Tensor([3.0, 1.0, 3.0, 2.0], requires_grad=True)
    v, inv = x.unique(return_inverse=True)
    assert v.tolist() == [1.0, 2.0, 3.0] and inv.tolist() == [2, 0, 2, 1]
    assert not v.requires_grad  # outside the graph
    with pytest.raises(ValueError, match=r"unique: dim=0 \(unique slices\) is not supported"):
        x.unique(dim=0)
    h = x.half()
    assert h.dtype == np.float16 and h.dtype == ms.half
    (h * 2).sum().backward()  # float16 runs through the engine; the gradient is x's dtype
    assert x.grad.tolist() == [2.0] * 4 and x.grad.dtype == np.float32


# ----- dtypes: float32 in, float32 out (NumPy 1.x promotes a float32 scalar over a Python float) --

FLOAT32_OPS = {
    "var": lambda x: x.var(),
    "var dim": lambda x: x.var(0),
    "std": lambda x: x.std(),
    "std correction=0": lambda x: x.std(1, correction=0),
    "prod": lambda x: x.prod(),
    "prod dim": lambda x: x.prod(0),
    "amax": lambda x: x.amax(),
    "amin dim": lambda x: x.amin(0),
    "norm": lambda x: x.norm(),
    "norm p=1": lambda x: x.norm(p=1),
    "norm p=3 dim": lambda x: x.norm(p=3, dim=1),
    "norm inf": lambda x: x.norm(p=float("inf")),
    "cumsum": lambda x: x.cumsum(1),
    "log1p": lambda x: x.log1p(),
    "expm1": lambda x: x.expm1(),
    "flip": lambda x: x.flip(0),
    "gather": lambda x: x.gather(1, Tensor(np.zeros((3, 2), np.int64), device=x.device)),
    "sort": lambda x: x.sort(1)[0],
    "topk": lambda x: x.topk(2)[0],
    "masked_fill": lambda x: x.masked_fill(x > 0.5, 0.25),
    "floor": lambda x: x.floor(),
    "round": lambda x: x.round(),
    "x % 0.3": lambda x: x % 0.3,
    "1.5 % x": lambda x: 1.5 % x,
    "x // 0.3": lambda x: x // 0.3,
    "chunk": lambda x: x.chunk(2, 1)[0],
    "silu": lambda x: ms.nn.functional.silu(x),
    "hardtanh": lambda x: ms.nn.functional.hardtanh(x, 0.2, 0.9),
    "relu6": lambda x: ms.nn.functional.relu6(x * 10),
    "normalize": lambda x: ms.nn.functional.normalize(x),
    "normalize p=1 dim=0": lambda x: ms.nn.functional.normalize(x, 1, 0),
    "normalize p=3": lambda x: ms.nn.functional.normalize(x, 3),
    "normalize inf": lambda x: ms.nn.functional.normalize(x, float("inf")),
    "rsqrt": lambda x: x.rsqrt(),
    "rsqrt 0-D": lambda x: x.sum().rsqrt(),
    "lerp 0.3": lambda x: x.lerp(x * x, 0.3),
    "lerp tensor": lambda x: ms.lerp(x, x * 2, x),
    "fmod 0.3": lambda x: x.fmod(0.3),
    "fmod 0-D": lambda x: x.sum().fmod(0.3),
    "index_select": lambda x: x.index_select(1, Tensor(np.array([0, 2, 2]), device=x.device)),
    "masked_select": lambda x: x.masked_select(x > 0.5),
    "narrow": lambda x: x.narrow(1, 1, 2),
    "concat": lambda x: ms.concat([x, x], 1),
    "unique": lambda x: x.unique(),
}


@pytest.mark.parametrize("where", BACKENDS)
@pytest.mark.parametrize("name", sorted(FLOAT32_OPS))
def test_float32_stays_float32_forward_and_backward(where, name):
    """CI's floor run (NumPy 1.23) found var() of a float32 tensor coming back float64."""
    with running_on(where) as device:
        x = t(np.arange(1, 13, dtype=np.float32).reshape(3, 4) / 7, device, grad=True)
        y = FLOAT32_OPS[name](x)
        assert y.dtype == np.float32, f"{name}: {y.dtype}"
        if y.requires_grad:
            y.sum().backward()
            assert x.grad is not None and x.grad.dtype == np.float32, f"{name}: {x.grad.dtype}"
