"""Coordinate reference systems: a rumi file names its CRS by EPSG code (FORMAT §7).

This is the one module that asks PROJ (through pyproj, imported on first use) about a
code, and it asks once per code: a code's CRS, kind, name and CF/WKT attributes are
cached, so that opening many files of one CRS runs no pyproj after the first. Parsing a
file checks only the code's form (:func:`check_epsg`); whether the code is in the
registry, and is the projected or geographic CRS the file's GTModelType says, is
checked when coordinates are built (:func:`check_crs`). Here too: the CF/WKT
attributes of ``spatial_ref``, a CRS's name, the ``"EPSG:<code>"`` text of catalogs and
stacks, and the EPSG code of what a writer is given (:func:`parse_crs`).
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import RumiFormatError

if TYPE_CHECKING:
    import pyproj

    from .spec import ModelType

EPSG_RANGE = (1024, 32766)
"""The EPSG codes a rumi file may hold (GeoTIFF's user-defined and reserved ones excluded)."""


def check_epsg(epsg: int) -> None:
    """Check the form of an EPSG code (its range), without asking PROJ."""
    if not EPSG_RANGE[0] <= epsg <= EPSG_RANGE[1]:
        msg = f"EPSG code {epsg} is outside the {EPSG_RANGE[0]} to {EPSG_RANGE[1]} rumi accepts"
        raise RumiFormatError.invalid("EPSG", msg, expected=EPSG_RANGE, found=epsg)


@lru_cache(maxsize=512)
def _registered(epsg: int) -> pyproj.CRS:
    """The registry's CRS of a code of the right form, or a :class:`RumiFormatError`."""
    import pyproj

    check_epsg(epsg)
    try:
        return pyproj.CRS.from_epsg(epsg)
    except pyproj.exceptions.CRSError:
        msg = f"EPSG code {epsg} is not in the registry"
        raise RumiFormatError.invalid("EPSG", msg, expected="in the registry", found=epsg) from None


@lru_cache(maxsize=512)
def crs_kind(epsg: int) -> str:
    """``"projected"``, ``"geographic"`` or ``"other"`` for an EPSG code; raises if unknown."""
    crs = _registered(epsg)
    if crs.is_projected:
        return "projected"
    return "geographic" if crs.is_geographic else "other"


def check_crs(epsg: int, model: ModelType | None = None) -> str:
    """The kind of a file's CRS, ``"projected"`` or ``"geographic"``, checked with PROJ.

    ``model`` is the GTModelType the file states (``None`` when it comes from elsewhere,
    e.g. a catalog row); the code must be in the registry, projected or geographic, and
    of that kind. Raises :class:`RumiFormatError` otherwise.
    """
    kind = crs_kind(epsg)
    if kind == "other":
        msg = f"EPSG:{epsg} is not a projected or geographic CRS"
        raise RumiFormatError.invalid("EPSG", msg, expected=("projected", "geographic"), found=epsg)
    if model is not None and kind != model.name.lower():
        msg = f"EPSG {epsg} is {kind} but GTModelType says {model.name.lower()}"
        raise RumiFormatError.invalid("EPSG", msg, expected=model.name.lower(), found=kind)
    return kind


@lru_cache(maxsize=512)
def crs_name(epsg: int) -> str:
    """The registry's name of a CRS (``"WGS 84 / UTM zone 33N"``)."""
    return str(_registered(epsg).name)


# ---------------------------------------------------------------------------------------
# spatial_ref


def spatial_ref_attrs(epsg: int | None, transform: tuple[float, ...]) -> dict[str, Any]:
    """CF grid-mapping attributes plus the ``crs_wkt``/``spatial_ref``/``GeoTransform`` GDAL reads.

    Without a CRS (``epsg=None``), only the ``GeoTransform`` (of pixel corners).
    """
    a, b, c, d, e, f = transform
    geotransform = " ".join(repr(float(v)) for v in (c, a, b, f, d, e))  # GDAL's order
    if epsg is None:
        return {"GeoTransform": geotransform}
    return {**_crs_attrs(epsg), "GeoTransform": geotransform}


@lru_cache(maxsize=512)
def _crs_attrs(epsg: int) -> dict[str, Any]:
    """The CF and WKT attributes of a code (shared: callers copy them)."""
    crs = _registered(epsg)
    wkt = crs.to_wkt()
    return {**crs.to_cf(), "crs_wkt": wkt, "spatial_ref": wkt}


# ---------------------------------------------------------------------------------------
# "EPSG:<code>" texts


def epsg_text(epsg: int | None) -> str | None:
    """``"EPSG:<code>"``, as catalogs store a CRS and stacks compare it; ``None`` for none."""
    return None if epsg is None else f"EPSG:{epsg}"


def parse_epsg_text(text: Any) -> int:
    """The code of an ``"EPSG:<code>"`` text (its form checked), a :class:`RumiFormatError` else."""
    if not isinstance(text, str) or not text.startswith("EPSG:") or not text[5:].isdigit():
        raise RumiFormatError.mismatch("crs", expected="'EPSG:<code>'", found=text)
    code = int(text[5:])
    check_epsg(code)
    return code


# ---------------------------------------------------------------------------------------
# What writers are given


def parse_crs(crs: Any) -> int:
    """The EPSG code of an int, an ``"EPSG:n"``/WKT string or an object with ``to_epsg()``."""
    code, why = crs_code(crs)
    if code is None:
        raise ValueError(f"crs {crs!r} has {why}; rumi records a CRS as an EPSG code")
    if crs_kind(code) == "other":
        raise ValueError(f"EPSG:{code} is not a projected or geographic CRS")
    return code


def crs_code(crs: Any) -> tuple[int | None, str]:
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


def proj4(crs: Any) -> str:
    """A CRS as a PROJ string, short enough for a message (else as given)."""
    import pyproj

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "You will likely lose important projection ..."
            return str(pyproj.CRS.from_user_input(crs).to_proj4().removesuffix(" +type=crs"))
    except pyproj.exceptions.CRSError:
        return str(crs)
