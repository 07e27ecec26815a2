"""The Tensor API a PyTorch user reaches for (issue 13) and how it is declared (issue 12).

Every expected value comes from NumPy or is written out; torch is never imported. Each habit has
its own test: ``dim=`` / ``keepdim=`` next to ``axis=`` / ``keepdims=``, the Tensor methods
(``numel``, ``size()``, ``unsqueeze``, ``clone``, ``max(dim)``, in-place updates...), the creation
functions and dtype names at top level, grad-mode switches, ``"cuda"`` as a device name, and
``F.pad`` with PyTorch's last-dimension-first widths.
"""

import ast
import pathlib
import sys
import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minisegnet as ms
import minisegnet.functional as F
from minisegnet import Tensor, backend, gradcheck

import fake_cupy
from conftest import DEVICES

ROOT = pathlib.Path(__file__).resolve().parents[1]
rng = np.random.default_rng(13)


def leaf(shape, device="cpu"):
    """A float64 leaf with distinct values (no ties: max/argmax are well defined)."""
    x = rng.permutation(np.prod(shape)).reshape(shape) / 7.0 - 1.0
    return Tensor(x, requires_grad=True, device=device)


# ----- how the API is declared ------------------------------------------------------------------


def test_functional_exports_exactly_its_all():
    public = {n for n in dir(F) if not n.startswith("_")}
    submodules = {n for n in public if isinstance(getattr(F, n), types.ModuleType)}
    assert all(getattr(F, n).__name__ == f"minisegnet.functional.{n}" for n in submodules)
    assert public - submodules == set(F.__all__) and len(F.__all__) == len(set(F.__all__))
    modules = (F.basic, F.conv, F.pool, F.resize, F.attention, F.paths, F.tensorops)
    assert set(F.__all__) == {n for m in modules for n in m.__all__}
    # PyTorch's loss names are minisegnet.nn.functional's, handed out on request (not in __all__)
    losses = set(F._NN_FUNCTIONAL_LOSSES)
    assert all(getattr(F, n) is getattr(ms.nn.functional, n) for n in losses)
    assert F.linear is F.attention.linear  # attention's linear (with a weight) wins over basic's
    assert submodules >= {"basic", "conv", "pool", "resize", "attention", "sizes", "tensorops"}
    for leaked in ("numpy", "builtins", "Tensor", "Function", "AddFunction", "Any", "backend"):
        assert not hasattr(F, leaked), leaked
    assert F.conv.Conv2dFunction.__name__ == "Conv2dFunction"  # op classes: in their modules
    assert F.basic.AddFunction.__module__ == "minisegnet.functional.basic"


OPERATORS = (
    "__add__",
    "__radd__",
    "__sub__",
    "__rsub__",
    "__mul__",
    "__rmul__",
    "__truediv__",
    "__rtruediv__",
    "__pow__",
    "__rpow__",
    "__matmul__",
    "__rmatmul__",
    "__neg__",
    "__abs__",
    "__getitem__",
    "__setitem__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__eq__",
    "__ne__",
    "__iadd__",
    "__isub__",
    "__imul__",
    "__itruediv__",
    "__format__",
    "__floordiv__",
    "__rfloordiv__",
    "__mod__",
    "__rmod__",
    "__and__",
    "__or__",
    "__xor__",
    "__invert__",
)
METHODS = (
    "sum",
    "mean",
    "max",
    "min",
    "argmax",
    "argmin",
    "exp",
    "log",
    "sqrt",
    "abs",
    "clip",
    "clamp",
    "reshape",
    "view",
    "flatten",
    "permute",
    "transpose",
    "t",
    "T",
    "sigmoid",
    "tanh",
    "relu",
    "softplus",
    "softmax",
    "log_softmax",
    "numel",
    "dim",
    "size",
    "unsqueeze",
    "squeeze",
    "clone",
    "long",
    "int",
    "float",
    "double",
    "bool",
    "requires_grad_",
    "zero_",
    "fill_",
    "expand",
    "repeat",
    "roll",
    # the gaps of the oracle sweep (minisegnet/functional/tensorops.py; tests/test_tensor_ops.py)
    "std",
    "var",
    "prod",
    "amax",
    "amin",
    "pow",
    "flip",
    "chunk",
    "split",
    "masked_fill",
    "where",
    "any",
    "all",
    "gather",
    "sort",
    "topk",
    "floor",
    "ceil",
    "round",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "new_zeros",
    "new_ones",
    "new_full",
    "copy_",
    "expand_as",
    "contiguous",
    "swapaxes",
    "unflatten",
)


