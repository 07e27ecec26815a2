# %% [markdown]
# # Lesson 09 - SegNet and DeconvNet: unpooling with the stored indices
#
# Deck 004 (EE4146 Lecture 13), building on lesson 04's max-unpooling (deck 002).
#
# **SegNet**: encoder = [3x3 conv + batch-norm + ReLU] x 2, then a non-overlapping 2x2 max-pool
# that **keeps its indices**; the decoder upsamples by **unpooling with those indices** (a sparse
# map) and fills it in with convolutions. No dense layers, so any input size.
# **DeconvNet**: the same encoder, VGG's dense layers as convolutions in the centre, and a
# mirror-symmetric decoder of unpooling + *deconvolution* (transposed convolution) layers.
#
# Run: `python lessons/09_segnet_deconvnet_unpooling.py` (add `--show` to open the figure).
# As a notebook: `python lessons/make_notebooks.py 09`, then open `lessons/notebooks/09_*.ipynb`.

# %%
import minisegnet as ms
import minisegnet.functional as F
from minisegnet import data, models

from _common import *  # noqa: F403
from exercises import try_it_yourself

ms.manual_seed(0)

# %% [markdown]
# ## 1. A SegNet, level by level
#
# We run a small SegNet (depth 3, width 4) on one 32x32 image from the `shapes` data set, calling
# its blocks one at a time so that we can print every shape and keep every pooling index.

# %%
section("1. SegNet forward pass, step by step")
ds = data.shapes(n=4, size=32, seed=0)
image = ms.Tensor(ds.images[:1])
net = models.SegNet(in_channels=3, num_classes=ds.num_classes, base_width=4, depth=3)
net.eval()
x = image
memory = []
with ms.no_grad():
    for level, (block, pool) in enumerate(zip(net.enc, net.pools)):
        feat = block(x)
        x, idx = pool(feat)
        memory.append((feat, x, idx))
        print(f"encoder {level}: conv block -> {tuple(feat.shape)}, max-pool -> {tuple(x.shape)}, "
              f"indices kept: {tuple(idx.shape)} (int)")
    for level, (unpool, block) in enumerate(zip(net.unpools, net.dec)):
        feat, pooled, idx = memory[-1 - level]
        sparse = unpool(x, idx, output_size=feat.shape)
        nz = float((sparse.numpy() != 0).mean())
        x = block(sparse)
        print(f"decoder {level}: unpool with encoder {len(memory) - 1 - level}'s indices -> "
              f"{tuple(sparse.shape)} ({nz:.0%} non-zero), conv block -> {tuple(x.shape)}")
        assert nz <= 0.25 + 1e-9  # at most one value per 2x2 window
    scores = net.classifier(x)
    check("the step-by-step pass equals net(image)", scores, net(image), atol=1e-5, ref="net(image)")
print(f"class scores: {tuple(scores.shape)}: one score per class and pixel, input size kept")

# %% [markdown]
# ## 2. The unpooled map holds each maximum where it came from
#
# Unpooling the *encoder's own* pooled map with its indices gives back the encoder map at the
# positions of the maxima and zeros everywhere else: the decoder knows *where* each feature was,
# which is what keeps object boundaries sharp.

# %%
section("2. unpool(pool(feature), indices) = the feature at its maxima, 0 elsewhere")
feat, pooled, idx = memory[0]
back = F.max_unpool2d(pooled, idx, 2, output_size=feat.shape).numpy()
f = feat.numpy()
windows = f.reshape(1, f.shape[1], 16, 2, 16, 2)
is_max = (windows == windows.max(axis=(3, 5), keepdims=True)).reshape(f.shape)
check("unpooled values at the maxima", back[back != 0], f[back != 0], ref="encoder map")
print(f"non-zero positions: {int((back != 0).sum())} of {back.size} "
      f"(every one is a window maximum: {bool(is_max[back != 0].all())})")
assert is_max[back != 0].all()
show("channel 0, top-left 4x4 of the encoder map", f[0, 0, :4, :4], decimals=2)
show("... after pool + unpool", back[0, 0, :4, :4], decimals=2)

# %% [markdown]
# ## 3. Why indices: fine details come back in place, nearest-neighbour upsampling smears them
#
# A thin diagonal line (at most one pixel in each 2x2 window), pooled 2x2 and brought back:
# max-unpooling puts every pixel back exactly; nearest-neighbour upsampling turns each into a
# 2x2 block. (When a window holds several equal maxima, only the first is remembered.)

