"""Hypothesis strategies shared by the op tests (import with ``from strategies import ...``).

Shapes are small (at most 3 axes of at most 4, so gradcheck stays element by element) and include
size-1 axes. Values are float64 NumPy arrays; the op tests move them to the device under test.

* ``shapes()``, ``broadcast_pairs()``: shapes, and pairs of shapes that broadcast together;
* ``arrays(shape, avoid=(0.0,), margin=...)``: floats at least ``margin`` away from every kink in
  ``avoid`` (0 for ReLU/abs/sign, +-1/2 for the piece-wise linear unit, clip bounds...), so central
  differences never straddle a kink;
* ``distinct_arrays(shape, spacing=...)``: no ties and no zeros (a shuffled, scaled ``arange`` plus a
  small jitter): any two values differ by >= spacing/2 and |value| >= spacing/4, for max/min,
  maximum/minimum and sort-like ops whose gradient depends on which element wins;
* ``positive_arrays(shape)``: values in [low, high] with low > 0, for log, sqrt, pow bases, divisors;
* op parameters: ``axes(ndim)`` (None, an int or a tuple, negatives included), ``permutations(ndim)``,
  ``crops(shape)`` (tuples of slices), ``int_indices(n)`` (integer arrays with repeats).

Pass the strategies' values straight into a ``@given`` or draw from them in ``st.data()``.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_DIMS, MAX_SIDE = 3, 4


def shapes(min_dims: int = 0, max_dims: int = MAX_DIMS, min_side: int = 1,
           max_side: int = MAX_SIDE) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes, size-1 axes included (``min_side=1``)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcast_pairs(max_dims: int = MAX_DIMS,
                    max_side: int = MAX_SIDE) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """Two shapes that broadcast together (either may have fewer axes or size-1 axes)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims,
                                             max_side=max_side).map(lambda b: b.input_shapes)


def _allowed_intervals(low: float, high: float, avoid: tuple[float, ...],
                       margin: float) -> list[tuple[float, float]]:
    """[low, high] without the open intervals (k - margin, k + margin), as closed intervals."""
    intervals = [(low, high)]
    for k in avoid:
        kept = []
        for a, b in intervals:
            if a <= k - margin:
                kept.append((a, min(b, k - margin)))
            if k + margin <= b:
                kept.append((max(a, k + margin), b))
        intervals = kept
    return sorted(set(intervals))


def arrays(shape: tuple[int, ...], low: float = -3.0, high: float = 3.0,
           avoid: tuple[float, ...] = (0.0,), margin: float = 0.05) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays with values in [low, high], each at least ``margin`` from every ``avoid`` point.

    Drawn from the allowed intervals directly (no ``.filter``: Hypothesis likes to try 0.0 and the
    bounds, and rejecting them trips its filter_too_much health check on some versions)."""
    parts = _allowed_intervals(low, high, avoid, margin)
    if not parts:
        raise ValueError(f"arrays: nothing in [{low}, {high}] lies {margin} away from {avoid}")
    elements = st.one_of([st.floats(a, b, allow_nan=False, allow_infinity=False) for a, b in parts])
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def distinct_arrays(draw, shape: tuple[int, ...], spacing: float = 0.1) -> np.ndarray:
    """float64 arrays without ties or zeros: a shuffled ``(k + 1/2) * spacing`` plus jitter < spacing/4."""
    n = math.prod(shape)
    order = np.array(draw(st.permutations(range(n))), dtype=np.float64)
    jitter = draw(hnp.arrays(np.float64, n, elements=st.floats(-spacing / 4, spacing / 4,
                                                               exclude_min=True, exclude_max=True)))
    return ((order - n // 2 + 0.5) * spacing + jitter).reshape(shape)


def positive_arrays(shape: tuple[int, ...], low: float = 0.2,
                    high: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays with values in [low, high] (low > 0): log, sqrt, divisors, pow bases."""
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high))


def axes(ndim: int) -> st.SearchStrategy[int | tuple[int, ...] | None]:
    """A reduction's ``axis``: None, one axis or a tuple of distinct axes (negative ones included)."""
    if ndim == 0:
        return st.none()
    return st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                     hnp.valid_tuple_axes(ndim, min_size=1))


def permutations(ndim: int) -> st.SearchStrategy[tuple[int, ...]]:
    """An order of ``ndim`` axes for permute."""
    return st.permutations(range(ndim)).map(tuple)


@st.composite
def crops(draw, shape: tuple[int, ...]) -> tuple[slice, ...]:
    """A crop: one non-empty ``slice(start, stop, step)`` per axis (step 1 or 2, may be negative)."""
    out = []
    for n in shape:
        start = draw(st.integers(0, n - 1))
        stop = draw(st.integers(start + 1, n))
        step = draw(st.sampled_from([1, 2]))
        out.append(slice(start, stop, step) if draw(st.booleans()) else
                   slice(stop - 1, start - 1 if start > 0 else None, -step))
    return tuple(out)


def int_indices(n: int, max_len: int = 6) -> st.SearchStrategy[np.ndarray]:
    """A 1-D integer index array into an axis of length ``n``; repeats and negatives allowed."""
    return hnp.arrays(np.int64, st.integers(1, max_len), elements=st.integers(-n, n - 1))
