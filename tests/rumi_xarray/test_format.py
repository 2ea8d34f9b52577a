"""The format core against every fixture's manifest: geometry, dtype, georef, texts, time, blob."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pytest
import xarray as xr
from _fixtures import DATA, FIXTURES, Fixture

from rumi_xarray.blob import parse_blob
from rumi_xarray.errors import RumiFormatError
from rumi_xarray.format import HEAD_NBYTES, RumiFile, describe_source, parse_bytes
from rumi_xarray.spec import Generation, TimeKind
from rumi_xarray.write.to_rumi import to_rumi

if TYPE_CHECKING:
    from pathlib import Path


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


# ---------------------------------------------------------------------------------------
# How many reads a description takes


def _counted(data: bytes, header: bytes | None) -> tuple[RumiFile, list[list[tuple[int, int]]]]:
    """The description of ``data`` and each call to ``read`` it made (its ranges)."""
    calls: list[list[tuple[int, int]]] = []

    def read(ranges: list[tuple[int, int]]) -> list[bytes]:
        calls.append(list(ranges))
        return [data[o : o + n] for o, n in ranges]

    return describe_source(len(data), read, header), calls


def test_reads_of_a_description(fixture: Fixture) -> None:
    """One read for a small file, with or without its blob; two for a larger one with a
    trailer (a 0.16 file has none); the blob never takes more reads, nor more bytes."""
    data = fixture.path.read_bytes()
    plain, plain_calls = _counted(data, None)
    blob, blob_calls = _counted(data, fixture.header)
    assert plain.to_blob() == blob.to_blob() == fixture.header
    has_trailer = plain.generation is not Generation.BIGTIFF
    want = 1 if len(data) <= HEAD_NBYTES or not has_trailer else 2
    plain_ranges = [r for call in plain_calls for r in call]
    blob_ranges = [r for call in blob_calls for r in call]
    assert len(plain_ranges) == want and plain_ranges[0] == (0, min(len(data), HEAD_NBYTES))
    assert len(blob_ranges) == want
    assert sum(n for _, n in blob_ranges) <= sum(n for _, n in plain_ranges)
    if len(data) > HEAD_NBYTES:
        assert blob_ranges[0] == (0, plain.base_offset), "the magic through the georeferencing"


@pytest.fixture(scope="module")
def long_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """A file whose index (5625 frames) is longer than :data:`HEAD_NBYTES`, and its blob."""
    path: Path = tmp_path_factory.mktemp("long") / "long.rumi"
    pixels = np.arange(150 * 150, dtype=np.uint8).reshape(1, 150, 150)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no CRS
        header = to_rumi(
            xr.DataArray(pixels, dims=("band", "y", "x")), path, tile=2, time=["2024-01-01"]
        )
    return path.read_bytes(), header


def test_reads_of_a_long_index(long_index: tuple[bytes, bytes]) -> None:
    """The first read, the rest of the index, the trailer; the blob reads the magic, the
    georeferencing and the trailer in one batch of separate ranges."""
    data, header = long_index
    plain, plain_calls = _counted(data, None)
    assert plain.base_offset > HEAD_NBYTES
    trailer = (plain.data_end, len(data) - plain.data_end)
    base = plain.base_offset
    assert plain_calls == [[(0, HEAD_NBYTES)], [(HEAD_NBYTES, base - HEAD_NBYTES)], [trailer]]
    blob, blob_calls = _counted(data, header)
    assert blob_calls == [[(0, 4), (base - 160, 160), trailer]]
    assert blob.to_blob() == plain.to_blob() == header


@pytest.mark.parametrize("name", ["i32_b2_tile", "f32_b13_30x41_tile_crs"])
def test_a_blob_of_the_other_container(name: str) -> None:
    """A 0.16 blob given for a 0.26 file, or back, fails as it did before the magic was
    read along: parsed for the container the file's magic names."""
    files = {f.folder: f for f in FIXTURES if f.name == name}
    for folder, other in (("rumi-0.26.1", "rumi-0.16.0"), ("rumi-0.16.0", "rumi-0.26.1")):
        data = files[folder].path.read_bytes()
        generation = Generation.BIGTIFF if folder == "rumi-0.16.0" else Generation.RUMI_TAIL
        with pytest.raises(RumiFormatError) as want:
            parse_blob(files[other].header, generation=generation, source_length=len(data))
        with pytest.raises(RumiFormatError, match=re.escape(str(want.value))):
            _counted(data, files[other].header)
