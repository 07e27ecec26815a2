# %% [markdown]
# # Lesson 15 - write your own op, and test it the way minisegnet tests its own
#
# Every op of minisegnet is a `Function`: a `forward` on plain arrays that saves what it needs,
# and a `backward` that turns the gradient of the output into the gradient of the input (the
# chain rule, one op at a time). A backward is easy to get almost right, so minisegnet checks
# each one against **central finite differences** (`gradcheck`) on inputs drawn by
# **hypothesis**, which also *shrinks* a failure to a minimal example.
#
# We write SiLU (also called swish), y = x sigmoid(x), whose derivative is
# dy/dx = s + x s (1 - s) = s (1 + x (1 - s)) with s = sigmoid(x); plant a slip in its backward;
# watch a hand-picked check miss it, gradcheck catch it, and hypothesis find and shrink it.
#
# Run: `python lessons/15_write_your_own_op.py` (needs hypothesis: `pip install hypothesis`).
# As a notebook: `python lessons/make_notebooks.py 15`, then open `lessons/notebooks/15_*.ipynb`.

# %%
import minisegnet as ms

from _common import *  # noqa: F403
from exercises import try_it_yourself

try:
    from hypothesis import given, settings
except ImportError:  # pragma: no cover - depends on the environment
    raise SystemExit("lesson 15 needs hypothesis: pip install hypothesis") from None
from minisegnet.testing import GradcheckError, arrays, gradcheck, shapes

# %% [markdown]
# ## 1. The op: forward and backward side by side
#
# `self.xp` is the array module of the inputs (NumPy, or CuPy on a GPU). The forward computes the
# sigmoid in its stable two-branch form (never exp of a large positive number) and says what the
# backward needs with `self.save_for_backward(s, x)`; the backward reads it back from
# `self.saved_tensors`. The engine protects those arrays while the graph lives (a write into x
# before backward raises) and frees them once backward has run.

# %%
section("1. SiLU as a minisegnet Function")


class SiLU(ms.Function):
    """y = x sigmoid(x);  dy/dx = s (1 + x (1 - s)),  s = sigmoid(x)."""

    def forward(self, x):
        xp = self.xp
        e = xp.exp(-xp.abs(x))                        # in (0, 1]: never overflows
        s = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        self.save_for_backward(s, x)
        return x * s

    def backward(self, gy):
        s, x = self.saved_tensors
        return gy * s * (1 + x * (1 - s))


class BuggySiLU(SiLU):
    """The same op with a planted slip in the backward of the negative branch: s instead of 1 - s."""

    def backward(self, gy):
        s, x = self.saved_tensors
        right = s * (1 + x * (1 - s))
        wrong = s * (1 + x * s)                       # the slip
        return gy * self.xp.where(x >= 0, right, wrong)


x = ms.Tensor(np.array([-2.0, -0.5, 0.0, 0.5, 2.0]), requires_grad=True)
y = SiLU()(x)
y.sum().backward()
sig = 1 / (1 + np.exp(-x.numpy()))
check("SiLU(x)", y, x.numpy() * sig, atol=1e-12, ref="x sigmoid(x)")
check("dy/dx by our backward", x.grad, sig * (1 + x.numpy() * (1 - sig)), atol=1e-12,
      ref="s (1 + x (1 - s))")

# %% [markdown]
# ## 2. A hand-picked check misses the slip
#
# The planted slip only changes the negative branch. A test on "typical" positive inputs, or at
# 0 (where s = 1 - s = 1/2), passes.

# %%
section("2. The buggy backward on hand-picked inputs")
for picks in ([0.0, 0.5, 1.0, 2.0],):
    xb = ms.Tensor(np.array(picks), requires_grad=True)
    BuggySiLU()(xb).sum().backward()
    s_b = 1 / (1 + np.exp(-np.array(picks)))
    check(f"buggy dy/dx at {picks}", xb.grad, s_b * (1 + np.array(picks) * (1 - s_b)), atol=1e-12,
          ref="formula")
print("all right on these inputs: the slip hides on the negative side")

# %% [markdown]
# ## 3. gradcheck: central finite differences, element by element
#
# `gradcheck(fn, *inputs)` compares the analytic gradient (our backward) with
# (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for every element, in float64. With a negative
# input among them it catches the slip and says where.

