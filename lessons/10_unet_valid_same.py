# %% [markdown]
# # Lesson 10 - U-Net: valid vs same convolutions, crop and concatenate, 572 -> 388
#
# Decks 002 (U-Net: contracting path, symmetric expanding path, concatenation, any input size)
# and 004 (4 down blocks of 2 x [3x3 conv + BN + act] + 2x2 max-pool; a bottleneck of 2 convs
# with dropout; 4 up blocks of a stride-2 transposed conv, concatenation with the cropped encoder
# map, and 2 x [3x3 conv + BN + act]).
#
# In the original U-Net the 3x3 convolutions are **valid** (unpadded): each removes 2 pixels. So
# the encoder maps are larger than the decoder maps they are concatenated with and must be
# **cropped**, and the output (388 x 388) is smaller than the input (572 x 572). The modern
# **same** variant pads every convolution by 1 and keeps the input size.
#
# Run: `python lessons/10_unet_valid_same.py` (add `--show` to open the figure).
# As a notebook: `python lessons/make_notebooks.py 10`, then open `lessons/notebooks/10_*.ipynb`.

# %%
import minisegnet as ms
import minisegnet.functional as F
from minisegnet import models, nn

from _common import *  # noqa: F403
from exercises import try_it_yourself

ms.manual_seed(0)

# %% [markdown]
# ## 1. The shape walk by hand: 572 -> 388
#
# Contracting path: conv -2, conv -2, pool /2, four times; bottleneck: conv -2, conv -2.
# Expanding path: transposed conv x2, crop the encoder map to that size, concatenate,
# conv -2, conv -2, four times.

# %%
section("1. 572 -> 388 by arithmetic")
n = 572
skips = []
print("contracting path:")
for level in range(4):
    a, b = n - 2, n - 4
    skips.append(b)
    n = b // 2
    print(f"  level {level}: {a + 2} -conv-> {a} -conv-> {b} -pool-> {n}")
n_bottom = n - 4
print(f"bottleneck: {n} -conv-> {n - 2} -conv-> {n_bottom}")
n = n_bottom
crops = []
print("expanding path:")
for level in reversed(range(4)):
    up = 2 * n
    crops.append((skips[level], up))
    n = up - 4
    print(f"  up-conv x2 -> {up}; encoder map {skips[level]} cropped to {up} "
          f"({(skips[level] - up) // 2} pixels off each side); conv, conv -> {n}")
check("output size", n, 388, by="arithmetic")
check("encoder map sizes (before pooling)", skips, [568, 280, 136, 64], ref="the paper",
      by="arithmetic")
check("crops (encoder size -> decoder size)", crops, [(64, 56), (136, 104), (280, 200), (568, 392)],
      ref="the paper", by="arithmetic")
print(f"the bottleneck map is {n_bottom} x {n_bottom}: it can only be joined to the 64 x 64 encoder map "
      f"after the x2 up-conv ({2 * n_bottom}) and the crop (64 -> {2 * n_bottom})")
assert crops[0][1] == 2 * n_bottom
print("slide note: deck 004 says U-Net 'concatenates then upsamples'; each up block upsamples\n"
      "  first (x2 transposed conv), then crops the encoder map to that size and concatenates,\n"
      "  then convolves: before the up-conv the sizes differ (28 vs 64) and nothing can be joined.")
n_convs = 2 * 4 + 2 + 2 * 4
print(f"{len(crops)} crops in the whole network, one per skip connection, for {n_convs} 3x3 convolutions")
assert len(crops) == 4
print("slide note: deck 004 says the maps are cropped 'every three layers'; the valid U-Net crops\n"
      "  once per skip connection (4 crops for 18 3x3 convs): each encoder map is cropped once,\n"
      "  just before it is concatenated, by however much the convs since it have removed.")

# %% [markdown]
# ## 2. The same walk by minisegnet's U-Net
#
# `UNet.output_size` does the arithmetic without running the network. Then we run the paper's
# network for real on a 572 x 572 image, with the width cut from 64 to 2 channels so that it
# is quick (the shapes do not depend on the width), and read every layer's output shape from
# `minisegnet.summary`.

# %%
section("2. UNet(padding='valid') on a 572 x 572 input")
valid = models.UNet(in_channels=1, num_classes=2, base_width=2, depth=4, padding="valid",
                    batch_norm=False)
