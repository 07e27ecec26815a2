# %% [markdown]
# # Lesson 17 - ViT and SETR: an image as a sequence of patches
#
# Deck 004: the Vision Transformer cuts the image into p x p patches, maps each patch to a vector
# (a linear map = a convolution with kernel = stride = p), adds a learned position embedding and
# runs transformer layers on the sequence. SETR puts a decoder on top to get back to pixels.
#
# 1. a 32 x 32 image cut into 8 x 8 patches, drawn;
# 2. the patch embedding is a strided convolution (checked on one patch);
# 3. the shapes through the encoder: (N, C, H, W) -> (N, E, H/p, W/p) -> (N, L, E) -> ...;
# 4. each SETR decoder's shapes: naive, PUP (progressive upsampling), MLA (multi-level aggregation);
# 5. the cost of global attention: L = HW / p^2 tokens, L^2 scores per head and layer -- patch 4
#    vs patch 1 on a 64 x 64 image.
#
# Run: `python lessons/17_vit_setr.py` (add `--show` to open the figure).
# As a notebook: `python lessons/make_notebooks.py 17`, then open `lessons/notebooks/17_*.ipynb`.

# %%
import minisegnet as ms
import minisegnet.functional as F
import minisegnet.nn as nn
from minisegnet.data import load_dataset
from minisegnet.models import SETR

from _common import *  # noqa: F403  (numpy as np, check, show, section, save_figure, ...)
from exercises import try_it_yourself

# %% [markdown]
# ## 1. Cutting an image into patches
#
# A 32 x 32 image with patch 8 gives a 4 x 4 grid: L = 16 tokens, each holding 8 * 8 * 3 = 192
# numbers. The tokens are read row by row (token t = row 4 i + column j).

# %%
section("1. A 32 x 32 image as 16 patches of 8 x 8")
images = load_dataset("shapes", "train", n=1, size=32, seed=3).images  # (1, 3, 32, 32)
img = images[0].transpose(1, 2, 0)
img = (img - img.min()) / (img.max() - img.min())
p = 8
patches = img.reshape(4, p, 4, p, 3).transpose(0, 2, 1, 3, 4).reshape(16, p, p, 3)
show("patch grid (rows, cols), tokens, values per token", np.array([4, 4, 16, p * p * 3]))
fig = plt.figure(figsize=(9, 4))
gs = fig.add_gridspec(4, 9)
ax = fig.add_subplot(gs[:, :4])
ax.imshow(img)
for c in range(0, 33, p):
    ax.axhline(c - 0.5, color="w", lw=1)
    ax.axvline(c - 0.5, color="w", lw=1)
