"""Input checks and dtype helpers shared across modules: dtypes, arrays behind tensors, class
labels, probabilities.

Each check raises the project's kind of error: the op's name, the shapes or values seen, and what
would work. Shape and size rules of the spatial ops (``pair``, ``check_4d``, ``check_window_fits``)
live with the output-size formulas in :mod:`minisegnet.functional.sizes`.

This module sits just above :mod:`minisegnet.backend` (ARCHITECTURE.md): it imports no Tensor, so
every layer may use it. A :class:`~minisegnet.Tensor` is recognised by its ``.data`` array.
"""

from __future__ import annotations

from typing import Any

import numpy

from . import backend
from .backend import Array

__all__ = ["is_float", "scalar_like", "as_array", "check_labels", "check_probability_range"]


def is_float(dtype: Any) -> bool:
    """True for a floating dtype (float16/32/64), False for integers and bools."""
    return numpy.dtype(dtype).kind == "f"


def scalar_like(x: Array, value: float) -> Any:
    """``value`` as a NumPy scalar of x's dtype, for constants inside an op.

    On a 0-d float32 array ``x + 0.5`` is float64 under NumPy 1.x (a Python float meeting only
    scalars and 0-d arrays takes float64 there) but float32 under NumPy 2 (NEP 50); a typed
    constant, ``x + scalar_like(x, 0.5)``, keeps x's dtype on every NumPy (and on CuPy)."""
    return x.dtype.type(value)


def as_array(x: Any) -> Array:
    """The array behind ``x``: a Tensor's ``.data``, an array itself (no copy), else a NumPy array.

    NumPy scalars keep their dtype; lists and Python numbers become host arrays."""
    if backend.is_array(x):
        return x
    data = getattr(x, "data", None)
    if backend.is_array(data):  # a Tensor (an ndarray's own .data is a memoryview, not an array)
        return data
    if hasattr(x, "shape") and hasattr(x, "dtype"):  # a NumPy scalar
        return x
    return backend.get_array_module(x).asarray(x)  # a list or a number: on the host


def check_labels(
    op: str, labels: Array, num_classes: int, ignore_index: int | None = None, what: str = "target"
) -> None:
    """Raise unless ``labels`` is an integer array with values in [0, K) (or ``ignore_index``)."""
    if labels.dtype.kind not in "biu":
        raise TypeError(
            f"{op}: {what} must hold integer class labels, got dtype {labels.dtype} (shape "
            f"{tuple(labels.shape)}); convert with .astype('int64'), or pass a one-hot / "
            "probability map with the input's shape where that is supported"
        )
    bad = (labels < 0) | (labels >= num_classes)
    if ignore_index is not None:
        bad &= labels != ignore_index
    if bool(bad.any()):
        value = int(labels[bad].ravel()[0])
        hint = (
            f"and it is not ignore_index={ignore_index}"
            if ignore_index is not None
            else "pass ignore_index=... to leave such pixels out"
        )
        raise ValueError(
            f"{op}: {what} holds the label {value}, outside [0, {num_classes}) for K = "
            f"{num_classes} classes ({hint})"
        )


def check_probability_range(op: str, x: Array, what: str, hint: str) -> None:
    """Raise unless the floating array ``x`` holds values in [0, 1] (no NaN); others pass."""
    if x.dtype.kind != "f" or x.size == 0:
        return
    lo, hi = float(x.min()), float(x.max())
    if not (0.0 <= lo and hi <= 1.0):  # also catches NaN (every comparison is False)
        raise ValueError(
            f"{op}: {what} holds values in [{lo:.4g}, {hi:.4g}], outside [0, 1], so they are not "
            f"probabilities; {hint}"
        )
