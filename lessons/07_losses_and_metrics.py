# %% [markdown]
# # Lesson 07 - every loss and metric, with the worked numbers
#
# Decks 000 (pixel-wise cross entropy), 003 (pixel-wise loss, IoU by rounding and per-class
# Jaccard) and 004 (the binary losses CE, WCE, BCE, focal, Dice, Tversky; Dice and IoU).
#
# Losses (`minisegnet.losses`) are differentiable and train the network; metrics
# (`minisegnet.metrics`) count pixels and judge it. Each formula below is written once in plain
# NumPy, next to the minisegnet call, and the two are compared; where the deck prints a number
# it is compared too.
#
# Run: `python lessons/07_losses_and_metrics.py` (add `--show` to open the loss-curve figure).
# As a notebook: `python lessons/make_notebooks.py 07`, then open `lessons/notebooks/07_*.ipynb`.

# %%
import minisegnet as ms
from minisegnet import losses, metrics

from _common import *  # noqa: F403
from exercises import try_it_yourself

# %% [markdown]
# ## 1. Multi-class: pixel-wise cross entropy (decks 000 and 003)
#
# L = -(1/N) sum_pixels sum_i p_i ln q_i, with q = softmax(logits). minisegnet's
# `cross_entropy` takes logits and integer labels (like PyTorch). The worked pixel: target class 1
# of 4, prediction (0.2, 0.3, 0.4, 0.1) -> -ln 0.3 = 1.2040. Deck 003 writes the same loss as
# -sum_classes y_true log y_pred, averaged over pixels.

# %%
section("1. Pixel-wise cross entropy")
q = np.array([0.2, 0.3, 0.4, 0.1])
ce = losses.cross_entropy(ms.Tensor(np.log(q).reshape(1, 4, 1, 1)), np.array([[[1]]]))
check("cross_entropy, deck 000's pixel", ce.item(), 1.2040, atol=5e-5, ref="derived from the slide")

# three more pixels (a 1x4 image): the mean of the per-pixel -ln q_true
probs = np.array([[0.2, 0.3, 0.4, 0.1], [0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25],
                  [0.05, 0.05, 0.05, 0.85]])  # pixel x class
labels = np.array([1, 0, 2, 3])
per_pixel = -np.log(probs[np.arange(4), labels])
logits = ms.Tensor(np.log(probs).T[None, :, None, :])  # (N=1, K=4, H=1, W=4)
show("-ln q_true per pixel", per_pixel)
check("cross_entropy (mean over 4 pixels)", losses.cross_entropy(logits, labels[None, None]).item(),
      per_pixel.mean(), ref="numpy")

# %% [markdown]
# ## 2. The binary losses of deck 004
#
# One channel, ground truth p in {0, 1}, predicted probability p̂ (after a sigmoid):
#
#     CE  = -(p ln p̂ + (1-p) ln(1-p̂))
#     WCE = -(β p ln p̂ + (1-p) ln(1-p̂))                     weights the positives
#     BCE = -(β p ln p̂ + (1-β)(1-p) ln(1-p̂))                "balanced": weights negatives too
#     FL  = -(α (1-p̂)^γ p ln p̂ + (1-α) p̂^γ (1-p) ln(1-p̂))   focal: down-weights easy pixels
#
# The deck prints no number for these, so we evaluate them on its Dice example (section 3):
# the 4x4 probability map whose bottom half is the target.

# %%
section("2. CE, WCE, BCE and focal loss on deck 004's 4x4 example")
P_HAT = np.array([[0.01, 0.03, 0.02, 0.02],
                  [0.05, 0.12, 0.09, 0.07],
                  [0.89, 0.85, 0.88, 0.91],
                  [0.99, 0.97, 0.95, 0.97]])
