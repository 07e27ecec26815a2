# %% [markdown]
# # Lesson 04 - max pooling with indices, and max-unpooling
#
# Deck 002 ("Semantic Segmentation"), with deck 001's remarks on pooling.
#
# Max pooling keeps the largest value of each window. For segmentation we also **remember where
# it was**: the decoder of SegNet / DeconvNet puts values back at exactly those positions
# (**max-unpooling**), which restores sharp boundaries that a plain upsampling would blur.
#
# Run: `python lessons/04_maxpool_unpool.py` (add `--show` to open the figure).
# As a notebook: `python lessons/make_notebooks.py 04`, then open `lessons/notebooks/04_*.ipynb`.

# %%
import minisegnet as ms
import minisegnet.functional as F

from _common import *  # noqa: F403
from exercises import try_it_yourself

# %% [markdown]
# ## 1. Max pooling 2x2, stride 2, and the positions of the maxima
#
# The slide's input and result: [[1,2,6,3],[3,5,2,1],[1,2,2,1],[7,3,4,8]] -> [[5, 6], [7, 8]].
# `max_pool2d(..., return_indices=True)` also returns, for every output, the flat position
# `row * W + col` of its maximum in the input plane (the convention of PyTorch).

# %%
section("1. Max pool 2x2 / stride 2 with indices")
x = np.array([[1, 2, 6, 3],
              [3, 5, 2, 1],
              [1, 2, 2, 1],
              [7, 3, 4, 8]], dtype=np.float32)
show("input (4x4)", x)
for i in range(2):
    for j in range(2):
        win = x[2 * i:2 * i + 2, 2 * j:2 * j + 2]
        print(f"window ({i},{j}) = {win.ravel().astype(int).tolist()} -> max {int(win.max())}")
pooled, idx = F.max_pool2d(ms.Tensor(x[None, None]), kernel_size=2, stride=2, return_indices=True)
check("max_pool2d", pooled[0, 0], [[5, 6], [7, 8]])
flat = idx.numpy()[0, 0]
rows, cols = np.divmod(flat, 4)
show("indices (flat row * 4 + col)", flat)
for v, r, c in zip(pooled.numpy()[0, 0].ravel(), rows.ravel(), cols.ravel()):
    print(f"  max {int(v)} was at (row {r}, col {c})")
check("positions (row, col) of 5, 6, 7, 8", np.stack([rows.ravel(), cols.ravel()], 1),
      [[1, 1], [0, 2], [3, 0], [3, 3]])

# %% [markdown]
# ## 2. Max-unpooling with the remembered positions
#
# The decoder later holds a 2x2 map, here [[1, 2], [3, 4]]. Max-unpooling writes each value at
# the position remembered for the same window, and zeros everywhere else: the slide's
# [[0,0,2,0],[0,1,0,0],[0,0,0,0],[3,0,0,4]]. The result is **sparse**: 4 values in 16 pixels,
# which the following (transposed) convolutions fill in.

# %%
section("2. Max-unpooling [[1, 2], [3, 4]] with those positions")
small = ms.Tensor(np.array([[1, 2], [3, 4]], dtype=np.float32)[None, None])
unpooled = F.max_unpool2d(small, idx, kernel_size=2, stride=2)
check("max_unpool2d", unpooled[0, 0], [[0, 0, 2, 0], [0, 1, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]])
print(f"non-zero entries: {int((unpooled.numpy() != 0).sum())} of {unpooled.numpy().size}")

# unpooling the pooled values themselves puts every maximum back where it was
restored = F.max_unpool2d(pooled, idx, kernel_size=2, stride=2)[0, 0].numpy()
check("unpool(pool(x)) keeps x at the maxima, 0 elsewhere", restored, np.where(restored > 0, x, 0),
      ref="x masked")

# %% [markdown]
# ## 3. The same positions carry the gradient
#
# During training, the gradient of max pooling flows only to the maxima: backward of max_pool2d
# *is* max-unpooling of the output gradient. We check it with autograd.

# %%
section("3. Backward of max pooling = unpooling of the gradient")
xt = ms.Tensor(x[None, None], requires_grad=True)
out = F.max_pool2d(xt, 2)
g = np.array([[1, 2], [3, 4]], dtype=np.float32)[None, None]
out.backward(ms.Tensor(g))
check("d(sum(g * maxpool(x)))/dx", xt.grad[0, 0], unpooled[0, 0], ref="unpool(g)")

# %% [markdown]
# ## 4. Unpooling vs other ways to upsample
#
# Nearest-neighbour upsampling copies each value into its whole 2x2 block; "bed of nails"
# puts it in the top-left corner; max-unpooling puts it where the maximum was, so that the
# position information lost by pooling comes back.

# %%
section("4. Three ways to undo a 2x2 pool")
nearest = F.interpolate(small, scale_factor=2, mode="nearest")[0, 0]
nails = F.conv_transpose2d(small, ms.Tensor(np.array([[[[1, 0], [0, 0]]]], dtype=np.float32)), stride=2)[0, 0]
check("nearest neighbour", nearest, [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]], ref="expected")
check("bed of nails (transposed conv, kernel [[1,0],[0,0]])", nails,
      [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]], ref="expected")
show("max-unpooling", unpooled[0, 0])

# %% [markdown]
# ## 5. Average pooling and strided convolution (deck 001)
#
# Pooling may also take the mean. Deck 001 notes that modern networks often replace pooling by a
# **strided convolution**, which learns how to downsample: average pooling is the special case of
# a stride-2 convolution whose kernel is all 1/4.

# %%
section("5. Average pooling = stride-2 convolution with a 1/4 kernel")
avg = F.avg_pool2d(ms.Tensor(x[None, None]), 2)[0, 0]
quarter = ms.Tensor(np.full((1, 1, 2, 2), 0.25, dtype=np.float32))  # a 2x2 kernel of 1/4
conv = F.conv2d(ms.Tensor(x[None, None]), quarter, stride=2)[0, 0]
check("avg_pool2d", avg, [[2.75, 3.0], [3.25, 3.75]], ref="by hand")
check("conv2d(kernel 1/4, stride 2)", conv, avg, ref="avg_pool2d")

# %% [markdown]
# ## 6. Figure

# %%
section("6. Figure: pool, remember, unpool")


def draw(ax, a, title, mark=None):
    ax.imshow(a, cmap="Blues", vmin=0, vmax=9)
    for (r, c), v in np.ndenumerate(a):
        ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=11,
                fontweight="bold" if mark is not None and mark[r, c] else "normal")
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


is_max = np.zeros((4, 4), bool)
is_max[rows.ravel(), cols.ravel()] = True
fig, axes = plt.subplots(1, 4, figsize=(12, 3.3))
draw(axes[0], x, "input (maxima in bold)", is_max)
for k in (1.5,):
    axes[0].axhline(k, color="k", lw=1.5)
    axes[0].axvline(k, color="k", lw=1.5)
draw(axes[1], pooled.numpy()[0, 0], "max pool 2x2 / 2\n(positions remembered)")
draw(axes[2], small.numpy()[0, 0], "decoder map")
draw(axes[3], unpooled.numpy()[0, 0], "max-unpool with the positions", is_max)
fig.suptitle("Deck 002: max pooling and max-unpooling")
save_figure(fig, "04_maxpool_unpool")

try_it_yourself("04")

print("\nLesson 04 complete: pooling indices and unpooling match deck 002.")
