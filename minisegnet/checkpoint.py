"""Checkpoints: all a run needs to continue exactly, in one ``.npz`` file, written atomically.

A checkpoint is a nested structure (dicts, lists, tuples, numbers, strings, ``None`` and arrays):
model weights and buffers, optimizer and scheduler state, the epoch, the random-generator states
(``minisegnet.random`` and the data loader's), the run's configuration and its metrics history.

Format (no pickle, nothing executable): a NumPy ``.npz`` archive. Every array becomes one entry
(``a0``, ``a1``, ...; always a host NumPy copy: a checkpoint written on the GPU loads on the CPU);
the structure around them is JSON in the entry ``__meta__``, where an array appears as
``{"__array__": "a3"}``.

Loading trusts nothing in the file: it opens the archive with ``zipfile`` (never NumPy's pickle
path), reads the JSON index first, then only the entries the index names (an extra entry, however
large, is never read), checks each entry's header against its stored size (and, if the caller
gives ``max_bytes``, their total against it) before reading it, and verifies every CRC. Any damage
-- a truncated, empty or bit-flipped file, bad JSON, a missing entry, a file that is not a
checkpoint at all -- raises :class:`CheckpointError` ("PATH is not a valid/complete minisegnet
checkpoint: ...") instead of a zip, EOF or key error.

Atomic write: the file is written to a temporary file in the same directory, flushed to disk, and
moved over the destination with ``os.replace``: a crash mid-write leaves the previous checkpoint
intact, never a half-written one.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy

from . import backend

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "atomic_write_bytes",
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "remove_stale_temporaries",
]

CHECKPOINT_FORMAT = "minisegnet-checkpoint-1"
_META = "__meta__"


class CheckpointError(ValueError):
    """A file that is not a valid, complete minisegnet checkpoint (damaged, truncated, foreign)."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path} is not a valid/complete minisegnet checkpoint: {reason}")


def _encode(obj: Any, arrays: dict[str, numpy.ndarray]) -> Any:
    """JSON-able copy of ``obj`` with arrays moved into ``arrays``."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return {"__float__": repr(obj)}  # keeps nan / inf / every digit
    if isinstance(obj, numpy.generic):
        key = f"a{len(arrays)}"
        arrays[key] = numpy.asarray(obj)
        return {"__scalar__": key}
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):  # numpy or cupy array
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
    raise TypeError(
        f"save_checkpoint: cannot store a {type(obj).__name__} ({obj!r:.80}); use arrays, "
        "numbers, strings, None, lists, tuples and dicts"
    )


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
        value = arrays[obj["__scalar__"]]
        return None if value is None else value[()]
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
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
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
    """Write ``state`` (a dict of arrays, numbers, strings, lists, tuples, dicts) to ``path``.

    The write is atomic (a temporary file, then a rename).

    Arrays may live on any device; they are stored as host NumPy copies.
    """
    if not isinstance(state, dict):
        raise TypeError(f"save_checkpoint: state must be a dict, got {type(state).__name__}")
    arrays: dict[str, Any] = {}  # name -> host array (Any: numpy.savez's stub types **kwds as bool)
    meta = {"format": CHECKPOINT_FORMAT, "state": _encode(state, arrays)}
    arrays[_META] = numpy.asarray(json.dumps(meta))
    return atomic_write_bytes(path, lambda f: numpy.savez(f, **arrays))


def remove_stale_temporaries(folder: str | os.PathLike, names: Any) -> list[Path]:
    """Delete the temporary files ``.NAME.*.tmp`` that :func:`atomic_write_bytes` left in
    ``folder`` for each file name in ``names`` when a process was killed mid-write; returns the
    removed paths. Nothing else is touched."""
    folder = Path(folder)
    removed = []
    if folder.is_dir():
        for tmp in sorted(t for name in names for t in folder.glob(f".{name}.*.tmp")):
            if tmp.is_file():
                try:
                    tmp.unlink()
                    removed.append(tmp)
                except OSError:
                    pass
    return removed


class _Skeleton(dict):
    """Stands in for the arrays when decoding the index alone (every array reads as ``None``)."""

    def __getitem__(self, key: str) -> Any:
        return None


def _referenced(obj: Any, out: list[str]) -> list[str]:
    """The entry names an index refers to (``__array__`` / ``__scalar__``), in order."""
    if isinstance(obj, list):
        for v in obj:
            _referenced(v, out)
    elif isinstance(obj, dict):
        for tag in ("__array__", "__scalar__"):
            if tag in obj:
                if not isinstance(obj[tag], str):
                    raise ValueError(f"bad array reference {obj[tag]!r} in the index")
                out.append(obj[tag])
                return out
        for v in obj.values():
            _referenced(v, out)
    return out


def _read_entry(zf: zipfile.ZipFile, name: str) -> numpy.ndarray:
    """One ``.npy`` member: header checked against the member's size, then read (CRC verified)."""
    try:
        info = zf.getinfo(name + ".npy")
    except KeyError:
        raise ValueError(f"the entry {name!r} named by the index is missing") from None
    with zf.open(info) as f:
        version = numpy.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = numpy.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = numpy.lib.format.read_array_header_2_0(f)
        header_len = f.tell()
    if dtype.hasobject:
        raise ValueError(
            f"the entry {name!r} holds Python objects; a checkpoint holds only numbers and text"
        )
    nbytes = int(numpy.prod(shape, dtype=numpy.int64)) * dtype.itemsize
    if info.file_size != header_len + nbytes:
        raise ValueError(
            f"the entry {name!r} claims a {dtype} array of shape {shape} ({nbytes:,} bytes) "
            f"but stores {info.file_size - header_len:,} bytes"
        )
    data = zf.read(info)[header_len:]  # zipfile checks the CRC of the whole member
    array = numpy.frombuffer(data, dtype=dtype).copy()
    return array.reshape(shape, order="F" if fortran else "C")


