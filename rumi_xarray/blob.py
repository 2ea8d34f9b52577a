"""External header blobs (§10; pure: bytes in): the index of a file, packed into a few bytes.

:func:`parse_blob` checks a blob and returns the :class:`~rumi_xarray.layout.FrameTable`
it describes, bounding the frame count before any count is unpacked; :func:`parse_blobs`
does the same for many blobs at once (a catalog's column), parsing each layout once and
unpacking the counts of all blobs of a layout together; :func:`build_blob` writes the
canonical blob of a table. Both parsers apply the same checks, written once, row-wise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .bits import distinct_rows, pack_bits, packed_nbytes, trailing_zero_rows, unpack_rows
from .errors import RumiFormatError
from .ifd import lookup_sample
from .layout import FrameGrid, FrameTable, base_frame_offset
from .spec import BLOB_MAGIC, MAX_BLOB_FRAMES, MAX_DIMENSION, Generation

if TYPE_CHECKING:
    from collections.abc import Buffer

    from .spec import SampleType

_FIELDS = (
    "width",
    "length",
    "times",
    "tile_width",
    "tile_length",
    "bands",
    "bits",
    "sample_format",
    "unit",
    "count_min",
    "count_bits",
)
"""The blob header's values after its magic and version, in order (:func:`_names`)."""

_DIMS = ("length", "width", "tile_length", "tile_width", "bands", "times")
_COUNT_FIELDS = 5
"""Bytes at the end of the header that vary between files written alike (count_min, count_bits)."""


def parse_blob(
    blob: Buffer, *, generation: Generation | None = None, source_length: int | None = None
) -> FrameTable:
    """Parse an external header blob.

    ``generation`` picks the 32-byte (0.18+) or 28-byte (0.15/0.16) layout; without it
    the layout is tried both ways and must fit exactly one. ``source_length``, when
    known, bounds the frame count before the counts are unpacked.
    """
    buf = memoryview(blob)
    if not len(buf):
        raise RumiFormatError.invalid(
            "header blob", "the header blob is empty", offset=0, expected="a blob", found=b""
        )
    if generation is not None:
        return _parse_blob(buf, generation, source_length)
    try:
        return _parse_blob(buf, Generation.RUMI_TAIL, source_length)
    except RumiFormatError as current:
        try:
            return _parse_blob(buf, Generation.BIGTIFF, source_length)
        except RumiFormatError:
            raise current from None


def _parse_blob(buf: memoryview, generation: Generation, source_length: int | None) -> FrameTable:
    fields = _header_fields(buf, generation)
    grid, sample = _layout(fields, generation)
    counts = _counts(buf, generation, grid, fields, source_length)
    frames = FrameTable(generation, grid, sample, fields["unit"], counts)
    frames.check_frame_size()
    return frames


def _layout(fields: dict[str, int], generation: Generation) -> tuple[FrameGrid, SampleType]:
    """The grid and sample type the header's fields describe, checked."""
    width, length, tw, tl = (fields[n] for n in ("width", "length", "tile_width", "tile_length"))
    bands, times, unit = fields["bands"], fields["times"], fields["unit"]
    if 0 in (dims := (width, length, tw, tl, bands, times)) or max(width, length) > MAX_DIMENSION:
        msg = f"invalid dimensions: {width}x{length} pixels, tile {tw}x{tl}, {bands} bands, {times} steps"
        limits = f"non-zero, at most {MAX_DIMENSION} pixels"
        raise RumiFormatError.invalid("dimensions", msg, offset=6, expected=limits, found=dims)
    sample = lookup_sample(fields["sample_format"], fields["bits"], generation)
    grid_unit = unit
    if generation is Generation.BIGTIFF:
        if unit > 1:
            raise RumiFormatError.mismatch(
                "blob frame_unit", expected="0 (tile) or 1 (cell)", found=unit
            )
        grid_unit = 0 if bands == 1 else unit
    grid = FrameGrid.from_unit(**{n: fields[n] for n in _DIMS}, unit=grid_unit)
    n = grid.frame_count
    if n > 2**32 - 1:
        msg = f"frame count overflows uint32 ({n} frames)"
        raise RumiFormatError.invalid("frame count", msg, expected=f"<= {2**32 - 1}", found=n)
    return grid, sample


def _header_fields(buf: memoryview, generation: Generation) -> dict[str, int]:
    """The header's values by name, after checking its length, magic and version."""
    layout = generation.blob_header
    if len(buf) < layout.size:
        msg = f"blob shorter than header ({len(buf)} < {layout.size} bytes)"
        raise RumiFormatError.invalid("blob", msg, offset=0, expected=layout.size, found=len(buf))
    magic, version, *values = layout.unpack_from(buf)
    if magic != BLOB_MAGIC:
        raise RumiFormatError.mismatch("blob magic", expected=BLOB_MAGIC, found=magic, offset=0)
    if version != 1:
        raise RumiFormatError.mismatch("blob version", expected=1, found=version, offset=4)
    return {"times": 1, **dict(zip(_names(generation), values, strict=True))}


