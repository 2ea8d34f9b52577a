"""What ``to_rumi`` takes from xarray objects besides the samples, and what it must drop.

A rumi file records band texts, a time axis, an EPSG code with an affine transform and
PixelIsPoint (FORMAT §7, §9). :func:`band_texts` and :func:`object_georef` find them in the
conventions of this package's reader, CF grid mappings and rioxarray; :func:`dropped`
names everything else the input carries that no reader of the file would see again, and
:func:`report` warns about it (:class:`RumiDataLossWarning`) or, under ``strict=True``,
refuses to write (:class:`RumiDataLossError`).
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import RumiDataLossError, RumiDataLossWarning
from ..georef import Georef, crs_kind

if TYPE_CHECKING:
    from collections.abc import Hashable, Iterable, Mapping

    import xarray as xr


Transform = tuple[float, float, float, float, float, float]

NODATA = ("_FillValue", "missing_value", "fill_value", "nodata")
"""Attributes naming a nodata value (those rioxarray's ``rio.nodata`` reads)."""
ENCODED = ("_FillValue", "missing_value", "scale_factor", "add_offset")
"""Encoding entries that carry values (CF decoding applies them); a rumi file has none."""
STRUCTURAL = ("AREA_OR_POINT", "grid_mapping", "coordinates")
"""Attributes that the file records (PixelIsPoint) or that only name other variables."""
READER_ATTRS = ("rumi_generation",)
"""Dataset attributes this package's reader sets from the file itself."""
GRID_MAPPING_ATTRS = ("crs_wkt", "spatial_ref", "grid_mapping_name", "GeoTransform")
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def report(items: list[str], target: str, strict: bool) -> None:
    """Warn once naming every dropped item, or raise under ``strict``; nothing when none."""
    if not items:
        return
    what = f"{len(items)} item{'s' if len(items) > 1 else ''} of the input"
    listed = "; ".join(items)
    if strict:
        message = f"{target}: rumi files cannot hold {what}, so nothing was written (strict=True)"
        raise RumiDataLossError.of(f"{message}: {listed}", tuple(items))
    message = f"{target}: rumi files cannot hold {what}, written without them: {listed}"
    warning = RumiDataLossWarning.of(f"{message} (strict=True makes this an error)", tuple(items))
    warnings.warn(warning, stacklevel=2, skip_file_prefixes=(_PACKAGE,))


def show(value: Any, limit: int = 80) -> str:
    """A short repr of an attribute value: NumPy scalars and arrays as Python values."""
    if isinstance(value, np.generic | np.ndarray):
        value = value.tolist()
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------
# Band texts


def band_texts(
    bands: Any, da: xr.DataArray | None, band_dim: str, nbands: int
) -> tuple[tuple[str, ...], bool]:
    """The band texts and whether they are the array's ``long_name``.

    Explicit ``bands``; else a ``band`` coordinate of texts; else rioxarray's band
    descriptions (``long_name``, indexed by its 1-based band numbers); else numbers
    other than 1..N as texts; else ``"band 1"``, ``"band 2"``, ...
    """
    if bands is not None:
        values = [bands] if isinstance(bands, str | bytes) else list(bands)
        return tuple(_text(b, v) for b, v in enumerate(values)), False
    numbers = None
    if da is not None and band_dim in da.coords:
        values = np.atleast_1d(da.coords[band_dim].values).tolist()
        if all(isinstance(v, str | bytes) for v in values):
            return tuple(_text(b, v) for b, v in enumerate(values)), False
        numbers = values
    described = _described(da, numbers, nbands)
    if described is not None:
        return described, True
    if numbers is None or numbers == list(range(1, nbands + 1)):
        return tuple(f"band {b + 1}" for b in range(nbands)), False
    return tuple(_text(b, v) for b, v in enumerate(numbers)), False


def _described(
    da: xr.DataArray | None, numbers: list[Any] | None, nbands: int
) -> tuple[str, ...] | None:
    """rioxarray's band descriptions for these bands, when they can be band texts."""
    names = None if da is None else da.attrs.get("long_name")
    if isinstance(names, str):
        names = [names] if nbands == 1 else None
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) and n for n in names):
        return None
    if numbers is None:
        picked = list(names) if len(names) == nbands else None
    elif all(isinstance(v, int) and 1 <= v <= len(names) for v in numbers):
        picked = [names[v - 1] for v in numbers]
    else:
        picked = None
    return None if picked is None or len(set(picked)) != nbands else tuple(picked)


