"""The fully connected CRF (issue 15): mean-field inference against a naive reference that computes
every pairwise term with Python loops, batches, Tensors, devices, a real clean-up, clear errors."""

import math

import numpy as np
import pytest

import minisegnet as ms
from minisegnet import backend
from minisegnet.crf import dense_crf

import fake_cupy


def naive_dense_crf(probs, image, iterations, theta_alpha, theta_beta, theta_gamma, w1, w2):
    """Krahenbuhl & Koltun's mean field, written out: one (K, H, W) map, loops over every pair."""
    k, h, w = probs.shape
    pix = [(r, c) for r in range(h) for c in range(w)]
    unary = {i: [-math.log(probs[l][i]) for l in range(k)] for i in pix}
    q = {i: [probs[l][i] for l in range(k)] for i in pix}
    for _ in range(iterations):
        new = {}
        for i in pix:
            energy = []
            for l in range(k):
                e = unary[i][l]
                for j in pix:
                    if j == i:
                        continue
                    dp = (i[0] - j[0]) ** 2 + (i[1] - j[1]) ** 2
                    dc = sum((image[ch][i] - image[ch][j]) ** 2 for ch in range(image.shape[0]))
                    kij = w1 * math.exp(
                        -dp / (2 * theta_alpha**2) - dc / (2 * theta_beta**2)
                    ) + w2 * math.exp(-dp / (2 * theta_gamma**2))
                    for l2 in range(k):
                        if l2 != l:  # Potts
                            e += kij * q[j][l2]
                energy.append(e)
            z = [math.exp(-(e - min(energy))) for e in energy]
            new[i] = [v / sum(z) for v in z]
        q = new
    out = np.zeros_like(probs)
    for i in pix:
        for l in range(k):
            out[l][i] = q[i][l]
    return out


def random_inputs(n=None, k=3, h=4, w=5, seed=0):
    rng = np.random.default_rng(seed)
    shape = (k, h, w) if n is None else (n, k, h, w)
    logits = rng.standard_normal(shape)
    p = np.exp(logits) / np.exp(logits).sum(axis=-3, keepdims=True)
    img = rng.random((3, h, w) if n is None else (n, 3, h, w))
    return p, img


PARAMS = dict(theta_alpha=2.0, theta_beta=0.3, theta_gamma=1.0, w1=1.5, w2=0.7)


@pytest.mark.parametrize("iterations", [1, 3])
def test_matches_naive_reference(iterations):
    p, img = random_inputs(seed=iterations)
    expected = naive_dense_crf(p, img, iterations, **PARAMS)
    got = dense_crf(p, img, iterations, **PARAMS)
    assert got.shape == (3, 4, 5) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert np.abs(got - p).max() > 0.05  # the CRF did change the map
    # small chunks give the same sums as one chunk
    np.testing.assert_allclose(
        dense_crf(p, img, iterations, chunk_elements=7, **PARAMS), got, rtol=1e-12, atol=1e-14
    )


def test_batch_equals_per_image_and_stays_normalised():
    p, img = random_inputs(n=3, seed=4)
    got = dense_crf(p, img, 4)
    for b in range(3):
        np.testing.assert_allclose(got[b], dense_crf(p[b], img[b], 4), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-12)
    assert got.min() >= 0
    np.testing.assert_allclose(dense_crf(p, img, 0), p, atol=1e-12)  # no iteration: unchanged
    p32 = dense_crf(p.astype(np.float32), img.astype(np.float32), 4)
    assert p32.dtype == np.float32
    np.testing.assert_allclose(p32, got, atol=1e-5)


def test_tensor_in_tensor_out(device):
    p, img = random_inputs(n=2, seed=5)
    out = dense_crf(ms.Tensor(p, device=device), ms.Tensor(img, device=device), 2)
    assert isinstance(out, ms.Tensor) and out.device == device and out.shape == p.shape
    assert not out.requires_grad
    np.testing.assert_allclose(out.numpy(), dense_crf(p, img, 2), rtol=1e-10, atol=1e-12)


def test_fake_gpu_stays_on_gpu(monkeypatch):
    p, img = random_inputs(n=2, seed=6)
    expected = dense_crf(p, img, 3)
    fake_cupy.install(monkeypatch)
    gp, gimg = backend.to_device(p, "gpu"), backend.to_device(img, "gpu")
    out = dense_crf(gp, gimg, 3)
    assert backend.device_of(out) == "gpu"
    np.testing.assert_allclose(backend.asnumpy(out), expected, rtol=1e-12, atol=1e-13)
    with pytest.raises(backend.DeviceError, match="two devices"):
        dense_crf(gp, img, 3)


def test_noisy_map_next_to_colour_edge_gets_cleaner():
    """A thin stripe (columns 7-8) of another colour and a noisy two-class map: 30% of the pixels
    lean the wrong way. The colour kernel pulls each pixel towards its region's majority."""
    rng = np.random.default_rng(0)
    h, w = 16, 16
    col = np.arange(w)[None, :]
    truth = ((col >= 7) & (col < 9)).repeat(h, 0).astype(int)
    img = np.zeros((3, h, w))
    img[0] = np.where(truth == 0, 0.9, 0.1)
    img[2] = np.where(truth == 0, 0.2, 0.8)
    img = np.clip(img + 0.03 * rng.standard_normal(img.shape), 0, 1)
    wrong = rng.random((h, w)) < 0.3
    lean = np.where(wrong, 1 - truth, truth)
    conf = rng.uniform(0.55, 0.8, (h, w))
    p = np.stack([np.where(lean == 0, conf, 1 - conf), np.where(lean == 1, conf, 1 - conf)])
    before = (p.argmax(0) == truth).mean()
    after = (dense_crf(p, img, 5).argmax(0) == truth).mean()
    assert before < 0.75
    assert after == 1.0  # 0.72 -> 1.0
    # the colour kernel off and a wide spatial kernel: the stripe is smoothed away (0.875)
    smooth = dense_crf(p, img, 5, w1=0.0, w2=3.0, theta_gamma=3.0)
    assert (smooth.argmax(0) == truth).mean() < 0.9


@pytest.mark.parametrize(
    "probs_shape, image_shape, match",
    [
        ((4, 5), (3, 4, 5), "probs must be"),
        ((3, 4, 5), (1, 3, 4, 5), "image must be"),
        ((2, 3, 4, 5), (1, 3, 4, 5), "same number of images"),
        ((3, 4, 5), (3, 4, 6), "same height and width"),
    ],
)
def test_bad_shapes(probs_shape, image_shape, match):
    p = np.full(probs_shape, 1.0 / probs_shape[-3] if len(probs_shape) > 2 else 0.5)
    with pytest.raises(ValueError, match=match):
        dense_crf(p, np.zeros(image_shape))


def test_bad_values():
    p, img = random_inputs()
    with pytest.raises(ValueError, match=r"\[0, 1\].*255"):
        dense_crf(p, img * 255)
    with pytest.raises(ValueError, match="sum to 1.*softmax"):
        dense_crf(np.log(p), img)
    with pytest.raises(ValueError, match="iterations"):
        dense_crf(p, img, -1)
    with pytest.raises(ValueError, match="theta_beta"):
        dense_crf(p, img, theta_beta=0)
    with pytest.raises(TypeError, match="array or a Tensor"):
        dense_crf(p.tolist(), img)
