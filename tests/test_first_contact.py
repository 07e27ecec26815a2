"""What a newcomer meets first: ``help(minisegnet)`` and the docstrings of the main names."""

import inspect
import textwrap

import numpy as np

import minisegnet as ms


def test_package_docstring_example_runs():
    # the indented block after "Shaped like PyTorch::" is a runnable example
    doc = ms.__doc__
    block = doc.split("::\n\n", 1)[1].split("\n\nWhere things are", 1)[0]
    namespace: dict = {}
    exec(textwrap.dedent(block), namespace)
    assert namespace["y"].item() == 10.0
    assert np.array_equal(namespace["x"].grad.numpy(), np.ones((1, 1, 2, 2)))
    for name in ("minisegnet train", "minisegnet predict", "docs/index.md", "lessons/README.md"):
        assert name in doc


def test_main_public_names_say_what_they_are():
    from minisegnet import crf, data, infer, losses, metrics, models, nn, optim, train
    from minisegnet import functional as F

    names = [
        ms.Tensor,
        ms.Function,
        ms.no_grad,
        ms.gradcheck,
        ms.summary,
        ms.save,
        ms.load,
        F.conv2d,
        F.conv_transpose2d,
        F.max_pool2d,
        F.max_unpool2d,
        nn.Module,
        nn.Conv2d,
        optim.Adam,
        models.UNet,
        models.FCN,
        models.build_model,
        train.train,
        train.Trainer,
        train.TrainConfig,
        train.predict,
        data.shapes,
        losses.cross_entropy,
        metrics.mean_iou,
        crf.dense_crf,
        infer.predict_images,
    ]
    for obj in names:
        doc = inspect.getdoc(obj) or ""
        assert len(doc) >= 60, f"{obj.__qualname__}: docstring {doc!r} is too short to help"
