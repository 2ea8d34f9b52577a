"""``to_rumi``: byte-exact rumi-eo files, round trips through our reader, validation, atomicity."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fsspec
import ml_dtypes
import numpy as np
import pytest
import xarray as xr
from _fixtures import DATA, FIXTURES, Fixture, assert_same_bits, fixture_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rumi_codec._core import compress
from rumi_xarray.format import parse_bytes
from rumi_xarray.georef import Georef
from rumi_xarray.write import container as writer
from rumi_xarray.write.to_rumi import to_rumi

if TYPE_CHECKING:
    from rumi_xarray.layout import FrameKey

EXAMPLES = DATA / "examples"
UTM = {"crs": 32618, "transform": (10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)}
NEW = [f for f in FIXTURES if f.folder == "rumi-0.26.1"]


def _read(path: Any, **kwargs: Any) -> xr.Dataset:
    return xr.open_dataset(path, engine="rumi", **kwargs)


def _frames_of(data: bytes) -> Any:
    """A compression callable that returns the frames of an existing file, by frame key."""
    desc = parse_bytes(data)

    def encode(samples: np.ndarray, key: FrameKey) -> bytes:
        k = desc.grid.frame_index(key.row, key.col, key.band or 0, key.time or 0)
        offset, length = desc.frame_range(k)
        assert samples.nbytes == desc.frame_nbytes(k)
        return data[offset : offset + length]

    return encode


def _days(*offsets: int, start: str = "2024-01-01") -> list[np.datetime64]:
    return [np.datetime64(start) + np.timedelta64(d, "D") for d in offsets]


# ---------------------------------------------------------------------------------------
# Byte-exact files


def test_reproduces_example_0261_byte_for_byte(tmp_path: Path) -> None:
    """FORMAT §11: same pixels, metadata and frames give rumi-eo's file and blob exactly."""
    reference = (EXAMPLES / "example_0261.rumi").read_bytes()
    arr = np.load(EXAMPLES / "example_arr.npy")
    blob = to_rumi(
        arr,
        tmp_path / "out.rumi",
        tile=32,
        frames="band",
        bands=["B1", "B2"],
        time=["2024-01-01"],
        compression=_frames_of(reference),
        **UTM,
    )
    assert (tmp_path / "out.rumi").read_bytes() == reference
    assert blob == (EXAMPLES / "example_0261.header").read_bytes()
    assert os.listdir(tmp_path) == ["out.rumi"]


def _manifest_time(meta: dict[str, Any]) -> list[Any]:
    seconds = np.array(meta["time_seconds"], "datetime64[s]")
    return (
        [tuple(p) for p in seconds.reshape(-1, 2)]
        if meta["time_kind"] == "interval"
        else list(seconds)
    )


@pytest.mark.parametrize("fixture", NEW, ids=fixture_id)
def test_reproduces_every_rumi_eo_fixture(fixture: Fixture, tmp_path: Path) -> None:
    """Every 0.26.1 fixture (all units, dtypes, B, T, intervals, CRS kinds) byte for byte."""
    meta, reference = fixture.meta, fixture.path.read_bytes()
    georef = {"crs": meta["crs"], "transform": meta["transform"]} if meta["crs"] else {}
    blob = to_rumi(
        fixture.expected(),
        tmp_path / "out.rumi",
        tile=meta["tile"][0],
        frames=meta["frame_unit"],
        bands=meta["bands"],
        time=_manifest_time(meta),
        pixel_is_point=meta["pixel_is_point"],
        dtype="complex32" if meta["rumi_dtype"] == "complex32" else None,
        compression=_frames_of(reference),
        **georef,
    )
    assert (tmp_path / "out.rumi").read_bytes() == reference
    assert blob == fixture.header


