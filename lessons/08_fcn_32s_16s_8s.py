# %% [markdown]
# # Lesson 08 - FCN-32s, FCN-16s, FCN-8s: more upsampling steps, finer masks
#
# Decks 000 (FCN-32 / 16 / 8: the output is brought back to the input size in 1, 2 or 3
# upsampling steps; more steps, finer masks), 001 (skip fusion by summation with earlier pool
# layers) and 004 (VGG16 with its dense layers turned into convolutions).
#
# The backbone pools 5 times, so its class scores live on a grid 32 times coarser than the
# image. FCN-32s upsamples them x32 in one transposed convolution; FCN-16s first upsamples x2
# and **adds** scores computed from pool4 (stride 16), then upsamples x16; FCN-8s does it once
# more with pool3 (stride 8), then x8.
#
# Run: `python lessons/08_fcn_32s_16s_8s.py` (`--show` opens the figure; `MINISEGNET_FAST=1`
# trains for a few iterations only).
# As a notebook: `python lessons/make_notebooks.py 08`, then open `lessons/notebooks/08_*.ipynb`.

# %%
import time

import minisegnet as ms
import minisegnet.nn as nn
from minisegnet import data, losses, metrics, models, optim

from _common import *  # noqa: F403
from exercises import try_it_yourself

VARIANTS = ("32s", "16s", "8s")

# %% [markdown]
# ## 1. The shapes, on a 224 x 224 image
#
# We read every layer's output shape from `minisegnet.summary` (the width is cut to 2 channels;
# shapes do not depend on it). pool1 ... pool5 halve the map: 112, 56, 28, 14, 7. The dense
# layers, as convolutions, keep 7 x 7 and give class scores (`score_fr`) at stride 32.

# %%
section("1. FCN shapes on a 1 x 3 x 224 x 224 input")
for variant in VARIANTS:
    model = models.FCN(in_channels=3, num_classes=4, variant=variant, base_width=2)
    s = ms.summary(model, (1, 3, 224, 224))
    shapes = {r.name: tuple(r.output_shape[2:]) for r in s.rows}
    print(f"\nFCN-{variant}:")
    pools = [shapes[f"stages.{i}.{len(model.stages[i]) - 1}"] for i in range(5)]
    print(f"  pool1..pool5: {[p[0] for p in pools]}   score_fr: {shapes['score_fr']}")
    assert [p[0] for p in pools] == [112, 56, 28, 14, 7]
    if variant in ("16s", "8s"):
        print(f"  upscore2 (x2): {shapes['upscore2']}  + score_pool4 (1x1 conv on pool4): "
              f"{shapes['score_pool4']}  -> summed")
        assert shapes["upscore2"] == shapes["score_pool4"] == (14, 14)
    if variant == "8s":
        print(f"  upscore_pool4 (x2): {shapes['upscore_pool4']}  + score_pool3: "
              f"{shapes['score_pool3']}  -> summed")
        assert shapes["upscore_pool4"] == shapes["score_pool3"] == (28, 28)
    up = model.upscore
    print(f"  final upsampling x{model.factor}: transposed conv kernel {up.weight.shape[2]}, "
          f"stride {model.factor} -> {shapes['upscore']}   output {tuple(s.output_shape)}")
    assert s.output_shape == (1, 4, 224, 224)
    n_steps = {"32s": 1, "16s": 2, "8s": 3}[variant]
    print(f"  upsampling steps: {n_steps}")

# %% [markdown]
# ## 2. The upsampling layers start as bilinear interpolation
#
# Each upsampler is a transposed convolution (kernel 2f, stride f, crop f/2) whose kernel starts
# as the bilinear interpolation kernel. The x2 kernel is the outer product of (1/4, 3/4, 3/4, 1/4)
# with itself; it turns a single 1 into a smooth bump, and a constant map into the same constant.

# %%
section("2. The bilinear x2 kernel")
up2 = nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1, bias=False, bilinear_init=True)
k = up2.weight.numpy()[0, 0]
check("bilinear x2 kernel", k, np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25]),
      ref="outer product")
