"""Byte-range readers (``rumi_xarray.io``): every kind of source read the same way, and local
file handles: the LRU descriptor cache, pinning under threads, reopening, locks, many files."""

from __future__ import annotations

import io
import os
import pickle
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import xarray as xr

from rumi_xarray import io as _io
from rumi_xarray import to_rumi
from rumi_xarray.errors import RumiFormatError

if TYPE_CHECKING:
    from collections.abc import Callable

FD_DIR = Path("/proc/self/fd")
needs_proc = pytest.mark.skipif(not FD_DIR.is_dir(), reason="needs /proc/self/fd")


def _open_fds() -> int:
    return len(os.listdir(FD_DIR))


@pytest.fixture
def blobs(tmp_path: Path) -> list[tuple[Path, bytes]]:
    """Sixteen files of distinct random bytes."""
    rng = np.random.default_rng(7)
    out = []
    for i in range(16):
        data = rng.integers(0, 256, 4096 + 97 * i, np.uint8).tobytes()
        path = tmp_path / f"blob{i}.bin"
        path.write_bytes(data)
        out.append((path, data))
    return out


def test_threads_read_exact_bytes_under_a_cache_of_two(blobs: list[tuple[Path, bytes]]) -> None:
    readers = [(_io.LocalReader(p), data) for p, data in blobs]
    errors: list[str] = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        scratch = np.empty(512, np.uint8)
        for _ in range(1500):
            reader, data = readers[int(rng.integers(len(readers)))]
            offset = int(rng.integers(0, len(data) - 256))
            length = int(rng.integers(1, 256))
            got = bytes(reader.read(offset, length))
            into = bytes(reader.read_into(offset, length, scratch))
            if got != data[offset : offset + length] or into != got:
                errors.append(f"{reader.path} [{offset}, +{length})")

    with xr.set_options(file_cache_maxsize=2):
        threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for reader, _ in readers:
        reader.close()
    assert errors == []


@needs_proc
def test_cache_bounds_open_descriptors(blobs: list[tuple[Path, bytes]]) -> None:
    before = _open_fds()
    readers = [_io.LocalReader(p) for p, _ in blobs]
    with xr.set_options(file_cache_maxsize=3):
        for reader, (_, data) in zip(readers, blobs, strict=True):
            assert bytes(reader.read(0, 10)) == data[:10]
        assert _open_fds() <= before + 3
        assert bytes(readers[0].read(5, 5)) == blobs[0][1][5:10], "reopens after eviction"
    for reader in readers:
        reader.close()
    assert _open_fds() == before


@needs_proc
def test_close_releases_and_reads_reopen(blobs: list[tuple[Path, bytes]]) -> None:
    path, data = blobs[0]
    before = _open_fds()
    reader = _io.LocalReader(path)
    assert _open_fds() == before, "nothing is opened before the first read"
    assert bytes(reader.read(0, 8)) == data[:8]
    assert _open_fds() == before + 1
    reader.close()
    assert _open_fds() == before
    assert bytes(reader.read(8, 8)) == data[8:16]
    reader.close()
    assert _open_fds() == before


def test_reader_pickles_by_path(blobs: list[tuple[Path, bytes]]) -> None:
    path, data = blobs[1]
    reader = _io.LocalReader(path)
    reader.read(0, 1)
    state = pickle.dumps(reader)
    assert len(state) < 500, "no descriptor or cache state travels"
    clone = pickle.loads(state)
    assert bytes(clone.read(100, 20)) == data[100:120]
    clone.close()
    assert bytes(reader.read(100, 20)) == data[100:120], "the clone has a handle of its own"
    reader.close()


def test_maxsize_follows_xarray_option() -> None:
    assert _io.file_cache_maxsize() == xr.get_options()["file_cache_maxsize"]
    with xr.set_options(file_cache_maxsize=5):
        assert _io.file_cache_maxsize() == 5


