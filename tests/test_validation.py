"""minisegnet.validation: the input checks and dtype helpers the modules share."""

import numpy as np
import pytest

import minisegnet as ms
from minisegnet.validation import (
    as_array,
    check_labels,
    check_probability_range,
    is_float,
    scalar_like,
)


def test_is_float_and_scalar_like():
    assert [is_float(d) for d in (np.float16, np.float32, "float64")] == [True, True, True]
    assert [is_float(d) for d in (np.int64, np.uint8, bool)] == [False, False, False]
    x = np.zeros((), np.float32)
    c = scalar_like(x, 0.5)
    assert c.dtype == np.float32 and (x + c).dtype == np.float32 and float(c) == 0.5


def test_as_array_unwraps_without_copying():
    a = np.arange(6.0).reshape(2, 3)
    assert as_array(a) is a
    assert as_array(ms.Tensor(a)) is a  # a Tensor's .data, not its (memoryview) buffer
    s = np.float32(2.5)
    assert as_array(s) is s
    listed = as_array([[1, 2], [3, 4]])
    assert isinstance(listed, np.ndarray) and listed.dtype.kind == "i" and listed.shape == (2, 2)


def test_check_labels_names_the_op_the_label_and_the_fix():
    check_labels("op", np.array([0, 2, 255]), 3, ignore_index=255)  # in range or ignored: fine
    message = r"op: target holds the label 3, outside \[0, 3\) for K = 3 classes \(pass ignore"
    with pytest.raises(ValueError, match=message):
        check_labels("op", np.array([0, 3]), 3)
    with pytest.raises(ValueError, match=r"label -1.*and it is not ignore_index=255"):
        check_labels("op", np.array([-1]), 3, ignore_index=255)
    with pytest.raises(
        TypeError,
        match=r"op: pred must hold integer class labels, got dtype "
        r"float64 \(shape \(2,\)\); convert with .astype",
    ):
        check_labels("op", np.array([0.0, 1.0]), 3, what="pred")


def test_check_probability_range():
    check_probability_range("op", np.array([0.0, 0.5, 1.0]), "p", "hint")
    check_probability_range("op", np.array([3, 4]), "p", "hint")  # integers are labels: not checked
    with pytest.raises(
        ValueError,
        match=r"op: p holds values in \[-0.5, 2\], outside \[0, 1\], so "
        r"they are not probabilities; use sigmoid",
    ):
        check_probability_range("op", np.array([-0.5, 2.0]), "p", "use sigmoid")
    with pytest.raises(ValueError, match="outside"):
        check_probability_range("op", np.array([np.nan, 0.5]), "p", "")
