"""Frame geometry against a brute-force model written straight from FORMAT §3.1, §4-5."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rumi_xarray.errors import RumiFormatError
from rumi_xarray.layout import (
    FrameGrid,
    FrameTable,
    axis_chunks,
    base_frame_offset,
    frame_chunks,
    frame_offsets,
    frame_order,
)
from rumi_xarray.spec import SAMPLE_TYPES, Generation

# FORMAT §5, literally: unit -> {(B > 1, T > 1): (frame layout, index axes)}
TABLE = {
    0: {
        (False, False): ("hw", ""),
        (True, False): ("hw", "b"),
        (False, True): ("hw", "t"),
        (True, True): ("hw", "bt"),
    },
    1: {(True, False): ("bhw", ""), (False, True): ("thw", "")},
    2: {(True, False): ("hwb", ""), (False, True): ("hwt", "")},
    3: {(True, True): ("bthw", "")},
    4: {(True, True): ("tbhw", "")},
    5: {(True, True): ("bhwt", "")},
    6: {(True, True): ("thwb", "")},
    7: {(True, True): ("hwbt", "")},
    8: {(True, True): ("hwtb", "")},
    9: {(True, True): ("hw", "tb")},
}


def brute_frames(image: np.ndarray, tl: int, tw: int, layout: str, index: str) -> list[np.ndarray]:
    """Cut a (T, B, L, W) image into frames in file order, each flattened in layout order."""
    times, bands, length, width = image.shape
    frames = []
    for row in range(-(-length // tl)):
        for col in range(-(-width // tw)):
            cell = image[:, :, row * tl : (row + 1) * tl, col * tw : (col + 1) * tw]
            extents = [bands if a == "b" else times for a in index]
            for values in itertools.product(*(range(n) for n in extents)):
                part = cell
                for axis, v in zip(index, values, strict=True):
                    part = part[:, v : v + 1] if axis == "b" else part[v : v + 1]
                squeezed = part.squeeze(
                    axis=tuple(i for i, a in enumerate("tbhw") if a not in layout)
                )
                present = [a for a in "tbhw" if a in layout]
                frames.append(squeezed.transpose([present.index(a) for a in layout]).ravel())
    return frames


@st.composite
def grids(draw: st.DrawFn) -> tuple[int, int, int, int, int, int, int]:
    unit = draw(st.integers(0, 9))
    combos = sorted(TABLE[unit])
    multi_b, multi_t = draw(st.sampled_from(combos))
    bands = draw(st.integers(2, 4)) if multi_b else 1
    times = draw(st.integers(2, 3)) if multi_t else 1
    length, width = draw(st.integers(1, 23)), draw(st.integers(1, 23))
    tl, tw = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    return length, width, tl, tw, bands, times, unit


def _grid(params: tuple[int, ...]) -> FrameGrid:
    length, width, tl, tw, bands, times, unit = params
    return FrameGrid.from_unit(
        length=length,
        width=width,
        tile_length=tl,
        tile_width=tw,
        bands=bands,
        times=times,
        unit=unit,
    )


@settings(max_examples=300, deadline=None)
@given(grids())
def test_grid_matches_brute_force(params: tuple[int, ...]) -> None:
    length, width, tl, tw, bands, times, unit = params
    grid = _grid(params)
    layout, index = TABLE[unit][(bands > 1, times > 1)]
    assert (grid.frame_axes, grid.index_axes) == (layout, index)
    image = np.arange(times * bands * length * width).reshape(times, bands, length, width)
    frames = brute_frames(image, tl, tw, layout, index)
    assert grid.frame_count == len(frames)
    rebuilt = np.full_like(image, -1)
    for k, flat in enumerate(frames):
        key = grid.frame_key(k)
        assert grid.frame_index(key.row, key.col, key.band or 0, key.time or 0) == k
        assert grid.frame_samples(k) == flat.size
        block = grid.to_block(k, flat)
        y, x = key.row * tl, key.col * tw
        t = slice(None) if grid.time_in_frame or times == 1 else slice(key.time, key.time + 1)
        b = slice(None) if grid.band_in_frame or bands == 1 else slice(key.band, key.band + 1)
        target = rebuilt[t, b, y : y + block.shape[2], x : x + block.shape[3]]
        assert (target == -1).all(), "a pixel is held by two frames"
        target[...] = block
    np.testing.assert_array_equal(rebuilt, image)


@pytest.mark.parametrize(
    ("unit", "bands", "times"), [(1, 1, 1), (2, 1, 1), (3, 2, 1), (9, 2, 1), (1, 3, 4), (10, 2, 2)]
)
def test_invalid_units_are_rejected(unit: int, bands: int, times: int) -> None:
    with pytest.raises(RumiFormatError, match="frame_unit"):
        FrameGrid.from_unit(
            length=4, width=4, tile_length=2, tile_width=2, bands=bands, times=times, unit=unit
        )


@settings(max_examples=200, deadline=None)
@given(grids())
def test_cells_and_tile_rows_cut_into_their_frames(params: tuple[int, ...]) -> None:
    """The writer's loads: a tile row or a cell holds exactly its frames, each cut whole."""
    grid = _grid(params)
    image = np.arange(grid.times * grid.bands * grid.length * grid.width).reshape(
        grid.times, grid.bands, grid.length, grid.width
    )
    keys = [grid.frame_key(k) for k in range(grid.frame_count)]
    for row in range(grid.tiles_down):
        cols: list[int | None] = [None, *range(grid.tiles_across)]
        for col in cols:
            frames = grid.cell_frames(row, col)
            want = [k for k, key in enumerate(keys) if key.row == row and col in (None, key.col)]
            assert list(frames) == want
            window = grid.cell_window(row, col)
            cut = list(grid.cut(image[window], window, frames))
            assert [k for k, _ in cut] == want
            for k, block in cut:
                np.testing.assert_array_equal(block, image[grid.frame_window(k)])


