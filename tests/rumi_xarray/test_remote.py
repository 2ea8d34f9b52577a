"""Remote reads (:mod:`rumi_xarray.remote`): faults, retries, timeouts, request counts, concurrency."""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import xarray as xr

from rumi_xarray import remote, stores
from rumi_xarray.backend.array import open_array
from rumi_xarray.backend.stack import open_stack
from rumi_xarray.decode import describe_file, header_blob, read_description, read_window
from rumi_xarray.io import open_reader
from rumi_xarray.testing import serve
from rumi_xarray.virtual.entries import Entry
from rumi_xarray.write.to_rumi import to_rumi

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rumi_xarray.testing import FaultServer

FAST = {"retries": 3, "backoff": 0.001, "max_backoff": 0.01, "timeout": 0.5}
"""Test policy: quick retries, a 0.5 s read timeout."""


@pytest.fixture(autouse=True)
def _fast_policy() -> Iterator[None]:
    previous = remote.set_remote(**FAST)
    yield
    remote.set_remote(**dataclasses.asdict(previous))


CHIP = (slice(None), slice(256, 512), slice(512, 768))


def _chip(source: Any, **kwargs: Any) -> np.ndarray:
    with xr.open_dataset(source, engine="rumi", **kwargs) as ds:
        return ds.band_data[CHIP].values


# ---------------------------------------------------------------------------------------
# The policy


def test_policy_validates_and_set_remote_restores() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        remote.RemotePolicy(concurrency=0)
    with pytest.raises(ValueError, match="timeout"):
        remote.RemotePolicy(timeout=0)
    with pytest.raises(ValueError, match="retries"):
        remote.RemotePolicy(retries=-1)
    with pytest.raises(ValueError, match="multirange"):
        remote.RemotePolicy(multirange=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown remote option"):
        remote.set_remote(retry=3)
    previous = remote.set_remote(concurrency=4)
    assert remote.remote_policy().concurrency == 4 and previous.concurrency != 4
    assert remote.set_remote(previous).concurrency == 4
    assert remote.remote_policy() == previous
    policy = remote.RemotePolicy(backoff=1.0, max_backoff=3.0)
    assert all(0 <= policy.delay(a) <= min(3.0, 2**a) for a in range(6) for _ in range(20))


def test_policy_from_the_environment() -> None:
    code = "from rumi_xarray.remote import remote_policy as p; print(p().retries, p().timeout, p().multirange)"
    env = {
        **os.environ,
        "RUMI_XARRAY_REMOTE_RETRIES": "7",
        "RUMI_XARRAY_REMOTE_TIMEOUT": "2.5",
        "RUMI_XARRAY_REMOTE_MULTIRANGE": "no",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["7", "2.5", "False"]
    env["RUMI_XARRAY_REMOTE_MULTIRANGE"] = "maybe"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "RUMI_XARRAY_REMOTE_MULTIRANGE must be 1/0" in out.stderr


def test_storage_options_override_per_open_and_never_reach_fsspec(remote_srv: FaultServer) -> None:
    reader = open_reader(remote_srv.url("scene.rumi"), {"rumi": {"retries": 0, "concurrency": 3}})
    assert isinstance(reader, stores.HttpReader)
    assert reader.policy.retries == 0 and reader.policy.concurrency == 3
    assert "rumi" not in reader.fs.storage_options
    with pytest.raises(TypeError, match="storage_options"):
        open_reader(remote_srv.url("scene.rumi"), {"rumi": 3})


# ---------------------------------------------------------------------------------------
# Faults: success after a retry with the exact pixels, or one clear error, fast


TRANSIENT = [
    ("status", {"status": 503, "times": 2}),
    ("status", {"status": 429}),
    ("status", {"status": 500}),
    ("status", {"status": 502}),
    ("reset", {}),
    ("truncate", {}),
    ("stall", {"seconds": 5}),
]


@pytest.mark.parametrize("at", ["open", "pixels"])
@pytest.mark.parametrize(("kind", "options"), TRANSIENT, ids=lambda v: str(v))
def test_transient_faults_are_retried(
    remote_srv: FaultServer,
    remote_scene: tuple[bytes, np.ndarray, bytes],
    kind: str,
    options: dict[str, Any],
    at: str,
    no_frame_cache: None,
) -> None:
    with xr.open_dataset(remote_srv.url("scene.rumi"), engine="rumi") as ds:
        if at == "open":
            remote_srv.faults.clear()
        else:
            remote_srv.faults.add(kind, **options)
        start = time.perf_counter()
        chip = ds.band_data[CHIP].values
    if at == "open":
        remote_srv.reset()
        remote_srv.faults.add(kind, **options)
        start = time.perf_counter()
        chip = _chip(remote_srv.url("scene.rumi"))
    assert np.array_equal(chip, remote_scene[1][CHIP])
    assert time.perf_counter() - start < 3
    assert any(r.fault == kind for r in remote_srv.log)


def test_a_body_without_content_length_reads(
    remote_srv: FaultServer, remote_scene: tuple[bytes, np.ndarray, bytes]
) -> None:
    remote_srv.faults.add("no_length", times=None)
    assert np.array_equal(_chip(remote_srv.url("scene.rumi")), remote_scene[1][CHIP])


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (403, PermissionError, "HTTP 403"),
        (401, PermissionError, "HTTP 401"),
        (404, FileNotFoundError, "HTTP 404"),
        (410, FileNotFoundError, "HTTP 410"),
    ],
)
def test_permanent_statuses_fail_at_once(
    remote_srv: FaultServer, status: int, error: type[Exception], words: str
) -> None:
    remote_srv.faults.add("status", status=status, times=None)
    start = time.perf_counter()
    with pytest.raises(error, match=words) as info:
        _chip(remote_srv.url("scene.rumi"))
    assert remote_srv.url("scene.rumi") in str(info.value)
    assert remote_srv.count() == 1 and time.perf_counter() - start < 1