P = np.zeros((4, 4))
P[2:] = 1  # target: bottom two rows
pt, tt = ms.Tensor(P_HAT[None, None]), P[None, None]
beta, alpha, gamma = 2.0, 0.25, 2.0
ln, ln1 = np.log(P_HAT), np.log(1 - P_HAT)
formulas = {
    "CE":  -(P * ln + (1 - P) * ln1),
    "WCE": -(beta * P * ln + (1 - P) * ln1),
    "BCE": -(0.75 * P * ln + 0.25 * (1 - P) * ln1),
    "FL":  -(alpha * (1 - P_HAT) ** gamma * P * ln + (1 - alpha) * P_HAT ** gamma * (1 - P) * ln1),
}
engine = {
    "CE":  losses.binary_cross_entropy(pt, tt),
    "WCE": losses.weighted_binary_cross_entropy(pt, tt, beta=beta),
    "BCE": losses.balanced_binary_cross_entropy(pt, tt, beta=0.75),
    "FL":  losses.focal_loss(pt, tt, alpha=alpha, gamma=gamma),
}
params = {"CE": "", "WCE": f"(beta={beta:g})", "BCE": "(beta=0.75)",
          "FL": f"(alpha={alpha}, gamma={gamma:g})"}
for name in formulas:
    check(f"{name} {params[name]} mean over pixels", engine[name].item(), formulas[name].mean(),
          atol=1e-6, ref="formula")
show("CE per pixel", formulas["CE"])
show("FL per pixel (easy pixels almost vanish)", formulas["FL"], decimals=6)

# %% [markdown]
# Special cases that tie the family together: WCE with β = 1 is CE; BCE with β = 1/2 is CE / 2;
# focal with γ = 0, α = 1/2 is CE / 2. With logits instead of probabilities (`from_logits=True`)
# the same losses are computed in a numerically stable log-sigmoid form.

# %%
ce_v = engine["CE"].item()
check("WCE(beta=1) = CE", losses.weighted_binary_cross_entropy(pt, tt, beta=1.0).item(), ce_v, ref="CE")
check("BCE(beta=1/2) = CE/2", losses.balanced_binary_cross_entropy(pt, tt, beta=0.5).item(), ce_v / 2,
      ref="CE/2")
check("FL(gamma=0, alpha=1/2) = CE/2", losses.focal_loss(pt, tt, alpha=0.5, gamma=0.0).item(), ce_v / 2,
      ref="CE/2")
z = ms.Tensor(np.log(P_HAT / (1 - P_HAT))[None, None])  # logits whose sigmoid is P_HAT
check("CE from logits", losses.binary_cross_entropy(z, tt, from_logits=True).item(), ce_v, ref="CE")

# %% [markdown]
# Which pixels does WCE's β weight? The one whose term β p ln p̂ survives, i.e. the pixels with
# p = 1. Deck 004 defines p as P(Y = 0) and in the same breath says WCE "weights positives":
# with p = P(Y = 0) the β term would weight the class-0 (negative) pixels. minisegnet takes p as
# the ground truth of the positive class (p = 1 on the object), for which "weights positives"
# holds. Measured: WCE's loss on a positive and on a negative pixel, both predicted 0.5.

# %%
one_pos = losses.weighted_binary_cross_entropy(ms.Tensor([[[[0.5]]]]), np.ones((1, 1, 1, 1)), beta=beta)
one_neg = losses.weighted_binary_cross_entropy(ms.Tensor([[[[0.5]]]]), np.zeros((1, 1, 1, 1)), beta=beta)
print(f"WCE(beta={beta:g}), prediction 0.5: positive pixel (p = 1) {one_pos.item():.4f}, "
      f"negative pixel (p = 0) {one_neg.item():.4f}")
check("positive pixel / negative pixel = beta", one_pos.item() / one_neg.item(), beta,
      atol=1e-6, ref="beta")
print("slide note: deck 004 defines p as P(Y = 0) but says WCE 'weights positives': with that p,\n"
      "  beta would weight the negatives. minisegnet (and this lesson) takes p = 1 on the positive\n"
      "  (object) pixels, for which beta weights the positives, as measured above.")

# %% [markdown]
# ## 3. Dice coefficient and Dice loss (deck 004's worked example)
#
# Soft Dice: |A ∩ B| = sum p̂ p = 7.41, |A| = sum p̂ = 7.82, |B| = sum p = 8, so
# DC = 2 * 7.41 / (7.82 + 8) = 14.82 / 15.82 = 0.9368. The optional squared variant uses
# |A| = sum p̂^2 = 6.9132 (and |B| = sum p^2 = 8): DC = 14.82 / 14.9132 = 0.9938.
# The Dice loss of the deck adds 1 (smoothing): DL = 1 - (2 sum p p̂ + 1) / (sum p + sum p̂ + 1).

