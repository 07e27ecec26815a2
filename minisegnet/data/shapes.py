"""``shapes``: generated RGB images of circles, squares and triangles with per-pixel labels.

Each image is a colour gradient (two random colours, a random direction) plus Gaussian noise, with
1 to ``max_shapes`` non-overlapping shapes painted on it. Every colour is random, so colour says
nothing about the class: the network has to learn the *geometry* (round, four corners, three
corners). Labels: 0 is the background, ``k >= 1`` is ``SHAPE_KINDS[k - 1]``.

Generation is vectorised over pixels with NumPy (one boolean mask per shape from the pixel
coordinate grid); the only Python loops run over images and over the few shapes in each.
"""

from __future__ import annotations

import math

import numpy

from .dataset import SegmentationDataset

__all__ = ["shapes", "SHAPE_KINDS", "shape_mask"]

#: The shapes, in label order (label = position + 1). ``num_classes=K`` uses the first ``K - 1``.
SHAPE_KINDS = ("circle", "square", "triangle", "cross", "ring")


def shape_mask(
    kind: str,
    yy: numpy.ndarray,
    xx: numpy.ndarray,
    cy: float,
    cx: float,
    radius: float,
    angle: float,
) -> numpy.ndarray:
    """Boolean mask of one shape over the pixel-centre grid ``(yy, xx)``.

    ``radius`` sets the size (sizes are chosen so every shape has about the area of a circle of
    that radius); ``angle`` rotates squares, triangles and crosses.
    """
    dy, dx = yy - cy, xx - cx
    c, s = math.cos(angle), math.sin(angle)
    u, v = dx * c + dy * s, -dx * s + dy * c  # coordinates in the shape's own frame
    if kind == "circle":
        return dx * dx + dy * dy <= radius * radius
    if kind == "square":  # side 2 * 0.886 r: area pi r^2
        half = 0.886 * radius
        return numpy.maximum(numpy.abs(u), numpy.abs(v)) <= half
    if kind == "triangle":  # equilateral, circumradius 1.55 r: area ~ pi r^2
        inradius = 0.5 * 1.55 * radius
        inside = numpy.ones(yy.shape, dtype=bool)
        for k in range(3):  # three half-planes
            phi = angle + k * 2.0 * math.pi / 3.0
            inside &= dx * math.cos(phi) + dy * math.sin(phi) <= inradius
        return inside
    if kind == "cross":  # a plus sign, arm half-width a / 3
        arm = 1.1 * radius
        au, av = numpy.abs(u), numpy.abs(v)
        return (numpy.maximum(au, av) <= arm) & (numpy.minimum(au, av) <= arm / 3.0)
    if kind == "ring":
        d2 = dx * dx + dy * dy
        return (d2 <= radius * radius) & (d2 >= (0.55 * radius) ** 2)
    raise ValueError(f"shape_mask: unknown shape {kind!r}; use one of {SHAPE_KINDS}")


def _centre_range(
    kind: str, yy: numpy.ndarray, xx: numpy.ndarray, size: int, r: float, angle: float
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Lowest and highest (y, x) centre that keep the rotated shape inside the image."""
    c = size / 2.0
    m = shape_mask(kind, yy, xx, c, c, r, angle)
    rows, cols = numpy.nonzero(m.any(axis=1))[0], numpy.nonzero(m.any(axis=0))[0]
    if rows.size == 0:
        return numpy.array([c, c]), numpy.array([c, c])
    lo = numpy.array([c - rows[0], c - cols[0]])
    hi = numpy.array([size - (rows[-1] + 1 - c), size - (cols[-1] + 1 - c)])
    return lo, numpy.maximum(lo, hi)


def _grow(mask: numpy.ndarray) -> numpy.ndarray:
    """The mask grown by one pixel (4-neighbourhood), so shapes keep a background gap apart."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def _gradient_background(
    rng: numpy.random.Generator, yy: numpy.ndarray, xx: numpy.ndarray, size: int
) -> numpy.ndarray:
    """(3, H, W): a linear blend of two random colours along a random direction."""
    c0, c1 = rng.uniform(0.0, 1.0, 3), rng.uniform(0.0, 1.0, 3)
    theta = rng.uniform(0.0, 2.0 * math.pi)
    t = (math.cos(theta) * (xx - size / 2) + math.sin(theta) * (yy - size / 2)) / size + 0.5
    t = numpy.clip(t, 0.0, 1.0)
    return c0[:, None, None] + (c1 - c0)[:, None, None] * t[None]


