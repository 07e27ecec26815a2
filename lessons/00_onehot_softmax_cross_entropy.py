# %% [markdown]
# # Lesson 00 - one-hot targets, softmax, argmax labels and pixel-wise cross entropy
#
# Deck 000 ("Semantic Segmentation III"), with the same pixel-wise loss on deck 003.
#
# A segmentation network outputs, for every pixel, one number per class. Training compares those
# numbers with the ground truth written as **one-hot vectors**; prediction turns them into
# probabilities with **softmax** and into a label map with **argmax**. The loss that ties them
# together is the **pixel-wise cross entropy**.
#
# Run: `python lessons/00_onehot_softmax_cross_entropy.py` (add `--show` to open the figure).
# As a notebook: `python lessons/make_notebooks.py 00`, then open `lessons/notebooks/00_*.ipynb`.

# %%
import minisegnet as ms
import minisegnet.functional as F
from minisegnet import losses

from _common import *  # noqa: F403  (numpy as np, check, show, section, save_figure, ...)
from exercises import try_it_yourself

# %% [markdown]
# ## 1. Ground truth as one-hot planes
#
# The slide's example: a 4x4 output, 4 classes. The deck lists the classes in two orders on two
# slides (car/horse/man/cat and car/man/horse/cat). **This lesson fixes the order
# car, horse, man, cat** (class index 0, 1, 2, 3) for every example below.
#
# On the slide car=1 at (0,0), man=1 at (1,1), horse=1 at (2,0), cat=1 at (3,3) and every other
# entry of every plane is 0. (The other 12 pixels belong to none of the four classes on that slide:
# their one-hot vector is all zeros. A real data set would give them a "background" class.)

# %%
section("1. One-hot ground truth (4x4 output, classes car/horse/man/cat)")
CLASSES = ["car", "horse", "man", "cat"]
NO_CLASS = -1
labels = np.full((4, 4), NO_CLASS)
labels[0, 0] = CLASSES.index("car")
labels[1, 1] = CLASSES.index("man")
labels[2, 0] = CLASSES.index("horse")
labels[3, 3] = CLASSES.index("cat")
show("label map (-1 = none of the four classes)", labels)

# one plane per class: plane i is 1 where the label is i. Written with minisegnet's comparison
# operators: a (4, 1, 1) column of class indices broadcast against the (4, 4) label map.
label_t = ms.Tensor(labels.astype(np.float32))
class_ids = ms.Tensor(np.arange(4, dtype=np.float32).reshape(4, 1, 1))
onehot = (label_t == class_ids).astype(np.float32)  # (4 classes, 4, 4)
for i, name in enumerate(CLASSES):
    show(f"plane {i} ({name})", onehot[i])

