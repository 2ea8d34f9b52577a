"""``to_rumi`` loses nothing silently: metadata it keeps, items it drops, round trips, blobs."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
import rioxarray  # noqa: F401  (registers .rio for the GeoTIFF-like arrays)
import xarray as xr
from _fixtures import FIXTURES, Fixture, assert_same_bits, fixture_id

import rumi_xarray
from rumi_xarray import RumiDataLossError, RumiDataLossWarning, header_blob
from rumi_xarray.format import RumiFile, parse_bytes
from rumi_xarray.spec import TimeKind
from rumi_xarray.write.to_rumi import to_rumi

UTM = {"crs": 32633, "transform": (10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)}
DAY = ["2024-05-01"]


def _read(path: Any, **kwargs: Any) -> xr.Dataset:
    return xr.open_dataset(path, engine="rumi", **kwargs)


def _frames_of(data: bytes) -> Any:
    """A compression callable that returns the frames of an existing file, by frame key."""
    desc = parse_bytes(data)

    def encode(samples: np.ndarray, key: Any) -> bytes:
        k = desc.grid.frame_index(key.row, key.col, key.band or 0, key.time or 0)
        offset, length = desc.frame_range(k)
        return data[offset : offset + length]

    return encode


def _same_description(got: RumiFile, want: RumiFile) -> None:
    """Everything but the frame sizes: grid, type, unit, georef, band texts and time."""
    assert (got.grid, got.sample, got.frame_unit) == (want.grid, want.sample, want.frame_unit)
    assert got.georef == want.georef and got.band_texts == want.band_texts
    assert got.time is not None and want.time is not None and got.time.kind == want.time.kind
    np.testing.assert_array_equal(got.time.seconds, want.time.seconds)


def _geotiff_like(**attrs: Any) -> xr.DataArray:
    """What rioxarray's ``engine="rasterio"`` gives with ``mask_and_scale=False``."""
    data = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5)
    coords = {
        "band": [1, 2, 3],
        "y": 4000000.0 - 5 - 10 * np.arange(4),
        "x": 500005.0 + 10 * np.arange(5),
    }
    base = {"AREA_OR_POINT": "Area", "long_name": ("B04 red", "B03 green", "B02 blue")}
    da = xr.DataArray(data, dims=("band", "y", "x"), coords=coords, attrs={**base, **attrs})
    return da.rio.write_crs(32633)


def _one_warning(record: list[warnings.WarningMessage]) -> RumiDataLossWarning:
    losses = [w.message for w in record if isinstance(w.message, RumiDataLossWarning)]
    assert len(record) == 1 and len(losses) == 1, [str(w.message) for w in record]
    return losses[0]


# ---------------------------------------------------------------------------------------
# Round trips of our own files: from the DataArray, intervals included, no warning


NEW = [f for f in FIXTURES if f.folder == "rumi-0.26.1"]
OLD = [f for f in FIXTURES if f.folder == "rumi-0.16.0"]


@pytest.mark.parametrize("fixture", NEW, ids=fixture_id)
def test_data_array_reproduces_every_0261_fixture(fixture: Fixture, tmp_path: Path) -> None:
    """Layout, band texts, time (intervals from ``time_end``), georef: the same file."""
    reference = fixture.path.read_bytes()
    with _read(fixture.path) as ds:
        da = ds["band_data"]
        blob = da.rumi.to_rumi(tmp_path / "same.rumi", compression=_frames_of(reference))
        da.rumi.to_rumi(tmp_path / "default.rumi")
    assert (tmp_path / "same.rumi").read_bytes() == reference
    assert blob == fixture.header
    written = (tmp_path / "default.rumi").read_bytes()
    _same_description(parse_bytes(written), parse_bytes(reference))
    with _read(tmp_path / "default.rumi") as back:
        assert_same_bits(
            back["band_data"].values.reshape(fixture.expected().shape), fixture.expected()
        )


SUB_BYTE = {"uint4", "int4", "uint2", "int2", "float6_e2m3", "float6_e3m2", "float4_e2m1"}