with ms.no_grad():
    flat = up2(ms.Tensor(np.full((1, 1, 4, 4), 3.0, dtype=np.float32))).numpy()[0, 0]
check("x2 upsampling of a constant 3 (inside the borders)", flat[1:-1, 1:-1], np.full((6, 6), 3.0),
      ref="constant")

# %% [markdown]
# ## 3. How fine can each variant be? The best mask from each score grid
#
# Before any training, the architecture already limits how detailed a mask can be: FCN-32s's
# output is a bilinear upsampling of a grid 32 times coarser than the image; FCN-8s's of a grid
# only 8 times coarser (its summed skip scores can be anything at stride 8). We take a 64 x 64
# image of the `shapes` data set and, for each stride, optimise the coarse score grid directly so
# that its upsampled version fits the true mask as well as possible. The best reachable pixel
# accuracy grows with every extra upsampling step.

# %%
section("3. The best mask each output stride can express (64 x 64 image)")
ds = data.shapes(n=8, size=64, seed=3)
K = ds.num_classes
mask = ds.masks[:1]
best = {}
steps = 40 if FAST else 200
for variant in VARIANTS:
    f = int(variant[:-1])
    upsampler = models.fcn._upsampler(K, f)  # the FCN's own final upsampler (bilinear)
    for p in upsampler.parameters():
        p.requires_grad = False
    grid = nn.Parameter(np.zeros((1, K, 64 // f, 64 // f), dtype=np.float32))
    opt = optim.Adam([grid], lr=0.5)
    for _ in range(steps):
        loss = losses.cross_entropy(upsampler(grid), mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with ms.no_grad():
        pred = upsampler(grid).numpy().argmax(axis=1)
    best[variant] = pred[0]
    acc = metrics.pixel_accuracy(pred, mask)
    print(f"stride {f:2d} (score grid {64 // f}x{64 // f}): best pixel accuracy {acc:.3f}, "
          f"mIoU {metrics.mean_iou(pred, mask, K):.3f}")
accs = [metrics.pixel_accuracy(best[v][None], mask) for v in VARIANTS]

# %% [markdown]
# ### Why FCN-32s cannot learn 32 x 32 images, and what its recipe does instead
#
# On a 32 x 32 image, five 2x2 poolings leave pool5 a 1 x 1 map: one score per class for the
# whole image.
# The x32 transposed convolution can only stamp its fixed kernel, weighted by those few scores,
# onto the output, the same stamp wherever the shapes are.
# So it cannot place a boundary where a shape lies, and trained at 32 x 32 it predicts background
# everywhere (val mIoU 0.21, pixel accuracy 0.82: the background's share, docs/results.md).
# This is a limit of the architecture at that size, not of the training: more epochs do not help.
# FCN-16s and FCN-8s add pool4 (2 x 2) and pool3 (4 x 4) scores, which is why they do learn there.
# `minisegnet train --model fcn32s` therefore trains on 128 x 128 images (its recipe in
# `minisegnet/recipes.py`), where pool5 is 4 x 4, at base width 4 to keep the 16 times larger
# images affordable; its measured mIoU is in docs/results.md.

# %% [markdown]
# ## 4. A short training of the three variants
#
# The same data, seed, optimiser (Adam), loss (cross entropy + Dice) and number of steps for
# each variant; the backbone is small (width 4) so that this runs on a laptop CPU in about a
# minute. 300 steps are far from a converged network: the masks are still rough, and the
# numbers move from one machine to another (different CPUs add floating-point numbers in a
# different order, and training amplifies the differences), too much to rank FCN-16s against
# FCN-8s reliably. What holds on every run is the gap to FCN-32s: its single x32 step cannot
# draw the outlines that section 3 showed it cannot express, so both skip variants score
# clearly above it. The measured values are printed below. In fast mode (the test suite) only
# a couple of steps run, which checks the code, not the result.

# %%
section("4. Training FCN-32s, FCN-16s, FCN-8s on shapes (64 x 64)")
train_set = data.shapes(n=256, size=64, seed=0)
val_set = data.shapes(n=32, size=64, seed=1)
n_steps, batch = (2, 4) if FAST else (300, 16)
results = {}
for variant in VARIANTS:
    ms.manual_seed(0)
    rng = np.random.default_rng(0)
    model = models.FCN(in_channels=3, num_classes=K, variant=variant, base_width=4)
    opt = optim.Adam(model.parameters(), lr=5e-3)
    t0 = time.perf_counter()
    model.train()
    for _ in range(n_steps):
        idx = rng.choice(len(train_set.images), batch, replace=False)
        logits = model(ms.Tensor(train_set.images[idx]))
        # cross entropy + Dice loss: the Dice term keeps the small shapes from being swamped by
        # the background pixels (deck 000 announces Dice loss for this reason)
        loss = (losses.cross_entropy(logits, train_set.masks[idx])
                + losses.dice_loss(logits, train_set.masks[idx], from_logits=True))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with ms.no_grad():
        val_pred = model(ms.Tensor(val_set.images)).numpy().argmax(axis=1)
    results[variant] = (metrics.mean_iou(val_pred, val_set.masks, K),
                        metrics.pixel_accuracy(val_pred, val_set.masks), val_pred)
    print(f"FCN-{variant}: {n_steps} steps in {time.perf_counter() - t0:.1f} s, last loss "
          f"{loss.item():.3f}, validation mIoU {results[variant][0]:.3f}, "
          f"pixel accuracy {results[variant][1]:.3f}")

# %% [markdown]
# ## 5. Figure: the masks

# %%
section("5. Figure: best reachable masks and trained predictions")
from minisegnet.plots import colourize  # noqa: E402

# top row: section 3's image, its true mask and the best mask of each stride;
# bottom row: the first validation image, its true mask and what each trained variant predicts
fig, axes = plt.subplots(2, 5, figsize=(15, 6.8), layout="constrained")
for row, (image, truth, name) in enumerate([(ds.images[0], mask[0], "section 3"),
                                            (val_set.images[0], val_set.masks[0], "validation")]):
    img = image.transpose(1, 2, 0)
    axes[row, 0].imshow((img - img.min()) / (img.max() - img.min()))
    axes[row, 0].set_title(f"{name} image")
    axes[row, 1].imshow(colourize(truth, K))
    axes[row, 1].set_title(f"{name} truth")
for ax, variant in zip(axes[0, 2:], VARIANTS):
    ax.imshow(colourize(best[variant], K))
    ax.set_title(f"best mask at stride {variant[:-1]}")
for ax, variant in zip(axes[1, 2:], VARIANTS):
    ax.imshow(colourize(results[variant][2][0], K))
    ax.set_title(f"FCN-{variant} after {n_steps} steps\n(val mIoU {results[variant][0]:.2f})")
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("Decks 000 / 001 / 004: FCN-32s, 16s, 8s -- more upsampling steps, finer masks")
save_figure(fig, "08_fcn_masks")

# %% [markdown]
# ## 6. What the numbers show, asserted
#
# Each claim with a margin larger than what a different CPU or BLAS can move: the best
# reachable accuracy grows with every upsampling step (section 3, an optimisation of a few
# hundred numbers), and after the same training both skip variants beat FCN-32s (section 4;
# not checked in fast mode, where training is only a couple of steps).

# %%
section("6. What the numbers show")
print("best reachable pixel accuracy at stride 32, 16, 8: "
      + ", ".join(f"{a:.3f}" for a in accs))
gain = {v: results[v][0] - results["32s"][0] for v in ("16s", "8s")}
print(f"validation mIoU after {n_steps} steps: "
      + ", ".join(f"FCN-{v} {results[v][0]:.3f}" for v in VARIANTS)
      + f"; above FCN-32s by {gain['16s']:+.3f} (16s) and {gain['8s']:+.3f} (8s)")
if not FAST:
    assert accs[1] > accs[0] + 0.05 and accs[2] > accs[1] + 0.003, accs
    assert min(gain.values()) > 0.05, f"FCN-16s and 8s should score above FCN-32s: {gain}"
    print("more upsampling steps, finer masks: both skip variants beat FCN-32s after the same "
          "training.")

try_it_yourself("08")

print("\nLesson 08 complete: FCN shapes, skip fusion, and 8s finer than 32s.")
