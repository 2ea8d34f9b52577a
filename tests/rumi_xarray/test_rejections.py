"""Every rejection of FORMAT.md §14 (with §2, §3, §7, §9, §10, §12), on mutated copies of real files.

Each case copies a file written by rumi-eo, patches it with ``struct.pack_into`` at the offset
the annotated dumps of FORMAT §11 (``example_0261.rumi``) and §12 (``example_016.rumi``) give,
and checks that the parser raises :class:`RumiFormatError` naming the field or the problem.
Rejections of the file itself are checked through every entry point (``parse_bytes``, the
range reader and ``xr.open_dataset``); corrupt frames must fail when the pixels are loaded.
The hypothesis tests at the end check that damaged files and blobs either parse or raise
``RumiFormatError``, and nothing else.
"""

from __future__ import annotations

import contextlib
import itertools
import pickle
import re
import struct
import time
import tracemalloc
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rumi_codec import compress, decompress
from rumi_xarray import open_stack, references
from rumi_xarray.blob import parse_blob
from rumi_xarray.coords import file_coords
from rumi_xarray.decode import read_description
from rumi_xarray.errors import RumiFormatError
from rumi_xarray.format import parse_bytes
from rumi_xarray.georef import parse_georef
from rumi_xarray.io import BytesReader
from rumi_xarray.spec import Generation, TimeKind
from rumi_xarray.trailer import parse_trailer

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    Mutation = Callable[[bytearray], bytes | bytearray]

FIXTURES = Path(__file__).parents[2] / "tests" / "data"
if not FIXTURES.exists():
    FIXTURES = Path("/work/shared/fixtures")

EXAMPLE = "examples/example_0261"
"""FORMAT §11: uint8, B=2 ("B1", "B2"), 50x40, tile 32, unit 0, N=8, EPSG:32618, one instant."""
EXAMPLE_016 = "examples/example_016"
"""FORMAT §12: the same pixels written by rumi-eo 0.16.0 (BigTIFF, 11 tags, no trailer)."""
SINGLE = "rumi-0.26.1/u8_b1_37x45_t16_crs"
"""B=1, T=1, unit 0, N=9 (its blob packs 9 counts of 7 bits: one unused bit)."""
ONE_FRAME = "rumi-0.26.1/u8_b1_40x50_t512_nocrs"
"""N=1 (TileOffsets and TileByteCounts inline), no CRS: matrix at 292, GeoKeys at 420."""
GEOGRAPHIC = "rumi-0.26.1/u16_b3_50x33_cell_geo_pip"
"""EPSG:4326 (GTModelType 2, key 2048), PixelIsPoint, N=4: GeoKeys at 468."""
INSTANTS = "rumi-0.26.1/u8_t4_b1_33x29_tile_instants"
INTERVALS = "rumi-0.26.1/u16_t4_b1_33x29_thw_intervals"
BOOL = "rumi-0.26.1/bool_b2_tile"
U32 = "rumi-0.26.1/u32_b2_cell"

DAY = 86400
INSTANT_SECONDS = (1704067200, 1704931200, 1705795200, 1707091200)
INTERVAL_SECONDS = (
    1704067200, 1704672000, 1704672000, 1705276800,
    1705708800, 1706313600, 1706356800, 1706918400,
)  # fmt: skip

# FORMAT §11 offsets of example_0261.rumi (1062 bytes).
OFFSETS_AT, COUNTS_AT, MATRIX_AT, KEYS_AT, BASE, TRAILER_AT = 292, 356, 388, 516, 548, 1026
EXAMPLE_COUNTS = (60, 60, 60, 60, 60, 60, 59, 59)
W, L, BITS, B, TW, TL, OFFSETS, COUNTS, FORMAT, MATRIX, KEYS, UNIT, TIMES = range(13)
"""IFD entry indices (FORMAT §3); entry i starts at 24 + 20·i in both generations."""


def tag_at(i: int) -> int:
    return 24 + 20 * i


def type_at(i: int) -> int:
    return 24 + 20 * i + 2


def count_at(i: int) -> int:
    return 24 + 20 * i + 4


def value_at(i: int) -> int:
    return 24 + 20 * i + 12


def exact(message: str) -> str:
    """A regex matching ``message`` literally."""
    return re.escape(message)


# ---------------------------------------------------------------------------------------
# Fixtures and byte surgery


@cache
def _read(name: str, suffix: str = ".rumi") -> bytes:
    return (FIXTURES / f"{name}{suffix}").read_bytes()


def _header(name: str) -> bytes:
    return _read(name, ".header")


def put(fmt: str, offset: int, *values: object) -> Mutation:
    """Write ``values`` little-endian at ``offset`` (``struct.pack_into``)."""

    def apply(buf: bytearray) -> bytearray:
        struct.pack_into("<" + fmt, buf, offset, *values)
        return buf

    return apply


def xor(offset: int, mask: int = 0xFF) -> Mutation:
    def apply(buf: bytearray) -> bytearray:
        buf[offset] ^= mask
        return buf

    return apply


def cut(length: int) -> Mutation:
    return lambda buf: buf[:length]


def append(extra: bytes) -> Mutation:
    return lambda buf: buf + extra


def swap(a: int, b: int, size: int) -> Mutation:
    """Exchange the ``size`` bytes at ``a`` and at ``b``."""

    def apply(buf: bytearray) -> bytearray:
        buf[a : a + size], buf[b : b + size] = buf[b : b + size], buf[a : a + size]
        return buf

    return apply


def chain(*mutations: Mutation) -> Mutation:
    def apply(buf: bytearray) -> bytearray:
        for mutation in mutations:
            buf = bytearray(mutation(buf))
        return buf

    return apply


def retail(trailer: bytes) -> Mutation:
    """Replace everything after the last frame by ``trailer``."""
    return lambda buf: buf[: _frames_end(buf)] + trailer


def mutate(name: str, mutation: Mutation) -> bytes:
    return bytes(mutation(bytearray(_read(name))))


def _frame_table(data: bytes | bytearray) -> tuple[list[int], list[int], int, int]:
    """TileOffsets, TileByteCounts and where each array sits, read straight from the IFD."""
    (n,) = struct.unpack_from("<Q", data, count_at(OFFSETS))
    offsets_at = (
        value_at(OFFSETS) if n == 1 else struct.unpack_from("<Q", data, value_at(OFFSETS))[0]
    )
    counts_at = value_at(COUNTS) if n <= 2 else struct.unpack_from("<Q", data, value_at(COUNTS))[0]
    offsets = list(struct.unpack_from(f"<{n}Q", data, offsets_at))
    counts = list(struct.unpack_from(f"<{n}I", data, counts_at))
    return offsets, counts, offsets_at, counts_at


def _frames_end(data: bytes | bytearray) -> int:
    offsets, counts, _, _ = _frame_table(data)
    return offsets[-1] + counts[-1]


def _replace_frame(data: bytes, k: int, frame: bytes) -> bytes:
    """Swap frame k for ``frame``, moving the later frames and rewriting the frame table."""
    offsets, counts, offsets_at, counts_at = _frame_table(data)
    end = offsets[-1] + counts[-1]
    frames = [data[o : o + c] for o, c in zip(offsets, counts, strict=True)]
    frames[k] = frame
    counts = [len(f) for f in frames]
    offsets = list(itertools.accumulate(counts[:-1], initial=offsets[0]))
    index = bytearray(data[: offsets[0]])
    struct.pack_into(f"<{len(counts)}Q", index, offsets_at, *offsets)
    struct.pack_into(f"<{len(counts)}I", index, counts_at, *counts)
    return bytes(index) + b"".join(frames) + data[end:]