# %%
section("3. Unpooling vs nearest-neighbour upsampling on a thin line")
line = np.zeros((8, 8), dtype=np.float32)
for r in range(7):
    line[r, r + 1] = 1.0
p, i = F.max_pool2d(ms.Tensor(line[None, None]), 2, return_indices=True)
unpooled = F.max_unpool2d(p, i, 2)[0, 0].numpy()
nearest = F.interpolate(p, scale_factor=2, mode="nearest")[0, 0].numpy()
show("the line", line)
check("max-unpool(pool(line))", unpooled, line, ref="the line")
show("nearest upsample(pool(line)) (the line is now 2 pixels thick)", nearest)
assert nearest.sum() == 4 * line.sum()

# %% [markdown]
# ## 4. Odd sizes: the unpooling is told the size to restore
#
# Pooling floors odd sizes (35 -> 17), so 17 -> 34 or 35 is ambiguous when going back. SegNet
# stores the encoder map's size with the indices and passes `output_size`, so any input works.

# %%
section("4. Any input size: 35x35 in, 35x35 out")
odd = ms.Tensor(np.random.default_rng(0).normal(size=(1, 3, 35, 35)).astype(np.float32))
with ms.no_grad():
    out = net(odd)
print(f"SegNet(depth=3): input {tuple(odd.shape)} -> scores {tuple(out.shape)}")
assert out.shape == (1, ds.num_classes, 35, 35)

# %% [markdown]
# ## 5. DeconvNet: a dense centre and a deconvolution decoder
#
# DeconvNet adds VGG's dense layers as convolutions between encoder and decoder: fc6 is a
# convolution without padding whose kernel equals the bottleneck size (7x7 on the 7x7 pool5 of a
# 224x224 image), collapsing the map to 1x1; fc7 is 1x1; "deconv-fc6" (a 7x7 transposed
# convolution) expands it back to 7x7. The decoder mirrors the encoder with unpooling and
# 3x3 transposed convolutions. We walk the shapes on 224x224 with a tiny width.

# %%
section("5. DeconvNet shapes on a 224x224 input (depth 5, centre kernel 7)")
deconv = models.DeconvNet(in_channels=3, num_classes=4, base_width=2, depth=5, center_kernel=7)
s = ms.summary(deconv, (1, 3, 224, 224))
key = [r for r in s.rows if r.type in ("MaxPool2d", "MaxUnpool2d")
       or r.name.startswith(("fc6.0.conv", "fc7.0.conv", "deconv_fc6.conv", "classifier"))]
for r in key:
    print(f"  {r.name:22s} {r.type:16s} -> {tuple(r.output_shape)}")
shapes = {r.name: tuple(r.output_shape) for r in s.rows}
check("fc6 output (the 7x7 pool5 collapsed)", shapes["fc6.0.conv"][2:], (1, 1), ref="the paper")
check("deconv-fc6 output", shapes["deconv_fc6.conv"][2:], (7, 7), ref="the paper")
check("scores", s.output_shape, (1, 4, 224, 224), ref="input size")

# %% [markdown]
# ## 6. Figure: the sparse unpooled map and the decoder's dense output

# %%
section("6. Figure: pooling indices at work")
feat0 = memory[0][0].numpy()[0, 0]
pooled0 = memory[0][1].numpy()[0, 0]
unp0 = back[0, 0]
fig, axes = plt.subplots(1, 5, figsize=(16, 3.9))
img = ds.images[0].transpose(1, 2, 0)
axes[0].imshow((img - img.min()) / (img.max() - img.min()))
axes[0].set_title("input")
axes[1].imshow(feat0, cmap="viridis")
axes[1].set_title("encoder feature\n(channel 0)")
axes[2].imshow(pooled0, cmap="viridis")
axes[2].set_title("max-pooled 2x2\n(indices kept)")
axes[3].imshow(unp0, cmap="viridis")
axes[3].set_title("unpooled with the indices\n(sparse)")
axes[4].imshow(unpooled, cmap="Greys")
axes[4].set_title("a thin line survives\npool + unpool")
for a in axes:
    a.set_xticks([])
    a.set_yticks([])
fig.suptitle("Deck 004: SegNet's decoder unpools with the encoder's max-pooling indices")
fig.tight_layout(rect=(0, 0, 1, 0.93))
save_figure(fig, "09_segnet_unpooling")

try_it_yourself("09")

print("\nLesson 09 complete: SegNet / DeconvNet unpool with the stored indices.")
