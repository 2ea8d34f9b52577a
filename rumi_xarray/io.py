"""Byte-range readers: the only place that touches files, URLs or file objects.

Every reader knows its source's length, refuses ranges past it, and pickles by
reopening (no open handle travels to a dask worker). Local files share one LRU cache of
descriptors, bounded by ``xr.set_options(file_cache_maxsize=...)`` (:func:`file_cache_maxsize`).
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections import OrderedDict
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from .errors import RumiFormatError

if TYPE_CHECKING:
    from collections.abc import Buffer, Hashable, Iterator, Sequence
    from contextlib import AbstractContextManager

    import numpy as np

Range = tuple[int, int]
"""``(offset, length)`` in bytes."""


class RangeReader(Protocol):
    """A source of byte ranges of known length."""

    size: int
    max_gap: int
    """Ranges closer than this many bytes are worth reading as one."""
    max_run: int
    """Largest coalesced read; smaller runs spread a large read over more threads."""

    @property
    def identity(self) -> Hashable | None:
        """What names this content in the decoded-frame cache (:mod:`rumi_xarray.cache`).

        Changes whenever the source is known to have changed; None: never cached.
        """
        ...

    def read(self, offset: int, length: int) -> Buffer: ...

    def read_into(self, offset: int, length: int, scratch: np.ndarray) -> Buffer:
        """Read a range, into ``scratch`` (uint8, at least ``length`` bytes) where that saves a copy."""
        ...

    def iter_ranges(self, ranges: Sequence[Range]) -> Iterator[Buffer]: ...


def check_range(reader: RangeReader, offset: int, length: int) -> None:
    """Refuse a range outside the source (`RumiFormatError` naming it)."""
    if offset < 0 or length < 0 or offset + length > reader.size:
        msg = f"byte range [{offset}, {offset + length}) is outside the {reader.size}-byte source"
        raise RumiFormatError.invalid(
            "byte range",
            msg,
            offset=offset,
            expected=f"within [0, {reader.size})",
            found=(offset, offset + length),
        )


def checked_length(data: Buffer, offset: int, length: int) -> Buffer:
    """``data``, checked to hold ``length`` bytes (else the source changed or is truncated)."""
    if len(memoryview(data)) != length:
        msg = (
            f"read {len(memoryview(data))} bytes at {offset}, expected {length}; "
            "the source changed or is truncated"
        )
        raise RumiFormatError.invalid(
            "source", msg, offset=offset, expected=length, found=len(memoryview(data))
        )
    return data


class _Reader:
    """Defaults: no identity, ``read_into`` ignores the scratch buffer, ranges read one by one."""

    @property
    def identity(self) -> Hashable | None:
        return None

    def read(self, offset: int, length: int) -> Buffer:
        raise NotImplementedError

    def read_into(self, offset: int, length: int, scratch: np.ndarray) -> Buffer:
        return self.read(offset, length)

    def iter_ranges(self, ranges: Sequence[Range]) -> Iterator[Buffer]:
        for offset, length in ranges:
            yield self.read(offset, length)


FILE_CACHE_MAXSIZE = 128
"""Descriptors kept open when xarray is not imported (xarray's own default)."""


def file_cache_maxsize() -> int:
    """How many local files stay open: ``xr.set_options(file_cache_maxsize=...)``.

    Read from xarray only when xarray is already imported, so that this module never
    imports it; :data:`FILE_CACHE_MAXSIZE` otherwise.
    """
    xarray = sys.modules.get("xarray")
    get_options = getattr(xarray, "get_options", None)
    if get_options is None:
        return FILE_CACHE_MAXSIZE
    return int(get_options()["file_cache_maxsize"])


class _Handle:
    """One open descriptor and the reads using it."""

    __slots__ = ("evicted", "fd", "pins")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pins = 0
        self.evicted = False
        """Out of the cache: the last read to unpin it closes it."""


class _FileCache:
    """Open descriptors of local files, least recently used closed first.

    A read pins its descriptor; eviction or ``discard`` while pinned only marks it, and
    the last unpin closes it, so no read ever sees a descriptor closed (or reused by the
    OS for another file). Open descriptors number at most the cache size plus those
    pinned by reads in flight. A forked child closes its inherited copies.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        """Reentrant: a reader's ``__del__`` may run (``discard``) inside a locked section."""
        self._open: OrderedDict[int, _Handle] = OrderedDict()

    @contextmanager
    def pinned(self, key: int, path: str) -> Iterator[int]:
        """The descriptor of ``path`` for reader ``key``, opened on demand, held open."""
        handle = self._acquire(key, path)
        try:
            yield handle.fd
        finally:
            with self._lock:
                handle.pins -= 1
                close = handle.evicted and handle.pins == 0
            if close:
                os.close(handle.fd)

    def _acquire(self, key: int, path: str) -> _Handle:
        with self._lock:
            handle = self._open.get(key)
            if handle is not None:
                self._open.move_to_end(key)
                handle.pins += 1
                return handle
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | os.O_CLOEXEC)
        with self._lock:
            handle = self._open.get(key)
            if handle is None:
                handle = self._open[key] = _Handle(fd)
                fd = -1
            handle.pins += 1
            doomed = self._evict(file_cache_maxsize())
        if fd >= 0:  # another thread opened it meanwhile
            doomed.append(fd)
        for stale in doomed:
            os.close(stale)
        return handle

    def _evict(self, maxsize: int) -> list[int]:
        """Drop the oldest entries past ``maxsize``; the unpinned descriptors to close."""
        doomed = []
        while len(self._open) > max(maxsize, 1):
            _, handle = self._open.popitem(last=False)
            doomed.extend(self._retire(handle))
        return doomed

    @staticmethod
    def _retire(handle: _Handle) -> list[int]:
        handle.evicted = True
        return [handle.fd] if handle.pins == 0 else []

    def discard(self, key: int) -> None:
        """Close reader ``key``'s descriptor (once no read pins it)."""
        with self._lock:
            handle = self._open.pop(key, None)
            doomed = [] if handle is None else self._retire(handle)
        for fd in doomed:
            os.close(fd)

    def after_fork(self) -> None:
        self._lock = threading.RLock()
        for handle in self._open.values():
            os.close(handle.fd)
        self._open.clear()