# %%
section("3. Dice: the worked example")
show("prediction p̂", P_HAT, decimals=2)
show("target p", P)
check("|A ∩ B| = sum p̂ p", (P_HAT * P).sum(), 7.41, atol=1e-9, by="numpy")
check("|A| = sum p̂", P_HAT.sum(), 7.82, atol=1e-9, by="numpy")
check("|A| squared = sum p̂^2", (P_HAT ** 2).sum(), 6.9132, atol=1e-9, by="numpy")
check("|B| = sum p", P.sum(), 8, by="numpy")
check("Dice coefficient", metrics.dice_coefficient(P_HAT, P), 0.9368, atol=5e-5, ref="derived from the slide")
check("Dice coefficient, squared sums", metrics.dice_coefficient(P_HAT, P, squared=True), 0.9938,
      atol=5e-5, ref="derived from the slide")
check("Dice loss (+1 smoothing) = 1 - 15.82/16.82", losses.dice_loss(pt, tt).item(), 1 - 15.82 / 16.82,
      atol=1e-6, ref="derived from the slide")
check("Dice loss without smoothing = 1 - 0.9368", losses.dice_loss(pt, tt, smooth=0.0).item(),
      1 - 14.82 / 15.82, atol=1e-6, ref="derived from the slide")

# %% [markdown]
# Deck 002 says the Dice denominator |X| + |Y| is constant. Only |Y| = sum p is: |X| = sum p̂
# depends on the prediction, so the gradient of the Dice loss has a term from the denominator,
# and it is what pushes down the predictions on the background pixels (p = 0), where the
# numerator 2 sum p p̂ has no gradient at all. Autograd shows both parts.

# %%
p_hat = ms.Tensor(P_HAT[None, None], requires_grad=True)
losses.dice_loss(p_hat, tt, smooth=0.0).backward()
g_dice = as_numpy(p_hat.grad)[0, 0]
D, I = P_HAT.sum() + P.sum(), (P_HAT * P).sum()
grad_if_constant = -2 * P / D + 0.0                # d/dp̂ of 1 - 2 I / D with D held fixed
grad_exact = -2 * P / D + 2 * I / D ** 2           # + the denominator's term 2 I / D^2
check("d(Dice loss)/dp̂ by autograd vs -2p/D + 2I/D^2", g_dice, grad_exact, atol=1e-7,
      ref="formula")
print(f"on a background pixel (p = 0): autograd {g_dice[0, 0]:.4f}, "
      f"'constant denominator' {grad_if_constant[0, 0]:.4f}")
assert g_dice[0, 0] > 0.05 and grad_if_constant[0, 0] == 0
print("slide note: deck 002 calls the Dice denominator |X| + |Y| constant; |X| = sum p̂ depends on\n"
      "  the prediction, and its gradient term 2 I / D^2 is the only push on background pixels.")

# %% [markdown]
# ## 4. Tversky: β = 1/2 gives Dice
#
# TI = p p̂ / (p p̂ + β (1-p) p̂ + (1-β) p (1-p̂)) (sums over pixels): β weights the false
# positives, 1 - β the false negatives. TP = sum p p̂ = 7.41, FP = sum (1-p) p̂ = 0.41,
# FN = sum p (1-p̂) = 0.59. With β = 1/2, TI = TP / (TP + (FP + FN)/2) = 2TP / (2TP + FP + FN),
# which is Dice.

# %%
section("4. Tversky index")
TP, FP, FN = (P * P_HAT).sum(), ((1 - P) * P_HAT).sum(), (P * (1 - P_HAT)).sum()
print(f"TP = {TP:.2f}, FP = {FP:.2f}, FN = {FN:.2f}")
for b in (0.5, 0.3, 0.7):
    ti = TP / (TP + b * FP + (1 - b) * FN)
    check(f"Tversky loss beta={b} (no smoothing)", losses.tversky_loss(pt, tt, beta=b, smooth=0.0).item(),
          1 - ti, atol=1e-6, ref="formula")
