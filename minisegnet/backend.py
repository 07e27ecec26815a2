"""The one module that knows NumPy from CuPy.

Every array in minisegnet lives on a *device*: ``"cpu"`` (a ``numpy.ndarray``) or ``"gpu"``
(a ``cupy.ndarray``). Ops never import an array library themselves: they ask
:func:`get_array_module` for the module that owns their inputs, so the same code runs on both.

Rules (never a silent fallback):

* asking for ``"gpu"`` when CuPy or a CUDA device is missing raises :class:`DeviceError` with
  the install command;
* an op given arrays on two devices raises :class:`DeviceError` naming both.

PyTorch's names work wherever a device is taken: ``"cuda"`` and ``"cuda:0"`` mean ``"gpu"``
(:func:`normalize_device`, the one place that translates them), and ``Device("cuda")``
(``minisegnet.device``) is such a name as an object, for ``x.to(device)`` / ``model.to(device)``.

The default device for new tensors is ``"cpu"``; change it with :func:`set_default_device` or the
environment variable ``MINISEGNET_DEVICE`` (read once, at import).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import numpy

try:  # the only cupy import in the package (a test checks this)
    import cupy as _cupy
except Exception:  # ImportError, or a broken CUDA install  # pragma: no cover - depends on machine
    _cupy = None

__all__ = [
    "Array",
    "DeviceError",
    "DEVICES",
    "asnumpy",
    "check_same_device",
    "device_of",
    "get_array_module",
    "get_default_device",
    "gpu_available",
    "gpu_unavailable_reason",
    "normalize_device",
    "Device",
    "scatter_add",
    "set_default_device",
    "synchronize",
    "to_device",
    "xp_for",
]

#: The type of an array in annotations: ``numpy.ndarray`` or ``cupy.ndarray``. ``Any`` to the type
#: checker, because CuPy is optional (and untyped) and both must pass where an op takes an array.
Array = Any

DEVICES = ("cpu", "gpu")
INSTALL_HINT = (
    'pip install "minisegnet[gpu]" for CUDA 12, pip install "minisegnet[gpu-cuda13]" '
    "for CUDA 13 (an NVIDIA GPU and driver needed; `nvidia-smi` shows its CUDA Version)"
)


class DeviceError(RuntimeError):
    """A device problem: GPU requested but unavailable, or arrays on two devices."""


_SYNONYMS = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu", "cuda:0": "gpu", "gpu:0": "gpu"}


def normalize_device(device: Any) -> str:
    """``"cpu"`` or ``"gpu"`` for any accepted spelling: ``"cpu"``, ``"gpu"``, PyTorch's
    ``"cuda"`` / ``"cuda:0"`` (case-insensitive), or a :class:`Device`; else a ValueError that lists
    them (only one GPU, device 0, is addressed)."""
    name = _SYNONYMS.get(device.strip().lower()) if isinstance(device, str) else None
    if name is None:
        raise ValueError(
            f"unknown device {device!r}: use 'cpu' or 'gpu' (or PyTorch's "
            "'cuda', the same as 'gpu', also written 'cuda:0')"
        )
    return name


_check_name = normalize_device


class Device(str):
    """A device name as an object, like ``torch.device``: ``Device("cuda")`` equals ``"gpu"`` (it
    *is* that string, so ``x.to(dev)``, ``model.to(dev)`` and ``dev == "gpu"`` work); ``.type`` is
    PyTorch's name (``"cuda"`` or ``"cpu"``). Creating one does not need a GPU; using it does."""

    def __new__(cls, name: Any) -> Device:
        return super().__new__(cls, normalize_device(name))

    @property
    def type(self) -> str:
        return "cuda" if self == "gpu" else "cpu"

    def __repr__(self) -> str:
        return f"device(type='{self.type}')"


def gpu_unavailable_reason() -> str | None:
    """``None`` when the GPU can be used, else a sentence saying why not."""
    if _cupy is None:
        return f"CuPy is not installed. Install it with: {INSTALL_HINT}"
    try:
        count = _cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # pragma: no cover - needs a CuPy install
        return f"CuPy is installed but no CUDA device could be opened ({exc}). {INSTALL_HINT}"
    if count == 0:  # pragma: no cover - needs a CuPy install
        return f"CuPy is installed but no CUDA device was found. {INSTALL_HINT}"
    return None


def gpu_available() -> bool:
    """True when CuPy imports and a CUDA device is present."""
    return gpu_unavailable_reason() is None


def _require_gpu(what: str) -> ModuleType:
    reason = gpu_unavailable_reason()
    if reason is not None:
        raise DeviceError(f"{what} asked for the GPU, but it is unavailable: {reason}")
    return _cupy


_default_device = "cpu"


