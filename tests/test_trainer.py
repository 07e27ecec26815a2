"""The trainer: checkpoints (format, atomic writes), exact resume, NaN handling, losses, predict."""

import dataclasses
import math
import os

import numpy as np
import pytest

from minisegnet import backend
from minisegnet.checkpoint import atomic_write_bytes, load_checkpoint, save_checkpoint
from minisegnet.train import (
    LOSS_NAMES,
    METRIC_COLUMNS,
    TrainConfig,
    Trainer,
    TrainingDiverged,
    make_loss,
    predict,
    train,
)

from conftest import DEVICES

# a run that takes well under a second an epoch
TINY = dict(
    width=4,
    depth=2,
    size=16,
    n_train=24,
    n_val=8,
    n_test=0,
    batch_size=8,
    epochs=2,
    plots=False,
    quiet=True,
)


def tiny(tmp_path, name="run", **kw):
    return TrainConfig(**{**TINY, "out": str(tmp_path / name), **kw})


def weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), f"{k} differs"


# ----- checkpoint format ------------------------------------------------------------------------


def test_checkpoint_round_trip_keeps_structure_types_and_bits(tmp_path):
    rng_state = np.random.default_rng(5).bit_generator.state  # 128-bit integers inside
    state = {
        "w": np.arange(6, dtype=np.float32).reshape(2, 3) / 7,
        "i": np.array([1, 2], dtype=np.int64),
        "scalar": np.float32(0.1),
        "py": 0.1,
        "nan": float("nan"),
        "inf": -math.inf,
        "none": None,
        "flag": True,
        "text": "unet",
        "betas": (0.9, 0.999),
        "by_index": {0: {"step": 3, "exp_avg": np.ones(2)}, 5: {}},
        "nested": [{"a": [1, 2.5]}, ("x", np.zeros(0))],
        "__dunder": 1,
        "rng": rng_state,
    }
    path = save_checkpoint(tmp_path / "c.npz", state)
    back = load_checkpoint(path)
    assert back["w"].dtype == np.float32 and np.array_equal(back["w"], state["w"])
    assert back["i"].dtype == np.int64 and back["scalar"].dtype == np.float32
    assert back["py"] == 0.1 and math.isnan(back["nan"]) and back["inf"] == -math.inf
    assert back["none"] is None and back["flag"] is True and back["text"] == "unet"
    assert back["betas"] == (0.9, 0.999) and isinstance(back["betas"], tuple)
    assert set(back["by_index"]) == {0, 5} and back["by_index"][0]["step"] == 3
    assert back["nested"][0] == {"a": [1, 2.5]} and back["nested"][1][1].shape == (0,)
    assert back["__dunder"] == 1 and back["rng"] == rng_state
    # plain .npz, readable without pickle
    with np.load(path, allow_pickle=False) as z:
        assert "__meta__" in z.files


def test_checkpoint_rejects_unstorable_objects_and_foreign_files(tmp_path):
    with pytest.raises(TypeError, match="cannot store a object"):
        save_checkpoint(tmp_path / "c.npz", {"x": object()})
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not a valid/complete minisegnet checkpoint"):
        load_checkpoint(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.npz")


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, {"epoch": 1})

    def broken(f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, broken)
    assert load_checkpoint(path) == {"epoch": 1}
    assert os.listdir(tmp_path) == ["checkpoint.npz"], "the temporary file is cleaned up"


# ----- exact resume -------------------------------------------------------------------------------


class Interrupt(KeyboardInterrupt):
    pass


def stop_after(epoch):
    def hook(trainer, record):
        if trainer.epoch == epoch:
            raise Interrupt

    return hook


def test_resume_after_an_interruption_gives_bit_identical_weights(tmp_path):
    straight = Trainer(tiny(tmp_path, "straight"))
    straight.fit()

    interrupted = Trainer(tiny(tmp_path, "resumed"))
    with pytest.raises(Interrupt):
        interrupted.fit(on_epoch_end=stop_after(1))
    assert load_checkpoint(tmp_path / "resumed")["epoch"] == 1
    resumed = Trainer(tiny(tmp_path, "resumed"), resume=True)
    assert resumed.epoch == 1 and len(resumed.history) == 1
    resumed.fit()

    assert_same_weights(weights(straight.model), weights(resumed.model))
    opt_a, opt_b = straight.optimizer.state_dict(), resumed.optimizer.state_dict()
    for i in opt_a["state"]:
        assert opt_a["state"][i]["step"] == opt_b["state"][i]["step"]
        assert np.array_equal(opt_a["state"][i]["exp_avg_sq"], opt_b["state"][i]["exp_avg_sq"])
    for a, b in zip(straight.history, resumed.history):
        assert {k: v for k, v in a.items() if k != "seconds"} == {
            k: v for k, v in b.items() if k != "seconds"
        }
    # ... and the run really moved: a different seed ends elsewhere
    other = Trainer(tiny(tmp_path, "other", seed=1))
    other.fit()
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(weights(other.model).values(), weights(straight.model).values())
    )


