# %% [markdown]
# # Lesson 12 - atrous (dilated) convolution and ASPP (DeepLab v3 / v3+)
#
# Deck 002: "a 3x3 kernel with dilation 2 covers a 5x5 field with 9 weights". Deck 004: DeepLab
# v1 (atrous convolution), v2 (ASPP: parallel atrous rates), v3 (image pooling + 1x1 conv in
# ASPP), v3+ (a decoder). Deck 001 names DeepLabv3+ "encoder-decoder with atrous separable
# convolution".
#
# This lesson measures, with minisegnet's own ops and `summary`:
#
# 1. where a dilated kernel's 9 taps land (and that it *is* a 5x5 kernel with zeros inserted);
# 2. how fast stacked dilated convs grow the receptive field;
# 3. what a dilated backbone buys and costs against downsampling further (output stride 8 vs 32);
# 4. why large rates stop working on a small map (the taps fall off it) -- and image pooling;
# 5. what each ASPP branch of `DeepLabV3` sees, in input pixels, on a receptive-field picture.
#
# Run: `python lessons/12_atrous_aspp.py` (add `--show` to open the figures).
# As a notebook: `python lessons/make_notebooks.py 12`, then open `lessons/notebooks/12_*.ipynb`.

# %%
import minisegnet as ms
import minisegnet.functional as F
import minisegnet.nn as nn
from minisegnet.models.deeplab import DeepLabV3, scale_atrous_rates
from minisegnet.models.mobilenet import Encoder

from _common import *  # noqa: F403  (numpy as np, check, show, section, save_figure, ...)
from exercises import try_it_yourself

# %% [markdown]
# ## 1. A dilated kernel samples the input `d` pixels apart
#
# y(p, q) = sum_{i,j} x(p + d i, q + d j) w(i, j). Convolving a single bright pixel (an impulse)
# with an all-ones 3x3 kernel draws the kernel's footprint: the 9 taps, d pixels apart, spanning
# k_eff = d (k - 1) + 1 pixels per side.

# %%
section("1. Footprint of a 3x3 kernel at dilation 1, 2, 3")
impulse = np.zeros((1, 1, 9, 9), np.float32)
impulse[0, 0, 4, 4] = 1
ones = ms.Tensor(np.ones((1, 1, 3, 3), np.float32))
for d in (1, 2, 3):
    y = F.conv2d(ms.Tensor(impulse), ones, padding=d, dilation=d).numpy()[0, 0]
    rows, cols = np.nonzero(y)
    span = rows.max() - rows.min() + 1
    show(f"dilation {d}: impulse response", y)
    check(f"  dilation {d}: taps, span (k_eff = d (k - 1) + 1)", [y.sum(), span],
          [9, d * 2 + 1], ref="formula")
print("deck 002: dilation 2 -> a 5x5 field with 9 weights")

# the same thing as a 5x5 kernel with zeros inserted between the weights ("a trous" = with holes)
rng = np.random.default_rng(0)
w3 = rng.standard_normal((1, 1, 3, 3)).astype(np.float32)
w5 = np.zeros((1, 1, 5, 5), np.float32)
w5[:, :, ::2, ::2] = w3
x = ms.Tensor(rng.standard_normal((1, 1, 12, 12)).astype(np.float32))
dilated = F.conv2d(x, ms.Tensor(w3), padding=2, dilation=2)
holes = F.conv2d(x, ms.Tensor(w5), padding=2)
show("the 3x3 weights spread into a 5x5 kernel with holes", w5[0, 0], decimals=2)
check("dilated 3x3 conv == 5x5 conv with holes (max difference)",
      np.abs(dilated.numpy() - holes.numpy()).max(), 0.0, atol=1e-5, ref="identity")
print("weights: 9 instead of 25; multiply-adds per output: 9 instead of 25")

# %% [markdown]
# ## 2. Receptive field growth: linear with plain convs, exponential with doubling rates
#
# Deck 001's rule, r <- r + (k_eff - 1) * jump, read off `summary`. L plain 3x3 convs see
# (2L + 1) pixels; rates 1, 2, 4, ..., 2^(L-1) see 2^(L+1) - 1 pixels, with the same 9 L
# weights and no loss of resolution.

