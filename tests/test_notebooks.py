"""Lessons as notebooks: lessons/make_notebooks.py converts a lesson (jupytext) and nbclient runs it
in a fresh kernel, whose figures appear inline as image/png outputs (and are still saved as PNG
files); run as a script, a lesson keeps the Agg backend. Every lesson says how to open it as a
notebook."""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS_DIR = ROOT / "lessons"
NOTEBOOK_MODULES = ("jupytext", "nbclient", "nbformat", "ipykernel")


def _missing() -> list[str]:
    return [m for m in NOTEBOOK_MODULES if importlib.util.find_spec(m) is None]


def make_notebooks():
    spec = importlib.util.spec_from_file_location(
        "make_notebooks", LESSONS_DIR / "make_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    bool(_missing()),
    reason=f"the notebooks extra is not installed (missing: "
    f'{", ".join(_missing())}); pip install -e ".[notebooks]"',
)
def test_a_lesson_runs_as_a_notebook_with_its_figures_inline(tmp_path, monkeypatch):
    figures = tmp_path / "figures"
    monkeypatch.setenv("MINISEGNET_FAST", "1")
    monkeypatch.setenv("MINISEGNET_FIGURES", str(figures))
    monkeypatch.setenv("MPLBACKEND", "Agg")  # as CI sets it: the figures must show inline anyway
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    mk = make_notebooks()
    lesson = LESSONS_DIR / "00_onehot_softmax_cross_entropy.py"
    path = mk.write(lesson, tmp_path / "notebooks", run=True)

    import nbformat

    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["kernelspec"]["language"] == "python"
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    pngs = [
        base64.b64decode(o["data"]["image/png"])
        for o in outputs
        if "image/png" in o.get("data", {})
    ]
    saved = sorted(figures.glob("*.png"))
    printed = sum(o.get("text", "").count("[figure]") for o in outputs)
    assert len(pngs) >= 1 and len(pngs) == len(saved) == printed
    assert all(p.startswith(b"\x89PNG") for p in pngs)
    assert sorted(pngs) == sorted(p.read_bytes() for p in saved)  # shown = saved, one rendering
    text = "".join(o.get("text", "") for o in outputs)
    assert "cross entropy of the pixel: minisegnet 1.2040" in text  # the lesson really ran


def test_a_lesson_run_as_a_script_uses_agg_and_is_not_a_notebook():
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    code = (
        "import sys; sys.path.insert(0, 'lessons'); import _common, matplotlib; "
        "print(matplotlib.get_backend().lower(), _common.NOTEBOOK)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["agg", "False"]


def test_every_lesson_says_how_to_open_it_as_a_notebook():
    for lesson in sorted(LESSONS_DIR.glob("[0-9][0-9]_*.py")):
        text = lesson.read_text(encoding="utf-8")
        n = lesson.name[:2]
        line = (
            f"# As a notebook: `python lessons/make_notebooks.py {n}`, then open "
            f"`lessons/notebooks/{n}_*.ipynb`."
        )
        assert line in text, f"{lesson.name}: add the line {line!r} after its 'Run:' line"
        assert re.search(r"^# Run: `python lessons/", text, re.M), lesson.name


def test_make_notebooks_selects_lessons_by_prefix():
    mk = make_notebooks()
    assert [p.name[:2] for p in mk.lessons(["00", "07"])] == ["00", "07"]
    assert len(mk.lessons()) == len(list(LESSONS_DIR.glob("[0-9][0-9]_*.py")))
