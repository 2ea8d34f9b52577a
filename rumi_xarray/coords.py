"""Coordinates and CF/rioxarray attributes of a described file: x, y, band, time, spatial_ref."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .crs import check_crs, spatial_ref_attrs
from .georef import Georef
from .spec import TimeKind

CF_TIME_UNITS = "seconds since 1970-01-01"
"""The one CF epoch every encoded ``time`` uses (files, stacks, references, mosaics), so
that encoded times of different files compare and stack (``decode_times=False``,
kerchunk ``MultiZarrToZarr``)."""
CF_CALENDAR = "proleptic_gregorian"
CF_TIME_ENCODING = {"units": CF_TIME_UNITS, "calendar": CF_CALENDAR, "dtype": "int64"}
"""The encoding of every datetime coordinate written to Zarr or netCDF."""
TIME_END_ATTRS = {"long_name": "end of time interval"}
"""Attributes of ``time_end``, the interval ends carried along ``time``."""
IDENTITY: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
"""GDAL's transform of a raster without georeferencing."""

if TYPE_CHECKING:
    import xarray as xr

    from .format import RumiFile


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


def centre_transform(georef: Georef) -> tuple[float, ...]:
    """The transform of pixel centres, computed as rioxarray does (``affine * translation(0.5, 0.5)``).

    PixelIsPoint transforms already map centres; an undefined georeferencing is GDAL's
    identity, as rasterio reports for a raster without one.
    """
    if georef.transform is None:
        a, b, c, d, e, f = IDENTITY
    elif georef.pixel_is_point:
        return georef.transform
    else:
        a, b, c, d, e, f = georef.transform
    return a, b, a * 0.5 + b * 0.5 + c, d, e, d * 0.5 + e * 0.5 + f


def coordinate(
    dims: str | tuple[str, ...],
    values: Any,
    attrs: dict[str, Any] | None = None,
    encoding: dict[str, Any] | None = None,
) -> xr.Variable:
    """A Variable of values built here (numbers, datetime64, str objects), made as
    xarray's own decoders make theirs (``fastpath=True``): no pandas round trip that
    would give datetime64 and object values back unchanged, at ~40 us a variable."""
    import xarray as xr

    return xr.Variable(dims, np.asarray(values), attrs, encoding, fastpath=True)


def spatial_coords(georef: Georef, length: int, width: int) -> dict[str, xr.Variable]:
    """``spatial_ref`` and pixel-centre coordinates, as rioxarray's ``engine="rasterio"``.

    ``x``/``y`` when the transform has no rotation or shear, else 2-D ``xc``/``yc`` on
    ``(y, x)``. Without georeferencing: ``x``/``y`` 0.5, 1.5, ... and a ``spatial_ref``
    holding only the identity ``GeoTransform``. The CRS is checked here, with PROJ
    (:func:`rumi_xarray.crs.check_crs`): a :class:`~rumi_xarray.errors.RumiFormatError`
    for a code not in the registry or not of the kind the file's GTModelType says.
    """
    corner = corner_transform(georef)
    if corner is None or georef.epsg is None:
        georef = Georef(None, None)
        ref_attrs = spatial_ref_attrs(None, IDENTITY)
        x_attrs: dict[str, str] = {}
        y_attrs: dict[str, str] = {}
    else:
        kind = check_crs(georef.epsg, georef.model)
        ref_attrs = spatial_ref_attrs(georef.epsg, corner)
        x_attrs, y_attrs = _axis_attrs("x", kind), _axis_attrs("y", kind)
    a, b, c, d, e, f = centre_transform(georef)
    coords = {"spatial_ref": coordinate((), np.int64(0), ref_attrs)}
    if b == 0 and d == 0:
        coords["x"] = coordinate("x", np.arange(width) * a + c, x_attrs)
        coords["y"] = coordinate("y", np.arange(length) * e + f, y_attrs)
        return coords
    cols, rows = np.meshgrid(np.arange(width), np.arange(length))
    coords["xc"] = coordinate(("y", "x"), cols * a + rows * b + c)
    coords["yc"] = coordinate(("y", "x"), cols * d + rows * e + f)
    return coords