@pytest.mark.parametrize("fixture", OLD, ids=fixture_id)
def test_data_array_rewrites_every_016_fixture(fixture: Fixture, tmp_path: Path) -> None:
    """0.16 files carry no time or band texts: pixels, numbered bands and georef carry over."""
    with _read(fixture.path) as ds:
        da = ds["band_data"]
        if fixture.meta["rumi_dtype"] in SUB_BYTE:
            with pytest.raises(ValueError, match="cannot be stored in a rumi file"):
                da.rumi.to_rumi(tmp_path / "new.rumi", time=DAY)
            assert os.listdir(tmp_path) == []
            return
        da.rumi.to_rumi(tmp_path / "new.rumi", time=DAY)
    old, new = (
        parse_bytes(fixture.path.read_bytes()),
        parse_bytes((tmp_path / "new.rumi").read_bytes()),
    )
    assert new.georef == old.georef and new.grid.tile_shape(0, 0) == old.grid.tile_shape(0, 0)
    assert new.band_texts == tuple(f"band {b + 1}" for b in range(old.grid.bands))
    assert new.frame_unit == old.frame_unit
    with _read(tmp_path / "new.rumi") as back:
        assert_same_bits(back["band_data"].values, fixture.expected())


def test_zarr_store_with_default_decoding(tmp_path: Path) -> None:
    """``spatial_ref`` read back as a data variable still gives the CRS; it is no candidate."""
    fixture = next(f for f in NEW if f.name == "f32_b13_30x41_tile_crs")
    with _read(fixture.path) as ds:
        ds.load().to_zarr(tmp_path / "a.zarr", consolidated=False)
    with xr.open_dataset(tmp_path / "a.zarr", engine="zarr", consolidated=False) as z:
        assert "spatial_ref" in z.data_vars
        frames = _frames_of(fixture.path.read_bytes())  # Zarr keeps no rumi layout: give it
        z.rumi.to_rumi(tmp_path / "z.rumi", tile=16, frames="band", compression=frames)
        with pytest.warns(RumiDataLossWarning) as record:
            z["band_data"].rumi.to_rumi(tmp_path / "alone.rumi")
    assert (tmp_path / "z.rumi").read_bytes() == fixture.path.read_bytes()
    (loss,) = record
    assert "transform (10.0, 0.0, 499980.0, 0.0, -10.0, 4000020.0) without a CRS" in str(
        loss.message
    )
    assert parse_bytes((tmp_path / "alone.rumi").read_bytes()).georef.epsg is None


def test_grid_mapping_named_crs_in_a_dataset(tmp_path: Path) -> None:
    da = _geotiff_like()
    ds = xr.Dataset(
        {"refl": da.drop_vars("spatial_ref"), "crs": da.spatial_ref.reset_coords(drop=True)}
    )
    ds["refl"].attrs["grid_mapping"] = "crs"
    ds["refl"].encoding.pop("grid_mapping", None)
    ds.rumi.to_rumi(tmp_path / "c.rumi", time=DAY)
    desc = parse_bytes((tmp_path / "c.rumi").read_bytes())
    assert (desc.georef.epsg, desc.georef.transform) == (UTM["crs"], UTM["transform"])
    assert desc.band_texts == ("B04 red", "B03 green", "B02 blue")


# ---------------------------------------------------------------------------------------
# Band texts


@pytest.mark.parametrize(
    ("coords", "attrs", "texts"),
    [
        ({"band": ["a", "b"]}, {}, ("a", "b")),
        ({"band": [1, 2]}, {"long_name": ("red", "nir")}, ("red", "nir")),
        ({"band": [1, 2]}, {"long_name": ["red", "nir"]}, ("red", "nir")),
        ({"band": [1, 2]}, {}, ("band 1", "band 2")),
        ({}, {}, ("band 1", "band 2")),
        ({"band": [4, 8]}, {}, ("4", "8")),
        ({"band": ["a", "b"]}, {"long_name": ("a", "b")}, ("a", "b")),
    ],
)
def test_band_texts(coords: dict, attrs: dict, texts: tuple, tmp_path: Path) -> None:
    da = xr.DataArray(
        np.zeros((2, 3, 3), "u1"), dims=("band", "y", "x"), coords=coords, attrs=attrs
    )
    da.rumi.to_rumi(tmp_path / "b.rumi", time=DAY)
    assert parse_bytes((tmp_path / "b.rumi").read_bytes()).band_texts == texts


