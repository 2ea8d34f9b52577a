"""FORMAT §14 A: rejections of the trailer (§9): magic, version, band texts, the time block;
and canonical trailers that must still parse."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _hostile import (
    DAY,
    EXAMPLE,
    EXAMPLE_TIME,
    INSTANT_SECONDS,
    INSTANTS,
    INTERVAL_SECONDS,
    INTERVALS,
    OPENERS,
    TRAILER_AT,
    append,
    canonical_time,
    cut,
    exact,
    make_tail,
    mutate,
    pack_bits,
    put,
    read_fixture,
    rejects,
    retail,
    time_block,
)

from rumi_xarray.errors import RumiFormatError
from rumi_xarray.format import parse_bytes
from rumi_xarray.spec import Generation, TimeKind
from rumi_xarray.trailer import parse_trailer

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from _hostile import Mutation


TEXTS = (b"B1", b"B2")


def example_tail(
    *, texts: Sequence[bytes] = TEXTS, time: bytes = EXAMPLE_TIME, **kw: object
) -> Mutation:
    return retail(make_tail(*texts, time=time, **kw))


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
        retail(make_tail(b"ndvi", time=canonical_time(TimeKind.INSTANT, INSTANT_SECONDS)[:-1])),
        exact("the time residuals need 2 bytes, the trailer has 1"),
        id="residuals-cut",
    ),
    pytest.param(
        INSTANTS,
        retail(
            make_tail(b"ndvi", time=b"\x01" + canonical_time(TimeKind.INSTANT, INSTANT_SECONDS)[1:])
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
        example_tail(time=canonical_time(TimeKind.INSTANT, [1704067200], scale=1)),
        exact(
            "time_scale is seconds but every coordinate falls on a whole day, which rumi stores as days"
        ),
        id="scale-1-on-days",
    ),
    pytest.param(
        EXAMPLE,
        example_tail(time=time_block(TimeKind.INSTANT, 1, 19724, 0, DAY, b"\x01")),
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
            make_tail(
                b"ndvi",
                time=time_block(TimeKind.INSTANT, 3, 19723, 11, DAY, pack_bits([0, 1, 3, 4], 3)),
            )
        ),
        exact("time_step is not the slope the coordinates imply"),
        id="step-four-instants",
    ),
    pytest.param(
        EXAMPLE,
        example_tail(time=time_block(TimeKind.INSTANT, 1, 19723, 0, DAY, b"\x00")),
        exact("time_bits is not the width the residuals need"),
        id="bits-too-wide",
    ),
    pytest.param(
        EXAMPLE,
        example_tail(time=time_block(TimeKind.INSTANT, 1, 19723, 0, DAY, b"\x02")),
        exact("the unused bits of the last residual byte are not zero"),
        id="unused-bits",
    ),
    pytest.param(
        EXAMPLE,
        example_tail(time=time_block(TimeKind.INSTANT, 65, 19723, 0, DAY, bytes(9))),
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
        retail(make_tail(b"ndvi", time=time_block(TimeKind.INSTANT, 0, 0, 2**62, 1))),
        exact("a time coordinate in seconds does not fit in int64"),
        id="int64-step",
    ),
    pytest.param(
        INSTANTS,
        retail(make_tail(b"ndvi", time=canonical_time(TimeKind.INSTANT, BACKWARD))),
        exact("time coordinate 2 goes backwards"),
        id="instants-backwards",
    ),
    pytest.param(
        INSTANTS,
        retail(make_tail(b"ndvi", time=canonical_time(TimeKind.INSTANT, [0, M, -M, 0]))),
        exact("time coordinate 2 goes backwards"),
        id="instants-backwards-past-int64",
    ),
    pytest.param(
        INTERVALS,
        retail(
            make_tail(
                b"ndvi",
                time=canonical_time(
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
            make_tail(
                b"ndvi",
                time=canonical_time(
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
        retail(make_tail(time=time_block(0, 0, 0, 0, DAY), magic=b"TIME")),
        exact("a trailer without time must hold bits 0, origin 0, step 0, scale 1"),
        id="time-trailer-kind-0-scale",
    ),
    pytest.param(
        EXAMPLE,
        retail(make_tail(time=time_block(3, 0, 0, 0, 1), magic=b"TIME")),
        exact("time_type is 3; rumi records intervals (1) or instants (2) or none (0)"),
        id="time-trailer-kind-3",
    ),
]


@pytest.mark.parametrize("opener", OPENERS)
@pytest.mark.parametrize(("name", "mutation", "match"), TRAILER_CASES)
def test_trailer(opener: Callable[..., object], name: str, mutation: Mutation, match: str) -> None:
    rejects(opener, mutate(name, mutation), match)


@pytest.mark.parametrize(
    ("name", "trailer", "seconds"),
    [
        pytest.param(
            INSTANTS,
            make_tail(b"ndvi", time=canonical_time(TimeKind.INSTANT, [0, 0, DAY, DAY])),
            [0, 0, DAY, DAY],
            id="equal-instants",
        ),
        pytest.param(
            INSTANTS,
            make_tail(b"ndvi", time=canonical_time(TimeKind.INSTANT, [-DAY, 1, 3600, 2**40])),
            [-DAY, 1, 3600, 2**40],
            id="seconds-before-1970",
        ),
        pytest.param(
            EXAMPLE,
            make_tail(
                "bände".encode(), "😀".encode(), time=canonical_time(TimeKind.INTERVAL, [0, 1])
            ),
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
    desc = parse_bytes(
        mutate(EXAMPLE, retail(make_tail(time=time_block(0, 0, 0, 0, 1), magic=b"TIME")))
    )
    assert desc.generation is Generation.RUMI_TIME
    assert desc.time is None and desc.band_texts is None


def test_parse_trailer_directly() -> None:
    tail = read_fixture(EXAMPLE)[TRAILER_AT:]
    assert parse_trailer(tail, bands=2, times=1, offset=TRAILER_AT).band_texts == ("B1", "B2")
    with pytest.raises(RumiFormatError, match=exact("no trailer where the frames end, at 7")):
        parse_trailer(b"", bands=2, times=1, offset=7)
    with pytest.raises(
        RumiFormatError, match=exact("the trailer ends inside the text of band 2, at 1040")
    ):
        parse_trailer(tail[:14], bands=3, times=1, offset=TRAILER_AT)
    with pytest.raises(RumiFormatError, match=exact("time_scale is 0;")):
        parse_trailer(tail, bands=1, times=1, offset=TRAILER_AT)  # "B2" read as the time block
