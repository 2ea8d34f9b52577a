"""External header blobs (§10; pure: bytes in): the index of a file, packed into a few bytes.

:func:`parse_blob` checks a blob and returns the :class:`~rumi_xarray.layout.FrameTable`
it describes, bounding the frame count before any count is unpacked; :func:`build_blob`
writes the canonical blob of a table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .bits import pack_bits, packed_nbytes, trailing_bits_zero, unpack_bits
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
    counts = _counts(buf, generation, grid, fields, source_length)
    frames = FrameTable(generation, grid, sample, unit, counts)
    frames.check_frame_size()
    return frames


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
    if n > 2**32 - 1:
        msg = f"frame count overflows uint32 ({n} frames)"
        raise RumiFormatError.invalid("frame count", msg, expected=f"<= {2**32 - 1}", found=n)
    if count_bits > 32:
        msg = f"count_bits above 32 ({count_bits})"
        raise RumiFormatError.invalid(
            "count_bits", msg, offset=size - 1, expected="0..32", found=count_bits
        )
    if count_min == 0:
        msg = "frame byte count is zero"
        raise RumiFormatError.invalid(
            "frame byte count", msg, offset=size - 5, expected="at least 1", found=0
        )
    if len(buf) != (want := size + packed_nbytes(n, count_bits)):
        msg = (
            f"blob size does not match frame count: {len(buf)} bytes for {n} frames of "
            f"{count_bits} bits (expected {want})"
        )
        raise RumiFormatError.invalid("blob size", msg, offset=0, expected=want, found=len(buf))
    _check_blob_frames(
        n, count_min, base_frame_offset(generation, grid.bands, n), source_length, count_bits
    )
    packed = buf[size:]
    if not trailing_bits_zero(packed, n, count_bits):
        raise RumiFormatError.invalid(
            "frame byte counts", "frame byte counts are not packed canonically", offset=len(buf) - 1
        )
    counts = unpack_bits(packed, n, count_bits) + np.uint64(count_min)
    if count_bits != int(counts.max() - count_min).bit_length() or int(counts.min()) != count_min:
        canonical = (int(counts.min()), int(counts.max() - counts.min()).bit_length())
        msg = "frame byte counts are not packed canonically"
        stored = (count_min, count_bits)
        raise RumiFormatError.invalid(
            "frame byte counts", msg, offset=size - 5, expected=canonical, found=stored
        )
    return counts


def _check_blob_frames(
    n: int, count_min: int, base: int, source_length: int | None, bits: int
) -> None:
    if source_length is not None and base + n * count_min > source_length:
        msg = f"frame data needs at least {base + n * count_min} bytes, source has {source_length}"
        raise RumiFormatError.invalid(
            "frame data", msg, expected=base + n * count_min, found=source_length
        )
    if source_length is None and bits == 0 and n > MAX_BLOB_FRAMES:
        msg = f"the blob declares {n} frames, more than the {MAX_BLOB_FRAMES} accepted"
        raise RumiFormatError.invalid("frames", msg, expected=f"<= {MAX_BLOB_FRAMES}", found=n)


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
