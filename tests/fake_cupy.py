"""A stand-in for CuPy, backed by NumPy, to test the GPU code path's device discipline on the CPU.

``FakeGpuArray`` is a NumPy subclass that plays the role of ``cupy.ndarray``: like real CuPy it
refuses to mix with plain NumPy arrays in ufuncs and array functions (``TypeError``), so any engine
code that builds an array with ``numpy.`` instead of the inputs' array module fails loudly under
it. ``install(monkeypatch)`` swaps it into :mod:`minisegnet.backend` for one test.

What it checks: that every op, loss, optimizer and model keeps "gpu" data on the "gpu" and takes
its array module from its inputs. What it cannot check: CuPy API gaps, kernels or speed -- those
need a real GPU (the ``gpu``-marked tests). Its ``cuda.Event`` / ``cuda.get_elapsed_time`` read
the host clock and ``getDeviceProperties`` names it, so the benchmarks and
``benchmarks/gpu_check.sh --dry-run`` (which installs it in every process through
``benchmarks/fake_gpu/sitecustomize.py``) run unchanged on it.

Like a real GPU (or another CPU's BLAS), it sums matrix products in another order: ``matmul``
adds the two halves of the inner axis separately. So every CPU-vs-"gpu" comparison meets a
different rounding on every machine, and a tolerance too tight for that fails here, not only on
someone else's computer.
"""

from __future__ import annotations

import time
import types

import numpy as np


class FakeGpuArray(np.ndarray):
    """An ndarray that pretends to live on the GPU."""

    def get(self) -> np.ndarray:
        """Copy to the host, like ``cupy.ndarray.get``."""
        return np.array(self.view(np.ndarray))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _refuse_host_arrays(ufunc.__name__, inputs)
        plain = tuple(_host_view(x) for x in inputs)
        if ufunc is np.matmul and method == "__call__" and not kwargs:
            return _wrap(_matmul_in_halves(*plain))
        if "out" in kwargs:
            kwargs["out"] = tuple(_host_view(x) for x in kwargs["out"])
        result = getattr(ufunc, method)(*plain, **kwargs)
        return _wrap(result)

    def __array_function__(self, func, types_, args, kwargs):
        _refuse_host_arrays(func.__name__, list(args) + list(kwargs.values()))
        result = func(*_unwrap(args), **_unwrap(kwargs))
        return _wrap(result)

    def __getitem__(self, index):
        return _wrap(super().__getitem__(_unwrap(index)))

    def __iter__(self):  # iterating yields gpu arrays / python scalars
        for i in range(len(self)):
            yield self[i]


def _matmul_in_halves(a, b):
    """a @ b with the inner axis summed as (second half) + (first half): another summation order."""
    a, b = np.asarray(a), np.asarray(b)
    k = a.shape[-1]
    if a.ndim < 2 or b.ndim < 2 or k < 2:
        return np.matmul(a, b)
    h = k // 2
    return np.matmul(a[..., h:], b[..., h:, :]) + np.matmul(a[..., :h], b[..., :h, :])


def _flatten(items):
    for x in items:
        if isinstance(x, (list, tuple)):
            yield from _flatten(x)
        else:
            yield x


def _refuse_host_arrays(name, items):
    for x in _flatten(items):
        if isinstance(x, np.ndarray) and not isinstance(x, FakeGpuArray) and x.ndim > 0:
            raise TypeError(
                f"fake cupy: {name} got a host numpy array of shape {x.shape} mixed "
                "with gpu arrays (real CuPy refuses this too)"
            )


def _host_view(x):
    return x.view(np.ndarray) if isinstance(x, FakeGpuArray) else x


