"""Read rumi rasters lazily and exactly with xarray, Zarr and Dask."""

from __future__ import annotations

from .errors import RumiFormatError

__all__ = ["RumiFormatError", "open_rumi"]


def __getattr__(name: str) -> object:
    if name == "open_rumi":
        from .backend import open_rumi

        return open_rumi
    raise AttributeError(f"module 'rumi_xarray' has no attribute {name!r}")