def _entry_nbytes(zf: zipfile.ZipFile, name: str) -> int:
    try:
        return zf.getinfo(name + ".npy").file_size
    except KeyError:
        raise ValueError(f"the entry {name!r} named by the index is missing") from None


def load_checkpoint(
    path: str | os.PathLike, max_bytes: int | Callable[[dict[str, Any]], int] | None = None
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; arrays come back as NumPy arrays.

    A directory is accepted and means ``<dir>/checkpoint.npz``. Only the entries the index names
    are read. ``max_bytes`` bounds the total size of those entries: a number, or a function of the
    decoded index (the state with every array ``None``) that returns the bound -- the trainer
    passes one derived from the saved configuration. Raises :class:`CheckpointError` for any
    damaged or foreign file, ``FileNotFoundError`` when there is no file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.npz"
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            if _META + ".npy" not in zf.namelist():
                raise CheckpointError(
                    path, f"no {_META} index entry (a NumPy archive from elsewhere?)"
                )
            meta_array = _read_entry(zf, _META)
            if meta_array.dtype.kind != "U" or meta_array.shape != ():
                raise ValueError(f"the {_META} entry is not a text string")
            meta = json.loads(str(meta_array[()]))
            if not isinstance(meta, dict) or "state" not in meta:
                raise ValueError(f"the {_META} index has no state")
            if meta.get("format") != CHECKPOINT_FORMAT:
                raise CheckpointError(
                    path,
                    f"it has format {meta.get('format')!r}, this version reads "
                    f"{CHECKPOINT_FORMAT!r}",
                )
            names = list(dict.fromkeys(_referenced(meta["state"], [])))
            total = sum(_entry_nbytes(zf, n) for n in names)
            if max_bytes is not None:
                limit = (
                    max_bytes(_decode(meta["state"], _Skeleton()))
                    if callable(max_bytes)
                    else max_bytes
                )
                if total > limit:
                    raise ValueError(
                        f"its arrays hold {total:,} bytes, more than the {int(limit):,} "
                        "bytes a checkpoint of its configuration can need"
                    )
            arrays = {n: _read_entry(zf, n) for n in names}
        return _decode(meta["state"], arrays)
    except CheckpointError:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        AttributeError,
        struct.error,
        UnicodeDecodeError,
        RecursionError,
        NotImplementedError,
    ) as exc:
        raise CheckpointError(path, _reason(exc)) from None


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "pickle" in text.lower():  # never pass on NumPy's advice to load unsafely
        return "an entry holds Python objects; a checkpoint holds only numbers and text"
    if isinstance(exc, zipfile.BadZipFile) and "not a zip file" in text:
        return "it is not an .npz (zip) archive, or it is empty or truncated"
    if isinstance(exc, (zipfile.BadZipFile, zlib.error, EOFError, struct.error)):
        return f"the archive is damaged or truncated ({text})"
    if isinstance(exc, json.JSONDecodeError):
        return f"its index is not valid JSON ({text})"
    return text
