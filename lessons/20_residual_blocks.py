# %% [markdown]
# # Lesson 20 - residual blocks: why the shortcut lets gradients through
#
# Deck 004: DeepLab v2 swaps VGG for a **ResNet**. A residual block computes
# y = x + F(x) instead of y = F(x). Backpropagation through it multiplies the incoming gradient by
#
#     dy/dx = I + dF/dx,
#
# so even when dF/dx is small the gradient keeps the identity term; through a plain stack it is a
# product of the layers' Jacobians, which can shrink (or grow) exponentially with depth.
#
# This lesson measures that with autograd, at initialisation:
#
# 1. the derivative of x + f(x) vs f(x) on one number;
# 2. the gradient norm of every layer of a 20-layer plain sigmoid stack vs the same layers with
#    shortcuts (the classic vanishing gradient), drawn per layer;
# 3. the same with minisegnet's own `BasicBlock` (conv-BN-ReLU, the blocks of `ResNetEncoder`),
#    with and without its shortcut: with batch-norm the plain stack's gradients *explode* towards
#    the input instead -- the shortcut keeps them within a small factor;
# 4. the projection shortcut (a strided 1x1 conv) when the shape changes.
#
# Run: `python lessons/20_residual_blocks.py` (add `--show` to open the figures).
# As a notebook: `python lessons/make_notebooks.py 20`, then open `lessons/notebooks/20_*.ipynb`.

# %%
import minisegnet as ms
import minisegnet.functional as F
from minisegnet.models.resnet import BasicBlock
from minisegnet.summary import summary

from _common import *  # noqa: F403  (numpy as np, check, show, section, save_figure, ...)
from exercises import try_it_yourself

# %% [markdown]
# ## 1. One number through f and through x + f(x)
#
# With f = sigmoid: f'(0) = 1/4, and (x + f(x))' = 1 + 1/4.

# %%
section("1. d f / dx vs d (x + f(x)) / dx, by autograd")
for name, fn, want in [("sigmoid(x)", lambda t: F.sigmoid(t), 0.25),
                       ("x + sigmoid(x)", lambda t: t + F.sigmoid(t), 1.25)]:
    x = ms.Tensor(np.array(0.0), requires_grad=True)
    fn(x).backward()
    check(f"derivative of {name} at 0", x.grad.numpy(), want, atol=1e-12, ref="formula")
# ten plain sigmoids at most multiply the gradient by 0.25 ** 10; ten residual ones by >= 1
x = ms.Tensor(np.array(0.0), requires_grad=True)
y = x
for _ in range(10):
    y = F.sigmoid(y)
y.backward()
print(f"10 stacked sigmoids: gradient {float(x.grad.numpy()):.3e} (bound 0.25^10 = "
      f"{0.25 ** 10:.3e})")
assert float(x.grad.numpy()) <= 0.25 ** 10

# %% [markdown]
# ## 2. A deep plain stack vs a residual stack (20 layers, width 32)
#
# Plain: x_{l+1} = sigmoid(x_l W_l). Residual: x_{l+1} = x_l + sigmoid(x_l W_l), with the **same**
# weights W_l ~ N(0, 1/32). A random linear read-out of the last layer is the "loss"; autograd gives
# dL/dW_l for every layer, and we compare their norms from the first layer to the last.

# %%
section("2. Gradient norm per layer at initialisation: plain vs residual (sigmoid, 20 layers)")
DEPTH, WIDTH = 20, 32
rng = np.random.default_rng(0)
weights = [rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH) for _ in range(DEPTH)]
x0 = rng.standard_normal((16, WIDTH))
readout = rng.standard_normal((16, WIDTH))


def grad_norms(shortcut: bool) -> np.ndarray:
    ws = [ms.Tensor(w, requires_grad=True) for w in weights]
    y = ms.Tensor(x0)
    for w in ws:
        f = F.sigmoid(y @ w)
        y = y + f if shortcut else f
    (y * ms.Tensor(readout)).sum().backward()
    return np.array([np.linalg.norm(w.grad.numpy()) for w in ws])


plain, residual = grad_norms(False), grad_norms(True)
for l in (0, 5, 10, 15, 19):
    print(f"layer {l + 1:>2}: |dL/dW| plain {plain[l]:.3e}   residual {residual[l]:.3e}")
