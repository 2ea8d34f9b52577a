"""FORMAT §12: rejections of the 0.15/0.16 BigTIFF profile and its 28-byte header blobs."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import pytest
from _hostile import (
    BITS,
    EXAMPLE,
    EXAMPLE_016,
    EXAMPLE_TIME,
    FORMAT,
    KEYS,
    OPENERS,
    W,
    append,
    cut,
    exact,
    frame_table,
    make_blob,
    make_tail,
    mutate,
    put,
    read_fixture,
    read_header,
    rejects,
    tag_at,
    value_at,
)

from rumi_xarray.blob import parse_blob
from rumi_xarray.errors import RumiFormatError
from rumi_xarray.spec import Generation

if TYPE_CHECKING:
    from collections.abc import Callable

    from _hostile import Mutation


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
        append(make_tail(b"B1", b"B2", time=EXAMPLE_TIME)),
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
    rejects(opener, mutate(EXAMPLE_016, mutation), match)


def test_016_offsets() -> None:
    data = read_fixture(EXAMPLE_016)
    assert struct.unpack_from("<Q", data, 16) == (11,)
    offsets, counts, offsets_at, _ = frame_table(data)
    assert (
        offsets_at == IFD_END_016 and offsets[:2] == [508, 570] and sum(counts) + 508 == len(data)
    )
    assert struct.unpack_from("<4H", data, 476) == (1, 1, 0, 3)


BLOB_016 = read_header(EXAMPLE_016)


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
            make_blob(bits=8, sample_format=107, counts=[62] * 6 + [61] * 2, v016=True),
            exact("unsupported (sample_format=107, bits_per_sample=8) pair"),
            id="fnuz-of-026",
        ),
        pytest.param(
            BLOB_016 + b"\x00", r"blob size does not match frame count", id="one-byte-more"
        ),
        pytest.param(read_header(EXAMPLE), r"invalid dimensions", id="026-blob"),
    ],
)
@pytest.mark.parametrize("opener", OPENERS)
def test_016_blob(opener: Callable[..., object], blob: bytes, match: str) -> None:
    with pytest.raises(RumiFormatError, match=match):
        parse_blob(blob, generation=Generation.BIGTIFF)
    rejects(opener, read_fixture(EXAMPLE_016), match, header=blob)
