"""The explicit NumPy/CuPy backend: clear device errors (tested on the CPU), the default device,
and a scan of the package source that keeps array creation on ``xp`` (that cupy is imported in
backend.py only: tests/test_architecture.py)."""

import os
import pathlib
import re
import subprocess
import sys
import tokenize

import numpy as np
import pytest

import minisegnet.functional as F
from minisegnet import DeviceError, Tensor, backend

import fake_cupy
from conftest import DEVICES

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "minisegnet"
INSTALL = 'pip install "minisegnet[gpu]"'
INSTALL_CUDA13 = 'pip install "minisegnet[gpu-cuda13]"'


@pytest.fixture
def no_cupy(monkeypatch):
    """Pretend CuPy is not installed (so this also holds on a GPU machine)."""
    monkeypatch.setattr(backend, "_cupy", None)


@pytest.fixture
def fake_gpu(monkeypatch):
    """A NumPy-backed stand-in for CuPy (tests/fake_cupy.py): "gpu" arrays on the CPU."""
    monkeypatch.setattr(backend, "_default_device", "cpu")
    return fake_cupy.install(monkeypatch)


# ----------------------------------------------------------------------------------------------
# asking for the GPU without one: a DeviceError that says how to install, never a fallback


@pytest.mark.parametrize(
    "ask",
    [
        lambda: backend.set_default_device("gpu"),
        lambda: Tensor([1.0, 2.0], device="gpu"),
        lambda: Tensor([1.0, 2.0]).to("gpu"),
        lambda: Tensor([1.0], requires_grad=True).gpu(),
        lambda: backend.xp_for("gpu"),
    ],
    ids=["set_default_device", "Tensor(device=)", "to", "gpu()", "xp_for"],
)
def test_gpu_without_cupy_says_how_to_install(no_cupy, ask):
    with pytest.raises(DeviceError, match=re.escape(INSTALL)) as err:
        ask()
    assert "CuPy is not installed" in str(err.value)
    assert INSTALL_CUDA13 in str(err.value) and "nvidia-smi" in str(err.value)  # which one to pick
    assert backend.get_default_device() == "cpu"  # nothing was switched behind the user's back


@pytest.mark.parametrize(
    "count, why",
    [(0, "no CUDA device was found"), (RuntimeError("driver too old"), "driver too old")],
)
def test_gpu_with_cupy_but_no_device(monkeypatch, count, why):
    cupy = fake_cupy.make_fake_cupy()

    def device_count():
        if isinstance(count, Exception):
            raise count
        return count

    cupy.cuda.runtime.getDeviceCount = device_count
    monkeypatch.setattr(backend, "_cupy", cupy)
    assert not backend.gpu_available()
    with pytest.raises(DeviceError, match=why) as err:
        Tensor([1.0]).to("gpu")
    assert INSTALL in str(err.value)


def test_unknown_device_names_the_choices():
    with pytest.raises(
        ValueError,
        match=r"unknown device 'tpu': use 'cpu' or 'gpu' \(or PyTorch's "
        r"'cuda', the same as 'gpu', also written 'cuda:0'\)",
    ):
        Tensor([1.0], device="tpu")
    with pytest.raises(ValueError, match="unknown device 'cuda:1'"):
        backend.set_default_device("cuda:1")


@pytest.mark.parametrize("name", ["cuda", "CUDA", "cuda:0", "gpu"])
def test_cuda_is_a_synonym_of_gpu(name, fake_gpu):
    assert backend.normalize_device(name) == "gpu"
    assert Tensor([1.0], device=name).device == "gpu"
    assert Tensor([1.0]).to(name).device == "gpu"


# ----------------------------------------------------------------------------------------------
# two devices in one op: an error naming both


