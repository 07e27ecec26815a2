"""The container every toy dataset returns, and the deterministic train / val / test split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy

from ..utils.data import Dataset

__all__ = ["SegmentationDataset", "train_val_test_split", "split_seed", "SPLITS"]

SPLITS = ("train", "val", "test")


@dataclass
class SegmentationDataset(Dataset):
    """Images and their per-pixel labels, held as host (NumPy) arrays.

    ``images``: float32 ``(N, C, H, W)`` with values in about ``[0, 1]``;
    ``masks``: int64 ``(N, H, W)``, each pixel a class index in ``[0, num_classes)`` (0 is the
    background); ``class_names[k]`` names class ``k``. ``dataset[i]`` is ``(image, mask)``.
    """

    images: numpy.ndarray
    masks: numpy.ndarray
    num_classes: int
    class_names: tuple[str, ...]
    name: str = "dataset"
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise ValueError(
                f"SegmentationDataset: images must be (N, C, H, W), got shape {self.images.shape}"
            )
        if (
            self.masks.ndim != 3
            or self.masks.shape[0] != self.images.shape[0]
            or self.masks.shape[1:] != self.images.shape[2:]
        ):
            raise ValueError(
                f"SegmentationDataset: masks must be (N, H, W) matching images "
                f"{self.images.shape}, got {self.masks.shape}"
            )
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"SegmentationDataset: {self.num_classes} classes but "
                f"{len(self.class_names)} class names {self.class_names}"
            )
        self.images = numpy.ascontiguousarray(self.images, dtype=numpy.float32)
        self.masks = numpy.ascontiguousarray(self.masks, dtype=numpy.int64)

    @property
    def in_channels(self) -> int:
        """Channels per image (3 for ``shapes``, 1 for ``digits``)."""
        return int(self.images.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[3])

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[numpy.ndarray, numpy.ndarray]:
        return self.images[index], self.masks[index]

    def subset(self, indices: Sequence[int] | numpy.ndarray) -> SegmentationDataset:
        """A new dataset holding the samples at ``indices`` (copied)."""
        idx = numpy.asarray(indices, dtype=numpy.int64)
        return SegmentationDataset(
            self.images[idx],
            self.masks[idx],
            self.num_classes,
            self.class_names,
            self.name,
            dict(self.info),
        )

    def class_frequencies(self) -> numpy.ndarray:
        """Fraction of all pixels that belong to each class, shape ``(num_classes,)``."""
        counts = numpy.bincount(self.masks.ravel(), minlength=self.num_classes)
        return counts / max(1, counts.sum())

    def __repr__(self) -> str:
        n, c, h, w = self.images.shape
        return (
            f"SegmentationDataset(name={self.name!r}, n={n}, in_channels={c}, size={h}x{w}, "
            f"num_classes={self.num_classes}, class_names={self.class_names})"
        )


def split_seed(seed: int, split: str) -> int:
    """The generator seed of one split: independent streams for train, val and test.

    ``numpy.random.SeedSequence([seed, k])`` with ``k`` the split's index, so the three splits never
    share a random stream and each is reproducible on its own.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use one of {SPLITS}")
    return int(numpy.random.SeedSequence([int(seed), SPLITS.index(split)]).generate_state(1)[0])


def train_val_test_split(
    dataset: SegmentationDataset,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
) -> tuple[SegmentationDataset, SegmentationDataset, SegmentationDataset]:
    """Shuffle ``dataset`` with ``seed`` and cut it into train, val and test parts.

    Deterministic: the same seed always gives the same three parts, which never share a sample.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"train_val_test_split: fractions val={val_fraction}, test={test_fraction} "
            "must be in [0, 1) and sum to less than 1"
        )
    n = len(dataset)
    order = numpy.random.default_rng(seed).permutation(n)
    n_val, n_test = int(round(n * val_fraction)), int(round(n * test_fraction))
    n_train = n - n_val - n_test
    return (
        dataset.subset(order[:n_train]),
        dataset.subset(order[n_train : n_train + n_val]),
        dataset.subset(order[n_train + n_val :]),
    )
