"""Tests for rumi_xarray.cache: the per-process decoded-frame cache and its use by read_window."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import xarray as xr

import rumi_xarray
from rumi_xarray import decode, to_rumi
from rumi_xarray.cache import DEFAULT_NBYTES, ENV_VAR, FrameCache, frame_cache, set_frame_cache
from rumi_xarray.decode import read_description, read_window
from rumi_xarray.io import BytesReader, FsspecReader, LocalReader, open_reader

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

RNG = np.random.default_rng(12)
DATA = RNG.integers(0, 60000, (3, 64, 96), dtype=np.uint16)
FRAME_NBYTES = 32 * 32 * 2
"""One band frame of a 32 x 32 tile of uint16."""


@pytest.fixture
def cache() -> Iterator[FrameCache]:
    """The process cache, emptied, 1 MiB; restored afterwards."""
    previous = set_frame_cache(1 << 20)
    frame_cache().clear()
    yield frame_cache()
    frame_cache().clear()
    set_frame_cache(previous)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the frames read_window decodes (one entry per decode)."""
    calls: list[int] = []
    real = decode.decompress_into

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(decode, "decompress_into", spy)
    return calls


def _write(path: Path, data: np.ndarray = DATA) -> Path:
    to_rumi(data, path, tile=32, time=["2024-01-01"], compression={"graph": "store"})
    return path


def _frame(n: int) -> np.ndarray:
    a = np.zeros(n, np.uint8)
    a.flags.writeable = False
    return a


# ---------------------------------------------------------------------------------------
# FrameCache


def test_least_recently_used_is_evicted_first() -> None:
    c = FrameCache(300)
    c.put_many([("a", _frame(100)), ("b", _frame(100)), ("c", _frame(100))])
    assert c.get_many(["a"])[0] is not None  # a is now the most recent
    c.put_many([("d", _frame(100))])
    assert c.keys() == ["c", "a", "d"]
    assert c.get_many(["b", "x"]) == [None, None]


def test_never_above_the_bound() -> None:
    c = FrameCache(1000)
    rng = np.random.default_rng(1)
    for i in range(200):
        c.put_many([(i, _frame(int(rng.integers(1, 400))))])
        assert c.nbytes <= 1000
        assert c.nbytes == sum(f.nbytes for f in c.get_many(c.keys()) if f is not None)


def test_a_frame_larger_than_the_bound_is_not_cached() -> None:
    c = FrameCache(100)
    c.put_many([("small", _frame(60)), ("big", _frame(101))])
    assert c.keys() == ["small"]
    assert c.nbytes == 60


def test_replacing_a_key_counts_it_once() -> None:
    c = FrameCache(100)
    c.put_many([("a", _frame(60)), ("a", _frame(70))])
    assert c.keys() == ["a"] and c.nbytes == 70


def test_resize_evicts_and_zero_empties() -> None:
    c = FrameCache(300)
    c.put_many([(i, _frame(100)) for i in range(3)])
    c.resize(150)
    assert c.keys() == [2] and c.nbytes == 100
    c.resize(0)
    assert c.keys() == [] and c.nbytes == 0


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True, None])
def test_set_frame_cache_rejects_what_is_no_byte_count(bad: Any) -> None:
    with pytest.raises(ValueError, match="nbytes must be a non-negative int"):
        set_frame_cache(bad)


def test_set_frame_cache_returns_the_previous_bound(cache: FrameCache) -> None:
    assert set_frame_cache(12345) == 1 << 20
    assert cache.maxbytes == 12345 and rumi_xarray.set_frame_cache(1 << 20) == 12345


# ---------------------------------------------------------------------------------------
# read_window through the cache


def test_a_warm_repeated_chip_decodes_no_frame(
    tmp_path: Path, cache: FrameCache, decodes: list[int]
) -> None:
    ds = xr.open_dataset(_write(tmp_path / "a.rumi"), engine="rumi", cache=False)
    chip = ds.band_data.isel(y=slice(10, 50), x=slice(20, 70))
    np.testing.assert_array_equal(chip.values, DATA[:, 10:50, 20:70])
    assert len(decodes) == 3 * 2 * 3
    decodes.clear()
    for _ in range(3):
        np.testing.assert_array_equal(chip.values, DATA[:, 10:50, 20:70])
    assert decodes == []
    assert cache.nbytes == 18 * FRAME_NBYTES


def test_cached_frames_are_read_only_and_never_aliased(tmp_path: Path, cache: FrameCache) -> None:
    reader = LocalReader(_write(tmp_path / "a.rumi"))
    desc = read_description(reader)
    key = (slice(None), slice(None), slice(None), slice(None))
    first = read_window(desc, reader, key)
    frames = cache.get_many(cache.keys())
    assert frames and all(f is not None and not f.flags.writeable for f in frames)
    first[...] = 0  # the output is the caller's own
    again = read_window(desc, reader, key)
    assert again.flags.writeable
    np.testing.assert_array_equal(again[0], DATA)


def test_verify_reads_decode_and_check_every_frame(
    tmp_path: Path, cache: FrameCache, decodes: list[int]
) -> None:
    ds = xr.open_dataset(_write(tmp_path / "a.rumi"), engine="rumi", verify=True, cache=False)
    for _ in range(2):
        np.testing.assert_array_equal(ds.band_data.values, DATA)
    assert len(decodes) == 2 * 3 * 2 * 3
    assert cache.nbytes == 18 * FRAME_NBYTES  # cached all the same, for reads without verify