def shapes(
    n: int = 256,
    size: int = 32,
    seed: int = 0,
    num_classes: int = 4,
    max_shapes: int = 3,
    min_shapes: int = 1,
    radius: tuple[float, float] = (0.12, 0.22),
    noise: float = 0.06,
    min_contrast: float = 0.35,
) -> SegmentationDataset:
    """Generate ``n`` RGB images ``(n, 3, size, size)`` of random shapes and their label masks.

    Parameters
    ----------
    n, size:      how many images, and their side in pixels.
    seed:         everything is drawn from ``numpy.random.default_rng(seed)``: same seed, same data.
    num_classes:  background + ``num_classes - 1`` shape kinds from :data:`SHAPE_KINDS`
                  (2 to 6; the default 4 is background, circle, square, triangle).
    min_shapes, max_shapes: shapes per image (drawn uniformly; a shape that cannot be placed
                  without touching the others after 50 tries is skipped).
    radius:       (low, high) shape radius as a fraction of ``size``.
    noise:        standard deviation of the Gaussian pixel noise.
    min_contrast: minimum RGB distance between a shape's colour and the mean background under it.
    """
    if not 2 <= num_classes <= len(SHAPE_KINDS) + 1:
        raise ValueError(
            f"shapes: num_classes={num_classes} is out of range; use 2 to "
            f"{len(SHAPE_KINDS) + 1} (background + up to {len(SHAPE_KINDS)} of {SHAPE_KINDS})"
        )
    if n < 0 or size < 8:
        raise ValueError(f"shapes: need n >= 0 and size >= 8, got n={n}, size={size}")
    if not 1 <= min_shapes <= max_shapes:
        raise ValueError(
            f"shapes: need 1 <= min_shapes <= max_shapes, got {min_shapes}, {max_shapes}"
        )
    if not 0 < radius[0] <= radius[1] < 0.5:
        raise ValueError(f"shapes: radius fractions {radius} must satisfy 0 < low <= high < 0.5")
    kinds = SHAPE_KINDS[: num_classes - 1]
    rng = numpy.random.default_rng(seed)
    yy, xx = numpy.mgrid[0:size, 0:size].astype(numpy.float64) + 0.5  # pixel centres
    images = numpy.empty((n, 3, size, size), dtype=numpy.float32)
    masks = numpy.zeros((n, size, size), dtype=numpy.int64)
    for i in range(n):
        img = _gradient_background(rng, yy, xx, size)
        taken = numpy.zeros((size, size), dtype=bool)  # shapes so far, grown by 1 pixel
        for _ in range(int(rng.integers(min_shapes, max_shapes + 1))):
            label = int(rng.integers(1, num_classes))
            kind = kinds[label - 1]
            r = rng.uniform(radius[0], radius[1]) * size
            angle = rng.uniform(0.0, 2.0 * math.pi)
            lo, hi = _centre_range(kind, yy, xx, size, r, angle)  # keeps it whole inside
            for _try in range(50):
                cy, cx = rng.uniform(lo, hi)
                m = shape_mask(kind, yy, xx, cy, cx, r, angle)
                if m.any() and not (m & taken).any():
                    break
            else:
                continue  # no room left: skip this shape
            taken |= _grow(m)
            under = img[:, m].mean(axis=1)  # mean background colour under it
            colour = rng.uniform(0.0, 1.0, 3)
            for _try in range(20):  # visible, whatever the colour
                if numpy.linalg.norm(colour - under) >= min_contrast:
                    break
                colour = rng.uniform(0.0, 1.0, 3)
            img[:, m] = colour[:, None]
            masks[i][m] = label
        img += rng.normal(0.0, noise, img.shape)
        images[i] = numpy.clip(img, 0.0, 1.0)
    return SegmentationDataset(
        images,
        masks,
        num_classes,
        ("background",) + tuple(kinds),
        name="shapes",
        info={
            "size": size,
            "seed": seed,
            "noise": noise,
            "radius": tuple(radius),
            "max_shapes": max_shapes,
        },
    )