# ---------------------------------------------------------------------------------------
# The frame byte counts, checked row-wise (one blob is one row)


def _counts(
    buf: memoryview,
    generation: Generation,
    grid: FrameGrid,
    fields: dict[str, int],
    source_length: int | None,
) -> np.ndarray:
    """The frame byte counts packed after the header, checked canonical (§10)."""
    n, count_min, count_bits = grid.frame_count, fields["count_min"], fields["count_bits"]
    size = generation.blob_header.size
    base = base_frame_offset(generation, grid.bands, n)
    row = _CountFields(np.array([count_min]), np.array([count_bits]), np.array([len(buf)]))
    failed = [bool(check[0]) for check in _field_checks(n, size, base, source_length, row)]
    if any(failed):
        _raise_field_problem(failed.index(True), n, size, base, source_length, row)
    packed = np.frombuffer(buf[size:], np.uint8)[None]
    counts, trailing, canonical = _unpack_counts(packed, n, count_bits, row.count_min)
    if not trailing[0]:
        raise RumiFormatError.invalid(
            "frame byte counts", "frame byte counts are not packed canonically", offset=len(buf) - 1
        )
    if not canonical[0]:
        best = (int(counts.min()), int(counts.max() - counts.min()).bit_length())
        msg = "frame byte counts are not packed canonically"
        raise RumiFormatError.invalid(
            "frame byte counts", msg, offset=size - 5, expected=best, found=(count_min, count_bits)
        )
    first: np.ndarray = counts[0]
    return first


@dataclass(frozen=True, slots=True)
class _CountFields:
    """``count_min``, ``count_bits`` and the blob's length, one value per blob."""

    count_min: np.ndarray
    count_bits: np.ndarray
    nbytes: np.ndarray


