"""File handles: the LRU descriptor cache, pinning under threads, reopening, locks, many files."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from rumi_xarray import io as _io
from rumi_xarray import to_rumi

FD_DIR = Path("/proc/self/fd")
pytestmark = pytest.mark.skipif(not FD_DIR.is_dir(), reason="needs /proc/self/fd")


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


def test_open_mfdataset_of_5000_files_under_ulimit_1024(
    many_files: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    folder, expected = many_files
    out = tmp_path / "values.npy"
    subprocess.run([sys.executable, "-c", _MFDATASET, str(folder), str(out)], check=True)
    np.testing.assert_array_equal(np.load(out), expected)