def _text(b: int, value: Any) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"band {b} text is not valid UTF-8") from None
    return value if isinstance(value, str) else str(value)


# ---------------------------------------------------------------------------------------
# Georeferencing


def grid_mapping(
    da: xr.DataArray, pool: Mapping[Hashable, xr.DataArray] | None
) -> tuple[Hashable | None, dict[Hashable, Any]]:
    """The grid-mapping variable's name and attributes, a coordinate or a Dataset variable.

    Its name comes from ``grid_mapping`` (encoding or attrs; default ``spatial_ref``,
    then ``crs``); it may have been read as a data variable (a Zarr store opened with
    default decoding).
    """
    named = da.encoding.get("grid_mapping", da.attrs.get("grid_mapping"))
    names = [str(named).split(":")[0].strip()] if named else ["spatial_ref", "crs"]
    for name in names:
        for where in (da.coords, pool):
            if where is not None and name in where:
                return name, dict(where[name].attrs)
    return None, {}


def is_grid_mapping(var: xr.DataArray) -> bool:
    """A 0-d variable with CF or GDAL grid-mapping attributes."""
    return var.ndim == 0 and any(name in var.attrs for name in GRID_MAPPING_ATTRS)


def object_georef(
    transform: Any,
    crs: Any,
    pixel_is_point: bool | None,
    da: xr.DataArray | None,
    pool: Mapping[Hashable, xr.DataArray] | None,
    dims: tuple[str, str],
) -> tuple[Georef, list[str]]:
    """The georeferencing to store and the items of it that cannot be stored.

    ``crs``/``transform`` given explicitly must be storable (``ValueError``). What the
    object says and the format cannot hold (a transform without a CRS, a CRS without an
    EPSG code, a CRS without a transform) is returned as dropped items.
    """
    point = bool(pixel_is_point) if pixel_is_point is not None else _area_or_point(da)
    epsg, problem = (parse_crs(crs), None) if crs is not None else _object_epsg(da, pool)
    if transform is not None:
        if epsg is None:
            raise ValueError("transform and crs must be given together: pass crs= as well")
        return Georef(parse_transform(transform), epsg, point), []
    found, uneven = _object_transform(da, pool, *dims)
    xy = "/".join(dims)
    if epsg is None:
        if problem is not None:
            lost = [problem]
        elif found is not None:
            lost = [f"transform {found} without a CRS"]
        else:
            lost = [f"coordinates {xy} (not evenly spaced, without a CRS)"] if uneven else []
        return Georef(None, None, point), lost
    if found is None:
        why = f"{xy} are not evenly spaced" if uneven else "no GeoTransform or x/y coordinates"
        if crs is not None:
            raise ValueError(
                f"transform and crs must be given together: the CRS is EPSG:{epsg} but no "
                "transform was given, and the array has no GeoTransform or evenly spaced x/y"
            )
        return Georef(None, None, point), [f"crs EPSG:{epsg} (no transform: {why})"]
    if point:
        a, b, c, d, e, f = found
        found = (a, b, c + (a + b) / 2, d, e, f + (d + e) / 2)
    return Georef(found, epsg, point), []


def _area_or_point(da: xr.DataArray | None) -> bool:
    return da is not None and str(da.attrs.get("AREA_OR_POINT", "Area")).lower() == "point"


