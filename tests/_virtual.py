"""Helpers shared by the reference, mosaic, catalog and VirtualiZarr tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from _fixtures import FIXTURES

from rumi_xarray import to_rumi
from rumi_xarray.format import parse_bytes
from rumi_xarray.virtual.model import enable_rectilinear

ZARR_TYPES = {
    "bool",
    "uint8",
    "int8",
    "uint16",
    "int16",
    "uint32",
    "int32",
    "uint64",
    "int64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
}
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


def open_default(fo: Any, zarr_format: int = 3, **storage_options: Any) -> xr.Dataset:
    """Open references as a user would: xarray's zarr engine with its default decoding."""
    enable_rectilinear()
    return xr.open_dataset(
        "reference://",
        engine="zarr",
        chunks={},
        consolidated=False,
        zarr_format=zarr_format,
        storage_options={"fo": fo, **storage_options},
    )


def assert_same_dataset(got: xr.Dataset, want: xr.Dataset) -> None:
    """Same band_data bits and the same coordinate values and dtypes as ``engine="rumi"``."""
    a, b = got.band_data.values, want.band_data.values
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
    assert got.band_data.dims == want.band_data.dims
    assert set(got.coords) == set(want.coords)
    for name in want.coords:
        np.testing.assert_array_equal(got[name].values, want[name].values, err_msg=name)
        kind = want[name].dtype.kind
        if kind == "M":  # xarray decodes CF times at its default resolution, ns
            assert got[name].dtype.kind == "M", name
        elif kind not in "OUT":  # band texts: object, <U or StringDType
            assert got[name].dtype == want[name].dtype, name
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


def through_icechunk(write: Callable[[Any], None], root: Path, repo: Path) -> xr.Dataset:
    """Commit what ``write(session.store)`` writes to a new Icechunk repository whose
    virtual chunk container is ``root``; open it with xarray's default decoding."""
    import icechunk

    prefix = f"file://{root.resolve()}/"
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(
        icechunk.VirtualChunkContainer(prefix, icechunk.local_filesystem_store(str(root)))
    )
    repository = icechunk.Repository.create(
        icechunk.local_filesystem_storage(str(repo)),
        config,
        authorize_virtual_chunk_access={prefix: icechunk.credentials.LocalFileSystemAccess},
    )
    session = repository.writable_session("main")
    write(session.store)
    session.commit("write")
    enable_rectilinear()
    return xr.open_zarr(
        repository.readonly_session("main").store, consolidated=False, zarr_format=3, chunks={}
    )