def test_a_missing_file_fails_at_once(remote_srv: FaultServer) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.rumi"):
        _chip(remote_srv.url("missing.rumi"))
    assert remote_srv.count() == 1


def test_a_server_ignoring_range_is_named(remote_srv: FaultServer) -> None:
    remote_srv.faults.add("ignore_range", times=None)
    with pytest.raises(OSError, match="ignores Range requests") as info:
        _chip(remote_srv.url("scene.rumi"))
    assert remote_srv.url("scene.rumi") in str(info.value)
    assert remote_srv.count() == 3  # the multi-range GET refused, then the start and the end


def test_persistent_5xx_gives_up_after_the_retries(remote_srv: FaultServer) -> None:
    remote_srv.faults.add("status", status=503, times=None)
    with pytest.raises(OSError, match=r"failed after 4 attempt\(s\): .*HTTP 503") as info:
        _chip(remote_srv.url("scene.rumi"))
    assert remote_srv.url("scene.rumi") in str(info.value) and remote_srv.count() == 4


def test_a_stalled_server_times_out(remote_srv: FaultServer) -> None:
    remote_srv.faults.add("stall", times=None, seconds=30)
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match="timed out"):
        _chip(remote_srv.url("scene.rumi"), storage_options={"rumi": {"retries": 1}})
    assert remote_srv.count() == 2 and time.perf_counter() - start < 3


def test_a_truncated_pixel_read_never_gives_wrong_data(
    remote_srv: FaultServer,
    remote_scene: tuple[bytes, np.ndarray, bytes],
    no_frame_cache: None,
) -> None:
    with xr.open_dataset(
        remote_srv.url("scene.rumi"), engine="rumi", storage_options={"rumi": {"retries": 0}}
    ) as ds:
        remote_srv.faults.add("truncate")
        with pytest.raises(OSError, match=r"truncated body|ClientPayloadError"):
            ds.band_data[CHIP].load()
        assert np.array_equal(ds.band_data[CHIP].values, remote_scene[1][CHIP])


# ---------------------------------------------------------------------------------------
# Round trips