def parse_crs(crs: Any) -> int:
    """The EPSG code of an int, an ``"EPSG:n"``/WKT string or an object with ``to_epsg()``."""
    code, why = _crs_code(crs)
    if code is None:
        raise ValueError(f"crs {crs!r} has {why}; rumi records a CRS as an EPSG code")
    if crs_kind(code) == "other":
        raise ValueError(f"EPSG:{code} is not a projected or geographic CRS")
    return code


def _crs_code(crs: Any) -> tuple[int | None, str]:
    """The EPSG code of a CRS, or ``None`` and what it has instead."""
    import pyproj

    if isinstance(crs, int | np.integer) and not isinstance(crs, bool):
        return int(crs), ""
    if hasattr(crs, "to_epsg"):
        return crs.to_epsg(), "no EPSG code"
    if not isinstance(crs, str):
        raise TypeError(f"crs must be an EPSG code, a string or a CRS object, got {crs!r}")
    try:
        return pyproj.CRS.from_user_input(crs).to_epsg(), "no EPSG code"
    except pyproj.exceptions.CRSError as exc:
        return None, f"no CRS pyproj knows ({exc})"


def _proj4(crs: Any) -> str:
    """A CRS as a PROJ string, short enough for a message (else as given)."""
    import pyproj

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "You will likely lose important projection ..."
            return pyproj.CRS.from_user_input(crs).to_proj4().removesuffix(" +type=crs")
    except pyproj.exceptions.CRSError:
        return str(crs)


def parse_transform(transform: Any) -> Transform:
    """Six affine coefficients in rasterio order from 6 values or a 9-value affine."""
    values = tuple(float(v) for v in transform)
    if len(values) == 9:
        if values[6:] != (0.0, 0.0, 1.0):
            raise ValueError(f"a 9-value transform must end with (0, 0, 1), got {values[6:]}")
        values = values[:6]
    if len(values) != 6:
        raise ValueError(f"transform needs 6 affine coefficients (a, b, c, d, e, f), got {values}")
    return values


def _object_epsg(
    da: xr.DataArray | None, pool: Mapping[Hashable, xr.DataArray] | None
) -> tuple[int | None, str | None]:
    """The object's EPSG code, or ``None`` and the dropped item when it cannot be stored."""
    if da is None:
        return None, None
    attrs = grid_mapping(da, pool)[1]
    found: Any = attrs.get("spatial_ref") or attrs.get("crs_wkt")
    if not found:
        rio = _rio(da)
        found = None if rio is None else _rio_call(lambda: rio.crs)
        if found is None:
            return None, None
    code, why = _crs_code(str(found) if isinstance(found, str | bytes) else found)
    if code is None:
        return None, f"crs {_proj4(found)!r} ({why})"
    if crs_kind(code) == "other":
        return None, f"crs EPSG:{code} (not a projected or geographic CRS)"
    return code, None


def _object_transform(
    da: xr.DataArray | None,
    pool: Mapping[Hashable, xr.DataArray] | None,
    x_dim: str,
    y_dim: str,
) -> tuple[Transform | None, bool]:
    """Corner transform from the x/y coordinates, else ``GeoTransform``, else rioxarray.

    Returns the transform (``None`` for none, or rioxarray's identity placeholder) and
    whether 1-D x/y coordinates exist but are not evenly spaced.
    """
    if da is None:
        return None, False
    stored = _geotransform(grid_mapping(da, pool)[1].get("GeoTransform"))
    spaced, uneven = _coords_transform(da, x_dim, y_dim)
    if spaced is not None and (stored is None or not _same_grid(stored, spaced)):
        return (None if _identity(spaced) else spaced), False
    if stored is not None:
        return (None if _identity(stored) else stored), False
    if uneven:
        return None, True
    rio = _rio(da)
    found = None if rio is None else _rio_call(lambda: rio.transform())
    if found is None or found.is_identity:
        return None, False
    return tuple(found)[:6], False


def _geotransform(text: Any) -> Transform | None:
    """GDAL's ``GeoTransform`` ("c a b f d e") in rasterio order; None if absent or malformed."""
    try:
        c, a, b, f, d, e = (float(v) for v in str(text).split())
    except ValueError:
        return None
    return a, b, c, d, e, f


