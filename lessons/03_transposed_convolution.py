# %% [markdown]
# # Lesson 03 - transposed convolution: splat, overlap-add, crop
#
# Decks 001 (the 1-D matrix example, the 2x2 and 3x3 "splat" examples, the overlap rule),
# 002 (1-D transposed convolution: copies of the filter, crop one pixel) and 003 (the step-by-step
# recipe, the stride-3 crop-1 example and the stride-2 exercise).
#
# The recipe of deck 003, which is exactly what `minisegnet.functional.conv_transpose2d` computes:
#
# 1. multiply the filter by each input value;
# 2. place the products `stride` apart (input pixel (i, j) lands at (stride*i, stride*j));
# 3. add where they overlap;
# 4. drop `crop` rows / columns at every border (PyTorch and minisegnet call the crop `padding`),
#    and add `output_padding` rows / columns at the bottom / right if asked.
#
# Output size: H_out = (H - 1) * stride - 2 * crop + k + output_padding.
#
# Run: `python lessons/03_transposed_convolution.py` (add `--show` to open the splat figure).
# As a notebook: `python lessons/make_notebooks.py 03`, then open `lessons/notebooks/03_*.ipynb`.

# %%
import minisegnet as ms
import minisegnet.functional as F

from _common import *  # noqa: F403
from exercises import try_it_yourself


def as_image(a):
    """A 2-D array (or 1-D, as one row) as a (1, 1, H, W) float64 Tensor."""
    a = np.asarray(a, dtype=np.float64)
    return ms.Tensor((a if a.ndim == 2 else a[None])[None, None])


def tconv(x, k, stride=1, crop=0, output_padding=0):
    """minisegnet's transposed convolution of one 2-D map by one 2-D kernel, as a 2-D array."""
    out = F.conv_transpose2d(as_image(x), as_image(k), stride=stride, padding=crop,
                             output_padding=output_padding)
    return out.numpy()[0, 0]


def splat_by_hand(x, k, stride, crop=0, verbose=True):
    """Deck 003's recipe written out with loops: returns the cropped sum and the list of stamps."""
    x, k = np.asarray(x, dtype=np.float64), np.asarray(k, dtype=np.float64)
    (h, w), (kh, kw) = x.shape, k.shape
    full = np.zeros(((h - 1) * stride + kh, (w - 1) * stride + kw))
    stamps = []
    for i in range(h):
        for j in range(w):
            canvas = np.zeros_like(full)
            canvas[i * stride:i * stride + kh, j * stride:j * stride + kw] = x[i, j] * k
            stamps.append(((i, j), x[i, j], canvas))
            full += canvas
            if verbose:
                show(f"step 1+2: x[{i},{j}] = {x[i, j]:g} times the filter, placed at "
                     f"({i * stride},{j * stride})", canvas)
    if verbose:
        show("step 3: overlaps added", full)
    H, W = full.shape
    cropped = full[crop:H - crop, crop:W - crop]
    if verbose and crop:
        show(f"step 4: crop {crop} at every border", cropped)
    return cropped, stamps


# %% [markdown]
# ## 1. In 1-D, as the transpose of a matrix (deck 001)
#
# Kernel (x, y, z), stride 2, padding 1, input (a, b, c, d) padded to (0, a, b, c, d, 0). The
# convolution is the 2 x 6 matrix [[x, y, z, 0, 0, 0], [0, 0, x, y, z, 0]] applied to the padded
# input: (ay + bz, bx + cy + dz). Its transpose applied to (a, b) gives
# (ax, ay, az + bx, by, bz, 0).
#
# We let minisegnet do the algebra: every output is linear in each input and in each kernel
# entry, so running the op on unit vectors tells which products (input symbol x kernel symbol)
# each output contains.

# %%
section("1. The 1-D example with symbols (x, y, z) and (a, b, c, d)")


def symbolic(op, n_in, in_names, k_names):
    """The outputs of ``op(input, kernel)`` as strings like 'az+bx', found from unit vectors."""
    eye_in, eye_k = np.eye(n_in), np.eye(len(k_names))
    n_out = op(eye_in[0], eye_k[0]).size
    terms = [[] for _ in range(n_out)]
    for p in range(n_in):
        for m in range(len(k_names)):
            out = op(eye_in[p], eye_k[m]).ravel()
            for o in np.flatnonzero(np.abs(out) > 1e-12):
                terms[o].append(f"{in_names[p]}{k_names[m]}")
    return ["+".join(sorted(t)) if t else "0" for t in terms]