_FILES = _FileCache()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_FILES.after_fork)
_KEYS = itertools.count()


class LocalReader(_Reader):
    """A local file read with ``os.pread`` (thread-safe, no shared file position).

    The descriptor lives in a process-wide LRU cache bounded by
    :func:`file_cache_maxsize`: it is opened on the first read, may be closed between
    reads and reopened on the next, and is never closed during one. ``close`` releases
    it; a later read reopens it.
    """

    max_gap = 0
    max_run = 2 << 20

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._key = next(_KEYS)
        self.path = os.fspath(path)
        self._abspath = os.path.abspath(self.path)
        self.size = os.stat(self.path).st_size

    def read(self, offset: int, length: int) -> Buffer:
        check_range(self, offset, length)
        with _FILES.pinned(self._key, self.path) as fd:
            data = os.pread(fd, length, offset)
        return checked_length(data, offset, length)

    def read_into(self, offset: int, length: int, scratch: np.ndarray) -> Buffer:
        check_range(self, offset, length)
        view = memoryview(scratch)[:length]
        with _FILES.pinned(self._key, self.path) as fd:
            n = os.preadv(fd, [view], offset)
        return checked_length(view[:n], offset, length)

    @property
    def identity(self) -> Hashable | None:
        """``("file", path, device, inode, size, mtime_ns)`` of the descriptor read from.

        Taken afresh on each access (one ``fstat``): a file rewritten or replaced since
        has a new identity.
        """
        with _FILES.pinned(self._key, self.path) as fd:
            st = os.fstat(fd)
        return (
            "file",
            self._abspath,
            st.st_dev,
            st.st_ino,
            st.st_size,
            st.st_mtime_ns,
        )

    def close(self) -> None:
        _FILES.discard(self._key)

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path, self.size, self._key = state["path"], state["size"], next(_KEYS)
        self._abspath = os.path.abspath(self.path)

    def __del__(self) -> None:
        self.close()


class LockedReader:
    """Another reader whose reads hold ``lock`` (``lock=`` of ``engine="rumi"``).

    Picklable when the lock is (``xarray.backends.locks.SerializableLock``).
    """

    def __init__(self, reader: RangeReader, lock: AbstractContextManager[Any]) -> None:
        self.reader = reader
        self.lock = lock
        self.size = reader.size
        self.max_gap = reader.max_gap
        self.max_run = reader.max_run

    @property
    def identity(self) -> Hashable | None:
        return self.reader.identity

    def read(self, offset: int, length: int) -> Buffer:
        with self.lock:
            return self.reader.read(offset, length)

    def read_into(self, offset: int, length: int, scratch: np.ndarray) -> Buffer:
        with self.lock:
            return self.reader.read_into(offset, length, scratch)

    def iter_ranges(self, ranges: Sequence[Range]) -> Iterator[Buffer]:
        with self.lock:
            blobs = list(self.reader.iter_ranges(ranges))
        yield from blobs

    def close(self) -> None:
        close_reader(self.reader)


_VERSION_FIELDS = ("ETag", "etag", "LastModified", "last_modified", "mtime", "created")
"""Fields of fsspec's ``info`` that change with an object's content."""


