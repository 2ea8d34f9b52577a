"""``open_stack``: many grid-aligned files as one lazy ``(n, band, y, x)`` Dataset."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import dask.array
import numpy as np
import pytest
import xarray as xr
from _fixtures import DATA
from xarray.core.indexing import LazilyIndexedArray

import rumi_xarray
import rumi_xarray.backend.stack
import rumi_xarray.decode
from rumi_xarray import RumiFormatError, open_rumi, open_stack, to_rumi
from rumi_xarray.errors import RumiVirtualError
from rumi_xarray.format import parse_bytes

TRANSFORM = (10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)


def _write(
    path: Path,
    *,
    seed: int = 0,
    shape: tuple[int, ...] = (2, 20, 24),
    dtype: Any = np.uint16,
    time: Any = ("2024-01-01",),
    tile: int = 8,
    frames: str = "band",
    bands: tuple[str, ...] | None = None,
    transform: tuple[float, ...] = TRANSFORM,
    crs: int = 32633,
    pixel_is_point: bool = False,
) -> Path:
    data = np.random.default_rng(seed).integers(0, 1000, shape).astype(dtype)
    nbands = shape[-3]
    to_rumi(
        data,
        path,
        tile=tile,
        frames=frames,
        time=list(time),
        bands=bands or tuple(f"B{b + 1}" for b in range(nbands)),
        transform=transform,
        crs=crs,
        pixel_is_point=pixel_is_point,
        progress=False,
    )
    return path


def _series(tmp_path: Path, count: int = 4, **kwargs: Any) -> list[Path]:
    """``count`` files of one grid, on consecutive days."""
    days = np.datetime64("2024-03-01") + np.arange(count)
    return [
        _write(tmp_path / f"s{i}.rumi", seed=i, time=[str(days[i])], **kwargs) for i in range(count)
    ]


def _numpy_stack(paths: list[Path]) -> np.ndarray:
    return np.stack([open_rumi(p).load()["band_data"].values for p in paths])


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts frames decoded, through the function every pixel read goes through."""
    calls: list[int] = []
    decode = rumi_xarray.decode.decompress_into

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return decode(*args, **kwargs)

    monkeypatch.setattr(rumi_xarray.decode, "decompress_into", counting)
    return calls


# ---------------------------------------------------------------------------------------
# Values, dims, chunks


@pytest.mark.parametrize("chunks", [None, {}])
@pytest.mark.parametrize("frames", ["band", "cell", "interleaved"])
def test_stack_equals_numpy_stack(tmp_path: Path, frames: str, chunks: dict | None) -> None:
    paths = _series(tmp_path, frames=frames)
    ds = open_stack(paths, chunks=chunks)
    da = ds["band_data"]
    assert da.dims == ("n", "band", "y", "x")
    assert isinstance(da.variable._data, dask.array.Array if chunks == {} else LazilyIndexedArray)
    np.testing.assert_array_equal(da.values, _numpy_stack(paths))
    band_chunks = (1, 1) if frames == "band" else (2,)
    if chunks == {}:
        assert da.chunks == ((1, 1, 1, 1), band_chunks, (8, 8, 4), (8, 8, 8))
    window = da.isel(n=slice(1, 3), band=1, y=slice(5, 17), x=[3, 20, 9]).values
    np.testing.assert_array_equal(window, _numpy_stack(paths)[1:3, 1, 5:17][..., [3, 20, 9]])


def test_stack_mirrors_open_rumi(tmp_path: Path) -> None:
    paths = _series(tmp_path, count=2)
    ds = open_stack(paths)
    one = open_rumi(paths[1])
    for name in ("band", "x", "y", "spatial_ref"):
        xr.testing.assert_identical(ds[name].variable, one[name].variable)
    assert ds["band_data"].attrs == one["band_data"].attrs
    assert ds.attrs == one.attrs == {"rumi_generation": "0.25-0.26"}
    encoding = ds["band_data"].encoding
    assert encoding["preferred_chunks"] == {"n": 1, "band": 1, "y": 8, "x": 8}
    assert encoding["dtype"] == np.dtype("uint16")
    pytest.importorskip("rioxarray")
    assert ds.isel(n=1)["band_data"].rio.crs.to_epsg() == 32633
    assert ds.isel(n=1)["band_data"].rio.transform() == one["band_data"].rio.transform()


