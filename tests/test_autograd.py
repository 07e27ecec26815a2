"""The autograd core: backward semantics, graph release, no_grad, retain_graph/retain_grad and the
dtype rules of minisegnet.autograd's module docstring."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minisegnet as ms
import minisegnet.functional as F
from minisegnet import Function, Tensor, gradcheck, no_grad

from conftest import DEVICES
from strategies import arrays, broadcast_pairs, shapes


def leaf(x, device="cpu"):
    return Tensor(np.asarray(x, dtype=np.float64), requires_grad=True, device=device)


# ----------------------------------------------------------------------------------------------
# backward()


def test_scalar_output_needs_no_grad_argument():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    y = leaf([[4.0]])
    (y * 3).backward()  # one element, any shape
    np.testing.assert_allclose(y.grad.numpy(), [[3.0]])


def test_non_scalar_output_without_grad_is_a_clear_error():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"one-element output.*shape \(2,\).*loss.sum\(\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\), the tensor has \(2,\)"):
        (x * 2).backward(np.ones(3))
    y = x * 2
    y.backward(np.array([1.0, 10.0]))  # an explicit d(loss)/d(y)
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])


def test_backward_without_a_graph_is_a_clear_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0, 2.0]).sum().backward()


def test_gradients_accumulate_where_a_tensor_is_used_twice():
    x = leaf([0.5, -2.0])
    (x * x + x).sum().backward()  # d/dx (x^2 + x) = 2x + 1
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -3.0])


@pytest.mark.parametrize("b_first", [True, False])
def test_a_node_reached_by_two_paths_gets_both_gradients(b_first):
    """b feeds r directly and through a = 2b: dr/dx = 1 + 2 whatever the order of r's inputs
    (a topological order built carelessly processes b before a and loses the second path)."""
    x = leaf(2.0)
    b = x * 1.0
    a = b * 2.0
    r = b + a if b_first else a + b
    r.backward()
    assert x.grad.item() == 3.0


@st.composite
def random_graphs(draw):
    """A random DAG over x: each node combines the newest node with any earlier one (either order),
    so earlier nodes are reused through several paths of different lengths."""
    steps = []
    for i in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["add", "sub", "mul", "tanh", "sigmoid"]))
        steps.append((op, draw(st.integers(0, i)), draw(st.booleans())))
    return steps


@given(steps=random_graphs(), x=arrays((3,)))
@settings(max_examples=30)
def test_random_graphs_match_finite_differences(steps, x):
    def f(t):
        nodes = [t]
        for op, k, newest_first in steps:
            a, b = (nodes[-1], nodes[k]) if newest_first else (nodes[k], nodes[-1])
            nodes.append(getattr(F, op)(a) if op in ("tanh", "sigmoid") else getattr(F, op)(a, b))
        return nodes[-1]

    assert gradcheck(f, leaf(x), name=str(steps))


@pytest.mark.parametrize("device", DEVICES)
@given(pair=broadcast_pairs(), data=st.data())
def test_broadcasting_reduces_gradients_to_the_input_shape(device, pair, data):
    sa, sb = pair
    a, b = leaf(data.draw(arrays(sa)), device), leaf(data.draw(arrays(sb)), device)
    out = a * b
    out.sum().backward()
    assert a.grad.shape == sa and b.grad.shape == sb
    # d sum(a*b) / da = b, summed over the axes along which a was broadcast
    g = np.broadcast_to(b.numpy(), out.shape)
    g = g.sum(axis=tuple(range(out.ndim - len(sa))))
    g = g.sum(axis=tuple(i for i, n in enumerate(sa) if n == 1), keepdims=True)
    np.testing.assert_allclose(a.grad.numpy(), g, rtol=1e-12)


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * 4).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [7.0, 7.0])
    x.zero_grad()
    assert x.grad is None


def test_leaf_gradients_never_alias():
    """Add's backward hands the same array to both inputs; each leaf must get its own copy."""
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    assert a.grad.data is not b.grad.data
    a.grad.data *= 0  # e.g. an optimizer clipping gradients in place
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_gradient_dtype_follows_each_input():
    w = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    x = Tensor(np.array([3.0, 4.0], np.float64), requires_grad=True)
    y = w * x
    assert y.dtype == np.float64  # float32 meets float64: float64 (NumPy's rule)
    y.sum().backward()
    assert w.grad.dtype == np.float32 and x.grad.dtype == np.float64
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 4.0])


