"""FORMAT §14 A: rejections of the frame table (§3.1): gaps, overlaps, order, zero counts, frames
past the end of the source."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _hostile import (
    BASE,
    COUNTS_AT,
    EXAMPLE,
    OFFSETS,
    OFFSETS_AT,
    ONE_FRAME,
    OPENERS,
    TRAILER_AT,
    cut,
    exact,
    mutate,
    put,
    rejects,
    swap,
    value_at,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from _hostile import Mutation


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
    rejects(opener, mutate(name, mutation), match)
