"""The networks of the lectures, built from :mod:`minisegnet.nn`.

All map an (N, C, H, W) image batch to (N, num_classes, H, W) class scores (logits); the original
"valid" U-Net returns a smaller map (see :meth:`UNet.output_size`).

``build_model(name, in_channels, num_classes, **kwargs)`` builds one by name (``MODEL_NAMES``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import nn
from .deeplab import ASPP, DeepLabV3, DeepLabV3Plus
from .deeplab_v1v2 import ASPPSum, DeepLabV1, DeepLabV2
from .fcdensenet import FCDenseNet
from .fcn import FCN, FCN_VARIANTS
from .mobilenet import Encoder, MobileNetEncoder, MobileNetUNet
from .pspnet import PSPNet
from .segnet import DeconvNet, SegNet
from .setr import SETR
from .swin import Swin
from .unet import UNet

__all__ = [
    "UNet",
    "FCN",
    "SegNet",
    "DeconvNet",
    "PSPNet",
    "DeepLabV3",
    "DeepLabV3Plus",
    "ASPP",
    "MobileNetUNet",
    "Encoder",
    "MobileNetEncoder",
    "build_model",
    "MODEL_NAMES",
    "FCN_VARIANTS",
    "SETR",
    "Swin",
    "DeepLabV1",
    "DeepLabV2",
    "ASPPSum",
    "FCDenseNet",
]

_REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "unet": UNet,
    "fcn8s": lambda **kw: FCN(variant="8s", **kw),
    "fcn16s": lambda **kw: FCN(variant="16s", **kw),
    "fcn32s": lambda **kw: FCN(variant="32s", **kw),
    "segnet": SegNet,
    "deconvnet": DeconvNet,
    "pspnet": PSPNet,
    "deeplabv3": DeepLabV3,
    "deeplabv3plus": DeepLabV3Plus,
    "unet-mobilenet": MobileNetUNet,
    "setr-naive": lambda **kw: SETR(decoder="naive", **kw),
    "setr-pup": lambda **kw: SETR(decoder="pup", **kw),
    "setr-mla": lambda **kw: SETR(decoder="mla", **kw),
    "swin": Swin,
    "deeplabv1": DeepLabV1,
    "deeplabv2": DeepLabV2,
    "fcdensenet": FCDenseNet,
}

MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def build_model(name: str, in_channels: int = 3, num_classes: int = 4, **kwargs: Any) -> nn.Module:
    """Build a model by name (case-insensitive): one of ``MODEL_NAMES``.

    ``kwargs`` go to the model's constructor (``base_width``, ``depth``, ``dropout`` ...).
    """

    def canonical(n: str) -> str:
        return n.lower().replace("-", "").replace("_", "")

    table = {canonical(k): v for k, v in _REGISTRY.items()}
    key = canonical(name) if isinstance(name, str) else name
    if key not in table:
        raise ValueError(
            f"build_model: unknown model {name!r}; valid names are {', '.join(MODEL_NAMES)}"
        )
    try:
        return table[key](in_channels=in_channels, num_classes=num_classes, **kwargs)
    except TypeError as exc:  # an option this model does not have
        raise TypeError(f"build_model({name!r}): {exc}") from None