def conv1d(v, k, stride, padding):
    return F.conv2d(as_image(v), as_image(k), stride=stride, padding=(0, padding)).numpy().ravel()


def tconv1d(v, k, stride, crop=0, output_padding=0):
    return F.conv_transpose2d(as_image(v), as_image(k), stride=stride, padding=(0, crop),
                              output_padding=(0, output_padding)).numpy().ravel()


xyz = ["x", "y", "z"]
# the 2 x 6 matrix: entry (o, p) is the kernel symbol that multiplies padded position p in output o
padded = ["0", "a", "b", "c", "d", "0"]
M = [["0"] * 6 for _ in range(2)]
for p in range(6):
    for m in range(3):
        out = conv1d(np.eye(6)[p], np.eye(3)[m], stride=2, padding=0)
        for o in np.flatnonzero(out):
            M[o][p] = xyz[m]
print("the convolution matrix (rows = outputs, columns = padded input positions 0 a b c d 0):")
for row in M:
    print("   [" + ", ".join(row) + "]")
assert M == [["x", "y", "z", "0", "0", "0"], ["0", "0", "x", "y", "z", "0"]]

forward = symbolic(lambda v, k: conv1d(v, k, stride=2, padding=1), 4, "abcd", xyz)
print(f"conv(stride 2, padding 1) of (a, b, c, d):  {forward}")
assert forward == ["ay+bz", "bx+cy+dz"], forward

transposed = symbolic(lambda v, k: tconv1d(v, k, stride=2, output_padding=1), 2, "ab", xyz)
print(f"transpose applied to (a, b):                {transposed}")
assert transposed == ["ax", "ay", "az+bx", "by", "bz", "0"], transposed
print("  (minisegnet: conv_transpose2d stride 2, output_padding 1 -- the 6th entry is the padded 0)")

cropped = symbolic(lambda v, k: tconv1d(v, k, stride=2, crop=1, output_padding=1), 2, "ab", xyz)
print(f"... with the padding cropped again (crop 1): {cropped}  (length 4 = the input's length)")
assert cropped == ["ay", "az+bx", "by", "bz"], cropped

# %% [markdown]
# Numerically: the transposed convolution is the transpose of the 2 x 6 matrix, for any numbers.

# %%
kv = np.array([2.0, -1.0, 3.0])  # x, y, z
Mnum = np.array([[kv[0], kv[1], kv[2], 0, 0, 0], [0, 0, kv[0], kv[1], kv[2], 0]])
ab = np.array([5.0, 7.0])
check("tconv1d((a,b)) vs M^T (a,b) with x,y,z = 2,-1,3; a,b = 5,7",
      tconv1d(ab, kv, stride=2, output_padding=1), Mnum.T @ ab, ref="M^T")

# %% [markdown]
# ### Stride 1: an ordinary convolution with the rotated kernel; stride > 1: not any more
#
# With stride 1 the transposed convolution equals a plain convolution of the input padded by
# k - 1 zeros with the kernel rotated by 180 degrees. With stride 2 no ordinary convolution of
# the input does it: the input first has to be spread out with zeros between its values
# ("fractionally strided" convolution).

# %%
section("1b. Transposed convolution vs convolution with the rotated kernel")
rng = np.random.default_rng(0)
m2 = rng.integers(-3, 4, size=(3, 3)).astype(np.float64)
k2 = rng.integers(-3, 4, size=(3, 3)).astype(np.float64)
rot = k2[::-1, ::-1]
check("stride 1: tconv(x, k) vs conv(pad(x, 2), rot180(k))", tconv(m2, k2),
      F.conv2d(as_image(m2), as_image(rot), padding=2).numpy()[0, 0], ref="conv")
spread = np.zeros((5, 5))
spread[::2, ::2] = m2  # zeros inserted between the input values
check("stride 2: tconv(x, k, 2) vs conv(pad(zero-spread x, 2), rot180(k))", tconv(m2, k2, stride=2),
      F.conv2d(as_image(spread), as_image(rot), padding=2).numpy()[0, 0], ref="conv")

