"""``minisegnet.cuda.is_available()``, as ``torch.cuda.is_available()``: whether the ``"gpu"``
(CUDA) device can be used. Asks :mod:`minisegnet.backend`, the one module that knows CuPy;
never raises."""

from __future__ import annotations

from . import backend

__all__ = ["is_available", "device_count"]


def is_available() -> bool:
    """True when CuPy imports and a CUDA device is present (False, no exception, otherwise)."""
    try:
        return backend.gpu_available()
    except Exception:  # pragma: no cover - a broken CUDA install
        return False


def device_count() -> int:
    """1 when the GPU can be used (minisegnet addresses one device), else 0."""
    return int(is_available())
