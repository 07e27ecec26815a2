"""The one output-size helper module: every spatial op (and every model checking shapes) uses it.

Sizes along one axis (``n`` input rows, kernel ``k``, stride ``s``, padding ``p``, dilation ``d``):

* convolution / pooling (a window of extent ``d(k-1)+1`` slid ``s`` apart over the padded input)::

      n_out = floor((n + 2p - d(k-1) - 1) / s) + 1

* transposed convolution (deck 003: splat each input value times the kernel ``s`` apart, then *crop*
  ``p`` rows/columns at every border; ``output_padding`` ``a`` adds rows back at the bottom/right)::

      n_out = (n - 1)s - 2p + d(k-1) + a + 1,      0 <= a < max(s, d)

  so a transposed convolution can reach ``max(s, d)`` consecutive sizes; :func:`reachable_sizes`
  lists them and :func:`output_padding_for` picks ``a`` for a requested size (or says why not).

* max-unpooling (the inverse of a pool): ``n_out = (n - 1)s - 2p + k``.

Arguments may be an int or a pair ``(h, w)``; :func:`pair` normalises them and the ``check_*``
functions raise the ``ValueError`` messages (op name, shapes, the rule broken) all ops share.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

__all__ = [
    "IntOrPair",
    "pair",
    "conv_output_size",
    "pool_output_size",
    "conv_transpose_output_size",
    "unpool_output_size",
    "reachable_sizes",
    "output_padding_for",
    "conv2d_output_shape",
    "conv_transpose2d_output_shape",
    "pool2d_output_shape",
    "check_4d",
    "check_window_fits",
]

IntOrPair = int | Sequence[int]


def pair(value: IntOrPair, name: str, op: str, minimum: int | None = None) -> tuple[int, int]:
    """``3 -> (3, 3)``, ``(3, 5) -> (3, 5)``; raise a ValueError naming ``op`` when invalid.

    Integers are Python ints or NumPy integers (anything with ``__index__``), never bools or
    floats: a TypeError names ``op``. ``minimum``: smallest allowed value (1 for kernel sizes,
    strides and dilations, 0 for paddings). The one rule for ``F.conv2d`` and ``nn.Conv2d`` alike.
    """
    bad_type = TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    one = _as_int(value)
    if one is not None:
        h = w = one
    else:
        try:
            items = list(value)  # type: ignore[arg-type]  # mypy: an int would not get here
        except TypeError:
            raise bad_type from None
        if len(items) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair (h, w), got {value!r}")
        first, second = _as_int(items[0]), _as_int(items[1])
        if first is None or second is None:
            raise bad_type
        h, w = first, second
    if minimum is not None and min(h, w) < minimum:
        rule = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{op}: {name} must be {rule}, got {value!r}")
    return h, w


def _as_int(value: Any) -> int | None:
    """``value`` as an int when it is an integer (a NumPy one included, not a bool), else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def conv_output_size(n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """floor((n + 2p - d(k-1) - 1) / s) + 1: positions of a dilated k-window in the padded input."""
    return (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def pool_output_size(n: int, k: int, stride: int | None = None, padding: int = 0) -> int:
    """Pooling output size: the convolution rule with dilation 1 (stride defaults to k)."""
    return conv_output_size(n, k, k if stride is None else stride, padding, 1)


def conv_transpose_output_size(
    n: int, k: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> int:
    """(n-1)s - 2p + d(k-1) + output_padding + 1  (splat stride apart, crop p at each border)."""
    return (n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1


def unpool_output_size(n: int, k: int, stride: int | None = None, padding: int = 0) -> int:
    """(n-1)s - 2p + k: the size a pool with these parameters came from (the smallest one)."""
    s = k if stride is None else stride
    return (n - 1) * s - 2 * padding + k


def reachable_sizes(
    n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> list[int]:
    """The output sizes a transposed convolution can produce: one per output_padding < max(s, d)."""
    base = conv_transpose_output_size(n, k, stride, padding, 0, dilation)
    return [base + a for a in range(max(stride, dilation)) if base + a > 0]


def output_padding_for(
    size: int,
    n: int,
    k: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    op: str = "conv_transpose2d",
    axis: str = "",
) -> int:
    """The output_padding that makes a transposed convolution produce ``size`` rows (or a ValueError
    listing the reachable sizes)."""
    sizes = reachable_sizes(n, k, stride, padding, dilation)
    if size not in sizes:
        raise ValueError(
            f"{op}: output_size {size}{' along ' + axis if axis else ''} cannot be reached from "
            f"input size {n} with kernel {k}, stride {stride}, padding (crop) {padding}, "
            f"dilation {dilation}: "
            f"the reachable sizes are {sizes} (H_out = (H-1)s - 2p + d(k-1) + output_padding + 1, "
            f"0 <= output_padding < max(stride, dilation))"
        )
    return size - conv_transpose_output_size(n, k, stride, padding, 0, dilation)


def _hw(shape: Sequence[int]) -> tuple[int, int]:
    return int(shape[-2]), int(shape[-1])


def conv2d_output_shape(
    shape: Sequence[int],
    out_channels: int,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> tuple[int, int, int, int]:
    """(N, C_out, H_out, W_out) of ``conv2d`` on an input of ``shape`` (N, C, H, W)."""
    k, s = pair(kernel_size, "kernel_size", "conv2d", 1), pair(stride, "stride", "conv2d", 1)
    p, d = pair(padding, "padding", "conv2d", 0), pair(dilation, "dilation", "conv2d", 1)
    h, w = _hw(shape)
    return (
        int(shape[0]),
        out_channels,
        conv_output_size(h, k[0], s[0], p[0], d[0]),
        conv_output_size(w, k[1], s[1], p[1], d[1]),
    )


def conv_transpose2d_output_shape(
    shape: Sequence[int],
    out_channels: int,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> tuple[int, int, int, int]:
    """(N, C_out, H_out, W_out) of ``conv_transpose2d`` on an input of ``shape``."""
    op = "conv_transpose2d"
    k, s = pair(kernel_size, "kernel_size", op, 1), pair(stride, "stride", op, 1)
    p, a = pair(padding, "padding", op, 0), pair(output_padding, "output_padding", op, 0)
    d = pair(dilation, "dilation", op, 1)
    h, w = _hw(shape)
    return (
        int(shape[0]),
        out_channels,
        conv_transpose_output_size(h, k[0], s[0], p[0], a[0], d[0]),
        conv_transpose_output_size(w, k[1], s[1], p[1], a[1], d[1]),
    )


def pool2d_output_shape(
    shape: Sequence[int],
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
) -> tuple[int, int, int, int]:
    """(N, C, H_out, W_out) of ``max_pool2d`` / ``avg_pool2d``."""
    k = pair(kernel_size, "kernel_size", "pool2d", 1)
    s = k if stride is None else pair(stride, "stride", "pool2d", 1)
    p = pair(padding, "padding", "pool2d", 0)
    h, w = _hw(shape)
    return (
        int(shape[0]),
        int(shape[1]),
        pool_output_size(h, k[0], s[0], p[0]),
        pool_output_size(w, k[1], s[1], p[1]),
    )


# ----------------------------------------------------------------------------------------------
# validation shared by the ops


def check_4d(x: Any, op: str, name: str = "input") -> None:
    """Raise unless ``x`` is 4-D (N, C, H, W)."""
    if getattr(x, "ndim", None) != 4:
        shape = tuple(getattr(x, "shape", ()))
        raise ValueError(
            f"{op}: expected a 4-D {name} (N, C, H, W), got shape {shape} "
            f"({len(shape)}-D); add a batch axis with x.reshape(1, *x.shape) if needed"
        )


def check_window_fits(
    op: str,
    shape: Sequence[int],
    kernel: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> None:
    """Raise unless the (dilated) kernel fits inside the padded input."""
    h, w = _hw(shape)
    eh, ew = dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1
    ph, pw = h + 2 * padding[0], w + 2 * padding[1]
    if eh > ph or ew > pw:
        dil = f" (extent {eh}x{ew} with dilation {dilation})" if dilation != (1, 1) else ""
        raise ValueError(
            f"{op}: kernel {kernel[0]}x{kernel[1]}{dil} is larger than the padded input {ph}x{pw} "
            f"(input shape {tuple(shape)}, padding {padding}); the kernel must fit inside the "
            "padded input: use a smaller kernel, more padding, or a larger input"
        )
