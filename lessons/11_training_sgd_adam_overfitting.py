# %% [markdown]
# # Lesson 11 - training: SGD and Adam, train / validation curves, overfitting
#
# Deck 001 ("Neural Networks and semantic segmentation"): stochastic gradient descent on
# mini-batches, theta <- theta - tau * (1/m) * grad sum_i loss_i, and in practice Adam
# (Kingma & Ba); a train / validation / test split; overfitting shows as the training and
# validation curves diverging.
#
# Run: `python lessons/11_training_sgd_adam_overfitting.py` (`--show` opens the figures;
# `MINISEGNET_FAST=1` shortens the training drastically).
# As a notebook: `python lessons/make_notebooks.py 11`, then open `lessons/notebooks/11_*.ipynb`.

# %%
import time

import minisegnet as ms
from minisegnet import data, losses, metrics, models, optim
from minisegnet.plots import colourize

from _common import *  # noqa: F403
from exercises import try_it_yourself

# %% [markdown]
# ## 1. One SGD step, by hand and by `optim.SGD`
#
# A tiny model y = w . x on a mini-batch of m = 4 examples with squared-error loss. The mean loss
# (1/m) sum_i loss_i is what we differentiate; SGD moves the weights against its gradient,
# scaled by the learning rate tau.

# %%
section("1. One SGD step")
X = np.array([[1.0, 2.0], [0.0, 1.0], [2.0, -1.0], [1.0, 1.0]])
t = np.array([3.0, 1.0, 1.0, 2.5])
w0 = np.array([0.5, -0.5])
tau = 0.1
w = ms.nn.Parameter(w0.copy())
loss = ((ms.Tensor(X) @ w - ms.Tensor(t)) ** 2).mean()
loss.backward()
grad_by_hand = 2 * X.T @ (X @ w0 - t) / len(t)  # d/dw of (1/m) sum (w.x_i - t_i)^2
check("gradient of the mean loss", w.grad, grad_by_hand, ref="by hand")
optim.SGD([w], lr=tau).step()
check("w after one SGD step", w, w0 - tau * grad_by_hand, ref="w - tau * grad")

# %% [markdown]
# ## 2. One Adam step, by hand and by `optim.Adam`
#
# Adam keeps running means of the gradient (m) and of its square (v), corrects their bias
# towards 0 at the start, and steps by lr * m_hat / (sqrt(v_hat) + eps): every weight gets its
# own step size. Two steps, compared with the formulas.

# %%
section("2. Two Adam steps")
lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
w = ms.nn.Parameter(w0.copy())
adam = optim.Adam([w], lr=lr, betas=(b1, b2), eps=eps)
wh, m_, v_ = w0.copy(), np.zeros(2), np.zeros(2)
for k in (1, 2):
    adam.zero_grad()
    ((ms.Tensor(X) @ w - ms.Tensor(t)) ** 2).mean().backward()
    adam.step()
    g = 2 * X.T @ (X @ wh - t) / len(t)
    m_ = b1 * m_ + (1 - b1) * g
    v_ = b2 * v_ + (1 - b2) * g ** 2
    wh = wh - lr * (m_ / (1 - b1 ** k)) / (np.sqrt(v_ / (1 - b2 ** k)) + eps)
    check(f"w after Adam step {k}", w, wh, atol=1e-6, ref="formula")
print("(the first Adam step moves every weight by about lr, whatever the gradient's size)")

# %% [markdown]
# ## 3. Train, validation and test sets
#
# The network learns from the training set; the validation set picks the settings and shows
# overfitting; the test set is looked at once, at the end. `load_splits` draws the three from
# separate random streams, so they never share an image.

# %%
section("3. Train / validation / test split of the shapes data set (32 x 32)")
sizes = (16, 16, 16) if FAST else (192, 64, 64)
splits = data.load_splits("shapes", n_train=sizes[0], n_val=sizes[1], n_test=sizes[2], size=32, seed=0)
for name, d in splits.items():
    print(f"{name:5s}: images {d.images.shape}, masks {d.masks.shape}, classes {d.class_names}")
K = splits["train"].num_classes
assert not np.array_equal(splits["train"].images[0], splits["val"].images[0])


