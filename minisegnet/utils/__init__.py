"""``torch.utils``'s habits: :mod:`minisegnet.utils.data` (``Dataset``, ``TensorDataset``,
``DataLoader`` over any map-style dataset)."""

from . import data

__all__ = ["data"]