def test_time_series_files(tmp_path: Path) -> None:
    steps = ["2024-01-01", "2024-02-01", "2024-03-01"]
    paths = [
        _write(tmp_path / f"t{i}.rumi", seed=i, shape=(3, 2, 12, 10), time=steps, frames="tbhw")
        for i in range(3)
    ]
    ds = open_stack(paths)
    da = ds["band_data"]
    assert da.dims == ("n", "time", "band", "y", "x")
    assert open_stack(paths, chunks={})["band_data"].chunks == (
        (1, 1, 1),
        (3,),
        (2,),
        (8, 4),
        (8, 2),
    )
    np.testing.assert_array_equal(da.values, _numpy_stack(paths))
    np.testing.assert_array_equal(ds.time.values, np.array(steps, "datetime64[s]"))
    np.testing.assert_array_equal(ds.n.values, [0, 1, 2])
    chosen = da.sel(time="2024-02-01").isel(n=2).values
    np.testing.assert_array_equal(chosen, open_rumi(paths[2])["band_data"].values[1])


def test_time_series_with_different_times(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.rumi", shape=(2, 1, 8, 8), time=["2024-01-01", "2024-01-02"])
    b = _write(
        tmp_path / "b.rumi",
        seed=1,
        shape=(2, 1, 8, 8),
        time=[("2025-01-01", "2025-01-02"), ("2025-01-02", "2025-01-03")],
    )
    ds = open_stack([a, b])
    assert "time" not in ds.coords
    assert ds.file_time.dims == ("n", "time")
    np.testing.assert_array_equal(
        ds.file_time.values,
        np.array([["2024-01-01", "2024-01-02"], ["2025-01-01", "2025-01-02"]], "datetime64[s]"),
    )
    np.testing.assert_array_equal(ds["band_data"].values, _numpy_stack([a, b]))
    c = _write(
        tmp_path / "c.rumi",
        shape=(2, 1, 8, 8),
        time=[("2026-01-01", "2026-01-02"), ("2026-01-02", "2026-01-03")],
    )
    intervals = open_stack([b, c])
    assert intervals.file_time_bounds.dims == ("n", "time", "bnds")
    assert intervals.file_time_bounds.values[1, 1, 1] == np.datetime64("2026-01-03")
    assert "time_end" not in intervals.coords and intervals.file_time_end.dims == ("n", "time")
    np.testing.assert_array_equal(
        intervals.file_time_end.values, intervals.file_time_bounds.values[..., 1]
    )
    same = open_stack([b, b])
    assert same.indexes["time"].size == 2 and same.time_bounds.dims == ("time", "bnds")
    assert same.time_end.dims == ("time",)
    with pytest.raises(ValueError, match="choose another dim than 'time'"):
        open_stack([a, b], dim="time")


# ---------------------------------------------------------------------------------------
# The stack's coordinate


def test_n_is_time_when_each_file_has_one_instant(tmp_path: Path) -> None:
    ds = open_stack(_series(tmp_path, count=3))
    assert ds.n.dtype == np.dtype("datetime64[s]")
    np.testing.assert_array_equal(
        ds.n.values, np.array(["2024-03-01", "2024-03-02", "2024-03-03"], "datetime64[s]")
    )
    assert "time" not in ds.coords and ds.n.attrs["standard_name"] == "time"
    assert ds.sel(n="2024-03-02")["band_data"].shape == (2, 20, 24)


def test_dim_named_time(tmp_path: Path) -> None:
    ds = open_stack(_series(tmp_path, count=3), dim="time")
    assert ds["band_data"].dims == ("time", "band", "y", "x")
    assert ds.indexes["time"].dtype == np.dtype("datetime64[s]")


def test_interval_files_keep_their_bounds(tmp_path: Path) -> None:
    paths = [
        _write(tmp_path / f"m{i}.rumi", seed=i, time=[(f"2024-0{i + 1}-01", f"2024-0{i + 2}-01")])
        for i in range(2)
    ]
    ds = open_stack(paths)
    np.testing.assert_array_equal(ds.n.values, np.array(["2024-01-01", "2024-02-01"], "M8[s]"))
    assert ds.time_bounds.dims == ("n", "bnds")
    np.testing.assert_array_equal(
        ds.time_bounds.values[1], np.array(["2024-02-01", "2024-03-01"], "M8[s]")
    )
    assert ds.n.attrs["bounds"] == "time_bounds"
    assert ds.time_end.dims == ("n",)
    ends = np.array(["2024-02-01", "2024-03-01"], "M8[s]")
    np.testing.assert_array_equal(ds.time_end.values, ends)


def test_every_time_coordinate_encodes_with_the_one_epoch(tmp_path: Path) -> None:
    from zarr.storage import MemoryStore

    from rumi_xarray.coords import CF_CALENDAR, CF_TIME_UNITS

    single = [
        _write(tmp_path / f"m{i}.rumi", seed=i, time=[(f"2024-0{i + 1}-01", f"2024-0{i + 2}-01")])
        for i in range(2)
    ]
    multi = [
        _write(
            tmp_path / f"s{i}.rumi",
            seed=i,
            shape=(2, 1, 8, 8),
            time=[f"202{i}-01-01", f"202{i}-01-02"],
        )
        for i in range(2)
    ]
    for paths, names in (
        (single, ["n", "time_bounds"]),
        (multi, ["file_time"]),
        (multi[:1] * 2, ["time"]),
    ):
        ds = open_stack(paths)
        store: dict = {}
        ds.to_zarr(MemoryStore(store), zarr_format=2, consolidated=False)
        back = xr.open_zarr(MemoryStore(store), zarr_format=2, consolidated=False)
        for name in names:
            attrs = json.loads(store[f"{name}/.zattrs"].to_bytes())
            assert (attrs["units"], attrs["calendar"]) == (CF_TIME_UNITS, CF_CALENDAR), name
            assert json.loads(store[f"{name}/.zarray"].to_bytes())["dtype"] == "<i8", name
            np.testing.assert_array_equal(back[name].values, ds[name].values)


def test_explicit_coords_win_and_keep_time(tmp_path: Path) -> None:
    paths = _series(tmp_path, count=3)
    ds = open_stack(paths, dim="tile", coords=["33UUP", "33UVP", "33UWP"])
    assert ds["band_data"].dims == ("tile", "band", "y", "x")
    assert list(ds.tile.values) == ["33UUP", "33UVP", "33UWP"]
    assert ds.time.dims == ("tile",)
    assert ds.time.values[2] == np.datetime64("2024-03-03")
    np.testing.assert_array_equal(ds.sel(tile="33UVP")["band_data"], _numpy_stack(paths)[1])


def test_integer_index_without_single_times(tmp_path: Path) -> None:
    path = DATA / "rumi-0.16.0" / "u16_b3_50x33_cell_geo_pip.rumi"  # 0.16 records no time
    ds = open_stack([path, path, path])
    np.testing.assert_array_equal(ds.n.values, [0, 1, 2])
    assert ds.attrs["rumi_generation"] == "0.15-0.16"
    np.testing.assert_array_equal(ds["band_data"].values, _numpy_stack([path] * 3))


# ---------------------------------------------------------------------------------------
# Alignment


MISMATCHES = {
    "shape": {"shape": (2, 20, 25)},
    "dtype": {"dtype": np.int16},
    "tile": {"tile": 16},
    "frame layout": {"frames": "cell"},
    "band_texts": {"bands": ("B1", "B9")},
    "crs": {"crs": 32634},
    "transform": {"transform": (10.0, 0.0, 500010.0, 0.0, -10.0, 4000000.0)},
    # the same pixel corners, recorded as PixelIsPoint
    "pixel_is_point": {
        "transform": (10.0, 0.0, 500005.0, 0.0, -10.0, 3999995.0),
        "pixel_is_point": True,
    },
}


@pytest.mark.parametrize("field", MISMATCHES)
def test_first_mismatch_is_named(tmp_path: Path, field: str) -> None:
    good = _series(tmp_path, count=3)
    bad = _write(tmp_path / "bad.rumi", **MISMATCHES[field])
    worse = _write(tmp_path / "worse.rumi", shape=(1, 9, 9), tile=4)
    with pytest.raises(RumiVirtualError) as info:
        open_stack([*good[:2], bad, good[2], worse])
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.index, err.field) == (2, field)
    assert str(err).startswith(f"source 2 ('{bad}') differs from source 0 in {field}: ")
    assert f"{err.found!r} != {err.expected!r}" in str(err)


