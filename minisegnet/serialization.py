"""``minisegnet.save`` / ``minisegnet.load``: PyTorch's ``torch.save`` / ``torch.load`` habit, in
the no-pickle checkpoint format of :mod:`minisegnet.checkpoint`.

What can be saved: state dicts (``model.state_dict()``, ``optimizer.state_dict()``,
``scheduler.state_dict()``), Tensors, NumPy arrays, numbers, strings, ``None``, and lists, tuples
and dicts of them -- e.g. a training checkpoint::

    minisegnet.save({"epoch": 3, "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(), "loss": 0.25}, "ckpt.pt")
    ckpt = minisegnet.load("ckpt.pt")
    model.load_state_dict(ckpt["model"])

A Tensor comes back as a Tensor (its values, dtype and ``requires_grad``; no graph, no
``.grad``), on the CPU or on ``map_location`` ("cpu", "gpu"; "cuda" means "gpu"); arrays come
back as host NumPy arrays (a state dict holds host copies, and ``load_state_dict`` copies them onto
the model's device). Modules, optimizers and other Python objects cannot be saved (that would take
pickle): save their ``state_dict()``. Loading never unpickles: a file holding a pickle (a
``torch.save`` file, an ``.npz`` with object arrays) is refused with
:class:`~minisegnet.checkpoint.CheckpointError`. A trainer's ``checkpoint.npz`` loads too (it is
the same format; its dict comes back as saved).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import backend
from .autograd import Tensor
from .checkpoint import load_checkpoint, save_checkpoint

__all__ = ["save", "load"]

_WRAPPER = "__minisegnet_save__"  # marks a file written by save() (vs. a trainer checkpoint)
_TENSOR = "__tensor__"


def _pack(obj: Any) -> Any:
    if isinstance(obj, Tensor):
        return {_TENSOR: obj.data, "requires_grad": bool(obj.requires_grad)}
    if isinstance(obj, dict):
        return {k: _pack(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        packed = [_pack(v) for v in obj]
        return tuple(packed) if isinstance(obj, tuple) and not hasattr(obj, "_fields") else packed
    if callable(getattr(obj, "state_dict", None)):
        raise TypeError(
            f"save: cannot store a {type(obj).__name__} itself (that would need "
            "pickle); save its state_dict() and load it back with load_state_dict()"
        )
    return obj


def _device(map_location: Any) -> str | None:
    if map_location is None:
        return None
    name = str(map_location)
    name = "gpu" if name == "cuda" or name.startswith("cuda:") else name
    if name not in backend.DEVICES:
        raise ValueError(
            f"load: unknown map_location {map_location!r}; use one of "
            f"{backend.DEVICES} (or 'cuda', the same as 'gpu')"
        )
    return name


def _unpack(obj: Any, device: str | None) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_TENSOR, "requires_grad"}:
            data = obj[_TENSOR]
            if device is not None:
                data = backend.to_device(data, device)
            return Tensor(data, requires_grad=bool(obj["requires_grad"]))
        return {k: _unpack(v, device) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unpack(v, device) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_unpack(v, device) for v in obj)
    return obj


def save(obj: Any, f: str | os.PathLike) -> Path:
    """Write ``obj`` (state dicts, Tensors, arrays, numbers, strings, lists / tuples / dicts of
    them) to the file ``f`` (any name: ``model.pt`` stays ``model.pt``), atomically. Returns the
    path. Raises ``TypeError`` for a module, an optimizer or any other object."""
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"save: f must be a file path (str or Path), got {type(f).__name__}")
    try:
        return save_checkpoint(f, {_WRAPPER: 1, "object": _pack(obj)})
    except TypeError as exc:
        raise TypeError(str(exc).replace("save_checkpoint:", "save:")) from None


def load(f: str | os.PathLike, map_location: Any = None, weights_only: bool = True) -> Any:
    """Read what :func:`save` wrote (or a trainer's checkpoint). Tensors come back as Tensors on
    ``map_location`` (default: the CPU), arrays as NumPy arrays. ``weights_only`` is accepted for
    PyTorch's sake; minisegnet never unpickles, so it has no effect (``False`` is refused)."""
    if not weights_only:
        raise ValueError(
            "load: weights_only=False would mean unpickling Python objects; "
            "minisegnet files hold only arrays, numbers and text"
        )
    device = _device(map_location)
    state = load_checkpoint(f)
    if isinstance(state, dict) and set(state) == {_WRAPPER, "object"}:
        return _unpack(state["object"], device)
    return state
