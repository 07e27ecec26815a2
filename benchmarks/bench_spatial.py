"""Speed and memory of the spatial primitives (issue 3): prints a table.

    python benchmarks/bench_spatial.py                 # CPU, compares with PyTorch if importable
    python benchmarks/bench_spatial.py --device gpu    # CuPy (synchronised timing, memory pool)
    python benchmarks/bench_spatial.py --repeats 5 --no-torch
    python benchmarks/bench_spatial.py --quick        # two small shapes, batch 2: a smoke test

For every shape: forward and forward+backward time (median of ``--repeats`` runs after untimed
warm-up runs; the wall clock on the CPU, CUDA events on the GPU: see timing.py), GFLOP/s, that
as a fraction of NumPy's own float32 square-matmul GFLOP/s measured in
the same run, PyTorch's time for the same op (optional: PyTorch is never a dependency; install it in
a separate venv to compare) and the ratio ours / torch. Then a breakdown of where the time goes
(the forward path taken -- row-shift GEMMs for stride-1 convolutions with 16x16 outputs or more on
the CPU, else im2col + GEMM --, dx, dW, col2im / splat / scatter) and the tracemalloc peak of
conv2d's forward pass against its output plus that path's scratch buffer.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minisegnet.functional as F
from minisegnet import Tensor, backend
from minisegnet.functional import fast as C
from minisegnet.functional import pool as P

from timing import DeviceTimer, blas_kernel, native_blas, torch_full_float32

N = 8
# (name, H, C_in, C_out, kernel, stride, padding, dilation)
CONVS = [
    ("conv3x3 64x64 3->16", 64, 3, 16, 3, 1, 1, 1),
    ("conv3x3 64x64 16->16", 64, 16, 16, 3, 1, 1, 1),
    ("conv3x3 32x32 16->32", 32, 16, 32, 3, 1, 1, 1),
    ("conv3x3 32x32 32->32", 32, 32, 32, 3, 1, 1, 1),
    ("conv3x3 16x16 32->64", 16, 32, 64, 3, 1, 1, 1),
    ("conv3x3 8x8 64->128", 8, 64, 128, 3, 1, 1, 1),
    ("conv3x3 d=2 32x32 32->32", 32, 32, 32, 3, 1, 2, 2),
]
CONV_T = ("convT k2 s2 32x32 32->16", 32, 32, 16, 2, 2, 0, 1)
POOL = ("8x16x64x64", (8, 16, 64, 64))


class NullTimer:
    """Times nothing (the torch-only child process skips minisegnet's timings)."""

    last_min = 0.0

    def __call__(self, fn: Callable[[], Any]) -> float:
        return 0.0


Timer = DeviceTimer  # the wall clock on the CPU, CUDA events on the GPU


def torch_in_child(args: argparse.Namespace) -> tuple[dict, str]:
    """PyTorch's timings, measured in a separate process: two threading runtimes (OpenBLAS's and
    torch's OpenMP pool) in one process spin against each other and distort both sides."""
    if args.no_torch or importlib.util.find_spec("torch") is None:
        return {}, "(not installed)" if not args.no_torch else "(skipped)"
    cmd = (
        [
            sys.executable,
            os.path.abspath(__file__),
            "--torch-only",
            "--device",
            args.device,
            "--repeats",
            str(args.repeats),
        ]
        + (["--threads", str(args.threads)] if args.threads else [])
        + (["--quick"] if args.quick else [])
    )
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return {}, f"(failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else '?'})"
    out = json.loads(r.stdout.strip().splitlines()[-1])
    return out["rows"], out["version"]


def best_of_rounds(rounds: list[list[dict]], n_grad: int) -> tuple[list[dict], list[dict]]:
    """Each op's best (smallest) median over the rounds, per library, and the f+b ratio of every
    round (``ratios``); the breakdown and memory figures of the first round."""
    best = []
    for rows in zip(*rounds):
        r = dict(rows[0])
        for key in ("fwd", "fb", "fb_min", "t_fwd", "t_fb", "t_fb_min"):
            if all(key in x for x in rows):
                r[key] = min(x[key] for x in rows)
        r["parts"] = {k: min(x["parts"][k] for x in rows) for k in rows[0]["parts"]}
        r["ratios"] = [x["fb"] / x["t_fb"] for x in rows if "t_fb" in x]
        best.append(r)
    return best[:n_grad], best[n_grad:]


def matmul_gflops(xp: Any, timer: Timer, n: int = 1024) -> float:
    a = xp.asarray(numpy.random.default_rng(0).standard_normal((n, n)), dtype=numpy.float32)
    b = xp.asarray(numpy.random.default_rng(1).standard_normal((n, n)), dtype=numpy.float32)
    t = timer(lambda: a @ b)
    return 2 * n**3 / t / 1e9


def rand(xp: Any, shape: tuple, seed: int, scale: float = 1.0) -> Any:
    return xp.asarray(
        numpy.random.default_rng(seed).standard_normal(shape) * scale, dtype=numpy.float32
    )


def load_torch(enabled: bool, device: str) -> Any:
    if not enabled:
        return None
    try:
        import torch
    except ImportError:
        return None
    if device == "gpu":
        if not torch.cuda.is_available():
            return None
        torch_full_float32(torch)  # like CuPy's default: no TF32 in convolutions and GEMMs
    return torch


def fmt_ms(t: float | None) -> str:
    return "-" if t is None else f"{t * 1e3:8.2f}"


def bench_conv(
    spec: tuple, xp: Any, device: str, timer: Timer, torch: Any, ttimer: Any = None
) -> dict:
    name, h, cin, cout, k, s, p, d = spec
    x = Tensor(rand(xp, (N, cin, h, h), 1), requires_grad=True)
    w = Tensor(rand(xp, (cout, cin, k, k), 2, 0.1), requires_grad=True)
    b = Tensor(rand(xp, (cout,), 3), requires_grad=True)
    y0 = F.conv2d(x, w, b, stride=s, padding=p, dilation=d)
    gy = rand(xp, y0.shape, 4)
    flops = 2.0 * N * cout * y0.shape[2] * y0.shape[3] * cin * k * k

    def fwd():
        return F.conv2d(x, w, b, stride=s, padding=p, dilation=d)

    def fwd_bwd():
        x.grad = w.grad = b.grad = None
        fwd().backward(gy)

    row = dict(
        name=name,
        fwd=timer(fwd),
        fb=timer(fwd_bwd),
        fb_min=timer.last_min,
        flops=flops,
        fb_flops=3 * flops,
    )
    if torch is not None:
        row.update(
            torch_times(
                torch, device, ttimer, "conv2d", x, w, b, gy, dict(stride=s, padding=p, dilation=d)
            )
        )
    # breakdown: the pieces F.conv2d runs, timed one by one
    xd, wd = x.data, w.data
    ho, wo = y0.shape[2:]
    cols = C._im2col(xd, (k, k), (s, s), (p, p), (ho, wo), (d, d), xp)
    keep = C.KEEP_IM2COL or cols.nbytes <= C.KEEP_IM2COL_BYTES  # kept from forward for dW
    rows = not keep and C._takes_rows((s, s), (ho, wo), 1, xp)
    geometry = ((s, s), (p, p), (p, p), (d, d), 1, xp)
    stacked = cout <= C.ROW_SHIFTS_STACK_MAX_COUT and cin * k > C.ROW_SHIFTS_STACK_MIN_K
    label = "fwd: row-shift GEMMs" + (" (rows stacked)" if stacked else "")
    parts = {
        (label if rows else "fwd: im2col + GEMM"): timer(
            lambda: C._WORKSPACE.give(C._conv2d_array(xd, wd, *geometry, keep_cols=keep)[1])
        ),
        "dx (conv_T of dy)": timer(
            lambda: C._conv_transpose2d_array(gy, wd, (s, s), (p, p), (h, h), (d, d), 1, xp)
        ),
    }
    if rows:
        parts["dW: row-shift GEMMs"] = timer(
            lambda: C._conv2d_weight_grad_rows(xd, gy, wd.shape, (p, p), (d, d), xp)
        )
    else:
        if not keep:
            parts["dW: im2col"] = timer(
                lambda: C._im2col(xd, (k, k), (s, s), (p, p), (ho, wo), (d, d), xp)
            )
        parts["dW GEMM" + (" (im2col kept)" if keep else "")] = timer(
            lambda: C._conv2d_weight_grad(cols, gy, wd.shape, 1, xp)
        )
    parts["db sum"] = timer(lambda: gy.sum(axis=(0, 2, 3)))
    row["parts"] = parts
    # the forward's scratch: the kW-times row copy and one partial output (the kH stacked
    # products when the rows are stacked), or the im2col matrix
    out_bytes = y0.data.nbytes
    x3_bytes = N * cin * k * (h + 2 * p) * wo * 4
    products = k * cout * N * (h + 2 * p) * wo * 4 if stacked else out_bytes
    scratch = x3_bytes + products if rows else cols.nbytes
    kind = ("rows+kHy" if stacked else "rows+y") if rows else "im2col"
    row["mem"] = (
        conv_memory(x, w, b, s, p, d, scratch, out_bytes, kind) if device == "cpu" else None
    )
    return row


def conv_memory(
    x: Tensor,
    w: Tensor,
    b: Tensor,
    s: int,
    p: int,
    d: int,
    cols_bytes: int,
    out_bytes: int,
    kind: str,
) -> tuple[int, int, int, str]:
    """tracemalloc peak of one conv2d forward, with conv's scratch-buffer workspace emptied first
    so that its scratch buffer (the row copy or the im2col matrix: ``kind``) is a new
    allocation."""
    C._WORKSPACE.clear()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    y = F.conv2d(x, w, b, stride=s, padding=p, dilation=d)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del y
    return peak, out_bytes, cols_bytes, kind


def torch_times(
    torch: Any,
    device: str,
    timer: Timer,
    op: str,
    x: Tensor,
    w: Tensor,
    b: Tensor,
    gy: Any,
    kwargs: dict,
) -> dict:
    dev = "cuda" if device == "gpu" else "cpu"
    xt = torch.tensor(backend.asnumpy(x.data), device=dev, requires_grad=True)
    wt = torch.tensor(backend.asnumpy(w.data), device=dev, requires_grad=True)
    bt = torch.tensor(backend.asnumpy(b.data), device=dev, requires_grad=True)
    gt = torch.tensor(backend.asnumpy(gy), device=dev)
    fn = getattr(torch.nn.functional, op)

    def fwd():  # the timer waits for the device (CUDA events)
        return fn(xt, wt, bt, **kwargs)

    def fwd_bwd():
        xt.grad = wt.grad = bt.grad = None
        fn(xt, wt, bt, **kwargs).backward(gt)

    out = dict(t_fwd=timer(fwd), t_fb=timer(fwd_bwd), t_fb_min=timer.last_min)
    settle()
    return out


def settle() -> None:
    """After torch's BLAS threads ran, an untimed NumPy run (idle threads spin ~0.1 s)."""
    a = numpy.ones((256, 256), dtype=numpy.float32)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.15:
        a @ a


def bench_conv_t(xp: Any, device: str, timer: Timer, torch: Any, ttimer: Any = None) -> dict:
    name, h, cin, cout, k, s, p, d = CONV_T
    x = Tensor(rand(xp, (N, cin, h, h), 5), requires_grad=True)
    w = Tensor(rand(xp, (cin, cout, k, k), 6, 0.1), requires_grad=True)
    b = Tensor(rand(xp, (cout,), 7), requires_grad=True)
    y0 = F.conv_transpose2d(x, w, b, stride=s)
    gy = rand(xp, y0.shape, 8)
    flops = 2.0 * N * cin * h * h * cout * k * k

    def fwd():
        return F.conv_transpose2d(x, w, b, stride=s)

    def fwd_bwd():
        x.grad = w.grad = b.grad = None
        fwd().backward(gy)

    row = dict(
        name=name,
        fwd=timer(fwd),
        fb=timer(fwd_bwd),
        fb_min=timer.last_min,
        flops=flops,
        fb_flops=3 * flops,
    )
    if torch is not None:
        row.update(
            torch_times(torch, device, ttimer, "conv_transpose2d", x, w, b, gy, dict(stride=s))
        )
    xd, wd = x.data, w.data
    w2 = wd.reshape(cin, cout * k * k).T
    x2 = xd.reshape(N, cin, h * h)
    gemm = timer(lambda: xp.matmul(w2, x2))
    whole = timer(
        lambda: C._conv_transpose2d_array(xd, wd, (s, s), (p, p), (h * s, h * s), (d, d), 1, xp)
    )
    cols = C._im2col(gy, (k, k), (s, s), (p, p), (h, h), (d, d), xp)
    row["parts"] = {
        "GEMM W^T x (all stamps)": gemm,
        "splat (place stamps s apart)": max(whole - gemm, 0.0),
        "bwd: im2col dy": timer(lambda: C._im2col(gy, (k, k), (s, s), (p, p), (h, h), (d, d), xp)),
        "dx GEMM": timer(lambda: C._gemm_nchw(wd.reshape(1, cin, -1), cols, N, (h, h), 1, xp)),
        "dW GEMM": timer(lambda: C._conv2d_weight_grad(cols, xd, wd.shape, 1, xp)),
    }
    return row


def bench_pool(xp: Any, device: str, timer: Timer, torch: Any, ttimer: Any = None) -> list[dict]:
    name, shape = POOL
    vals = numpy.random.default_rng(9).permutation(int(numpy.prod(shape))).reshape(shape)
    x = Tensor(xp.asarray(vals, dtype=numpy.float32), requires_grad=True)
    y0, idx = F.max_pool2d(x, 2, return_indices=True)
    gy = rand(xp, y0.shape, 10)
    gu = rand(xp, shape, 11)
    v = Tensor(rand(xp, y0.shape, 12), requires_grad=True)

    def pool_fb():
        x.grad = None
        F.max_pool2d(x, 2).backward(gy)

    def unpool_fb():
        v.grad = None
        F.max_unpool2d(v, idx, 2).backward(gu)

    rows = [
        dict(
            name=f"max_pool2d 2x2 {name}",
            fwd=timer(lambda: F.max_pool2d(x, 2, return_indices=True)),
            fb=timer(pool_fb),
            fb_min=timer.last_min,
        ),
        dict(
            name=f"max_unpool2d 2x2 {name}",
            fwd=timer(lambda: F.max_unpool2d(v, idx, 2)),
            fb=timer(unpool_fb),
            fb_min=timer.last_min,
        ),
    ]
    if torch is not None:
        dev = "cuda" if device == "gpu" else "cpu"
        tf = torch.nn.functional
        xt = torch.tensor(backend.asnumpy(x.data), device=dev, requires_grad=True)
        yt, it = tf.max_pool2d(xt, 2, return_indices=True)
        gyt, gut = (
            torch.tensor(backend.asnumpy(gy), device=dev),
            torch.tensor(backend.asnumpy(gu), device=dev),
        )
        vt = torch.tensor(backend.asnumpy(v.data), device=dev, requires_grad=True)

        def t_pool():
            return tf.max_pool2d(xt, 2, return_indices=True)

        def t_pool_fb():
            xt.grad = None
            tf.max_pool2d(xt, 2).backward(gyt)

        def t_unpool():
            return tf.max_unpool2d(vt, it, 2)

        def t_unpool_fb():
            vt.grad = None
            tf.max_unpool2d(vt, it, 2).backward(gut)

        rows[0].update(t_fwd=ttimer(t_pool), t_fb=ttimer(t_pool_fb), t_fb_min=ttimer.last_min)
        rows[1].update(t_fwd=ttimer(t_unpool), t_fb=ttimer(t_unpool_fb), t_fb_min=ttimer.last_min)
        settle()
    fn = C.FastMaxPool2dFunction((2, 2), (2, 2), (0, 0))
    fn.xp = xp
    _, pool_idx = fn.forward(x.data)
    rows[0]["parts"] = {
        "forward (4 strided compares)": timer(lambda: fn.forward(x.data)),
        "backward (scatter = unpool of dy)": timer(
            lambda: P._unpool_array(gy, pool_idx, shape[2:], xp)
        ),
    }
    rows[1]["parts"] = {
        "scatter out[rows, idx] = x": timer(
            lambda: P._unpool_array(v.data, idx.data, shape[2:], xp)
        ),
        "gather (backward)": timer(lambda: P._gather_array(gu, idx.data, xp)),
    }
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--device", choices=backend.DEVICES, default="cpu")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    ap.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measure both libraries this many times, taking turns, and keep each one's\n"
        "best median (a slow phase of a shared machine then hits both)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test: batch 2, two conv shapes, small pools (gpu_check.sh --dry-run)",
    )
    ap.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS / torch threads (default: the libraries' own choice); on a machine\n"
        "shared with other work, --threads 1 gives stable, comparable figures",
    )
    args = ap.parse_args(argv)
    native_blas(__file__)  # the CPU's own GEMM kernel, as users get it (see timing.BLAS_GUARDS)
    if args.threads and os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        # BLAS reads its thread count when NumPy is imported: start again with it set
        env = dict(
            os.environ,
            **{
                k: str(args.threads)
                for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
            },
        )
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)
    if args.quick:
        args.rounds = 1
        global N, CONVS, POOL
        N, CONVS, POOL = 2, [CONVS[1], CONVS[3]], ("2x4x16x16", (2, 4, 16, 16))
    device = args.device
    xp = backend.xp_for(device)
    timer = Timer(device, args.repeats)
    if args.torch_only:  # child process: torch's side of every row, as JSON
        torch = load_torch(True, device)
        if torch is None:  # PyTorch without CUDA: no comparison on the GPU
            print(json.dumps({"version": "(sees no GPU)", "rows": {}}))
            return
        if args.threads:
            torch.set_num_threads(args.threads)
        null = NullTimer()
        timer = Timer(device, args.repeats, library="torch")
        rows = [bench_conv(spec, xp, device, null, torch, timer) for spec in CONVS]
        rows += [bench_conv_t(xp, device, null, torch, timer)] + bench_pool(
            xp, device, null, torch, timer
        )
        keep = ("t_fwd", "t_fb", "t_fb_min")
        print(
            json.dumps(
                {
                    "version": f"{torch.__version__} threads={torch.get_num_threads()}",
                    "rows": {r["name"]: {k: r[k] for k in keep if k in r} for r in rows},
                }
            )
        )
        return

    clock = "CUDA events" if device == "gpu" else "wall clock"
    print(
        f"minisegnet spatial benchmark  device={device}  batch={N}  repeats={args.repeats} "
        "(median, "
        f"{clock})"
    )
    peak_start = matmul_gflops(xp, timer)
    rounds = []  # the libraries take turns, so that a slow phase of the machine hits both
    for _ in range(args.rounds):
        ours = [bench_conv(spec, xp, device, timer, None) for spec in CONVS]
        ours += [bench_conv_t(xp, device, timer, None)] + bench_pool(xp, device, timer, None)
        torch_rows, torch_version = torch_in_child(args)
        for r in ours:
            r.update(torch_rows.get(r["name"], {}))
        rounds.append(ours)
    peak_end = matmul_gflops(xp, timer)
    with_grad_rows, pool_rows = best_of_rounds(rounds, len(CONVS) + 1)
    print(
        f"python {platform.python_version()}  numpy {numpy.__version__}  cores={os.cpu_count()}  "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(default)')}  "
        f"torch {torch_version} (timed in its own process)"
    )
    print(f"BLAS: {blas_kernel()}")
    if device == "gpu":
        print(
            f"device: {backend.device_name(device)}  "
            f"CUPY_TF32={os.environ.get('CUPY_TF32', '(unset: off)')}"
        )
    peak = max(peak_start, peak_end)  # the machine's speed when it was least disturbed
    print(
        f"float32 1024x1024 matmul: {peak:.1f} GFLOP/s (the reference for '% mm'; measured "
        f"{peak_start:.1f} at the start and {peak_end:.1f} at the end of the run: a large "
        "difference means the machine was busy)\n"
    )

    head = (
        f"{f'op / shape (batch {N})':32s} {'fwd ms':>8s} {'f+b ms':>8s} {'(min)':>8s} "
        f"{'GFLOP/s':>8s}"
        f" {'% mm':>6s} {'torch fwd':>9s} {'torch f+b':>9s} {'(min)':>8s} {'ours/torch':>10s}"
    )
    print(head)
    print("-" * len(head))
    for r in with_grad_rows + pool_rows:
        gf = r["fb_flops"] / r["fb"] / 1e9 if "fb_flops" in r else None
        ratio = f"{r['fb'] / r['t_fb']:10.2f}" if "t_fb" in r else f"{'-':>10s}"
        print(
            f"{r['name']:32s} {fmt_ms(r['fwd'])} {fmt_ms(r['fb'])} {fmt_ms(r['fb_min'])} "
            f"{'-' if gf is None else f'{gf:8.1f}':>8s} "
            f"{'-' if gf is None else f'{100 * gf / peak:5.0f}%':>6s} "
            f"{fmt_ms(r.get('t_fwd')):>9s} {fmt_ms(r.get('t_fb')):>9s} "
            f"{fmt_ms(r.get('t_fb_min')):>8s} {ratio}"
        )
    print(
        "GFLOP/s and % mm: forward+backward (3x the forward FLOPs: dx, dW) over the median time; "
        "'ours/torch': median f+b ratio; (min): fastest run"
    )
    if args.rounds > 1:
        print(
            f"times: each library's best median over {args.rounds} rounds, the libraries taking "
            "turns; the f+b ratio in each round:"
        )
        for r in with_grad_rows + pool_rows:
            if r["ratios"]:
                print(f"  {r['name']:30s} " + " ".join(f"{v:5.2f}" for v in r["ratios"]))

    print("\nwhere the time goes (ms, each piece timed alone)")
    for r in with_grad_rows + pool_rows:
        parts = "  ".join(f"{k} {v * 1e3:.2f}" for k, v in r["parts"].items())
        print(f"  {r['name']:30s} {parts}")

    if device == "cpu":
        print(
            "\nconv2d forward memory (tracemalloc peak vs output + the path's scratch buffers: "
            "rows+y = the row copy and one partial output, rows+kHy = the row copy and the kH "
            "stacked products, im2col = the im2col matrix; workspace emptied first)"
        )
        for r in with_grad_rows:
            if r.get("mem"):
                pk, out, cols, kind = r["mem"]
                print(
                    f"  {r['name']:30s} peak {pk / 1e6:6.2f} MB   output {out / 1e6:5.2f} MB + "
                    f"{kind:8s} {cols / 1e6:6.2f} MB = {(out + cols) / 1e6:6.2f} MB   "
                    f"ratio {pk / (out + cols):.2f}"
                )
    else:
        pool = xp.get_default_memory_pool()
        print(
            f"\ncupy memory pool: used {pool.used_bytes() / 1e6:.1f} MB, held "
            f"{pool.total_bytes() / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
