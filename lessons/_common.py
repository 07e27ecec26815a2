"""Small helpers shared by the lessons: printing arrays, checking them against the slides, figures.

Every lesson starts with ``from _common import *``. The helpers are deliberately tiny so that a
student reading a lesson sees the arithmetic, not the plumbing.

* ``FAST`` -- True when the lesson runs in fast mode (``MINISEGNET_FAST=1`` or ``--fast``): the
  test suite uses it so that lessons that train a network finish in seconds.
* ``FIGURES`` -- where figures go: ``lessons/figures/`` (or ``$MINISEGNET_FIGURES``).
* ``SHOW`` -- True with ``--show``: figures open in a window instead of only being saved.
* ``NOTEBOOK`` -- True inside a Jupyter / IPython kernel (a lesson opened as a notebook, VS Code's
  Interactive window): the backend is left to the kernel (no forced Agg) and every figure is
  shown inline as well as saved.
* ``section(title)`` -- a banner for each cell's output.
* ``show(name, array)`` -- print an array (integers without decimals, floats to 4 places).
* ``check(name, computed, expected, atol, ref=..., by=...)`` -- print a result beside the slide's
  numbers (or another reference) and assert that they agree; the labels say who computed each
  (``by``: "minisegnet" only for the engine) and where the reference comes from (``ref``:
  "lecture" only for numbers the slide prints, "derived from the slide" for numbers computed
  from its formulas).
* ``save_figure(fig, name)`` -- write ``lessons/figures/<name>.png``; show it inline in a notebook
  (or in a window with ``--show``).
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (ipykernel's shell); False in a script or terminal IPython."""
    if "IPython" not in sys.modules:
        return False
    shell = sys.modules["IPython"].get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


FAST: bool = os.environ.get("MINISEGNET_FAST", "") not in ("", "0") or "--fast" in sys.argv
SHOW: bool = "--show" in sys.argv
NOTEBOOK: bool = _in_notebook()

import matplotlib  # noqa: E402

if not SHOW and not NOTEBOOK:  # a script writes PNG files, it opens no window
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

if os.environ.get("MINISEGNET_FIGURES"):  # the test suite writes figures to a temporary folder
    FIGURES = Path(os.environ["MINISEGNET_FIGURES"])
else:
    try:  # a script run as ``python lessons/NN_topic.py``
        FIGURES = Path(__file__).resolve().parent / "figures"
    except NameError:  # pragma: no cover - pasted into a notebook
        FIGURES = Path.cwd() / "figures"

__all__ = ["np", "plt", "FAST", "SHOW", "NOTEBOOK", "FIGURES", "section", "show", "check",
           "save_figure",
           "as_numpy", "fmt"]


def as_numpy(a: Any) -> np.ndarray:
    """A host NumPy array from a minisegnet Tensor, a NumPy/CuPy array or a nested list."""
    if hasattr(a, "numpy") and callable(a.numpy):
        return np.asarray(a.numpy())
    if hasattr(a, "get") and callable(a.get):  # a CuPy array
        return np.asarray(a.get())
    return np.asarray(a)


def fmt(a: Any, decimals: int = 4) -> str:
    """Format an array for printing: integers without a decimal point, floats to ``decimals``."""
    a = as_numpy(a)
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.allclose(a, np.round(a), atol=1e-6):
        a = np.round(a).astype(np.int64)
    with np.printoptions(precision=decimals, suppress=True, linewidth=110,
                         floatmode="maxprec_equal"):
        return np.array2string(a, separator=" ") if a.ndim else str(a.item() if hasattr(a, "item") else a)


def _scalar(a: np.ndarray) -> str:
    v = a.reshape(()).item()
    if isinstance(v, float) and abs(v - round(v)) > 1e-9:
        return f"{v:.4f}"
    if isinstance(v, (float, int)) and not isinstance(v, bool):
        v = int(round(v))
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    return str(v)


