# %% [markdown]
# # Lesson 05 - dilated convolution and receptive fields
#
# Decks 001 (receptive field of stacked 3x3 convolutions, with and without pooling) and 002
# (atrous / dilated convolution).
#
# The **receptive field** of an output pixel is the patch of the input it can see. Segmentation
# needs large fields (to know *what* is there) and fine outputs (to know *where*). Stacking 3x3
# convolutions grows the field slowly, pooling grows it faster but loses resolution, and dilated
# convolutions grow it fast without losing resolution.
#
# The recurrence used everywhere below (also by `minisegnet.summary`), layer by layer, starting
# with r = 1 and jump j = 1 (the distance in input pixels between neighbouring outputs):
#
#     k_eff = d (k - 1) + 1,     r <- r + (k_eff - 1) * j,     j <- j * stride
#
# Run: `python lessons/05_dilation_receptive_fields.py` (add `--show` to open the figure).
# As a notebook: `python lessons/make_notebooks.py 05`, then open `lessons/notebooks/05_*.ipynb`.

# %%
import minisegnet as ms
import minisegnet.functional as F
import minisegnet.nn as nn

from _common import *  # noqa: F403
from exercises import try_it_yourself


def receptive_field(layers):
    """The recurrence: layers is a list of (kernel, stride, dilation); returns r after each."""
    r, j, out = 1, 1, []
    for k, s, d in layers:
        r += (d * (k - 1) + 1 - 1) * j
        j *= s
        out.append(r)
    return out