# %% [markdown]
# ## 2. Deck 002: copies of the filter, crop one pixel
#
# "The output holds copies of the filter weighted by each input, summed where they overlap; one
# pixel is cropped so that the output is exactly twice the input." Filter (x, y, z), stride 2,
# input (a, b): the 5 outputs (ax, ay, az + bx, by, bz); crop one pixel -> 4 = 2 x 2.
# In minisegnet's parameters "crop one pixel" is `padding=1, output_padding=1` (one dropped at
# each end, one given back at the end) and it keeps (ay, az + bx, by, bz), as in section 1.

# %%
section("2. Deck 002: 1-D transposed convolution doubles the length")
full5 = symbolic(lambda v, k: tconv1d(v, k, stride=2), 2, "ab", xyz)
print(f"stride 2, no crop: {full5}")
assert full5 == ["ax", "ay", "az+bx", "by", "bz"]
for n in [2, 3, 4, 8]:
    out = tconv1d(np.ones(n), kv, stride=2, crop=1, output_padding=1)
    print(f"input length {n} -> output length {out.size}")
    assert out.size == 2 * n
kept = symbolic(lambda v, k: tconv1d(v, k, stride=2, crop=1, output_padding=1), 2, "ab", xyz)
print(f"minisegnet's crop (padding=1, output_padding=1) keeps {kept}: it drops the first pixel, ax")
assert kept == full5[1:]
print("slide note: deck 002 says one pixel is cropped so that the output is twice the input, but\n"
      "  not which one: dropping the first (ay, az+bx, by, bz) or the last (ax, ay, az+bx, by) both\n"
      "  give length 4, shifted by one pixel. That choice is a convention. minisegnet (like PyTorch)\n"
      "  drops the first: padding=1 crops one pixel at each end and output_padding=1 gives back the\n"
      "  last, which makes it the exact transpose of the stride-2, padding-1 convolution of section 1\n"
      "  (deck 001), so the upsampled map lines up with the map that convolution downsampled.")

# %% [markdown]
# ## 3. 2-D splats with a 2x2 kernel, stride 2 (deck 001)
#
# Kernel [[1, 2], [3, 4]], stride 2: kernel size = stride, so the stamps tile the output
# without overlapping.

