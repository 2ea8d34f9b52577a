"""FORMAT §14 B: rejections of header blobs (§10), alone and against the source they describe;
the error is a ``ValueError`` that pickles with its fields."""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING

import numpy as np
import pytest
from _hostile import (
    EXAMPLE,
    EXAMPLE_016,
    EXAMPLE_COUNTS,
    OPENERS,
    SINGLE,
    TRAILER_AT,
    exact,
    make_blob,
    mutate,
    put,
    read_fixture,
    read_header,
    rejects,
)

from rumi_xarray.blob import parse_blob, parse_blobs
from rumi_xarray.errors import RumiFormatError
from rumi_xarray.format import parse_bytes
from rumi_xarray.spec import Generation

if TYPE_CHECKING:
    from collections.abc import Callable


BLOB_CASES = [
    pytest.param(b"", exact("the header blob is empty"), id="empty"),
    pytest.param(
        read_header(EXAMPLE)[:31], exact("blob shorter than header (31 < 32 bytes)"), id="short"
    ),
    pytest.param(
        read_header(EXAMPLE)[:4], exact("blob shorter than header (4 < 32 bytes)"), id="magic-only"
    ),
    pytest.param(
        b"LOVF" + read_header(EXAMPLE)[4:],
        r"blob magic at byte 0: expected b'LOVE', found b'LOVF'",
        id="magic",
    ),
    pytest.param(b"RUMI" + read_header(EXAMPLE)[4:], r"blob magic", id="file-magic"),
    pytest.param(
        bytes(put("H", 4, 2)(bytearray(read_header(EXAMPLE)))),
        exact("blob version at byte 4: expected 1, found 2"),
        id="version",
    ),
    pytest.param(make_blob(width=0), r"invalid dimensions", id="width-0"),
    pytest.param(make_blob(length=0), r"invalid dimensions", id="length-0"),
    pytest.param(make_blob(times=0), r"invalid dimensions", id="times-0"),
    pytest.param(make_blob(tile=(0, 32)), r"invalid dimensions", id="tile-width-0"),
    pytest.param(make_blob(tile=(32, 0)), r"invalid dimensions", id="tile-length-0"),
    pytest.param(make_blob(bands=0), r"invalid dimensions", id="bands-0"),
    pytest.param(make_blob(width=2**31), r"invalid dimensions", id="width-2**31"),
    pytest.param(make_blob(length=2**32 - 1), r"invalid dimensions", id="length-2**32-1"),
    pytest.param(
        make_blob(sample_format=4),
        exact("unsupported (sample_format=4, bits_per_sample=8) pair"),
        id="format-4",
    ),
    pytest.param(
        make_blob(bits=12),
        exact("unsupported (sample_format=1, bits_per_sample=12) pair"),
        id="bits-12",
    ),
    pytest.param(
        make_blob(bits=32, sample_format=5),
        exact("unsupported (sample_format=5, bits_per_sample=32) pair"),
        id="cint16-of-016",
    ),
    pytest.param(
        make_blob(bits=4, sample_format=1),
        exact("unsupported (sample_format=1, bits_per_sample=4) pair"),
        id="uint4-of-016",
    ),
    pytest.param(
        make_blob(unit=10), exact("frame_unit is 10, which names no frame layout"), id="unit-10"
    ),
    pytest.param(
        make_blob(unit=255), exact("frame_unit is 255, which names no frame layout"), id="unit-255"
    ),
    pytest.param(
        make_blob(unit=3),
        exact("frame_unit 3 does not fit 2 bands and 1 time steps"),
        id="unit-3-no-time",
    ),
    pytest.param(
        make_blob(bands=1, unit=1, counts=[60, 60, 60, 59]),
        exact("frame_unit 1 does not fit 1 bands and 1 time steps"),
        id="unit-1-single-band",
    ),
    pytest.param(make_blob(unit=9), r"frame_unit.*\b9\b", id="unit-9-no-time"),
    pytest.param(make_blob(count_bits=33), exact("count_bits above 32 (33)"), id="count-bits-33"),
    pytest.param(
        make_blob(count_bits=255), exact("count_bits above 32 (255)"), id="count-bits-255"
    ),
    pytest.param(
        read_header(EXAMPLE) + b"\x00", r"blob size does not match frame count", id="one-byte-more"
    ),
    pytest.param(
        read_header(EXAMPLE)[:32], r"blob size does not match frame count", id="one-byte-less"
    ),
    pytest.param(
        make_blob(counts=EXAMPLE_COUNTS * 2),
        r"blob size does not match frame count",
        id="counts-of-16-frames",
    ),
    pytest.param(
        make_blob(count_min=0, counts=[0] * 8), exact("frame byte count is zero"), id="count-0"
    ),
    pytest.param(
        make_blob(count_min=58, count_bits=2),
        exact("frame byte counts are not packed canonically"),
        id="count-min-below-min",
    ),
    pytest.param(
        make_blob(count_bits=2),
        exact("frame byte counts are not packed canonically"),
        id="count-bits-too-wide",
    ),
    pytest.param(
        make_blob(count_bits=8),
        exact("frame byte counts are not packed canonically"),
        id="count-bits-8",
    ),
    pytest.param(
        make_blob(counts=[59] * 8, count_bits=1),
        exact("frame byte counts are not packed canonically"),
        id="count-bits-for-equal-counts",
    ),
    pytest.param(
        read_header(SINGLE)[:-1] + bytes([read_header(SINGLE)[-1] | 0x80]),
        exact("frame byte counts are not packed canonically"),
        id="unused-trailing-bit",
    ),
    pytest.param(
        make_blob(width=2**31 - 1, length=2**31 - 1, tile=(1, 1), counts=[1]),
        r"frame count overflows uint32",
        id="frame-count-overflow",
    ),
    pytest.param(
        make_blob(width=4097, length=4097, tile=(1, 1), bands=1, counts=[1]),
        exact("the blob declares 16785409 frames, more than the 16777216 accepted"),
        id="frames-past-the-blob-limit",
    ),
    pytest.param(
        make_blob(width=65535, length=65535, tile=(65535, 65535), bands=1, counts=[100]),
        r"a decoded frame of 4294836225 bytes is past the size limit",
        id="frame-past-1GiB",
    ),
]


