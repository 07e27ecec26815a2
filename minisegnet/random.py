"""The one random-number generator behind weight initialisation and dropout masks.

``minisegnet.manual_seed(seed)`` makes a run reproducible: every random draw in the package
(He / bilinear initialisation of layers, dropout masks) comes from one NumPy ``Generator``
(PCG64), drawn on the CPU and then copied to the layer's device, so a seed gives the same
numbers on the CPU and on the GPU. ``get_state()`` / ``set_state()`` save and restore it (the
trainer stores it in checkpoints so that a resumed run draws the same dropout masks).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy

__all__ = ["manual_seed", "get_state", "set_state", "generator"]

_generator = numpy.random.Generator(numpy.random.PCG64(0))


def manual_seed(seed: int) -> numpy.random.Generator:
    """Seed the package-wide generator (weight init, dropout masks); returns it."""
    if isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _generator.bit_generator.state = numpy.random.PCG64(int(seed)).state
    return _generator


def generator() -> numpy.random.Generator:
    """The package-wide NumPy generator (always the same object; reseeded in place)."""
    return _generator


def get_state() -> dict[str, Any]:
    """A copy of the generator's state (a plain dict of ints and strings: picklable, JSON-able)."""
    return copy.deepcopy(dict(_generator.bit_generator.state))


def set_state(state: dict[str, Any]) -> None:
    """Restore a state returned by :func:`get_state`."""
    if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
        raise ValueError(
            "set_state: expected a dict returned by minisegnet.random.get_state() "
            f"(a PCG64 state), got {type(state).__name__}"
        )
    _generator.bit_generator.state = copy.deepcopy(state)
