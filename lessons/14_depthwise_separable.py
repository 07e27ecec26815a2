# %% [markdown]
# # Lesson 14 - depthwise separable convolutions (MobileNet)
#
# Deck 003 counts the multiplications of a 5x5 conv and shows that a 1x1 "bottleneck" conv cuts
# them by 10x. Deck 002's outline names depthwise separable convolutions / MobileNet, and deck
# 001 DeepLabv3+'s "atrous separable convolution". This lesson extends deck 003's count:
#
# 1. deck 003's numbers again, read off `summary`;
# 2. a depthwise conv (`groups = C_in`) filters each channel on its own;
# 3. depthwise + pointwise (1x1) = a standard conv whose kernel is factored, checked numerically;
# 4. the savings: ratio 1 / C_out + 1 / k^2, e.g. 3x3 from 32 to 64 channels on 56x56;
# 5. what it does to whole networks: the MobileNet encoder and U-Net.
#
# Run: `python lessons/14_depthwise_separable.py` (add `--show` to open the figure).
# As a notebook: `python lessons/make_notebooks.py 14`, then open `lessons/notebooks/14_*.ipynb`.

# %%
import minisegnet as ms
import minisegnet.functional as F
import minisegnet.nn as nn
from minisegnet.models import UNet
from minisegnet.models.mobilenet import Encoder, MobileNetUNet
from minisegnet.nn.separable import DepthwiseSeparableConv2d
from minisegnet.summary import separable_savings

from _common import *  # noqa: F403  (numpy as np, check, show, section, save_figure, ...)
from exercises import try_it_yourself

# %% [markdown]
# ## 1. Deck 003: the 1x1 bottleneck
#
# A 28x28x192 input, a 5x5 conv to 32 channels: (28 28 32) (5 5 192) = 120,422,400 multiplies.
# A 1x1 conv to 16 channels first: 28 28 16 192 = 2,408,448, then the 5x5 conv from 16 channels:
# 28 28 32 5 5 16 = 10,035,200; 12,443,648 in all (the deck: 2.4 M + 10 M = 12.4 M).

# %%
section("1. Deck 003's operation counts")
direct = ms.summary(nn.Conv2d(192, 32, 5, padding=2), (192, 28, 28))
bottleneck = ms.summary(nn.Sequential(nn.Conv2d(192, 16, 1), nn.Conv2d(16, 32, 5, padding=2)),
                        (192, 28, 28))
check("5x5 conv 192 -> 32", direct.total_mult_adds, 120_422_400, ref="derived from the slide")
check("1x1 to 16, then 5x5 to 32", [r.mult_adds for r in bottleneck.rows] +
      [bottleneck.total_mult_adds], [2_408_448, 10_035_200, 12_443_648], ref="derived from the slide")
print("the 1x1 conv mixes channels only; it is the second half of a depthwise separable conv")

# %% [markdown]
# ## 2. Depthwise: one filter per channel
#
# `groups = C_in` splits the channels into C_in groups of one: output channel c is input channel
# c convolved with its own k x k filter, and nothing else. A standard conv's output channel mixes
# all input channels. Changing input channel 1 therefore changes only output channel 1.

# %%
section("2. A depthwise conv does not mix channels")
rng = np.random.default_rng(0)
x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
w_dw = ms.Tensor(rng.standard_normal((3, 1, 3, 3)).astype(np.float32))  # (C_in, 1, k, k)
y = F.conv2d(ms.Tensor(x), w_dw, padding=1, groups=3).numpy()
x2 = x.copy()
x2[0, 1] += 1.0  # change input channel 1 only
y2 = F.conv2d(ms.Tensor(x2), w_dw, padding=1, groups=3).numpy()
changed = [bool(np.abs(y2[0, c] - y[0, c]).max() > 1e-6) for c in range(3)]
print("output channels changed by editing input channel 1:", changed)
check("changed channels (depthwise)", np.array(changed, float), [0, 1, 0], ref="definition")
# the same filters as a (C_in, C_in, k, k) standard conv with zeros off the diagonal
w_full = np.zeros((3, 3, 3, 3), np.float32)
for c in range(3):
    w_full[c, c] = w_dw.numpy()[c, 0]