def test_one_band_takes_its_long_name(tmp_path: Path) -> None:
    """rioxarray gives one band's description as a string; so does band_as_variable."""
    da = xr.DataArray(np.zeros((3, 3), "u1"), dims=("y", "x"), attrs={"long_name": "NDVI"})
    da.rumi.to_rumi(tmp_path / "one.rumi", time=DAY)
    assert parse_bytes((tmp_path / "one.rumi").read_bytes()).band_texts == ("NDVI",)


@pytest.mark.parametrize("long_name", ["reflectance", ("a", "a"), ("a", None)])
def test_long_names_that_are_no_band_texts_are_dropped(long_name: Any, tmp_path: Path) -> None:
    da = xr.DataArray(
        np.zeros((2, 3, 3), "u1"), dims=("band", "y", "x"), attrs={"long_name": long_name}
    )
    with pytest.warns(RumiDataLossWarning, match=r"long_name=") as record:
        da.rumi.to_rumi(tmp_path / "l.rumi", time=DAY)
    assert _one_warning(record.list).items == (f"long_name={long_name!r}",)
    assert parse_bytes((tmp_path / "l.rumi").read_bytes()).band_texts == ("band 1", "band 2")


# ---------------------------------------------------------------------------------------
# What cannot be kept: one warning naming each item, or an error under strict=True

GEOTIFF_ITEMS = (
    "_FillValue=0 (nodata)",
    "scale_factor=0.0001",
    "add_offset=-0.1",
    "units=('reflectance', 'reflectance', 'reflectance')",
    "TIFFTAG_SOFTWARE='x'",
)


def test_geotiff_attributes_are_named_with_their_values(tmp_path: Path) -> None:
    da = _geotiff_like(
        _FillValue=np.uint16(0),
        scale_factor=0.0001,
        add_offset=-0.1,
        units=("reflectance",) * 3,
        TIFFTAG_SOFTWARE="x",
    )
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        da.rumi.to_rumi(tmp_path / "g.rumi", time=DAY)
    loss = _one_warning(record)
    assert loss.items == GEOTIFF_ITEMS
    assert record[0].filename == __file__  # points at the caller, not at rumi_xarray
    text = str(loss)
    assert text.startswith(f"{tmp_path / 'g.rumi'}: rumi files cannot hold 5 items of the input")
    assert "; ".join(GEOTIFF_ITEMS) in text and "strict=True" in text
    desc = parse_bytes((tmp_path / "g.rumi").read_bytes())
    assert desc.sample.name == "uint16" and desc.band_texts == ("B04 red", "B03 green", "B02 blue")
    assert (desc.georef.epsg, desc.georef.transform) == (UTM["crs"], UTM["transform"])
    np.testing.assert_array_equal(_read(tmp_path / "g.rumi")["band_data"].values, da.values)


def test_strict_raises_before_writing(tmp_path: Path) -> None:
    da = _geotiff_like(_FillValue=np.uint16(0), units="K")
    (tmp_path / "keep.rumi").write_bytes(b"old")
    for target in ("new.rumi", "keep.rumi"):
        with pytest.raises(RumiDataLossError, match=r"_FillValue=0 \(nodata\); units='K'") as err:
            da.rumi.to_rumi(tmp_path / target, time=DAY, strict=True)
        assert err.value.items == ("_FillValue=0 (nodata)", "units='K'")
        assert isinstance(err.value, ValueError)
    assert os.listdir(tmp_path) == ["keep.rumi"] and (tmp_path / "keep.rumi").read_bytes() == b"old"
    with pytest.raises(RumiDataLossError):
        to_rumi(da.to_dataset(name="v"), tmp_path / "ds.rumi", time=DAY, strict=True)


