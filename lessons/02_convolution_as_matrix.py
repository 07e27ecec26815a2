# %% [markdown]
# # Lesson 02 - convolution as a matrix, im2col, and "why transposed"
#
# Decks 001 (convolution as a banded / Toeplitz matrix, the conv-layer formula, translation
# equivariance and weight sharing) and 003 (the 122 / 148 / 126 / 134 "why transposed" example).
#
# A convolution is linear, so it *is* a matrix: a banded one whose rows are the kernel shifted
# along. minisegnet computes it with **im2col** (copy every window into a column, then one matrix
# product). Writing the convolution as a matrix C also explains the name of the upsampling layer
# used by segmentation networks: the **transposed convolution** multiplies by C^T.
#
# Run: `python lessons/02_convolution_as_matrix.py`
# As a notebook: `python lessons/make_notebooks.py 02`, then open `lessons/notebooks/02_*.ipynb`.

# %%
import minisegnet as ms
import minisegnet.functional as F

from _common import *  # noqa: F403
from exercises import try_it_yourself


def as_image(a):
    """A 2-D array as a (1, 1, H, W) Tensor (one image, one channel)."""
    return ms.Tensor(np.asarray(a, dtype=np.float64)[None, None])


# %% [markdown]
# ## 1. In 1-D: a banded matrix
#
# Kernel (1, 2, 3) on an input of length 6, no padding, stride 1: 4 outputs. Column j of the
# matrix is the convolution of the j-th unit vector (the response to a single 1 at position j),
# so we can read the matrix off minisegnet's own conv2d. Each row holds the kernel, shifted one
# place to the right of the row above: a banded (Toeplitz) matrix.

# %%
section("1. 1-D convolution = banded (Toeplitz) matrix")
k1 = np.array([1.0, 2.0, 3.0])
n = 6
cols = [F.conv2d(as_image(np.eye(n)[j][None]), as_image(k1[None])).numpy().ravel() for j in range(n)]
T = np.stack(cols, axis=1)
check("matrix read off conv2d", T,
      [[1, 2, 3, 0, 0, 0],
       [0, 1, 2, 3, 0, 0],
       [0, 0, 1, 2, 3, 0],
       [0, 0, 0, 1, 2, 3]], ref="banded")
v = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0])
check("T @ v == conv1d(v)", T @ v, F.conv2d(as_image(v[None]), as_image(k1[None])).numpy().ravel(),
      ref="conv2d")

# %% [markdown]
# ## 2. The 2-D example of deck 003
#
# The deck prints only the result of a 3x3 convolution of a 4x4 input: [[122, 148], [126, 134]].
# It does not print the input, so we choose one that gives those numbers. (Convolution here is
# cross-correlation, as in deck 001 and in PyTorch: y(i, j) = sum_{s,t} x(i+s, j+t) w(s, t).)

# %%
section("2. A 3x3 convolution of a 4x4 input gives [[122, 148], [126, 134]]")
x = np.array([[4, 5, 8, 7],
              [1, 8, 8, 8],
              [3, 6, 6, 4],
              [6, 5, 7, 8]], dtype=np.float64)
w = np.array([[1, 4, 1],
              [1, 4, 3],
              [3, 3, 1]], dtype=np.float64)
show("input x (our choice)", x)
show("kernel w (our choice)", w)
for i in range(2):
    for j in range(2):
        window = x[i:i + 3, j:j + 3]
        print(f"y({i},{j}) = sum(window * w) = {int((window * w).sum())}   window rows: "
              + " | ".join(" ".join(str(int(v)) for v in row) for row in window))
y = F.conv2d(as_image(x), as_image(w))
check("F.conv2d(x, w)", y[0, 0], [[122, 148], [126, 134]])

# %% [markdown]
# ## 3. im2col: every window becomes a column
#
# minisegnet's conv2d copies each 3x3 window into one column of a 9 x 4 matrix (one column per
# output pixel), then multiplies by the kernel flattened to a row: one matrix product for the
# whole image (and, with C_out kernels, one GEMM for every output channel at once).

# %%
section("3. im2col: the 9 x 4 matrix of windows, then one product")
im2col = np.stack([x[i:i + 3, j:j + 3].ravel() for i in range(2) for j in range(2)], axis=1)
show("cols (each column = one window, read row by row)", im2col)
show("w flattened to a row", w.ravel())
check("w_row @ cols", w.ravel() @ im2col, [122, 148, 126, 134], by="numpy")

# %% [markdown]
# ## 4. The convolution matrix C (4 x 16)
#
# Flatten the 4x4 input to a vector of 16. Output pixel (i, j) is row 2i + j of a 4 x 16 matrix C:
# the kernel laid into a 4x4 zero grid at offset (i, j), flattened. We build C by hand from that
# rule, check it against the columns minisegnet's conv2d produces for the 16 unit images, and
# check that C @ x_flat gives the slide's numbers.

# %%
section("4. The convolution as a 4 x 16 matrix C")
C = np.zeros((4, 16))
for i in range(2):
    for j in range(2):
        grid = np.zeros((4, 4))
        grid[i:i + 3, j:j + 3] = w
        C[2 * i + j] = grid.ravel()
