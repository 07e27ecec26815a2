"""minisegnet.save / minisegnet.load (no pickle) and minisegnet.utils.data (Dataset, TensorDataset,
DataLoader over any map-style dataset), as a PyTorch user writes them."""

from __future__ import annotations

import json
import pickle
import zipfile
from collections import namedtuple

import numpy as np
import pytest

import minisegnet as ms
from minisegnet import Tensor, backend, nn, optim
from minisegnet.checkpoint import CheckpointError
from minisegnet.utils.data import (
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)


def small_model():
    ms.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 1)
    )


# ----------------------------------------------------------------------------------------------
# save / load


def test_state_dict_round_trip_loads_into_a_fresh_model(tmp_path):
    model = small_model()
    model(Tensor(np.random.default_rng(0).normal(size=(2, 3, 5, 5)).astype(np.float32)))  # BN stats
    path = ms.save(model.state_dict(), tmp_path / "model.pt")
    assert path == tmp_path / "model.pt" and path.is_file()  # the name is kept (no .npz added)
    loaded = ms.load(tmp_path / "model.pt")
    assert list(loaded) == list(model.state_dict())
    ms.manual_seed(1)
    other = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 1)
    )
    assert not np.array_equal(other.state_dict()["0.weight"], model.state_dict()["0.weight"])
    other.load_state_dict(loaded)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[k], v)
        assert loaded[k].dtype == v.dtype