def _pack(values: Sequence[int], bits: int) -> bytes:
    """LSB-first packing of FORMAT §9 and §10 (written independently of rumi_xarray.bits)."""
    acc = 0
    for i, v in enumerate(values):
        acc |= v << (i * bits)
    return acc.to_bytes((len(values) * bits + 7) // 8, "little")


def _blob(
    *,
    width: int = 50,
    length: int = 40,
    times: int = 1,
    tile: tuple[int, int] = (32, 32),
    bands: int = 2,
    bits: int = 8,
    sample_format: int = 1,
    unit: int = 0,
    counts: Sequence[int] = EXAMPLE_COUNTS,
    count_min: int | None = None,
    count_bits: int | None = None,
    v016: bool = False,
) -> bytes:
    """A header blob (FORMAT §10.1, or §10.2 with ``v016``); canonical unless overridden."""
    lo = min(counts) if count_min is None else count_min
    width_bits = (max(counts) - min(counts)).bit_length() if count_bits is None else count_bits
    head = struct.pack("<4sHII", b"LOVE", 1, width, length)
    head += b"" if v016 else struct.pack("<I", times)
    head += struct.pack("<HHHBBBIB", *tile, bands, bits, sample_format, unit, lo, width_bits)
    return head + _pack([c - lo for c in counts], width_bits)


def _zigzag(r: int) -> int:
    return 2 * r if r >= 0 else -2 * r - 1


def _time(
    kind: int, bits: int, origin: int, step: int, scale: int, residuals: bytes = b""
) -> bytes:
    """The FORMAT §9 time block, field by field."""
    return struct.pack("<BBqqI", kind, bits, origin, step, scale) + residuals


def _canonical_time(kind: int, seconds: Sequence[int], *, scale: int | None = None) -> bytes:
    """The canonical time block (FORMAT §9 steps 1-6) for any coordinates, sorted or not."""
    if scale is None:
        scale = DAY if all(c % DAY == 0 for c in seconds) else 1
    units = [c // scale for c in seconds]
    n = len(units)
    step = 0 if n == 1 else (2 * (units[-1] - units[0]) + n - 1) // (2 * (n - 1))
    zigzag = [_zigzag(u - units[0] - i * step) for i, u in enumerate(units)]
    bits = max(zigzag).bit_length()
    return _time(kind, bits, units[0], step, scale, _pack(zigzag, bits))


def _tail(*texts: bytes, time: bytes, magic: bytes = b"TAIL", version: int = 1) -> bytes:
    """A trailer (FORMAT §9): magic, version, length-prefixed band texts, time block."""
    body = b"".join(struct.pack("<H", len(t)) + t for t in texts)
    return magic + struct.pack("<H", version) + body + time


EXAMPLE_TIME = _canonical_time(TimeKind.INSTANT, [1704067200])


# ---------------------------------------------------------------------------------------
# Entry points


def _parse(data: bytes, header: bytes | None = None) -> object:
    return parse_bytes(data, header)


def _reader(data: bytes, header: bytes | None = None) -> object:
    return read_description(BytesReader(data), header)


def _xarray(data: bytes, header: bytes | None = None) -> object:
    return xr.open_dataset(data, engine="rumi", header=header)


OPENERS = [
    pytest.param(_parse, id="parse_bytes"),
    pytest.param(_reader, id="read_description"),
    pytest.param(_xarray, id="open_dataset"),
]


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """Load the CRS database, the OpenZL decoders and the xarray plugin before timing anything."""
    xr.open_dataset(_read(EXAMPLE), engine="rumi").load()


def _rejects(
    opener: Callable[..., object], data: bytes, match: str, header: bytes | None = None
) -> None:
    with pytest.raises(RumiFormatError, match=match):
        opener(data, header)


# ---------------------------------------------------------------------------------------
# The helpers above rebuild the real bytes, so a failure below is the parser's


def test_offsets_of_the_annotated_dump() -> None:
    data = _read(EXAMPLE)
    assert len(data) == 1062
    assert struct.unpack_from("<4sHHQQ", data, 0) == (b"RUMI", 1, 0, 16, 13)
    tags = [struct.unpack_from("<H", data, tag_at(i))[0] for i in range(13)]
    assert tags == [256, 257, 258, 277, 322, 323, 324, 325, 339, 34264, 34735, 65000, 65001]
    offsets, counts, offsets_at, counts_at = _frame_table(data)
    assert (offsets_at, counts_at) == (OFFSETS_AT, COUNTS_AT)
    assert tuple(counts) == EXAMPLE_COUNTS and offsets[0] == BASE
    assert struct.unpack_from("<Q", data, value_at(MATRIX))[0] == MATRIX_AT
    assert struct.unpack_from("<Q", data, value_at(KEYS))[0] == KEYS_AT
    assert struct.unpack_from("<4H", data, KEYS_AT + 24) == (3072, 0, 1, 32618)
    assert _frames_end(data) == TRAILER_AT
    assert data[TRAILER_AT:] == _tail(b"B1", b"B2", time=EXAMPLE_TIME)
    assert _read(EXAMPLE_016)[:8] == b"II+\x00\x08\x00\x00\x00"


def test_builders_reproduce_real_bytes() -> None:
    assert _blob() == _header(EXAMPLE)
    _, counts_016, _, _ = _frame_table(_read(EXAMPLE_016))
    assert _blob(counts=counts_016, v016=True) == _header(EXAMPLE_016)
    instants = _tail(b"ndvi", time=_canonical_time(TimeKind.INSTANT, INSTANT_SECONDS))
    intervals = _tail(b"ndvi", time=_canonical_time(TimeKind.INTERVAL, INTERVAL_SECONDS))
    assert _read(INSTANTS)[_frames_end(_read(INSTANTS)) :] == instants
    assert _read(INTERVALS)[_frames_end(_read(INTERVALS)) :] == intervals
    data = _read(EXAMPLE)
    assert _replace_frame(data, 3, data[728:788]) == data
    assert mutate(INSTANTS, retail(instants)) == _read(INSTANTS)


# ---------------------------------------------------------------------------------------
# §14 A: the file header (§2)

HEADER_CASES = [
    pytest.param(EXAMPLE, cut(0), exact("could not read the 16-byte rumi file header"), id="empty"),
    pytest.param(
        EXAMPLE, cut(3), exact("could not read the 16-byte rumi file header"), id="3-bytes"
    ),
    pytest.param(
        EXAMPLE, cut(15), exact("could not read the 16-byte rumi file header"), id="15-bytes"
    ),
    pytest.param(
        EXAMPLE,
        put("4s", 0, b"SUMI"),
        exact("not a rumi file: it starts with 0x53 0x55 0x4D 0x49, where rumi writes 'RUMI'"),
        id="magic",
    ),
    pytest.param(
        EXAMPLE,
        put("H", 4, 2),
        exact("rumi file version 2, this reader implements 1"),
        id="version",
    ),
    pytest.param(EXAMPLE, put("B", 5, 1), exact("rumi file version 257,"), id="version-byte-5"),
    pytest.param(
        EXAMPLE,
        put("H", 6, 1),
        exact("the reserved field of the file header is 1, not 0"),
        id="reserved",
    ),
    pytest.param(
        EXAMPLE,
        put("B", 7, 1),
        exact("the reserved field of the file header is 256,"),
        id="reserved-byte-7",
    ),
    pytest.param(
        EXAMPLE,
        put("Q", 8, 17),
        exact("rumi requires the IFD at byte 16; file puts it at 17"),
        id="ifd-offset",
    ),
    pytest.param(
        EXAMPLE,
        put("Q", 8, 0),
        exact("rumi requires the IFD at byte 16; file puts it at 0"),
        id="ifd-offset-0",
    ),
]


@pytest.mark.parametrize("opener", OPENERS)
@pytest.mark.parametrize(("name", "mutation", "match"), HEADER_CASES)
def test_file_header(
    opener: Callable[..., object], name: str, mutation: Mutation, match: str
) -> None:
    _rejects(opener, mutate(name, mutation), match)


# ---------------------------------------------------------------------------------------
# §14 A: the IFD (§3): truncation, count, chaining, tag order, types, counts, padding, pointers

IFD_CASES = [
    pytest.param(EXAMPLE, cut(16), exact("could not read the IFD entry count"), id="cut-at-16"),
    pytest.param(EXAMPLE, cut(23), exact("could not read the IFD entry count"), id="cut-at-23"),
    pytest.param(EXAMPLE, cut(100), exact("could not read the IFD entries"), id="cut-inside-ifd"),
    pytest.param(
        EXAMPLE, cut(291), exact("could not read the IFD entries"), id="cut-before-ifd-end"
    ),
    pytest.param(
        EXAMPLE, cut(300), exact("could not read the tag 324 array"), id="cut-in-tile-offsets"
    ),
    pytest.param(
        EXAMPLE, cut(360), exact("could not read the tag 325 array"), id="cut-in-byte-counts"
    ),
    pytest.param(
        EXAMPLE, cut(400), exact("could not read the tag 34264 array"), id="cut-in-matrix"
    ),
    pytest.param(
        EXAMPLE, cut(530), exact("could not read the tag 34735 array"), id="cut-in-geokeys"
    ),
    pytest.param(
        EXAMPLE,
        put("Q", 16, 12),
        exact("rumi requires exactly 13 IFD tags; file has 12"),
        id="count-12",
    ),
    pytest.param(
        EXAMPLE,
        put("Q", 16, 14),
        exact("rumi requires exactly 13 IFD tags; file has 14"),
        id="count-14",
    ),
    pytest.param(
        EXAMPLE,
        put("Q", 16, 2**64 - 1),
        r"rumi requires exactly 13 IFD tags; file has 1844",
        id="count-max",
    ),
    pytest.param(
        EXAMPLE,
        put("Q", 284, 1062),
        exact("rumi requires a single IFD; the file chains another one"),
        id="next-ifd",
    ),
    pytest.param(
        EXAMPLE,
        put("H", tag_at(W), 257),
        exact("IFD entry 0 is tag 257, expected tag 256 in rising order"),
        id="tag-order",
    ),
    pytest.param(
        EXAMPLE,
        swap(tag_at(W), tag_at(L), 20),
        exact("IFD entry 0 is tag 257, expected tag 256 in rising order"),
        id="entries-swapped",
    ),
    pytest.param(
        EXAMPLE,
        put("H", tag_at(UNIT), 65002),
        exact("IFD entry 11 is tag 65002, expected tag 65000 in rising order"),
        id="unknown-tag",
    ),
    pytest.param(
        EXAMPLE,
        put("H", tag_at(TIMES), 0x0106),
        exact("IFD entry 12 is tag 262, expected tag 65001 in rising order"),
        id="photometric-instead-of-time-count",
    ),
    pytest.param(
        EXAMPLE,
        put("H", type_at(W), 3),
        exact("tag 256 has TIFF type 3, expected 4"),
        id="type-short",
    ),
    pytest.param(
        EXAMPLE,
        put("H", type_at(MATRIX), 11),
        exact("tag 34264 has TIFF type 11, expected 12"),
        id="type-float",
    ),
    pytest.param(
        EXAMPLE,
        put("H", type_at(OFFSETS), 4),
        exact("tag 324 has TIFF type 4, expected 16"),
        id="type-long",
    ),
    pytest.param(
        EXAMPLE,
        put("H", type_at(UNIT), 0),
        exact("tag 65000 has TIFF type 0, expected 3"),
        id="type-0",
    ),
    pytest.param(
        EXAMPLE, put("Q", count_at(W), 2), exact("tag 256 has 2 values, expected 1"), id="count-256"
    ),
    pytest.param(
        EXAMPLE,
        put("Q", count_at(TIMES), 0),
        exact("tag 65001 has 0 values, expected 1"),
        id="count-65001",
    ),
    pytest.param(
        EXAMPLE,
        put("Q", count_at(KEYS), 15),
        exact("tag 34735 has 15 values, expected 16"),
        id="count-34735",
    ),
    pytest.param(
        EXAMPLE,
        put("Q", count_at(BITS), 3),
        exact("tag 258 has 3 entries, expected 2"),
        id="count-258",
    ),
    pytest.param(
        EXAMPLE,
        put("Q", count_at(FORMAT), 1),
        exact("tag 339 has 1 entries, expected 2"),
        id="count-339",
    ),
    pytest.param(
        EXAMPLE, put("H", value_at(B), 3), exact("tag 258 has 2 entries, expected 3"), id="bands-3"
    ),
    pytest.param(
        EXAMPLE,
        put("Q", count_at(COUNTS), 7),
        exact("TileByteCounts has 7 entries, TileOffsets 8"),
        id="counts-differ",
    ),
    pytest.param(
        EXAMPLE,
        chain(put("Q", count_at(OFFSETS), 0), put("Q", count_at(COUNTS), 0)),
        r"TileOffsets has 0 entries|tag 324 fills 0 of its 8 inline bytes",
        id="no-frames",
    ),
    pytest.param(
        ONE_FRAME,
        chain(put("Q", count_at(OFFSETS), 0), put("Q", count_at(COUNTS), 0)),
        r"TileOffsets has 0 entries|tag 324 fills 0 of its 8 inline bytes",
        id="no-frames-inline",
    ),
    pytest.param(
        EXAMPLE,
        put("B", value_at(W) + 4, 1),
        exact("tag 256 fills 4 of its 8 inline bytes and byte 4 of the rest is not zero"),
        id="padding-256",
    ),
    pytest.param(
        EXAMPLE,
        put("B", value_at(W) + 7, 1),
        exact("tag 256 fills 4 of its 8 inline bytes"),
        id="padding-256-last",
    ),
    pytest.param(
        EXAMPLE,
        put("B", value_at(BITS) + 4, 8),
        exact("tag 258 fills 4 of its 8 inline bytes and byte 4 of the rest is not zero"),
        id="padding-258-third-band",
    ),
    pytest.param(
        EXAMPLE,
        put("B", value_at(B) + 2, 1),
        exact("tag 277 fills 2 of its 8 inline bytes and byte 2 of the rest is not zero"),
        id="padding-277",
    ),
    pytest.param(
        EXAMPLE,
        put("B", value_at(FORMAT) + 5, 1),
        exact("tag 339 fills 4 of its 8 inline bytes"),
        id="padding-339",
    ),
    pytest.param(
        EXAMPLE,
        put("B", value_at(UNIT) + 2, 1),
        exact("tag 65000 fills 2 of its 8 inline bytes"),
        id="padding-65000",
    ),
    pytest.param(
        EXAMPLE,
        put("B", value_at(TIMES) + 4, 1),
        exact("tag 65001 fills 4 of its 8 inline bytes"),
        id="padding-65001",
    ),
    pytest.param(
        ONE_FRAME,
        put("B", value_at(COUNTS) + 4, 1),
        exact("tag 325 fills 4 of its 8 inline bytes and byte 4 of the rest is not zero"),
        id="padding-325",
    ),
    pytest.param(
        EXAMPLE,
        put("Q", value_at(OFFSETS), 300),
        exact("tag 324 external value starts at 300, expected 292"),
        id="pointer-324",
    ),
    pytest.param(
        EXAMPLE,
        put("Q", value_at(COUNTS), 357),
        exact("tag 325 external value starts at 357, expected 356"),
        id="pointer-325",
    ),
    pytest.param(
        EXAMPLE,
        put("Q", value_at(MATRIX), 389),
        exact("tag 34264 external value starts at 389, expected 388"),
        id="pointer-34264",
    ),
    pytest.param(
        EXAMPLE,
        put("Q", value_at(KEYS), 0),
        exact("tag 34735 external value starts at 0, expected 516"),
        id="pointer-34735",
    ),
    pytest.param(
        EXAMPLE,
        put("Q", value_at(KEYS), 2**64 - 1),
        exact("tag 34735 external value starts at 18446744073709551615, expected 516"),
        id="pointer-34735-max",
    ),
]


@pytest.mark.parametrize("opener", OPENERS)
@pytest.mark.parametrize(("name", "mutation", "match"), IFD_CASES)
def test_ifd(opener: Callable[..., object], name: str, mutation: Mutation, match: str) -> None:
    _rejects(opener, mutate(name, mutation), match)


# ---------------------------------------------------------------------------------------
# §14 A: geometry, frame unit, time count, sample type (§3, §5, §8)

GEOMETRY_CASES = [
    pytest.param(
        EXAMPLE, put("I", value_at(W), 0), exact("missing or zero image dimensions"), id="width-0"
    ),
    pytest.param(
        EXAMPLE, put("I", value_at(L), 0), exact("missing or zero image dimensions"), id="length-0"
    ),
    pytest.param(
        EXAMPLE,
        put("H", value_at(TW), 0),
        exact("file is not tiled (no TileWidth/TileLength)"),
        id="tile-width-0",
    ),
    pytest.param(
        EXAMPLE,
        put("H", value_at(TL), 0),
        exact("file is not tiled (no TileWidth/TileLength)"),
        id="tile-length-0",
    ),
    pytest.param(
        EXAMPLE,
        chain(
            put("H", value_at(B), 0),
            put("Q", count_at(BITS), 0),
            put("Q", value_at(BITS), 0),
            put("Q", count_at(FORMAT), 0),
            put("Q", value_at(FORMAT), 0),
        ),
        exact("SamplesPerPixel is 0"),
        id="bands-0",
    ),
    pytest.param(
        EXAMPLE,
        put("I", value_at(W), 100),
        exact("TileOffsets has 8 entries, but frame_unit 0 wants 16"),
        id="width-100",
    ),
    pytest.param(
        EXAMPLE,
        put("H", value_at(TL), 16),
        exact("TileOffsets has 8 entries, but frame_unit 0 wants 12"),
        id="tile-length-16",
    ),
    pytest.param(
        EXAMPLE,
        put("I", value_at(TIMES), 2),
        exact("TileOffsets has 8 entries, but frame_unit 0 wants 16"),
        id="time-count-2",
    ),
    pytest.param(
        EXAMPLE,
        put("H", value_at(UNIT), 1),
        exact("TileOffsets has 8 entries, but frame_unit 1 wants 4"),
        id="unit-1",
    ),
    pytest.param(
        EXAMPLE,
        put("I", value_at(L), 0xFFFFFFFF),
        exact("TileOffsets has 8 entries, but frame_unit 0 wants 536870912"),
        id="huge-length",
    ),
    pytest.param(
        EXAMPLE,
        put("I", value_at(TIMES), 0xFFFFFFFF),
        exact("TileOffsets has 8 entries, but frame_unit 0 wants 34359738360"),
        id="huge-time-count",
    ),
    pytest.param(
        EXAMPLE,
        put("I", value_at(TIMES), 0),
        exact("time_count is 0, which is not a usable count"),
        id="time-count-0",
    ),
    pytest.param(
        SINGLE,
        put("H", value_at(UNIT), 1),
        exact("frame_unit 1 does not fit 1 bands and 1 time steps"),
        id="unit-1-single-band",
    ),
    pytest.param(
        EXAMPLE,
        put("H", value_at(UNIT), 3),
        exact("frame_unit 3 does not fit 2 bands and 1 time steps"),
        id="unit-3-no-time",
    ),
    pytest.param(EXAMPLE, put("H", value_at(UNIT), 9), r"frame_unit.*\b9\b", id="unit-9-no-time"),
    pytest.param(
        INSTANTS,
        put("H", value_at(UNIT), 8),
        exact("frame_unit 8 does not fit 1 bands and 4 time steps"),
        id="unit-8-one-band",
    ),
    pytest.param(
        EXAMPLE,
        put("H", value_at(UNIT), 10),
        exact("frame_unit is 10, which names no frame layout"),
        id="unit-10",
    ),
    pytest.param(
        EXAMPLE,
        put("H", value_at(UNIT), 0xFFFF),
        exact("frame_unit is 65535, which names no frame layout"),
        id="unit-65535",
    ),
    pytest.param(
        ONE_FRAME,
        chain(*(put("I" if e in (W, L) else "H", value_at(e), 65535) for e in (W, L, TW, TL))),
        r"a decoded frame of 4294836225 bytes is past the size limit",
        id="frame-past-1GiB",
    ),
    pytest.param(
        EXAMPLE,
        put("2H", value_at(BITS), 8, 16),
        exact("mixed BitsPerSample is not supported"),
        id="mixed-bits",
    ),
    pytest.param(
        EXAMPLE,
        put("2H", value_at(FORMAT), 1, 2),
        exact("mixed SampleFormat is not supported"),
        id="mixed-format",
    ),
    pytest.param(
        EXAMPLE,
        put("2H", value_at(FORMAT), 4, 4),
        exact("unsupported (sample_format=4, bits_per_sample=8) pair"),
        id="dtype-4-8",
    ),
    pytest.param(
        EXAMPLE,
        put("2H", value_at(BITS), 12, 12),
        exact("unsupported (sample_format=1, bits_per_sample=12) pair"),
        id="dtype-1-12",
    ),
    pytest.param(
        EXAMPLE,
        put("2H", value_at(BITS), 4, 4),
        exact("unsupported (sample_format=1, bits_per_sample=4) pair"),
        id="dtype-uint4-of-016",
    ),
    pytest.param(
        U32,
        put("2H", value_at(FORMAT), 5, 5),
        exact("unsupported (sample_format=5, bits_per_sample=32) pair"),
        id="dtype-cint16-of-016",
    ),
    pytest.param(
        EXAMPLE,
        chain(put("2H", value_at(BITS), 6, 6), put("2H", value_at(FORMAT), 104, 104)),
        exact("unsupported (sample_format=104, bits_per_sample=6) pair"),
        id="dtype-float6-of-016",
    ),
]


@pytest.mark.parametrize("opener", OPENERS)
@pytest.mark.parametrize(("name", "mutation", "match"), GEOMETRY_CASES)
def test_geometry_and_dtype(
    opener: Callable[..., object], name: str, mutation: Mutation, match: str
) -> None:
    _rejects(opener, mutate(name, mutation), match)


HUGE = [
    pytest.param(EXAMPLE, put("I", value_at(L), 0xFFFFFFFF), id="length"),
    pytest.param(
        EXAMPLE,
        chain(put("I", value_at(W), 0xFFFFFFFF), put("I", value_at(L), 0xFFFFFFFF)),
        id="width-and-length",
    ),
    pytest.param(
        EXAMPLE,
        chain(
            put("I", value_at(W), 0xFFFFFFFF),
            put("I", value_at(L), 0xFFFFFFFF),
            put("H", value_at(TW), 1),
            put("H", value_at(TL), 1),
            put("I", value_at(TIMES), 0xFFFFFFFF),
        ),
        id="everything",
    ),
    pytest.param(
        EXAMPLE,
        chain(put("Q", count_at(OFFSETS), 2**62), put("Q", count_at(COUNTS), 2**62)),
        id="frame-count",
    ),
]


@pytest.mark.parametrize("opener", [_parse, _reader])
@pytest.mark.parametrize(("name", "mutation"), HUGE)
def test_huge_sizes_fail_fast(opener: Callable[..., object], name: str, mutation: Mutation) -> None:
    """N is checked against the grid before anything is allocated (FORMAT §14: 0xFFFFFFFF rows)."""
    data = mutate(name, mutation)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(RumiFormatError):
            opener(data)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 1 << 20


def test_same_grid_width_passes_the_index_and_fails_at_read() -> None:
    """FORMAT §14: ImageWidth 51 instead of 50 keeps the grid; only decoding notices."""
    data = mutate(EXAMPLE, put("I", value_at(W), 51))
    desc = parse_bytes(data)
    assert desc.grid.width == 51
    with pytest.raises(
        RumiFormatError, match=r"^frame 2 \(bytes 668\.\.728\): frame decodes to 576 bytes"
    ):
        xr.open_dataset(data, engine="rumi").load()


# ---------------------------------------------------------------------------------------
# §14 A: the frame table (§3.1)

FRAME_TABLE_CASES = [
    pytest.param(
        EXAMPLE,
        put("Q", OFFSETS_AT, 549),
        exact(
            "frame data starts at 549, the profile puts it at 548; "
            "the file has padding or a value out of place"
        ),
        id="gap-before-first-frame",
    ),
    pytest.param(
        ONE_FRAME,
        put("Q", value_at(OFFSETS), 453),
        exact("frame data starts at 453, the profile puts it at 452"),
        id="gap-before-inline-frame",
    ),
    pytest.param(
        EXAMPLE,
        put("Q", OFFSETS_AT + 8, 607),
        exact(
            "frame 1 is not contiguous (expected 608, got 607); "
            "the file is band-interleaved or has framing between frames"
        ),
        id="overlapping-frames",
    ),
    pytest.param(
        EXAMPLE,
        put("Q", OFFSETS_AT + 56, 968),
        exact("frame 7 is not contiguous (expected 967, got 968)"),
        id="gap-before-last-frame",
    ),
    pytest.param(
        EXAMPLE,
        swap(OFFSETS_AT + 8, OFFSETS_AT + 16, 8),
        exact("frame 1 is not contiguous (expected 608, got 668)"),
        id="reordered-frames",
    ),
    pytest.param(
        EXAMPLE,
        put("I", COUNTS_AT, 0),
        exact("frame 0 has a zero byte count"),
        id="zero-count-first",
    ),
    pytest.param(
        EXAMPLE,
        put("I", COUNTS_AT + 28, 0),
        exact("frame 7 has a zero byte count"),
        id="zero-count-last",
    ),
    pytest.param(
        EXAMPLE,
        put("I", COUNTS_AT + 28, 59 + 36),
        exact("frames end at 1062, leaving no room for a trailer in a file of 1062 bytes"),
        id="frames-end-at-eof",
    ),
    pytest.param(
        EXAMPLE,
        put("I", COUNTS_AT + 28, 59 + 37),
        exact("frame data needs 1063 bytes, source has 1062"),
        id="frames-end-past-eof",
    ),
    pytest.param(
        EXAMPLE,
        put("I", COUNTS_AT + 28, 0xFFFFFFFF),
        exact("frame data needs 4294968262 bytes, source has 1062"),
        id="count-max",
    ),
    pytest.param(
        EXAMPLE,
        cut(TRAILER_AT),
        exact("frames end at 1026, leaving no room for a trailer in a file of 1026 bytes"),
        id="cut-at-frames-end",
    ),
    pytest.param(
        EXAMPLE,
        cut(1000),
        exact("frame data needs 1026 bytes, source has 1000"),
        id="cut-in-frames",
    ),
    pytest.param(
        EXAMPLE, cut(BASE), exact("frame data needs 1026 bytes, source has 548"), id="cut-at-base"
    ),
]


@pytest.mark.parametrize("opener", OPENERS)
@pytest.mark.parametrize(("name", "mutation", "match"), FRAME_TABLE_CASES)
def test_frame_table(
    opener: Callable[..., object], name: str, mutation: Mutation, match: str
) -> None:
    _rejects(opener, mutate(name, mutation), match)


# ---------------------------------------------------------------------------------------
# §14 A: ModelTransformationTag and GeoKeyDirectoryTag (§7)

KEY = KEYS_AT + 8  # (1024, 0, 1, model)
RASTER = KEYS_AT + 16  # (1025, 0, 1, raster)
CRS = KEYS_AT + 24  # (3072, 0, 1, 32618)
NOCRS_MATRIX, NOCRS_KEYS = 292, 420

GEOREF_CASES = [
    pytest.param(
        EXAMPLE,
        put("H", KEYS_AT, 2),
        exact("GeoKeyDirectory header is 2 1 0 3, rumi writes 1 1 0 3"),
        id="key-directory-version",
    ),
    pytest.param(
        EXAMPLE,
        put("H", KEYS_AT + 6, 4),
        exact("GeoKeyDirectory header is 1 1 0 4, rumi writes 1 1 0 3"),
        id="key-count",
    ),
    pytest.param(
        EXAMPLE,
        put("H", KEY + 6, 3),
        exact("GTModelType is 3, rumi allows 0, 1 or 2"),
        id="model-type-3",
    ),
    pytest.param(
        EXAMPLE,
        put("H", RASTER + 6, 0),
        exact("GTRasterType is 0, rumi allows 1 or 2"),
        id="raster-type-0",
    ),
    pytest.param(
        EXAMPLE,
        put("H", RASTER + 6, 3),
        exact("GTRasterType is 3, rumi allows 1 or 2"),
        id="raster-type-3",
    ),
    pytest.param(
        EXAMPLE,
        put("H", KEY + 6, 2),
        exact("GTModelType 2 needs key 2048, found 3072"),
        id="geographic-model-projected-key",
    ),
    pytest.param(
        EXAMPLE,
        put("H", CRS + 6, 32767),
        exact("EPSG code 32767 is outside the 1024 to 32766 rumi accepts"),
        id="epsg-32767",
    ),
    pytest.param(
        EXAMPLE,
        put("H", CRS + 6, 1023),
        exact("EPSG code 1023 is outside the 1024 to 32766 rumi accepts"),
        id="epsg-1023",
    ),
    pytest.param(
        EXAMPLE,
        put("H", CRS + 2, 34736),
        exact(
            "GeoKey 3072 is stored as (3072, 34736, 1, 32618); "
            "rumi writes every key as (key_id, 0, 1, value)"
        ),
        id="key-in-double-params",
    ),
    pytest.param(
        EXAMPLE,
        put("H", KEY + 4, 2),
        exact("GeoKey 1024 is stored as (1024, 0, 2, 1)"),
        id="key-count-2",
    ),
    pytest.param(EXAMPLE, put("H", KEY, 1026), r"GeoKey ids.*1026", id="key-id-1024"),
    pytest.param(EXAMPLE, put("H", RASTER, 1024), r"GeoKey ids.*\(1024, 1024\)", id="key-id-1025"),
    pytest.param(
        EXAMPLE,
        put("H", KEY + 6, 0),
        exact("an undefined CRS needs key 2048 set to 0, found key 3072 set to 32618"),
        id="undefined-model-with-crs",
    ),
    pytest.param(
        EXAMPLE,
        chain(put("H", KEY + 6, 0), put("H", CRS + 6, 0)),
        exact("an undefined CRS needs key 2048 set to 0, found key 3072 set to 0"),
        id="undefined-model-projected-key",
    ),
    pytest.param(
        ONE_FRAME,
        put("H", NOCRS_KEYS + 30, 4326),
        exact("an undefined CRS needs key 2048 set to 0, found key 2048 set to 4326"),
        id="undefined-model-with-code",
    ),
    pytest.param(
        EXAMPLE,
        put("d", MATRIX_AT + 8 * 10, 1.0),
        exact("ModelTransformationTag element 10 is 1; only the six affine coefficients are free"),
        id="matrix-element-10",
    ),
    pytest.param(
        EXAMPLE,
        put("d", MATRIX_AT + 8 * 15, 2.0),
        exact("ModelTransformationTag element 15 is 2"),
        id="matrix-element-15",
    ),
    pytest.param(
        EXAMPLE,
        put("d", MATRIX_AT + 8 * 15, 0.0),
        exact("ModelTransformationTag element 15 is 0"),
        id="matrix-element-15-zero",
    ),
    pytest.param(
        EXAMPLE,
        put("d", MATRIX_AT + 8 * 2, float("nan")),
        exact("ModelTransformationTag element 2 is nan"),
        id="matrix-element-2-nan",
    ),
    pytest.param(
        EXAMPLE,
        put("d", MATRIX_AT + 8 * 12, -1.0),
        exact("ModelTransformationTag element 12 is -1"),
        id="matrix-element-12",
    ),
    pytest.param(
        ONE_FRAME,
        put("d", NOCRS_MATRIX, 10.0),
        exact(
            "an undefined CRS carries the identity-like matrix the specification fixes; "
            "element 0 is 10, not 1"
        ),
        id="undefined-crs-matrix-0",
    ),
    pytest.param(
        ONE_FRAME,
        put("d", NOCRS_MATRIX + 8 * 3, 500000.0),
        exact("element 3 is 500000, not 0"),
        id="undefined-crs-matrix-3",
    ),
    pytest.param(
        ONE_FRAME,
        put("d", NOCRS_MATRIX + 8 * 15, float("nan")),
        exact("element 15 is nan, not 1"),
        id="undefined-crs-matrix-nan",
    ),
]


@pytest.mark.parametrize("opener", OPENERS)
@pytest.mark.parametrize(("name", "mutation", "match"), GEOREF_CASES)
def test_georef(opener: Callable[..., object], name: str, mutation: Mutation, match: str) -> None:
    _rejects(opener, mutate(name, mutation), match)


# Whether the EPSG code is in the registry and of the kind GTModelType says is asked of PROJ
# when coordinates are built, not while parsing: the bytes parse whatever PROJ is installed.

CRS_CASES = [
    pytest.param(
        EXAMPLE,
        put("H", CRS + 6, 4326),
        exact("EPSG 4326 is geographic but GTModelType says projected"),
        id="geographic-code-projected-model",
    ),
    pytest.param(
        GEOGRAPHIC,
        put("H", 468 + 30, 32618),
        exact("EPSG 32618 is projected but GTModelType says geographic"),
        id="projected-code-geographic-model",
    ),
    pytest.param(
        EXAMPLE,
        put("H", CRS + 6, 1025),
        exact("EPSG code 1025 is not in the registry"),
        id="epsg-unknown",
    ),
    pytest.param(
        EXAMPLE,
        put("H", CRS + 6, 4978),
        exact("EPSG:4978 is not a projected or geographic CRS"),
        id="epsg-geocentric",
    ),
    pytest.param(
        EXAMPLE,
        put("H", CRS + 6, 5714),
        exact("EPSG:5714 is not a projected or geographic CRS"),
        id="epsg-vertical",
    ),
]


def _coords(data: bytes, header: bytes | None = None) -> object:
    return file_coords(parse_bytes(data, header))


def _references(data: bytes, header: bytes | None = None) -> object:
    return references(data, header=header, url="file:///example.rumi")


CRS_OPENERS = [
    pytest.param(_xarray, id="open_dataset"),
    pytest.param(_coords, id="file_coords"),
    pytest.param(_references, id="references"),
]


@pytest.mark.parametrize("opener", CRS_OPENERS)
@pytest.mark.parametrize(("name", "mutation", "match"), CRS_CASES)
def test_crs_when_coordinates_are_built(
    opener: Callable[..., object], name: str, mutation: Mutation, match: str
) -> None:
    data = mutate(name, mutation)
    assert parse_bytes(data).georef.epsg == read_description(BytesReader(data)).georef.epsg
    _rejects(opener, data, match)


@pytest.mark.parametrize(("name", "mutation", "match"), CRS_CASES)
def test_crs_of_every_source_of_a_stack(name: str, mutation: Mutation, match: str) -> None:
    """Not only the first file's, whose coordinates the stack shows."""
    with pytest.raises(RumiFormatError, match=match) as info:
        open_stack([_read(name), mutate(name, mutation)])
    assert any("source 1" in note for note in info.value.__notes__)


def test_georef_offsets_of_geographic_fixture() -> None:
    data = _read(GEOGRAPHIC)
    assert _frame_table(data)[0][0] == 500
    assert struct.unpack_from("<8H", data, 468 + 8) == (1024, 0, 1, 2, 1025, 0, 1, 2)
    assert struct.unpack_from("<4H", data, 468 + 24) == (2048, 0, 1, 4326)


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(put("d", MATRIX_AT, float("nan")), id="nan-x-resolution"),
        pytest.param(put("6d", MATRIX_AT, *[0.0] * 6), id="all-zero-affine-row"),
        pytest.param(put("H", RASTER + 6, 2), id="pixel-is-point"),
    ],
)
def test_georef_accepts(mutation: Mutation) -> None:
    """FORMAT §7: NaN and all-zero affine values are accepted; PixelIsPoint is a valid raster type."""
    desc = parse_bytes(mutate(EXAMPLE, mutation))
    assert desc.georef.epsg == 32618


