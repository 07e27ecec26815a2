"""Reverse-mode automatic differentiation: :class:`Tensor` and :class:`Function`.

The whole idea in one screen:

* a :class:`Tensor` wraps an array (``.data``) and remembers the :class:`Function` that made it
  (``.creator``);
* a :class:`Function` has ``forward(*arrays) -> array`` (or a tuple: several outputs) and
  ``backward(*grad_outputs) -> grads``, one gradient per input, written with plain array
  operations (the chain rule, one op at a time); forward says what backward needs with
  ``self.save_for_backward(...)``, backward reads it back from ``self.saved_tensors``;
* ``loss.backward()`` sorts the graph topologically (iteratively: a chain of 10,000 ops is fine),
  walks it from the output back to the leaves, sums gradients where a tensor was used twice, stores
  ``.grad`` on the leaves, and then frees the graph (saved arrays and links) so memory stays flat
  from one training step to the next.

dtype rules (also in docs/autograd.md):

* Python floats and (nested) lists of floats become float32, the training default; Python ints and
  bools (and lists of them) keep an integer/bool dtype, like PyTorch (class labels stay integers);
* NumPy/CuPy arrays keep their dtype (float64 for gradient checks) and are *not* copied; a list of
  tensors is stacked, keeping their dtype and device;
* floating ops (exp, log, sqrt, div, mean, softmax, the activations...) promote integer/bool inputs
  to float32, and an integer operand meeting a float operand (``int_tensor * 0.5``) takes the float
  operand's dtype (not NumPy's float64); a Python number takes the dtype of the float tensor it
  meets; float32 meeting float64 gives float64 (NumPy's rule), and each input's gradient is cast
  back to that input's dtype;
* ``requires_grad`` on an integer or bool tensor is a TypeError.

In-place changes (also in docs/autograd.md): an array that a recorded op saved for its backward
(an input's or an output's ``.data`` passed to ``save_for_backward``) must not change before that
backward runs, or the gradient would silently use the new values. So, while a graph holds it:

* the NumPy array that owns the memory is made **read-only** (``flags.writeable = False``): a
  raw write such as ``x.data[...] = 10`` raises NumPy's ``ValueError: assignment destination is
  read-only`` at the write (:func:`saved_by` names the ops holding it); writeability comes back
  when the graph is freed (after ``backward()``, or when the graph is dropped);
* every saved array has a **version**: the engine's own in-place writes (optimizer steps,
  ``load_state_dict``) call :func:`mark_modified`, which bumps it, and ``backward()`` raises a
  ``RuntimeError`` naming the op whose saved array changed. This covers CuPy arrays too, which have
  no writeable flag (a raw write into a saved CuPy array is not detected).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy
from numpy import ndarray as NDArray  # the method Tensor.numpy shadows the module in the class

from . import backend
from .validation import is_float

__all__ = [
    "Tensor",
    "Function",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "set_grad_enabled",
    "inference_mode",
    "as_tensor",
    "mark_modified",
    "saved_by",
]

DEFAULT_FLOAT = numpy.float32
_grad_enabled = True


def is_grad_enabled() -> bool:
    """False inside :func:`no_grad`."""
    return _grad_enabled


@contextlib.contextmanager
def _set_grad(mode: bool) -> Iterator[None]:
    global _grad_enabled
    old, _grad_enabled = _grad_enabled, mode
    try:
        yield
    finally:
        _grad_enabled = old


def no_grad() -> contextlib.AbstractContextManager:
    """Context manager: ops run inside it record no graph (evaluation, optimizer steps)."""
    return _set_grad(False)


def enable_grad() -> contextlib.AbstractContextManager:
    """Context manager that turns graph recording back on inside :func:`no_grad`."""
    return _set_grad(True)


def inference_mode(mode: bool = True) -> contextlib.AbstractContextManager:
    """PyTorch's ``inference_mode()``: here the same as :func:`no_grad` (no graph is recorded)."""
    return _set_grad(not mode)


class set_grad_enabled:
    """Turn graph recording on or off, as ``torch.set_grad_enabled``: called, it switches at once
    (``set_grad_enabled(False)``); used as ``with set_grad_enabled(mode):`` the old mode comes
    back at the end of the block."""

    def __init__(self, mode: bool) -> None:
        global _grad_enabled
        self.prev, _grad_enabled = _grad_enabled, bool(mode)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self.prev


