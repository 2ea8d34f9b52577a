"""OpenZL frame codecs for rumi tiles: one self-contained OpenZL frame per chunk.

``compress``/``decompress`` work on plain arrays and bytes, ``encode`` on any bytes
(Numeric frames for numeric arrays, Serial frames otherwise; engine in ``_core``).
``OpenZLCodec`` (id ``"rumi.openzl"``) and the decode-only ``OpenZLGridCodec`` (id
``"rumi.openzl_grid"``) are the numcodecs adaptors; their Zarr v3 twins live in
``rumi_codec.zarr_``. ``frame_key`` names a frame in a ``rumi.openzl_grid``
configuration. Names load on first access, so ``import rumi_codec`` imports neither
numcodecs, zarr nor openzl.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rumi_codec._core import compress, decompress, encode
    from rumi_codec._grid import frame_key
    from rumi_codec.numcodecs_ import OpenZLCodec, OpenZLGridCodec
    from rumi_xarray.errors import OpenZLError

__all__ = [
    "OpenZLCodec",
    "OpenZLError",
    "OpenZLGridCodec",
    "compress",
    "decompress",
    "encode",
    "frame_key",
]

_MODULES = {
    "OpenZLCodec": "rumi_codec.numcodecs_",
    "OpenZLGridCodec": "rumi_codec.numcodecs_",
    "OpenZLError": "rumi_xarray.errors",
    "compress": "rumi_codec._core",
    "decompress": "rumi_codec._core",
    "encode": "rumi_codec._core",
    "frame_key": "rumi_codec._grid",
}


def __getattr__(name: str) -> object:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_MODULES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
