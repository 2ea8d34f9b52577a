"""``engine="rumi"`` on every fixture: values bit for bit, coordinates, laziness, sources."""

from __future__ import annotations

import io
import pickle

import fsspec
import numpy as np
import pytest
import xarray as xr
from _fixtures import DATA, FIXTURES, Fixture, assert_same_bits, fixture_id

from rumi_xarray.backend import RumiBackendEntrypoint


def _values(ds: xr.Dataset) -> np.ndarray:
    return ds["band_data"].values


def test_eager_read_equals_npy(fixture: Fixture) -> None:
    with xr.open_dataset(fixture.path, engine="rumi") as ds:
        assert_same_bits(_values(ds), fixture.expected())


def test_dask_chunks_follow_frames(fixture: Fixture) -> None:
    with xr.open_dataset(fixture.path, engine="rumi", chunks={}) as ds:
        da = ds["band_data"]
        tl, tw = fixture.meta["tile"]
        assert da.chunks is not None
        assert max(da.chunksizes["y"]) == min(tl, da.sizes["y"])
        assert max(da.chunksizes["x"]) == min(tw, da.sizes["x"])
        assert_same_bits(da.values, fixture.expected())


def test_memory_url_equals_npy(fixture: Fixture) -> None:
    url = f"memory://fixtures/{fixture.folder}/{fixture.path.name}"
    with fsspec.open(url, "wb") as f:
        f.write(fixture.path.read_bytes())
    with xr.open_dataset(url, engine="rumi") as ds:
        assert_same_bits(_values(ds), fixture.expected())


def test_header_blob_skips_index(fixture: Fixture) -> None:
    with xr.open_dataset(fixture.path, engine="rumi", header=fixture.header) as ds:
        assert_same_bits(_values(ds), fixture.expected())
        with xr.open_dataset(fixture.path, engine="rumi") as plain:
            xr.testing.assert_identical(ds.drop_vars("band_data"), plain.drop_vars("band_data"))


@pytest.mark.parametrize("source", ["bytes", "fileobj"])
def test_bytes_and_file_objects(source: str) -> None:
    fixture = FIXTURES[2]
    data = fixture.path.read_bytes()
    obj = data if source == "bytes" else io.BytesIO(data)
    ds = xr.open_dataset(obj, engine=RumiBackendEntrypoint)
    assert_same_bits(_values(ds), fixture.expected())


WINDOWS = [
    dict(y=slice(3, 29), x=slice(5, 17)),
    dict(y=slice(None, None, 3), x=slice(1, None, 5)),
    dict(y=slice(None, None, -2)),
    dict(y=[10, 2, 2, 18], x=[0, 16, 15, 1]),
    dict(y=7),
    dict(x=-1, y=slice(-5, None)),
]


@pytest.mark.parametrize("window", WINDOWS, ids=str)
@pytest.mark.parametrize(
    "fixture",
    [f for f in FIXTURES if f.meta["image_length"] >= 19 and f.meta["image_width"] >= 17],
    ids=fixture_id,
)
def test_windows_equal_numpy_slicing(fixture: Fixture, window: dict) -> None:
    expected = xr.DataArray(
        fixture.expected(), dims=fixture.meta["npy_axes"].split()[: fixture.expected().ndim]
    )
    with xr.open_dataset(fixture.path, engine="rumi") as ds:
        got = ds["band_data"].isel(**{k: v for k, v in window.items()})
        assert_same_bits(got.values, expected.isel(window).values)


@pytest.mark.parametrize("bands", [[0], [2, 0], [1, 1, 2], slice(None, None, 2)], ids=str)
@pytest.mark.parametrize(
    "name",
    [
        "i16_t4_b3_19x21_u0_bt_tile",
        "i16_t4_b3_19x21_u9_tb_tile",
        "i16_t4_b3_19x21_u6_thwb",
        "u16_b3_40x40_hwb_crs",
    ],
)
def test_band_and_time_lists(name: str, bands: object) -> None:
    fixture = next(f for f in FIXTURES if f.name == name)
    expected = fixture.expected()
    with xr.open_dataset(fixture.path, engine="rumi") as ds:
        da = ds["band_data"]
        if "time" in da.dims:
            got = da.isel(band=bands, time=[3, 0], y=slice(2, 17), x=[20, 0, 8])
            want = expected[[3, 0]][:, bands][:, :, 2:17][..., [20, 0, 8]]
        else:
            got = da.isel(band=bands, y=slice(2, 17), x=[20, 0, 8])
            want = expected[bands][:, 2:17][..., [20, 0, 8]]
        assert_same_bits(got.values, want)


