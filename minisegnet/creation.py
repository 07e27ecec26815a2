"""Creating tensors the PyTorch way: ``minisegnet.zeros(2, 3)``, ``minisegnet.randn(...)``, ...

Every function takes ``dtype=``, ``device=`` (``"cpu"``, ``"gpu"`` or PyTorch's ``"cuda"``) and
``requires_grad=`` where ``torch`` does. Sizes are given as ``zeros(2, 3)`` or ``zeros((2, 3))``.
The default floating dtype is float32; ``full``, ``arange`` and ``tensor`` infer an integer or bool
dtype from integer or bool values, as PyTorch does. ``rand`` / ``randn`` / ``randint`` draw from
the package's one generator (:mod:`minisegnet.random`) on the CPU and then move the numbers to the
device, so ``manual_seed(s)`` gives the same tensor on every device.

``tensor(data)`` copies its input (as ``torch.tensor``); ``as_tensor`` and ``from_numpy`` share the
NumPy array's memory (as in PyTorch: writing into one shows in the other).

The dtype names (``minisegnet.float32``, ``long``, ...) are NumPy dtypes, listed in ``DTYPES``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy

from . import backend
from .autograd import DEFAULT_FLOAT, Tensor
from .random import generator

__all__ = [
    "tensor",
    "from_numpy",
    "zeros",
    "ones",
    "full",
    "empty",
    "zeros_like",
    "ones_like",
    "full_like",
    "rand",
    "randn",
    "randint",
    "arange",
    "linspace",
    "eye",
    "DTYPES",
]

# PyTorch's dtype names -> NumPy dtypes (minisegnet.float is float32, as torch.float is)
DTYPES: dict[str, Any] = {
    "float32": numpy.float32,
    "float": numpy.float32,
    "float64": numpy.float64,
    "double": numpy.float64,
    "float16": numpy.float16,
    "half": numpy.float16,
    "int64": numpy.int64,
    "long": numpy.int64,
    "int32": numpy.int32,
    "int": numpy.int32,
    "int16": numpy.int16,
    "int8": numpy.int8,
    "uint8": numpy.uint8,
    "bool": numpy.bool_,
}


def _shape(size: Sequence[Any], op: str) -> tuple[int, ...]:
    """``(2, 3)`` from ``f(2, 3)`` or ``f((2, 3))``."""
    if len(size) == 1 and not isinstance(size[0], (int, numpy.integer)):
        size = tuple(size[0])
    if not all(isinstance(n, (int, numpy.integer)) and n >= 0 for n in size):
        raise ValueError(
            f"{op}: sizes must be integers >= 0, got {tuple(size)}; e.g. {op}(2, 3) or {op}((2, 3))"
        )
    return tuple(int(n) for n in size)


def _device(device: Any) -> str:
    return backend.normalize_device(device) if device is not None else backend.get_default_device()


def _make(array: Any, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    """An array -> a tensor of ``dtype`` on ``device`` (the default device if None)."""
    return Tensor(array, dtype=dtype, device=_device(device), requires_grad=requires_grad)


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a **copy** of ``data`` (a number, nested list, array or Tensor), as
    ``torch.tensor``; the dtype rules are :class:`~minisegnet.Tensor`'s (Python floats -> float32,
    ints -> int64). A Tensor given here is copied and detached."""
    src = data.data if isinstance(data, Tensor) else data
    out = Tensor(src, dtype=dtype, device=device, requires_grad=requires_grad)
    if backend.is_array(src) or isinstance(src, numpy.generic):
        out.data = out.data.copy()
    return out


def from_numpy(array: numpy.ndarray) -> Tensor:
    """A CPU tensor sharing ``array``'s memory and dtype (as ``torch.from_numpy``)."""
    if not isinstance(array, numpy.ndarray):
        raise TypeError(
            f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}; use "
            "minisegnet.tensor(data) for lists and numbers"
        )
    return Tensor(array, device="cpu")


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (float32 unless ``dtype`` says otherwise)."""
    xp = backend.xp_for(_device(device))
    return _make(
        xp.zeros(_shape(size, "zeros"), dtype or DEFAULT_FLOAT), dtype, device, requires_grad
    )


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (float32 unless ``dtype`` says otherwise)."""
    xp = backend.xp_for(_device(device))
    return _make(
        xp.ones(_shape(size, "ones"), dtype or DEFAULT_FLOAT), dtype, device, requires_grad
    )


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """PyTorch's uninitialised tensor; here filled with zeros (deterministic)."""
    return zeros(_shape(size, "empty"), dtype=dtype, device=device, requires_grad=requires_grad)


