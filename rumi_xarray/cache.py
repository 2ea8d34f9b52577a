"""One per-process cache of decoded frames, shared by every open dataset.

Frames are keyed by ``(reader identity, frame index)`` (:attr:`rumi_xarray.io.LocalReader.identity`:
path, device, inode, size and mtime for local files; URL, size and ETag or modification
time for remote objects; readers of bytes or file objects have none and are never
cached). The cache is bounded in bytes, evicts the least recently used frame first, and
stores frames read-only; :func:`rumi_xarray.decode.read_window` copies out of it.

The bound is :data:`DEFAULT_NBYTES` unless the environment variable
``RUMI_XARRAY_FRAME_CACHE`` (bytes, read at first use) or :func:`set_frame_cache` says
otherwise; ``0`` turns the cache off.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Hashable, Iterable, Sequence

    import numpy as np

__all__ = ["DEFAULT_NBYTES", "ENV_VAR", "FrameCache", "frame_cache", "set_frame_cache"]

DEFAULT_NBYTES = 256 << 20
"""The bound when neither the environment variable nor :func:`set_frame_cache` sets one."""

ENV_VAR = "RUMI_XARRAY_FRAME_CACHE"


class FrameCache:
    """Decoded frames, at most ``maxbytes`` bytes of them, least recently used evicted first.

    Parameters
    ----------
    maxbytes
        The bound in bytes; 0 stores nothing.

    Notes
    -----
    One lock guards the table; it is held only to look up, insert or evict, never while
    decoding. A frame larger than the bound is not stored.
    """

    def __init__(self, maxbytes: int) -> None:
        self._lock = threading.Lock()
        self._frames: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._maxbytes = _checked(maxbytes, "maxbytes")
        self.nbytes = 0
        """Bytes held now, never above :attr:`maxbytes`."""

    @property
    def maxbytes(self) -> int:
        """The bound in bytes (0: off)."""
        return self._maxbytes

    def resize(self, maxbytes: int) -> None:
        """Change the bound, evicting the oldest frames past it."""
        maxbytes = _checked(maxbytes, "maxbytes")
        with self._lock:
            self._maxbytes = maxbytes
            self._evict()

    def clear(self) -> None:
        """Drop every frame."""
        with self._lock:
            self._frames.clear()
            self.nbytes = 0

    def keys(self) -> list[Hashable]:
        """The keys held, least recently used first."""
        with self._lock:
            return list(self._frames)

    def get_many(self, keys: Sequence[Hashable]) -> list[np.ndarray | None]:
        """The frames of ``keys`` (None where absent), each marked as just used."""
        found: list[np.ndarray | None] = []
        with self._lock:
            for key in keys:
                frame = self._frames.get(key)
                if frame is not None:
                    self._frames.move_to_end(key)
                found.append(frame)
        return found

    def put_many(self, items: Iterable[tuple[Hashable, np.ndarray]]) -> None:
        """Store read-only frames (each no larger than the bound), then evict past the bound."""
        with self._lock:
            for key, frame in items:
                if frame.nbytes > self._maxbytes:
                    continue
                old = self._frames.pop(key, None)
                if old is not None:
                    self.nbytes -= old.nbytes
                self._frames[key] = frame
                self.nbytes += frame.nbytes
            self._evict()

    def _evict(self) -> None:
        while self.nbytes > self._maxbytes:
            _, frame = self._frames.popitem(last=False)
            self.nbytes -= frame.nbytes

    def after_fork(self) -> None:
        """A fresh lock in a forked child (the parent's may have been held by another thread)."""
        self._lock = threading.Lock()


def _checked(nbytes: object, name: str) -> int:
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
        raise ValueError(f"{name} must be a non-negative int of bytes, got {nbytes!r}")
    return nbytes


def _from_environment() -> int:
    value = os.environ.get(ENV_VAR)
    if value is None or not value.strip():
        return DEFAULT_NBYTES
    try:
        nbytes = int(value)
    except ValueError:
        nbytes = -1
    if nbytes < 0:
        raise ValueError(f"{ENV_VAR} must be a non-negative number of bytes, got {value!r}")
    return nbytes


_CACHE: FrameCache | None = None
_CACHE_LOCK = threading.Lock()


def frame_cache() -> FrameCache:
    """The process's frame cache, made at first use (reading ``RUMI_XARRAY_FRAME_CACHE``)."""
    global _CACHE
    if _CACHE is None:
        with _CACHE_LOCK:
            if _CACHE is None:
                _CACHE = FrameCache(_from_environment())
                if hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=_CACHE.after_fork)
    return _CACHE


def set_frame_cache(nbytes: int) -> int:
    """Bound the decoded-frame cache shared by every open rumi file, in bytes.

    Parameters
    ----------
    nbytes
        The new bound; ``0`` turns the cache off (and empties it). The default is
        256 MiB, or the environment variable ``RUMI_XARRAY_FRAME_CACHE`` where set.

    Returns
    -------
    int
        The previous bound, so that ``set_frame_cache(previous)`` restores it.

    Raises
    ------
    ValueError
        If ``nbytes`` is not a non-negative int.
    """
    cache = frame_cache()
    previous = cache.maxbytes
    cache.resize(_checked(nbytes, "nbytes"))
    return previous
