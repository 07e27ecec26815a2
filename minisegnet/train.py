"""The trainer behind ``minisegnet train``: data, model, optimizer, loss, metrics, checkpoints,
plots.

One run = one :class:`TrainConfig` and one output folder::

    runs/unet-shapes/
        checkpoint.npz     weights, optimizer + scheduler state, epoch, RNG states, config, history
        metrics.csv        one row per epoch: train / val loss, mIoU, pixel accuracy, lr, seconds
        loss_curve.png     the curves of metrics.csv
        predictions.png    input | truth | prediction for a few validation images
        config.json        the configuration, readable
        results.json       the final val and test metrics and the wall time

Guarantees:

* **Reproducible**: the seed fixes the data, the initial weights (``minisegnet.manual_seed``), the
  batch order and the flips (the loader's own generator), so a run repeats exactly on one machine.
* **Exact resume**: the checkpoint (written atomically after every epoch) holds every piece of state
  that the next epoch reads, so a run interrupted after any epoch and resumed with ``resume=True``
  (``--resume``) ends with bit-for-bit the weights of the uninterrupted run.
  Bit-exact only at the same BLAS thread count: the checkpoint records it and resume warns.
* **No silent divergence**: a NaN or infinite training loss, validation loss, weight, batch-norm
  statistic or optimizer state stops the run with :class:`TrainingDiverged` before the epoch is
  saved; the checkpoint on disk stays the last good one, and a non-finite checkpoint is never
  resumed.
* **Checked before work**: the configuration's bounds, the memory the run needs
  (:func:`estimate_memory`) and the output folder are checked before any data or network is built.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy

from . import backend, losses, metrics, models, optim
from . import random as msrandom
from .autograd import Tensor, no_grad
from .checkpoint import (
    CheckpointError,
    atomic_write_bytes,
    load_checkpoint,
    remove_stale_temporaries,
    save_checkpoint,
)
from .crf import check_crf_options, refine_logits
from .data import DATASET_NAMES, DataLoader, SegmentationDataset, image_folder_splits, load_dataset
from .models.setr import SETR_STEMS

__all__ = [
    "TrainConfig",
    "Trainer",
    "TrainResult",
    "TrainingDiverged",
    "OutputError",
    "train",
    "predict",
    "LOSS_NAMES",
    "OPTIMIZER_NAMES",
    "SCHEDULE_NAMES",
    "METRIC_COLUMNS",
    "make_loss",
    "default_out",
    "estimate_memory",
    "check_memory",
    "available_memory",
    "blas_threads",
    "MAX_DEPTH",
    "DEFAULT_MEMORY_BUDGET",
]

LOSS_NAMES = ("ce", "dice", "ce+dice", "focal", "tversky")
OPTIMIZER_NAMES = ("adam", "adamw", "sgd")
SCHEDULE_NAMES = ("cosine", "step", "multistep", "onecycle", "none")
METRIC_COLUMNS = (
    "epoch",
    "train_loss",
    "train_miou",
    "train_acc",
    "val_loss",
    "val_miou",
    "val_acc",
    "lr",
    "seconds",
)
# FCN has a fixed five-stage VGG-style backbone: it takes no ``depth``
_FIXED_DEPTH_MODELS = ("fcn8s", "fcn16s", "fcn32s")
# models whose encoder takes a ``stem`` (``--stem``): SETR's ViT (models.setr.SETR_STEMS)
_STEM_MODELS = ("setr-naive", "setr-pup", "setr-mla")
# options that may change when a run is resumed (they do not change the computation)
_RUNTIME_FIELDS = ("epochs", "device", "out", "plots", "quiet")
# models in which every down-sampling stage halves the image: 2**depth must not exceed the size
_HALVING_MODELS = ("unet", "segnet", "deconvnet", "fcdensenet")
# what a run writes (atomically, through temporaries named .NAME.*.tmp)
_OUTPUT_FILES = (
    "checkpoint.npz",
    "metrics.csv",
    "config.json",
    "results.json",
    "loss_curve.png",
    "predictions.png",
    ".write-test",
)
#: the largest --depth accepted (any model)
MAX_DEPTH = 16
#: the memory a run may need when the machine's available memory cannot be read
DEFAULT_MEMORY_BUDGET = 16 * 2**30


class TrainingDiverged(FloatingPointError):
    """The loss, the validation loss, the weights or the batch-norm statistics became NaN or
    infinite; the run was stopped and the checkpoint on disk is the last good one."""


class OutputError(OSError):
    """The run's output folder cannot be used or written (a file, read-only, full disk)."""


