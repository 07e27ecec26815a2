"""``--crf``: dense CRF refinement in ``minisegnet predict`` (both modes) and the trainer's
evaluation, checked against dense_crf applied by hand to the model's softmax probabilities."""

import json

import numpy as np
import pytest
from PIL import Image

from minisegnet import cli, metrics
from minisegnet.autograd import Tensor, no_grad
from minisegnet.crf import (
    CRF_OPTIONS,
    check_crf_options,
    crf_defaults,
    dense_crf,
    refine_logits,
)
from minisegnet.data import DataLoader
from minisegnet.data.images import read_image, resize_image, resize_labels
from minisegnet.infer import load_saved_model, predict_images
from minisegnet.train import TrainConfig, Trainer, predict, train

# a strong smoothing CRF: it must change a barely trained network's noisy label map
STRONG = {"iterations": 3, "w2": 8.0, "theta_gamma": 2.0}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(
        model="deeplabv1",
        width=4,
        depth=2,
        size=16,
        n_train=8,
        n_val=6,
        n_test=4,
        epochs=1,
        batch_size=8,
        out=str(out),
        quiet=True,
        plots=False,
    )
    return out


def by_hand(model, images, crf):
    """Labels from dense_crf(softmax(model(images)), images) and without, computed directly."""
    with no_grad():
        logits = model(Tensor(images)).data.astype(np.float64)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    refined = dense_crf(probs, images.astype(np.float64), **crf)
    return probs.argmax(axis=1), refined.argmax(axis=1)


def miou(labels, masks, k):
    cm = metrics.ConfusionMatrix(k)
    cm.update(np.eye(k)[labels].transpose(0, 3, 1, 2), masks)
    return cm.mean_iou(), cm.pixel_accuracy()


def test_defaults_and_option_checks():
    d = crf_defaults()
    assert tuple(d) == CRF_OPTIONS
    assert d == {
        "iterations": 5,
        "theta_alpha": 5.0,
        "theta_beta": 0.1,
        "theta_gamma": 1.0,
        "w1": 3.0,
        "w2": 1.0,
    }
    assert check_crf_options({"w1": 7.0})["w1"] == 7.0
    with pytest.raises(ValueError, match="unknown CRF option.*'sigma'"):
        check_crf_options({"sigma": 1.0})
    with pytest.raises(ValueError, match="iterations must be an int >= 0"):
        check_crf_options({"iterations": -1})


def test_refine_logits_is_dense_crf_of_the_softmax():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 4, 6, 5))
    image = rng.random((3, 3, 6, 5))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    want = dense_crf(e / e.sum(axis=1, keepdims=True), image, iterations=2, w1=4.0)
    got = refine_logits(
        Tensor(logits.astype(np.float32)),
        image.astype(np.float32),
        iterations=2,
        w1=4.0,
        chunk_elements=50,
    )  # several chunks
    assert got.dtype == np.float64 and got.shape == (3, 4, 6, 5)
    assert np.allclose(got, want, atol=1e-6)
    with pytest.raises(ValueError, match=r"refine_logits: logits must be \(N, K, H, W\)"):
        refine_logits(logits[0], image[0])
    with pytest.raises(ValueError, match=r"image values must lie in \[0, 1\]"):
        refine_logits(logits, image * 255)


def test_evaluate_reports_both_scores(run):
    trainer = Trainer(
        TrainConfig.from_dict(json.loads((run / "config.json").read_text())),
        resume=run,
        write_outputs=False,
    )
    data = trainer.val_set
    loader = DataLoader(data, 4, shuffle=False)  # two batches of 4 and 2
    plain = trainer.evaluate(loader)
    assert "crf" not in plain
    scores = trainer.evaluate(loader, crf=STRONG)
    assert scores["miou"] == plain["miou"] and scores["loss"] == plain["loss"]
    base, refined = by_hand(trainer.model, data.images, {**crf_defaults(), **STRONG})
    assert (refined != base).mean() > 0.01  # the CRF did change the map
    want_miou, want_acc = miou(refined, data.masks, trainer.num_classes)
    c = scores["crf"]
    assert c["miou"] == pytest.approx(want_miou, abs=1e-12)
    assert c["acc"] == pytest.approx(want_acc, abs=1e-12)
    assert c["options"] == {**crf_defaults(), **STRONG} and c["ms_per_image"] > 0
    assert set(c["iou"]) == set(trainer.class_names)
    zero = trainer.evaluate(loader, crf={"iterations": 0})["crf"]  # no step: the same labels
    assert zero["miou"] == pytest.approx(plain["miou"], abs=1e-12)
    labels = trainer.predict(data.images, batch_size=4, crf=STRONG)
    assert np.array_equal(labels, refined)


