"""Per-model training recipes: what ``minisegnet train --model NAME`` uses on ``shapes``.

The trainer's defaults (12 epochs, Adam at lr 0.01, width 8, depth 3, 32x32 images) suit the
U-Net; several other networks need more epochs, a smaller learning rate, a shallower backbone or a
larger input to learn ``shapes`` well. A :class:`Recipe` holds those settings for one model, with
one line on why. ``minisegnet train --model NAME`` applies the recipe of NAME to every option the
command line did not give (an explicit option always wins; ``--no-recipe`` keeps the shared
defaults), prints it and records it in the run's configuration (``TrainConfig.recipe``).

Recipes are tuned for the built-in ``shapes`` data only: with ``--dataset digits`` or ``--data``
the shared defaults apply. The measured time and mIoU of every recipe are in docs/results.md.

    >>> from minisegnet.recipes import get_recipe, recipe_config
    >>> get_recipe("setr-pup").settings["lr"]
    0.003
    >>> cfg = recipe_config("setr-pup", lr=0.001)      # explicit settings win
    >>> cfg.lr, cfg.epochs == get_recipe("setr-pup").settings["epochs"]
    (0.001, True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "RECIPES",
    "RECIPE_DATASET",
    "Recipe",
    "apply_recipe",
    "get_recipe",
    "recipe_config",
    "recipe_flags",
]

#: the only dataset the recipes are tuned for
RECIPE_DATASET = "shapes"


@dataclass(frozen=True)
class Recipe:
    """The training settings of one model on ``shapes``: ``TrainConfig`` field -> value."""

    model: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    why: str = ""

    def flags(self) -> str:
        """The settings as command-line options, e.g. ``--epochs 60 --lr 0.003``."""
        return recipe_flags(self.settings)


def _r(model: str, why: str, **settings: Any) -> Recipe:
    return Recipe(model, dict(settings), why)


RECIPES: dict[str, Recipe] = {
    r.model: r
    for r in (
        _r("unet", "the shared defaults are tuned for it (val mIoU 0.915 in under a minute)"),
        _r("fcn8s", "the x8 head needs more epochs to sharpen the boundaries", epochs=40),
        _r(
            "fcn16s",
            "a 32x32 image leaves pool4 2x2: 64x64 gives it 4x4 cells to place boundaries",
            size=64,
            epochs=20,
        ),
        _r(
            "fcn32s",
            "pool5 is 1x1 on 32x32 (one score per image); 128x128 gives a 4x4 map, at "
            "width 4 to keep the 16x larger images affordable",
            size=128,
            width=4,
            epochs=15,
        ),
        _r("segnet", "more epochs", epochs=40),
        _r("deconvnet", "more epochs", epochs=40),
        _r(
            "pspnet",
            "depth 2: output stride 4 (an 8x8 map) instead of 8 (4x4) on 32x32",
            depth=2,
            epochs=30,
        ),
        _r(
            "deeplabv3",
            "depth 2: output stride 4 (an 8x8 map) instead of 8 (4x4) on 32x32",
            depth=2,
            epochs=30,
        ),
        _r("deeplabv3plus", "the shared defaults reach the target (its decoder restores stride 4)"),
        _r(
            "unet-mobilenet",
            "its separable convolutions learn slowly (val 0.36 after 12 epochs): more epochs",
            epochs=40,
        ),
        _r(
            "setr-naive",
            "the hybrid encoder (a small CNN stem before the transformer): the naive head's 1x1 "
            "convolutions add no local bias, and the pure ViT stops at val 0.43; more epochs at "
            "a smaller learning rate",
            stem="conv",
            epochs=40,
            lr=0.003,
        ),
        _r(
            "setr-pup",
            "attention needs more epochs at a smaller learning rate",
            epochs=60,
            lr=0.003,
        ),
        _r(
            "setr-mla",
            "attention needs more epochs at a smaller learning rate, and twice the "
            "training images (with 1,200 it overfits: train 0.76, val 0.68)",
            n_train=2400,
            epochs=80,
            lr=0.003,
        ),
        _r(
            "swin",
            "two stages, twice the training images (with 1,200 it overfits), more epochs "
            "at a smaller learning rate",
            depth=2,
            n_train=2400,
            epochs=50,
            lr=0.003,
        ),
        _r(
            "deeplabv1",
            "depth 2: output stride 4 (an 8x8 map) instead of 8 (4x4) on 32x32",
            depth=2,
            epochs=20,
        ),
        _r(
            "deeplabv2",
            "depth 2: output stride 4 (an 8x8 map) instead of 8 (4x4) on 32x32, and "
            "more epochs for its small head (four atrous convs straight to the classes)",
            depth=2,
            epochs=40,
        ),
        _r(
            "fcdensenet",
            "its dense blocks run at full resolution (costly): growth rate 4, and more epochs",
            width=4,
            epochs=18,
        ),
    )
}


def get_recipe(model: str) -> Recipe:
    """The recipe of ``model`` (a name of ``minisegnet.models.MODEL_NAMES``)."""
    if model not in RECIPES:
        raise ValueError(
            f"get_recipe: no recipe for model {model!r}; recipes exist for {', '.join(RECIPES)}"
        )
    return RECIPES[model]


def apply_recipe(given: Mapping[str, Any]) -> dict[str, Any]:
    """``TrainConfig`` fields: the recipe of ``given["model"]`` (default ``unet``) under the
    explicitly ``given`` ones, plus ``recipe``: ``{"name": model, "set": settings it applied}``.

    ``given`` is returned unchanged (no ``recipe`` key) when it trains on other data than
    ``shapes`` (``dataset`` or ``data`` given), for which no recipe is tuned.
    """
    from .train import TrainConfig

    defaults = TrainConfig()
    if given.get("data") is not None or given.get("dataset", defaults.dataset) != RECIPE_DATASET:
        return dict(given)
    model = given.get("model", defaults.model)
    applied = {k: v for k, v in get_recipe(model).settings.items() if k not in given}
    return {**applied, **given, "recipe": {"name": model, "set": applied}}


def recipe_config(model: str, **overrides: Any) -> Any:
    """The ``TrainConfig`` that ``minisegnet train --model MODEL`` with ``overrides`` builds."""
    from .train import TrainConfig

    return dataclasses.replace(TrainConfig(), **apply_recipe({"model": model, **overrides}))


def recipe_flags(settings: Mapping[str, Any]) -> str:
    """``{"n_train": 2400, "lr": 0.003}`` -> ``--n-train 2400 --lr 0.003``."""
    return " ".join(
        f"--{k.replace('_', '-')} {v:g}" if isinstance(v, float) else f"--{k.replace('_', '-')} {v}"
        for k, v in settings.items()
    )