@dataclass
class TrainConfig:
    """Everything that defines a training run (the defaults are ``minisegnet train``'s).

    The defaults train a small U-Net on 32x32 ``shapes`` images to a validation mIoU above 0.85
    in under three minutes on two CPU cores.
    """

    model: str = "unet"
    dataset: str = "shapes"
    epochs: int = 12
    batch_size: int = 16
    lr: float = 1e-2
    optimizer: str = "adam"
    loss: str = "ce"
    schedule: str = "cosine"
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0
    width: int = 8  # base width (channels of the first stage)
    depth: int = 3  # down-sampling stages (every model but FCN)
    stem: str = "patch"  # SETR only: "patch" (pure ViT) or "conv" (a small CNN first: hybrid)
    size: int = 32  # image side in pixels
    n_train: int = 1200
    n_val: int = 200
    n_test: int = 200
    num_classes: int | None = None  # shapes only: background + up to 5 shape kinds (default 4)
    data: str | None = None  # a folder of your own images and masks (replaces dataset)
    augment: bool = True  # random horizontal / vertical flips
    seed: int = 0
    device: str = "cpu"
    out: str | None = None  # default runs/<model>-<dataset>
    plots: bool = True
    quiet: bool = False
    # the settings a model's recipe applied ({"name": model, "set": {...}}; minisegnet.recipes)
    recipe: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.device in ("cuda", "cuda:0"):  # PyTorch's name (backend.normalize_device)
            self.device = backend.normalize_device(self.device)
        checks = [
            ("model", self.model, models.MODEL_NAMES),
            ("dataset", self.dataset, DATASET_NAMES),
            ("optimizer", self.optimizer, OPTIMIZER_NAMES),
            ("loss", self.loss, LOSS_NAMES),
            ("schedule", self.schedule, SCHEDULE_NAMES),
            ("device", self.device, backend.DEVICES),
        ]
        for name, value, valid in checks:
            if value not in valid:
                raise ValueError(
                    f"TrainConfig: unknown {name} {value!r}; valid: {', '.join(valid)}"
                )
        minimum = {
            "epochs": 1,
            "batch_size": 1,
            "width": 1,
            "depth": 1,
            "size": 1,
            "n_train": 1,
            "n_val": 1,
            "n_test": 0,
            "seed": 0,
        }
        for name, low in minimum.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)):
                raise ValueError(f"TrainConfig: {_option(name)} must be an integer, got {value!r}")
            if value < low:
                raise ValueError(f"TrainConfig: {_option(name)} must be >= {low}, got {value}")
        if self.stem not in SETR_STEMS:
            raise ValueError(
                f"TrainConfig: unknown stem {self.stem!r}; valid: {', '.join(SETR_STEMS)}"
            )
        if self.stem != "patch" and self.model not in _STEM_MODELS:
            raise ValueError(
                f"TrainConfig: --stem {self.stem} is for the SETR models only "
                f"({', '.join(_STEM_MODELS)}); {self.model} has no patch embedding to put "
                "a stem before: leave --stem out (default patch)"
            )
        if self.depth > MAX_DEPTH:
            raise ValueError(f"TrainConfig: --depth must be <= {MAX_DEPTH}, got {self.depth}")
        if self.num_classes is not None and (
            isinstance(self.num_classes, bool)
            or not isinstance(self.num_classes, (int, numpy.integer))
        ):
            raise ValueError(
                f"TrainConfig: --num-classes must be an integer, got {self.num_classes!r}"
            )
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"TrainConfig: --lr must be a positive number, got {self.lr!r}")
        for name in ("momentum", "weight_decay"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                raise ValueError(
                    f"TrainConfig: {_option(name)} must be a number >= 0, got {value!r}"
                )
        if self.model in _HALVING_MODELS and 2**self.depth > self.size:
            most = max(self.size.bit_length() - 1, 0)
            raise ValueError(
                f"TrainConfig: --depth {self.depth} is too deep for --size {self.size}: each of "
                f"{self.model}'s down-sampling stages halves the image, so {self.size} px allow at "
                "most "
                f"--depth {most}"
                + (f" (or use --size {2**self.depth} or more)" if self.depth <= 14 else "")
            )
        if self.recipe is not None and not isinstance(self.recipe, dict):
            raise ValueError(f"TrainConfig: recipe must be a dict or None, got {self.recipe!r}")
        if self.data is not None and not isinstance(self.data, str):
            raise ValueError(f"TrainConfig: --data must be a folder path, got {self.data!r}")
        if self.num_classes is not None and self.data is not None:
            raise ValueError(
                "TrainConfig: --num-classes cannot be chosen with --data: the "
                "folder's masks (or its classes.txt) decide the classes"
            )
        if self.num_classes is not None and self.dataset != "shapes":
            raise ValueError(
                "TrainConfig: num_classes can only be chosen for the shapes dataset "
                f"(digits always has 11), got num_classes={self.num_classes}"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(
                f"TrainConfig: unknown option(s) {sorted(unknown)}; valid: {sorted(names)}"
            )
        return cls(**d)

    def out_dir(self) -> Path:
        if self.out:
            return Path(self.out)
        return default_out(self.model, self.dataset_name())

    def dataset_name(self) -> str:
        """The built-in dataset's name, or the ``--data`` folder's name."""
        return (Path(self.data).resolve().name or "data") if self.data else self.dataset


def _option(name: str) -> str:
    """The command-line spelling of a config field: ``n_test`` -> ``--n-test``."""
    return "--" + name.replace("_", "-")


def default_out(model: str, dataset: str) -> Path:
    """``runs/<model>-<dataset>``: where a run writes when no ``out`` is given."""
    return Path("runs") / f"{model}-{dataset}"


@dataclass
class TrainResult:
    """What :func:`train` returns: the output folder, the per-epoch history, the final numbers."""

    out: Path
    history: list[dict[str, float]]
    val: dict[str, Any]
    test: dict[str, Any] | None
    seconds: float
    model: Any = field(repr=False, default=None)

    @property
    def val_miou(self) -> float:
        return self.val["miou"]


def make_loss(name: str) -> Callable[[Tensor, Any], Tensor]:
    """The loss function ``f(logits, labels) -> scalar Tensor`` for a ``--loss`` name.

    ``ce`` cross entropy; ``dice`` soft Dice over the classes (softmax of the logits); ``ce+dice``
    their sum; ``focal`` the softmax focal loss (γ = 2); ``tversky`` 1 - Tversky index with β = 0.3
    (false positives weigh 0.3, false negatives 0.7: favours recall).
    """
    if name == "ce":
        return lambda x, y: losses.cross_entropy(x, y)
    if name == "dice":
        return lambda x, y: losses.dice_loss(x, y, from_logits=True)
    if name == "ce+dice":
        return lambda x, y: losses.cross_entropy(x, y) + losses.dice_loss(x, y, from_logits=True)
    if name == "focal":
        return lambda x, y: losses.softmax_focal_loss(x, y, gamma=2.0)
    if name == "tversky":
        return lambda x, y: losses.tversky_loss(x, y, beta=0.3, from_logits=True)
    raise ValueError(f"make_loss: unknown loss {name!r}; valid: {', '.join(LOSS_NAMES)}")


def _load_split(config: TrainConfig, split: str, n: int) -> SegmentationDataset:
    if config.data is not None:
        return image_folder_splits(config.data, size=config.size, seed=config.seed)[split]
    kwargs: dict[str, Any] = {}
    if config.num_classes is not None:
        kwargs["num_classes"] = config.num_classes
    return load_dataset(config.dataset, split, n=n, size=config.size, seed=config.seed, **kwargs)


def _build_model(config: TrainConfig, in_channels: int, num_classes: int) -> Any:
    kwargs: dict[str, Any] = {"base_width": config.width}
    if config.model not in _FIXED_DEPTH_MODELS:
        kwargs["depth"] = config.depth
    if config.model in _STEM_MODELS:
        kwargs["stem"] = config.stem
    return models.build_model(config.model, in_channels, num_classes, **kwargs)


# ----- bounds before work: memory estimate ---------------------------------------------------


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), or ``None``."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


_PROBE_WIDTH, _PROBE_SIZE, _PROBE_DEPTH = 4, 64, 4


@functools.lru_cache(maxsize=64)
def _probe(
    model: str, depth: int, in_channels: int, num_classes: int, stem: str = "patch"
) -> tuple[int, int]:
    """(parameters, activation values of one 64x64 image) of ``model`` at base width 4."""
    from .summary import summary

    rng_state = msrandom.get_state()  # building a network draws weights: leave no trace
    try:
        kwargs: dict[str, Any] = {"base_width": _PROBE_WIDTH}
        if model not in _FIXED_DEPTH_MODELS:
            kwargs["depth"] = depth
        if model in _STEM_MODELS:
            kwargs["stem"] = stem
        net = models.build_model(model, in_channels, num_classes, **kwargs)
        table = summary(net, (1, in_channels, _PROBE_SIZE, _PROBE_SIZE), device="cpu")
    finally:
        msrandom.set_state(rng_state)
    values = sum(int(numpy.prod(r.output_shape, dtype=numpy.int64)) for r in table.rows)
    return int(net.num_parameters()), values


def _data_shape(config: TrainConfig) -> tuple[int, int]:
    """(input channels, classes) of the configured dataset, without generating it."""
    if config.data is not None:
        names = Path(config.data) / "classes.txt"
        try:
            k = len([line for line in names.read_text().splitlines() if line.strip()])
        except (OSError, UnicodeDecodeError):
            k = 4
        return 3, max(k, 2)
    if config.dataset == "digits":
        return 1, 11
    return 3, config.num_classes or 4


def estimate_memory(config: TrainConfig) -> dict[str, int]:
    """A rough estimate of the memory (bytes) a run needs, computed without building it.

    ``data``: the three splits (float32 images, int64 masks), twice over for the generator's
    working arrays; ``parameters``: weights, gradients and the optimizer's state (Adam: 2 moments,
    SGD: 1 buffer), float32; ``activations``: what one training batch keeps for the backward pass,
    taken as 3x the float32 outputs of every layer (outputs, their gradients, im2col buffers), or
    one evaluation batch (at least 32 images), whichever is larger; ``total``: their sum.

    The parameters and layer outputs are read off the same network at base width 4 on a 64x64
    image (depth above 4 extrapolated from depths 3 and 4), then scaled: parameters with the
    square of the width, activations with the width and the number of pixels.
    """
    in_channels, num_classes = _data_shape(config)
    shape = (in_channels, num_classes, config.stem)
    if config.model in _FIXED_DEPTH_MODELS:
        params, values = _probe(config.model, 0, *shape)
    elif config.depth <= _PROBE_DEPTH:
        params, values = _probe(config.model, config.depth, *shape)
    else:
        p4, v4 = _probe(config.model, _PROBE_DEPTH, *shape)
        p3, v3 = _probe(config.model, _PROBE_DEPTH - 1, *shape)
        extra = config.depth - _PROBE_DEPTH
        params = int(p4 * (p4 / p3) ** extra)
        values = int(v4 * max(1.0, v4 / v3) ** extra)
    w = config.width / _PROBE_WIDTH
    params = int(params * (w * w if w >= 1 else w))
    per_image = values * w * (config.size / _PROBE_SIZE) ** 2
    images = config.n_train + config.n_val + config.n_test
    data = 2 * images * config.size**2 * (4 * in_channels + 8)
    state_copies = 4 if config.optimizer in ("adam", "adamw") else 3
    parameters = 4 * params * state_copies
    activations = int(4 * per_image * max(3 * config.batch_size, max(config.batch_size, 32)))
    return {
        "data": int(data),
        "parameters": parameters,
        "activations": activations,
        "total": int(data) + parameters + activations,
        "num_parameters": params,
    }


def _bytes(n: float) -> str:
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def check_memory(config: TrainConfig, budget: int | None = None) -> dict[str, int]:
    """Refuse (ValueError, with the estimate) a run whose :func:`estimate_memory` exceeds
    ``budget`` (default: the machine's available memory, or ``DEFAULT_MEMORY_BUDGET`` where that
    cannot be read). Returns the estimate."""
    est = estimate_memory(config)
    where = "this machine has"
    if budget is None:
        budget = available_memory()
        if budget is None:
            budget, where = DEFAULT_MEMORY_BUDGET, "the budget (unknown available memory) is"
    else:
        where = "the budget is"
    if est["total"] > budget:
        parts = {
            "data": "--size, --n-train/--n-val/--n-test",
            "parameters": "--width, --depth",
            "activations": "--batch-size, --size, --width",
        }
        biggest = max(parts, key=lambda k: est[k])
        raise ValueError(
            f"this run would need about {_bytes(est['total'])} of memory (data "
            f"{_bytes(est['data'])}, "
            f"{est['num_parameters']:,} parameters with gradients and optimizer state "
            f"{_bytes(est['parameters'])}, activations of a batch {_bytes(est['activations'])}) "
            "and "
            f"{where} {_bytes(budget)} available; reduce {parts[biggest]}"
        )
    return est


# ----- the BLAS thread count (resume is bit-exact only at the same count) -----------------------

_BLAS_GETTERS = (
    "openblas_get_num_threads",
    "openblas_get_num_threads64_",
    "scipy_openblas_get_num_threads",
    "scipy_openblas_get_num_threads64_",
    "MKL_Get_Max_Threads",
    "mkl_get_max_threads",
)


@functools.lru_cache(maxsize=1)
def _blas_libraries() -> tuple[Any, ...]:
    import ctypes

    try:
        with open("/proc/self/maps") as f:
            paths = sorted(
                {
                    line.split()[-1]
                    for line in f
                    if ("blas" in line.lower() or "mkl" in line.lower())
                    and line.split()[-1].startswith("/")
                }
            )
    except OSError:
        return ()
    libs = []
    for path in paths:
        try:
            libs.append(ctypes.CDLL(path))
        except OSError:
            continue
    return tuple(libs)


def blas_threads() -> int | None:
    """The thread count of the BLAS library NumPy uses (OpenBLAS or MKL), or ``None`` if unknown."""
    import ctypes

    for lib in _blas_libraries():
        for name in _BLAS_GETTERS:
            getter = getattr(lib, name, None)
            if getter is not None:
                getter.restype = ctypes.c_int
                return int(getter())
    return None


def _checkpoint_budget(index: dict[str, Any]) -> int:
    """The most bytes of arrays a checkpoint of the configuration in ``index`` can hold: twice the
    estimated weights with two optimizer moments, plus 16 MB for the rest."""
    config = TrainConfig.from_dict(index["config"])
    return 2 * 4 * 4 * estimate_memory(config)["num_parameters"] + 16 * 2**20


# ----- finiteness ---------------------------------------------------------------------------


def _nonfinite(obj: Any, prefix: str = "") -> list[str]:
    """The names of the non-finite numbers and float arrays inside a nested state."""
    if isinstance(obj, dict):
        return [n for k, v in obj.items() for n in _nonfinite(v, f"{prefix}{k}.")]
    if isinstance(obj, (list, tuple)):
        return [n for i, v in enumerate(obj) for n in _nonfinite(v, f"{prefix}{i}.")]
    if isinstance(obj, float):
        return [] if math.isfinite(obj) else [prefix.rstrip(".")]
    if hasattr(obj, "dtype") and getattr(obj.dtype, "kind", "") in "fc":
        return (
            [] if bool(backend.get_array_module(obj).isfinite(obj).all()) else [prefix.rstrip(".")]
        )
    return []


def _per_class(names: Any, values: numpy.ndarray) -> dict[str, float | None]:
    """``{class name: IoU}``, ``None`` where the IoU is undefined (NaN: absent class), so the
    values stay valid JSON and finite in the checkpoint's history."""
    return {str(n): (None if math.isnan(float(v)) else float(v)) for n, v in zip(names, values)}


def _finite_params(model: Any) -> bool:
    return all(bool(p.xp.isfinite(p.data).all()) for p in model.parameters())


def _make_optimizer(config: TrainConfig, params: Any) -> optim.Optimizer:
    """``--optimizer``: Adam (L2 decay added to the gradient), AdamW (decoupled decay; give
    ``--weight-decay``, e.g. PyTorch's 0.01: the trainer's default is 0) or SGD with momentum."""
    if config.optimizer == "sgd":
        return optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    kind = optim.AdamW if config.optimizer == "adamw" else optim.Adam
    return kind(params, lr=config.lr, weight_decay=config.weight_decay)


def _make_scheduler(
    config: TrainConfig, optimizer: optim.Optimizer, steps_per_epoch: int
) -> optim.LRScheduler | None:
    """``--schedule``, stepped once per epoch (``onecycle``: once per batch):

    * ``cosine``: CosineAnnealingLR(T_max=epochs), from --lr to 0;
    * ``step``: StepLR(step_size=epochs // 3, gamma=0.3);
    * ``multistep``: MultiStepLR(milestones=[epochs // 2, 3 epochs // 4], gamma=0.1);
    * ``onecycle``: OneCycleLR(max_lr=--lr, total_steps=epochs * batches per epoch), PyTorch's
      defaults (warm-up over the first 30 %, momentum / Adam's beta1 cycled 0.95 -> 0.85).
    """
    epochs = config.epochs
    if config.schedule == "cosine":
        return optim.CosineAnnealingLR(optimizer, T_max=epochs)
    if config.schedule == "step":
        return optim.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.3)
    if config.schedule == "multistep":
        return optim.MultiStepLR(
            optimizer, milestones=sorted({max(1, epochs // 2), max(1, 3 * epochs // 4)}), gamma=0.1
        )
    if config.schedule == "onecycle":
        return optim.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=epochs * max(1, steps_per_epoch)
        )
    return None


class Trainer:
    """A training run: builds data, model, optimizer, schedule and loss from a :class:`TrainConfig`.

    ``Trainer(config).fit()`` trains ``config.epochs`` epochs, writing the outputs to
    ``config.out_dir()``; ``resume=True`` first restores the state saved in its checkpoint
    (``<out>/checkpoint.npz``; or give the checkpoint's path as ``resume``).

    Everything that can be checked is checked before any data or network is built: the
    configuration's bounds, the memory the run needs (:func:`check_memory`), the output folder
    (``write_outputs=True``: a folder that can be written, with room for the checkpoint; stale
    temporary files of a killed write are removed) and, on resume, the checkpoint (complete, not
    larger than its configuration allows, every value finite).
    """

    def __init__(
        self,
        config: TrainConfig | None = None,
        resume: bool | str | os.PathLike = False,
        log: Callable[[str], None] | None = None,
        write_outputs: bool = True,
    ) -> None:
        config = config or TrainConfig()
        self._log = log or (lambda msg: None)
        self.out = config.out_dir()
        self.checkpoint_path = self.out / "checkpoint.npz"
        #: the epoch held by the checkpoint on disk (0: none written by this run yet)
        self.saved_epoch = 0
        saved = None
        if resume:
            source = self.checkpoint_path if resume is True else Path(resume)
            if source.is_dir():
                source = source / "checkpoint.npz"
            if not source.is_file():
                raise FileNotFoundError(
                    f"--resume: no checkpoint to resume at {source}; train without "
                    "--resume first (or point --out at the run's folder)"
                )
            saved = load_checkpoint(source, max_bytes=_checkpoint_budget)
            saved_config = saved.get("config")
            if not isinstance(saved_config, dict):
                raise CheckpointError(source, "it holds no run configuration")
            try:
                config = self._merge_config(saved_config, config)
            except (ValueError, TypeError) as exc:
                raise CheckpointError(source, f"its configuration is not usable ({exc})") from None
            self._check_finite_checkpoint(saved, source)
            self._check_blas_threads(saved)
        self.config = config
        if config.device == "gpu":  # DeviceError with the install hint, before --out is made
            backend.xp_for("gpu")
        est = check_memory(config)
        if write_outputs:
            self._prepare_out(est)

        self._folder = (
            image_folder_splits(config.data, size=config.size, seed=config.seed)
            if config.data is not None
            else None
        )
        self.train_set: SegmentationDataset = self._required_split("train")
        self.val_set: SegmentationDataset = self._required_split("val")
        self.num_classes = self.train_set.num_classes
        self.class_names = self.train_set.class_names
        msrandom.manual_seed(config.seed)
        self.model = _build_model(config, self.train_set.in_channels, self.num_classes).to(
            config.device
        )
        self._check_model_output()
        drop_single = self._check_single_image_batches()
        self.optimizer = _make_optimizer(config, self.model.parameters())
        self.loss_fn = make_loss(config.loss)
        loader_seed = int(numpy.random.SeedSequence([config.seed, 7]).generate_state(1)[0])
        self.train_loader = DataLoader(
            self.train_set,
            config.batch_size,
            shuffle=True,
            augment=config.augment,
            seed=loader_seed,
            device=config.device,
            drop_last=drop_single,
        )
        self.scheduler = _make_scheduler(config, self.optimizer, len(self.train_loader))
        self.val_loader = DataLoader(
            self.val_set, max(config.batch_size, 32), shuffle=False, device=config.device
        )
        self.epoch = 0
        self.history: list[dict[str, float]] = []
        if saved is not None:
            try:
                self.load_state_dict(saved)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
                raise CheckpointError(
                    source,
                    f"it has no {exc.args[0]!r} entry" if isinstance(exc, KeyError) else str(exc),
                ) from None
            self.saved_epoch = self.epoch

    def _required_split(self, split: str) -> SegmentationDataset:
        data = self.load_split(split)
        if data is None:  # n_train / n_val < 1: TrainConfig's checks refuse that before work
            raise ValueError(f"train: the run needs a {split} split with at least one image")
        return data

    def load_split(self, split: str) -> SegmentationDataset | None:
        """The run's ``train``, ``val`` or ``test`` images (``None``: the run has no test split)."""
        cfg = self.config
        if self._folder is not None:
            data = self._folder[split]
            return data if len(data) or split != "test" else None
        n = {"train": cfg.n_train, "val": cfg.n_val, "test": cfg.n_test}[split]
        return _load_split(cfg, split, n) if n > 0 else None

    # ----- checks before work -----------------------------------------------------------------
    def _prepare_out(self, estimate: dict[str, int]) -> None:
        """The output folder: a folder (created if missing) that can be written, with room for a
        checkpoint; stale temporaries of a killed write are removed."""
        out = self.out
        for parent in [out, *out.parents]:
            if parent.exists():
                if not parent.is_dir():
                    raise OutputError(
                        f"--out {out}: {parent} is a file, not a folder; give a folder "
                        "for the run's outputs"
                    )
                break
        try:
            out.mkdir(parents=True, exist_ok=True)
            probe = atomic_write_bytes(out / ".write-test", lambda f: f.write(b"minisegnet"))
            probe.unlink()
        except OSError as exc:
            raise OutputError(
                f"--out {out}: cannot write there ({exc.strerror or exc}); choose "
                "another folder with --out"
            ) from None
        removed = remove_stale_temporaries(out, _OUTPUT_FILES)
        if removed:
            self._log(
                f"note: removed {len(removed)} temporary file(s) left in {out} by an "
                f"interrupted write: {', '.join(p.name for p in removed)}"
            )
        import shutil

        free = shutil.disk_usage(out).free
        need = 2 * estimate["parameters"] + 2 * 2**20  # checkpoint + its temporary copy + figures
        if free < need:
            raise OutputError(
                f"--out {out}: only {_bytes(free)} free on its disk; a checkpoint of "
                f"this run needs about {_bytes(need)}"
            )

    def _check_single_image_batches(self) -> bool:
        """Batch norm in training mode cannot normalise one image at a 1x1 feature map. When the
        training set gives batches of one image (the last one, N % B == 1, or all of them, B = 1 or
        N = 1), the network is tried once on one image in training mode (its state restored). If
        it cannot take it, a last batch of one is dropped every epoch (returns True) and runs whose
        every batch is one image are refused. Networks that can take it train as before."""
        n, b = len(self.train_set), self.config.batch_size
        if n % b != 1 and min(n, b) != 1:
            return False
        state, rng = {k: v.copy() for k, v in self.model.state_dict().items()}, msrandom.get_state()
        x = Tensor(backend.to_device(self.train_set.images[:1], self.config.device))
        try:
            with no_grad(), numpy.errstate(all="ignore"):
                self.model.train()(x)
            return False
        except ValueError as exc:
            if min(n, b) == 1:
                raise ValueError(
                    f"--batch-size {b} with --n-train {n}: every training batch is one "
                    f"image, and {self.config.model} cannot train on that ({exc}); use "
                    "--batch-size 2 or more and --n-train 2 or more"
                ) from None
            self._log(
                f"note: {n} training images in batches of {b} leave a last batch of one image, "
                f"which {self.config.model} cannot train on (batch norm at a 1x1 feature map); "
                "it is skipped every epoch (a different image each epoch, as the order is "
                "shuffled)"
            )
            return True
        finally:
            self.model.load_state_dict(state)
            msrandom.set_state(rng)

    def _check_finite_checkpoint(self, saved: dict[str, Any], source: Path) -> None:
        bad = _nonfinite(
            {
                "model": saved.get("model"),
                "optimizer": saved.get("optimizer"),
                "history": saved.get("history"),
            }
        )
        if bad:
            raise CheckpointError(
                source,
                f"it holds NaN or infinite values ({', '.join(bad[:4])}"
                f"{', ...' if len(bad) > 4 else ''}), so it cannot be resumed or "
                "used; train again without --resume",
            )

    def _check_blas_threads(self, saved: dict[str, Any]) -> None:
        then, now = (saved.get("machine") or {}).get("blas_threads"), blas_threads()
        if then is not None and now is not None and int(then) != now:
            self._log(
                f"warning: this run was saved with {then} BLAS thread(s) and resumes with {now}: "
                "the weights will differ slightly from an uninterrupted run (bit-exact resume "
                f"needs the same count, e.g. OPENBLAS_NUM_THREADS={then})"
            )

    def _check_model_output(self) -> None:
        """One image through the model in eval mode (no state changes): a size the network cannot
        take fails here, with the model's own message, before any training starts."""
        x = Tensor(backend.to_device(self.train_set.images[:1], self.config.device))
        with no_grad():
            y = self.model.eval()(x)
        want = (1, self.num_classes) + self.train_set.image_size
        if tuple(y.shape) != want:
            raise ValueError(
                f"{self.config.model} maps a {x.shape} batch to {tuple(y.shape)}, but "
                f"training needs {want} (class scores at every input pixel)"
            )

    # ----- configuration on resume ----------------------------------------------------------
    def _merge_config(self, saved: dict[str, Any], given: TrainConfig) -> TrainConfig:
        """The saved run's configuration, with the runtime options (epochs, device, out, plots,
        quiet) taken from ``given``; other differences are reported and ignored."""
        base = TrainConfig.from_dict(saved)
        fresh = TrainConfig()
        ignored = [
            f"{k}={getattr(given, k)!r} (the run uses {getattr(base, k)!r})"
            for k in saved
            if k not in _RUNTIME_FIELDS
            and getattr(given, k) != getattr(base, k)
            and getattr(given, k) != getattr(fresh, k)
        ]
        if ignored:
            self._log(
                "note: --resume continues the saved run with its own settings; ignoring "
                + ", ".join(ignored)
            )
        return dataclasses.replace(base, **{k: getattr(given, k) for k in _RUNTIME_FIELDS})

    # ----- state --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`load_state_dict` needs to continue this run exactly."""
        return {
            "epoch": self.epoch,
            "config": self.config.to_dict(),
            "model": dict(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "rng": {
                "minisegnet": msrandom.get_state(),
                "train_loader": self.train_loader.state_dict(),
            },
            "history": [dict(h) for h in self.history],
            "class_names": list(self.class_names),
            "in_channels": int(self.train_set.in_channels),
            "machine": {"blas_threads": blas_threads()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            sched = dict(state["scheduler"])
            if isinstance(self.scheduler, optim.CosineAnnealingLR):
                # a longer (or shorter) run than first planned: stretch the cosine to the new end
                sched["T_max"] = self.config.epochs
            elif isinstance(self.scheduler, optim.OneCycleLR):  # the same for the one cycle
                sched["total_steps"] = self.scheduler.total_steps
            self.scheduler.load_state_dict(sched)
        msrandom.set_state(state["rng"]["minisegnet"])
        self.train_loader.load_state_dict(state["rng"]["train_loader"])
        self.epoch = int(state["epoch"])
        self.history = [dict(h) for h in state["history"]]

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the checkpoint atomically (default ``<out>/checkpoint.npz``).

        A write that fails (full disk, folder removed) raises :class:`OutputError` naming the path;
        the previous checkpoint stays intact."""
        target = Path(path or self.checkpoint_path)
        try:
            written = save_checkpoint(target, self.state_dict())
        except OSError as exc:
            kept = (
                f"the checkpoint of epoch {self.saved_epoch} is intact"
                if self.saved_epoch and target == self.checkpoint_path
                else "no checkpoint was kept"
            )
            raise OutputError(f"could not write {target}: {exc.strerror or exc}; {kept}") from None
        if target == self.checkpoint_path:
            self.saved_epoch = self.epoch
        return written

    # ----- one epoch ------------------------------------------------------------------------
    def train_epoch(self, bar: Any = None) -> dict[str, float]:
        """One pass over the training set; returns mean loss, mIoU and pixel accuracy of the epoch
        (the running values, as the weights moved during the epoch)."""
        self.model.train()
        cm = metrics.ConfusionMatrix(self.num_classes)
        total, count = 0.0, 0
        for b, (images, masks) in enumerate(self.train_loader):
            with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):
                logits = self.model(images)
                loss = self.loss_fn(logits, masks)
                value = float(loss.item())
                if not math.isfinite(value):
                    raise TrainingDiverged(self._diverged_message(f"the loss became {value}", b))
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                if isinstance(self.scheduler, optim.OneCycleLR):
                    self.scheduler.step()  # the one cycle is stepped once per batch
            cm.update(logits.data, masks)
            n = len(masks)
            total, count = total + value * n, count + n
            if bar is not None:
                bar.set_postfix(
                    loss=f"{total / count:.4f}", mIoU=f"{cm.mean_iou():.3f}", refresh=False
                )
                bar.update(1)
        return {"loss": total / max(count, 1), "miou": cm.mean_iou(), "acc": cm.pixel_accuracy()}

    def evaluate(
        self, loader: DataLoader | None = None, crf: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Mean loss, mIoU (over the whole set's confusion matrix) and pixel accuracy, eval mode;
        ``"iou"`` maps each class name to its IoU (``None`` for a class absent from both the
        truth and the prediction, which the mean leaves out).

        ``crf``: :func:`~minisegnet.crf.dense_crf`'s options (``{}`` for its defaults) to also
        score the predictions refined by the CRF (softmax probabilities + the input images, which
        must lie in [0, 1]): ``"crf"`` then holds their ``miou``, ``acc``, ``iou``, the options
        used and ``ms_per_image``, the CRF's own time per image."""
        loader = self.val_loader if loader is None else loader
        if len(loader.dataset) == 0:
            raise ValueError("evaluate: the split has no images")
        if crf is not None:
            crf = check_crf_options(crf)
        self.model.eval()
        cm = metrics.ConfusionMatrix(self.num_classes)
        cm_crf = metrics.ConfusionMatrix(self.num_classes)
        total, count, crf_seconds = 0.0, 0, 0.0
        with no_grad(), numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for images, masks in loader:
                logits = self.model(images)
                total += float(self.loss_fn(logits, masks).item()) * len(masks)
                count += len(masks)
                cm.update(logits.data, masks)
                if crf is not None:
                    t0 = time.perf_counter()
                    refined = refine_logits(logits, images, **crf)
                    crf_seconds += time.perf_counter() - t0
                    cm_crf.update(refined, masks)
        out = {
            "loss": total / max(count, 1),
            "miou": cm.mean_iou(),
            "acc": cm.pixel_accuracy(),
            "iou": _per_class(self.class_names, cm.per_class_iou()),
        }
        if crf is not None:
            out["crf"] = {
                "miou": cm_crf.mean_iou(),
                "acc": cm_crf.pixel_accuracy(),
                "iou": _per_class(self.class_names, cm_crf.per_class_iou()),
                "ms_per_image": 1000 * crf_seconds / max(count, 1),
                "options": crf,
            }
        return out

    def predict(
        self, images: numpy.ndarray, batch_size: int = 64, crf: dict[str, Any] | None = None
    ) -> numpy.ndarray:
        """Label maps (N, H, W) (host NumPy) for images (N, C, H, W), in eval mode; refined by
        :func:`~minisegnet.crf.dense_crf` with the options ``crf`` (``{}``: defaults) if given."""
        self.model.eval()
        out = []
        with no_grad():
            for i in range(0, len(images), batch_size):
                x = Tensor(
                    backend.to_device(
                        numpy.ascontiguousarray(images[i : i + batch_size]), self.config.device
                    )
                )
                scores = self.model(x).data
                if crf is not None:
                    scores = refine_logits(scores, x, **crf)
                out.append(backend.asnumpy(scores.argmax(axis=1)))
        return numpy.concatenate(out) if out else numpy.zeros((0,) + images.shape[2:], numpy.int64)

    def _diverged_message(self, what: str, batch: int | None = None) -> str:
        where = f"epoch {self.epoch + 1}" + (f", batch {batch + 1}" if batch is not None else "")
        lr = self.optimizer.param_groups[0]["lr"]
        if self.saved_epoch > 0 and self.checkpoint_path.is_file():
            kept = (
                f"the last good checkpoint (epoch {self.saved_epoch}) is kept at "
                f"{self.checkpoint_path}"
            )
        else:
            kept = "no checkpoint was written (it diverged in the first epoch)"
        return (
            f"training stopped: {what} at {where} (lr={lr:g}, loss={self.config.loss}, "
            f"optimizer={self.config.optimizer}); {kept}. Try a smaller --lr."
        )

    # ----- the loop ---------------------------------------------------------------------------
    def fit(
        self,
        on_epoch_end: Callable[[Trainer, dict[str, float]], None] | None = None,
        crf: dict[str, Any] | None = None,
    ) -> TrainResult:
        """Train up to ``config.epochs`` epochs (from the resumed epoch), checkpointing each one.

        ``on_epoch_end(trainer, record)`` is called after each epoch's checkpoint is written.
        ``crf`` (dense CRF options, ``{}`` for the defaults): the final validation and test
        scores also hold ``"crf"``, the scores after CRF refinement (see :meth:`evaluate`).
        """
        from tqdm.auto import tqdm

        cfg = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        self._write_json("config.json", cfg.to_dict())
        start = time.perf_counter()
        if self.epoch >= cfg.epochs:
            self._log(
                f"{self.out}: already trained {self.epoch} of {cfg.epochs} epochs; nothing to do"
            )
        while self.epoch < cfg.epochs:
            t0 = time.perf_counter()
            lr = float(self.optimizer.param_groups[0]["lr"])
            bar = tqdm(
                total=len(self.train_loader),
                desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
                unit="batch",
                leave=False,
                disable=cfg.quiet,
                dynamic_ncols=True,
            )
            try:
                tr = self.train_epoch(bar)
            finally:
                bar.close()
            if not _finite_params(self.model):
                raise TrainingDiverged(self._diverged_message("the weights became NaN or infinite"))
            bad = _nonfinite(dict(self.model.state_dict()))
            if bad:
                raise TrainingDiverged(
                    self._diverged_message(
                        "the batch-norm running statistics became NaN or infinite "
                        f"({', '.join(bad[:3])})"
                    )
                )
            bad = _nonfinite(self.optimizer.state_dict()["state"])
            if bad:
                raise TrainingDiverged(
                    self._diverged_message(
                        f"the optimizer state became NaN or infinite ({', '.join(bad[:3])})"
                    )
                )
            va = self.evaluate()
            if not all(math.isfinite(va[k]) for k in ("loss", "miou", "acc")):
                raise TrainingDiverged(
                    self._diverged_message(f"the validation loss became {va['loss']}")
                )
            if self.scheduler is not None and not isinstance(self.scheduler, optim.OneCycleLR):
                self.scheduler.step()
            self.epoch += 1
            record = {
                "epoch": self.epoch,
                "train_loss": tr["loss"],
                "train_miou": tr["miou"],
                "train_acc": tr["acc"],
                "val_loss": va["loss"],
                "val_miou": va["miou"],
                "val_acc": va["acc"],
                "lr": lr,
                "seconds": time.perf_counter() - t0,
            }
            record.update({f"val_iou_{name}": v for name, v in va["iou"].items()})
            self.history.append(record)
            self.save()
            self.write_metrics()
            if cfg.plots:
                self.plot_history()
            self._log(
                f"epoch {self.epoch:>3}/{cfg.epochs}  train loss {tr['loss']:.4f} "
                f"mIoU {tr['miou']:.3f} | val loss {va['loss']:.4f} mIoU {va['miou']:.3f} "
                f"acc {va['acc']:.3f} | lr {lr:.2g} | {record['seconds']:.1f} s"
            )
            if on_epoch_end is not None:
                on_epoch_end(self, record)
        val = (
            self.evaluate(crf=crf)
            if not self.history or crf is not None
            else {
                "loss": self.history[-1]["val_loss"],
                "miou": self.history[-1]["val_miou"],
                "acc": self.history[-1]["val_acc"],
                "iou": {n: self.history[-1].get(f"val_iou_{n}") for n in self.class_names},
            }
        )
        test_set = self.load_split("test")
        test = (
            self.evaluate(DataLoader(test_set, 64, shuffle=False, device=cfg.device), crf=crf)
            if test_set
            else None
        )
        if cfg.plots:
            self.plot_history()
            self.plot_predictions(self.out / "predictions.png")
        seconds = time.perf_counter() - start
        self._write_json(
            "results.json",
            {
                "epochs": self.epoch,
                "val": val,
                "test": test,
                "seconds_this_session": seconds,
                "seconds_all_epochs": float(sum(h["seconds"] for h in self.history)),
                "num_parameters": int(self.model.num_parameters()),
            },
        )
        return TrainResult(
            self.out, [dict(h) for h in self.history], val, test, seconds, self.model
        )

    # ----- outputs ----------------------------------------------------------------------------
    def write_metrics(self, path: str | os.PathLike | None = None) -> Path:
        """``metrics.csv``: one row per epoch (columns :data:`METRIC_COLUMNS`, then the validation
        IoU of each class, ``val_iou_<class name>``, empty for a class absent from both truth and
        prediction), written atomically."""
        columns = METRIC_COLUMNS + tuple(f"val_iou_{n}" for n in self.class_names)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for h in self.history:
            row = {k: h.get(k) for k in columns}
            writer.writerow(
                {
                    k: ("" if v is None else f"{v:.6g}" if isinstance(v, float) else v)
                    for k, v in row.items()
                }
            )
        data = buf.getvalue().encode()
        return atomic_write_bytes(path or self.out / "metrics.csv", lambda f: f.write(data))

    def plot_history(self) -> Path | None:
        from .plots import plot_history

        if not self.history:
            return None
        return plot_history(
            self.history,
            self.out / "loss_curve.png",
            title=f"{self.config.model} on {self.config.dataset_name()}",
        )

    def plot_predictions(
        self,
        path: str | os.PathLike,
        dataset: SegmentationDataset | None = None,
        n: int = 6,
        crf: dict[str, Any] | None = None,
    ) -> Path:
        """Render input | truth | prediction for the first ``n`` images of ``dataset`` (val);
        the prediction refined by the CRF with the options ``crf`` if given."""
        from .plots import plot_predictions

        if dataset is None:
            dataset = self.val_set
        if len(dataset) == 0 or n < 1:
            raise ValueError(f"plot_predictions: nothing to draw ({len(dataset)} images, n={n})")
        n = min(n, len(dataset))
        images, masks = dataset.images[:n], dataset.masks[:n]
        return plot_predictions(
            images,
            masks,
            self.predict(images, crf=crf),
            self.class_names,
            path,
            title=f"{self.config.model}, epoch {self.epoch}"
            + ("" if crf is None else " + dense CRF"),
        )

    def _write_json(self, name: str, obj: Any) -> Path:
        data = (json.dumps(obj, indent=2) + "\n").encode()
        return atomic_write_bytes(self.out / name, lambda f: f.write(data))


def train(
    config: TrainConfig | None = None,
    resume: bool = False,
    log: Callable[[str], None] | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train a model; ``train()`` alone is ``minisegnet train`` (a U-Net on ``shapes``, CPU).

    ``overrides`` replace fields of ``config`` (or of the defaults): ``train(model="fcn8s",
    epochs=3, out="runs/try")``. Returns a :class:`TrainResult`.
    """
    config = dataclasses.replace(config or TrainConfig(), **overrides)
    return Trainer(config, resume=resume, log=log).fit()


def predict(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike | None = None,
    split: str = "val",
    n: int = 8,
    device: str = "cpu",
    crf: dict[str, Any] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Render input | truth | prediction for the first ``n`` images of a split with a saved model.

    ``checkpoint`` is a ``checkpoint.npz`` or a run folder. The split is regenerated from the
    run's configuration (same seed, same images). ``out`` is a ``.png`` path or a folder (default:
    ``predict_<split>.png`` next to the checkpoint). Returns the PNG path and the split's metrics
    (loss, mIoU, pixel accuracy over the whole split). A split the run has no images of (the test
    split of a run trained with ``n_test=0``) is an error, as is ``n < 1``; ``n`` larger than the
    split renders the whole split. ``crf`` (dense CRF options, ``{}`` for the defaults): the
    scores also hold ``"crf"`` (:meth:`Trainer.evaluate`) and the grid shows the refined masks.
    """
    if crf is not None:
        crf = check_crf_options(crf)
    if split not in ("train", "val", "test"):
        raise ValueError(f"predict: unknown split {split!r}; use train, val or test")
    if isinstance(n, bool) or not isinstance(n, (int, numpy.integer)) or n < 1:
        raise ValueError(f"predict: -n must be a number of images >= 1, got {n!r}")
    ckpt_path = Path(checkpoint)
    run_dir = ckpt_path if ckpt_path.is_dir() else ckpt_path.parent
    if out is None:
        out = run_dir / f"predict_{split}.png"
    out = Path(out)
    if out.suffix.lower() == ".png":
        if out.is_dir():
            raise ValueError(
                f"predict: --out {out} is a folder; give a new .png file name or the "
                "folder without the .png ending"
            )
    elif out.suffix and not out.is_dir():
        raise ValueError(
            f"predict: --out {out} must be a .png file or a folder, not a "
            f"{out.suffix} file (the grid is written as PNG)"
        )
    else:
        out = out / f"predict_{split}.png"
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"predict: --out {out}: {parent} is a file, not a folder")
            break
    state_config = load_checkpoint(checkpoint, max_bytes=_checkpoint_budget)["config"]
    cfg = TrainConfig.from_dict(state_config)
    if split == "test" and cfg.n_test == 0 and cfg.data is None:
        raise ValueError(
            f"predict: the run in {run_dir} was trained with --n-test 0, so it has no "
            "test split; use --split val (or train a run with --n-test N)"
        )
    if cfg.data is not None and not Path(cfg.data).is_dir():
        raise ValueError(
            f"predict: the run in {run_dir} was trained on the images of --data {cfg.data}, "
            f"which is no longer a folder; put it back there to score its {split} split, or "
            "segment image files with --input"
        )
    cfg = dataclasses.replace(cfg, device=device, out=str(run_dir), quiet=True)
    trainer = Trainer(cfg, resume=ckpt_path, write_outputs=False)
    data = {"train": trainer.train_set, "val": trainer.val_set}.get(split)
    if data is None:
        data = trainer.load_split("test")
        if data is None:
            raise ValueError(
                f"predict: the --data folder {cfg.data} of the run in {run_dir} has "
                "no test images; use --split val"
            )
    scores = trainer.evaluate(DataLoader(data, 64, shuffle=False, device=device), crf=crf)
    try:
        trainer.plot_predictions(out, data, n=n, crf=scores.get("crf", {}).get("options"))
    except OSError as exc:
        raise OutputError(f"predict: cannot write {out}: {exc.strerror or exc}") from None
    return out, scores
