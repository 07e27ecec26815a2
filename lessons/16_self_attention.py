# %% [markdown]
# # Lesson 16 - self-attention, by hand and by the engine
#
# Deck 004 ends with the Transformer. Its core is one formula:
#
#     Attention(Q, K, V) = softmax(Q K^T / sqrt(E)) V
#
# Every token asks a question (its query q_i), every token offers a key k_j and a value v_j; token
# i's output is the average of the values, weighted by how well its query matches each key.
#
# 1. three tokens of width E = 4, numbers small enough to check with a pocket calculator:
#    the scores, the softmax, the output;
# 2. the attention map drawn;
# 3. the same numbers from `F.scaled_dot_product_attention` and from `nn.MultiheadAttention` with
#    one head (projections set to the identity);
# 4. masks: a causal mask, and the two opposite boolean conventions (SDPA: True = may attend;
#    `nn.MultiheadAttention`: True = may NOT attend), and what a fully masked row gives;
# 5. learned projections: Q = X W_q^T, K = X W_k^T, V = X W_v^T, and several heads.
#
# Run: `python lessons/16_self_attention.py` (add `--show` to open the figure).
# As a notebook: `python lessons/make_notebooks.py 16`, then open `lessons/notebooks/16_*.ipynb`.

# %%
import math

import minisegnet as ms
import minisegnet.functional as F
import minisegnet.nn as nn

from _common import *  # noqa: F403  (numpy as np, check, show, section, save_figure, ...)
from exercises import try_it_yourself

# %% [markdown]
# ## 1. Three tokens by hand
#
# x1 = (1, 1, 0, 0), x2 = (0, 0, 1, 1), x3 = (1, 0, 1, 0). To keep the arithmetic visible the
# projections are the identity, so Q = K = V = X. Scores s_ij = q_i . k_j / sqrt(4) = q_i . k_j / 2:
# x1 . x1 = 2 -> 1, x1 . x2 = 0 -> 0, x1 . x3 = 1 -> 0.5, and so on.
# Row 1's softmax: e^1, e^0, e^0.5 = 2.7183, 1, 1.6487, sum 5.3670 -> 0.5065, 0.1863, 0.3072.
# Output 1 = 0.5065 x1 + 0.1863 x2 + 0.3072 x3 = (0.8137, 0.5065, 0.4935, 0.1863).

# %%
section("1. Three tokens, E = 4, Q = K = V = X")
X = np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0]], dtype=np.float64)
show("X (one token per row)", X)
E = X.shape[1]
scores = [[sum(X[i, e] * X[j, e] for e in range(E)) / math.sqrt(E) for j in range(3)]
          for i in range(3)]
check("scores Q K^T / sqrt(E)", np.array(scores), [[1, 0, 0.5], [0, 1, 0.5], [0.5, 0.5, 1]],
      ref="by hand")
weights = []
for row in scores:
    exps = [math.exp(s) for s in row]
    weights.append([v / sum(exps) for v in exps])
P_hand = np.array(weights)
check("softmax over each row", P_hand, [[0.5065, 0.1863, 0.3072], [0.1863, 0.5065, 0.3072],
                                        [0.2741, 0.2741, 0.4519]], ref="by hand")
check("each row sums to 1", P_hand.sum(1), [1, 1, 1], atol=1e-12, ref="softmax")
out_hand = np.array([sum(P_hand[i, j] * X[j] for j in range(3)) for i in range(3)])
check("output = P V", out_hand, [[0.8137, 0.5065, 0.4935, 0.1863],
                                 [0.4935, 0.1863, 0.8137, 0.5065],
                                 [0.7259, 0.2741, 0.7259, 0.2741]], ref="by hand")
print("Token 3 = x1 + x2 overlaps both others equally: it spreads its attention over all three.")

# %% [markdown]
# ## 2. The attention map
#
# Row i of P says where token i looks. Each token looks mostly at itself here (its key matches its
# own query best).

# %%
section("2. The attention map")
fig, ax = plt.subplots(figsize=(4.2, 3.6))
im = ax.imshow(P_hand, cmap="viridis", vmin=0, vmax=1)
for i in range(3):
    for j in range(3):
        ax.text(j, i, f"{P_hand[i, j]:.3f}", ha="center", va="center",
                color="white" if P_hand[i, j] < 0.4 else "black")
ax.set_xticks(range(3), ["k1", "k2", "k3"])
ax.set_yticks(range(3), ["q1", "q2", "q3"])
ax.set_xlabel("key (attended to)")
ax.set_ylabel("query (attending)")
ax.set_title("softmax(Q K^T / sqrt(E))")
fig.colorbar(im, ax=ax)
save_figure(fig, "16_attention_map")

# %% [markdown]
# ## 3. The same numbers from the engine
#
# `F.scaled_dot_product_attention(q, k, v)` is the formula itself. `nn.MultiheadAttention` adds
# learned projections: its `in_proj_weight` stacks W_q, W_k, W_v (3E x E, PyTorch's layout) and
# `out_proj` maps the concatenated heads back. With one head, identity projections and zero biases
# it must give exactly the numbers above, and its second output is the attention map.