def test_request_counts(
    remote_srv: FaultServer, remote_scene: tuple[bytes, np.ndarray, bytes], no_frame_cache: None
) -> None:
    data, pixels, blob = remote_scene
    url = remote_srv.url("scene.rumi")
    with xr.open_dataset(url, engine="rumi") as ds:
        assert remote_srv.count() == 1  # header + IFD and the last 8 KiB (the trailer): one GET
        assert remote_srv.log[0].range == "bytes=0-65535,-8192"
        assert np.array_equal(ds.band_data[CHIP].values, pixels[CHIP])
    assert remote_srv.count() == 2 and remote_srv.count("HEAD") == 0
    remote_srv.reset()
    with xr.open_dataset(url, engine="rumi", header=blob) as ds:
        # the start and the trailer in one multi-range GET
        assert remote_srv.count() == 1
        assert remote_srv.log[0].range.startswith("bytes=0-65535,")
        ds.band_data[CHIP].load()
    assert remote_srv.count() == 2
    remote_srv.reset()
    desc, nbytes = describe_file(data)
    row = Entry(url, desc, nbytes)
    with xr.open_dataset(row, engine="rumi") as ds:
        assert remote_srv.count() == 0
        assert np.array_equal(ds.band_data[CHIP].values, pixels[CHIP])
    assert remote_srv.count() == 1
    remote_srv.reset()
    with open_array(row) as array, open_array(url, header=blob) as with_blob:
        assert remote_srv.count() == 1  # the row: none; the blob: the start and the trailer
        assert np.array_equal(array[CHIP], pixels[CHIP])
        assert np.array_equal(with_blob[CHIP], pixels[CHIP])
    remote_srv.reset()
    stack = open_stack([row, row])
    assert remote_srv.count() == 0
    assert np.array_equal(stack.band_data[1][CHIP].values, pixels[CHIP])
    stack.close()


def test_a_small_file_opens_in_one_get(remote_srv: FaultServer) -> None:
    da = xr.DataArray(
        np.arange(64 * 64, dtype=np.uint8).reshape(1, 64, 64), dims=("band", "y", "x")
    )
    blob = to_rumi(da, memory := "memory://remote-test/small.rumi", tile=64, time=["2024-01-01"])
    import fsspec

    remote_srv.put("small.rumi", fsspec.filesystem("memory").cat_file(memory))
    for header in (None, blob):
        remote_srv.reset()
        with xr.open_dataset(remote_srv.url("small.rumi"), engine="rumi", header=header) as ds:
            assert remote_srv.count() == 1
            assert np.array_equal(ds.band_data.values, da.values)
        assert remote_srv.count() == 1  # the pixels too: the whole file came with the first GET


def test_identity_follows_the_etag_and_pickles(
    remote_srv: FaultServer, remote_scene: tuple[bytes, np.ndarray, bytes]
) -> None:
    reader = open_reader(remote_srv.url("scene.rumi"))
    clone = pickle.loads(pickle.dumps(reader))
    count = remote_srv.count()
    assert clone.identity == reader.identity and clone.size == reader.size
    assert bytes(clone.read(100, 50)) == remote_scene[0][100:150]
    assert remote_srv.count() == count + 1
    remote_srv.put("scene.rumi", remote_scene[0][:-1] + bytes([remote_scene[0][-1] ^ 1]))
    assert open_reader(remote_srv.url("scene.rumi")).identity != reader.identity
    sized = open_reader(remote_srv.url("scene.rumi"), size=123, version="v1")
    assert sized.size == 123 and sized.identity == ("http", remote_srv.url("scene.rumi"), 123, "v1")


# ---------------------------------------------------------------------------------------
# Concurrency: I/O apart from decoding


@pytest.fixture(scope="module")
def many_frames(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, np.ndarray]:
    """128 bands of 64² uint16 noise, one frame each."""
    pixels = np.random.default_rng(3).integers(0, 65535, (128, 64, 64), dtype=np.uint16)
    path = tmp_path_factory.mktemp("frames") / "frames.rumi"
    to_rumi(xr.DataArray(pixels, dims=("band", "y", "x")), path, tile=64, time=["2024-01-01"])
    return path.read_bytes(), pixels


def test_scattered_frames_are_fetched_concurrently(
    many_frames: tuple[bytes, np.ndarray], no_frame_cache: None
) -> None:
    data, pixels = many_frames
    with serve({"f.rumi": data}) as remote_srv:
        # sized, as from a catalog row: no bytes of an open held, so every frame is asked
        reader = open_reader(remote_srv.url("f.rumi"), size=len(data), version="test")
        desc = describe_file(data)[0]
        reader.max_gap = 0  # every other frame: 64 runs, none coalesced
        remote_srv.reset()
        remote_srv.latency = 0.1
        bands = np.arange(0, 128, 2)
        start = time.perf_counter()
        out = read_window(desc, reader, (0, bands, slice(None), slice(None)))
        elapsed = time.perf_counter() - start
        assert np.array_equal(out, pixels[bands])
        assert remote_srv.count() == 64
    assert elapsed < 1.2  # 64 requests of 100 ms each: serially 6.4 s, on 2 threads 3.2 s


