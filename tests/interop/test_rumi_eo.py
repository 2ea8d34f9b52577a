"""Interop with the reference library rumi-eo 0.26.1, run in its own environment only.

    uv run --isolated --no-project --with rumi-eo==0.26.1 --with-editable . \\
        --with pytest --with hypothesis --with dask python -m pytest tests/interop -q -p no:cacheprovider

(a) files written by ``to_rumi`` pass ``rumi.info`` (alone and with our blob), report the
metadata we wrote, and ``rumi.read`` returns our input bit for bit; (b) files written by
``rumi.write`` read bit for bit through ``engine="rumi"`` (alone and with rumi's blob), and
``to_rumi`` given their frames rebuilds them byte for byte. Skipped where rumi is absent.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

rumi = pytest.importorskip("rumi")

import geozl  # noqa: E402
import ml_dtypes  # noqa: E402
import xarray as xr  # noqa: E402
from _fixtures import assert_same_bits  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rumi_codec._core import compress  # noqa: E402
from rumi_xarray import to_rumi  # noqa: E402
from rumi_xarray.format import parse_bytes  # noqa: E402
from rumi_xarray.layout import unit_axes  # noqa: E402
from rumi_xarray.write.container import FRAME_UNITS, _fits  # noqa: E402

UTM = {"crs": 32618, "transform": (10.0, 0.0, 499980.0, 0.0, -10.0, 4000020.0)}
GEO = {"crs": 4326, "transform": (0.25, 0.0, -75.0, 0.0, -0.25, 10.0)}


def _random(dtype: Any, shape: tuple[int, ...], seed: int) -> np.ndarray:
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    raw = rng.integers(0, 256, (*shape, dtype.itemsize), dtype=np.uint8)
    return raw.view(dtype).reshape(shape)


def _time(times: int, intervals: bool, seconds: bool = False) -> list[Any]:
    unit = np.timedelta64(3600 * 7 + 5, "s") if seconds else np.timedelta64(5, "D")
    starts = [np.datetime64("2024-01-01T00:00:00") + i * unit for i in range(times)]
    if not intervals:
        return starts
    end = unit - np.timedelta64(1 if seconds else 0, "s")
    return [(s, s + end) for s in starts]


def _info_seconds(values: list[Any]) -> list[int]:
    """POSIX seconds of what rumi.info reports (dates, aware datetimes, or pairs of them)."""

    def one(v: Any) -> int:
        if isinstance(v, dt.datetime):
            return int(v.timestamp())
        return (v - dt.date(1970, 1, 1)).days * 86400

    return [one(p) for v in values for p in (v if isinstance(v, tuple) else (v,))]


def _rumi_read(path: Path, blob: bytes, like: np.ndarray, pairs: bool = False) -> np.ndarray:
    """rumi.read, through the C reader into bytes for the types NumPy lacks in rumi.

    ``pairs``: ``like`` has a trailing (real, imag) axis (complex32 as float16 pairs).
    """
    if like.dtype.kind in "biufc":
        try:
            return rumi.read(str(path), blob)
        except TypeError:
            pass
    from rumi._ffi import _check, ffi, lib
    from rumi._native import _Source, _Spec

    src, spec = _Source(str(path)), _Spec(blob)
    height, width = like.shape[-3:-1] if pairs else like.shape[-2:]
    out = np.empty(like.nbytes, np.uint8)
    _check(
        lib.rumi_read(src.handle, spec.handle, ffi.NULL, 0, ffi.NULL, 0, 0, height, 0, width,
                      ffi.NULL, ffi.from_buffer(out), out.nbytes)
    )  # fmt: skip
    return out.view(like.dtype).reshape(like.shape)


# ---------------------------------------------------------------------------------------
# (a) our files through rumi-eo

WRITES = [
    # dtype, T, B, L, W, tile, frames, intervals, georef, pixel_is_point
    ("u1", 1, 1, 37, 45, 16, "band", False, UTM, False),
    ("u1", 1, 1, 40, 50, 512, "band", False, None, False),
    ("i2", 1, 3, 50, 33, 16, "band", False, None, False),
    ("u2", 1, 3, 50, 33, 32, "cell", False, GEO, True),
    ("u2", 1, 3, 40, 40, 32, "interleaved", True, UTM, False),
    ("f4", 1, 13, 30, 41, 16, "band", False, UTM, False),
    ("f8", 1, 13, 20, 21, 8, "cell", True, None, False),
    ("u2", 1, 5, 20, 20, 32, "cell", False, UTM, False),
    ("u1", 1, 1, 20, 10, 16, "band", False, None, False),
    *[
        ("i2", 4, 3, 19, 21, 8, unit, unit % 2 == 1, UTM, False)
        for unit in range(10)
        if unit not in (1, 2)
    ],
    ("u2", 4, 1, 33, 29, 16, "cell", True, None, False),
    ("u2", 4, 1, 33, 29, 16, "interleaved", False, GEO, False),
    ("u1", 4, 1, 33, 29, 16, "band", False, UTM, True),
    *[
        (d, 1, 2, 17, 19, 8, "band", False, None, False)
        for d in ["i1", "u4", "i4", "u8", "i8", "f2", "c8", "c16", "?"]
    ],
    *[
        (d, 1, 2, 13, 11, 8, "cell", False, None, False)
        for d in (
            ml_dtypes.bfloat16,
            ml_dtypes.float8_e4m3fn,
            ml_dtypes.float8_e5m2,
            ml_dtypes.float8_e8m0fnu,
            ml_dtypes.float8_e4m3fnuz,
            ml_dtypes.float8_e5m2fnuz,
        )
    ],
]


@pytest.mark.parametrize(
    ("dtype", "times", "bands", "length", "width", "tile", "frames", "intervals", "geo", "point"),
    WRITES,
)
def test_our_files_pass_rumi_info_and_read(
    tmp_path: Path,
    dtype: Any,
    times: int,
    bands: int,
    length: int,
    width: int,
    tile: int,
    frames: Any,
    intervals: bool,
    geo: dict[str, Any] | None,
    point: bool,
) -> None:
    arr = _random(dtype, (times, bands, length, width), seed=length * width + times)
    texts = [f"B{b:02d}, λ {400 + 10 * b} nm" for b in range(bands)]
    time = _time(times, intervals, seconds=point)
    path = tmp_path / "ours.rumi"
    blob = to_rumi(
        arr,
        path,
        tile=tile,
        frames=frames,
        bands=texts,
        time=time,
        pixel_is_point=point,
        **(geo or {}),
    )
    meta = rumi.info(source=str(path))
    assert meta.header == blob
    assert rumi.info(source=str(path), header=blob).header == blob
    assert meta.bands == texts
    assert meta.time_kind == ("interval" if intervals else "instant")
    want = np.array(time, "datetime64[s]").astype(np.int64).ravel().tolist()
    assert _info_seconds(meta.time) == want
    assert meta.crs == (geo["crs"] if geo else None)
    assert meta.transform == (geo["transform"] if geo else None)
    assert meta.pixel_is_point == point if geo else not meta.pixel_is_point
    assert meta.tile == (tile, tile)
    assert meta.dtype.name == parse_bytes(path.read_bytes()).sample.name
    expected = arr if times > 1 else arr[0]
    assert tuple(meta.shape) == expected.shape
    assert_same_bits(_rumi_read(path, blob, expected), expected)


def test_complex32_and_plain_openzl_frames(tmp_path: Path) -> None:
    halves = _random("f2", (2, 13, 11, 2), seed=7)
    arr = np.empty((2, 13, 11), np.complex64)
    arr.real, arr.imag = halves[..., 0], halves[..., 1]
    blob = to_rumi(arr, tmp_path / "c.rumi", tile=8, time=["2024-01-01"], dtype="complex32")
    assert rumi.info(source=str(tmp_path / "c.rumi"), header=blob).dtype.name == "complex32"
    raw = _rumi_read(tmp_path / "c.rumi", blob, np.empty((2, 13, 11, 2), np.float16), True)
    assert_same_bits(raw, halves)
    for graph in ("zstd", "store"):
        data = _random("u2", (3, 30, 20), seed=1)
        blob = to_rumi(
            data, tmp_path / "p.rumi", tile=16, time=["2024-01-01"], compression={"graph": graph}
        )
        assert_same_bits(rumi.read(str(tmp_path / "p.rumi"), blob), data)


# ---------------------------------------------------------------------------------------
# (b) rumi-eo's files through our reader and writer


def _pattern(unit: int, bands: int, times: int) -> str:
    """A rumi.frames pattern giving ``unit`` for a (T, B, Y, X) input."""
    frame_axes, index_axes = unit_axes(unit, bands, times)
    index = [a for a in index_axes] + [a for a in "bt" if a not in frame_axes + index_axes]
    return f"t b (row h) (col w) -> row col {' '.join(index)} ({' '.join(frame_axes)})"


def _rumi_write(path: Path, arr: np.ndarray, unit: int, tile: int, plain: bool, **kw: Any) -> bytes:
    times, bands = arr.shape[:2]
    tf = rumi.frames(arr, _pattern(unit, bands, times), tile_size=tile)
    assert tf.frame_unit == unit
    for frame in tf:
        data = np.ascontiguousarray(frame.data)
        if plain:
            frame.compressed = compress(data, recipe=None, graph="zstd")
        else:  # geozl streams 1..8-byte elements: complex as (real, imag) components
            parts = data.view(data.real.dtype) if data.dtype.kind == "c" else data
            frame.compressed = geozl.compress(parts, graph=geozl.graph(parts, "planar>zigzag>zstd"))
    _, header = rumi.write(str(path), tf, **kw)
    return header


def _check_theirs(
    path: Path, header: bytes, arr: np.ndarray, unit: int, tile: int, **kw: Any
) -> None:
    expected = arr if arr.shape[0] > 1 else arr[0]
    data = path.read_bytes()
    assert parse_bytes(data).to_blob() == header
    with xr.open_dataset(path, engine="rumi") as ds:
        assert_same_bits(ds["band_data"].values, expected)
        assert ds.band.values.tolist() == kw["bands"]
    with xr.open_dataset(path, engine="rumi", header=header) as ds:
        assert_same_bits(ds["band_data"].values, expected)
    desc = parse_bytes(data)

    def same_frames(samples: np.ndarray, key: Any) -> bytes:
        offset, length = desc.frame_range(
            desc.grid.frame_index(key.row, key.col, key.band or 0, key.time or 0)
        )
        return data[offset : offset + length]

    again = path.with_suffix(".again.rumi")
    blob = to_rumi(arr, again, tile=tile, frames=unit, compression=same_frames, **kw)
    assert again.read_bytes() == data and blob == header


READS = [
    # dtype, T, B, L, W, tile, unit, intervals, georef, plain OpenZL frames
    ("u1", 1, 1, 37, 45, 16, 0, False, UTM, False),
    ("i2", 1, 3, 50, 33, 16, 1, True, None, False),
    ("u2", 1, 3, 40, 40, 32, 2, False, GEO, True),
    ("f4", 1, 13, 30, 41, 16, 0, False, UTM, False),
    ("f8", 1, 5, 20, 21, 64, 1, True, None, True),
    ("c8", 1, 2, 17, 19, 8, 0, False, None, False),
    ("c16", 1, 2, 17, 19, 8, 1, False, UTM, False),
    ("?", 1, 2, 17, 19, 8, 2, False, None, False),
    ("u2", 4, 1, 33, 29, 16, 1, True, None, False),
    ("u1", 4, 1, 33, 29, 16, 2, False, UTM, True),
    *[
        ("i2", 4, 3, 19, 21, 8, u, u % 2 == 0, UTM if u > 5 else None, u == 4)
        for u in (0, 3, 4, 5, 6, 7, 8, 9)
    ],
]


@pytest.mark.parametrize(
    ("dtype", "times", "bands", "length", "width", "tile", "unit", "intervals", "geo", "plain"),
    READS,
)
def test_rumi_eo_files_read_and_rebuild(
    tmp_path: Path,
    dtype: str,
    times: int,
    bands: int,
    length: int,
    width: int,
    tile: int,
    unit: int,
    intervals: bool,
    geo: dict[str, Any] | None,
    plain: bool,
) -> None:
    arr = _random(dtype, (times, bands, length, width), seed=length + width * times)
    kw = {
        "bands": [f"band {b}" for b in range(bands)],
        "time": _time(times, intervals),
        **(geo or {}),
    }
    path = tmp_path / "theirs.rumi"
    header = _rumi_write(path, arr, unit, tile, plain, **kw)
    _check_theirs(path, header, arr, unit, tile, **kw)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    length=st.integers(1, 70),
    width=st.integers(1, 70),
    tile=st.integers(1, 80),
    bands=st.integers(1, 3),
    times=st.integers(1, 3),
    intervals=st.booleans(),
    data=st.data(),
)
def test_hypothesis_both_directions(
    tmp_path: Path,
    length: int,
    width: int,
    tile: int,
    bands: int,
    times: int,
    intervals: bool,
    data: Any,
) -> None:
    unit = data.draw(
        st.sampled_from(sorted({c for c in FRAME_UNITS.values() if _fits(c, bands, times)}))
    )
    dtype = data.draw(st.sampled_from(["u1", "i2", "f4", "c8"]))
    arr = _random(dtype, (times, bands, length, width), seed=length * 100 + width)
    kw = {
        "bands": [f"b{b}" for b in range(bands)],
        "time": _time(times, intervals, seconds=True),
        **UTM,
    }
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    ours = folder / "ours.rumi"
    blob = to_rumi(arr, ours, tile=tile, frames=unit, **kw)
    assert rumi.info(source=str(ours), header=blob).header == blob
    assert_same_bits(rumi.read(str(ours), blob), arr if times > 1 else arr[0])
    theirs = folder / "theirs.rumi"
    header = _rumi_write(theirs, arr, unit, tile, plain=False, **kw)
    _check_theirs(theirs, header, arr, unit, tile, **kw)
