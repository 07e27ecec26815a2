"""Named datasets with deterministic splits, and the :class:`DataLoader` that batches them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy

from .. import backend
from ..autograd import Tensor
from .dataset import SPLITS, SegmentationDataset, split_seed
from .digits import digits
from .shapes import shapes

__all__ = ["DATASET_NAMES", "DEFAULT_SPLIT_SIZES", "load_dataset", "load_splits", "DataLoader"]

DATASET_NAMES = ("shapes", "digits")
#: images per split when ``n`` is not given
DEFAULT_SPLIT_SIZES = {"train": 512, "val": 128, "test": 128}


def load_dataset(
    name: str,
    split: str = "train",
    n: int | None = None,
    size: int = 32,
    seed: int = 0,
    **kwargs: Any,
) -> SegmentationDataset:
    """One split of a named dataset (``"shapes"`` or ``"digits"``), generated deterministically.

    Each split draws from its own random stream (:func:`~minisegnet.data.split_seed`), so train,
    val and test are different images and each is the same on every call with the same ``seed``.
    ``digits`` also draws each split's digits from a disjoint pool of the source images.
    Extra keyword arguments go to the generator (:func:`shapes` or :func:`digits`).
    """
    if name not in DATASET_NAMES:
        raise ValueError(f"unknown dataset {name!r}: use one of {DATASET_NAMES}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use one of {SPLITS}")
    n = DEFAULT_SPLIT_SIZES[split] if n is None else int(n)
    sub_seed = split_seed(seed, split)
    if name == "shapes":
        return shapes(n=n, size=size, seed=sub_seed, **kwargs)
    kwargs.setdefault("source", split)
    return digits(n=n, size=size, seed=sub_seed, **kwargs)


def load_splits(
    name: str,
    n_train: int | None = None,
    n_val: int | None = None,
    n_test: int | None = None,
    size: int = 32,
    seed: int = 0,
    **kwargs: Any,
) -> dict[str, SegmentationDataset]:
    """``{"train": ..., "val": ..., "test": ...}`` for a named dataset (:func:`load_dataset`)."""
    counts = {"train": n_train, "val": n_val, "test": n_test}
    return {s: load_dataset(name, s, n=counts[s], size=size, seed=seed, **kwargs) for s in SPLITS}


class DataLoader:
    """Mini-batches of a :class:`SegmentationDataset`, moved to a device.

    Iterating yields ``(images, masks)``: ``images`` a float32 :class:`~minisegnet.Tensor`
    ``(B, C, H, W)`` and ``masks`` an int64 array ``(B, H, W)`` (NumPy or CuPy), both on ``device``.

    * ``shuffle``: a new order every epoch, drawn from the loader's own generator (seeded by
      ``seed``), so runs repeat exactly;
    * ``augment``: each sample is flipped left-right and/or up-down with probability 1/2, image and
      mask together (the label of a pixel moves with the pixel);
    * ``state_dict()`` / ``load_state_dict()`` save and restore the generator, so a resumed run
      sees the same batches as an uninterrupted one.
    """

    def __init__(
        self,
        dataset: SegmentationDataset,
        batch_size: int = 16,
        shuffle: bool = True,
        augment: bool = False,
        seed: int = 0,
        device: str = "cpu",
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        try:
            device = backend.normalize_device(device)  # "cuda" means "gpu"
        except ValueError as e:
            raise ValueError(f"DataLoader: {e}") from None
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.augment = bool(augment)
        self.device = device
        self.drop_last = bool(drop_last)
        self.rng = numpy.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Any]]:
        n = len(self.dataset)
        # every random draw of the epoch happens here, up front, in a fixed order
        order = self.rng.permutation(n) if self.shuffle else numpy.arange(n)
        flips = self.rng.random((n, 2)) < 0.5 if self.augment else None
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            images = self.dataset.images[idx]
            masks = self.dataset.masks[idx]
            if flips is not None:
                images, masks = flip_pairs(images, masks, flips[idx, 0], flips[idx, 1])
            yield (
                Tensor(backend.to_device(numpy.ascontiguousarray(images), self.device)),
                backend.to_device(numpy.ascontiguousarray(masks), self.device),
            )

    def state_dict(self) -> dict:
        """The shuffling / augmentation generator state (JSON-friendly)."""
        return {"bit_generator": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        """Restore a generator state saved by :meth:`state_dict`."""
        self.rng.bit_generator.state = state["bit_generator"]


def flip_pairs(
    images: numpy.ndarray, masks: numpy.ndarray, horizontal: numpy.ndarray, vertical: numpy.ndarray
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Flip sample ``i`` left-right where ``horizontal[i]`` and up-down where ``vertical[i]``.

    ``images`` (B, C, H, W) and ``masks`` (B, H, W) are flipped together; returns new arrays.
    """
    images, masks = images.copy(), masks.copy()
    images[horizontal] = images[horizontal][..., ::-1]
    masks[horizontal] = masks[horizontal][..., ::-1]
    images[vertical] = images[vertical][..., ::-1, :]
    masks[vertical] = masks[vertical][:, ::-1, :]
    return images, masks