def test_io_does_not_import_xarray() -> None:
    code = (
        "import sys, rumi_xarray.io as io; "
        "assert 'xarray' not in sys.modules; "
        "assert io.file_cache_maxsize() == io.FILE_CACHE_MAXSIZE == 128"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_locked_reader_holds_the_lock(blobs: list[tuple[Path, bytes]]) -> None:
    path, data = blobs[2]
    held: list[bool] = []

    class Spy:
        def __init__(self) -> None:
            self.lock = threading.Lock()

        def __enter__(self) -> None:
            self.lock.acquire()

        def __exit__(self, *exc: object) -> None:
            held.append(self.lock.locked())
            self.lock.release()

    reader = _io.LockedReader(_io.LocalReader(path), Spy())
    assert reader.size == len(data)
    assert bytes(reader.read(3, 4)) == data[3:7]
    assert bytes(reader.read_into(3, 4, np.empty(4, np.uint8))) == data[3:7]
    assert [bytes(b) for b in reader.iter_ranges([(0, 2), (10, 3)])] == [data[:2], data[10:13]]
    assert held == [True, True, True]
    reader.close()


# ---------------------------------------------------------------------------------------
# Every kind of source: the same bytes, the same refusals

DATA = bytes(range(256)) * 5
"""1,280 bytes, each offset's value its own low byte."""


def _local(tmp_path: Path) -> _io.RangeReader:
    (tmp_path / "data.bin").write_bytes(DATA)
    return _io.open_reader(tmp_path / "data.bin")


def _file_url(tmp_path: Path) -> _io.RangeReader:
    (tmp_path / "data.bin").write_bytes(DATA)
    return _io.open_reader((tmp_path / "data.bin").as_uri())


def _memory_url(tmp_path: Path) -> _io.RangeReader:
    import fsspec

    url = f"memory://io-test/{tmp_path.name}/data.bin"
    with fsspec.open(url, "wb") as f:
        f.write(DATA)
    return _io.open_reader(url)


def _obstore(tmp_path: Path) -> _io.RangeReader:
    obstore = pytest.importorskip("obstore")
    from obstore.store import MemoryStore

    store = MemoryStore()
    obstore.put(store, "data.bin", DATA)
    from rumi_xarray.stores import ObstoreReader

    return ObstoreReader(store, "data.bin")


SOURCES: dict[str, Callable[[Path], _io.RangeReader]] = {
    "local": _local,
    "file-url": _file_url,
    "bytes": lambda tmp_path: _io.open_reader(DATA),
    "bytearray": lambda tmp_path: _io.open_reader(bytearray(DATA)),
    "file-object": lambda tmp_path: _io.open_reader(io.BytesIO(DATA)),
    "fsspec": _memory_url,
    "obstore": _obstore,
    "locked": lambda tmp_path: _io.LockedReader(_local(tmp_path), threading.Lock()),
}


@pytest.mark.parametrize("source", SOURCES)
def test_every_reader_reads_the_same_bytes(source: str, tmp_path: Path) -> None:
    reader = SOURCES[source](tmp_path)
    assert reader.size == len(DATA)
    assert bytes(reader.read(300, 17)) == DATA[300:317]
    assert bytes(reader.read(len(DATA) - 5, 5)) == DATA[-5:]
    scratch = np.empty(64, np.uint8)
    assert bytes(reader.read_into(1000, 40, scratch)) == DATA[1000:1040]
    ranges = [(0, 3), (10, 200), (1270, 10)]
    assert [bytes(b) for b in reader.iter_ranges(ranges)] == [DATA[o : o + n] for o, n in ranges]
    assert [bytes(b) for b in reader.iter_ranges([(5, 1)])] == [DATA[5:6]]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    ("offset", "length"), [(1270, 11), (len(DATA), 1), (-1, 2), (0, -1), (2**63, 1)]
)
def test_every_reader_refuses_ranges_outside_the_source(
    source: str, offset: int, length: int, tmp_path: Path
) -> None:
    reader = SOURCES[source](tmp_path)
    message = f"byte range [{offset}, {offset + length}) is outside the 1280-byte source"
    with pytest.raises(RumiFormatError, match=re.escape(message)):
        reader.read(offset, length)
    with pytest.raises(RumiFormatError, match=re.escape(message)):
        list(reader.iter_ranges([(0, 1), (offset, length)]))


