"""Helpers shared by the reference, mosaic, catalog and VirtualiZarr tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from _fixtures import FIXTURES

from rumi_xarray import to_rumi
from rumi_xarray.format import parse_bytes
from rumi_xarray.virtual import enable_rectilinear

ZARR_TYPES = {"bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
              "float16", "float32", "float64", "complex64", "complex128"}
"""Sample types with a Zarr data type, listed here independently of the library."""
SUPPORTED = [f for f in FIXTURES if parse_bytes(f.path.read_bytes()).sample.name in ZARR_TYPES]
"""The fixtures whose frames can be Zarr chunks."""
UNSUPPORTED = [f for f in FIXTURES if f not in SUPPORTED]


def open_refs(refs: dict[str, Any], zarr_format: int = 3) -> xr.Dataset:
    """Open kerchunk references with xarray's zarr engine, lazily (rectilinear grids on)."""
    enable_rectilinear()
    return xr.open_dataset(
        "reference://",
        engine="zarr",
        chunks={},
        consolidated=False,
        zarr_format=zarr_format,
        mask_and_scale=False,
        storage_options={"fo": refs},
    )


def assert_same_dataset(got: xr.Dataset, want: xr.Dataset) -> None:
    """Same band_data bits and the same coordinate values as ``engine="rumi"`` gives."""
    a, b = got.band_data.values, want.band_data.values
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
    assert got.band_data.dims == want.band_data.dims
    for name in want.coords:
        np.testing.assert_array_equal(got[name].values, want[name].values, err_msg=name)
    if "spatial_ref" in want.coords:
        assert got.spatial_ref.attrs.get("crs_wkt") == want.spatial_ref.attrs.get("crs_wkt")
        assert got.band_data.attrs["grid_mapping"] == "spatial_ref"


def write(path, data, *, transform=None, crs=32633, tile=64, frames="band", time="2024-01-01"):
    """Write a ``(band, y, x)`` array as a rumi file; returns the path as a string."""
    if transform is None:
        transform = (10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)
    da = xr.DataArray(data, dims=("band", "y", "x"))
    to_rumi(da, path, tile=tile, frames=frames, transform=transform, crs=crs, time=[time])
    return str(path)
