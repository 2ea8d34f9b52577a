"""Coordinates of a described file: pixel centres, spatial_ref, CF-encoded times, time_end."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from _fixtures import FIXTURES, Fixture
from affine import Affine

from rumi_xarray.coords import (
    CF_CALENDAR,
    CF_TIME_UNITS,
    cf_times,
    encoded_time,
    spatial_coords,
    time_coords,
)
from rumi_xarray.format import parse_bytes
from rumi_xarray.georef import Georef


def _rioxarray_centres(transform: Affine, width: int, height: int) -> tuple[np.ndarray, ...]:
    """What ``rioxarray._spatial_utils.affine_to_coords`` computes, restated with ``@``."""
    centre = transform @ Affine.translation(0.5, 0.5)
    cols, rows = np.meshgrid(np.arange(width), np.arange(height))
    return centre @ (cols, rows)


def test_no_georeferencing_gives_pixel_centres_and_identity() -> None:
    coords = spatial_coords(Georef(None, None), 3, 4)
    np.testing.assert_array_equal(coords["x"].values, [0.5, 1.5, 2.5, 3.5])
    np.testing.assert_array_equal(coords["y"].values, [0.5, 1.5, 2.5])
    assert coords["spatial_ref"].attrs == {"GeoTransform": "0.0 1.0 0.0 0.0 0.0 1.0"}
    assert coords["x"].attrs == {} and coords["y"].attrs == {}


@pytest.mark.parametrize(
    "transform",
    [(10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0), (0.1, 0.0, 12.3, 0.0, -0.1, 45.7)],
)
def test_north_up_centres_match_rioxarray_bit_for_bit(transform: tuple[float, ...]) -> None:
    coords = spatial_coords(Georef(transform, 32633 if transform[0] > 1 else 4326), 7, 9)
    xs, ys = _rioxarray_centres(Affine(*transform), 9, 7)
    np.testing.assert_array_equal(coords["x"].values, xs[0])
    np.testing.assert_array_equal(coords["y"].values, ys[:, 0])


def test_rotated_transform_gives_2d_xc_yc() -> None:
    transform = (10.0, 2.5, 500000.0, 1.5, -10.0, 4000000.0)
    coords = spatial_coords(Georef(transform, 32633), 5, 6)
    assert "x" not in coords and "y" not in coords
    xs, ys = _rioxarray_centres(Affine(*transform), 6, 5)
    assert coords["xc"].dims == coords["yc"].dims == ("y", "x")
    np.testing.assert_array_equal(coords["xc"].values, xs)
    np.testing.assert_array_equal(coords["yc"].values, ys)
    assert coords["spatial_ref"].attrs["GeoTransform"] == "500000.0 10.0 2.5 4000000.0 1.5 -10.0"


def test_pixel_is_point_centres_are_the_stored_transform() -> None:
    coords = spatial_coords(Georef((0.3, 0.0, 7.1, 0.0, -0.3, 50.9), 4326, True), 4, 5)
    np.testing.assert_array_equal(coords["x"].values, 7.1 + 0.3 * np.arange(5))
    np.testing.assert_array_equal(coords["y"].values, 50.9 - 0.3 * np.arange(4))


TIMES = np.array(["1969-12-31T23:59:59", "2024-06-01T12:30:00"], "datetime64[s]")


def test_encoded_time_is_int64_seconds_since_the_one_epoch() -> None:
    var = xr.Variable("time", TIMES, {"standard_name": "time"})
    got = encoded_time(var)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got.values, [-1, 1717245000])
    assert got.attrs == {"standard_name": "time", "units": CF_TIME_UNITS, "calendar": CF_CALENDAR}


def test_cf_times_touches_only_datetimes() -> None:
    coords = {
        "time": xr.Variable("time", TIMES),
        "time_bounds": xr.Variable(
            ("time", "bnds"), np.stack([TIMES, TIMES + np.timedelta64(60, "s")], axis=1)
        ),
        "x": xr.Variable("x", [0.5, 1.5]),
    }
    got = cf_times(coords, decode_times=False)
    assert got["x"] is coords["x"]
    np.testing.assert_array_equal(got["time_bounds"].values[:, 1], [59, 1717245060])
    assert got["time_bounds"].attrs["units"] == CF_TIME_UNITS
    assert cf_times(coords)["time"] is coords["time"]
    per_name = cf_times(coords, decode_times={"time": False})
    assert per_name["time"].dtype == np.int64 and per_name["time_bounds"].dtype.kind == "M"
    decoded = cf_times(coords, decode_times=xr.coders.CFDatetimeCoder(use_cftime=False))
    np.testing.assert_array_equal(decoded["time"].values, TIMES.astype("datetime64[ns]"))


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
