"""OpenZL frame codecs for rumi tiles: one self-contained OpenZL frame per chunk.

``compress``/``decompress`` work on plain arrays and bytes, ``encode`` on any bytes
(Numeric frames for numeric arrays, Serial frames otherwise; engine in ``_core``).
``OpenZLCodec`` (id ``"rumi.openzl"``) and the decode-only ``OpenZLGridCodec`` (id
``"rumi.openzl_grid"``) are the numcodecs adaptors; their Zarr v3 twins live in
``rumi_codec.zarr_``. ``frame_key`` and ``skeleton_key`` name frames in a
``rumi.openzl_grid`` configuration. ``decompress_into``, ``known_width``,
``decoded_nbytes`` and ``parse_verify`` are what rumi_xarray's reader and writer use of
the engine. Names load on first access, so ``import rumi_codec`` imports neither
numcodecs, zarr nor openzl.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rumi_codec._core import (
        DEFAULT_RECIPE,
        compress,
        decoded_nbytes,
        decompress,
        decompress_into,
        encode,
        known_width,
        parse_verify,
    )
    from rumi_codec._grid import frame_key, skeleton_key
    from rumi_codec.numcodecs_ import OpenZLCodec, OpenZLGridCodec
    from rumi_xarray.errors import OpenZLError

__all__ = [
    "DEFAULT_RECIPE",
    "OpenZLCodec",
    "OpenZLError",
    "OpenZLGridCodec",
    "compress",
    "decoded_nbytes",
    "decompress",
    "decompress_into",
    "encode",
    "frame_key",
    "known_width",
    "parse_verify",
    "skeleton_key",
]

_MODULES = {
    "DEFAULT_RECIPE": "rumi_codec._core",
    "OpenZLCodec": "rumi_codec.numcodecs_",
    "OpenZLGridCodec": "rumi_codec.numcodecs_",
    "OpenZLError": "rumi_xarray.errors",
    "compress": "rumi_codec._core",
    "decoded_nbytes": "rumi_codec._core",
    "decompress": "rumi_codec._core",
    "decompress_into": "rumi_codec._core",
    "encode": "rumi_codec._core",
    "frame_key": "rumi_codec._grid",
    "known_width": "rumi_codec._core",
    "parse_verify": "rumi_codec._core",
    "skeleton_key": "rumi_codec._grid",
}


def __getattr__(name: str) -> object:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_MODULES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
