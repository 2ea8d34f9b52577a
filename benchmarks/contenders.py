"""The suite's workers in the project's environment: ours, GDAL, tifffile, raw decode.

``run.py`` starts each contender at each thread count as its own persistent process::

    python benchmarks/contenders.py ours|ours_array|gdal|tifffile|raw|xarray_floor CONFIG.json

with its environment set before the interpreter starts (``RUMI_XARRAY_THREADS`` and
``RUMI_XARRAY_FRAME_CACHE`` for ours, ``GDAL_NUM_THREADS`` and ``GDAL_CACHEMAX`` for
GDAL: both are read once, so a process serves one setting), and talks to it through
:mod:`protocol`. Every contender reads the same pixels; ``check`` requests compare its
results with the source array.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from protocol import Chip, serve


class Ours:
    """rumi-xarray: ``xr.open_dataset(path, engine="rumi")``, one dataset kept open for chips."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        import xarray as xr

        self.xr = xr
        self.path = cfg["path"]
        self.ds = xr.open_dataset(self.path, engine="rumi")
        self.data = self.ds.band_data
        self.stack_paths = cfg["stack"]["rumi"]
        self.stack_headers = [_read(p) for p in cfg["stack"]["header"]]
        self.small = cfg["small"]["rumi"]
        self.small_headers = [_read(p) for p in cfg["small"]["header"]]

    def full(self) -> np.ndarray:
        with self.xr.open_dataset(self.path, engine="rumi") as ds:
            return ds.band_data.values

    def chip(self, chip: Chip) -> np.ndarray:
        y, x, size, b0, b1 = chip
        return self.data.isel(band=slice(b0, b1), y=slice(y, y + size), x=slice(x, x + size)).values

    def stack(self) -> np.ndarray:
        from rumi_xarray import open_stack

        with open_stack(self.stack_paths, headers=self.stack_headers) as ds:
            return ds.band_data.values

    def opens(self, kind: str) -> float:
        """Mean seconds of ``open_dataset`` + ``close`` per small file (``header``: with its blob).

        ``floor``: ``open_dataset`` of an engine that returns the same variables and
        coordinates as ours, already built, with no I/O: what xarray itself costs.
        """
        if kind == "floor":
            return _xarray_floor(self.xr, self.small[0], len(self.small))
        xr = self.xr
        return self._opens(
            kind, lambda path, header: xr.open_dataset(path, engine="rumi", header=header)
        )

    def _opens(self, kind: str, open_file: Any) -> float:
        """Mean seconds of ``open_file(path, header)`` + ``close`` per small file."""
        headers = self.small_headers if kind == "header" else [None] * len(self.small)
        t0 = time.perf_counter()
        for path, header in zip(self.small, headers, strict=True):
            open_file(path, header).close()
        return (time.perf_counter() - t0) / len(self.small)


def _xarray_floor(xr: Any, path: str, n: int) -> float:
    """Mean seconds of ``xr.open_dataset`` on an engine that hands back a prepared Dataset."""
    from xarray.backends import BackendEntrypoint
    from xarray.core import indexing

    with xr.open_dataset(path, engine="rumi") as ds:
        template = ds.load()
    variables = {name: (v.dims, v.values, v.attrs) for name, v in template.variables.items()}
    data = {name for name in template.data_vars}

    class Prepared(BackendEntrypoint):  # type: ignore[misc]
        def open_dataset(self, filename_or_obj: Any, *, drop_variables: Any = None) -> Any:
            lazy = {k: (d, indexing.LazilyIndexedArray(indexing.NumpyIndexingAdapter(v)), a)
                    for k, (d, v, a) in variables.items() if k in data}  # fmt: skip
            coords = {k: variables[k] for k in variables if k not in data}
            return xr.Dataset(lazy, coords)

    xr.open_dataset(path, engine=Prepared).close()
    t0 = time.perf_counter()
    for _ in range(n):
        xr.open_dataset(path, engine=Prepared).close()
    return (time.perf_counter() - t0) / n


class XarrayFloor:
    """Not a reader: the scene held in memory as a NumPy-backed DataArray with our
    coordinates, chips taken by the same ``.isel(...).values``: xarray's own cost a chip."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        import xarray as xr

        with xr.open_dataset(cfg["path"], engine="rumi") as ds:
            self.data = ds.band_data.load()

    def chip(self, chip: Chip) -> np.ndarray:
        y, x, size, b0, b1 = chip
        return self.data.isel(band=slice(b0, b1), y=slice(y, y + size), x=slice(x, x + size)).values


class OursArray(Ours):
    """rumi-xarray's NumPy-style reader, ``rumi_xarray.open_array``: chips without xarray."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        from rumi_xarray import open_array

        super().__init__(cfg)
        self.array = open_array(self.path)

    def chip(self, chip: Chip) -> np.ndarray:
        y, x, size, b0, b1 = chip
        return self.array[b0:b1, y : y + size, x : x + size]

    def opens(self, kind: str) -> float:
        """Mean seconds of ``open_array`` + ``close`` per small file (``header``: with its blob)."""
        from rumi_xarray import open_array

        return self._opens(kind, lambda path, header: open_array(path, header=header))