def test_parse_georef_short_buffer() -> None:
    with pytest.raises(
        RumiFormatError, match=r"georeferencing tags at byte 388: expected 160 bytes"
    ):
        parse_georef(_read(EXAMPLE)[MATRIX_AT : BASE - 1], MATRIX_AT)


# ---------------------------------------------------------------------------------------
# §14 A: the trailer (§9)

TEXTS = (b"B1", b"B2")


def example_tail(
    *, texts: Sequence[bytes] = TEXTS, time: bytes = EXAMPLE_TIME, **kw: object
) -> Mutation:
    return retail(_tail(*texts, time=time, **kw))


BACKWARD = [1704067200, 1704931200, 1704931200 - DAY, 1707091200]
M = 2**62 + 1  # zigzag 2M needs 64 bits; M - (-M) overflows int64

TRAILER_CASES = [
    pytest.param(
        EXAMPLE,
        put("4s", TRAILER_AT, b"TAIX"),
        exact("no trailer where the frames end, at 1026"),
        id="magic",
    ),
    pytest.param(
        EXAMPLE, cut(1030), exact("no trailer where the frames end, at 1026"), id="cut-in-magic"
    ),
    pytest.param(
        EXAMPLE,
        put("H", TRAILER_AT + 4, 2),
        exact("trailer version 2, this reader implements 1"),
        id="version",
    ),
    pytest.param(EXAMPLE, put("H", 1032, 0), exact("band 0 has an empty text"), id="empty-text"),
    pytest.param(
        EXAMPLE,
        example_tail(texts=(b"B1", b"")),
        exact("band 1 has an empty text"),
        id="empty-text-1",
    ),
    pytest.param(EXAMPLE, put("B", 1035, 0), exact("band 0 text contains a NUL byte"), id="nul"),
    pytest.param(EXAMPLE, put("B", 1034, 0xFF), exact("band 0 text is not valid UTF-8"), id="utf8"),
    pytest.param(
        EXAMPLE,
        example_tail(texts=(b"B1", b"\xc3")),
        exact("band 1 text is not valid UTF-8"),
        id="utf8-cut",
    ),
    pytest.param(
        EXAMPLE,
        example_tail(texts=(b"B1", b"\xed\xa0\x80")),
        exact("band 1 text is not valid UTF-8"),
        id="utf8-surrogate",
    ),
    pytest.param(
        EXAMPLE, put("B", 1039, ord("1")), exact("bands 0 and 1 have the same text"), id="duplicate"
    ),
    pytest.param(
        EXAMPLE,
        put("H", 1032, 1000),
        exact("the trailer ends inside the text of band 0, at 1032"),
        id="text-past-eof",
    ),
    pytest.param(
        EXAMPLE,
        cut(1037),
        exact("the trailer ends inside the text of band 1, at 1036"),
        id="cut-in-length",
    ),
    pytest.param(
        EXAMPLE,
        cut(1050),
        exact("the trailer ends before its time fields, at 1040"),
        id="cut-in-time",
    ),
    pytest.param(
        EXAMPLE,
        put("B", 1040, 0),
        exact("time_type is 0; rumi records intervals (1) or instants (2)"),
        id="time-kind-0",
    ),
    pytest.param(EXAMPLE, put("B", 1040, 3), exact("time_type is 3;"), id="time-kind-3"),
    pytest.param(
        EXAMPLE,
        put("B", 1041, 8),
        exact("the time residuals need 1 bytes, the trailer has 0"),
        id="residuals-short",
    ),
    pytest.param(
        INSTANTS,
        retail(_tail(b"ndvi", time=_canonical_time(TimeKind.INSTANT, INSTANT_SECONDS)[:-1])),
        exact("the time residuals need 2 bytes, the trailer has 1"),
        id="residuals-cut",
    ),
    pytest.param(
        INSTANTS,
        retail(
            _tail(b"ndvi", time=b"\x01" + _canonical_time(TimeKind.INSTANT, INSTANT_SECONDS)[1:])
        ),
        exact("the time residuals need 3 bytes, the trailer has 2"),
        id="instants-read-as-intervals",
    ),
    pytest.param(
        EXAMPLE,
        append(b"\x00"),
        exact(
            "the trailer has 1 extra byte after the time residuals; a file ends with its trailer"
        ),
        id="residuals-extra",
    ),
    pytest.param(
        EXAMPLE, append(b"\x00" * 7), r"the trailer has 7 extra byte", id="residuals-extra-7"
    ),
    pytest.param(
        EXAMPLE,
        append(bytes(140_000)),
        r"the file has 140036 bytes after its frames, more than a trailer for 2 bands and 1 time "
        r"steps can hold",
        id="trailer-past-its-bound",
    ),
    pytest.param(
        EXAMPLE,
        put("I", 1058, 3600),
        exact("time_scale is 3600; rumi stores seconds (1) or whole days (86400)"),
        id="scale-3600",
    ),
    pytest.param(EXAMPLE, put("I", 1058, 0), exact("time_scale is 0;"), id="scale-0"),
    pytest.param(
        EXAMPLE,
        example_tail(time=_canonical_time(TimeKind.INSTANT, [1704067200], scale=1)),
        exact(
            "time_scale is seconds but every coordinate falls on a whole day, which rumi stores as days"
        ),
        id="scale-1-on-days",
    ),
    pytest.param(
        EXAMPLE,
        example_tail(time=_time(TimeKind.INSTANT, 1, 19724, 0, DAY, b"\x01")),
        exact("time_epoch is not the first coordinate"),
        id="origin",
    ),
    pytest.param(
        EXAMPLE,
        put("q", 1050, 5),
        exact("time_step is not the slope the coordinates imply"),
        id="step-one-instant",
    ),
    pytest.param(
        INSTANTS,
        retail(
            _tail(b"ndvi", time=_time(TimeKind.INSTANT, 3, 19723, 11, DAY, _pack([0, 1, 3, 4], 3)))
        ),
        exact("time_step is not the slope the coordinates imply"),
        id="step-four-instants",
    ),
    pytest.param(
        EXAMPLE,
        example_tail(time=_time(TimeKind.INSTANT, 1, 19723, 0, DAY, b"\x00")),
        exact("time_bits is not the width the residuals need"),
        id="bits-too-wide",
    ),
    pytest.param(
        EXAMPLE,
        example_tail(time=_time(TimeKind.INSTANT, 1, 19723, 0, DAY, b"\x02")),
        exact("the unused bits of the last residual byte are not zero"),
        id="unused-bits",
    ),
    pytest.param(
        EXAMPLE,
        example_tail(time=_time(TimeKind.INSTANT, 65, 19723, 0, DAY, bytes(9))),
        r"time_bits.*65",
        id="bits-65",
    ),
    pytest.param(
        EXAMPLE,
        put("q", 1042, 2**62),
        exact("a time coordinate in seconds does not fit in int64"),
        id="int64-origin",
    ),
    pytest.param(
        EXAMPLE,
        put("q", 1042, -(2**62)),
        exact("a time coordinate in seconds does not fit in int64"),
        id="int64-negative-origin",
    ),
    pytest.param(
        INSTANTS,
        retail(_tail(b"ndvi", time=_time(TimeKind.INSTANT, 0, 0, 2**62, 1))),
        exact("a time coordinate in seconds does not fit in int64"),
        id="int64-step",
    ),
    pytest.param(
        INSTANTS,
        retail(_tail(b"ndvi", time=_canonical_time(TimeKind.INSTANT, BACKWARD))),
        exact("time coordinate 2 goes backwards"),
        id="instants-backwards",
    ),
    pytest.param(
        INSTANTS,
        retail(_tail(b"ndvi", time=_canonical_time(TimeKind.INSTANT, [0, M, -M, 0]))),
        exact("time coordinate 2 goes backwards"),
        id="instants-backwards-past-int64",
    ),
    pytest.param(
        INTERVALS,
        retail(
            _tail(
                b"ndvi",
                time=_canonical_time(
                    TimeKind.INTERVAL,
                    [INTERVAL_SECONDS[0], INTERVAL_SECONDS[0], *INTERVAL_SECONDS[2:]],
                ),
            )
        ),
        exact("time step 0 starts at or after it ends, so it covers nothing"),
        id="interval-empty",
    ),
    pytest.param(
        INTERVALS,
        retail(
            _tail(
                b"ndvi",
                time=_canonical_time(
                    TimeKind.INTERVAL,
                    [*INTERVAL_SECONDS[:3], INTERVAL_SECONDS[4] + 3600, *INTERVAL_SECONDS[4:]],
                ),
            )
        ),
        exact(
            "time step 1 ends after step 2 starts; rumi records steps that meet or leave a gap, "
            "never steps that overlap"
        ),
        id="intervals-overlap",
    ),
    pytest.param(
        EXAMPLE,
        retail(_tail(time=_time(0, 0, 0, 0, DAY), magic=b"TIME")),
        exact("a trailer without time must hold bits 0, origin 0, step 0, scale 1"),
        id="time-trailer-kind-0-scale",
    ),
    pytest.param(
        EXAMPLE,
        retail(_tail(time=_time(3, 0, 0, 0, 1), magic=b"TIME")),
        exact("time_type is 3; rumi records intervals (1) or instants (2) or none (0)"),
        id="time-trailer-kind-3",
    ),
]