# %%
section("3. 2x2 kernel [[1,2],[3,4]], stride 2, 2x2 inputs -> 4x4 outputs")
k22 = np.array([[1.0, 2.0], [3.0, 4.0]])
SLIDE_2x2 = {
    ((1, 0), (0, 0)): [[1, 2, 0, 0], [3, 4, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    ((0, 1), (0, 0)): [[0, 0, 1, 2], [0, 0, 3, 4], [0, 0, 0, 0], [0, 0, 0, 0]],
    ((1, 1), (0, 0)): [[1, 2, 1, 2], [3, 4, 3, 4], [0, 0, 0, 0], [0, 0, 0, 0]],
}
for inp, expected in SLIDE_2x2.items():
    print(f"\ninput {[list(r) for r in inp]}:")
    hand, _ = splat_by_hand(inp, k22, stride=2, verbose=inp == ((1, 1), (0, 0)))
    check("conv_transpose2d(input, k, stride=2)", tconv(inp, k22, stride=2), expected)
    assert np.allclose(hand, expected)
    print("  the hand-written splat (deck 003's recipe, loops) gives the same numbers")

# %% [markdown]
# ## 4. The 3x3 examples labelled "size 3 and stride=2" (deck 001)
#
# Kernel [[1, 2, 3], [4, 5, 6], [7, 8, 9]] on the same three 2x2 inputs; the slide prints 4x4
# outputs. **Those numbers are not what stride 2 gives**: with stride 2 a 3x3 kernel on a 2x2
# input gives (2 - 1) * 2 + 3 = 5 rows and columns. We compute stride 2 first, then search the
# parameters (stride, crop, output_padding) that reproduce the printed numbers.

# %%
section("4. The 3x3 'size 3 and stride=2' examples")
k33 = np.arange(1, 10, dtype=np.float64).reshape(3, 3)
SLIDE_3x3 = {
    ((1, 0), (0, 0)): [[1, 2, 3, 0], [4, 5, 6, 0], [7, 8, 9, 0], [0, 0, 0, 0]],
    ((0, 1), (0, 0)): [[0, 1, 2, 3], [0, 4, 5, 6], [0, 7, 8, 9], [0, 0, 0, 0]],
    ((1, 1), (0, 0)): [[1, 3, 5, 3], [4, 9, 11, 6], [7, 15, 17, 9], [0, 0, 0, 0]],
}
for inp in SLIDE_3x3:
    show(f"stride 2 (as labelled), input {[list(r) for r in inp]}: 5x5", tconv(inp, k33, stride=2))
    assert tconv(inp, k33, stride=2).shape == (5, 5)

matches = []
for s in (1, 2, 3):
    for crop in (0, 1, 2):
        for op in range(s):
            try:
                outs = [tconv(inp, k33, stride=s, crop=crop, output_padding=op) for inp in SLIDE_3x3]
            except ValueError:  # the crop removes everything
                continue
            if all(o.shape == (4, 4) and np.allclose(o, e) for o, e in zip(outs, SLIDE_3x3.values())):
                matches.append(dict(stride=s, crop=crop, output_padding=op))
print(f"\nparameters (stride 1..3, crop 0..2, output_padding) reproducing all three printed outputs: "
      f"{matches}")
assert matches == [dict(stride=1, crop=0, output_padding=0)]

# %% [markdown]
# **Answer: the printed numbers are a transposed convolution with stride 1** (no crop), not
# stride 2. (The third example shows it: stamps 1 column apart overlap in two columns,
# 1 2 3 0 + 0 1 2 3 = 1 3 5 3; with stride 2 they would overlap in one column only.)
# The correct statement for stride 2 is the 5x5 results above: the stamps
# are 2 apart and overlap only in the middle row / column.

# %%
print("slide note: deck 001 labels these examples 'size 3 and stride=2', but their printed numbers\n"
      "  are a stride-1 transposed convolution (no crop); stride 2 gives the 5x5 outputs above.")
for inp, expected in SLIDE_3x3.items():
    check(f"stride 1, input {[list(r) for r in inp]}", tconv(inp, k33, stride=1), expected)
print("\nThe correct stride-2 version of the third example, step by step:")
hand, _ = splat_by_hand(((1, 1), (0, 0)), k33, stride=2)
check("conv_transpose2d(stride=2)", tconv(((1, 1), (0, 0)), k33, stride=2), hand, ref="hand splat")

# %% [markdown]
# ## 5. The overlap rule
#
# Kernel size = stride: every output pixel receives exactly one product (no overlap).
# Kernel size > stride: some output pixels receive several products, which are summed
# ("smart smoothing"). Splatting a map of ones with a kernel of ones counts the contributions.

# %%
section("5. How many products land on each output pixel")
ones = np.ones((3, 3))
show("kernel 2x2, stride 2 (k = s): one each", tconv(ones, np.ones((2, 2)), stride=2))
show("kernel 3x3, stride 2 (k > s): overlaps", tconv(ones, np.ones((3, 3)), stride=2))
assert tconv(ones, np.ones((2, 2)), stride=2).max() == 1
assert tconv(ones, np.ones((3, 3)), stride=2).max() == 4

# %% [markdown]
# ## 6. Deck 003: stride 3, crop 1
#
# Input [[2, 3], [-2, 1]], filter [[2, 1, 4], [-1, -2, -3], [-2, 1, 4]], stride 3, crop 1.
# Filter size = stride, so the four stamps do not overlap; the 6x6 sum is cropped to 4x4.
# (The deck prints the filter's last entry once as 5 and once as 4; we compute both below.)

# %%
section("6. Deck 003: stride 3, crop 1")
x3 = np.array([[2.0, 3.0], [-2.0, 1.0]])
filt = np.array([[2.0, 1.0, 4.0], [-1.0, -2.0, -3.0], [-2.0, 1.0, 4.0]])
SLIDE_S3 = [[-4, -6, -3, -6], [2, 8, -6, 3], [-2, -8, 2, 1], [4, 6, -1, -2]]
hand, stamps3 = splat_by_hand(x3, filt, stride=3, crop=1)
check("conv_transpose2d(stride=3, padding=1)", tconv(x3, filt, stride=3, crop=1), SLIDE_S3)
assert np.allclose(hand, SLIDE_S3)
print("  the hand-written recipe above gives the same numbers")

filt5 = filt.copy()
filt5[2, 2] = 5.0
out5 = tconv(x3, filt5, stride=3, crop=1)
show("with the filter's last entry printed as 5", out5)
diff = np.argwhere(~np.isclose(out5, SLIDE_S3))
print(f"differs from the slide at {[tuple(int(v) for v in d) for d in diff]}: the printed output "
      "needs the last entry to be 4")
assert len(diff) > 0
print("slide note: deck 003 prints the filter's last entry once as 5 and once as 4; the output it\n"
      "  prints needs 4 (with 5 it would differ at the positions above).")

# %% [markdown]
# ## 7. Deck 003's exercise: "Please solve it" -- try it first
#
# Same filter [[2, 1, 4], [-1, -2, -3], [-2, 1, 4]], stride 2, crop 0, and the input
# [[2, 3], [-2, 1]] (why this input and not the one the deck prints: see the next cell).
# Work out the 5x5 output by hand with the four steps of the recipe, then check it:
#
#     from exercises import check_answer
#     check_answer("03.1", [[...], [...], [...], [...], [...]])
#
# Stop here until you have an answer: the next cell solves it.

# %%
section("7. Deck 003's exercise, posed: stride 2, crop 0 -- solve it before reading on")
print("[03.1] filter [[2,1,4],[-1,-2,-3],[-2,1,4]], stride 2, crop 0, input [[2,3],[-2,1]]:\n"
      "       the 5x5 output? Check it with check_answer(\"03.1\", your_5x5) before the next cell.")

# %% [markdown]
# ## 8. Deck 003's exercise, solved: stride 2, crop 0
#
# Same filter, stride 2, no crop: 2x2 -> (2 - 1) * 2 + 3 = 5x5, and now the stamps overlap.
# The deck prints the input as [[2, 3], [2, 1]], but its partial solution uses the products
# 3 x filter and -2 x filter. We solve both readings.

# %%
section("8. Deck 003 exercise, solved: stride 2, crop 0, both readings of the input")
readings = {"as printed [[2,3],[2,1]]": np.array([[2.0, 3.0], [2.0, 1.0]]),
            "as the partial solution implies [[2,3],[-2,1]]": np.array([[2.0, 3.0], [-2.0, 1.0]])}
products = {}
for label, inp in readings.items():
    print(f"\ninput {label}:")
    hand, stamps = splat_by_hand(inp, filt, stride=2, verbose=False)
    products[label] = sorted({float(v) for _, v, _ in stamps})
    print(f"  products used: {', '.join(f'{v:g} x filter' for v in products[label])}")
    out = tconv(inp, filt, stride=2)
    check("  conv_transpose2d(stride=2) (5x5)", out, hand, ref="hand splat")
has = {label: {3.0, -2.0} <= set(p) for label, p in products.items()}
print(f"\ncontains both 3 x filter and -2 x filter: {has}")
assert has == {"as printed [[2,3],[2,1]]": False, "as the partial solution implies [[2,3],[-2,1]]": True}
print("The deck's partial solution matches the input [[2, 3], [-2, 1]] (the input of the stride-3\n"
      "example); the printed [[2, 3], [2, 1]] would use 2 x filter twice and never -2 x filter.")
print("slide note: deck 003's exercise prints its input as [[2, 3], [2, 1]], but its partial solution\n"
      "  uses 3 x filter and -2 x filter: it belongs to the input [[2, 3], [-2, 1]].")
sol = tconv(readings["as the partial solution implies [[2,3],[-2,1]]"], filt, stride=2)
check("solution of the exercise (input [[2,3],[-2,1]])", sol,
      [[4, 2, 14, 3, 12],        # row 0: 2*(2, 1, 4) and 3*(2, 1, 4) overlapping in column 2
       [-2, -4, -9, -6, -9],     # row 1: 2*(-1,-2,-3) and 3*(-1,-2,-3)
       [-8, 0, -4, 4, 16],       # row 2: four stamps meet; at (2, 2): 2*4 + 3*(-2) - 2*4 + 1*2 = -4
       [2, 4, 5, -2, -3],        # row 3: -2*(-1,-2,-3) and 1*(-1,-2,-3)
       [4, -2, -10, 1, 4]],      # row 4: -2*(-2, 1, 4) and 1*(-2, 1, 4)
      ref="by hand")

# %% [markdown]
# ## 9. Output padding: which size do we want back?
#
# A stride-2 convolution maps inputs of size 5 and 6 to the same size 3 (floor division), so
# going back is ambiguous. `output_padding` (or `output_size`) picks the size: extra rows /
# columns at the bottom / right.

# %%
section("9. output_padding resolves the size ambiguity of strided convolutions")
k3 = np.ones((3, 3))
for size in (5, 6):
    down = F.conv2d(as_image(np.ones((size, size))), as_image(k3), stride=2, padding=1)
    print(f"conv stride 2, padding 1: {size}x{size} -> {down.shape[2]}x{down.shape[3]}")
for op in (0, 1):
    up = F.conv_transpose2d(as_image(np.ones((3, 3))), as_image(k3), stride=2, padding=1,
                            output_padding=op)
    print(f"conv_transpose stride 2, padding 1, output_padding {op}: 3x3 -> {up.shape[2]}x{up.shape[3]}")
    assert up.shape[2] == 5 + op
up6 = F.conv_transpose2d(as_image(np.ones((3, 3))), as_image(k3), stride=2, padding=1, output_size=(6, 6))
print(f"or ask for it: output_size=(6, 6) -> {up6.shape[2]}x{up6.shape[3]}")
assert up6.shape[2:] == (6, 6)

# %% [markdown]
# ## 10. The splat figure
#
# Deck 003's stride-3 crop-1 example: the four stamps (input value x filter) placed 3 apart,
# their sum, and the crop (dashed square) that leaves the 4x4 output.

# %%
section("10. Figure: the splat diagram")


def draw(ax, a, title, vmax):
    ax.imshow(a, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    for (r, c), v in np.ndenumerate(a):
        if v != 0:
            ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


full6, _ = splat_by_hand(x3, filt, stride=3, crop=0, verbose=False)
vmax = np.abs(full6).max()
fig, axes = plt.subplots(1, 6, figsize=(16, 3.2))
for ax, ((i, j), v, canvas) in zip(axes[:4], stamps3):
    draw(ax, canvas, f"x[{i},{j}] = {v:g}  times filter\nplaced at ({3 * i},{3 * j})", vmax)
draw(axes[4], full6, "sum (no overlap: k = stride = 3)", vmax)
axes[4].add_patch(plt.Rectangle((0.5, 0.5), 4, 4, fill=False, ls="--", lw=2))
draw(axes[5], tconv(x3, filt, stride=3, crop=1), "crop 1 at every border\n= the slide's 4x4", vmax)
fig.suptitle("Deck 003: transposed convolution, stride 3, crop 1, step by step")
save_figure(fig, "03_splat_stride3_crop1")

full_ov, stamps_ov = splat_by_hand(((1, 1), (0, 0)), k33, stride=2, verbose=False)
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
for ax, ((i, j), v, canvas) in zip(axes[:2], stamps_ov[:2]):
    draw(ax, canvas, f"x[{i},{j}] = {v:g} times the kernel", 18)
draw(axes[2], full_ov, "sum: the middle column overlaps", 18)
fig.suptitle("Deck 001: 3x3 kernel, stride 2 -> 5x5 (the slide's 4x4 numbers are stride 1)")
save_figure(fig, "03_splat_overlap_stride2")

# the slide's printed numbers (stride 1) beside the real stride 2, and how many stamps overlap on
# each output pixel: with kernel 3 and stride 2 the counts alternate 1, 2, 4 -- the uneven overlap
# behind the "checkerboard artifact" of learned upsampling; kernel 4, stride 2 covers evenly inside
counts3 = tconv(np.ones((4, 4)), np.ones((3, 3)), stride=2)
counts4 = tconv(np.ones((4, 4)), np.ones((4, 4)), stride=2, crop=1)
check("overlap counts, kernel 4, stride 2, crop 1 (inside the border)", counts4[1:-1, 1:-1],
      np.full((6, 6), 4.0), ref="even: 4 everywhere")
fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
draw(axes[0], np.array(SLIDE_3x3[((1, 1), (0, 0))], float), "the slide's 4x4 ('stride=2')\n= stride 1", 18)
draw(axes[1], full_ov, "the real stride 2: 5x5", 18)
for ax, counts, title in ((axes[2], counts3, "stamps per pixel: kernel 3, stride 2\n(uneven: 1, 2, 4)"),
                          (axes[3], counts4, "kernel 4, stride 2, crop 1\n(even inside)")):
    im = ax.imshow(counts, cmap="viridis", vmin=0, vmax=4)
    for (r, c), v in np.ndenumerate(counts):
        ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=7, color="w" if v < 3 else "k")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(im, ax=axes[2:], shrink=0.8, label="overlapping stamps")
fig.suptitle("Deck 001: printed numbers vs stride 2, and the overlap that makes checkerboards")
save_figure(fig, "03_stride1_vs_stride2_overlap")

try_it_yourself("03")

print("\nLesson 03 complete: every transposed-convolution example of decks 001, 002, 003 reproduced.")