def _to_array(data: Any, dtype: Any = None, device: str | None = None) -> Any:
    """Turn data (array, number, nested list, Tensor, list of Tensors) into an array on a device."""
    if isinstance(data, Tensor):
        data = data.data
    elif isinstance(data, (list, tuple)) and data and all(isinstance(d, Tensor) for d in data):
        arrays = [
            d.data for d in data
        ]  # a list of tensors: stack them (no graph; use stack() for one)
        data = backend.get_array_module(*arrays).stack(arrays)
    if hasattr(data, "shape"):  # NumPy/CuPy arrays and NumPy scalars keep their dtype
        arr = backend.to_device(data, device or backend.device_of(data))
    else:  # Python numbers and lists: floats -> float32, ints/bools keep an integer/bool dtype
        arr = backend.xp_for(device or backend.get_default_device()).asarray(data, dtype=dtype)
        if dtype is None and arr.dtype.kind == "f":
            arr = arr.astype(DEFAULT_FLOAT)
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    ``Tensor(data, requires_grad=False, dtype=None, device=None)``: ``data`` is an array (wrapped
    without a copy, like ``torch.as_tensor``), a number, a nested list or a list of tensors; the
    dtype follows the rules in this module's docstring. Shaped like ``torch.Tensor``: ``.data``,
    ``.grad``, ``.shape``, ``.dtype``, ``.device``, ``.backward()``, ``.detach()``, ``.numpy()``,
    ``.item()``, ``.to(device)``, ``.size()``, ``.numel()``...

    Every Python operator and method is declared below and delegates to its op in
    :mod:`minisegnet.functional` (``x + y`` is ``F.add(x, y)``, ``x.sum(dim=1)`` is
    ``F.sum(x, dim=1)``); PyTorch's ``dim=`` / ``keepdim=`` are accepted next to NumPy's ``axis=`` /
    ``keepdims=``. The table is in docs/autograd.md ("The Tensor API, PyTorch's names").
    """

    __array_priority__ = 100  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(
        self, data: Any, requires_grad: bool = False, dtype: Any = None, device: str | None = None
    ) -> None:
        self.data = _to_array(data, dtype, device)
        if requires_grad and not is_float(self.data.dtype):
            raise TypeError(
                f"Tensor: requires_grad=True needs a floating dtype, got {self.data.dtype}; "
                "convert first, e.g. Tensor(x, dtype='float32', requires_grad=True)"
            )
        self.requires_grad = bool(requires_grad)
        self.grad: Tensor | None = None
        self.creator: Function | None = None
        self.name: str | None = None
        self._retain_grad = False

    # ----- properties -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def device(self) -> str:
        return backend.device_of(self.data)

    @property
    def xp(self) -> Any:
        """The array module (numpy or cupy) that holds this tensor's data."""
        return backend.xp_for(self.device)

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = numpy.array2string(
            backend.asnumpy(self.data), separator=", ", precision=4, prefix="Tensor("
        )
        extra = f", device='{self.device}'" if self.device != "cpu" else ""
        if self.creator is not None:
            extra += f", grad_fn={_op_name(self.creator)}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    __hash__ = object.__hash__  # == is elementwise, identity is the hash

    # ----- conversions ------------------------------------------------------------------------
    def numpy(self) -> NDArray:
        """The data as a NumPy array (copied from the GPU if needed); no graph."""
        return backend.asnumpy(self.data)

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.numel() != 1:
            raise ValueError(
                f"item(): only one-element tensors convert to a number, shape is {self.shape}"
            )
        return self.data.reshape(()).item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        return bool(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> NDArray:
        arr = self.numpy()
        return arr.astype(dtype) if dtype is not None else arr

    def detach(self) -> Tensor:
        """A tensor sharing the data, cut off from the graph."""
        return Tensor(self.data)

    def to(self, device: str | None = None, dtype: Any = None) -> Tensor:
        """Copy to another device (``"cpu"``/``"gpu"``, or ``"cuda"``) and/or dtype;
        differentiable. Returns ``self`` when nothing changes."""
        return _F.to(self, device=device, dtype=dtype)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def gpu(self) -> Tensor:
        return self.to("gpu")

    def cuda(self) -> Tensor:
        """PyTorch's name for :meth:`gpu`."""
        return self.to("gpu")

    def astype(self, dtype: Any) -> Tensor:
        return self.to(dtype=dtype)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (a leaf becomes a parameter to differentiate)."""
        if requires_grad and not is_float(self.dtype):
            raise TypeError(f"requires_grad_: needs a floating dtype, got {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf tensor after ``backward()`` (handy in lessons)."""
        self._retain_grad = True
        return self

    def zero_grad(self) -> None:
        self.grad = None

    # ----- backpropagation --------------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Compute d(self)/d(leaf) for each leaf with ``requires_grad``, added to ``leaf.grad``.

        ``grad`` is d(loss)/d(self); it may be omitted only when ``self`` has one element.
        The graph is freed afterwards unless ``retain_graph=True``.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad, so no graph leads to it; create "
                "the inputs with requires_grad=True (and call backward outside no_grad())"
            )
        xp = self.xp
        if grad is None:
            if self.numel() != 1:
                raise RuntimeError(
                    f"backward(): grad can be omitted only for a one-element output, this one has "
                    f"shape {self.shape}; reduce it first (e.g. loss.sum() or loss.mean()) or pass "
                    "grad=an array of the same shape"
                )
            g = xp.ones(self.data.shape, dtype=self.dtype)
        else:
            g = _to_array(grad, device=self.device)
            if g.shape != self.data.shape:
                raise ValueError(
                    f"backward(): grad has shape {g.shape}, the tensor has {self.shape}"
                )
            g = g.astype(self.dtype, copy=False)

        _run_backward(self, g, retain_graph)

    # ----- Python operators (each delegates to its op in minisegnet.functional) ---------------
    def __add__(self, other: Any) -> Tensor:
        return _F.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _F.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _F.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _F.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _F.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _F.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _F.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _F.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _F.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _F.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _F.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _F.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _F.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _F.abs(self)

    def __getitem__(self, index: Any) -> Tensor:
        return _F.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        """``x[index] = value`` in place (slices, integers, masks, index arrays; ``value`` a
        number, array or Tensor broadcast to the selection), with the rule of the other in-place
        ops: for a tensor no graph is being recorded for. A differentiable masked write makes a
        new tensor instead: ``x = F.where(mask, value, x)``."""
        op = "x[index] = value"
        if self.requires_grad and _grad_enabled:
            raise RuntimeError(
                f"{op}: the tensor (shape {self.shape}) requires grad, and minisegnet records no "
                "graph for item assignment; write x = F.where(mask, value, x) (differentiable), "
                "or assign under `with minisegnet.no_grad():` (an initialisation)"
            )
        v = value.data if isinstance(value, Tensor) else value
        v = backend.to_device(self.xp.asarray(v), self.device)
        if not numpy.can_cast(v.dtype, self.dtype, casting="same_kind"):
            raise TypeError(
                f"{op}: a {v.dtype} value cannot be written into a {self.dtype} tensor; "
                "convert the value first"
            )
        mark_modified(self)  # a live graph that saved this array will refuse its backward
        self.data[_F.basic._index_to(index, self.device)] = v

    # comparisons: elementwise, a bool tensor outside the graph (== is not identity: see __hash__)
    def _compare(self, other: Any, op: str) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        if hasattr(other, "shape"):
            backend.check_same_device(self.data, other, op=op)
        return Tensor(getattr(self.data, op)(other))

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, "__lt__")

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, "__le__")

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, "__gt__")

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, "__ge__")

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, "__eq__")

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, "__ne__")

    def __floordiv__(self, other: Any) -> Tensor:
        """``x // y``: floor division (integers stay integers); outside the graph."""
        return _F.floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return _F.floor_divide(other, self)

    def __mod__(self, other: Any) -> Tensor:
        """``x % y``: the remainder with the sign of y (Python's rule); differentiable."""
        return _F.remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return _F.remainder(other, self)

    # &, |, ^, ~: logical on bool tensors (masks), bitwise on integers; outside the graph
    def _bitwise(self, other: Any, op: str) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        kinds = [self.dtype.kind] + ([other.dtype.kind] if hasattr(other, "dtype") else [])
        if "f" in kinds or isinstance(other, float):
            raise TypeError(
                f"{op}: needs bool (or integer) tensors, got {self.dtype}; compare first, "
                "e.g. (x > 0) & (y > 0), or convert with .bool()"
            )
        return self._compare(other, op)

    def __and__(self, other: Any) -> Tensor:
        return self._bitwise(other, "__and__")

    def __rand__(self, other: Any) -> Tensor:
        return self._bitwise(other, "__rand__")

    def __or__(self, other: Any) -> Tensor:
        return self._bitwise(other, "__or__")

    def __ror__(self, other: Any) -> Tensor:
        return self._bitwise(other, "__ror__")

    def __xor__(self, other: Any) -> Tensor:
        return self._bitwise(other, "__xor__")

    def __invert__(self) -> Tensor:
        """``~mask``: not, for a bool tensor (bitwise not for integers)."""
        if is_float(self.dtype):
            raise TypeError(f"~: needs a bool (or integer) tensor, got {self.dtype}; e.g. ~(x > 0)")
        return Tensor(~self.data)

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a one-element tensor's number; no spec gives ``str()``."""
        if not spec:
            return str(self)
        if self.numel() != 1:
            raise TypeError(
                f"format spec {spec!r}: only one-element tensors format as a number, "
                f"this one has shape {self.shape}; use .numpy() or .tolist()"
            )
        return format(self.item(), spec)

    # ----- in-place updates (optimizer steps by hand; never recorded in a graph) ---------------
    def _check_inplace(self, op: str) -> None:
        """In-place changes are for tensors no graph is being recorded for (PyTorch's rule)."""
        if self.requires_grad and _grad_enabled:
            raise RuntimeError(
                f"{op}: a {'leaf ' if self.is_leaf else ''}tensor that requires grad is being used "
                "in an in-place operation; wrap the update in `with minisegnet.no_grad():` (as an "
                "optimizer step is), or write x = x + ... to make a new tensor"
            )

    def _inplace(self, op: str, result: Any) -> Tensor:
        """Write ``result`` (array or number) into ``self.data``, same object, as PyTorch's in-place
        ops do: allowed when no graph would need the old value, i.e. under ``no_grad()`` or on a
        tensor that does not require grad. Bumps the version (:func:`mark_modified`), so a live
        graph that saved the old array raises at its ``backward()``."""
        self._check_inplace(op)
        xp = self.xp
        value = xp.asarray(result.data if isinstance(result, Tensor) else result)
        if not numpy.can_cast(value.dtype, self.dtype, casting="same_kind"):
            raise TypeError(
                f"{op}: the result type {value.dtype} cannot be written into a "
                f"{self.dtype} tensor in place; convert first, e.g. x = x.float()"
            )
        try:
            fits = numpy.broadcast_shapes(value.shape, self.data.shape) == self.data.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"{op}: a result of shape {tuple(value.shape)} does not fit in place "
                f"into a tensor of shape {self.shape}"
            )
        mark_modified(self)
        self.data[...] = value
        return self

    def _iop(self, op: str, fn: Any, other: Any) -> Tensor:
        other_grad = isinstance(other, Tensor) and other.requires_grad
        if _grad_enabled and other_grad and not self.requires_grad:
            return fn(self, other)  # needs a graph: x += y makes a new tensor (rebinding x)
        self._check_inplace(op)
        with _set_grad(False):
            return self._inplace(op, fn(self, other))

    def __iadd__(self, other: Any) -> Tensor:
        return self._iop("+=", _F.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._iop("-=", _F.sub, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._iop("*=", _F.mul, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._iop("/=", _F.div, other)

    def zero_(self) -> Tensor:
        """Set every element to 0 in place (``w.grad.zero_()``); see :meth:`fill_`."""
        return self._inplace("zero_", self.xp.zeros((), dtype=self.dtype))

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value`` in place, for a tensor that is not being differentiated
        (or under ``no_grad()``); returns ``self``."""
        if not isinstance(value, Tensor):  # a Python number takes the tensor's dtype
            value = self.xp.full((), value, dtype=self.dtype)
        return self._inplace("fill_", value)

    # ----- sizes, PyTorch's way ---------------------------------------------------------------
    def numel(self) -> int:
        """The number of elements."""
        return int(self.data.size)

    def dim(self) -> int:
        """The number of axes (``ndim``)."""
        return int(self.data.ndim)

    def size(self, dim: int | None = None) -> Any:
        """The shape (a tuple), or the length of axis ``dim``: ``x.size()``, ``x.size(1)``, as
        ``torch.Tensor.size`` (the element count is :meth:`numel`)."""
        return self.shape if dim is None else self.shape[dim]

    # ----- reductions and elementwise functions (delegating to minisegnet.functional) ---------
    def sum(
        self,
        axis: Any = None,
        keepdims: bool | None = None,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """Sum over ``axis`` / ``dim`` (all by default); see :func:`minisegnet.functional.sum`."""
        return _F.sum(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def mean(
        self,
        axis: Any = None,
        keepdims: bool | None = None,
        *,
        dim: Any = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """Mean over ``axis`` / ``dim`` (all by default)."""
        return _F.mean(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def max(
        self,
        dim: Any = None,
        keepdim: bool | None = None,
        *,
        axis: Any = None,
        keepdims: bool | None = None,
    ) -> Any:
        """``x.max()``: the maximum; ``x.max(dim)``: ``(values, indices)`` as in PyTorch;
        ``x.max(axis=...)``: the values (NumPy); ``x.max(other)``: the elementwise maximum."""
        return _F.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(
        self,
        dim: Any = None,
        keepdim: bool | None = None,
        *,
        axis: Any = None,
        keepdims: bool | None = None,
    ) -> Any:
        """The minimum, with :meth:`max`'s conventions."""
        return _F.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(
        self,
        axis: int | None = None,
        keepdims: bool | None = None,
        *,
        dim: int | None = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """Index of the maximum along ``axis`` / ``dim`` (of the flattened tensor by default)."""
        return _F.argmax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmin(
        self,
        axis: int | None = None,
        keepdims: bool | None = None,
        *,
        dim: int | None = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        """Index of the minimum along ``axis`` / ``dim``."""
        return _F.argmin(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def softmax(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        """Softmax over ``axis`` / ``dim`` (default 1, the class axis)."""
        return _F.softmax(self, axis, dim=dim)

    def log_softmax(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        """log(softmax) over ``axis`` / ``dim`` (default 1)."""
        return _F.log_softmax(self, axis, dim=dim)

    def exp(self) -> Tensor:
        return _F.exp(self)

    def log(self) -> Tensor:
        return _F.log(self)

    def sqrt(self) -> Tensor:
        return _F.sqrt(self)

    def abs(self) -> Tensor:
        return _F.abs(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        """Clamp to [min, max]; either bound may be None."""
        return _F.clip(self, min, max)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:
        """PyTorch's name for :meth:`clip`."""
        return _F.clip(self, min, max)

    def sigmoid(self) -> Tensor:
        return _F.sigmoid(self)

    def tanh(self) -> Tensor:
        return _F.tanh(self)

    def relu(self) -> Tensor:
        return _F.relu(self)

    def softplus(self) -> Tensor:
        return _F.softplus(self)

    # ----- shape ops (differentiable) ---------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        """Another shape (one entry may be -1): ``x.reshape(2, -1)`` or ``x.reshape((2, -1))``."""
        return _F.reshape(self, *shape)

    def view(self, *shape: Any) -> Tensor:
        """PyTorch's name for :meth:`reshape`."""
        return _F.reshape(self, *shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge axes ``start_dim`` .. ``end_dim`` (included) into one."""
        return _F.flatten(self, start_dim, end_dim)

    def permute(self, *axes: Any) -> Tensor:
        """Reorder the axes: ``x.permute(0, 2, 3, 1)``."""
        return _F.permute(self, *axes)

    def transpose(
        self,
        axis0: int | None = None,
        axis1: int | None = None,
        *,
        dim0: int | None = None,
        dim1: int | None = None,
    ) -> Tensor:
        """Swap two axes (or reverse all when none are given)."""
        return _F.transpose(self, axis0, axis1, dim0=dim0, dim1=dim1)

    def t(self) -> Tensor:
        """The transpose of a matrix (a 0-D or 1-D tensor is returned as it is), as in PyTorch."""
        if self.ndim > 2:
            raise ValueError(
                f"t(): expects a tensor with <= 2 axes, got shape {self.shape}; use "
                ".transpose(dim0, dim1) or .permute(...)"
            )
        return self if self.ndim < 2 else _F.transpose(self, 0, 1)

    @property
    def T(self) -> Tensor:
        """All axes reversed (the matrix transpose for 2-D)."""
        return _F.transpose(self)

    def unsqueeze(self, dim: int) -> Tensor:
        """A new axis of length 1 at position ``dim`` (``-1``: at the end)."""
        n = self.ndim + 1
        if not -n <= dim < n:
            raise ValueError(
                f"unsqueeze: dim {dim} is out of range for a {self.ndim}-D tensor "
                f"(use {-n} .. {n - 1})"
            )
        shape = list(self.shape)
        shape.insert(dim % n, 1)
        return _F.reshape(self, shape)

    def squeeze(self, dim: int | Sequence[int] | None = None) -> Tensor:
        """Drop axes of length 1: all of them, or those among ``dim`` (an axis of another length
        named in ``dim`` stays, as in PyTorch)."""
        dims = range(self.ndim) if dim is None else (dim,) if isinstance(dim, int) else dim
        drop = set()
        for d in dims:
            if not -self.ndim <= d < max(self.ndim, 1):
                raise ValueError(f"squeeze: dim {d} is out of range for shape {self.shape}")
            if self.ndim and self.shape[d] == 1:
                drop.add(d % self.ndim)
        return _F.reshape(self, [n for i, n in enumerate(self.shape) if i not in drop])

    def expand(self, *sizes: Any) -> Tensor:
        """Broadcast to ``sizes`` (``-1`` keeps an axis); a differentiable copy here (PyTorch
        returns a view), whose gradient is summed back over the broadcast axes."""
        if len(sizes) == 1 and not isinstance(sizes[0], int):
            sizes = tuple(sizes[0])
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: {len(sizes)} sizes for a {self.ndim}-D tensor {self.shape}")
        shape = tuple(
            self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes)
        )
        try:
            numpy.broadcast_shapes(self.shape, shape)
        except ValueError:
            raise ValueError(
                f"expand: shape {self.shape} cannot be broadcast to {shape}: only "
                "axes of length 1 can grow"
            ) from None
        if shape == self.shape:
            return self
        return _F.add(self, self.xp.zeros(shape, dtype=self.dtype))

    def repeat(self, *sizes: Any) -> Tensor:
        """Tile: axis i repeated ``sizes[i]`` times, as ``torch.Tensor.repeat`` (differentiable)."""
        if len(sizes) == 1 and not isinstance(sizes[0], int):
            sizes = tuple(sizes[0])
        if len(sizes) < self.ndim:
            raise ValueError(
                f"repeat: give at least {self.ndim} sizes for shape {self.shape}, got {sizes}"
            )
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        x = self.reshape([m for n in shape for m in (1, n)])  # (1, s0, 1, s1, ...)
        x = x.expand([m for r, n in zip(sizes, shape) for m in (r, n)])
        return x.reshape([r * n for r, n in zip(sizes, shape)])

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        """Shift elements cyclically along ``dims`` (Swin's shifted windows), as ``torch.roll``."""
        return _F.roll(self, shifts, dims)

    def clone(self) -> Tensor:
        """A copy with its own memory; differentiable (the gradient flows back to ``self``)."""
        return _F.mul(self, self.xp.ones((), dtype=self.dtype))

    # ----- the rest of torch.Tensor's everyday methods (minisegnet.functional.tensorops) ------
    def var(
        self,
        dim: Any = None,
        unbiased: Any = None,
        keepdim: bool = False,
        *,
        correction: float | None = None,
    ) -> Tensor:
        """Variance over ``dim``: sum((x - mean)^2) / (n - correction), correction 1 by default
        (``unbiased=False`` is correction 0); see :func:`minisegnet.functional.var`."""
        return _F.var(self, dim, unbiased, keepdim, correction=correction)

    def std(
        self,
        dim: Any = None,
        unbiased: Any = None,
        keepdim: bool = False,
        *,
        correction: float | None = None,
    ) -> Tensor:
        """Standard deviation: the square root of :meth:`var`."""
        return _F.std(self, dim, unbiased, keepdim, correction=correction)

    def prod(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Product of all elements or along ``dim``."""
        return _F.prod(self, dim, keepdim)

    def amax(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """The maximum over ``dim`` (values only; ties share the gradient)."""
        return _F.amax(self, dim, keepdim)

    def amin(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """The minimum over ``dim`` (values only)."""
        return _F.amin(self, dim, keepdim)

    def any(
        self,
        dim: Any = None,
        keepdim: bool | None = None,
        *,
        axis: Any = None,
        keepdims: bool | None = None,
        out: None = None,
    ) -> Tensor:
        """Whether any element is non-zero, over ``dim`` / ``axis``; a bool tensor outside the
        graph (NumPy's spelling too, so ``numpy.any(x)`` keeps working)."""
        if out is not None:
            raise TypeError("any: out= is not supported; use the returned tensor")
        return _F.any(self, *_F.tensorops._dim_keepdim("any", dim, keepdim, axis, keepdims))

    def all(
        self,
        dim: Any = None,
        keepdim: bool | None = None,
        *,
        axis: Any = None,
        keepdims: bool | None = None,
        out: None = None,
    ) -> Tensor:
        """Whether every element is non-zero, over ``dim`` / ``axis``; a bool tensor outside the
        graph (``numpy.all(x)`` keeps working)."""
        if out is not None:
            raise TypeError("all: out= is not supported; use the returned tensor")
        return _F.all(self, *_F.tensorops._dim_keepdim("all", dim, keepdim, axis, keepdims))

    def pow(self, exponent: Any) -> Tensor:
        """``self ** exponent``."""
        return _F.pow(self, exponent)

    def square(self) -> Tensor:
        """``self * self``."""
        return _F.mul(self, self)

    def neg(self) -> Tensor:
        return _F.neg(self)

    def add(self, other: Any) -> Tensor:
        return _F.add(self, other)

    def sub(self, other: Any) -> Tensor:
        return _F.sub(self, other)

    def mul(self, other: Any) -> Tensor:
        return _F.mul(self, other)

    def div(self, other: Any) -> Tensor:
        return _F.div(self, other)

    def sign(self) -> Tensor:
        """-1, 0 or 1 (zero gradient)."""
        return _F.sign(self)

    def floor(self) -> Tensor:
        """Round down (zero gradient)."""
        return _F.floor(self)

    def ceil(self) -> Tensor:
        """Round up (zero gradient)."""
        return _F.ceil(self)

    def round(self, decimals: int = 0) -> Tensor:
        """Round to the nearest, halves to even (zero gradient)."""
        return _F.round(self, decimals)

    def eq(self, other: Any) -> Tensor:
        return self == other

    def ne(self, other: Any) -> Tensor:
        return self != other

    def lt(self, other: Any) -> Tensor:
        return self < other

    def le(self, other: Any) -> Tensor:
        return self <= other

    def gt(self, other: Any) -> Tensor:
        return self > other

    def ge(self, other: Any) -> Tensor:
        return self >= other

    def logical_not(self) -> Tensor:
        return _F.logical_not(self)

    def isnan(self) -> Tensor:
        return _F.isnan(self)

    def isfinite(self) -> Tensor:
        return _F.isfinite(self)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """``value`` where the bool ``mask`` is true, else ``self`` (differentiable)."""
        return _F.masked_fill(self, mask, value)

    def where(self, condition: Any, other: Any) -> Tensor:
        """``self`` where ``condition`` is true, else ``other``, as ``torch.Tensor.where``."""
        return _F.where(condition, self, other)

    def norm(self, p: float = 2, dim: Any = None, keepdim: bool = False) -> Tensor:
        """The p-norm over ``dim`` (all elements by default); differentiable."""
        return _F.norm(self, p, dim, keepdim)

    def cumsum(self, dim: int) -> Tensor:
        """Running sums along ``dim``; differentiable."""
        return _F.cumsum(self, dim)

    def log1p(self) -> Tensor:
        return _F.log1p(self)

    def expm1(self) -> Tensor:
        return _F.expm1(self)

    def argsort(self, dim: int = -1, descending: bool = False) -> Tensor:
        """The indices that sort along ``dim``; outside the graph."""
        return _F.argsort(self, dim, descending)

    def nonzero(self) -> Tensor:
        """The (count, ndim) positions of the non-zero elements; outside the graph."""
        return _F.nonzero(self)

    def rsqrt(self) -> Tensor:
        """1 / sqrt(self); differentiable."""
        return _F.rsqrt(self)

    def lerp(self, end: Any, weight: Any) -> Tensor:
        """self + weight (end - self); differentiable in all three."""
        return _F.lerp(self, end, weight)

    def fmod(self, other: Any) -> Tensor:
        """The remainder with the sign of ``self`` (C's fmod; ``%`` takes the divisor's sign)."""
        return _F.fmod(self, other)

    def index_select(self, dim: int, index: Any) -> Tensor:
        """The entries ``index`` (1-D, integer) along ``dim``; differentiable."""
        return _F.index_select(self, dim, index)

    def masked_select(self, mask: Any) -> Tensor:
        """The elements where the bool ``mask`` is true, 1-D; differentiable."""
        return _F.masked_select(self, mask)

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        """``length`` entries from ``start`` along ``dim`` (a differentiable slice)."""
        return _F.narrow(self, dim, start, length)

    def unique(
        self,
        sorted: bool = True,
        return_inverse: bool = False,
        return_counts: bool = False,
        dim: int | None = None,
    ) -> Any:
        """The distinct values (ascending), optionally with inverse indices and counts."""
        return _F.unique(self, sorted, return_inverse, return_counts, dim)

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (a batch of matrices transposed)."""
        if self.ndim < 2:
            raise ValueError(f"mT: needs at least 2 axes, got shape {self.shape}")
        return _F.transpose(self, -2, -1)

    def flip(self, *args: Any, dims: Any = None) -> Tensor:
        """Reverse along ``dims``: ``x.flip(-1)``, ``x.flip(2, 3)``, ``x.flip([2, 3])`` or
        ``x.flip(dims=(2, 3))``."""
        if dims is None:
            dims = args[0] if len(args) == 1 else args
        elif args:
            raise TypeError(f"flip: got dims {args} and dims={dims}; give them once")
        return _F.flip(self, dims)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """``chunks`` pieces along ``dim`` (differentiable slices)."""
        return _F.chunk(self, chunks, dim)

    def split(self, split_size: Any, dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces of ``split_size`` elements (or of the listed lengths) along ``dim``."""
        return _F.split(self, split_size, dim)

    def gather(self, dim: int, index: Any) -> Tensor:
        """Pick along ``dim`` by an integer ``index`` (differentiable)."""
        return _F.gather(self, dim, index)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        """``(values, indices)`` sorted along ``dim``."""
        return _F.sort(self, dim, descending, stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        """``(values, indices)`` of the ``k`` largest (or smallest) along ``dim``."""
        return _F.topk(self, k, dim, largest, sorted)

    def swapaxes(self, axis0: int, axis1: int) -> Tensor:
        """Swap two axes (:meth:`transpose`)."""
        return _F.transpose(self, axis0, axis1)

    def swapdims(self, dim0: int, dim1: int) -> Tensor:
        """Swap two axes (:meth:`transpose`)."""
        return _F.transpose(self, dim0, dim1)

    def unflatten(self, dim: int, sizes: Sequence[int]) -> Tensor:
        """Split axis ``dim`` into ``sizes`` (one may be -1): the inverse of :meth:`flatten`."""
        d = _F.tensorops._dim("unflatten", dim, self.shape)
        return _F.reshape(self, self.shape[:d] + tuple(sizes) + self.shape[d + 1 :])

    def expand_as(self, other: Tensor) -> Tensor:
        """:meth:`expand` to ``other``'s shape."""
        return self.expand(other.shape)

    def view_as(self, other: Tensor) -> Tensor:
        """:meth:`view` as ``other``'s shape."""
        return _F.reshape(self, other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        """:meth:`reshape` to ``other``'s shape."""
        return _F.reshape(self, other.shape)

    def type_as(self, other: Tensor) -> Tensor:
        """As ``other``'s dtype (differentiable between float dtypes)."""
        return self.to(dtype=other.dtype)

    def contiguous(self) -> Tensor:
        """``self``: every array here is usable as it is (PyTorch's strides do not apply)."""
        return self

    def new_zeros(self, *size: Any, dtype: Any = None, device: str | None = None) -> Tensor:
        """Zeros of ``size``, with this tensor's dtype and device unless given."""
        return self.new_full(_sizes(size), 0, dtype=dtype, device=device)

    def new_ones(self, *size: Any, dtype: Any = None, device: str | None = None) -> Tensor:
        """Ones of ``size``, with this tensor's dtype and device unless given."""
        return self.new_full(_sizes(size), 1, dtype=dtype, device=device)

    def new_full(
        self, size: Sequence[int], fill_value: Any, dtype: Any = None, device: str | None = None
    ) -> Tensor:
        """``fill_value`` everywhere in a tensor of ``size``, this tensor's dtype and device
        unless given."""
        xp = backend.xp_for(backend.normalize_device(device) if device else self.device)
        return Tensor(xp.full(tuple(size), fill_value, dtype=dtype or self.dtype))

    def new_tensor(self, data: Any, dtype: Any = None, device: str | None = None) -> Tensor:
        """A copy of ``data`` with this tensor's dtype and device unless given."""
        device = backend.normalize_device(device) if device else self.device
        arr = _to_array(data, dtype or self.dtype, device)
        return Tensor(arr.copy())

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src`` (broadcast to this shape) into this tensor in place; returns ``self``."""
        src = src.data if isinstance(src, Tensor) else src
        value = backend.to_device(self.xp.asarray(src), self.device)
        return self._inplace("copy_", value.astype(self.dtype, copy=False))

    # ----- dtype conversions, PyTorch's names (last in the class: they shadow int, float, bool) -
    def long(self) -> Tensor:
        """As int64 (class labels); leaves the graph."""
        return self.to(dtype=numpy.int64)

    def int(self) -> Tensor:
        """As int32; leaves the graph."""
        return self.to(dtype=numpy.int32)

    def bool(self) -> Tensor:
        """As bool; leaves the graph."""
        return self.to(dtype=numpy.bool_)

    def double(self) -> Tensor:
        """As float64 (gradient checks); differentiable."""
        return self.to(dtype=numpy.float64)

    def float(self) -> Tensor:
        """As float32, the training default; differentiable."""
        return self.to(dtype=DEFAULT_FLOAT)

    def half(self) -> Tensor:
        """As float16; differentiable (every op runs in float16 through NumPy/CuPy, slowly on
        the CPU and with float16's 3 significant digits: for memory, not for training)."""
        return self.to(dtype=numpy.float16)


def _sizes(size: tuple) -> tuple[int, ...]:
    """``f(2, 3)`` or ``f((2, 3))``: the sizes as one tuple."""
    return tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else tuple(size)


def _op_name(fn: Any) -> str:
    """The name an op goes by in messages: its ``op_name``, or its class name without the
    ``Function`` suffix."""
    if getattr(fn, "op_name", None):
        return fn.op_name
    name = type(fn).__name__
    return name[: -len("Function")] if name.endswith("Function") and name != "Function" else name


def _topological_order(root: Tensor) -> list[Function]:
    """The Functions reachable from ``root``, each before every Function that made its inputs.

    Iterative depth-first search (no recursion limit): a Function is appended to the post-order
    only after the creators of all its inputs, and the post-order is then reversed. Nodes are
    Functions, not tensors, so a Function with several outputs runs its backward once, after the
    gradients of all its outputs have arrived.
    """
    post: list[Function] = []
    visited: set[int] = set()
    stack: list[tuple[Function, bool]] = [(root.creator, False)] if root.creator else []
    while stack:
        fn, inputs_done = stack.pop()
        if inputs_done:
            post.append(fn)
            continue
        if id(fn) in visited:
            continue
        visited.add(id(fn))
        stack.append((fn, True))
        if fn.inputs is not None:
            stack.extend(
                (x.creator, False)
                for x in fn.inputs
                if x.requires_grad and x.creator is not None and id(x.creator) not in visited
            )
    post.reverse()
    return post


def _accumulate_grad(t: Tensor, g: Any) -> None:
    """t.grad += g, as a new array (a gradient never aliases another tensor's)."""
    t.grad = Tensor(g.copy()) if t.grad is None else Tensor(t.grad.data + g)


def _run_backward(root: Tensor, g: Any, retain_graph: bool) -> None:
    """The engine behind ``Tensor.backward``: the chain rule from ``root`` (gradient ``g``) back
    to the leaves, one Function at a time.

    ``pending[id(fn)]`` collects the gradients of ``fn``'s outputs (one slot per output, summed
    where an output was used twice); ``fn.backward`` runs once all of them are in.
    """
    if root.creator is None or root._retain_grad:
        _accumulate_grad(root, g)
    if root.creator is None:
        return
    pending: dict[int, list[Any]] = {}
    _add_pending(pending, root, g)
    for fn in _topological_order(root):
        gys = pending.pop(id(fn), None)
        if gys is None:  # no gradient reached it (backward returned None on the way)
            continue
        if fn.inputs is None:
            raise RuntimeError(
                f"backward(): the graph through {_op_name(fn)} was already freed by an "
                "earlier backward(); call backward(retain_graph=True) the first time to "
                "backpropagate twice"
            )
        held = fn.__dict__.get("_held")
        if held:
            _check_saved(fn, held)
        in_grads = fn.backward(*fn._fill_missing(gys))
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for x, gx in zip(fn.inputs, in_grads):
            if gx is None or not x.requires_grad:
                continue
            if gx.shape != x.data.shape:
                gx = sum_to_shape(gx, x.data.shape, op=_op_name(fn))
            if gx.dtype != x.dtype:
                gx = gx.astype(x.dtype)
            if x.creator is None or x._retain_grad:
                _accumulate_grad(x, gx)
            if x.creator is not None:
                _add_pending(pending, x, gx)
        if not retain_graph:
            fn.release()


def _add_pending(pending: dict[int, list[Any]], t: Tensor, g: Any) -> None:
    """Add ``g`` to the gradient slot of output ``t`` of its creator."""
    fn = t.creator
    assert fn is not None, "only an op's output receives a pending gradient"
    slots = pending.setdefault(id(fn), [None] * len(fn._out_meta))
    i = fn._out_index[id(t)]
    slots[i] = g if slots[i] is None else slots[i] + g


# ----------------------------------------------------------------------------------------------
# arrays saved for backward: read-only while a graph holds them, and a version counter


class _Saved:
    """One array saved by live graph nodes: how many hold it, its version, whether we locked it."""

    __slots__ = ("array", "count", "version", "locked", "holders")

    def __init__(self, array: Any) -> None:
        self.array, self.count, self.version, self.locked = array, 0, 0, False
        self.holders: list[str] = []  # "Mul's input 0", ... for saved_by()


_SAVED: dict[int, _Saved] = {}  # id(array) -> book-keeping; the holders keep the array alive


def _root(a: Any) -> Any:
    """The array that owns the memory ``a`` views (``a`` itself when it owns it)."""
    b = a.base
    while backend.is_array(b):  # (a base may also be bytes, an mmap...)
        a, b = b, b.base
    return a


def _relockable(r: Any) -> bool:
    """Whether NumPy will let ``r`` be made writeable again after :func:`_hold` locks it: always
    when it owns its memory; for memory lent by another object (``r.base``: a torch tensor's
    ``.numpy()``, an ``__array_interface__`` exporter) only when that object hands out a
    writable buffer -- NumPy's own test. Such arrays are not locked (the version counter still
    catches in-place Tensor ops); locking them would leave the user's array read-only for good
    and make ``backward()`` fail ("cannot set WRITEABLE flag to True")."""
    if r.base is None:
        return True
    try:
        with memoryview(r.base) as view:
            return not view.readonly
    except (TypeError, ValueError, BufferError):
        return False


def _hold(fn: Function, arrays: Sequence[tuple[Any, str]]) -> tuple:
    """Register the user-reachable arrays (inputs' and outputs' ``.data``) that ``fn`` saved.

    An array counts as saved when something ``fn`` passed to :meth:`Function.save_for_backward`
    is it or a view of the same memory; the book-keeping (and the read-only flag) is on the array
    that owns the memory. Returns ((entry, version at forward, what it is, the array), ...) for
    the backward check.
    """
    roots: dict[int, list[tuple[Any, str]]] = {}
    for a, what in arrays:
        roots.setdefault(id(_root(a)), []).append((a, what))
    found: dict[int, tuple[Any, str]] = {}
    for a in fn.__dict__.get("_saved") or ():
        if not backend.is_array(a):
            continue
        for c, what in roots.get(id(_root(a)), ()):
            found.setdefault(id(c), (c, what))
    held = []
    for c, what in found.values():
        r = _root(c)  # the memory's owner: a write through any later view of it shows up there
        entry = _SAVED.get(id(r))
        if entry is None:
            entry = _SAVED[id(r)] = _Saved(r)
            if type(r) is numpy.ndarray and r.flags.writeable and _relockable(r):
                r.flags.writeable = False  # a raw write now raises at the write
                entry.locked = True
        entry.count += 1
        label = f"{_op_name(fn)}'s {what}"
        entry.holders.append(label)
        held.append((entry, entry.version, label, c))
    return tuple(held)


def _drop(held: tuple) -> None:
    """Let go of arrays registered by :func:`_hold`; the last holder restores writeability."""
    for entry, _, label, _ in held:
        entry.count -= 1
        entry.holders.remove(label)
        if entry.count == 0:
            if entry.locked:
                entry.array.flags.writeable = True
            del _SAVED[id(entry.array)]


def _check_saved(fn: Function, held: tuple) -> None:
    """Raise if an array ``fn`` saved for backward was changed in place since its forward."""
    for entry, version, label, a in held:
        if entry.version != version:
            raise RuntimeError(
                f"backward(): one of the arrays needed for gradient computation has been modified "
                f"by an in-place operation: {label} (shape {tuple(a.shape)}, "
                f"{a.dtype}) was saved by its forward and changed afterwards (version {version} -> "
                f"{entry.version}, e.g. an optimizer step or load_state_dict before this "
                "backward). Call backward() before changing it, or run the forward again after"
            )


def saved_by(x: Any) -> list[str]:
    """The live graph nodes that saved ``x`` (a Tensor or array) or its memory for backward, e.g.
    ``["Mul's input 0"]``: why ``x.data[...] = ...`` says "assignment destination is read-only".
    Empty once every such graph is freed."""
    a = x.data if isinstance(x, Tensor) else x
    entry = _SAVED.get(id(_root(a))) if backend.is_array(a) else None
    return list(entry.holders) if entry is not None else []


def mark_modified(x: Any) -> None:
    """Declare that ``x`` (a Tensor or its array) is about to be changed in place.

    Engine code that writes into ``.data`` on purpose (optimizer steps, ``load_state_dict``)
    calls this first: if a live graph saved the array, its version is bumped (that graph's
    ``backward()`` will raise, naming the op) and the array is made writeable again. Does nothing
    for an array no graph holds (the usual case: the step comes after ``backward()``).
    """
    a = x.data if isinstance(x, Tensor) else x
    entry = _SAVED.get(id(_root(a))) if backend.is_array(a) else None
    if entry is not None:
        entry.version += 1
        if entry.locked:
            entry.array.flags.writeable = True
            entry.locked = False


def sum_to_shape(g: Any, shape: Sequence[int], op: str = "op") -> Any:
    """Undo broadcasting: sum ``g`` over the axes that broadcasting added or stretched."""
    shape = tuple(shape)
    extra = g.ndim - len(shape)
    if extra < 0 or any(n != 1 and m != n for m, n in zip(g.shape[extra:], shape)):
        raise ValueError(
            f"{op}.backward returned a gradient of shape {tuple(g.shape)} for an input "
            f"of shape {shape}; it must have the input's shape (or broadcast from it)"
        )
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


class Function:
    """One differentiable op: ``forward`` and ``backward`` on plain arrays, side by side.

    Subclasses implement::

        def forward(self, *arrays) -> array          # or a tuple of arrays: several outputs
        def backward(self, *grad_outputs) -> tuple   # one gradient (or None) per input

    and are called with tensors (or numbers): ``y = MyOp(param=...)(x, w)``; a forward that returns
    a tuple gives a tuple of tensors, and its backward receives one gradient per output (zeros for
    an output that got none; None for an integer output, which carries no gradient).
    ``self.xp`` is the array module of the inputs, so the same code runs on NumPy and CuPy;
    ``self.needs_input_grad[i]`` says whether backward must compute input i's gradient.

    What backward needs is said explicitly: ``self.save_for_backward(x, y)`` in forward,
    ``x, y = self.saved_tensors`` in backward. Saved arrays that are an input's or output's
    ``.data`` are protected while the graph lives (read-only, version-checked: see the module
    docstring), and :meth:`release` frees exactly them (plus the links to the inputs) once backward
    has run. Parameters set in ``__init__`` and small values set in forward (shapes, axes) stay;
    an array kept on ``self`` instead still works, but is neither protected nor freed.
    A Function object is used once.
    """

    inputs: tuple[Tensor, ...] | None = None  # while the graph lives
    needs_input_grad: tuple[bool, ...] = ()  # per input: does backward need its gradient?
    differentiable: bool = True  # False for ops such as argmax or comparisons
    op_name: str | None = None  # the name in messages; default: the class name without "Function"
    _saved: tuple | None = ()

    def __call__(self, *inputs: Any) -> Any:
        name = _op_name(self)
        tensors = _lift_inputs(inputs, name)
        device = backend.check_same_device(*[t.data for t in tensors], op=name)
        self.xp = backend.xp_for(device)
        ys = self.forward(*[t.data for t in tensors])
        several = isinstance(ys, tuple)
        outs = tuple(Tensor(y) for y in (ys if several else (ys,)))
        if _grad_enabled and self.differentiable and any(t.requires_grad for t in tensors):
            if not any(is_float(o.dtype) for o in outs):
                dtypes = ", ".join(str(o.dtype) for o in outs)
                raise TypeError(f"{name}: produced dtype {dtypes}, which cannot carry a gradient")
            self.inputs = tuple(tensors)
            self.needs_input_grad = tuple(t.requires_grad for t in tensors)
            self._out_meta = tuple((o.data.shape, o.dtype) for o in outs)
            self._out_index = {id(o): i for i, o in enumerate(outs)}
            what = [f"output {i}" for i in range(len(outs))] if several else ["output"]
            self._held = _hold(
                self,
                [(t.data, f"input {i}") for i, t in enumerate(tensors)]
                + [(o.data, w) for o, w in zip(outs, what)],
            )
            for o in outs:
                if is_float(o.dtype):  # integer outputs (max-pool's indices) stay constants
                    o.requires_grad = True
                    o.creator = self
        else:
            self.release()
        return outs if several else outs[0]

    def _must_define(self, *arrays: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define forward and backward")

    # each op defines forward(self, x, ...) and backward(self, gy, ...) with its own arguments;
    # typed as "any callable" here so that a type checker accepts every signature (as PyTorch)
    forward: Callable[..., Any] = _must_define
    backward: Callable[..., Any] = _must_define

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep ``arrays`` (None allowed) for backward, where :attr:`saved_tensors` returns them."""
        self._saved = arrays

    @property
    def saved_tensors(self) -> tuple:
        """What forward passed to :meth:`save_for_backward` (arrays), in that order."""
        if self._saved is None:
            raise RuntimeError(
                f"{_op_name(self)}: its saved arrays were freed (the graph was "
                "released by backward(); use backward(retain_graph=True))"
            )
        return self._saved

    def _fill_missing(self, gys: list[Any]) -> list[Any]:
        """One gradient per output: zeros for a float output that received none."""
        return [
            g if g is not None or not is_float(dt) else self.xp.zeros(shape, dtype=dt)
            for g, (shape, dt) in zip(gys, self._out_meta)
        ]

    def release(self) -> None:
        """Drop the inputs and the saved arrays (after backward); keep the parameters.

        Arrays made read-only for this node become writeable again once no live node holds them.
        """
        held = self.__dict__.pop("_held", None)
        if held:
            _drop(held)
        self._saved = None
        self.inputs = None

    def __del__(self) -> None:
        # a graph dropped without backward(): give its saved arrays back
        held = self.__dict__.get("_held")
        if held:
            with contextlib.suppress(Exception):  # interpreter shutdown: modules may be gone
                _drop(held)


def _lift_inputs(inputs: Sequence[Any], op: str) -> list[Tensor]:
    """Turn numbers/arrays among an op's inputs into tensors matching the first tensor input."""
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    floats = [x for x in tensors if is_float(x.dtype)]
    ref = floats[0] if floats else (tensors[0] if tensors else None)  # numbers take its dtype
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            out.append(x)
        elif isinstance(x, (bool, int, float)) and ref is not None:
            dtype = (
                ref.dtype
                if is_float(ref.dtype)
                else (DEFAULT_FLOAT if isinstance(x, float) else None)
            )
            out.append(Tensor(ref.xp.asarray(x, dtype=dtype)))
        else:
            if hasattr(x, "shape") and ref is not None and backend.device_of(x) != ref.device:
                backend.check_same_device(ref.data, x, op=op)
            out.append(Tensor(x))
    return out


def as_tensor(x: Any, dtype: Any = None, device: str | None = None) -> Tensor:
    """``x`` itself if it is a Tensor (of ``dtype`` / on ``device`` when given), else ``x`` wrapped
    without a copy where possible, as ``torch.as_tensor`` (a NumPy array's memory is shared)."""
    if isinstance(x, Tensor):
        return x if dtype is None and device is None else x.to(device, dtype)
    return Tensor(x, dtype=dtype, device=device)


# The import cycle's rule: functional builds on this module (its ops subclass Function and return
# Tensors), and Tensor's operators and methods delegate to functional. So this module imports
# functional once, here at the bottom, after Tensor and Function exist; the methods look ``_F`` up
# when they are called. No other module imports upward, and nothing is patched onto Tensor.
from . import functional as _F  # noqa: E402