def test_predict_dataset_mode_cli(run, tmp_path, capsys):
    argv = [
        "predict",
        "--checkpoint",
        str(run),
        "--out",
        str(tmp_path / "g.png"),
        "--crf",
        "--crf-iterations",
        "3",
        "--crf-w2",
        "8",
        "--crf-theta-gamma",
        "2",
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    _, scores = predict(run, tmp_path / "h.png", crf=STRONG)
    c = scores["crf"]
    line = (
        f"val with dense CRF (iterations 3, theta_alpha 5, theta_beta 0.1, theta_gamma 2, "
        f"w1 3, w2 8): mIoU {scores['miou']:.3f} -> {c['miou']:.3f}"
    )
    assert line in out, out
    assert "IoU per class with CRF: background" in out
    assert (tmp_path / "g.png").is_file()


def test_predict_images_mode(run, tmp_path, capsys):
    rng = np.random.default_rng(1)
    folder = tmp_path / "in"
    folder.mkdir()
    pixels = np.zeros((20, 24, 3), np.uint8)
    pixels[4:14, 6:18] = (rng.random(3) * 255).astype(np.uint8)
    pixels += (rng.random((20, 24, 3)) * 40).astype(np.uint8)
    Image.fromarray(pixels).save(folder / "a.png")
    saved, results = predict_images(run, folder, tmp_path / "o", crf=STRONG)
    x = resize_image(read_image(folder / "a.png", 3), (16, 16))[None]
    base, refined = by_hand(saved.model, x, {**crf_defaults(), **STRONG})
    assert (refined != base).any()
    assert np.array_equal(results[0].labels, resize_labels(refined[0], (20, 24)))
    assert np.array_equal(np.asarray(Image.open(results[0].mask_path)), results[0].labels)
    argv = [
        "predict",
        "--checkpoint",
        str(run),
        "--input",
        str(folder),
        "--out",
        str(tmp_path / "o2"),
        "--crf",
        "--crf-w2",
        "8",
        "--crf-theta-gamma",
        "2",
        "--crf-iterations",
        "3",
    ]
    assert cli.main(argv) == 0
    assert "refined by the dense CRF" in capsys.readouterr().out
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o2" / "a_mask.png")), results[0].labels)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--crf-w1", "3"], "--crf-w1 needs --crf"),
        (["--crf", "--crf-iterations", "-2"], "--crf: iterations must be an int >= 0, got -2"),
        (["--crf", "--crf-theta-beta", "0"], "--crf: theta_beta must be > 0"),
    ],
)
def test_bad_crf_options(run, tmp_path, capsys, argv, message):
    assert (
        cli.main(["predict", "--checkpoint", str(run), "--out", str(tmp_path / "g.png"), *argv])
        == 2
    )
    assert message in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists()


def test_train_crf_final_evaluation(tmp_path, capsys):
    out = tmp_path / "r"
    argv = [
        "train",
        "--model",
        "deeplabv1",
        "--width",
        "4",
        "--depth",
        "2",
        "--size",
        "16",
        "--n-train",
        "8",
        "--n-val",
        "4",
        "--n-test",
        "4",
        "--epochs",
        "1",
        "--quiet",
        "--no-plots",
        "--out",
        str(out),
        "--crf",
        "--crf-iterations",
        "2",
    ]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "val with dense CRF (iterations 2," in text and "test with dense CRF" in text
    res = json.loads((out / "results.json").read_text())
    for split in ("val", "test"):
        c = res[split]["crf"]
        assert c["options"]["iterations"] == 2 and 0.0 <= c["miou"] <= 1.0
    saved = load_saved_model(out)
    val = Trainer(saved.config, resume=out, write_outputs=False).val_set
    _, refined = by_hand(saved.model, val.images, {**crf_defaults(), "iterations": 2})
    assert res["val"]["crf"]["miou"] == pytest.approx(miou(refined, val.masks, 4)[0], abs=1e-9)


def test_refine_logits_on_every_device(device):
    from minisegnet import backend

    rng = np.random.default_rng(2)
    logits, image = rng.normal(size=(2, 3, 5, 4)), rng.random((2, 3, 5, 4))
    want = refine_logits(logits, image, iterations=2)
    got = refine_logits(Tensor(logits, device=device), Tensor(image, device=device), iterations=2)
    assert backend.device_of(got) == device
    assert np.allclose(backend.asnumpy(got), want, atol=1e-10)
