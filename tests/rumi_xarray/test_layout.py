"""Frame geometry against a brute-force model written straight from FORMAT §4-5."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rumi_xarray.errors import RumiFormatError
from rumi_xarray.layout import FrameGrid

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


@settings(max_examples=300, deadline=None)
@given(grids())
def test_grid_matches_brute_force(params: tuple[int, ...]) -> None:
    length, width, tl, tw, bands, times, unit = params
    grid = FrameGrid.from_unit(
        length=length,
        width=width,
        tile_length=tl,
        tile_width=tw,
        bands=bands,
        times=times,
        unit=unit,
    )
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
