"""Write the training-run record and the mIoU tables from finished ``minisegnet train`` runs.

    python benchmarks/make_results.py RUNS_DIR > benchmarks/results/train_cpu.txt

RUNS_DIR holds one output folder per run (``minisegnet train --out RUNS_DIR/NAME``); every figure
comes from the run's own ``config.json`` and ``results.json``, so the table cannot drift from the
runs. The rows are Markdown, ready for docs/results.md.
"""

from __future__ import annotations

import json
import pathlib
import platform
import sys

DEFAULTS = {
    "model": "unet",
    "dataset": "shapes",
    "epochs": 12,
    "width": 8,
    "depth": 3,
    "size": 32,
    "lr": 0.01,
    "optimizer": "adam",
    "loss": "ce",
    "batch_size": 16,
}


def command(config: dict) -> str:
    """The shortest ``minisegnet train`` command that reproduces a run's config."""
    flags = {
        "model": "--model",
        "dataset": "--dataset",
        "width": "--width",
        "epochs": "--epochs",
        "depth": "--depth",
        "size": "--size",
        "lr": "--lr",
        "optimizer": "--optimizer",
        "loss": "--loss",
        "batch_size": "--batch-size",
    }
    parts = ["minisegnet train"]
    for key, flag in flags.items():
        if config.get(key) != DEFAULTS[key]:
            parts.append(f"{flag} {config[key]}")
    return " ".join(parts)


def main(root: str) -> None:
    runs = sorted(p for p in pathlib.Path(root).iterdir() if (p / "results.json").exists())
    print(
        f"minisegnet train runs on {platform.machine()}, {len(runs)} runs; figures from each run's "
        "results.json (val = validation split at the last epoch, test = test split)"
    )
    print()
    print(
        "| run | command | epochs | parameters | training time | val mIoU | val pixel acc. | test "
        "mIoU |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for run in runs:
        r = json.loads((run / "results.json").read_text())
        c = json.loads((run / "config.json").read_text())
        print(
            f"| {run.name} | `{command(c)}` | {r['epochs']} | {r['num_parameters']:,} | "
            f"{r['seconds_all_epochs']:.0f} s | {r['val']['miou']:.3f} | {r['val']['acc']:.3f} | "
            f"{r['test']['miou']:.3f} |"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs")
