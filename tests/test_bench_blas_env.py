"""The benchmarks run with the CPU's own BLAS kernel: benchmarks/timing.native_blas starts the
script again without the OpenBLAS guard variables (for the benchmark's command only) and
blas_kernel names the kernel that ran."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(tmp_path: Path, **env: str) -> list[str]:
    script = tmp_path / "probe.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(BENCH)!r})
        from timing import blas_kernel, native_blas
        native_blas(__file__)
        print(os.environ.get("OPENBLAS_CORETYPE", "-"), os.environ.get("OPENBLAS_L2_SIZE", "-"))
        print(blas_kernel())
    """)
    )
    full = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS_CORE", "OPENBLAS_L2"))
    }
    full.update(env)
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=full,
        check=True,
        timeout=120,
    )
    return out.stdout.strip().splitlines()


def test_guard_variables_are_unset_for_the_benchmark_and_reported(tmp_path):
    env_line, kernel = _run(tmp_path, OPENBLAS_CORETYPE="Haswell", OPENBLAS_L2_SIZE="512")
    assert env_line == "- -"
    assert "unset for this run: OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512" in kernel
    assert kernel.split(" (")[0] != "unknown"


def test_keep_blas_env_keeps_them_and_says_so(tmp_path):
    env_line, kernel = _run(tmp_path, OPENBLAS_CORETYPE="Haswell", MINISEGNET_KEEP_BLAS_ENV="1")
    assert env_line == "Haswell -"
    assert "forced by OPENBLAS_CORETYPE=Haswell" in kernel


def test_nothing_to_unset_runs_once(tmp_path):
    env_line, kernel = _run(tmp_path)
    assert env_line == "- -" and "unset" not in kernel and "forced" not in kernel
