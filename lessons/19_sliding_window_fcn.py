# %% [markdown]
# # Lesson 19 - sliding-window classification vs a fully convolutional network
#
# Decks 001 and 002: to label every pixel, the first idea is a **sliding window** -- cut a patch
# around each pixel, run a classifier on it, keep the class of the centre. It works, and it is
# slow: neighbouring patches overlap almost entirely, and every patch recomputes the same
# features. Deck 004 (FCN): "the fully connected layers are replaced by convolution layers"; the
# network then takes the whole image at once and returns a **score map**, with the shared work
# done once.
#
# This lesson:
#
# 1. trains a small patch classifier (a 3x3 conv, then two fully connected layers) on 9x9 patches
#    of the `shapes` images, labelled by their centre pixel;
# 2. applies it to every patch of a test image with a Python loop (allowed in a lesson!);
# 3. convolutionalizes the same weights (`nn.convolutionalize`) and runs the image once: the two
#    score maps are identical (float64);
# 4. counts the multiply-adds of both and times them;
# 5. computes the output sizes of an FCN-32s-style head (VGG-16, fc6 a 7x7 conv) on inputs larger
#    than the 224x224 it was trained on.
#
# Run: `python lessons/19_sliding_window_fcn.py` (add `--show` to open the figures).
# As a notebook: `python lessons/make_notebooks.py 19`, then open `lessons/notebooks/19_*.ipynb`.

# %%
import time

import minisegnet as ms
import minisegnet.nn as nn
from minisegnet.data import load_dataset
from minisegnet.summary import summary

from _common import *  # noqa: F403  (numpy as np, check, show, section, save_figure, ...)
from exercises import try_it_yourself

# %% [markdown]
# ## 1. A patch classifier
#
# Input: a 3x9x9 patch. `features` = 3x3 conv (3 -> 8 channels, no padding) + ReLU: 8x7x7.
# `head` = flatten -> Linear(392, 16) -> ReLU -> Linear(16, 4): four class scores for the centre
# pixel. Trained with Adam on random patches of the training images (float64 throughout, so the
# comparison of section 3 can be exact to rounding).

