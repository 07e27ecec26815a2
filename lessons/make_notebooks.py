"""Turn every lesson into a Jupyter notebook: ``python lessons/make_notebooks.py [--execute]``.

Needs the ``notebooks`` extra: ``pip install -e ".[notebooks]"`` (jupytext, nbclient, ipykernel,
nbformat). Each ``lessons/NN_topic.py`` (jupytext's percent format: ``# %%`` cells, ``# %%
[markdown]`` text) becomes ``lessons/notebooks/NN_topic.ipynb`` (git-ignored) with a Python 3
kernelspec and a first cell that lets the notebook import ``_common`` and ``exercises`` from
``lessons/``. Open it in Jupyter or VS Code; figures show inline and are still saved to
``lessons/figures/``.

    python lessons/make_notebooks.py                 # every lesson, no outputs
    python lessons/make_notebooks.py 00 07           # lessons whose names start with 00 or 07
    python lessons/make_notebooks.py --execute       # run each one too (outputs stored)
    python lessons/make_notebooks.py --execute --fast  # ... with MINISEGNET_FAST=1

(jupytext alone also works: ``jupytext --to notebook lessons/00_*.py`` writes the notebook next
to the lesson, without the import cell, so run it from ``lessons/``.)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

LESSONS_DIR = Path(__file__).resolve().parent
NOTEBOOKS_DIR = LESSONS_DIR / "notebooks"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
# the first cell: lessons/ on the import path, wherever the notebook is opened from
SETUP_CELL = """\
# set-up: import _common and exercises from lessons/ (the folder above this notebook's, or
# where make_notebooks.py found it)
import sys, pathlib
_found = [d for d in (pathlib.Path.cwd(), *pathlib.Path.cwd().parents)
          if (d / "_common.py").is_file()]
sys.path.insert(0, str(_found[0]) if _found else {lessons!r})"""


def lessons(selected: Sequence[str] = ()) -> list[Path]:
    """The lesson scripts, optionally only those whose file names start with one of ``selected``."""
    found = sorted(LESSONS_DIR.glob("[0-9][0-9]_*.py"))
    if selected:
        found = [p for p in found if any(p.name.startswith(s) for s in selected)]
    return found


def to_notebook(lesson: Path):
    """The lesson as a notebook object (nbformat v4) with a kernelspec and the set-up cell."""
    import jupytext
    import nbformat

    nb = jupytext.read(lesson, fmt="py:percent")
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata.pop("jupytext", None)  # a plain notebook, not paired with the script
    nb.cells.insert(0, nbformat.v4.new_code_cell(SETUP_CELL.format(lessons=str(LESSONS_DIR))))
    return nb


def execute(nb, cwd: Path, timeout: int = 1800) -> None:
    """Run ``nb`` in a fresh kernel with working directory ``cwd`` (outputs stored in ``nb``)."""
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=timeout, kernel_name=KERNELSPEC["name"],
                   resources={"metadata": {"path": str(cwd)}}).execute()


def write(lesson: Path, out_dir: Path = NOTEBOOKS_DIR, run: bool = False) -> Path:
    """Convert ``lesson`` into ``out_dir/NAME.ipynb`` (executed first with ``run``)."""
    import nbformat

    out_dir.mkdir(parents=True, exist_ok=True)
    nb = to_notebook(lesson)
    if run:
        execute(nb, out_dir)
    path = out_dir / (lesson.stem + ".ipynb")
    nbformat.write(nb, path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="name prefixes, e.g. 00 07 (default: all)")
    parser.add_argument("--execute", action="store_true", help="run each notebook too")
    parser.add_argument("--fast", action="store_true", help="with --execute: MINISEGNET_FAST=1")
    parser.add_argument("--out", type=Path, default=NOTEBOOKS_DIR, help="output folder")
    args = parser.parse_args(argv)
    try:
        import jupytext  # noqa: F401
        import nbformat  # noqa: F401
        if args.execute:
            import ipykernel  # noqa: F401
            import nbclient  # noqa: F401
    except ImportError as exc:
        print(f"make_notebooks: {exc.name} is missing; install the notebooks extra: "
              'pip install -e ".[notebooks]"', file=sys.stderr)
        return 2
    if args.fast:
        os.environ["MINISEGNET_FAST"] = "1"  # the kernel inherits this environment
    chosen = lessons(args.lessons)
    if not chosen:
        print(f"make_notebooks: no lesson matches {args.lessons}", file=sys.stderr)
        return 2
    for lesson in chosen:
        print(f"{lesson.name} -> {write(lesson, args.out, run=args.execute)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