@pytest.mark.parametrize(("blob", "match"), BLOB_CASES)
@pytest.mark.parametrize("generation", [None, Generation.RUMI_TAIL])
def test_blob(blob: bytes, match: str, generation: Generation | None) -> None:
    with pytest.raises(RumiFormatError, match=match):
        parse_blob(blob, generation=generation)


@pytest.mark.parametrize(("blob", "match"), BLOB_CASES)
def test_blobs_in_bulk_are_rejected_as_alone(blob: bytes, match: str) -> None:
    """parse_blobs (a catalog's column) rejects exactly the blobs parse_blob rejects, and
    reads the others' counts as parse_blob does, next to them and whatever their order."""
    good = [read_header(EXAMPLE), make_blob(counts=[*EXAMPLE_COUNTS[:7], 58])]
    blobs = [good[0], blob, good[1], blob, good[0]]
    lengths = np.array([len(b) for b in blobs])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    data = np.frombuffer(b"".join(blobs), np.uint8)
    groups, rejected = parse_blobs(data, starts, lengths, Generation.RUMI_TAIL)
    assert rejected.tolist() == [False, True, False, True, False]
    found = {int(r): c for g in groups for r, c in zip(g.rows, g.counts, strict=True)}
    assert sorted(found) == [0, 2, 4]
    for i in found:
        want = parse_blob(blobs[i], generation=Generation.RUMI_TAIL)
        np.testing.assert_array_equal(found[i], want.counts)
    assert all(g.frames.grid == parse_blob(good[0]).grid for g in groups)


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        pytest.param(
            make_blob(width=4097, length=4097, tile=(1, 1), bands=1, counts=[1]),
            r"frame data needs at least \d+ bytes, source has 1062",
            id="many-frames",
        ),
        pytest.param(
            make_blob(counts=[1000] * 8),
            exact("frame data needs at least 8548 bytes, source has 1062"),
            id="count-min-1000",
        ),
        pytest.param(
            make_blob(counts=[*EXAMPLE_COUNTS[:7], 59 + 1000]),
            exact("frame data needs 2026 bytes, source has 1062"),
            id="last-count-plus-1000",
        ),
        pytest.param(
            make_blob(counts=[*EXAMPLE_COUNTS[:7], 60]),
            exact("no trailer where the frames end, at 1027"),
            id="last-count-plus-1",
        ),
        pytest.param(
            make_blob(unit=1, counts=[60] * 4),
            # base 500, so the georef bytes [340, 500) are the byte counts and half the matrix
            exact("GeoKeyDirectory header is 0 0 0 0, rumi writes 1 1 0 3"),
            id="unit-1-for-a-unit-0-file",
        ),
        pytest.param(
            read_header(EXAMPLE_016),
            exact("blob shorter than header (29 < 32 bytes)"),
            id="016-blob",
        ),
        pytest.param(b"", exact("the header blob is empty"), id="empty"),
    ],
)
@pytest.mark.parametrize("opener", OPENERS)
def test_blob_against_source(opener: Callable[..., object], blob: bytes, match: str) -> None:
    """§14 B/C: a blob claiming more frame bytes than the source holds, or counts wrong for it."""
    rejects(opener, read_fixture(EXAMPLE), match, header=blob)


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
    rejects(opener, read_fixture(EXAMPLE)[:length], match, header=read_header(EXAMPLE))


def test_error_is_a_value_error_and_pickles() -> None:
    with pytest.raises(RumiFormatError) as caught:
        parse_blob(b"LOVF" + read_header(EXAMPLE)[4:], generation=Generation.RUMI_TAIL)
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