# ----------------------------------------------------------------------------------------------
# graph lifetime: no_grad, release, retain_graph, retain_grad, deep chains


def test_no_grad_builds_no_graph():
    x = leaf([1.0, 2.0])
    with no_grad():
        y = (x * 2).exp().sum()
        assert not ms.is_grad_enabled()
        with ms.enable_grad():
            z = x * 2
    assert ms.is_grad_enabled()
    assert y.creator is None and not y.requires_grad
    assert z.requires_grad and z.creator is not None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_graph_is_released_after_backward_but_parameters_stay():
    x = leaf([0.2, 3.0])
    m = x * x
    y = F.clip(m, 0.5, 2.0)
    mul, clip = m.creator, y.creator
    assert len(mul.saved_tensors) == 2 and clip.inputs is not None
    y.sum().backward()
    assert mul.inputs is None and clip.inputs is None
    for fn in (mul, clip):  # saved arrays dropped
        with pytest.raises(RuntimeError, match="saved arrays were freed"):
            _ = fn.saved_tensors
    assert (clip.lo, clip.hi) == (0.5, 2.0)  # __init__'s parameters kept


def test_second_backward_needs_retain_graph():
    x = leaf([1.0, -1.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()  # the graph was kept once: gradients add up
    np.testing.assert_allclose(x.grad.numpy(), [4.0, -4.0])
    with pytest.raises(RuntimeError, match=r"already freed.*retain_graph=True"):
        y.backward()


def test_retain_grad_keeps_an_intermediate_gradient():
    x = leaf([1.0, 2.0])
    h = (x * 3).retain_grad()
    g = h * h
    g.sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [6.0, 12.0])  # d sum(h^2)/dh = 2h
    assert g.grad is None  # not retained
    np.testing.assert_allclose(x.grad.numpy(), [18.0, 36.0])


def test_a_chain_of_10000_ops_backpropagates_without_recursion():
    x = leaf(1.0)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.0001**10_000, rtol=1e-9)


# ----------------------------------------------------------------------------------------------
# dtype rules and construction


def test_dtype_rules_for_construction():
    assert Tensor([1.0, 2.0]).dtype == np.float32  # Python floats: float32
    assert Tensor(2.5).dtype == np.float32
    assert Tensor([[1, 2], [3, 4.5]]).dtype == np.float32
    assert Tensor([0, 2, 1]).dtype == np.int64  # Python ints keep an integer dtype (labels)
    assert Tensor([True, False]).dtype == np.bool_
    assert Tensor(np.zeros(2, np.float64)).dtype == np.float64  # arrays keep theirs
    assert Tensor(np.zeros(2, np.uint8)).dtype == np.uint8
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert Tensor(np.float32(1.5)).data.__class__ is np.ndarray  # NumPy scalars become arrays
    arr = np.ones(3)
    assert Tensor(arr).data is arr  # no copy (like torch.as_tensor)


def test_a_list_of_tensors_is_stacked():
    t = Tensor([Tensor(np.array([1.0, 2.0])), Tensor(np.array([3.0, 4.0]))])
    assert t.shape == (2, 2) and t.dtype == np.float64 and not t.requires_grad
    np.testing.assert_array_equal(t.numpy(), [[1, 2], [3, 4]])


def test_requires_grad_needs_a_float_dtype():
    with pytest.raises(TypeError, match=r"requires_grad=True needs a floating dtype, got int64"):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating dtype"):
        Tensor(np.array([True])).requires_grad_()
    assert Tensor([1, 2], dtype=np.float32, requires_grad=True).requires_grad


