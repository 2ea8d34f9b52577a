"""FORMAT §14 A: rejections of the IFD (§3): truncation, count, chaining, tag order, types,
counts, padding and pointers, through every entry point."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _hostile import (
    BITS,
    COUNTS,
    EXAMPLE,
    FORMAT,
    KEYS,
    MATRIX,
    OFFSETS,
    ONE_FRAME,
    OPENERS,
    TIMES,
    UNIT,
    B,
    L,
    W,
    chain,
    count_at,
    cut,
    exact,
    mutate,
    put,
    rejects,
    swap,
    tag_at,
    type_at,
    value_at,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from _hostile import Mutation


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
    rejects(opener, mutate(name, mutation), match)
