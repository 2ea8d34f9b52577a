"""The decoding map of an OpenZL frame, read from its header bytes (stdlib only).

An OpenZL frame header states its outputs' types and sizes but not a numeric output's
element width: the decoders that regenerate the output decide it, from the transform
IDs, their private headers and how streams connect, never from the stored streams'
contents. `skeleton` returns exactly those header bytes, so frames with the same
skeleton decode to the same element width, and a width learnt once (by a decoder that
reports it) applies to every frame of that skeleton.

The layout follows OpenZL's ``wire_format.h`` (format versions 8 to 27). A frame this
reader does not understand, or whose parts do not add up to its exact length, has no
skeleton (``None``): callers then learn the width by decoding it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Buffer

__all__ = ["MAGIC_BASE", "MAX_SKELETONS", "known_width", "learn_width", "skeleton"]

MAGIC_BASE: Final = 0xD7B1A5C0
"""The magic number of format version ``v`` is ``MAGIC_BASE + v`` (u32 little-endian)."""

MAX_SKELETONS: Final = 1024
"""Element widths remembered (the oldest is forgotten first)."""

_CHUNKS: Final = 21  # first format with frame flags, varint sizes and several chunks
_MAX_CHUNKS: Final = 4096
_MAX_KEY: Final = 4096  # skeletons longer than this are not remembered
_WIDTHS: dict[bytes, int] = {}
_LOCK = threading.Lock()  # decoding threads learn widths concurrently


class _Bad(Exception):
    """A frame this reader does not follow."""


class _Cursor:
    """Reads a frame front to back; every read is bounds-checked."""

    __slots__ = ("at", "data", "end")

    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.at = 0
        self.end = len(data)

    def skip(self, count: int) -> None:
        at = self.at + count
        if count < 0 or at > self.end:
            raise _Bad
        self.at = at

    def take(self, count: int) -> bytes:
        start = self.at
        self.skip(count)
        return bytes(self.data[start : self.at])

    def byte(self) -> int:
        at = self.at
        if at >= self.end:
            raise _Bad
        self.at = at + 1
        return self.data[at]

    def varint(self) -> int:
        data, at, end = self.data, self.at, self.end
        value = shift = 0
        while at < end:
            b = data[at]
            at += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                self.at = at
                return value
            shift += 7
            if shift > 63:
                raise _Bad
        raise _Bad

    def bits(self, count: int, width: int) -> list[int]:
        """``count`` values of ``width`` bits, packed from the lowest bit up."""
        raw = int.from_bytes(self.take((count * width + 7) // 8), "little")
        mask = (1 << width) - 1
        return [(raw >> (i * width)) & mask for i in range(count)]


def _ceil_log2(n: int) -> int:
    return max(0, (n - 1).bit_length())


def skeleton(frame: Buffer) -> bytes | None:
    """Return the bytes that fix a frame's output element widths, or None.

    These are the frame header and, of each chunk, the decoding map and the decoders'
    private headers: everything but the stored streams' sizes and contents and the
    checksums. None when the frame is not one this reader follows exactly. Nothing
    but these header bytes is copied.
    """
    try:
        return _skeleton(memoryview(frame).cast("B"))
    except (_Bad, TypeError):
        return None


def known_width(key: bytes | None) -> int | None:
    """The element width learnt for frames of skeleton ``key``, if any."""
    return None if key is None else _WIDTHS.get(key)


def learn_width(key: bytes | None, width: int) -> None:
    """Remember the element width a decoder reported for a frame of skeleton ``key``."""
    if key is None or len(key) > _MAX_KEY:
        return
    with _LOCK:
        if len(_WIDTHS) >= MAX_SKELETONS:
            del _WIDTHS[next(iter(_WIDTHS))]
        _WIDTHS[key] = width


def _skeleton(frame: memoryview) -> bytes:
    cur = _Cursor(frame)
    magic = int.from_bytes(cur.take(4), "little")
    version = magic - MAGIC_BASE
    if not 8 <= version <= 255:
        raise _Bad
    checksums = _frame_header(cur, version)
    parts = [bytes(frame[: cur.at])]
    for _ in range(_MAX_CHUNKS):
        if version >= _CHUNKS and cur.byte() == 0:  # end-of-frame marker
            break
        if version >= _CHUNKS:
            cur.at -= 1
        parts.append(_chunk(cur, version, checksums))
        if version < _CHUNKS:
            break
    else:
        raise _Bad
    if cur.at != len(frame):
        raise _Bad
    return b"".join(parts)


def _frame_header(cur: _Cursor, version: int) -> int:
    """Skip the frame header; return the checksum bytes per chunk (v21+, else -1)."""
    if version < _CHUNKS:
        if version >= 14:
            cur.byte()  # output type(s), one output only
        if version > 14 and cur.data[4] >= 64:
            raise _Bad
        cur.skip(4)  # decoded size, u32
        return -1
    flags = cur.byte()
    if flags & ~3:
        raise _Bad  # a comment, or a property this reader does not know
    token = cur.byte()
    if token & 15 != 1 or token >> 4 & 3 == 3:
        raise _Bad  # one output, not of strings (which also count their strings)
    if cur.varint() == 0:
        raise _Bad  # size unknown up front: then each chunk states it
    if flags & 2:
        cur.byte()  # header checksum
    return 4 * ((flags & 1) + (flags >> 1 & 1))


def _chunk(cur: _Cursor, version: int, checksums: int) -> bytes:
    """Skip one chunk; return its decoding map and private headers."""
    start = cur.at
    if version < 9:
        decoders, stored = cur.byte(), cur.byte()
    else:
        decoders = cur.varint() - (version >= _CHUNKS)
        stored = cur.varint()
    if decoders < 0 or decoders > 4096 or stored > 65536:
        raise _Bad
    if version < _CHUNKS:
        flags = cur.byte()
        checksums = 4 * ((flags & 1) + (flags >> 1 & 1))
    custom = cur.bits(decoders, 1)
    standard = decoders - sum(custom)
    cur.skip((standard * (6 if version < 24 else 7) + 7) // 8)
    for _ in range(decoders - standard):
        cur.varint()
    header_bytes = sum(size + 1 for size in _flagged(cur, decoders))
    _flagged(cur, decoders)  # variable outputs per decoder
    regens = decoders + sum(n + 1 for n in _flagged(cur, decoders)) if version >= 16 else decoders
    cur.skip((regens * _ceil_log2(regens + stored) + 7) // 8)
    table = bytes(cur.data[start : cur.at])
    sizes = [cur.varint() for _ in range(stored)]
    headers = cur.take(header_bytes)
    cur.skip(sum(sizes) + checksums)
    return table + headers


def _flagged(cur: _Cursor, count: int) -> list[int]:
    """One bit-packed flag per decoder, then a varint for each decoder flagged."""
    return [cur.varint() for flag in cur.bits(count, 1) if flag]