def test_resume_with_more_epochs_equals_the_longer_run_without_a_schedule(tmp_path):
    """`--epochs 1` then `--epochs 2 --resume` is the 2-epoch run when the lr does not depend on
    the planned length (--schedule none); SGD with momentum and dropout-free BN model."""
    kw = dict(schedule="none", optimizer="sgd", lr=0.05)
    straight = Trainer(tiny(tmp_path, "a", **kw))
    straight.fit()
    Trainer(tiny(tmp_path, "b", epochs=1, **kw)).fit()
    resumed = Trainer(tiny(tmp_path, "b", epochs=2, **kw), resume=True)
    resumed.fit()
    assert_same_weights(weights(straight.model), weights(resumed.model))


def test_resume_needs_a_checkpoint_and_keeps_the_saved_settings(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume"):
        Trainer(tiny(tmp_path, "nothing"), resume=True)
    Trainer(tiny(tmp_path, "r", epochs=1)).fit()
    notes = []
    t = Trainer(tiny(tmp_path, "r", epochs=2, lr=0.5), resume=True, log=notes.append)
    assert t.config.lr == TrainConfig().lr and t.config.epochs == 2
    assert any("ignoring lr=0.5" in n for n in notes)
    # the cosine schedule planned for 1 epoch is stretched to the new end: halfway at epoch 1 of 2
    assert t.optimizer.param_groups[0]["lr"] == pytest.approx(TrainConfig().lr / 2)
    # already finished: fit() does nothing more
    done = Trainer(tiny(tmp_path, "r", epochs=1), resume=True)
    before = weights(done.model)
    result = done.fit()
    assert len(result.history) == 1
    assert_same_weights(before, weights(done.model))


# ----- divergence ---------------------------------------------------------------------------------


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = Trainer(tiny(tmp_path, "nan", epochs=3))
    good = {}
    real_loss = trainer.loss_fn

    def loss_fn(logits, target):  # fine in epoch 1, NaN from epoch 2 on
        loss = real_loss(logits, target)
        return loss * float("nan") if trainer.epoch >= 1 else loss

    trainer.loss_fn = loss_fn
    with pytest.raises(TrainingDiverged) as info:
        trainer.fit(on_epoch_end=lambda t, r: good.update(weights(t.model)))
    msg = str(info.value)
    assert "loss became nan at epoch 2, batch 1" in msg
    assert "last good checkpoint (epoch 1)" in msg and "smaller --lr" in msg
    saved = load_checkpoint(tmp_path / "nan" / "checkpoint.npz")
    assert saved["epoch"] == 1 and len(saved["history"]) == 1
    assert_same_weights(good, saved["model"])
    assert all(np.isfinite(v).all() for v in saved["model"].values())
    rows = (tmp_path / "nan" / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 2
    # the kept checkpoint resumes
    assert Trainer(tiny(tmp_path, "nan", epochs=3), resume=True).epoch == 1


def test_huge_learning_rate_diverges_with_a_clear_message(tmp_path):
    cfg = tiny(tmp_path, "huge", optimizer="sgd", lr=1e30, epochs=1)
    with pytest.raises(
        TrainingDiverged,
        match=r"(loss became (nan|inf)|weights became NaN).*epoch 1.*"
        r"no checkpoint was written",
    ):
        Trainer(cfg).fit()
    assert not (tmp_path / "huge" / "checkpoint.npz").exists()


# ----- losses, config, predict, learning ----------------------------------------------------------


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_every_loss_gives_a_finite_scalar_with_gradients(name):
    from minisegnet import Tensor

    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(2, 4, 5, 5)).astype(np.float32), requires_grad=True)
    y = rng.integers(0, 4, (2, 5, 5))
    loss = make_loss(name)(x, y)
    loss.backward()
    assert loss.shape == () and math.isfinite(loss.item()) and loss.item() > 0
    assert (
        x.grad is not None
        and np.isfinite(x.grad.numpy()).all()
        and np.abs(x.grad.numpy()).sum() > 0
    )


