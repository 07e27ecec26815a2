"""Property-based testing for your own ops: hypothesis strategies and ``gradcheck``, public.

minisegnet's own op tests check every forward pass against a naive reference and every backward
pass against central finite differences, on inputs drawn by `hypothesis
<https://hypothesis.readthedocs.io>`_. This module gives a student the same tools::

    from hypothesis import given
    from minisegnet.testing import arrays, shapes, gradcheck

    @given(shapes().flatmap(arrays))
    def test_my_op_backward(x):
        gradcheck(lambda t: MyOp()(t), ms.Tensor(x, requires_grad=True))

When a property fails, hypothesis *shrinks* the input to a minimal failing example (the smallest
shape, the simplest values) and prints it. Lesson 15 (``lessons/15_write_your_own_op.py``) walks
through it with a deliberately wrong backward.

Strategies (all values float64 NumPy arrays, small shapes so that gradcheck stays element by
element):

* ``shapes()``, ``broadcast_pairs()``: array shapes (size-1 axes included) and pairs that broadcast;
* ``arrays(shape, avoid=(0.0,), margin=...)``: values at least ``margin`` away from every kink in
  ``avoid`` (0 for ReLU/abs, +-1/2 for the piece-wise linear unit...), so central differences never
  straddle a kink;
* ``distinct_arrays(shape, spacing=...)``: no ties and no zeros, for max/min/pool-like ops whose
  gradient depends on which element wins;
* ``positive_arrays(shape)``: values in [low, high] with low > 0 (log, sqrt, divisors);
* ``axes(ndim)``, ``permutations(ndim)``, ``crops(shape)``, ``int_indices(n)``: op parameters;
* ``conv_geometries()``, ``pool_geometries()``: (input size, kernel, stride, padding, dilation)
  combinations whose window fits, with the output size they give;
* ``label_maps(num_classes, shape)``: integer class maps for losses and metrics;
* ``seeds()``: seeds for ``numpy.random.default_rng`` where a test draws its own values;
* ``gradcheck`` and ``GradcheckError`` (re-exported from :mod:`minisegnet.gradcheck`).

hypothesis is an optional dependency (``pip install hypothesis``, or the ``test`` extra); importing
this module without it raises an ImportError that says so.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "minisegnet.testing needs the optional dependency hypothesis: "
        "pip install hypothesis (or pip install 'minisegnet[test]')"
    ) from err

from .functional.sizes import conv_output_size
from .gradcheck import GradcheckError, gradcheck

__all__ = [
    "shapes",
    "broadcast_pairs",
    "arrays",
    "distinct_arrays",
    "positive_arrays",
    "axes",
    "permutations",
    "crops",
    "int_indices",
    "Geometry",
    "conv_geometries",
    "pool_geometries",
    "label_maps",
    "seeds",
    "gradcheck",
    "GradcheckError",
    "MAX_DIMS",
    "MAX_SIDE",
]

MAX_DIMS, MAX_SIDE = 3, 4


def shapes(
    min_dims: int = 0, max_dims: int = MAX_DIMS, min_side: int = 1, max_side: int = MAX_SIDE
) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes, size-1 axes included (``min_side=1``)."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def broadcast_pairs(
    max_dims: int = MAX_DIMS, max_side: int = MAX_SIDE
) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """Two shapes that broadcast together (either may have fewer axes or size-1 axes)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=max_dims, max_side=max_side
    ).map(lambda b: b.input_shapes)


def _allowed_intervals(
    low: float, high: float, avoid: tuple[float, ...], margin: float
) -> list[tuple[float, float]]:
    """[low, high] without the open intervals (k - margin, k + margin), as closed intervals."""
    intervals = [(low, high)]
    for k in avoid:
        below, above = k - margin, k + margin
        # rounding can put k - margin a hair closer to k than margin (0.5 - 0.1 = 0.4, and
        # 0.5 - 0.4 = 0.0999...): step the bounds outwards until they keep the margin exactly
        while k - below < margin:
            below = math.nextafter(below, -math.inf)
        while above - k < margin:
            above = math.nextafter(above, math.inf)
        kept = []
        for a, b in intervals:
            if a <= below:
                kept.append((a, min(b, below)))
            if above <= b:
                kept.append((max(a, above), b))
        intervals = kept
    return sorted(set(intervals))