with np.printoptions(linewidth=120):
    show("C", C)
C_from_engine = np.stack([F.conv2d(as_image(np.eye(16)[m].reshape(4, 4)), as_image(w)).numpy().ravel()
                          for m in range(16)], axis=1)
check("C == conv2d applied to the 16 unit images", C_from_engine, C, ref="hand-built C")
check("C @ x_flat (reshaped 2x2)", (C @ x.ravel()).reshape(2, 2), [[122, 148], [126, 134]], by="numpy")

# %% [markdown]
# ## 5. Why "transposed": C^T maps 2x2 back to 4x4
#
# C maps 16 numbers to 4. Its transpose C^T (16 x 4) maps 4 numbers to 16: a 2x2 map becomes a
# 4x4 map with the *same connectivity pattern* (each input pixel is connected to the same 3x3
# block of output pixels). That is what `conv_transpose2d` computes, without building C: every
# input value times the kernel, placed at its offset, overlaps summed (lesson 03 shows the
# splat). We check it on the 2x2 map [[2, 1], [4, 4]], and then on the 122/148/126/134 map.

# %%
section("5. Transposed convolution = C^T (16 x 4) @ flattened 2x2")
z = np.array([[2.0, 1.0], [4.0, 4.0]])
up = F.conv_transpose2d(as_image(z), as_image(w))
show("C^T @ z_flat (reshaped 4x4)", (C.T @ z.ravel()).reshape(4, 4))
check("F.conv_transpose2d(z, w)", up[0, 0], (C.T @ z.ravel()).reshape(4, 4), ref="C^T z")
check("the same on [[122,148],[126,134]]",
      F.conv_transpose2d(y, as_image(w))[0, 0], (C.T @ y.numpy().ravel()).reshape(4, 4), ref="C^T y")

# the defining property of a transpose (adjoint): <C x, z> = <x, C^T z>
lhs = float((y.numpy().ravel() * z.ravel()).sum())
rhs = float((x.ravel() * up.numpy().ravel()).sum())
check("<conv(x), z> = <x, conv_transpose(z)>", lhs, rhs, ref="<x, C^T z>")

# %% [markdown]
# The transpose restores the **shape**, not the values: the 4x4 map just above is C^T (C x), and
# it is not x. A transposed convolution is an upsampling layer with learnable weights, not an
# inverse of the convolution.

# %%
back = F.conv_transpose2d(y, as_image(w))[0, 0].numpy()
print(f"C^T (C x) == x ? {np.allclose(back, x)}  "
      f"(top-left entry {back[0, 0]:.0f} vs x[0, 0] = {x[0, 0]:.0f})")
assert not np.allclose(back, x)

# %% [markdown]
# ## 6. A convolution layer: channels, bias, weight sharing
#
# Deck 001: y(i, j, l) = b_l + sum_{s, t, k} x(i+s, j+t, k) w_l(s, t, k), over kernel offsets s, t
# and input channels k, one kernel w_l per output channel l. We check minisegnet's conv2d
# against this formula written as loops, on a 2-channel 5x5 input and 3 output channels.

# %%
section("6. The conv-layer formula with channels and bias (loops vs conv2d)")
rng = np.random.default_rng(1)
xc = rng.integers(-3, 4, size=(2, 5, 5)).astype(np.float64)   # (k, H, W)
wc = rng.integers(-2, 3, size=(3, 2, 3, 3)).astype(np.float64)  # (l, k, s, t)
bc = np.array([1.0, -1.0, 0.5])
ref = np.zeros((3, 3, 3))
for l in range(3):
    for i in range(3):
        for j in range(3):
            ref[l, i, j] = bc[l] + sum(xc[k, i + s, j + t] * wc[l, k, s, t]
                                       for s in range(3) for t in range(3) for k in range(2))
out = F.conv2d(ms.Tensor(xc[None]), ms.Tensor(wc), ms.Tensor(bc))[0]
check("conv2d vs the formula, channel l = 0", out[0], ref[0], ref="loops")
check("all 3 output channels", out, ref, ref="loops")
n_weights = wc.size + bc.size
print(f"parameters: 3 kernels x 2 channels x 3 x 3 + 3 biases = {n_weights}, whatever the image size "
      "(the same weights are shared by every position)")
assert n_weights == 57

# %% [markdown]
# ## 7. Translation equivariance
#
# Shift the input, and the output shifts the same way (away from the borders): the same kernel is
# applied at every position.

# %%
section("7. Translation equivariance: conv(shift(x)) = shift(conv(x))")
img = np.zeros((8, 8))
img[2:4, 2:5] = [[1, 2, 3], [4, 5, 6]]
shifted = np.roll(img, (2, 1), axis=(0, 1))
a = F.conv2d(as_image(img), as_image(w)).numpy()[0, 0]
b = F.conv2d(as_image(shifted), as_image(w)).numpy()[0, 0]
check("conv(shift(x))", b, np.roll(a, (2, 1), axis=(0, 1)), ref="shift(conv(x))")

try_it_yourself("02")

print("\nLesson 02 complete: convolution = C @ x (im2col), transposed convolution = C^T @ z.")