ratio_plain, ratio_res = plain[0] / plain[-1], residual[0] / residual[-1]
print(f"first / last layer: plain {ratio_plain:.1e}, residual {ratio_res:.2f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(range(1, DEPTH + 1), plain, "o-", label="plain: sigmoid(x W)")
ax.semilogy(range(1, DEPTH + 1), residual, "s-", label="residual: x + sigmoid(x W)")
ax.set_xlabel("layer (1 = next to the input)")
ax.set_ylabel("|dL/dW| at initialisation")
ax.set_title("the same weights, with and without shortcuts")
ax.legend()
save_figure(fig, "20_gradient_norms_sigmoid")
# each plain layer multiplies the gradient by at most 1/4 times |W|: about 10 orders of magnitude
# over 20 layers here; the shortcut's identity term keeps every layer within a small factor
assert ratio_plain < 1e-6, ratio_plain
assert ratio_res > 1e-2, ratio_res

# %% [markdown]
# ## 3. minisegnet's BasicBlock, with and without its shortcut
#
# `BasicBlock(8, 8)`: y = ReLU(BN(conv(ReLU(BN(conv(x))))) + x). The "plain" version drops the
# `+ x`: y = ReLU(residual(x)). Twenty blocks (40 convs), batch-norm in training mode, He
# initialisation. Measured: the gradient norm of each block's first conv weight.
#
# With batch-norm the plain stack does not vanish -- its gradients **grow** towards the input (a
# known effect of batch-norm at initialisation: each block multiplies the gradient by a factor
# above 1), so the first layers get gradients hundreds of times larger than the last. With the
# shortcut the spread shrinks to a small factor: every layer learns at a comparable rate.

# %%
section("3. 20 BasicBlocks (BN + ReLU): gradient norm per block, without vs with the shortcut")
BLOCKS = 20


def block_grads(shortcut: bool) -> np.ndarray:
    ms.manual_seed(0)
    blocks = [BasicBlock(8, 8).double() for _ in range(BLOCKS)]
    data = np.random.default_rng(1)
    y = ms.Tensor(data.standard_normal((4, 8, 8, 8)))
    for b in blocks:
        y = b(y) if shortcut else b.relu(b.residual(y))
    (y * ms.Tensor(data.standard_normal(y.shape))).sum().backward()
    return np.array([np.linalg.norm(b.residual[0].weight.grad.numpy()) for b in blocks])


no_sc, with_sc = block_grads(False), block_grads(True)
spread_plain, spread_res = no_sc[0] / no_sc[-1], with_sc[0] / with_sc[-1]
print(f"first / last block: without shortcut {spread_plain:.0f}x, with shortcut "
      f"{spread_res:.1f}x")
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(range(1, BLOCKS + 1), no_sc, "o-", label="BasicBlock without shortcut")
ax.semilogy(range(1, BLOCKS + 1), with_sc, "s-", label="BasicBlock (with shortcut)")
ax.set_xlabel("block (1 = next to the input)")
ax.set_ylabel("|dL/dW| of the block's first conv")
ax.legend()
save_figure(fig, "20_gradient_norms_basicblock")
assert spread_plain > 10 * spread_res, (spread_plain, spread_res)

# %% [markdown]
# ## 4. The projection shortcut
#
# When a block halves the map or changes the channel count, x cannot be added as it is: the
# shortcut becomes a 1x1 conv with the block's stride (+ BN), "projection shortcut" in the paper.

# %%
section("4. Identity vs projection shortcut")
same, down = BasicBlock(8, 8), BasicBlock(8, 16, stride=2)
print("BasicBlock(8, 8).shortcut:", same.shortcut)
print("BasicBlock(8, 16, stride=2).shortcut:", down.shortcut)
out = down(ms.Tensor(np.zeros((1, 8, 16, 16), np.float32)))
check("output shape of BasicBlock(8, 16, stride=2) on 8x16x16", out.shape, (1, 16, 8, 8),
      ref="formula")
check("projection weights: 1x1 conv 8*16 + BN 2*16", down.shortcut.num_parameters(),
      8 * 16 + 2 * 16, ref="arithmetic")
print(summary(down, (8, 16, 16)))

# %%
try_it_yourself("20")

print("\nLesson 20 complete: the shortcut's identity term keeps the gradients of a deep stack "
      "within a small factor.")
