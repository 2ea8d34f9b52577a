"""LSB-first bit packing of unsigned integers (blob byte counts §10, time residuals §9).

Unpacking works on rows: one packed run per row of a 2-D ``uint8`` array, so that the
header blobs of many files (a catalog) unpack in one call; a single run is one row.
"""

from __future__ import annotations

import math

import numpy as np

_CHUNK = 1 << 16  # values per step; a multiple of 8 so every step starts on a byte
_SMALL_BITS = 1 << 10
"""Packed values up to this many bits are unpacked from one Python int (faster than numpy)."""


def packed_nbytes(n: int, bits: int) -> int:
    """Bytes that ``n`` values of ``bits`` bits take."""
    return (n * bits + 7) // 8


def unpack_bits(data: bytes | memoryview, n: int, bits: int) -> np.ndarray:
    """Unpack ``n`` values of ``bits`` bits (0..64), LSB-first, as uint64.

    ``data`` must hold exactly :func:`packed_nbytes` bytes; callers check that first.
    """
    if n * bits <= _SMALL_BITS and bits:  # a blob of a small file, a few time residuals: one int
        whole, mask = int.from_bytes(data, "little"), (1 << bits) - 1
        return np.array([(whole >> (i * bits)) & mask for i in range(n)], np.uint64)
    values: np.ndarray = unpack_rows(np.frombuffer(data, np.uint8)[None], n, bits)[0]
    return values


def unpack_rows(rows: np.ndarray, n: int, bits: int) -> np.ndarray:
    """Unpack ``n`` values of ``bits`` bits (0..64) from every row of ``rows``.

    ``rows`` is ``(m, packed_nbytes(n, bits))`` uint8, one packed run per row; the
    result is ``(m, n)`` uint64. Work goes in steps of about ``2**16`` values.
    """
    m = rows.shape[0]
    out = np.zeros((m, n), np.uint64)
    if bits == 0 or n == 0 or m == 0:
        return out
    span = min(_CHUNK, -(-n // 8) * 8)
    block = max(1, _CHUNK // span)
    for start in range(0, n, span):
        stop = min(n, start + span)
        first, count = start * bits // 8, stop - start
        part = rows[:, first : first + packed_nbytes(count, bits)]
        for r in range(0, m, block):
            flags = np.unpackbits(part[r : r + block], axis=1, bitorder="little")
            wide = np.zeros((flags.shape[0], count, 64), np.uint8)
            wide[..., :bits] = flags[:, : count * bits].reshape(-1, count, bits)
            words = np.packbits(wide, axis=2, bitorder="little").view("<u8")
            out[r : r + block, start:stop] = words[..., 0]
    return out


def pack_bits(values: np.ndarray, bits: int) -> bytes:
    """Pack unsigned values into ``bits`` bits each, LSB-first; unused high bits are 0."""
    values = np.asarray(values, np.uint64)
    if bits == 0 or values.size == 0:
        return b""
    shifts = np.arange(bits, dtype=np.uint64)
    flags = ((values[:, None] >> shifts) & np.uint64(1)).astype(np.uint8)
    return np.packbits(flags.ravel(), bitorder="little").tobytes()


def trailing_bits_zero(data: bytes | memoryview, n: int, bits: int) -> bool:
    """Whether the bits after the last of ``n`` packed values are all zero."""
    return bool(trailing_zero_rows(np.frombuffer(data, np.uint8)[None], n, bits)[0])


def trailing_zero_rows(rows: np.ndarray, n: int, bits: int) -> np.ndarray:
    """:func:`trailing_bits_zero` of every row of a 2-D ``uint8`` array (bool per row)."""
    used = n * bits
    if used % 8 == 0 or not rows.shape[1]:
        return np.ones(rows.shape[0], bool)
    return np.asarray(rows[:, -1] >> (used % 8) == 0)


def distinct_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group the rows of a 2-D array by value: ``(code of each row, first row of each code)``.

    Codes number the distinct rows in order of first appearance. A few distinct rows
    among many (the common case: files written alike) are peeled off one by one;
    many fall back to a sort.
    """
    n = keys.shape[0]
    if keys.dtype.kind in "iu" and n and keys.shape[1]:
        low, high = keys.min(axis=0).astype(np.int64), keys.max(axis=0).astype(np.int64)
        spans = [int(h) - int(lo) + 1 for lo, h in zip(low.tolist(), high.tolist(), strict=True)]
        size = math.prod(spans)
        if size < 1 << 62:  # the rows as one integer each
            weights = np.cumprod([1, *spans[:0:-1]])[::-1].astype(np.int64)
            combined = (keys.astype(np.int64) - low) @ weights
            if size <= 4 * n:  # few possible values: counted, not sorted
                first = np.full(size, n, np.int64)
                np.minimum.at(first, combined, np.arange(n))
                present = np.flatnonzero(first < n)
                order = present[np.argsort(first[present])]
                code = np.empty(size, np.int64)
                code[order] = np.arange(order.size)
                return code[combined], first[order]
            _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
            return _by_appearance(first, inverse.ravel())
    codes = np.full(n, -1, np.int64)
    firsts: list[int] = []
    rest = np.arange(n)
    while rest.size and len(firsts) < 16:
        same = (keys[rest] == keys[rest[0]]).all(axis=1)
        codes[rest[same]] = len(firsts)
        firsts.append(int(rest[0]))
        rest = rest[~same]
    if rest.size:
        _, first, inverse = np.unique(keys[rest], axis=0, return_index=True, return_inverse=True)
        found, where = _by_appearance(first, inverse.ravel())
        codes[rest] = len(firsts) + found
        firsts.extend(rest[where].tolist())
    return codes, np.asarray(firsts, np.int64)


def _by_appearance(first: np.ndarray, inverse: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique``'s codes renumbered by first appearance, and each code's first row."""
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse], first[order]