@pytest.mark.parametrize("opener", OPENERS)
@pytest.mark.parametrize(("name", "mutation", "match"), TRAILER_CASES)
def test_trailer(opener: Callable[..., object], name: str, mutation: Mutation, match: str) -> None:
    _rejects(opener, mutate(name, mutation), match)


@pytest.mark.parametrize(
    ("name", "trailer", "seconds"),
    [
        pytest.param(
            INSTANTS,
            _tail(b"ndvi", time=_canonical_time(TimeKind.INSTANT, [0, 0, DAY, DAY])),
            [0, 0, DAY, DAY],
            id="equal-instants",
        ),
        pytest.param(
            INSTANTS,
            _tail(b"ndvi", time=_canonical_time(TimeKind.INSTANT, [-DAY, 1, 3600, 2**40])),
            [-DAY, 1, 3600, 2**40],
            id="seconds-before-1970",
        ),
        pytest.param(
            EXAMPLE,
            _tail("bände".encode(), "😀".encode(), time=_canonical_time(TimeKind.INTERVAL, [0, 1])),
            [[0, 1]],
            id="utf8-texts-one-interval",
        ),
    ],
)
def test_trailer_accepts(name: str, trailer: bytes, seconds: list) -> None:
    """Canonical trailers the writer could produce still parse (the checks are not too strict)."""
    desc = parse_bytes(mutate(name, retail(trailer)))
    assert desc.time is not None and desc.time.seconds.tolist() == seconds


