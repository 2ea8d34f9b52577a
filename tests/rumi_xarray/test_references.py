"""One-file references: every fixture through every reference form equals engine="rumi"."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from _fixtures import fixture_id
from _virtual import (
    SUPPORTED,
    UNSUPPORTED,
    assert_same_dataset,
    open_default,
    open_refs,
    through_icechunk,
    write,
)

from rumi_codec import OpenZLError
from rumi_xarray.coords import CF_CALENDAR, CF_TIME_UNITS
from rumi_xarray.decode import read_description
from rumi_xarray.errors import RumiVirtualError
from rumi_xarray.format import parse_bytes
from rumi_xarray.virtual.file import file_dataset, references, source_url
from rumi_xarray.virtual.outputs import to_icechunk, write_references

FORMS = [(3, "auto"), (3, "regular"), (2, "auto")]


def _default_v3(fx, tmp_path):
    return open_default(references(fx.path))


def _default_v3_regular(fx, tmp_path):
    return open_default(references(fx.path, grid="regular"))


def _default_v2(fx, tmp_path):
    return open_default(references(fx.path, zarr_format=2), 2)


def _default_parquet(fx, tmp_path):
    write_references(references(fx.path, zarr_format=2), str(tmp_path / "p"), format="parquet")
    return open_default(str(tmp_path / "p"), 2, remote_protocol="file")


def _default_kerchunk(fx, tmp_path):
    return xr.open_dataset(references(fx.path, zarr_format=2), engine="kerchunk", chunks={})


def _default_icechunk(fx, tmp_path):
    pytest.importorskip("icechunk")
    from rumi_xarray.io import open_reader

    reader = open_reader(fx.path, None)
    vds = file_dataset(read_description(reader, None), source_url(fx.path), reader=reader)
    return through_icechunk(
        lambda store: to_icechunk(vds, store), fx.path.parent, tmp_path / "repo"
    )


READERS = {
    "v3": _default_v3,
    "v3 regular": _default_v3_regular,
    "v2": _default_v2,
    "parquet": _default_parquet,
    "kerchunk engine": _default_kerchunk,
    "icechunk": _default_icechunk,
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("fx", SUPPORTED, ids=fixture_id)
def test_default_decoding_is_exact(fx, reader, tmp_path):
    """xarray's default decoding (no mask_and_scale=False) gives what engine="rumi" gives."""
    got = READERS[reader](fx, tmp_path)
    assert_same_dataset(got, xr.open_dataset(fx.path, engine="rumi"))


@pytest.mark.parametrize(("zarr_format", "key"), [(3, "c"), (2, "0")])
def test_scalar_coordinates_are_inline(tmp_path, zarr_format, key):
    path = write(tmp_path / "a.rumi", np.ones((1, 8, 8), np.uint8))
    refs = references(path, zarr_format=zarr_format)["refs"]
    assert refs[f"time/{key}"].startswith("base64:")
    assert refs[f"spatial_ref/{key}"].startswith("base64:")  # its value, 0, is its fill value


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("name", ["u8_b1_37x45_t16_crs", "u16_t4_b1_33x29_thw_intervals"])
def test_every_time_uses_the_one_epoch(name, zarr_format):
    fx = next(f for f in SUPPORTED if f.name == name and f.folder == "rumi-0.26.1")
    refs = references(fx.path, zarr_format=zarr_format)["refs"]
    times = [
        n for n in ("time", "time_bounds", "time_end") if any(k.startswith(f"{n}/") for k in refs)
    ]
    assert "time" in times
    for n in times:
        if zarr_format == 3:
            meta = json.loads(refs[f"{n}/zarr.json"])
            attrs, dtype = meta["attributes"], meta["data_type"]
        else:
            attrs, dtype = (
                json.loads(refs[f"{n}/.zattrs"]),
                json.loads(refs[f"{n}/.zarray"])["dtype"],
            )
        assert (attrs["units"], attrs["calendar"]) == (CF_TIME_UNITS, CF_CALENDAR), n
        assert dtype in ("int64", "<i8"), n
    ds = open_default(references(fx.path, zarr_format=zarr_format), zarr_format)
    want = xr.open_dataset(fx.path, engine="rumi")
    for n in times:
        np.testing.assert_array_equal(ds[n].values, want[n].values)


@pytest.mark.parametrize(("zarr_format", "grid"), FORMS)
@pytest.mark.parametrize("fx", SUPPORTED, ids=fixture_id)
def test_every_fixture_reads_back_bit_for_bit(fx, zarr_format, grid):
    refs = references(fx.path, zarr_format=zarr_format, grid=grid)
    assert_same_dataset(open_refs(refs, zarr_format), xr.open_dataset(fx.path, engine="rumi"))