def _unwrap(obj):
    if isinstance(obj, FakeGpuArray):
        return obj.view(np.ndarray)
    if isinstance(obj, tuple):
        return tuple(_unwrap(o) for o in obj)
    if isinstance(obj, list):
        return [_unwrap(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    return obj


def _wrap(obj):
    if isinstance(obj, np.generic):  # CuPy returns 0-d device arrays, never host scalars
        return np.asarray(obj).view(FakeGpuArray)
    if isinstance(obj, np.ndarray) and not isinstance(obj, FakeGpuArray):
        return obj.view(FakeGpuArray)
    if isinstance(obj, tuple):
        return tuple(_wrap(o) for o in obj)
    if isinstance(obj, list):
        return [_wrap(o) for o in obj]
    return obj


# NumPy's public top-level names that CuPy 14.2 does not have (dir(numpy) - dir(cupy), NumPy 2.4):
# the fake refuses them too, so engine code that would break on a real GPU breaks here first
NOT_IN_CUPY = frozenset(
    [
        "False_",
        "ScalarType",
        "True_",
        "asmatrix",
        "block",
        "bmat",
        "busday_count",
        "busday_offset",
        "busdaycalendar",
        "bytes_",
        "char",
        "character",
        "clongdouble",
        "complex256",
        "core",
        "ctypeslib",
        "datetime64",
        "datetime_as_string",
        "datetime_data",
        "dtypes",
        "einsum_path",
        "emath",
        "errstate",
        "f2py",
        "flexible",
        "float128",
        "frompyfunc",
        "fromregex",
        "geomspace",
        "get_include",
        "getbufsize",
        "geterr",
        "geterrcall",
        "histogram_bin_edges",
        "info",
        "insert",
        "is_busday",
        "isnat",
        "little_endian",
        "longdouble",
        "ma",
        "matrix",
        "matvec",
        "memmap",
        "nanpercentile",
        "nanquantile",
        "ndenumerate",
        "nditer",
        "nested_iters",
        "object_",
        "polyder",
        "polydiv",
        "polyint",
        "rec",
        "recarray",
        "record",
        "sctypeDict",
        "setbufsize",
        "seterr",
        "seterrcall",
        "show_runtime",
        "spacing",
        "str_",
        "strings",
        "test",
        "timedelta64",
        "typecodes",
        "unstack",
        "vecdot",
        "vecmat",
        "void",
    ]
)


class _Module(types.ModuleType):
    """Wraps a NumPy (sub)module so that every array it returns is a FakeGpuArray."""

    def __init__(self, name, target):
        super().__init__(name)
        self._target = target

    def __getattr__(self, name):
        if self.__name__ == "cupy" and name in NOT_IN_CUPY:
            raise AttributeError(
                f"fake cupy: CuPy has no cupy.{name} (NumPy has; use another "
                "function, or the host copy)"
            )
        attr = getattr(self._target, name)
        if isinstance(attr, types.ModuleType):
            return _Module(f"{self.__name__}.{name}", attr)
        if isinstance(attr, (type, np.ufunc)) or not callable(attr):
            return attr

        def call(*args, **kwargs):
            if name in ("asarray", "array", "ascontiguousarray"):
                return _wrap(attr(*_unwrap(args), **_unwrap(kwargs)))
            _refuse_host_arrays(name, list(args) + list(kwargs.values()))
            return _wrap(attr(*_unwrap(args), **_unwrap(kwargs)))

        call.__name__ = name
        return call


class _Device:
    """``cupy.cuda.Device()`` (CuPy has no ``get_current_device``: the fake does not either)."""

    id = 0

    def synchronize(self):
        return None


class _Event:
    """``cupy.cuda.Event``: here it records the host clock (the "device" is the CPU)."""

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.time = None

    def record(self, stream=None):
        self.time = time.perf_counter()

    def synchronize(self):
        return None


def _elapsed_ms(start, end):
    """``cupy.cuda.get_elapsed_time``: milliseconds between two recorded events."""
    if start.time is None or end.time is None:
        raise RuntimeError("fake cupy: get_elapsed_time needs two recorded events")
    return 1e3 * (end.time - start.time)


FAKE_NAME = "fake CuPy (tests/fake_cupy.py: NumPy on the CPU)"


def make_fake_cupy():
    fake = _Module("cupy", np)
    fake.ndarray = FakeGpuArray
    fake.asnumpy = lambda a: np.array(_unwrap(a))
    fake.__version__ = f"fake (NumPy {np.__version__})"
    cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(
            getDeviceCount=lambda: 1,
            runtimeGetVersion=lambda: 0,
            driverGetVersion=lambda: 0,
            getDeviceProperties=lambda i: {"name": FAKE_NAME.encode(), "totalGlobalMem": 0},
        ),
        Device=lambda device=None: _Device(),  # cupy.cuda.Device(): the current device
        Event=_Event,
        get_elapsed_time=_elapsed_ms,
    )
    fake.cuda = cuda
    fake.get_default_memory_pool = lambda: types.SimpleNamespace(
        used_bytes=lambda: 0, total_bytes=lambda: 0, free_all_blocks=lambda: None
    )
    return fake


def install(monkeypatch):
    """Make minisegnet.backend believe a GPU (this fake) is present, for one test."""
    from minisegnet import backend

    monkeypatch.setattr(backend, "_cupy", make_fake_cupy())
    return backend
