# %% [markdown]
# # Lesson 18 - Swin: attention inside windows, shifted windows, patch merging
#
# Deck 004: the Swin Transformer computes self-attention inside non-overlapping windows (cost
# linear in the image size), shifts the windows by half a window between blocks so information
# crosses window borders, and builds a hierarchy by merging 2 x 2 patches.
#
# 1. window partition of an 8 x 8 map into 4 x 4 windows, drawn, and its inverse;
# 2. the cyclic shift (`roll` by -2) and the mask that keeps wrapped-around pieces apart, drawn;
# 3. the number of attention scores, global vs windowed: quadratic vs linear in HW;
# 4. patch merging shapes, and the shapes through `Swin` (encoder and Swin-UNet decoder).
#
# Run: `python lessons/18_swin.py` (add `--show` to open the figure).
# As a notebook: `python lessons/make_notebooks.py 18`, then open `lessons/notebooks/18_*.ipynb`.

# %%
import minisegnet as ms
import minisegnet.functional as F
from minisegnet.models import Swin
from minisegnet.models.swin import PatchMerging

from _common import *  # noqa: F403  (numpy as np, check, show, section, save_figure, ...)
from exercises import try_it_yourself

# %% [markdown]
# ## 1. Window partition
#
# An 8 x 8 map of tokens (numbered 0..63 row by row) cut into 4 x 4 windows: 4 windows of 16
# tokens. `F.window_partition` returns (B * windows, 16, C), windows row by row; attention runs
# inside each window only. `F.window_reverse` puts them back.

# %%
section("1. An 8 x 8 map in 4 x 4 windows")
H = W = 8
ws, shift = 4, 2
ids = np.arange(H * W, dtype=np.float64).reshape(1, H, W, 1)
windows = F.window_partition(ms.Tensor(ids), ws)
show("windows shape (B * nW, ws^2, C)", np.array(windows.shape))
check("window 1 (top right) holds tokens", windows[1, :, 0],
      [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31], ref="row-major")
check("window_reverse undoes it", F.window_reverse(windows, ws, H, W), ids, atol=0,
      ref="the map")

# %% [markdown]
# ## 2. The cyclic shift and its mask
#
# Shifted windows are the regular windows moved by (2, 2). Instead of padding the map into 9
# windows of odd sizes, Swin rolls the map by -2 in both directions (`ms.roll`) and keeps the same
# 4 windows. The bottom/right windows then contain pieces from opposite borders of the image
# (rows 0-1 next to rows 6-7): a mask forbids attention between tokens from different regions.

# %%
section("2. roll by -2 and the shifted-window mask")
rolled = ms.roll(ms.Tensor(ids), (-shift, -shift), (1, 2))
show("rolled map (token numbers)", rolled[0, :, :, 0])
check("rolled[0, 0] is token (2, 2) = 18", rolled[0, 0, 0, 0], 18, ref="roll")
mask = F.shifted_window_mask(H, W, ws, shift)  # (windows, 16, 16), True = may attend
show("mask shape (nW, ws^2, ws^2)", np.array(mask.shape))
allowed_per_window = mask.sum(axis=(1, 2))
check("allowed pairs per window", allowed_per_window, [256, 128, 128, 64],
      ref="regions")
# window 0 is one region (16 x 16 pairs); windows 1 and 2 two regions of 8 tokens (2 * 64); window
# 3 four regions of 4 tokens (4 * 16 = 64)
region = np.zeros((H, W), int)
for r, rows in enumerate((slice(0, -ws), slice(-ws, -shift), slice(-shift, None))):
    for c, cols in enumerate((slice(0, -ws), slice(-ws, -shift), slice(-shift, None))):
        region[rows, cols] = 3 * r + c
fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
axes[0].imshow((ids[0, :, :, 0] // 4 % 2 + ids[0, :, :, 0] // 32 * 2) % 4, cmap="Pastel1")
axes[0].set_title("regular 4 x 4 windows")
axes[1].imshow(region, cmap="tab10")
for i in range(H):
    for j in range(W):
        axes[0].text(j, i, int(ids[0, i, j, 0]), ha="center", va="center", fontsize=7)
        axes[1].text(j, i, int(rolled.numpy()[0, i, j, 0]), ha="center", va="center", fontsize=7)
axes[1].set_title("after roll(-2, -2): regions")
for ax in axes[:2]:
    for c in (3.5,):
        ax.axhline(c, color="k")
        ax.axvline(c, color="k")
    ax.set_xticks([])
    ax.set_yticks([])
axes[2].imshow(mask[1], cmap="gray")
axes[2].set_title("mask of window 1 (white = may attend)")
axes[3].imshow(mask[3], cmap="gray")
axes[3].set_title("mask of window 3 (4 regions)")
save_figure(fig, "18_swin_windows")
print(f"window 3 sees {int(mask[3].sum())} of {16 * 16} pairs")
check("window 3 allowed pairs", int(mask[3].sum()), 64, ref="4 regions x 4^2")

# %% [markdown]
# ## 3. Attention scores: global vs windowed
#
# Global attention on an h x w token map: (hw)^2 scores. Windows of ws x ws: hw / ws^2 windows of
# ws^4 scores = hw ws^2, linear in hw. Doubling the side multiplies the first by 16 and the second
# by 4.

# %%
section("3. Attention scores per head, global vs 4 x 4 windows")
rows = []
for side in (8, 16, 32, 64, 128):
    hw = side * side
    rows.append((side, hw * hw, hw * ws * ws))
    print(f"{side:4d} x {side:<4d} tokens: global {hw * hw:>13,}   windowed {hw * ws * ws:>9,}"
          f"   ratio {hw // (ws * ws):5d}")
check("windowed = hw * ws^2 (linear)", [r[2] for r in rows], [1024, 4096, 16384, 65536, 262144],
      ref="formula")
check("global = (hw)^2", rows[2][1], 32 ** 4, ref="formula")
q = ms.Tensor(np.zeros((1, 4, 16, 8), np.float32))  # one image, 4 windows of 16 tokens
check("windowed attention maps of the 8 x 8 map", F.attention_weights(q, q).shape, [1, 4, 16, 16],
      ref="nW x ws^2 x ws^2")

# %% [markdown]
# ## 4. Patch merging and the shapes through Swin
#
# Patch merging concatenates each 2 x 2 group of tokens (4C), normalises and maps it to 2C:
# half the resolution, twice the width -- the transformer's pooling. The default `Swin`
# (patch 2, window 4, C = 32, 2 stages) on a 32 x 32 image, with the Swin-UNet decoder
# (`decoder="unet"`), which mirrors the encoder with patch *expanding* (a linear layer, then each
# token's values rearranged into a 2 x 2 block). The default decoder is an FPN head of convs.

# %%
section("4. Patch merging and Swin's shapes")
ms.manual_seed(0)
merge = PatchMerging(32)
t = ms.Tensor(np.random.default_rng(0).standard_normal((1, 16, 16, 32)).astype(np.float32))
check("PatchMerging (1, 16, 16, 32) ->", merge(t).shape, [1, 8, 8, 64], ref="(H/2, W/2, 2C)")
swin = Swin(3, 4, decoder="unet")
shapes = []
hooks = [m.register_forward_hook(lambda mod, inp, out, n=name: shapes.append((n, out.shape)))
         for name, m in swin.named_modules()
         if type(m).__name__ in ("PatchEmbed", "PatchMerging", "PatchExpanding") or
         name == "head"]
x = ms.Tensor(np.random.default_rng(1).standard_normal((1, 3, 32, 32)).astype(np.float32))
y = swin(x)
for remove in hooks:
    remove()
for name, shape in shapes:
    print(f"{name:22s} {tuple(shape)}")
check("Swin output", y.shape, [1, 4, 32, 32], ref="input size")
print(f"Swin parameters: {swin.num_parameters():,}")

try_it_yourself("18")

print("\nLesson 18 complete: windows, the cyclic shift and its mask, linear cost and patch merging.")
