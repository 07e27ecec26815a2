"""The trainer's edges as a user hits them: bad options, damaged checkpoints, Ctrl-C, NaN anywhere,
unusable output folders, stale temporaries, the BLAS thread count. Command-line behaviour is
tested through ``python -m minisegnet`` in a subprocess (exit code, message, no traceback)."""

import errno
import io
import json
import os
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import minisegnet.train as train_module
from minisegnet.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from minisegnet.cli import EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_WRITE_FAILED, main
from minisegnet.train import (
    TrainConfig,
    Trainer,
    TrainingDiverged,
    blas_threads,
    check_memory,
    estimate_memory,
    train,
)

ROOT = Path(__file__).resolve().parents[1]
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
    "0",
    "--batch-size",
    "8",
    "--epochs",
    "1",
    "--no-plots",
]
TINY = dict(
    width=4,
    depth=2,
    size=16,
    n_train=16,
    n_val=8,
    n_test=0,
    batch_size=8,
    epochs=1,
    plots=False,
    quiet=True,
)


def cli(*args, env=None, timeout=120):
    """``python -m minisegnet ARGS`` as a user runs it; returns the CompletedProcess."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "minisegnet", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=str(ROOT),
    )


def refused(proc, *phrases, code=2):
    """The command failed with ``code`` and a one-line message with every phrase, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "minisegnet: error:" in proc.stderr, proc.stderr
    for phrase in phrases:
        assert phrase in proc.stderr, (phrase, proc.stderr)
    assert "pickle" not in proc.stderr
    return proc.stderr


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A trained one-epoch run (n_test 0); tests copy its checkpoint before damaging it."""
    out = tmp_path_factory.mktemp("edges") / "run"
    train(TrainConfig(out=str(out), **TINY))
    return out


# ----- batch norm and a last batch of one image -----------------------------------------------


def test_a_last_batch_of_one_image_is_skipped_not_a_crash(tmp_path):
    proc = cli(
        "train",
        "--n-train",
        "33",
        "--size",
        "32",
        "--depth",
        "5",
        "--width",
        "4",
        "--batch-size",
        "16",
        "--n-val",
        "4",
        "--n-test",
        "0",
        "--epochs",
        "1",
        "--no-plots",
        "--out",
        tmp_path / "bn",
    )
    assert proc.returncode == 0, proc.stderr
    assert "last batch of one image" in proc.stdout and "skipped every epoch" in proc.stdout
    trainer = Trainer(
        TrainConfig(
            out=str(tmp_path / "bn"),
            n_train=33,
            size=32,
            depth=5,
            width=4,
            batch_size=16,
            n_val=4,
            n_test=0,
            quiet=True,
            plots=False,
        )
    )
    assert len(trainer.train_loader) == 2 and [len(m) for _, m in trainer.train_loader] == [16, 16]
    # a network that can take one image (no 1x1 bottleneck) still trains on the last batch of one
    roomy = Trainer(
        TrainConfig(
            out=str(tmp_path / "roomy"),
            n_train=17,
            size=16,
            depth=2,
            width=4,
            batch_size=16,
            n_val=4,
            n_test=0,
            quiet=True,
            plots=False,
        )
    )
    assert [len(m) for _, m in roomy.train_loader] == [16, 1]


def test_batches_of_one_image_into_a_1x1_batch_norm_are_refused_at_start_up(tmp_path):
    err = refused(
        cli(
            "train",
            "--n-train",
            "4",
            "--batch-size",
            "1",
            "--size",
            "32",
            "--depth",
            "5",
            "--width",
            "4",
            "--n-val",
            "4",
            "--n-test",
            "0",
            "--out",
            tmp_path / "one",
        ),
        "--batch-size 1",
        "every training batch is one image",
        "--batch-size 2 or more",
    )
    assert "(1, 128, 1, 1)" in err  # the bottleneck that cannot take it
    assert not (tmp_path / "one" / "checkpoint.npz").exists()


# ----- damaged checkpoints --------------------------------------------------------------------


def _rewrite(data, change):
    """The archive ``data``, each member passed through ``change(name, bytes)`` (None drops it)."""
    src, buf = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for name in src.namelist():
            new = change(name, src.read(name))
            if new is not None:
                out.writestr(name, new)
    return buf.getvalue()


def _npy(array):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def _meta_edit(edit):
    def change(name, data):
        if name != "__meta__.npy":
            return data
        meta = json.loads(str(np.load(io.BytesIO(data))))
        edit(meta)
        return _npy(np.asarray(json.dumps(meta)))

    return change


def _damage(kind, data):
    if kind == "truncated":
        return data[: len(data) // 2]
    if kind == "empty":
        return b""
    if kind == "bit-flipped":  # one bit in the middle of the largest array's stored bytes
        member = max(zipfile.ZipFile(io.BytesIO(data)).infolist(), key=lambda m: m.compress_size)
        name_len, extra_len = struct.unpack_from("<HH", data, member.header_offset + 26)
        start = member.header_offset + 30 + name_len + extra_len  # past the local file header
        flipped = bytearray(data)
        flipped[start + member.compress_size // 2] ^= 0x10
        return bytes(flipped)
    if kind == "text file":
        return b"epoch,loss\n1,0.5\n"
    if kind == "pickled object":
        return _npy(np.array([{"weights": 1}], dtype=object))
    if kind == "missing entry":
        return _rewrite(data, lambda n, b: None if n == "a3.npy" else b)
    if kind == "missing key":
        return _rewrite(data, _meta_edit(lambda m: m["state"].pop("optimizer")))
    if kind == "bad JSON":
        return _rewrite(
            data,
            lambda n, b: (
                _npy(np.asarray('{"format": "minisegnet-checkpoint-1", "st'))
                if n == "__meta__.npy"
                else b
            ),
        )
    raise AssertionError(kind)


DAMAGE = [
    "truncated",
    "empty",
    "bit-flipped",
    "text file",
    "pickled object",
    "missing entry",
    "missing key",
    "bad JSON",
]


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_checkpoint_is_named_not_a_traceback(run_dir, tmp_path, kind):
    bad = tmp_path / "checkpoint.npz"
    bad.write_bytes(_damage(kind, (run_dir / "checkpoint.npz").read_bytes()))
    with pytest.raises(CheckpointError, match="is not a valid/complete minisegnet checkpoint"):
        Trainer(TrainConfig(out=str(tmp_path), **TINY), resume=True)
    refused(
        cli("predict", "--checkpoint", bad), f"{bad} is not a valid/complete minisegnet checkpoint"
    )


def test_resume_from_a_damaged_checkpoint_is_refused(run_dir, tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(
        _damage("truncated", (run_dir / "checkpoint.npz").read_bytes())
    )
    refused(
        cli("train", *SMALL, "--out", tmp_path, "--resume"),
        "not a valid/complete minisegnet checkpoint",
    )


def test_only_the_entries_the_index_names_are_read(run_dir, tmp_path):
    data = (run_dir / "checkpoint.npz").read_bytes()
    padded = tmp_path / "padded.npz"
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("junk.npy", _npy(np.zeros(48 * 2**20, np.uint8)))  # 48 MB, compresses to ~50 kB
    padded.write_bytes(buf.getvalue())
    assert padded.stat().st_size < len(data) + 2**20
    tracemalloc.start()
    try:
        state = load_checkpoint(padded)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert state["epoch"] == 1 and peak < 8 * 2**20, peak
    # an entry the index does name, blown up: refused against the configuration's size
    big = _rewrite(
        data, lambda n, b: _npy(np.zeros(40 * 2**20, np.float32)) if n == "a0.npy" else b
    )
    (tmp_path / "big.npz").write_bytes(big)
    with pytest.raises(
        CheckpointError, match="more than the .* bytes a checkpoint of its configuration"
    ):
        load_checkpoint(tmp_path / "big.npz", max_bytes=train_module._checkpoint_budget)


# ----- Ctrl-C -----------------------------------------------------------------------------------


def test_ctrl_c_during_the_checkpoint_write_reports_what_the_file_holds(
    tmp_path, capsys, monkeypatch
):
    real_save, calls = train_module.save_checkpoint, []

    def save(path, state):
        calls.append(state["epoch"])
        if len(calls) == 2:  # Ctrl-C in the middle of writing epoch 2
            from minisegnet.checkpoint import atomic_write_bytes

            def half(f):
                f.write(b"PK\x03\x04 half a checkpoint")
                raise KeyboardInterrupt

            atomic_write_bytes(path, half)
        return real_save(path, state)

    monkeypatch.setattr(train_module, "save_checkpoint", save)
    out = tmp_path / "c"
    code = main(["train", *SMALL, "--epochs", "3", "--out", str(out), "--quiet"])
    assert code == EXIT_INTERRUPTED
    assert (
        f"interrupted; 1 epoch(s) are saved in {out / 'checkpoint.npz'}" in capsys.readouterr().err
    )
    assert load_checkpoint(out)["epoch"] == 1
    assert not list(out.glob(".*.tmp"))


def test_ctrl_c_before_training_or_in_the_first_epoch_prints_no_traceback(
    tmp_path, capsys, monkeypatch
):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(train_module, "_load_split", interrupt)  # while the data is generated
        assert main(["train", *SMALL, "--out", str(tmp_path / "a")]) == EXIT_INTERRUPTED
    assert "interrupted before training started; nothing was written" in capsys.readouterr().err
    monkeypatch.setattr(Trainer, "train_epoch", interrupt)
    assert main(["train", *SMALL, "--out", str(tmp_path / "b"), "--quiet"]) == EXIT_INTERRUPTED
    assert "no checkpoint was written" in capsys.readouterr().err


# ----- NaN anywhere -----------------------------------------------------------------------------


def test_a_nan_validation_loss_stops_the_run_before_it_is_saved(tmp_path, capsys, monkeypatch):
    ce = train_module.losses.cross_entropy
    # fine while training (gradients on), NaN in evaluation (no_grad)
    monkeypatch.setattr(
        train_module,
        "make_loss",
        lambda name: lambda x, y: ce(x, y) * (1.0 if x.requires_grad else float("nan")),
    )
    out = tmp_path / "v"
    assert main(["train", *SMALL, "--out", str(out), "--quiet"]) == EXIT_DIVERGED
    assert "the validation loss became nan at epoch 1" in capsys.readouterr().err
    assert not (out / "checkpoint.npz").exists()


def test_nan_batch_norm_statistics_stop_the_run_and_keep_the_last_good_checkpoint(tmp_path):
    trainer = Trainer(TrainConfig(out=str(tmp_path / "bn"), **{**TINY, "epochs": 3}))
    real_epoch = trainer.train_epoch

    def epoch(bar=None):
        result = real_epoch(bar)
        if trainer.epoch == 1:  # epoch 2 corrupts a running variance
            trainer.model.state_dict()  # (buffers are live arrays)
            bn = next(m for m in trainer.model.modules() if type(m).__name__ == "BatchNorm2d")
            bn.running_var[0] = np.nan
        return result

    trainer.train_epoch = epoch
    with pytest.raises(
        TrainingDiverged,
        match=r"batch-norm running statistics became NaN.*epoch 2.*"
        r"last good checkpoint \(epoch 1\)",
    ):
        trainer.fit()
    saved = load_checkpoint(tmp_path / "bn")
    assert saved["epoch"] == 1 and all(np.isfinite(v).all() for v in saved["model"].values())


def test_a_checkpoint_with_nan_values_is_not_resumed(run_dir, tmp_path):
    state = load_checkpoint(run_dir)
    name = next(k for k in state["model"] if k.endswith("running_mean"))
    state["model"][name][0] = np.nan
    save_checkpoint(tmp_path / "checkpoint.npz", state)
    err = refused(
        cli("train", *SMALL, "--epochs", "2", "--out", tmp_path, "--resume"),
        "NaN or infinite values",
        f"model.{name}",
        "train again without --resume",
    )
    assert "last good checkpoint" not in err
    refused(cli("predict", "--checkpoint", tmp_path), "NaN or infinite values")


# ----- bounds before work -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options,message",
    [
        (["--depth", "50", "--size", "16"], "--depth must be <= 16, got 50"),
        (["--depth", "10", "--size", "16"], "16 px allow at most --depth 4"),
        (["--width", "100000"], "reduce --width"),
        (["--size", "100000"], "reduce --size"),
        (["--n-test", "-5"], "--n-test must be >= 0, got -5"),
        (["--seed", "-1"], "--seed must be >= 0, got -1"),
    ],
)
def test_impossible_runs_are_refused_before_any_work(tmp_path, options, message):
    proc = cli("train", *options, "--out", tmp_path / "x")
    refused(proc, message)
    assert not (tmp_path / "x").exists()  # refused before the folder, data or model


def test_the_memory_estimate_is_sane_and_refusals_quote_it():
    est = estimate_memory(TrainConfig())
    assert 10 * 2**20 < est["total"] < 2**30  # the default run: ~100 MB
    assert 100_000 < est["num_parameters"] < 150_000  # 121,204 really
    with pytest.raises(ValueError, match=r"would need about .* MB of memory .* the budget is 1 MB"):
        check_memory(TrainConfig(), budget=10**6)
    wide = estimate_memory(TrainConfig(width=100000))
    assert wide["parameters"] > 10**14


# ----- the output folder ------------------------------------------------------------------------


def test_out_that_is_a_file_is_refused_naming_it(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    refused(
        cli("train", *SMALL, "--out", tmp_path / "notes.txt"),
        f"--out {tmp_path / 'notes.txt'}",
        "is a file, not a folder",
    )
    refused(
        cli("train", *SMALL, "--out", tmp_path / "notes.txt" / "run"), "is a file, not a folder"
    )
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_read_only_or_full_out_is_refused_before_data_and_model(tmp_path, capsys, monkeypatch):
    def no_data(*args, **kwargs):
        raise AssertionError("data generated before --out was checked")

    monkeypatch.setattr(train_module, "_load_split", no_data)

    def read_only(path, write):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    with monkeypatch.context() as m:
        m.setattr(train_module, "atomic_write_bytes", read_only)
        assert main(["train", *SMALL, "--out", str(tmp_path / "ro")]) == 2
    assert (
        f"--out {tmp_path / 'ro'}: cannot write there (Read-only file system)"
        in capsys.readouterr().err
    )

    import shutil

    monkeypatch.setattr(
        shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000)
    )
    assert main(["train", *SMALL, "--out", str(tmp_path / "full")]) == 2
    assert (
        "only 1 kB free on its disk; a checkpoint of this run needs about"
        in capsys.readouterr().err
    )


def test_a_disk_that_fills_up_mid_run_keeps_the_last_checkpoint(tmp_path, capsys, monkeypatch):
    real_save, calls = train_module.save_checkpoint, []

    def save(path, state):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(path, state)

    monkeypatch.setattr(train_module, "save_checkpoint", save)
    out = tmp_path / "f"
    assert (
        main(["train", *SMALL, "--epochs", "2", "--out", str(out), "--quiet"]) == EXIT_WRITE_FAILED
    )
    err = capsys.readouterr().err
    assert (
        f"could not write {out / 'checkpoint.npz'}: No space left on device; the checkpoint of "
        "epoch 1 is intact"
    ) in err
    assert load_checkpoint(out)["epoch"] == 1


def test_stale_temporaries_of_a_killed_write_are_removed_on_resume(run_dir, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(run_dir, out)
    stale = [out / ".checkpoint.npz.k1ll3d.tmp", out / ".metrics.csv.x2.tmp"]
    mine = [out / ".notes.tmp", out / "keep.tmp"]
    for p in stale + mine:
        p.write_bytes(b"x" * 100)
    proc = cli("train", *SMALL, "--epochs", "2", "--out", out, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "removed 2 temporary file(s)" in proc.stdout
    assert not any(p.exists() for p in stale) and all(p.exists() for p in mine)


# ----- the BLAS thread count --------------------------------------------------------------------


def test_the_checkpoint_records_the_blas_thread_count_and_resume_warns_on_a_change(tmp_path):
    out = tmp_path / "t"
    proc = cli(
        "train", *SMALL, "--out", out, env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    )
    assert proc.returncode == 0, proc.stderr
    recorded = load_checkpoint(out)["machine"]["blas_threads"]
    if blas_threads() is None:
        assert recorded is None
        pytest.skip("this NumPy's BLAS does not report its thread count")
    assert recorded == 1
    state = load_checkpoint(out)
    state["machine"]["blas_threads"] = 7
    save_checkpoint(out / "checkpoint.npz", state)
    proc = cli(
        "train",
        *SMALL,
        "--epochs",
        "2",
        "--out",
        out,
        "--resume",
        env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "saved with 7 BLAS thread(s) and resumes with 1" in proc.stdout
    assert "OPENBLAS_NUM_THREADS=7" in proc.stdout


# ----- predict ------------------------------------------------------------------------------------


def test_predict_refuses_an_empty_split_and_a_bad_n(run_dir, tmp_path):
    refused(
        cli("predict", "--checkpoint", run_dir, "--split", "test", "--out", tmp_path / "t.png"),
        "trained with --n-test 0, so it has no test split",
    )
    refused(
        cli("predict", "--checkpoint", run_dir, "-n", "-1", "--out", tmp_path / "n.png"),
        "-n must be a number of images >= 1, got -1",
    )
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_predict_out_is_the_png_file_named_or_a_folder(run_dir, tmp_path):
    proc = cli("predict", "--checkpoint", run_dir, "--out", tmp_path / "x.png", "-n", "100")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "x.png").is_file() and (tmp_path / "x.png").read_bytes()[:4] == b"\x89PNG"
    refused(
        cli("predict", "--checkpoint", run_dir, "--out", tmp_path / "x.jpg"),
        "must be a .png file or a folder",
    )
    assert not (tmp_path / "x.jpg").exists()
    (tmp_path / "grids").mkdir()
    proc = cli("predict", "--checkpoint", run_dir, "--out", tmp_path / "grids", "-n", "2")
    assert proc.returncode == 0 and (tmp_path / "grids" / "predict_val.png").is_file()
