"""FORMAT §14 A: rejections of the geometry, frame unit, time count and sample type (§3, §5, §8);
huge sizes fail fast, before anything is allocated."""

from __future__ import annotations

import time
import tracemalloc
from typing import TYPE_CHECKING

import pytest
import xarray as xr
from _hostile import (
    BITS,
    COUNTS,
    EXAMPLE,
    FORMAT,
    INSTANTS,
    OFFSETS,
    ONE_FRAME,
    OPENERS,
    SINGLE,
    TIMES,
    TL,
    TW,
    U32,
    UNIT,
    B,
    L,
    W,
    chain,
    count_at,
    exact,
    mutate,
    put,
    read_fixture,
    rejects,
    value_at,
)

from rumi_xarray.errors import RumiFormatError
from rumi_xarray.format import parse_bytes

if TYPE_CHECKING:
    from collections.abc import Callable

    from _hostile import Mutation


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """Load the CRS database, the OpenZL decoders and the xarray plugin before timing anything."""
    xr.open_dataset(read_fixture(EXAMPLE), engine="rumi").load()


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
    rejects(opener, mutate(name, mutation), match)


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


@pytest.mark.parametrize("opener", OPENERS[:2])  # parse_bytes, read_description
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