def section(title: str) -> None:
    """Print a banner that starts a new step of the lesson."""
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def show(name: str, a: Any, decimals: int = 4) -> None:
    """Print ``name`` and the array ``a`` (with its shape) under it."""
    arr = as_numpy(a)
    shape = f"  shape {tuple(arr.shape)}" if arr.ndim else ""
    text = fmt(arr, decimals)
    if "\n" in text or len(name) + len(text) > 70:
        print(f"{name}:{shape}")
        print("  " + text.replace("\n", "\n  "))
    else:
        print(f"{name} = {text}{shape}")


def check(name: str, computed: Any, expected: Any, atol: float = 1e-4, rtol: float = 0.0,
          ref: str = "lecture", by: str = "minisegnet") -> None:
    """Print the ``computed`` value beside the ``expected`` one and assert they agree.

    The labels say where each number comes from, and only that:

    * ``by`` -- who computed ``computed``: ``"minisegnet"`` (the default) only for values the
      engine computed (an op, a loss, a model, ``summary``, autograd); ``"numpy"``,
      ``"arithmetic"``, ``"recurrence"``... for values computed beside the engine.
    * ``ref`` -- where ``expected`` comes from: ``"lecture"`` (the default) only for numbers the
      slide prints; ``"derived from the slide"`` for numbers computed from the slide's formulas
      or inputs that the slide does not print; otherwise the other computation (``"formula"``,
      ``"by hand"``...).
    """
    c, e = as_numpy(computed), np.asarray(expected)
    if c.shape != e.shape:
        raise AssertionError(f"{name}: computed shape {c.shape} but the lecture shows {e.shape}")
    ok = np.allclose(c.astype(np.float64), e.astype(np.float64), atol=atol, rtol=rtol)
    if c.size > 40:
        diff = float(np.max(np.abs(c.astype(np.float64) - e.astype(np.float64)))) if c.size else 0.0
        print(f"{name}: {c.size} values, max |{by} - {ref}| = {diff:.2e}   "
              f"{'OK' if ok else 'MISMATCH'}")
    elif c.ndim == 0 or c.size == 1:
        print(f"{name}: {by} {_scalar(c)}   {ref} {_scalar(e)}   {'OK' if ok else 'MISMATCH'}")
    else:
        left, right = fmt(c).splitlines(), fmt(e).splitlines()
        if len(left) == 1 and len(right) == 1 and len(name) + len(left[0]) + len(right[0]) < 80:
            print(f"{name}: {by} {left[0]}   {ref} {right[0]}   {'OK' if ok else 'MISMATCH'}")
            assert ok, f"{name}: {by} gives {c!r}, the {ref} gives {e!r}"
            return
        width = max(max(len(s) for s in left), len(by))
        print(f"{name}:")
        print(f"  {by.ljust(width)}   {ref}")
        for i in range(max(len(left), len(right))):
            lft = left[i] if i < len(left) else ""
            rgt = right[i] if i < len(right) else ""
            print(f"  {lft.ljust(width)}   {rgt}")
        print(f"  -> {'OK: they agree' if ok else 'MISMATCH'}")
    assert ok, f"{name}: {by} gives {c!r}, the {ref} gives {e!r}"


def save_figure(fig: Any, name: str) -> Path:
    """Save ``fig`` as ``lessons/figures/<name>.png``; in a notebook it is first displayed inline
    (as a PNG, whatever the kernel's matplotlib backend), with ``--show`` opened in a window."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = FIGURES / f"{name}.png"
    if NOTEBOOK:  # one rendering, shown inline first, then written to the file
        from IPython.display import Image, display
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        display(Image(data=buffer.getvalue(), format="png"))
        path.write_bytes(buffer.getvalue())
    else:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"[figure] {path}")
    if SHOW:
        plt.show()
    plt.close(fig)  # closed: the inline backend does not show it a second time
    return path
