"""Where a spatial-op test runs: every backend present x both implementations (teaching, fast).

``@pytest.mark.parametrize("where", WHERE)`` gives ``"cpu/teaching"``, ``"fake/fast"``,
``"cuda/fast"``...; ``with running_on(where) as device:`` makes that backend and path current for
the block (fake CuPy from tests/fake_cupy.py for ``fake``, the real GPU for ``cuda``) and yields
the device name to create tensors on. ``BACKENDS``: the same for ops with one implementation.
Plain parameters, not fixtures, so they combine with hypothesis's ``@given`` (which refuses
function-scoped fixtures).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

import minisegnet.functional as F
from minisegnet.functional import fast

import fake_cupy
from conftest import GPU_SKIP_REASON

_CUDA = [
    pytest.mark.gpu,
    pytest.mark.skipif(GPU_SKIP_REASON is not None, reason=f"no GPU: {GPU_SKIP_REASON}"),
]
WHERE = [
    pytest.param(f"{b}/{p}", marks=_CUDA if b == "cuda" else [])
    for b in ("cpu", "fake", "cuda")
    for p in ("teaching", "fast")
]
# ops with one implementation (average pools, unpool): every backend, one path
BACKENDS = [w for w in WHERE if w.values[0].endswith("/teaching")]


@contextlib.contextmanager
def running_on(where: str) -> Iterator[str]:
    """Install the backend and the implementation named by ``where``; yield the device name."""
    backend, path = where.split("/")
    with pytest.MonkeyPatch.context() as mp, F.fast_path(path == "fast"):
        # the fast path's row-shift convolution starts at 16x16 outputs and small im2col matrices
        # are kept for dW; test shapes are small: on the CPU every stride-1 conv takes the row
        # shifts and dW rebuilds its matrix here, on fake CuPy im2col is kept (all are tested)
        mp.setattr(fast, "ROW_SHIFTS_MIN_PIXELS", 1)
        if backend == "cpu":  # (and the kernel rows stacked: the per-row GEMMs have their test)
            mp.setattr(fast, "KEEP_IM2COL_BYTES", 0)
            mp.setattr(fast, "ROW_SHIFTS_STACK_MIN_K", 0)
        if backend == "fake":
            fake_cupy.install(mp)
        yield "cpu" if backend == "cpu" else "gpu"