@pytest.mark.parametrize(
    "name", ["u16_b3_50x33_cell_geo_pip", "u16_t4_b1_33x29_thw_intervals", "f32_b13_30x41_tile_crs"]
)
def test_dataarray_metadata_alone_reproduces_the_file(name: str, tmp_path: Path) -> None:
    """Band texts, time (bounds), CRS, transform and PixelIsPoint all come from the coords."""
    fixture = next(f for f in NEW if f.name == name)
    reference = fixture.path.read_bytes()
    options = {"tile": fixture.meta["tile"][0], "frames": fixture.meta["frame_unit"]}
    with _read(fixture.path) as ds:
        blob = ds.rumi.to_rumi(tmp_path / "ds.rumi", compression=_frames_of(reference), **options)
        # a DataArray drops the (time, bnds) bounds and keeps the interval ends in time_end
        ds["band_data"].rumi.to_rumi(
            tmp_path / "da.rumi", compression=_frames_of(reference), **options
        )
        assert (tmp_path / "da.rumi").read_bytes() == reference
    assert (tmp_path / "ds.rumi").read_bytes() == reference
    assert blob == fixture.header


def test_hand_packed_index_and_trailer(tmp_path: Path) -> None:
    """5 bands (258/339 out of line), 2 frames (324 out of line, 325 inline), no CRS, §3/§9."""
    arr = np.arange(5 * 3 * 5, dtype="<u2").reshape(5, 3, 5)
    made: list[bytes] = []

    def encode(samples: np.ndarray, key: FrameKey) -> bytes:
        made.append(compress(samples, recipe=None, graph="store"))
        return made[-1]

    blob = to_rumi(
        arr,
        tmp_path / "f.rumi",
        tile=4,
        frames="cell",
        bands=list("abcde"),
        time=["2024-01-02T00:00:05"],
        compression=encode,
    )
    data = (tmp_path / "f.rumi").read_bytes()
    base = 292 + 10 + 16 + 10 + 128 + 32
    counts = [len(f) for f in made]

    def entry(tag: int, kind: int, count: int, field: bytes) -> bytes:
        return struct.pack("<HHQ", tag, kind, count) + field.ljust(8, b"\0")

    def at(offset: int) -> bytes:
        return struct.pack("<Q", offset)

    index = b"RUMI" + struct.pack("<HHQQ", 1, 0, 16, 13)
    index += entry(256, 4, 1, struct.pack("<I", 5)) + entry(257, 4, 1, struct.pack("<I", 3))
    index += entry(258, 3, 5, at(292)) + entry(277, 3, 1, struct.pack("<H", 5))
    index += entry(322, 3, 1, struct.pack("<H", 4)) + entry(323, 3, 1, struct.pack("<H", 4))
    index += entry(324, 16, 2, at(302)) + entry(325, 4, 2, struct.pack("<2I", *counts))
    index += entry(339, 3, 5, at(318)) + entry(34264, 12, 16, at(328))
    index += entry(34735, 3, 16, at(456)) + entry(65000, 3, 1, struct.pack("<H", 1))
    index += entry(65001, 4, 1, struct.pack("<I", 1)) + bytes(8)
    index += struct.pack("<5H", *[16] * 5) + struct.pack("<2Q", base, base + counts[0])
    index += struct.pack("<5H", *[1] * 5)
    index += struct.pack("<16d", 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
    index += struct.pack("<16H", 1, 1, 0, 3, 1024, 0, 1, 0, 1025, 0, 1, 1, 2048, 0, 1, 0)
    assert len(index) == base
    seconds = 1704153605  # 2024-01-02T00:00:05: not a whole day, so scale 1
    trailer = b"TAIL\x01\x00" + b"".join(b"\x01\x00" + c.encode() for c in "abcde")
    trailer += struct.pack("<BBqqI", 2, 0, seconds, 0, 1)
    assert data == index + b"".join(made) + trailer
    count_min = min(counts)
    bits = (max(counts) - count_min).bit_length()
    head = struct.pack("<4sHIIIHHHBBBIB", b"LOVE", 1, 5, 3, 1, 4, 4, 5, 16, 1, 1, count_min, bits)
    assert blob[: len(head)] == head and len(blob) == len(head) + (2 * bits + 7) // 8


def test_time_residuals_are_packed_canonically(tmp_path: Path) -> None:
    """§9 example: day offsets 0, 1, 2, 5 give step 2, zigzag 0 1 3 1, bits 2, byte 0x74."""
    arr = np.zeros((4, 1, 2, 2), np.uint8)
    to_rumi(arr, tmp_path / "t.rumi", time=_days(0, 1, 2, 5), bands=["x"])
    tail = (tmp_path / "t.rumi").read_bytes()[-23:]
    assert tail == struct.pack("<BBqqI", 2, 2, 19723, 2, 86400) + b"\x74"


# ---------------------------------------------------------------------------------------
# Round trips through our reader


@pytest.mark.parametrize(
    ("unit", "bands", "times"), [(0, 3, 4), (9, 3, 4), (2, 3, 1), (1, 1, 4), (6, 3, 4)]
)
def test_from_block_inverts_to_block(unit: int, bands: int, times: int) -> None:
    """The writer's cut (frame_window + from_block) is the reader's scatter (to_block) reversed."""
    from rumi_xarray.layout import FrameGrid

    grid = FrameGrid.from_unit(
        length=19, width=21, tile_length=8, tile_width=8, bands=bands, times=times, unit=unit
    )
    image = np.arange(times * bands * 19 * 21).reshape(times, bands, 19, 21)
    rebuilt = np.full_like(image, -1)
    for k in range(grid.frame_count):
        window = grid.frame_window(k)
        samples = grid.from_block(image[window])
        assert samples.shape == grid.frame_shape(k) and samples.flags.c_contiguous
        rebuilt[window] = grid.to_block(k, samples.ravel())
    np.testing.assert_array_equal(rebuilt, image)


def _random(dtype: np.dtype, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Every bit pattern (NaN payloads included) except in bool, which must be 0 or 1."""
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    raw = rng.integers(0, 256, (*shape, dtype.itemsize), dtype=np.uint8)
    return raw.view(dtype).reshape(shape)


DTYPES = [
    *["u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8", "c8", "c16", "?"],
    ml_dtypes.bfloat16,
    ml_dtypes.float8_e4m3fn,
    ml_dtypes.float8_e5m2,
    ml_dtypes.float8_e8m0fnu,
    ml_dtypes.float8_e4m3fnuz,
    ml_dtypes.float8_e5m2fnuz,
]


@pytest.mark.parametrize("dtype", [np.dtype(d) for d in DTYPES], ids=str)
@pytest.mark.parametrize("frames", ["band", "cell", "interleaved"])
def test_every_dtype_round_trips_bit_exactly(dtype: np.dtype, frames: str, tmp_path: Path) -> None:
    arr = _random(dtype, (3, 21, 19))
    blob = to_rumi(arr, tmp_path / "a.rumi", tile=8, frames=frames, time=["2024-05-01"])
    with _read(tmp_path / "a.rumi") as ds:
        assert_same_bits(ds["band_data"].values, arr)
    with _read(tmp_path / "a.rumi", header=blob) as ds:
        assert_same_bits(ds["band_data"].values, arr)


def test_complex32_is_explicit_and_exact(tmp_path: Path) -> None:
    halves = _random(np.dtype("f2"), (2, 9, 7, 2), seed=3)
    arr = np.empty((2, 9, 7), "c8")
    arr.real, arr.imag = halves[..., 0], halves[..., 1]
    with pytest.raises(ValueError, match="do not fit complex32 exactly"):
        to_rumi(
            np.full((1, 2, 2), 0.1j, "c8"),
            tmp_path / "x.rumi",
            time=["2024-01-01"],
            dtype="complex32",
        )
    to_rumi(arr, tmp_path / "c.rumi", tile=4, time=["2024-01-01"], dtype="complex32")
    da = _read(tmp_path / "c.rumi")["band_data"]
    assert da.attrs["rumi_dtype"] == "complex32"
    assert_same_bits(da.values, arr)
    da.rumi.to_rumi(tmp_path / "again.rumi", tile=4)  # the attribute keeps complex32
    assert (tmp_path / "again.rumi").read_bytes() == (tmp_path / "c.rumi").read_bytes()
    assert not (tmp_path / "x.rumi").exists()


UNITS = {
    (1, 1): ["band"],
    (3, 1): ["band", "cell", "interleaved", "b h w", "hwb"],
    (1, 4): ["band", "cell", "interleaved", "t h w", "hwt"],
    (3, 4): ["band", "time-band", "bthw", "tbhw", "bhwt", "thwb", "hwbt", "h w t b", 9],
}
CASES = [(b, t, u) for (b, t), units in UNITS.items() for u in units]


@pytest.mark.parametrize(("bands", "times", "frames"), CASES, ids=str)
def test_every_frame_unit_round_trips(bands: int, times: int, frames: Any, tmp_path: Path) -> None:
    arr = _random(np.dtype("i2"), (times, bands, 19, 21), seed=bands * times)
    time = [(d, d + np.timedelta64(1, "D")) for d in _days(*range(0, 2 * times, 2))]
    to_rumi(arr, tmp_path / "u.rumi", tile=8, frames=frames, time=time)
    with _read(tmp_path / "u.rumi") as ds:
        assert_same_bits(ds["band_data"].values, arr if times > 1 else arr[0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    length=st.integers(1, 70),
    width=st.integers(1, 70),
    tile=st.integers(1, 80),
    bands=st.integers(1, 3),
    times=st.integers(1, 3),
    intervals=st.booleans(),
    data=st.data(),
)
def test_hypothesis_shapes_round_trip(
    length: int, width: int, tile: int, bands: int, times: int, intervals: bool, data: Any
) -> None:
    from rumi_xarray.write.container import FRAME_UNITS, _fits

    units = sorted({code for code in FRAME_UNITS.values() if _fits(code, bands, times)})
    frames = data.draw(st.sampled_from(units))
    dtype = np.dtype(data.draw(st.sampled_from(["u1", "i2", "f4", "f8"])))
    arr = _random(dtype, (times, bands, length, width), seed=length * width)
    gaps = data.draw(st.lists(st.integers(0, 3), min_size=times, max_size=times))
    starts = np.cumsum(np.array(gaps) + 1) * 3600 + 1_700_000_000
    time = [
        (np.datetime64(int(s), "s"), np.datetime64(int(s) + 60, "s"))
        if intervals
        else np.datetime64(int(s), "s")
        for s in starts
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "h.rumi"
        blob = to_rumi(arr, path, tile=tile, frames=frames, time=time, max_workers=2)
        desc = parse_bytes(path.read_bytes())
        assert desc.to_blob() == blob
        assert desc.frame_unit == frames and desc.shape == arr.shape
        with _read(path) as ds:
            assert_same_bits(ds["band_data"].values, arr if times > 1 else arr[0])
            got = ds["time"].values.astype("datetime64[s]").astype(np.int64)
            np.testing.assert_array_equal(np.atleast_1d(got), starts)


def test_coordinates_round_trip(tmp_path: Path) -> None:
    arr = _random(np.dtype("u2"), (3, 2, 20, 30))
    starts = _days(0, 7, 14)
    bounds = np.array([(s, s + np.timedelta64(7, "D")) for s in starts])
    coords = {
        "time": ("time", np.array(starts, "datetime64[ns]"), {"bounds": "time_bounds"}),
        "time_bounds": (("time", "bnds"), bounds.astype("datetime64[ns]")),
        "band": [4, 8],
        "x": 300000.0 + 20 * np.arange(30),
        "y": 5000000.0 - 20 * np.arange(20),
    }
    dims = ("time", "band", "y", "x")
    da = xr.Dataset({"v": (dims, arr, {"AREA_OR_POINT": "Point"})}, coords)
    da.transpose("y", "band", "x", "time", "bnds").rumi.to_rumi(
        tmp_path / "c.rumi", tile=16, crs="EPSG:32633"
    )
    ds = _read(tmp_path / "c.rumi")
    assert_same_bits(ds["band_data"].values, arr)
    assert ds.band.values.tolist() == ["4", "8"]
    np.testing.assert_array_equal(ds.time.values, da.time.values)
    np.testing.assert_array_equal(ds.time_bounds.values, da.time_bounds.values)
    np.testing.assert_array_equal(ds.x.values, da.x.values)
    np.testing.assert_array_equal(ds.y.values, da.y.values)
    assert ds["band_data"].attrs["AREA_OR_POINT"] == "Point"
    georef = parse_bytes((tmp_path / "c.rumi").read_bytes()).georef
    assert georef.epsg == 32633 and georef.pixel_is_point
    assert georef.transform == (20.0, 0.0, 300000.0, 0.0, -20.0, 5000000.0)


def test_sliced_array_gets_its_own_transform(tmp_path: Path) -> None:
    fixture = next(f for f in NEW if f.name == "f32_b13_30x41_tile_crs")
    part = _read(fixture.path)["band_data"].isel(x=slice(5, 20), y=slice(3, 11), band=[2, 0])
    part.rumi.to_rumi(tmp_path / "s.rumi", tile=4)
    back = _read(tmp_path / "s.rumi")
    for name in ("x", "y", "band"):
        np.testing.assert_array_equal(back[name].values, part[name].values)
    assert back.spatial_ref.attrs["GeoTransform"] == "500030.0 10.0 0.0 3999990.0 0.0 -10.0"


def test_rioxarray_crs_and_transform(tmp_path: Path) -> None:
    rioxarray = pytest.importorskip("rioxarray")
    from affine import Affine

    da = xr.DataArray(np.ones((2, 4, 6), "f4"), dims=("band", "y", "x"))
    da = da.rio.write_crs(4326).rio.write_transform(Affine(0.5, 0, 10, 0, -0.5, 50))
    assert rioxarray is not None
    da.rumi.to_rumi(tmp_path / "r.rumi", time=["2024-01-01"])
    georef = parse_bytes((tmp_path / "r.rumi").read_bytes()).georef
    assert (georef.epsg, georef.transform) == (4326, (0.5, 0.0, 10.0, 0.0, -0.5, 50.0))


def test_numpy_shapes_and_default_band_texts(tmp_path: Path) -> None:
    for arr in (np.ones((5, 6), ">u2"), np.ones((2, 5, 6), "u1"), np.ones((2, 1, 5, 6), "f4")):
        path = tmp_path / f"n{arr.ndim}.rumi"
        to_rumi(arr, path, time=_days(0, 1)[: 2 if arr.ndim == 4 else 1])
        ds = _read(path)
        assert ds.band.values.tolist() == [f"band {b + 1}" for b in range(ds.sizes["band"])]
        np.testing.assert_array_equal(ds["band_data"].values, arr.reshape(ds["band_data"].shape))


def test_dataset_accessor_with_bounds_variable(tmp_path: Path) -> None:
    arr = np.arange(2 * 3 * 4, dtype="i4").reshape(2, 1, 3, 4)
    ds = xr.Dataset(
        {
            "ndvi": (("time", "band", "y", "x"), arr),
            "tb": (("time", "nv"), np.array([_days(0, 1), _days(1, 3)], "datetime64[ns]")),
        },
        coords={"time": ("time", np.array(_days(0, 1), "datetime64[ns]"), {"bounds": "tb"})},
    )
    ds.rumi.to_rumi(tmp_path / "d.rumi")
    back = _read(tmp_path / "d.rumi")
    np.testing.assert_array_equal(back.time_bounds.values, ds.tb.values)
    with pytest.raises(ValueError, match="names bounds 'tb'"):
        ds["ndvi"].rumi.to_rumi(tmp_path / "e.rumi")
    ds["other"] = ds["ndvi"] + 1
    with pytest.raises(ValueError, match="choose one with variable="):
        ds.rumi.to_rumi(tmp_path / "e.rumi")
    ds.rumi.to_rumi(tmp_path / "e.rumi", variable="other", bands=["nir-red"])
    np.testing.assert_array_equal(_read(tmp_path / "e.rumi")["band_data"].values, arr + 1)


def test_time_inputs(tmp_path: Path) -> None:
    import datetime as dt

    arr = np.zeros((3, 1, 2, 2), "u1")
    aware = dt.datetime(2024, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    for time in (
        ["2024-01-01", dt.date(2024, 1, 2), "2024-01-03T00:00:00Z"],
        [aware, np.datetime64("2024-01-02"), dt.datetime(2024, 1, 3)],
        np.array(_days(0, 1, 2)),
    ):
        to_rumi(arr, tmp_path / "t.rumi", time=time)
        got = _read(tmp_path / "t.rumi").time.values
        np.testing.assert_array_equal(got, np.array(_days(0, 1, 2), "datetime64[ns]"))


# ---------------------------------------------------------------------------------------
# Inputs, targets, parallelism


def test_memory_url_target() -> None:
    arr = _random(np.dtype("u2"), (2, 30, 30))
    blob = to_rumi(arr, "memory://out/scene.rumi", tile=16, time=["2024-01-01"])
    assert fsspec.filesystem("memory").exists("/out/scene.rumi")
    with _read("memory://out/scene.rumi", header=blob) as ds:
        assert_same_bits(ds["band_data"].values, arr)


def test_dask_input_is_computed_in_pieces(tmp_path: Path) -> None:
    dask_array = pytest.importorskip("dask.array")
    arr = _random(np.dtype("f4"), (2, 3, 50, 40))
    lazy = xr.DataArray(
        dask_array.from_array(arr, chunks=(1, 2, 13, 17)), dims=("time", "band", "y", "x")
    )
    lazy.rumi.to_rumi(tmp_path / "k.rumi", tile=16, frames="tbhw", time=_days(0, 1))
    assert_same_bits(_read(tmp_path / "k.rumi")["band_data"].values, arr)


class _Recorder:
    """An array-like that records every window read from it."""

    def __init__(self, arr: np.ndarray) -> None:
        self.arr, self.shape, self.dtype, self.windows = arr, arr.shape, arr.dtype, []

    def __getitem__(self, window: tuple[slice, ...]) -> np.ndarray:
        self.windows.append(window)
        return self.arr[window]


@pytest.mark.parametrize(("budget", "loads"), [(1 << 30, 3), (3 * 16 * 16, 9), (16 * 16, 25)])
def test_loads_tile_rows_cells_or_frames(
    budget: int, loads: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(writer, "BLOCK_NBYTES", budget)
    arr = _random(np.dtype("u1"), (3, 40, 40))
    source = _Recorder(arr)
    to_rumi(source, tmp_path / "r.rumi", tile=16, time=["2024-01-01"])
    assert len(source.windows) == loads
    assert_same_bits(_read(tmp_path / "r.rumi")["band_data"].values, arr)


def test_workers_progress_and_plain_graph_give_valid_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arr = _random(np.dtype("u2"), (2, 40, 40))
    one = to_rumi(arr, tmp_path / "1.rumi", tile=4, time=["2024-01-01"], max_workers=1)
    assert capsys.readouterr().err == ""  # no bar off a terminal
    many = to_rumi(
        arr, tmp_path / "4.rumi", tile=4, time=["2024-01-01"], max_workers=4, progress=True
    )
    assert one == many and (tmp_path / "1.rumi").read_bytes() == (tmp_path / "4.rumi").read_bytes()
    assert "200/200" in capsys.readouterr().err
    to_rumi(arr, tmp_path / "z.rumi", tile=4, time=["2024-01-01"], compression={"graph": "zstd"})
    assert_same_bits(_read(tmp_path / "z.rumi")["band_data"].values, arr)


@pytest.mark.parametrize(
    "registers",
    [
        "xr.backends.list_engines()",  # what open_dataset does for any plugin engine
        "rumi_xarray.to_rumi",
        "import rumi_xarray.backend.entrypoint",
    ],
)
def test_the_accessor_registers_as_rioxarrays_does(registers: str) -> None:
    """No import hook: ``import rumi_xarray`` loads no xarray and registers nothing; the
    backend or ``to_rumi`` registers ``.rumi`` when imported (rioxarray's way)."""
    code = (
        "import sys, rumi_xarray; assert 'xarray' not in sys.modules;"
        "import xarray as xr; assert not hasattr(xr.DataArray([1]), 'rumi');"
        f"{registers}; assert hasattr(xr.DataArray([1]), 'rumi');"
        "assert not any(type(f).__module__.startswith('rumi') for f in sys.meta_path)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------
# Validation before writing, atomicity

GOOD: dict[str, Any] = {"time": ["2024-01-01", "2024-01-02"], "tile": 8}
BAD = [
    ({"tile": 0}, "tile must be 1..65535"),
    ({"tile": 65536}, "tile must be 1..65535"),
    ({"frames": "cell"}, "does not fit 2 bands and 2 time steps"),
    ({"frames": 10}, "is not one of|does not fit"),
    ({"frames": "diagonal"}, "is not one of"),
    ({"bands": ["a"]}, "needs one text per band; got 1"),
    ({"bands": ["a", "a"]}, "bands 0 and 1 have the same text"),
    ({"bands": ["", "b"]}, "band 0 has an empty text"),
    ({"bands": ["a\0", "b"]}, "band 0 text contains a NUL byte"),
    ({"bands": ["é" * 40000, "b"]}, "exceeds the 65535 bytes"),
    ({"time": None}, "pass time="),
    ({"time": ["2024-01-01"]}, "needs 2 instants"),
    ({"time": ["2024-01-02", "2024-01-01"]}, "time coordinate 1 goes backwards"),
    (
        {"time": [("2024-01-01", "2024-01-03"), ("2024-01-02", "2024-01-04")]},
        "ends after step 1 starts",
    ),
    ({"time": [("2024-01-01", "2024-01-01"), ("2024-01-02", "2024-01-04")]}, "covers nothing"),
    ({"time": ["2024-01-01T00:00:00.5", "2024-01-02"]}, "fractional seconds"),
    ({"time": ["2024-01-01", ("2024-01-02", "2024-01-03")]}, "mixes instants and"),
    ({"crs": 32618}, "transform and crs must be given together"),
    ({"transform": UTM["transform"]}, "transform and crs must be given together"),
    ({"crs": 4978, "transform": UTM["transform"]}, "not a projected or geographic CRS"),
    ({"crs": 99999, "transform": UTM["transform"]}, "outside the 1024 to 32766"),
    (
        {"crs": "+proj=tmerc +lon_0=13 +k=0.9 +datum=WGS84", "transform": UTM["transform"]},
        "no EPSG code",
    ),
    ({"crs": 32618, "transform": (1, 2, 3)}, "6 affine coefficients"),
    ({"compression": "no-such-recipe"}, "cannot encode"),
    ({"compression": {"graph": "zstd", "level": 3}}, "unknown compression options"),
    ({"dtype": "complex32"}, "stores complex64 samples, not int16"),
]


@pytest.mark.parametrize(("change", "match"), BAD, ids=[m for _, m in BAD])
def test_invalid_arguments_raise_before_writing(
    change: dict[str, Any], match: str, tmp_path: Path
) -> None:
    arr = np.zeros((2, 2, 20, 20), "i2")
    with pytest.raises(ValueError, match=match):
        to_rumi(arr, tmp_path / "bad.rumi", **{**GOOD, **change})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        (np.zeros((2, 2), "f16" if hasattr(np, "float128") else "O"), "cannot be stored"),
        (np.zeros((1, 1, 1, 2, 2), "u1"), r"\(T, B, Y, X\)"),
        (xr.DataArray(np.zeros((2, 2, 2), "u1"), dims=("z", "y", "x")), "cannot map the dims"),
        (xr.DataArray(np.zeros((2, 2), "M8[s]"), dims=("y", "x")), "cannot be stored"),
    ],
    ids=["float128", "5-d", "unknown-dim", "datetime-pixels"],
)
def test_unmappable_inputs_raise_before_writing(obj: Any, match: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=match):
        to_rumi(obj, tmp_path / "bad.rumi", time=["2024-01-01"])
    assert os.listdir(tmp_path) == []


def test_header_size_and_frame_size_limits() -> None:
    from rumi_xarray.spec import SAMPLE_TYPES
    from rumi_xarray.trailer import TimeAxis, TimeKind

    sample = SAMPLE_TYPES[(1, 8)]
    common = {
        "sample": sample,
        "band_texts": ("a",),
        "time": TimeAxis(TimeKind.INSTANT, np.zeros(1, np.int64)),
        "georef": Georef(None, None),
    }
    with pytest.raises(ValueError, match="past what this writer builds"):
        writer.plan_write(shape=(1, 1, 20000, 20000), tile=1, frames="band", **common)
    with pytest.raises(ValueError, match="frames, more than"):
        writer.plan_write(shape=(1, 1, 2**31 - 1, 2**31 - 1), tile=1, frames="band", **common)
    with pytest.raises(ValueError, match="past the 1073741824 readers accept"):
        writer.plan_write(shape=(1, 1, 65535, 65535), tile=65535, frames="band", **common)


class _Boom(Exception):
    pass


@pytest.mark.parametrize("error", [_Boom, KeyboardInterrupt])
def test_failure_leaves_nothing_and_keeps_an_existing_target(
    error: type[BaseException], tmp_path: Path
) -> None:
    arr = _random(np.dtype("u1"), (2, 64, 64))
    seen: list[int] = []

    def encode(samples: np.ndarray, key: FrameKey) -> bytes:
        seen.append(key.row)
        if len(seen) == 5:
            raise error("stop")
        return compress(samples)

    with pytest.raises(error):
        to_rumi(
            arr,
            tmp_path / "new.rumi",
            tile=8,
            time=["2024-01-01"],
            compression=encode,
            max_workers=2,
        )
    assert os.listdir(tmp_path) == []
    (tmp_path / "old.rumi").write_bytes(b"keep me")
    seen.clear()
    with pytest.raises(error):
        to_rumi(arr, tmp_path / "old.rumi", tile=8, time=["2024-01-01"], compression=encode)
    assert os.listdir(tmp_path) == ["old.rumi"]
    assert (tmp_path / "old.rumi").read_bytes() == b"keep me"


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (b"", "compressed to 0 bytes"),
        (b"not an openzl frame", "no OpenZL frame"),
        ("text", "not bytes"),
    ],
)
def test_bad_frames_from_a_callable_are_refused(frame: Any, match: str, tmp_path: Path) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        to_rumi(
            np.zeros((1, 4, 4), "u1"),
            tmp_path / "f.rumi",
            time=["2024-01-01"],
            compression=lambda s, k: frame,
        )
    assert os.listdir(tmp_path) == []


def test_wrong_size_frame_is_refused(tmp_path: Path) -> None:
    other = compress(np.zeros(3, "u1"))
    with pytest.raises(ValueError, match="one numeric output of 16 bytes"):
        to_rumi(
            np.zeros((1, 4, 4), "u1"),
            tmp_path / "f.rumi",
            time=["2024-01-01"],
            compression=lambda s, k: other,
        )
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("where", ["missing/dir/x.rumi", "a-directory"])
def test_os_errors_name_the_target_not_the_temporary_file(where: str, tmp_path: Path) -> None:
    (tmp_path / "a-directory").mkdir()
    target = tmp_path / where
    with pytest.raises(OSError) as err:
        to_rumi(np.zeros((1, 4, 4), "u1"), target, time=["2024-01-01"])
    assert err.value.filename == str(target) and err.value.filename2 is None
    assert str(target) in str(err.value) and ".tmp" not in str(err.value)
    assert sorted(os.listdir(tmp_path)) == ["a-directory"]
    assert os.listdir(tmp_path / "a-directory") == []
