# %% [markdown]
# # Lesson 01 - neurons, layers and the activation table
#
# Deck 001 ("Neural Networks and semantic segmentation", Drouyer & Facciolo).
#
# A neuron computes f(x) = g(w . x + b): a weighted sum of its inputs plus a bias, passed through a
# non-linear **activation** g. Layers of neurons compose. This lesson evaluates the deck's
# activation table with minisegnet, gets every derivative from autograd, draws the curves, and shows
# why segmentation uses softmax (exclusive classes) rather than independent sigmoids.
#
# Run: `python lessons/01_neurons_activations.py` (add `--show` to open the figure).
# As a notebook: `python lessons/make_notebooks.py 01`, then open `lessons/notebooks/01_*.ipynb`.

# %%
import minisegnet as ms
import minisegnet.functional as F

from _common import *  # noqa: F403
from exercises import try_it_yourself

# %% [markdown]
# ## 1. One neuron
#
# Inputs x = (1, 2, -1), weights w = (0.5, -0.25, 1), bias b = 0.5:
# z = w . x + b = 0.5 - 0.5 - 1 + 0.5 = -0.5, then f = g(z).

# %%
section("1. One neuron: f(x) = g(w . x + b)")
x = ms.Tensor([1.0, 2.0, -1.0])
w = ms.Tensor([0.5, -0.25, 1.0])
b = ms.Tensor(0.5)
z = w @ x + b
show("w * x (products)", w * x)
check("z = w . x + b", z.item(), -0.5, ref="by hand")
check("ReLU neuron    g(z) = max(0, z)", F.relu(z).item(), 0.0, ref="by hand")
check("sigmoid neuron g(z) = 1/(1+e^-z)", F.sigmoid(z).item(), 0.3775, atol=5e-5, ref="by hand")

# %% [markdown]
# ## 2. The activation table
#
# | name | g(z) |
# |---|---|
# | unit step | 0 for z < 0, **0.5 at 0**, 1 for z > 0 |
# | sign | -1, 0, 1 |
# | linear | z |
# | piece-wise linear | 0 below -1/2, z + 1/2 between, 1 above 1/2 |
# | logistic sigmoid | 1 / (1 + e^-z) |
# | tanh | (e^z - e^-z) / (e^z + e^-z) |
# | ReLU | max(0, z) |
# | softplus | ln(1 + e^z) |
#
# We evaluate each at z = -2, -0.5, 0, 0.25, 2 and compare with the values of the formulas
# (written below as literals, rounded to 4 places).

# %%
section("2. The activation table at z = -2, -0.5, 0, 0.25, 2")
zs = ms.Tensor([-2.0, -0.5, 0.0, 0.25, 2.0])
TABLE = {
    "unit step":         (F.step,             [0, 0, 0.5, 1, 1]),
    "sign":              (F.sign,             [-1, -1, 0, 1, 1]),
    "linear":            (F.linear,           [-2, -0.5, 0, 0.25, 2]),
    "piece-wise linear": (F.piecewise_linear, [0, 0, 0.5, 0.75, 1]),
    "logistic sigmoid":  (F.sigmoid,          [0.1192, 0.3775, 0.5, 0.5622, 0.8808]),
    "tanh":              (F.tanh,             [-0.9640, -0.4621, 0, 0.2449, 0.9640]),
    "ReLU":              (F.relu,             [0, 0, 0, 0.25, 2]),
    "softplus":          (F.softplus,         [0.1269, 0.4741, 0.6931, 0.8259, 2.1269]),
}
for name, (g, expected) in TABLE.items():
    check(f"{name:17s}", g(zs), expected, atol=5e-5, ref="formula")

# %% [markdown]
# ## 3. Derivatives from autograd
#
# Training needs g'(z). minisegnet's autograd gives it by calling `.backward()` on the sum of
# g(z) (each output depends on one input only, so the gradient is g'(z) elementwise). The closed
# forms: sigmoid' = s (1 - s), tanh' = 1 - tanh^2, ReLU' = step (0 at 0 here), softplus' = sigmoid,
# piece-wise linear' = 1 inside (-1/2, 1/2); step and sign have derivative 0 wherever it exists.