def test_tensor_declares_operators_and_methods_in_its_class_body():
    tree = ast.parse((ROOT / "minisegnet" / "autograd.py").read_text())
    body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tensor").body
    declared = {n.name for n in body if isinstance(n, ast.FunctionDef)}
    assert set(OPERATORS + METHODS) <= declared, set(OPERATORS + METHODS) - declared
    # nothing patched onto Tensor anywhere in the package
    for path in (ROOT / "minisegnet").rglob("*.py"):
        text = path.read_text()
        assert "setattr(Tensor" not in text and "_attach" not in text, path
        assert not any(
            line.lstrip().startswith(("Tensor.", "T.__")) and "=" in line and "==" not in line
            for line in text.splitlines()
        ), path


# ----- dim= / keepdim= wherever axis= / keepdims= -----------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_reductions_take_dim_and_keepdim(device):
    x = leaf((2, 3, 4), device)
    a = x.numpy()
    for name, ref in (("sum", np.sum), ("mean", np.mean)):
        got = getattr(F, name)(x, dim=1, keepdim=True)
        np.testing.assert_allclose(got.numpy(), ref(a, axis=1, keepdims=True), rtol=1e-12)
        np.testing.assert_allclose(
            getattr(x, name)(dim=(0, 2)).numpy(), ref(a, axis=(0, 2)), rtol=1e-12
        )
        np.testing.assert_allclose(
            getattr(x, name)(1, keepdim=True).numpy(), ref(a, axis=1, keepdims=True), rtol=1e-12
        )
    np.testing.assert_array_equal(
        F.max(x, axis=(1, 2), keepdim=True).numpy(), a.max(axis=(1, 2), keepdims=True)
    )
    for name in ("argmax", "argmin"):
        np.testing.assert_array_equal(
            getattr(F, name)(x, dim=2, keepdim=True).numpy(),
            np.expand_dims(getattr(a, name)(axis=2), 2),
        )
        np.testing.assert_array_equal(getattr(x, name)(dim=-1).numpy(), getattr(a, name)(axis=-1))
    assert gradcheck(lambda t: t.sum(dim=1, keepdim=True) * t.mean(dim=(0, 1)), x)
    with pytest.raises(TypeError, match=r"sum: got both axis= and dim="):
        F.sum(x, axis=1, dim=1)
    with pytest.raises(TypeError, match=r"mean: got both keepdims= and keepdim="):
        x.mean(1, keepdims=True, keepdim=True)


@pytest.mark.parametrize("device", DEVICES)
def test_softmax_cat_stack_flatten_transpose_take_dim(device):
    x = leaf((2, 3, 4), device)
    a = x.numpy()
    e = np.exp(a - a.max(axis=2, keepdims=True))
    p = e / e.sum(axis=2, keepdims=True)
    np.testing.assert_allclose(F.softmax(x, dim=2).numpy(), p, rtol=1e-12)
    np.testing.assert_allclose(x.softmax(dim=-1).numpy(), p, rtol=1e-12)
    np.testing.assert_allclose(x.softmax(2).numpy(), p, rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(x, dim=2).numpy(), np.log(p), rtol=1e-12)
    np.testing.assert_allclose(x.log_softmax(dim=2).numpy(), np.log(p), rtol=1e-12)
    for f in (F.cat, F.concatenate, ms.cat):
        np.testing.assert_array_equal(
            f([x, x[:, :1]], dim=1).numpy(), np.concatenate([a, a[:, :1]], axis=1)
        )
    for f in (F.stack, ms.stack):
        np.testing.assert_array_equal(f([x, x], dim=3).numpy(), np.stack([a, a], axis=3))
    assert F.flatten(x, 1).shape == (2, 12) and x.flatten().shape == (24,)
    np.testing.assert_array_equal(x.flatten(0, 1).numpy(), a.reshape(6, 4))
    np.testing.assert_array_equal(F.flatten(x, start_dim=1, end_dim=-2).numpy(), a.reshape(2, 3, 4))
    np.testing.assert_array_equal(x.flatten(-2, -1).numpy(), a.reshape(2, 12))
    np.testing.assert_array_equal(F.transpose(x, dim0=0, dim1=2).numpy(), a.swapaxes(0, 2))
    np.testing.assert_array_equal(x.transpose(1, 2).numpy(), a.swapaxes(1, 2))
    assert gradcheck(lambda t: F.cat([t.flatten(0, 1), t[0]], dim=0).transpose(dim0=0, dim1=1), x)
    with pytest.raises(ValueError, match=r"flatten: start_dim 2 comes after end_dim 1"):
        x.flatten(2, 1)