check("Tversky(beta=1/2) = Dice loss", losses.tversky_loss(pt, tt, beta=0.5).item(),
      losses.dice_loss(pt, tt).item(), atol=1e-7, ref="dice_loss")

# %% [markdown]
# ## 5. IoU: round the probabilities, count pixels (deck 003)
#
# A = the rounded prediction, B = the target mask:
# A = [[1,1,0,1],[1,1,1,1],[0,1,1,1],[0,0,0,0]], B = [[0,0,0,0],[0,1,1,0],[0,1,0,0],[0,0,1,0]].
# |A ∩ B| = 3, |A ∪ B| = 11, IoU = 3/11 = 0.27.

# %%
section("5. IoU = |A ∩ B| / |A ∪ B|")
A_PROB = np.array([[0.9, 0.8, 0.2, 0.7],   # a probability map that rounds to the deck's A
                   [0.6, 0.9, 0.8, 0.6],
                   [0.1, 0.7, 0.9, 0.55],
                   [0.3, 0.2, 0.4, 0.1]])
A = np.round(A_PROB).astype(int)
B = np.array([[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
check("A = round(probabilities)", A, [[1, 1, 0, 1], [1, 1, 1, 1], [0, 1, 1, 1], [0, 0, 0, 0]], by="numpy")
show("A ∩ B", A & B)
show("A ∪ B", A | B)
check("|A ∩ B|", (A & B).sum(), 3, by="numpy")
check("|A ∪ B|", (A | B).sum(), 11, by="numpy")
check("metrics.iou(probabilities, B)", metrics.iou(A_PROB, B), 3 / 11, ref="lecture, 3/11")
print(f"  = {metrics.iou(A_PROB, B):.2f} as printed on the slide")
check("IoU = TP / (TP + FP + FN)", 3 / (3 + 7 + 1), 3 / 11, ref="3/11", by="arithmetic")

# %% [markdown]
# ## 6. Per-class Jaccard, averaged over the classes (mIoU)
#
# Deck 003 evaluates multi-class output per class and averages. The confusion matrix C[i, j]
# counts pixels of true class i predicted as j; IoU_c = C[c,c] / (row_c + column_c - C[c,c]).
# With the two masks above as a 2-class problem (0 = background, 1 = object):

# %%
section("6. Per-class IoU and mean IoU")
cm = ms.backend.asnumpy(metrics.confusion_matrix(A[None], B[None], num_classes=2))
show("confusion matrix (rows = target B, columns = prediction A)", cm)
check("confusion matrix", cm, [[5, 7], [1, 3]], ref="by hand")
per_class = metrics.per_class_iou(A[None], B[None], num_classes=2)
check("IoU per class (background, object)", per_class, [5 / 13, 3 / 11], ref="by hand")
check("mean IoU", metrics.mean_iou(A[None], B[None], num_classes=2), (5 / 13 + 3 / 11) / 2, ref="by hand")
check("pixel accuracy (5 + 3 correct of 16)", metrics.pixel_accuracy(A[None], B[None]), 8 / 16,
      ref="by hand")

# a 3-class example, computed from the definition with a loop over classes
pred3 = np.array([[0, 0, 1, 1], [0, 2, 2, 1], [2, 2, 2, 1], [0, 0, 1, 1]])
true3 = np.array([[0, 0, 1, 1], [0, 0, 2, 1], [2, 2, 2, 2], [0, 1, 1, 1]])
by_def = [((pred3 == c) & (true3 == c)).sum() / ((pred3 == c) | (true3 == c)).sum() for c in range(3)]
check("3 classes: per-class IoU", metrics.per_class_iou(pred3[None], true3[None], 3), by_def,
      ref="definition")
check("3 classes: mean IoU", metrics.mean_iou(pred3[None], true3[None], 3), np.mean(by_def),
      ref="definition")

# %% [markdown]
# ## 7. Hard Dice vs IoU on masks
#
# On 0/1 masks Dice = 2 IoU / (1 + IoU): the two always rank predictions the same way.

# %%
section("7. Dice and IoU on the masks of section 5")
dice = metrics.dice_coefficient(A, B)
check("hard Dice = 2*3 / (10 + 4)", dice, 6 / 14, ref="by hand")
check("Dice = 2 IoU / (1 + IoU)", dice, 2 * (3 / 11) / (1 + 3 / 11), ref="from IoU")

# %% [markdown]
# ## 8. The losses as functions of p̂ (figure)
#
# For a positive pixel (p = 1): CE = -ln p̂; WCE multiplies it by β; focal multiplies it by
# α (1 - p̂)^γ, which is tiny for easy pixels (p̂ near 1) and keeps hard ones. The gradients,
# computed by autograd and plotted beside the losses, show the same: focal loss hardly pushes on
# pixels already right.

# %%
section("8. Figure: binary losses for a positive pixel")
grid = np.linspace(0.01, 0.99, 99)
gp = ms.Tensor(grid)
ones = np.ones_like(grid)
curves = {
    "CE": losses.binary_cross_entropy(gp, ones, reduction="none").numpy(),
    "WCE, beta=2": losses.weighted_binary_cross_entropy(gp, ones, beta=2.0, reduction="none").numpy(),
    "BCE, beta=0.75": losses.balanced_binary_cross_entropy(gp, ones, beta=0.75, reduction="none").numpy(),
}
for g in (1, 2, 5):
    curves[f"focal, alpha=1, gamma={g}"] = losses.focal_loss(gp, ones, alpha=1.0, gamma=float(g),
                                                            reduction="none").numpy()
check("focal(gamma=2) = (1 - p̂)^2 CE", curves["focal, alpha=1, gamma=2"],
      (1 - grid) ** 2 * -np.log(grid), atol=1e-6, ref="formula")
# the gradients d loss / d p̂, by autograd (each pixel's loss depends only on its own p̂)
grads = {}
for name, fn in [("CE", lambda t: losses.binary_cross_entropy(t, ones, reduction="sum")),
                 ("focal, alpha=1, gamma=2",
                  lambda t: losses.focal_loss(t, ones, alpha=1.0, gamma=2.0, reduction="sum"))]:
    gq = ms.Tensor(grid, requires_grad=True)
    fn(gq).backward()
    grads[name] = as_numpy(gq.grad)
check("d CE / d p̂ = -1/p̂", grads["CE"], -1 / grid, atol=1e-4, ref="formula")
i_hard, i_easy = int(np.argmin(abs(grid - 0.1))), int(np.argmin(abs(grid - 0.9)))
for label, i in (("hard pixel, p̂ = 0.1", i_hard), ("easy pixel, p̂ = 0.9", i_easy)):
    print(f"{label}: d CE/dp̂ {grads['CE'][i]:8.4f}   d focal/dp̂ {grads['focal, alpha=1, gamma=2'][i]:8.4f}"
          f"   ratio {grads['focal, alpha=1, gamma=2'][i] / grads['CE'][i]:.3f}")
ratio_easy = grads["focal, alpha=1, gamma=2"][i_easy] / grads["CE"][i_easy]
ratio_hard = grads["focal, alpha=1, gamma=2"][i_hard] / grads["CE"][i_hard]
assert ratio_easy < 0.05 and ratio_hard > 1.0, (ratio_easy, ratio_hard)
print("focal loss pushes an easy pixel with under 5% of CE's force, a hard one with more")
fig, (ax, axg) = plt.subplots(1, 2, figsize=(11, 4))
for name, c in curves.items():
    ax.plot(grid, c, label=name, ls="--" if "focal" in name else "-")
ax.set_xlabel("predicted probability p̂ of the true class (p = 1)")
ax.set_ylabel("loss")
ax.set_ylim(0, 5)
ax.legend()
ax.set_title("Deck 004: CE, WCE, BCE and focal loss")
for name, g in grads.items():
    axg.plot(grid, -g, label=name, ls="--" if "focal" in name else "-")
axg.set_yscale("log")
axg.set_xlabel("predicted probability p̂ of the true class (p = 1)")
axg.set_ylabel("-d loss / d p̂ (autograd)")
axg.set_title("the push towards p̂ = 1: focal ignores easy pixels")
axg.legend()
fig.tight_layout()
save_figure(fig, "07_binary_losses")

try_it_yourself("07")

print("\nLesson 07 complete: CE 1.2040, Dice 0.9368 / 0.9938, Tversky(1/2) = Dice, IoU 3/11.")
