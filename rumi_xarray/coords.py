"""Coordinates and CF/rioxarray attributes of a described file: x, y, band, time, spatial_ref."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .spec import TimeKind

CF_TIME_UNITS = "seconds since 1970-01-01"
"""The one CF epoch every encoded ``time`` uses (files, stacks, references, mosaics), so
that encoded times of different files compare and stack (``decode_times=False``,
kerchunk ``MultiZarrToZarr``)."""
CF_CALENDAR = "proleptic_gregorian"

if TYPE_CHECKING:
    import xarray as xr

    from .format import RumiFile
    from .georef import Georef


def area_or_point(georef: Georef) -> str:
    """GDAL's ``AREA_OR_POINT`` for a georeferencing: ``"Point"`` or ``"Area"``."""
    return "Point" if georef.pixel_is_point else "Area"


def corner_transform(georef: Georef) -> tuple[float, ...] | None:
    """The transform of pixel corners (GDAL's convention), shifting PixelIsPoint by half a pixel."""
    if georef.transform is None:
        return None
    a, b, c, d, e, f = georef.transform
    if georef.pixel_is_point:
        c, f = c - (a + b) / 2, f - (d + e) / 2
    return a, b, c, d, e, f


def spatial_coords(georef: Georef, length: int, width: int) -> dict[str, xr.Variable]:
    """``x``/``y`` at pixel centres (when the transform has no rotation) and ``spatial_ref``."""
    import xarray as xr

    transform = corner_transform(georef)
    if transform is None or georef.epsg is None:
        return {}
    a, b, c, d, e, f = transform
    coords: dict[str, xr.Variable] = {
        "spatial_ref": xr.Variable((), np.int64(0), spatial_ref_attrs(georef.epsg, transform))
    }
    if b == 0 and d == 0:
        x = c + a * (np.arange(width) + 0.5)
        y = f + e * (np.arange(length) + 0.5)
        coords["x"] = xr.Variable("x", x, _axis_attrs("x", georef.epsg))
        coords["y"] = xr.Variable("y", y, _axis_attrs("y", georef.epsg))
    return coords


def file_coords(desc: RumiFile) -> dict[str, xr.Variable]:
    """Every coordinate but ``band``: x, y, spatial_ref, time, time_end, time_bounds."""
    return {**spatial_coords(desc.georef, desc.grid.length, desc.grid.width), **time_coords(desc)}


def spatial_ref_attrs(epsg: int, transform: tuple[float, ...]) -> dict[str, Any]:
    """CF grid-mapping attributes plus the ``crs_wkt``/``spatial_ref``/``GeoTransform`` GDAL reads."""
    import pyproj

    crs = pyproj.CRS.from_epsg(epsg)
    wkt = crs.to_wkt()
    a, b, c, d, e, f = transform
    attrs = crs.to_cf()
    attrs.update(
        crs_wkt=wkt,
        spatial_ref=wkt,
        GeoTransform=" ".join(repr(float(v)) for v in (c, a, b, f, d, e)),
    )
    return attrs


def _axis_attrs(axis: str, epsg: int) -> dict[str, str]:
    from .georef import crs_kind

    if crs_kind(epsg) == "geographic":
        name, units = (
            ("longitude", "degrees_east") if axis == "x" else ("latitude", "degrees_north")
        )
        return {"axis": axis.upper(), "standard_name": name, "long_name": name, "units": units}
    name = "projection_x_coordinate" if axis == "x" else "projection_y_coordinate"
    return {
        "axis": axis.upper(),
        "standard_name": name,
        "long_name": f"{axis} coordinate of projection",
        "units": "metre",
    }


def band_coord(desc: RumiFile) -> xr.Variable:
    """Band texts, or 1-based band numbers where the generation stores none."""
    import xarray as xr

    if desc.band_texts is not None:
        return xr.Variable("band", np.array(desc.band_texts, dtype=object), {"long_name": "band"})
    return xr.Variable("band", np.arange(1, desc.grid.bands + 1), {"long_name": "band number"})


def time_coords(desc: RumiFile) -> dict[str, xr.Variable]:
    """``time`` (instants, or interval starts); for intervals ``time_end`` and CF ``time_bounds``.

    A single step becomes a scalar coordinate, so that a file stays ``(band, y, x)``.
    ``time_end`` has the dims of ``time``, so that a DataArray (which drops the
    ``(time, bnds)`` bounds) keeps the interval ends and writes them back; with
    ``chunks={}`` it is chunked along ``time`` as the data are.
    """
    import xarray as xr

    if desc.time is None:
        return {}
    scalar = desc.grid.times == 1
    dims: tuple[str, ...] = () if scalar else ("time",)
    starts = desc.time.starts.astype("datetime64[s]")
    attrs = {"standard_name": "time", "long_name": "time"}
    coords = {}
    if desc.time.kind == TimeKind.INTERVAL:
        attrs["bounds"] = "time_bounds"
        bounds = desc.time.seconds.astype("datetime64[s]")
        coords["time_bounds"] = xr.Variable((*dims, "bnds"), bounds[0] if scalar else bounds)
        ends = bounds[:, 1]
        end_attrs = {"long_name": "end of time interval"}
        chunks = {} if scalar else {"preferred_chunks": {"time": desc.grid.chunk_shape[0]}}
        coords["time_end"] = xr.Variable(dims, ends[0] if scalar else ends, end_attrs, chunks)
    coords["time"] = xr.Variable(dims, starts[0] if scalar else starts, attrs)
    return coords
