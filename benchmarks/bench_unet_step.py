"""One U-Net training step (forward, cross entropy, backward, Adam step): time and peak memory.

    python benchmarks/bench_unet_step.py                     # issue 5's CPU config
    python benchmarks/bench_unet_step.py --preset gpu --device gpu   # issue 7's GPU config

Presets: ``cpu`` = batch 8, 3x64x64, depth 4, base width 16, 3 classes (the CPU target: within 2x of
PyTorch's CPU step time and peak memory); ``gpu`` = batch 16, 3x128x128, depth 4, base width 32.

Each framework runs in its own subprocess (so one library's idle BLAS threads cannot distort the
other's timings and peak-memory figures are separate). Time: median of ``--repeats`` steps after
``--warmup`` untimed ones; on the CPU by the wall clock, on the GPU by CUDA events recorded around
each step (CuPy's for minisegnet, PyTorch's for PyTorch; see timing.py). On the GPU PyTorch runs in
full float32 like CuPy (TF32 off for cuDNN convolutions and GEMMs). Memory:
the process's peak resident set size (ru_maxrss) during the steps minus its resident size just
before the first step (model and batch already built), measured the same way
for both; for minisegnet also tracemalloc's peak (NumPy allocations) during one extra, untimed
step on the CPU
(tracemalloc slows every allocation, so it is never on while timing), or the CuPy memory
pool's total on the GPU. NumPy's own float32 matmul throughput is measured in the same run as the
yardstick. PyTorch is optional (never a dependency): its row appears only if ``import torch`` works.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from timing import DeviceTimer, blas_kernel, native_blas, torch_full_float32

PRESETS = {
    "cpu": dict(batch=8, size=64, depth=4, width=16, classes=3),
    "gpu": dict(batch=16, size=128, depth=4, width=32, classes=3),
}


def rss_peak_mb() -> float:
    """The process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mb() -> float:
    """The process's current resident set size."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def numpy_matmul_gflops(n: int = 1024, repeats: int = 5) -> float:
    import numpy as np

    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    c = np.empty_like(a)
    np.matmul(a, b, out=c)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append(time.perf_counter() - t)
    return 2 * n**3 / min(times) / 1e9


def run_minisegnet(cfg: dict, device: str, warmup: int, repeats: int) -> dict:
    import tracemalloc

    import numpy as np

    import minisegnet as ms
    from minisegnet import backend, losses, optim
    from minisegnet.models import UNet

    ms.manual_seed(0)
    model = UNet(3, cfg["classes"], base_width=cfg["width"], depth=cfg["depth"]).to(device)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = ms.Tensor(
        rng.standard_normal((cfg["batch"], 3, cfg["size"], cfg["size"]), dtype=np.float32),
        device=device,
    )
    y = ms.Tensor(
        rng.integers(0, cfg["classes"], (cfg["batch"], cfg["size"], cfg["size"])), device=device
    )

    def step():
        loss = losses.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    rss0 = rss_now_mb()  # before the first step: activations, grads, optimizer state count
    timer = DeviceTimer(device, repeats, warmup)
    cpu0 = time.process_time()
    out = {
        "time_s": timer(step),
        "cpu_s": (time.process_time() - cpu0) / (warmup + repeats),  # all threads, per step
        "min_s": timer.last_min,
        "rss_growth_mb": rss_peak_mb() - rss0,
        "rss_peak_mb": rss_peak_mb(),
    }
    if device == "cpu":  # one more, untimed step under tracemalloc (it slows every allocation)
        tracemalloc.start()
        step()
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    else:
        out.update(backend.memory_info(device))
    out["params"] = int(sum(p.numel() for p in model.parameters()))
    return out


def run_torch(cfg: dict, device: str, warmup: int, repeats: int) -> dict:
    import torch
    from torch import nn

    torch.manual_seed(0)
    dev = "cuda" if device == "gpu" else "cpu"
    if dev == "cuda":
        torch_full_float32(torch)

    def double(cin, cout):
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
        )

    class TorchUNet(nn.Module):  # the same layers as minisegnet.models.UNet(padding="same")
        def __init__(self, cin, classes, width, depth):
            super().__init__()
            w = [width * 2**i for i in range(depth + 1)]
            self.down = nn.ModuleList()
            c = cin
            for i in range(depth):
                self.down.append(double(c, w[i]))
                c = w[i]
            self.bottleneck = double(c, w[depth])
            self.up = nn.ModuleList(
                nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2) for i in reversed(range(depth))
            )
            self.dec = nn.ModuleList(double(2 * w[i], w[i]) for i in reversed(range(depth)))
            self.head = nn.Conv2d(w[0], classes, 1)

        def forward(self, x):
            skips = []
            for block in self.down:
                x = block(x)
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
            x = self.bottleneck(x)
            for up, block, skip in zip(self.up, self.dec, reversed(skips)):
                x = block(torch.cat([skip, up(x)], 1))
            return self.head(x)

    model = TorchUNet(3, cfg["classes"], cfg["width"], cfg["depth"]).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(cfg["batch"], 3, cfg["size"], cfg["size"], device=dev)
    y = torch.randint(0, cfg["classes"], (cfg["batch"], cfg["size"], cfg["size"]), device=dev)

    def step():
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    rss0 = rss_now_mb()  # before the first step: activations, grads, optimizer state count
    for _ in range(warmup):
        step()
    if dev == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    timer = DeviceTimer(device, repeats, warmup=0, library="torch")
    cpu0 = time.process_time()
    out = {
        "time_s": timer(step),
        "cpu_s": (time.process_time() - cpu0) / repeats,  # all threads, per step
        "min_s": timer.last_min,
        "rss_growth_mb": rss_peak_mb() - rss0,
        "rss_peak_mb": rss_peak_mb(),
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    if dev == "cuda":
        out["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    out["params"] = int(sum(p.numel() for p in model.parameters()))
    return out


def child(args: argparse.Namespace) -> None:
    cfg = json.loads(args.cfg)
    fn = run_minisegnet if args.only == "minisegnet" else run_torch
    print(json.dumps(fn(cfg, args.device, args.warmup, args.repeats)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--no-torch", action="store_true", help="skip the optional PyTorch comparison")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measure both libraries this many times, taking turns; keep each one's best",
    )
    p.add_argument("--only", choices=("minisegnet", "torch"), help=argparse.SUPPRESS)
    p.add_argument("--cfg", help=argparse.SUPPRESS)
    for k in PRESETS["cpu"]:
        p.add_argument(f"--{k}", type=int, help=f"override the preset's {k}")
    args = p.parse_args()
    native_blas(__file__)  # the CPU's own GEMM kernel, as users get it (see timing.BLAS_GUARDS)
    if args.only:
        return child(args)

    cfg = dict(PRESETS[args.preset])
    for k in cfg:
        if getattr(args, k) is not None:
            cfg[k] = getattr(args, k)
    print(
        f"U-Net training step: batch {cfg['batch']}, 3x{cfg['size']}x{cfg['size']}, depth "
        f"{cfg['depth']}, base width {cfg['width']}, {cfg['classes']} classes, Adam, cross "
        f"entropy; device {args.device}; median of {args.repeats} steps after {args.warmup} "
        f"warm-up steps ({'CUDA events' if args.device == 'gpu' else 'wall clock'})"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"BLAS: {blas_kernel()}")
    if args.device == "gpu":
        from minisegnet import backend

        print(
            f"GPU: {backend.device_name('gpu')}  "
            f"CUPY_TF32={os.environ.get('CUPY_TF32', '(unset: off)')}  (torch: TF32 off)"
        )
    print(f"yardstick: NumPy float32 1024x1024 matmul {numpy_matmul_gflops():.1f} GFLOP/s")

    rows: dict[str, dict] = {}
    ratios = []  # the time ratio of each round
    for _ in range(args.rounds):  # the libraries take turns: a slow phase hits both
        got = run_round(args, cfg)
        for lib, r in got.items():  # keep each library's fastest round (its memory is the same)
            if lib not in rows or r["time_s"] < rows[lib]["time_s"]:
                rows[lib] = r
        if len(got) == 2:
            ratios.append(got["minisegnet"]["time_s"] / got["torch"]["time_s"])
    report(args, rows, ratios)


def run_round(args: argparse.Namespace, cfg: dict) -> dict[str, dict]:
    """One step benchmark of each library, each in its own process."""
    rows = {}
    for lib in ("minisegnet", "torch"):
        if lib == "torch" and args.no_torch:
            continue
        cmd = [
            sys.executable,
            __file__,
            "--only",
            lib,
            "--device",
            args.device,
            "--cfg",
            json.dumps(cfg),
            "--repeats",
            str(args.repeats),
            "--warmup",
            str(args.warmup),
        ]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            msg = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "failed"
            print(f"{lib}: not measured ({msg})")
            continue
        rows[lib] = json.loads(r.stdout.strip().splitlines()[-1])
    return rows


def report(args: argparse.Namespace, rows: dict[str, dict], ratios: list[float]) -> None:
    if args.rounds > 1:
        print(f"step time: each library's best median over {args.rounds} rounds, taking turns")
    print()
    print(
        f"{'library':<12} {'step (ms)':>10} {'params':>10} {'peak RSS over start (MB)':>25} "
        f"{'other memory figure':>28}"
    )
    for lib, r in rows.items():
        other = ""
        if "tracemalloc_peak_mb" in r:
            other = f"tracemalloc peak {r['tracemalloc_peak_mb']:.1f} MB"
        elif "pool_total_mb" in r:
            other = f"CuPy pool total {r['pool_total_mb']:.1f} MB"
        elif "gpu_peak_mb" in r:
            other = f"CUDA peak alloc {r['gpu_peak_mb']:.1f} MB"
        name = lib if lib == "minisegnet" else f"torch {r['version']} ({r['threads']} thr)"
        print(
            f"{name:<12} {1e3 * r['time_s']:>10.1f} {r['params']:>10,} {r['rss_growth_mb']:>25.1f} "
            f"{other:>28}"
        )
    if "minisegnet" in rows and "torch" in rows:
        m, t = rows["minisegnet"], rows["torch"]
        print(
            f"\nratio minisegnet / torch: time {m['time_s'] / t['time_s']:.2f}x "
            "(targets: issue 5 <= 2x, issue 17 <= 1.5x)",
            end="",
        )
        if args.device == "cpu":
            print(
                f", peak RSS growth {m['rss_growth_mb'] / max(t['rss_growth_mb'], 1e-9):.2f}x "
                "(target <= 2x)"
            )
        else:
            print(f", GPU memory {m.get('pool_total_mb', float('nan')) / t['gpu_peak_mb']:.2f}x")
        if len(ratios) > 1:
            print("time ratio in each round: " + " ".join(f"{v:.2f}" for v in ratios))


if __name__ == "__main__":
    main()
