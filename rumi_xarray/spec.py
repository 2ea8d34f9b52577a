"""Constants of the rumi wire format: magics, struct layouts, tags, dtypes, frame units.

Section numbers refer to ``docs/format.md`` (the byte-level description of every
generation of the format written by ``rumi-eo``).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import ml_dtypes
import numpy as np

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

RUMI_MAGIC: Final = b"RUMI"
BIGTIFF_MAGIC: Final = b"II+\x00"
BLOB_MAGIC: Final = b"LOVE"
TAIL_MAGIC: Final = b"TAIL"
TIME_MAGIC: Final = b"TIME"

FILE_HEADER: Final = struct.Struct("<4sHHQ")
"""§2: magic, version (1), reserved (0), IFD offset (16)."""
BIGTIFF_HEADER: Final = struct.Struct("<2sHHHQ")
"""§12: byte order, 43, offset size 8, reserved 0, IFD offset (16)."""
IFD_OFFSET: Final = 16
IFD_COUNT: Final = struct.Struct("<Q")
IFD_ENTRY: Final = struct.Struct("<HHQ8s")
"""§3: tag, TIFF type, value count, inline value or u64 pointer."""
BLOB_HEADER: Final = struct.Struct("<4sHIIIHHHBBBIB")
"""§10.1 (0.18+): magic, version, W, L, T, tw, tl, B, bits, sample_format, unit, count_min, count_bits."""
BLOB_HEADER_016: Final = struct.Struct("<4sHIIHHHBBBIB")
"""§10.2 (0.15/0.16): the 0.18 blob without time_count."""
TRAILER_HEAD: Final = struct.Struct("<4sH")
TIME_BLOCK: Final = struct.Struct("<BBqqI")
"""§9: kind, residual bits, origin, step, scale (seconds per unit)."""
GEO_NBYTES: Final = 16 * 8 + 16 * 2
"""The ModelTransformationTag and GeoKeyDirectoryTag values, the last bytes before frame 0."""

MAX_FRAME_BYTES: Final = 1 << 30
"""Largest decoded frame accepted (rumi-eo's default cap, §6)."""
MAX_BLOB_FRAMES: Final = 1 << 24
"""Largest frame count taken from a blob alone whose counts are not packed (count_bits 0)."""
MAX_TIME_COUNT: Final = 1 << 24
"""Largest number of time steps this reader decodes."""
MAX_DIMENSION: Final = 2**31 - 1


class Generation(enum.Enum):
    """Which container a file or blob uses (§0, §13)."""

    BIGTIFF = "0.15-0.16"
    """BigTIFF profile, 11 IFD tags, no trailer, 28-byte blob."""
    RUMI_TIME = "0.18-0.24"
    """``RUMI`` container with the ``TIME`` trailer (no band texts)."""
    RUMI_TAIL = "0.25-0.26"
    """``RUMI`` container with the ``TAIL`` trailer (band texts and time)."""

    @property
    def ifd_tags(self) -> tuple[Tag, ...]:
        """IFD tags in file order."""
        return BIGTIFF_TAGS if self is Generation.BIGTIFF else RUMI_TAGS

    @property
    def ifd_end(self) -> int:
        """Offset of the first out-of-line value, right after the IFD."""
        return IFD_OFFSET + IFD_COUNT.size + len(self.ifd_tags) * IFD_ENTRY.size + 8

    @property
    def blob_header(self) -> struct.Struct:
        return BLOB_HEADER_016 if self is Generation.BIGTIFF else BLOB_HEADER


class Tag(enum.IntEnum):
    """IFD tags (§3)."""

    IMAGE_WIDTH = 256
    IMAGE_LENGTH = 257
    BITS_PER_SAMPLE = 258
    SAMPLES_PER_PIXEL = 277
    TILE_WIDTH = 322
    TILE_LENGTH = 323
    TILE_OFFSETS = 324
    TILE_BYTE_COUNTS = 325
    SAMPLE_FORMAT = 339
    MODEL_TRANSFORMATION = 34264
    GEO_KEY_DIRECTORY = 34735
    FRAME_UNIT = 65000
    TIME_COUNT = 65001


class TiffType(enum.IntEnum):
    """TIFF value types used by rumi, with their sizes."""

    SHORT = 3
    LONG = 4
    DOUBLE = 12
    LONG8 = 16

    @property
    def nbytes(self) -> int:
        return _TIFF_NBYTES[self]

    @property
    def code(self) -> str:
        return _TIFF_CODES[self]


_TIFF_NBYTES: Final = {3: 2, 4: 4, 12: 8, 16: 8}
_TIFF_CODES: Final = {3: "H", 4: "I", 12: "d", 16: "Q"}
"""Size and struct code of each TIFF type, by its number (an IntEnum hashes as its int)."""


TAG_TYPES: Final = {
    Tag.IMAGE_WIDTH: TiffType.LONG,
    Tag.IMAGE_LENGTH: TiffType.LONG,
    Tag.BITS_PER_SAMPLE: TiffType.SHORT,
    Tag.SAMPLES_PER_PIXEL: TiffType.SHORT,
    Tag.TILE_WIDTH: TiffType.SHORT,
    Tag.TILE_LENGTH: TiffType.SHORT,
    Tag.TILE_OFFSETS: TiffType.LONG8,
    Tag.TILE_BYTE_COUNTS: TiffType.LONG,
    Tag.SAMPLE_FORMAT: TiffType.SHORT,
    Tag.MODEL_TRANSFORMATION: TiffType.DOUBLE,
    Tag.GEO_KEY_DIRECTORY: TiffType.SHORT,
    Tag.FRAME_UNIT: TiffType.SHORT,
    Tag.TIME_COUNT: TiffType.LONG,
}
BIGTIFF_TAGS: Final = tuple(TAG_TYPES)[:11]
RUMI_TAGS: Final = tuple(TAG_TYPES)


class TimeKind(enum.IntEnum):
    """Time block kinds (§9). ``NONE`` exists only in ``TIME`` trailers."""

    NONE = 0
    INTERVAL = 1
    INSTANT = 2


class ModelType(enum.IntEnum):
    """GeoKey 1024 (§7)."""

    UNDEFINED = 0
    PROJECTED = 1
    GEOGRAPHIC = 2


class RasterType(enum.IntEnum):
    """GeoKey 1025 (§7)."""

    PIXEL_IS_AREA = 1
    PIXEL_IS_POINT = 2


@dataclass(frozen=True, slots=True)
class SampleType:
    """One (SampleFormat, BitsPerSample) pair of §8 and how NumPy sees it."""

    name: str
    """rumi's name for the type."""
    sample_format: int
    bits: int
    storage: np.dtype
    """How one stored sample's bytes are viewed (little-endian); structured for complex."""
    dtype: np.dtype
    """The dtype arrays are exposed with. Complex types NumPy lacks widen exactly."""

    @property
    def nbytes(self) -> int:
        """Stored bytes per sample."""
        return self.storage.itemsize

    def to_array(self, raw: np.ndarray) -> np.ndarray:
        """View decoded frame bytes (flat uint8) as a flat array of ``dtype``."""
        samples = raw.view(self.storage)
        if self.storage.names is None:
            return samples if samples.dtype == self.dtype else samples.view(self.dtype)
        out = np.empty(samples.shape, self.dtype)
        out.real = samples["re"]
        out.imag = samples["im"]
        return out

    def to_storage(self, values: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`to_array`: samples as they are stored."""
        if self.storage.names is None:
            return np.ascontiguousarray(values, self.dtype).view(self.storage)
        out = np.empty(values.shape, self.storage)
        out["re"], out["im"] = values.real, values.imag
        return out


def _complex(part: str) -> np.dtype:
    return np.dtype([("re", part), ("im", part)])


def _sample_types(
    *rows: tuple[str, int, int, DTypeLike, DTypeLike],
) -> dict[tuple[int, int], SampleType]:
    return {
        (sf, bits): SampleType(name, sf, bits, np.dtype(storage), np.dtype(exposed))
        for name, sf, bits, storage, exposed in rows
    }


_COMMON = (
    ("uint8", 1, 8, "u1", "u1"),
    ("int8", 2, 8, "i1", "i1"),
    ("uint16", 1, 16, "<u2", "u2"),
    ("int16", 2, 16, "<i2", "i2"),
    ("uint32", 1, 32, "<u4", "u4"),
    ("int32", 2, 32, "<i4", "i4"),
    ("uint64", 1, 64, "<u8", "u8"),
    ("int64", 2, 64, "<i8", "i8"),
    ("float16", 3, 16, "<f2", "f2"),
    ("float32", 3, 32, "<f4", "f4"),
    ("float64", 3, 64, "<f8", "f8"),
    ("complex32", 6, 32, _complex("<f2"), "c8"),
    ("complex64", 6, 64, "<c8", "c8"),
    ("complex128", 6, 128, "<c16", "c16"),
    ("float8_e4m3fn", 100, 8, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e4m3fn),
    ("float8_e5m2", 101, 8, ml_dtypes.float8_e5m2, ml_dtypes.float8_e5m2),
    ("bfloat16", 102, 16, ml_dtypes.bfloat16, ml_dtypes.bfloat16),
    ("bool", 1, 1, "u1", "?"),
    ("float8_e8m0fnu", 103, 8, ml_dtypes.float8_e8m0fnu, ml_dtypes.float8_e8m0fnu),
)

SAMPLE_TYPES: Final = _sample_types(
    *_COMMON,
    ("float8_e4m3fnuz", 107, 8, ml_dtypes.float8_e4m3fnuz, ml_dtypes.float8_e4m3fnuz),
    ("float8_e5m2fnuz", 108, 8, ml_dtypes.float8_e5m2fnuz, ml_dtypes.float8_e5m2fnuz),
)
"""The 21 types of rumi-eo 0.26 (§8), keyed by (SampleFormat, BitsPerSample)."""

SAMPLE_TYPES_016: Final = _sample_types(
    *_COMMON,
    ("cint16", 5, 32, _complex("<i2"), "c8"),
    ("cint32", 5, 64, _complex("<i4"), "c16"),
    ("uint4", 1, 4, ml_dtypes.uint4, ml_dtypes.uint4),
    ("int4", 2, 4, ml_dtypes.int4, ml_dtypes.int4),
    ("uint2", 1, 2, ml_dtypes.uint2, ml_dtypes.uint2),
    ("int2", 2, 2, ml_dtypes.int2, ml_dtypes.int2),
    ("float6_e2m3fn", 104, 6, ml_dtypes.float6_e2m3fn, ml_dtypes.float6_e2m3fn),
    ("float6_e3m2fn", 105, 6, ml_dtypes.float6_e3m2fn, ml_dtypes.float6_e3m2fn),
    ("float4_e2m1fn", 106, 4, ml_dtypes.float4_e2m1fn, ml_dtypes.float4_e2m1fn),
)
"""The 0.15/0.16 types (§12): sub-byte types stored one sample per byte."""


FRAME_AXES: Final[dict[int, str | tuple[str, str]]] = {
    1: ("bhw", "thw"),
    2: ("hwb", "hwt"),
    3: "bthw",
    4: "tbhw",
    5: "bhwt",
    6: "thwb",
    7: "hwbt",
    8: "hwtb",
}
"""§5: the axes one frame holds, in decoded C order, for cell units 1..8.

Units 1 and 2 hold whichever of b or t has extent > 1; units 3..8 need both.
Unit 0 holds one ``hw`` tile indexed by b then t, unit 9 by t then b.
"""