# %% [markdown]
# ## 4. The training loop, and SGD against Adam
#
# One epoch = one pass over the shuffled training set in mini-batches: forward, loss, backward,
# step. After each epoch we measure the loss and mIoU on the validation set (in eval mode, no
# gradients). Same U-Net, same initial weights, same batches: only the optimiser changes.

# %%
def evaluate(model, dataset):
    model.eval()
    with ms.no_grad():
        logits = model(ms.Tensor(dataset.images))
        val_loss = losses.cross_entropy(logits, dataset.masks).item()
    model.train()
    pred = logits.numpy().argmax(axis=1)
    return val_loss, metrics.mean_iou(pred, dataset.masks, K), pred


def fit(model, opt, train_set, val_set, epochs, batch_size=16):
    history = []
    loader = data.DataLoader(train_set, batch_size=batch_size, shuffle=True, seed=0)
    for epoch in range(epochs):
        model.train()
        total, n = 0.0, 0
        for images, masks in loader:
            loss = losses.cross_entropy(model(images), masks)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, n = total + loss.item() * len(masks), n + len(masks)
        val_loss, val_miou, _ = evaluate(model, val_set)
        history.append((epoch + 1, total / n, val_loss, val_miou))
    return history


section("4. SGD (momentum 0.9) vs Adam on a small U-Net")
epochs = 1 if FAST else 8
runs = {}
for name in ("SGD", "Adam"):
    ms.manual_seed(0)
    net = models.UNet(in_channels=3, num_classes=K, base_width=4 if FAST else 8, depth=2)
    opt = (optim.SGD(net.parameters(), lr=0.05, momentum=0.9) if name == "SGD"
           else optim.Adam(net.parameters(), lr=3e-3))
    t0 = time.perf_counter()
    runs[name] = (net, fit(net, opt, splits["train"], splits["val"], epochs))
    print(f"\n{name} ({time.perf_counter() - t0:.1f} s):")
    print(" epoch  train loss  val loss  val mIoU")
    for e, tl, vl, vm in runs[name][1]:
        print(f" {e:5d}  {tl:10.4f}  {vl:8.4f}  {vm:8.3f}")
    assert all(np.isfinite(h[1]) for h in runs[name][1])

# %% [markdown]
# ## 5. Overfitting: a tiny training set, a network big enough to memorise it
#
# Four training images, no augmentation, a U-Net with about 30,000 weights and 300 epochs of
# Adam (one full batch per epoch): far more capacity and steps than four images need. Every 5
# epochs we measure the loss on the four training images and on 32 validation images, both in
# eval mode. The training loss falls towards 0 (the network memorises the four masks, noise
# included); the validation loss falls at first, reaches its lowest value early, then climbs
# while the training loss keeps falling: the curves diverge. The epoch with the lowest
# validation loss is where training should have stopped (early stopping).

# %%
section("5. Overfitting on 4 training images")
tiny = data.shapes(n=4, size=32, seed=123)
small_val = data.shapes(n=32, size=32, seed=1)
ms.manual_seed(1)
net_o = models.UNet(in_channels=3, num_classes=K, base_width=8, depth=2)
print(f"U-Net with {sum(p.data.size for p in net_o.parameters()):,} weights, 4 training images")
opt_o = optim.Adam(net_o.parameters(), lr=1e-2)
over_epochs, every = (20, 5) if FAST else (300, 5)
X_tiny = ms.Tensor(tiny.images)
over = []  # (epoch, train loss, validation loss), measured in eval mode
t0 = time.perf_counter()
for epoch in range(1, over_epochs + 1):
    net_o.train()
    loss = losses.cross_entropy(net_o(X_tiny), tiny.masks)
    opt_o.zero_grad()
    loss.backward()
    opt_o.step()
    if epoch % every == 0:
        over.append((epoch, evaluate(net_o, tiny)[0], evaluate(net_o, small_val)[0]))
