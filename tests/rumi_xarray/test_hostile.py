"""The byte-surgery helpers of ``tests/_hostile.py`` rebuild the real bytes (FORMAT §9-§12),
so a failure in a ``test_reject_*.py`` case is the parser's."""

from __future__ import annotations

import struct

from _hostile import (
    BASE,
    COUNTS_AT,
    EXAMPLE,
    EXAMPLE_016,
    EXAMPLE_COUNTS,
    EXAMPLE_TIME,
    INSTANT_SECONDS,
    INSTANTS,
    INTERVAL_SECONDS,
    INTERVALS,
    KEYS,
    KEYS_AT,
    MATRIX,
    MATRIX_AT,
    OFFSETS_AT,
    TRAILER_AT,
    canonical_time,
    frame_table,
    frames_end,
    make_blob,
    make_tail,
    mutate,
    read_fixture,
    read_header,
    replace_frame,
    retail,
    tag_at,
    value_at,
)

from rumi_xarray.spec import TimeKind


def test_offsets_of_the_annotated_dump() -> None:
    data = read_fixture(EXAMPLE)
    assert len(data) == 1062
    assert struct.unpack_from("<4sHHQQ", data, 0) == (b"RUMI", 1, 0, 16, 13)
    tags = [struct.unpack_from("<H", data, tag_at(i))[0] for i in range(13)]
    assert tags == [256, 257, 258, 277, 322, 323, 324, 325, 339, 34264, 34735, 65000, 65001]
    offsets, counts, offsets_at, counts_at = frame_table(data)
    assert (offsets_at, counts_at) == (OFFSETS_AT, COUNTS_AT)
    assert tuple(counts) == EXAMPLE_COUNTS and offsets[0] == BASE
    assert struct.unpack_from("<Q", data, value_at(MATRIX))[0] == MATRIX_AT
    assert struct.unpack_from("<Q", data, value_at(KEYS))[0] == KEYS_AT
    assert struct.unpack_from("<4H", data, KEYS_AT + 24) == (3072, 0, 1, 32618)
    assert frames_end(data) == TRAILER_AT
    assert data[TRAILER_AT:] == make_tail(b"B1", b"B2", time=EXAMPLE_TIME)
    assert read_fixture(EXAMPLE_016)[:8] == b"II+\x00\x08\x00\x00\x00"


def test_builders_reproduce_real_bytes() -> None:
    assert make_blob() == read_header(EXAMPLE)
    _, counts_016, _, _ = frame_table(read_fixture(EXAMPLE_016))
    assert make_blob(counts=counts_016, v016=True) == read_header(EXAMPLE_016)
    instants = make_tail(b"ndvi", time=canonical_time(TimeKind.INSTANT, INSTANT_SECONDS))
    intervals = make_tail(b"ndvi", time=canonical_time(TimeKind.INTERVAL, INTERVAL_SECONDS))
    assert read_fixture(INSTANTS)[frames_end(read_fixture(INSTANTS)) :] == instants
    assert read_fixture(INTERVALS)[frames_end(read_fixture(INTERVALS)) :] == intervals
    data = read_fixture(EXAMPLE)
    assert replace_frame(data, 3, data[728:788]) == data
    assert mutate(INSTANTS, retail(instants)) == read_fixture(INSTANTS)