def test_encoding_and_dataset_attributes(tmp_path: Path) -> None:
    da = _geotiff_like().astype("f4")
    da.encoding.update(_FillValue=np.float32(0), scale_factor=0.5, add_offset=1.0, dtype="u2")
    ds = da.to_dataset(name="refl").assign_attrs(title="scene", rumi_generation="0.15-0.16")
    ds["wavelength"] = ("band", [665.0, 560.0, 490.0])
    ds = ds.set_coords("wavelength").assign_coords(quantile=0.5)
    with pytest.warns(RumiDataLossWarning) as record:
        ds.rumi.to_rumi(tmp_path / "e.rumi", time=DAY)
    assert _one_warning(record.list).items == (
        "_FillValue=0.0 (nodata, in the encoding)",
        "scale_factor=0.5 (in the encoding)",
        "add_offset=1.0 (in the encoding)",
        "coordinate wavelength (band: 3)",
        "coordinate quantile=0.5",
        "Dataset attribute title='scene'",
    )


@pytest.mark.parametrize("name", ["missing_value", "fill_value", "nodata"])
def test_every_nodata_attribute_is_named(name: str, tmp_path: Path) -> None:
    da = _geotiff_like(**{name: 7})
    assert da.rio.nodata == 7  # what rioxarray reads as nodata
    with pytest.warns(RumiDataLossWarning) as record:
        da.rumi.to_rumi(tmp_path / "n.rumi", time=DAY)
    assert _one_warning(record.list).items == (f"{name}=7 (nodata)",)


def test_loss_errors_and_warnings_pickle_with_their_items() -> None:
    import pickle

    for kind in (RumiDataLossError, RumiDataLossWarning):
        made = pickle.loads(pickle.dumps(kind.of("message", ("units='K'",))))
        assert type(made) is kind and str(made) == "message" and made.items == ("units='K'",)


def test_nan_fill_of_floats_is_kept_by_the_samples(tmp_path: Path) -> None:
    da = _geotiff_like(_FillValue=np.nan).astype("f4")
    da.encoding["_FillValue"] = np.float32(np.nan)
    da.rumi.to_rumi(tmp_path / "n.rumi", time=DAY)  # no warning: NaN stays NaN


@pytest.mark.parametrize(
    ("change", "item"),
    [
        ({"crs": None}, "transform (10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0) without a CRS"),
        (
            {"crs": "+proj=tmerc +lon_0=13 +k=0.9 +datum=WGS84"},
            "crs '+proj=tmerc +lat_0=0 +lon_0=13 +k=0.9 +x_0=0 +y_0=0 +datum=WGS84 +units=m "
            "+no_defs'"
            " (no EPSG code)",
        ),
        ({"crs": 4978}, "crs EPSG:4978 (not a projected or geographic CRS)"),
        (
            {"x": [0.0, 1.0, 5.0, 6.0, 7.0]},
            "crs EPSG:32633 (no transform: x/y are not evenly spaced)",
        ),
    ],
    ids=["no-crs", "no-epsg", "geocentric", "uneven"],
)
def test_georeferencing_that_cannot_be_stored_is_dropped(
    change: dict, item: str, tmp_path: Path
) -> None:
    da = _geotiff_like()
    if "crs" in change:
        da = da.drop_vars("spatial_ref")
        if change["crs"] is not None:
            da = da.rio.write_crs(change["crs"])
    else:
        da = da.assign_coords(x=change["x"])
        da.spatial_ref.attrs.pop("GeoTransform", None)
    with pytest.warns(RumiDataLossWarning) as record:
        da.rumi.to_rumi(tmp_path / "u.rumi", time=DAY)
    assert _one_warning(record.list).items == (item,)
    assert parse_bytes((tmp_path / "u.rumi").read_bytes()).georef.epsg is None
    with pytest.raises(RumiDataLossError) as err:
        da.rumi.to_rumi(tmp_path / "strict.rumi", time=DAY, strict=True)
    assert err.value.items == (item,) and item in str(err.value)
    assert not (tmp_path / "strict.rumi").exists()