# %%
section("3. Derivatives g'(z) by autograd")
DERIV = {
    "unit step":         [0, 0, 0, 0, 0],
    "sign":              [0, 0, 0, 0, 0],
    "linear":            [1, 1, 1, 1, 1],
    "piece-wise linear": [0, 0, 1, 1, 0],  # z = -0.5 is a kink: the engine takes the outside slope
    "logistic sigmoid":  [0.1050, 0.2350, 0.25, 0.2461, 0.1050],
    "tanh":              [0.0707, 0.7864, 1, 0.9400, 0.0707],
    "ReLU":              [0, 0, 0, 1, 1],
    "softplus":          [0.1192, 0.3775, 0.5, 0.5622, 0.8808],
}
for name, (g, _) in TABLE.items():
    zz = ms.Tensor([-2.0, -0.5, 0.0, 0.25, 2.0], requires_grad=True)
    out = g(zz)
    if out is zz:  # the identity returns its input unchanged; its derivative is 1
        grad = np.ones(5)
    else:
        out.sum().backward()
        grad = zz.grad.numpy()
    check(f"{name:17s}", grad, DERIV[name], atol=5e-5, ref="formula")

# %% [markdown]
# ## 4. Layers compose
#
# One neuron draws one line; two layers can do what one cannot. The classic example is XOR:
# hidden h1 = ReLU(x1 + x2), h2 = ReLU(x1 + x2 - 1), output y = h1 - 2 h2.

# %%
section("4. Two layers compute XOR (one neuron cannot)")
X = ms.Tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
W1 = ms.Tensor([[1.0, 1.0], [1.0, 1.0]])  # columns: the weights of h1 and h2
b1 = ms.Tensor([0.0, -1.0])
W2 = ms.Tensor([[1.0], [-2.0]])
H = F.relu(X @ W1 + b1)
Y = H @ W2
show("inputs (x1, x2)", X)
show("hidden layer ReLU(X W1 + b1)", H)
check("output y", Y.numpy().ravel(), [0, 1, 1, 0], ref="XOR")

# %% [markdown]
# ## 5. Sigmoid = non-exclusive classes, softmax = exclusive classes
#
# With sigmoid each class is a separate yes/no question: the probabilities need not sum to 1 (a
# pixel may be "person" and "bicycle"). Softmax makes the classes compete: they sum to 1 and the
# pixel gets exactly one label. Semantic segmentation labels each pixel with one class: softmax.

# %%
section("5. Sigmoid vs softmax on activations (2, 1, -1)")
a = ms.Tensor([2.0, 1.0, -1.0])
sig = F.sigmoid(a)
soft = F.softmax(a, axis=0)
check("sigmoid (independent)", sig, [0.8808, 0.7311, 0.2689], atol=5e-5, ref="formula")
print(f"  sum = {sig.sum().item():.4f}  (not 1: several classes may be 'on')")
check("softmax (exclusive)  ", soft, [0.7054, 0.2595, 0.0351], atol=5e-5, ref="formula")
print(f"  sum = {soft.sum().item():.4f}")
assert abs(soft.sum().item() - 1) < 1e-6

# %% [markdown]
# ## 6. The curves
#
# The figure draws every activation (solid) and its autograd derivative (dashed).

# %%
section("6. Figure: activation curves")
grid = np.linspace(-3, 3, 601)
fig, axes = plt.subplots(2, 4, figsize=(12, 5.4), sharex=True)
for ax, (name, (g, _)) in zip(axes.ravel(), TABLE.items()):
    zz = ms.Tensor(grid, requires_grad=True)
    out = g(zz)
    if out is zz:
        d = np.ones_like(grid)
    else:
        out.sum().backward()
        d = zz.grad.numpy()
    ax.plot(grid, out.numpy(), lw=2, label="g(z)")
    ax.plot(grid, d, "--", lw=1.2, label="g'(z)")
    ax.axhline(0, color="gray", lw=0.5)
    ax.axvline(0, color="gray", lw=0.5)
    ax.set_title(name)
    ax.set_ylim(-1.6, 3.1)
axes[0, 0].legend(loc="upper left", fontsize=8)
fig.suptitle("Deck 001: the activation table (solid) and derivatives from autograd (dashed)")
fig.tight_layout()
save_figure(fig, "01_activations")

try_it_yourself("01")

print("\nLesson 01 complete: every activation and derivative agrees with its formula.")