class FsspecReader(_Reader):
    """The URL of a synchronous fsspec filesystem (``memory://``, ...).

    ``info`` at open gives the length and version; no retries (http(s), s3 and the
    async filesystems, gcs and azure among them, get the readers of
    :mod:`rumi_xarray.stores`).
    """

    max_gap = 1 << 20
    max_run = 16 << 20

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        import fsspec

        self.url = url
        self.storage_options = dict(storage_options or {})
        self.fs, self.path = fsspec.core.url_to_fs(url, **self.storage_options)
        info = self.fs.info(self.path)
        self.size = int(info["size"])
        versions = (str(info.get(name)) for name in _VERSION_FIELDS)
        self._identity = ("fsspec", self.fs.unstrip_protocol(self.path), self.size, *versions)

    @property
    def identity(self) -> Hashable | None:
        """``("fsspec", URL, size, ETag, modification times...)`` as ``info`` gave them at open."""
        return self._identity

    def read(self, offset: int, length: int) -> Buffer:
        check_range(self, offset, length)
        data = self.fs.cat_file(self.path, start=offset, end=offset + length)
        return checked_length(data, offset, length)

    def iter_ranges(self, ranges: Sequence[Range]) -> Iterator[Buffer]:
        for offset, length in ranges:
            check_range(self, offset, length)
        if len(ranges) == 1:
            yield self.read(*ranges[0])
            return
        starts = [o for o, _ in ranges]
        ends = [o + n for o, n in ranges]
        blobs = self.fs.cat_ranges([self.path] * len(ranges), starts, ends, on_error="raise")
        for (offset, length), data in zip(ranges, blobs, strict=True):
            yield checked_length(data, offset, length)


class BytesReader(_Reader):
    """A file held in memory; ranges are zero-copy views."""

    max_gap = 1 << 30
    max_run = 2 << 20

    def __init__(self, data: Buffer) -> None:
        self.data = memoryview(data).cast("B")
        self.size = len(self.data)

    def read(self, offset: int, length: int) -> Buffer:
        check_range(self, offset, length)
        return self.data[offset : offset + length]

    def __getstate__(self) -> dict[str, Any]:
        return {"data": bytes(self.data)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).__init__(self, state["data"])


class FileObjReader(_Reader):
    """A seekable binary file object, shared between threads under a lock."""

    max_gap = 1 << 16
    max_run = 2 << 20

    def __init__(self, fileobj: Any) -> None:
        self.fileobj = fileobj
        self._lock = threading.Lock()
        with self._lock:
            self.size = fileobj.seek(0, os.SEEK_END)

    def read(self, offset: int, length: int) -> Buffer:
        check_range(self, offset, length)
        with self._lock:
            self.fileobj.seek(offset)
            data = self.fileobj.read(length)
        return checked_length(data, offset, length)

    def __getstate__(self) -> dict[str, Any]:
        return {"fileobj": self.fileobj, "size": self.size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.fileobj, self.size, self._lock = state["fileobj"], state["size"], threading.Lock()


def close_reader(reader: RangeReader) -> None:
    """Release what ``reader`` holds open, for the readers that hold anything."""
    close = getattr(reader, "close", None)
    if close is not None:
        close()


def is_url(source: Any) -> bool:
    """Whether ``source`` is read through fsspec: a URL other than ``file://``."""
    if not isinstance(source, str | os.PathLike):
        return False
    path = os.fspath(source)
    return "://" in path and not path.startswith("file://")


def is_remote(reader: RangeReader) -> bool:
    """Whether ``reader`` fetches over the network (:mod:`rumi_xarray.remote`, imported on demand)."""
    remote = sys.modules.get("rumi_xarray.remote")
    return remote is not None and isinstance(reader, remote.RemoteReader)


def open_reader(
    source: Any,
    storage_options: dict[str, Any] | None = None,
    *,
    size: int | None = None,
    version: Hashable = None,
    tail: Range | None = None,
) -> RangeReader:
    """A reader for a path, an fsspec URL, bytes, or a seekable binary file object.

    URLs go through :func:`rumi_xarray.stores.open_remote`: with ``size`` (and a
    ``version`` naming the content) known, opening an http(s) or s3 URL sends nothing;
    else its first GET takes the file's start, and ``tail`` (a range that may run past
    the end) at the same time.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return BytesReader(source)
    if is_url(source):
        from .stores import open_remote

        return open_remote(
            os.fspath(source), storage_options, size=size, version=version, tail=tail
        )
    if isinstance(source, str | os.PathLike):
        return LocalReader(os.fspath(source).removeprefix("file://"))
    if hasattr(source, "read") and hasattr(source, "seek"):
        return FileObjReader(source)
    raise TypeError(f"cannot read rumi data from a {type(source).__name__}")