def test_coordinates_projected() -> None:
    fixture = next(
        f for f in FIXTURES if f.name == "f32_b13_30x41_tile_crs" and f.folder == "rumi-0.26.1"
    )
    ds = xr.open_dataset(fixture.path, engine="rumi")
    a, _, c, _, e, f = fixture.meta["transform"]
    np.testing.assert_array_equal(ds.x.values, c + a * (np.arange(41) + 0.5))
    np.testing.assert_array_equal(ds.y.values, f + e * (np.arange(30) + 0.5))
    assert list(ds.band.values) == fixture.meta["bands"]
    assert ds.time.values == np.datetime64("2022-12-31T00:00:00")
    assert ds["band_data"].dims == ("band", "y", "x")
    rio = ds["band_data"].rio
    assert rio.crs.to_epsg() == 32618
    assert tuple(rio.transform())[:6] == (10.0, 0.0, 499980.0, 0.0, -10.0, 4000020.0)
    assert rio.bounds() == (499980.0, 4000020.0 - 300.0, 499980.0 + 410.0, 4000020.0)
    assert ds.spatial_ref.attrs["GeoTransform"] == "499980.0 10.0 0.0 4000020.0 0.0 -10.0"


def test_pixel_is_point_and_geographic() -> None:
    fixture = next(
        f for f in FIXTURES if f.name == "u16_b3_50x33_cell_geo_pip" and f.folder == "rumi-0.26.1"
    )
    ds = xr.open_dataset(fixture.path, engine="rumi")
    a, _, c, _, e, f = fixture.meta["transform"]
    np.testing.assert_array_equal(ds.x.values, c + a * np.arange(33))
    np.testing.assert_array_equal(ds.y.values, f + e * np.arange(50))
    assert ds["band_data"].attrs["AREA_OR_POINT"] == "Point"
    assert ds.x.attrs["units"] == "degrees_east"
    rio = ds["band_data"].rio
    assert rio.crs.to_epsg() == 4326
    assert tuple(rio.transform())[:6] == (a, 0.0, c - a / 2, 0.0, e, f - e / 2)


def test_time_series_and_intervals() -> None:
    fixture = next(f for f in FIXTURES if f.name == "u16_t4_b1_33x29_thw_intervals")
    ds = xr.open_dataset(fixture.path, engine="rumi")
    assert ds["band_data"].dims == ("time", "band", "y", "x")
    starts = [np.datetime64(s[:19]) for s, _ in fixture.meta["time"]]
    ends = [np.datetime64(e[:19]) for _, e in fixture.meta["time"]]
    np.testing.assert_array_equal(ds.time.values, np.array(starts, "datetime64[ns]"))
    np.testing.assert_array_equal(ds.time_bounds.values[:, 1], np.array(ends, "datetime64[ns]"))
    assert ds.time.attrs["bounds"] == "time_bounds"
    assert ds.spatial_ref.attrs == {"GeoTransform": "0.0 1.0 0.0 0.0 0.0 1.0"}
    np.testing.assert_array_equal(ds.x.values, np.arange(29) + 0.5)


def test_016_bands_are_numbered() -> None:
    fixture = next(
        f for f in FIXTURES if f.folder == "rumi-0.16.0" and f.name == "i16_b3_50x33_tile_nocrs"
    )
    ds = xr.open_dataset(fixture.path, engine="rumi")
    assert ds.band.values.tolist() == [1, 2, 3]
    assert "time" not in ds.coords
    assert ds.attrs["rumi_generation"] == "0.15-0.16"


def test_complex32_widens_exactly() -> None:
    fixture = next(f for f in FIXTURES if f.name == "c32_b2_tile_capi")
    da = xr.open_dataset(fixture.path, engine="rumi")["band_data"]
    assert da.dtype == np.complex64 and da.attrs["rumi_dtype"] == "complex32"
    back = np.stack([da.values.real, da.values.imag], axis=-1).astype(np.float16)
    np.testing.assert_array_equal(
        back.view(np.uint16), np.load(DATA / fixture.folder / fixture.meta["npy"])
    )


def test_band_as_variable_and_drop_variables() -> None:
    fixture = next(f for f in FIXTURES if f.name == "u16_b3_40x40_hwb_crs")
    ds = xr.open_dataset(
        fixture.path, engine="rumi", band_as_variable=True, drop_variables=["time"]
    )
    assert list(ds.data_vars) == ["band_1", "band_2", "band_3"]
    assert ds["band_2"].attrs["long_name"] == "band 2"
    assert "time" not in ds.coords
    for b in range(3):
        assert_same_bits(ds[f"band_{b + 1}"].values, fixture.expected()[b])