def test_time_trailer_without_time_parses() -> None:
    """A 0.18-0.24 ``TIME`` trailer may record no time (kind 0, FORMAT §9)."""
    desc = parse_bytes(mutate(EXAMPLE, retail(_tail(time=_time(0, 0, 0, 0, 1), magic=b"TIME"))))
    assert desc.generation is Generation.RUMI_TIME
    assert desc.time is None and desc.band_texts is None


def test_parse_trailer_directly() -> None:
    tail = _read(EXAMPLE)[TRAILER_AT:]
    assert parse_trailer(tail, bands=2, times=1, offset=TRAILER_AT).band_texts == ("B1", "B2")
    with pytest.raises(RumiFormatError, match=exact("no trailer where the frames end, at 7")):
        parse_trailer(b"", bands=2, times=1, offset=7)
    with pytest.raises(
        RumiFormatError, match=exact("the trailer ends inside the text of band 2, at 1040")
    ):
        parse_trailer(tail[:14], bands=3, times=1, offset=TRAILER_AT)
    with pytest.raises(RumiFormatError, match=exact("time_scale is 0;")):
        parse_trailer(tail, bands=1, times=1, offset=TRAILER_AT)  # "B2" read as the time block


# ---------------------------------------------------------------------------------------
# §14 B: header blobs (§10)

