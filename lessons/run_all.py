"""Run every lesson in full mode, one after another, as a student runs them (the CI entry point).

    python lessons/run_all.py              # all lessons
    python lessons/run_all.py 08 11        # only the lessons whose names start with 08 or 11

Each lesson runs as its own subprocess (``python lessons/NN_topic.py``, no ``MINISEGNET_FAST``)
with ``MPLBACKEND=Agg`` and its figures written to a temporary folder, so nothing in the working
tree changes. The script prints each lesson's wall time and status, the output tail of every
lesson that failed, and exits with status 1 if any lesson failed (0 otherwise).

Options: ``--timeout S`` (seconds per lesson, default 600), ``--keep-figures DIR`` (write the
figures to DIR instead of a temporary folder).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LESSONS_DIR = Path(__file__).resolve().parent


def lessons(prefixes: list[str]) -> list[Path]:
    """The lesson scripts (``NN_topic.py``), sorted, optionally only those starting with a prefix."""
    found = sorted(LESSONS_DIR.glob("[0-9][0-9]_*.py"))
    if prefixes:
        found = [p for p in found if any(p.name.startswith(x) for x in prefixes)]
    return found


def run_lesson(path: Path, figures: Path, timeout: float) -> tuple[bool, float, str]:
    """Run one lesson in full mode; return (passed, wall seconds, combined output)."""
    env = dict(os.environ, MPLBACKEND="Agg", MINISEGNET_FIGURES=str(figures))
    env.pop("MINISEGNET_FAST", None)
    # the lessons import minisegnet: make the checkout's package importable without installing it
    root = str(LESSONS_DIR.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(path)], cwd=LESSONS_DIR, env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return False, time.perf_counter() - t0, out + f"\n[timed out after {timeout:.0f} s]"
    seconds = time.perf_counter() - t0
    out = proc.stdout + proc.stderr
    passed = (proc.returncode == 0 and "MISMATCH" not in proc.stdout
              and f"Lesson {path.name[:2]} complete" in proc.stdout)
    if proc.returncode != 0:
        out += f"\n[exit status {proc.returncode}]"
    return passed, seconds, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every lesson in full mode (CI).")
    parser.add_argument("prefixes", nargs="*", help="only lessons whose names start with these")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per lesson")
    parser.add_argument("--keep-figures", type=Path, default=None, metavar="DIR",
                        help="write the figures to DIR instead of a temporary folder")
    args = parser.parse_args(argv)
    paths = lessons(args.prefixes)
    if not paths:
        print(f"run_all: no lesson matches {args.prefixes}", file=sys.stderr)
        return 2
    failed: list[str] = []
    total = 0.0
    with tempfile.TemporaryDirectory(prefix="minisegnet-lessons-") as tmp:
        figures = args.keep_figures or Path(tmp) / "figures"
        for path in paths:
            passed, seconds, out = run_lesson(path, figures, args.timeout)
            total += seconds
            print(f"{'ok  ' if passed else 'FAIL'} {seconds:7.1f} s  {path.name}", flush=True)
            if not passed:
                failed.append(path.name)
                print("     " + out[-4000:].replace("\n", "\n     "), flush=True)
    print(f"{len(paths) - len(failed)} of {len(paths)} lessons passed in full mode, "
          f"{total:.1f} s in all")
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