def ours_info() -> dict[str, Any]:
    import geozl

    from rumi_xarray import set_frame_cache

    bound = set_frame_cache(0)  # nothing is cached yet: read the bound, then restore it
    set_frame_cache(bound)
    threads = os.environ.get("RUMI_XARRAY_THREADS", "")
    return {"geozl": geozl.__version__, "frame_cache": bound, "RUMI_XARRAY_THREADS": threads}


class Gdal:
    """GDAL through rasterio: a full read opens the file anew; chips share one open dataset."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        import rasterio
        from rasterio.windows import Window

        self.rasterio, self.window = rasterio, Window
        self.tif = cfg["tif"]
        self.ds = rasterio.open(self.tif)
        self.small = cfg["small"]["tif"]

    def full(self) -> np.ndarray:
        with self.rasterio.open(self.tif) as ds:
            return ds.read()

    def chip(self, chip: Chip) -> np.ndarray:
        y, x, size, b0, b1 = chip
        return self.ds.read(list(range(b0 + 1, b1 + 1)), window=self.window(x, y, size, size))

    def opens(self, kind: str) -> float:
        """Mean seconds of ``rasterio.open`` + ``close`` per small GeoTIFF."""
        t0 = time.perf_counter()
        for path in self.small:
            self.rasterio.open(path).close()
        return (time.perf_counter() - t0) / len(self.small)


def gdal_info() -> dict[str, Any]:
    import rasterio
    from rasterio.env import get_gdal_config

    with rasterio.Env():
        settings = {k: get_gdal_config(k) for k in ("GDAL_NUM_THREADS", "GDAL_CACHEMAX")}
    return {"gdal": rasterio.__gdal_version__, "rasterio": rasterio.__version__, **settings}


class Tiff:
    """tifffile: ``tifffile.imread(path, maxworkers=threads)`` (ZSTD through imagecodecs)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        import tifffile

        self.tifffile, self.tif, self.threads = tifffile, cfg["tif"], cfg["threads"]

    def full(self) -> np.ndarray:
        return self.tifffile.imread(self.tif, maxworkers=self.threads)


def tiff_info() -> dict[str, Any]:
    import imagecodecs
    import tifffile

    return {"tifffile": tifffile.__version__, "imagecodecs": imagecodecs.__version__}


class Raw:
    """The yardstick: geozl decode of every frame (bytes in memory), each copied into its
    place in one preallocated ``(band, y, x)`` image, on ``threads`` threads (1: a loop)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        from rumi_xarray.format import parse_bytes

        data = _read(cfg["path"])
        desc = parse_bytes(data)
        view = memoryview(data)
        self.frames = [view[o : o + n] for o, n in map(desc.frame_range, range(desc.frame_count))]
        self.shape, self.tile = cfg["shape"], cfg["tile"]
        self.pool = ThreadPoolExecutor(cfg["threads"]) if cfg["threads"] > 1 else None

    def full(self) -> np.ndarray:
        """Frames are in (row, column, band) order, one band's tile each."""
        import geozl

        bands, _, width = self.shape
        tile = self.tile
        across = -(-width // tile)
        image = np.empty(self.shape, np.uint16)

        def one(k: int) -> None:
            row, col, band = k // (across * bands), k // bands % across, k % bands
            region = image[band, row * tile : (row + 1) * tile, col * tile : (col + 1) * tile]
            decoded = geozl.decompress(self.frames[k], verify=False)
            region[...] = decoded.view(np.uint16).reshape(region.shape)

        if self.pool is None:
            for k in range(len(self.frames)):
                one(k)
        else:
            list(self.pool.map(one, range(len(self.frames))))
        return image


def raw_info() -> dict[str, Any]:
    import geozl

    return {"geozl": geozl.__version__}


CONTENDERS = {"ours": (Ours, ours_info), "ours_array": (OursArray, ours_info), "gdal": (Gdal, gdal_info), "tifffile": (Tiff, tiff_info),
              "raw": (Raw, raw_info), "xarray_floor": (XarrayFloor, ours_info)}  # fmt: skip


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def main() -> None:
    kind, config = sys.argv[1], sys.argv[2]
    with open(config) as f:
        cfg = json.load(f)
    make, describe = CONTENDERS[kind]
    serve(make(cfg), cfg, {"contender": kind, "threads": cfg["threads"], **describe()})


if __name__ == "__main__":
    main()