BLOB_CASES = [
    pytest.param(b"", exact("the header blob is empty"), id="empty"),
    pytest.param(
        _header(EXAMPLE)[:31], exact("blob shorter than header (31 < 32 bytes)"), id="short"
    ),
    pytest.param(
        _header(EXAMPLE)[:4], exact("blob shorter than header (4 < 32 bytes)"), id="magic-only"
    ),
    pytest.param(
        b"LOVF" + _header(EXAMPLE)[4:],
        r"blob magic at byte 0: expected b'LOVE', found b'LOVF'",
        id="magic",
    ),
    pytest.param(b"RUMI" + _header(EXAMPLE)[4:], r"blob magic", id="file-magic"),
    pytest.param(
        bytes(put("H", 4, 2)(bytearray(_header(EXAMPLE)))),
        exact("blob version at byte 4: expected 1, found 2"),
        id="version",
    ),
    pytest.param(_blob(width=0), r"invalid dimensions", id="width-0"),
    pytest.param(_blob(length=0), r"invalid dimensions", id="length-0"),
    pytest.param(_blob(times=0), r"invalid dimensions", id="times-0"),
    pytest.param(_blob(tile=(0, 32)), r"invalid dimensions", id="tile-width-0"),
    pytest.param(_blob(tile=(32, 0)), r"invalid dimensions", id="tile-length-0"),
    pytest.param(_blob(bands=0), r"invalid dimensions", id="bands-0"),
    pytest.param(_blob(width=2**31), r"invalid dimensions", id="width-2**31"),
    pytest.param(_blob(length=2**32 - 1), r"invalid dimensions", id="length-2**32-1"),
    pytest.param(
        _blob(sample_format=4),
        exact("unsupported (sample_format=4, bits_per_sample=8) pair"),
        id="format-4",
    ),
    pytest.param(
        _blob(bits=12),
        exact("unsupported (sample_format=1, bits_per_sample=12) pair"),
        id="bits-12",
    ),
    pytest.param(
        _blob(bits=32, sample_format=5),
        exact("unsupported (sample_format=5, bits_per_sample=32) pair"),
        id="cint16-of-016",
    ),
    pytest.param(
        _blob(bits=4, sample_format=1),
        exact("unsupported (sample_format=1, bits_per_sample=4) pair"),
        id="uint4-of-016",
    ),
    pytest.param(
        _blob(unit=10), exact("frame_unit is 10, which names no frame layout"), id="unit-10"
    ),
    pytest.param(
        _blob(unit=255), exact("frame_unit is 255, which names no frame layout"), id="unit-255"
    ),
    pytest.param(
        _blob(unit=3),
        exact("frame_unit 3 does not fit 2 bands and 1 time steps"),
        id="unit-3-no-time",
    ),
    pytest.param(
        _blob(bands=1, unit=1, counts=[60, 60, 60, 59]),
        exact("frame_unit 1 does not fit 1 bands and 1 time steps"),
        id="unit-1-single-band",
    ),
    pytest.param(_blob(unit=9), r"frame_unit.*\b9\b", id="unit-9-no-time"),
    pytest.param(_blob(count_bits=33), exact("count_bits above 32 (33)"), id="count-bits-33"),
    pytest.param(_blob(count_bits=255), exact("count_bits above 32 (255)"), id="count-bits-255"),
    pytest.param(
        _header(EXAMPLE) + b"\x00", r"blob size does not match frame count", id="one-byte-more"
    ),
    pytest.param(
        _header(EXAMPLE)[:32], r"blob size does not match frame count", id="one-byte-less"
    ),
    pytest.param(
        _blob(counts=EXAMPLE_COUNTS * 2),
        r"blob size does not match frame count",
        id="counts-of-16-frames",
    ),
    pytest.param(
        _blob(count_min=0, counts=[0] * 8), exact("frame byte count is zero"), id="count-0"
    ),
    pytest.param(
        _blob(count_min=58, count_bits=2),
        exact("frame byte counts are not packed canonically"),
        id="count-min-below-min",
    ),
    pytest.param(
        _blob(count_bits=2),
        exact("frame byte counts are not packed canonically"),
        id="count-bits-too-wide",
    ),
    pytest.param(
        _blob(count_bits=8),
        exact("frame byte counts are not packed canonically"),
        id="count-bits-8",
    ),
    pytest.param(
        _blob(counts=[59] * 8, count_bits=1),
        exact("frame byte counts are not packed canonically"),
        id="count-bits-for-equal-counts",
    ),
    pytest.param(
        _header(SINGLE)[:-1] + bytes([_header(SINGLE)[-1] | 0x80]),
        exact("frame byte counts are not packed canonically"),
        id="unused-trailing-bit",
    ),
    pytest.param(
        _blob(width=2**31 - 1, length=2**31 - 1, tile=(1, 1), counts=[1]),
        r"frame count overflows uint32",
        id="frame-count-overflow",
    ),
    pytest.param(
        _blob(width=4097, length=4097, tile=(1, 1), bands=1, counts=[1]),
        exact("the blob declares 16785409 frames, more than the 16777216 accepted"),
        id="frames-past-the-blob-limit",
    ),
    pytest.param(
        _blob(width=65535, length=65535, tile=(65535, 65535), bands=1, counts=[100]),
        r"a decoded frame of 4294836225 bytes is past the size limit",
        id="frame-past-1GiB",
    ),
]


@pytest.mark.parametrize(("blob", "match"), BLOB_CASES)
@pytest.mark.parametrize("generation", [None, Generation.RUMI_TAIL])
def test_blob(blob: bytes, match: str, generation: Generation | None) -> None:
    with pytest.raises(RumiFormatError, match=match):
        parse_blob(blob, generation=generation)


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        pytest.param(
            _blob(width=4097, length=4097, tile=(1, 1), bands=1, counts=[1]),
            r"frame data needs at least \d+ bytes, source has 1062",
            id="many-frames",
        ),
        pytest.param(
            _blob(counts=[1000] * 8),
            exact("frame data needs at least 8548 bytes, source has 1062"),
            id="count-min-1000",
        ),
        pytest.param(
            _blob(counts=[*EXAMPLE_COUNTS[:7], 59 + 1000]),
            exact("frame data needs 2026 bytes, source has 1062"),
            id="last-count-plus-1000",
        ),
        pytest.param(
            _blob(counts=[*EXAMPLE_COUNTS[:7], 60]),
            exact("no trailer where the frames end, at 1027"),
            id="last-count-plus-1",
        ),
        pytest.param(
            _blob(unit=1, counts=[60] * 4),
            # base 500, so the georef bytes [340, 500) are the byte counts and half the matrix
            exact("GeoKeyDirectory header is 0 0 0 0, rumi writes 1 1 0 3"),
            id="unit-1-for-a-unit-0-file",
        ),
        pytest.param(
            _header(EXAMPLE_016), exact("blob shorter than header (29 < 32 bytes)"), id="016-blob"
        ),
        pytest.param(b"", exact("the header blob is empty"), id="empty"),
    ],
)
@pytest.mark.parametrize("opener", OPENERS)
def test_blob_against_source(opener: Callable[..., object], blob: bytes, match: str) -> None:
    """§14 B/C: a blob claiming more frame bytes than the source holds, or counts wrong for it."""
    _rejects(opener, _read(EXAMPLE), match, header=blob)


