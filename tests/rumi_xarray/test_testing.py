"""The fault-injecting HTTP server of :mod:`rumi_xarray.testing`."""

from __future__ import annotations

import http.client
import time
from typing import TYPE_CHECKING

import pytest

from rumi_xarray.testing import serve

if TYPE_CHECKING:
    from pathlib import Path

    from rumi_xarray.testing import FaultServer

DATA = bytes(range(256)) * 40


def _get(
    srv: FaultServer, name: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.request(method, "/" + name, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def test_ranges_etag_and_counts() -> None:
    with serve({"a.bin": DATA}) as srv:
        status, headers, body = _get(srv, "a.bin", {"Range": "bytes=10-19"})
        assert status == 206 and body == DATA[10:20]
        assert headers["Content-Range"] == f"bytes 10-19/{len(DATA)}"
        assert headers["ETag"].startswith('"') and "Last-Modified" in headers
        assert _get(srv, "a.bin", {"Range": "bytes=-5"})[2] == DATA[-5:]
        assert _get(srv, "a.bin", {"Range": f"bytes={len(DATA) - 3}-"})[2] == DATA[-3:]
        assert _get(srv, "a.bin", {"Range": "bytes=0-99999"})[2] == DATA
        assert _get(srv, "a.bin", {"Range": f"bytes={len(DATA)}-"})[0] == 416
        assert _get(srv, "a.bin")[:3:2] == (200, DATA)
        assert _get(srv, "a.bin", method="HEAD")[1]["Content-Length"] == str(len(DATA))
        assert _get(srv, "missing")[0] == 404
        assert srv.count("GET", "a.bin") == 6 and srv.count("HEAD") == 1
        assert srv.requests[("GET", "missing")] == 1
        srv.reset()
        assert srv.count() == 0


def test_several_ranges_answer_multipart_byteranges() -> None:
    from rumi_xarray.stores import _boundary, _byteranges

    with serve({"a.bin": DATA}) as srv:
        ranges = f"bytes=0-9,100-104,{len(DATA) + 5}-{len(DATA) + 9}"  # the last: past the end
        status, headers, body = _get(srv, "a.bin", {"Range": ranges})
        kind, _, params = headers["Content-Type"].partition(";")
        assert status == 206 and kind == "multipart/byteranges"
        assert _byteranges(body, _boundary(params)) == (
            [(0, DATA[:10]), (100, DATA[100:105])],
            len(DATA),
        )
        assert headers["Content-Length"] == str(len(body))
        one = _get(srv, "a.bin", {"Range": f"bytes=5-6,{len(DATA)}-"})  # one satisfiable: one part
        assert (
            one[0] == 206
            and one[2] == DATA[5:7]
            and one[1]["Content-Range"].startswith("bytes 5-6/")
        )
        srv.faults.add("no_multirange", times=None)
        assert _get(srv, "a.bin", {"Range": "bytes=0-9,100-104"})[:3:2] == (200, DATA)
        assert _get(srv, "a.bin", {"Range": "bytes=0-9"})[:3:2] == (206, DATA[:10])


def test_a_directory_and_put(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(b"hello")
    with serve(tmp_path) as srv:
        assert _get(srv, "sub/b.bin")[2] == b"hello"
        srv.put("c.bin", b"xyz")
        assert _get(srv, "c.bin")[2] == b"xyz"
        assert srv.url("c.bin") == f"http://127.0.0.1:{srv.port}/c.bin"


def test_status_faults_count_down_per_path() -> None:
    with serve({"a.bin": DATA, "b.bin": DATA}) as srv:
        srv.faults.add("status", status=503, times=2, path="a.bin")
        assert _get(srv, "b.bin")[0] == 200
        assert [_get(srv, "a.bin")[0] for _ in range(3)] == [503, 503, 200]
        srv.faults.add("status", status=403, times=None)
        assert [_get(srv, "b.bin")[0] for _ in range(3)] == [403] * 3
        assert [r.fault for r in srv.log][-3:] == ["status"] * 3


def test_body_faults() -> None:
    with serve({"a.bin": DATA}) as srv:
        srv.faults.add("ignore_range")
        status, _, body = _get(srv, "a.bin", {"Range": "bytes=0-9"})
        assert status == 200 and body == DATA
        srv.faults.add("no_length")
        status, headers, body = _get(srv, "a.bin", {"Range": "bytes=0-9"})
        assert "Content-Length" not in headers and body == DATA[:10]
        srv.faults.add("truncate")
        with pytest.raises(http.client.IncompleteRead):
            _get(srv, "a.bin", {"Range": "bytes=0-999"})
        srv.faults.add("reset")
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
            _get(srv, "a.bin")


def test_stall_and_latency_end_with_the_server() -> None:
    with serve({"a.bin": DATA}, latency=0.05) as srv:
        start = time.perf_counter()
        assert _get(srv, "a.bin", {"Range": "bytes=0-9"})[2] == DATA[:10]
        assert time.perf_counter() - start >= 0.05
        srv.latency = 0
        srv.faults.add("stall", seconds=0.3)
        start = time.perf_counter()
        with pytest.raises(http.client.IncompleteRead):
            _get(srv, "a.bin", {"Range": "bytes=0-999"})
        assert 0.3 <= time.perf_counter() - start < 3
    with serve({"a.bin": DATA}) as srv:
        srv.faults.add("stall", seconds=60)
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        conn.request("GET", "/a.bin")
        conn.getresponse()  # headers arrive, the body stalls; closing must not wait 60 s
        start = time.perf_counter()
    assert time.perf_counter() - start < 3
    conn.close()


def test_unknown_faults_are_refused() -> None:
    with serve({}) as srv:
        with pytest.raises(ValueError, match="unknown fault 'bogus'"):
            srv.faults.add("bogus")
        with pytest.raises(ValueError, match="times"):
            srv.faults.add("reset", times=-1)
