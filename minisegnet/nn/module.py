"""``Module``, ``Parameter`` and the containers, shaped like ``torch.nn``.

A :class:`Module` is a function with state. Assigning a :class:`Parameter` or another
:class:`Module` to an attribute registers it, so ``model.parameters()`` finds every weight of a
network by walking the tree of sub-modules, and ``state_dict()`` names each one by its dotted path
(``"enc.0.conv1.weight"``). Buffers (``register_buffer``) are arrays that belong to the model but
are not trained, such as batch-norm's running mean and variance.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, overload

import numpy

from .. import backend
from ..autograd import DEFAULT_FLOAT, Tensor, mark_modified

__all__ = [
    "Parameter",
    "Module",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "Identity",
    "Flatten",
    "IncompatibleKeys",
]

# Hooks called as hook(module, inputs, output) after every module's forward (summary() uses this).
_global_forward_hooks: list[Callable[[Module, tuple, Any], None]] = []


class Parameter(Tensor):
    """A tensor that is a trainable weight of a module: floating point, ``requires_grad=True``."""

    def __init__(
        self, data: Any, requires_grad: bool = True, dtype: Any = None, device: str | None = None
    ) -> None:
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=False, dtype=dtype, device=device)
        if self.data.dtype.kind != "f":
            self.data = self.data.astype(DEFAULT_FLOAT)
        self.requires_grad = bool(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign parameters / sub-modules as attributes and
    define ``forward``. Calling the module runs ``forward`` (and the forward hooks).
    """

    training: bool
    # state-dict entries PyTorch's twin of a layer saves and this one does without: accepted by
    # load_state_dict and ignored (BatchNorm2d: "num_batches_tracked")
    _ignored_state_keys: tuple[str, ...] = ()

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "training", True)

    # ----- registration -------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning "
                f"attributes (while setting {name!r})"
            )
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}.{name} is a Parameter; assign a Parameter "
                    f"(or None), not {type(value).__name__}"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}.{name} is a Module; assign a Module "
                    f"(or None), not {type(value).__name__}"
                )
            modules[name] = None
        elif name in buffers:
            if value is not None and not hasattr(value, "shape"):
                raise TypeError(f"{type(self).__name__}.{name} is a buffer; assign an array")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        for d in (self._parameters, self._buffers, self._modules):
            d.pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: parameters, buffers and sub-modules live in dicts
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if key in d and name in d[key]:
                return d[key][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters or name in self._buffers or name in self._modules:
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def register_buffer(self, name: str, array: Any) -> None:
        """Register an array that is saved in ``state_dict`` and moved by ``to`` but not trained."""
        if isinstance(array, Tensor):
            array = array.data
        if array is not None and not hasattr(array, "shape"):
            raise TypeError(
                f"register_buffer({name!r}): expected an array, got {type(array).__name__}"
            )
        self._forget(name)
        self._buffers[name] = array

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register a parameter (or None, a slot without a weight, like ``bias=False``)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter({name!r}): expected a Parameter, got {type(param).__name__}"
            )
        self._forget(name)
        self._parameters[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a sub-module under ``name`` (containers use "0", "1", ...)."""
        self._forget(name)
        self._modules[name] = module

    def register_forward_hook(
        self, hook: Callable[[Module, tuple, Any], None]
    ) -> Callable[[], None]:
        """Call ``hook(module, inputs, output)`` after each forward; returns a remover."""
        self._forward_hooks.append(hook)
        return lambda: self._forward_hooks.remove(hook) if hook in self._forward_hooks else None

    # ----- calling --------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{type(self).__name__} has no forward(): a Module subclass must define it")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks):
                hook(self, args, out)
        if _global_forward_hooks:
            for hook in list(_global_forward_hooks):
                hook(self, args, out)
        return out

    # ----- traversal ------------------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules with their attribute names."""
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (name ``prefix``) and every sub-module, depth first, each once."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            kids = [(f"{name}.{n}" if name else n, c) for n, c in m.named_children()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name (``"enc.0.conv1.weight"``), shared ones once."""
        seen: set[int] = set()
        for mname, m in self.named_modules(prefix):
            for pname, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        for mname, m in self.named_modules(prefix):
            for bname, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self) -> Iterator[Any]:
        for _, b in self.named_buffers():
            yield b

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Total number of scalar weights."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # ----- modes, gradients, devices ------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (batch statistics in batch-norm, active dropout) for every sub-module."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Evaluation mode: running statistics in batch-norm, dropout is the identity."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of every parameter: ``.grad = None`` (the default, as PyTorch), or
        with ``set_to_none=False`` fill the existing gradients with zeros."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn(m)`` on every sub-module (children first, as PyTorch) and then on this module;
        returns self. Typical use: custom initialisation,
        ``model.apply(lambda m: nn.init.xavier_uniform_(m.weight) if isinstance(m, nn.Conv2d)
        else None)``."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, flag: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad = bool(flag)
        return self

    @property
    def device(self) -> str:
        """The device of the first parameter (or buffer); the default device if there is none."""
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return backend.device_of(b)
        return backend.get_default_device()

    def to(self, device: str | None = None, dtype: Any = None) -> Module:
        """Move every parameter and buffer to ``device`` and/or floating ``dtype``, in place."""
        if device is not None:
            try:
                device = backend.normalize_device(device)  # "cuda" / "cuda:0" mean "gpu"
            except ValueError as e:
                raise ValueError(f"Module.to: {e}") from None
        if dtype is not None and numpy.dtype(dtype).kind != "f":
            raise TypeError(f"Module.to: dtype must be floating, got {numpy.dtype(dtype)}")

        def move(a: Any) -> Any:
            if device is not None:
                a = backend.to_device(a, device)
            if dtype is not None and a.dtype.kind == "f" and a.dtype != numpy.dtype(dtype):
                a = a.astype(dtype)
            return a

        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    p.data = move(p.data)
                    if p.grad is not None:
                        p.grad.data = move(p.grad.data)
            for name, b in list(m._buffers.items()):
                if b is not None:
                    m._buffers[name] = move(b)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def gpu(self) -> Module:
        return self.to("gpu")

    def cuda(self) -> Module:
        """PyTorch's name for :meth:`gpu`."""
        return self.to("gpu")

    def double(self) -> Module:
        return self.to(dtype=numpy.float64)

    def float(self) -> Module:
        return self.to(dtype=DEFAULT_FLOAT)

    # ----- saving and loading -------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, numpy.ndarray]:
        """Parameters and buffers as host NumPy copies, keyed by dotted names."""
        out: OrderedDict[str, numpy.ndarray] = OrderedDict()
        for name, p in self.named_parameters():
            out[name] = backend.asnumpy(p.data).copy()
        for name, b in self.named_buffers():
            out[name] = backend.asnumpy(b).copy()
        return out

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays from ``state`` into the parameters and buffers (onto their device, in place).

        With ``strict=True`` (the default) a missing or unexpected key is an error; a mis-shaped
        array is always an error. The error lists every offending key. Entries a PyTorch layer
        saves and its minisegnet twin does not need (BatchNorm2d's ``num_batches_tracked``) are
        accepted and ignored, so a torch model's state dict (as arrays) loads into the same
        architecture built here.
        """
        if not isinstance(state, dict):
            raise TypeError(
                f"load_state_dict: expected a dict of arrays, got {type(state).__name__}"
            )
        targets: dict[str, tuple[Module, str, str]] = {}
        for mname, m in self.named_modules():
            for kind, d in (("param", m._parameters), ("buffer", m._buffers)):
                for n, v in d.items():
                    if v is not None:
                        targets.setdefault(f"{mname}.{n}" if mname else n, (m, n, kind))
        ignored = {
            f"{mname}.{n}" if mname else n
            for mname, m in self.named_modules()
            for n in m._ignored_state_keys
        }
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets and k not in ignored]
        mis_shaped = []
        for k, (m, n, kind) in targets.items():
            if k in state:
                have = (m._parameters[n].data if kind == "param" else m._buffers[n]).shape
                got = tuple(numpy.shape(state[k]))
                if tuple(have) != got:
                    mis_shaped.append(f"{k}: checkpoint {got}, model {tuple(have)}")
        problems = []
        if mis_shaped:
            problems.append("mis-shaped keys: " + "; ".join(mis_shaped))
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        if problems:
            hint = (
                " (or pass strict=False to skip missing / unexpected keys)"
                if strict and (missing or unexpected) and not mis_shaped
                else ""
            )
            raise ValueError(
                f"load_state_dict({type(self).__name__}): "
                + " | ".join(problems)
                + ". Build the model with the same architecture arguments as the "
                "saved one" + hint
            )
        for k, (m, n, kind) in targets.items():
            if k not in state:
                continue
            value = state[k]
            value = value.data if isinstance(value, Tensor) else value
            if kind == "param":
                dst = m._parameters[n].data
            else:
                dst = m._buffers[n]
            mark_modified(dst)  # in place: a live graph that saved dst will refuse backward
            dst[...] = backend.to_device(value, backend.device_of(dst))
        return IncompatibleKeys(missing, unexpected)

    # ----- printing -----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """One line of settings shown in ``repr`` (layers override it)."""
        return ""

    def __repr__(self) -> str:
        kids = list(self.named_children())
        extra = self.extra_repr()
        if not kids:
            return f"{type(self).__name__}({extra})"
        lines = [f"{type(self).__name__}(" + (extra if extra else "")]
        for name, m in kids:
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


class Sequential(Module):
    """Modules applied one after the other; they are named "0", "1", ..., or by the keys of an
    ``OrderedDict`` (``Sequential(OrderedDict(conv=..., relu=...))``: ``seq.conv``, state-dict keys
    ``"conv.weight"``). Indexing is by position; a slice keeps the names."""

    def __init__(self, *modules: Any) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            items = list(modules[0].items())
        else:
            if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
                modules = tuple(modules[0])
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, m in items:
            if not isinstance(name, str) or not name or "." in name:
                raise TypeError(
                    f"Sequential: module names must be non-empty strings without '.', got {name!r}"
                )
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {name!r} is a {type(m).__name__}, not a Module")
            self.add_module(name, m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return Sequential(OrderedDict(list(self._modules.items())[i]))
        return list(self._modules.values())[i]

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (no forward of its own)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        for m in modules or ():
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.append: expected a Module, got {type(module).__name__}")
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    @overload
    def __getitem__(self, i: int) -> Module: ...
    @overload
    def __getitem__(self, i: slice) -> list[Module]: ...

    def __getitem__(self, i: int | slice) -> Module | list[Module]:  # a slice: a plain list
        return list(self._modules.values())[i]

    def forward(self, *args: Any) -> Any:
        raise TypeError("ModuleList has no forward(): iterate over it and call its modules")


class ModuleDict(Module):
    """A dict of modules, registered under their keys (``md["enc"]`` -> state-dict keys
    ``"enc.weight"``...), in insertion order; no forward of its own."""

    def __init__(
        self, modules: dict[str, Module] | Iterable[tuple[str, Module]] | None = None
    ) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str) or not key or "." in key:
            raise TypeError(f"ModuleDict: keys must be non-empty strings without '.', got {key!r}")
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict[{key!r}]: expected a Module, got {type(module).__name__}")
        self.add_module(key, module)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no key {key!r}; keys: {list(self._modules)}")
        return self._modules[key]

    def __delitem__(self, key: str) -> None:
        self[key]
        self._forget(key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> list[str]:
        return list(self._modules)

    def values(self) -> list[Module]:
        return list(self._modules.values())

    def items(self) -> list[tuple[str, Module]]:
        return list(self._modules.items())

    def update(self, modules: dict[str, Module] | Iterable[tuple[str, Module]]) -> None:
        for key, m in modules.items() if isinstance(modules, dict) else modules:
            self[key] = m

    def pop(self, key: str) -> Module:
        m = self[key]
        del self[key]
        return m

    def forward(self, *args: Any) -> Any:
        raise TypeError("ModuleDict has no forward(): call its modules by key")


class Identity(Module):
    """y = x (a placeholder, e.g. when dropout or batch-norm is switched off). Any constructor
    arguments are accepted and ignored, as in PyTorch (so it can stand in for another layer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Merge axes ``start_dim`` .. ``end_dim`` (inclusive, negatives from the end) into one:
    (N, C, H, W) -> (N, C H W) with the defaults start_dim=1, end_dim=-1, as
    ``torch.nn.Flatten``."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: Any) -> Any:
        x = x if isinstance(x, Tensor) else Tensor(x)
        nd = x.ndim
        a = self.start_dim + nd if self.start_dim < 0 else self.start_dim
        b = self.end_dim + nd if self.end_dim < 0 else self.end_dim
        if not (0 <= a < nd and 0 <= b < nd) or a > b:
            raise ValueError(
                f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}): "
                f"does not fit an input of shape {x.shape} ({nd} axes); start_dim "
                "must not come after end_dim"
            )
        merged = math.prod(x.shape[a : b + 1])
        return x.reshape(x.shape[:a] + (merged,) + x.shape[b + 1 :])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