check("UNet.output_size(572, 572)", valid.output_size(572, 572), (388, 388))
s = ms.summary(valid, (1, 1, 572, 572))
for r in s.rows:
    if r.type in ("MaxPool2d", "ConvTranspose2d") or r.name.endswith("conv2.conv") or r.name == "head":
        print(f"  {r.name:22s} {r.type:16s} -> {tuple(r.output_shape)}")
check("network output", s.output_shape, (1, 2, 388, 388))

# %% [markdown]
# ### How much of the image does one output pixel see?
#
# `summary` estimates the receptive field with the layer-by-layer recurrence of lesson 05. We also
# measure it exactly: autograd's gradient of one output pixel marks every input pixel it depends
# on. (Average pools replace the max pools for this measurement -- same geometry, but the
# gradient of a max pool only reaches each window's maximum -- and all weights are set to 1 so
# that nothing cancels.) Every one of these input pixels is a real image pixel: with valid
# convolutions no zero padding ever enters the computation, which is why the original U-Net
# segments large images tile by tile (overlap-tile) without seams.

# %%
probe = models.UNet(in_channels=1, num_classes=1, base_width=1, depth=4, padding="valid",
                    batch_norm=False)
probe.pools = nn.ModuleList([nn.AvgPool2d(2) for _ in range(4)])
for p in probe.parameters():
    p.data[...] = 1.0
x572 = ms.Tensor(np.zeros((1, 1, 572, 572)), requires_grad=True)
probe(x572)[0, 0, 194, 194].backward()
rows, cols = np.nonzero(x572.grad.numpy()[0, 0])
exact = (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))
estimate = (int(s.receptive_field[0]), int(s.receptive_field[1]))
print(f"output pixel (194, 194) depends on input rows {rows.min()}..{rows.max()}, "
      f"columns {cols.min()}..{cols.max()}: a {exact[0]} x {exact[1]} field (autograd)")
print(f"summary's recurrence estimate: {estimate[0]} x {estimate[1]}")
if estimate != exact:
    print("  the recurrence is only an estimate once upsampling layers are involved: it lets a 3x3\n"
          "  conv after a x2 upsampling add (k - 1) * jump input pixels, but neighbouring upsampled\n"
          "  pixels often repeat the same coarse pixel, so the true field grows in whole coarse\n"
          "  steps (here 140 at the bottleneck + 3 steps of 16 = 188).")
check("exact receptive field of the valid U-Net", exact, (188, 188), ref="autograd, computed once")

# %% [markdown]
# ## 3. Crop and concatenate, on small tensors
#
# At the last level the encoder map is 568 x 568 and the upsampled decoder map 392 x 392:
# `center_crop` keeps the central 392 x 392 (88 pixels off each side) and `cat` stacks the
# channels. Here the same on a 6x6 encoder map and a 2x2 decoder map.

# %%
section("3. center_crop + cat")
enc = ms.Tensor(np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6))
dec = ms.Tensor(np.full((1, 2, 2, 2), -1.0, dtype=np.float32))
cropped = F.center_crop(enc, dec.shape[2:])
show("encoder map (6x6)", enc[0, 0])
check("center_crop to 2x2", cropped[0, 0], [[14, 15], [20, 21]], ref="centre of the map")
joined = F.cat([cropped, dec], axis=1)
print(f"cat([encoder (1, 1, 2, 2), decoder (1, 2, 2, 2)], axis=1) -> {tuple(joined.shape)}")
assert joined.shape == (1, 3, 2, 2)

# %% [markdown]
# ## 4. Valid input sizes, and the "same" variant
#
# With valid convolutions not every size works: each map before a pool must be even. minisegnet
# says which sizes are nearest. With "same" convolutions (padding 1) the output has the input's
# size whenever it is divisible by 2^depth = 16; no crop is needed.

# %%
section("4. Which sizes work; valid vs same")
try:
    valid.output_size(570, 570)
except ValueError as err:
    print(f"ValueError: {err}")
else:
    raise AssertionError("570 should not be a valid U-Net input size")
for size in (188, 380, 572):
    print(f"valid: {size} -> {valid.output_size(size, size)[0]}")