def test_transform_message_shows_both_values(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.rumi")
    b = _write(tmp_path / "b.rumi", transform=(20.0, 0.0, 500000.0, 0.0, -20.0, 4000000.0))
    with pytest.raises(
        RumiVirtualError, match=r"in transform: \(20\.0, 0\.0, 500000\.0, .*\) != \(10\.0"
    ):
        open_stack([a, b])


def test_time_count_is_part_of_the_shape(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.rumi", shape=(2, 1, 8, 8), time=["2024-01-01", "2024-01-02"])
    b = _write(tmp_path / "b.rumi", shape=(1, 1, 8, 8), time=["2024-01-01"])
    with pytest.raises(
        RumiVirtualError, match=r"source 1 .* in shape: \(1, 1, 8, 8\) != \(2, 1, 8, 8\)"
    ):
        open_stack([a, b])


def test_unreadable_source_is_named(tmp_path: Path) -> None:
    paths = _series(tmp_path, count=2)
    missing = tmp_path / "missing.rumi"
    with pytest.raises(FileNotFoundError) as info:
        open_stack([*paths, missing])
    assert f"while opening source 2 ('{missing}') of the stack" in info.value.__notes__
    junk = tmp_path / "junk.rumi"
    junk.write_bytes(b"GIF89a" + bytes(100))
    with pytest.raises(RumiFormatError, match="not a rumi file") as info2:
        open_stack([paths[0], junk])
    assert any("source 1" in note for note in info2.value.__notes__)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"headers": [b"x"]}, "1 headers for 2 sources"),
        ({"coords": [1, 2, 3]}, "3 coords for 2 sources"),
        ({"dim": "band"}, "dim='band' is already a dimension"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, Any], match: str) -> None:
    paths = _series(tmp_path, count=2)
    with pytest.raises(ValueError, match=match):
        open_stack(paths, **kwargs)
    with pytest.raises(ValueError, match="at least one source"):
        open_stack([])