def test_softmax_modules_take_dim():
    x = leaf((2, 3, 4))
    a = x.numpy()
    p = np.exp(a) / np.exp(a).sum(axis=2, keepdims=True)
    np.testing.assert_allclose(ms.nn.Softmax(dim=2)(x).numpy(), p, rtol=1e-12)
    np.testing.assert_allclose(ms.nn.LogSoftmax(dim=-1)(x).numpy(), np.log(p), rtol=1e-12)
    assert ms.nn.Softmax().axis == 1 and ms.nn.Softmax(2).axis == 2
    with pytest.raises(TypeError, match="Softmax: got both axis= and dim="):
        ms.nn.Softmax(1, dim=2)


# ----- sizes and shapes -------------------------------------------------------------------------


def test_numel_dim_size():
    x = Tensor(np.zeros((2, 3, 5)))
    assert x.numel() == 30 and x.dim() == 3
    assert x.size() == (2, 3, 5) and x.size(1) == 3 and x.size(-1) == 5
    assert Tensor(7.0).size() == () and Tensor(7.0).numel() == 1


@pytest.mark.parametrize("device", DEVICES)
def test_unsqueeze_squeeze_view_t(device):
    x = leaf((3, 1, 4), device)
    a = x.numpy()
    assert x.unsqueeze(0).shape == (1, 3, 1, 4) and x.unsqueeze(-1).shape == (3, 1, 4, 1)
    assert x.unsqueeze(3).shape == (3, 1, 4, 1) and x.unsqueeze(-4).shape == (1, 3, 1, 4)
    np.testing.assert_array_equal(x.squeeze().numpy(), a[:, 0])
    assert x.squeeze(1).shape == (3, 4) and x.squeeze(0).shape == (3, 1, 4)  # not length 1: kept
    assert x.squeeze((0, 1)).shape == (3, 4) and x.squeeze(-2).shape == (3, 4)
    with pytest.raises(ValueError, match=r"unsqueeze: dim 4 is out of range for a 3-D tensor"):
        x.unsqueeze(4)
    with pytest.raises(ValueError, match=r"squeeze: dim 3 is out of range"):
        x.squeeze(3)
    np.testing.assert_array_equal(x.view(4, 3).numpy(), a.reshape(4, 3))
    np.testing.assert_array_equal(x.view(-1).numpy(), a.ravel())
    m = x.squeeze()
    np.testing.assert_array_equal(m.t().numpy(), a[:, 0].T)
    np.testing.assert_array_equal(m.T.numpy(), a[:, 0].T)
    np.testing.assert_array_equal(x.T.numpy(), a.T)
    assert Tensor([1.0, 2.0]).t().shape == (2,)
    with pytest.raises(ValueError, match=r"t\(\): expects a tensor with <= 2 axes"):
        x.t()
    assert gradcheck(lambda t: t.unsqueeze(0).squeeze(2).view(-1, 3).t() * 2.0, x)


@pytest.mark.parametrize("device", DEVICES)
def test_expand_and_repeat(device):
    x = leaf((3, 1), device)
    a = x.numpy()
    np.testing.assert_array_equal(x.expand(3, 4).numpy(), np.broadcast_to(a, (3, 4)))
    np.testing.assert_array_equal(x.expand(2, -1, 4).numpy(), np.broadcast_to(a, (2, 3, 4)))
    np.testing.assert_array_equal(x.repeat(2, 3).numpy(), np.tile(a, (2, 3)))
    np.testing.assert_array_equal(x.repeat(2, 1, 2).numpy(), np.tile(a, (2, 1, 2)))
    x.expand(3, 4).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 1), 4.0))  # summed back
    assert gradcheck(
        lambda t: t.repeat(2, 3) * Tensor(np.arange(18.0).reshape(6, 3), device=device), x
    )
    with pytest.raises(ValueError, match=r"expand: shape \(3, 1\) cannot be broadcast to \(2, 4\)"):
        x.expand(2, 4)