# %%
section("2. Receptive field of stacked 3x3 convs: plain vs dilations 1, 2, 4, 8")
for layers in (2, 3, 4):
    plain = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(layers)])
    rates = [2 ** i for i in range(layers)]
    atrous = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=r, dilation=r) for r in rates])
    rf_plain = int(ms.summary(plain, (1, 40, 40)).receptive_field[0])
    rf_atrous = int(ms.summary(atrous, (1, 40, 40)).receptive_field[0])
    check(f"{layers} layers: plain RF, dilations {rates} RF", [rf_plain, rf_atrous],
          [2 * layers + 1, 2 ** (layers + 1) - 1], ref="formula")

# %% [markdown]
# ## 3. The dilated backbone: output stride 8 instead of 32
#
# A classification backbone halves the map 5 times (output stride 32): a 64x64 image ends as a
# 2x2 map, too coarse to draw object boundaries. DeepLab and PSPNet stop downsampling at output
# stride 8 (or 16) and *dilate* the later stages instead (dilation 2, then 4): the map stays
# 8x8 and the receptive field still grows, because a dilation-2 conv at jump j adds as much as a
# plain conv at jump 2 j would. The price: the dilated stages now run on a 4x (16x) larger map.
#
# `Encoder(depth=5, output_stride=s)` (minisegnet.models.mobilenet) is the toy backbone; widths
# 16, 32, 64, 128, 128, 128; two 3x3 conv blocks per stage, the first of each stage with stride 2
# (or dilated past the output stride).

# %%
section("3. Output stride 32 vs 16 vs 8 on a 64x64 image")
results = {}
for os_ in (32, 16, 8):
    enc = Encoder(3, base_width=16, depth=5, output_stride=os_, kind="vgg")
    s = ms.summary(enc, (3, 64, 64))
    last = s.rows[-1]
    stage_cost = [sum(r.mult_adds for r in s.rows if r.name.startswith(f"stages.{i}."))
                  for i in range(5)]
    results[os_] = (last.output_shape[2], int(last.receptive_field[0]), stage_cost)
    print(f"output stride {os_:2d}: strides {enc.strides}, dilations {enc.dilations}")
    print(f"   final map {last.output_shape[2]}x{last.output_shape[3]}, receptive field "
          f"{int(last.receptive_field[0])} px, {s.total_mult_adds:,} multiply-adds")
    print(f"   multiply-adds of stages 1-5: {', '.join(f'{c:,}' for c in stage_cost)}")
# the receptive field by hand: stem 3x3 + 3x3 (r = 5, jump 1); each stage: 2 convs, the first
# strided or dilated. Plain stage at jump j: r += 2 j (then j doubles), += 2 (2 j).
# Dilated stage (dilation d, jump J stays): r += 2 d J twice.
def rf_by_hand(output_stride: int) -> int:
    r, j, d = 5, 1, 1
    for _ in range(5):
        if j < output_stride:
            r, j = r + 2 * j, 2 * j
            r += 2 * j
        else:
            d *= 2
            r += 2 * 2 * d * j
    return r


