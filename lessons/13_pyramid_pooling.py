# %% [markdown]
# # Lesson 13 - pyramid pooling (PSPNet)
#
# Deck 004: PSPNet pools the last feature map at 1x1 (global average), 2x2, 3x3 and 6x6, convolves
# each pooled map, upsamples it, concatenates everything with the feature map and convolves.
#
# This lesson takes the module apart:
#
# 1. adaptive average pooling: a fixed number of bins whatever the map size (exact numbers);
# 2. bins that do not divide the map: PyTorch's overlapping windows;
# 3. bilinear upsampling back to the map (exact numbers);
# 4. the whole `PSPNet` in `summary`: channel counts, parameters, output stride 8;
# 5. what one pixel depends on, measured with autograd: the backbone's window alone, then each
#    bin -- the 1x1 bin lets every pixel see the whole image.
#
# Run: `python lessons/13_pyramid_pooling.py` (add `--show` to open the figure).
# As a notebook: `python lessons/make_notebooks.py 13`, then open `lessons/notebooks/13_*.ipynb`.

# %%
import minisegnet as ms
import minisegnet.functional as F
from minisegnet.models.pspnet import PSPNet

from _common import *  # noqa: F403  (numpy as np, check, show, section, save_figure, ...)
from exercises import try_it_yourself

# %% [markdown]
# ## 1. Adaptive average pooling: choose the number of bins, not the window
#
# `F.adaptive_avg_pool2d(x, b)` splits the map into b x b bins and averages each. On a 6x6 map
# holding 0..35 row by row: 1 bin is the global mean 17.5; 2 bins are 3x3 blocks; 3 bins are 2x2
# blocks; 6 bins are the map itself.

# %%
section("1. Bins 1, 2, 3, 6 of a 6x6 map holding 0..35")
x = ms.Tensor(np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6))
show("x", x[0, 0])
expected = {
    1: [[17.5]],
    2: [[7, 10], [25, 28]],  # e.g. mean of rows 0-2, cols 0-2: (0+1+2+6+7+8+12+13+14)/9 = 7
    3: [[3.5, 5.5, 7.5], [15.5, 17.5, 19.5], [27.5, 29.5, 31.5]],
    6: np.arange(36).reshape(6, 6),
}
for b, e in expected.items():
    check(f"{b}x{b} bins", F.adaptive_avg_pool2d(x, b)[0, 0], e, ref="block means")

# %% [markdown]
# ## 2. When the bins do not divide the map
#
# Bin i covers rows floor(i H / b) .. ceil((i + 1) H / b) - 1 (PyTorch's rule). For an 8x8 map
# and 3 bins: rows 0-2, 2-5, 5-7: the windows overlap by a row and have different sizes. (A 6x6
# bin on a 5x5 map -- our PSPNet on a 37x37 image -- works too: some rows then feed two bins.)