# ----- copies and dtypes --------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_clone_is_a_differentiable_copy(device):
    x = leaf((2, 3), device)
    c = x.clone()
    assert c.requires_grad and not c.is_leaf and c.dtype == x.dtype
    np.testing.assert_array_equal(c.numpy(), x.numpy())
    (c * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 3.0))
    d = Tensor(np.array([1, 2, 3])).clone()
    d.data[0] = 9  # its own memory
    assert d.numpy().tolist() == [9, 2, 3] and d.dtype == np.int64
    assert Tensor(np.array([True, False])).clone().dtype == np.bool_


def test_dtype_conversions_and_requires_grad_():
    x = Tensor(np.array([0.0, 1.5, -2.7]))
    assert x.long().dtype == np.int64 and x.long().numpy().tolist() == [0, 1, -2]
    assert x.int().dtype == np.int32 and x.bool().numpy().tolist() == [False, True, True]
    assert x.float().dtype == np.float32 and x.double().dtype == np.float64
    assert x.float().double().numpy().tolist() == pytest.approx([0.0, 1.5, -2.7], rel=1e-7)
    assert x.requires_grad_() is x and x.requires_grad
    assert x.requires_grad_(False) is x and not x.requires_grad
    with pytest.raises(TypeError, match="requires_grad_: needs a floating dtype, got int64"):
        x.long().requires_grad_()
    y = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (y.float() * 2).sum().backward()  # float() stays in the graph
    np.testing.assert_array_equal(y.grad.numpy(), [2.0, 2.0])


# ----- max / min with dim: (values, indices) ---------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_max_min_with_dim_return_values_and_indices(device):
    x = leaf((3, 4), device)
    a = x.numpy()
    out = x.max(dim=1)
    values, indices = out
    assert out.values is values and out.indices is indices and type(out).__name__ == "ValuesIndices"
    np.testing.assert_array_equal(values.numpy(), a.max(axis=1))
    np.testing.assert_array_equal(indices.numpy(), a.argmax(axis=1))
    v, i = x.min(0, keepdim=True)
    np.testing.assert_array_equal(v.numpy(), a.min(axis=0, keepdims=True))
    np.testing.assert_array_equal(i.numpy(), a.argmin(axis=0)[None])
    v, i = F.max(x, dim=0)
    np.testing.assert_array_equal(i.numpy(), a.argmax(axis=0))
    assert x.max().item() == a.max() and ms.max(x).item() == a.max()  # no dim: the scalar
    np.testing.assert_array_equal(x.max(axis=1).numpy(), a.max(axis=1))  # axis=: values only
    np.testing.assert_array_equal(x.max(-x).numpy(), np.maximum(a, -a))  # two tensors
    np.testing.assert_array_equal(x.min(-x).numpy(), np.minimum(a, -a))
    assert gradcheck(lambda t: t.max(dim=1).values * 2.0 + t.min(0).values.sum(), x)
    with pytest.raises(TypeError, match=r"max: dim must be one int"):
        x.max(dim=(0, 1))


def test_format_spec():
    loss = Tensor(np.float32(0.123456))
    assert f"{loss:.4f}" == "0.1235" and f"{Tensor([[2.5]]):>6.2f}" == "  2.50"
    assert f"{Tensor([1.0, 2.0])}" == str(Tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"only one-element tensors format as a number"):
        f"{Tensor([1.0, 2.0]):.2f}"


# ----- in place: zero_, fill_, +=, -= under no_grad -------------------------------------------


def test_inplace_update_under_no_grad_is_the_same_object():
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    (w * w).sum().backward()  # grad 2w
    same, data = w, w.data
    with ms.no_grad():
        w -= 0.25 * w.grad
        w *= 2.0
        w += 1
        w /= 4.0
    assert w is same and w.data is data and w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.numpy(), (np.array([1.0, 2.0, 3.0]) * 0.5 * 2 + 1) / 4)
    assert w.grad.zero_() is w.grad
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0, 0.0])
    with ms.no_grad():
        w.fill_(7.0)
    np.testing.assert_array_equal(w.numpy(), [7.0, 7.0, 7.0])


def test_inplace_on_a_leaf_that_requires_grad_is_refused_outside_no_grad():
    w = Tensor(np.ones(2), requires_grad=True)
    for update in (lambda: w.__isub__(1.0), lambda: w.zero_(), lambda: w.fill_(2.0)):
        with pytest.raises(
            RuntimeError,
            match=r"a leaf tensor that requires grad is being used "
            r"in an in-place operation.*no_grad",
        ):
            update()
    np.testing.assert_array_equal(w.numpy(), [1.0, 1.0])  # unchanged