ax.set_title("image, 8 x 8 patches")
ax.axis("off")
for t in range(16):
    a = fig.add_subplot(gs[t // 4, 5 + t % 4])
    a.imshow(patches[t])
    a.set_title(f"token {t}", fontsize=7, pad=1)
    a.axis("off")
fig.suptitle("ViT reads the image as a sequence of patches (tokens 0..15, row by row)")
save_figure(fig, "17_patches")

# %% [markdown]
# ## 2. The patch embedding is a convolution with kernel = stride = p
#
# `nn.PatchEmbed(C, E, p)` holds a `Conv2d(C, E, p, stride=p)`: its output at grid cell (i, j)
# is W vec(patch_ij) + b, with W the (E, C p p) matrix of the flattened kernel.

# %%
section("2. PatchEmbed = one matrix applied to every flattened patch")
ms.manual_seed(0)
embed = nn.PatchEmbed(3, 6, p).double()
x = ms.Tensor(images.astype(np.float64))
tokens_map = embed(x)
show("PatchEmbed output shape (N, E, H/p, W/p)", np.array(tokens_map.shape))
W = embed.proj.weight.numpy().reshape(6, -1)
patch_12 = images[0, :, 8:16, 16:24].reshape(-1)  # grid cell (1, 2): token 4 * 1 + 2 = 6
check("token 6 = W vec(patch) + b", tokens_map[0, :, 1, 2],
      W @ patch_12 + embed.proj.bias.numpy(), atol=1e-10, ref="matrix")

# %% [markdown]
# ## 3. Shapes through the encoder
#
# The default SETR (patch 4, E = 64 = 4 heads x 16, 4 layers) on a 64 x 64 image: a 16 x 16 grid,
# L = 256 tokens. The position embedding was made for 32 x 32 inputs (an 8 x 8 grid) and is
# resized bilinearly to 16 x 16. Every layer keeps (N, L, E).

# %%
section("3. The ViT encoder on a 64 x 64 image")
ms.manual_seed(0)
setr = SETR(3, 4, "pup")
x64 = ms.Tensor(np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32))
enc = setr.encoder
grid = enc.patch_embed(x64)
pos = enc.pos_embed(grid.shape[2:])
tokens = (grid + pos).reshape(1, 64, 256).permute(0, 2, 1)
rows = [("input image", x64.shape), ("patch embedding (N, E, h, w)", grid.shape),
        ("position table as made", enc.pos_embed.weight.shape),
        ("position table resized", pos.shape), ("tokens (N, L, E)", tokens.shape)]
for i, layer in enumerate(enc.layers):
    tokens = layer(tokens)
    rows.append((f"after layer {i + 1}", tokens.shape))
for name, shape in rows:
    print(f"{name:32s} {tuple(shape)}")
check("L = (64 / 4)^2", tokens.shape[1], 256, ref="HW / p^2")

# %% [markdown]
# ## 4. The three SETR decoders
#
# All three start from (N, E, 16, 16) maps and end at (N, K, 64, 64):
#
# * naive: 1x1 conv + BN + ReLU, 1x1 conv to K, bilinear x4;
# * PUP: conv 3x3 + BN + ReLU then x2, twice (log2 4 = 2 stages), then a 1x1 conv to K;
# * MLA: the outputs of 4 layers (every layer here, depth 4), each projected by a 1x1 conv, summed
#   top-down (deepest first), refined by 3x3 convs, concatenated, 1x1 conv to K, bilinear x4.

# %%
section("4. Each decoder's shapes")
maps = setr.encoder(x64)
print("encoder maps:", [tuple(m.shape) for m in maps])
for decoder in ("naive", "pup", "mla"):
    ms.manual_seed(0)
    model = SETR(3, 4, decoder)
    feats = model.encoder(x64)
    steps = []
    if decoder == "naive":
        y = model.head(feats[-1])
        steps.append(("head (1x1, 1x1)", y.shape))
        y = F.interpolate(y, size=(64, 64), mode="bilinear")
        steps.append(("bilinear x4", y.shape))
    elif decoder == "pup":
        y = feats[-1]
        for i, stage in enumerate(model.stages):
            y = stage(y)
            steps.append((f"conv 3x3 stage {i + 1}", y.shape))
            y = F.interpolate(y, size=(y.shape[2] * 2, y.shape[3] * 2), mode="bilinear")
            steps.append(("x2", y.shape))
        y = model.head(y)
        steps.append(("1x1 conv to K", y.shape))
    else:
        agg, outs = None, []
        for tap, proj, refine in zip(reversed(model.taps), reversed(model.project),
                                     reversed(model.refine)):
            s = proj(feats[tap])
            agg = s if agg is None else agg + s
            outs.append(refine(agg))
            steps.append((f"layer {tap + 1}: 1x1, sum, 3x3", outs[-1].shape))
        y = model.head(F.cat(outs, axis=1))
        steps.append(("concat + 1x1 to K", y.shape))
        y = F.interpolate(y, size=(64, 64), mode="bilinear")
        steps.append(("bilinear x4", y.shape))
    print(f"\nSETR-{decoder} ({model.num_parameters():,} parameters)")
    for name, shape in steps:
        print(f"  {name:30s} {tuple(shape)}")
    check(f"SETR-{decoder} = the model's forward", y, model(x64), atol=1e-6, ref="forward()")

# %% [markdown]
# ## 5. The (HW)^2 term: patch 4 vs patch 1 on 64 x 64
#
# Global attention compares every token with every token: L^2 scores per head and per layer.
# On 64 x 64 pixels, patch 4 gives L = 256 (65,536 scores); patch 1 (every pixel a token) gives
# L = 4,096 and 16,777,216 scores, 256 = 4^4 times more: the cost grows with (HW)^2 / p^4.

# %%
section("5. Attention scores per head and layer on 64 x 64")
for patch in (8, 4, 2, 1):
    L = (64 // patch) ** 2
    print(f"patch {patch}: L = {L:5d} tokens, L^2 = {L * L:>11,} scores "
          f"({L * L * 4 / 2 ** 20:8.2f} MiB in float32 per head and image)")
check("patch 1 / patch 4 score ratio", (4096 ** 2) / (256 ** 2), 256, ref="4^4")
q = ms.Tensor(np.zeros((1, 1, 256, 16), np.float32))
check("one (L, L) attention map at patch 4", F.attention_weights(q, q).shape[-2:], [256, 256],
      ref="L x L")

try_it_yourself("17")

print("\nLesson 17 complete: patches, the encoder's sequence shapes, the three decoders and the "
      "quadratic cost of global attention.")