# %%
section("3. F.scaled_dot_product_attention and nn.MultiheadAttention (one head)")
x = ms.Tensor(X)
check("F.scaled_dot_product_attention", F.scaled_dot_product_attention(x, x, x), out_hand,
      atol=1e-12, ref="by hand")
check("F.attention_weights", F.attention_weights(x, x), P_hand, atol=1e-12, ref="by hand")
mha = nn.MultiheadAttention(E, num_heads=1, batch_first=True).double()
mha.in_proj_weight.data[...] = np.concatenate([np.eye(E)] * 3)  # W_q = W_k = W_v = I
mha.in_proj_bias.data[...] = 0
mha.out_proj.weight.data[...] = np.eye(E)
mha.out_proj.bias.data[...] = 0
show("in_proj_weight shape (3E, E)", np.array(mha.in_proj_weight.shape))
out, attn = mha(x[None], x[None], x[None])  # batch of one: (1, L, E)
check("nn.MultiheadAttention output", out[0], out_hand, atol=1e-12, ref="by hand")
check("nn.MultiheadAttention weights", attn[0], P_hand, atol=1e-12, ref="by hand")

# %% [markdown]
# ## 4. Masks, and two opposite conventions
#
# A causal mask lets token i see tokens 1..i only (a lower-triangular pattern). Token 1 then sees
# only itself (weight 1), token 2 splits between tokens 1 and 2: e^0, e^1 -> 0.2689, 0.7311.
#
# * `F.scaled_dot_product_attention(..., attn_mask=m)`: boolean **True = may attend**
#   (PyTorch's convention for that function);
# * `nn.MultiheadAttention(..., attn_mask=m)`: boolean **True = may NOT attend** (PyTorch's
#   convention for that module) -- pass the complement;
# * a float mask is *added* to the scores: 0 keeps, -inf removes.
#
# A query whose keys are all masked has no softmax; minisegnet returns zeros there (PyTorch NaN).

# %%
section("4. A causal mask in both conventions")
allowed = np.tril(np.ones((3, 3), dtype=bool))
show("allowed (True = may attend)", allowed.astype(int))
causal = F.scaled_dot_product_attention(x, x, x, attn_mask=ms.Tensor(allowed))
expected_causal = [[1, 1, 0, 0], [0.2689, 0.2689, 0.7311, 0.7311], [0.7259, 0.2741, 0.7259, 0.2741]]
check("SDPA, mask = allowed", causal, expected_causal, ref="by hand")
out_mha, attn_mha = mha(x[None], x[None], x[None], attn_mask=ms.Tensor(~allowed))
check("MHA, mask = ~allowed", out_mha[0], expected_causal, ref="by hand")
check("MHA weights (upper triangle 0)", attn_mha[0], [[1, 0, 0], [0.2689, 0.7311, 0],
                                                      [0.2741, 0.2741, 0.4519]], ref="by hand")
float_mask = ms.Tensor(np.where(allowed, 0.0, -np.inf))
check("SDPA, float mask 0 / -inf", F.scaled_dot_product_attention(x, x, x, float_mask), causal,
      atol=1e-12, ref="boolean mask")
nothing = np.array([[True, True, True], [False, False, False], [True, True, True]])
check("row 2 sees no key: zeros", F.scaled_dot_product_attention(x, x, x, ms.Tensor(nothing))[1],
      [0, 0, 0, 0], ref="convention")

# %% [markdown]
# ## 5. Learned projections and several heads
#
# In a real layer W_q, W_k, W_v are learned, so the question a token asks (Q) differs from what it
# offers (K) and what it passes on (V). With H heads each gets E / H channels of the projections
# and its own attention map; the maps below are averaged over the heads.

# %%
section("5. Random projections, two heads")
ms.manual_seed(0)
mha2 = nn.MultiheadAttention(E, num_heads=2, batch_first=True).double()
out2, attn2 = mha2(x[None], x[None], x[None])
Wq, Wk, Wv = np.split(mha2.in_proj_weight.numpy(), 3)
q, k, v = X @ Wq.T, X @ Wk.T, X @ Wv.T
heads = []
for h in range(2):  # each head: its 2 channels of q, k, v
    sl = slice(2 * h, 2 * h + 2)
    s = q[:, sl] @ k[:, sl].T / math.sqrt(2)
    p = np.exp(s) / np.exp(s).sum(1, keepdims=True)
    heads.append((p, p @ v[:, sl]))
concat = np.concatenate([o for _, o in heads], axis=1)
by_hand = concat @ mha2.out_proj.weight.numpy().T + mha2.out_proj.bias.numpy()
check("two heads, by hand vs MHA", out2[0], by_hand, atol=1e-12, ref="by hand")
check("weights = mean of the heads' maps", attn2[0], (heads[0][0] + heads[1][0]) / 2, atol=1e-12,
      ref="by hand")

try_it_yourself("16")

print("\nLesson 16 complete: softmax(Q K^T / sqrt(E)) V by hand, by F.scaled_dot_product_attention "
      "and by nn.MultiheadAttention.")
