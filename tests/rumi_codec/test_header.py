"""Tests for rumi_codec._header: frame skeletons and the element widths learnt from them."""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openzl import ext

from rumi_codec import OpenZLError, _core, _header

if TYPE_CHECKING:
    from _fixtures import Fixture

RNG = np.random.default_rng(7)
SMOOTH = (1000 + np.cumsum(RNG.integers(-3, 4, (24, 40)), axis=-1)).astype(np.int64)


def _frames() -> list[tuple[str, bytes]]:
    """Frames of many graphs, formats, widths and shapes (geozl and plain)."""
    out = []
    for dtype in ("u1", "i2", "f4", "u8"):
        data = SMOOTH.astype(dtype)
        for recipe in ("planar>zigzag>zstd", "med>zigzag>zstd", "delta_w>zigzag>zstd"):
            out.append((f"{recipe} {dtype}", _core.compress(data, recipe=recipe)))
        for graph in sorted(_core.PLAIN_GRAPHS):
            out.append((f"{graph} {dtype}", _core.compress(data, recipe=None, graph=graph)))
        for version in (8, 12, 14, 16, 20, 21, 23, ext.MAX_FORMAT_VERSION):
            frame = _core.encode(data[:5], recipe=None, graph="zstd", format_version=version)
            out.append((f"zstd v{version} {dtype}", frame))
    big = RNG.integers(0, 50, 3_000_000).astype(np.uint16)  # several chunks (v21+)
    out.append(("compress, several chunks", _core.compress(big, recipe=None, graph="compress")))
    for version in (14, 24):
        frame = _core.compress_serial(b"serial bytes" * 9, graph="zstd", format_version=version)
        out.append((f"serial v{version}", frame))
    return out


FRAMES = _frames()


@pytest.mark.parametrize(("name", "frame"), FRAMES, ids=[n for n, _ in FRAMES])
def test_every_frame_has_a_skeleton(name: str, frame: bytes) -> None:
    key = _header.skeleton(frame)
    assert key is not None
    assert _header.skeleton(memoryview(frame)) == key
    assert _header.skeleton(np.frombuffer(frame, np.uint8)) == key
    assert len(key) < len(frame) or len(frame) < 64


def test_same_skeleton_same_width() -> None:
    widths = collections.defaultdict(set)
    for _, frame in FRAMES:
        widths[_header.skeleton(frame)].add(_core.decompress_output(frame, serial=True)[1])
    assert all(len(found) == 1 for found in widths.values())


def test_fixture_frames(fixture: Fixture) -> None:
    """rumi-eo's frames: all parsed, and one width per skeleton."""
    from rumi_xarray.format import parse_bytes

    data = fixture.path.read_bytes()
    desc = parse_bytes(data)
    widths = collections.defaultdict(set)
    for k in range(desc.grid.frame_count):
        offset, length = desc.frame_range(k)
        frame = data[offset : offset + length]
        key = _header.skeleton(frame)
        assert key is not None
        widths[key].add(_core.decompress_output(frame)[1])
    assert all(len(found) == 1 for found in widths.values())


def test_frames_that_do_not_add_up_have_none() -> None:
    frame = _core.compress(SMOOTH.astype("u2"))
    assert _header.skeleton(frame + b"\x00") is None
    assert _header.skeleton(frame + frame) is None
    for end in range(len(frame)):
        assert _header.skeleton(frame[:end]) is None
    assert _header.skeleton(b"") is None
    assert _header.skeleton(b"RUMI\x00\x00\x00\x00") is None


def test_stream_sizes_and_contents_are_not_in_the_skeleton() -> None:
    """Tiles of one width and row length share a skeleton, whatever their pixels."""
    keys = {_header.skeleton(_core.compress(SMOOTH.astype("u2") * k)) for k in range(1, 5)}
    keys |= {_header.skeleton(_core.compress(RNG.integers(0, 9, (24, 40)).astype("u2")))}
    assert len(keys) == 1
    other_width = _core.compress(SMOOTH.astype("u4"))
    assert _header.skeleton(other_width) not in keys


@settings(max_examples=300, deadline=None)
@given(junk=st.binary(max_size=200), prefix=st.sampled_from([b"", FRAMES[0][1][:12]]))
def test_random_bytes(junk: bytes, prefix: bytes) -> None:
    key = _header.skeleton(prefix + junk)
    assert key is None or isinstance(key, bytes)


def test_widths_are_remembered_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_header, "_WIDTHS", {})
    assert _header.known_width(None) is None
    _header.learn_width(None, 2)
    assert _header._WIDTHS == {}
    for i in range(_header.MAX_SKELETONS + 5):
        _header.learn_width(i.to_bytes(4, "little"), 2)
    assert len(_header._WIDTHS) == _header.MAX_SKELETONS
    assert _header.known_width((0).to_bytes(4, "little")) is None  # the oldest went first
    _header.learn_width(b"x" * 5000, 4)  # too long to keep
    assert _header.known_width(b"x" * 5000) is None


def test_only_the_first_frame_of_a_skeleton_is_decoded_for_its_width(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_header, "_WIDTHS", {})
    calls: list[int] = []
    decode = _core._decode_dctx

    def counting(*args: object) -> tuple[np.ndarray, int]:
        calls.append(1)
        return decode(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(_core, "_decode_dctx", counting)
    tiles = [(SMOOTH * k).astype("u2") for k in range(1, 6)]
    out = np.empty(tiles[0].nbytes, np.uint8)
    for tile in tiles:
        _core.decompress_into(_core.compress(tile), out, widths={2})
        assert out.tobytes() == tile.tobytes()
    assert len(calls) == 1
    with pytest.raises(OpenZLError, match="element width is 2 bytes, expected 1 or 4"):
        _core.decompress_into(_core.compress(tiles[0]), out, widths={1, 4})
    assert len(calls) == 1  # refused from the skeleton, before decoding
