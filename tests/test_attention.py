"""The transformer primitives (issue 14): linear, layer norm, GELU, attention, multi-head attention,
roll, Swin's windows / mask / relative positions, patch and position embeddings.

Every op against a naive reference written from its formula (loops over tokens, heads and
positions), and its gradient against central differences in float64 on hypothesis-drawn shapes.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minisegnet as ms
import minisegnet.functional as F
import minisegnet.nn as nn
from minisegnet import Tensor, gradcheck

from conftest import DEVICES
from strategies import arrays


def T(x, device="cpu", grad=True):
    return Tensor(np.asarray(x, dtype=np.float64), requires_grad=grad, device=device)


def randn(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ----------------------------------------------------------------------------------------------
# naive references, from the formulas


def ref_linear(x, w, b=None):
    """y[..., o] = sum_i x[..., i] w[o, i] + b[o], one output feature at a time."""
    y = np.zeros(x.shape[:-1] + (w.shape[0],))
    for o in range(w.shape[0]):
        y[..., o] = sum(x[..., i] * w[o, i] for i in range(w.shape[1])) + (0 if b is None else b[o])
    return y


def ref_layer_norm(x, n_axes, w, b, eps=1e-5):
    """Token by token: (v - mean) / sqrt(var + eps) * gamma + beta."""
    lead = x.shape[: x.ndim - n_axes]
    y = np.zeros_like(x)
    for idx in np.ndindex(*lead):
        v = x[idx]
        mu = v.sum() / v.size
        var = ((v - mu) ** 2).sum() / v.size
        y[idx] = (v - mu) / math.sqrt(var + eps) * w + b
    return y


def ref_attention(q, k, v, allowed=None, add=None):
    """For each query: scores s_j = q . k_j / sqrt(E) (+ add_j), kept where allowed, softmax over
    the kept keys, output sum_j p_j v_j; a query with no key kept outputs zeros."""
    lead = q.shape[:-2]
    big = np.broadcast_shapes(lead, k.shape[:-2], v.shape[:-2])
    q, k, v = (np.broadcast_to(a, big + a.shape[-2:]) for a in (q, k, v))
    L, E, S = q.shape[-2], q.shape[-1], k.shape[-2]
    out = np.zeros(big + (L, v.shape[-1]))
    weights = np.zeros(big + (L, S))
    for idx in np.ndindex(*big):
        for i in range(L):
            scores = []
            for j in range(S):
                s = sum(q[idx][i, e] * k[idx][j, e] for e in range(E)) / math.sqrt(E)
                if add is not None:
                    s += np.broadcast_to(add, big + (L, S))[idx][i, j]
                keep = (
                    True if allowed is None else np.broadcast_to(allowed, big + (L, S))[idx][i, j]
                )
                scores.append(s if keep else None)
            kept = [s for s in scores if s is not None]
            if not kept:
                continue
            m = max(kept)
            z = sum(math.exp(s - m) for s in kept)
            for j, s in enumerate(scores):
                if s is not None:
                    p = math.exp(s - m) / z
                    weights[idx][i, j] = p
                    out[idx][i] += p * v[idx][j]
    return out, weights


# ----------------------------------------------------------------------------------------------
# linear


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=10)
@given(
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    n_in=st.integers(1, 4),
    n_out=st.integers(1, 4),
    bias=st.booleans(),
    seed=st.integers(0, 99),
)
def test_linear_value_and_gradient(device, lead, n_in, n_out, bias, seed):
    x, w, b = randn((*lead, n_in), seed), randn((n_out, n_in), seed + 1), randn(n_out, seed + 2)
    args = [T(x, device), T(w, device)] + ([T(b, device)] if bias else [])
    y = F.linear(*args)
    np.testing.assert_allclose(
        y.numpy(), ref_linear(x, w, b if bias else None), rtol=1e-12, atol=1e-12
    )
    assert gradcheck(lambda *a: F.linear(*a), *args)


def test_linear_without_weight_is_the_identity_and_errors_are_clear():
    x = T([[1.0, -2.0]], grad=False)
    assert F.linear(x) is x
    with pytest.raises(ValueError, match=r"linear: input \(1, 2\) needs weight \(out, 2\)"):
        F.linear(x, T(np.zeros((3, 4))))
    with pytest.raises(ValueError, match="a bias needs a weight"):
        F.linear(x, bias=T([1.0]))
    ms.manual_seed(0)
    layer = nn.Linear(2, 3)
    assert layer.weight.shape == (3, 2) and layer.bias.shape == (3,)
    assert np.abs(layer.weight.numpy()).max() <= 1 / math.sqrt(2)
    assert layer(Tensor(np.ones((4, 5, 2), np.float32))).shape == (4, 5, 3)
    assert nn.Linear(2, 3, bias=False).bias is None
    with pytest.raises(
        ValueError, match=r"Linear\(2, 3\): expected an input of shape \(\.\.\., 2\)"
    ):
        layer(Tensor(np.ones((4, 3), np.float32)))


# ----------------------------------------------------------------------------------------------
# layer norm


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=10)
@given(
    lead=st.lists(st.integers(1, 3), min_size=1, max_size=2),
    norm=st.lists(st.integers(2, 4), min_size=1, max_size=2),
    affine=st.booleans(),
    seed=st.integers(0, 99),
)
def test_layer_norm_value_and_gradient(device, lead, norm, affine, seed):
    x = randn((*lead, *norm), seed) * 2 + 0.5
    w, b = randn(norm, seed + 1), randn(norm, seed + 2)
    expected = ref_layer_norm(x, len(norm), w if affine else 1.0, b if affine else 0.0)
    params = [T(w, device), T(b, device)] if affine else [None, None]
    y = F.layer_norm(T(x, device, False), norm, *params)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)
    if affine:
        assert gradcheck(lambda x, w, b: F.layer_norm(x, norm, w, b), T(x, device), *params)
    else:
        assert gradcheck(lambda x: F.layer_norm(x, norm), T(x, device))


def test_layer_norm_module_and_errors():
    m = nn.LayerNorm(4)
    x = Tensor(randn((2, 3, 4)).astype(np.float32))
    y = m(x).numpy()
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-6)
    np.testing.assert_allclose(y.var(-1), 1 / (1 + 1e-5 / x.numpy().var(-1)), rtol=1e-4)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    with pytest.raises(ValueError, match=r"normalized_shape \(5,\) must be the last axes"):
        F.layer_norm(x, 5)


# ----------------------------------------------------------------------------------------------
# GELU and erf


def test_erf_matches_math_erf():
    x = np.concatenate([np.linspace(-8, 8, 20001), [0.0, 0.5, 6.0, -6.0, 1e-9]])
    np.testing.assert_allclose(
        F.erf(T(x, grad=False)).numpy(), [math.erf(v) for v in x], rtol=0, atol=5e-14
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@given(x=arrays((7,), low=-5, high=5, avoid=()))
def test_gelu_value_and_gradient(device, approximate, x):
    if approximate == "none":
        expected = [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x]
    else:
        expected = [
            0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3))) for v in x
        ]
    np.testing.assert_allclose(
        F.gelu(T(x, device, False), approximate).numpy(), expected, rtol=1e-12, atol=1e-13
    )
    assert gradcheck(lambda t: F.gelu(t, approximate), T(x, device))
    assert gradcheck(lambda t: nn.GELU(approximate)(t), T(x, device))


def test_gelu_errors_and_known_values():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'fast'"):
        F.gelu(T([1.0]), "fast")
    # GELU(1) = Phi(1) = 0.8413447460685429; GELU(-1) = -(1 - Phi(1))
    np.testing.assert_allclose(
        F.gelu(T([1.0, -1.0], grad=False)).numpy(),
        [0.8413447460685429, -0.15865525393145707],
        rtol=1e-13,
    )


# ----------------------------------------------------------------------------------------------
# scaled dot-product attention


@st.composite
def attention_shapes(draw):
    lead = tuple(draw(st.lists(st.integers(1, 2), min_size=0, max_size=2)))
    L, S, E, Ev = (draw(st.integers(1, 3)) for _ in range(4))
    return lead, L, S, E, Ev


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=12)
@given(
    shapes=attention_shapes(),
    kind=st.sampled_from(["none", "bool", "float"]),
    seed=st.integers(0, 999),
)
def test_sdpa_value_and_gradient(device, shapes, kind, seed):
    lead, L, S, E, Ev = shapes
    q, k, v = (
        randn((*lead, L, E), seed),
        randn((*lead, S, E), seed + 1),
        randn((*lead, S, Ev), seed + 2),
    )
    rng = np.random.default_rng(seed)
    allowed = rng.random((L, S)) < 0.7 if kind == "bool" else None
    add = rng.standard_normal((L, S)) if kind == "float" else None
    out, weights = ref_attention(q, k, v, allowed, add)
    mask = {
        "none": None,
        "bool": Tensor(allowed, device=device) if allowed is not None else None,
        "float": T(add, device) if add is not None else None,
    }[kind]
    y = F.scaled_dot_product_attention(T(q, device), T(k, device), T(v, device), attn_mask=mask)
    np.testing.assert_allclose(y.numpy(), out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        F.attention_weights(T(q, device), T(k, device), mask).numpy(),
        weights,
        rtol=1e-10,
        atol=1e-12,
    )
    tensors = [T(q, device), T(k, device), T(v, device)] + ([mask] if kind == "float" else [])

    def fused(q, k, v, m=mask):  # the fused op, which recomputes P in backward
        return F.scaled_dot_product_attention(q, k, v, m)

    def kept(q, k, v, m=mask):  # P kept, then matmul
        return F.attention_weights(q, k, m) @ v

    assert gradcheck(fused, *tensors) and gradcheck(kept, *tensors)


def test_sdpa_boolean_mask_true_means_may_attend():
    q = T([[1.0, 0.0]], grad=False)
    k = T([[1.0, 0.0], [0.0, 1.0]], grad=False)
    v = T([[10.0], [20.0]], grad=False)
    only_second = Tensor(np.array([[False, True]]))
    np.testing.assert_allclose(
        F.scaled_dot_product_attention(q, k, v, only_second).numpy(), [[20.0]]
    )
    # the float mask that says the same: -inf where the bool mask is False
    minus_inf = T([[-np.inf, 0.0]], grad=False)
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, minus_inf).numpy(), [[20.0]])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sdpa_fully_masked_row_gives_zeros_and_finite_gradients(device, dtype):
    """PyTorch returns NaN for a query that may attend to no key; minisegnet returns zeros there
    (and a zero gradient), the other rows unchanged."""
    q, k, v = (
        Tensor(randn(s, i).astype(dtype), requires_grad=True, device=device)
        for i, s in enumerate([(3, 2), (4, 2), (4, 3)])
    )
    allowed = np.array([[True, False, True, True], [False] * 4, [True] * 4])
    for mask in (
        Tensor(allowed, device=device),
        Tensor(np.where(allowed, 0.0, -np.inf).astype(dtype), device=device),
    ):
        for t in (q, k, v):
            t.grad = None
        y = F.scaled_dot_product_attention(q, k, v, mask)
        (y * Tensor(np.ones((3, 3), dtype), device=device)).sum().backward()
        assert np.isfinite(y.numpy()).all()
        np.testing.assert_array_equal(y.numpy()[1], 0.0)
        assert np.isfinite(q.grad.numpy()).all() and np.isfinite(k.grad.numpy()).all()
        np.testing.assert_array_equal(q.grad.numpy()[1], 0.0)
        out, _ = ref_attention(*(t.numpy().astype(np.float64) for t in (q, k, v)), allowed)
        np.testing.assert_allclose(y.numpy(), out, rtol=1e-5, atol=1e-6)
    assert gradcheck(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, Tensor(allowed)),
        T(q.numpy()),
        T(k.numpy()),
        T(v.numpy()),
    )


def test_sdpa_is_causal_and_torchs_argument_order():
    """PyTorch's (q, k, v, attn_mask, dropout_p, is_causal, scale) (oracle sweep: the 5th
    argument was ``scale``, so a positional dropout_p=0.0 silently zeroed the scores)."""
    rng = np.random.default_rng(7)
    q, k, v = (
        rng.standard_normal((2, 3, 2)),
        rng.standard_normal((2, 4, 2)),
        rng.standard_normal((2, 4, 3)),
    )
    causal = np.tril(np.ones((3, 4), bool))  # query i sees keys 0..i
    want, _ = ref_attention(q, k, v, causal)
    y = F.scaled_dot_product_attention(T(q), T(k), T(v), None, 0.0, True)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y.numpy()[:, 0], v[:, 0], rtol=1e-12)  # the first sees one key
    plain, _ = ref_attention(q, k, v)
    y = F.scaled_dot_product_attention(T(q), T(k), T(v), None, 0.0)  # not scale=0
    np.testing.assert_allclose(y.numpy(), plain, rtol=1e-12, atol=1e-12)
    doubled, _ = ref_attention(q * 2 * math.sqrt(2), k, v)  # scale 2 = 2 sqrt(E) / sqrt(E)
    y = F.scaled_dot_product_attention(T(q), T(k), T(v), scale=2.0)
    np.testing.assert_allclose(y.numpy(), doubled, rtol=1e-12, atol=1e-12)
    assert gradcheck(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), T(q), T(k), T(v)
    )
    with pytest.raises(ValueError, match=r"dropout_p=0.1: there is no dropout inside this op"):
        F.scaled_dot_product_attention(T(q), T(k), T(v), dropout_p=0.1)
    with pytest.raises(ValueError, match=r"give attn_mask or is_causal=True, not both"):
        F.scaled_dot_product_attention(T(q), T(k), T(v), Tensor(causal), is_causal=True)


def test_sdpa_errors():
    q, k = T(np.zeros((2, 3))), T(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"need the same S, got shapes \(4, 3\) and \(5, 2\)"):
        F.scaled_dot_product_attention(q, k, T(np.zeros((5, 2))))
    with pytest.raises(ValueError, match=r"need the same E"):
        F.scaled_dot_product_attention(q, T(np.zeros((4, 2))), T(np.zeros((4, 2))))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 4\) does not broadcast"):
        F.scaled_dot_product_attention(q, k, k, Tensor(np.ones((3, 4), bool)))
    with pytest.raises(TypeError, match="boolean or floating"):
        F.scaled_dot_product_attention(q, k, k, Tensor(np.ones((2, 4), np.int64)))


# ----------------------------------------------------------------------------------------------
# multi-head attention


def ref_mha(m, q, k, v, allowed=None):
    """Per head: project with the slices of in_proj_weight, attend, concatenate, project out."""
    e, h = m.embed_dim, m.num_heads
    d = e // h
    W, b = m.in_proj_weight.numpy(), m.in_proj_bias.numpy()
    qp, kp, vp = (
        ref_linear(x, W[i * e : (i + 1) * e], b[i * e : (i + 1) * e])
        for i, x in enumerate((q, k, v))
    )
    heads, weights = [], []
    for j in range(h):
        o, p = ref_attention(
            qp[..., j * d : (j + 1) * d],
            kp[..., j * d : (j + 1) * d],
            vp[..., j * d : (j + 1) * d],
            allowed,
        )
        heads.append(o)
        weights.append(p)
    out = ref_linear(np.concatenate(heads, -1), m.out_proj.weight.numpy(), m.out_proj.bias.numpy())
    return out, sum(weights) / h


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=8)
@given(
    heads=st.sampled_from([1, 2]),
    L=st.integers(1, 3),
    S=st.integers(1, 3),
    self_attention=st.booleans(),
    seed=st.integers(0, 99),
)
def test_multihead_attention_matches_per_head_reference(device, heads, L, S, self_attention, seed):
    ms.manual_seed(seed)
    m = nn.MultiheadAttention(4, heads, batch_first=True).double()
    m.in_proj_bias.data[...] = randn(12, seed)
    m.out_proj.bias.data[...] = randn(4, seed + 1)
    m.to(device)
    q = randn((2, L, 4), seed + 2)
    k = q if self_attention else randn((2, S, 4), seed + 3)
    v = q if self_attention else randn((2, S, 4), seed + 4)
    out, weights = ref_mha(m, q, k, v)
    tq = T(q, device, False)
    args = (tq, tq, tq) if self_attention else (tq, T(k, device, False), T(v, device, False))
    y, w = m(*args)
    np.testing.assert_allclose(y.numpy(), out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.numpy(), weights, rtol=1e-10, atol=1e-12)
    assert m(*args, need_weights=False)[1] is None
    x = T(q, device)
    assert gradcheck(lambda x: m(x, x, x)[0], x)


def test_multihead_attention_parameters_are_named_and_shaped_as_pytorch():
    m = nn.MultiheadAttention(6, 3)
    assert {k: v.shape for k, v in m.state_dict().items()} == {
        "in_proj_weight": (18, 6),
        "in_proj_bias": (18,),
        "out_proj.weight": (6, 6),
        "out_proj.bias": (6,),
    }
    np.testing.assert_array_equal(m.in_proj_bias.numpy(), 0)
    np.testing.assert_array_equal(m.out_proj.bias.numpy(), 0)
    with pytest.raises(ValueError, match="embed_dim=6 must be divisible by num_heads=4"):
        nn.MultiheadAttention(6, 4)


def test_multihead_attention_boolean_mask_true_means_may_not_attend():
    """torch.nn.MultiheadAttention's convention, the opposite of scaled_dot_product_attention's."""
    ms.manual_seed(0)
    m = nn.MultiheadAttention(4, 2, batch_first=True).double()
    x = T(randn((1, 3, 4)), grad=False)
    forbidden = np.array([[False, True, True], [False, False, True], [True, True, True]])
    y, w = m(x, x, x, attn_mask=Tensor(forbidden))
    np.testing.assert_array_equal(w.numpy()[0][forbidden], 0.0)  # no weight where True
    assert (w.numpy()[0][~forbidden] > 0).all()
    out, weights = ref_mha(m, x.numpy(), x.numpy(), x.numpy(), allowed=~forbidden)
    np.testing.assert_allclose(
        y.numpy(), out, rtol=1e-10, atol=1e-12
    )  # row 2: zeros, then out_proj
    np.testing.assert_allclose(w.numpy(), weights, rtol=1e-10, atol=1e-12)
    # a float mask is added: -inf where True gives the same
    yf, _ = m(x, x, x, attn_mask=T(np.where(forbidden, -np.inf, 0.0), grad=False))
    np.testing.assert_allclose(yf.numpy(), y.numpy(), rtol=1e-12)


def test_multihead_attention_layouts():
    ms.manual_seed(0)
    m = nn.MultiheadAttention(4, 2).double()  # PyTorch's default: sequence first
    assert m.batch_first is False
    x = randn((3, 2, 4))  # (L, N, E)
    y, w = m(T(x), T(x), T(x))
    m.batch_first = True  # the same layer on (N, L, E): the same numbers, transposed
    yb, wb = m(T(x.transpose(1, 0, 2)), T(x.transpose(1, 0, 2)), T(x.transpose(1, 0, 2)))
    np.testing.assert_allclose(yb.numpy(), y.numpy().transpose(1, 0, 2), rtol=1e-12)
    np.testing.assert_allclose(wb.numpy(), w.numpy(), rtol=1e-12)
    m.batch_first = False
    assert y.shape == (3, 2, 4) and w.shape == (2, 3, 3)
    y1, w1 = m(T(x[:, 0]), T(x[:, 0]), T(x[:, 0]))  # unbatched (L, E)
    np.testing.assert_allclose(y1.numpy(), y.numpy()[:, 0], rtol=1e-12)
    assert w1.shape == (3, 3)
    with pytest.raises(ValueError, match=r"attn_mask must be \(3, 3\) or \(4, 3, 3\)"):
        m(T(x), T(x), T(x), attn_mask=Tensor(np.zeros((2, 3), bool)))
    # a wrong embedding size: the message names the layout of this batch_first and the shapes
    bad = T(randn((3, 2, 5)))
    with pytest.raises(
        ValueError,
        match=r"batch_first=False\): expected query \(L, N, 4\) .*"
        r"got \(3, 2, 5\)",
    ):
        m(bad, bad, bad)
    m.batch_first = True
    with pytest.raises(ValueError, match=r"expected query \(N, L, 4\) and key / value \(N, S, 4\)"):
        m(bad, bad, bad)


def test_multihead_attention_dropout_is_pytorchs_third_argument():
    """Oracle sweep: MultiheadAttention(64, 8, 0.1) set bias=0.1 (PyTorch: dropout=0.1), and the
    default layout was batch first (PyTorch: sequence first)."""
    ms.manual_seed(0)
    m = nn.MultiheadAttention(4, 2, 0.5, batch_first=True).double()
    assert m.dropout == 0.5 and m.in_proj_bias is not None
    x = T(randn((2, 3, 4)), grad=False)
    m.eval()
    _, w_ref = m(x, x, x, average_attn_weights=False)  # eval: no dropout
    np.testing.assert_allclose(w_ref.numpy().sum(-1), 1.0, rtol=1e-12)
    m.train()
    _, w = m(x, x, x, average_attn_weights=False)
    kept = w.numpy() != 0
    assert kept.any() and (~kept).any()  # some weights dropped, the rest scaled by 1 / (1 - p)
    np.testing.assert_allclose(w.numpy()[kept], 2 * w_ref.numpy()[kept], rtol=1e-12)
    assert m(x, x, x, need_weights=False)[1] is None
    with pytest.raises(ValueError, match=r"dropout must be a probability in \[0, 1\), got True"):
        nn.MultiheadAttention(4, 2, True)


# ----------------------------------------------------------------------------------------------
# roll, windows, the shifted-window mask, relative positions


def ref_roll(x, shifts, dims):
    """Element at i moves to (i + shift) mod n along each dim; no dims: on the flattened array."""
    if dims is None:
        flat = x.reshape(-1)
        y = np.empty_like(flat)
        for i in range(flat.size):
            y[(i + shifts) % flat.size] = flat[i]
        return y.reshape(x.shape)
    y = x
    for s, d in zip(shifts, dims):
        out = np.empty_like(y)
        n = y.shape[d]
        for i in range(n):
            idx_to = [slice(None)] * y.ndim
            idx_from = [slice(None)] * y.ndim
            idx_to[d], idx_from[d] = (i + s) % n, i
            out[tuple(idx_to)] = y[tuple(idx_from)]
        y = out
    return y


@pytest.mark.parametrize("device", DEVICES)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data())
def test_roll_value_and_gradient(device, shape, data):
    x = randn(shape, len(shape))
    if data.draw(st.booleans()):
        shifts, dims = data.draw(st.integers(-7, 7)), None
        expected = ref_roll(x, shifts, None)
    else:
        dims = tuple(
            data.draw(st.permutations(range(len(shape))))[: data.draw(st.integers(1, len(shape)))]
        )
        shifts = tuple(data.draw(st.integers(-5, 5)) for _ in dims)
        expected = ref_roll(x, shifts, dims)
    np.testing.assert_array_equal(ms.roll(T(x, device, False), shifts, dims).numpy(), expected)
    np.testing.assert_array_equal(T(x, device, False).roll(shifts, dims).numpy(), expected)
    assert gradcheck(lambda t: F.roll(t, shifts, dims), T(x, device))


def test_roll_errors():
    with pytest.raises(ValueError, match="without dims, shifts must be one int"):
        ms.roll(T(np.zeros((2, 2))), (1, 1))
    with pytest.raises(ValueError, match="same length"):
        ms.roll(T(np.zeros((2, 2))), (1, 1), 0)
    with pytest.raises(ValueError, match="dim 2 is out of range"):
        ms.roll(T(np.zeros((2, 2))), 1, 2)


@given(
    b=st.integers(1, 2),
    nh=st.integers(1, 3),
    nw=st.integers(1, 3),
    ws=st.integers(1, 3),
    c=st.integers(1, 2),
)
def test_window_partition_and_reverse(b, nh, nw, ws, c):
    h, w = nh * ws, nw * ws
    x = randn((b, h, w, c))
    win = F.window_partition(T(x, grad=False), ws).numpy()
    assert win.shape == (b * nh * nw, ws * ws, c)
    for n in range(
        b
    ):  # window (n, i, j) holds the tokens of rows i ws.., columns j ws.., row-major
        for i in range(nh):
            for j in range(nw):
                np.testing.assert_array_equal(
                    win[(n * nh + i) * nw + j],
                    x[n, i * ws : (i + 1) * ws, j * ws : (j + 1) * ws].reshape(ws * ws, c),
                )
    np.testing.assert_array_equal(F.window_reverse(Tensor(win), ws, h, w).numpy(), x)
    assert gradcheck(lambda t: F.window_partition(t, ws), T(x), max_elements=0, n_directions=3)


@pytest.mark.parametrize(
    "h, w, ws, shift", [(8, 8, 4, 2), (8, 12, 4, 2), (6, 9, 3, 1), (4, 4, 2, 1), (8, 8, 4, 0)]
)
def test_shifted_window_mask_forbids_exactly_the_wrapped_pairs(h, w, ws, shift):
    """Two tokens of a window of the rolled map may attend to each other iff they were as close in
    the original image as they are in the rolled one (no wrap-around between them)."""
    mask = F.shifted_window_mask(h, w, ws, shift)
    assert mask.shape == (h // ws * w // ws, ws * ws, ws * ws)
    for win in range(mask.shape[0]):
        wi, wj = divmod(win, w // ws)
        for a in range(ws * ws):
            for b in range(ws * ws):
                (ya, xa), (yb, xb) = ((wi * ws + t // ws, wj * ws + t % ws) for t in (a, b))
                oya, oxa, oyb, oxb = (
                    (ya + shift) % h,
                    (xa + shift) % w,
                    (yb + shift) % h,
                    (xb + shift) % w,
                )
                near = abs(oya - oyb) == abs(ya - yb) and abs(oxa - oxb) == abs(xa - xb)
                assert mask[win, a, b] == near, (win, a, b)
    with pytest.raises(ValueError, match="not a multiple of the window size 4"):
        F.window_partition(T(np.zeros((1, 6, 8, 1))), 4)


@pytest.mark.parametrize("ws", [1, 2, 3, 4])
def test_relative_position_index_and_bias(ws):
    index = F.relative_position_index(ws)
    n = ws * ws
    for i in range(n):
        for j in range(n):
            dy, dx = i // ws - j // ws, i % ws - j % ws
            assert index[i, j] == (dy + ws - 1) * (2 * ws - 1) + (dx + ws - 1)
    assert index.max() == (2 * ws - 1) ** 2 - 1 and len(np.unique(index)) == (2 * ws - 1) ** 2
    ms.manual_seed(0)
    rpb = nn.RelativePositionBias(ws, 2).double()
    bias = rpb().numpy()
    assert bias.shape == (2, n, n)
    for h in range(2):
        for i in range(n):
            for j in range(n):
                assert bias[h, i, j] == rpb.table.numpy()[index[i, j], h]
    table = T(rpb.table.numpy())

    def lookup(t):
        rpb._parameters["table"] = t
        return rpb()

    assert gradcheck(lookup, table, max_elements=0, n_directions=4)  # repeated rows accumulate


# ----------------------------------------------------------------------------------------------
# patch and position embeddings


def test_patch_embed_is_a_linear_map_of_each_patch():
    ms.manual_seed(0)
    pe = nn.PatchEmbed(2, 5, 4).double()
    x = randn((2, 2, 8, 12))
    y = pe(T(x, grad=False)).numpy()
    assert y.shape == (2, 5, 2, 3)
    w = pe.proj.weight.numpy().reshape(5, -1)
    for n in range(2):
        for i in range(2):
            for j in range(3):
                patch = x[n, :, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4].reshape(-1)
                np.testing.assert_allclose(
                    y[n, :, i, j], w @ patch + pe.proj.bias.numpy(), rtol=1e-10, atol=1e-12
                )
    with pytest.raises(ValueError, match=r"H and W multiples of 4, got shape \(1, 2, 8, 10\)"):
        pe(T(np.zeros((1, 2, 8, 10))))


def test_position_embedding_resizes_bilinearly():
    ms.manual_seed(0)
    pos = nn.PositionEmbedding(3, 4).double()
    assert pos((4, 4)) is pos.weight
    grid = pos.weight.numpy()[0]
    big = pos((8, 8)).numpy()[0]
    assert big.shape == (3, 8, 8)
    # align_corners=False doubling: output pixel 1 lies at input coordinate 0.25
    np.testing.assert_allclose(
        big[:, 1, 1],
        0.75 * (0.75 * grid[:, 0, 0] + 0.25 * grid[:, 0, 1])
        + 0.25 * (0.75 * grid[:, 1, 0] + 0.25 * grid[:, 1, 1]),
        rtol=1e-12,
    )
    np.testing.assert_allclose(big[:, 0, 0], grid[:, 0, 0], rtol=1e-12)  # clamped at the border
    pos.weight.data[...] = 1.5
    np.testing.assert_allclose(pos((3, 5)).numpy(), 1.5)  # a constant table stays constant
    assert gradcheck(
        lambda w: F.interpolate(w, size=(3, 5), mode="bilinear"),
        T(pos.weight.numpy()),
        max_elements=0,
        n_directions=3,
    )