def file_coords(desc: RumiFile) -> dict[str, xr.Variable]:
    """Every coordinate but ``band``: x, y, spatial_ref, time, time_end, time_bounds."""
    return {**spatial_coords(desc.georef, desc.grid.length, desc.grid.width), **time_coords(desc)}


def _axis_attrs(axis: str, kind: str) -> dict[str, str]:
    """CF attributes of the ``x`` or ``y`` axis of a ``"projected"`` or ``"geographic"`` CRS."""
    if kind == "geographic":
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
    if desc.band_texts is not None:
        return coordinate("band", np.array(desc.band_texts, dtype=object), {"long_name": "band"})
    return coordinate("band", np.arange(1, desc.grid.bands + 1), {"long_name": "band number"})


def time_coords(desc: RumiFile) -> dict[str, xr.Variable]:
    """``time`` (instants, or interval starts); for intervals ``time_end`` and CF ``time_bounds``.

    A single step becomes a scalar coordinate, so that a file stays ``(band, y, x)``.
    ``time_end`` has the dims of ``time``, so that a DataArray (which drops the
    ``(time, bnds)`` bounds) keeps the interval ends and writes them back; with
    ``chunks={}`` it is chunked along ``time`` as the data are.
    """
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
        coords["time_bounds"] = coordinate((*dims, "bnds"), bounds[0] if scalar else bounds)
        ends = bounds[:, 1]
        chunks = {} if scalar else {"preferred_chunks": {"time": desc.grid.chunk_shape[0]}}
        coords["time_end"] = coordinate(dims, ends[0] if scalar else ends, TIME_END_ATTRS, chunks)
    coords["time"] = coordinate(dims, starts[0] if scalar else starts, attrs)
    return coords


def encoded_time(var: xr.Variable) -> xr.Variable:
    """A datetime64 variable as CF numbers: int64 seconds since :data:`CF_TIME_UNITS`."""
    import xarray as xr

    attrs = {**var.attrs, "units": CF_TIME_UNITS, "calendar": CF_CALENDAR}
    return xr.Variable(var.dims, cf_seconds(var.values), attrs, var.encoding)


def cf_seconds(values: Any) -> np.ndarray:
    """datetime64 values as the int64 numbers of :data:`CF_TIME_UNITS`."""
    return np.asarray(values).astype("datetime64[s]").astype(np.int64)


def cf_times(
    coords: Mapping[str, xr.Variable], decode_times: Any = True, use_cftime: Any = None
) -> dict[str, xr.Variable]:
    """Every datetime64 coordinate as xarray's ``decode_times``/``use_cftime`` ask.

    ``decode_times=False`` gives :func:`encoded_time`; ``True`` (with ``use_cftime``
    unset) keeps datetime64; a ``CFDatetimeCoder`` or ``use_cftime`` decodes the encoded
    numbers through xarray itself (cftime objects, xarray's warnings and errors). Both
    may be mappings of coordinate name to value, as in ``xr.open_dataset``.
    """
    from xarray.conventions import decode_cf_variable

    out = dict(coords)
    for name, var in coords.items():
        if var.dtype.kind != "M":
            continue
        decode = decode_times.get(name, True) if isinstance(decode_times, Mapping) else decode_times
        cftime = use_cftime.get(name) if isinstance(use_cftime, Mapping) else use_cftime
        if not decode:
            out[name] = encoded_time(var)
        elif cftime is not None or not isinstance(decode, bool):
            out[name] = decode_cf_variable(
                name,
                encoded_time(var),
                concat_characters=False,
                mask_and_scale=False,
                decode_times=decode,
                decode_endianness=False,
                stack_char_dim=False,
                use_cftime=cftime,
                decode_timedelta=False,
            )
    return out
