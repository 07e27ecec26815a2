"""The last step of ``benchmarks/gpu_check.sh``: OUT/summary.md and OUT/summary.json.

    python benchmarks/gpu_check_summary.py --mode real --steps STEPS.tsv --train-dir DIR --out OUT
    python benchmarks/gpu_check_summary.py --probe    # the script's first step: is there a GPU?

Reads the steps table the script wrote (name, status, exit code, seconds, limit, command per
line) and each step's log in OUT, asks the backend which device and CuPy / CUDA versions this is,
and writes one Markdown page and the same facts as JSON: every step with its status (``pass``,
``fail``, ``timeout``, or ``not run``), duration and key figures, and the issue's targets
(U-Net step <= 2x PyTorch CUDA's time; val mIoU >= 0.9 within 30 s of training) reached or not.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from typing import Any

STEPS = ("device", "tests", "spatial", "unet_step", "train")
UNET_TARGET_RATIO = 2.0  # minisegnet / PyTorch CUDA step time
TRAIN_TARGET_MIOU = 0.9  # val mIoU ...
TRAIN_TARGET_S = 30.0  # ... within this many seconds of training


def _cuda_version(v: int) -> str:
    return f"{v // 1000}.{(v % 1000) // 10}" if v else "n/a"


def _run(cmd: list[str]) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return r.stdout.strip() if r.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def environment() -> dict[str, Any]:
    """The machine, the device and the library versions (each guarded: this runs after failures)."""
    import numpy

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "CUPY_TF32": os.environ.get("CUPY_TF32", "(unset)"),
        "commit": _run(["git", "rev-parse", "--short", "HEAD"]) or "?",
        "dirty": bool(_run(["git", "status", "--porcelain", "--untracked-files=no"])),
    }
    try:
        from minisegnet import backend

        reason = backend.gpu_unavailable_reason()
        env["gpu_unavailable_reason"] = reason
        if reason is None:
            cp = backend.xp_for("gpu")
            env["device"] = backend.device_name("gpu")
            env["cupy"] = str(getattr(cp, "__version__", "?"))
            rt = cp.cuda.runtime
            env["cuda_runtime"] = _cuda_version(int(rt.runtimeGetVersion()))
            env["cuda_driver"] = _cuda_version(int(rt.driverGetVersion()))
            mem = rt.getDeviceProperties(cp.cuda.Device().id).get("totalGlobalMem", 0)
            env["device_memory_gib"] = round(mem / 2**30, 1)
        else:
            env["device"] = "none"
    except Exception as exc:  # any error: report it, never fail the summary
        env["device"] = f"unknown ({type(exc).__name__}: {exc})"
    if shutil.which("nvidia-smi"):
        env["nvidia_smi"] = _run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
        )
    try:
        import torch  # optional: only to say what the comparison ran on

        env["torch"] = torch.__version__
        env["torch_cuda"] = f"{torch.version.cuda} (sees a GPU: {torch.cuda.is_available()})"
    except Exception:  # any error: the same
        env["torch"] = "not installed"
    return env


def probe() -> int:
    """The check's first step: print the machine, the device and the versions, time one float32
    1024x1024 matmul on the GPU with CUDA events (timing.py), and fail if there is no GPU."""
    env = environment()
    for k, v in env.items():
        print(f"{k}: {v}")
    if shutil.which("nvidia-smi"):
        print(_run(["nvidia-smi"]))
    if env.get("gpu_unavailable_reason", "unknown") is not None:
        print(f"no GPU: {env.get('gpu_unavailable_reason') or env.get('device')}")
        return 1
    import time

    import numpy

    from minisegnet import backend

    from timing import DeviceTimer

    cp, n = backend.xp_for("gpu"), 1024
    a = cp.asarray(numpy.random.default_rng(0).standard_normal((n, n), dtype=numpy.float32))
    t0 = time.perf_counter()  # an elementwise kernel and a reduction: CuPy compiles them (NVRTC)
    total = float((a * 0.5 + 1.0).sum())
    print(
        f"elementwise + reduction kernels (compiled or from CuPy's cache): "
        f"{time.perf_counter() - t0:.2f} s, sum {total:.1f}"
    )
    t = DeviceTimer("gpu", repeats=10)(lambda: a @ a)  # cuBLAS
    print(
        f"float32 {n}x{n} matmul on the GPU: {t * 1e3:.3f} ms, {2 * n**3 / t / 1e9:.0f} GFLOP/s "
        "(median of 10, CUDA events)"
    )
    return 0


def read_steps(path: Path) -> dict[str, dict[str, Any]]:
    steps: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            name, status, rc, seconds, limit, command = line.split("\t", 5)
            steps[name] = {
                "status": status,
                "exit_code": int(rc),
                "seconds": float(seconds),
                "limit_s": int(limit),
                "command": command,
            }
    return steps


def _log(out: Path, name: str) -> str:
    p = out / f"{name}.log"
    return p.read_text(errors="replace") if p.is_file() else ""


def figures_device(text: str) -> dict[str, Any]:
    m = re.search(r"^device: (.*)$", text, re.M)
    g = re.search(r"matmul on the GPU: .*?, (\d+) GFLOP/s", text)
    out: dict[str, Any] = {"device": m.group(1) if m else None}
    if g:
        out["matmul_gflops"] = int(g.group(1))
    out["text"] = (out["device"] or "no device found") + (
        f"; float32 matmul {out['matmul_gflops']} GFLOP/s" if g else ""
    )
    return out


def figures_tests(text: str) -> dict[str, Any]:
    counts = {}
    for line in reversed(text.splitlines()):
        if re.search(r"\d+ (passed|failed|error|errors|skipped|deselected)\b.* in [\d.]+s", line):
            counts = {
                k: int(v)
                for v, k in re.findall(
                    r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)", line
                )
            }
            break
    failed = sorted(set(re.findall(r"^FAILED (\S+)", text, re.M)))
    return {
        "counts": counts,
        "failed": failed[:20],
        "text": ", ".join(f"{v} {k}" for k, v in counts.items()) or "no pytest summary line",
    }


def figures_spatial(text: str) -> dict[str, Any]:
    rows, on = [], False
    for line in text.splitlines():
        if line.startswith("op / shape"):
            on = True
            continue
        if on and line.startswith("GFLOP/s and % mm"):
            break
        if on and len(line) > 33 and not line.startswith("---"):
            tok = line[33:].split()
            if len(tok) == 9:
                rows.append(
                    {
                        "op": line[:32].strip(),
                        "fwd_ms": _num(tok[0]),
                        "fb_ms": _num(tok[1]),
                        "torch_fb_ms": _num(tok[6]),
                        "ours_over_torch": _num(tok[8]),
                    }
                )
    ratios = [r["ours_over_torch"] for r in rows if r["ours_over_torch"] is not None]
    text_ = f"{len(rows)} ops timed"
    if rows:
        text_ += f"; f+b {min(r['fb_ms'] for r in rows):.2f}-{max(r['fb_ms'] for r in rows):.2f} ms"
    if ratios:
        text_ += f"; ours/torch f+b {min(ratios):.2f}x-{max(ratios):.2f}x"
    return {"rows": rows, "text": text_}


def _num(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def figures_unet(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in text.splitlines():
        m = re.match(r"(minisegnet|torch \S+)\s.*?\s+([\d.]+)\s+([\d,]+)\s", line)
        if m and not line.startswith("library"):
            out["minisegnet_ms" if m.group(1) == "minisegnet" else "torch_ms"] = float(m.group(2))
        m = re.search(r"ratio minisegnet / torch: time ([\d.]+)x", line)
        if m:
            out["ratio"] = float(m.group(1))
        if line.startswith("torch: not measured"):
            out["torch"] = line
    parts = []
    if "minisegnet_ms" in out:
        parts.append(f"minisegnet {out['minisegnet_ms']:.1f} ms/step")
    if "torch_ms" in out:
        parts.append(f"PyTorch {out['torch_ms']:.1f} ms/step")
    if "ratio" in out:
        parts.append(f"ratio {out['ratio']:.2f}x")
    elif "torch" in out:
        parts.append("no PyTorch comparison")
    out["text"] = ", ".join(parts) or "no step time found"
    return out


def figures_train(text: str, train_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    m = re.search(r"done in ([\d.]+) s: val mIoU ([\d.]+)", text)
    if m:
        out["cli_seconds"], out["val_miou"] = float(m.group(1)), float(m.group(2))
    metrics = train_dir / "metrics.csv"
    if metrics.is_file():
        with metrics.open() as f:
            rows = list(csv.DictReader(f))
        elapsed = 0.0
        for r in rows:
            elapsed += float(r["seconds"])
            if "reached_epoch" not in out and float(r["val_miou"]) >= TRAIN_TARGET_MIOU:
                out["reached_epoch"], out["reached_after_s"] = int(r["epoch"]), round(elapsed, 2)
        if rows:
            out["epochs"] = len(rows)
            out["training_s"] = round(elapsed, 2)
            out["first_epoch_s"] = round(float(rows[0]["seconds"]), 2)
            out["best_val_miou"] = round(max(float(r["val_miou"]) for r in rows), 4)
            out["val_miou"] = round(float(rows[-1]["val_miou"]), 4)
    parts = []
    if "val_miou" in out:
        parts.append(
            f"val mIoU {out['val_miou']:.3f} after {out.get('epochs', '?')} epochs, "
            f"{out.get('training_s', out.get('cli_seconds', 0)):.1f} s of training "
            f"(first epoch {out.get('first_epoch_s', 0):.1f} s)"
        )
    if "reached_epoch" in out:
        parts.append(
            f"mIoU >= {TRAIN_TARGET_MIOU} first at epoch {out['reached_epoch']}, "
            f"after {out['reached_after_s']:.1f} s"
        )
    elif "val_miou" in out:
        parts.append(
            f"mIoU >= {TRAIN_TARGET_MIOU} not reached (best {out.get('best_val_miou', 0):.3f})"
        )
    out["text"] = "; ".join(parts) or "no training result found"
    return out


def targets(steps: dict[str, dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    note = "; dry run: the fake CuPy on the CPU, not a measurement" if mode == "dry-run" else ""
    t = steps.get("tests", {}).get("figures", {}).get("counts", {})
    u = steps.get("unet_step", {}).get("figures", {})
    tr = steps.get("train", {}).get("figures", {})
    rows = [
        (
            "every gpu-marked test passes",
            None
            if not t
            else (
                steps["tests"]["status"] == "pass"
                and t.get("passed", 0) > 0
                and not t.get("failed")
                and not t.get("error")
                and not t.get("errors")
            ),
            steps.get("tests", {}).get("figures", {}).get("text", ""),
        ),
        (
            f"U-Net step (batch 16, 128x128, width 32, depth 4) <= {UNET_TARGET_RATIO:g}x PyTorch "
            "CUDA",
            None if "ratio" not in u else u["ratio"] <= UNET_TARGET_RATIO,
            u.get("text", ""),
        ),
        (
            f"train: val mIoU >= {TRAIN_TARGET_MIOU} within {TRAIN_TARGET_S:g} s of training",
            None
            if "val_miou" not in tr
            else ("reached_after_s" in tr and tr["reached_after_s"] < TRAIN_TARGET_S),
            tr.get("text", ""),
        ),
    ]
    return [
        {"target": name, "reached": None if mode == "dry-run" else ok, "evidence": ev + note}
        for name, ok, ev in rows
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--probe", action="store_true", help="print the device and versions; fail without a GPU"
    )
    ap.add_argument("--mode", choices=("real", "dry-run"))
    ap.add_argument("--steps", type=Path)
    ap.add_argument("--train-dir", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.probe:
        return probe()
    if None in (args.mode, args.steps, args.train_dir, args.out):
        ap.error("--mode, --steps, --train-dir and --out are needed (or --probe)")

    env = environment()
    found = read_steps(args.steps)
    steps: dict[str, dict[str, Any]] = {}
    for name in STEPS:
        s = found.get(
            name,
            {
                "status": "not run",
                "exit_code": None,
                "seconds": 0.0,
                "limit_s": None,
                "command": "",
            },
        )
        log = _log(args.out, name)
        s["figures"] = (
            figures_device(log)
            if name == "device"
            else figures_tests(log)
            if name == "tests"
            else figures_spatial(log)
            if name == "spatial"
            else figures_unet(log)
            if name == "unet_step"
            else figures_train(log, args.train_dir)
        )
        s["log"] = f"{name}.log"
        if s["status"] != "pass":  # what went wrong: the log's last line
            last = [ln.strip() for ln in log.splitlines() if ln.strip()][-1:] or ["(empty log)"]
            s["figures"]["last_line"] = last[0][:200]
            s["figures"]["text"] += f"; last line: {last[0][:200]}"
        steps[name] = s
    counts = steps["tests"]["figures"]["counts"]
    if steps["tests"]["status"] == "pass" and not counts.get("passed"):
        steps["tests"]["status"] = "fail"  # every gpu test skipped: nothing was checked
        steps["tests"]["figures"]["text"] += " (nothing ran: no GPU?)"
    tgts = targets(steps, args.mode)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    report = {
        "mode": args.mode,
        "when": when,
        "environment": env,
        "steps": steps,
        "targets": tgts,
        "total_seconds": round(sum(s["seconds"] for s in steps.values()), 1),
    }
    (args.out / "summary.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "summary.md").write_text(markdown(report))
    return 0 if all(s["status"] == "pass" for s in steps.values()) else 1


def markdown(r: dict[str, Any]) -> str:
    env = r["environment"]
    dry = r["mode"] == "dry-run"
    title = (
        "dry run: tests/fake_cupy.py standing in for CuPy, on the CPU"
        if dry
        else env.get("device")
        if env.get("device") != "none"
        else "no GPU found"
    )
    lines = [f"# minisegnet GPU check ({title})", ""]
    if dry:
        lines += [
            "A dry run proves the script and the GPU code path's device discipline; its "
            "timings and targets say nothing about a GPU.",
            "",
        ]
    lines += [
        f"- when: {r['when']}; commit {env['commit']}"
        + (" (with uncommitted changes)" if env["dirty"] else ""),
        f"- device: {env.get('device')}"
        + (f", {env['device_memory_gib']} GiB" if env.get("device_memory_gib") else "")
        + (f" ({env['gpu_unavailable_reason']})" if env.get("gpu_unavailable_reason") else ""),
        f"- CuPy {env.get('cupy', 'n/a')}; CUDA runtime {env.get('cuda_runtime', 'n/a')}, "
        f"driver supports CUDA {env.get('cuda_driver', 'n/a')}; CUPY_TF32={env['CUPY_TF32']}",
    ]
    if env.get("nvidia_smi"):
        lines.append(f"- nvidia-smi: {env['nvidia_smi']}")
    lines += [
        f"- PyTorch {env.get('torch')}"
        + (f", CUDA {env['torch_cuda']}" if env.get("torch_cuda") else ""),
        f"- Python {env['python']}, NumPy {env['numpy']}, {env['machine']}",
        f"- total: {r['total_seconds']:.1f} s",
        "",
        "| step | status | seconds | limit (s) | key figures | log |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in r["steps"].items():
        text = s["figures"]["text"].replace("|", "\\|")
        lines.append(
            f"| {name} | {s['status']} | {s['seconds']:.1f} | {s['limit_s'] or '-'} | "
            f"{text} | {s['log']} |"
        )
    lines += ["", "## Targets (issue 18)", ""]
    for t in r["targets"]:
        mark = (
            "not judged"
            if dry
            else {True: "reached", False: "NOT reached", None: "not measured"}[t["reached"]]
        )
        lines.append(f"- {t['target']}: **{mark}** ({t['evidence']})")
    failed = r["steps"]["tests"]["figures"].get("failed")
    if failed:
        lines += ["", "## Failed tests", ""] + [f"- `{f}`" for f in failed]
    rows = r["steps"]["spatial"]["figures"].get("rows")
    if rows:
        lines += [
            "",
            "## Spatial primitives (forward+backward, median)",
            "",
            "| op | f+b ms | PyTorch f+b ms | ours / PyTorch |",
            "|---|---|---|---|",
        ]
        for row in rows:
            t = "-" if row["torch_fb_ms"] is None else f"{row['torch_fb_ms']:.2f}"
            q = "-" if row["ours_over_torch"] is None else f"{row['ours_over_torch']:.2f}"
            lines.append(f"| {row['op']} | {row['fb_ms']:.2f} | {t} | {q} |")
    lines += ["", "## Commands", ""] + [f"- {n}: `{s['command']}`" for n, s in r["steps"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