def test_inplace_bumps_the_version_of_a_saved_array():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (w * w).sum()  # Mul saved w's array
    with ms.no_grad():
        w -= 1.0
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation: Mul's input"):
        y.backward()


def test_inplace_on_plain_tensors_and_its_errors():
    x = Tensor(np.array([1, 2]))
    x += 3  # no graph involved: fine outside no_grad
    assert x.numpy().tolist() == [4, 5] and x.dtype == np.int64
    with pytest.raises(
        TypeError,
        match=r"\+=: the result type float32 cannot be written into a "
        r"int64 tensor in place",
    ):
        x += 0.5
    with pytest.raises(ValueError, match=r"-=: a result of shape \(3, 2\) does not fit"):
        x -= Tensor(np.ones((3, 2), np.int64))
    acc = Tensor(np.zeros(2))
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    before = acc
    acc += w * 3.0  # needs a graph: a new tensor, as x = x + y
    assert acc is not before and acc.requires_grad
    acc.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 3.0])


def test_item_assignment_in_place(device):
    """x[index] = value (oracle sweep: Tensor had no __setitem__, PyTorch's x[mask] = 0 raised
    Python's bare "does not support item assignment")."""
    x = Tensor(np.zeros((3, 4)), device=device)
    data = x.data
    x[x == 0] = 2.0  # a bool Tensor mask
    x[0] = Tensor(np.array([1.0, 2.0, 3.0, 4.0]), device=device)  # a row, from a Tensor
    x[:, 1] = 7  # a column, a number
    x[Tensor(np.array([2]), device=device)] = -1.0  # an index Tensor
    x[np.array([1, 1]), np.array([0, 3])] = np.array([5.0, 6.0])  # index arrays, a NumPy value
    want = [[1, 7, 3, 4], [5, 7, 2, 6], [-1, -1, -1, -1]]
    np.testing.assert_array_equal(x.numpy(), want)
    assert x.data is data  # in place, the same array


def test_item_assignment_follows_the_in_place_rules():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"x\[index\] = value: .* F.where\(mask, value, x\)"):
        w[0] = 3.0
    with ms.no_grad():
        w[0] = 3.0  # an initialisation
    np.testing.assert_array_equal(w.numpy(), [3.0, 2.0])
    ints = Tensor(np.array([1, 2]))
    with pytest.raises(TypeError, match=r"a float64 value cannot be written into a int64 tensor"):
        ints[0] = np.float64(0.5)
    x = Tensor(np.array([1.0, 2.0]))  # no grad, but saved by Mul for w's gradient
    y = (x * w).sum()
    x[1] = 10.0
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation: Mul's input 0"):
        y.backward()


# ----- creation functions and dtype names at top level -------------------------------------------


def test_tensor_copies_as_tensor_and_from_numpy_share():
    a = np.array([1.0, 2.0])
    t, s, f = ms.tensor(a), ms.as_tensor(a), ms.from_numpy(a)
    a[0] = 5.0
    assert t.numpy().tolist() == [1.0, 2.0]
    assert s.numpy().tolist() == [5.0, 2.0] and f.numpy().tolist() == [5.0, 2.0]
    assert ms.tensor([1, 2]).dtype == np.int64 and ms.tensor([1.0]).dtype == np.float32
    assert ms.tensor([1, 2], dtype=ms.float64).dtype == np.float64
    src = Tensor(np.ones(2), requires_grad=True)
    c = ms.tensor(src)
    assert not c.requires_grad and c.data is not src.data
    assert ms.tensor([0.5], requires_grad=True).requires_grad
    assert ms.as_tensor(src) is src and ms.as_tensor(src, dtype=ms.float32).dtype == np.float32
    with pytest.raises(TypeError, match=r"from_numpy: expected a numpy.ndarray, got list"):
        ms.from_numpy([1.0])