@pytest.mark.parametrize("fx", SUPPORTED[::4], ids=fixture_id)
def test_kerchunk_engine_reads_v2_references(fx):
    refs = references(fx.path, zarr_format=2)
    ds = xr.open_dataset(refs, engine="kerchunk", chunks={}, mask_and_scale=False)
    assert_same_dataset(ds, xr.open_dataset(fx.path, engine="rumi"))


@pytest.mark.parametrize("fx", SUPPORTED[::7], ids=fixture_id)
def test_parquet_references(fx, tmp_path):
    write_references(references(fx.path, zarr_format=2), str(tmp_path / "refs"), format="parquet")
    ds = xr.open_dataset(
        "reference://",
        engine="zarr",
        chunks={},
        consolidated=False,
        zarr_format=2,
        mask_and_scale=False,
        storage_options={"fo": str(tmp_path / "refs"), "remote_protocol": "file"},
    )
    assert_same_dataset(ds, xr.open_dataset(fx.path, engine="rumi"))


def test_parquet_refuses_v3(tmp_path):
    with pytest.raises(ValueError, match="zarr_format=2"):
        write_references(references(SUPPORTED[0].path), str(tmp_path / "p"), format="parquet")


@pytest.mark.parametrize("fx", UNSUPPORTED, ids=fixture_id)
def test_types_without_a_zarr_type_are_refused(fx):
    with pytest.raises(RumiVirtualError, match="engine='rumi'"):
        references(fx.path)


def test_rectilinear_grid_has_exact_frame_shapes(tmp_path):
    path = write(tmp_path / "a.rumi", np.zeros((2, 150, 130), np.uint16), tile=64)
    meta = json.loads(references(path)["refs"]["band_data/zarr.json"])
    grid = meta["chunk_grid"]
    assert grid["name"] == "rectilinear"
    assert grid["configuration"]["chunk_shapes"] == [[[1, 2]], [[64, 2], 22], [[64, 2], 2]]
    assert [c["name"] for c in meta["codecs"]] == ["bytes", "rumi.openzl"]


def test_aligned_image_gets_a_regular_grid(tmp_path):
    path = write(tmp_path / "a.rumi", np.ones((2, 128, 192), np.uint16), tile=64)
    meta = json.loads(references(path)["refs"]["band_data/zarr.json"])
    assert meta["chunk_grid"] == {"name": "regular", "configuration": {"chunk_shape": [1, 64, 64]}}


def test_interleaved_frames_use_the_transpose_codec(tmp_path):
    data = np.arange(3 * 70 * 90, dtype=np.int16).reshape(3, 70, 90)
    path = write(tmp_path / "a.rumi", data, tile=32, frames="hwb")
    refs = references(path)
    codecs = json.loads(refs["refs"]["band_data/zarr.json"])["codecs"]
    assert codecs[0] == {"name": "transpose", "configuration": {"order": [1, 2, 0]}}
    np.testing.assert_array_equal(open_refs(refs).band_data.values, data)


# Images whose bottom-row and right-column frames decode to the same size (rh * tw == th * rw),
# as a 10980 x 10980 Sentinel-2 tile at tile 512: 228 x 512 and 512 x 228.
AMBIGUOUS = [
    ((3, 100, 100), 64, "band"),
    ((2, 100, 100), 64, "cell"),
    ((2, 100, 100), 64, "hwb"),
    ((2, 600, 600), 256, "band"),
]


@pytest.mark.parametrize(("shape", "tile", "frames"), AMBIGUOUS)
@pytest.mark.parametrize(("zarr_format", "grid"), FORMS)
def test_equal_edge_remainders_are_exact(tmp_path, shape, tile, frames, zarr_format, grid):
    data = np.random.default_rng(0).integers(0, 60000, shape, dtype=np.uint16)
    path = write(tmp_path / "a.rumi", data, tile=tile, frames=frames)
    refs = references(path, zarr_format=zarr_format, grid=grid)
    np.testing.assert_array_equal(open_refs(refs, zarr_format).band_data.values, data)


def test_padded_references_record_edge_frames_by_digest(tmp_path):
    data = np.random.default_rng(1).integers(0, 60000, (2, 100, 100), dtype=np.uint16)
    path = write(tmp_path / "a.rumi", data, tile=64)
    zarray = json.loads(references(path, zarr_format=2)["refs"]["band_data/.zarray"])
    (codec,) = zarray["filters"]
    assert codec["id"] == "rumi.openzl_grid" and codec["edge"] == [36, 36]
    assert len(codec["wide"]) == len(codec["tall"]) == 2  # one per band
    assert set(codec["wide"]).isdisjoint(codec["tall"])


