"""The HTTP reader's multi-range first GET (:mod:`rumi_xarray.stores`): one request to open
with a header blob, and the fallback for servers that answer several ranges otherwise."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import xarray as xr

from rumi_xarray import remote, stores
from rumi_xarray.format import SUFFIX_NBYTES
from rumi_xarray.testing import serve
from rumi_xarray.write.to_rumi import to_rumi

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from rumi_xarray.testing import FaultServer

CHIP = (slice(None), slice(256, 512), slice(512, 768))


@pytest.fixture(autouse=True)
def _fast_policy() -> Iterator[None]:
    previous = remote.set_remote(retries=3, backoff=0.001, max_backoff=0.01, timeout=0.5)
    stores._SINGLE_RANGE_HOSTS.clear()
    yield
    stores._SINGLE_RANGE_HOSTS.clear()
    remote.set_remote(**dataclasses.asdict(previous))


def _open_and_chip(remote_srv: FaultServer, blob: bytes, **kwargs: Any) -> tuple[int, xr.Dataset]:
    """Requests sent to open with ``blob``, and the opened dataset (chip loaded)."""
    with xr.open_dataset(remote_srv.url("scene.rumi"), engine="rumi", header=blob, **kwargs) as ds:
        opened = remote_srv.count()
        return opened, ds.load()


def _expected(remote_scene: tuple[bytes, np.ndarray, bytes]) -> xr.Dataset:
    with xr.open_dataset(_local(remote_scene), engine="rumi") as ds:
        return ds.load()


def _local(remote_scene: tuple[bytes, np.ndarray, bytes]) -> str:
    import fsspec

    fsspec.filesystem("memory").pipe_file("/stores-test/scene.rumi", remote_scene[0])
    return "memory://stores-test/scene.rumi"


def test_a_blob_opens_in_one_multirange_get(
    remote_srv: FaultServer, remote_scene: tuple[bytes, np.ndarray, bytes]
) -> None:
    opened, ds = _open_and_chip(remote_srv, remote_scene[2])
    assert opened == 1
    first = remote_srv.log[0].range
    assert first is not None and first.startswith("bytes=0-65535,") and first.count(",") == 1
    assert remote_srv.count() == 2  # the open, then the pixels of every frame in one run
    assert ds.identical(_expected(remote_scene))  # coordinates, band names, time, CRS and pixels
    assert np.array_equal(ds.band_data.values, remote_scene[1])


def test_a_chip_with_a_blob_costs_two_requests(
    remote_srv: FaultServer,
    remote_scene: tuple[bytes, np.ndarray, bytes],
    no_frame_cache: None,
) -> None:

    with xr.open_dataset(remote_srv.url("scene.rumi"), engine="rumi", header=remote_scene[2]) as ds:
        assert np.array_equal(ds.band_data[CHIP].values, remote_scene[1][CHIP])
    assert remote_srv.count() == 2 and remote_srv.count("HEAD") == 0


def test_a_server_without_multirange_is_asked_one_range_a_request(
    remote_srv: FaultServer, remote_scene: tuple[bytes, np.ndarray, bytes]
) -> None:
    remote_srv.faults.add("no_multirange", times=None)  # 200 and the whole body, as S3 answers
    opened, ds = _open_and_chip(remote_srv, remote_scene[2])
    assert opened == 3  # the refused multi-range GET, then the start and the trailer
    assert ds.identical(_expected(remote_scene))
    remote_srv.reset()
    remote_srv.faults.add("no_multirange", times=None)
    opened, _ = _open_and_chip(remote_srv, remote_scene[2])
    assert opened == 2  # the host is remembered: no multi-range GET again
    assert all("," not in (r.range or "") for r in remote_srv.log)


def test_a_server_answering_the_first_range_only_is_read_from_it(
    remote_srv: FaultServer, remote_scene: tuple[bytes, np.ndarray, bytes]
) -> None:
    remote_srv.faults.add("first_range", times=None)  # a 206 of the file's start alone
    opened, ds = _open_and_chip(remote_srv, remote_scene[2])
    assert opened == 2  # the start from the multi-range GET, then the trailer on its own
    assert ds.identical(_expected(remote_scene))
    assert remote_srv.log[0].range is not None and "," in remote_srv.log[0].range
    assert remote_srv.log[1].range is not None and "," not in remote_srv.log[1].range


def test_a_small_file_whose_ranges_a_server_merges_opens_in_one_get(tmp_path: Path) -> None:
    """70 KB: the start and the last 8 KiB overlap, and the server answers one merged range."""
    pixels = np.random.default_rng(9).integers(0, 60000, (1, 200, 180), dtype=np.uint16)
    to_rumi(xr.DataArray(pixels, dims=("band", "y", "x")), tmp_path / "s.rumi", tile=64,
            compression={"graph": "store"}, time=["2024-01-01"])  # fmt: skip
    data = (tmp_path / "s.rumi").read_bytes()
    assert SUFFIX_NBYTES < len(data) - (1 << 16) + SUFFIX_NBYTES < len(data)
    with serve({"s.rumi": data}) as remote_srv:
        remote_srv.faults.add("merge_ranges", times=None)
        with xr.open_dataset(remote_srv.url("s.rumi"), engine="rumi") as ds:
            assert remote_srv.count() == 1
            np.testing.assert_array_equal(ds.band_data.values, pixels)
        assert remote_srv.count() == 1  # the merged part holds every frame


@pytest.mark.parametrize(
    ("kind", "options"),
    [("status", {"status": 503}), ("reset", {}), ("truncate", {}), ("stall", {"seconds": 5})],
    ids=["503", "reset", "truncate", "stall"],
)
def test_a_transient_fault_of_the_multirange_get_is_retried_and_forgotten(
    remote_srv: FaultServer,
    remote_scene: tuple[bytes, np.ndarray, bytes],
    kind: str,
    options: dict[str, Any],
) -> None:
    remote_srv.faults.add(kind, **options)
    _, ds = _open_and_chip(remote_srv, remote_scene[2])
    assert np.array_equal(ds.band_data.values, remote_scene[1])
    assert remote_srv.log[0].fault == kind
    remote_srv.reset()
    assert (
        _open_and_chip(remote_srv, remote_scene[2])[0] == 1
    )  # a transient fault does not mark the host


@pytest.mark.parametrize(("status", "error"), [(404, FileNotFoundError), (403, PermissionError)])
def test_a_permanent_status_of_the_multirange_get_fails_at_once(
    remote_srv: FaultServer, remote_scene: tuple[bytes, np.ndarray, bytes], status: int, error: type
) -> None:
    remote_srv.faults.add("status", status=status, times=None)
    with pytest.raises(error, match=r"scene\.rumi"):
        _open_and_chip(remote_srv, remote_scene[2])
    assert remote_srv.count() == 1


def test_multirange_can_be_turned_off(
    remote_srv: FaultServer, remote_scene: tuple[bytes, np.ndarray, bytes]
) -> None:
    opened, ds = _open_and_chip(
        remote_srv, remote_scene[2], storage_options={"rumi": {"multirange": False}}
    )
    assert opened == 2 and all("," not in (r.range or "") for r in remote_srv.log)
    assert np.array_equal(ds.band_data.values, remote_scene[1])


def test_a_server_ignoring_every_range_is_still_named(
    remote_srv: FaultServer, remote_scene: tuple[bytes, np.ndarray, bytes]
) -> None:
    remote_srv.faults.add("ignore_range", times=None)
    with pytest.raises(OSError, match="ignores Range"):
        _open_and_chip(remote_srv, remote_scene[2])


# ---------------------------------------------------------------------------------------
# The multipart parser: hostile bodies are refused (then asked again range by range)


def _multipart(parts: list[tuple[str, bytes]], boundary: str = "xyz") -> bytes:
    out = b"preamble\r\n"
    for content_range, data in parts:
        out += f"--{boundary}\r\nContent-Range: {content_range}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_byteranges_reads_parts_by_their_content_range() -> None:
    payload = b"--xyz\r\n\r\n--xyz"  # the boundary inside a part's bytes is not searched
    body = _multipart([("bytes 0-13/100", payload), ("bytes 90-99/100", b"0123456789")])
    assert stores._byteranges(body, b"xyz") == ([(0, payload), (90, b"0123456789")], 100)
    assert stores._boundary(' charset=x; boundary="xyz"') == b"xyz"


@pytest.mark.parametrize(
    "body",
    [
        _multipart([("bytes 0-99/100", b"short")]),  # a part longer than the body
        _multipart([("bytes 9-0/100", b"")]),  # last before first
        _multipart([("bytes 0-1/100", b"ab"), ("bytes 5-6/200", b"cd")]),  # two objects
        _multipart([]),  # no part
        b"--xyz\r\nContent-Range: bytes 0-1/2",  # headers never end
        _multipart([("items 0-1/2", b"ab")]),  # not bytes
    ],
    ids=["overrun", "reversed", "two-sizes", "empty", "unterminated", "unit"],
)
def test_byteranges_refuses_a_malformed_body(body: bytes) -> None:
    with pytest.raises(stores._NoMultirange):
        stores._byteranges(body, b"xyz")
    with pytest.raises(stores._NoMultirange):
        stores._boundary(" charset=x")


def test_content_range() -> None:
    assert stores._content_range("bytes 5-9/100") == (5, 9, 100)
    assert stores._content_range("bytes 5-9/*") == (5, 9, None)
    assert stores._content_range("bytes */100") is None
    assert stores._content_range(None) is None


# ---------------------------------------------------------------------------------------
# Other async fsspec filesystems (gcsfs, adlfs, ...): a fake one, counted and faulty


@dataclasses.dataclass
class _Fake:
    """What the fake async filesystem (standing in for gcsfs) serves, counts and fails."""

    files: dict[str, bytes] = dataclasses.field(default_factory=dict)
    calls: list[str] = dataclasses.field(default_factory=list)
    faults: list[BaseException | float] = dataclasses.field(default_factory=list)
    """Raised (or, for a float, slept) by the next calls, first first."""


_FAKE = _Fake()


def _fake_fs_class() -> type:
    from fsspec.asyn import AsyncFileSystem

    class FakeAsyncFileSystem(AsyncFileSystem):  # type: ignore[misc]
        protocol = "fakeasync"
        cachable = False

        async def _fault(self, what: str) -> None:
            _FAKE.calls.append(what)
            if _FAKE.faults:
                fault = _FAKE.faults.pop(0)
                if isinstance(fault, float):
                    await asyncio.sleep(fault)
                else:
                    raise fault

        async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
            await self._fault("info")
            if path not in _FAKE.files:
                raise FileNotFoundError(path)
            data = _FAKE.files[path]
            return {"name": path, "size": len(data), "type": "file", "generation": "g7"}

        async def _cat_file(
            self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
        ) -> bytes:
            await self._fault("cat")
            if path not in _FAKE.files:
                raise FileNotFoundError(path)
            return _FAKE.files[path][start:end]

    return FakeAsyncFileSystem


@pytest.fixture
def fake_async(remote_scene: tuple[bytes, np.ndarray, bytes]) -> Iterator[_Fake]:
    import fsspec

    fsspec.register_implementation("fakeasync", _fake_fs_class(), clobber=True)
    _FAKE.files = {"bucket/scene.rumi": remote_scene[0]}
    _FAKE.calls, _FAKE.faults = [], []
    yield _FAKE


def test_an_async_filesystem_opens_in_one_round_trip(
    fake_async: _Fake, remote_scene: tuple[bytes, np.ndarray, bytes]
) -> None:
    from rumi_xarray.io import open_reader

    reader = open_reader("fakeasync://bucket/scene.rumi", tail=None)
    assert isinstance(reader, stores.AsyncFsspecReader)
    assert reader.size == len(remote_scene[0]) and reader.identity[3] == (None, "g7")
    assert sorted(fake_async.calls) == ["cat", "cat", "info"]  # start, end and info at once
    fake_async.calls.clear()
    with xr.open_dataset(
        "fakeasync://bucket/scene.rumi", engine="rumi", header=remote_scene[2]
    ) as ds:
        assert sorted(fake_async.calls) == ["cat", "cat", "info"]  # the start, the trailer
        assert ds.identical(_expected(remote_scene))


@pytest.mark.parametrize(
    "faults",
    [[OSError("503 Service Unavailable")] * 2, [ConnectionResetError("reset")], [5.0]],
    ids=["5xx", "reset", "stall"],
)
def test_an_async_filesystem_retries_transient_failures(
    fake_async: _Fake,
    remote_scene: tuple[bytes, np.ndarray, bytes],
    faults: list[BaseException | float],
) -> None:
    fake_async.faults = list(faults)
    with xr.open_dataset("fakeasync://bucket/scene.rumi", engine="rumi") as ds:
        np.testing.assert_array_equal(ds.band_data.values, remote_scene[1])
    fake_async.faults = list(faults)
    with xr.open_dataset(
        "fakeasync://bucket/scene.rumi", engine="rumi", header=remote_scene[2], chunks=None
    ) as ds:
        np.testing.assert_array_equal(ds.band_data[CHIP].values, remote_scene[1][CHIP])


def test_an_async_filesystem_fails_at_once_when_not_found_or_denied(
    fake_async: _Fake,
) -> None:
    with pytest.raises(FileNotFoundError, match=r"fakeasync://bucket/gone\.rumi"):
        xr.open_dataset("fakeasync://bucket/gone.rumi", engine="rumi")
    assert len(fake_async.calls) <= 3  # no retry: info, the start and the end, once
    fake_async.calls.clear()
    fake_async.faults = [PermissionError("403 Forbidden")] * 3  # info, the start, the end
    with pytest.raises(PermissionError, match="403"):
        xr.open_dataset("fakeasync://bucket/scene.rumi", engine="rumi")
    assert len(fake_async.calls) <= 3
    fake_async.faults = [OSError("503")] * 100  # more than every retry of the open
    with pytest.raises(OSError, match=r"failed after 4 attempt\(s\)"):
        xr.open_dataset("fakeasync://bucket/scene.rumi", engine="rumi")


def test_without_a_blob_the_last_bytes_come_with_the_start(
    tmp_path: Path, remote_scene: tuple[bytes, np.ndarray, bytes]
) -> None:
    """No blob: ``bytes=0-65535,-8192`` opens in one request when the trailer fits the last
    8 KiB; a longer trailer (long band texts) is read on its own, and reads back the same."""
    long_names = ["r" * 6000, "n" * 6000]  # a trailer of ~12 KB
    path = tmp_path / "long.rumi"
    to_rumi(
        xr.DataArray(remote_scene[1], dims=("band", "y", "x")),
        path,
        tile=256,
        time=["2024-01-01"],
        bands=long_names,
    )
    with serve({"scene.rumi": remote_scene[0], "long.rumi": path.read_bytes()}) as remote_srv:
        for name, requests in (("scene.rumi", 1), ("long.rumi", 2)):
            remote_srv.reset()
            with xr.open_dataset(remote_srv.url(name), engine="rumi") as ds:
                assert remote_srv.count() == requests
                assert remote_srv.log[0].range == f"bytes=0-65535,-{SUFFIX_NBYTES}"
                with xr.open_dataset(
                    path if name == "long.rumi" else _local(remote_scene), engine="rumi"
                ) as local:
                    assert ds.load().identical(local.load())
        assert list(ds.band.values) == long_names


def test_an_empty_object_does_not_mark_its_host(
    remote_srv: FaultServer, remote_scene: tuple[bytes, np.ndarray, bytes]
) -> None:
    remote_srv.put("empty.rumi", b"")
    with pytest.raises(OSError, match=r"empty\.rumi: HTTP 416"):
        xr.open_dataset(remote_srv.url("empty.rumi"), engine="rumi")
    remote_srv.reset()
    with xr.open_dataset(remote_srv.url("scene.rumi"), engine="rumi") as ds:
        assert remote_srv.count() == 1  # still asked for several ranges at once
        np.testing.assert_array_equal(ds.band_data[CHIP].values, remote_scene[1][CHIP])


def test_one_range_a_request_still_asks_the_end_with_the_start(
    remote_srv: FaultServer, remote_scene: tuple[bytes, np.ndarray, bytes]
) -> None:
    """``multirange=False``, no blob: the start and the last 8 KiB as two requests sent at
    once (one round trip), the trailer then read from those."""
    with xr.open_dataset(
        remote_srv.url("scene.rumi"),
        engine="rumi",
        storage_options={"rumi": {"multirange": False}},
    ) as ds:
        assert sorted(r.range or "" for r in remote_srv.log) == ["bytes=-8192", "bytes=0-65535"]
        assert ds.load().identical(_expected(remote_scene))
