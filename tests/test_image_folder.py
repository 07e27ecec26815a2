"""``ImageFolderDataset`` and ``minisegnet train --data DIR`` on small generated folders."""

import json

import numpy as np
import pytest

pytest.importorskip("PIL")
from PIL import Image

from minisegnet.checkpoint import load_checkpoint
from minisegnet.cli import main
from minisegnet.data import ImageFolderDataset, image_folder_splits, shapes

SMALL = [
    "--size",
    "16",
    "--width",
    "4",
    "--depth",
    "2",
    "--epochs",
    "1",
    "--batch-size",
    "4",
    "--quiet",
    "--no-plots",
]


def make_folder(root, n=10, size=16, seed=1, grey=False, names=True):
    ds = shapes(n=n, size=size, seed=seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i, (im, m) in enumerate(zip(ds.images, ds.masks)):
        pixels = (im.transpose(1, 2, 0) * 255).round().astype(np.uint8)
        img = Image.fromarray(pixels)
        img = img.convert("L") if grey else img
        img.save(root / "images" / (f"s{i:02d}.png" if i % 2 else f"s{i:02d}.jpg"), quality=95)
        Image.fromarray(m.astype(np.uint8)).save(root / "masks" / f"s{i:02d}.png")
    if names:
        (root / "classes.txt").write_text("background\ncircle\nsquare\n\ntriangle\n")
    return ds


def test_folder_reads_masks_exactly_and_names_the_classes(tmp_path):
    ds = make_folder(tmp_path / "d")
    folder = ImageFolderDataset(
        tmp_path / "d" / "images",
        tmp_path / "d" / "masks",
        class_names=tmp_path / "d" / "classes.txt",
    )
    assert len(folder) == 10 and folder.in_channels == 3 and folder.image_size == (16, 16)
    assert folder.class_names == ("background", "circle", "square", "triangle")
    assert np.array_equal(folder.masks, ds.masks)  # sorted by name: s00 .. s09
    png = [i for i in range(10) if i % 2]  # PNG images are lossless
    assert np.abs(folder.images[png] - ds.images[png]).max() <= 0.5 / 255 + 1e-6
    grey = ImageFolderDataset(tmp_path / "d" / "images", tmp_path / "d" / "masks", channels=1)
    assert grey.in_channels == 1 and grey.num_classes == 4 and grey.class_names[0] == "class 0"
    resized = ImageFolderDataset(tmp_path / "d" / "images", tmp_path / "d" / "masks", size=8)
    assert resized.images.shape == (10, 3, 8, 8) and resized.masks.shape == (10, 8, 8)


def test_single_folder_split_fractions_and_subfolder_layout(tmp_path):
    make_folder(tmp_path / "d", n=10)
    sp = image_folder_splits(tmp_path / "d", size=16, seed=0)
    assert [len(sp[s]) for s in ("train", "val", "test")] == [7, 2, 1]  # 70 / 20 / 10 %
    every = np.concatenate([sp[s].images for s in ("train", "val", "test")])
    assert len({im.tobytes() for im in every}) == 10  # disjoint, none lost
    again = image_folder_splits(tmp_path / "d", size=16, seed=0)
    assert np.array_equal(again["val"].images, sp["val"].images)  # same seed, same cut
    for split, n in (("train", 4), ("val", 2)):
        make_folder(tmp_path / "s" / split, n=n, names=False, seed=len(split))
    sub = image_folder_splits(tmp_path / "s", size=16)
    assert (len(sub["train"]), len(sub["val"]), len(sub["test"])) == (4, 2, 0)
    assert sub["train"].num_classes == sub["val"].num_classes


@pytest.mark.parametrize(
    "damage,message",
    [
        ("label", "s03.png holds label 7, outside 0..3 (4 classes in the class-names file)"),
        ("size", "s03.png is 8x8 but its image"),
        ("rgb-mask", "s03.png: a mask must be a greyscale or palette PNG"),
        ("no-mask", "s03.png has no mask"),
        ("orphan", "extra.png has no image"),
        ("not-image", "s03.png: not an image Pillow can read"),
        ("no-masks-dir", "expected"),
        ("one-image", "1 image; at least 2 are needed"),
    ],
)
def test_bad_folders_are_refused_naming_the_file(tmp_path, capsys, damage, message):
    root = tmp_path / "d"
    make_folder(root, n=1 if damage == "one-image" else 6)
    mask = root / "masks" / "s03.png"
    if damage == "label":
        Image.fromarray(np.full((16, 16), 7, np.uint8)).save(mask)
    elif damage == "size":
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(mask)
    elif damage == "rgb-mask":
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(mask)
    elif damage == "no-mask":
        mask.unlink()
    elif damage == "orphan":
        Image.fromarray(np.zeros((16, 16), np.uint8)).save(root / "masks" / "extra.png")
    elif damage == "not-image":
        (root / "images" / "s03.png").write_text("text")
    elif damage == "no-masks-dir":
        for p in (root / "masks").iterdir():
            p.unlink()
        (root / "masks").rmdir()
    assert main(["train", "--data", str(root), *SMALL, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minisegnet: error:") and message in err, err
    assert not (tmp_path / "r" / "checkpoint.npz").exists()


def test_train_on_a_folder_then_predict_on_it(tmp_path, capsys):
    make_folder(tmp_path / "mine", n=10)
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "mine"), *SMALL, "--out", str(out)]) == 0
    assert "val mIoU" in capsys.readouterr().out
    state = load_checkpoint(out)
    assert state["class_names"] == ["background", "circle", "square", "triangle"]
    assert state["in_channels"] == 3 and state["config"]["data"] == str(tmp_path / "mine")
    results = json.loads((out / "results.json").read_text())
    assert results["test"] is not None and 0 <= results["test"]["miou"] <= 1
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(out),
                "--input",
                str(tmp_path / "mine" / "images"),
                "--out",
                str(tmp_path / "p"),
            ]
        )
        == 0
    )
    assert len(list((tmp_path / "p").glob("*_mask.png"))) == 10
    # the folder moved away: predict says the run's --data is gone (it was given no --data)
    (tmp_path / "mine").rename(tmp_path / "moved")
    capsys.readouterr()
    assert main(["predict", "--checkpoint", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"minisegnet: error: predict: the run in {out} was trained on the images of --data "
        f"{tmp_path / 'mine'}, which is no longer a folder; put it back there to score its val "
    )
    assert "--input" in err


def test_grey_folder_trains_a_one_channel_model(tmp_path, capsys):
    make_folder(tmp_path / "g", n=6, grey=True, names=False)
    assert main(["train", "--data", str(tmp_path / "g"), *SMALL, "--out", str(tmp_path / "r")]) == 0
    state = load_checkpoint(tmp_path / "r")
    assert state["in_channels"] == 1 and state["class_names"][0] == "class 0"
    rgb = tmp_path / "colour.png"  # an RGB file for a one-channel network
    Image.fromarray(np.full((12, 20, 3), (200, 100, 50), np.uint8)).save(rgb)
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(tmp_path / "r"),
                "--input",
                str(rgb),
                "--out",
                str(tmp_path / "p"),
            ]
        )
        == 0
    )
    assert "1 channel(s)" in capsys.readouterr().out
    assert np.asarray(Image.open(tmp_path / "p" / "colour_mask.png")).shape == (12, 20)


def test_num_classes_with_data_is_refused(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path), "--num-classes", "3"]) == 2
    assert "--num-classes cannot be chosen with --data" in capsys.readouterr().err


def test_data_that_is_a_file_or_missing_is_named_as_such(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x")
    for name, what in (("notes.txt", "a file, not a folder"), ("nowhere", "no such folder")):
        assert main(["train", "--data", str(tmp_path / name), "--out", str(tmp_path / "r")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"minisegnet: error: --data {tmp_path / name}: {what}; give a folder")
