"""``rumi_xarray.to_rumi``: write a DataArray, a Dataset variable or an array as a rumi 0.26.1 file.

This module turns xarray objects and arrays into what :mod:`rumi_xarray.writer` needs:
a ``(T, B, L, W)`` loader, band texts, a time axis and the georeferencing.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import xarray as xr

from rumi_codec import DEFAULT_RECIPE

from ..errors import RumiDataLossError, RumiDataLossWarning
from ..spec import TimeKind
from ..trailer import TimeAxis
from . import accessor  # noqa: F401  (registers .rumi, as rioxarray's .rio)
from .container import parse_compression, parse_frames, plan_write, sample_type, write_rumi
from .metadata import (
    band_texts,
    dropped,
    grid_mapping,
    is_grid_mapping,
    object_georef,
    report,
)

if TYPE_CHECKING:
    from collections.abc import Hashable

    from .container import Loader

__all__ = ["RumiDataLossError", "RumiDataLossWarning", "to_rumi"]


@dataclass(frozen=True, slots=True, eq=False)
class _Source:
    """The input seen as ``(T, B, L, W)``, with the xarray objects its metadata comes from."""

    shape: tuple[int, int, int, int]
    dtype: np.dtype
    load: Loader
    array: xr.DataArray | None = None
    pool: xr.Dataset | None = None
    """The Dataset ``array`` comes from: where time bounds and grid mappings are looked up."""


def to_rumi(
    obj: Any,
    target: str | os.PathLike[str],
    *,
    tile: int | None = None,
    frames: str | int | None = None,
    compression: Any = DEFAULT_RECIPE,
    band_dim: str = "band",
    time_dim: str = "time",
    x_dim: str = "x",
    y_dim: str = "y",
    bands: Any = None,
    time: Any = None,
    transform: Any = None,
    crs: Any = None,
    pixel_is_point: bool | None = None,
    dtype: str | None = None,
    variable: Hashable | None = None,
    storage_options: dict[str, Any] | None = None,
    progress: bool | None = None,
    max_workers: int | None = None,
    strict: bool = False,
) -> bytes:
    """Write ``obj`` as a rumi 0.26.1 file at ``target`` and return its header blob.

    Everything is validated before a byte is written (``ValueError``/``TypeError``); the
    file appears at ``target`` only once complete, and nothing is left behind on failure.
    What ``obj`` carries and a rumi file cannot hold (nodata, scale and offset, units,
    other attributes and coordinates, a transform without a CRS, ...) is named, with
    its value, in one :class:`RumiDataLossWarning`; ``strict=True`` raises
    :class:`RumiDataLossError` instead, before anything is written.

    Parameters
    ----------
    obj
        A DataArray with dims ``(band, y, x)`` or ``(time, band, y, x)`` in any order
        (``band`` and ``time`` may be missing: one band, one step); a Dataset (its single
        data variable, or ``variable``); or a NumPy/Dask array ``(B, Y, X)``,
        ``(T, B, Y, X)`` or ``(Y, X)``. Dask arrays are computed a tile row (or a cell, or
        a frame) at a time.
    target
        A local path or an fsspec URL (``s3://...``, ``memory://...``).
    tile
        Square tile size, 1..65535; edge tiles are clipped. Default: the tile of the
        file ``obj`` was read from (``encoding["rumi_tile"]``), else 512.
    frames
        What one frame holds (§5 of the format); default the frame unit of the file
        ``obj`` was read from (``encoding["rumi_frame_unit"]``) when it fits, else
        ``"band"``::

            "band" (or "tile", "h w")  0  one tile of one band and step; index b, then t
            "time-band"                9  one tile of one band and step; index t, then b
            "cell"   ("b h w"/"t h w") 1  every band (B>1) or every step (T>1) of a tile
            "interleaved" ("h w b"/"h w t")  2  the same, pixel-interleaved
            "bthw" "tbhw" "bhwt" "thwb" "hwbt" "hwtb"  3..8  every band and step
                                          (B>1 and T>1), in that C order

        or the code 0..9 itself. Units 1 and 2 need exactly one of B, T > 1.
    compression
        A geozl recipe (default ``"planar>zigzag>zstd"``), plain OpenZL options such
        as ``{"graph": "zstd"}`` (keys ``recipe``, ``graph``, ``format_version``,
        ``checksum``), or a callable ``(samples, key) -> bytes`` returning one OpenZL
        frame per frame; ``samples`` are the stored samples in frame order and ``key``
        is a :class:`~rumi_xarray.layout.FrameKey`.
    band_dim, time_dim, x_dim, y_dim
        Dimension (and coordinate) names of ``obj``.
    bands
        One text per band. Default: the ``band`` coordinate when it holds texts; else
        rioxarray's band descriptions (the ``long_name`` attribute, one text per band
        number); else band numbers other than 1..N as texts; else ``"band 1"``, ...
    time
        One instant per step, or one ``(start, end)`` pair per step: datetime64, ISO
        strings, dates or datetimes (aware ones are converted to UTC), in whole
        seconds. Default the ``time`` coordinate, with interval ends from the
        ``time_end`` coordinate or the CF bounds variable its ``bounds`` attribute
        names. Required: rumi 0.25+ records a time.
    transform, crs
        Six affine coefficients ``(a, b, c, d, e, f)`` in rasterio order (or a 9-value
        affine ending 0, 0, 1), stored as given, which need a CRS; and an EPSG code,
        an ``"EPSG:32633"``-like string, WKT or an object with ``to_epsg()``. Default:
        the grid-mapping variable (named by ``grid_mapping``, else ``spatial_ref`` or
        ``crs``; a coordinate, or a data variable of the Dataset) with its
        ``crs_wkt``/``spatial_ref`` and the x/y coordinates or its ``GeoTransform``,
        else rioxarray's ``rio.crs`` and ``rio.transform()``. A file without a CRS has
        no transform (FORMAT §7): a transform found without a CRS, or a CRS without an
        EPSG code, is dropped (see ``strict``).
    pixel_is_point
        Record PixelIsPoint; default ``obj.attrs["AREA_OR_POINT"] == "Point"``. A
        transform taken from ``obj`` (pixel corners, GDAL's convention) is then
        shifted by half a pixel, as rumi stores pixel centres.
    dtype
        The rumi type to store, when not implied by the array's dtype: only
        ``"complex32"`` (half-precision complex) needs it, for complex input whose
        values fit exactly; a DataArray read as ``rumi_dtype="complex32"`` gets it by
        default.
    variable
        The Dataset variable to write.
    storage_options
        Passed to fsspec for URL targets.
    progress
        Show a tqdm progress bar; default: on a terminal and for more than 256 frames.
    max_workers
        Threads compressing frames; default the number of CPUs.
    strict
        Raise :class:`RumiDataLossError` (a ``ValueError``) instead of warning when
        something would be dropped.

    Returns
    -------
    bytes
        The canonical external header blob (``rumi.read(path, blob)``,
        ``xr.open_dataset(path, engine="rumi", header=blob)``).
    """
    source = _source(obj, (time_dim, band_dim, y_dim, x_dim), variable)
    da = source.array
    sample = sample_type(source.dtype, dtype if dtype is not None else _rumi_dtype(da))
    times, nbands = source.shape[:2]
    texts, described = band_texts(bands, da, band_dim, nbands)
    axis, time_names = _time_axis(time, source, time_dim)
    georef, lost = object_georef(transform, crs, pixel_is_point, da, source.pool, (x_dim, y_dim))
    plan = plan_write(
        shape=source.shape,
        sample=sample,
        tile=tile if tile is not None else _encoded_tile(da),
        frames=frames if frames is not None else _encoded_frames(da, nbands, times),
        band_texts=texts,
        time=axis,
        georef=georef,
    )
    encode = parse_compression(compression, sample)
    if da is not None:
        names = (x_dim, y_dim, band_dim, *time_names, grid_mapping(da, source.pool)[0])
        attrs = None if source.pool is None else source.pool.attrs
        lost += dropped(da, attrs, kept=names, texts=(texts, described), sample=sample.name)
    report(lost, os.fspath(target), strict)
    return write_rumi(
        plan,
        source.load,
        target,
        encode=encode,
        progress=progress,
        max_workers=max_workers,
        storage_options=storage_options,
    )


# ---------------------------------------------------------------------------------------
# Input


def _source(obj: Any, dims: tuple[str, str, str, str], variable: Hashable | None) -> _Source:
    if isinstance(obj, xr.Dataset):
        return _from_dataarray(_pick_variable(obj, variable), dims, pool=obj)
    if variable is not None:
        raise ValueError("variable= selects a Dataset variable; obj is not a Dataset")
    if isinstance(obj, xr.DataArray):
        return _from_dataarray(obj, dims, pool=None)
    return _from_array(obj)


def _pick_variable(ds: xr.Dataset, variable: Hashable | None) -> xr.DataArray:
    if variable is not None:
        if variable not in ds.data_vars:
            raise ValueError(f"variable {variable!r} is not one of {list(ds.data_vars)}")
        return ds[variable]
    named: set[str] = set()  # time bounds, grid mappings and coordinates of other variables
    for var in ds.variables.values():
        for key in ("bounds", "grid_mapping", "coordinates"):
            value = var.attrs.get(key, var.encoding.get(key))
            named.update(str(value).replace(":", " ").split() if value else ())
    names = [n for n in ds.data_vars if n not in named and not is_grid_mapping(ds[n])]
    if len(names) != 1:
        raise ValueError(f"the Dataset holds data variables {names}; choose one with variable=")
    return ds[names[0]]


def _from_dataarray(
    da: xr.DataArray, dims: tuple[str, str, str, str], pool: xr.Dataset | None
) -> _Source:
    time_dim, band_dim, y_dim, x_dim = dims
    if len(set(dims)) != 4:
        raise ValueError(f"band_dim, time_dim, x_dim and y_dim must differ, got {dims}")
    unknown = [d for d in da.dims if d not in dims]
    if unknown or y_dim not in da.dims or x_dim not in da.dims:
        raise ValueError(
            f"cannot map the dims {da.dims} to ({time_dim}, {band_dim}, {y_dim}, {x_dim}): "
            f"{y_dim!r} and {x_dim!r} are required and {unknown} are unknown; rename with "
            "band_dim=/time_dim=/y_dim=/x_dim=, or drop extra dims with .isel()/.squeeze()"
        )
    var = da.variable
    missing = {d: 1 for d in (time_dim, band_dim) if d not in var.dims}
    var = var.set_dims({**missing, **var.sizes}).transpose(*dims)  # type: ignore[no-untyped-call]
    shape = cast("tuple[int, int, int, int]", tuple(int(n) for n in var.shape))

    def load(window: tuple[slice, slice, slice, slice]) -> np.ndarray:
        return np.asarray(var[window].values)

    return _Source(shape, da.dtype, load, da, pool)


def _from_array(obj: Any) -> _Source:
    arr = obj if hasattr(obj, "shape") and hasattr(obj, "dtype") else np.asarray(obj)
    ndim = len(arr.shape)
    if ndim not in (2, 3, 4):
        raise ValueError(f"an array must be (B, Y, X) or (T, B, Y, X); got shape {arr.shape}")
    lead = (1,) * (4 - ndim)

    def load(window: tuple[slice, slice, slice, slice]) -> np.ndarray:
        block = np.asarray(arr[window[4 - ndim :]])
        return block.reshape(lead + block.shape)

    shape = cast("tuple[int, int, int, int]", lead + tuple(int(n) for n in arr.shape))
    return _Source(shape, np.dtype(arr.dtype), load)


def _rumi_dtype(da: xr.DataArray | None) -> str | None:
    """``complex32`` for arrays the reader widened (``rumi_dtype`` attribute), else None."""
    return "complex32" if da is not None and da.attrs.get("rumi_dtype") == "complex32" else None


def _encoded_tile(da: xr.DataArray | None) -> int:
    """The square tile of the file ``da`` was read from, else 512."""
    tile = None if da is None else da.encoding.get("rumi_tile")
    if isinstance(tile, tuple | list) and len(tile) == 2 and tile[0] == tile[1]:
        return int(tile[0])
    return 512


def _encoded_frames(da: xr.DataArray | None, bands: int, times: int) -> int:
    """The frame unit of the file ``da`` was read from when it fits B and T, else 0 (band)."""
    unit = None if da is None else da.encoding.get("rumi_frame_unit")
    if not isinstance(unit, int) or isinstance(unit, bool) or not 0 <= unit <= 9:
        return 0
    try:
        return parse_frames(unit, bands, times)
    except ValueError:  # the file's unit does not fit these bands and steps
        return 0


# ---------------------------------------------------------------------------------------
# Time


def _time_axis(time: Any, source: _Source, time_dim: str) -> tuple[TimeAxis, tuple[str, ...]]:
    """The time axis, and the names of the coordinates it comes from (or replaces)."""
    da = source.array
    coord = None if da is None else da.coords.get(time_dim)
    end = f"{time_dim}_end"
    bounds_name = None if coord is None else coord.attrs.get("bounds", coord.encoding.get("bounds"))
    names = (time_dim, end) + ((str(bounds_name),) if bounds_name is not None else ())
    if time is not None:
        return parse_time(time), names
    if coord is None:
        raise ValueError(
            "rumi 0.25+ files record a time for every step, and none was found: pass "
            "time=[...] (one datetime per step, or one (start, end) pair per step)"
        )
    starts = np.atleast_1d(coord.values)
    ends = da.coords.get(end) if da is not None else None
    if ends is not None:
        pairs = np.stack([starts, np.atleast_1d(ends.transpose(*coord.dims).values)], axis=-1)
        return TimeAxis(TimeKind.INTERVAL, _seconds(pairs)), names
    if bounds_name is None:
        return TimeAxis(TimeKind.INSTANT, _seconds(starts)), names
    return TimeAxis(TimeKind.INTERVAL, _bounds(source, str(bounds_name), time_dim)), names


def _bounds(source: _Source, name: str, time_dim: str) -> np.ndarray:
    """``(T, 2)`` seconds of the CF bounds variable ``name`` (a coordinate or Dataset variable)."""
    da = source.array
    bounds = None if da is None else da.coords.get(name)
    if bounds is None and source.pool is not None:
        bounds = source.pool.get(name)
    if bounds is None:
        raise ValueError(
            f"the {time_dim!r} coordinate names bounds {name!r}, which the array lacks: "
            "write the Dataset (ds.rumi.to_rumi(path, variable=...)) or pass "
            "time=[(start, end), ...]"
        )
    if time_dim in bounds.dims:
        bounds = bounds.transpose(time_dim, ...)
    values = np.asarray(bounds.values)
    if values.size % 2:
        raise ValueError(f"time bounds {name!r} of shape {values.shape} are not (start, end) pairs")
    return _seconds(values.reshape(-1, 2))


def parse_time(time: Any) -> TimeAxis:
    """Instants or ``(start, end)`` intervals, as whole POSIX seconds (UTC)."""
    if hasattr(time, "to_numpy"):
        time = time.to_numpy()
    if isinstance(time, np.ndarray) and time.ndim == 0:
        time = time[()]
    if isinstance(time, str | dt.date | np.datetime64) or not hasattr(time, "__iter__"):
        time = [time]
    steps = list(time)
    if not steps:
        raise ValueError("time is empty; rumi records one instant or interval per step")
    pairs = [isinstance(s, tuple | list) or np.ndim(s) == 1 for s in steps]
    if not any(pairs):
        return TimeAxis(TimeKind.INSTANT, np.array([_instant(s) for s in steps], np.int64))
    if not all(pairs):
        raise ValueError("time mixes instants and (start, end) intervals")
    if any(len(s) != 2 for s in steps):
        raise ValueError("each time interval must be one (start, end) pair")
    seconds = [[_instant(start), _instant(end)] for start, end in steps]
    return TimeAxis(TimeKind.INTERVAL, np.array(seconds, np.int64))


def _instant(value: Any) -> int:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            value = np.datetime64(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    if not isinstance(value, np.datetime64 | dt.date):
        raise TypeError(f"time value {value!r} is not a datetime64, date, datetime or ISO string")
    return int(_seconds(np.array([np.datetime64(value)]))[0])


def _seconds(values: np.ndarray) -> np.ndarray:
    """Whole POSIX seconds of datetime64 values (any shape)."""
    if values.dtype.kind == "O":
        return np.array([_instant(v) for v in values.ravel()], np.int64).reshape(values.shape)
    if values.dtype.kind != "M":
        raise TypeError(f"time values must be datetime64, got {values.dtype}")
    if np.isnat(values).any():
        raise ValueError("a time value is NaT")
    seconds = values.astype("datetime64[s]")
    fractional = np.flatnonzero(seconds != values)
    if fractional.size:
        raise ValueError(
            f"time value {values.ravel()[fractional[0]]} has fractional seconds; "
            "rumi records whole seconds"
        )
    return seconds.astype(np.int64)
