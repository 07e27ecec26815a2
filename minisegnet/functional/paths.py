"""The one switch between the teaching path and the fast path of the spatial ops.

:mod:`~minisegnet.functional.conv` and :mod:`~minisegnet.functional.pool` are the lecture's
algorithms written to be read (im2col + one GEMM, col2im, splat + crop, windows + argmax).
:mod:`~minisegnet.functional.fast` computes the same ops -- same values to rounding, same
gradients, same errors -- with scratch buffers reused between calls and loops arranged for memory
traffic. The fast path is the default; both are tested against the naive references::

    import minisegnet.functional as F
    F.fast_path(False)             # the teaching path from now on
    with F.fast_path(False):       # ... or inside a block only
        y = F.conv2d(x, w)
    F.fast_path_enabled()          # which one is on
"""

from __future__ import annotations

from typing import Any

__all__ = ["fast_path", "fast_path_enabled"]

_enabled = True
_FAST: dict[type, type] = {}  # teaching Function class -> its fast replacement (filled by fast.py)


def fast_path_enabled() -> bool:
    """True when the spatial ops run :mod:`~minisegnet.functional.fast` (the default)."""
    return _enabled


class fast_path:
    """``fast_path(enabled)``: switch the spatial ops (conv2d, conv_transpose2d, max_pool2d) to the
    fast path (True, the default) or the teaching path (False). Called, it switches from then on;
    used as ``with fast_path(False): ...``, it switches back to the previous setting on exit."""

    def __init__(self, enabled: bool = True) -> None:
        global _enabled
        self.previous, _enabled = _enabled, bool(enabled)

    def __enter__(self) -> fast_path:
        return self

    def __exit__(self, *exc: Any) -> None:
        global _enabled
        _enabled = self.previous

    def __repr__(self) -> str:
        return f"fast_path({_enabled})"


def register(teaching: type, fast: type) -> None:
    """Declare ``fast`` (a Function class) the fast-path implementation of ``teaching``."""
    _FAST[teaching] = fast


def pick(teaching: type) -> type:
    """The Function class an op runs: ``teaching``, or its fast replacement when the switch is
    on."""
    return _FAST.get(teaching, teaching) if _enabled else teaching
