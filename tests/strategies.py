"""Hypothesis strategies shared by the op tests (import with ``from strategies import ...``).

They are the public ones of :mod:`minisegnet.testing` (students test their own ops with the same
strategies); this module re-exports them under the names the tests use.

Shapes are small (at most 3 axes of at most 4, so gradcheck stays element by element) and include
size-1 axes. Values are float64 NumPy arrays; the op tests move them to the device under test.

* ``shapes()``, ``broadcast_pairs()``: shapes, and pairs of shapes that broadcast together;
* ``arrays(shape, avoid=(0.0,), margin=...)``: floats at least ``margin`` away from every kink in
  ``avoid`` (0 for ReLU/abs/sign, +-1/2 for the piece-wise linear unit, clip bounds...), so central
  differences never straddle a kink;
* ``distinct_arrays(shape, spacing=...)``: no ties and no zeros (a shuffled, scaled ``arange``
  plus a small jitter): any two values differ by >= spacing/2 and |value| >= spacing/4, for max/min,
  maximum/minimum and sort-like ops whose gradient depends on which element wins;
* ``positive_arrays(shape)``: values in [low, high], low > 0, for log, sqrt, pow bases, divisors;
* op parameters: ``axes(ndim)`` (None, an int or a tuple, negatives included),
  ``permutations(ndim)``, ``crops(shape)`` (tuples of slices), ``int_indices(n)`` (integer arrays
  with repeats); ``seeds()`` for tests that draw their own values from a seeded generator.

Pass the strategies' values straight into a ``@given`` or draw from them in ``st.data()``.
"""

from minisegnet.testing import (
    MAX_DIMS,
    MAX_SIDE,
    arrays,
    axes,
    broadcast_pairs,
    conv_geometries,
    crops,
    distinct_arrays,
    int_indices,
    label_maps,
    permutations,
    pool_geometries,
    positive_arrays,
    seeds,
    shapes,
)

__all__ = [
    "MAX_DIMS",
    "MAX_SIDE",
    "arrays",
    "axes",
    "broadcast_pairs",
    "conv_geometries",
    "crops",
    "distinct_arrays",
    "int_indices",
    "label_maps",
    "permutations",
    "pool_geometries",
    "positive_arrays",
    "seeds",
    "shapes",
]