# %%
section("2. 3 bins on an 8-row map: overlapping windows")
windows = [(i * 8 // 3, -(-(i + 1) * 8 // 3) - 1) for i in range(3)]
print("bin windows (first row, last row):", windows)
check("windows", windows, [(0, 2), (2, 5), (5, 7)], ref="floor(i H / b) .. ceil((i+1) H / b) - 1",
      by="arithmetic")
col = ms.Tensor(np.arange(8, dtype=np.float32).reshape(1, 1, 8, 1))  # rows hold 0..7
check("3 bins of the rows 0..7 (means 1, 3.5, 6)", F.adaptive_avg_pool2d(col, (3, 1)).numpy().ravel(),
      [1.0, 3.5, 6.0], ref="by hand")

# %% [markdown]
# ## 3. Back up to the map: bilinear interpolation
#
# Each pooled map (after its 1x1 conv) is resized to the feature map's size with bilinear
# interpolation (`align_corners=False`: pixel centres aligned, src = (o + 0.5) in / out - 0.5,
# clamped at 0). From 2 values (a, b) = (0, 8) to 8: src = -0.375, -0.125, 0.125, 0.375, ..., so
# the row reads 0, 0, 1, 3, 5, 7, 8, 8. From 1 value (the global bin) every pixel gets the same
# value.

# %%
section("3. Bilinear upsampling of the pooled bins")
two = ms.Tensor(np.array([[[[0.0, 8.0]]]], np.float32))
check("(0, 8) -> 8 columns", F.interpolate(two, size=(1, 8), mode="bilinear").numpy().ravel(),
      [0, 0, 1, 3, 5, 7, 8, 8], ref="formula")
one = ms.Tensor(np.array([[[[17.5]]]], np.float32))
check("global bin -> 3x3", F.interpolate(one, size=3, mode="bilinear")[0, 0],
      np.full((3, 3), 17.5), ref="formula")

# %% [markdown]
# ## 4. The whole network
#
# `PSPNet(3, 4)` (base width 16): a backbone of standard 3x3 conv blocks, widths 16, 32, 64, 128,
# 128, output stride 8 (the last stage dilated); the pyramid on the 128-channel 8x8 map: 4
# branches of pool -> 1x1 conv to 128 / 4 = 32 channels -> BN -> ReLU -> upsample;
# concatenation: 128 + 4 x 32 = 256 channels; a 3x3 conv to 128 / 4 = 32 channels (the paper's
# 4096 -> 512), dropout, a 1x1 classifier and bilinear upsampling x8 to the image.

# %%
section("4. PSPNet in summary (64x64 input)")
ms.manual_seed(0)
model = PSPNet(3, 4)
s = ms.summary(model, (3, 64, 64))
for r in s.rows:
    if r.name.startswith("ppm") or r.name.startswith(("fuse", "classifier")):
        print(f"  {r.name:26s} {r.type:18s} {str(r.output_shape):18s} {r.params:>7,} params")
rows = {r.name: r for r in s.rows}
check("pooled bin sizes", [rows[f"ppm.branches.{i}.0"].output_shape[2] for i in range(4)],
      [1, 2, 3, 6])  # deck 004
check("backbone map (stride 8)", list(rows["backbone.stages.3.1.relu"].output_shape),
      [1, 128, 8, 8], ref="design")
check("branch 1x1 conv params (128 x 32)", rows["ppm.branches.0.1.conv"].params, 128 * 32,
      ref="formula")
check("fuse 3x3 conv: input channels, params", [model.fuse.conv.in_channels,
                                                  rows["fuse.conv"].params], [256, 256 * 32 * 9],
      ref="formula")
check("output", list(s.output_shape), [1, 4, 64, 64], ref="input size")
print(f"total: {s.total_params:,} parameters, {s.total_mult_adds:,} multiply-adds per image")
ppm_cost = sum(r.mult_adds for r in s.rows if r.name.startswith("ppm"))
print(f"the pyramid itself costs {ppm_cost:,} multiply-adds "
      f"({100 * ppm_cost / s.total_mult_adds:.2f}% of the network): global context is cheap")
assert ppm_cost < 0.01 * s.total_mult_adds

# %% [markdown]
# ## 5. What one pixel of the pyramid's output sees
#
# To make the effect visible, take a small backbone whose receptive field is much smaller than
# the image: depth 2, output stride 4, one conv per stage: 3x3 stem (3), stride-2 stage (+2 = 5),
# stride-2 stage (+4 = 9 pixels). A 64x64 image gives a 16x16 map; feature row p reads input rows
# 4p - 4 .. 4p + 4.
#
# Autograd measures which input pixels one pixel of the pyramid module's output depends on,
# |d out / d input| (eval mode, random weights), for feature pixel (3, 3), near the top-left:
#
# * the feature map itself (the first channels of the concatenation): the 9x9 window, rows 8-16;
# * the 6x6 bins: bins 0 and 1 (feature rows 0-2 and 2-5) mixed by the bilinear upsampling,
#   src = (3 + 0.5) 6 / 16 - 0.5 = 0.81: feature rows 0-5, input rows 0-24;
# * the 3x3 bins: src = 0.16, bins 0 and 1 (feature rows 0-5 and 5-10): input rows 0-44;
# * the 2x2 bins: src = -0.06, clamped to bin 0 alone (feature rows 0-7): input rows 0-32;
# * the 1x1 bin: the **whole image**.

# %%
section("5. Dependency of pyramid output pixel (3, 3): the feature map vs each bin")
ms.manual_seed(0)
tiny = PSPNet(3, 2, base_width=8, depth=2, output_stride=4, blocks_per_stage=1).eval()
check("backbone receptive field", int(ms.summary(tiny.backbone, (3, 64, 64)).rows[-1]
                                      .receptive_field[0]), 9, ref="3 + 2 + 4")
x = ms.Tensor(np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32),
              requires_grad=True)
c, bc = tiny.backbone.out_channels[-1], tiny.ppm.branch_channels
parts = {"feature map": slice(0, c)}
for i, b in enumerate(tiny.ppm.bins):
    parts[f"bin {b}"] = slice(c + i * bc, c + (i + 1) * bc)
maps, extent = {}, []
for name, channels in parts.items():
    x.grad = None
    out = tiny.ppm(tiny.backbone(x)[-1])
    out[0, channels, 3, 3].sum().backward()
    g = np.abs(x.grad.numpy()[0]).sum(0)
    maps[name] = g
    rows_nz = np.nonzero(g.sum(1))[0]
    extent.append((int(rows_nz.min()), int(rows_nz.max())))
    print(f"  {name:12s}: input rows {rows_nz.min():2d}..{rows_nz.max():2d}, "
          f"{100 * (g > 0).mean():5.1f}% of the image")
check("input rows seen (feature map, bins 1 2 3 6)", extent,
      [(8, 16), (0, 63), (0, 32), (0, 44), (0, 24)], ref="rule above")

fig, axes = plt.subplots(1, 5, figsize=(15, 3.4))
for ax, (name, g) in zip(axes, maps.items()):
    ax.imshow(g > 0, cmap="Blues", vmin=0, vmax=1.3)
    ax.plot(12, 12, "r+", ms=10)  # input centre of feature pixel (3, 3): 4 x 3
    ax.set_title(f"{name}: {100 * (g > 0).mean():.0f}% of the image")
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("Input pixels that pyramid-output pixel (3, 3) depends on (PSPNet, small backbone "
             "at output stride 4)")
fig.tight_layout()
save_figure(fig, "13_pyramid_context")

try_it_yourself("13")

print("\nLesson 13 complete: bins, windows, upsampling and PSPNet's shapes agree with the rules.")
