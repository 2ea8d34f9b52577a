"""``engine="rumi"`` against rioxarray's ``engine="rasterio"`` on the same pixels as a GeoTIFF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import Affine

from rumi_xarray import to_rumi

PIXELS = (np.arange(2 * 5 * 7, dtype=np.uint16).reshape(2, 5, 7) * 7) % 23
NORTH_UP = (10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)
ROTATED = (10.0, 2.0, 500000.0, 1.5, -10.0, 4000000.0)


def _geotiff(
    path: Path,
    data: np.ndarray,
    *,
    transform: Any = None,
    crs: Any = None,
    nodata: Any = None,
    descriptions: Any = None,
) -> Path:
    profile: dict[str, Any] = dict(
        driver="GTiff",
        count=data.shape[0],
        height=data.shape[1],
        width=data.shape[2],
        dtype=data.dtype,
        nodata=nodata,
    )
    if transform is not None:
        profile.update(transform=Affine(*transform), crs=crs)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for i, text in enumerate(descriptions or ()):
            dst.set_band_description(i + 1, text)
    return path


def _rumi(
    path: Path, data: np.ndarray, *, transform: Any = None, crs: Any = None, bands: Any = None
) -> Path:
    da = xr.DataArray(data, dims=("band", "y", "x"))
    to_rumi(da, path, tile=4, transform=transform, crs=crs, bands=bands, time=["2024-01-01"])
    return path


def _pair(
    tmp_path: Path,
    data: np.ndarray = PIXELS,
    *,
    nodata: Any = None,
    descriptions: Any = None,
    transform: Any = NORTH_UP,
    crs: Any = 32633,
    **open_kwargs: Any,
) -> tuple[xr.DataArray, xr.DataArray]:
    descriptions = descriptions or [f"band {b + 1}" for b in range(data.shape[0])]
    tif = _geotiff(
        tmp_path / "a.tif",
        data,
        transform=transform,
        crs=crs,
        nodata=nodata,
        descriptions=descriptions,
    )
    rumi = _rumi(tmp_path / "a.rumi", data, transform=transform, crs=crs, bands=descriptions)
    got = xr.open_dataset(rumi, engine="rumi", nodata=nodata, **open_kwargs)["band_data"]
    want = xr.open_dataset(tif, engine="rasterio", **open_kwargs)["band_data"]
    return got, want


def _assert_same_nodata(got: Any, want: Any) -> None:
    assert type(got) is type(want), (got, want)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def assert_parity(got: xr.DataArray, want: xr.DataArray) -> None:
    """Pixels, spatial coordinates, spatial_ref, CRS, transform and nodata as rioxarray's."""
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.values, want.values)
    spatial = ("x", "y", "xc", "yc")
    assert [c for c in spatial if c in got.coords] == [c for c in spatial if c in want.coords]
    for name in spatial:
        if name in want.coords:
            assert got[name].dims == want[name].dims and got[name].dtype == want[name].dtype
            np.testing.assert_array_equal(got[name].values, want[name].values, err_msg=name)
    assert got.spatial_ref.dtype == want.spatial_ref.dtype
    assert got.spatial_ref.attrs["GeoTransform"] == want.spatial_ref.attrs["GeoTransform"]
    assert got.encoding["grid_mapping"] == want.encoding["grid_mapping"] == "spatial_ref"
    assert got.rio.crs == want.rio.crs
    assert got.rio.transform() == want.rio.transform()
    _assert_same_nodata(got.rio.nodata, want.rio.nodata)
    _assert_same_nodata(got.rio.encoded_nodata, want.rio.encoded_nodata)
    for key in ("_FillValue", "long_name"):
        assert (key in got.attrs) == (key in want.attrs), key
        if key in want.attrs:
            assert got.attrs[key] == want.attrs[key]
            assert type(got.attrs[key]) is type(want.attrs[key])
    if "_FillValue" in want.encoding:
        _assert_same_nodata(got.encoding["_FillValue"], want.encoding["_FillValue"])
        assert np.dtype(got.encoding["dtype"]) == np.dtype(want.encoding["dtype"])
    else:
        assert "_FillValue" not in got.encoding