@pytest.mark.parametrize(
    "op",
    [
        F.exp,
        F.log,
        F.sqrt,
        F.sigmoid,
        F.tanh,
        F.softplus,
        F.step,
        F.sign,
        F.piecewise_linear,
        F.mean,
        lambda t: t / 2,
        lambda t: t * 0.5,
        lambda t: 1.5 - t,
        lambda t: F.softmax(t, 0),
        lambda t: F.where(t > 1, t, 0.5),
        lambda t: F.maximum(t, 1.5),
    ],
)
def test_integer_tensors_are_promoted_to_float32_by_float_ops(op):
    y = op(Tensor([1, 2, 3]))
    assert y.dtype == np.float32


ZERO_D_OPS = [
    F.exp,
    F.log,
    F.sqrt,
    F.abs,
    F.sigmoid,
    F.tanh,
    F.softplus,
    F.relu,
    F.leaky_relu,
    F.step,
    F.sign,
    F.linear,
    F.piecewise_linear,
    F.mean,
    F.sum,
    F.max,
    lambda t: F.clip(t, 0.2, 0.5),
    lambda t: F.clip(t, None, 0.5),
    lambda t: t + 0.5,
    lambda t: 0.5 - t,
    lambda t: t * 0.5,
    lambda t: 3 / t,
    lambda t: t**2.5,
    lambda t: 2.5**t,
    lambda t: F.where(t > 0.5, t, 0.25),
    lambda t: F.maximum(t, 0.5),
    lambda t: ms.losses.binary_cross_entropy(t, Tensor(np.float32(1.0))),
    lambda t: ms.losses.binary_cross_entropy_with_logits(t, Tensor(np.float32(0.0))),
    lambda t: ms.losses.focal_loss(t, Tensor(np.float32(1.0)), from_logits=True),
    lambda t: ms.losses.balanced_binary_cross_entropy(t, Tensor(np.float32(1.0)), 0.3),
    lambda t: ms.losses.mse_loss(t, Tensor(np.float32(1.0))),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("i", range(len(ZERO_D_OPS)))
def test_zero_d_tensors_keep_their_dtype(i, dtype):
    """A 0-d float32 tensor stays float32 through every op, on every NumPy: NumPy 1.x computes a
    0-d float32 array meeting a Python float in float64 (NumPy 2 does not), so the ops write
    their constants in the input's dtype."""
    x = Tensor(np.array(0.3, dtype), requires_grad=True)
    y = ZERO_D_OPS[i](x)
    assert y.dtype == dtype and y.shape == ()
    y.backward()
    assert x.grad.dtype == dtype


def test_clip_of_an_integer_tensor():
    t = Tensor([1, 2, 3])
    assert F.clip(t, 0, 2).dtype == np.int64  # integer bounds: stays integer
    assert F.clip(t, 0.5, 2.5).dtype == np.float32  # a float bound: float32, as t * 0.5
    np.testing.assert_array_equal(F.clip(t, 1.5).numpy(), [1.5, 2, 3])


def test_integer_ops_stay_integer():
    t = Tensor([1, 2, 3])
    assert (t + 1).dtype == np.int64 and t.sum().dtype == np.int64 and (t * t).dtype == np.int64
    assert F.argmax(Tensor([1.0, 3.0])).dtype == np.int64


def test_comparisons_are_bool_tensors_without_graph():
    x = leaf([1.0, 2.0, 3.0])
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal(m.numpy(), [False, True, True])
    np.testing.assert_array_equal((x == Tensor(np.array([1.0, 0.0, 3.0]))).numpy(), [1, 0, 1])


def test_conversions_and_detach():
    x = leaf([[1.5, 2.0]])
    assert x.shape == (1, 2) and x.ndim == 2 and x.numel() == 2 and x.device == "cpu"
    assert x.size() == (1, 2) and x.size(1) == 2 and x.dim() == 2
    assert x.xp is np and isinstance(x.numpy(), np.ndarray)
    assert x[0, 1].item() == 2.0 and float(x[0, 0]) == 1.5
    with pytest.raises(ValueError, match=r"only one-element tensors.*\(1, 2\)"):
        x.item()
    d = (x * 2).detach()
    assert d.creator is None and not d.requires_grad
    np.testing.assert_array_equal(d.numpy(), [[3.0, 4.0]])
    assert "requires_grad=True" in repr(x) and "grad_fn=Mul" in repr(x * 2)


# ----------------------------------------------------------------------------------------------
# writing a Function


class Cube(Function):
    """y = x^3;  dy/dx = 3 x^2."""

    def forward(self, x):
        self.x = x
        return x**3

    def backward(self, gy):
        return gy * 3 * self.x**2


class BadShape(Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy.sum(axis=0)  # wrong: drops an axis that was not broadcast


@given(x=shapes().flatmap(arrays))
@settings(max_examples=10)
def test_a_user_function_is_checked_by_gradcheck(x):
    assert gradcheck(lambda t: Cube()(t), leaf(x))
    np.testing.assert_allclose(Cube()(leaf(x)).numpy(), x**3)


def test_a_function_with_a_wrong_gradient_shape_is_named():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(
        ValueError,
        match=r"BadShape.backward returned a gradient of shape \(3,\) "
        r"for an input of shape \(2, 3\)",
    ):
        BadShape()(x).sum().backward()


def test_gradcheck_reports_the_op_index_and_both_values():
    class Wrong(Cube):
        def backward(self, gy):
            return gy * 2 * self.x**2

    with pytest.raises(
        ms.GradcheckError,
        match=r"gradcheck\(cube\): gradient of input 0 \(shape "
        r"\(2,\)\) is wrong at index \(\d,\): analytic .*, "
        r"numeric",
    ):
        gradcheck(lambda t: Wrong()(t), leaf([1.0, 2.0]), name="cube")
    with pytest.raises(ms.GradcheckError, match="along random direction"):  # large inputs
        gradcheck(lambda t: Wrong()(t), leaf(np.linspace(1, 2, 100)), name="cube")


# ----------------------------------------------------------------------------------------------
# in-place changes of arrays saved for backward


def test_a_raw_write_into_a_saved_array_raises_at_the_write():
    # issue 11: this gave [20, 20, 20] silently (the backward read the new values)
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    assert x.data.sum() == 6.0 and x.numpy()[1] == 2.0  # reading between forward and backward
    with pytest.raises(ValueError, match="read-only"):
        x.data[...] = 10
    with pytest.raises(ValueError, match="read-only"):
        x.data *= 2
    assert ms.autograd.saved_by(x) == ["Mul's input 0"]  # who holds it (NumPy cannot say)
    y.sum().backward()
    assert ms.autograd.saved_by(x) == []
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])
    x.data[...] = 10  # the graph is freed: writeable again
    np.testing.assert_array_equal(x.numpy(), [10.0, 10.0, 10.0])


