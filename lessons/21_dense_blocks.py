# %% [markdown]
# # Lesson 21 - dense blocks: the channel arithmetic of the Tiramisu (FC-DenseNet)
#
# Deck 001 lists FC-DenseNet, "the One Hundred Layers Tiramisu". Its unit is the **dense block**:
# each of its l layers (BN - ReLU - 3x3 conv - dropout) produces k new feature maps (the *growth
# rate*) and receives the concatenation of the block's input and every earlier layer's output. A
# block fed m channels therefore hands on
#
#     m + l * k channels,
#
# and its layer j (counted from 0) sees m + j * k. On the down path the whole output is kept (it is
# also the skip connection); the bottleneck and the up path pass only the l * k **new** maps up
# (otherwise the channel count would explode), except the last block, whose whole output goes to
# the classifier.
#
# This lesson builds a small Tiramisu and FC-DenseNet103, prints them with `summary`, and checks
# every block's channel counts against m + l * k.
#
# Run: `python lessons/21_dense_blocks.py`.
# As a notebook: `python lessons/make_notebooks.py 21`, then open `lessons/notebooks/21_*.ipynb`.

# %%
import minisegnet as ms
from minisegnet.models.densenet import DenseBlock
from minisegnet.models.fcdensenet import FCDenseNet
from minisegnet.summary import summary

from _common import *  # noqa: F403  (numpy as np, check, show, section, save_figure, ...)
from exercises import try_it_yourself

# %% [markdown]
# ## 1. One dense block
#
# m = 12 input channels, l = 3 layers, k = 4: the layers see 12, 16, 20 channels and the block
# returns 12 + 3 * 4 = 24 (or only the 12 new ones).

# %%
section("1. A dense block: m = 12, l = 3, k = 4")
block = DenseBlock(12, 3, 4)
out = block(ms.Tensor(np.zeros((1, 12, 8, 8), np.float32)))
check("channels seen by layers 0, 1, 2", [layer[0].num_features for layer in block.layers],
      [12 + j * 4 for j in range(3)], ref="formula m + j k")
check("block output channels", out.shape[1], 12 + 3 * 4, ref="formula m + l k")
new_only = DenseBlock(12, 3, 4, new_features_only=True)
check("new features only (bottleneck, up path)",
      new_only(ms.Tensor(np.zeros((1, 12, 8, 8), np.float32))).shape[1], 3 * 4,
      ref="formula l k")

# %% [markdown]
# ## 2. The channel walk through a small Tiramisu, read from `summary`
#
# `FCDenseNet(depth=2, layers_per_block=3, growth_rate=4, first_channels=12)`: first conv to 12,
# two dense blocks with transitions down, a bottleneck block, two transitions up (stride-2
# transposed convs) each concatenated with the skip of its size, two dense blocks, a 1x1
# classifier. `summary` lists every layer; the batch-norm that opens a dense layer shows the
# channels that layer receives, the transition after a block shows what the block handed on.

# %%
section("2. Channels through a small Tiramisu (summary)")


def channels(rows: dict, name: str) -> int:
    return rows[name].output_shape[1]


def walk(net: FCDenseNet, size: int) -> list:
    """(block, m, l, k, output channels per formula, output channels per summary) per block."""
    table = summary(net, (net.in_channels, size, size))
    rows = {r.name: r for r in table.rows}
    k, depth = net.growth_rate, net.depth
    out = []
    blocks = ([f"down_blocks.{i}" for i in range(depth)] + ["bottleneck"]
              + [f"up_blocks.{i}" for i in range(depth)])
    for b, name in enumerate(blocks):
        m = channels(rows, f"{name}.layers.0.0")
        l = len([r for r in rows if r.startswith(f"{name}.layers.") and r.endswith(".0")])
        for j in range(l):                               # every layer sees m + j k
            assert channels(rows, f"{name}.layers.{j}.0") == m + j * k, (name, j)
        if name.startswith("down"):
            formula, seen = m + l * k, channels(rows, f"transitions_down.{b}.0")
        elif name == "bottleneck":
            formula, seen = l * k, channels(rows, "transitions_up.0.conv")
        elif b < len(blocks) - 1:
            formula, seen = l * k, channels(rows, f"transitions_up.{b - depth}.conv")
        else:
            formula, seen = m + l * k, net.classifier.weight.shape[1]
        out.append((name, m, l, k, formula, seen))
    return table, out


small = FCDenseNet(3, 4, base_width=4, depth=2, layers_per_block=3, growth_rate=4,
                   first_channels=12)
table, rows = walk(small, 16)
print(table)
print(f"\n{'block':<14} {'m in':>5} {'l':>3} {'k':>3}  {'hands on (formula)':>20}  {'summary':>8}")
for name, m, l, k, formula, seen in rows:
    what = "m + l k" if name.startswith("down") or name == rows[-1][0] else "l k (new)"
    print(f"{name:<14} {m:>5} {l:>3} {k:>3}  {what:>9} = {formula:>6}   {seen:>8}")
check("every block's output channels: summary vs formula", [r[5] for r in rows],
      [r[4] for r in rows], ref="formula")
# the up path's input: the l k maps from below (through the transposed conv) + the skip
check("first up block's input = bottleneck's l k + the deepest skip", rows[3][1],
      rows[2][4] + rows[1][4], ref="formula")

# %% [markdown]
# ## 3. FC-DenseNet103
#
# First conv 48, k = 16, layers per block 4, 5, 7, 10, 12 down, 15 in the bottleneck and 12, 10, 7,
# 5, 4 up. The down path's m: 48 -> 112 -> 192 -> 304 -> 464 -> 656; the bottleneck sees 656 and
# passes 15 * 16 = 240 up; the last block hands 256 channels to the classifier.

# %%
section("3. FC-DenseNet103: the channel walk (m + l k at every block)")
ms.manual_seed(0)
big = FCDenseNet.fc_densenet103(3, 11)
_, rows103 = walk(big, 32)
for name, m, l, k, formula, seen in rows103:
    print(f"{name:<14} m {m:>4} + {l:>2} x {k} = {m + l * k:>4}; hands on {formula:>4} "
          f"(summary {seen:>4})")
check("FC-DenseNet103 down path m (summary)", [r[5] for r in rows103[:5]],
      [112, 192, 304, 464, 656], ref="formula")
check("channels into the classifier", rows103[-1][5], 256, ref="formula")
print(f"parameters: {big.num_parameters():,} (the paper: 9.4 M)")

# %%
try_it_yourself("21")

print("\nLesson 21 complete: every dense block hands on m + l k channels (l k on the way up).")
