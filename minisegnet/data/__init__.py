"""Toy segmentation data, generated or bundled (never downloaded), and batching.

* :func:`shapes` -- RGB circles, squares and triangles over noisy colour gradients (4 classes);
* :func:`digits` -- scikit-learn's bundled handwritten digits on a canvas (11 classes; needs
  ``pip install "minisegnet[datasets]"``);
* :class:`ImageFolderDataset` / :func:`image_folder_splits` -- your own images and PNG masks
  (``minisegnet train --data DIR``);
* :func:`load_dataset` / :func:`load_splits` -- deterministic train / val / test splits by seed;
* :class:`DataLoader` -- seeded shuffling, flip augmentation of image and mask together, batches
  on the requested device.
"""

from .dataset import SPLITS, SegmentationDataset, split_seed, train_val_test_split
from .digits import DIGIT_CLASS_NAMES, digits, load_digit_images
from .folder import FOLDER_FRACTIONS, ImageFolderDataset, image_folder_splits, read_class_names
from .images import IMAGE_SUFFIXES, ImageReadError, read_image, read_labels
from .loader import (
    DATASET_NAMES,
    DEFAULT_SPLIT_SIZES,
    DataLoader,
    flip_pairs,
    load_dataset,
    load_splits,
)
from .shapes import SHAPE_KINDS, shape_mask, shapes

__all__ = [
    "SegmentationDataset",
    "SPLITS",
    "split_seed",
    "train_val_test_split",
    "shapes",
    "shape_mask",
    "SHAPE_KINDS",
    "digits",
    "load_digit_images",
    "DIGIT_CLASS_NAMES",
    "DATASET_NAMES",
    "DEFAULT_SPLIT_SIZES",
    "load_dataset",
    "load_splits",
    "DataLoader",
    "flip_pairs",
    "ImageFolderDataset",
    "image_folder_splits",
    "read_class_names",
    "FOLDER_FRACTIONS",
    "IMAGE_SUFFIXES",
    "ImageReadError",
    "read_image",
    "read_labels",
]
