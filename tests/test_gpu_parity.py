"""CPU vs GPU on the same inputs: every op, loss, optimizer step and a full model step.

One test body, two GPU backends:

* ``fake``: tests/fake_cupy.py, a NumPy-backed stand-in for CuPy whose arrays refuse to mix with
  host arrays. It runs everywhere (CI has no GPU) and proves the *device discipline*: every result
  and gradient stays on the "gpu", and nothing is computed differently there -- except that its
  matmul sums in another order (see tests/fake_cupy.py), so the tolerances below meet a
  different rounding on every machine, as they would on a real GPU or another CPU.
* ``cuda``: real CuPy on a real device (marked ``gpu``; skipped with the reason where there is
  none). There the comparison is numerical: float64 to 1e-10 (cuBLAS sums in another order, so
  "exact" means to rounding).

Everything numerical is compared in float64, over one step: in float32 a different summation
order (another GEMM shape, another BLAS build, another CPU) gives differences of ~1e-7 relative
per sum, which batch norm amplifies to 1e-4 in gradients and more over steps -- no tolerance is
both safe on every machine and tight. In float64 the same amplification stays near 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest

import minisegnet as ms
import minisegnet.functional as F
from minisegnet import backend, losses, optim
from minisegnet.models import MODEL_NAMES, build_model

import fake_cupy
from conftest import GPU_SKIP_REASON

GPU_BACKENDS = [
    "fake",
    pytest.param(
        "cuda",
        marks=[
            pytest.mark.gpu,
            pytest.mark.skipif(GPU_SKIP_REASON is not None, reason=f"no GPU: {GPU_SKIP_REASON}"),
        ],
    ),
]


@pytest.fixture(params=GPU_BACKENDS)
def gpu(request, monkeypatch):
    """Make "gpu" usable (the fake, or the real device) and return the tolerance to compare with."""
    if request.param == "fake":
        fake_cupy.install(monkeypatch)
        # NumPy underneath, but some ops take their GPU branch (conv: one GEMM for the batch, not
        # one per image) and the fake's matmul sums in another order. Sums here have <= ~200
        # terms of size <= ~5, so float64 rounding is < 1e-13 even where the result cancels to ~0.
        return dict(rtol=1e-12, atol=1e-12)
    return dict(rtol=1e-10, atol=1e-12)


def run_on(device, fn, arrays, requires_grad=True):
    """fn(*tensors) on ``device``; returns the output and the input gradients as host arrays."""
    xs = [
        ms.Tensor(a, device=device, requires_grad=requires_grad and a.dtype.kind == "f")
        for a in arrays
    ]
    out = fn(*xs)
    assert out.device == device, f"{fn.__name__}: output left {device} for {out.device}"
    grads = []
    if out.requires_grad:
        weights = np.random.default_rng(7).standard_normal(out.shape)
        (out * ms.Tensor(weights, device=device)).sum().backward()
        for x in xs:
            if x.requires_grad:
                assert x.grad.device == device, f"{fn.__name__}: gradient left {device}"
                grads.append(x.grad.numpy())
    return out.numpy(), grads


def assert_same(fn, arrays, tol):
    cpu_out, cpu_grads = run_on("cpu", fn, arrays)
    gpu_out, gpu_grads = run_on("gpu", fn, arrays)
    np.testing.assert_allclose(gpu_out, cpu_out, **tol, err_msg=f"{fn.__name__}: values differ")
    assert len(gpu_grads) == len(cpu_grads)
    for g, c in zip(gpu_grads, cpu_grads):
        np.testing.assert_allclose(g, c, **tol, err_msg=f"{fn.__name__}: gradients differ")


rng = np.random.default_rng(0)
X = rng.standard_normal((2, 4, 7, 6))
W = rng.standard_normal((6, 2, 3, 3))  # groups=2 for conv2d
WT = rng.standard_normal((4, 3, 3, 3))
B = rng.standard_normal(6)
LABELS = rng.integers(0, 4, (2, 7, 6))
DISTINCT = rng.permutation(2 * 4 * 8 * 8).reshape(2, 4, 8, 8) / 10.0  # no ties for max-pool

OPS = {
    "elementwise": (
        lambda x: F.sigmoid(x) * F.tanh(x) + F.softplus(x) - F.exp(x / 4) * F.relu(x + 0.3),
        [X],
    ),
    "reductions": (
        lambda x: F.sum(x, axis=(2, 3)) + F.mean(x, axis=(2, 3)) + F.max(x, axis=(2, 3)),
        [DISTINCT],
    ),
    "softmax": (lambda x: F.softmax(x, axis=1) + F.log_softmax(x, axis=1), [X]),
    "shape_ops": (
        lambda x: F.cat(
            [x[:, :2], F.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))[:, 2:, 1:-1, 1:-1]], 1
        ).permute(0, 2, 3, 1),
        [X],
    ),
    "matmul": (lambda a, b: a.reshape(8, 42) @ b.reshape(42, 2), [X, rng.standard_normal((2, 42))]),
    "conv2d": (
        lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2),
        [X, W, B],
    ),
    "conv_transpose2d": (
        lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
        [X, WT],
    ),
    "max_pool_unpool": (
        lambda x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2),
        [DISTINCT],
    ),
    "avg_pools": (
        lambda x: F.avg_pool2d(x, 3, 2, 1)[:, :, :3, :3] + F.adaptive_avg_pool2d(x, 3),
        [X],
    ),
    "interpolate": (
        lambda x: (
            F.interpolate(x, size=(9, 5), mode="bilinear", align_corners=False)
            + F.interpolate(x, size=(9, 5), mode="bilinear", align_corners=True)
            + F.interpolate(x, size=(9, 5), mode="nearest")
        ),
        [X],
    ),
    "center_crop": (lambda x: F.center_crop(x, (4, 3)), [X]),
    "transformer_ops": (
        lambda x, w: (
            F.gelu(F.layer_norm(F.linear(x, w), 6)) + F.gelu(x, "tanh") + F.roll(x, (1, -2), (1, 2))
        ),
        [X, W.reshape(6, 18)[:, :6]],
    ),
    "attention": (
        lambda q, k, v, m: (
            F.scaled_dot_product_attention(q, k, v, m) + F.attention_weights(q, k, m) @ v
        ),
        [X[:, :, :5, :4], X[:, :, 1:, 2:], X[:, :, 1:, :3], X[0, 0, :5, :6]],
    ),
}

LOSSES = {
    "cross_entropy": lambda x: losses.cross_entropy(
        x, ms.Tensor(LABELS, device=x.device), ignore_index=3, label_smoothing=0.1
    ),
    "dice": lambda x: losses.dice_loss(x, ms.Tensor(LABELS, device=x.device), from_logits=True),
    "tversky": lambda x: losses.tversky_loss(
        x, ms.Tensor(LABELS, device=x.device), beta=0.7, from_logits=True
    ),
    "jaccard": lambda x: losses.jaccard_loss(
        x, ms.Tensor(LABELS, device=x.device), from_logits=True
    ),
    "softmax_focal": lambda x: losses.softmax_focal_loss(x, ms.Tensor(LABELS, device=x.device)),
    "bce_logits": lambda x: losses.binary_cross_entropy_with_logits(
        x[:, :1], ms.Tensor((LABELS[:, None] > 1).astype(np.float64), device=x.device)
    ),
    "binary_focal": lambda x: losses.focal_loss(
        F.sigmoid(x[:, :1]), ms.Tensor((LABELS[:, None] > 1).astype(np.float64), device=x.device)
    ),
}


@pytest.mark.parametrize("name", list(OPS))
def test_op_matches_cpu(gpu, name):
    fn, arrays = OPS[name]
    fn.__name__ = name
    assert_same(fn, arrays, gpu)


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_matches_cpu(gpu, name):
    fn = LOSSES[name]
    fn.__name__ = name
    assert_same(fn, [X], gpu)


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_optimizer_steps_match_cpu(gpu, opt_name):
    def three_steps(device):
        p = ms.nn.Parameter(ms.Tensor(X[0, 0].copy(), device=device))  # Tensor(array) shares memory
        opt = (
            optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
            if opt_name == "sgd"
            else optim.Adam([p], lr=0.1, weight_decay=1e-3)
        )
        for _ in range(3):
            opt.zero_grad()
            ((p * p).sum() + p.sum()).backward()
            opt.step()
        assert p.device == device
        return p.numpy()

    np.testing.assert_allclose(three_steps("gpu"), three_steps("cpu"), **gpu)


# every registered model with its defaults, and the variants a recipe switches on
MODEL_CASES = [(name, {}) for name in MODEL_NAMES] + [("setr-naive", {"stem": "conv"})]


@pytest.mark.parametrize(
    ("name", "options"),
    MODEL_CASES,
    ids=[n + "".join(f"-{v}" for v in o.values()) for n, o in MODEL_CASES],
)
def test_model_training_step_matches_cpu(gpu, name, options):
    # compares the loss and every parameter's gradient (then takes an SGD step: Adam divides by
    # sqrt(v), which would blow rounding noise in near-zero gradients up to +-lr)
    x = rng.standard_normal((2, 3, 48, 48))  # DeconvNet's dense centre needs >= 48 at depth 4
    y = rng.integers(0, 3, (2, 48, 48))

    def step(device):
        ms.manual_seed(0)
        model = build_model(name, 3, 3, base_width=4, **options).to(device, dtype=np.float64)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss = losses.cross_entropy(model(ms.Tensor(x, device=device)), ms.Tensor(y, device=device))
        loss.backward()
        grads = {k: p.grad.numpy() for k, p in model.named_parameters()}
        opt.step()
        assert all(p.device == device for p in model.parameters())
        return loss.item(), grads, model.state_dict()

    cpu_loss, cpu_grads, cpu_state = step("cpu")
    gpu_loss, gpu_grads, gpu_state = step("gpu")
    np.testing.assert_allclose(gpu_loss, cpu_loss, **gpu)
    assert cpu_grads.keys() == gpu_grads.keys() and cpu_state.keys() == gpu_state.keys()
    # rounding scales with the terms summed, not with a gradient that cancels to almost nothing
    # (batch-norm weights): the scale is the model's largest gradient. Measured with the fake:
    # <= 7e-13 of it (deconvnet), most models ~1e-14.
    scale = max(float(np.abs(g).max()) for g in cpu_grads.values())
    for k, g in cpu_grads.items():
        np.testing.assert_allclose(gpu_grads[k], g, rtol=1e-9, atol=1e-9 * scale, err_msg=k)
    for k, v in cpu_state.items():
        np.testing.assert_allclose(gpu_state[k], v, rtol=1e-9, atol=1e-10, err_msg=k)


def test_state_dict_saved_on_gpu_loads_on_cpu_and_back(gpu):
    ms.manual_seed(1)
    model = build_model("unet", 3, 2, base_width=4, depth=2).to("gpu")
    x = rng.standard_normal((1, 3, 16, 16)).astype(np.float32)
    model(ms.Tensor(x, device="gpu"))  # one training forward: BN running statistics move
    state = model.state_dict()
    assert all(backend.device_of(v) == "cpu" for v in state.values())  # host copies
    assert all(v.dtype == np.float32 for v in state.values())
    cpu_model = build_model("unet", 3, 2, base_width=4, depth=2)
    cpu_model.load_state_dict(state)
    back = build_model("unet", 3, 2, base_width=4, depth=2).to("gpu")
    back.load_state_dict(cpu_model.state_dict())
    assert back.device == "gpu" and all(p.device == "gpu" for p in back.parameters())
    on_cpu, on_gpu = cpu_model.state_dict(), back.state_dict()
    for k, v in state.items():  # the transfers copy bits
        np.testing.assert_array_equal(on_cpu[k], v, err_msg=k)
        np.testing.assert_array_equal(on_gpu[k], v, err_msg=k)
    # and the loaded models compute the same function (float64: to rounding, on any machine)
    outs = []
    for m, device in ((model, "gpu"), (cpu_model, "cpu"), (back, "gpu")):
        m.eval().double()
        with ms.no_grad():
            outs.append(m(ms.Tensor(x.astype(np.float64), device=device)).numpy())
    np.testing.assert_allclose(outs[1], outs[0], **gpu)
    np.testing.assert_allclose(outs[2], outs[0], **gpu)
    assert np.abs(outs[0]).max() > 0.01
