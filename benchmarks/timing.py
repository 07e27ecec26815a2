"""The benchmarks' shared clock: wall time on the CPU, CUDA events on the GPU.

    from timing import DeviceTimer            # (the benchmarks run as scripts from benchmarks/)
    timer = DeviceTimer("gpu", repeats=15)    # library="torch" for PyTorch's CUDA work
    median_s = timer(step)                    # timer.last_times: every run, timer.last_min: fastest

On the CPU every run is timed with ``time.perf_counter``. On the GPU work is queued and runs
later, so a host clock read around ``synchronize`` also times the synchronisation call itself;
instead each run is bracketed by two CUDA events recorded on the current stream
(``cupy.cuda.Event`` for minisegnet, ``torch.cuda.Event`` for PyTorch), the end event is waited
for, and the time between the two events is the device's own measurement (``elapsed_time``,
resolution about half a microsecond). The stream is idle when the start event is recorded (the
previous run was waited for), so the figure includes the host's time to launch the run's kernels:
a step's real cost, Python overhead and all.
"""

from __future__ import annotations

import glob
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = [
    "DeviceTimer",
    "event_clock",
    "torch_full_float32",
    "native_blas",
    "blas_kernel",
    "BLAS_GUARDS",
]

# Some machines set these for old OpenBLAS builds; they force a slower kernel (AVX2 "Haswell"
# instead of the CPU's own, e.g. AVX-512 "SkylakeX") while PyTorch (oneDNN) picks its own
# either way.
BLAS_GUARDS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def native_blas(script: str) -> None:
    """Run this benchmark with the CPU's own BLAS kernel: if a guard variable is set, start the
    script again without it (for this command only; tests and CI keep the environment).

    Call it first thing in ``main()``: OpenBLAS reads the variables when NumPy is imported, so the
    process must start over. ``MINISEGNET_KEEP_BLAS_ENV=1`` keeps them (to measure the forced
    kernel on purpose)."""
    if os.environ.get("MINISEGNET_KEEP_BLAS_ENV") or not any(v in os.environ for v in BLAS_GUARDS):
        return
    env = {k: v for k, v in os.environ.items() if k not in BLAS_GUARDS}
    env["MINISEGNET_BLAS_UNSET"] = " ".join(
        f"{v}={os.environ[v]}" for v in BLAS_GUARDS if v in os.environ
    )
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, os.path.abspath(script)] + sys.argv[1:], env)


def blas_kernel() -> str:
    """Which BLAS and kernel NumPy runs, e.g. ``"openblas 0.3.31 kernel SkylakeX"`` (threadpoolctl
    when installed, else OpenBLAS's own ``get_corename``), and which guard variables were unset."""
    import numpy  # loads the BLAS library (threadpoolctl only sees libraries already loaded)

    kernel = "unknown"
    try:
        import threadpoolctl

        for info in threadpoolctl.threadpool_info():
            if info.get("user_api") == "blas":
                kernel = (
                    f"{info.get('internal_api')} {info.get('version')} kernel "
                    f"{info.get('architecture')} threads {info.get('num_threads')}"
                )
                break
    except ImportError:
        import ctypes

        here = os.path.dirname(numpy.__file__)
        for path in glob.glob(os.path.join(here, "..", "numpy.libs", "*openblas*")) + glob.glob(
            os.path.join(here, ".dylibs", "*openblas*")
        ):
            lib = ctypes.CDLL(path)
            for name in (
                "scipy_openblas_get_corename64_",
                "scipy_openblas_get_corename",
                "openblas_get_corename64_",
                "openblas_get_corename",
            ):
                if hasattr(lib, name):
                    fn = getattr(lib, name)
                    fn.restype = ctypes.c_char_p
                    kernel = f"openblas kernel {fn().decode()}"
                    break
            if kernel != "unknown":
                break
    unset = os.environ.get("MINISEGNET_BLAS_UNSET")
    forced = [f"{v}={os.environ[v]}" for v in BLAS_GUARDS if v in os.environ]
    if unset:
        kernel += f" (unset for this run: {unset})"
    elif forced:
        kernel += f" (forced by {' '.join(forced)}: MINISEGNET_KEEP_BLAS_ENV is set)"
    return kernel


def event_clock(
    device: str, library: str = "minisegnet"
) -> tuple[Callable[[], Any], Callable[[Any, Any], float]] | None:
    """``(new_event, seconds_between)`` for timing on ``device`` with ``library``'s CUDA events,
    or ``None`` on the CPU (use the wall clock)."""
    if device == "cpu":
        return None
    if library == "torch":
        import torch  # optional: for the comparison only

        return (
            lambda: torch.cuda.Event(enable_timing=True),
            lambda start, end: start.elapsed_time(end) / 1e3,
        )
    from minisegnet import backend

    cupy = backend.xp_for("gpu")  # the CuPy minisegnet uses (the stand-in in a dry run)
    return cupy.cuda.Event, lambda start, end: cupy.cuda.get_elapsed_time(start, end) / 1e3


class DeviceTimer:
    """Median time of a function over ``repeats`` runs after ``warmup`` untimed ones.

    ``library``: whose CUDA events to record on the GPU (``"minisegnet"``: CuPy's, ``"torch"``:
    PyTorch's); ignored on the CPU.
    """

    def __init__(self, device: str, repeats: int, warmup: int = 2, library: str = "minisegnet"):
        self.device, self.repeats, self.warmup = device, repeats, warmup
        self.clock = event_clock(device, library)
        self.last_min = 0.0  # the fastest run of the last call (shows the noise)
        self.last_times: list[float] = []

    def __call__(self, fn: Callable[[], Any]) -> float:
        for _ in range(self.warmup):  # untimed: caches, allocator, kernel compilation
            fn()
        if self.clock is not None:  # let the warm-up runs finish first
            done = self.clock[0]()
            done.record()
            done.synchronize()
        times = [self.once(fn) for _ in range(self.repeats)]
        self.last_times, self.last_min = times, min(times)
        return float(statistics.median(times))

    def once(self, fn: Callable[[], Any]) -> float:
        """Seconds of one run of ``fn`` (waits for the device to finish it)."""
        if self.clock is None:
            t0 = time.perf_counter()
            fn()
            return time.perf_counter() - t0
        new_event, seconds = self.clock
        start, end = new_event(), new_event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        return seconds(start, end)


def torch_full_float32(torch: Any) -> str:
    """Make PyTorch's CUDA float32 convolutions and matrix products full precision, as CuPy's are
    by default (PyTorch lets cuDNN use TF32 for convolutions unless told not to, which would
    compare 10-bit-mantissa arithmetic with ours). Returns a line saying what is set."""
    import warnings

    with warnings.catch_warnings():  # newer PyTorch prefers fp32_precision; the flags still work
        warnings.simplefilter("ignore")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        return (
            f"torch TF32: matmul {torch.backends.cuda.matmul.allow_tf32}, "
            f"cudnn {torch.backends.cudnn.allow_tf32}"
        )
