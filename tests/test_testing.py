"""minisegnet.testing: the public strategies draw what they promise, and gradcheck is reachable."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minisegnet as ms
import minisegnet.functional as F
from minisegnet import testing


@given(testing.conv_geometries())
def test_conv_geometries_fit_and_give_the_output_size_conv2d_gives(g):
    x = ms.Tensor(np.zeros((1, 1, g.size, g.size)))
    w = ms.Tensor(np.zeros((1, 1, g.kernel, g.kernel)))
    y = F.conv2d(x, w, stride=g.stride, padding=g.padding, dilation=g.dilation)
    assert g.out >= 1 and y.shape[2:] == (g.out, g.out)


@given(testing.pool_geometries())
def test_pool_geometries_fit_and_give_the_output_size_max_pool2d_gives(g):
    x = ms.Tensor(np.zeros((1, 1, g.size, g.size)))
    y = F.max_pool2d(x, g.kernel, g.stride, g.padding)
    assert g.out >= 1 and y.shape[2:] == (g.out, g.out)


@given(st.integers(1, 5).flatmap(lambda k: st.tuples(st.just(k), testing.label_maps(k, (2, 3, 3)))))
def test_label_maps_hold_classes_in_range(drawn):
    k, labels = drawn
    assert labels.dtype == np.int64 and labels.shape == (2, 3, 3)
    assert labels.min() >= 0 and labels.max() <= k - 1


@given(testing.shapes().flatmap(lambda s: testing.arrays(s, avoid=(0.0, 0.5), margin=0.1)))
def test_arrays_keep_away_from_the_kinks(x):
    assert x.dtype == np.float64
    assert np.all(np.abs(x) >= 0.1) and np.all(np.abs(x - 0.5) >= 0.1)


@given(testing.shapes(min_dims=1).flatmap(testing.distinct_arrays))
def test_distinct_arrays_have_no_ties_and_no_zeros(x):
    flat = np.sort(x.ravel())
    assert np.all(np.diff(flat) >= 0.05 - 1e-12) and np.all(np.abs(flat) >= 0.025 - 1e-12)


class _Cube(ms.Function):
    def __init__(self, wrong: bool = False) -> None:
        self.wrong = wrong

    def forward(self, x):
        self.x = x
        return x**3

    def backward(self, gy):
        return gy * (2 if self.wrong else 3) * self.x**2


def test_gradcheck_from_testing_accepts_a_right_backward_and_names_a_wrong_one():
    assert testing.gradcheck is ms.gradcheck
    x = ms.Tensor(np.array([0.5, -1.2, 2.0]), requires_grad=True)
    testing.gradcheck(lambda t: _Cube()(t), x)
    with pytest.raises(testing.GradcheckError):
        testing.gradcheck(lambda t: _Cube(wrong=True)(t), x)


def test_without_hypothesis_the_import_error_says_what_to_install():
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "try:\n    import minisegnet.testing\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "minisegnet.testing needs the optional dependency hypothesis" in out.stdout, out.stderr
    assert "pip install hypothesis" in out.stdout