# ---------------------------------------------------------------------------------------
# Headers, laziness, chunks, pickling


def test_headers_skip_the_index(tmp_path: Path) -> None:
    """With header blobs a file's index is never read: here it is garbage."""
    paths = _series(tmp_path, count=3)
    expected = _numpy_stack(paths)
    headers = [parse_bytes(p.read_bytes()).to_blob() for p in paths]
    desc = parse_bytes(paths[1].read_bytes())
    georef_start = desc.base_offset - 160
    raw = bytearray(paths[1].read_bytes())
    raw[4:georef_start] = b"\xff" * (georef_start - 4)  # header (but the magic), IFD, offsets
    paths[1].write_bytes(bytes(raw))
    with pytest.raises(RumiFormatError):
        open_stack(paths)
    ds = open_stack(paths, headers=headers)
    np.testing.assert_array_equal(ds["band_data"].values, expected)
    partial = open_stack(paths, headers=[None, headers[1], None])
    np.testing.assert_array_equal(partial["band_data"].values, expected)


def test_open_decodes_nothing(tmp_path: Path, decodes: list[int]) -> None:
    paths = _series(tmp_path)
    ds = open_stack(paths)
    assert decodes == []
    ds["band_data"].isel(n=2, band=1, y=slice(0, 8), x=slice(8, 16)).load()
    assert len(decodes) == 1  # one chunk of one file is one frame
    ds["band_data"].isel(n=3).load()
    assert len(decodes) == 1 + 2 * 3 * 3


def test_chunks_argument(tmp_path: Path) -> None:
    paths = _series(tmp_path)
    ds = open_stack(paths, chunks={"n": 2, "band": -1})
    assert ds["band_data"].chunks[:2] == ((2, 2), (2,))
    np.testing.assert_array_equal(ds["band_data"].values, _numpy_stack(paths))