def set_default_device(device: str) -> None:
    """Choose the device new tensors are created on (``"cpu"`` or ``"gpu"``)."""
    global _default_device
    device = _check_name(device)
    if device == "gpu":
        _require_gpu("set_default_device('gpu')")
    _default_device = device


def get_default_device() -> str:
    """The device new tensors are created on."""
    return _default_device


def device_of(array: Any) -> str:
    """``"cpu"`` for NumPy arrays and Python scalars, ``"gpu"`` for CuPy arrays."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return "gpu"
    return "cpu"


def is_array(x: Any) -> bool:
    """True for a NumPy or CuPy array (not for NumPy scalars, dtypes or lists)."""
    return isinstance(x, numpy.ndarray) or (_cupy is not None and isinstance(x, _cupy.ndarray))


def xp_for(device: str) -> ModuleType:
    """The array module of a device name (``numpy`` or ``cupy``)."""
    if _check_name(device) == "gpu":
        return _require_gpu("an array on device 'gpu'")
    return numpy


def get_array_module(*arrays: Any) -> ModuleType:
    """The array module (``numpy`` or ``cupy``) that owns ``arrays``; they must share a device."""
    return xp_for(check_same_device(*arrays, op="get_array_module"))


def check_same_device(*arrays: Any, op: str = "op") -> str:
    """Return the common device of ``arrays`` or raise :class:`DeviceError` naming both devices."""
    found: dict[str, int] = {}
    for i, a in enumerate(arrays):
        if a is None or isinstance(a, (int, float, bool, complex)):
            continue
        found.setdefault(device_of(a), i)
    if len(found) > 1:
        shapes = {d: getattr(arrays[i], "shape", "?") for d, i in found.items()}
        raise DeviceError(
            f"{op}: inputs are on two devices, cpu (input {found['cpu']}, shape "
            f"{shapes['cpu']}) and gpu (input {found['gpu']}, shape {shapes['gpu']}); "
            "move them to one device first, e.g. tensor.to('gpu') or tensor.to('cpu')"
        )
    return next(iter(found), get_default_device())


def to_device(array: Any, device: str) -> Any:
    """Copy ``array`` to ``device`` as an ndarray of that device (no copy when already there)."""
    device = _check_name(device)
    if device == "gpu":
        cupy = _require_gpu("to_device(..., 'gpu')")
        return array if isinstance(array, cupy.ndarray) else cupy.asarray(array)
    return (
        array if isinstance(array, numpy.ndarray) and device_of(array) == "cpu" else asnumpy(array)
    )


def scatter_add(target: Any, index: Any, values: Any) -> None:
    """``target[index] += values`` in place, where repeated indices *accumulate* (``numpy.add.at``).

    The backward of an integer-array gather (``x[idx]`` with repeats) needs this; CuPy spells it
    ``cupy.add.at`` (CuPy >= 12.1) or ``cupyx.scatter_add`` (older).
    """
    if device_of(target) == "gpu" and not hasattr(_cupy.add, "at"):  # pragma: no cover - old CuPy
        import cupyx

        cupyx.scatter_add(target, index, values)
    else:
        get_array_module(target).add.at(target, index, values)


def asnumpy(array: Any) -> numpy.ndarray:
    """A NumPy copy of any array (CuPy arrays are copied back to the host)."""
    if device_of(array) == "gpu":
        return _cupy.asnumpy(array)
    return numpy.asarray(array)


def synchronize(device: str) -> None:
    """Wait until the device has finished its queued work (a no-op on the CPU); for timing."""
    if device == "gpu":
        _require_gpu("synchronize").cuda.Device().synchronize()  # the current device


def device_name(device: str) -> str:
    """A human-readable name of the device (the GPU's model name), for benchmark tables."""
    if _check_name(device) == "cpu":
        import platform

        return f"CPU ({platform.processor() or platform.machine()})"
    cp = _require_gpu("device_name('gpu')")
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)  # Device(): the current one
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def memory_info(device: str) -> dict[str, float]:
    """GPU memory-pool figures in MiB (used and total held by CuPy's pool); empty on the CPU."""
    if _check_name(device) == "cpu":
        return {}
    pool = _require_gpu("memory_info('gpu')").get_default_memory_pool()
    return {"pool_used_mb": pool.used_bytes() / 2**20, "pool_total_mb": pool.total_bytes() / 2**20}


def _read_env() -> None:
    env = os.environ.get("MINISEGNET_DEVICE")
    if env:
        try:
            env = normalize_device(env)
        except ValueError:
            raise ValueError(
                f"MINISEGNET_DEVICE={env!r} is not a device: use one of {DEVICES} "
                "(or 'cuda', the same as 'gpu')"
            ) from None
        if env == "gpu":
            _require_gpu("The environment variable MINISEGNET_DEVICE=gpu")
        set_default_device(env)


_read_env()