def test_two_devices_in_one_op_names_both(fake_gpu):
    g = Tensor(np.ones((2, 3)), device="gpu")
    c = Tensor(np.ones((2, 3)))
    assert g.device == "gpu" and c.device == "cpu"
    with pytest.raises(
        DeviceError,
        match=r"Add: inputs are on two devices, cpu \(input 1, shape "
        r"\(2, 3\)\) and gpu \(input 0, shape \(2, 3\)\)",
    ):
        g + c
    with pytest.raises(DeviceError, match=r"MatMul: .*cpu.*gpu.*tensor.to\('gpu'\)"):
        F.matmul(c, Tensor(np.ones((3, 2)), device="gpu"))
    with pytest.raises(DeviceError, match="Concatenate: inputs are on two devices"):
        F.concatenate([g, c], axis=0)
    with pytest.raises(DeviceError, match="two devices"):
        g * np.ones((2, 3))  # a host NumPy array is on the cpu too
    with pytest.raises(DeviceError, match="two devices"):
        _ = g < np.ones((2, 3))
    assert (g + 1.0).device == "gpu"  # Python numbers belong to no device


def test_to_round_trip_and_gradients_come_back(fake_gpu):
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    g = x.to("gpu")
    assert g.device == "gpu" and isinstance(g.data, fake_cupy.FakeGpuArray)
    y = (F.relu(g) * g).sum()
    assert y.device == "gpu"
    y.backward()
    assert x.grad.device == "cpu"
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 6.0])
    back = g.to("cpu")
    assert back.device == "cpu" and type(back.data) is np.ndarray
    np.testing.assert_array_equal(back.numpy(), x.numpy())


@pytest.mark.parametrize("device", DEVICES)
def test_to_round_trip_on_every_backend(device):
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x.to(device)
    assert y.device == device
    z = y.to("cpu")
    np.testing.assert_array_equal(z.numpy(), x.numpy())
    (z * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))
    assert x.to("cpu") is x


def test_basic_ops_keep_gpu_data_on_the_gpu(fake_gpu):
    """Ops take their array module from their inputs: every value and gradient stays on the gpu
    (the fake refuses host arrays mixed with "gpu" ones, as CuPy does)."""
    x = Tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True, device="gpu")
    idx = Tensor(np.array([0, 2, 2]))  # a host index is moved to the tensor's device
    parts = [
        F.softmax(x, axis=1),
        F.log_softmax(x, axis=0),
        F.sigmoid(x),
        F.softplus(x),
        F.step(x),
        F.max(x, axis=1, keepdims=True),
        F.pad(x, 1)[1:-1, 1:-1],
        x[idx].sum(axis=0),
        F.stack([x, x]).mean(axis=0),
        F.concatenate([x, x], axis=1)[:, :4],
        F.where(x > 0, x, 0.0),
        F.clip(x, -0.5, 0.5),
        F.maximum(x, 0.1) ** 2,
        x.permute(1, 0).T,
        x.reshape(4, 3).reshape(3, 4),
        (x @ Tensor(np.ones((4, 4)), device="gpu")) / 4,
        F.piecewise_linear(x),
        F.leaky_relu(x),
    ]
    loss = F.sum(F.stack([p.sum() if p.ndim else p for p in parts]))
    assert loss.device == "gpu"
    loss.backward()
    assert x.grad.device == "gpu" and np.isfinite(x.grad.numpy()).all()
    assert F.argmax(x, axis=1).device == "gpu"


# ----------------------------------------------------------------------------------------------
# the default device: set_default_device and MINISEGNET_DEVICE


def test_set_default_device(fake_gpu):
    backend.set_default_device("gpu")
    assert backend.get_default_device() == "gpu"
    assert Tensor([1.0, 2.0]).device == "gpu" and Tensor(3).device == "gpu"
    assert Tensor(np.ones(2)).device == "cpu"  # an existing array stays where it is
    backend.set_default_device("cpu")
    assert Tensor([1.0]).device == "cpu"


def _python(code: str, device: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MINISEGNET_DEVICE=device, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT
    )


BLOCK_CUPY = "import sys; sys.modules['cupy'] = None; "  # as if CuPy were not installed


def test_environment_variable_selects_the_default_device():
    ok = _python(
        "import minisegnet; print(minisegnet.backend.get_default_device(), "
        "minisegnet.Tensor([1.0]).device)",
        "cpu",
    )
    assert ok.returncode == 0 and ok.stdout.split() == ["cpu", "cpu"], ok.stderr
    gpu = _python(BLOCK_CUPY + "import minisegnet", "gpu")
    assert gpu.returncode != 0
    assert "DeviceError" in gpu.stderr and "MINISEGNET_DEVICE=gpu" in gpu.stderr
    assert INSTALL in gpu.stderr
    bad = _python("import minisegnet", "tpu")
    assert bad.returncode != 0 and "MINISEGNET_DEVICE='tpu' is not a device" in bad.stderr


