"""Checkpoints: everything a run needs to continue exactly, in one ``.npz`` file, written atomically.

A checkpoint is a nested structure (dicts, lists, tuples, numbers, strings, ``None`` and arrays):
model weights and buffers, optimizer and scheduler state, the epoch, the random-generator states
(``minisegnet.random`` and the data loader's), the run's configuration and its metrics history.

Format (no pickle, nothing executable): a NumPy ``.npz`` archive. Every array becomes one entry
(``a0``, ``a1``, ...; always a host NumPy copy, so a checkpoint written on the GPU loads on the CPU);
the structure around them is JSON in the entry ``__meta__``, where an array appears as
``{"__array__": "a3"}``. Loading uses ``numpy.load(allow_pickle=False)``.

Atomic write: the file is written to a temporary file in the same directory, flushed to disk, and
moved over the destination with ``os.replace``: a crash mid-write leaves the previous checkpoint
intact, never a half-written one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy

from . import backend

__all__ = ["save_checkpoint", "load_checkpoint", "atomic_write_bytes", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "minisegnet-checkpoint-1"
_META = "__meta__"


def _encode(obj: Any, arrays: dict[str, numpy.ndarray]) -> Any:
    """JSON-able copy of ``obj`` with arrays moved into ``arrays``."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return {"__float__": repr(obj)}          # keeps nan / inf / every digit
    if isinstance(obj, numpy.generic):
        key = f"a{len(arrays)}"
        arrays[key] = numpy.asarray(obj)
        return {"__scalar__": key}
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):   # numpy or cupy array
        key = f"a{len(arrays)}"
        arrays[key] = numpy.ascontiguousarray(backend.asnumpy(obj))
        return {"__array__": key}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not any(k.startswith("__") for k in obj):
            return {k: _encode(v, arrays) for k, v in obj.items()}
        return {"__items__": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    raise TypeError(f"save_checkpoint: cannot store a {type(obj).__name__} ({obj!r:.80}); use arrays, "
                    "numbers, strings, None, lists, tuples and dicts")


def _decode(obj: Any, arrays: Any) -> Any:
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__array__" in obj:
        return arrays[obj["__array__"]]
    if "__scalar__" in obj:
        return arrays[obj["__scalar__"]][()]
    if "__tuple__" in obj:
        return tuple(_decode(v, arrays) for v in obj["__tuple__"])
    if "__items__" in obj:
        return {_hashable(_decode(k, arrays)): _decode(v, arrays) for k, v in obj["__items__"]}
    return {k: _decode(v, arrays) for k, v in obj.items()}


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, write: Any) -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, then ``os.replace`` it into place.

    The temporary file lives in the destination's directory (so the rename never crosses file
    systems) and is removed if ``write`` raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())     # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` (a dict of arrays, numbers, strings, lists, tuples, dicts) to ``path`` atomically.

    Arrays may live on any device; they are stored as host NumPy copies.
    """
    if not isinstance(state, dict):
        raise TypeError(f"save_checkpoint: state must be a dict, got {type(state).__name__}")
    arrays: dict[str, numpy.ndarray] = {}
    meta = {"format": CHECKPOINT_FORMAT, "state": _encode(state, arrays)}
    arrays[_META] = numpy.asarray(json.dumps(meta))
    return atomic_write_bytes(path, lambda f: numpy.savez(f, **arrays))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; arrays come back as NumPy arrays.

    A directory is accepted and means ``<dir>/checkpoint.npz``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.npz"
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {path}")
    with numpy.load(path, allow_pickle=False) as z:
        if _META not in z.files:
            raise ValueError(f"load_checkpoint: {path} is not a minisegnet checkpoint (no {_META} entry)")
        meta = json.loads(str(z[_META]))
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"load_checkpoint: {path} has format {meta.get('format')!r}, "
                             f"this version reads {CHECKPOINT_FORMAT!r}")
        arrays = {k: z[k] for k in z.files if k != _META}
    return _decode(meta["state"], arrays)