def test_constant_creation_functions():
    z = ms.zeros(2, 3)
    assert z.shape == (2, 3) and z.dtype == np.float32 and not z.numpy().any()
    assert ms.zeros((2, 3), dtype=ms.long).dtype == np.int64
    np.testing.assert_array_equal(ms.ones(4, dtype=ms.float64).numpy(), np.ones(4))
    assert ms.ones(2, requires_grad=True).requires_grad
    np.testing.assert_array_equal(ms.full((2, 2), 7).numpy(), np.full((2, 2), 7))
    assert ms.full((2,), 7).dtype == np.int64 and ms.full((2,), 0.5).dtype == np.float32
    assert ms.full((1,), True).dtype == np.bool_
    assert ms.empty(3, 1).shape == (3, 1)
    ref = Tensor(np.arange(6).reshape(2, 3))
    assert ms.zeros_like(ref).dtype == np.int64 and not ms.zeros_like(ref).numpy().any()
    np.testing.assert_array_equal(ms.ones_like(ref, dtype=ms.float32).numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(ms.full_like(ref, 4).numpy(), np.full((2, 3), 4))
    np.testing.assert_array_equal(ms.arange(5).numpy(), np.arange(5))
    assert ms.arange(5).dtype == np.int64 and ms.arange(0, 1, 0.25).dtype == np.float32
    np.testing.assert_array_equal(ms.arange(2, 8, 3).numpy(), [2, 5])
    np.testing.assert_allclose(ms.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(ms.eye(2, 3).numpy(), np.eye(2, 3))
    with pytest.raises(ValueError, match=r"zeros: sizes must be integers >= 0, got \(2, -1\)"):
        ms.zeros(2, -1)


def test_random_creation_follows_manual_seed():
    ms.manual_seed(3)
    r, n, i = ms.rand(2, 3), ms.randn((4,)), ms.randint(2, 5, (1000,))
    ms.manual_seed(3)
    assert (ms.rand(2, 3).numpy() == r.numpy()).all() and (ms.randn(4).numpy() == n.numpy()).all()
    assert (ms.randint(2, 5, (1000,)).numpy() == i.numpy()).all()
    g = np.random.Generator(np.random.PCG64(3))  # the package generator's algorithm, same seed
    np.testing.assert_array_equal(r.numpy(), g.random((2, 3)).astype(np.float32))
    np.testing.assert_array_equal(n.numpy(), g.standard_normal(4).astype(np.float32))
    assert r.dtype == n.dtype == np.float32 and i.dtype == np.int64
    assert 0 <= r.numpy().min() and r.numpy().max() < 1
    assert set(np.unique(i.numpy())) == {2, 3, 4}
    assert ms.randint(3, (2, 2)).numpy().max() < 3 and ms.randint(3, size=(5,)).shape == (5,)
    assert ms.randn(2, dtype=ms.float64, requires_grad=True).requires_grad
    with pytest.raises(TypeError, match=r"randint: expected randint\(high, size\)"):
        ms.randint(3)


def test_dtype_names_are_numpy_dtypes():
    assert ms.float32 is ms.float is np.float32 and ms.float64 is ms.double is np.float64
    assert ms.int64 is ms.long is np.int64 and ms.int32 is ms.int is np.int32
    assert ms.uint8 is np.uint8 and ms.bool is np.bool_
    assert Tensor([1.0]).to(dtype=ms.double).dtype == np.float64
    assert Tensor([1.0]).to(ms.float64).dtype == np.float64  # x.to(dtype), as PyTorch
    assert Tensor([1.5]).to(ms.long).numpy().tolist() == [1]


def test_top_level_ops_are_functionals():
    x = Tensor(np.array([[0.5, -1.0], [2.0, 0.0]]))
    a = x.numpy()
    np.testing.assert_array_equal(ms.argmax(x, dim=1).numpy(), [0, 0])
    np.testing.assert_allclose(ms.sigmoid(x).numpy(), 1 / (1 + np.exp(-a)), rtol=1e-12)
    np.testing.assert_allclose(
        ms.softmax(x, dim=0).numpy(), np.exp(a) / np.exp(a).sum(0), rtol=1e-12
    )
    np.testing.assert_allclose(ms.exp(x).numpy(), np.exp(a))
    np.testing.assert_allclose(ms.log(ms.exp(x)).numpy(), a, atol=1e-15)
    assert ms.sum(x, dim=0).numpy().tolist() == [2.5, -1.0] and ms.mean(x).item() == 0.375
    assert ms.max(x, dim=1).indices.numpy().tolist() == [0, 0] and ms.min(x).item() == -1.0


# ----- grad mode, devices --------------------------------------------------------------------


def test_set_grad_enabled_and_inference_mode():
    x = Tensor(np.ones(2), requires_grad=True)
    with ms.set_grad_enabled(False):
        assert not (x * 2).requires_grad and not ms.is_grad_enabled()
    assert ms.is_grad_enabled()
    ms.set_grad_enabled(False)  # a call switches at once
    try:
        assert not ms.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        ms.set_grad_enabled(True)
    assert (x * 2).requires_grad
    with ms.inference_mode():
        assert not (x * 2).requires_grad
    with ms.inference_mode(False):
        assert (x * 2).requires_grad


def test_cuda_is_available_without_cupy_is_false(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", None)
    assert ms.cuda.is_available() is False and ms.cuda.device_count() == 0
    dev = ms.device("cuda" if ms.cuda.is_available() else "cpu")
    assert dev == "cpu" and dev.type == "cpu" and ms.randn(2).to(dev).device == "cpu"
    with pytest.raises(ms.DeviceError, match="asked for the GPU"):
        ms.zeros(2, device="cuda")


def test_cuda_device_with_to_and_module_to(monkeypatch):
    fake_cupy.install(monkeypatch)
    assert ms.cuda.is_available()
    dev = ms.device("cuda" if ms.cuda.is_available() else "cpu")
    assert dev == "gpu" and dev.type == "cuda" and repr(dev) == "device(type='cuda')"
    x = Tensor(np.ones(2), requires_grad=True).to(dev)
    assert x.device == "gpu" and Tensor([1.0]).cuda().device == "gpu"
    for name in ("cuda", "cuda:0", "CUDA", "gpu"):
        assert ms.zeros(2, device=name).device == "gpu"
        assert ms.ones_like(x, device=name).device == "gpu"
        assert ms.randn(2, device=name).device == "gpu"
    model = ms.nn.Conv2d(1, 1, 3).to(dev)
    assert model.device == "gpu" and model.to(ms.device("cpu")).device == "cpu"
    with pytest.raises(ValueError, match=r"unknown device 'cuda:1': use 'cpu' or 'gpu'"):
        ms.device("cuda:1")


def test_cuda_in_the_trainer_config_and_the_data_loader(monkeypatch):
    from minisegnet.data import DataLoader, SegmentationDataset
    from minisegnet.train import TrainConfig

    assert TrainConfig(device="cuda").device == TrainConfig(device="cuda:0").device == "gpu"
    fake_cupy.install(monkeypatch)
    masks = np.arange(2 * 4 * 4).reshape(2, 4, 4) % 3
    ds = SegmentationDataset(masks[:, None].astype(np.float32), masks, 3, ("a", "b", "c"))
    x, m = next(iter(DataLoader(ds, batch_size=2, shuffle=False, device="cuda")))
    assert x.device == "gpu" and backend.device_of(m) == "gpu"  # masks: arrays of the device
    np.testing.assert_array_equal(backend.asnumpy(m), masks)
    with pytest.raises(ValueError, match=r"DataLoader: unknown device 'tpu': use 'cpu' or 'gpu'"):
        DataLoader(ds, device="tpu")


# ----- F.pad: PyTorch's last-dimension-first tuple ------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_pad_takes_pytorchs_tuple(device):
    x = leaf((1, 2, 3, 4), device)
    a = x.numpy()
    got = F.pad(x, (1, 2, 3, 0))  # (left, right, top, bottom): W by 1, 2 and H by 3, 0
    np.testing.assert_array_equal(got.numpy(), np.pad(a, ((0, 0), (0, 0), (3, 0), (1, 2))))
    got = F.pad(x, (0, 1, 0, 0, 2, 2), value=-1.0)
    np.testing.assert_array_equal(
        got.numpy(), np.pad(a, ((0, 0), (2, 2), (0, 0), (0, 1)), constant_values=-1.0)
    )
    np.testing.assert_array_equal(
        F.pad(x, pad=(1, 1)).numpy(),  # pad=: last axis only
        np.pad(a, ((0, 0), (0, 0), (0, 0), (1, 1))),
    )
    np.testing.assert_array_equal(
        F.pad(x, (1, 1, 2, 2), "constant", 5.0).numpy(),
        np.pad(a, ((0, 0), (0, 0), (2, 2), (1, 1)), constant_values=5.0),
    )
    # a positional pair is NumPy's (before, after) on every axis
    np.testing.assert_array_equal(F.pad(x, (1, 1), mode="constant").numpy(), np.pad(a, 1))
    np.testing.assert_array_equal(
        F.pad(x, ((0, 0), (0, 0), (1, 0), (0, 2))).numpy(),
        np.pad(a, ((0, 0), (0, 0), (1, 0), (0, 2))),
    )
    assert gradcheck(lambda t: F.pad(t, (1, 2, 0, 1), value=0.5), x)
    with pytest.raises(ValueError, match=r"pad: only mode='constant' is implemented"):
        F.pad(x, (1, 1, 1, 1), mode="reflect")
    with pytest.raises(
        ValueError,
        match=r"PyTorch-style pad \(1, 1, 1, 1, 1, 1, 1, 1, 1, 1\) "
        r"does not fit a tensor of shape \(1, 2, 3, 4\)",
    ):
        F.pad(x, (1,) * 10)


@pytest.mark.parametrize("device", DEVICES)
@given(data=st.data(), value=st.floats(-2, 2))
def test_pad_pytorch_tuple_matches_numpy_pad(device, data, value):
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=4, max_side=3))
    k = data.draw(st.integers(2, len(shape)))  # padded dimensions, counted from the last
    flat = data.draw(st.lists(st.integers(0, 2), min_size=2 * k, max_size=2 * k))
    x = rng.standard_normal(shape)
    pairs = [(0, 0)] * (len(shape) - k) + [(flat[2 * i], flat[2 * i + 1]) for i in range(k)][::-1]
    want = np.pad(x, pairs, constant_values=value)
    np.testing.assert_array_equal(
        F.pad(Tensor(x, device=device), tuple(flat), value=value).numpy(), want
    )
    np.testing.assert_array_equal(
        F.pad(Tensor(x, device=device), pad=flat[:2]).numpy(),
        np.pad(x, [(0, 0)] * (len(shape) - 1) + [tuple(flat[:2])]),
    )


@pytest.mark.parametrize("device", DEVICES)
@given(data=st.data())
def test_pad_negative_pytorch_widths_crop(device, data):
    """PyTorch's negative widths crop (oracle sweep: they were refused): the reference crops with
    a slice, then pads the non-negative rest with numpy.pad."""
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=4))
    flat = [data.draw(st.integers(-1, 2)) for _ in range(4)]  # the last two axes
    x = rng.standard_normal(shape)
    (l, r), (t, b) = flat[:2], flat[2:]
    cropped = x[..., max(-t, 0) : shape[-2] - max(-b, 0), max(-l, 0) : shape[-1] - max(-r, 0)]
    pos = [(0, 0)] * (len(shape) - 2) + [(max(t, 0), max(b, 0)), (max(l, 0), max(r, 0))]
    got = F.pad(Tensor(x, device=device), tuple(flat), value=1.5)
    np.testing.assert_array_equal(got.numpy(), np.pad(cropped, pos, constant_values=1.5))