def test_training_checkpoint_round_trip(tmp_path):
    model = small_model()
    opt = optim.AdamW(model.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    x = Tensor(np.ones((1, 3, 4, 4), np.float32))
    model(x).sum().backward()
    opt.step()
    sched.step()
    ckpt = {
        "epoch": 3,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "loss": 0.125,
        "best": float("inf"),
        "name": "unet",
        "history": [0.5, 0.25],
        "shape": (1, 3),
        "note": None,
        "weight": Tensor([[1.5, -2.0]], requires_grad=True),
        "mask": Tensor([1, 0, 2]),
    }
    ms.save(ckpt, tmp_path / "ckpt.pt")
    got = ms.load(tmp_path / "ckpt.pt")
    assert got["epoch"] == 3 and got["loss"] == 0.125 and got["best"] == float("inf")
    assert got["name"] == "unet" and got["history"] == [0.5, 0.25] and got["note"] is None
    assert got["shape"] == (1, 3)
    assert isinstance(got["weight"], Tensor) and got["weight"].requires_grad
    np.testing.assert_array_equal(got["weight"].numpy(), [[1.5, -2.0]])
    assert got["weight"].dtype == np.float32 and got["mask"].dtype == np.int64
    assert not got["mask"].requires_grad
    # the optimizer continues exactly: one more step from the saved state equals one more step
    opt2 = optim.AdamW(model.parameters(), lr=1e-2)
    opt2.load_state_dict(got["optimizer"])
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    sched2.load_state_dict(got["scheduler"])
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_a_tensor_at_top_level_and_map_location(tmp_path):
    ms.save(Tensor([1.0, 2.0]), tmp_path / "t.pt")
    t = ms.load(tmp_path / "t.pt", map_location="cpu")
    assert isinstance(t, Tensor) and t.device == "cpu"
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    with pytest.raises(ValueError, match="load: unknown map_location 'tpu'"):
        ms.load(tmp_path / "t.pt", map_location="tpu")
    with pytest.raises(ValueError, match="weights_only=False"):
        ms.load(tmp_path / "t.pt", weights_only=False)


def test_map_location_moves_tensors_arrays_stay_on_the_host(tmp_path, device):
    ms.save({"w": Tensor([1.0, 2.0], device=device), "a": np.ones(2)}, tmp_path / "t.pt")
    names = [device, "cuda", "cuda:0"] if device == "gpu" else [device]
    for name in names:
        got = ms.load(tmp_path / "t.pt", map_location=name)
        assert backend.device_of(got["w"].data) == device and isinstance(got["a"], np.ndarray)
    assert backend.device_of(ms.load(tmp_path / "t.pt")["w"].data) == "cpu"


def test_save_refuses_a_module_or_an_object(tmp_path):
    with pytest.raises(TypeError, match=r"save: cannot store a Sequential .*state_dict\(\)"):
        ms.save(small_model(), tmp_path / "m.pt")
    with pytest.raises(TypeError, match="save: cannot store a object"):
        ms.save({"x": object()}, tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()


def test_load_reads_a_trainer_style_checkpoint_as_saved(tmp_path):
    from minisegnet.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "checkpoint.npz", {"epoch": 2, "model": {"w": np.ones(2)}})
    got = ms.load(tmp_path)  # a run folder means its checkpoint.npz
    assert got["epoch"] == 2 and got["model"]["w"].tolist() == [1.0, 1.0]


class _Exploit:
    def __reduce__(self):
        return (exec, (f"open({str(MARK)!r}, 'w').write('ran')",))


MARK = None


@pytest.mark.parametrize("kind", ["raw pickle", "torch-style zip", "npz with an object array"])
def test_a_file_with_a_pickle_inside_is_refused_unopened(tmp_path, kind):
    global MARK
    MARK = tmp_path / "pickle_ran.txt"
    payload = pickle.dumps({"w": _Exploit()})
    path = tmp_path / "evil.pt"
    if kind == "raw pickle":
        path.write_bytes(payload)
    elif kind == "torch-style zip":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("archive/data.pkl", payload)
    else:
        meta = {
            "format": "minisegnet-checkpoint-1",
            "state": {"__minisegnet_save__": 1, "object": {"w": {"__array__": "a0"}}},
        }
        with open(path, "wb") as f:
            np.savez(
                f, __meta__=np.asarray(json.dumps(meta)), a0=np.array([_Exploit()], dtype=object)
            )
    with pytest.raises(CheckpointError, match="is not a valid/complete minisegnet checkpoint"):
        ms.load(path)
    assert not MARK.exists(), "loading unpickled the file"
    pickle.loads(payload)  # the control: unpickling the payload does leave the mark
    assert MARK.read_text() == "ran"


# ----------------------------------------------------------------------------------------------
# utils.data


def pairs(n=5, size=3):
    rng = np.random.default_rng(0)
    return [
        (rng.random((1, size, size)).astype(np.float32), rng.integers(0, 3, (size, size)))
        for _ in range(n)
    ]


def test_a_list_of_pairs_batches_into_tensors():
    data = pairs()
    loader = DataLoader(data, batch_size=2)
    assert len(loader) == 3
    batches = list(loader)
    assert [len(b[1]) for b in batches] == [2, 2, 1]
    images, masks = batches[0]
    assert isinstance(images, Tensor) and images.shape == (2, 1, 3, 3)
    assert images.dtype == np.float32
    assert isinstance(masks, Tensor) and masks.dtype == np.int64
    np.testing.assert_array_equal(images.numpy()[1], data[1][0])
    np.testing.assert_array_equal(masks.numpy()[0], data[0][1])
    assert len(DataLoader(data, batch_size=2, drop_last=True)) == 2
    assert [len(b[0]) for b in DataLoader(data, batch_size=2, drop_last=True)] == [2, 2]
    assert len(DataLoader(data)) == 5  # PyTorch's default batch_size=1


def test_shuffling_follows_manual_seed():
    data = [(i, float(i)) for i in range(10)]

    def order():
        return np.concatenate([b[0].numpy() for b in DataLoader(data, batch_size=3, shuffle=True)])

    ms.manual_seed(5)
    first, second = order(), order()
    ms.manual_seed(5)
    again = order()
    np.testing.assert_array_equal(first, again)
    assert sorted(first.tolist()) == list(range(10)) and first.tolist() != list(range(10))
    assert first.tolist() != second.tolist()  # a new order every epoch
    gen = DataLoader(data, batch_size=10, shuffle=True, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(
        next(iter(gen))[0].numpy(), np.random.default_rng(3).permutation(10)
    )


def test_default_collate_follows_pytorchs_rules():
    Point = namedtuple("Point", "x y")
    batch = [
        {
            "img": np.zeros((2,), np.float64),
            "label": 1,
            "w": 0.5,
            "name": "a",
            "pt": Point(1, 2.0),
            "pair": (Tensor([1.0]), [3, 4]),
            "flag": True,
        },
        {
            "img": np.ones((2,), np.float64),
            "label": 2,
            "w": 1.5,
            "name": "b",
            "pt": Point(3, 4.0),
            "pair": (Tensor([2.0]), [5, 6]),
            "flag": False,
        },
    ]
    out = default_collate(batch)
    assert out["img"].dtype == np.float64 and out["img"].shape == (2, 2)
    assert out["label"].dtype == np.int64 and out["label"].numpy().tolist() == [1, 2]
    assert out["w"].dtype == np.float64 and out["name"] == ["a", "b"]
    assert out["flag"].dtype == bool
    assert isinstance(out["pt"], Point) and out["pt"].x.numpy().tolist() == [1, 3]
    assert isinstance(out["pair"], list) and out["pair"][0].shape == (2, 1)
    assert [t.numpy().tolist() for t in out["pair"][1]] == [[3, 5], [4, 6]]
    with pytest.raises(ValueError, match=r"default_collate: cannot stack samples of shapes"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="default_collate: cannot batch a object"):
        default_collate([object()])


def test_custom_dataset_tensor_dataset_subset_and_collate_fn():
    class Squares(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.float32(i), i * i

    xs, ys = next(iter(DataLoader(Squares(), batch_size=4)))
    assert xs.dtype == np.float32 and ys.numpy().tolist() == [0, 1, 4, 9]
    td = TensorDataset(np.arange(6).reshape(3, 2), Tensor([0.5, 1.5, 2.5]))
    assert len(td) == 3 and td[1][0].numpy().tolist() == [2, 3] and td[2][1].item() == 2.5
    with pytest.raises(ValueError, match="TensorDataset: every tensor needs the same first"):
        TensorDataset(np.zeros(3), np.zeros(4))
    assert list(DataLoader(td, batch_size=2, collate_fn=len)) == [2, 1]
    sub = Subset(Squares(), [3, 1])
    assert len(sub) == 2 and sub[0] == (3, 9)
    ms.manual_seed(0)
    a, b = random_split(list(range(10)), [0.7, 0.3])
    assert len(a) == 7 and len(b) == 3 and sorted(list(a) + list(b)) == list(range(10))
    with pytest.raises(ValueError, match="random_split"):
        random_split(list(range(10)), [3, 3])
    with pytest.raises(TypeError, match="DataLoader: the dataset must be map-style"):
        DataLoader(iter(range(3)))


def test_segmentation_datasets_are_datasets_and_batch_like_the_trainers_loader():
    ds = ms.data.load_dataset("shapes", "train", n=6, size=16)
    assert isinstance(ds, Dataset)
    images, masks = next(iter(DataLoader(ds, batch_size=6)))
    trainer_images, trainer_masks = next(iter(ms.data.DataLoader(ds, 6, shuffle=False)))
    np.testing.assert_array_equal(images.numpy(), trainer_images.numpy())
    np.testing.assert_array_equal(masks.numpy(), trainer_masks)
