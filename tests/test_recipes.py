"""Per-model recipes (``minisegnet.recipes``) and how ``minisegnet train`` applies them."""

import dataclasses
import json

import numpy as np
import pytest

from minisegnet import models
from minisegnet import random as msrandom
from minisegnet.autograd import Tensor, no_grad
from minisegnet.cli import _config_from_args, build_parser, main
from minisegnet.recipes import (
    RECIPES,
    apply_recipe,
    get_recipe,
    recipe_config,
    recipe_flags,
)
from minisegnet.train import TrainConfig, _build_model

TINY_DATA = [
    "--n-train",
    "8",
    "--n-val",
    "4",
    "--n-test",
    "0",
    "--batch-size",
    "4",
    "--quiet",
    "--no-plots",
]


def config(*argv):
    return _config_from_args(build_parser().parse_args(["train", *argv]))


def test_every_registered_model_has_a_recipe_with_a_reason():
    assert set(RECIPES) == set(models.MODEL_NAMES)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for name, recipe in RECIPES.items():
        assert recipe.model == name and len(recipe.why) > 10
        assert set(recipe.settings) <= fields - {"model", "dataset", "data", "out", "recipe"}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_builds_its_network_at_its_own_size(name):
    cfg = recipe_config(name)  # TrainConfig's own checks pass (depth vs size)
    assert cfg.model == name and cfg.recipe == {"name": name, "set": dict(RECIPES[name].settings)}
    assert all(getattr(cfg, k) == v for k, v in RECIPES[name].settings.items())
    state = msrandom.get_state()
    try:
        net = _build_model(cfg, 3, 4)
    finally:
        msrandom.set_state(state)
    net.eval()
    with no_grad():
        y = net(Tensor(np.zeros((1, 3, cfg.size, cfg.size), np.float32)))
    assert y.shape == (1, 4, cfg.size, cfg.size)


def test_the_default_run_is_unchanged():
    cfg = config()
    assert cfg.recipe == {"name": "unet", "set": {}}
    assert dataclasses.replace(cfg, recipe=None) == TrainConfig()
    assert RECIPES["unet"].settings == {}


def test_explicit_options_win_over_the_recipe():
    swin = get_recipe("swin").settings
    assert swin["lr"] != 0.02 and swin["epochs"] != 3
    cfg = config("--model", "swin", "--lr", "0.02", "--epochs", "3")
    assert (cfg.lr, cfg.epochs) == (0.02, 3)
    assert cfg.depth == swin["depth"] and cfg.n_train == swin["n_train"]
    assert cfg.recipe == {
        "name": "swin",
        "set": {k: v for k, v in swin.items() if k not in ("lr", "epochs")},
    }


def test_setr_naive_recipe_uses_the_hybrid_stem_unless_told_otherwise():
    assert config("--model", "setr-naive").stem == "conv"
    assert config("--model", "setr-naive", "--stem", "patch").stem == "patch"
    assert config("--model", "setr-naive", "--no-recipe").stem == "patch"
    assert config("--model", "setr-pup").stem == "patch"
    assert "--stem conv" in get_recipe("setr-naive").flags()


def test_no_recipe_and_other_data_keep_the_shared_defaults():
    assert config("--model", "swin", "--no-recipe") == TrainConfig(model="swin")
    digits = apply_recipe({"model": "swin", "dataset": "digits"})
    assert digits == {"model": "swin", "dataset": "digits"}
    assert apply_recipe({"model": "swin", "data": "some/folder"}) == {
        "model": "swin",
        "data": "some/folder",
    }


def test_unknown_model_and_flag_spelling():
    with pytest.raises(ValueError, match="no recipe for model 'vgg'.*unet"):
        get_recipe("vgg")
    assert (
        recipe_flags({"n_train": 2400, "lr": 0.003, "size": 64})
        == "--n-train 2400 --lr 0.003 --size 64"
    )


@pytest.mark.parametrize("name", ["setr-pup", "fcn32s", "setr-naive"])
def test_a_short_recipe_run_records_the_recipe(tmp_path, capsys, name):
    """Everything but the data size and the epochs comes from the recipe (fcn32s: its own size
    and width)."""
    out = tmp_path / name
    assert main(["train", "--model", name, "--epochs", "1", *TINY_DATA, "--out", str(out)]) == 0
    saved = json.loads((out / "config.json").read_text())
    applied = {
        k: v
        for k, v in get_recipe(name).settings.items()
        if k not in ("epochs", "n_train", "batch_size")
    }
    assert saved["recipe"] == {"name": name, "set": applied}
    assert all(saved[k] == v for k, v in applied.items())
    results = json.loads((out / "results.json").read_text())
    assert 0.0 <= results["val"]["miou"] <= 1.0


def test_the_recipe_is_printed_and_resume_keeps_the_saved_epochs(tmp_path, capsys):
    out = str(tmp_path / "r")
    args = ["train", "--model", "setr-pup", *TINY_DATA[:-2], "--no-plots", "--out", out]
    assert main(args + ["--epochs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "recipe for setr-pup: --lr 0.003 (" in printed and "--no-recipe" in printed
    # without --epochs, --resume keeps the saved run's 1 epoch (not the recipe's or the default)
    assert main(["train", "--out", out, "--resume", "--quiet"]) == 0
    assert len((tmp_path / "r" / "metrics.csv").read_text().splitlines()) == 2
