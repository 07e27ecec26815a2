"""The ``minisegnet`` command line: ``minisegnet train`` and ``minisegnet predict``.

``minisegnet train`` with no options trains a small U-Net on the built-in ``shapes`` data on the
CPU (about two minutes on two cores) and writes its checkpoint, metrics and figures to
``runs/unet-shapes/``. See docs/trainer.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Any

from . import __version__

# exit codes besides 0 (success) and 2 (bad options, argparse's code)
EXIT_WRITE_FAILED = 1
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130


def _train_defaults() -> Any:
    from .train import TrainConfig

    return TrainConfig()


def _add_train_parser(sub: Any) -> None:
    from .data import DATASET_NAMES
    from .models import MODEL_NAMES
    from .models.setr import SETR_STEMS
    from .train import LOSS_NAMES, OPTIMIZER_NAMES, SCHEDULE_NAMES

    d = _train_defaults()
    p = sub.add_parser(
        "train",
        help="train a segmentation network (default: U-Net on the shapes data, CPU)",
        description="Train a segmentation network on a built-in toy dataset. With no options: a "
        "small U-Net on 32x32 shapes images, on the CPU, in about two minutes; outputs "
        "(checkpoint.npz, metrics.csv, loss_curve.png, predictions.png) go to "
        "runs/<model>-<dataset>/.",
        argument_default=None,
    )
    # defaults are None here so that --resume can tell what was given; the real defaults are
    # TrainConfig's (shown in the help text)
    g = p.add_argument_group("what to train")
    g.add_argument("--model", choices=MODEL_NAMES, help=f"network (default {d.model})")
    g.add_argument(
        "--dataset",
        choices=DATASET_NAMES,
        help=f"built-in data; digits needs scikit-learn (default {d.dataset})",
    )
    g.add_argument(
        "--data",
        metavar="DIR",
        help="train on your own images instead: DIR/images/*.png|jpg and "
        "DIR/masks/*.png (class indices, same file stems), optional "
        "DIR/classes.txt; split 70/20/10 by the seed, or DIR/train, DIR/val "
        "(DIR/test) each with images/ and masks/. Images are resized to --size; "
        "--n-train/--n-val/--n-test are ignored",
    )
    g.add_argument(
        "--width",
        metavar="W",
        type=int,
        help=f"base width: channels of the first stage (default {d.width})",
    )
    g.add_argument(
        "--depth",
        metavar="D",
        type=int,
        help="down-sampling stages (every model but FCN, whose backbone has five; "
        f"default {d.depth})",
    )
    g.add_argument(
        "--stem",
        choices=SETR_STEMS,
        help="SETR models only: patch = the pure ViT's patch embedding of the raw pixels; conv = "
        "a small CNN first (SETR's hybrid encoder, scaled down: a local bias) "
        f"(default {d.stem}; setr-naive's recipe: conv)",
    )
    g.add_argument(
        "--size", metavar="PX", type=int, help=f"image side in pixels (default {d.size})"
    )
    g.add_argument(
        "--n-train", metavar="N", type=int, help=f"training images (default {d.n_train})"
    )
    g.add_argument("--n-val", metavar="N", type=int, help=f"validation images (default {d.n_val})")
    g.add_argument(
        "--n-test",
        metavar="N",
        type=int,
        help=f"test images, scored at the end; 0 skips (default {d.n_test})",
    )
    g.add_argument(
        "--num-classes",
        metavar="K",
        type=int,
        help="shapes only: background + up to 5 shape kinds (default 4: circle, square, triangle)",
    )
    g.add_argument(
        "--no-augment",
        dest="augment",
        action="store_const",
        const=False,
        help="no random flips of the training images",
    )
    g = p.add_argument_group("how to train")
    g.add_argument("--epochs", metavar="N", type=int, help=f"total epochs (default {d.epochs})")
    g.add_argument(
        "--batch-size", metavar="B", type=int, help=f"images per step (default {d.batch_size})"
    )
    g.add_argument("--lr", metavar="LR", type=float, help=f"learning rate (default {d.lr:g})")
    g.add_argument("--optimizer", choices=OPTIMIZER_NAMES, help=f"(default {d.optimizer})")
    g.add_argument("--loss", choices=LOSS_NAMES, help=f"(default {d.loss})")
    g.add_argument(
        "--schedule",
        choices=SCHEDULE_NAMES,
        help="learning-rate schedule over the epochs; onecycle is stepped per batch "
        f"with max_lr = --lr (default {d.schedule})",
    )
    g.add_argument(
        "--momentum", metavar="M", type=float, help=f"SGD momentum (default {d.momentum:g})"
    )
    g.add_argument(
        "--weight-decay",
        metavar="WD",
        type=float,
        help=f"weight decay: L2 for adam and sgd, decoupled for adamw (default {d.weight_decay:g})",
    )
    g.add_argument(
        "--no-recipe",
        action="store_true",
        default=False,
        help="train with the shared defaults above instead of the model's recipe (on "
        "shapes, --model NAME uses NAME's own size, epochs, lr, width ... for "
        "every option not given; docs/trainer.md)",
    )
    g.add_argument(
        "--seed",
        metavar="S",
        type=int,
        help=f"seed of the data, the initial weights and the batch order (default {d.seed})",
    )
    g = p.add_argument_group("where")
    g.add_argument(
        "--device", choices=("cpu", "gpu", "cuda"), help=f"(default {d.device}; cuda = gpu)"
    )
    g.add_argument("--out", metavar="DIR", help="output folder (default runs/<model>-<dataset>)")
    g.add_argument(
        "--resume",
        action="store_true",
        default=False,
        help="continue the run saved in --out from its last completed epoch (same "
        "result as an uninterrupted run)",
    )
    g.add_argument(
        "--no-plots",
        dest="plots",
        action="store_const",
        const=False,
        help="skip loss_curve.png and predictions.png",
    )
    g.add_argument(
        "--quiet",
        action="store_const",
        const=True,
        help="no progress bar or epoch lines (notes and warnings still go to stderr)",
    )
    _add_crf_options(p)


def _add_crf_options(p: Any) -> None:
    """``--crf`` and its parameters (dense_crf's defaults), shared by train and predict."""
    from .crf import crf_defaults

    d = crf_defaults()
    g = p.add_argument_group(
        "dense CRF refinement",
        "refine the softmax probabilities with a fully connected CRF "
        "(minisegnet.crf.dense_crf; image colours in [0, 1]) and report the scores without and "
        "with it; exact pairwise sums: fine for toy sizes (about 0.1 s per 32x32 image)",
    )
    g.add_argument(
        "--crf",
        action="store_true",
        default=False,
        help="refine with the dense CRF (DeepLab v1/v2's post-processing)",
    )
    g.add_argument(
        "--crf-iterations",
        metavar="N",
        type=int,
        default=None,
        help=f"mean-field iterations (default {d['iterations']})",
    )
    g.add_argument(
        "--crf-theta-alpha",
        metavar="PX",
        type=float,
        default=None,
        help=f"bilateral kernel's spatial width in pixels (default {d['theta_alpha']:g})",
    )
    g.add_argument(
        "--crf-theta-beta",
        metavar="C",
        type=float,
        default=None,
        help=f"bilateral kernel's colour width, colours in [0, 1] (default {d['theta_beta']:g})",
    )
    g.add_argument(
        "--crf-theta-gamma",
        metavar="PX",
        type=float,
        default=None,
        help=f"spatial (smoothness) kernel's width in pixels (default {d['theta_gamma']:g})",
    )
    g.add_argument(
        "--crf-w1",
        metavar="W",
        type=float,
        default=None,
        help=f"bilateral kernel's weight (default {d['w1']:g})",
    )
    g.add_argument(
        "--crf-w2",
        metavar="W",
        type=float,
        default=None,
        help=f"spatial kernel's weight (default {d['w2']:g})",
    )


def _crf_from_args(args: argparse.Namespace) -> dict[str, Any] | None:
    """The dense_crf options given on the command line (checked), or None without --crf."""
    from .crf import CRF_OPTIONS, check_crf_options

    given = {
        name: getattr(args, f"crf_{name}")
        for name in CRF_OPTIONS
        if getattr(args, f"crf_{name}", None) is not None
    }
    if not args.crf:
        if given:
            raise ValueError("--crf-" + next(iter(given)).replace("_", "-") + " needs --crf")
        return None
    try:
        return check_crf_options(given)
    except ValueError as exc:
        raise ValueError(str(exc).replace("dense_crf: ", "--crf: ", 1)) from None


def _print_crf(split: str, scores: dict[str, Any]) -> None:
    """One line per split: mIoU and accuracy without / with the CRF, its cost per image."""
    c = scores["crf"]
    opts = ", ".join(f"{k} {v:g}" for k, v in c["options"].items())
    print(
        f"{split} with dense CRF ({opts}): mIoU {scores['miou']:.3f} -> {c['miou']:.3f} "
        f"({c['miou'] - scores['miou']:+.3f}), pixel accuracy {scores['acc']:.3f} -> "
        f"{c['acc']:.3f}, {c['ms_per_image']:.1f} ms per image"
    )
    print(
        "  IoU per class with CRF: "
        + ", ".join(f"{name} {'-' if v is None else f'{v:.3f}'}" for name, v in c["iou"].items())
    )


def _add_predict_parser(sub: Any) -> None:
    p = sub.add_parser(
        "predict",
        help="segment your own images, or render input | truth | prediction of a split",
        description="Load a checkpoint. With --input: segment a PNG/JPEG file or every image of a "
        "folder (each resized bilinearly to the run's training size, its predicted "
        "mask resized back with nearest neighbour) and write NAME_mask.png (class "
        "indices, with a colour palette) and NAME_overlay.png per image. Without: "
        "regenerate the run's validation (or test) images, score them and render a "
        "grid: input | truth | prediction.",
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        metavar="PATH",
        help="a checkpoint.npz, or a run folder holding one",
    )
    p.add_argument(
        "--input",
        metavar="PATH",
        default=None,
        help="an image file (.png, .jpg) or a folder of them to segment",
    )
    p.add_argument(
        "--out",
        metavar="PATH",
        default=None,
        help="a .png file or a folder (default: predict_<split>.png beside the "
        "checkpoint; with --input a folder, default predict_images/ beside the checkpoint)",
    )
    p.add_argument(
        "--split",
        choices=("val", "test", "train"),
        default="val",
        help="without --input: the run's split to score and draw, regenerated from its seed "
        "(default val)",
    )
    p.add_argument(
        "-n",
        "--n",
        type=int,
        default=8,
        help="images in the grid (default 8; more than the split has: the whole split)",
    )
    p.add_argument(
        "--device", choices=("cpu", "gpu", "cuda"), default="cpu", help="(default cpu; cuda = gpu)"
    )
    _add_crf_options(p)


def _add_models_parser(sub: Any) -> None:
    d = _train_defaults()
    sub.add_parser(
        "models",
        help="list the networks --model accepts, with parameter counts",
        description=f"List the registered networks with their parameter counts at the training "
        f"defaults (--width {d.width}, --depth {d.depth}, 3 input channels, 4 classes "
        f"as on shapes) and what each is from (the first line of its docstring).",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minisegnet",
        description=(
            "minisegnet: a from-scratch NumPy/CuPy engine that teaches semantic segmentation."
        ),
        epilog="Start with: minisegnet train   (then: minisegnet train --help)",
    )
    parser.add_argument("--version", action="version", version=f"minisegnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_train_parser(sub)
    _add_predict_parser(sub)
    _add_models_parser(sub)
    return parser


def _config_from_args(args: argparse.Namespace) -> Any:
    from .train import TrainConfig

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    given = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    if getattr(args, "resume", False):
        # the saved run's settings rule; its epochs too unless --epochs is given
        if "epochs" not in given:
            saved = _saved_epochs(dataclasses.replace(TrainConfig(), **given).out_dir())
            given.update({} if saved is None else {"epochs": saved})
    elif not getattr(args, "no_recipe", False):
        from .recipes import apply_recipe

        given = apply_recipe(given)
    return dataclasses.replace(TrainConfig(), **given)


def _saved_epochs(out: Any) -> int | None:
    """The epochs of the run whose config.json is in ``out``, or None if it cannot be read."""
    import json

    try:
        epochs = json.loads((out / "config.json").read_text()).get("epochs")
    except (OSError, ValueError, AttributeError):
        return None
    return epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None


def _error(msg: str) -> None:
    print(f"minisegnet: error: {msg}", file=sys.stderr)


def _notes_only(msg: str) -> None:
    """The trainer's log under --quiet: no epoch lines, but its notes and warnings (an option
    --resume ignores, a BLAS thread count that breaks exact resume ...) still go to stderr."""
    if msg.startswith(("note:", "warning:")):
        print(msg, file=sys.stderr)


def _busy_cpu_note(device: str) -> str | None:
    """A hint when the CPU's cores are already busy and BLAS runs several threads: OpenBLAS's
    threads wait for each other by spinning, and a run then slows several-fold (measured: 3
    epochs in 125 s against 14 s with one thread, at load average 3-4 on 2 cores)."""
    import os

    from .train import blas_threads

    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows, or no load average to read
        return None
    cores, threads = os.cpu_count() or 1, blas_threads()
    if device != "cpu" or threads is None or threads < 2 or load < cores:
        return None
    return (
        f"note: the CPU is busy (load average {load:.1f} on {cores} cores) and BLAS uses "
        f"{threads} threads, which then wait for each other: if this run is slow, "
        "OPENBLAS_NUM_THREADS=1 (or OMP_NUM_THREADS=1) can make it several times faster"
    )


def _check_device(device: str | None) -> None:
    """``--device gpu`` (or ``cuda``) without a usable GPU: a DeviceError naming the option and
    the install command, raised before anything is printed, generated or written."""
    from .backend import DeviceError, gpu_unavailable_reason

    if device in ("gpu", "cuda"):
        reason = gpu_unavailable_reason()
        if reason is not None:
            raise DeviceError(
                f"--device {device} asked for the GPU, but it is unavailable: {reason}"
            )


def _cmd_train(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from .backend import DeviceError
    from .train import Trainer, TrainingDiverged

    try:
        _check_device(args.device)
        config = _config_from_args(args)
        crf = _crf_from_args(args)
        log = _notes_only if config.quiet else tqdm.write
        if not args.resume and (config.out_dir() / "checkpoint.npz").is_file() and not config.quiet:
            print(
                f"note: {config.out_dir()} already holds a run; starting it over "
                "(add --resume to continue it instead)"
            )
        trainer = Trainer(config, resume=args.resume, log=log)
    except (ValueError, TypeError, OSError, ImportError, DeviceError) as exc:
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        _error("interrupted before training started; nothing was written")
        return EXIT_INTERRUPTED
    cfg = trainer.config
    say = (lambda msg: None) if cfg.quiet else print
    ds = trainer.train_set
    say(
        f"minisegnet train: {cfg.model} ({trainer.model.num_parameters():,} parameters) on "
        f"{cfg.dataset_name()} ({len(ds)} train / {len(trainer.val_set)} val images, "
        f"{ds.in_channels}x{cfg.size}x{cfg.size}, {trainer.num_classes} classes), {cfg.device}"
    )
    if cfg.recipe and not args.resume:
        from .recipes import get_recipe, recipe_flags

        recipe = get_recipe(cfg.recipe["name"])
        if recipe.settings:  # a recipe that keeps the shared defaults is not worth a line
            applied = recipe_flags(cfg.recipe["set"]) or "nothing (every option it sets was given)"
            say(
                f"  recipe for {recipe.model}: {applied} ({recipe.why}; --no-recipe for the "
                "shared defaults)"
            )
    say(
        f"  {cfg.optimizer} lr {cfg.lr:g} ({cfg.schedule} schedule), {cfg.loss} loss, batch "
        f"{cfg.batch_size}, {cfg.epochs} epochs"
        + (f", resuming after epoch {trainer.epoch}" if args.resume else "")
        + f" -> {trainer.out}/"
    )
    busy = _busy_cpu_note(cfg.device)
    if busy is not None and not cfg.quiet:
        print(busy)
    start = time.perf_counter()
    try:
        result = trainer.fit(crf=crf)
    except TrainingDiverged as exc:
        _error(str(exc))
        return EXIT_DIVERGED
    except OSError as exc:
        _error(str(exc))
        return EXIT_WRITE_FAILED
    except KeyboardInterrupt:
        if trainer.saved_epoch:
            _error(
                f"interrupted; {trainer.saved_epoch} epoch(s) are saved in "
                f"{trainer.checkpoint_path}. "
                f"Continue with: minisegnet train --out {trainer.out} --resume"
            )
        else:
            _error("interrupted during the first epoch; no checkpoint was written")
        return EXIT_INTERRUPTED
    elapsed = time.perf_counter() - start
    test = f", test mIoU {result.test['miou']:.3f}" if result.test else ""
    print(
        f"done in {elapsed:.1f} s: val mIoU {result.val['miou']:.3f}, pixel accuracy "
        f"{result.val['acc']:.3f}{test}"
    )
    files = ["checkpoint.npz", "metrics.csv"] + (
        ["loss_curve.png", "predictions.png"] if cfg.plots else []
    )
    if crf is not None:
        _print_crf("val", result.val)
        if result.test:
            _print_crf("test", result.test)
    print(f"outputs in {trainer.out}/: {', '.join(files)}")
    return 0


def _cmd_predict_images(args: argparse.Namespace) -> int:
    from .backend import DeviceError
    from .infer import predict_images

    try:
        _check_device(args.device)
        saved, results = predict_images(
            args.checkpoint, args.input, args.out, device=args.device, crf=_crf_from_args(args)
        )
    except (ValueError, TypeError, OSError, ImportError, DeviceError) as exc:
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    cfg = saved.config
    print(
        f"{cfg.model} ({saved.in_channels} channel(s), {saved.num_classes} classes), images "
        f"resized to {cfg.size}x{cfg.size}"
        + (", refined by the dense CRF" if args.crf else "")
        + "; share of each image's pixels per class:"
    )
    for r in results:
        frac = r.class_fractions(saved.num_classes)
        parts = ", ".join(
            f"{name} {100 * f:.1f}%" for name, f in zip(saved.class_names, frac) if f > 0
        )
        print(f"  {r.source.name} ({r.size[1]}x{r.size[0]}): {parts}")
    print(
        f"wrote {2 * len(results)} files (NAME_mask.png, NAME_overlay.png) to "
        f"{results[0].mask_path.parent}/"
    )
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from .backend import DeviceError
    from .train import predict

    if args.input is not None:
        return _cmd_predict_images(args)
    try:
        _check_device(args.device)
        path, scores = predict(
            args.checkpoint,
            args.out,
            split=args.split,
            n=args.n,
            device=args.device,
            crf=_crf_from_args(args),
        )
    except (ValueError, TypeError, OSError, ImportError, DeviceError) as exc:
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    print(
        f"{args.split}: mIoU {scores['miou']:.3f}, pixel accuracy {scores['acc']:.3f}, "
        f"loss {scores['loss']:.4f}"
    )
    print(
        "  IoU per class: "
        + ", ".join(
            f"{name} {'-' if v is None else f'{v:.3f}'}" for name, v in scores["iou"].items()
        )
    )
    if "crf" in scores:
        _print_crf(args.split, scores)
    print(f"wrote {path}")
    return 0


def _first_sentence(doc: str | None, limit: int = 100) -> str:
    """The first sentence of a docstring's first paragraph, on one line, at most ``limit`` chars."""
    para = " ".join((doc or "").strip().split("\n\n")[0].split()).replace("``", "")
    import re

    # a full stop: not an ellipsis, not the end of an abbreviation ("Chen et al. 2015", "e.g. 3")
    end = next(
        (
            m
            for m in re.finditer(r"(?<!\.)\.(?=\s)", para)
            if not re.search(r"\b(?:al|e\.g|i\.e|cf|etc|vs|approx)$", para[: m.start()], re.I)
        ),
        None,
    )
    text = para if end is None else para[: end.end()]
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def model_table() -> list[tuple[str, int | None, str]]:
    """``(name, parameters or None, first docstring line)`` of every registered model, built at
    the training defaults (3 input channels, 4 classes); the random state is left as it was."""
    from . import random as msrandom
    from .models import MODEL_NAMES
    from .train import _build_model, _data_shape

    d = _train_defaults()
    in_channels, num_classes = _data_shape(d)
    rows: list[tuple[str, int | None, str]] = []
    state = msrandom.get_state()
    try:
        for name in MODEL_NAMES:
            try:
                net = _build_model(dataclasses.replace(d, model=name), in_channels, num_classes)
            except (ValueError, TypeError) as exc:
                rows.append((name, None, f"(cannot be built at the defaults: {exc})"))
                continue
            rows.append((name, int(net.num_parameters()), _first_sentence(type(net).__doc__)))
    finally:
        msrandom.set_state(state)
    return rows


def _cmd_models(args: argparse.Namespace) -> int:
    d = _train_defaults()
    rows = model_table()
    width = max(len(r[0]) for r in rows)
    print(
        f"networks for --model (parameters at --width {d.width} --depth {d.depth}, 3 channels, "
        "4 classes):"
    )
    for name, params, doc in rows:
        count = "-" if params is None else f"{params:,}"
        print(f"  {name:<{width}}  {count:>11}  {doc}")
    print("more: docs/models.md; sizes change with --width (about its square) and --depth")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "train":
        return _cmd_train(args)
    if args.command == "models":
        return _cmd_models(args)
    return _cmd_predict(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