@pytest.mark.parametrize(
    ("length", "match"),
    [
        pytest.param(3, exact("could not read the 16-byte rumi file header"), id="3"),
        pytest.param(600, exact("frame data needs at least 1020 bytes, source has 600"), id="600"),
        pytest.param(1020, exact("frame data needs 1026 bytes, source has 1020"), id="1020"),
        pytest.param(
            TRAILER_AT,
            exact("frames end at 1026, leaving no room for a trailer in a file of 1026 bytes"),
            id="1026",
        ),
        pytest.param(1050, exact("the trailer ends before its time fields, at 1040"), id="1050"),
    ],
)
@pytest.mark.parametrize("opener", OPENERS)
def test_truncated_source_with_blob(opener: Callable[..., object], length: int, match: str) -> None:
    _rejects(opener, _read(EXAMPLE)[:length], match, header=_header(EXAMPLE))


# ---------------------------------------------------------------------------------------
# §14 C: what only reading pixels finds


def _frame(name: str, k: int) -> bytes:
    offsets, counts, _, _ = _frame_table(_read(name))
    return _read(name)[offsets[k] : offsets[k] + counts[k]]


def _bool_frame_with(value: int) -> bytes:
    """bool_b2_tile with byte 5 of frame 0 set to ``value``, re-compressed with geozl."""
    raw = decompress(_frame(BOOL, 0), nbytes=64)
    raw[5] = value
    return _replace_frame(_read(BOOL), 0, compress(raw.reshape(8, 8)))


LOAD_CASES = [
    pytest.param(
        mutate(EXAMPLE, xor(BASE + 22)),
        None,
        r"^frame 0 \(bytes 548\.\.608\): OpenZL decode failed",
        id="corrupt-payload",
    ),
    pytest.param(
        mutate(EXAMPLE, xor(BASE + 30, 0x01)),
        None,
        r"^frame 0 \(bytes 548\.\.608\): OpenZL decode failed",
        id="corrupt-payload-bit",
    ),
    pytest.param(
        mutate(EXAMPLE, put("4s", BASE, bytes(4))),
        None,
        r"^frame 0 \(bytes 548\.\.608\): OpenZL frame header unreadable",
        id="openzl-magic",
    ),
    pytest.param(
        mutate(EXAMPLE, put("4s", 728, b"\xd9\xa5\xb1\xd7")),
        None,
        r"^frame 3 \(bytes 728\.\.788\): ",
        id="openzl-format-version",
    ),
    pytest.param(
        mutate(EXAMPLE, put("I", value_at(W), 51)),
        None,
        r"^frame 2 \(bytes 668\.\.728\): frame decodes to 576 bytes",
        id="width-51-same-grid",
    ),
    pytest.param(
        _read(EXAMPLE),
        _blob(width=51),
        r"^frame 2 \(bytes 668\.\.728\): frame decodes to 576 bytes",
        id="blob-width-51",
    ),
    pytest.param(
        _read(EXAMPLE),
        _blob(bits=16, sample_format=1),
        r"^frame 0 \(bytes 548\.\.608\): frame decodes to 1024 bytes",
        id="blob-uint16-for-uint8",
    ),
    pytest.param(
        _read(EXAMPLE),
        _blob(counts=[59, *EXAMPLE_COUNTS[1:7], 60]),
        r"^frame 0 \(bytes 548\.\.607\): OpenZL decode failed: .*Source size too small",
        id="blob-counts-permuted",
    ),
    pytest.param(
        _replace_frame(_read(EXAMPLE), 0, _frame(EXAMPLE, 0) + b"\x00"),
        None,
        r"^frame 0 \(bytes 548\.\.609\): OpenZL decode failed: .*Source size too large",
        id="frame-with-trailing-byte",
    ),
    pytest.param(
        _replace_frame(_read(EXAMPLE), 0, _frame(EXAMPLE, 0)[:-1]),
        None,
        r"^frame 0 \(bytes 548\.\.607\): OpenZL decode failed: .*Source size too small",
        id="frame-missing-a-byte",
    ),
    pytest.param(
        _replace_frame(_read(EXAMPLE), 0, compress(np.zeros(100, np.uint8))),
        None,
        r"^frame 0 \(bytes 548\.\.\d+\): frame decodes to 100 bytes",
        id="frame-of-100-samples",
    ),
    pytest.param(
        _replace_frame(_read(EXAMPLE), 7, _frame(EXAMPLE, 0)),
        None,
        r"^frame 7 \(bytes 967\.\.1027\): frame decodes to 1024 bytes",
        id="frame-of-another-tile",
    ),
    pytest.param(
        _bool_frame_with(2),
        None,
        r"^frame 0 \(bytes \d+\.\.\d+\): byte 5 of a decoded bool frame is 2, neither 0 nor 1",
        id="bool-byte-2",
    ),
    pytest.param(
        _bool_frame_with(255),
        None,
        r"^frame 0 \(bytes \d+\.\.\d+\): byte 5 of a decoded bool frame is 255, neither 0 nor 1",
        id="bool-byte-255",
    ),
]


@pytest.mark.parametrize(("data", "header", "match"), LOAD_CASES)
def test_rejected_at_load(data: bytes, header: bytes | None, match: str) -> None:
    """§14 C: the index (or blob) is fine, the frame is not; loading pixels raises."""
    parse_bytes(data, header)
    ds = xr.open_dataset(data, engine="rumi", header=header)
    with pytest.raises(RumiFormatError, match=match):
        ds.load()


def test_only_the_frames_read_are_checked() -> None:
    """A corrupt frame 0 does not stop a window that never touches it."""
    ds = xr.open_dataset(mutate(EXAMPLE, xor(BASE + 22)), engine="rumi")
    right = ds.band_data.isel(x=slice(32, 50)).values
    expected = (np.arange(40)[:, None] + np.arange(32, 50)[None, :]) % 256
    np.testing.assert_array_equal(right[0], expected)
    with pytest.raises(RumiFormatError, match=r"^frame 0 "):
        ds.band_data.isel(x=0, y=0).load()


def test_recompressed_bool_frame_control() -> None:
    """The re-compression used by the bool cases reads back when the bytes stay 0/1."""
    raw = decompress(_frame(BOOL, 0), nbytes=64)
    data = _bool_frame_with(int(raw[5]))
    loaded = xr.open_dataset(data, engine="rumi").load()
    reference = xr.open_dataset(_read(BOOL), engine="rumi").load()
    np.testing.assert_array_equal(loaded.band_data.values, reference.band_data.values)


def test_frame_of_the_wrong_element_width() -> None:
    """FORMAT §6/§14 C: the element width must be the storage width (rumi-eo: "unexpected
    frame output"), whether the width is learnt by decoding or known from the skeleton."""
    frame = compress(np.zeros(512, np.uint16))
    data = _replace_frame(_read(EXAMPLE), 0, frame)
    for _ in range(2):  # the second read knows the width from the frame's skeleton
        ds = xr.open_dataset(data, engine="rumi")
        with pytest.raises(
            RumiFormatError,
            match=r"^frame 0 \(bytes 548\.\.\d+\): frame output element width is 2 bytes,"
            r" expected 1",
        ):
            ds.load()


@pytest.mark.parametrize("graph", [None, "store", "zstd"])
def test_frame_of_the_right_element_width_control(graph: str | None) -> None:
    """A re-compressed frame of the storage width reads back (geozl and plain graphs)."""
    reference = xr.open_dataset(_read(EXAMPLE), engine="rumi").load()
    raw = decompress(_frame(EXAMPLE, 0), nbytes=1024)
    frame = compress(raw, recipe=None, graph=graph) if graph else compress(raw)
    for _ in range(2):
        loaded = xr.open_dataset(_replace_frame(_read(EXAMPLE), 0, frame), engine="rumi").load()
        np.testing.assert_array_equal(loaded.band_data.values, reference.band_data.values)


SERIAL_FRAME = bytes.fromhex(
    "d8a5b1d703011181010110000102030405060708090a0b0c0d0e0fdb7017f60a09f42e00"
)
"""bytes 0..15 as one OpenZL ``Serial`` output (graph Store, format 24), built with openzl.ext."""


def test_serial_frame() -> None:
    """FORMAT §6: a frame must decode to one Numeric output."""
    ds = xr.open_dataset(_replace_frame(_read(EXAMPLE), 0, SERIAL_FRAME), engine="rumi")
    with pytest.raises(RumiFormatError, match=r"^frame 0 \(bytes 548\.\.584\): .*Serial"):
        ds.load()


# ---------------------------------------------------------------------------------------
# The 0.15/0.16 BigTIFF profile (§12)

IFD_END_016 = 252

PROFILE_016_CASES = [
    pytest.param(
        put("2s", 0, b"MM"),
        exact("rumi requires little-endian TIFF (II); file starts with 0x4D 0x4D"),
        id="mm",
    ),
    pytest.param(
        put("H", 2, 42), exact("rumi requires BigTIFF; file is classic TIFF"), id="classic-tiff"
    ),
    pytest.param(
        put("H", 4, 4),
        exact("BigTIFF header at byte 2: expected (43, 8, 0), found (43, 4, 0)"),
        id="offset-size",
    ),
    pytest.param(put("H", 6, 1), r"BigTIFF header at byte 2: .*found \(43, 8, 1\)", id="reserved"),
    pytest.param(
        put("Q", 8, 17),
        exact("rumi requires the IFD at byte 16; file puts it at 17"),
        id="ifd-offset",
    ),
    pytest.param(cut(15), exact("could not read the 16-byte rumi file header"), id="cut-in-header"),
    pytest.param(cut(100), exact("could not read the IFD entries"), id="cut-in-ifd"),
    pytest.param(
        put("Q", 16, 13),
        exact("rumi requires exactly 11 IFD tags; file has 13"),
        id="entry-count-13",
    ),
    pytest.param(
        put("Q", 16, 12),
        exact("rumi requires exactly 11 IFD tags; file has 12"),
        id="entry-count-12",
    ),
    pytest.param(
        put("Q", IFD_END_016 - 8, 1),
        exact("rumi requires a single IFD; the file chains another one"),
        id="next-ifd",
    ),
    pytest.param(
        put("H", tag_at(KEYS), 65000),
        exact("IFD entry 10 is tag 65000, expected tag 34735 in rising order"),
        id="rumi-tag",
    ),
    pytest.param(
        append(b"\x00"),
        exact(
            "frames end at 1002 but the file is 1003 bytes; it is truncated or has trailing bytes"
        ),
        id="trailing-byte",
    ),
    pytest.param(
        append(_tail(b"B1", b"B2", time=EXAMPLE_TIME)),
        r"frames end at 1002 but the file is 1038 bytes",
        id="tail-trailer",
    ),
    pytest.param(cut(1001), exact("frame data needs 1002 bytes, source has 1001"), id="truncated"),
    pytest.param(
        put("Q", IFD_END_016, 509),
        exact("frame data starts at 509, the profile puts it at 508"),
        id="gap-before-first-frame",
    ),
    pytest.param(
        put("Q", IFD_END_016 + 8, 571),
        exact("frame 1 is not contiguous (expected 570, got 571)"),
        id="non-contiguous",
    ),
    pytest.param(
        put("I", value_at(W), 200),
        exact("TileOffsets has 8 entries, but a 0.16 file wants 14 (cell) or 28 (tile)"),
        id="frame-count",
    ),
    pytest.param(
        put("2H", value_at(BITS), 12, 12),
        exact("unsupported (sample_format=1, bits_per_sample=12) pair"),
        id="dtype-1-12",
    ),
    pytest.param(
        put("2H", value_at(FORMAT), 107, 107),
        exact("unsupported (sample_format=107, bits_per_sample=8) pair"),
        id="fnuz-of-026",
    ),
    pytest.param(
        put("H", 476 + 6, 4),
        exact("GeoKeyDirectory header is 1 1 0 4, rumi writes 1 1 0 3"),
        id="geokeys",
    ),
]


