"""Byte surgery on real rumi files and blobs, for the rejection tests (``test_reject_*.py``).

Each case copies a file written by rumi-eo, patches it with ``struct.pack_into`` at the offset
the annotated dumps of FORMAT §11 (``example_0261.rumi``) and §12 (``example_016.rumi``) give,
and checks that the parser raises :class:`RumiFormatError` naming the field or the problem.
This module holds what the cases share: the fixtures and their FORMAT offsets, the mutations
(:func:`put`, :func:`xor`, :func:`cut`, :func:`chain`, ...), independent builders of blobs,
trailers and time blocks (:func:`make_blob`, :func:`make_tail`, :func:`canonical_time`), and the
entry points every rejection of a file is checked through (:data:`OPENERS`).
``tests/rumi_xarray/test_hostile.py`` checks that the builders rebuild the real bytes.
"""

from __future__ import annotations

import itertools
import re
import struct
from functools import cache
from typing import TYPE_CHECKING

import pytest
import xarray as xr
from _fixtures import DATA

from rumi_xarray.decode import read_description
from rumi_xarray.errors import RumiFormatError
from rumi_xarray.format import parse_bytes
from rumi_xarray.io import BytesReader
from rumi_xarray.spec import TimeKind

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    Mutation = Callable[[bytearray], bytes | bytearray]

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
def read_fixture(name: str, suffix: str = ".rumi") -> bytes:
    """The bytes of ``tests/data/NAME.rumi`` (or another suffix), read once."""
    return (DATA / f"{name}{suffix}").read_bytes()


def read_header(name: str) -> bytes:
    """The header blob written beside a fixture."""
    return read_fixture(name, ".header")


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
    return lambda buf: buf[: frames_end(buf)] + trailer


def mutate(name: str, mutation: Mutation) -> bytes:
    return bytes(mutation(bytearray(read_fixture(name))))


def frame_table(data: bytes | bytearray) -> tuple[list[int], list[int], int, int]:
    """TileOffsets, TileByteCounts and where each array sits, read straight from the IFD."""
    (n,) = struct.unpack_from("<Q", data, count_at(OFFSETS))
    offsets_at = (
        value_at(OFFSETS) if n == 1 else struct.unpack_from("<Q", data, value_at(OFFSETS))[0]
    )
    counts_at = value_at(COUNTS) if n <= 2 else struct.unpack_from("<Q", data, value_at(COUNTS))[0]
    offsets = list(struct.unpack_from(f"<{n}Q", data, offsets_at))
    counts = list(struct.unpack_from(f"<{n}I", data, counts_at))
    return offsets, counts, offsets_at, counts_at


def frames_end(data: bytes | bytearray) -> int:
    offsets, counts, _, _ = frame_table(data)
    return offsets[-1] + counts[-1]


def replace_frame(data: bytes, k: int, frame: bytes) -> bytes:
    """Swap frame k for ``frame``, moving the later frames and rewriting the frame table."""
    offsets, counts, offsets_at, counts_at = frame_table(data)
    end = offsets[-1] + counts[-1]
    frames = [data[o : o + c] for o, c in zip(offsets, counts, strict=True)]
    frames[k] = frame
    counts = [len(f) for f in frames]
    offsets = list(itertools.accumulate(counts[:-1], initial=offsets[0]))
    index = bytearray(data[: offsets[0]])
    struct.pack_into(f"<{len(counts)}Q", index, offsets_at, *offsets)
    struct.pack_into(f"<{len(counts)}I", index, counts_at, *counts)
    return bytes(index) + b"".join(frames) + data[end:]


def pack_bits(values: Sequence[int], bits: int) -> bytes:
    """LSB-first packing of FORMAT §9 and §10 (written independently of rumi_xarray.bits)."""
    acc = 0
    for i, v in enumerate(values):
        acc |= v << (i * bits)
    return acc.to_bytes((len(values) * bits + 7) // 8, "little")


def make_blob(
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
    return head + pack_bits([c - lo for c in counts], width_bits)


def _zigzag(r: int) -> int:
    return 2 * r if r >= 0 else -2 * r - 1


def time_block(
    kind: int, bits: int, origin: int, step: int, scale: int, residuals: bytes = b""
) -> bytes:
    """The FORMAT §9 time block, field by field."""
    return struct.pack("<BBqqI", kind, bits, origin, step, scale) + residuals


def canonical_time(kind: int, seconds: Sequence[int], *, scale: int | None = None) -> bytes:
    """The canonical time block (FORMAT §9 steps 1-6) for any coordinates, sorted or not."""
    if scale is None:
        scale = DAY if all(c % DAY == 0 for c in seconds) else 1
    units = [c // scale for c in seconds]
    n = len(units)
    step = 0 if n == 1 else (2 * (units[-1] - units[0]) + n - 1) // (2 * (n - 1))
    zigzag = [_zigzag(u - units[0] - i * step) for i, u in enumerate(units)]
    bits = max(zigzag).bit_length()
    return time_block(kind, bits, units[0], step, scale, pack_bits(zigzag, bits))


def make_tail(*texts: bytes, time: bytes, magic: bytes = b"TAIL", version: int = 1) -> bytes:
    """A trailer (FORMAT §9): magic, version, length-prefixed band texts, time block."""
    body = b"".join(struct.pack("<H", len(t)) + t for t in texts)
    return magic + struct.pack("<H", version) + body + time


EXAMPLE_TIME = canonical_time(TimeKind.INSTANT, [1704067200])
# ---------------------------------------------------------------------------------------
# Entry points


def by_parse_bytes(data: bytes, header: bytes | None = None) -> object:
    return parse_bytes(data, header)


def by_reader(data: bytes, header: bytes | None = None) -> object:
    return read_description(BytesReader(data), header)


def by_open_dataset(data: bytes, header: bytes | None = None) -> object:
    return xr.open_dataset(data, engine="rumi", header=header)


OPENERS = [
    pytest.param(by_parse_bytes, id="parse_bytes"),
    pytest.param(by_reader, id="read_description"),
    pytest.param(by_open_dataset, id="open_dataset"),
]


def rejects(
    opener: Callable[..., object], data: bytes, match: str, header: bytes | None = None
) -> None:
    with pytest.raises(RumiFormatError, match=match):
        opener(data, header)
