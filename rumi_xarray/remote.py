"""Remote byte ranges: retries, timeouts and concurrency for ``http(s)://``, ``s3://``, obstore.

One :class:`RemotePolicy` governs every remote read: at most ``timeout`` seconds per
request, transient failures (HTTP 429 and 5xx, connection resets, timeouts, truncated
bodies) retried up to ``retries`` times after an exponential backoff with full jitter,
and ``concurrency`` requests in flight per batch. Permanent failures are raised at once,
naming the URL: 401/403 as `PermissionError`, 404 as `FileNotFoundError`, a server
that ignores ``Range`` as `OSError`. The process-wide policy comes from
:func:`set_remote` or the environment variables ``RUMI_XARRAY_REMOTE_CONCURRENCY``,
``..._RETRIES``, ``..._BACKOFF``, ``..._MAX_BACKOFF``, ``..._TIMEOUT`` and
``..._MULTIRANGE``; one open
overrides it with ``storage_options={"rumi": {"retries": 2, ...}}`` (that key is taken
out before the rest reaches fsspec).

No HEAD is sent: a reader whose length is not given learns it, with the ETag and
modification time, from its first ranged GET, which takes the first
:data:`~rumi_xarray.format.HEAD_NBYTES` (the header and index of most files) and keeps
them for the description. Given the length, opening sends nothing. Ranges are fetched on
fsspec's event loop, never on the decoding threads (:func:`prefetch`). The readers of
each store are in :mod:`rumi_xarray.stores`.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import os
import random
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from .format import HEAD_NBYTES, SUFFIX_NBYTES
from .io import check_range, checked_length

if TYPE_CHECKING:
    from collections.abc import Awaitable, Buffer, Callable, Coroutine, Hashable, Iterator, Sequence

    import numpy as np

    from .io import Range, RangeReader

__all__ = [
    "ENV_PREFIX",
    "Meta",
    "RemotePolicy",
    "RemoteReader",
    "SpanReader",
    "prefetch",
    "remote_policy",
    "set_remote",
]

T = TypeVar("T")

ENV_PREFIX = "RUMI_XARRAY_REMOTE_"
"""Prefix of the environment variables of each :class:`RemotePolicy` field (upper case)."""


@dataclasses.dataclass(frozen=True, slots=True)
class RemotePolicy:
    """How remote ranges are fetched.

    Parameters
    ----------
    concurrency
        Requests in flight at once for one batch of ranges.
    retries
        Retries of a request after a transient failure (0: none).
    backoff
        Seconds of the first retry's backoff bound; each retry doubles it, and the wait
        is drawn uniformly below the bound ("full jitter").
    max_backoff
        The largest backoff bound, in seconds.
    timeout
        Seconds one request may take, body included; a stalled request is cancelled
        and retried.
    multirange
        Over HTTP, ask for the file's start and its trailer (where a header blob says, else
        the file's last bytes) in one request; servers that answer otherwise are asked one
        range a request instead.
    """

    concurrency: int = 32
    retries: int = 5
    backoff: float = 0.1
    max_backoff: float = 10.0
    timeout: float = 30.0
    multirange: bool = True

    def __post_init__(self) -> None:
        for name in ("concurrency", "retries"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < (name == "concurrency")
            ):
                raise ValueError(
                    f"{name} must be an int >= {int(name == 'concurrency')}, got {value!r}"
                )
        for name in ("backoff", "max_backoff", "timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout!r}")
        if not isinstance(self.multirange, bool):
            raise ValueError(f"multirange must be True or False, got {self.multirange!r}")

    def with_options(self, options: dict[str, Any]) -> RemotePolicy:
        """This policy with some fields replaced (the ``"rumi"`` sub-dict of ``storage_options``)."""
        unknown = set(options) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(
                f"unknown remote option(s) {sorted(unknown)} in storage_options['rumi']"
            )
        return dataclasses.replace(self, **options)

    def delay(self, attempt: int) -> float:
        """The wait before retry ``attempt`` (0-based): full jitter below the bound."""
        return random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))


def _from_environment() -> RemotePolicy:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(RemotePolicy):
        name = ENV_PREFIX + f.name.upper()
        text = os.environ.get(name, "").strip()
        if text:
            values[f.name] = _parse_env(name, text, f.name)
    return RemotePolicy(**values)


def _parse_env(name: str, text: str, field: str) -> int | float | bool:
    if field == "multirange":
        flags = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
        if text.lower() not in flags:
            raise ValueError(f"{name} must be 1/0, true/false or yes/no, got {text!r}")
        return flags[text.lower()]
    try:
        return int(text) if field in ("concurrency", "retries") else float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None


_POLICY: RemotePolicy | None = None
_POLICY_LOCK = threading.Lock()


def remote_policy() -> RemotePolicy:
    """The process-wide policy (read from the environment at first use)."""
    global _POLICY
    with _POLICY_LOCK:
        if _POLICY is None:
            _POLICY = _from_environment()
        return _POLICY


def set_remote(policy: RemotePolicy | None = None, /, **changes: Any) -> RemotePolicy:
    """Set the process-wide :class:`RemotePolicy`, for remote readers opened from now on.

    Parameters
    ----------
    policy
        The new policy (default: the current one), before ``changes``.
    **changes
        ``concurrency``, ``retries``, ``backoff``, ``max_backoff``, ``timeout`` and/or
        ``multirange``.

    Returns
    -------
    RemotePolicy
        The previous policy, so that ``set_remote(previous)`` restores it.

    Raises
    ------
    TypeError, ValueError
        For an unknown field or an invalid value.
    """
    global _POLICY
    previous = remote_policy()
    updated = (policy or previous).with_options(changes)
    with _POLICY_LOCK:
        _POLICY = updated
    return previous


class _Transient(OSError):
    """A failure worth retrying (a 429 or 5xx answer, a truncated body, ...)."""


_RETRYABLE: tuple[type[BaseException], ...] = (_Transient, TimeoutError, ConnectionError, EOFError)


def _retryable() -> tuple[type[BaseException], ...]:
    try:
        import aiohttp
    except ImportError:  # pragma: no cover - aiohttp comes with the remote extra
        return _RETRYABLE
    return (*_RETRYABLE, aiohttp.ClientError)


def _cause(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


Meta = tuple[int | None, str | None, str | None]
"""What a response says of its object: ``(size, etag, last modified)``, each maybe None."""


class RemoteReader:
    """A remote object read by ranged requests on fsspec's event loop, retried by a policy.

    Subclasses implement :meth:`attempt` (one request, no retry), and
    :meth:`attempt_last` where a store can be asked for its last bytes. ``size`` given: no
    request at open; else the first :data:`~rumi_xarray.format.HEAD_NBYTES` are fetched
    at once, giving the size and the version (ETag, modification time) and kept for
    the reads of the description.
    """

    max_gap = 1 << 20
    max_run = 16 << 20
    kind = "remote"

    def __init__(
        self,
        url: str,
        policy: RemotePolicy,
        size: int | None,
        version: Hashable,
        tail: Range | None = None,
    ) -> None:
        self.url, self.policy = url, policy
        self._pid = os.getpid()
        self._held: list[tuple[int, bytes]] = []
        """Ranges fetched at open, kept for the description: ``(offset, bytes)``."""
        if size is None:
            size, version = self._sync(self._first(tail))
        self.size = int(size)
        self._identity = (self.kind, url, self.size, version)

    async def _first(self, tail: Range | None) -> tuple[int, Hashable]:
        """Fetch the first :data:`HEAD_NBYTES` and, at the same time, where the trailer lies
        (:meth:`_trailer`); the size and version. Both are kept for the description."""
        first, trailer = await asyncio.gather(
            self._fetch(0, HEAD_NBYTES, None), self._trailer(tail), return_exceptions=True
        )
        if isinstance(first, BaseException):
            raise first
        head, (size, *versions) = first
        self._held = [(0, head)]
        if trailer is not None and not isinstance(trailer, BaseException):
            self._held.append(trailer)  # else (past the end, failed) read later, if at all
        return int(size if size is not None else len(head)), tuple(versions)

    async def _trailer(self, tail: Range | None) -> tuple[int, bytes] | None:
        """``(offset, bytes)`` of ``tail`` (clipped at the end), or else of the object's last
        :data:`~rumi_xarray.format.SUFFIX_NBYTES` (:meth:`attempt_last`), with retries; None
        when the head reaches into the tail or the store is not asked for its last bytes."""
        if tail is None:
            what = f"reading the last {SUFFIX_NBYTES} bytes"
            return await self._retried(what, lambda: self.attempt_last(SUFFIX_NBYTES))
        if tail[0] < HEAD_NBYTES:
            return None
        return tail[0], (await self._fetch(*tail, None))[0]

    async def attempt_last(self, nbytes: int) -> tuple[int, bytes] | None:
        """One request for the object's last ``nbytes`` (fewer if it is shorter):
        ``(offset, bytes)``; None (and no request) where a store does not ask for them."""
        return None

    @property
    def identity(self) -> Hashable | None:
        """``(kind, URL, size, version)``: the version the first GET (or the opener) gave."""
        return self._identity

    async def attempt(self, offset: int, length: int) -> tuple[bytes, Meta]:
        """One request for ``[offset, offset + length)`` (clipped at the end when unsized)."""
        raise NotImplementedError

    def _sync(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return _run(self.loop, coro)

    async def _fetch(self, offset: int, length: int, size: int | None) -> tuple[bytes, Meta]:
        """One range with retries: exactly ``length`` bytes (fewer only at the end when unsized)."""

        async def once() -> tuple[bytes, Meta]:
            data, meta = await self.attempt(offset, length)
            total = size if size is not None else meta[0]
            want = length if total is None else max(0, min(length, total - offset))
            if len(data) != want:
                raise _Transient(f"truncated body: {len(data)} of {want} bytes")
            return data, meta

        return await self._retried(f"reading bytes {offset}..{offset + length}", once)

    async def _retried(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` under the policy: each try timed out, transient failures retried
        after a backoff; the last failure raised as one error naming the URL and ``what``."""
        policy = self.policy
        for attempt in range(policy.retries + 1):
            try:
                return await asyncio.wait_for(call(), policy.timeout)
            except _retryable() as exc:
                if attempt == policy.retries:
                    msg = f"{self.url}: {what} failed after {attempt + 1} attempt(s): {_cause(exc)}"
                    error = TimeoutError if isinstance(exc, TimeoutError) else OSError
                    raise error(msg) from exc
                await asyncio.sleep(policy.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def fetch_many(self, ranges: Sequence[Range]) -> list[bytes]:
        """Every range, at most ``policy.concurrency`` requests in flight; those inside the
        bytes kept from the open (a small file's whole) are not asked again."""
        gate = asyncio.Semaphore(self.policy.concurrency)

        async def one(offset: int, length: int) -> bytes:
            held = self._cached(offset, length)
            if held is not None:
                return bytes(held)
            async with gate:
                return (await self._fetch(offset, length, self.size))[0]

        return list(await asyncio.gather(*(one(o, n) for o, n in ranges)))

    def _cached(self, offset: int, length: int) -> Buffer | None:
        for start, data in self._held:
            if start <= offset and offset + length <= start + len(data):
                return memoryview(data)[offset - start : offset - start + length]
        return None

    def read(self, offset: int, length: int) -> Buffer:
        check_range(self, offset, length)
        cached = self._cached(offset, length)
        if cached is not None:
            return cached
        (data,) = self._sync(self.fetch_many([(offset, length)]))
        return checked_length(data, offset, length)

    def read_into(self, offset: int, length: int, scratch: np.ndarray) -> Buffer:
        return self.read(offset, length)

    def iter_ranges(self, ranges: Sequence[Range]) -> Iterator[Buffer]:
        for offset, length in ranges:
            check_range(self, offset, length)
        held = [self._cached(o, n) for o, n in ranges]
        blobs = held if all(b is not None for b in held) else self._sync(self.fetch_many(ranges))
        for (offset, length), data in zip(ranges, blobs, strict=True):
            yield checked_length(data, offset, length)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """fsspec's event loop; in a forked child the filesystem is first made anew (its
        session belonged to the parent's loop)."""
        import fsspec.asyn

        if self._pid != os.getpid():
            self._pid = os.getpid()
            fs = getattr(self, "fs", None)
            if fs is not None:
                self.fs = type(fs)(**fs.storage_options)
        loop: asyncio.AbstractEventLoop = fsspec.asyn.get_loop()
        return loop

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the bytes kept from the open (fsspec filesystems pickle by reopening)."""
        return {**self.__dict__, "_held": [], "_pid": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pid = os.getpid()


def _run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` on the event loop's thread and wait for it; its exceptions as they are.

    (``fsspec.asyn.sync`` would turn a `TimeoutError` into a message-less one of its own.)
    """
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


class SpanReader:
    """Another reader's ranges held in memory (fetched by :func:`prefetch`); the rest read through."""

    def __init__(
        self, reader: RangeReader, spans: Sequence[Range], blobs: Sequence[Buffer]
    ) -> None:
        self.reader = reader
        self.size, self.max_gap, self.max_run = reader.size, reader.max_gap, reader.max_run
        order = sorted(range(len(spans)), key=lambda i: spans[i][0])
        self._starts = [spans[i][0] for i in order]
        self._spans = [(spans[i], memoryview(blobs[i])) for i in order]

    @property
    def identity(self) -> Hashable | None:
        return self.reader.identity

    def read(self, offset: int, length: int) -> Buffer:
        i = bisect.bisect_right(self._starts, offset) - 1
        if i >= 0:
            (start, n), blob = self._spans[i]
            if offset + length <= start + n:
                return blob[offset - start : offset - start + length]
        return self.reader.read(offset, length)

    def read_into(self, offset: int, length: int, scratch: np.ndarray) -> Buffer:
        return self.read(offset, length)

    def iter_ranges(self, ranges: Sequence[Range]) -> Iterator[Buffer]:
        for offset, length in ranges:
            yield self.read(offset, length)


def prefetch(requests: Sequence[tuple[RangeReader, Sequence[Range]]]) -> list[RangeReader]:
    """Fetch the ranges of every remote reader at once, concurrently on the event loop.

    Returns one :class:`SpanReader` per request, serving those ranges from memory (other
    readers are returned as they are).
    """
    remote = [
        (i, r, ranges) for i, (r, ranges) in enumerate(requests) if isinstance(r, RemoteReader)
    ]
    out = [reader for reader, _ in requests]
    if not remote:
        return out
    for reader, ranges in ((r, ranges) for _, r, ranges in remote):
        for offset, length in ranges:
            check_range(reader, offset, length)

    async def everything() -> list[list[bytes]]:
        return list(await asyncio.gather(*(r.fetch_many(ranges) for _, r, ranges in remote)))

    results = _run(remote[0][1].loop, everything())
    for (i, reader, ranges), blobs in zip(remote, results, strict=True):
        out[i] = SpanReader(reader, ranges, blobs)
    return out


def split_options(storage_options: dict[str, Any] | None) -> tuple[dict[str, Any], RemotePolicy]:
    """fsspec's options and the policy: the ``"rumi"`` key taken out as overrides."""
    options = dict(storage_options or {})
    ours = options.pop("rumi", None) or {}
    if not isinstance(ours, dict):
        raise TypeError(f"storage_options['rumi'] must be a dict of remote options, got {ours!r}")
    return options, remote_policy().with_options(ours)
