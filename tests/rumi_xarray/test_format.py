"""The format core against every fixture's manifest: geometry, dtype, georef, texts, time, blob."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from _fixtures import DATA, Fixture

from rumi_xarray.blob import parse_blob
from rumi_xarray.format import parse_bytes
from rumi_xarray.spec import Generation, TimeKind


def _seconds(text: str) -> int:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def test_description_matches_manifest(fixture: Fixture) -> None:
    meta = fixture.meta
    data = fixture.path.read_bytes()
    for desc in (parse_bytes(data), parse_bytes(data, fixture.header)):
        grid = desc.grid
        assert (grid.width, grid.length) == (meta["image_width"], meta["image_length"])
        assert (grid.tile_length, grid.tile_width) == tuple(meta["tile"])
        assert (grid.tiles_down, grid.tiles_across) == (meta["tiles_down"], meta["tiles_across"])
        assert desc.frame_count == meta["frame_count"]
        assert desc.base_offset == meta["base_frame_offset"]
        assert desc.data_end <= len(data)
        assert " ".join(grid.frame_axes) == meta["frame_layout"]
        assert desc.frame_unit == meta["frame_unit"]
        assert desc.georef.epsg == meta["crs"]
        assert desc.georef.transform == (
            None if meta["transform"] is None else tuple(meta["transform"])
        )
        assert desc.georef.pixel_is_point == meta["pixel_is_point"]
        assert desc.to_blob() == fixture.header
        if fixture.folder == "rumi-0.16.0":
            assert desc.generation is Generation.BIGTIFF
            assert desc.band_texts is None and desc.time is None
            continue
        assert desc.generation is Generation.RUMI_TAIL
        assert desc.sample.name == meta["rumi_dtype"]
        assert desc.band_texts == tuple(meta["bands"])
        assert desc.time is not None and grid.times == meta["time_count"]
        if meta["time_kind"] == "interval":
            assert desc.time.kind is TimeKind.INTERVAL
            want = [[_seconds(s), _seconds(e)] for s, e in meta["time"]]
        else:
            assert desc.time.kind is TimeKind.INSTANT
            want = [_seconds(t) for t in meta["time"]]
        assert desc.time.seconds.tolist() == want


def test_index_order_matches_manifest(fixture: Fixture) -> None:
    desc = parse_bytes(fixture.path.read_bytes())
    assert list(desc.grid.index_axes) == fixture.meta.get("index_order", list(desc.grid.index_axes))


def test_frame_ranges_are_prefix_sums(fixture: Fixture) -> None:
    desc = parse_bytes(fixture.path.read_bytes())
    start = desc.base_offset
    for k in range(desc.frame_count):
        offset, length = desc.frame_range(k)
        assert offset == start and length > 0
        start += length
    assert start == desc.data_end


def test_blob_alone_needs_no_source(fixture: Fixture) -> None:
    frames = parse_blob(fixture.header)
    want = Generation.BIGTIFF if fixture.folder == "rumi-0.16.0" else Generation.RUMI_TAIL
    assert frames.generation is want
    assert frames.base == fixture.meta["base_frame_offset"]
    assert len(frames.counts) == fixture.meta["frame_count"]


def test_time_file_reads_through_tail_swap() -> None:
    """Re-wrap a 0.26 file with a TIME trailer: it parses as 0.18-0.24, pixels unchanged."""
    data = (DATA / "rumi-0.26.1" / "u8_b1_37x45_t16_crs.rumi").read_bytes()
    desc = parse_bytes(data)
    time_block = data[desc.data_end + 6 + 2 + len("gray") :]
    rewrapped = data[: desc.data_end] + b"TIME\x01\x00" + time_block
    old = parse_bytes(rewrapped)
    assert old.generation is Generation.RUMI_TIME
    assert old.band_texts is None
    assert np.array_equal(old.time.seconds, desc.time.seconds)
    assert old.to_blob() == desc.to_blob()