@pytest.mark.parametrize("source", ["local", "bytes", "file-object", "fsspec"])
def test_readers_pickle_and_read_the_same(source: str, tmp_path: Path) -> None:
    clone = pickle.loads(pickle.dumps(SOURCES[source](tmp_path)))
    assert clone.size == len(DATA) and bytes(clone.read(700, 9)) == DATA[700:709]


def test_open_reader_picks_the_reader(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(DATA)
    assert isinstance(_io.open_reader(tmp_path / "a.bin"), _io.LocalReader)
    assert isinstance(_io.open_reader(str(tmp_path / "a.bin")), _io.LocalReader)
    assert isinstance(_io.open_reader((tmp_path / "a.bin").as_uri()), _io.LocalReader)
    assert isinstance(_io.open_reader(memoryview(DATA)), _io.BytesReader)
    assert isinstance(_io.open_reader(io.BytesIO(DATA)), _io.FileObjReader)
    assert isinstance(_memory_url(tmp_path), _io.FsspecReader)
    with pytest.raises(TypeError, match="cannot read rumi data from a int"):
        _io.open_reader(3)
    with pytest.raises(FileNotFoundError):
        _io.open_reader(tmp_path / "missing.bin")


def test_a_source_that_shrinks_is_named(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(DATA)
    reader = _io.open_reader(path)
    path.write_bytes(DATA[:100])
    with pytest.raises(
        RumiFormatError, match="read 0 bytes at 200, expected 10; the source changed"
    ):
        reader.read(200, 10)
    with pytest.raises(RumiFormatError, match="read 20 bytes at 80, expected 30"):
        reader.read_into(80, 30, np.empty(30, np.uint8))
    reader.close()


def test_bytes_reader_is_zero_copy() -> None:
    data = bytearray(DATA)
    view = _io.BytesReader(data).read(10, 4)
    data[10] = 99
    assert bytes(view)[0] == 99


# ---------------------------------------------------------------------------------------
# Many files under a descriptor limit

N_FILES = 5000
TEMPLATES = 50


@pytest.fixture(scope="module")
def many_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """5,000 tiny 1-band 8x8 files: 50 written by ``to_rumi``, the rest byte copies."""
    folder = tmp_path_factory.mktemp("many")
    blobs, values = [], []
    for k in range(TEMPLATES):
        pixels = (np.arange(64, dtype=np.uint16).reshape(1, 8, 8) * (k + 1)) % 997
        path = folder / "template.rumi"
        to_rumi(xr.DataArray(pixels, dims=("band", "y", "x")), path, tile=8, time=["2024-01-01"])
        blobs.append(path.read_bytes())
        values.append(pixels)
    path.unlink()
    for i in range(N_FILES):
        (folder / f"f{i:05d}.rumi").write_bytes(blobs[i % TEMPLATES])
    expected = np.stack([values[i % TEMPLATES] for i in range(N_FILES)])
    return folder, expected


_MFDATASET = """
import os, resource, sys
import numpy as np, xarray as xr
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
folder = sys.argv[1]
paths = sorted(os.path.join(folder, p) for p in os.listdir(folder) if p.endswith(".rumi"))

def held():
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith(folder)
        except FileNotFoundError:  # the descriptor listdir used
            pass
    return n

ds = xr.open_mfdataset(paths, engine="rumi", combine="nested", concat_dim="n",
                       data_vars="all", coords="minimal", compat="override", join="override")
values = ds["band_data"].values
assert held() <= 128, held()
ds.close()
assert held() == 0, "close releases every descriptor"
np.save(sys.argv[2], values)
"""


@needs_proc
def test_open_mfdataset_of_5000_files_under_ulimit_1024(
    many_files: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    folder, expected = many_files
    out = tmp_path / "values.npy"
    subprocess.run([sys.executable, "-c", _MFDATASET, str(folder), str(out)], check=True)
    np.testing.assert_array_equal(np.load(out), expected)
