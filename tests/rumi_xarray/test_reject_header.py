"""FORMAT §14 A: rejections of the 16-byte file header (§2), through every entry point."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _hostile import (
    EXAMPLE,
    OPENERS,
    cut,
    exact,
    mutate,
    put,
    rejects,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from _hostile import Mutation


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
    rejects(opener, mutate(name, mutation), match)
