"""The remote readers of each kind of store: HTTP(S), S3, other async fsspec filesystems
(GCS, Azure, ...) and obstore, and :func:`open_remote`.

Each is a :class:`~rumi_xarray.remote.RemoteReader`: one request per :meth:`attempt`,
retried by the :class:`~rumi_xarray.remote.RemotePolicy`.

Over HTTP the first GET of an open asks for the file's start and its trailer in one
multi-range request (``Range: bytes=0-65535,END-...`` where a header blob says where the
trailer lies, else ``bytes=0-65535,-8192``, the file's last 8 KiB), so that the open costs
one request. A server that answers it with one ``multipart/byteranges`` body (nginx,
Apache, most CDNs) is read from it; one that answers ``200`` (S3 and GCS ignore several
ranges) or anything unexpected is asked again with one request per range, and its host is
not asked for several ranges again in this process. The body of such an answer is never
read past the size of the ranges asked.
"""

from __future__ import annotations

import asyncio
import threading
import urllib.parse
from typing import TYPE_CHECKING, Any, TypeVar

from .format import HEAD_NBYTES, SUFFIX_NBYTES
from .io import FsspecReader
from .remote import (
    Meta,
    RemotePolicy,
    RemoteReader,
    _Transient,
    remote_policy,
    split_options,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Hashable, Sequence

    from .io import Range, RangeReader

__all__ = [
    "AsyncFsspecReader",
    "HttpReader",
    "ObstoreReader",
    "S3Reader",
    "open_remote",
]

T = TypeVar("T")

_PART_OVERHEAD = 512
"""Bytes a ``multipart/byteranges`` body may spend on each part's boundary and headers."""

_SINGLE_RANGE_HOSTS: set[str] = set()
"""Hosts that did not answer a multi-range request with its parts (this process)."""
_HOSTS_LOCK = threading.Lock()


class _NoMultirange(Exception):
    """The server did not answer a multi-range request with the parts asked.

    ``of_host``: it never will (else, as for a 416 of an empty object, only this one).
    """

    def __init__(self, reason: str, *, of_host: bool = True) -> None:
        super().__init__(reason)
        self.of_host = of_host


def _content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """``(first byte, last byte, total or None)`` of a ``Content-Range: bytes a-b/n`` header."""
    if not value or not value.strip().startswith("bytes "):
        return None
    span, _, total = value.strip()[6:].partition("/")
    first, _, last = span.partition("-")
    try:
        return int(first), int(last), None if total.strip() == "*" else int(total)
    except ValueError:
        return None


def _http_status(url: str, status: int, reason: str) -> OSError:
    """The error of a non-2xx answer: transient or permanent by status."""
    text = f"{url}: HTTP {status} {reason}".rstrip()
    if status in (401, 403):
        return PermissionError(f"{text} (access denied)")
    if status in (404, 410):
        return FileNotFoundError(f"{text} (not found)")
    if status in (408, 425, 429) or status >= 500:
        return _Transient(text)
    return OSError(text)


class _FsReader(RemoteReader):
    """A remote object read through an fsspec filesystem: ``fs``, and ``path`` in it."""

    def __init__(
        self,
        url: str,
        fs: Any,
        path: str,
        policy: RemotePolicy,
        size: int | None = None,
        version: Hashable = None,
        tail: Range | None = None,
    ) -> None:
        self.fs, self.path = fs, path
        super().__init__(url, policy, size, version, tail)


class HttpReader(_FsReader):
    """An ``http(s)://`` object read with aiohttp through the fsspec filesystem's session."""

    kind = "http"

    async def _first(self, tail: Range | None) -> tuple[int, Hashable]:
        """The file's start and ``tail`` (else its last :data:`SUFFIX_NBYTES`, where a
        trailer lies) in one multi-range request; else as any reader does."""
        host = urllib.parse.urlsplit(self.url).netloc
        if (tail is not None and tail[0] < HEAD_NBYTES) or not self.policy.multirange:
            return await super()._first(tail)
        with _HOSTS_LOCK:
            if host in _SINGLE_RANGE_HOSTS:
                return await super()._first(tail)
        wanted = [(0, HEAD_NBYTES), tail or (-SUFFIX_NBYTES, SUFFIX_NBYTES)]
        try:
            parts, (size, *versions) = await self._retried(
                "reading the start and the trailer", lambda: self._multirange(wanted)
            )
        except _NoMultirange as exc:
            if exc.of_host:
                with _HOSTS_LOCK:
                    _SINGLE_RANGE_HOSTS.add(host)
            return await super()._first(tail)
        head = dict(parts).get(0, b"")
        if size is None or len(head) < min(HEAD_NBYTES, size):  # a merged part may be longer
            return await super()._first(tail)
        self._held = parts
        return size, tuple(versions)

    async def attempt_last(self, nbytes: int) -> tuple[int, bytes] | None:
        """The last ``nbytes`` (``Range: bytes=-n``), where the first GET asked one range."""
        parts, _ = await self._multirange([(-nbytes, nbytes)])
        return parts[0]

    async def _multirange(self, ranges: Sequence[Range]) -> tuple[list[tuple[int, bytes]], Meta]:
        """One GET for several ranges (``(-n, n)``: the last n bytes): the parts answered,
        ``(offset, bytes)``, and the meta."""
        spec = ",".join(f"{o}-{o + n - 1}" if o >= 0 else f"-{n}" for o, n in ranges)
        limit = sum(n for _, n in ranges) + _PART_OVERHEAD * len(ranges)
        async with await self._get(spec) as r:
            if r.status in (200, 416):  # 416: no range of this object is there (it is empty)
                raise _NoMultirange(f"HTTP {r.status}", of_host=r.status == 200)
            if r.status != 206:
                raise _http_status(self.url, r.status, r.reason or "")
            body = await _read_at_most(r.content, limit + 1)
            etag, modified = r.headers.get("ETag"), r.headers.get("Last-Modified")
            kind, _, params = r.headers.get("Content-Type", "").partition(";")
            where = _content_range(r.headers.get("Content-Range"))
        if len(body) > limit:
            raise _NoMultirange("a body longer than the ranges asked")
        if r.content_length is not None and len(body) < r.content_length:
            raise _Transient(f"truncated body: {len(body)} of {r.content_length} bytes")
        if kind.strip().lower() == "multipart/byteranges":
            parts, size = _byteranges(body, _boundary(params))
        elif where is not None and where[1] - where[0] + 1 == len(body):
            parts, size = [(where[0], body)], where[2]
        else:
            raise _NoMultirange("a 206 answer without a Content-Range of its body")
        return parts, (size, etag, modified)

    async def attempt(self, offset: int, length: int) -> tuple[bytes, Meta]:
        async with await self._get(f"{offset}-{offset + length - 1}") as r:
            if r.status not in (200, 206):
                raise _http_status(self.url, r.status, r.reason or "")
            data = await _read_at_most(r.content, length + 1)  # a whole object is never fetched
            etag, modified = r.headers.get("ETag"), r.headers.get("Last-Modified")
            if r.status == 206:
                where = _content_range(r.headers.get("Content-Range"))
                if where is None or where[0] != offset:
                    msg = f"{self.url}: a 206 answer for bytes {offset}.. without a matching Content-Range"
                    raise OSError(msg)
                return data, (where[2], etag, modified)
        if offset == 0 and len(data) <= length and getattr(self, "size", len(data)) == len(data):
            return data, (len(data), etag, modified)  # the whole object, no longer than asked
        msg = (
            f"{self.url}: the server ignores Range requests (HTTP 200 with the whole object "
            f"for bytes {offset}..{offset + length}); rumi reads need range support"
        )
        raise OSError(msg)

    async def _get(self, spec: str) -> Any:
        """The aiohttp request of one GET of ``Range: bytes=spec``, with the filesystem's
        session, headers and options (enter it with ``async with``)."""
        kwargs = dict(self.fs.kwargs)
        headers = {**kwargs.pop("headers", {}), "Range": f"bytes={spec}"}
        session = await self.fs.set_session()
        return session.get(self.fs.encode_url(self.url), headers=headers, **kwargs)


async def _read_at_most(content: Any, limit: int) -> bytes:
    """A response body up to ``limit`` bytes (aiohttp's ``read(n)`` may return fewer)."""
    parts: list[bytes] = []
    got = 0
    while got < limit:
        chunk = await content.read(limit - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _boundary(params: str) -> bytes:
    """The ``boundary`` parameter of a ``multipart/byteranges`` content type."""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary" and value.strip().strip('"'):
            return value.strip().strip('"').encode("latin-1")
    raise _NoMultirange("a multipart answer without a boundary")


def _byteranges(body: bytes, boundary: bytes) -> tuple[list[tuple[int, bytes]], int | None]:
    """The parts of a ``multipart/byteranges`` body, ``(offset, bytes)``, and the object's size.

    Each part's length comes from its ``Content-Range``, so a part's bytes are never
    searched for the boundary; a part that does not fit the body refuses the whole answer.
    """
    delimiter = b"--" + boundary
    parts: list[tuple[int, bytes]] = []
    sizes: set[int | None] = set()
    at = body.find(delimiter)
    while at >= 0 and not body.startswith(b"--", at + len(delimiter)):
        end = body.find(b"\r\n\r\n", at)
        if end < 0:
            raise _NoMultirange("a multipart part without the end of its headers")
        lines = body[at + len(delimiter) : end].decode("latin-1").split("\r\n")
        ranges = [
            v
            for k, _, v in (s.partition(":") for s in lines)
            if k.strip().lower() == "content-range"
        ]
        where = _content_range(ranges[0] if ranges else None)
        if where is None or where[1] < where[0] or end + 4 + where[1] - where[0] + 1 > len(body):
            raise _NoMultirange("a multipart part without a Content-Range that fits the body")
        start, stop = end + 4, end + 4 + where[1] - where[0] + 1
        parts.append((where[0], body[start:stop]))
        sizes.add(where[2])
        at = body.find(delimiter, stop)
    if not parts or len(sizes) != 1:
        raise _NoMultirange("a multipart answer without parts of one object")
    return parts, sizes.pop()


class S3Reader(_FsReader):
    """An ``s3://`` object read through s3fs's aiobotocore client (``get_object`` with a Range).

    s3fs and botocore also retry some failures of their own inside one attempt.
    """

    kind = "s3"

    async def attempt(self, offset: int, length: int) -> tuple[bytes, Meta]:
        data, resp = await self._get(f"bytes={offset}-{offset + length - 1}")
        where = _content_range(resp.get("ContentRange"))
        size = where[2] if where is not None else resp.get("ContentLength")
        modified = resp.get("LastModified")
        return data, (size, resp.get("ETag"), None if modified is None else str(modified))

    async def attempt_last(self, nbytes: int) -> tuple[int, bytes] | None:
        data, resp = await self._get(f"bytes=-{nbytes}")
        where = _content_range(resp.get("ContentRange"))
        if where is None or where[1] - where[0] + 1 != len(data):
            raise _Transient(f"{self.url}: a suffix answer without a Content-Range of its body")
        return where[0], data

    async def _get(self, rng: str) -> tuple[bytes, dict[str, Any]]:
        """The body and the response of one ``get_object`` of ``rng``."""
        bucket, key, _ = self.fs.split_path(self.path)
        try:
            resp = await self.fs._call_s3("get_object", Bucket=bucket, Key=key, Range=rng)
        except (FileNotFoundError, PermissionError) as exc:
            raise type(exc)(f"{self.url}: {exc}") from exc
        except OSError as exc:
            raise _Transient(f"{self.url}: {exc}") from exc
        try:
            data: bytes = await resp["Body"].read()
        finally:
            resp["Body"].close()
        return data, resp


class AsyncFsspecReader(_FsReader):
    """An object of another async fsspec filesystem (``gs://`` with gcsfs, ``az://`` and
    ``abfs://`` with adlfs, ...): ``_cat_file`` ranges, retried by the policy.

    Unsized, the first requests of an open also ask ``_info`` (once, at the same time):
    the size and the version (ETag, generation or modification time). Not found and
    access denied fail at once; any other failure is retried. The filesystem's own
    retries apply inside each attempt.
    """

    kind = "fsspec"
    _info: asyncio.Future[dict[str, Any]] | None = None
    """``_info`` of the object, asked once (again after a failure)."""

    async def attempt(self, offset: int, length: int) -> tuple[bytes, Meta]:
        cat = self.fs._cat_file(self.path, start=offset, end=offset + length)
        if getattr(self, "size", None) is not None:
            return bytes(await self._translated(cat)), (self.size, None, None)
        info, data = await self._translated(asyncio.gather(self._described(), cat))
        etag = next((str(info[k]) for k in ("ETag", "etag") if info.get(k)), None)
        changed = next((str(info[k]) for k in _CHANGED if info.get(k) is not None), None)
        return bytes(data), (int(info["size"]), etag, changed)

    async def attempt_last(self, nbytes: int) -> tuple[int, bytes] | None:
        cat = self.fs._cat_file(self.path, start=-nbytes)
        info, data = await self._translated(asyncio.gather(self._described(), cat))
        return int(info["size"]) - len(data), bytes(data)

    async def _translated(self, call: Awaitable[T]) -> T:
        """``call``'s result; not found and access denied naming the URL, any other failure
        transient (retried)."""
        try:
            return await call
        except (FileNotFoundError, PermissionError) as exc:
            raise type(exc)(f"{self.url}: {exc}") from exc
        except Exception as exc:
            raise _Transient(f"{self.url}: {exc}") from exc

    async def _described(self) -> dict[str, Any]:
        """``_info`` of the object, asked once for the attempts of an open (again after a failure)."""
        task = self._info
        if task is None or (task.done() and (task.cancelled() or task.exception())):
            task = self._info = asyncio.ensure_future(self.fs._info(self.path))
        return await asyncio.shield(task)  # a timed-out attempt leaves it to the others

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "_info": None}


_CHANGED = ("generation", "version_id", "LastModified", "last_modified", "mtime", "updated")
"""Fields of fsspec's ``info`` that name an object's version, the first one present kept."""


class ObstoreReader(RemoteReader):
    """An object in an obstore store (what VirtualiZarr's registry resolves URLs to).

    obstore's own retry configuration (of the store) applies inside each attempt.
    """

    kind = "obstore"

    def __init__(
        self,
        store: Any,
        path: str,
        policy: RemotePolicy | None = None,
        size: int | None = None,
        version: Hashable = None,
    ) -> None:
        self.store, self.path = store, path
        super().__init__(f"{store!r}/{path}", policy or remote_policy(), size, version)

    async def attempt(self, offset: int, length: int) -> tuple[bytes, Meta]:
        import obstore

        try:
            result = await obstore.get_async(
                self.store, self.path, options={"range": (offset, offset + length)}
            )
            data = bytes(await result.bytes_async())
        except (FileNotFoundError, PermissionError):
            raise
        except Exception as exc:
            if type(exc).__name__ in ("PermissionDeniedError", "UnauthenticatedError"):
                raise PermissionError(f"{self.url}: {exc}") from exc
            raise _Transient(f"{self.url}: {exc}") from exc
        meta = result.meta
        return data, (int(meta["size"]), _text(meta.get("e_tag")), _text(meta.get("last_modified")))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def open_remote(
    url: str,
    storage_options: dict[str, Any] | None = None,
    *,
    size: int | None = None,
    version: Hashable = None,
    tail: Range | None = None,
) -> RangeReader:
    """The reader of an fsspec URL: http(s), s3 and other async filesystems (gcs, azure,
    ...) with retries, timeouts and concurrency.

    ``size`` (and ``version``, a hashable naming the content) given, nothing is sent;
    else the first ranged GET learns them, with ``tail`` (where a header blob says the
    trailer lies) fetched at the same time. Synchronous fsspec filesystems
    (``memory://``, ...) get a :class:`~rumi_xarray.io.FsspecReader` (``info`` at open,
    no retries).
    """
    import fsspec

    options, policy = split_options(storage_options)
    fs, path = fsspec.core.url_to_fs(url, **options)
    protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
    if protocols & {"http", "https"}:
        return HttpReader(url, fs, url, policy, size, version, tail)
    if protocols & {"s3", "s3a"}:
        return S3Reader(fs.unstrip_protocol(path), fs, path, policy, size, version, tail)
    if getattr(fs, "async_impl", False):
        return AsyncFsspecReader(url, fs, path, policy, size, version, tail)
    return FsspecReader(url, options)
