"""xarray backend ``engine="rumi"``: lazy ``(band, y, x)`` or ``(time, band, y, x)`` arrays."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from xarray.backends import BackendArray, BackendEntrypoint
from xarray.core import indexing

from ._io import open_reader
from .coords import area_or_point, band_coord, file_coords
from .read import read_window, resolve_verify
from .spec import RUMI_MAGIC

if TYPE_CHECKING:
    from collections.abc import Buffer, Iterable

    import numpy as np
    import xarray as xr

    from ._io import RangeReader
    from .format import RumiFile

VARIABLE = "band_data"
"""Name of the data variable (as rioxarray's ``engine="rasterio"`` names it)."""


class RumiBackendArray(BackendArray):
    """A lazy view of one file; ``fixed`` pins axes of ``(t, b, y, x)`` to one index."""

    def __init__(
        self, desc: RumiFile, reader: RangeReader, fixed: dict[int, int], verify: bool = False
    ) -> None:
        self.desc = desc
        self.reader = reader
        self.fixed = fixed
        self.verify = verify
        self.shape = tuple(n for a, n in enumerate(desc.shape) if a not in fixed)
        self.dtype = desc.dtype

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._getitem
        )

    def _getitem(self, key: tuple) -> np.ndarray:
        parts = iter(key)
        full = tuple(self.fixed[a] if a in self.fixed else next(parts) for a in range(4))
        return read_window(self.desc, self.reader, full, verify=self.verify)


def open_rumi(
    source: Any,
    *,
    header: Buffer | None = None,
    storage_options: dict[str, Any] | None = None,
    band_as_variable: bool = False,
    drop_variables: Iterable[str] | str | None = None,
    verify: bool | None = None,
) -> xr.Dataset:
    """Open one rumi file as a lazy Dataset (what ``engine="rumi"`` calls).

    Parameters
    ----------
    source
        A local path, an fsspec URL, bytes, or a seekable binary file object.
    header
        The file's external header blob; when given the file's index is not read.
    storage_options
        Passed to fsspec for URLs.
    band_as_variable
        One data variable per band (``band_1``, ``band_2``, ...), as in rioxarray.
    drop_variables
        Variables or coordinates to leave out.
    verify
        Check every frame's OpenZL checksums when it is read (a mismatch raises
        `RumiFormatError` naming the frame and its bytes). None (default) follows the
        environment variable ``RUMI_VERIFY`` (``0, 1, false, true, off, on, no, yes``),
        off when unset, as in rumi-eo.
    """
    import xarray as xr

    from .read import read_description

    check = resolve_verify(verify)
    reader = open_reader(source, storage_options)
    desc = read_description(reader, header)
    coords = file_coords(desc)
    attrs, encoding = _variable_metadata(desc, coords)
    timed = desc.grid.times > 1
    dims = ("time",) * timed + ("band", "y", "x")
    fixed = {} if timed else {0: 0}
    if band_as_variable:
        data_vars = {}
        for b in range(desc.grid.bands):
            array = RumiBackendArray(desc, reader, {**fixed, 1: b}, check)
            band_attrs = {**attrs, "long_name": str(band_coord(desc).values[b])}
            data = indexing.LazilyIndexedArray(array)
            data_vars[f"band_{b + 1}"] = xr.Variable(
                dims[:-3] + dims[-2:], data, band_attrs, encoding
            )
    else:
        coords["band"] = band_coord(desc)
        data = indexing.LazilyIndexedArray(RumiBackendArray(desc, reader, fixed, check))
        data_vars = {VARIABLE: xr.Variable(dims, data, attrs, encoding)}
    ds = xr.Dataset(data_vars, coords, attrs={"rumi_generation": desc.generation.value})
    if drop_variables is not None:
        ds = ds.drop_vars(drop_variables, errors="ignore")
    if hasattr(reader, "close"):
        ds.set_close(reader.close)
    return ds


def _variable_metadata(desc: RumiFile, coords: dict) -> tuple[dict[str, Any], dict[str, Any]]:
    grid = desc.grid
    attrs: dict[str, Any] = {"AREA_OR_POINT": area_or_point(desc.georef)}
    if desc.sample.name != desc.dtype.name:
        attrs["rumi_dtype"] = desc.sample.name
    preferred = dict(zip(("time", "band", "y", "x"), grid.chunk_shape, strict=True))
    encoding: dict[str, Any] = {
        "dtype": desc.dtype,
        "preferred_chunks": preferred,
        "rumi_frame_unit": desc.frame_unit,
        "rumi_tile": (grid.tile_length, grid.tile_width),
    }
    if "spatial_ref" in coords:
        encoding["grid_mapping"] = "spatial_ref"
    return attrs, encoding


class RumiBackendEntrypoint(BackendEntrypoint):
    """``xr.open_dataset(path, engine="rumi")``: rumi rasters, lazily and exactly."""

    description = "Open rumi (OpenZL-tiled EO raster) files lazily and exactly"
    url = "https://github.com/rumi-xarray/rumi-xarray"
    open_dataset_parameters = (
        "filename_or_obj",
        "drop_variables",
        "header",
        "storage_options",
        "band_as_variable",
        "verify",
    )

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: Any,
        *,
        drop_variables: Iterable[str] | str | None = None,
        header: Buffer | None = None,
        storage_options: dict[str, Any] | None = None,
        band_as_variable: bool = False,
        verify: bool | None = None,
    ) -> xr.Dataset:
        return open_rumi(
            filename_or_obj,
            header=header,
            storage_options=storage_options,
            band_as_variable=band_as_variable,
            drop_variables=drop_variables,
            verify=verify,
        )

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        try:
            path = os.fspath(filename_or_obj)
        except TypeError:
            return False
        if str(path).lower().endswith(".rumi"):
            return True
        try:
            with open(path, "rb") as f:
                return f.read(4) == RUMI_MAGIC
        except OSError:
            return False
