"""The ``minisegnet`` command line, run in-process through ``main([...])``."""

import csv
import json

import numpy as np
import pytest

from minisegnet import backend
from minisegnet.checkpoint import load_checkpoint
from minisegnet.cli import EXIT_DIVERGED, build_parser, main
from minisegnet.train import METRIC_COLUMNS, TrainConfig, Trainer

SMALL = [
    "--width",
    "4",
    "--depth",
    "2",
    "--size",
    "16",
    "--n-train",
    "16",
    "--n-val",
    "8",
    "--n-test",
    "8",
    "--batch-size",
    "8",
]
PNG = b"\x89PNG\r\n\x1a\n"


def read_png(path):
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 1000
    return matplotlib.image.imread(str(path))


def test_train_then_predict_writes_the_promised_files(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *SMALL, "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"outputs in {out}/" in printed and "val mIoU" in printed
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    names = ("background", "circle", "square", "triangle")
    assert list(rows[0]) == list(METRIC_COLUMNS) + [f"val_iou_{n}" for n in names]
    for r in rows:  # per-class IoU: a number, or empty (absent)
        ious = [float(r[f"val_iou_{n}"]) for n in names if r[f"val_iou_{n}"] != ""]
        assert ious and all(0.0 <= v <= 1.0 for v in ious)
        assert float(r["val_miou"]) == pytest.approx(sum(ious) / len(ious), rel=1e-4)
    import json

    results = json.loads((out / "results.json").read_text())
    assert set(results["val"]["iou"]) == set(names)
    assert all(0.0 <= float(r["val_miou"]) <= 1.0 and float(r["train_loss"]) > 0 for r in rows)
    curve, grid = read_png(out / "loss_curve.png"), read_png(out / "predictions.png")
    assert curve.ndim == 3 and grid.shape[0] > grid.shape[1]  # one row per image: tall
    state = load_checkpoint(out / "checkpoint.npz")
    assert state["epoch"] == 2 and state["config"]["width"] == 4

    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(out / "checkpoint.npz"),
                "--out",
                str(tmp_path / "pred.png"),
                "-n",
                "3",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "val: mIoU" in printed and str(tmp_path / "pred.png") in printed
    assert "IoU per class: background " in printed and ", triangle " in printed
    read_png(tmp_path / "pred.png")


def test_resume_continues_the_saved_run(tmp_path, capsys):
    out = str(tmp_path / "r")
    args = ["train", *SMALL, "--schedule", "none", "--out", out, "--quiet", "--no-plots"]
    assert main(args + ["--epochs", "1"]) == 0
    assert main(args + ["--epochs", "2", "--resume"]) == 0
    straight = str(tmp_path / "s")
    assert (
        main(
            [
                "train",
                *SMALL,
                "--schedule",
                "none",
                "--out",
                straight,
                "--quiet",
                "--no-plots",
                "--epochs",
                "2",
            ]
        )
        == 0
    )
    a, b = load_checkpoint(out)["model"], load_checkpoint(straight)["model"]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert len((tmp_path / "r" / "metrics.csv").read_text().splitlines()) == 3
    assert not (tmp_path / "r" / "loss_curve.png").exists()  # --no-plots


def test_no_arguments_means_the_documented_default_run():
    args = build_parser().parse_args(["train"])
    from minisegnet.cli import _config_from_args

    cfg = _config_from_args(args)
    assert cfg.recipe == {"name": "unet", "set": {}}  # U-Net's recipe: the shared defaults
    import dataclasses

    assert dataclasses.replace(cfg, recipe=None) == TrainConfig()
    assert (cfg.model, cfg.dataset, cfg.device) == ("unet", "shapes", "cpu")
    assert str(cfg.out_dir()).replace("\\", "/") == "runs/unet-shapes"


@pytest.mark.parametrize(
    "option,bad,valid",
    [
        ("--model", "vgg16", "unet, fcn8s, fcn16s, fcn32s"),
        ("--dataset", "voc", "shapes, digits"),
        ("--loss", "l1", "ce, dice, ce+dice, focal, tversky"),
        ("--optimizer", "rmsprop", "adam, adamw, sgd"),
    ],
)
def test_unknown_names_list_the_valid_ones(option, bad, valid, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", option, bad])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"invalid choice: '{bad}'" in err and valid.replace(", ", "', '") in err


def test_errors_are_reported_without_a_traceback(tmp_path, capsys):
    assert main(["train", *SMALL, "--out", str(tmp_path / "x"), "--resume"]) == 2
    assert "no checkpoint to resume" in capsys.readouterr().err
    assert main(["train", "--epochs", "0"]) == 2
    assert "epochs must be >= 1" in capsys.readouterr().err
    assert main(["train", "--size", "20", "--n-train", "4", "--out", str(tmp_path / "y")]) == 2
    assert "input height 20 does not work" in capsys.readouterr().err  # the model's own message
    assert main(["predict", "--checkpoint", str(tmp_path / "none.npz")]) == 2
    assert "no checkpoint at" in capsys.readouterr().err


def test_stem_option(tmp_path, capsys):
    assert main(["train", "--model", "segnet", "--stem", "conv"]) == 2
    assert "--stem conv is for the SETR models only" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--model", "setr-naive", "--stem", "resnet"])
    assert "invalid choice: 'resnet' (choose from 'patch', 'conv')" in capsys.readouterr().err
    out = tmp_path / "s"
    args = ["train", "--model", "setr-naive", "--stem", "conv", *SMALL, "--epochs", "1"]
    assert main([*args, "--no-plots", "--quiet", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["stem"] == "conv"


@pytest.mark.skipif(backend.gpu_available(), reason="a GPU is present")
def test_gpu_without_cupy_names_the_install_command(tmp_path, capsys):
    assert main(["train", *SMALL, "--device", "gpu", "--out", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err
    assert 'pip install "minisegnet[gpu]"' in err and 'pip install "minisegnet[gpu-cuda13]"' in err


def test_gpu_unavailable_is_refused_before_any_output(tmp_path, capsys, monkeypatch):
    # an existing run is not announced as "starting it over", no new folder appears, and the
    # message names the option (not "an array on device 'gpu'"); the same for predict
    run = tmp_path / "run"
    args = [*SMALL, "--epochs", "1", "--no-plots", "--quiet", "--out", str(run)]
    assert main(["train", *args]) == 0
    capsys.readouterr()
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    reason = "CuPy is not installed. Install it with: " + backend.INSTALL_HINT
    monkeypatch.setattr(backend, "gpu_unavailable_reason", lambda: reason)
    for device in ("gpu", "cuda"):
        assert main(["train", *SMALL, "--device", device, "--out", str(run)]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err == f"minisegnet: error: --device {device} asked for the GPU, but it is " + (
            f"unavailable: {reason}\n"
        )
    assert main(["train", *SMALL, "--device", "gpu", "--out", str(tmp_path / "new")]) == 2
    assert not (tmp_path / "new").exists()
    for extra in ([], ["--input", str(tmp_path / "photo.png")]):
        assert main(["predict", "--checkpoint", str(run), "--device", "gpu", *extra]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("minisegnet: error: --device gpu asked for the GPU")
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before
    # from Python, the Trainer refuses before it makes the output folder
    with pytest.raises(backend.DeviceError, match="unavailable: CuPy is not installed"):
        Trainer(TrainConfig(device="gpu", out=str(tmp_path / "api")))
    assert not (tmp_path / "api").exists()


def test_nan_loss_exits_with_a_message(tmp_path, capsys, monkeypatch):
    import minisegnet.train as train_module

    monkeypatch.setattr(
        train_module,
        "make_loss",
        lambda name: lambda x, y: train_module.losses.cross_entropy(x, y) * float("inf"),
    )
    code = main(["train", *SMALL, "--epochs", "1", "--out", str(tmp_path / "n"), "--quiet"])
    assert code == EXIT_DIVERGED
    err = capsys.readouterr().err
    assert "training stopped: the loss became inf at epoch 1, batch 1" in err


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "train" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["train", "predict", "models"])
def test_every_option_of_a_command_has_help_without_argparse_none(command, capsys):
    # predict once printed "(default: None)" after its own "(default 5)" and left --split and
    # --device without a word
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    assert "default: None" not in text and "(default: False)" not in text
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    for action in sub._actions:
        assert action.help, f"minisegnet {command} {action.option_strings} has no help text"


def test_quiet_hides_epoch_lines_but_not_notes(tmp_path, capsys):
    # --quiet once also swallowed "ignoring lr=0.5": the user was not told --resume ignored it
    out = str(tmp_path / "q")
    args = ["train", *SMALL, "--epochs", "1", "--no-plots", "--quiet", "--out", out]
    assert main(args) == 0
    printed, err = capsys.readouterr()
    assert "epoch   1/1" not in printed + err and err == ""
    assert main([*args, "--resume", "--lr", "0.5"]) == 0
    printed, err = capsys.readouterr()
    assert err.startswith("note: --resume continues the saved run with its own settings; ")
    assert "ignoring lr=0.5" in err and "nothing to do" not in printed + err


def test_a_busy_cpu_gets_the_one_blas_thread_hint(tmp_path, capsys, monkeypatch):
    import os

    import minisegnet.train as train_module
    from minisegnet.cli import _busy_cpu_note

    cores = os.cpu_count() or 1
    monkeypatch.setattr(train_module, "blas_threads", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (cores + 1.5, 0.0, 0.0))
    note = _busy_cpu_note("cpu")
    assert note.startswith(f"note: the CPU is busy (load average {cores + 1.5:.1f} on {cores} ")
    assert "OPENBLAS_NUM_THREADS=1" in note
    assert _busy_cpu_note("gpu") is None  # the GPU's speed does not depend on BLAS threads
    args = ["train", *SMALL, "--epochs", "1", "--no-plots", "--out", str(tmp_path / "b")]
    assert main(args) == 0
    assert note in capsys.readouterr().out
    assert main([*args, "--quiet"]) == 0  # --quiet keeps stderr for what the run must say
    assert "CPU is busy" not in "".join(capsys.readouterr())
    monkeypatch.setattr(train_module, "blas_threads", lambda: 1)  # one thread: nothing to say
    assert _busy_cpu_note("cpu") is None
    monkeypatch.setattr(train_module, "blas_threads", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (cores - 0.5, 0.0, 0.0))  # a free core
    assert _busy_cpu_note("cpu") is None