@settings(max_examples=200, deadline=None)
@given(grids())
def test_frame_chunks_and_order_follow_the_keys(params: tuple[int, ...]) -> None:
    """Zarr chunk index and transpose order of each frame, as the virtual views use them."""
    grid = _grid(params)
    chunks = frame_chunks(grid)
    assert chunks.shape == (grid.frame_count, 4) and not chunks.flags.writeable
    for k in range(grid.frame_count):
        key = grid.frame_key(k)
        assert tuple(chunks[k]) == (key.time or 0, key.band or 0, key.row, key.col)
        samples = np.arange(grid.frame_samples(k))
        order = frame_order(grid, 4)
        block = grid.to_block(k, samples)
        np.testing.assert_array_equal(block.transpose(order).ravel(), samples)
    if grid.times == 1:  # a (band, y, x) array
        assert frame_order(grid, 3) == [a - 1 for a in frame_order(grid, 4) if a]


@pytest.mark.parametrize(
    ("n", "size", "chunks"), [(10, 4, (4, 4, 2)), (8, 4, (4, 4)), (3, 5, (3,)), (1, 1, (1,))]
)
def test_axis_chunks(n: int, size: int, chunks: tuple[int, ...]) -> None:
    assert axis_chunks(n, size) == chunks


@pytest.mark.parametrize(
    ("generation", "bands", "frames", "expected"),
    [
        (Generation.RUMI_TAIL, 2, 8, 548),  # FORMAT §11
        (Generation.BIGTIFF, 2, 8, 508),  # FORMAT §12
        (Generation.RUMI_TAIL, 5, 1, 292 + 10 + 10 + 160),
        (Generation.RUMI_TAIL, 1, 2, 292 + 16 + 160),
        (Generation.RUMI_TAIL, 4, 3, 292 + 24 + 12 + 160),
    ],
)
def test_base_frame_offset_formula(
    generation: Generation, bands: int, frames: int, expected: int
) -> None:
    assert base_frame_offset(generation, bands, frames) == expected


def test_frame_offsets_are_prefix_sums() -> None:
    counts = np.array([5, 1, 7, 2**33], np.uint64)
    offsets = frame_offsets(548, counts)
    assert offsets.dtype == np.uint64
    assert offsets.tolist() == [548, 553, 554, 561, 561 + 2**33]


def test_frame_table_places_frames_and_bounds_their_size() -> None:
    grid = FrameGrid.from_unit(
        length=16, width=16, tile_length=8, tile_width=8, bands=2, times=1, unit=0
    )
    sample = SAMPLE_TYPES[(1, 8)]
    table = FrameTable(Generation.RUMI_TAIL, grid, sample, 0, np.full(8, 3, np.uint64))
    assert table.base == base_frame_offset(Generation.RUMI_TAIL, 2, 8) == 548
    assert table.offsets().tolist() == list(range(548, 548 + 9 * 3, 3))
    table.check_frame_size()
    side = 1 << 15
    huge = FrameGrid.from_unit(
        length=side, width=side, tile_length=side, tile_width=side, bands=2, times=1, unit=1
    )
    table = FrameTable(Generation.RUMI_TAIL, huge, sample, 1, np.ones(1, np.uint64))
    with pytest.raises(RumiFormatError, match="past the size limit"):
        table.check_frame_size()