def test_georeferenced(tmp_path: Path) -> None:
    assert_parity(*_pair(tmp_path, mask_and_scale=False))


def test_without_georeferencing(tmp_path: Path) -> None:
    with pytest.warns(NotGeoreferencedWarning):
        got, want = _pair(tmp_path, transform=None, crs=None, mask_and_scale=False)
    assert_parity(got, want)
    for name in ("x", "y", "spatial_ref"):
        assert got[name].attrs == want[name].attrs, name
    assert got.rio.crs is None and got.rio.transform().is_identity


def test_rotated_transform_gets_xc_yc(tmp_path: Path) -> None:
    got, want = _pair(tmp_path, transform=ROTATED, mask_and_scale=False)
    assert "xc" in want.coords
    assert_parity(got, want)


@pytest.mark.parametrize("mask_and_scale", [True, False])
@pytest.mark.parametrize(("dtype", "nodata"), [("uint16", 3), ("int32", -5), ("float32", 3.0)])
def test_nodata(tmp_path: Path, mask_and_scale: bool, dtype: str, nodata: Any) -> None:
    data = (PIXELS.astype(dtype) - 8) if dtype == "int32" else PIXELS.astype(dtype)
    got, want = _pair(tmp_path, data, nodata=nodata, mask_and_scale=mask_and_scale)
    assert_parity(got, want)
    assert (nodata in data) and np.isnan(got.values).any() == mask_and_scale


def test_without_nodata_nothing_is_masked_and_the_dtype_stays(tmp_path: Path) -> None:
    """rioxarray promotes every masked read to float; without ``nodata`` rumi keeps the type."""
    rumi = _rumi(tmp_path / "a.rumi", PIXELS, transform=NORTH_UP, crs=32633)
    for mask_and_scale in (True, False):
        da = xr.open_dataset(rumi, engine="rumi", mask_and_scale=mask_and_scale)["band_data"]
        assert da.dtype == np.uint16 and "_FillValue" not in {**da.attrs, **da.encoding}
        np.testing.assert_array_equal(da.values, PIXELS)
        assert da.rio.nodata is None and da.rio.encoded_nodata is None


def test_band_texts_are_long_name(tmp_path: Path) -> None:
    got, want = _pair(tmp_path, descriptions=["red", "nir"], mask_and_scale=False)
    assert got.attrs["long_name"] == ("red", "nir")
    assert_parity(got, want)


def test_single_band_text_is_a_string(tmp_path: Path) -> None:
    got, want = _pair(tmp_path, PIXELS[:1], descriptions=["red"], mask_and_scale=False)
    assert got.attrs["long_name"] == "red"
    assert_parity(got, want)


def test_to_raster_writes_band_texts_as_descriptions(tmp_path: Path) -> None:
    rumi = _rumi(tmp_path / "a.rumi", PIXELS, transform=NORTH_UP, crs=32633, bands=["red", "nir"])
    da = xr.open_dataset(rumi, engine="rumi")["band_data"]
    da.rio.to_raster(tmp_path / "out.tif")
    with rasterio.open(tmp_path / "out.tif") as src:
        assert src.descriptions == ("red", "nir")
        np.testing.assert_array_equal(src.read(), PIXELS)
        assert src.transform == Affine(*NORTH_UP) and src.crs.to_epsg() == 32633


def test_source_is_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    got, want = _pair(tmp_path, mask_and_scale=False)
    assert want.encoding["source"] == str(tmp_path / "a.tif")
    assert got.encoding["source"] == str(tmp_path / "a.rumi")
    monkeypatch.chdir(tmp_path)
    relative = xr.open_dataset("a.rumi", engine="rumi")["band_data"]
    assert relative.encoding["source"] == "a.rumi"
    assert xr.open_dataset("a.tif", engine="rasterio")["band_data"].encoding["source"] == "a.tif"