def _identity(transform: Transform) -> bool:
    """rioxarray's placeholder for ungeoreferenced rasters (pixel indices)."""
    return transform == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def _coords_transform(da: xr.DataArray, x_dim: str, y_dim: str) -> tuple[Transform | None, bool]:
    """The corner transform of evenly spaced 1-D pixel-centre coordinates (2+ each), and
    whether such coordinates exist but are not evenly spaced."""
    if x_dim not in da.coords or y_dim not in da.coords:
        return None, False
    x, y = (np.asarray(da.coords[d].values, np.float64) for d in (x_dim, y_dim))
    if x.ndim != 1 or y.ndim != 1 or x.size < 2 or y.size < 2:
        return None, False
    a, e = (x[-1] - x[0]) / (x.size - 1), (y[-1] - y[0]) / (y.size - 1)
    for step, diffs in ((a, np.diff(x)), (e, np.diff(y))):
        if step == 0 or np.abs(diffs - step).max() > 1e-6 * abs(step):
            return None, True
    return (float(a), 0.0, float(x[0] - a / 2), 0.0, float(e), float(y[0] - e / 2)), False


def _same_grid(stored: Transform, spaced: Transform) -> bool:
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


# ---------------------------------------------------------------------------------------
# What else the input carries


def dropped(
    da: xr.DataArray,
    dataset_attrs: Mapping[Hashable, Any] | None,
    *,
    kept: Iterable[Hashable],
    texts: tuple[tuple[str, ...], bool],
    sample: str,
) -> list[str]:
    """Attributes, encoded values and coordinates that the written file will not give back.

    ``kept`` are the coordinates the file records (x, y, band, time, ...), ``texts`` the
    band texts written and whether they are the ``long_name`` attribute, ``sample`` the
    rumi type written.
    """
    items = [
        item
        for name, value in da.attrs.items()
        if (item := _attr_item(str(name), value, da.dtype, texts, sample)) is not None
    ]
    name: Hashable
    for name in ENCODED:
        value = da.encoding.get(name)
        if value is not None and not _nan_fill(name, value, da.dtype):
            where = "nodata, in the encoding" if name in NODATA else "in the encoding"
            items.append(f"{name}={show(value)} ({where})")
    kept = set(kept)
    for name, coord in da.coords.items():
        if name not in kept:
            sizes = ", ".join(f"{d}: {n}" for d, n in coord.sizes.items())
            shown = f" ({sizes})" if sizes else f"={show(coord.values)}"
            items.append(f"coordinate {name}{shown}")
    for name, value in (dataset_attrs or {}).items():
        if name not in READER_ATTRS:
            items.append(f"Dataset attribute {name}={show(value)}")
    return items


def _attr_item(
    name: str, value: Any, dtype: np.dtype, texts: tuple[tuple[str, ...], bool], sample: str
) -> str | None:
    """The dropped item an attribute makes, or None when the file gives it back."""
    if name in STRUCTURAL or _nan_fill(name, value, dtype):
        return None
    if name == "long_name" and (texts[1] or _same_texts(value, texts[0])):
        return None
    if name == "rumi_dtype":
        return None if value == sample else f"rumi_dtype={show(value)} (written as {sample})"
    return f"{name}={show(value)}" + (" (nodata)" if name in NODATA else "")


def _same_texts(value: Any, texts: tuple[str, ...]) -> bool:
    """Whether ``long_name`` holds the band texts written: all of them, or those of the
    bands selected from it (``isel(band=...)`` keeps the whole tuple, as in rioxarray)."""
    if isinstance(value, str):
        return (value,) == texts
    return isinstance(value, list | tuple) and set(texts) <= {str(v) for v in value}


def _nan_fill(name: str, value: Any, dtype: np.dtype) -> bool:
    """A NaN fill value of floating-point samples: the samples keep it."""
    if name not in NODATA or dtype.kind not in "fc":
        return False
    try:
        return bool(np.isnan(value))
    except TypeError:
        return False