# the slide's planes, copied as literals
expected_planes = {
    "car":   [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    "horse": [[0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]],
    "man":   [[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    "cat":   [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]],
}
for i, name in enumerate(CLASSES):
    check(f"one-hot plane '{name}'", onehot[i], expected_planes[name])
# every pixel's vector has at most one 1
check("ones per pixel (sum over the class axis)", onehot.sum(axis=0),
      [[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]])

# %% [markdown]
# ## 2. Softmax turns activations into probabilities; argmax gives the label
#
# softmax(z)_i = e^{z_i} / sum_j e^{z_j}, taken over the **class axis** (axis 1 of an (N, C, H, W)
# output). The slide's pixel has probabilities car 0.05, man 0.25, horse 0.6, cat 0.1 (printed in
# the order car/man/horse/cat). In this lesson's order (car, horse, man, cat) that is
# (0.05, 0.6, 0.25, 0.1). Any activations whose softmax is this vector will do; we take
# z = ln(p) + 1.7 (adding a constant to every activation does not change softmax).

# %%
section("2. Softmax and argmax on the slide's pixel")
p_slide = np.array([0.05, 0.6, 0.25, 0.1], dtype=np.float32)  # car, horse, man, cat
z = ms.Tensor((np.log(p_slide) + 1.7).reshape(1, 4, 1, 1))  # (N=1, C=4, H=1, W=1)
show("activations z (car, horse, man, cat)", z.numpy().ravel())
q = F.softmax(z, axis=1)
check("softmax(z) over the class axis", q.numpy().ravel(), [0.05, 0.6, 0.25, 0.1], atol=1e-6)
k = int(F.argmax(q, axis=1).numpy().ravel()[0])
print(f"argmax = class {k} = {CLASSES[k]!r}  (the slide labels this pixel 'horse')")
assert CLASSES[k] == "horse"

# the same pixel in the slide's other order (car, man, horse, cat): the index changes, the name not
order2 = ["car", "man", "horse", "cat"]
k2 = int(np.argmax([0.05, 0.25, 0.6, 0.1]))
print(f"in the order {order2}: argmax = index {k2} = {order2[k2]!r}")
assert order2[k2] == "horse"
print("slide note: deck 000 lists the classes as car/horse/man/cat on one slide and car/man/horse/cat\n"
      "  on another; the class index of a pixel depends on that order (horse is index 1 or 2), its\n"
      "  name does not. This lesson fixes car, horse, man, cat.")

# a whole label map: softmax + argmax over a (1, 4, 4, 4) activation volume
rng = np.random.default_rng(0)
acts = ms.Tensor(rng.normal(size=(1, 4, 4, 4)).astype(np.float32))
probs = F.softmax(acts, axis=1)
check("probabilities sum to 1 at every pixel", probs.sum(axis=1)[0], np.ones((4, 4)), atol=1e-6,
      ref="expected")
show("label map = argmax over classes", F.argmax(probs, axis=1)[0])
check("argmax of softmax == argmax of the activations",
      F.argmax(probs, axis=1), np.argmax(acts.numpy(), axis=1), atol=0, ref="numpy.argmax")

# %% [markdown]
# ## 3. Pixel-wise cross entropy
#
# L = -(1/N) sum_{pixels (x,y)} sum_{classes i} p_i(x,y) ln q_i(x,y)
#
# with p the one-hot target, q the softmax output and N the number of pixels. Since p is one-hot,
# each pixel contributes -ln(probability given to its true class). The slide's worked pixel:
# target (0,1,0,0), prediction (0.2,0.3,0.4,0.1) -> -ln 0.3 = 1.2040 (natural log).

# %%
section("3. Cross entropy of the slide's worked pixel")
p = ms.Tensor([0.0, 1.0, 0.0, 0.0])
qp = ms.Tensor([0.2, 0.3, 0.4, 0.1])
terms = -(p * F.log(qp))
show("-p_i ln q_i for each class", terms)
ce_pixel = terms.sum()
check("cross entropy of the pixel", ce_pixel.item(), 1.2040, atol=5e-5, ref="derived from the slide")

# %% [markdown]
# The same number from minisegnet's loss, which takes **activations (logits)** and a map of class
# indices: the activations ln q have softmax q, so `cross_entropy(ln q, 1)` is -ln 0.3 again.

# %%
logits = F.log(qp).reshape(1, 4, 1, 1)
target = np.array([[[1]]])
check("losses.cross_entropy(ln q, class 1)", losses.cross_entropy(logits, target).item(),
      1.2040, atol=5e-5)

# %% [markdown]
# ## 4. Averaging over the pixels of a map
#
# Over a whole map the loss is the mean of the per-pixel values. We check the vectorised engine
# formula (one line of tensor ops) against a plain Python loop over pixels written exactly as the
# definition reads.

# %%
section("4. Pixel-wise cross entropy over a 4x4 map")
full_labels = np.array([[0, 0, 1, 1], [0, 2, 2, 1], [1, 1, 3, 3], [1, 1, 3, 3]])
target_onehot = ms.Tensor((full_labels[None] == np.arange(4)[:, None, None]).astype(np.float32)[None])
q_map = F.softmax(acts, axis=1)  # (1, 4, 4, 4)
L = -(target_onehot * F.log(q_map)).sum(axis=1).mean()
qn = q_map.numpy()[0]
loop = 0.0
for y in range(4):
    for x in range(4):
        for i in range(4):
            pi = 1.0 if full_labels[y, x] == i else 0.0
            loop -= pi * np.log(qn[i, y, x])
loop /= 16
show("label map", full_labels)
check("L (vectorised) vs the loop over pixels", L.item(), loop, atol=1e-5, ref="loop")
check("losses.cross_entropy on the map", losses.cross_entropy(acts, full_labels[None]).item(),
      loop, atol=1e-5, ref="loop")

# %% [markdown]
# ## 5. Why not the sum of squared errors?
#
# The deck names SSE, sum_i (p_i - q_i)^2, as the weaker alternative. Two things show why.
# First the worked pixel: SSE = 0.2^2 + 0.7^2 + 0.4^2 + 0.1^2 = 0.70. Second, and decisive, the
# **gradient** with respect to the activation of the true class when the network is confidently
# wrong: cross entropy pushes with force ~1 (its gradient is q - p), SSE through the softmax almost
# not at all, so learning stalls exactly where it is most needed.

# %%
section("5. Cross entropy vs sum of squared errors")
sse = ((p - qp) ** 2).sum()
check("SSE of the worked pixel", sse.item(), 0.70, atol=1e-6, ref="derived from the slide")
check("losses.sse_loss", losses.sse_loss(qp.reshape(1, 4), p.reshape(1, 4)).item(), 0.70, atol=1e-6,
      ref="derived from the slide")

rows = []
for q_true in [0.3, 0.1, 0.01, 0.001]:
    rest = (1 - q_true) / 3
    zz = ms.Tensor(np.log(np.array([rest, q_true, rest, rest])).astype(np.float64), requires_grad=True)
    ce = -(p.astype(np.float64) * F.log(F.softmax(zz, axis=0))).sum()
    ce.backward()
    g_ce = zz.grad.numpy()[1]
    zz2 = ms.Tensor(zz.numpy(), requires_grad=True)
    se = ((p.astype(np.float64) - F.softmax(zz2, axis=0)) ** 2).sum()
    se.backward()
    g_se = zz2.grad.numpy()[1]
    rows.append((q_true, ce.item(), g_ce, se.item(), g_se))
    # cross entropy's gradient is exactly q - p
    assert abs(g_ce - (q_true - 1)) < 1e-9
print(" q(true class)   CE loss   dCE/dz_true   SSE loss   dSSE/dz_true")
for q_true, ce_v, g1, se_v, g2 in rows:
    print(f"   {q_true:8.3f}   {ce_v:7.4f}   {g1:11.4f}   {se_v:8.4f}   {g2:12.4f}")
assert abs(rows[-1][4]) < 0.01 < abs(rows[-1][2])  # SSE has (almost) no gradient when very wrong
print(f"When the true class gets only 0.001, CE's gradient is {rows[-1][2]:.4f} "
      f"but SSE's is only {rows[-1][4]:.4f}: SSE barely corrects a confident mistake.")

fig, (ax, axg) = plt.subplots(1, 2, figsize=(10.5, 3.6))
qs = np.linspace(0.001, 0.999, 300)
ax.plot(qs, -np.log(qs), label="cross entropy  -ln q")
ax.plot(qs, (1 - qs) ** 2 + 3 * ((1 - qs) / 3) ** 2, label="sum of squared errors")
ax.set_xlabel("probability q given to the true class")
ax.set_ylabel("loss of one pixel")
ax.axvline(0.3, color="gray", lw=0.8, ls=":")
ax.annotate("slide: -ln 0.3 = 1.2040", (0.3, 1.204), xytext=(0.4, 2.5), arrowprops={"arrowstyle": "->"})
ax.legend()
ax.set_title("Deck 000: pixel-wise losses")
# the gradients the text is about, by autograd: one column per q, the true class is row 1
rest_q = (1 - qs) / 3
Z = ms.Tensor(np.log(np.stack([rest_q, qs, rest_q, rest_q])), requires_grad=True)
(-F.log(F.softmax(Z, axis=0))[1]).sum().backward()
grad_ce = as_numpy(Z.grad)[1]
Z2 = ms.Tensor(np.log(np.stack([rest_q, qs, rest_q, rest_q])), requires_grad=True)
((ms.Tensor(np.eye(4)[:, 1:2]) - F.softmax(Z2, axis=0)) ** 2).sum().backward()
grad_se = as_numpy(Z2.grad)[1]
check("d CE / d z_true = q - 1 at every q", grad_ce, qs - 1, atol=1e-9, ref="q - p")
axg.plot(qs, -grad_ce, label="cross entropy")
axg.plot(qs, -grad_se, label="sum of squared errors")
axg.set_xlabel("probability q given to the true class")
axg.set_ylabel("push on the true class: -dL/dz_true")
axg.set_title("the gradients (autograd): SSE stalls when q -> 0")
axg.legend()
fig.tight_layout()
save_figure(fig, "00_cross_entropy_vs_sse")

try_it_yourself("00")

print("\nLesson 00 complete: one-hot, softmax, argmax and cross entropy match the slides.")
