"""Reading a user's own image files (PNG, JPEG, anything Pillow opens) as model inputs.

Pillow comes with matplotlib; it is imported only when a file is read.

Channel rule (:func:`read_image`), to the channel count the model was trained on:

* 3 channels (RGB): greyscale is repeated into R, G and B; RGBA and LA drop the alpha channel (no
  compositing); palette images take their palette colours;
* 1 channel: colour images become grey by luminance, ITU-R 601-2 (Pillow's ``"L"`` mode):
  ``L = 0.299 R + 0.587 G + 0.114 B``; alpha is dropped.

Values are scaled to [0, 1] (8-bit: divided by 255), as the built-in datasets are.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageReadError",
    "open_image",
    "read_image",
    "read_labels",
    "list_images",
    "resize_image",
    "resize_labels",
]

#: file endings read as images (case-insensitive)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class ImageReadError(ValueError):
    """A file that cannot be read as an image (missing, not an image, damaged, unsupported)."""


def open_image(path: Path) -> Any:
    """The Pillow image at ``path``, loaded; :class:`ImageReadError` naming the file if not."""
    from PIL import Image, UnidentifiedImageError

    if not path.exists():
        raise ImageReadError(f"{path}: no such file")
    if not path.is_file():
        raise ImageReadError(f"{path}: not a file")
    try:
        img = Image.open(path)
        img.load()
    except UnidentifiedImageError:
        raise ImageReadError(
            f"{path}: not an image Pillow can read (PNG or JPEG expected)"
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"{path}: cannot be read as an image ({exc})") from None
    return img


def read_image(path: str | os.PathLike, channels: int) -> numpy.ndarray:
    """The image at ``path`` as float32 ``(channels, H, W)`` in [0, 1] (1 or 3 channels, see the
    module's channel rule). Raises :class:`ImageReadError` naming the file."""
    if channels not in (1, 3):
        raise ValueError(
            f"read_image: a model on {channels}-channel images cannot take image "
            "files; only 1 (grey) and 3 (RGB) channels are read"
        )
    path = Path(path)
    img = open_image(path)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit grey: scale, not clip
        raw = numpy.asarray(img, dtype=numpy.float64)
        a = raw / (65535.0 if raw.max() > 255 else 255.0)
        out = numpy.repeat(a[None], channels, axis=0)
        return numpy.clip(out, 0.0, 1.0).astype(numpy.float32)
    img = img.convert("RGB" if channels == 3 else "L")
    rgb = numpy.asarray(img, dtype=numpy.float32) / 255.0
    return numpy.ascontiguousarray(rgb.transpose(2, 0, 1) if channels == 3 else rgb[None])


def read_labels(path: str | os.PathLike) -> numpy.ndarray:
    """A mask PNG as int64 ``(H, W)`` class indices: a palette (``P``) or greyscale (``L``,
    16-bit ``I;16``) image whose pixel values are the classes. RGB masks are refused (their
    colours would need a colour-to-class table)."""
    path = Path(path)
    img = open_image(path)
    if img.mode not in ("P", "L", "I", "I;16", "I;16B", "I;16L", "1"):
        raise ImageReadError(
            f"{path}: a mask must be a greyscale or palette PNG whose pixel "
            f"values are class indices, got a {img.mode} image"
        )
    return numpy.asarray(img).astype(numpy.int64)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files (:data:`IMAGE_SUFFIXES`) directly in ``folder``, sorted by name; hidden
    files are skipped."""
    return sorted(
        p
        for p in Path(folder).iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def resize_image(image: numpy.ndarray, size: tuple[int, int]) -> numpy.ndarray:
    """``(C, H, W)`` float image resized to ``size = (H', W')`` with bilinear interpolation
    (Pillow, per channel in 32-bit float)."""
    from PIL import Image

    h, w = size
    if image.shape[1:] == (h, w):
        return image
    bilinear = getattr(Image, "Resampling", Image).BILINEAR  # Pillow >= 9.1 names it Resampling
    chans = [
        numpy.asarray(
            Image.fromarray(numpy.ascontiguousarray(c, dtype=numpy.float32)).resize(
                (w, h), bilinear
            )
        )
        for c in image
    ]
    return numpy.stack(chans).astype(numpy.float32)


def resize_labels(labels: numpy.ndarray, size: tuple[int, int]) -> numpy.ndarray:
    """``(H, W)`` label map resized to ``size = (H', W')`` with nearest neighbour (labels stay
    labels)."""
    h, w = size
    if labels.shape == (h, w):
        return labels
    H, W = labels.shape  # the source pixel under each target centre
    rows = numpy.minimum((numpy.arange(h) + 0.5) * H / h, H - 1).astype(numpy.int64)
    cols = numpy.minimum((numpy.arange(w) + 0.5) * W / w, W - 1).astype(numpy.int64)
    return labels[rows[:, None], cols[None, :]]
