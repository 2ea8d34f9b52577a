"""Byte-range readers: the only place that touches files, URLs or file objects.

Every reader knows its source's length, refuses ranges past it, and pickles by
reopening (no open handle travels to a dask worker).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Protocol

from .errors import RumiFormatError

if TYPE_CHECKING:
    from collections.abc import Buffer, Iterator, Sequence

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

    def read(self, offset: int, length: int) -> Buffer: ...

    def read_into(self, offset: int, length: int, scratch: np.ndarray) -> Buffer:
        """Read a range, into ``scratch`` (uint8, at least ``length`` bytes) where that saves a copy."""
        ...

    def iter_ranges(self, ranges: Sequence[Range]) -> Iterator[Buffer]: ...


def _check(reader: RangeReader, offset: int, length: int) -> None:
    if offset < 0 or length < 0 or offset + length > reader.size:
        raise RumiFormatError(
            f"byte range [{offset}, {offset + length}) is outside the {reader.size}-byte source"
        )


def _checked(data: Buffer, offset: int, length: int) -> Buffer:
    if len(memoryview(data)) != length:
        raise RumiFormatError(
            f"read {len(memoryview(data))} bytes at {offset}, expected {length}; "
            "the source changed or is truncated"
        )
    return data


class _Reader:
    """Defaults: ``read_into`` ignores the scratch buffer, ranges are read one by one."""

    def read(self, offset: int, length: int) -> Buffer:
        raise NotImplementedError

    def read_into(self, offset: int, length: int, scratch: np.ndarray) -> Buffer:
        return self.read(offset, length)

    def iter_ranges(self, ranges: Sequence[Range]) -> Iterator[Buffer]:
        for offset, length in ranges:
            yield self.read(offset, length)


class LocalReader(_Reader):
    """A local file read with ``os.pread`` (thread-safe, no shared file position)."""

    max_gap = 0
    max_run = 2 << 20

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._fd: int | None = None
        self._pid = 0
        self.size = os.stat(self.path).st_size

    def _handle(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd, self._pid = (
                os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0)),
                os.getpid(),
            )
        return self._fd

    def read(self, offset: int, length: int) -> Buffer:
        _check(self, offset, length)
        return _checked(os.pread(self._handle(), length, offset), offset, length)

    def read_into(self, offset: int, length: int, scratch: np.ndarray) -> Buffer:
        _check(self, offset, length)
        view = memoryview(scratch)[:length]
        return _checked(view[: os.preadv(self._handle(), [view], offset)], offset, length)

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path, self.size, self._fd, self._pid = state["path"], state["size"], None, 0

    def __del__(self) -> None:
        self.close()


class FsspecReader(_Reader):
    """Any fsspec URL (``s3://``, ``https://``, ``memory://``, ...); ranges fetched concurrently."""

    max_gap = 1 << 20
    max_run = 16 << 20

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        import fsspec

        self.url = url
        self.storage_options = dict(storage_options or {})
        self.fs, self.path = fsspec.core.url_to_fs(url, **self.storage_options)
        self.size = int(self.fs.size(self.path))

    def read(self, offset: int, length: int) -> Buffer:
        _check(self, offset, length)
        data = self.fs.cat_file(self.path, start=offset, end=offset + length)
        return _checked(data, offset, length)

    def iter_ranges(self, ranges: Sequence[Range]) -> Iterator[Buffer]:
        for offset, length in ranges:
            _check(self, offset, length)
        if len(ranges) == 1:
            yield self.read(*ranges[0])
            return
        starts = [o for o, _ in ranges]
        ends = [o + n for o, n in ranges]
        blobs = self.fs.cat_ranges([self.path] * len(ranges), starts, ends, on_error="raise")
        for (offset, length), data in zip(ranges, blobs, strict=True):
            yield _checked(data, offset, length)


class BytesReader(_Reader):
    """A file held in memory; ranges are zero-copy views."""

    max_gap = 1 << 30
    max_run = 2 << 20

    def __init__(self, data: Buffer) -> None:
        self.data = memoryview(data).cast("B")
        self.size = len(self.data)

    def read(self, offset: int, length: int) -> Buffer:
        _check(self, offset, length)
        return self.data[offset : offset + length]

    def __getstate__(self) -> dict[str, Any]:
        return {"data": bytes(self.data)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["data"])  # type: ignore[misc]


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
        _check(self, offset, length)
        with self._lock:
            self.fileobj.seek(offset)
            data = self.fileobj.read(length)
        return _checked(data, offset, length)

    def __getstate__(self) -> dict[str, Any]:
        return {"fileobj": self.fileobj, "size": self.size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.fileobj, self.size, self._lock = state["fileobj"], state["size"], threading.Lock()


class ObstoreReader(_Reader):
    """An object in an obstore store (what VirtualiZarr's registry resolves URLs to)."""

    max_gap = 1 << 20
    max_run = 16 << 20

    def __init__(self, store: Any, path: str) -> None:
        import obstore

        self.store, self.path = store, path
        self.size = int(obstore.head(store, path)["size"])

    def read(self, offset: int, length: int) -> Buffer:
        import obstore

        _check(self, offset, length)
        data = obstore.get_range(self.store, self.path, start=offset, length=length)
        return _checked(memoryview(data), offset, length)

    def iter_ranges(self, ranges: Sequence[Range]) -> Iterator[Buffer]:
        import obstore

        for offset, length in ranges:
            _check(self, offset, length)
        if not ranges:
            return
        starts = [o for o, _ in ranges]
        lengths = [n for _, n in ranges]
        blobs = obstore.get_ranges(self.store, self.path, starts=starts, lengths=lengths)
        for (offset, length), data in zip(ranges, blobs, strict=True):
            yield _checked(memoryview(data), offset, length)


def open_reader(source: Any, storage_options: dict[str, Any] | None = None) -> RangeReader:
    """A reader for a path, an fsspec URL, bytes, or a seekable binary file object."""
    if isinstance(source, bytes | bytearray | memoryview):
        return BytesReader(source)
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if "://" in path and not path.startswith("file://"):
            return FsspecReader(path, storage_options)
        return LocalReader(path.removeprefix("file://"))
    if hasattr(source, "read") and hasattr(source, "seek"):
        return FileObjReader(source)
    raise TypeError(f"cannot read rumi data from a {type(source).__name__}")


def coalesce(
    ranges: Sequence[Range], max_gap: int, max_length: int
) -> list[tuple[Range, list[int]]]:
    """Merge sorted ranges closer than ``max_gap`` into reads of at most ``max_length``.

    Returns ``((offset, length), [indices of the ranges it holds])`` per read.
    """
    runs: list[tuple[Range, list[int]]] = []
    start = end = 0
    members: list[int] = []
    for i, (offset, length) in enumerate(ranges):
        if members and offset - end <= max_gap and offset + length - start <= max_length:
            end = max(end, offset + length)
            members.append(i)
            continue
        if members:
            runs.append(((start, end - start), members))
        start, end, members = offset, offset + length, [i]
    if members:
        runs.append(((start, end - start), members))
    return runs