# %%
section("3. gradcheck on one input with a negative entry")
x_mixed = ms.Tensor(np.array([0.7, -1.3, 2.1]), requires_grad=True)
gradcheck(lambda t: SiLU()(t), x_mixed)
print("SiLU: gradcheck passes")
try:
    gradcheck(lambda t: BuggySiLU()(t), x_mixed)
except GradcheckError as err:
    caught = str(err)
    print(f"BuggySiLU: GradcheckError: {caught}")
else:
    raise AssertionError("gradcheck should catch the planted slip")

# %% [markdown]
# ## 4. hypothesis draws the inputs, and shrinks a failure
#
# Five lines of test: for arrays of every small shape with values in [-3, 3] (kept 0.05 away
# from 0), the backward must agree with finite differences. hypothesis tries many inputs; when one
# fails it *shrinks* it (fewer axes, smaller sides, simpler numbers) until nothing simpler fails,
# and reports that minimal example. We run it on the right op (it passes) and on the buggy one.

# %%
section("4. A five-line hypothesis test, on the right and on the buggy op")
tried = []


def make_test(op):
    @settings(max_examples=100, derandomize=True, database=None, deadline=None)
    @given(shapes().flatmap(arrays))
    def test_backward(x):
        tried.append(x)
        gradcheck(lambda t: op()(t), ms.Tensor(x, requires_grad=True))
    return test_backward


make_test(SiLU)()
print(f"SiLU: the property holds on {len(tried)} drawn inputs")
tried.clear()
try:
    make_test(BuggySiLU)()
except Exception as err:  # GradcheckError (or hypothesis' report of it)
    failure = f"{type(err).__name__}: {err}"
    minimal = tried[-1]  # hypothesis runs the shrunk example last, and re-raises its error
else:
    raise AssertionError("hypothesis should find the planted slip")
print(f"BuggySiLU: hypothesis tried {len(tried)} inputs; the minimal failing example it shrank to:")
show("  x", minimal)
print(f"  shape {minimal.shape}, values {np.round(minimal.ravel(), 4).tolist()}")
negative = bool(np.any(minimal < 0))
print(f"  it contains a negative value: {negative}  (exactly where the slip is)")

# %% [markdown]
# ## 5. Fix it, and the same test passes
#
# The fix is the derivative of the formula: s (1 + x (1 - s)) on both branches -- the `SiLU`
# class above. (minisegnet's own tests are built the same way, from the strategies in
# `minisegnet.testing`: see docs/testing.md.)

# %%
section("5. The fixed op passes the same property")
tried.clear()
make_test(SiLU)()
print(f"fixed SiLU: the property holds on {len(tried)} drawn inputs")

# %% [markdown]
# ## 6. Figure: the derivative, the right one and the slip

# %%
section("6. Figure: right and buggy derivatives")
grid = np.linspace(-4, 4, 161)
gt = ms.Tensor(grid, requires_grad=True)
SiLU()(gt).sum().backward()
gb = ms.Tensor(grid, requires_grad=True)
BuggySiLU()(gb).sum().backward()
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(grid, SiLU()(ms.Tensor(grid)).numpy(), label="SiLU(x) = x sigmoid(x)")
ax.plot(grid, as_numpy(gt.grad), label="dy/dx (right backward)")
ax.plot(grid, as_numpy(gb.grad), "--", label="dy/dx (buggy backward)")
ax.plot(minimal.ravel(), np.zeros(minimal.size), "kx", ms=9, label="hypothesis' minimal example")
ax.axhline(0, color="gray", lw=0.5)
ax.set_xlabel("x")
ax.legend(fontsize=8)
ax.set_title("The slip lives on the negative side only")
fig.tight_layout()
save_figure(fig, "15_silu_backward")

# %% [markdown]
# ## 7. What the checks showed, asserted

# %%
section("7. What the checks showed")
assert "index (1,)" in caught, caught  # x_mixed[1] = -1.3, the only negative entry
assert "GradcheckError" in failure, failure
assert negative, "the minimal failing example must hold a negative value"
assert minimal.size <= 2, f"hypothesis should shrink to a tiny array, got shape {minimal.shape}"
print("a hand-picked test missed the slip; gradcheck caught it; hypothesis found it on its own and\n"
      "shrank it to a tiny array with a negative value; the fixed backward passes the same property.")

try_it_yourself("15")

print("\nLesson 15 complete: a Function written, gradchecked, and property-tested with hypothesis.")