def _fill_dtype(value: Any) -> Any:
    """PyTorch's dtype for a fill value: bool -> bool, int -> int64, float -> float32."""
    if isinstance(value, (bool, numpy.bool_)):
        return numpy.bool_
    if isinstance(value, (int, numpy.integer)):
        return numpy.int64
    return DEFAULT_FLOAT


def full(
    size: Sequence[int],
    fill_value: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (dtype inferred from it)."""
    xp = backend.xp_for(_device(device))
    array = xp.full(_shape((size,), "full"), fill_value, dtype=dtype or _fill_dtype(fill_value))
    return _make(array, dtype, device, requires_grad)


def _like(x: Any, value: Any, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    ref = x if isinstance(x, Tensor) else Tensor(x)
    device = _device(device or ref.device)
    array = backend.xp_for(device).full(ref.shape, value, dtype=dtype or ref.dtype)
    return _make(array, None, device, requires_grad)


def zeros_like(
    x: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Zeros with ``x``'s shape, dtype and device (unless given)."""
    return _like(x, 0, dtype, device, requires_grad)


def ones_like(x: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with ``x``'s shape, dtype and device (unless given)."""
    return _like(x, 1, dtype, device, requires_grad)


def full_like(
    x: Any, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """``fill_value`` everywhere, with ``x``'s shape, dtype and device (unless given)."""
    return _like(x, fill_value, dtype, device, requires_grad)


def rand(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform numbers in [0, 1) from the package generator (``manual_seed`` makes them repeat)."""
    array = generator().random(_shape(size, "rand")).astype(dtype or DEFAULT_FLOAT)
    return _make(array, dtype, device, requires_grad)


def randn(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal numbers from the package generator (``manual_seed`` makes them repeat)."""
    array = generator().standard_normal(_shape(size, "randn")).astype(dtype or DEFAULT_FLOAT)
    return _make(array, dtype, device, requires_grad)


def randint(
    *args: Any,
    size: Sequence[int] | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)`` as in
    PyTorch (int64 by default), from the package generator."""
    if size is None and args and not isinstance(args[-1], (int, numpy.integer)):
        args, size = args[:-1], args[-1]
    if size is None or len(args) not in (1, 2):
        raise TypeError(
            f"randint: expected randint(high, size) or randint(low, high, size), got "
            f"{args} with size={size}"
        )
    low, high = (0, args[0]) if len(args) == 1 else args
    if high <= low:
        raise ValueError(f"randint: need low < high, got low={low}, high={high}")
    array = generator().integers(low, high, _shape((size,), "randint"))
    return _make(array.astype(dtype or numpy.int64), dtype, device, requires_grad)


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``start, start + step, ...`` below ``end`` (``arange(n)``: 0 .. n-1); int64 when every
    argument is an integer, else float32."""
    if end is None:
        start, end = 0, start
    ints = all(isinstance(v, (int, numpy.integer)) for v in (start, end, step))
    xp = backend.xp_for(_device(device))
    array = xp.arange(start, end, step, dtype=dtype or (numpy.int64 if ints else numpy.float64))
    return _make(
        array.astype(dtype or (numpy.int64 if ints else DEFAULT_FLOAT)),
        dtype,
        device,
        requires_grad,
    )


def linspace(
    start: float,
    end: float,
    steps: int,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` (both included); float32."""
    array = (
        backend.xp_for(_device(device)).linspace(start, end, steps).astype(dtype or DEFAULT_FLOAT)
    )
    return _make(array, dtype, device, requires_grad)


def eye(
    n: int, m: int | None = None, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """The n x m identity matrix (m = n by default); float32."""
    xp = backend.xp_for(_device(device))
    return _make(xp.eye(n, m, dtype=dtype or DEFAULT_FLOAT), dtype, device, requires_grad)