def test_a_saved_output_is_protected_too_and_views_of_the_input_count():
    x = leaf([0.5, -1.0, 2.0])
    s = F.sigmoid(x)  # sigmoid's backward uses its output
    with pytest.raises(ValueError, match="read-only"):
        s.data[0] = 0.0
    assert ms.autograd.saved_by(s) == ["Sigmoid's output"]
    x2 = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x2.reshape(4) * x2.reshape(4)  # Mul saves views of x2.data
    with pytest.raises(ValueError, match="read-only"):
        x2.data[1, 1] = 0.0
    y.sum().backward()
    np.testing.assert_array_equal(x2.grad.numpy(), [[2.0, 4.0], [6.0, 8.0]])


def test_a_dropped_graph_gives_its_arrays_back():
    x = leaf([1.0, 2.0])
    y = x * x
    assert not x.data.flags.writeable
    del y  # never backpropagated
    assert x.data.flags.writeable
    x.data[0] = 5.0
    with no_grad():
        z = x * x  # no graph, nothing held
    assert x.data.flags.writeable and z.numpy()[0] == 25.0


def test_two_graphs_holding_one_array_release_it_when_both_are_freed():
    x = leaf([1.0, 2.0])
    a, b = (x * x).sum(), (x * 3).sum()
    a.backward()
    assert not x.data.flags.writeable  # b's graph still holds it
    with pytest.raises(ValueError, match="read-only"):
        x.data[0] = 0.0
    b.backward()
    assert x.data.flags.writeable
    np.testing.assert_array_equal(x.grad.numpy(), [2.0 + 3.0, 4.0 + 3.0])