def _field_checks(
    n: int, size: int, base: int, source_length: int | None, rows: _CountFields
) -> list[np.ndarray]:
    """The checks of the counts' fields, in the order they are reported; True where one fails."""
    bits = rows.count_bits.astype(np.int64)
    if source_length is not None:  # base + n * count_min > source_length, without overflow
        too_many = rows.count_min.astype(np.int64) > (source_length - base) // n
    else:
        too_many = (bits == 0) & (n > MAX_BLOB_FRAMES)
    return [bits > 32, rows.count_min == 0, rows.nbytes != size + (n * bits + 7) // 8, too_many]


def _raise_field_problem(
    check: int, n: int, size: int, base: int, source_length: int | None, row: _CountFields
) -> None:
    """Raise the error of check number ``check`` of :func:`_field_checks` for one blob."""
    count_min, bits, nbytes = (int(a[0]) for a in (row.count_min, row.count_bits, row.nbytes))
    if check == 0:
        msg = f"count_bits above 32 ({bits})"
        raise RumiFormatError.invalid(
            "count_bits", msg, offset=size - 1, expected="0..32", found=bits
        )
    if check == 1:
        msg = "frame byte count is zero"
        raise RumiFormatError.invalid(
            "frame byte count", msg, offset=size - 5, expected="at least 1", found=0
        )
    if check == 2:
        want = size + packed_nbytes(n, bits)
        msg = (
            f"blob size does not match frame count: {nbytes} bytes for {n} frames of "
            f"{bits} bits (expected {want})"
        )
        raise RumiFormatError.invalid("blob size", msg, offset=0, expected=want, found=nbytes)
    if source_length is not None:
        need = base + n * count_min
        msg = f"frame data needs at least {need} bytes, source has {source_length}"
        raise RumiFormatError.invalid("frame data", msg, expected=need, found=source_length)
    msg = f"the blob declares {n} frames, more than the {MAX_BLOB_FRAMES} accepted"
    raise RumiFormatError.invalid("frames", msg, expected=f"<= {MAX_BLOB_FRAMES}", found=n)


def _unpack_counts(
    packed: np.ndarray, n: int, bits: int, count_min: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(counts, trailing bits zero, canonical)`` of blobs whose counts take ``bits`` bits.

    ``packed`` holds one blob's packed counts per row. Canonical: the smallest count is
    ``count_min`` and the largest needs exactly ``bits`` bits above it.
    """
    trailing = trailing_zero_rows(packed, n, bits)
    residuals = unpack_rows(packed, n, bits)
    largest = residuals.max(axis=1)
    width = np.where(largest > 0, np.frexp(largest.astype(np.float64))[1], 0)
    canonical = (residuals.min(axis=1) == 0) & (width == bits)
    return residuals + count_min.astype(np.uint64)[:, None], trailing, canonical


# ---------------------------------------------------------------------------------------
# Many blobs at once


@dataclass(frozen=True, slots=True, eq=False)
class BlobGroup:
    """The blobs of files written alike: one layout, the frame byte counts of each file."""

    rows: np.ndarray
    """Positions of these blobs among those parsed (int64, ascending)."""
    frames: FrameTable
    """The layout (generation, grid, sample type, unit), with the first blob's counts."""
    counts: np.ndarray
    """``(len(rows), frames)`` uint64: each blob's frame byte counts."""


def parse_blobs(
    data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, generation: Generation
) -> tuple[list[BlobGroup], np.ndarray]:
    """Parse many blobs of one generation, as :func:`parse_blob` parses each alone.

    Blob ``i`` is ``data[starts[i]:starts[i] + lengths[i]]`` (uint8 data, int64
    positions: e.g. an Arrow binary column's buffers). Blobs that share their layout
    (every header field but ``count_min`` and ``count_bits``) are parsed once; their
    counts are checked and unpacked together.

    Returns
    -------
    groups, rejected
        The groups of sound blobs, and a bool per blob: True where :func:`parse_blob`
        (with ``source_length=None``) raises for it; call it for the error.
    """
    size = generation.blob_header.size
    blobs = _Blobs(data, np.asarray(starts, np.int64), np.asarray(lengths, np.int64))
    rejected = blobs.lengths < size
    sound = np.flatnonzero(~rejected)
    heads = blobs.columns(sound, 0, size)
    codes, firsts = distinct_rows(heads[:, : size - _COUNT_FIELDS])
    groups = []
    for code, first in enumerate(firsts.tolist()):
        at = np.flatnonzero(codes == code)
        try:
            fields = _header_fields(memoryview(heads[first]), generation)
            grid, sample = _layout(fields, generation)
        except RumiFormatError:
            rejected[sound[at]] = True
            continue
        good, counts = _group_counts(blobs, generation, grid, sound[at], heads[at])
        rejected[sound[at][~good]] = True
        if not good.any():
            continue
        frames = FrameTable(generation, grid, sample, fields["unit"], counts[0])
        try:
            frames.check_frame_size()
        except RumiFormatError:
            rejected[sound[at]] = True
            continue
        groups.append(BlobGroup(sound[at][good], frames, counts))
    return groups, rejected


@dataclass(frozen=True, slots=True, eq=False)
class _Blobs:
    """Variable-length blobs in one buffer; seen as a matrix when they lie end to end alike."""

    data: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray

    def columns(self, rows: np.ndarray, start: int, width: int) -> np.ndarray:
        """Bytes ``[start, start + width)`` of the blobs ``rows``, as a ``(rows, width)`` array."""
        n, starts = self.lengths.size, self.starts
        if (
            n
            and (self.lengths == self.lengths[0]).all()
            and (np.diff(starts) == self.lengths[0]).all()
        ):
            matrix = self.data[starts[0] : starts[0] + n * int(self.lengths[0])]
            return matrix.reshape(n, -1)[rows, start : start + width]
        out = np.empty((rows.size, width), np.uint8)
        at = starts[rows] + start
        for j in range(width):  # a column at a time: no (rows, width) index array
            out[:, j] = self.data[at + j]
        return out


def _group_counts(
    blobs: _Blobs, generation: Generation, grid: FrameGrid, rows: np.ndarray, heads: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(sound, counts)`` of blobs of one layout: a bool per blob, the sound ones' counts."""
    size, n = generation.blob_header.size, grid.frame_count
    base = base_frame_offset(generation, grid.bands, n)
    tail = np.ascontiguousarray(heads[:, size - _COUNT_FIELDS :])
    fields = _CountFields(tail[:, :4].copy().view("<u4")[:, 0], tail[:, 4], blobs.lengths[rows])
    sound = ~np.logical_or.reduce(_field_checks(n, size, base, None, fields))
    kept = np.flatnonzero(sound)  # the checks bound n: only now are counts allocated
    counts = np.empty((kept.size, n), np.uint64)
    for bits in np.unique(fields.count_bits[kept]).tolist():
        at = np.flatnonzero(fields.count_bits[kept] == bits)
        packed = blobs.columns(rows[kept[at]], size, packed_nbytes(n, bits))
        min_ = fields.count_min[kept[at]]
        counts[at], trailing, canonical = _unpack_counts(packed, n, bits, min_)
        sound[kept[at]] &= trailing & canonical
    return sound, counts[sound[kept]]


def build_blob(
    generation: Generation, grid: FrameGrid, sample: SampleType, unit: int, counts: np.ndarray
) -> bytes:
    """Canonical blob: minimum count, least bit width, zero padding (§10)."""
    counts = np.asarray(counts, np.uint64)
    count_min = int(counts.min())
    bits = int(counts.max() - count_min).bit_length()
    values = {n: getattr(grid, n) for n in _DIMS} | {
        "bits": sample.bits,
        "sample_format": sample.sample_format,
        "unit": unit,
        "count_min": count_min,
        "count_bits": bits,
    }
    head = generation.blob_header.pack(BLOB_MAGIC, 1, *(values[n] for n in _names(generation)))
    return head + pack_bits(counts - np.uint64(count_min), bits)


def _names(generation: Generation) -> list[str]:
    """The header's fields after magic and version, in order (0.15/0.16 has no ``times``)."""
    return [n for n in _FIELDS if n != "times" or generation is not Generation.BIGTIFF]
