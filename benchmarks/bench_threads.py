"""Where does a second CPU thread help? One thread against two, for the pieces of a training step.

    python benchmarks/bench_threads.py                 # 5 rounds, the pieces taking turns
    python benchmarks/bench_threads.py --rounds 9 --no-torch

Issue 17 asks for the U-Net step within 1.5x of PyTorch's time with two threads. NumPy runs its
GEMMs on OpenBLAS's threads; every other array operation (im2col and row copies, batch norm,
ReLU, the loss, Adam) runs on one thread. This script measures how much a second thread can give
each kind of work on this machine:

* ``matmul``: NumPy's float32 1024x1024 matmul, OpenBLAS with 1 and with 2 threads (GFLOP/s).
* ``elementwise``: the batch-norm + ReLU arithmetic on the U-Net's largest activation
  (8x16x64x64 float32: ``y = x * scale + shift``, ``max(y, 0)``, three passes), on one thread and
  split by batch halves over two Python threads (NumPy releases the GIL inside its loops). If the
  two-thread time is no better, that work is limited by memory bandwidth, not by the core count.
* ``U-Net step``: ``bench_unet_step.py``'s CPU preset with 1 and 2 BLAS threads (PyTorch too, with
  1 and 2 threads, if it imports), with the process's CPU time per step: a CPU/wall ratio near 2
  while only part of the step is parallel means the idle BLAS thread spins.

Every figure is measured in its own process (``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` set
for it), the variants taking turns for ``--rounds`` rounds so that a slow phase of a shared
machine hits all of them; the table shows each variant's best round and the spread of the
per-round speed-ups. Like the other benchmarks it runs the CPU's own GEMM kernel
(``timing.native_blas``) and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from timing import blas_kernel, native_blas

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPE = (8, 16, 64, 64)  # the U-Net preset's largest activation (first level, base width 16)


def best_of(fn: Callable[[], object], repeats: int = 20) -> float:
    """Median seconds of ``fn`` over ``repeats`` runs after two warm-up runs."""
    fn()
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def matmul_gflops() -> float:
    a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    c = np.empty_like(a)
    return 2 * 1024**3 / best_of(lambda: np.matmul(a, a, out=c)) / 1e9


def elementwise_ms(threads: int) -> float:
    """y = max(x * scale + shift, 0) per channel: batch norm's affine part and the ReLU."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE, dtype=np.float32)
    scale = rng.random((1, SHAPE[1], 1, 1), dtype=np.float32)
    shift = rng.random((1, SHAPE[1], 1, 1), dtype=np.float32)
    y = np.empty_like(x)

    def part(s: slice) -> None:
        np.multiply(x[s], scale, out=y[s])
        np.add(y[s], shift, out=y[s])
        np.maximum(y[s], 0, out=y[s])

    if threads == 1:
        return best_of(lambda: part(slice(None))) * 1e3
    half = SHAPE[0] // 2
    with ThreadPoolExecutor(2) as pool:

        def split() -> None:
            for f in [pool.submit(part, slice(0, half)), pool.submit(part, slice(half, None))]:
                f.result()

        return best_of(split) * 1e3


def worker(kind: str, threads: int) -> dict:
    if kind == "matmul":
        return {"value": matmul_gflops()}
    return {"value": elementwise_ms(threads)}


def run(cmd: list[str], threads: int) -> dict:
    """Run one measurement process; its last output line is a JSON object (or the error)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        lines = r.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit status {r.returncode}"}
    return json.loads(r.stdout.strip().splitlines()[-1])


def measure(kind: str, threads: int, repeats: int) -> float | None:
    """One figure of one variant, in a fresh process with ``threads`` BLAS threads."""
    if kind in ("matmul", "elementwise"):
        got = run([sys.executable, __file__, "--worker", kind, "--threads", str(threads)], threads)
        if "error" in got:
            ERRORS[kind] = got["error"]
            return None
        return got["value"]
    lib = "torch" if kind == "torch step" else "minisegnet"
    cfg = json.dumps(dict(batch=8, size=64, depth=4, width=16, classes=3))
    step = os.path.join(HERE, "bench_unet_step.py")
    cmd = [sys.executable, step, "--only", lib, "--cfg", cfg, "--repeats", str(repeats)]
    got = run(cmd, threads)
    if "error" in got:
        ERRORS[kind] = got["error"]
        return None
    CPU_MS.setdefault((kind, threads), []).append(got["cpu_s"] * 1e3)
    return got["time_s"] * 1e3


CPU_MS: dict[tuple[str, int], list[float]] = {}  # CPU time per step, all threads
ERRORS: dict[str, str] = {}  # why a figure is missing


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="rounds, the variants taking turns")
    p.add_argument("--repeats", type=int, default=7, help="U-Net steps per measurement")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch's step")
    p.add_argument("--worker", choices=("matmul", "elementwise"), help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args()
    native_blas(__file__)
    if args.worker:
        print(json.dumps(worker(args.worker, args.threads)))
        return

    kinds = ["matmul", "elementwise", "minisegnet step"]
    if not args.no_torch:
        try:
            import torch  # noqa: F401

            kinds.append("torch step")
        except ImportError:
            pass
    print(f"one thread against two; {os.cpu_count()} CPUs; BLAS: {blas_kernel()}")
    print(f"best of {args.rounds} rounds, every variant in its own process, taking turns")
    got: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for kind in kinds:
            for threads in (1, 2):
                v = measure(kind, threads, args.repeats)
                if v is not None:
                    got.setdefault((kind, threads), []).append(v)
    units = {"matmul": "GFLOP/s", "elementwise": "ms"}
    print()
    head = f"{'work':<18} {'unit':>8} {'1 thread':>9} {'2 threads':>10} {'speed-up':>9}"
    print(head + "   per round (min-max)")
    print("-" * (len(head) + 22))
    for kind in kinds:
        one, two = got.get((kind, 1)), got.get((kind, 2))
        if not one or not two:
            print(f"{kind:<18} not measured: {ERRORS.get(kind, '?')}")
            continue
        higher_is_better = kind == "matmul"
        b1, b2 = (max(one), max(two)) if higher_is_better else (min(one), min(two))
        per_round = [(b / a if higher_is_better else a / b) for a, b in zip(one, two)]
        up = b2 / b1 if higher_is_better else b1 / b2
        print(
            f"{kind:<18} {units.get(kind, 'ms/step'):>8} {b1:9.2f} {b2:10.2f} {up:8.2f}x"
            f"   {min(per_round):.2f}-{max(per_round):.2f}"
        )
    print()
    for kind in kinds:
        cpu = [CPU_MS.get((kind, t)) for t in (1, 2)]
        if cpu[0] and cpu[1]:
            print(
                f"{kind}: CPU time per step (all threads), median over the rounds: "
                f"{np.median(cpu[0]):.0f} ms with 1 thread, {np.median(cpu[1]):.0f} ms with 2"
            )
    print(
        "speed-up: the 1-thread time over the 2-thread time (for matmul the GFLOP/s ratio); "
        "elementwise with 2 threads = two Python threads, one per half of the batch"
    )


if __name__ == "__main__":
    main()
