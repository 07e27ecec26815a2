"""``benchmarks/gpu_check.sh``, the prepared GPU check (issue 18), proven on the CPU.

``--dry-run`` runs every step of the real check -- the gpu-marked tests, both benchmarks' GPU
modes, ``minisegnet train --device gpu`` and the summary -- with ``tests/fake_cupy.py`` standing
in for CuPy and tiny sizes; without ``--dry-run`` on a machine with no GPU every step must fail
on its own (the later steps still run) and the summary must say so.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from minisegnet import backend

import fake_cupy

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
STEPS = ["device", "tests", "spatial", "unet_step", "train"]
FILES = [
    "device.log",
    "spatial.log",
    "summary.json",
    "summary.md",
    "tests.log",
    "train.log",
    "unet_step.log",
]

needs_bash = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("timeout") is None,
    reason="gpu_check.sh needs bash and coreutils' timeout",
)


def run_check(out: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "PYTHONPATH",
            "MINISEGNET_DEVICE",
            "MINISEGNET_FAKE_CUPY",
            "PYTEST_ADDOPTS",
            "CUPY_TF32",
        )
    }
    env["PYTHON"] = sys.executable
    return subprocess.run(
        ["bash", str(SCRIPT), *args, str(out)],
        cwd=out.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def summary_rows(md: str) -> dict[str, list[str]]:
    rows = {}
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        if line.startswith("| ") and cells[0] in STEPS:
            rows[cells[0]] = cells
    return rows


@needs_bash
@pytest.mark.slow
def test_dry_run_runs_every_step_and_summarises_it(tmp_path):
    out = tmp_path / "check"
    r = run_check(out, "--dry-run")
    assert r.returncode == 0, f"stdout:\n{r.stdout[-4000:]}\nstderr:\n{r.stderr[-2000:]}"
    assert sorted(p.name for p in out.iterdir()) == FILES  # a few flat files: easy to fetch

    report = json.loads((out / "summary.json").read_text())
    assert report["mode"] == "dry-run"
    assert list(report["steps"]) == STEPS
    env = report["environment"]
    assert env["device"].startswith("fake CuPy") and env["cupy"].startswith("fake")
    assert env["CUPY_TF32"] == "0"
    for name, step in report["steps"].items():
        assert step["status"] == "pass", (name, step)
        assert 0 < step["seconds"] <= step["limit_s"]
        assert step["command"] and (out / step["log"]).read_text().startswith("$ ")

    figures = {name: step["figures"] for name, step in report["steps"].items()}
    assert (
        figures["device"]["device"].startswith("fake CuPy")
        and figures["device"]["matmul_gflops"] > 0
    )
    assert figures["tests"]["counts"]["passed"] > 100 and not figures["tests"]["failed"]
    assert (
        "failed" not in figures["tests"]["counts"] and "skipped" not in figures["tests"]["counts"]
    )
    ops = [row["op"] for row in figures["spatial"]["rows"]]
    assert ops == [
        "conv3x3 64x64 16->16",
        "conv3x3 32x32 32->32",
        "convT k2 s2 32x32 32->16",
        "max_pool2d 2x2 2x4x16x16",
        "max_unpool2d 2x2 2x4x16x16",
    ]
    assert all(row["fb_ms"] > 0 for row in figures["spatial"]["rows"])
    assert figures["unet_step"]["minisegnet_ms"] > 0
    assert figures["train"]["epochs"] == 2 and 0 <= figures["train"]["val_miou"] <= 1
    assert all(t["reached"] is None for t in report["targets"])  # a dry run judges no target

    md = (out / "summary.md").read_text()
    assert md.startswith("# minisegnet GPU check (dry run")
    rows = summary_rows(md)
    assert list(rows) == STEPS
    for name, cells in rows.items():
        assert cells[1] == "pass" and float(cells[2]) > 0 and cells[-1] == f"{name}.log"
    assert "CuPy fake" in md and "not judged" in md


@needs_bash
@pytest.mark.skipif(
    backend.gpu_available(), reason="a GPU is present: this would run the real check"
)
def test_without_a_gpu_every_step_fails_on_its_own_and_the_summary_says_why(tmp_path):
    out = tmp_path / "check"
    r = run_check(out)
    assert r.returncode == 1
    report = json.loads((out / "summary.json").read_text())
    assert report["mode"] == "real" and report["environment"]["device"] == "none"
    assert "CuPy is not installed" in report["environment"]["gpu_unavailable_reason"]
    assert [s["status"] for s in report["steps"].values()] == ["fail"] * len(STEPS)
    assert "nothing ran" in report["steps"]["tests"]["figures"]["text"]  # all skipped is no pass
    assert "CuPy is not installed" in report["steps"]["spatial"]["figures"]["last_line"]
    rows = summary_rows((out / "summary.md").read_text())
    assert [cells[1] for cells in rows.values()] == ["fail"] * len(STEPS)
    assert re.search(
        r"train: val mIoU >= 0.9 within 30 s of training: \*\*not measured\*\*",
        (out / "summary.md").read_text(),
    )


def test_extras_name_cupy_for_cuda_12_and_13():
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert extras["gpu"][0].startswith("cupy-cuda12x")
    assert extras["gpu-cuda13"][0].startswith("cupy-cuda13x")


def test_the_fake_cupy_lacks_what_cupy_lacks():
    """The stand-in mirrors CuPy's API where it differs from NumPy's: names CuPy 14 does not have
    (numpy.errstate, numpy.insert, ...) and CUDA calls that do not exist (cuda.get_current_device:
    the current device is cuda.Device())."""
    fake = fake_cupy.make_fake_cupy()
    for name in ("errstate", "insert", "nditer", "matrix", "geomspace"):
        with pytest.raises(AttributeError, match=f"CuPy has no cupy.{name}"):
            getattr(fake, name)
    assert not hasattr(fake.cuda, "get_current_device")
    fake.cuda.Device().synchronize()
    start, end = fake.cuda.Event(), fake.cuda.Event()
    start.record()
    end.record()
    assert fake.cuda.get_elapsed_time(start, end) >= 0
    assert callable(fake.add.at) and callable(fake.take_along_axis)  # CuPy has both
