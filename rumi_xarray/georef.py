"""Georeferencing tags (§7): ModelTransformationTag and GeoKeyDirectoryTag."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .crs import check_epsg, crs_kind
from .errors import RumiFormatError
from .spec import GEO_NBYTES, ModelType, RasterType

_MATRIX = struct.Struct("<16d")
_KEYS = struct.Struct("<16H")
_FREE = (0, 1, 3, 4, 5, 7)
"""Matrix elements holding the affine (a, b, c, d, e, f)."""
_UNDEFINED_MATRIX = (1.0, 0, 0, 0, 0, 1.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1.0)


@dataclass(frozen=True, slots=True)
class Georef:
    """Affine transform and CRS of an image (``None`` for both when undefined)."""

    transform: tuple[float, float, float, float, float, float] | None
    """(a, b, c, d, e, f) in rasterio order: x = a·col + b·row + c, y = d·col + e·row + f."""
    epsg: int | None
    pixel_is_point: bool = False
    """GeoKey 1025 RasterPixelIsPoint: the transform maps pixel centres, not corners."""
    model: ModelType | None = field(default=None, compare=False)
    """GTModelType as a parsed file states it (``None`` when not read from a file).

    Parsing checks only the EPSG code's form; :func:`rumi_xarray.crs.check_crs` checks
    that the code is of this kind when coordinates are built."""

    @property
    def model_type(self) -> ModelType:
        if self.epsg is None:
            return ModelType.UNDEFINED
        if self.model is not None:
            return self.model
        return ModelType.GEOGRAPHIC if crs_kind(self.epsg) == "geographic" else ModelType.PROJECTED


def parse_georef(buf: bytes | memoryview, offset: int) -> Georef:
    """Parse the 160 bytes of matrix and GeoKeys that end the out-of-line values.

    The EPSG code's form is checked, not the code itself: parsing never asks PROJ.
    """
    if len(buf) < GEO_NBYTES:
        raise RumiFormatError.mismatch(
            "georeferencing tags", expected=f"{GEO_NBYTES} bytes", found=len(buf), offset=offset
        )
    matrix = _MATRIX.unpack_from(buf, 0)
    keys = _KEYS.unpack_from(buf, _MATRIX.size)
    model, raster, epsg = _parse_keys(keys, offset + _MATRIX.size)
    if model == ModelType.UNDEFINED:
        for i, (v, want) in enumerate(zip(matrix, _UNDEFINED_MATRIX, strict=True)):
            if v != want:
                msg = (
                    "an undefined CRS carries the identity-like matrix the specification "
                    f"fixes; element {i} is {v:g}, not {want:g}"
                )
                raise RumiFormatError.invalid(
                    f"element {i}", msg, offset=offset + 8 * i, expected=want, found=v
                )
        return Georef(None, None, raster == RasterType.PIXEL_IS_POINT)
    for i, v in enumerate(matrix):
        want = 1.0 if i == 15 else 0.0
        if i not in _FREE and v != want:
            msg = (
                f"ModelTransformationTag element {i} is {v:g}; only the six affine "
                "coefficients are free and element 15 is 1"
            )
            raise RumiFormatError.invalid(
                f"ModelTransformationTag element {i}",
                msg,
                offset=offset + 8 * i,
                expected=want,
                found=v,
            )
    a, b, c, d, e, f = (matrix[i] for i in _FREE)
    return Georef((a, b, c, d, e, f), epsg, raster == RasterType.PIXEL_IS_POINT, model)


def _parse_keys(keys: tuple[int, ...], offset: int) -> tuple[ModelType, RasterType, int]:
    if keys[:4] != (1, 1, 0, 3):
        msg = "GeoKeyDirectory header is {} {} {} {}, rumi writes 1 1 0 3".format(*keys[:4])
        raise RumiFormatError.invalid(
            "GeoKeyDirectory header", msg, offset=offset, expected=(1, 1, 0, 3), found=keys[:4]
        )
    for i in (4, 8, 12):
        if keys[i + 1 : i + 3] != (0, 1):
            msg = (
                f"GeoKey {keys[i]} is stored as {keys[i : i + 4]}; rumi writes every key "
                "as (key_id, 0, 1, value)"
            )
            raise RumiFormatError.invalid(
                f"GeoKey {keys[i]}",
                msg,
                offset=offset + 2 * i,
                expected=(0, 1),
                found=keys[i + 1 : i + 3],
            )
    if keys[4] != 1024 or keys[8] != 1025:
        raise RumiFormatError.mismatch(
            "GeoKey ids", expected=(1024, 1025), found=(keys[4], keys[8]), offset=offset
        )
    if keys[7] not in tuple(ModelType):
        msg = f"GTModelType is {keys[7]}, rumi allows 0, 1 or 2"
        raise RumiFormatError.invalid(
            "GTModelType", msg, offset=offset + 14, expected=(0, 1, 2), found=keys[7]
        )
    if keys[11] not in tuple(RasterType):
        msg = f"GTRasterType is {keys[11]}, rumi allows 1 or 2"
        raise RumiFormatError.invalid(
            "GTRasterType", msg, offset=offset + 22, expected=(1, 2), found=keys[11]
        )
    model, raster, key, value = ModelType(keys[7]), RasterType(keys[11]), keys[12], keys[15]
    if model == ModelType.UNDEFINED:
        if (key, value) != (2048, 0):
            msg = f"an undefined CRS needs key 2048 set to 0, found key {key} set to {value}"
            raise RumiFormatError.invalid(
                "undefined CRS", msg, offset=offset + 24, expected=(2048, 0), found=(key, value)
            )
        return model, raster, 0
    want = 3072 if model == ModelType.PROJECTED else 2048
    if key != want:
        msg = f"GTModelType {model.value} needs key {want}, found {key}"
        raise RumiFormatError.invalid(
            "GTModelType", msg, offset=offset + 24, expected=want, found=key
        )
    check_epsg(value)
    return model, raster, value


def build_georef(georef: Georef) -> bytes:
    """The 160 bytes of ModelTransformationTag and GeoKeyDirectoryTag values (§7, canonical)."""
    raster = RasterType.PIXEL_IS_POINT if georef.pixel_is_point else RasterType.PIXEL_IS_AREA
    if (georef.transform is None) != (georef.epsg is None):
        raise ValueError("transform and crs must be given together")
    if georef.transform is None or georef.epsg is None:
        keys = (1, 1, 0, 3, 1024, 0, 1, 0, 1025, 0, 1, raster, 2048, 0, 1, 0)
        return _MATRIX.pack(*_UNDEFINED_MATRIX) + _KEYS.pack(*keys)
    if crs_kind(georef.epsg) == "other":
        raise ValueError(f"EPSG:{georef.epsg} is not a projected or geographic CRS")
    model = georef.model_type
    matrix = [0.0] * 15 + [1.0]
    for i, v in zip(_FREE, georef.transform, strict=True):
        matrix[i] = float(v)
    key = 3072 if model == ModelType.PROJECTED else 2048
    keys = (1, 1, 0, 3, 1024, 0, 1, model, 1025, 0, 1, raster, key, 0, 1, georef.epsg)
    return _MATRIX.pack(*matrix) + _KEYS.pack(*keys)