# %%
section("1. Train a classifier of 9x9 patches (label = the centre pixel's class)")
P, R = 9, 4                                    # patch side, and its radius around the centre
ms.manual_seed(0)
features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()).double()
head = nn.Sequential(nn.Linear(8 * 7 * 7, 16), nn.ReLU(), nn.Linear(16, 4)).double()
train = load_dataset("shapes", "train", n=64 if FAST else 400, size=32, seed=0)
test = load_dataset("shapes", "test", n=1, size=32, seed=0)
pad = np.pad(train.images.astype(np.float64), ((0, 0), (0, 0), (R, R), (R, R)), mode="edge")
rng = np.random.default_rng(0)
params = list(features.parameters()) + list(head.parameters())
opt = ms.optim.Adam(params, lr=3e-3)
steps = 60 if FAST else 300
for step in range(steps):
    n = rng.integers(0, len(train), 128)
    r, c = rng.integers(0, 32, 128), rng.integers(0, 32, 128)
    # 128 patches gathered with one fancy index: pad[n, :, r + i, c + j] for i, j in 0..8
    ii = r[:, None, None] + np.arange(P)[None, :, None]
    jj = c[:, None, None] + np.arange(P)[None, None, :]
    patches = pad[n[:, None, None], :, ii, jj].transpose(0, 3, 1, 2)     # (128, 3, 9, 9)
    labels = train.masks[n, r, c]
    scores = head(features(ms.Tensor(patches)).reshape(128, -1))
    loss = ms.losses.cross_entropy(scores, labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % (steps // 4) == 0 or step == steps - 1:
        print(f"step {step:>4}: loss {float(loss.item()):.4f}")
print(f"{sum(p.data.size for p in params):,} weights")

# %% [markdown]
# ## 2. Sliding window: one forward pass per pixel
#
# The test image is padded by 4 pixels (edge values) so that every one of its 32 x 32 pixels has a
# 9x9 patch around it; the loop runs the classifier 1024 times.

# %%
section("2. Sliding window: the classifier on every 9x9 patch, one at a time")
image = np.pad(test.images[:1].astype(np.float64), ((0, 0), (0, 0), (R, R), (R, R)), mode="edge")
H = W = 32
t0 = time.perf_counter()
slide = np.zeros((4, H, W))
with ms.no_grad():
    for r in range(H):                      # a Python loop over pixels: what an FCN avoids
        for c in range(W):
            patch = ms.Tensor(image[:, :, r:r + P, c:c + P])
            slide[:, r, c] = head(features(patch).reshape(1, -1)).numpy()[0]
t_slide = time.perf_counter() - t0
print(f"{H * W} forward passes in {t_slide * 1000:.0f} ms")

# %% [markdown]
# ## 3. The same weights, convolutionalized
#
# `nn.convolutionalize(head, (8, 7, 7))` turns Linear(392, 16) into a 7x7 conv with the weights
# reshaped to (16, 8, 7, 7) and Linear(16, 4) into a 1x1 conv. On the padded 40x40 image the conv
# features are 38x38 and the 7x7 "fc" conv leaves 32x32 positions: one score vector per pixel, in
# one forward pass.

# %%
section("3. Convolutionalized: one forward pass over the whole image")
fcn = nn.Sequential(*features.children(), *nn.convolutionalize(head, (8, 7, 7)).children())
print(fcn)
t0 = time.perf_counter()
with ms.no_grad():
    dense = fcn(ms.Tensor(image)).numpy()[0]
t_fcn = time.perf_counter() - t0
print(f"score map: {dense.shape} (classes, rows, columns) from a {image.shape[1:]} image")
check("sliding window == fully convolutional (max |difference|, float64)",
      np.abs(dense - slide).max(), 0.0, atol=1e-12, ref="identity")
check("same labels everywhere", (dense.argmax(0) == slide.argmax(0)).mean(), 1.0, ref="identity")
acc = (dense.argmax(0) == test.masks[0]).mean()
print(f"pixel accuracy of the patch classifier on the test image: {acc:.3f}")
print(f"time: sliding window {t_slide * 1000:.0f} ms, fully convolutional {t_fcn * 1000:.1f} ms "
      f"({t_slide / t_fcn:.0f}x faster on this machine)")

fig, axes = plt.subplots(1, 4, figsize=(11, 3))
for ax, (title, img) in zip(axes, [
        ("test image", test.images[0].transpose(1, 2, 0)), ("truth", test.masks[0]),
        ("sliding window (1024 passes)", slide.argmax(0)), ("convolutionalized (1 pass)",
                                                            dense.argmax(0))]):
    ax.imshow(img, vmin=0, vmax=3, cmap="viridis" if img.ndim == 2 else None)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
save_figure(fig, "19_sliding_vs_fcn")

# %% [markdown]
# ## 4. Where the time goes: multiply-adds
#
# Per window: the conv computes 7 * 7 * 8 outputs of 3 * 3 * 3 products = 10,584, the fc layers
# 392 * 16 + 16 * 4 = 6,336. The sliding window pays both for each of the 1024 windows. The FCN
# computes the conv once on the 38x38 map (38 * 38 * 8 * 27 = 311,904) -- each conv output is
# shared by up to 49 windows -- and the fc part (now convs) once per position, as before.

# %%
section("4. Multiply-adds: sliding window vs shared computation")
per_window = summary(nn.Sequential(*features.children(),
                                   *nn.convolutionalize(head, (8, 7, 7)).children()),
                     (3, P, P), dtype=np.float64)
whole = summary(fcn, (3, H + 2 * R, W + 2 * R), dtype=np.float64)
conv_window = 7 * 7 * 8 * 3 * 3 * 3
fc_window = 392 * 16 + 16 * 4
check("mult-adds for one 9x9 window (summary)", per_window.total_mult_adds,
      conv_window + fc_window, ref="arithmetic")
sliding_total = H * W * per_window.total_mult_adds
shared_total = 38 * 38 * 8 * 27 + H * W * fc_window
check("mult-adds of the FCN on the 40x40 image (summary)", whole.total_mult_adds, shared_total,
      ref="arithmetic")
print(f"sliding window: {H * W} x {per_window.total_mult_adds:,} = {sliding_total:,}")
print(f"fully convolutional: {whole.total_mult_adds:,}  -> saved {sliding_total - shared_total:,} "
      f"({sliding_total / shared_total:.2f}x fewer)")
print(f"each conv output is computed {H * W * 49 / 38 ** 2:.1f} times on average by the sliding "
      "window (up to 49 times: once per window that contains it), once by the FCN")

# %% [markdown]
# ## 5. An FCN-32s-style head on a larger input
#
# VGG-16 halves the image five times (pool1..pool5): 224 -> 7. Its fc6 (a 7x7 conv once
# convolutionalized) then gives 1x1 -- one class vector, the classifier. On a larger input the
# same network returns a score map: pool5 = H / 32 and fc6 leaves H / 32 - 7 + 1 positions, each
# the classifier on a 224x224 window, windows 32 pixels apart; FCN-32s upsamples it x32. (FCN pads
# the input by 100 pixels so that small images still give a map: (H + 200) / 32 - 6.) The decks
# give no numbers here; they are derived from the architecture and checked with a stand-in of
# the same geometry (5 max-pools + a 7x7 conv, one channel).

# %%
section("5. Output sizes of an FCN-32s-style head (5 pools, fc6 = 7x7 conv)")
standin = nn.Sequential(*[nn.MaxPool2d(2, 2) for _ in range(5)], nn.Conv2d(1, 1, 7))
for side in (224, 384, 512):
    pool5 = side // 32
    with ms.no_grad():
        out = standin(ms.Tensor(np.zeros((1, 1, side, side), np.float32))).shape[-1]
    check(f"input {side}: pool5 {pool5}, fc6 score map side", out, pool5 - 6,
          ref="derived from the slide")
    print(f"   {out}x{out} windows of 224x224, 32 pixels apart; x32 upsampling -> "
          f"{32 * out}x{32 * out}, not {side}x{side}: hence FCN's padding and final crop")
side = 500                                   # the FCN paper's PASCAL size, with its 100-pixel pad
check("input 500 padded by 100: score map side (FCN)", (side + 200) // 32 - 6, 15,
      ref="arithmetic")

# %%
try_it_yourself("19")

print("\nLesson 19 complete: the sliding window and the convolutionalized classifier agree, "
      "and sharing saves the repeated conv work.")
