"""A user's own segmentation data: a folder of images and a folder of PNG label masks.

Layout of ``minisegnet train --data DIR`` (see docs/trainer.md)::

    DIR/images/cat.jpg  DIR/masks/cat.png      one split, cut by the seed into
    DIR/images/dog.png  DIR/masks/dog.png      train / val / test (70 / 20 / 10 %)
    DIR/classes.txt                            optional: one class name per line, class 0 first

or, to choose the splits yourself, ``DIR/train/{images,masks}``, ``DIR/val/{images,masks}`` and
optionally ``DIR/test/{images,masks}`` (``classes.txt`` still in ``DIR``).

An image and its mask share a file stem (``cat.jpg`` / ``cat.png``). A mask is a greyscale or
palette PNG whose pixel values are class indices (0 .. K-1), of the image's size.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy

from .dataset import SegmentationDataset
from .images import (
    ImageReadError,
    list_images,
    open_image,
    read_image,
    read_labels,
    resize_image,
    resize_labels,
)

__all__ = ["ImageFolderDataset", "image_folder_splits", "read_class_names", "FOLDER_FRACTIONS"]

#: (train, val, test) fractions of a single ``DIR/images`` folder; val gets at least one image
FOLDER_FRACTIONS = (0.7, 0.2, 0.1)
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def read_class_names(path: str | os.PathLike) -> tuple[str, ...]:
    """Class names from a text file, one per line (class 0 first); blank lines are skipped."""
    path = Path(path)
    try:
        names = tuple(
            line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        )
    except (OSError, UnicodeDecodeError) as exc:
        raise ImageReadError(f"{path}: cannot read the class names ({exc})") from None
    if len(names) < 2:
        raise ValueError(f"{path}: needs at least two class names, one per line (got {len(names)})")
    return names


class ImageFolderDataset(SegmentationDataset):
    """Images from ``images_dir`` and their masks from ``masks_dir``, matched by file stem.

    ``class_names``: a sequence, a path to a text file of names (one per line), or ``None`` (then
    ``num_classes`` or the largest label + 1 decides the count and the names are ``class 0`` ...).
    ``channels``: 1 or 3; ``None`` reads 1 when every image is greyscale, 3 otherwise (see
    :func:`~minisegnet.data.images.read_image` for the conversion). ``size``: resize every image
    (bilinear) and mask (nearest) to ``size`` x ``size``; ``None`` keeps them, which then must
    all have the same size.

    Checked, with an error naming the file: every image has a mask and every mask an image, a mask
    is a greyscale/palette PNG of its image's size, its labels lie in ``[0, num_classes)``, and
    the folder holds at least one image.
    """

    def __init__(
        self,
        images_dir: str | os.PathLike,
        masks_dir: str | os.PathLike,
        class_names: Sequence[str] | str | os.PathLike | None = None,
        num_classes: int | None = None,
        channels: int | None = None,
        size: int | None = None,
        name: str | None = None,
    ) -> None:
        images_dir, masks_dir = Path(images_dir), Path(masks_dir)
        for d, what in ((images_dir, "images"), (masks_dir, "masks")):
            if not d.is_dir():
                raise FileNotFoundError(f"ImageFolderDataset: the {what} folder {d} does not exist")
        files = list_images(images_dir)
        if not files:
            raise ValueError(f"ImageFolderDataset: {images_dir} holds no .png, .jpg or .jpeg image")
        masks = {
            p.stem: p
            for p in masks_dir.iterdir()
            if p.is_file() and p.suffix.lower() == ".png" and not p.name.startswith(".")
        }
        stems = [p.stem for p in files]
        for p in files:
            if p.stem not in masks:
                raise ValueError(
                    f"ImageFolderDataset: {p} has no mask {masks_dir / (p.stem + '.png')}"
                )
            if stems.count(p.stem) > 1:
                raise ValueError(
                    f"ImageFolderDataset: two images share the stem {p.stem!r} in "
                    f"{images_dir}; a mask cannot tell them apart"
                )
        orphans = sorted(set(masks) - set(stems))
        if orphans:
            more = f" (and {len(orphans) - 1} more masks)" if len(orphans) > 1 else ""
            raise ValueError(
                f"ImageFolderDataset: {masks[orphans[0]]} has no image in {images_dir}{more}"
            )
        if isinstance(class_names, (str, os.PathLike)):
            class_names = read_class_names(class_names)
        if class_names is not None:
            class_names = tuple(str(n) for n in class_names)
            if num_classes is not None and num_classes != len(class_names):
                raise ValueError(
                    f"ImageFolderDataset: num_classes={num_classes} but "
                    f"{len(class_names)} class names"
                )
            num_classes = len(class_names)
        if channels is None:
            channels = 1 if all(open_image(p).mode in _GREY_MODES for p in files) else 3
        images, labels = [], []
        for p in files:
            img, lab = read_image(p, channels), read_labels(masks[p.stem])
            if lab.shape != img.shape[1:]:
                raise ValueError(
                    f"ImageFolderDataset: {masks[p.stem]} is "
                    f"{lab.shape[1]}x{lab.shape[0]} but its image {p} is "
                    f"{img.shape[2]}x{img.shape[1]}"
                )
            if num_classes is not None and (lab.min() < 0 or lab.max() >= num_classes):
                raise ValueError(
                    f"ImageFolderDataset: {masks[p.stem]} holds label "
                    f"{int(lab.max())}, outside 0..{num_classes - 1} ({num_classes} classes"
                    + (" in the class-names file" if class_names else "")
                    + ")"
                )
            if size is not None:
                img, lab = resize_image(img, (size, size)), resize_labels(lab, (size, size))
            images.append(img)
            labels.append(lab)
        shapes = {a.shape for a in images}
        if len(shapes) > 1:
            sizes = ", ".join(sorted(f"{s[2]}x{s[1]}" for s in shapes))
            raise ValueError(
                f"ImageFolderDataset: the images in {images_dir} have different "
                f"sizes ({sizes}); give a size to resize them all"
            )
        if num_classes is None:
            num_classes = max(2, int(max(lab.max() for lab in labels)) + 1)
        if class_names is None:
            class_names = tuple(f"class {k}" for k in range(num_classes))
        super().__init__(
            numpy.stack(images),
            numpy.stack(labels),
            num_classes,
            class_names,
            name=name or images_dir.parent.name or "folder",
            info={
                "images": str(images_dir),
                "masks": str(masks_dir),
                "files": [p.name for p in files],
            },
        )


def image_folder_splits(
    root: str | os.PathLike, size: int | None = None, seed: int = 0, channels: int | None = None
) -> dict[str, SegmentationDataset]:
    """The train / val / test splits of a ``--data`` folder (layout in the module docstring).

    A single ``root/images`` + ``root/masks`` folder is shuffled with ``seed`` and cut by
    :data:`FOLDER_FRACTIONS` (val at least one image, train at least one; test may be empty);
    ``root/train`` and ``root/val`` (and ``root/test``) are used as they are.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"--data {root}: "
            + ("a file, not a folder" if root.exists() else "no such folder")
            + "; give a folder holding images/ and "
            "masks/ (or train/ and val/, each holding images/ and masks/)"
        )
    names_file = root / "classes.txt"
    names: tuple[str, ...] | None = read_class_names(names_file) if names_file.is_file() else None
    if (root / "train").is_dir():
        if not (root / "val").is_dir():
            raise ValueError(f"--data {root}: has train/ but no val/; add val/images and val/masks")
        parts = {s: root / s for s in ("train", "val", "test") if (root / s).is_dir()}
        sets: dict[str, SegmentationDataset] = {
            s: ImageFolderDataset(
                d / "images", d / "masks", names, channels=channels, size=size, name=root.name
            )
            for s, d in parts.items()
        }
        if channels is None and len({ds.in_channels for ds in sets.values()}) > 1:
            return image_folder_splits(root, size, seed, channels=3)
        if names is None:  # the splits must agree on the count
            k = max(ds.num_classes for ds in sets.values())
            generic = tuple(f"class {i}" for i in range(k))
            sets = {
                s: SegmentationDataset(ds.images, ds.masks, k, generic, ds.name, ds.info)
                for s, ds in sets.items()
            }
        if "test" not in sets:
            first = sets["train"]
            sets["test"] = first.subset([])
        return sets
    if not (root / "images").is_dir() or not (root / "masks").is_dir():
        raise FileNotFoundError(
            f"--data {root}: expected {root / 'images'} and {root / 'masks'} "
            "(or train/ and val/ sub-folders, each holding images/ and masks/)"
        )
    ds = ImageFolderDataset(
        root / "images", root / "masks", names, channels=channels, size=size, name=root.name
    )
    n = len(ds)
    if n < 2:
        raise ValueError(
            f"--data {root}: {n} image; at least 2 are needed (one to train on, one to validate)"
        )
    n_val = max(1, int(round(n * FOLDER_FRACTIONS[1])))
    n_test = min(int(round(n * FOLDER_FRACTIONS[2])), n - n_val - 1)
    order = numpy.random.default_rng(seed).permutation(n)
    n_train = n - n_val - n_test
    return {
        "train": ds.subset(order[:n_train]),
        "val": ds.subset(order[n_train : n_train + n_val]),
        "test": ds.subset(order[n_train + n_val :]),
    }