# ----------------------------------------------------------------------------------------------
# source scan: engine code creates arrays through xp, not numpy

# Modules allowed to build NumPy arrays directly, and why:
HOST_MODULES = {
    "backend.py",  # the backend itself: it is where numpy and cupy meet
    "gradcheck.py",  # a test tool: seeded host RNG and float64 host bookkeeping of the numbers
    "testing.py",  # hypothesis strategies for tests: they draw host NumPy arrays
    "data",  # toy datasets are generated on the host, moved to the device at the end
    "utils",  # utils.data: batches of Python numbers built on the host (as torch's)
    "plots.py",  # plotting is host-side matplotlib
    "cli.py",
    "train.py",
    "checkpoint.py",
    "summary.py",  # user-facing glue, files, reports
    "infer.py",  # predict --input: image files read and written on the host
    "random.py",  # the seeded host RNG that hands out initial weights
}  # (lessons/ lives outside the package and is not scanned: lessons print numbers on the host)
CONSTRUCTORS = (
    r"(zeros|ones|empty|full|array|asarray|ascontiguousarray|arange|linspace|eye|identity)"
)


def _code_lines(path: pathlib.Path) -> dict[int, str]:
    """The code of a module line by line, without strings and comments (docstrings may say
    'numpy.zeros')."""
    lines: dict[int, list[str]] = {}
    with path.open("rb") as f:
        for tok in tokenize.tokenize(f.readline):
            if tok.type not in (tokenize.STRING, tokenize.COMMENT, tokenize.ENCODING):
                lines.setdefault(tok.start[0], []).append(tok.string)
    return {n: " ".join(parts).replace(" . ", ".").replace(" (", "(") for n, parts in lines.items()}


def _numpy_constructor_lines(path: pathlib.Path) -> list[int]:
    """Lines that build arrays with numpy directly (any alias of it), or use numpy.random."""
    code = _code_lines(path)
    aliases = {"numpy"} | {
        m.group(1)
        for line in code.values()
        for m in [re.search(r"import numpy as (\w+)", line)]
        if m
    }
    np_ = "(" + "|".join(sorted(aliases)) + ")"
    bad = re.compile(
        rf"\b{np_}\.{CONSTRUCTORS}(_like)?\(|\b{np_}\.random\.|"
        rf"\bfrom numpy(\.random)? import .*\b({CONSTRUCTORS[1:-1]}|\w+_like)\b"
    )
    return [n for n, line in code.items() if bad.search(line)]


def _modules() -> list[pathlib.Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_engine_code_creates_arrays_through_the_array_module():
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {_code_lines(path)[n].strip()}"
        for path in _modules()
        if path.relative_to(PACKAGE).parts[0] not in HOST_MODULES
        for n in _numpy_constructor_lines(path)
    ]
    assert not offenders, (
        "engine code must create arrays with the inputs' array module "
        "(xp = tensor.xp / self.xp / backend.get_array_module(a)), not numpy:\n"
        + "\n".join(offenders)
    )


def test_the_scan_catches_what_it_should(tmp_path):
    """The scan itself: direct numpy constructors are found; dtype constants, numpy.prod of a
    shape and text in strings or comments are not."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""numpy.zeros( in a docstring is fine"""\n'  # line 1
        "import numpy as onp\n"  # 2
        "x = numpy.float32(2) + numpy.prod((2, 3))\n"  # 3: fine
        "y = onp.zeros_like(a)  # numpy.ones( here\n"  # 4: found
        "z = numpy.random.default_rng(0)\n"  # 5: found
        "w = numpy.asarray(v, dtype=numpy.float32)\n"  # 6: found
        "from numpy import pi, zeros\n"  # 7: found
        "u = xp.zeros((2, 3))\n"
    )  # 8: fine
    assert _numpy_constructor_lines(sample) == [4, 5, 6, 7]
