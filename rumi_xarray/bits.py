"""LSB-first bit packing of unsigned integers (blob byte counts §10, time residuals §9)."""

from __future__ import annotations

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
    if bits == 0 or n == 0:
        return np.zeros(n, np.uint64)
    if n * bits <= _SMALL_BITS:  # a blob of a small file, a few time residuals: one int
        whole, mask = int.from_bytes(data, "little"), (1 << bits) - 1
        return np.array([(whole >> (i * bits)) & mask for i in range(n)], np.uint64)
    out = np.zeros(n, np.uint64)
    raw = np.frombuffer(data, np.uint8)
    weights = np.left_shift(np.uint64(1), np.arange(bits, dtype=np.uint64))
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        first = start * bits // 8
        chunk = raw[first : first + packed_nbytes(stop - start, bits)]
        flags = np.unpackbits(chunk, bitorder="little")[: (stop - start) * bits]
        out[start:stop] = (flags.reshape(-1, bits).astype(np.uint64) * weights).sum(
            axis=1, dtype=np.uint64
        )
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
    used = n * bits
    if used % 8 == 0 or not data:
        return True
    return (data[-1] >> (used % 8)) == 0