def test_pickles_and_close_releases_every_file(tmp_path: Path) -> None:
    paths = _series(tmp_path)
    fds = Path("/proc/self/fd")
    before = len(os.listdir(fds)) if fds.exists() else 0
    ds = open_stack(paths)
    again = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(again["band_data"].values, _numpy_stack(paths))
    ds.load()
    again.close()
    ds.close()
    if fds.exists():
        assert len(os.listdir(fds)) == before


def test_in_memory_sources(tmp_path: Path) -> None:
    paths = _series(tmp_path, count=2)
    ds = open_stack([p.read_bytes() for p in paths])
    np.testing.assert_array_equal(ds["band_data"].values, _numpy_stack(paths))
    other = _write(tmp_path / "other.rumi", tile=16).read_bytes()
    with pytest.raises(RumiVirtualError, match=rf"source 1 \('<{len(other)} bytes>'\)"):
        open_stack([paths[0].read_bytes(), other])


def test_exported_lazily() -> None:
    assert "open_stack" in rumi_xarray.__all__
    assert rumi_xarray.open_stack is open_stack


# ---------------------------------------------------------------------------------------
# xarray's own way


def test_open_mfdataset_nested(tmp_path: Path, decodes: list[int]) -> None:
    paths = _series(tmp_path)
    ds = xr.open_mfdataset(paths, engine="rumi", combine="nested", concat_dim="n")
    assert decodes == []
    assert ds["band_data"].dims == ("n", "band", "y", "x")
    assert ds["band_data"].chunks[0] == (1, 1, 1, 1)
    np.testing.assert_array_equal(ds["band_data"].values, _numpy_stack(paths))
    np.testing.assert_array_equal(ds.time.values, open_stack(paths).n.values)
    ds.close()


# ---------------------------------------------------------------------------------------
# Checksums


def _corrupt_stored_frame(path: Path, k: int) -> None:
    """Flip one stored byte of frame k (a ``store`` frame: only its checksum notices)."""
    data = bytearray(path.read_bytes())
    offset, length = parse_bytes(bytes(data)).frame_range(k)
    data[offset + length // 2] ^= 0x10
    path.write_bytes(bytes(data))


def test_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUMI_VERIFY", raising=False)
    paths = [_write(tmp_path / f"v{i}.rumi", seed=i) for i in range(2)]
    clean = _numpy_stack(paths)
    for path in paths:  # the same pixels, in store frames
        with xr.open_dataset(path, engine="rumi") as ds:
            band_data = ds.band_data.load()
        to_rumi(band_data, path, tile=8, compression={"graph": "store"})
    _corrupt_stored_frame(paths[1], 3)
    assert (open_stack(paths)["band_data"].values != clean).sum() == 1  # off by default
    with pytest.raises(RumiFormatError, match=r"^frame 3 \(bytes \d+\.\.\d+\): .*checksum"):
        open_stack(paths, verify=True)["band_data"].values  # noqa: B018
    monkeypatch.setenv("RUMI_VERIFY", "on")
    with pytest.raises(RumiFormatError, match="checksum mismatch"):
        open_stack(paths)["band_data"].values  # noqa: B018
    assert (open_stack(paths, verify=False)["band_data"].values != clean).sum() == 1


def test_a_read_decodes_every_file_in_one_batch_into_the_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``.values`` is one batch of all files' frames, each decoded into its slice of one array."""
    paths = _series(tmp_path)
    batches: list[list[Any]] = []
    real = rumi_xarray.backend.stack.read_jobs

    def spy(jobs: list[Any], **kwargs: Any) -> None:
        batches.append(list(jobs))
        real(jobs, **kwargs)

    monkeypatch.setattr(rumi_xarray.backend.stack, "read_jobs", spy)
    values = open_stack(paths)["band_data"].values
    np.testing.assert_array_equal(values, _numpy_stack(paths))
    [jobs] = batches
    assert len(jobs) == len(paths)
    assert all(np.shares_memory(job.out, values) for job in jobs)