def test_an_optimizer_step_before_backward_raises_at_backward_naming_the_op():
    w = ms.nn.Parameter(np.array([1.0, 2.0, 3.0]))
    w.grad = Tensor(np.ones(3))
    opt = ms.optim.SGD([w], lr=0.5)
    y = w * w
    opt.step()  # no error at the step: it is legal
    np.testing.assert_array_equal(w.numpy(), [0.5, 1.5, 2.5])
    with pytest.raises(
        RuntimeError,
        match=r"modified by an in-place operation: Mul's input 0 "
        r"\(shape \(3,\), float64\).*version 0 -> 1",
    ):
        y.sum().backward()
    y = w * w  # a new forward is fine
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0 + 1.0, 1.0 + 3.0, 1.0 + 5.0])


def test_the_training_loop_is_unaffected(device):
    # forward, backward, step (in place), forward... with reads in between: no error, and the
    # numbers are the plain SGD ones: w <- w - lr * 2w
    w = ms.nn.Parameter(np.array([1.0, -2.0]), device=device)
    opt = ms.optim.SGD([w], lr=0.25)
    for _ in range(3):
        opt.zero_grad()
        loss = (w * w).sum()
        _ = w.numpy()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(w.numpy(), np.array([1.0, -2.0]) * 0.5**3, rtol=1e-12)


def test_load_state_dict_with_a_live_graph_raises_at_backward():
    model = ms.nn.Conv2d(1, 1, 1)
    x = Tensor(np.ones((1, 1, 2, 2), np.float32))
    out = model(x).sum()
    state = {k: v * 0 + 2 for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    with pytest.raises(
        RuntimeError, match=r"in-place operation: Conv2d.s input 1 \(shape \(1, 1, 1, 1\)"
    ):
        out.backward()


def test_on_the_gpu_array_module_the_version_check_still_names_the_op(monkeypatch):
    # CuPy has no writeable flag: nothing is locked there, but an optimizer step before backward
    # is still caught by the version counter (checked with the stand-in CuPy)
    import fake_cupy

    fake_cupy.install(monkeypatch)
    w = ms.nn.Parameter(np.array([1.0, 2.0]), device="gpu")
    w.grad = Tensor(np.ones(2), device="gpu")
    y = w * w
    assert ms.autograd.saved_by(w) == ["Mul's input 0"]
    ms.optim.SGD([w], lr=0.5).step()
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation: Mul's input 0"):
        y.sum().backward()


# ----------------------------------------------------------------------------------------------
# Functions with several outputs, and what a Function saves (save_for_backward)


class SinCos(Function):
    """(sin x, cos x): two outputs; backward(g_sin, g_cos) = g_sin cos x - g_cos sin x."""

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.sin(x), self.xp.cos(x)

    def backward(self, g_sin, g_cos):
        (x,) = self.saved_tensors
        return g_sin * self.xp.cos(x) - g_cos * self.xp.sin(x)


def test_a_two_output_function_gradchecks(device):
    x = leaf([0.3, -1.2, 2.0, 0.7], device=device)
    s, c = SinCos()(x)
    assert s.creator is c.creator and s.device == c.device == device
    np.testing.assert_allclose(s.numpy(), np.sin(x.numpy()), rtol=1e-15)
    np.testing.assert_allclose(c.numpy(), np.cos(x.numpy()), rtol=1e-15)

    def uses_both(t):  # the outputs meet again after different paths (c goes through exp)
        a, b = SinCos()(t)
        return a * F.exp(b) + b * b

    assert gradcheck(uses_both, x, name="sincos")
    x.grad = None
    uses_both(x).sum().backward()
    xv = x.numpy()
    expected = np.cos(xv) * np.exp(np.cos(xv)) - np.sin(xv) * (
        np.sin(xv) * np.exp(np.cos(xv)) + 2 * np.cos(xv)
    )
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_an_output_without_gradient_gets_zeros():
    x = leaf([0.5, 1.5])
    s, c = SinCos()(x)
    s.sum().backward()  # c unused: its gradient is zeros
    np.testing.assert_allclose(x.grad.numpy(), np.cos([0.5, 1.5]), rtol=1e-15)
    x.grad = None
    s, c = SinCos()(x)
    (c * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -2 * np.sin([0.5, 1.5]), rtol=1e-15)


class SavesOnlyItsOutput(Function):
    """y = 2 e^x, saving y (not x): backward dy/dx = y."""

    def __init__(self, tag):
        self.tag = tag

    def forward(self, x):
        y = 2 * self.xp.exp(x)
        self.save_for_backward(y)
        self.scratch = x.shape  # small values set in forward stay; only saved arrays are freed
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * y


def test_release_frees_exactly_what_was_saved():
    x = leaf([0.0, 1.0])
    y = SavesOnlyItsOutput("p")(x)
    fn = y.creator
    assert fn.saved_tensors == (y.data,)
    assert ms.autograd.saved_by(y) == ["SavesOnlyItsOutput's output"]
    assert ms.autograd.saved_by(x) == [] and x.data.flags.writeable  # x was not saved
    assert not y.data.flags.writeable
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([0.0, 1.0]), rtol=1e-15)
    assert fn.inputs is None and y.data.flags.writeable and ms.autograd.saved_by(y) == []
    with pytest.raises(RuntimeError, match="SavesOnlyItsOutput: its saved arrays were freed"):
        _ = fn.saved_tensors
    assert fn.tag == "p" and fn.scratch == (2,)  # parameters and small values stay


