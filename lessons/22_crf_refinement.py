# %% [markdown]
# # Lesson 22 - DeepLab v1 and the fully connected CRF
#
# Deck 004: DeepLab v1 = a VGG backbone made atrous (output stride 8), **bilinear upsampling** of
# the class scores, then a fully connected **CRF** as post-processing. The network's map is coarse
# -- at output stride 8 a 32x32 image has a 4x4 score map, blown up into soft blobs -- and the CRF
# pulls the labels onto the image's edges.
#
# The CRF (Krahenbuhl & Koltun 2011, `minisegnet.crf.dense_crf`): every pair of pixels i, j is
# connected by
#
#     k(i, j) = w1 exp(-|p_i - p_j|^2 / 2 theta_alpha^2 - |I_i - I_j|^2 / 2 theta_beta^2)
#             + w2 exp(-|p_i - p_j|^2 / 2 theta_gamma^2)
#
# (nearby pixels of similar colour; nearby pixels), with the Potts penalty for different labels,
# and the network's probabilities P as the unary term. Mean-field inference starts from Q = P and
# repeats Q_i(l) = softmax_l( log P_i(l) - sum_{j != i} k(i, j) (1 - Q_j(l)) ).
#
# This lesson trains a small DeepLab v1 briefly, then:
#
# 1. recomputes one mean-field step for one pixel by hand (a sum over all 1024 pixels);
# 2. draws the coarse map and the CRF's map after 1, 3, 5 and 10 iterations;
# 3. measures, on the validation set, the accuracy on **boundary pixels** (within 2 pixels of a
#    class boundary) and elsewhere, without and with the CRF, and the mIoU.
#
# Run: `python lessons/22_crf_refinement.py` (about a minute; `--fast`: a few seconds, barely
# trained).
# As a notebook: `python lessons/make_notebooks.py 22`, then open `lessons/notebooks/22_*.ipynb`.

# %%
import time

import minisegnet as ms
import minisegnet.functional as F
from minisegnet import metrics
from minisegnet.crf import dense_crf
from minisegnet.data import load_dataset
from minisegnet.train import train

from _common import *  # noqa: F403  (numpy as np, check, show, section, save_figure, ...)
from exercises import try_it_yourself

# %% [markdown]
# ## 0. Train a DeepLab v1 briefly
#
# The trainer's shared defaults (`minisegnet train --no-recipe --model deeplabv1`; the Python
# `train()` does not apply the recipes): width 8, depth 3, 32x32 `shapes` images (4 classes),
# 1200 training images, 12 epochs of Adam (about 25 s on two cores). The network alone reaches
# about 0.6 val mIoU: its 4x4 score map cannot draw a 32x32 triangle's corners.

# %%
section("0. A briefly trained DeepLab v1 (output stride 8)")
t0 = time.perf_counter()
N_VAL = 16 if FAST else 100
result = train(model="deeplabv1", width=8, size=32, n_train=48 if FAST else 1200, n_val=N_VAL,
               n_test=0, epochs=1 if FAST else 12, out=str(FIGURES / "22_run"), quiet=True,
               plots=False)
net = result.model.eval()
val_set = load_dataset("shapes", "val", n=N_VAL, size=32, seed=0)    # the run's validation split
print(f"trained in {time.perf_counter() - t0:.1f} s: val mIoU {result.val['miou']:.3f}")
with ms.no_grad():
    logits = net(ms.Tensor(val_set.images)).data.astype(np.float64)
probs = F.softmax(ms.Tensor(logits), axis=1).numpy()
images = val_set.images.astype(np.float64)           # colours in [0, 1], as dense_crf expects
print(f"score map of the network: {(32 // 8)}x{(32 // 8)}, upsampled bilinearly to 32x32")

# %% [markdown]
# ## 1. One mean-field step for one pixel, by hand
#
# For pixel i: the message m_i(l) = sum_{j != i} k(i, j) Q_j(l); with Potts, the penalty of label
# l is sum_{l' != l} m_i(l'); then Q_i = softmax(log P_i - penalty). The sum runs over all 1024
# pixels of the image -- a *fully connected* CRF.

# %%
section("1. One mean-field iteration at one pixel, by hand vs dense_crf")
w1, w2, ta, tb, tg = 3.0, 1.0, 5.0, 0.1, 1.0                 # dense_crf's defaults
n = 0
P, img = probs[n], images[n]
entropy = -(P * np.log(P)).sum(axis=0)
r, c = np.unravel_index(entropy.argmax(), entropy.shape)      # the network's least sure pixel
print(f"pixel (row {r}, column {c}) of validation image {n}, where the network is least sure")
rows, cols = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
d_pos = (rows - r) ** 2 + (cols - c) ** 2                     # |p_i - p_j|^2 for every j
d_col = ((img - img[:, r, c, None, None]) ** 2).sum(axis=0)   # |I_i - I_j|^2
kern = w1 * np.exp(-d_pos / (2 * ta ** 2) - d_col / (2 * tb ** 2)) \
    + w2 * np.exp(-d_pos / (2 * tg ** 2))