for os_ in (32, 16, 8):
    check(f"OS {os_}: map size, receptive field", results[os_][:2],
          [64 // os_, rf_by_hand(os_)], ref="rule")
# the price: stages 4 and 5 run on an 8x8 map instead of 4x4 and 2x2
ratio = [results[8][2][i] / results[32][2][i] for i in (3, 4)]
check("OS 8 vs 32: cost of stages 4 and 5 (x)", ratio, [(8 / 4) ** 2, (8 / 2) ** 2],
      ref="map area ratio")

# %% [markdown]
# ## 4. Large rates on a small map: the taps fall off the edge
#
# With zero padding, a tap that lands outside the map multiplies a zero. Convolving an all-ones
# 8x8 map with an all-ones 3x3 kernel at rate r counts, at every pixel, the taps that land
# *inside*. Per axis a pixel i has the centre tap plus i - r >= 0 and i + r <= 7, on average
# 1 + 2 (8 - r) / 8; the two axes are independent, so the mean over the map is
# (1 + (8 - r) / 4)^2 for r < 8, and exactly 1 for r >= 8: the 3x3 atrous conv has degenerated
# into a 1x1 conv. That is why DeepLab v3 adds the image-pooling branch (global context) instead
# of ever larger rates (the paper's figure shows the same with a 65x65 map).

# %%
section("4. Valid taps of a 3x3 kernel on an 8x8 map, by rate")
ones_map = ms.Tensor(np.ones((1, 1, 8, 8), np.float32))
rates = [1, 2, 3, 4, 6, 8, 12]
valid = []
for r in rates:
    counts = F.conv2d(ones_map, ones, padding=r, dilation=r).numpy()[0, 0]
    valid.append(counts.mean())
    if r in (2, 8):
        show(f"rate {r}: valid taps at each pixel", counts)
expected = [(1 + (8 - r) / 4) ** 2 if r < 8 else 1.0 for r in rates]
check("mean valid taps for rates 1 2 3 4 6 8 12", valid, expected, ref="formula")

fig, ax = plt.subplots(figsize=(5.5, 3.2))
ax.bar([str(r) for r in rates], valid, color="tab:blue")
ax.axhline(1, color="tab:red", lw=1, ls="--", label="1 tap = a 1x1 conv")
ax.set_xlabel("atrous rate r")
ax.set_ylabel("mean valid taps (of 9)")
ax.set_title("3x3 atrous kernel on an 8x8 feature map")
ax.legend()
fig.tight_layout()
save_figure(fig, "12_valid_taps")

# %% [markdown]
# ## 5. ASPP: what each branch sees
#
# DeepLabV3's ASPP runs five branches in parallel on the backbone's map and concatenates them:
# a 1x1 conv, three 3x3 atrous convs, and image pooling (global average pool -> 1x1 conv -> BN ->
# ReLU -> upsampled to every pixel).
#
# **Rates.** The paper's rates 6, 12, 18 are for output stride 16 on 513x513 crops: a 33x33
# map. Our 64x64 images at output stride 8 give an 8x8 map; scaled by 8 / 33 the paper's rates
# are 1.45, 2.9, 4.4, rounded to minisegnet's defaults (2, 3, 4).
#
# On the map, branch r's kernel spans (2 r + 1) feature pixels; one feature pixel is 8 input
# pixels apart (the jump), so the taps spread over (2 r) 8 + 1 input pixels, and the receptive
# field of each branch is the backbone's plus 2 r 8. `summary` reports it per layer.

# %%
section("5. ASPP branches of DeepLabV3 (base width 16, output stride 8, rates 2 3 4)")
check("paper rates scaled to an 8x8 map", scale_atrous_rates(8), [1.4545, 2.9091, 4.3636],
      ref="6, 12, 18 x 8/33")
ms.manual_seed(0)
model = DeepLabV3(3, 4)
s = ms.summary(model, (3, 64, 64))
rows = {r.name: r for r in s.rows}
backbone_rf = int(s.rows[[r.name for r in s.rows].index("aspp.branches.0.conv") - 1]
                  .receptive_field[0])
jump = int(rows["aspp.branches.0.conv"].jump[0])
print(f"backbone: 8x8 map, jump {jump} px, receptive field {backbone_rf} px")
branch_rf = []
for i, rate in enumerate([None, 2, 3, 4]):
    r = rows[f"aspp.branches.{i}.conv"]
    name = "1x1 conv" if rate is None else f"3x3 rate {rate}"
    span = 1 if rate is None else 2 * rate * jump + 1
    print(f"  {name:12s}: output {r.output_shape}, taps spread over {span:2d} input px, "
          f"receptive field {int(r.receptive_field[0])} px")
    branch_rf.append(int(r.receptive_field[0]))
print("  image pool  : every pixel gets the mean over the whole map (all 64x64 input pixels)")
check("branch receptive fields = backbone + 2 r jump", branch_rf,
      [backbone_rf] + [backbone_rf + 2 * r * jump for r in (2, 3, 4)], ref="rule")
print(f"(the backbone alone already sees {backbone_rf} px, more than the image; its *effective* "
      "field is smaller and centre-weighted: that is where the extra reach of the rates helps)")

# %% [markdown]
# ### The picture
#
# For the output pixel (4, 4) near the middle of the 8x8 map, the top row draws where each
# branch's 9 taps land (each tap is one feature pixel, an 8x8 block of the input); taps off the
# map (rate 3 and 4 already reach past the border) read zeros. The image-pooling branch uses the
# whole map.
#
# The bottom row *measures* what that output depends on, with autograd: |d out / d input|, the
# gradient of one branch's output at that pixel with respect to the 64x64 input (summed over
# channels). To see the branches apart, the backbone here is a shallow one, one 3x3 conv per
# stage (`blocks_per_stage=1`, depth 3: receptive field 17 px): each tap becomes a 17x17 blob,
# and the extent of the nonzero gradient is the branch's receptive field, clipped to the image
# -- except for rate 4, whose lower and right taps fall off the map and see nothing at all.

# %%
section("5b. Figure: where each branch looks")
ms.manual_seed(0)
small = DeepLabV3(3, 4, base_width=16, depth=3, blocks_per_stage=1).eval()
small_rows = {r.name: r for r in ms.summary(small, (3, 64, 64)).rows}
fields = [int(small_rows[f"aspp.branches.{i}.conv"].receptive_field[0]) for i in range(4)]
check("shallow backbone: branch receptive fields (1x1, rates 2 3 4)", fields,
      [17, 17 + 32, 17 + 48, 17 + 64], ref="17 + 2 r 8")
centre = (4, 4)
x = ms.Tensor(np.random.default_rng(1).standard_normal((1, 3, 64, 64)).astype(np.float32),
              requires_grad=True)
titles = ["1x1 conv", "3x3 rate 2", "3x3 rate 3", "3x3 rate 4", "image pooling"]
fig, axes = plt.subplots(2, 5, figsize=(15, 7.0))
extent = []
for col, (title, rate, branch) in enumerate(zip(titles, [0, 2, 3, 4, None],
                                                small.aspp.branches)):
    ax = axes[0, col]
    canvas = np.zeros((64, 64))
    if rate is None:
        canvas[:] = 1
    else:
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                i, j = centre[0] + di * rate, centre[1] + dj * rate
                if 0 <= i < 8 and 0 <= j < 8:
                    canvas[i * 8:(i + 1) * 8, j * 8:(j + 1) * 8] = 1
    ax.imshow(canvas, cmap="Blues", vmin=0, vmax=1.3)
    ax.set_xticks(np.arange(-0.5, 64, 8), minor=True)
    ax.set_yticks(np.arange(-0.5, 64, 8), minor=True)
    ax.grid(which="minor", color="gray", lw=0.3)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{title}: taps on the map", fontsize=10)

    x.grad = None
    out = branch(small.backbone(x)[-1])
    out[:, :, centre[0], centre[1]].sum().backward()
    g = np.abs(x.grad.numpy()[0]).sum(0)
    rows_nz, cols_nz = np.nonzero(g)
    extent.append(int(rows_nz.max() - rows_nz.min() + 1))
    axes[1, col].imshow(g, cmap="magma")
    axes[1, col].set_xticks([])
    axes[1, col].set_yticks([])
    axes[1, col].set_title(f"{title}: |d out / d input|", fontsize=10)
fig.suptitle("DeepLabV3's ASPP at output stride 8 on a 64x64 image: what output pixel (4, 4) "
             "of each branch sees")
fig.tight_layout(h_pad=2.0)
save_figure(fig, "12_aspp_branches")
# feature pixel p of this backbone reads input rows 8p - 8 .. 8p + 8; rate r reads the taps
# p - r, p, p + r that lie on the map (rows 0..7): rate 4 from p = 4 loses its tap at 8
expected_extent = []
for r in (0, 2, 3, 4):
    taps = [t for t in (4 - r, 4, 4 + r) if 0 <= t < 8]
    expected_extent.append(min(8 * max(taps) + 8, 63) - max(8 * min(taps) - 8, 0) + 1)
check("rows the centre output depends on (1x1, rates 2 3 4, image pooling)", extent,
      expected_extent + [64], ref="receptive field, clipped")

try_it_yourself("12")

print("\nLesson 12 complete: dilation, receptive fields, valid taps and ASPP agree with the rules.")
