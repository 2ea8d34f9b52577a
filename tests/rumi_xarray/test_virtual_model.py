"""The virtual model (``rumi_xarray.virtual.model``): a :class:`VirtualArray` built by hand is
valid Zarr metadata plus a chunk manifest, and a :class:`VirtualDataset` of it opens with
xarray's zarr engine. References of real files, mosaics and catalogs are tested through their
own modules (``test_references.py``, ``test_mosaic.py``, ``test_catalog.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from _fixtures import DATA
from _virtual import open_refs

from rumi_xarray.errors import RumiVirtualError, RumiVirtualWarning
from rumi_xarray.format import parse_bytes
from rumi_xarray.spec import SAMPLE_TYPES
from rumi_xarray.virtual.model import (
    BYTES,
    VirtualArray,
    VirtualDataset,
    openzl_codec,
    zarr_data_type,
)
from rumi_xarray.virtual.outputs import to_kerchunk

EXAMPLE = DATA / "examples" / "example_0261.rumi"
"""FORMAT §11: uint8, bands "B1" and "B2", 50x40, tile 32, one frame per tile of each band."""


def _array(chunks: tuple[tuple[int, ...], ...], **kw: Any) -> VirtualArray:
    """An array of ``chunks`` whose chunks are all missing (no file), unless ``kw`` says."""
    grid = tuple(len(c) for c in chunks)
    fields: dict[str, Any] = {
        "dims": ("band", "y", "x")[-len(chunks) :],
        "chunks": chunks,
        "data_type": "uint8",
        "codecs": (BYTES, openzl_codec()),
        "urls": (),
        "files": np.full(grid, -1, np.int32),
        "offsets": np.zeros(grid, np.int64),
        "lengths": np.zeros(grid, np.int64),
    }
    return VirtualArray(**{**fields, **kw})


def _example() -> tuple[VirtualDataset, xr.Dataset]:
    """The §11 example as a model built from its frame table, and as ``engine="rumi"`` reads it."""
    desc = parse_bytes(EXAMPLE.read_bytes())
    files = np.zeros((2, 2, 2), np.int32)
    offsets, lengths = np.zeros((2, 2, 2), np.int64), np.zeros((2, 2, 2), np.int64)
    for k in range(desc.frame_count):
        key = desc.grid.frame_key(k)
        offsets[key.band, key.row, key.col], lengths[key.band, key.row, key.col] = desc.frame_range(
            k
        )
    array = _array(
        ((1, 1), (32, 8), (32, 18)),
        urls=(EXAMPLE.as_uri(),),
        files=files,
        offsets=offsets,
        lengths=lengths,
    )
    want = xr.open_dataset(EXAMPLE, engine="rumi").load()
    coords = want.drop_vars("band_data")
    return VirtualDataset("band_data", array, coords), want


def test_shape_and_grids() -> None:
    regular = _array(((1, 1), (32, 32), (16, 16)))
    assert regular.shape == (2, 64, 32) and regular.regular
    assert regular.chunk_grid() == {
        "name": "regular",
        "configuration": {"chunk_shape": [1, 32, 16]},
    }
    clipped = _array(((1,), (32, 32, 32, 8), (16,)))
    assert not clipped.regular and _array(clipped.chunks, padded=True).regular
    assert clipped.chunk_grid()["configuration"]["chunk_shapes"] == [[1], [[32, 3], 8], [16]]


@pytest.mark.parametrize(
    ("data_type", "fill", "json_fill"),
    [
        ("uint8", 7, 7),
        ("bool", 1, True),
        ("float32", float("nan"), "NaN"),
        ("float64", float("-inf"), "-Infinity"),
        ("complex64", 2.5, [2.5, 0.0]),
    ],
)
def test_zarr_json(data_type: str, fill: float, json_fill: object) -> None:
    meta = _array(((1,), (4,), (4,)), data_type=data_type, fill_value=fill).zarr_json()
    assert meta["zarr_format"] == 3 and meta["node_type"] == "array"
    assert meta["shape"] == [1, 4, 4] and meta["data_type"] == data_type
    assert meta["fill_value"] == json_fill
    assert meta["dimension_names"] == ["band", "y", "x"]
    assert meta["codecs"] == [BYTES, openzl_codec()]


def test_zarray_needs_a_regular_grid_in_array_order() -> None:
    assert _array(((1,), (4, 4), (4,))).zarray()["chunks"] == [1, 4, 4]
    with pytest.raises(RumiVirtualError, match="Zarr v2 has no rectilinear chunk grids"):
        _array(((1,), (4, 2), (4,))).zarray()
    transpose = {"name": "transpose", "configuration": {"order": [1, 2, 0]}}
    with pytest.raises(RumiVirtualError, match="need the frames in array order"):
        _array(((1,), (4,), (4,)), codecs=(transpose, BYTES, openzl_codec())).zarray()


def test_v2_fill_value_is_the_nodata_or_warns() -> None:
    assert _array(((1,), (4,), (4,))).zarray()["fill_value"] is None
    assert _array(((1,), (4,), (4,)), nodata=3, fill_value=3).zarray()["fill_value"] == 3
    with pytest.raises(RumiVirtualError, match="nodata 3 and fill_value 5 differ"):
        _array(((1,), (4,), (4,)), nodata=3, fill_value=5).zarray()
    with pytest.warns(RumiVirtualWarning, match="Zarr v2 stores fill_value 5"):
        assert _array(((1,), (4,), (4,)), fill_value=5).zarray()["fill_value"] == 5


def test_chunk_refs_skip_missing_chunks() -> None:
    files = np.array([[[0, -1]]], np.int32)
    array = _array(
        ((1,), (4,), (4, 4)),
        urls=("file:///a.rumi",),
        files=files,
        offsets=np.array([[[100, 0]]]),
        lengths=np.array([[[60, 0]]]),
    )
    assert list(array.chunk_refs("v", 3)) == [("v/c/0/0/0", ["file:///a.rumi", 100, 60])]
    assert list(array.chunk_refs("v", 2)) == [("v/0.0.0", ["file:///a.rumi", 100, 60])]
    assert array.chunk_urls().tolist() == [[["file:///a.rumi", ""]]]


def test_zarr_data_type() -> None:
    assert zarr_data_type(SAMPLE_TYPES[1, 16]) == "uint16"
    bfloat16 = next(s for s in SAMPLE_TYPES.values() if s.name == "bfloat16")
    with pytest.raises(RumiVirtualError, match="bfloat16 samples have no Zarr data type"):
        zarr_data_type(bfloat16)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_dataset_metadata(zarr_format: int) -> None:
    example, _ = _example()
    array = _array(((1, 1), (40,), (50,)), nodata=0)  # one chunk per band: v2 can hold it
    keys = VirtualDataset("band_data", array, example.coords).metadata(zarr_format)
    if zarr_format == 3:
        attrs = json.loads(keys["band_data/zarr.json"])["attributes"]
        assert attrs["_FillValue"] == 0
    else:
        attrs = json.loads(keys["band_data/.zattrs"])
        assert attrs["_ARRAY_DIMENSIONS"] == ["band", "y", "x"]
        assert json.loads(keys["band_data/.zarray"])["fill_value"] == 0
    assert attrs["grid_mapping"] == "spatial_ref"
    assert set(attrs["coordinates"].split()) == {"spatial_ref", "time"}
    assert {"x", "y", "band", "spatial_ref"} <= {key.split("/")[0] for key in keys}
    assert not any(key.startswith(("band_data/c", "band_data/0")) for key in keys)


def test_a_model_of_real_frames_reads_as_the_engine_does() -> None:
    """Each frame one chunk at its byte range (clipped edges: a rectilinear v3 grid)."""
    vds, want = _example()
    got = open_refs(to_kerchunk(vds)).load()
    np.testing.assert_array_equal(got.band_data.values, want.band_data.values)
    for name in ("band", "x", "y", "time"):
        np.testing.assert_array_equal(got[name].values, want[name].values)


def test_missing_chunks_read_as_the_fill_value(tmp_path: Path) -> None:
    coords = xr.Dataset(coords={"band": ["a"], "y": np.arange(8.0), "x": np.arange(4.0)})
    vds = VirtualDataset("v", _array(((1,), (4, 4), (4,)), fill_value=9), coords)
    got = open_refs(to_kerchunk(vds)).load()
    assert got.v.shape == (1, 8, 4) and (got.v.values == 9).all()
