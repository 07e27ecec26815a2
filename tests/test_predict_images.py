"""``minisegnet predict --input``: a user's own PNG/JPEG files through a saved run."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from minisegnet.data.images import list_images, read_image, read_labels, resize_image, resize_labels  # noqa: E402
from minisegnet.infer import load_saved_model, predict_images  # noqa: E402
from minisegnet.plots import class_colours  # noqa: E402
from minisegnet.train import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(
        width=4,
        depth=2,
        size=16,
        n_train=8,
        n_val=4,
        n_test=0,
        epochs=1,
        batch_size=8,
        out=str(out),
        quiet=True,
        plots=False,
    )
    return out


def cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, "-m", "minisegnet", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def write_images(folder):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((20, 30, 3)) * 255).astype(np.uint8)).save(folder / "rgb.png")
    Image.fromarray((rng.random((25, 17)) * 255).astype(np.uint8)).save(folder / "grey.jpg")
    Image.fromarray((rng.random((9, 9, 4)) * 255).astype(np.uint8)).save(folder / "alpha.png")
    (folder / "notes.txt").write_text("not an image, and not an image ending: skipped")
    return folder


def test_channel_rule(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(grey).save(tmp_path / "g.png")
    x = read_image(tmp_path / "g.png", 3)  # grey -> repeated into R, G, B
    assert x.shape == (3, 3, 4) and x.dtype == np.float32
    assert np.array_equal(x[0], grey / np.float32(255)) and np.array_equal(x[0], x[2])
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] = 200, 100, 50, 7
    Image.fromarray(rgba).save(tmp_path / "a.png")
    y = read_image(tmp_path / "a.png", 3)  # alpha dropped, not composited
    assert np.allclose(y[:, 0, 0], np.array([200, 100, 50]) / 255.0)
    z = read_image(tmp_path / "a.png", 1)  # luminance 0.299 R + 0.587 G + 0.114 B
    assert z.shape == (1, 2, 2)
    assert abs(z[0, 0, 0] * 255 - (0.299 * 200 + 0.587 * 100 + 0.114 * 50)) <= 1.0
    with pytest.raises(ValueError, match="4-channel"):
        read_image(tmp_path / "g.png", 4)


def test_resize_rules():
    lab = np.array([[0, 1], [2, 3]])
    assert np.array_equal(resize_labels(lab, (4, 4)), np.repeat(np.repeat(lab, 2, 0), 2, 1))
    assert np.array_equal(resize_labels(np.repeat(np.repeat(lab, 3, 0), 3, 1), (2, 2)), lab)
    img = np.full((1, 5, 7), 0.25, np.float32)
    assert np.allclose(resize_image(img, (16, 16)), 0.25)  # bilinear keeps a constant


def test_predict_images_writes_mask_and_overlay_at_the_original_size(run, tmp_path):
    folder = write_images(tmp_path / "in")
    assert [p.name for p in list_images(folder)] == ["alpha.png", "grey.jpg", "rgb.png"]
    saved, results = predict_images(run, folder, tmp_path / "pred")
    assert saved.in_channels == 3 and saved.class_names[0] == "background"
    assert [r.source.name for r in results] == ["alpha.png", "grey.jpg", "rgb.png"]
    palette = np.round(class_colours(saved.num_classes) * 255).astype(np.uint8)
    for r, (h, w) in zip(results, [(9, 9), (25, 17), (20, 30)]):
        assert r.size == (h, w) and r.labels.shape == (h, w)
        mask = Image.open(r.mask_path)
        assert mask.mode == "P" and mask.size == (w, h)
        assert np.array_equal(read_labels(r.mask_path), r.labels)
        assert ((0 <= r.labels) & (r.labels < saved.num_classes)).all()
        pal = np.array(mask.getpalette()[: 3 * saved.num_classes], np.uint8).reshape(-1, 3)
        assert np.array_equal(pal, palette)
        overlay = np.asarray(Image.open(r.overlay_path))
        assert overlay.shape == (h, w, 3)
        src = np.round(read_image(r.source, 3).transpose(1, 2, 0) * 255)
        bg = r.labels == 0  # background pixels unchanged
        assert np.abs(overlay[bg].astype(float) - src[bg]).max() <= 1.0
        assert abs(r.class_fractions(saved.num_classes).sum() - 1.0) < 1e-12
    # the label map is the network's on the resized image, resized back with nearest neighbour
    from minisegnet.autograd import Tensor, no_grad

    x = resize_image(read_image(folder / "rgb.png", 3), (16, 16))[None]
    with no_grad():
        small = saved.model(Tensor(x)).data.argmax(axis=1)[0]
    assert np.array_equal(results[2].labels, resize_labels(small, (20, 30)))


def test_saved_model_rebuilds_without_the_data(run):
    saved = load_saved_model(run / "checkpoint.npz")
    assert saved.config.size == 16 and saved.num_classes == 4 and not saved.model.training


def test_cli_happy_path_and_default_out(run, tmp_path):
    img = write_images(tmp_path / "in") / "rgb.png"
    res = cli("predict", "--checkpoint", str(run), "--input", str(img))
    assert res.returncode == 0, res.stderr
    assert "rgb.png (30x20): background" in res.stdout and "wrote 2 files" in res.stdout
    assert (run / "predict_images" / "rgb_mask.png").is_file()
    assert (run / "predict_images" / "rgb_overlay.png").is_file()


@pytest.mark.parametrize(
    "case,expect",
    [
        ("bad.png", "bad.png: not an image Pillow can read"),
        ("missing", "--input {tmp}/missing does not exist"),
        ("empty", "--input {tmp}/empty holds no .png, .jpg or .jpeg image"),
        ("folder-with-bad", "broken.jpg: "),
    ],
)
def test_cli_errors_name_the_file_without_a_traceback(run, tmp_path, case, expect):
    (tmp_path / "bad.png").write_text("not an image")
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    write_images(tmp_path / "folder-with-bad")
    (tmp_path / "folder-with-bad" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    res = cli(
        "predict",
        "--checkpoint",
        str(run),
        "--input",
        str(tmp_path / case),
        "--out",
        str(tmp_path / "o"),
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert expect.format(tmp=tmp_path) in res.stderr and res.stderr.startswith("minisegnet: error:")
    assert not (tmp_path / "o").exists()  # checked before anything is written


def test_split_mode_still_works(run, tmp_path):
    from minisegnet.cli import main

    assert (
        main(["predict", "--checkpoint", str(run), "--out", str(tmp_path / "g.png"), "-n", "2"])
        == 0
    )
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