check("depthwise == standard conv with a block-diagonal kernel (max difference)",
      np.abs(F.conv2d(ms.Tensor(x), ms.Tensor(w_full), padding=1).numpy() - y).max(), 0.0,
      atol=1e-5, ref="identity")

# %% [markdown]
# ## 3. Depthwise, then pointwise: a factored standard conv
#
# y = pointwise(depthwise(x)) with depthwise filters d_c (k x k) and pointwise weights P[o, c]:
#
#     y_o = sum_c P[o, c] (x_c * d_c) = sum_c x_c * (P[o, c] d_c)
#
# the standard conv with kernel W[o, c] = P[o, c] d_c: every output channel uses the *same*
# spatial filter d_c on channel c, only scaled. That restriction is the whole trick (and the
# price): C_in k^2 + C_in C_out numbers instead of C_out C_in k^2.

# %%
section("3. DepthwiseSeparableConv2d == Conv2d with W[o, c] = P[o, c] d_c")
ms.manual_seed(0)
layer = DepthwiseSeparableConv2d(3, 4, 3, bias=False)
print(layer)
d = layer.depthwise.weight.numpy()[:, 0]  # (3, 3, 3)
p = layer.pointwise.weight.numpy()[:, :, 0, 0]  # (4, 3)
w_composed = p[:, :, None, None] * d[None]  # (4, 3, 3, 3)
standard = F.conv2d(ms.Tensor(x), ms.Tensor(w_composed), padding=1)
check("separable vs standard with the composed kernel (max difference)",
      np.abs(layer(ms.Tensor(x)).numpy() - standard.numpy()).max(), 0.0, atol=1e-5,
      ref="identity")
check("numbers: separable vs standard", [layer.num_parameters(), w_composed.size],
      [3 * 9 + 3 * 4, 4 * 3 * 9], ref="C_in k^2 + C_in C_out vs C_out C_in k^2")

# %% [markdown]
# ## 4. The savings
#
# For an H x W output (no bias):
#
#     standard:  H W C_out C_in k^2        separable:  H W C_in k^2 + H W C_in C_out
#     ratio = 1 / C_out + 1 / k^2     (the same ratio for the parameters)
#
# 3x3 conv from 32 to 64 channels on a 56x56 map (a MobileNet-sized layer):
# standard 56 56 64 32 9 = 57,802,752; depthwise 56 56 32 9 = 903,168; pointwise 56 56 32 64 =
# 6,422,528; together 7,325,696: 1/64 + 1/9 = 0.1267, 7.9 times fewer. `separable_savings` runs
# `summary` on both layers.

# %%
section("4. 3x3 conv 32 -> 64 on 56x56: standard vs depthwise separable")
sv = separable_savings(32, 64, 3, (56, 56))
print(sv)
check("standard: params, mult-adds", [sv.standard.total_params, sv.standard.total_mult_adds],
      [18_432, 57_802_752], ref="formula")
check("depthwise, pointwise mult-adds", [r.mult_adds for r in sv.separable.rows],
      [903_168, 6_422_528], ref="formula")
check("separable: params, mult-adds", [sv.separable.total_params, sv.separable.total_mult_adds],
      [2_336, 7_325_696], ref="formula")
check("ratio (mult-adds, params)", [sv.mult_add_ratio, sv.param_ratio], [1 / 64 + 1 / 9] * 2,
      atol=1e-12, ref="1/C_out + 1/k^2")

print("\nratio 1/C_out + 1/k^2 for other layers (measured with summary on a 14x14 map):")
table = {}
for k in (3, 5, 7):
    for c_out in (16, 64, 256):
        table[k, c_out] = separable_savings(c_out, c_out, k, (14, 14)).mult_add_ratio
        print(f"  k = {k}, C_in = C_out = {c_out:3d}: {table[k, c_out]:.4f} "
              f"({1 / table[k, c_out]:5.1f}x cheaper)")