def test_guess_can_open(tmp_path: object) -> None:
    entry = RumiBackendEntrypoint()
    assert entry.guess_can_open(FIXTURES[0].path)
    assert entry.guess_can_open("s3://bucket/scene.rumi")
    assert not entry.guess_can_open("scene.tif")
    assert not entry.guess_can_open(io.BytesIO(b"RUMI"))
    assert xr.backends.plugins.guess_engine(str(FIXTURES[0].path)) == "rumi"


def test_open_reads_only_the_index_and_trailer(monkeypatch: pytest.MonkeyPatch) -> None:
    from rumi_xarray import _io
    from rumi_xarray.format import parse_bytes

    calls: list[tuple[int, int]] = []
    read, read_into = _io.LocalReader.read, _io.LocalReader.read_into

    def spy(self: _io.LocalReader, offset: int, length: int) -> bytes:
        calls.append((offset, length))
        return read(self, offset, length)

    def spy_into(self: _io.LocalReader, offset: int, length: int, scratch: np.ndarray) -> bytes:
        calls.append((offset, length))
        return read_into(self, offset, length, scratch)

    monkeypatch.setattr(_io.LocalReader, "read", spy)
    monkeypatch.setattr(_io.LocalReader, "read_into", spy_into)
    fixture = next(f for f in FIXTURES if f.name == "f32_b13_30x41_tile_crs")
    desc = parse_bytes(fixture.path.read_bytes())
    size = fixture.path.stat().st_size
    ds = xr.open_dataset(fixture.path, engine="rumi", header=fixture.header)
    base = desc.base_offset
    assert calls == [(0, 4), (base - 160, 160), (desc.data_end, size - desc.data_end)]
    calls.clear()
    xr.open_dataset(fixture.path, engine="rumi")
    assert calls == [(0, min(size, 1 << 16)), (desc.data_end, size - desc.data_end)]
    calls.clear()
    _ = ds["band_data"].isel(band=3, y=slice(16, 30), x=slice(0, 16)).values
    assert calls == [desc.frame_range(desc.grid.frame_index(1, 0, band=3))]
    calls.clear()
    _ = ds["band_data"].isel(y=slice(0, 16), x=slice(0, 16)).values
    first, last = desc.frame_range(0), desc.frame_range(12)
    assert calls == [(first[0], last[0] + last[1] - first[0])], "13 adjacent frames, one read"


def test_backend_array_pickles() -> None:
    fixture = next(f for f in FIXTURES if f.name == "i16_t4_b3_19x21_u5_bhwt")
    da = xr.open_dataset(fixture.path, engine="rumi", chunks={})["band_data"]
    clone = pickle.loads(pickle.dumps(da))
    assert_same_bits(clone.values, fixture.expected())


def test_metadata_equals_manifest(fixture: Fixture) -> None:
    """Band texts, time, transform and CRS through engine="rumi", for every fixture."""
    meta = fixture.meta
    ds = xr.open_dataset(fixture.path, engine="rumi", header=fixture.header)
    da = ds["band_data"]
    if fixture.folder == "rumi-0.16.0":
        assert ds.band.values.tolist() == list(range(1, len(ds.band) + 1))
        assert "time" not in ds.coords
    else:
        assert ds.band.values.tolist() == meta["bands"]
        starts = [t[0] if meta["time_kind"] == "interval" else t for t in meta["time"]]
        want = np.array([np.datetime64(s[:19]) for s in starts], "datetime64[s]")
        np.testing.assert_array_equal(np.atleast_1d(ds.time.values), want)
        if meta["time_kind"] == "interval":
            ends = np.array([np.datetime64(t[1][:19]) for t in meta["time"]], "datetime64[s]")
            np.testing.assert_array_equal(np.atleast_2d(ds.time_bounds.values)[:, 1], ends)
    if meta["crs"] is None:
        assert da.rio.crs is None and da.rio.transform().is_identity
        np.testing.assert_array_equal(ds.y.values, np.arange(ds.sizes["y"]) + 0.5)
        return
    assert da.rio.crs.to_epsg() == meta["crs"]
    a, b, c, d, e, f = meta["transform"]
    if meta["pixel_is_point"]:
        c, f = c - a / 2, f - e / 2
    assert tuple(da.rio.transform())[:6] == (a, b, c, d, e, f)
