"""Segmenting a user's own images with a saved run: ``minisegnet predict --input``.

Rule for sizes: every image is resized (bilinear) to the run's training size ``--size`` x
``--size`` -- the size the network was trained on and is known to accept -- segmented there, and
the predicted label map is resized back to the image's own size with nearest neighbour. The
aspect ratio is not kept (a 64x32 image is stretched to a square and its mask squeezed back).
Channels follow :mod:`minisegnet.data.images` (grey repeated for RGB models, colour to luminance
for one-channel models, alpha dropped).

Per image ``NAME.ext``, two PNGs are written:

* ``NAME_mask.png`` -- a palette PNG whose pixel values are the class indices (read it back
  with Pillow or ``numpy.asarray(PIL.Image.open(...))``) and whose palette holds the class
  colours of the figures (background black), so it also opens as a colour picture;
* ``NAME_overlay.png`` -- the image with every non-background pixel blended half-and-half with
  its class colour.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy

from . import backend
from .autograd import Tensor, no_grad
from .checkpoint import CheckpointError, atomic_write_bytes, load_checkpoint
from .crf import check_crf_options, refine_logits
from .data.images import ImageReadError, list_images, read_image, resize_image, resize_labels

__all__ = ["SavedModel", "load_saved_model", "predict_images", "ImagePrediction", "ImageReadError"]


@dataclass
class SavedModel:
    """A trained network rebuilt from a checkpoint, in eval mode."""

    model: Any
    config: Any
    in_channels: int
    class_names: tuple[str, ...]
    path: Path

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load_saved_model(checkpoint: str | os.PathLike, device: str = "cpu") -> SavedModel:
    """Rebuild the network of a run (a ``checkpoint.npz`` or its folder) with its weights, without
    generating the run's data. Raises ``FileNotFoundError`` / :class:`CheckpointError`."""
    from .train import TrainConfig, _build_model, _checkpoint_budget, _data_shape, _nonfinite

    path = Path(checkpoint)
    if path.is_dir():
        path = path / "checkpoint.npz"
    if not path.is_file():
        raise FileNotFoundError(
            f"predict: no checkpoint at {path}; give a checkpoint.npz or the folder of a run"
        )
    state = load_checkpoint(path, max_bytes=_checkpoint_budget)
    try:
        cfg = TrainConfig.from_dict(state["config"])
        cfg = dataclasses.replace(cfg, device=device)
        names = tuple(str(n) for n in state["class_names"])
        in_channels = int(state.get("in_channels") or _data_shape(cfg)[0])
        weights = state["model"]
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(path, f"it has no usable configuration ({exc})") from None
    bad = _nonfinite({"model": weights})
    if bad:
        raise CheckpointError(path, f"it holds NaN or infinite weights ({', '.join(bad[:4])})")
    from . import random as msrandom

    rng = msrandom.get_state()  # building draws initial weights: leave no trace
    try:
        model = _build_model(cfg, in_channels, len(names))
    finally:
        msrandom.set_state(rng)
    try:
        model.load_state_dict(weights)
    except (KeyError, ValueError) as exc:
        raise CheckpointError(path, f"its weights do not fit {cfg.model} ({exc})") from None
    return SavedModel(model.to(device).eval(), cfg, in_channels, names, path)


@dataclass
class ImagePrediction:
    """One segmented image: its file, original size, the label map and the files written."""

    source: Path
    size: tuple[int, int]
    labels: numpy.ndarray
    mask_path: Path
    overlay_path: Path

    def class_fractions(self, num_classes: int) -> numpy.ndarray:
        """Fraction of the image's pixels predicted as each class."""
        return numpy.bincount(self.labels.ravel(), minlength=num_classes) / self.labels.size


def _inputs(input_path: Path) -> list[Path]:
    if not input_path.exists():
        raise FileNotFoundError(f"predict: --input {input_path} does not exist")
    if input_path.is_dir():
        files = list_images(input_path)
        if not files:
            raise ValueError(f"predict: --input {input_path} holds no .png, .jpg or .jpeg image")
        return files
    return [input_path]