check("k = 5, C_out = 256", table[5, 256], 1 / 256 + 1 / 25, atol=1e-12, ref="formula")
print("as C_out grows the ratio tends to 1/k^2: the depthwise part is nearly free, the 1x1 "
      "pointwise conv dominates")

fig, ax = plt.subplots(figsize=(6, 3.6))
c = np.arange(4, 513)
for k in (3, 5, 7):
    ax.plot(c, 1 / c + 1 / k ** 2, label=f"k = {k}")
    ax.axhline(1 / k ** 2, color="gray", lw=0.5, ls=":")
ax.plot([64], [sv.mult_add_ratio], "ko", label="32 -> 64, 3x3 (measured)")
ax.set_xscale("log", base=2)
ax.set_xlabel("C_out")
ax.set_ylabel("separable / standard cost")
ax.set_title("Depthwise separable cost ratio 1/C_out + 1/k^2")
ax.legend()
fig.tight_layout()
save_figure(fig, "14_separable_ratio")

# %% [markdown]
# ## 5. Whole networks
#
# `Encoder(kind="mobilenet")` builds every block after the stem from depthwise separable convs
# (depthwise 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU, MobileNet v1's block);
# `kind="vgg"` uses standard 3x3 convs with the same widths and strides. `MobileNetUNet` puts a
# U-Net decoder of separable blocks on top. Costs on a 64x64 image (base width 16):

# %%
section("5. MobileNet vs standard convs in whole networks (64x64 input)")
enc = {k: ms.summary(Encoder(3, 16, 3, kind=k), (3, 64, 64)) for k in ("vgg", "mobilenet")}
for k, s in enc.items():
    print(f"  encoder ({k:9s}): {s.total_params:>9,} params {s.total_mult_adds:>13,} mult-adds")
# by hand: standard 3x3 convs 3-16-16 | 16-32-32 | 32-64-64 | 64-128-128, BN 2 numbers/channel
std_params = 9 * (3 * 16 + 16 * 16 + 16 * 32 + 32 * 32 + 32 * 64 + 64 * 64 + 64 * 128 + 128 * 128)
std_params += 4 * (16 + 32 + 64 + 128)
blocks = [(16, 16), (16, 32), (32, 32), (32, 64), (64, 64), (64, 128), (128, 128)]
sep_params = 9 * 3 * 16 + 2 * 16 + sum(9 * a + 2 * a + a * b + 2 * b for a, b in blocks)
check("encoder params (standard, separable)", [enc["vgg"].total_params,
                                               enc["mobilenet"].total_params],
      [std_params, sep_params], ref="by hand")
nets = {"UNet (depth 4)": UNet(3, 4),
        "same net, standard convs": MobileNetUNet(3, 4, encoder="vgg"),
        "MobileNetUNet (depth 4)": MobileNetUNet(3, 4)}
costs = {}
for name, net in nets.items():
    s = ms.summary(net, (3, 64, 64))
    costs[name] = (s.total_params, s.total_mult_adds)
    print(f"  {name:24s}: {s.total_params:>9,} params {s.total_mult_adds:>13,} mult-adds")
ratio = [costs["MobileNetUNet (depth 4)"][i] / costs["same net, standard convs"][i]
         for i in range(2)]
print(f"MobileNetUNet / the same net with standard convs: {ratio[0]:.3f} of the parameters, "
      f"{ratio[1]:.3f} of the multiply-adds (close to 1/C_out + 1/9; the stem conv, the 1x1 head "
      "and batch-norm are not separable). UNet has more parameters still (its widths go to "
      "16 x base = 256; MobileNetUNet caps them at 8 x base = 128) for similar multiply-adds.")
assert 1 / 9 < ratio[1] < 0.2

try_it_yourself("14")

print("\nLesson 14 complete: the separable conv is a factored standard conv, 1/C_out + 1/k^2 "
      "of its cost.")