def test_adjacent_frames_stay_one_request(
    many_frames: tuple[bytes, np.ndarray], no_frame_cache: None
) -> None:
    data, pixels = many_frames
    with serve({"f.rumi": data}) as remote_srv:
        row = Entry(remote_srv.url("f.rumi"), describe_file(data)[0], len(data))
        with xr.open_dataset(row, engine="rumi") as ds:
            assert np.array_equal(ds.band_data[::2].values, pixels[::2])
        assert remote_srv.count() == 1


# ---------------------------------------------------------------------------------------
# obstore and S3 (moto)


def test_obstore_reader_learns_the_size_from_its_first_get(
    remote_scene: tuple[bytes, np.ndarray, bytes],
) -> None:
    obstore = pytest.importorskip("obstore")
    from obstore.store import MemoryStore

    store = MemoryStore()
    obstore.put(store, "scene.rumi", remote_scene[0])
    reader = stores.ObstoreReader(store, "scene.rumi")
    assert reader.size == len(remote_scene[0]) and reader.identity is not None
    desc = read_description(reader)
    assert np.array_equal(read_window(desc, reader, (0, *CHIP)), remote_scene[1][CHIP])
    with pytest.raises(FileNotFoundError):
        stores.ObstoreReader(store, "missing.rumi")


@pytest.fixture(scope="module")
def s3(
    remote_scene: tuple[bytes, np.ndarray, bytes], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    pytest.importorskip("moto")
    sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
    from _s3 import LocalS3

    server = LocalS3()
    path = tmp_path_factory.mktemp("s3") / "scene.rumi"
    path.write_bytes(remote_scene[0])
    server.reset({"scene.rumi": path})
    yield {"key": "testing", "secret": "testing", "endpoint_url": server.endpoint}
    server.stop()


def test_s3_reads_retries_and_errors(
    s3: dict[str, str],
    remote_scene: tuple[bytes, np.ndarray, bytes],
    monkeypatch: pytest.MonkeyPatch,
    no_frame_cache: None,
) -> None:
    options = {**s3, "skip_instance_cache": True}
    reader = open_reader("s3://bucket/scene.rumi", options)
    assert isinstance(reader, stores.S3Reader) and reader.size == len(remote_scene[0])
    assert reader.identity[3][0] is not None  # the ETag, from the first GET
    calls: list[str] = []
    real = reader.fs._call_s3

    async def flaky(method: str, **kwargs: Any) -> Any:
        calls.append(method)
        if len(calls) <= 2:
            raise OSError("SlowDown")
        return await real(method, **kwargs)

    monkeypatch.setattr(reader.fs, "_call_s3", flaky)
    desc = read_description(reader, header_blob(remote_scene[0]))
    assert np.array_equal(read_window(desc, reader, (0, *CHIP)), remote_scene[1][CHIP])
    assert calls[:3] == ["get_object"] * 3
    monkeypatch.undo()
    calls.clear()
    cls = type(reader.fs)
    unpatched = cls._call_s3

    ranges: list[str] = []

    async def counted(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        ranges.append(kwargs.get("Range", ""))
        return await unpatched(self, method, *args, **kwargs)

    monkeypatch.setattr(cls, "_call_s3", counted)
    with xr.open_dataset("s3://bucket/scene.rumi", engine="rumi", storage_options=options) as ds:
        assert calls == ["get_object"] * 2  # no HEAD: the start and the end, at once
        assert sorted(ranges) == ["bytes=-8192", "bytes=0-65535"]
        assert np.array_equal(ds.band_data[CHIP].values, remote_scene[1][CHIP])
    assert calls == ["get_object"] * 3
    with pytest.raises(FileNotFoundError, match=r"missing\.rumi"):
        open_reader("s3://bucket/missing.rumi", options)
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError):
        xr.open_dataset("s3://bucket/nope.rumi", engine="rumi", storage_options=options)
    assert time.perf_counter() - start < 2


def _read_in_child(reader: Any, queue: Any) -> None:
    queue.put(bytes(reader.read(70000, 10)))


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_reads_through_its_own_session(
    remote_scene: tuple[bytes, np.ndarray, bytes],
) -> None:
    import multiprocessing

    with serve({"scene.rumi": remote_scene[0]}) as remote_srv:
        reader = open_reader(remote_srv.url("scene.rumi"))
        assert bytes(reader.read(70000, 10)) == remote_scene[0][70000:70010]
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=_read_in_child, args=(reader, queue))
        child.start()
        try:
            assert queue.get(timeout=20) == remote_scene[0][70000:70010]
        finally:
            child.join(20)
        assert child.exitcode == 0