def test_ungeoreferenced_pixel_coordinates_are_not_a_loss(tmp_path: Path) -> None:
    """rioxarray's ungeoreferenced rasters get x/y = 0.5, 1.5, ...: the identity, no transform."""
    da = xr.DataArray(
        np.zeros((1, 3, 4), "u1"),
        dims=("band", "y", "x"),
        coords={"band": [1], "x": np.arange(4) + 0.5, "y": np.arange(3) + 0.5},
    )
    da.rumi.to_rumi(tmp_path / "plain.rumi", time=DAY)


def test_explicit_crs_and_transform_replace_what_the_object_says(tmp_path: Path) -> None:
    da = _geotiff_like().drop_vars("spatial_ref")
    da.rumi.to_rumi(tmp_path / "x.rumi", time=DAY, **UTM)
    assert parse_bytes((tmp_path / "x.rumi").read_bytes()).georef.epsg == 32633


# ---------------------------------------------------------------------------------------
# Layout defaults and intervals


def test_layout_defaults_follow_the_source_when_they_fit(tmp_path: Path) -> None:
    fixture = next(f for f in NEW if f.name == "u16_b3_50x33_cell_geo_pip")  # tile 32, unit 1
    with _read(fixture.path) as ds:
        ds["band_data"].rumi.to_rumi(tmp_path / "all.rumi")
        ds["band_data"].isel(band=[0]).rumi.to_rumi(tmp_path / "one.rumi")
        ds["band_data"].rumi.to_rumi(tmp_path / "mine.rumi", tile=8, frames="interleaved")
    got = {
        p: parse_bytes((tmp_path / p).read_bytes()) for p in ("all.rumi", "one.rumi", "mine.rumi")
    }
    assert [(d.grid.tile_length, d.frame_unit) for d in got.values()] == [(32, 1), (32, 0), (8, 2)]


def test_intervals_from_time_end(tmp_path: Path) -> None:
    starts = np.array(["2024-01-01", "2024-02-01"], "datetime64[ns]")
    ends = np.array(["2024-01-31", "2024-03-01"], "datetime64[ns]")
    da = xr.DataArray(
        np.zeros((2, 1, 2, 2), "u1"),
        dims=("time", "band", "y", "x"),
        coords={"time": starts, "time_end": ("time", ends)},
    )
    da.rumi.to_rumi(tmp_path / "i.rumi")
    time = parse_bytes((tmp_path / "i.rumi").read_bytes()).time
    assert time is not None and time.kind == TimeKind.INTERVAL
    np.testing.assert_array_equal(
        time.seconds, np.stack([starts, ends], 1).astype("M8[s]").astype(int)
    )
    da.isel(time=1).rumi.to_rumi(tmp_path / "one.rumi")
    with _read(tmp_path / "one.rumi") as back:
        assert back.time_end.values == ends[1] and back.time.values == starts[1]


# ---------------------------------------------------------------------------------------
# header_blob


@pytest.mark.parametrize("fixture", FIXTURES, ids=fixture_id)
def test_header_blob_of_every_fixture(fixture: Fixture) -> None:
    assert header_blob(fixture.path) == fixture.header
    assert header_blob(str(fixture.path)) == fixture.header


def test_header_blob_of_bytes_file_objects_and_urls() -> None:
    fixture = NEW[0]
    data = fixture.path.read_bytes()
    assert header_blob(data) == fixture.header
    assert header_blob(io.BytesIO(data)) == fixture.header
    with fsspec.open("memory://blobs/a.rumi", "wb") as f:
        f.write(data)
    blob = header_blob("memory://blobs/a.rumi", storage_options={"skip_instance_cache": True})
    assert blob == fixture.header
    assert rumi_xarray.header_blob is header_blob
    assert {"header_blob", "RumiDataLossWarning", "RumiDataLossError"} <= set(rumi_xarray.__all__)
