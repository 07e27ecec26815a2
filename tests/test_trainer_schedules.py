"""The trainer with PyTorch's other optimizer and schedules: --optimizer adamw, --schedule onecycle
(stepped per batch) and multistep; their values and an exact resume."""

import numpy as np
import pytest

from minisegnet import nn, optim
from minisegnet.checkpoint import load_checkpoint
from minisegnet.cli import _config_from_args, build_parser
from minisegnet.train import OPTIMIZER_NAMES, SCHEDULE_NAMES, TrainConfig, Trainer

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


class Interrupt(KeyboardInterrupt):
    pass


def stop_after_first_epoch(trainer, record):
    if trainer.epoch == 1:
        raise Interrupt


def test_the_cli_accepts_the_new_names():
    assert {"adamw"} <= set(OPTIMIZER_NAMES) and {"onecycle", "multistep"} <= set(SCHEDULE_NAMES)
    args = build_parser().parse_args(
        ["train", "--optimizer", "adamw", "--schedule", "onecycle", "--weight-decay", "0.01"]
    )
    cfg = _config_from_args(args)
    assert (cfg.optimizer, cfg.schedule, cfg.weight_decay) == ("adamw", "onecycle", 0.01)


@pytest.mark.parametrize(
    "opt,schedule", [("adamw", "onecycle"), ("sgd", "onecycle"), ("adamw", "multistep")]
)
def test_resume_is_exact(tmp_path, opt, schedule):
    kw = dict(optimizer=opt, schedule=schedule, weight_decay=0.05, lr=0.02, epochs=3)
    straight = Trainer(tiny(tmp_path, "straight", **kw))
    straight.fit()
    interrupted = Trainer(tiny(tmp_path, "resumed", **kw))
    with pytest.raises(Interrupt):
        interrupted.fit(on_epoch_end=stop_after_first_epoch)
    assert load_checkpoint(tmp_path / "resumed")["epoch"] == 1
    resumed = Trainer(tiny(tmp_path, "resumed", **kw), resume=True)
    resumed.fit()
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    ga, gb = (o.optimizer.state_dict()["param_groups"] for o in (straight, resumed))
    assert ga == gb  # lr, betas / momentum as the schedule left them
    assert [h["lr"] for h in straight.history] == [h["lr"] for h in resumed.history]
    assert [h["val_loss"] for h in straight.history] == [h["val_loss"] for h in resumed.history]


def test_onecycle_steps_once_per_batch_with_pytorchs_values(tmp_path):
    t = Trainer(tiny(tmp_path, optimizer="adamw", schedule="onecycle", lr=0.04, epochs=3))
    assert isinstance(t.optimizer, optim.AdamW) and isinstance(t.scheduler, optim.OneCycleLR)
    steps = len(t.train_loader)
    assert steps == 3 and t.scheduler.total_steps == 9
    t.fit()
    assert t.scheduler.last_epoch == 9
    # the same schedule on its own: the lr at the start of each epoch is the one the trainer logged
    ref = optim.OneCycleLR(
        optim.AdamW(nn.Linear(1, 1).parameters(), lr=0.04), max_lr=0.04, total_steps=9
    )
    want, last_batch = [], None
    for step in range(9):
        if step % steps == 0:
            want.append(ref.get_last_lr()[0])
        last_batch = ref.get_last_lr()[0]
        ref.step()
    assert [h["lr"] for h in t.history] == pytest.approx(want, rel=1e-12)
    assert want[0] == pytest.approx(0.04 / 25)  # PyTorch's div_factor
    assert last_batch == pytest.approx(0.04 / 25 / 1e4)  # the last batch runs at min_lr
    assert t.optimizer.param_groups[0]["lr"] == pytest.approx(ref.get_last_lr()[0], rel=1e-12)
    assert t.optimizer.param_groups[0]["betas"][0] == pytest.approx(
        ref.optimizer.param_groups[0]["betas"][0], rel=1e-12
    )


def test_multistep_decays_at_half_and_three_quarters(tmp_path):
    t = Trainer(tiny(tmp_path, schedule="multistep", lr=0.01, epochs=4))
    t.fit()
    assert [h["lr"] for h in t.history] == pytest.approx([0.01, 0.01, 0.001, 0.0001])


def test_adamw_decay_is_decoupled_in_the_trainer(tmp_path):
    """The trainer builds AdamW for --optimizer adamw: with the same weight decay its run ends
    elsewhere than Adam's (L2 decay through the moments)."""
    runs = {}
    for opt in ("adam", "adamw"):
        t = Trainer(tiny(tmp_path, opt, optimizer=opt, weight_decay=0.5, epochs=1, schedule="none"))
        t.fit()
        runs[opt] = t.model.state_dict()
    assert any(not np.array_equal(runs["adam"][k], runs["adamw"][k]) for k in runs["adam"])