works = []
for size in range(556, 590):
    try:
        valid.output_size(size, size)
        works.append(size)
    except ValueError:
        pass
print(f"input sizes 556..589 the valid U-Net accepts: {works} (every 16th)")
check("sizes that work", works, [556, 572, 588], ref="16k + 12")
print("slide note: deck 002 says U-Net takes any input size (it has no dense layer); with valid\n"
      "  convolutions that is false: only sizes 16k + 12 (one in 16) keep every map even before\n"
      "  each pool. The 'same' variant takes any multiple of 16.")
same = models.UNet(in_channels=1, num_classes=2, base_width=2, depth=4, padding="same", batch_norm=False)
with ms.no_grad():
    out_same = same(ms.Tensor(np.zeros((1, 1, 64, 64), dtype=np.float32)))
check("same: 64x64 -> ", out_same.shape[2:], (64, 64), ref="input size")
check("same: output_size(96, 128)", same.output_size(96, 128), (96, 128), ref="input size")

# %% [markdown]
# ## 5. Figure: the U, with the sizes of the valid network

# %%
section("5. Figure: the U-Net shape diagram")
fig, ax = plt.subplots(figsize=(11, 5))
levels_down = [(572, 568, 1), (284, 280, 2), (140, 136, 4), (68, 64, 8)]
for lvl, (a, b, mult) in enumerate(levels_down):
    y = -lvl
    ax.add_patch(plt.Rectangle((lvl, y), 0.6, 0.6, color="tab:blue", alpha=0.6))
    ax.text(lvl + 0.3, y + 0.3, f"{a}->{b}\n{64 * mult} ch", ha="center", va="center", fontsize=8)
    ax.add_patch(plt.Rectangle((8 - lvl, y), 0.6, 0.6, color="tab:orange", alpha=0.6))
    up, out = crops[3 - lvl][1], crops[3 - lvl][1] - 4
    ax.text(8 - lvl + 0.3, y + 0.3, f"{up}->{out}\n{64 * mult} ch", ha="center", va="center", fontsize=8)
    ax.annotate("", xy=(8 - lvl, y + 0.3), xytext=(lvl + 0.6, y + 0.3),
                arrowprops={"arrowstyle": "->", "ls": "--", "color": "gray"})
    ax.text((lvl + 0.6 + 8 - lvl) / 2, y + 0.63, f"crop {b} -> {crops[3 - lvl][1]}, concatenate",
            ha="center", va="bottom", fontsize=7.5, color="gray")
    # pool (down, encoder side) and up-conv (up, decoder side) to the next level / the bottleneck
    nxt = (4, -4) if lvl == 3 else (lvl + 1, y - 1)
    ax.annotate("", xy=(nxt[0] + 0.3, nxt[1] + 0.6), xytext=(lvl + 0.3, y),
                arrowprops={"arrowstyle": "->", "color": "tab:blue"})
    ax.text((lvl + nxt[0]) / 2 + 0.1, y - 0.25, "pool /2", ha="right", fontsize=7.5, color="tab:blue")
    src = (4, -4) if lvl == 3 else (8 - lvl - 1, y - 1)
    ax.annotate("", xy=(8 - lvl + 0.3, y), xytext=(src[0] + 0.3, src[1] + 0.6),
                arrowprops={"arrowstyle": "->", "color": "tab:orange"})
    ax.text((8 - lvl + src[0]) / 2 + 0.5, y - 0.25, "up-conv x2", ha="left", fontsize=7.5,
            color="tab:orange")
ax.add_patch(plt.Rectangle((4, -4), 0.6, 0.6, color="tab:green", alpha=0.6))
ax.text(4.3, -3.7, f"32->{n_bottom}\n1024 ch", ha="center", va="center", fontsize=8)
ax.text(8.9, 0.3, "-> 388 x 388", fontsize=10)
ax.set_xlim(-0.3, 10)
ax.set_ylim(-4.3, 1)
ax.axis("off")
ax.set_title("Decks 002 / 004: U-Net with valid 3x3 convolutions, 572 x 572 -> 388 x 388")
save_figure(fig, "10_unet_shapes")

try_it_yourself("10")

print("\nLesson 10 complete: the valid U-Net maps 572 x 572 to 388 x 388.")
