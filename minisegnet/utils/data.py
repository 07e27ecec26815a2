"""``torch.utils.data``'s habits: ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split`` and a
``DataLoader`` over any map-style dataset.

A map-style dataset is anything with ``__len__`` and ``__getitem__(i)`` -- a
:class:`Dataset` subclass, a :class:`~minisegnet.data.SegmentationDataset`, or a plain list of
``(image, mask)`` pairs. ``DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False,
collate_fn=None)`` reads ``dataset[i]`` for the indices of each batch and merges the samples with
``collate_fn`` (default :func:`default_collate`, PyTorch's rules):

* Tensors and NumPy/CuPy arrays are stacked along a new first axis into one Tensor (dtype kept);
* Python ints become an int64 Tensor, floats a float64 Tensor (PyTorch's rule), bools a bool one;
* strings stay a list; dicts, tuples and lists are merged field by field (a tuple becomes a list,
  a named tuple stays one), so ``for images, masks in loader`` works on ``(image, mask)`` pairs.

``shuffle=True`` draws a new order at the start of every epoch from the package-wide generator
(:func:`minisegnet.manual_seed` makes it repeat), or from ``generator`` (a NumPy ``Generator``).
Batches are built on the CPU in the main process: move them with ``.to(device)``
(``num_workers`` and ``pin_memory`` are accepted for PyTorch's sake and change nothing).

The trainer uses :class:`minisegnet.data.DataLoader` instead: the same batches for
:class:`~minisegnet.data.SegmentationDataset` s, plus flip augmentation, its own seeded generator
saved in checkpoints, and batches built on the training device.
"""

from __future__ import annotations

import collections.abc
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy

from .. import backend
from .. import random as msrandom
from ..autograd import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader", "default_collate"]


class Dataset:
    """Base class of map-style datasets: define ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Samples are the i-th rows of the given tensors / arrays: ``dataset[i] = (t0[i], t1[i], ...)``
    (each a Tensor). Every tensor must have the same first dimension."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        sizes = [t.shape[0] if t.ndim else None for t in self.tensors]
        if None in sizes or len(set(sizes)) != 1:
            raise ValueError(
                "TensorDataset: every tensor needs the same first dimension (one row "
                f"per sample), got shapes {[t.shape for t in self.tensors]}"
            )

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(Tensor(t.data[index]) for t in self.tensors)

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, [int(i) for i in indices]

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Any, lengths: Sequence[float], generator: Any = None) -> list[Subset]:
    """Split ``dataset`` at random into subsets of the given lengths (counts summing to
    ``len(dataset)``, or fractions summing to 1; leftover items of fractions go to the first
    subsets in turn, as PyTorch does). The permutation comes from ``generator`` or the package-wide
    generator (:func:`minisegnet.manual_seed`)."""
    n = len(dataset)
    if lengths and all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1):
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        counts = [int(x) for x in lengths]
    if sum(counts) != n or any(c < 0 for c in counts):
        raise ValueError(
            f"random_split: lengths {list(lengths)} must be counts summing to the "
            f"dataset's length {n}, or fractions summing to 1"
        )
    order = (generator or msrandom.generator()).permutation(n)
    bounds = numpy.cumsum([0] + counts)
    return [Subset(dataset, order[a:b].tolist()) for a, b in zip(bounds[:-1], bounds[1:])]


def _stack(batch: Sequence[Any]) -> Tensor:
    arrays = [b.data if isinstance(b, Tensor) else b for b in batch]
    device = backend.check_same_device(*arrays, op="default_collate")
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) > 1:
        raise ValueError(
            f"default_collate: cannot stack samples of shapes {sorted(shapes)} into "
            "one batch; give the samples one shape (resize or crop them), or pass "
            "a collate_fn"
        )
    if arrays[0].dtype.kind not in "biuf":
        raise TypeError(
            f"default_collate: cannot batch arrays of dtype {arrays[0].dtype}; "
            "samples hold numbers (or pass a collate_fn)"
        )
    return Tensor(backend.xp_for(device).stack(arrays))


def default_collate(batch: Sequence[Any]) -> Any:
    """Merge a list of samples into a batch, following PyTorch's ``default_collate`` (see the
    module docstring for the rules)."""
    elem = batch[0]
    if isinstance(elem, Tensor) or backend.is_array(elem):
        return _stack(batch)
    if isinstance(elem, numpy.generic):
        return Tensor(numpy.asarray(batch))
    if isinstance(elem, bool):
        return Tensor(numpy.asarray(batch, dtype=bool))
    if isinstance(elem, int):
        return Tensor(numpy.asarray(batch, dtype=numpy.int64))
    if isinstance(elem, float):
        return Tensor(numpy.asarray(batch, dtype=numpy.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a named tuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        sizes = {len(b) for b in batch}
        if len(sizes) != 1:
            raise ValueError(
                f"default_collate: every sample must have the same number of "
                f"fields, got {sorted(sizes)}"
            )
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(
        f"default_collate: cannot batch a {type(elem).__name__}; samples are "
        "Tensors, arrays, numbers, strings, or dicts / tuples / lists of them (or "
        "pass a collate_fn)"
    )


class DataLoader:
    """Batches of any map-style dataset, PyTorch's ``DataLoader`` (see the module docstring).

    ``batch_size=None`` yields the samples one by one, as they are (no collation).
    ``len(loader)`` is the number of batches per epoch.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        collate_fn: Callable[[list], Any] | None = None,
        generator: numpy.random.Generator | None = None,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                f"DataLoader: the dataset must be map-style (define __len__ and "
                f"__getitem__, e.g. a list of (image, mask) pairs), got "
                f"{type(dataset).__name__}"
            )
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
        ):
            raise ValueError(
                f"DataLoader: batch_size must be a positive int (or None), got {batch_size!r}"
            )
        self.dataset, self.batch_size = dataset, batch_size
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        self.generator = generator
        self.num_workers, self.pin_memory = num_workers, pin_memory

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        if self.shuffle:
            order = (self.generator or msrandom.generator()).permutation(n)
        else:
            order = numpy.arange(n)
        if self.batch_size is None:
            for i in order:
                yield self.dataset[int(i)]
            return
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield self.collate_fn([self.dataset[int(i)] for i in idx])