def test_off_with_zero(tmp_path: Path, cache: FrameCache, decodes: list[int]) -> None:
    set_frame_cache(0)
    ds = xr.open_dataset(_write(tmp_path / "a.rumi"), engine="rumi", cache=False)
    for _ in range(2):
        np.testing.assert_array_equal(ds.band_data.values, DATA)
    assert len(decodes) == 2 * 18 and cache.keys() == []


def test_frames_larger_than_the_bound_are_read_but_not_cached(
    tmp_path: Path, cache: FrameCache
) -> None:
    set_frame_cache(FRAME_NBYTES - 1)
    ds = xr.open_dataset(_write(tmp_path / "a.rumi"), engine="rumi", cache=False)
    np.testing.assert_array_equal(ds.band_data.values, DATA)
    assert cache.keys() == []


def test_bytes_and_file_objects_are_not_cached(tmp_path: Path, cache: FrameCache) -> None:
    data = _write(tmp_path / "a.rumi").read_bytes()
    assert BytesReader(data).identity is None
    with (tmp_path / "a.rumi").open("rb") as f:
        assert open_reader(f).identity is None
        np.testing.assert_array_equal(
            xr.open_dataset(f, engine="rumi", cache=False).band_data.values, DATA
        )
    np.testing.assert_array_equal(
        xr.open_dataset(data, engine="rumi", cache=False).band_data.values, DATA
    )
    assert cache.keys() == []


def _rewrite_in_place(path: Path, data: np.ndarray) -> None:
    """Overwrite ``path``'s bytes (same inode, same size) with a file of ``data``; bump mtime."""
    new = _write(path.with_suffix(".new.rumi"), data).read_bytes()
    before = os.stat(path)
    assert len(new) == before.st_size
    with path.open("r+b") as f:
        f.write(new)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    assert os.stat(path).st_ino == before.st_ino


def test_a_changed_file_is_never_served_from_the_cache(tmp_path: Path, cache: FrameCache) -> None:
    path = _write(tmp_path / "a.rumi")
    kept = xr.open_dataset(path, engine="rumi", cache=False)
    np.testing.assert_array_equal(kept.band_data.values, DATA)
    other = DATA[:, ::-1, ::-1].copy()
    _rewrite_in_place(path, other)
    np.testing.assert_array_equal(
        xr.open_dataset(path, engine="rumi", cache=False).band_data.values, other
    )
    # the same layout, so the dataset opened before reads the new pixels too
    np.testing.assert_array_equal(kept.band_data.values, other)


def test_a_changed_memory_url_has_a_new_identity(cache: FrameCache) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/cache-test.rumi", b"a" * 10)
    first = FsspecReader("memory:///cache-test.rumi").identity
    fs.pipe("/cache-test.rumi", b"b" * 10)
    assert FsspecReader("memory:///cache-test.rumi").identity != first
    fs.rm("/cache-test.rumi")


def test_concurrent_readers_of_two_files_get_exact_pixels(
    tmp_path: Path, cache: FrameCache
) -> None:
    set_frame_cache(5 * FRAME_NBYTES)  # far fewer than the 36 frames of both files
    arrays = [DATA, (DATA // 3 + 7).astype(np.uint16)]
    paths = [_write(tmp_path / f"f{i}.rumi", a) for i, a in enumerate(arrays)]
    arrs = [xr.open_dataset(p, engine="rumi", cache=False).band_data for p in paths]
    failures: list[str] = []
    seen = threading.Lock()

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(60):
            i = int(rng.integers(2))
            y0, x0 = int(rng.integers(0, 60)), int(rng.integers(0, 90))
            y1, x1 = y0 + int(rng.integers(1, 40)), x0 + int(rng.integers(1, 60))
            b = int(rng.integers(3))
            got = arrs[i].isel(band=b, y=slice(y0, y1), x=slice(x0, x1)).values
            if not np.array_equal(got, arrays[i][b, y0:y1, x0:x1]):
                with seen:
                    failures.append(f"file {i} band {b} [{y0}:{y1}, {x0}:{x1}]")
            assert cache.nbytes <= cache.maxbytes

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(work, range(12)))
    assert failures == []


# ---------------------------------------------------------------------------------------
# the environment variable


def _in_subprocess(value: str, code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, ENV_VAR: value}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_environment_variable_sets_the_bound() -> None:
    code = "from rumi_xarray.cache import frame_cache; print(frame_cache().maxbytes)"
    assert _in_subprocess("12345", code).stdout.strip() == "12345"
    assert _in_subprocess("", code).stdout.strip() == str(DEFAULT_NBYTES)


def test_the_environment_variable_zero_turns_it_off(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.rumi")
    code = (
        "import xarray as xr\n"
        "from rumi_xarray.cache import frame_cache\n"
        f"xr.open_dataset({str(path)!r}, engine='rumi').band_data.load()\n"
        "print(frame_cache().maxbytes, len(frame_cache().keys()))\n"
    )
    done = _in_subprocess("0", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "0"]


@pytest.mark.parametrize("value", ["lots", "-5", "1.5"])
def test_a_bad_environment_variable_raises_naming_it(value: str) -> None:
    done = _in_subprocess(value, "from rumi_xarray.cache import frame_cache; frame_cache()")
    assert done.returncode != 0
    assert f"ValueError: {ENV_VAR} must be a non-negative number of bytes" in done.stderr
