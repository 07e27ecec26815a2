"""1,000 training-like iterations must not grow memory: the graph is freed after every backward().

A two-layer perceptron on a fixed batch (matmul + ReLU + softmax + log + mean, backward, an
in-place SGD step on ``.data`` under no_grad), measured with tracemalloc (NumPy reports its array
buffers to it). ``pytest -s`` prints the figure.
"""

import gc
import tracemalloc

import numpy as np

import minisegnet.functional as F
from minisegnet import Function, Tensor, no_grad

GROWTH_LIMIT = 100 * 1024  # bytes between iteration 100 and iteration 1,000


def _live_functions() -> int:
    return sum(isinstance(o, Function) for o in gc.get_objects())


def test_training_loop_memory_is_flat():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((32, 8)).astype(np.float32))
    labels = rng.integers(0, 4, size=32)
    onehot = Tensor(np.eye(4, dtype=np.float32)[labels])
    params = [
        Tensor(rng.standard_normal(s).astype(np.float32) * 0.3, requires_grad=True)
        for s in [(8, 16), (16,), (16, 4), (4,)]
    ]
    w1, b1, w2, b2 = params

    def step() -> float:
        h = F.relu(x @ w1 + b1)
        p = F.softmax(h @ w2 + b2, axis=1)
        loss = -(onehot * F.log(p)).sum(axis=1).mean()
        loss.backward()
        with no_grad():
            for q in params:
                q.data -= 0.1 * q.grad.data
                q.grad = None
        return loss.item()

    tracemalloc.start()
    try:
        first = step()
        for _ in range(99):
            step()
        gc.collect()
        at_100, functions_100 = tracemalloc.get_traced_memory()[0], _live_functions()
        for _ in range(899):
            step()
        last = step()
        gc.collect()
        at_1000, functions_1000 = tracemalloc.get_traced_memory()[0], _live_functions()
    finally:
        tracemalloc.stop()
    growth = at_1000 - at_100
    print(
        f"\ntraced memory after 100 iterations: {at_100} B, after 1,000: {at_1000} B, "
        f"growth {growth} B ({growth / 1024:.1f} KiB); live Function objects {functions_100} -> "
        f"{functions_1000}; loss {first:.3f} -> {last:.3f}"
    )
    assert growth < GROWTH_LIMIT, f"memory grew by {growth} B over 900 iterations"
    assert functions_1000 <= functions_100  # no graph survives an iteration
    assert last < 0.5 * first  # and it was really training