def test_pad_negative_worked_numbers_gradient_and_error():
    x = Tensor(np.arange(12.0).reshape(1, 3, 4), requires_grad=True)
    y = F.pad(x, (-1, 1, 0, -2))  # drop column 0 and the last 2 rows, one zero column at the end
    np.testing.assert_array_equal(y.numpy(), [[[1.0, 2.0, 3.0, 0.0]]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[0, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]]])
    assert gradcheck(lambda t: F.pad(t, (-1, 2, 1, -1), value=0.5), Tensor(x.numpy(), True))
    with pytest.raises(ValueError, match=r"pad: the negative widths in \(-3, -2, 0, 0\) crop more"):
        F.pad(x, (-3, -2, 0, 0))


def test_cat_and_stack_of_int_and_float_take_the_float_dtype():
    """Oracle sweep: cat([int64, float32]) gave float64 (NumPy's rule); PyTorch and minisegnet's
    own rule for mixed operands give float32."""
    i, f = Tensor(np.array([1, 2])), Tensor(np.array([0.5], np.float32))
    y = F.cat([i, f])
    assert y.dtype == np.float32 and y.numpy().tolist() == [1.0, 2.0, 0.5]
    y = F.stack([Tensor(np.array([1])), f])
    assert y.dtype == np.float32 and y.numpy().tolist() == [[1.0], [0.5]]
    assert F.cat([i, Tensor(np.array([0.5]))]).dtype == np.float64  # float64 in, float64 out


def test_torch_is_never_imported():
    assert "torch" not in sys.modules