def test_nothing_is_saved_or_held_without_a_graph():
    x = leaf([1.0, 2.0])
    with no_grad():
        y = SavesOnlyItsOutput("q")(x)
    assert y.creator is None and y.data.flags.writeable and ms.autograd.saved_by(y) == []


def test_an_op_that_saves_nothing_has_empty_saved_tensors():
    x = leaf([1.0, 2.0])
    y = x + 1.0
    assert y.creator.saved_tensors == ()
    assert x.data.flags.writeable  # Add saves nothing: nothing locked


class _Lent:
    """Lends another array's memory through ``__array_interface__`` (as torch's ``.numpy()`` and
    image libraries do): NumPy cannot make such a view writeable again once it is read-only."""

    def __init__(self, a):
        self.a, self.__array_interface__ = a, a.__array_interface__


def test_saved_arrays_on_lent_memory_are_not_locked_and_backward_works():
    # oracle sweep: max_unpool2d's backward failed with "cannot set WRITEABLE flag to True"
    # when its input came from torch's .numpy() (the lock could not be undone)
    owner = np.array([1.0, 2.0, 3.0])
    lent = np.asarray(_Lent(owner))
    assert lent.base is not None and lent.flags.writeable
    x = Tensor(lent, requires_grad=True)
    y = x * x
    assert x.data.flags.writeable  # not locked: it could never be unlocked
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])
    assert x.data.flags.writeable and ms.autograd.saved_by(x) == []
    x.data[0] = 7.0  # still the user's writeable array
    assert owner[0] == 7.0
    # memory lent by a writable buffer (bytearray) is locked and given back as before
    b = np.frombuffer(bytearray(np.array([1.0, 2.0]).tobytes()))
    xb = Tensor(b, requires_grad=True)
    yb = xb * xb
    assert not xb.data.flags.writeable
    yb.sum().backward()
    assert xb.data.flags.writeable
    np.testing.assert_array_equal(xb.grad.numpy(), [2.0, 4.0])
