"""``engine="rumi"`` on every fixture: values bit for bit, coordinates, laziness, sources."""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import ClassVar

import fsspec
import numpy as np
import pytest
import xarray as xr
from _fixtures import DATA, FIXTURES, Fixture, assert_same_bits, fixture_id
from xarray.backends.locks import SerializableLock

from rumi_xarray.backend.entrypoint import RumiBackendEntrypoint


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
    dict(y=xr.DataArray([1, 18, 9, 1], dims="p"), x=xr.DataArray([2, 16, 0, 2], dims="p")),
]
"""Basic and outer keys go to the reader as they are; pointwise (vectorized) ones through
xarray's ``explicit_indexing_adapter``."""


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
    assert xr.backends.plugins.guess_engine(str(FIXTURES[0].path)) == "rumi"


def test_open_reads_only_the_index_and_trailer(monkeypatch: pytest.MonkeyPatch) -> None:
    from rumi_xarray import io as _io
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
    assert size > 1 << 16, "a file longer than the first read"
    # the magic and the georeferencing (the index's last 160 bytes) in one read
    assert calls == [(0, base), (desc.data_end, size - desc.data_end)]
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


@pytest.mark.parametrize("where", ["local", "memory"])
def test_a_small_file_opens_in_one_request(where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Header, index, georeferencing and trailer of a small file come in one read (one
    ``pread``, one GET), with its blob as without."""
    from fsspec.implementations.memory import MemoryFileSystem

    from rumi_xarray import io as _io

    fixture = next(f for f in FIXTURES if f.name == "u8_b1_37x45_t16_crs")
    data = fixture.path.read_bytes()
    source: str | Path = fixture.path
    if where == "memory":
        source = "memory://one-request/scene.rumi"
        with fsspec.open(source, "wb") as f:
            f.write(data)
    calls: list[tuple[int, int]] = []
    read, cat_file = _io.LocalReader.read, MemoryFileSystem.cat_file

    def spy(self: _io.LocalReader, offset: int, length: int) -> bytes:
        calls.append((offset, length))
        return read(self, offset, length)

    def spy_cat(self: MemoryFileSystem, path: str, start: int, end: int, **kw: object) -> bytes:
        calls.append((start, end - start))
        return cat_file(self, path, start=start, end=end, **kw)

    monkeypatch.setattr(_io.LocalReader, "read", spy)
    monkeypatch.setattr(MemoryFileSystem, "cat_file", spy_cat)
    for header in (None, fixture.header):
        calls.clear()
        xr.open_dataset(source, engine="rumi", header=header).close()
        assert calls == [(0, len(data))]


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


# ---------------------------------------------------------------------------------------
# xarray's decoding keywords

DECODERS = (
    "mask_and_scale",
    "decode_times",
    "decode_timedelta",
    "use_cftime",
    "concat_characters",
    "decode_coords",
)
INTERVALS = next(f for f in FIXTURES if f.name == "u16_t4_b1_33x29_thw_intervals")
PROJECTED = next(
    f for f in FIXTURES if f.name == "f32_b13_30x41_tile_crs" and f.folder == "rumi-0.26.1"
)


def test_declares_every_decoder_and_lock() -> None:
    from xarray.backends.plugins import detect_parameters

    entry = RumiBackendEntrypoint()
    declared = detect_parameters(entry.open_dataset)
    assert tuple(entry.open_dataset_parameters) == declared
    for name in (*DECODERS, "lock", "nodata", "drop_variables"):
        assert name in declared


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(mask_and_scale=False),
        dict(mask_and_scale=True),
        dict(decode_times=True),
        dict(decode_timedelta=False),
        dict(decode_timedelta=True),
        dict(concat_characters=False),
        dict(decode_coords="all"),
        dict(decode_cf=True),
        dict(lock=False),
    ],
    ids=str,
)
def test_decoder_keywords_keep_the_pixels(kwargs: dict) -> None:
    with xr.open_dataset(INTERVALS.path, engine="rumi", **kwargs) as ds:
        assert_same_bits(_values(ds), INTERVALS.expected())
        assert ds.time.dtype.kind == "M"


def test_decode_times_false_gives_cf_seconds() -> None:
    from rumi_xarray.coords import CF_CALENDAR, CF_TIME_UNITS

    with xr.open_dataset(INTERVALS.path, engine="rumi") as decoded:
        times, bounds = decoded.time.values, decoded.time_bounds.values
    ds = xr.open_dataset(INTERVALS.path, engine="rumi", decode_times=False)
    epoch = np.datetime64("1970-01-01T00:00:00", "s")
    for name, want in (("time", times), ("time_bounds", bounds)):
        var = ds[name]
        assert var.dtype == np.int64
        np.testing.assert_array_equal(var.values, (want - epoch) // np.timedelta64(1, "s"))
        assert var.attrs["units"] == CF_TIME_UNITS and var.attrs["calendar"] == CF_CALENDAR
    assert ds.time.attrs["bounds"] == "time_bounds"
    roundtrip = xr.decode_cf(ds)
    np.testing.assert_array_equal(roundtrip.time.values, times)
    np.testing.assert_array_equal(roundtrip.time_bounds.values, bounds)


def test_decode_cf_false_is_every_decoder_off() -> None:
    ds = xr.open_dataset(PROJECTED.path, engine="rumi", decode_cf=False)
    assert ds.time.dtype == np.int64
    assert "spatial_ref" in ds.data_vars and "time" in ds.data_vars
    assert_same_bits(_values(ds), PROJECTED.expected())


def test_use_cftime_gives_cftime_objects() -> None:
    cftime = pytest.importorskip("cftime")
    with pytest.warns(FutureWarning, match="use_cftime"):
        ds = xr.open_dataset(INTERVALS.path, engine="rumi", use_cftime=True)
    assert isinstance(ds.time.values[0], cftime.datetime)
    assert ds.time.values[0] == cftime.DatetimeProlepticGregorian(2024, 1, 1)
    assert isinstance(ds.time_bounds.values[0, 1], cftime.datetime)
    coder = xr.coders.CFDatetimeCoder(use_cftime=True)
    ds = xr.open_dataset(INTERVALS.path, engine="rumi", decode_times=coder)
    assert isinstance(ds.time.values[-1], cftime.datetime)
    with pytest.warns(FutureWarning, match="use_cftime"):
        ds = xr.open_dataset(INTERVALS.path, engine="rumi", use_cftime=False)
    assert ds.time.dtype.kind == "M"


def test_use_cftime_without_cftime_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "cftime", None)
    with pytest.raises(ValueError, match="cftime"), pytest.warns(FutureWarning, match="use_cftime"):
        xr.open_dataset(INTERVALS.path, engine="rumi", use_cftime=True)


def _zarr_oracle(path: object, decode_coords: object, tmp_path: object) -> xr.Dataset:
    """The same dataset stored as Zarr and reopened by xarray's CF decoding."""
    ds = xr.open_dataset(path, engine="rumi").load()
    for var in ds.variables.values():
        var.encoding = {"grid_mapping": "spatial_ref"} if var is ds.band_data.variable else {}
    store = f"{tmp_path}/oracle.zarr"
    ds.assign_coords(band=ds.band.astype(str)).to_zarr(store, mode="w", consolidated=False)
    return xr.open_dataset(store, engine="zarr", consolidated=False, decode_coords=decode_coords)


@pytest.mark.parametrize("decode_coords", [False, True, "coordinates", "all"])
@pytest.mark.parametrize("fixture", [INTERVALS, PROJECTED], ids=fixture_id)
def test_decode_coords_as_xarray_cf_decoding(
    fixture: Fixture, decode_coords: object, tmp_path: object
) -> None:
    got = xr.open_dataset(fixture.path, engine="rumi", decode_coords=decode_coords)
    want = _zarr_oracle(fixture.path, decode_coords, tmp_path)
    assert set(got.coords) == set(want.coords)
    assert set(got.data_vars) == set(want.data_vars)
    assert set(got.attrs) == set(want.attrs)
    for key in ("grid_mapping", "coordinates"):
        assert got.band_data.attrs.get(key) == want.band_data.attrs.get(key), key
        if decode_coords != "all":  # the file's own view records no encoded "coordinates"
            assert got.band_data.encoding.get(key) == want.band_data.encoding.get(key), key
    assert got.band_data.encoding.get("grid_mapping") == want.band_data.encoding.get("grid_mapping")
    assert_same_bits(_values(got), fixture.expected())


def test_decode_coords_default_is_all_and_others_are_refused() -> None:
    ds = xr.open_dataset(PROJECTED.path, engine="rumi")
    assert "spatial_ref" in ds.coords and ds.band_data.encoding["grid_mapping"] == "spatial_ref"
    with pytest.raises(ValueError, match="decode_coords"):
        xr.open_dataset(PROJECTED.path, engine="rumi", decode_coords="some")


class _CountingLock(SerializableLock):
    """A picklable lock that counts how often it is held."""

    entered: ClassVar[list[int]] = []

    def __enter__(self) -> None:
        self.entered.append(1)
        super().__enter__()


@pytest.mark.parametrize("lock", [None, False, True, "serializable"])
def test_lock(lock: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from rumi_xarray.backend import entrypoint as backend

    _CountingLock.entered.clear()
    if lock is True:
        monkeypatch.setattr(backend, "RUMI_LOCK", _CountingLock())
    given = _CountingLock() if lock == "serializable" else lock
    ds = xr.open_dataset(PROJECTED.path, engine="rumi", lock=given, chunks={})
    da = pickle.loads(pickle.dumps(ds["band_data"]))
    assert_same_bits(ds["band_data"].values, PROJECTED.expected())
    assert_same_bits(da.values, PROJECTED.expected())
    assert bool(_CountingLock.entered) == (lock in (True, "serializable"))


def test_cache_inline_array_and_chunks_are_xarrays(monkeypatch: pytest.MonkeyPatch) -> None:
    from rumi_xarray.backend import entrypoint as backend

    calls: list[object] = []
    read = backend.read_window

    def spy(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(args)
        return read(*args, **kwargs)

    monkeypatch.setattr(backend, "read_window", spy)
    cached = xr.open_dataset(PROJECTED.path, engine="rumi", cache=True)["band_data"]
    _ = cached.values, cached.values
    assert len(calls) == 1
    calls.clear()
    uncached = xr.open_dataset(PROJECTED.path, engine="rumi", cache=False)["band_data"]
    _ = uncached.values, uncached.values
    assert len(calls) == 2
    for inline in (True, False):
        da = xr.open_dataset(PROJECTED.path, engine="rumi", chunks={"y": 16}, inline_array=inline)
        graph = dict(da["band_data"].data.__dask_graph__())
        assert any(str(k).startswith("original-") for k in graph) != inline
        assert da["band_data"].chunksizes["y"] == (16, 14)
        assert_same_bits(da["band_data"].values, PROJECTED.expected())


# ---------------------------------------------------------------------------------------
# nodata


def test_nodata_masks_with_mask_and_scale() -> None:
    expected = INTERVALS.expected()
    value = int(expected[0, 0, 3, 4])
    ds = xr.open_dataset(INTERVALS.path, engine="rumi", nodata=value, chunks={})
    da = ds["band_data"]
    assert da.dtype == np.float32
    want = np.where(expected == value, np.nan, expected.astype(np.float32))
    np.testing.assert_array_equal(da.values, want)
    assert da.encoding["_FillValue"] == np.float32(value) and da.encoding["dtype"] == np.uint16
    assert "_FillValue" not in da.attrs
    assert np.isnan(da.rio.nodata) and da.rio.encoded_nodata == value
    window = da.isel(time=[2, 0], y=slice(1, 9), x=[4, 0, 3]).values
    np.testing.assert_array_equal(window, want[[2, 0]][:, :, 1:9][..., [4, 0, 3]])


def test_nodata_without_mask_and_scale_is_an_attribute() -> None:
    expected = INTERVALS.expected()
    da = xr.open_dataset(INTERVALS.path, engine="rumi", nodata=7, mask_and_scale=False)["band_data"]
    assert_same_bits(da.values, expected)
    assert da.attrs["_FillValue"] == 7 and da.attrs["_FillValue"].dtype == np.uint16
    assert "_FillValue" not in da.encoding
    assert da.rio.nodata == 7 and da.rio.encoded_nodata is None


def test_nodata_per_band_variable() -> None:
    fixture = next(f for f in FIXTURES if f.name == "u16_b3_40x40_hwb_crs")
    expected = fixture.expected()
    value = int(expected[1, 0, 0])
    ds = xr.open_dataset(fixture.path, engine="rumi", band_as_variable=True, nodata=value)
    for b in range(3):
        want = np.where(expected[b] == value, np.nan, expected[b].astype(np.float32))
        np.testing.assert_array_equal(ds[f"band_{b + 1}"].values, want)
        assert ds[f"band_{b + 1}"].encoding["_FillValue"] == value


@pytest.mark.parametrize(
    ("name", "nodata", "message"),
    [
        ("u16_t4_b1_33x29_thw_intervals", -1, "-1 is out of range for uint16"),
        ("u16_t4_b1_33x29_thw_intervals", 65536, "65536 is out of range for uint16"),
        ("u16_t4_b1_33x29_thw_intervals", 2.5, "2.5 is not an integer, which uint16 needs"),
        ("u16_t4_b1_33x29_thw_intervals", float("nan"), "nan is not an integer"),
        ("u16_t4_b1_33x29_thw_intervals", 1j, "complex but the data type is uint16"),
        ("f32_b13_30x41_tile_crs", 1e39, "out of range for float32"),
    ],
)
def test_nodata_must_fit_the_dtype(name: str, nodata: object, message: str) -> None:
    fixture = next(f for f in FIXTURES if f.name == name)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        xr.open_dataset(fixture.path, engine="rumi", nodata=nodata)
    with pytest.raises(TypeError, match="nodata must be a number"):
        xr.open_dataset(fixture.path, engine="rumi", nodata="0")


@pytest.mark.parametrize(
    "fixture",
    [f for f in FIXTURES if f.folder == "rumi-0.26.1" or "int4" in f.name or "float6" in f.name],
    ids=fixture_id,
)
def test_nodata_on_every_type(fixture: Fixture) -> None:
    """A pixel value as nodata masks exactly the pixels equal to it, in every dtype."""
    from rumi_xarray.backend.entrypoint import masked_dtype

    expected = fixture.expected()
    value = expected.reshape(-1)[expected.size // 2]
    if value != value:
        pytest.skip("the middle pixel is NaN")
    da = xr.open_dataset(fixture.path, engine="rumi", nodata=value.item())["band_data"]
    assert da.dtype == masked_dtype(expected.dtype)
    with np.errstate(invalid="ignore"):  # complex NaN pixels
        hit = expected == value
    want = expected.astype(da.dtype)
    want[hit] = np.nan
    assert hit.any()
    assert_same_bits(da.values, want)


# ---------------------------------------------------------------------------------------
# Auto-detection and encoding["source"]


def _bigtiff(path: Path) -> Path:
    """An ordinary BigTIFF, as GDAL writes one."""
    import rasterio

    profile = dict(
        driver="GTiff",
        width=8,
        height=8,
        count=1,
        dtype="uint8",
        BIGTIFF="YES",
        crs="EPSG:32633",
        transform=rasterio.transform.Affine(10, 0, 0, 0, -10, 0),
    )
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.zeros((1, 8, 8), np.uint8))
    assert path.read_bytes()[:4] == b"II+\x00"
    return path


def test_guess_can_open_every_kind(tmp_path: Path) -> None:
    import warnings

    entry = RumiBackendEntrypoint()
    data = FIXTURES[0].path.read_bytes()
    old = next(f for f in FIXTURES if f.folder == "rumi-0.16.0").path.read_bytes()
    assert entry.guess_can_open(data) and entry.guess_can_open(memoryview(data))
    assert entry.guess_can_open(bytearray(old)), "0.16 BigTIFF told by its IFD"
    assert not entry.guess_can_open(b"II+\x00" + b"\x00" * 300)
    big = _bigtiff(tmp_path / "ordinary.tif")
    assert not entry.guess_can_open(big) and not entry.guess_can_open(big.read_bytes())
    assert not entry.guess_can_open(b"") and not entry.guess_can_open(b"\x89HDF\r\n")
    buffer = io.BytesIO(b"xx" + data)
    buffer.seek(2)
    assert not entry.guess_can_open(buffer) and buffer.tell() == 2, "magic at byte 0 only"
    for payload in (data, old):
        stream = io.BytesIO(payload)
        stream.seek(7)
        assert entry.guess_can_open(stream) and stream.tell() == 7
    assert not entry.guess_can_open(io.StringIO("RUMI"))
    plain = tmp_path / "scene.bin"
    plain.write_bytes(old)
    with open(plain, "rb") as f:
        f.seek(3)
        assert entry.guess_can_open(f) and f.tell() == 3
    assert entry.guess_can_open(plain) and entry.guess_can_open(str(plain))
    assert not entry.guess_can_open(f), "a closed file"
    with open(plain) as text:
        assert not entry.guess_can_open(text)
    assert not entry.guess_can_open(tmp_path / "missing.bin")
    assert not entry.guess_can_open(tmp_path)
    assert not entry.guess_can_open(3) and not entry.guess_can_open(None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert xr.backends.plugins.guess_engine(data) == "rumi"
        assert xr.backends.plugins.guess_engine(io.BytesIO(old)) == "rumi"
        assert xr.backends.plugins.guess_engine(str(plain)) == "rumi"


@pytest.mark.parametrize("kind", ["str", "path", "bytes", "bytesio", "file", "url"])
def test_encoding_source(kind: str) -> None:
    fixture = FIXTURES[2]
    data = fixture.path.read_bytes()
    url = "memory://source/scene.rumi"
    with fsspec.open(url, "wb") as f:
        f.write(data)
    with open(fixture.path, "rb") as file:
        source, want = {
            "str": (str(fixture.path), str(fixture.path)),
            "path": (fixture.path, str(fixture.path)),
            "bytes": (data, "<bytes>"),
            "bytesio": (io.BytesIO(data), "<BytesIO>"),
            "file": (file, str(fixture.path)),
            "url": (url, url),
        }[kind]
        with xr.open_dataset(source, engine="rumi") as ds:
            assert ds["band_data"].encoding["source"] == want
