# %% [markdown]
# # Lesson 06 - 1x1 convolutions and operation counts
#
# Deck 003 (EE655 Lecture 10), the GoogLeNet / Inception bottleneck.
#
# A 1x1 convolution mixes channels at each pixel without looking at neighbours: it is a matrix
# (C_out x C_in) applied to every pixel's channel vector. Its use in Inception: shrink the channel
# count *before* an expensive 5x5 convolution.
#
# Cost of a convolution (multiplies, bias additions not counted):
# H_out * W_out * C_out * (C_in * kH * kW): every output value is one dot product of length
# C_in kH kW. `minisegnet.summary` reports this count as "mult-adds" for every layer.
#
# Run: `python lessons/06_one_by_one_convolution.py`
# As a notebook: `python lessons/make_notebooks.py 06`, then open `lessons/notebooks/06_*.ipynb`.

# %%
import time

import minisegnet as ms
import minisegnet.functional as F
import minisegnet.nn as nn

from _common import *  # noqa: F403
from exercises import try_it_yourself

# %% [markdown]
# ## 1. A 1x1 convolution is a per-pixel matrix product
#
# With weight W of shape (C_out, C_in, 1, 1), output pixel (i, j) is W[:, :, 0, 0] @ x[:, i, j].

# %%
section("1. 1x1 convolution = the same channel-mixing matrix at every pixel")
rng = np.random.default_rng(0)
x = rng.integers(-2, 3, size=(1, 3, 2, 2)).astype(np.float64)
W = rng.integers(-2, 3, size=(2, 3, 1, 1)).astype(np.float64)
y = F.conv2d(ms.Tensor(x), ms.Tensor(W)).numpy()
show("W (2 x 3)", W[:, :, 0, 0])
for i in range(2):
    for j in range(2):
        v = x[0, :, i, j]
        print(f"pixel ({i},{j}): x = {v.astype(int).tolist()} -> W @ x = "
              f"{(W[:, :, 0, 0] @ v).astype(int).tolist()}")
check("conv2d with a 1x1 kernel", y[0], np.einsum("oc,chw->ohw", W[:, :, 0, 0], x[0]), ref="W @ x")
print(f"channels: {x.shape[1]} -> {y.shape[1]}, spatial size unchanged {y.shape[2:]}")

# %% [markdown]
# ## 2. The slide's counts
#
# Input 28 x 28 x 192. A 5x5 convolution to 32 channels (padding 2 keeps 28 x 28):
# (28 * 28 * 32) * (5 * 5 * 192) = 120,422,400 multiplies.
# With a 1x1 "bottleneck" to 16 channels first: 28 * 28 * 16 * 192 = 2,408,448, then the 5x5 on
# 16 channels: 28 * 28 * 32 * 5 * 5 * 16 = 10,035,200; total 12,443,648 (the deck rounds to
# 2.4 M + 10 M = 12.4 M): about 10x fewer.

# %%
section("2. Counting multiplies with minisegnet.summary")
direct = nn.Sequential(nn.Conv2d(192, 32, 5, padding=2))
bottleneck = nn.Sequential(nn.Conv2d(192, 16, 1), nn.Conv2d(16, 32, 5, padding=2))
s_direct = ms.summary(direct, (1, 192, 28, 28))
s_bottle = ms.summary(bottleneck, (1, 192, 28, 28))
print(s_direct)
print()
print(s_bottle)
print()
check("5x5 conv, 192 -> 32", s_direct.total_mult_adds, 120_422_400, ref="derived from the slide")
check("by the formula (28*28*32)*(5*5*192)", (28 * 28 * 32) * (5 * 5 * 192), 120_422_400, by="arithmetic",
      ref="derived from the slide")
check("1x1 conv, 192 -> 16", s_bottle.rows[0].mult_adds, 2_408_448, ref="derived from the slide")
check("then 5x5 conv, 16 -> 32", s_bottle.rows[1].mult_adds, 10_035_200, ref="derived from the slide")
check("bottleneck total", s_bottle.total_mult_adds, 12_443_648, ref="derived from the slide")
print("the slide prints these rounded, in millions: 120.422 M, 2.4 M + 10 M = 12.4 M; the exact\n"
      "integers above are derived from its formulas")
check("5x5 conv, millions (3 decimals)", round(s_direct.total_mult_adds / 1e6, 3), 120.422, atol=0)
check("1x1 + 5x5, millions (1 decimal)",
      [round(s_bottle.rows[0].mult_adds / 1e6, 1), round(s_bottle.rows[1].mult_adds / 1e6),
       round(s_bottle.total_mult_adds / 1e6, 1)], [2.4, 10, 12.4], atol=1e-9)
print(f"ratio: {s_direct.total_mult_adds / s_bottle.total_mult_adds:.2f}x fewer multiplies")
check("both give a 28 x 28 x 32 output", s_bottle.output_shape, s_direct.output_shape, ref="direct")
print(f"parameters: direct {direct.num_parameters():,}, bottleneck {bottleneck.num_parameters():,}")

# %% [markdown]
# ## 3. And in seconds?
#
# Operation counts predict run time only roughly (memory traffic matters too), but a 10x gap
# shows. We time one forward pass of each on a batch of 4 (1 in fast mode).

# %%
section("3. Timing one forward pass (CPU)")
batch = 1 if FAST else 4
inp = ms.Tensor(rng.normal(size=(batch, 192, 28, 28)).astype(np.float32))
times = {}
with ms.no_grad():
    for name, model in [("direct 5x5", direct), ("1x1 bottleneck + 5x5", bottleneck)]:
        model(inp)  # warm-up
        t0 = time.perf_counter()
        reps = 1 if FAST else 3
        for _ in range(reps):
            model(inp)
        times[name] = (time.perf_counter() - t0) / reps
        print(f"{name:22s} {times[name] * 1000:8.1f} ms")
print(f"measured speed-up: {times['direct 5x5'] / times['1x1 bottleneck + 5x5']:.1f}x "
      f"(operation count ratio {s_direct.total_mult_adds / s_bottle.total_mult_adds:.1f}x)")

try_it_yourself("06")

print("\nLesson 06 complete: 120,422,400 vs 12,443,648 multiplies, as on deck 003.")
