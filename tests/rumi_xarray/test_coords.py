"""``coords``: the time coordinates of a file, ``time_end`` for intervals."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from _fixtures import FIXTURES, Fixture

from rumi_xarray.coords import time_coords
from rumi_xarray.format import parse_bytes


def _fixture(name: str) -> Fixture:
    return next(f for f in FIXTURES if f.name == name and f.folder == "rumi-0.26.1")


def _manifest_seconds(fixture: Fixture) -> np.ndarray:
    return np.array(fixture.meta["time_seconds"], "datetime64[s]").reshape(-1, 2)


@pytest.mark.parametrize(
    ("name", "dims"),
    [("f64_b13_20x21_cell_nocrs", ()), ("u16_t4_b1_33x29_thw_intervals", ("time",))],
)
def test_intervals_get_time_end_beside_time_and_bounds(name: str, dims: tuple[str, ...]) -> None:
    fixture = _fixture(name)
    coords = time_coords(parse_bytes(fixture.path.read_bytes()))
    pairs = _manifest_seconds(fixture)
    squeeze = (lambda a: a[0]) if not dims else (lambda a: a)
    end = coords["time_end"]
    assert end.dims == dims and end.dtype == np.dtype("datetime64[s]")
    assert end.attrs == {"long_name": "end of time interval"}
    np.testing.assert_array_equal(end.values, squeeze(pairs[:, 1]))
    np.testing.assert_array_equal(coords["time"].values, squeeze(pairs[:, 0]))
    assert coords["time"].attrs["bounds"] == "time_bounds"
    np.testing.assert_array_equal(coords["time_bounds"].values, squeeze(pairs))
    assert coords["time_bounds"].dims == (*dims, "bnds")


def test_instants_have_no_time_end() -> None:
    coords = time_coords(parse_bytes(_fixture("u8_t4_b1_33x29_tile_instants").path.read_bytes()))
    assert set(coords) == {"time"}


def test_the_data_array_keeps_time_end() -> None:
    """``ds.band_data`` drops ``time_bounds`` (its ``bnds`` dim) but keeps the interval ends."""
    fixture = _fixture("u16_t4_b1_33x29_thw_intervals")
    with xr.open_dataset(fixture.path, engine="rumi") as ds:
        da = ds["band_data"]
        assert "time_bounds" not in da.coords
        np.testing.assert_array_equal(da["time_end"].values, _manifest_seconds(fixture)[:, 1])
