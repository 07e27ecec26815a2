"""Peak memory of one training step of the default SETR-PUP on a 64x64 batch (issue 14), and of the
same network written in PyTorch when ``import torch`` works (in this interpreter or the one given
by ``--torch-python``).

Each library runs in a fresh subprocess (so one's allocator cannot hide the other's). The figure
compared is the growth of the process's peak resident memory during the step:

    peak RSS after the step (getrusage ru_maxrss) - RSS just before it (/proc/self/statm),

i.e. everything the step allocates at its worst moment: activations kept for backward, the
attention maps, temporaries, gradients. For minisegnet tracemalloc's peak (NumPy's allocations
only) is printed too, from a second, separate run (tracemalloc slows allocation).

Configuration: ``SETR(3, 4, "pup")`` defaults (patch 4, E = 64, 4 heads, 4 layers, MLP 256, GELU
tanh form, PUP decoder of width 32 with two conv 3x3 + BN + ReLU + x2 stages), batch 16 of
3 x 64 x 64 (a 16 x 16 grid, L = 256 tokens; the position table made for 8 x 8 is resized),
cross entropy, float32, one BLAS / torch thread.

    python benchmarks/bench_attention_memory.py
    python benchmarks/bench_attention_memory.py --torch-python /work/venv-torch/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def max_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_minisegnet(batch: int, size: int, trace: bool) -> dict:
    import numpy as np

    import minisegnet as ms
    from minisegnet import losses
    from minisegnet.models import SETR

    ms.manual_seed(0)
    model = SETR(3, 4, "pup")
    rng = np.random.default_rng(0)
    x = ms.Tensor(rng.standard_normal((batch, 3, size, size)).astype(np.float32))
    y = ms.Tensor(rng.integers(0, 4, (batch, size, size)))
    if trace:
        import tracemalloc

        tracemalloc.start()
    before = rss_mb()
    loss = losses.cross_entropy(model(x), y)
    loss.backward()
    out = {
        "lib": "minisegnet",
        "params": model.num_parameters(),
        "loss": loss.item(),
        "step_peak_mb": max_rss_mb() - before,
    }
    if trace:
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    return out


def run_torch(batch: int, size: int) -> dict:
    import torch
    import torch.nn as tnn
    import torch.nn.functional as tF

    torch.set_num_threads(1)
    torch.manual_seed(0)
    e, heads, depth, p, d = 64, 4, 4, 4, 32

    class TorchSETR(tnn.Module):
        def __init__(self):
            super().__init__()
            self.patch = tnn.Conv2d(3, e, p, stride=p)
            self.pos = tnn.Parameter(torch.randn(1, e, 8, 8) * 0.02)
            self.layers = tnn.ModuleList(
                [
                    tnn.TransformerEncoderLayer(
                        e,
                        heads,
                        4 * e,
                        dropout=0.0,
                        activation=lambda t: tF.gelu(t, approximate="tanh"),
                        batch_first=True,
                        norm_first=True,
                    )
                    for _ in range(depth)
                ]
            )
            self.norm = tnn.LayerNorm(e)
            self.stages = tnn.ModuleList(
                [
                    tnn.Sequential(
                        tnn.Conv2d(e if i == 0 else d, d, 3, padding=1, bias=False),
                        tnn.BatchNorm2d(d),
                        tnn.ReLU(),
                    )
                    for i in range(2)
                ]
            )
            self.head = tnn.Conv2d(d, 4, 1)

        def forward(self, x):
            g = self.patch(x)
            n, c, h, w = g.shape
            g = g + tF.interpolate(self.pos, size=(h, w), mode="bilinear", align_corners=False)
            t = g.flatten(2).transpose(1, 2)
            for layer in self.layers:
                t = layer(t)
            y = self.norm(t).transpose(1, 2).reshape(n, c, h, w)
            for stage in self.stages:
                y = stage(y)
                y = tF.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
            return self.head(y)

    model = TorchSETR()
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, 4, (batch, size, size))
    before = rss_mb()
    loss = tF.cross_entropy(model(x), y)
    loss.backward()
    return {
        "lib": f"torch {torch.__version__}",
        "params": sum(q.numel() for q in model.parameters()),
        "loss": loss.item(),
        "step_peak_mb": max_rss_mb() - before,
    }


def child(args: argparse.Namespace) -> None:
    if args.lib == "torch":
        out = run_torch(args.batch, args.size)
    else:
        out = run_minisegnet(args.batch, args.size, args.lib == "minisegnet-trace")
    print(json.dumps(out))


def spawn(python: str, lib: str, args: argparse.Namespace) -> dict | None:
    env = dict(
        os.environ,
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    cmd = [
        python,
        os.path.abspath(__file__),
        "--child",
        lib,
        "--batch",
        str(args.batch),
        "--size",
        str(args.size),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3, help="runs per library (the median is kept)")
    ap.add_argument(
        "--torch-python",
        default=sys.executable,
        help="interpreter that can import torch (default: this one)",
    )
    ap.add_argument("--child", dest="lib", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.lib:
        child(args)
        return
    print(
        f"SETR-PUP (patch 4, E 64, 4 heads, 4 layers), batch {args.batch} x 3 x {args.size} x "
        f"{args.size}, one training step (forward + cross entropy + backward), float32, CPU"
    )
    rows = []
    for lib, python in (("minisegnet", sys.executable), ("torch", args.torch_python)):
        runs = [spawn(python, lib, args) for _ in range(args.repeats)]
        ok = [r for r in runs if "error" not in r]
        if not ok:
            print(f"{lib}: not measured ({runs[0]['error']}); the comparison is pending")
            continue
        peaks = sorted(r["step_peak_mb"] for r in ok)
        row = dict(ok[0], step_peak_mb=peaks[len(peaks) // 2], all=peaks)
        if lib == "minisegnet":
            row["tracemalloc_peak_mb"] = spawn(python, "minisegnet-trace", args).get(
                "tracemalloc_peak_mb", float("nan")
            )
        rows.append(row)
    for r in rows:
        extra = (
            f"   tracemalloc peak {r['tracemalloc_peak_mb']:.1f} MB"
            if "tracemalloc_peak_mb" in r
            else ""
        )
        runs = ", ".join(f"{v:.1f}" for v in r["all"])
        print(
            f"{r['lib']:14s} params {r['params']:,}  loss {r['loss']:.4f}  peak RSS growth "
            f"{r['step_peak_mb']:.1f} MB (runs: {runs}){extra}"
        )
    if len(rows) == 2:
        print(
            f"ratio minisegnet / torch: {rows[0]['step_peak_mb'] / rows[1]['step_peak_mb']:.2f}"
            f" (target < 2)"
        )
    l2 = args.batch * 4 * ((args.size // 4) ** 2) ** 2 * 4 / 2**20
    print(
        f"one layer's attention maps (B x heads x L x L float32): {l2:.1f} MB; "
        f"kept for backward over 4 layers: {4 * l2:.1f} MB"
    )


if __name__ == "__main__":
    main()