def footprint(model, shape, at=None):
    """Which input pixels influence one output pixel: autograd's gradient of that pixel."""
    x = ms.Tensor(np.zeros(shape, dtype=np.float64), requires_grad=True)
    y = model(x)
    h, w = y.shape[2:]
    i, j = at if at is not None else (h // 2, w // 2)
    y[0, 0, i, j].backward()
    return x.grad.numpy()[0, 0] != 0


def extent(mask):
    """Height and width of the bounding box of the True pixels."""
    r, c = np.nonzero(mask)
    return int(r.max() - r.min() + 1), int(c.max() - c.min() + 1)


def ones_conv(k=3, dilation=1, padding=0):
    """A 1-channel conv whose weights are all 1 (positive weights: no gradient cancels out)."""
    conv = nn.Conv2d(1, 1, k, padding=padding, dilation=dilation, bias=False)
    conv.weight.data[...] = 1.0
    return conv.double() if hasattr(conv, "double") else conv


# %% [markdown]
# ## 1. A 3x3 kernel with dilation 2 covers 5x5 with 9 weights (deck 002)
#
# Dilation d spreads the kernel taps d pixels apart. The gradient of one output pixel of a
# dilated convolution shows exactly which input pixels it reads.

# %%
section("1. Dilated 3x3 convolution: a 5x5 field with 9 weights")
conv_d2 = ones_conv(3, dilation=2)
seen = footprint(conv_d2, (1, 1, 9, 9))
show("input pixels read by the centre output (1 = read)", seen.astype(int))
check("field (height, width)", extent(seen), (5, 5))
check("number of weights used", int(seen.sum()), 9)

# the same as an ordinary 5x5 convolution whose kernel has zeros between the taps
rng = np.random.default_rng(0)
w3 = rng.normal(size=(1, 1, 3, 3))
w5 = np.zeros((1, 1, 5, 5))
w5[..., ::2, ::2] = w3
xin = ms.Tensor(rng.normal(size=(1, 1, 9, 9)))
check("conv2d(x, w3, dilation=2) vs conv2d(x, w3 spread into 5x5)",
      F.conv2d(xin, ms.Tensor(w3), dilation=2), F.conv2d(xin, ms.Tensor(w5)).numpy(), ref="5x5 conv")

# %% [markdown]
# ## 2. Stacked 3x3 convolutions: N layers see (1 + 2N) x (1 + 2N) (deck 001)
#
# Each 3x3 layer adds 2 to the field: 1 layer 3x3, 2 layers 5x5, N layers (1 + 2N)x(1 + 2N). A
# 99 x 99 field needs (99 - 1) / 2 = 49 layers. We check the formula three ways: the recurrence,
# `minisegnet.summary`, and autograd (which input pixels reach one output pixel).

# %%
section("2. N stacked 3x3 convolutions")
for n_layers, expected in [(1, 3), (2, 5), (3, 7), (10, 21)]:
    stack = nn.Sequential(*[ones_conv(3, padding=1) for _ in range(n_layers)])
    rec = receptive_field([(3, 1, 1)] * n_layers)[-1]
    summ = ms.summary(stack, (1, 1, 32, 32)).receptive_field
    grad = extent(footprint(stack, (1, 1, 32, 32)))
    print(f"{n_layers:2d} layers: 1 + 2N = {1 + 2 * n_layers:3d}   recurrence {rec}   "
          f"summary {int(summ[0])}   autograd {grad[0]}x{grad[1]}")
    assert rec == int(summ[0]) == grad[0] == grad[1] == expected

n_needed = (99 - 1) // 2
check("layers needed for a 99x99 field", n_needed, 49, by="arithmetic")
deep = nn.Sequential(*[ones_conv(3) for _ in range(49)])  # no padding: 99x99 shrinks to 1x1
s49 = ms.summary(deep, (1, 1, 99, 99))
print(f"49 valid 3x3 convs on a 99x99 input: output {s49.output_shape[2:]}, receptive field "
      f"{int(s49.receptive_field[0])}")
check("receptive field of 49 layers (summary)", int(s49.receptive_field[0]), 99)
seen99 = footprint(deep, (1, 1, 99, 99))
print(f"the single output pixel depends on {int(seen99.sum())} input pixels = 99 x 99 = {99 * 99}")
assert seen99.all()

# %% [markdown]
# ## 3. With max pooling: 12 convolutions and 5 pools see 284 x 284 (deck 001)
#
# 12 conv layers (3x3), in 6 pairs, with a 2x2 / stride-2 pool between pairs (5 pools). After each
# pool the jump doubles, so every later 3x3 conv adds 2 x jump. (For the autograd check we use
# average pools, which have the same geometry: the gradient of a max pool only reaches the
# maximum of each window, which would hide part of the field.)

# %%
section("3. 12 convolutions in 6 pairs with 5 pools between them")
layers = []
for pair in range(6):
    layers += [(3, 1, 1), (3, 1, 1)]
    if pair < 5:
        layers.append((2, 2, 1))
r, j = 1, 1
print(" layer          r    jump")
for k, s, _d in layers:
    r += (k - 1) * j
    j *= s
    print(f" {'conv 3x3' if k == 3 else 'pool 2x2/2':12s} {r:4d} {j:6d}")
check("receptive field (recurrence)", r, 284, by="recurrence")


def vgg_like(pool):
    mods = []
    for pair in range(6):
        mods += [nn.Conv2d(1, 1, 3, padding=1, bias=False), nn.Conv2d(1, 1, 3, padding=1, bias=False)]
        if pair < 5:
            mods.append(pool(2))
    model = nn.Sequential(*mods)
    for p in model.parameters():
        p.data[...] = 1.0
    return model


s284 = ms.summary(vgg_like(nn.MaxPool2d), (1, 1, 384, 384))
print(s284)
check("receptive field (minisegnet.summary, max pools)", int(s284.receptive_field[0]), 284)
seen284 = footprint(vgg_like(nn.AvgPool2d), (1, 1, 384, 384), at=(6, 6))
check("receptive field (autograd, average pools)", extent(seen284), (284, 284))

# %% [markdown]
# ## 4. Dilation grows the field exponentially, at full resolution
#
# Doubling the dilation at every layer (1, 2, 4, 8, ...) doubles the field each time, while every
# layer keeps the input's resolution (DeepLab's atrous convolutions, deck 004): after L layers
# r = 2^(L+1) - 1, against 1 + 2L for plain 3x3 layers.

# %%
section("4. Dilations 1, 2, 4, 8, 16 vs plain 3x3 layers")
for n_layers in range(1, 6):
    dil = [2 ** i for i in range(n_layers)]
    model = nn.Sequential(*[ones_conv(3, dilation=d, padding=d) for d in dil])
    r_sum = int(ms.summary(model, (1, 1, 80, 80)).receptive_field[0])
    r_grad = extent(footprint(model, (1, 1, 80, 80)))[0]
    print(f"{n_layers} layers, dilations {dil}: field {r_sum} (autograd {r_grad}), "
          f"plain 3x3: {1 + 2 * n_layers}")
    assert r_sum == r_grad == 2 ** (n_layers + 1) - 1

# %% [markdown]
# ## 5. Figure: receptive-field growth

# %%
section("5. Figure: receptive-field growth")
n = np.arange(1, 13)
plain = 1 + 2 * n
pooled_r = receptive_field(layers)
conv_positions = [i for i, (k, _, _) in enumerate(layers) if k == 3]
with_pools = [pooled_r[i] for i in conv_positions]
dilated = [2 ** (m + 1) - 1 for m in n]
fig, axes = plt.subplots(1, 3, figsize=(14, 4))
ax = axes[0]
ax.plot(n, plain, "o-", label="3x3 convs: 1 + 2N")
ax.plot(n, with_pools, "s-", label="pairs of 3x3 convs + 2x2 pools")
ax.plot(n[:8], dilated[:8], "^-", label="3x3, dilation 1, 2, 4, ...")
ax.annotate("284", (12, 284), xytext=(8.5, 250), arrowprops={"arrowstyle": "->"})
ax.set_xlabel("number of conv layers")
ax.set_ylabel("receptive field (pixels)")
ax.set_yscale("log")
ax.legend(fontsize=8)
ax.set_title("growth of the receptive field")
axes[1].imshow(footprint(nn.Sequential(ones_conv(3, padding=1), ones_conv(3, padding=1)),
                         (1, 1, 9, 9)), cmap="Greys")
axes[1].set_title("2 stacked 3x3 convs: 5x5")
axes[2].imshow(seen, cmap="Greys")
axes[2].set_title("one 3x3 conv, dilation 2: 5x5, 9 taps")
for a in axes[1:]:  # a pixel grid, so that the 5x5 can be counted
    a.set_xticks(np.arange(-0.5, 9, 1), minor=True)
    a.set_yticks(np.arange(-0.5, 9, 1), minor=True)
    a.grid(which="minor", color="tab:gray", lw=0.6)
    a.tick_params(which="both", length=0)
    a.set_xticks(range(9))
    a.set_yticks(range(9))
    a.tick_params(labelsize=7)
fig.suptitle("Decks 001 / 002: receptive fields (computed with autograd and minisegnet.summary)")
fig.tight_layout()
save_figure(fig, "05_receptive_fields")

try_it_yourself("05")

print("\nLesson 05 complete: 3x3 d=2 covers 5x5; fields 3, 5, 99 (49 layers) and 284 reproduced.")