def test_config_rejects_unknown_names_listing_valid_ones():
    with pytest.raises(ValueError, match="unknown model 'vgg'.*unet.*fcn8s.*deconvnet"):
        TrainConfig(model="vgg")
    with pytest.raises(ValueError, match="unknown loss 'l2'.*ce\\+dice"):
        TrainConfig(loss="l2")
    with pytest.raises(ValueError, match="lr must be a positive number"):
        TrainConfig(lr=-1.0)
    with pytest.raises(ValueError, match="num_classes can only be chosen for the shapes"):
        TrainConfig(dataset="digits", num_classes=3)
    cfg = TrainConfig(model="fcn8s", dataset="shapes")
    assert str(cfg.out_dir()) == os.path.join("runs", "fcn8s-shapes")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_stem_is_for_setr_models_only():
    from minisegnet.models.setr import ConvStem
    from minisegnet.train import _build_model, estimate_memory

    with pytest.raises(ValueError, match="unknown stem 'resnet'; valid: patch, conv"):
        TrainConfig(model="setr-naive", stem="resnet")
    with pytest.raises(
        ValueError,
        match=r"--stem conv is for the SETR models only \(setr-naive, setr-pup, setr-mla\); "
        "unet has no patch embedding",
    ):
        TrainConfig(model="unet", stem="conv")
    net = _build_model(TrainConfig(model="setr-naive", stem="conv"), 3, 4)
    assert isinstance(net.encoder.stem, ConvStem) and net.stem == "conv"
    assert _build_model(TrainConfig(model="setr-mla"), 3, 4).stem == "patch"
    assert TrainConfig.from_dict({"model": "setr-pup"}).stem == "patch"  # older config.json
    pure, hybrid = (
        estimate_memory(TrainConfig(model="setr-naive", stem=s)) for s in ("patch", "conv")
    )
    assert hybrid["num_parameters"] > pure["num_parameters"]
    assert hybrid["activations"] > 1.5 * pure["activations"]  # 16 channels at full resolution


def test_training_lowers_the_loss_and_writes_every_output(tmp_path):
    cfg = tiny(tmp_path, "learn", epochs=3, n_train=48, n_test=8, plots=True, lr=0.02)
    result = train(cfg)
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < 0.8 * losses[0], losses
    for name in (
        "checkpoint.npz",
        "metrics.csv",
        "loss_curve.png",
        "predictions.png",
        "config.json",
        "results.json",
    ):
        assert (result.out / name).stat().st_size > 0, name
    header = (result.out / "metrics.csv").read_text().splitlines()[0]
    assert header.split(",") == list(METRIC_COLUMNS) + [
        f"val_iou_{n}" for n in ("background", "circle", "square", "triangle")
    ]
    assert result.test is not None and 0.0 <= result.test["miou"] <= 1.0
    assert {k: result.val[k] for k in ("loss", "miou", "acc")} == pytest.approx(
        {
            "loss": result.history[-1]["val_loss"],
            "miou": result.history[-1]["val_miou"],
            "acc": result.history[-1]["val_acc"],
        }
    )
    assert result.val["iou"] == {n: result.history[-1][f"val_iou_{n}"] for n in result.val["iou"]}


@pytest.mark.parametrize("model", ["fcn8s", "segnet", "deconvnet"])
def test_other_models_train_one_epoch(tmp_path, model):
    cfg = tiny(tmp_path, model, model=model, size=32, epochs=1, n_train=8, n_val=4)
    result = train(cfg)
    assert len(result.history) == 1 and math.isfinite(result.history[0]["val_loss"])


def test_predict_regenerates_the_split_and_scores_it(tmp_path):
    train(tiny(tmp_path, "p", epochs=1, n_test=4))
    path, scores = predict(tmp_path / "p" / "checkpoint.npz", tmp_path / "grid.png", n=3)
    assert path == tmp_path / "grid.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = load_checkpoint(tmp_path / "p")["history"][-1]
    assert scores["miou"] == pytest.approx(saved["val_miou"])  # the same val images, same model
    path2, _ = predict(tmp_path / "p", tmp_path, split="test", n=2)
    assert path2 == tmp_path / "predict_test.png" and path2.stat().st_size > 0


def test_digits_train(tmp_path):
    pytest.importorskip(
        "sklearn", reason='scikit-learn is not installed (pip install "minisegnet[datasets]")'
    )
    result = train(tiny(tmp_path, "d", dataset="digits", epochs=1, n_train=8, n_val=4))
    assert result.model.num_parameters() > 0 and len(result.history) == 1


@pytest.mark.parametrize("device", DEVICES)
def test_checkpoints_hold_host_arrays_and_load_on_the_cpu(tmp_path, device):
    trainer = Trainer(tiny(tmp_path, "dev", epochs=1, device=device))
    trainer.fit()
    state = load_checkpoint(tmp_path / "dev")
    assert all(isinstance(v, np.ndarray) for v in state["model"].values())
    cpu = Trainer(dataclasses.replace(trainer.config, device="cpu"), resume=True)
    assert cpu.model.device == "cpu"
    for k, v in cpu.model.state_dict().items():
        assert np.allclose(v, backend.asnumpy(trainer.model.state_dict()[k]))