kern[r, c] = 0.0                                              # j != i
message = (kern[None] * P).sum(axis=(1, 2))                   # m_i(l), one value per class
penalty = message.sum() - message                             # Potts: sum over l' != l
z = np.log(P[:, r, c]) - penalty
q_hand = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
show("P at the pixel (the network)", P[:, r, c])
show("message m_i(l)", message)
check("Q after one iteration: by hand vs dense_crf", dense_crf(P, img, iterations=1)[:, r, c],
      q_hand, atol=1e-10, ref="by hand")
check("0 iterations returns the network's probabilities", np.abs(dense_crf(P, img, 0) - P).max(),
      0.0, atol=1e-12, ref="identity")
check("no pairwise term (w1 = w2 = 0): 10 iterations change nothing",
      np.abs(dense_crf(P, img, 10, w1=0.0, w2=0.0) - P).max(), 0.0, atol=1e-12, ref="identity")

# %% [markdown]
# ## 2. The coarse map and the CRF's map after 1, 3, 5, 10 iterations

# %%
section("2. Coarse map vs 1, 3, 5, 10 mean-field iterations (figure)")
ITERS = (1, 3, 5, 10)
shown = [0, 1, 2, 3]
refined = {t: dense_crf(probs[shown], images[shown], iterations=t) for t in ITERS}
for t in ITERS:
    check(f"{t:>2} iterations: probabilities sum to 1", refined[t].sum(axis=1),
          np.ones((len(shown), 32, 32)), atol=1e-9, ref="identity")
fig, axes = plt.subplots(len(shown), 3 + len(ITERS), figsize=(12, 1.9 * len(shown)))
for row, i in enumerate(shown):
    panels = [("image", images[i].transpose(1, 2, 0)), ("truth", val_set.masks[i]),
              ("DeepLab v1", probs[i].argmax(0))]
    panels += [(f"CRF, {t} it.", refined[t][row].argmax(0)) for t in ITERS]
    for ax, (title, a) in zip(axes[row], panels):
        ax.imshow(a, vmin=0, vmax=3, cmap=None if a.ndim == 3 else "viridis")
        ax.set_title(title if row == 0 else "", fontsize=9)
        ax.axis("off")
save_figure(fig, "22_crf_iterations")

# %% [markdown]
# ## 3. Boundary accuracy on the validation set
#
# A pixel is a **boundary pixel** if a pixel of another class lies within 2 pixels of it (a square
# neighbourhood, in the ground truth). The network's blobs are wrong mostly there; the CRF's
# bilateral kernel follows colour edges, so it should fix those pixels.

# %%
section("3. Accuracy near class boundaries, without and with the CRF (validation set)")


def boundary_band(masks: np.ndarray, radius: int = 2) -> np.ndarray:
    """True where a pixel of another class lies within ``radius`` (square window)."""
    pad = np.pad(masks, ((0, 0), (radius, radius), (radius, radius)), mode="edge")
    band = np.zeros(masks.shape, bool)
    h, w = masks.shape[1:]
    for dy in range(2 * radius + 1):              # a loop over the 25 offsets, not over pixels
        for dx in range(2 * radius + 1):
            band |= pad[:, dy:dy + h, dx:dx + w] != masks
    return band


band = boundary_band(val_set.masks)
print(f"boundary pixels: {band.mean():.1%} of the validation pixels")
t0 = time.perf_counter()
crf5 = dense_crf(probs, images, iterations=5, chunk_elements=2 ** 20)
ms_per_image = 1000 * (time.perf_counter() - t0) / len(probs)
scores = {}
for name, pred in (("DeepLab v1", probs.argmax(1)), ("+ CRF (5 it.)", crf5.argmax(1))):
    right = pred == val_set.masks
    cm = metrics.ConfusionMatrix(4)
    cm.update(np.eye(4)[pred].transpose(0, 3, 1, 2), val_set.masks)
    scores[name] = (right[band].mean(), right[~band].mean(), cm.mean_iou())
    print(f"{name:<14} boundary accuracy {scores[name][0]:.3f}   elsewhere "
          f"{scores[name][1]:.3f}   mIoU {scores[name][2]:.3f}")
print(f"the CRF costs {ms_per_image:.0f} ms per 32x32 image here (exact pairwise sums)")
(b0, e0, m0), (b1, e1, m1) = scores["DeepLab v1"], scores["+ CRF (5 it.)"]
if not FAST:
    # after 10 epochs the network's blobs are smooth and the CRF's gain is large on any machine
    # (boundary accuracy about +0.15 and mIoU about +0.15 here): assert a fraction of it
    assert b1 > b0 + 0.03, (b0, b1)
    assert m1 > m0 + 0.03, (m0, m1)
else:
    print("(fast mode: the network is barely trained; the gain is not checked)")

# %%
try_it_yourself("22")

print("\nLesson 22 complete: the fully connected CRF snaps DeepLab v1's coarse map to the edges.")