def test_stale_references_raise_instead_of_returning_wrong_data(tmp_path):
    rng = np.random.default_rng(2)
    path = write(tmp_path / "a.rumi", rng.integers(0, 9, (2, 100, 100), dtype=np.uint16))
    refs = references(path, zarr_format=2)
    other = rng.integers(0, 9, (2, 100, 100), dtype=np.uint16)
    write(tmp_path / "a.rumi", other)  # same geometry, other frames
    with pytest.raises(OpenZLError):
        open_refs(refs, 2).band_data.load()


def test_multizarrtozarr_stacks_dates(tmp_path):
    from kerchunk.combine import MultiZarrToZarr

    rng = np.random.default_rng(3)
    stack = rng.integers(0, 999, (3, 2, 128, 128), dtype=np.uint16)
    refs = [
        references(
            write(tmp_path / f"d{i}.rumi", stack[i], time=f"2024-01-0{i + 1}"), zarr_format=2
        )
        for i in range(3)
    ]
    combined = MultiZarrToZarr(
        refs,
        concat_dims=["n"],
        coo_map={"n": "INDEX"},
        identical_dims=["x", "y", "band"],
        remote_protocol="file",
    ).translate()
    ds = open_refs(combined, 2)
    np.testing.assert_array_equal(ds.band_data.values, stack)


@pytest.mark.parametrize("selector", ["data:time", "cf:time"])
def test_multizarrtozarr_stacks_along_time_from_each_files_time(tmp_path, selector):
    from kerchunk.combine import MultiZarrToZarr

    rng = np.random.default_rng(4)
    stack = rng.integers(0, 999, (3, 2, 64, 64), dtype=np.uint16)
    days = ["2024-01-03", "2024-01-01", "2024-02-29"]
    refs = [
        references(write(tmp_path / f"d{i}.rumi", stack[i], time=days[i]), zarr_format=2)
        for i in range(3)
    ]
    combined = MultiZarrToZarr(
        refs,
        concat_dims=["time"],
        coo_map={"time": selector},
        identical_dims=["x", "y", "band", "spatial_ref"],
        remote_protocol="file",
    ).translate()
    ds = open_default(combined, 2)
    order = np.argsort(days)
    np.testing.assert_array_equal(ds.time.values, np.array(days, "datetime64[ns]")[order])
    assert ds.band_data.dims == ("time", "band", "y", "x")
    np.testing.assert_array_equal(ds.band_data.values, stack[order])


def test_header_blob_and_fsspec_source(tmp_path):
    import fsspec

    data = np.arange(2 * 80 * 80, dtype=np.uint16).reshape(2, 80, 80)
    path = write(tmp_path / "a.rumi", data)
    blob = xr.open_dataset(path, engine="rumi").band_data
    header = parse_bytes(Path(path).read_bytes()).to_blob()
    fs = fsspec.filesystem("memory")
    fs.pipe("/refs/a.rumi", Path(path).read_bytes())
    refs = references("memory://refs/a.rumi", header=header)
    assert refs["refs"]["band_data/c/0/0/0"][0] == "memory://refs/a.rumi"
    np.testing.assert_array_equal(open_refs(refs).band_data.values, blob.values)


def test_bytes_source_needs_a_url(tmp_path):
    path = write(tmp_path / "a.rumi", np.zeros((1, 8, 8), np.uint8))
    with pytest.raises(TypeError, match="url="):
        references(Path(path).read_bytes())
    refs = references(Path(path).read_bytes(), url="s3://bucket/a.rumi")
    assert refs["refs"]["band_data/c/0/0/0"][0] == "s3://bucket/a.rumi"


def test_rectilinear_references_in_a_fresh_process(tmp_path):
    """zarr 3.4 has no supported way around its flag: a fresh process gets zarr's clear
    error naming the one-liner, and reads with the environment variable set."""
    import os
    import subprocess
    import sys

    data = np.arange(2 * 150 * 130, dtype=np.uint16).reshape(2, 150, 130)
    path = write(tmp_path / "a.rumi", data, tile=64)
    write_references(references(path), str(tmp_path / "refs.json"))
    script = (
        "import sys, xarray as xr\n"
        "ds = xr.open_dataset('reference://', engine='zarr', consolidated=False,\n"
        f"                     storage_options={{'fo': {str(tmp_path / 'refs.json')!r}}})\n"
        "print(int(ds.band_data.sum()))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZARR_")}
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode != 0
    assert "RectilinearChunksDisabledError" in run.stderr
    assert "array.rectilinear_chunks" in run.stderr
    assert "ZARR_ARRAY__RECTILINEAR_CHUNKS=True" in run.stderr
    env["ZARR_ARRAY__RECTILINEAR_CHUNKS"] = "True"
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) == int(data.astype(np.int64).sum())