print(f"{over_epochs} epochs in {time.perf_counter() - t0:.1f} s")
over_ep = np.array([h[0] for h in over])
train_l = np.array([h[1] for h in over])
val_l = np.array([h[2] for h in over])
best = int(np.argmin(val_l))
print(" epoch  train loss  val loss")
for i in sorted({0, best // 2, best, (best + len(over)) // 2, len(over) - 1}):
    mark = "   <- lowest validation loss" if i == best else ""
    print(f" {over_ep[i]:5d}  {train_l[i]:10.4f}  {val_l[i]:8.4f}{mark}")
print(f"from the best epoch ({over_ep[best]}) to the last ({over_ep[-1]}): training loss "
      f"x{train_l[-1] / train_l[best]:.3f}, validation loss x{val_l[-1] / val_l[best]:.2f}")

# %% [markdown]
# ## 6. Figures: the curves and the predicted masks

# %%
section("6. Figures")
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for name, (_, hist) in runs.items():
    ep = [h[0] for h in hist]
    axes[0].plot(ep, [h[1] for h in hist], "o-", label=f"{name} train")
    axes[0].plot(ep, [h[2] for h in hist], "s--", label=f"{name} validation")
    axes[1].plot(ep, [h[3] for h in hist], "o-", label=name)
axes[0].set_title("SGD vs Adam: loss")
axes[0].set_xlabel("epoch")
axes[0].legend()
axes[1].set_title("SGD vs Adam: validation mIoU")
axes[1].set_xlabel("epoch")
axes[1].legend()
axes[2].plot(over_ep, train_l, label="train (4 images)")
axes[2].plot(over_ep, val_l, label="validation")
axes[2].axvline(over_ep[best], color="gray", ls=":", label="lowest validation loss")
axes[2].set_title("overfitting: the curves diverge")
axes[2].set_xlabel("epoch")
axes[2].set_ylabel("cross-entropy loss")
axes[2].legend()
fig.suptitle("Deck 001: training and validation curves")
fig.tight_layout()
save_figure(fig, "11_training_curves")

adam_net = runs["Adam"][0]
_, test_miou, test_pred = evaluate(adam_net, splits["test"])
print(f"Adam model, test mIoU (looked at once): {test_miou:.3f}")
fig, axes = plt.subplots(3, 4, figsize=(10, 7.5))
for j in range(4):
    img = splits["test"].images[j].transpose(1, 2, 0)
    axes[0, j].imshow((img - img.min()) / (img.max() - img.min()))
    axes[1, j].imshow(colourize(splits["test"].masks[j], K))
    axes[2, j].imshow(colourize(test_pred[j], K))
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
for row, label in enumerate(("image", "truth", "prediction")):
    axes[row, 0].set_ylabel(label)
fig.suptitle(f"U-Net trained with Adam: test images (mIoU {test_miou:.2f})")
save_figure(fig, "11_predicted_masks")

# %% [markdown]
# ## 7. What the curves show, asserted
#
# The claims of sections 4 and 5, with margins far larger than anything a different CPU, BLAS
# or summation order can move (in fast mode the training is too short to show them).

# %%
section("7. What the curves show")
adam_hist = runs["Adam"][1]
print(f"Adam: training loss {adam_hist[0][1]:.4f} after epoch 1, {adam_hist[-1][1]:.4f} after "
      f"epoch {adam_hist[-1][0]}")
print(f"overfitting: lowest validation loss at epoch {over_ep[best]} of {over_ep[-1]}; after it the "
      f"training loss fell x{train_l[-1] / train_l[best]:.3f} while the validation loss rose "
      f"x{val_l[-1] / val_l[best]:.2f}")
if not FAST:
    assert adam_hist[-1][1] < 0.8 * adam_hist[0][1], "Adam's training loss should fall"
    assert over_ep[best] <= over_ep[-1] // 2, "the validation loss should be lowest early"
    assert train_l[-1] < 0.2 * train_l[best], "the training loss keeps falling after the best epoch"
    assert val_l[-1] > 1.25 * val_l[best], "the validation loss climbs after the best epoch"
    print("the training loss keeps falling while the validation loss climbs: the network\n"
          "memorises its four images instead of learning shapes (overfitting)")

try_it_yourself("11")

print("\nLesson 11 complete: SGD / Adam steps match their formulas; curves and masks drawn.")
