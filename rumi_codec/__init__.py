"""OpenZL frame codec for rumi tiles: one self-contained OpenZL frame per chunk.

``compress``/``decompress`` work on plain arrays and bytes (engine in ``_core``);
``OpenZLCodec`` is the numcodecs adaptor (id ``"openzl"``). Names load on first
access, so ``import rumi_codec`` imports neither numcodecs nor openzl.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rumi_codec._core import OpenZLError, compress, decompress
    from rumi_codec.numcodecs_ import OpenZLCodec

__all__ = ["OpenZLCodec", "OpenZLError", "compress", "decompress"]

_MODULES = {
    "OpenZLCodec": "rumi_codec.numcodecs_",
    "OpenZLError": "rumi_codec._core",
    "compress": "rumi_codec._core",
    "decompress": "rumi_codec._core",
}


def __getattr__(name: str) -> object:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_MODULES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