def arrays(
    shape: tuple[int, ...],
    low: float = -3.0,
    high: float = 3.0,
    avoid: tuple[float, ...] = (0.0,),
    margin: float = 0.05,
) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays with values in [low, high], at least ``margin`` from each ``avoid``.

    Drawn from the allowed intervals directly (no ``.filter``: Hypothesis likes to try 0.0 and the
    bounds, and rejecting them trips its filter_too_much health check on some versions)."""
    parts = _allowed_intervals(low, high, avoid, margin)
    if not parts:
        raise ValueError(f"arrays: nothing in [{low}, {high}] lies {margin} away from {avoid}")
    elements = st.one_of([st.floats(a, b, allow_nan=False, allow_infinity=False) for a, b in parts])
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def distinct_arrays(draw: st.DrawFn, shape: tuple[int, ...], spacing: float = 0.1) -> np.ndarray:
    """float64 arrays without ties or zeros: shuffled ``(k + 1/2) spacing``, jitter < spacing/4."""
    n = math.prod(shape)
    order = np.array(draw(st.permutations(range(n))), dtype=np.float64)
    jitter = draw(
        hnp.arrays(
            np.float64,
            n,
            elements=st.floats(-spacing / 4, spacing / 4, exclude_min=True, exclude_max=True),
        )
    )
    return ((order - n // 2 + 0.5) * spacing + jitter).reshape(shape)


def positive_arrays(
    shape: tuple[int, ...], low: float = 0.2, high: float = 3.0
) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays with values in [low, high] (low > 0): log, sqrt, divisors, pow bases."""
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high))


def axes(ndim: int) -> st.SearchStrategy[int | tuple[int, ...] | None]:
    """A reduction's ``axis``: None, one axis or a tuple of distinct axes (negatives included)."""
    if ndim == 0:
        return st.none()
    return st.one_of(
        st.none(), st.integers(-ndim, ndim - 1), hnp.valid_tuple_axes(ndim, min_size=1)
    )


def permutations(ndim: int) -> st.SearchStrategy[tuple[int, ...]]:
    """An order of ``ndim`` axes for permute."""
    return st.permutations(range(ndim)).map(tuple)


@st.composite
def crops(draw: st.DrawFn, shape: tuple[int, ...]) -> tuple[slice, ...]:
    """A crop: one non-empty ``slice(start, stop, step)`` per axis (step +-1 or +-2)."""
    out = []
    for n in shape:
        start = draw(st.integers(0, n - 1))
        stop = draw(st.integers(start + 1, n))
        step = draw(st.sampled_from([1, 2]))
        out.append(
            slice(start, stop, step)
            if draw(st.booleans())
            else slice(stop - 1, start - 1 if start > 0 else None, -step)
        )
    return tuple(out)


def int_indices(n: int, max_len: int = 6) -> st.SearchStrategy[np.ndarray]:
    """A 1-D integer index array into an axis of length ``n``; repeats and negatives allowed."""
    return hnp.arrays(np.int64, st.integers(1, max_len), elements=st.integers(-n, n - 1))


class Geometry(NamedTuple):
    """One side of a convolution or pooling window: the input size and the window's parameters,
    with the output size they give,
    ``floor((size + 2 padding - dilation (kernel - 1) - 1) / stride) + 1``."""

    size: int
    kernel: int
    stride: int
    padding: int
    dilation: int
    out: int


@st.composite
def conv_geometries(
    draw: st.DrawFn,
    max_size: int = 7,
    max_kernel: int = 3,
    max_stride: int = 3,
    max_padding: int = 2,
    max_dilation: int = 2,
) -> Geometry:
    """A convolution geometry whose (dilated) window fits the padded input: ``out >= 1``."""
    kernel = draw(st.integers(1, max_kernel))
    dilation = draw(st.integers(1, max_dilation))
    padding = draw(st.integers(0, max_padding))
    span = dilation * (kernel - 1) + 1
    size = draw(st.integers(max(1, span - 2 * padding), max(max_size, span - 2 * padding)))
    stride = draw(st.integers(1, max_stride))
    return Geometry(
        size,
        kernel,
        stride,
        padding,
        dilation,
        conv_output_size(size, kernel, stride, padding, dilation),
    )


@st.composite
def pool_geometries(
    draw: st.DrawFn, max_size: int = 8, max_kernel: int = 3, max_stride: int = 3
) -> Geometry:
    """A pooling geometry (dilation 1, padding at most half the kernel, as PyTorch requires)."""
    kernel = draw(st.integers(1, max_kernel))
    stride = draw(st.integers(1, max_stride))
    padding = draw(st.integers(0, kernel // 2))
    size = draw(st.integers(max(1, kernel - 2 * padding), max_size))
    return Geometry(
        size, kernel, stride, padding, 1, conv_output_size(size, kernel, stride, padding, 1)
    )


def label_maps(num_classes: int, shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """int64 class maps with values in ``0 .. num_classes - 1`` (targets for losses and metrics)."""
    return hnp.arrays(np.int64, shape, elements=st.integers(0, num_classes - 1))


def seeds() -> st.SearchStrategy[int]:
    """Seeds for ``numpy.random.default_rng`` (any non-negative 31-bit int; shrinks towards 0)."""
    return st.integers(0, 2**31 - 1)
