"""Helpers shared by the model tests: the overfit-one-batch check (two 16x16 one-channel images
with one rectangle each; a network that can learn anything must drive their loss to (nearly)
zero), ``with_params`` for gradchecks with respect to every weight, and the input-size checks
every "any H, W" model passes."""

import numpy as np
import pytest

import minisegnet as ms
import minisegnet.functional as F
from minisegnet import Tensor, gradcheck


def overfit_two_masks(model, steps: int, stop_below: float) -> tuple[list[float], float]:
    """Adam (lr 0.01) on the batch until the loss is below ``stop_below`` or ``steps`` run out.
    Returns the loss history and the final pixel accuracy of the argmax labels."""
    rng = np.random.default_rng(0)
    mask = np.zeros((2, 16, 16), np.int64)
    mask[0, 3:9, 4:12] = 1
    mask[1, 8:14, 2:7] = 1
    x = Tensor((rng.standard_normal((2, 1, 16, 16)) * 0.3 + mask[:, None]).astype(np.float32))
    onehot = Tensor(np.stack([mask == 0, mask == 1], 1).astype(np.float32))
    opt = ms.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(steps):
        loss = -(F.log_softmax(model(x), axis=1) * onehot).sum() / mask.size
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if losses[-1] < stop_below:
            break
    return losses, float((model(x).numpy().argmax(1) == mask).mean())


def with_params(m):
    """(fn(x, *params), params): the model with its weights swapped for the given tensors."""
    slots = [(mod, n) for mod in m.modules() for n, p in mod._parameters.items() if p is not None]
    params = [Tensor(mod._parameters[n].data.copy(), requires_grad=True) for mod, n in slots]

    def fn(x, *ps):
        saved = [mod._parameters[n] for mod, n in slots]
        for (mod, n), t in zip(slots, ps):
            mod._parameters[n] = t
        try:
            return m(x)
        finally:
            for (mod, n), p in zip(slots, saved):
                mod._parameters[n] = p

    return fn, params


def gradcheck_tiny_model(m, x) -> None:
    """Float64 gradchecks of a tiny model: w.r.t. the input, then w.r.t. every weight (random
    directions), the weights swapped in for the call."""
    x.requires_grad = True
    assert gradcheck(lambda x: m(x), x, atol=1e-6, rtol=1e-4, n_directions=4)
    fn, params = with_params(m)
    x.requires_grad = False
    assert gradcheck(fn, x, *params, atol=1e-6, rtol=1e-4, max_elements=0, n_directions=2)


def rand(shape, seed=0, dtype=np.float32) -> Tensor:
    """A standard-normal tensor (float32 unless asked), seeded."""
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def check_any_input_size(make, hw) -> None:
    """``make(in_channels, num_classes)`` maps a (2, 2, H, W) batch to (2, 5, H, W) finite
    scores."""
    ms.manual_seed(0)
    y = make(2, 5)(rand((2, 2, *hw)))
    assert y.shape == (2, 5, *hw)
    assert np.isfinite(y.numpy()).all()


def check_rejects_wrong_channels(make) -> None:
    """A 3-channel batch into a 2-channel model: the error names the shape expected and given."""
    with pytest.raises(
        ValueError,
        match=r"expected an \(N, 2, H, W\) input \(any H, W >= 1\), got "
        r"shape \(1, 3, 16, 16\)",
    ):
        make(2, 5)(rand((1, 3, 16, 16)))