def _out_names(files: list[Path]) -> list[str]:
    """Output stems: the file's stem, with its ending added where two files share a stem."""
    stems = [f.stem for f in files]
    return [
        f"{f.stem}_{f.suffix[1:].lower()}" if stems.count(f.stem) > 1 else f.stem for f in files
    ]


def _save_png(path: Path, image: Any) -> Path:
    return atomic_write_bytes(path, lambda f: image.save(f, format="PNG"))


def predict_images(
    checkpoint: str | os.PathLike,
    input_path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    device: str = "cpu",
    batch_size: int = 16,
    crf: dict[str, Any] | None = None,
) -> tuple[SavedModel, list[ImagePrediction]]:
    """Segment an image file or every image of a folder with a saved run; write per image
    ``NAME_mask.png`` and ``NAME_overlay.png`` into ``out`` (default ``<run>/predict_images/``).

    ``crf``: :func:`~minisegnet.crf.dense_crf`'s options (``{}`` for its defaults) to refine
    the softmax probabilities with the resized image (colours in [0, 1]) before the argmax, at
    the training size.

    Every image is read and checked before the network runs: an unreadable file raises
    :class:`~minisegnet.data.images.ImageReadError` naming it, and nothing is written.
    """
    from PIL import Image

    from .plots import class_colours

    if crf is not None:
        crf = check_crf_options(crf)
    saved = load_saved_model(checkpoint, device)
    files = _inputs(Path(input_path))
    out = Path(out) if out is not None else saved.path.parent / "predict_images"
    for parent in [out, *out.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"predict: --out {out}: {parent} is a file, not a folder")
            break
    size = (saved.config.size, saved.config.size)
    originals = [read_image(f, saved.in_channels) for f in files]  # all checked first
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"predict: cannot create --out {out}: {exc.strerror or exc}") from None
    colours = numpy.round(class_colours(saved.num_classes) * 255).astype(numpy.uint8)
    palette = colours.ravel().tolist()
    names = _out_names(files)
    results = []
    for start in range(0, len(files), batch_size):
        chunk = originals[start : start + batch_size]
        x = numpy.stack([resize_image(img, size) for img in chunk])
        with no_grad(), numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):
            xt = Tensor(backend.to_device(x, device))
            scores = saved.model(xt).data
            if crf is not None:
                scores = refine_logits(scores, xt, **crf)
        small = backend.asnumpy(scores.argmax(axis=1))
        for k, (img, lab) in enumerate(zip(chunk, small)):
            i = start + k
            labels = resize_labels(lab, img.shape[1:])
            mask = Image.frombytes(
                "P",
                (labels.shape[1], labels.shape[0]),
                numpy.ascontiguousarray(labels, dtype=numpy.uint8).tobytes(),
            )
            mask.putpalette(palette)
            rgb = numpy.repeat(img, 3, axis=0) if img.shape[0] == 1 else img
            rgb = rgb.transpose(1, 2, 0)
            tint = colours[labels].astype(numpy.float32) / 255.0
            fg = (labels > 0)[..., None]
            blend = numpy.where(fg, 0.5 * rgb + 0.5 * tint, rgb)
            overlay = Image.fromarray(numpy.round(blend * 255).astype(numpy.uint8))
            name = names[i]
            try:
                mask_path = _save_png(out / f"{name}_mask.png", mask)
                overlay_path = _save_png(out / f"{name}_overlay.png", overlay)
            except OSError as exc:
                raise OSError(f"predict: cannot write into {out}: {exc.strerror or exc}") from None
            results.append(
                ImagePrediction(
                    files[i],
                    (int(img.shape[1]), int(img.shape[2])),
                    labels,
                    mask_path,
                    overlay_path,
                )
            )
    return saved, results
