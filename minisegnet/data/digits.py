"""``digits``: scikit-learn's bundled 8x8 handwritten digits, upscaled and pasted on a canvas.

The 1,797 digit images ship inside scikit-learn (``sklearn.datasets.load_digits``: no download).
Each canvas gets 1 to ``max_digits`` digits, upscaled bilinearly to ``digit_size`` pixels and placed
without overlap on a grey gradient with noise. Labels: 0 is the background and a stroke pixel of
digit ``d`` is ``d + 1`` (11 classes). Images have one channel.

The source digits are split once (fixed permutation) into disjoint train / val / test pools, so a
validation canvas never shows a digit image the network trained on (``source="val"``).

scikit-learn is an optional extra: ``pip install "minisegnet[datasets]"``.
"""

from __future__ import annotations

import numpy

from .dataset import SPLITS, SegmentationDataset

__all__ = ["digits", "load_digit_images", "DIGIT_CLASS_NAMES", "SKLEARN_HINT"]

DIGIT_CLASS_NAMES = ("background",) + tuple(str(d) for d in range(10))
SKLEARN_HINT = 'pip install "minisegnet[datasets]"  (or: pip install scikit-learn)'
_POOL_FRACTIONS = (0.6, 0.2, 0.2)  # train / val / test share of the 1,797 source digits
_POOL_SEED = 20240601  # fixed: the pools do not change with the data seed


def load_digit_images(source: str = "all") -> tuple[numpy.ndarray, numpy.ndarray]:
    """The bundled digits as ``(images (M, 8, 8) float in [0, 1], labels (M,) int64)``.

    ``source`` is ``"all"`` or one of the disjoint pools ``"train"``, ``"val"``, ``"test"``.
    Raises ImportError naming the install command when scikit-learn is missing.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(
            "the 'digits' dataset needs scikit-learn (it bundles the 8x8 digit images, no "
            f"download). Install it with: {SKLEARN_HINT}"
        ) from exc
    bunch = load_digits()
    images = numpy.asarray(bunch.images, dtype=numpy.float64) / 16.0
    labels = numpy.asarray(bunch.target, dtype=numpy.int64)
    if source == "all":
        return images, labels
    if source not in SPLITS:
        raise ValueError(
            f"load_digit_images: unknown source {source!r}; use 'all' or one of {SPLITS}"
        )
    order = numpy.random.default_rng(_POOL_SEED).permutation(len(labels))
    cuts = numpy.cumsum([int(round(f * len(labels))) for f in _POOL_FRACTIONS])[:2]
    pool = numpy.split(order, cuts)[SPLITS.index(source)]
    return images[pool], labels[pool]


def _upscale(images: numpy.ndarray, size: int) -> numpy.ndarray:
    """Bilinear resize of ``(M, h, w)`` images to ``(M, size, size)`` (half-pixel centres)."""
    m, h, w = images.shape

    def axis(n_in: int) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
        src = numpy.clip((numpy.arange(size) + 0.5) * n_in / size - 0.5, 0.0, n_in - 1.0)
        lo = numpy.floor(src).astype(numpy.int64)
        hi = numpy.minimum(lo + 1, n_in - 1)
        return lo, hi, src - lo

    y0, y1, fy = axis(h)
    x0, x1, fx = axis(w)
    top = images[:, y0][:, :, x0] * (1 - fx) + images[:, y0][:, :, x1] * fx
    bottom = images[:, y1][:, :, x0] * (1 - fx) + images[:, y1][:, :, x1] * fx
    return top * (1 - fy)[:, None] + bottom * fy[:, None]


def digits(
    n: int = 256,
    size: int = 32,
    seed: int = 0,
    digit_size: int | None = None,
    max_digits: int = 2,
    noise: float = 0.05,
    threshold: float = 0.4,
    source: str = "all",
) -> SegmentationDataset:
    """Generate ``n`` one-channel canvases ``(n, 1, size, size)`` of handwritten digits with masks.

    Parameters
    ----------
    n, size:     how many canvases, and their side in pixels.
    seed:        all random choices come from ``numpy.random.default_rng(seed)``.
    digit_size:  side of an upscaled digit (default ``size // 2``).
    max_digits:  digits per canvas, 1 to ``max_digits`` (one that cannot be placed without overlap
                 after 30 tries is skipped).
    noise:       standard deviation of the Gaussian pixel noise.
    threshold:   an upscaled intensity above this (in ``[0, 1]``) is a stroke pixel.
    source:      which source digits to draw from: ``"all"``, or a disjoint pool ``"train"``,
                 ``"val"``, ``"test"``.
    """
    digit_size = size // 2 if digit_size is None else int(digit_size)
    if not 4 <= digit_size <= size:
        raise ValueError(f"digits: digit_size={digit_size} must be between 4 and size={size}")
    if n < 0 or max_digits < 1:
        raise ValueError(
            f"digits: need n >= 0 and max_digits >= 1, got n={n}, max_digits={max_digits}"
        )
    src_images, src_labels = load_digit_images(source)
    glyphs = _upscale(src_images, digit_size)  # (M, s, s) in [0, 1]
    rng = numpy.random.default_rng(seed)
    yy, xx = numpy.mgrid[0:size, 0:size].astype(numpy.float64) / size
    images = numpy.empty((n, 1, size, size), dtype=numpy.float32)
    masks = numpy.zeros((n, size, size), dtype=numpy.int64)
    for i in range(n):
        g0, g1 = rng.uniform(0.0, 0.35, 2)  # dark grey gradient
        theta = rng.uniform(0.0, 2.0 * numpy.pi)
        t = numpy.clip(
            numpy.cos(theta) * (xx - 0.5) + numpy.sin(theta) * (yy - 0.5) + 0.5, 0.0, 1.0
        )
        img = g0 + (g1 - g0) * t
        boxes: list[tuple[int, int]] = []
        for _ in range(int(rng.integers(1, max_digits + 1))):
            k = int(rng.integers(len(src_labels)))
            for _try in range(30):
                top, left = (int(v) for v in rng.integers(0, size - digit_size + 1, 2))
                if all(
                    abs(top - bt) >= digit_size or abs(left - bl) >= digit_size for bt, bl in boxes
                ):
                    break
            else:
                continue
            boxes.append((top, left))
            ink = glyphs[k]
            brightness = rng.uniform(0.65, 1.0)
            window = (slice(top, top + digit_size), slice(left, left + digit_size))
            img[window] = img[window] * (1 - ink) + brightness * ink
            masks[i][window][ink > threshold] = int(src_labels[k]) + 1
        img = img + rng.normal(0.0, noise, img.shape)
        images[i, 0] = numpy.clip(img, 0.0, 1.0)
    return SegmentationDataset(
        images,
        masks,
        11,
        DIGIT_CLASS_NAMES,
        name="digits",
        info={"size": size, "seed": seed, "digit_size": digit_size, "source": source},
    )