@pytest.mark.parametrize("opener", OPENERS)
@pytest.mark.parametrize(("mutation", "match"), PROFILE_016_CASES)
def test_016_profile(opener: Callable[..., object], mutation: Mutation, match: str) -> None:
    _rejects(opener, mutate(EXAMPLE_016, mutation), match)


def test_016_offsets() -> None:
    data = _read(EXAMPLE_016)
    assert struct.unpack_from("<Q", data, 16) == (11,)
    offsets, counts, offsets_at, _ = _frame_table(data)
    assert (
        offsets_at == IFD_END_016 and offsets[:2] == [508, 570] and sum(counts) + 508 == len(data)
    )
    assert struct.unpack_from("<4H", data, 476) == (1, 1, 0, 3)


BLOB_016 = _header(EXAMPLE_016)


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        pytest.param(BLOB_016[:27], exact("blob shorter than header (27 < 28 bytes)"), id="short"),
        pytest.param(
            bytes(put("B", 22, 2)(bytearray(BLOB_016))),
            r"blob frame_unit: expected 0 \(tile\) or 1 \(cell\), found 2",
            id="unit-2",
        ),
        pytest.param(
            bytes(put("H", 4, 2)(bytearray(BLOB_016))),
            exact("blob version at byte 4: expected 1, found 2"),
            id="version",
        ),
        pytest.param(
            _blob(bits=8, sample_format=107, counts=[62] * 6 + [61] * 2, v016=True),
            exact("unsupported (sample_format=107, bits_per_sample=8) pair"),
            id="fnuz-of-026",
        ),
        pytest.param(
            BLOB_016 + b"\x00", r"blob size does not match frame count", id="one-byte-more"
        ),
        pytest.param(_header(EXAMPLE), r"invalid dimensions", id="026-blob"),
    ],
)
@pytest.mark.parametrize("opener", OPENERS)
def test_016_blob(opener: Callable[..., object], blob: bytes, match: str) -> None:
    with pytest.raises(RumiFormatError, match=match):
        parse_blob(blob, generation=Generation.BIGTIFF)
    _rejects(opener, _read(EXAMPLE_016), match, header=blob)


# ---------------------------------------------------------------------------------------
# The exception itself


def test_error_is_a_value_error_and_pickles() -> None:
    with pytest.raises(RumiFormatError) as caught:
        parse_blob(b"LOVF" + _header(EXAMPLE)[4:], generation=Generation.RUMI_TAIL)
    err = caught.value
    assert isinstance(err, ValueError)
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is RumiFormatError
    assert str(clone) == str(err) == "blob magic at byte 0: expected b'LOVE', found b'LOVF'"
    assert clone.args == err.args
    assert (clone.field, clone.offset, clone.expected, clone.found) == (
        "blob magic",
        0,
        b"LOVE",
        b"LOVF",
    )

    with pytest.raises(RumiFormatError) as caught:
        parse_bytes(mutate(EXAMPLE, put("H", 4, 2)))
    clone = pickle.loads(pickle.dumps(caught.value))
    assert str(clone) == "rumi file version 2, this reader implements 1"


def test_load_error_pickles() -> None:
    with pytest.raises(RumiFormatError) as caught:
        xr.open_dataset(mutate(EXAMPLE, xor(BASE + 22)), engine="rumi").load()
    clone = pickle.loads(pickle.dumps(caught.value))
    assert str(clone) == str(caught.value) and str(clone).startswith("frame 0 (bytes 548..608): ")


# ---------------------------------------------------------------------------------------
# Damaged bytes either parse or raise RumiFormatError: never another exception, never a hang

ALL_FILES = sorted(
    f"{p.parent.name}/{p.stem}"
    for p in FIXTURES.glob("*/*.rumi")
    if p.with_suffix(".header").exists()
)
_EDGES = st.sampled_from(
    [0, 1, 2, 3, 7, 8, 9, 13, 16, 255, 256, 0x7FFF, 0xFFFF, 2**31 - 1, 2**32 - 1, 2**63, 2**64 - 1]
)
_FUZZ = settings(
    max_examples=300,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def _damage(draw: st.DrawFn, data: bytes) -> bytes:
    """Flip, overwrite, truncate, extend or replace bytes of ``data`` (favouring its first KiB)."""
    buf = bytearray(data)
    op = draw(st.sampled_from(["flip", "word", "truncate", "extend", "random"]))
    position = st.one_of(st.integers(0, min(len(buf), 1100) - 1), st.integers(0, len(buf) - 1))
    if op == "flip":
        for pos in draw(st.lists(position, min_size=1, max_size=6)):
            buf[pos] ^= draw(st.integers(1, 255))
    elif op == "word":
        for pos in draw(st.lists(position, min_size=1, max_size=3)):
            size = draw(st.sampled_from([1, 2, 4, 8]))
            value = draw(st.one_of(_EDGES, st.integers(0, 2**64 - 1))) % (1 << (8 * size))
            buf[pos : pos + size] = value.to_bytes(size, "little")
    elif op == "truncate":
        buf = buf[: draw(st.integers(0, len(buf) - 1))]
    elif op == "extend":
        buf += draw(st.binary(min_size=1, max_size=64))
    else:
        buf = buf[: draw(st.integers(0, len(buf)))] + draw(st.binary(max_size=512))
    return bytes(buf)


def _parse_or_reject(data: bytes, header: bytes | None = None) -> None:
    """Describe, then (when small enough) load: only RumiFormatError may escape."""
    try:
        desc = parse_bytes(data, header)
        assert read_description(BytesReader(data), header).shape == desc.shape
    except RumiFormatError:
        with pytest.raises(RumiFormatError):
            read_description(BytesReader(data), header)
        return
    if np.prod(desc.shape, dtype=np.float64) * desc.dtype.itemsize > 1 << 24:
        return
    with contextlib.suppress(RumiFormatError):
        xr.open_dataset(data, engine="rumi", header=header).load()


@_FUZZ
@given(data=st.data(), name=st.sampled_from(ALL_FILES), with_header=st.booleans())
def test_damaged_files_parse_or_reject(data: st.DataObject, name: str, with_header: bool) -> None:
    damaged = data.draw(_damage(_read(name)))
    _parse_or_reject(damaged, _header(name) if with_header else None)


@_FUZZ
@given(data=st.data(), name=st.sampled_from(ALL_FILES))
def test_damaged_blobs_parse_or_reject(data: st.DataObject, name: str) -> None:
    blob = data.draw(_damage(_header(name)))
    for generation in (None, Generation.RUMI_TAIL, Generation.BIGTIFF):
        with contextlib.suppress(RumiFormatError):
            parse_blob(blob, generation=generation)
    _parse_or_reject(_read(name), blob)


@_FUZZ
@given(
    prefix=st.sampled_from(
        [
            b"",
            b"RUMI",
            b"RUMI\x01\x00\x00\x00\x10" + bytes(7),
            b"II+\x00\x08\x00\x00\x00",
            b"LOVE\x01\x00",
        ]
    ),
    body=st.binary(max_size=2048),
)
def test_random_bytes_parse_or_reject(prefix: bytes, body: bytes) -> None:
    data = prefix + body
    _parse_or_reject(data)
    for generation in (None, Generation.RUMI_TAIL, Generation.BIGTIFF):
        with contextlib.suppress(RumiFormatError):
            parse_blob(data, generation=generation)


@_FUZZ
@given(
    fields=st.tuples(
        *(
            st.one_of(_EDGES, st.integers(0, 70)).map(lambda v, n=n: v % (1 << n))
            for n in (32, 32, 32, 16, 16, 16)
        )
    ),
    bits=st.sampled_from([1, 8, 16, 32, 64, 128, 0, 12]),
    sample_format=st.sampled_from([1, 2, 3, 6, 100, 102, 107, 5, 0]),
    unit=st.integers(0, 11),
    count_min=st.one_of(_EDGES, st.integers(0, 100)).map(lambda v: v % (1 << 32)),
    count_bits=st.integers(0, 34),
    packed=st.binary(max_size=64),
    v016=st.booleans(),
)
def test_blob_fields_parse_or_reject(
    fields: tuple[int, ...],
    bits: int,
    sample_format: int,
    unit: int,
    count_min: int,
    count_bits: int,
    packed: bytes,
    v016: bool,
) -> None:
    """Structured blobs with arbitrary field values (random bytes rarely pass the magic)."""
    width, length, times, tw, tl, bands = fields
    head = struct.pack("<4sHII", b"LOVE", 1, width, length) + (
        b"" if v016 else struct.pack("<I", times)
    )
    head += struct.pack(
        "<HHHBBBIB", tw, tl, bands, bits, sample_format, unit, count_min, count_bits
    )
    generation = Generation.BIGTIFF if v016 else Generation.RUMI_TAIL
    for source_length in (None, 1 << 20):
        with contextlib.suppress(RumiFormatError):
            parse_blob(head + packed, generation=generation, source_length=source_length)
