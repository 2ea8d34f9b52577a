"""A local HTTP server that injects faults, for testing and benchmarking remote reads.

:func:`serve` starts a :class:`FaultServer` on a free port of 127.0.0.1 (standard library
only: :class:`http.server.ThreadingHTTPServer`). It serves files with ``Range`` support
(``206`` and ``Content-Range``, ``multipart/byteranges`` for several ranges, ``ETag``,
``Last-Modified``), counts the requests it receives, and fails on demand::

    with serve({"scene.rumi": data}, latency=0.03) as srv:
        srv.faults.add("status", status=503, times=2)  # two 503s, then OK
        ds = xr.open_dataset(srv.url("scene.rumi"), engine="rumi")
        srv.count("GET")

Fault kinds (:data:`FAULT_KINDS`): ``"status"`` (answer ``status`` instead: 503, 429,
500, 403, 404, ...), ``"reset"`` (close the connection with a TCP reset before
answering), ``"stall"`` (send the headers and half the body, then wait ``seconds``),
``"truncate"`` (declare the whole length, send half, close), ``"ignore_range"`` (``200``
and the whole body whatever the ``Range``), ``"no_multirange"`` (``200`` and the whole
body for several ranges, as S3 and GCS answer), ``"first_range"`` (a ``206`` of the first
of several ranges only, as some servers answer), ``"merge_ranges"`` (one ``206`` from the
first range's start to the last one's end, as servers may answer overlapping ranges),
``"no_length"`` (no ``Content-Length``, the
body ends when the connection closes). Each fault applies to ``times`` requests (None:
all) of ``path`` (None: any) whose method is in ``methods``.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import os
import re
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ["FAULT_KINDS", "Fault", "FaultServer", "Faults", "Request", "serve"]

FAULT_KINDS = frozenset(
    {
        "status",
        "reset",
        "stall",
        "truncate",
        "ignore_range",
        "no_multirange",
        "first_range",
        "merge_ranges",
        "no_length",
    }
)
"""The kinds of :meth:`Faults.add`."""

_RANGE = re.compile(r"(\d*)-(\d*)$")
_BOUNDARY = "rumi-fault-server-3d5f"


@dataclass(slots=True)
class Fault:
    """One configured fault; ``times`` counts down as requests take it (None: forever)."""

    kind: str
    times: int | None = 1
    status: int = 503
    """The status of a ``"status"`` fault."""
    seconds: float = 60.0
    """How long a ``"stall"`` waits (the server's close ends the wait early)."""
    path: str | None = None
    """The file name it applies to (None: every file)."""
    methods: frozenset[str] = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Request:
    """One request the server received."""

    method: str
    path: str
    range: str | None
    """The ``Range`` header, if any."""
    fault: str | None
    """The kind of the fault it met, if any."""


class Faults:
    """The faults a :class:`FaultServer` injects, first match first, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        kind: str,
        *,
        times: int | None = 1,
        status: int = 503,
        seconds: float = 60.0,
        path: str | None = None,
        methods: tuple[str, ...] = ("GET", "HEAD"),
    ) -> Fault:
        """Inject ``kind`` into the next ``times`` matching requests (None: all of them).

        Raises
        ------
        ValueError
            If ``kind`` is not one of :data:`FAULT_KINDS` or ``times`` is negative.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if times is not None and times < 0:
            raise ValueError(f"times must be None or >= 0, got {times}")
        fault = Fault(kind, times, status, seconds, path, frozenset(methods))
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching a request, counted as taken."""
        with self._lock:
            for fault in self._faults:
                if fault.times == 0 or method not in fault.methods:
                    continue
                if fault.path is not None and fault.path != path:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None


class FaultServer:
    """Files served on 127.0.0.1 with counted requests and injectable faults.

    Parameters
    ----------
    files
        File name -> bytes or a local path, or a directory whose files are served by
        their relative path.
    latency
        Seconds every request waits before it is answered (settable later).
    """

    def __init__(
        self,
        files: Mapping[str, bytes | os.PathLike[str] | str] | os.PathLike[str] | str,
        latency: float = 0.0,
    ) -> None:
        self.latency = latency
        self.faults = Faults()
        self.log: list[Request] = []
        self._files = _load(files)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._mtime = email.utils.formatdate(time.time(), usegmt=True)
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, name: str = "") -> str:
        """The URL of a served file."""
        return f"http://127.0.0.1:{self.port}/{name.lstrip('/')}"

    def put(self, name: str, data: bytes) -> None:
        """Serve ``data`` as ``name`` (replacing a file of that name)."""
        with self._lock:
            self._files[name] = data

    @property
    def requests(self) -> Counter[tuple[str, str]]:
        """How many requests each ``(method, path)`` received."""
        with self._lock:
            return Counter((r.method, r.path) for r in self.log)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """Requests received, of one method and/or one file (None: any)."""
        with self._lock:
            return sum(
                (method is None or r.method == method) and (path is None or r.path == path)
                for r in self.log
            )

    def reset(self) -> None:
        """Forget the requests received and remove every fault."""
        with self._lock:
            self.log.clear()
        self.faults.clear()

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; requests stalled by a fault end at once."""
        self._closed.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.log.append(request)

    def _file(self, name: str) -> bytes | None:
        with self._lock:
            return self._files.get(name)

    def _etag(self, data: bytes) -> str:
        return '"' + hashlib.sha1(data, usedforsecurity=False).hexdigest()[:16] + '"'


def _load(
    files: Mapping[str, bytes | os.PathLike[str] | str] | os.PathLike[str] | str,
) -> dict[str, bytes]:
    if isinstance(files, str | os.PathLike):
        root = Path(files)
        return {
            p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
        }
    return {
        name: data if isinstance(data, bytes) else Path(data).read_bytes()
        for name, data in files.items()
    }


class _QuietServer(ThreadingHTTPServer):
    """No traceback on stderr when a client hangs up (as clients of faulty servers do)."""

    def handle_error(self, request: object, client_address: object) -> None:
        """Ignore the error: the request is logged, and the client sees its effect."""


def _handler(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    """Answers GET and HEAD for the owner's files, faults first."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (~40 ms)
    owner: FaultServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the owner keeps its own log."""

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        owner = self.owner
        name = self.path.split("?", 1)[0].lstrip("/")
        fault = owner.faults.take(self.command, name)
        owner._record(
            Request(self.command, name, self.headers.get("Range"), fault.kind if fault else None)
        )
        if owner.latency:
            owner._closed.wait(owner.latency)
        if fault is not None and fault.kind == "reset":
            self._reset()
            return
        if fault is not None and fault.kind == "status":
            self._status(fault.status)
            return
        data = owner._file(name)
        if data is None:
            self._status(404)
            return
        self._send(data, fault, body=body)

    def _status(self, status: int) -> None:
        message = f"{status} {self.responses.get(status, ('',))[0]}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(message)))
        if status in (429, 503):
            self.send_header("Retry-After", "0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(message)

    def _reset(self) -> None:
        """Close with RST: linger on, timeout 0."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.close()

    def _send(self, data: bytes, fault: Fault | None, *, body: bool) -> None:
        kind = None if fault is None else fault.kind
        spans = _byte_ranges(self.headers.get("Range"), len(data))
        if isinstance(spans, str):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        whole = kind == "ignore_range" or (kind == "no_multirange" and len(spans) > 1)
        if kind == "first_range":
            spans = spans[:1]
        elif kind == "merge_ranges" and spans:
            spans = [(min(s for s, _ in spans), max(e for _, e in spans))]
        self.send_response(200 if whole or not spans else 206)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", self.owner._etag(data))
        self.send_header("Last-Modified", self.owner._mtime)
        if whole or not spans:
            self.send_header("Content-Type", "application/octet-stream")
        payload = data if whole or not spans else self._parts(data, spans)
        if kind == "no_length":
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self._body(payload, fault)

    def _parts(self, data: bytes, spans: list[tuple[int, int]]) -> bytes:
        """The body of a 206 answer, its type and range headers sent: one part or multipart."""
        if len(spans) == 1:
            ((start, stop),) = spans
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(data)}")
            return data[start:stop]
        self.send_header("Content-Type", f"multipart/byteranges; boundary={_BOUNDARY}")
        out = bytearray()
        for start, stop in spans:
            out += f"--{_BOUNDARY}\r\nContent-Type: application/octet-stream\r\n".encode()
            out += f"Content-Range: bytes {start}-{stop - 1}/{len(data)}\r\n\r\n".encode()
            out += data[start:stop] + b"\r\n"
        return bytes(out + f"--{_BOUNDARY}--\r\n".encode())

    def _body(self, payload: bytes, fault: Fault | None) -> None:
        kind = None if fault is None else fault.kind
        if kind in ("stall", "truncate"):
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            if fault is not None and kind == "stall":
                self.owner._closed.wait(fault.seconds)
            self.close_connection = True
            return
        self.wfile.write(payload)


def _byte_ranges(header: str | None, size: int) -> list[tuple[int, int]] | str:
    """``[(start, stop), ...]`` of a ``Range`` header (``[]``: none or not understood, the
    whole body), ``"invalid"`` if no range is satisfiable. Unsatisfiable ranges of several
    are dropped, as RFC 9110 lets a server do."""
    if header is None or not header.strip().startswith("bytes="):
        return []
    spans: list[tuple[int, int]] = []
    for text in header.strip()[6:].split(","):
        match = _RANGE.match(text.strip())
        if match is None or match.groups() == ("", ""):
            return []
        first, last = match.groups()
        if not first:
            start, stop = max(0, size - int(last)), size
        else:
            start, stop = int(first), size if not last else min(size, int(last) + 1)
        if start < size and stop > start:
            spans.append((start, stop))
    return spans or "invalid"


@contextlib.contextmanager
def serve(
    files: Mapping[str, bytes | os.PathLike[str] | str] | os.PathLike[str] | str,
    *,
    latency: float = 0.0,
) -> Iterator[FaultServer]:
    """Serve ``files`` on 127.0.0.1 while the block runs (see :class:`FaultServer`)."""
    server = FaultServer(files, latency).start()
    try:
        yield server
    finally:
        server.close()
