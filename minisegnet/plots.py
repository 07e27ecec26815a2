"""Training figures, drawn with matplotlib straight to PNG files (never needs a display).

The figures are ``matplotlib.figure.Figure`` objects rendered by the Agg canvas: pyplot is not
used, so no window opens, no backend has to be chosen, and an interactive session's own
matplotlib settings are left alone.

* :func:`plot_history` -- ``loss_curve.png``: train / val loss, and train / val mIoU and pixel
  accuracy, per epoch;
* :func:`plot_predictions` -- ``predictions.png``: one row per image, input | truth | prediction,
  with a colour legend naming the classes; each prediction is titled with its image's mIoU.

Both use matplotlib's constrained layout, so titles, labels and the legend never overlap
(whatever the number of rows).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy

__all__ = ["plot_history", "plot_predictions", "class_colours", "colourize", "image_miou"]


def _figure(**kwargs: Any) -> Any:
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def class_colours(num_classes: int) -> numpy.ndarray:
    """``(num_classes, 3)`` RGB colours in [0, 1]: black background, then tab10 / tab20 hues."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if num_classes <= 11 else "tab20"]
    colours = [(0.0, 0.0, 0.0)] + [tuple(cmap(i % cmap.N)[:3]) for i in range(num_classes - 1)]
    return numpy.asarray(colours, dtype=numpy.float64)


def colourize(mask: numpy.ndarray, num_classes: int) -> numpy.ndarray:
    """An (H, W) label map as an (H, W, 3) RGB image (one colour per class, vectorised lookup)."""
    return class_colours(num_classes)[numpy.clip(numpy.asarray(mask), 0, num_classes - 1)]


def _as_rgb(image: numpy.ndarray) -> numpy.ndarray:
    """(C, H, W) image -> something imshow shows: (H, W, 3) for 3 channels, (H, W) otherwise."""
    image = numpy.clip(numpy.asarray(image, dtype=numpy.float64), 0.0, 1.0)
    return image.transpose(1, 2, 0) if image.shape[0] == 3 else image[0]


def plot_history(
    history: Sequence[dict[str, Any]], path: str | os.PathLike, title: str | None = None
) -> Path:
    """Save loss and mIoU / pixel-accuracy curves of ``history`` (one dict per epoch with keys
    ``epoch``, ``train_loss``, ``val_loss``, ``train_miou``, ``val_miou``, ``train_acc``,
    ``val_acc``) to ``path``."""
    epochs = [h["epoch"] for h in history]
    fig = _figure(figsize=(10, 4), layout="constrained")
    ax_loss, ax_score = fig.subplots(1, 2)
    for key, style in (("train_loss", "-o"), ("val_loss", "-s")):
        ax_loss.plot(epochs, [h[key] for h in history], style, ms=3, label=key.replace("_", " "))
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_loss, ax_score):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("loss")
    ax_loss.grid(alpha=0.3)
    ax_loss.legend()
    for key, style in (
        ("train_miou", "-o"),
        ("val_miou", "-s"),
        ("train_acc", ":o"),
        ("val_acc", ":s"),
    ):
        ax_score.plot(
            epochs,
            [h[key] for h in history],
            style,
            ms=3,
            label=key.replace("_", " ").replace("miou", "mIoU").replace("acc", "pixel acc."),
        )
    ax_score.set_xlabel("epoch")
    ax_score.set_ylim(0.0, 1.02)
    ax_score.set_title("mean IoU and pixel accuracy")
    ax_score.grid(alpha=0.3)
    ax_score.legend(loc="best", fontsize=8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def image_miou(pred: numpy.ndarray, target: numpy.ndarray, num_classes: int) -> float:
    """mIoU of one image: the mean IoU over the classes present in its truth or its prediction
    (a class absent from both is left out, as in the trainer's mIoU)."""
    from .metrics import mean_iou

    return float(mean_iou(numpy.asarray(pred), numpy.asarray(target), num_classes))


def plot_predictions(
    images: numpy.ndarray,
    masks: numpy.ndarray,
    preds: numpy.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike,
    title: str | None = None,
) -> Path:
    """Save a grid to ``path``: one row per image, columns input | truth | prediction.

    ``images`` (N, C, H, W) in [0, 1]; ``masks`` and ``preds`` (N, H, W) labels; a legend maps
    each colour to its class name. Each prediction's title is its image's mIoU
    (:func:`image_miou`), not its pixel accuracy, which a large background hides class
    confusion behind.
    """
    from matplotlib.patches import Patch

    images, masks, preds = (numpy.asarray(a) for a in (images, masks, preds))
    k, n = len(class_names), len(images)
    fig = _figure(figsize=(6.6, 2.1 * n + 0.9), layout="constrained")
    axes = fig.subplots(n, 3, squeeze=False)
    for i in range(n):
        score = image_miou(preds[i], masks[i], k)
        panels = (
            (_as_rgb(images[i]), "input"),
            (colourize(masks[i], k), "truth"),
            (colourize(preds[i], k), f"prediction (mIoU {score:.2f})"),
        )
        for ax, (img, name) in zip(axes[i], panels):
            ax.imshow(
                img,
                cmap="gray" if img.ndim == 2 else None,
                vmin=0.0,
                vmax=1.0,
                interpolation="nearest",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0 or name.startswith("prediction"):
                ax.set_title(name, fontsize=9)
    colours = class_colours(k)
    handles = [
        Patch(facecolor=colours[c], edgecolor="grey", label=class_names[c]) for c in range(k)
    ]
    # as many legend columns as fit the 6.6-inch width (an entry: swatch + about 0.075 in a letter)
    entry = 0.45 + 0.075 * max(len(str(name)) for name in class_names)
    ncol = max(1, min(k, int(6.4 // entry)))
    try:  # matplotlib >= 3.7: constrained layout makes room for it
        fig.legend(
            handles=handles, loc="outside lower center", ncol=ncol, fontsize=8, frameon=False
        )
    except ValueError:  # older: the legend goes into the last row's middle panel
        axes[-1, 1].legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.05),
            ncol=min(ncol, 3),
            fontsize=8,
            frameon=False,
        )
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _save(fig: Any, path: str | os.PathLike) -> Path:
    from .checkpoint import atomic_write_bytes

    return atomic_write_bytes(Path(path), lambda f: fig.savefig(f, format="png", dpi=100))
