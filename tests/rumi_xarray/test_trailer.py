"""The trailer (FORMAT §9): band texts and the time axis, written canonically and read back.

Rejections of damaged trailers inside whole files are in ``test_reject_trailer.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from _hostile import DAY, canonical_time, make_tail
from hypothesis import given
from hypothesis import strategies as st

from rumi_xarray.spec import Generation, TimeKind
from rumi_xarray.trailer import (
    TimeAxis,
    build_trailer,
    check_band_texts,
    check_time,
    max_trailer_nbytes,
    parse_trailer,
)


def test_annotated_example_day_offsets() -> None:
    """FORMAT §9: instants at day offsets 0, 1, 2, 5 pack to step 2, bits 2, byte 0x74."""
    block = bytes([2, 2]) + (19723).to_bytes(8, "little") + (2).to_bytes(8, "little")
    trailer = b"TAIL\x01\x00" + b"\x01\x00a" + block + (86400).to_bytes(4, "little") + b"\x74"
    parsed = parse_trailer(trailer, bands=1, times=4, offset=0)
    days = (parsed.time.seconds // 86400 - 19723).tolist()
    assert days == [0, 1, 2, 5]
    assert parsed.band_texts == ("a",)


def test_time_trailer_generation() -> None:
    """A 0.18-0.24 file: the TIME trailer (no band texts) in place of TAIL."""
    none = b"TIME\x01\x00" + bytes([0, 0]) + bytes(16) + (1).to_bytes(4, "little")
    parsed = parse_trailer(none, bands=3, times=1, offset=0)
    assert parsed.generation is Generation.RUMI_TIME
    assert parsed.band_texts is None and parsed.time is None
    instant = (
        b"TIME\x01\x00"
        + bytes([2, 0])
        + (19723).to_bytes(8, "little")
        + bytes(8)
        + (86400).to_bytes(4, "little")
    )
    parsed = parse_trailer(instant, bands=3, times=1, offset=0)
    assert parsed.time.seconds.tolist() == [19723 * 86400]


@pytest.mark.parametrize(
    ("kind", "seconds"),
    [
        pytest.param(TimeKind.INSTANT, [1704067200], id="one-day"),
        pytest.param(TimeKind.INSTANT, [0, 0, DAY, 5 * DAY], id="days-equal-first"),
        pytest.param(TimeKind.INSTANT, [-DAY, 1, 3600, 2**40], id="seconds-before-1970"),
        pytest.param(TimeKind.INTERVAL, [[0, DAY], [DAY, 3 * DAY]], id="meeting-intervals"),
        pytest.param(TimeKind.INTERVAL, [[-5, 7], [100, 101]], id="seconds-intervals"),
    ],
)
def test_build_is_the_canonical_form_and_parses_back(kind: TimeKind, seconds: list) -> None:
    """The writer's bytes are FORMAT §9's (built independently in ``_hostile``) and read back."""
    texts = ("red", "bände", "😀")
    time = TimeAxis(kind, np.array(seconds, np.int64))
    built = build_trailer(texts, time)
    flat = np.ravel(seconds).tolist()
    assert built == make_tail(*(t.encode() for t in texts), time=canonical_time(kind, flat))
    times = len(seconds)
    assert len(built) <= max_trailer_nbytes(len(texts), times)
    parsed = parse_trailer(built, bands=len(texts), times=times, offset=1000)
    assert parsed.generation is Generation.RUMI_TAIL and parsed.band_texts == texts
    assert parsed.time is not None and parsed.time.kind is kind
    assert parsed.time.seconds.tolist() == seconds
    assert parsed.time.starts.tolist() == [s if kind is TimeKind.INSTANT else s[0] for s in seconds]


@given(st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=40).map(sorted))
def test_any_sorted_instants_round_trip(seconds: list[int]) -> None:
    time = TimeAxis(TimeKind.INSTANT, np.array(seconds, np.int64))
    parsed = parse_trailer(build_trailer(["b"], time), bands=1, times=len(seconds), offset=0)
    assert parsed.time is not None and parsed.time.seconds.tolist() == seconds


@pytest.mark.parametrize(
    ("texts", "bands", "error", "match"),
    [
        pytest.param(["a"], 2, ValueError, "needs one text per band; got 1", id="count"),
        pytest.param(["a", 3], 2, TypeError, "band 1 text must be a str, got int", id="type"),
        pytest.param([""], 1, ValueError, "band 0 has an empty text", id="empty"),
        pytest.param(["a\x00b"], 1, ValueError, "band 0 text contains a NUL byte", id="nul"),
        pytest.param(["\ud800"], 1, ValueError, "band 0 text is not valid UTF-8", id="surrogate"),
        pytest.param(["a", "a"], 2, ValueError, "bands 0 and 1 have the same text", id="same"),
        pytest.param(["é" * 32768], 1, ValueError, "exceeds the 65535 bytes", id="too-long"),
    ],
)
def test_check_band_texts_rejects(
    texts: list, bands: int, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        check_band_texts(texts, bands)


def test_check_band_texts_takes_the_longest_storable_text() -> None:
    assert check_band_texts(["x" * 65535], 1) == ("x" * 65535,)


@pytest.mark.parametrize(
    ("time", "times", "match"),
    [
        pytest.param(
            TimeAxis(TimeKind.INSTANT, np.zeros(2, np.int64)), 3, "needs 3 instants", id="count"
        ),
        pytest.param(
            TimeAxis(TimeKind.INTERVAL, np.zeros(2, np.int64)),
            2,
            r"got intervals of shape \(2,\)",
            id="interval-shape",
        ),
        pytest.param(
            TimeAxis(TimeKind.INSTANT, np.array([2**60], np.int64)),
            1,
            "more than 2\\*\\*60 seconds",
            id="far",
        ),
        pytest.param(
            TimeAxis(TimeKind.INSTANT, np.array([DAY, 0], np.int64)),
            2,
            "time coordinate 1 goes backwards",
            id="backwards",
        ),
        pytest.param(
            TimeAxis(TimeKind.INTERVAL, np.array([[0, 10], [5, 20]], np.int64)),
            2,
            "time step 0 ends after step 1 starts",
            id="overlap",
        ),
    ],
)
def test_check_time_rejects(time: TimeAxis, times: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_time(time, times)
