"""``rumi_xarray.crs``: EPSG codes resolved with PROJ, the spatial_ref attributes, CRS texts."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import pyproj
import pytest
import xarray as xr
from _fixtures import FIXTURES

from rumi_xarray.crs import (
    check_crs,
    check_epsg,
    crs_kind,
    crs_name,
    epsg_text,
    parse_crs,
    parse_epsg_text,
    spatial_ref_attrs,
)
from rumi_xarray.errors import RumiFormatError
from rumi_xarray.spec import ModelType

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType


@pytest.mark.parametrize(
    ("epsg", "kind"), [(32633, "projected"), (4326, "geographic"), (4978, "other"), (5714, "other")]
)
def test_kind(epsg: int, kind: str) -> None:
    assert crs_kind(epsg) == kind


@pytest.mark.parametrize(
    ("epsg", "model", "message"),
    [
        (1025, None, "EPSG code 1025 is not in the registry"),
        (40000, None, "EPSG code 40000 is outside the 1024 to 32766 rumi accepts"),
        (4978, None, "EPSG:4978 is not a projected or geographic CRS"),
        (4326, ModelType.PROJECTED, "EPSG 4326 is geographic but GTModelType says projected"),
        (32618, ModelType.GEOGRAPHIC, "EPSG 32618 is projected but GTModelType says geographic"),
    ],
)
def test_check_crs_rejects(epsg: int, model: ModelType | None, message: str) -> None:
    with pytest.raises(RumiFormatError) as err:
        check_crs(epsg, model)
    assert str(err.value) == message


def test_check_crs_accepts_the_stated_kind() -> None:
    assert check_crs(32618, ModelType.PROJECTED) == check_crs(32618) == "projected"
    assert check_crs(4326, ModelType.GEOGRAPHIC) == "geographic"


def test_check_epsg_asks_nothing_of_proj() -> None:
    check_epsg(1025)
    with pytest.raises(RumiFormatError, match="EPSG code 1023 is outside"):
        check_epsg(1023)


def test_spatial_ref_attrs() -> None:
    transform = (10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)
    attrs = spatial_ref_attrs(32633, transform)
    assert attrs["GeoTransform"] == "500000.0 10.0 0.0 4000000.0 0.0 -10.0"
    assert attrs["crs_wkt"] == attrs["spatial_ref"] == pyproj.CRS.from_epsg(32633).to_wkt()
    assert attrs["grid_mapping_name"] == "transverse_mercator"
    assert spatial_ref_attrs(None, (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)) == {
        "GeoTransform": "0.0 1.0 0.0 0.0 0.0 1.0"
    }


def test_name_and_texts() -> None:
    assert crs_name(32633) == "WGS 84 / UTM zone 33N"
    assert epsg_text(32633) == "EPSG:32633" and epsg_text(None) is None
    assert parse_epsg_text("EPSG:32633") == 32633
    for bad in ("WGS84", "EPSG:", "epsg:4326", 4326):
        with pytest.raises(RumiFormatError, match="crs: expected 'EPSG:<code>'"):
            parse_epsg_text(bad)
    with pytest.raises(RumiFormatError, match="EPSG code 99999 is outside"):
        parse_epsg_text("EPSG:99999")


@pytest.mark.parametrize("crs", [32633, "EPSG:32633", pyproj.CRS.from_epsg(32633)])
def test_parse_crs(crs: object) -> None:
    assert parse_crs(crs) == 32633


def test_parse_crs_rejects() -> None:
    with pytest.raises(ValueError, match="EPSG:4978 is not a projected or geographic CRS"):
        parse_crs(4978)
    with pytest.raises(ValueError, match="has no CRS pyproj knows"):
        parse_crs("not a crs")
    with pytest.raises(TypeError, match="crs must be an EPSG code"):
        parse_crs(3.5)


# ---------------------------------------------------------------------------------------
# PROJ runs once per code


def _pyproj_calls(action: Callable[[], object]) -> list[str]:
    """The pyproj functions, Python or compiled, that ``action`` calls (this thread)."""
    root = os.path.dirname(pyproj.__file__) + os.sep
    seen: list[str] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(root):
            seen.append(frame.f_code.co_qualname)
        elif event == "c_call" and str(getattr(arg, "__module__", "")).startswith("pyproj"):
            seen.append(arg.__qualname__)

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return seen


def test_the_spy_sees_pyproj() -> None:
    assert _pyproj_calls(lambda: pyproj.CRS.from_epsg(32633).to_wkt())


def test_a_second_file_of_one_code_runs_no_pyproj() -> None:
    """Opening two files of EPSG:32618: the first asks PROJ (here only the kind, its cache
    emptied), the second nothing at all (CRS, kind, CF and WKT attributes all cached)."""
    first, second = (
        next(f for f in FIXTURES if f.folder == "rumi-0.26.1" and f.name == name).path
        for name in ("u8_b1_37x45_t16_crs", "f32_b13_30x41_tile_crs")
    )
    crs_kind.cache_clear()
    assert _pyproj_calls(lambda: xr.open_dataset(first, engine="rumi").close())
    assert _pyproj_calls(lambda: xr.open_dataset(second, engine="rumi").close()) == []
    with xr.open_dataset(second, engine="rumi") as ds:
        assert ds.spatial_ref.attrs["crs_wkt"] == pyproj.CRS.from_epsg(32618).to_wkt()
