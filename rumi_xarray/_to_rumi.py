"""``rumi_xarray.to_rumi``: write a DataArray, a Dataset variable or an array as a rumi 0.26.1 file.

This module turns xarray objects and arrays into what :mod:`rumi_xarray.writer` needs:
a ``(T, B, L, W)`` loader, band texts, a time axis and the georeferencing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from rumi_codec._core import DEFAULT_RECIPE

from .georef import Georef, crs_kind
from .spec import TimeKind
from .trailer import TimeAxis
from .writer import parse_compression, plan_write, sample_type, write_rumi

if TYPE_CHECKING:
    import os
    from collections.abc import Hashable, Mapping

    from .writer import Loader

__all__ = ["to_rumi"]


@dataclass(frozen=True, slots=True, eq=False)
class _Source:
    """The input seen as ``(T, B, L, W)``, with the xarray objects its metadata comes from."""

    shape: tuple[int, int, int, int]
    dtype: np.dtype
    load: Loader
    array: xr.DataArray | None = None
    pool: Mapping[Hashable, xr.DataArray] | None = None
    """Where a time bounds variable named by ``time.attrs["bounds"]`` is looked up."""


def to_rumi(
    obj: Any,
    target: str | os.PathLike[str],
    *,
    tile: int = 512,
    frames: str | int = "band",
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
) -> bytes:
    """Write ``obj`` as a rumi 0.26.1 file at ``target`` and return its header blob.

    Everything is validated before a byte is written (``ValueError``/``TypeError``); the
    file appears at ``target`` only once complete, and nothing is left behind on failure.

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
        Square tile size, 1..65535; edge tiles are clipped.
    frames
        What one frame holds (§5 of the format)::

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
        One text per band; default the ``band`` coordinate (numbers become strings),
        else ``"band 1"``, ``"band 2"``, ...
    time
        One instant per step, or one ``(start, end)`` pair per step: datetime64, ISO
        strings, dates or datetimes (aware ones are converted to UTC), in whole
        seconds. Default the ``time`` coordinate, with intervals from the CF bounds
        variable its ``bounds`` attribute names. Required: rumi 0.25+ records a time.
    transform, crs
        Given together: six affine coefficients ``(a, b, c, d, e, f)`` in rasterio
        order (or a 9-value affine ending 0, 0, 1), stored as given; and an EPSG code,
        an ``"EPSG:32633"``-like string, WKT or an object with ``to_epsg()``. Default:
        the ``spatial_ref`` coordinate's ``crs_wkt``/``spatial_ref`` and the x/y
        coordinates or its ``GeoTransform``, else rioxarray's ``rio.crs`` and
        ``rio.transform()`` when rioxarray is installed. No CRS writes the undefined
        georeferencing.
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

    Returns
    -------
    bytes
        The canonical external header blob (``rumi.read(path, blob)``,
        ``xr.open_dataset(path, engine="rumi", header=blob)``).
    """
    dims = (time_dim, band_dim, y_dim, x_dim)
    source = _source(obj, dims, variable)
    attrs = source.array.attrs if source.array is not None else {}
    sample = sample_type(source.dtype, dtype if dtype is not None else _rumi_dtype(attrs))
    nbands = source.shape[1]
    plan = plan_write(
        shape=source.shape,
        sample=sample,
        tile=tile,
        frames=frames,
        band_texts=_band_texts(bands, source.array, band_dim, nbands),
        time=_time_axis(time, source, time_dim),
        georef=_georef(transform, crs, pixel_is_point, source.array, x_dim, y_dim),
    )
    encode = parse_compression(compression, sample)
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
    bounds = {v.attrs.get("bounds") for v in ds.variables.values()}
    names = [name for name in ds.data_vars if name not in bounds]
    if len(names) != 1:
        raise ValueError(f"the Dataset holds data variables {names}; choose one with variable=")
    return ds[names[0]]


def _from_dataarray(
    da: xr.DataArray, dims: tuple[str, str, str, str], pool: Mapping[Hashable, xr.DataArray] | None
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
    var = var.set_dims({**missing, **var.sizes}).transpose(*dims)
    shape = tuple(int(n) for n in var.shape)

    def load(window: tuple[slice, slice, slice, slice]) -> np.ndarray:
        return np.asarray(var[window].values)

    return _Source(shape, da.dtype, load, da, pool)  # type: ignore[arg-type]


def _from_array(obj: Any) -> _Source:
    arr = obj if hasattr(obj, "shape") and hasattr(obj, "dtype") else np.asarray(obj)
    ndim = len(arr.shape)
    if ndim not in (2, 3, 4):
        raise ValueError(f"an array must be (B, Y, X) or (T, B, Y, X); got shape {arr.shape}")
    lead = (1,) * (4 - ndim)

    def load(window: tuple[slice, slice, slice, slice]) -> np.ndarray:
        block = np.asarray(arr[window[4 - ndim :]])
        return block.reshape(lead + block.shape)

    shape = lead + tuple(int(n) for n in arr.shape)
    return _Source(shape, np.dtype(arr.dtype), load)  # type: ignore[arg-type]


def _rumi_dtype(attrs: Mapping[Hashable, Any]) -> str | None:
    """``complex32`` for arrays the reader widened (``rumi_dtype`` attribute), else None."""
    return "complex32" if attrs.get("rumi_dtype") == "complex32" else None


# ---------------------------------------------------------------------------------------
# Band texts and time


def _band_texts(bands: Any, da: xr.DataArray | None, band_dim: str, nbands: int) -> tuple[str, ...]:
    if bands is not None:
        values = [bands] if isinstance(bands, str | bytes) else list(bands)
    elif da is not None and band_dim in da.coords:
        values = np.atleast_1d(da.coords[band_dim].values).tolist()
    else:
        return tuple(f"band {b + 1}" for b in range(nbands))
    return tuple(_text(b, v) for b, v in enumerate(values))


def _text(b: int, value: Any) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"band {b} text is not valid UTF-8") from None
    return value if isinstance(value, str) else str(value)


def _time_axis(time: Any, source: _Source, time_dim: str) -> TimeAxis:
    if time is not None:
        return parse_time(time)
    da = source.array
    if da is None or time_dim not in da.coords:
        raise ValueError(
            "rumi 0.25+ files record a time for every step, and none was found: pass "
            "time=[...] (one datetime per step, or one (start, end) pair per step)"
        )
    coord = da.coords[time_dim]
    name = coord.attrs.get("bounds", coord.encoding.get("bounds"))
    if name is None:
        return TimeAxis(TimeKind.INSTANT, _seconds(np.atleast_1d(coord.values)))
    bounds = da.coords.get(name)
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
    return TimeAxis(TimeKind.INTERVAL, _seconds(values.reshape(-1, 2)))


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


# ---------------------------------------------------------------------------------------
# Georeferencing


def _georef(
    transform: Any,
    crs: Any,
    pixel_is_point: bool | None,
    da: xr.DataArray | None,
    x_dim: str,
    y_dim: str,
) -> Georef:
    point = bool(pixel_is_point) if pixel_is_point is not None else _area_or_point(da)
    epsg = parse_crs(crs) if crs is not None else _object_epsg(da)
    if transform is not None:
        if epsg is None:
            raise ValueError("transform and crs must be given together: pass crs= as well")
        return Georef(parse_transform(transform), epsg, point)
    if epsg is None:
        return Georef(None, None, point)
    found = _object_transform(da, x_dim, y_dim)
    if found is None:
        raise ValueError(
            f"transform and crs must be given together: the CRS is EPSG:{epsg} but no "
            "transform was given, and the array has no GeoTransform or evenly spaced x/y"
        )
    if point:
        a, b, c, d, e, f = found
        found = (a, b, c + (a + b) / 2, d, e, f + (d + e) / 2)
    return Georef(found, epsg, point)


def _area_or_point(da: xr.DataArray | None) -> bool:
    return da is not None and str(da.attrs.get("AREA_OR_POINT", "Area")).lower() == "point"


def parse_crs(crs: Any) -> int:
    """The EPSG code of an int, an ``"EPSG:n"``/WKT string or an object with ``to_epsg()``."""
    import pyproj

    if isinstance(crs, bool):
        raise TypeError(f"crs must be an EPSG code, a string or a CRS object, got {crs!r}")
    if isinstance(crs, int | np.integer):
        code: int | None = int(crs)
    elif hasattr(crs, "to_epsg"):
        code = crs.to_epsg()
    elif isinstance(crs, str):
        try:
            code = pyproj.CRS.from_user_input(crs).to_epsg()
        except pyproj.exceptions.CRSError as exc:
            raise ValueError(f"crs {crs!r} is not a CRS pyproj knows: {exc}") from None
    else:
        raise TypeError(f"crs must be an EPSG code, a string or a CRS object, got {crs!r}")
    if code is None:
        raise ValueError(f"crs {crs!r} has no EPSG code; rumi records a CRS as an EPSG code")
    if crs_kind(code) == "other":
        raise ValueError(f"EPSG:{code} is not a projected or geographic CRS")
    return code


def parse_transform(transform: Any) -> tuple[float, float, float, float, float, float]:
    """Six affine coefficients in rasterio order from 6 values or a 9-value affine."""
    values = tuple(float(v) for v in transform)
    if len(values) == 9:
        if values[6:] != (0.0, 0.0, 1.0):
            raise ValueError(f"a 9-value transform must end with (0, 0, 1), got {values[6:]}")
        values = values[:6]
    if len(values) != 6:
        raise ValueError(f"transform needs 6 affine coefficients (a, b, c, d, e, f), got {values}")
    return values  # type: ignore[return-value]


def _grid_mapping(da: xr.DataArray) -> dict[Hashable, Any]:
    name = da.encoding.get("grid_mapping", da.attrs.get("grid_mapping", "spatial_ref"))
    return dict(da.coords[name].attrs) if name in da.coords else {}


def _object_epsg(da: xr.DataArray | None) -> int | None:
    if da is None:
        return None
    attrs = _grid_mapping(da)
    wkt = attrs.get("spatial_ref") or attrs.get("crs_wkt")
    if wkt:
        return parse_crs(str(wkt))
    rio = _rio(da)
    found = None if rio is None else _rio_call(lambda: rio.crs)
    return None if found is None else parse_crs(found)


def _object_transform(da: xr.DataArray | None, x_dim: str, y_dim: str) -> tuple | None:
    """Corner transform from the x/y coordinates, else ``GeoTransform``, else rioxarray."""
    if da is None:
        return None
    text = _grid_mapping(da).get("GeoTransform")
    stored = None
    if text is not None:
        c, a, b, f, d, e = (float(v) for v in str(text).split())
        stored = (a, b, c, d, e, f)
    spaced = _coords_transform(da, x_dim, y_dim)
    if spaced is not None and (stored is None or not _same_grid(stored, spaced)):
        return spaced
    if stored is not None:
        return stored
    rio = _rio(da)
    found = None if rio is None else _rio_call(lambda: rio.transform())
    return None if found is None or found.is_identity else tuple(found)[:6]


def _coords_transform(da: xr.DataArray, x_dim: str, y_dim: str) -> tuple | None:
    """The corner transform of evenly spaced 1-D pixel-centre coordinates (2+ each)."""
    if x_dim not in da.coords or y_dim not in da.coords:
        return None
    x, y = (np.asarray(da.coords[d].values, np.float64) for d in (x_dim, y_dim))
    if x.ndim != 1 or y.ndim != 1 or x.size < 2 or y.size < 2:
        return None
    a, e = (x[-1] - x[0]) / (x.size - 1), (y[-1] - y[0]) / (y.size - 1)
    for step, diffs in ((a, np.diff(x)), (e, np.diff(y))):
        if step == 0 or np.abs(diffs - step).max() > 1e-6 * abs(step):
            return None
    return float(a), 0.0, float(x[0] - a / 2), 0.0, float(e), float(y[0] - e / 2)


def _same_grid(stored: tuple, spaced: tuple) -> bool:
    """Whether a stored GeoTransform still describes the coordinates (it is not stale)."""
    if stored[1] or stored[3]:
        return True  # rotated: coordinates cannot describe it
    tolerance = 1e-6 * max(abs(spaced[0]), abs(spaced[4]))
    return all(abs(s - c) <= tolerance for s, c in zip(stored, spaced, strict=True))


def _rio(da: xr.DataArray) -> Any:
    """rioxarray's accessor when rioxarray is installed, else None."""
    try:
        import rioxarray  # noqa: F401  (registers .rio)
    except ImportError:
        return None
    return da.rio


def _rio_call(get: Any) -> Any:
    from rioxarray.exceptions import RioXarrayError

    try:
        return get()
    except RioXarrayError:
        return None
