"""Parse rumi files and header blobs into an immutable :class:`RumiFile` (pure: bytes in).

A file is read in up to three byte ranges, each parsed here: the index ``[0, base)``
(:func:`index_nbytes` says how long it is), the trailer ``[data_end, EOF)``, or, given an
external header blob, only the georeferencing values ``[base - 160, base)`` and the trailer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .bits import pack_bits, packed_nbytes, trailing_bits_zero, unpack_bits
from .errors import RumiFormatError
from .georef import Georef, parse_georef
from .layout import FrameGrid
from .spec import (
    BIGTIFF_HEADER,
    BIGTIFF_MAGIC,
    BLOB_MAGIC,
    FILE_HEADER,
    GEO_NBYTES,
    IFD_COUNT,
    IFD_ENTRY,
    IFD_OFFSET,
    MAX_BLOB_FRAMES,
    MAX_DIMENSION,
    MAX_FRAME_BYTES,
    RUMI_MAGIC,
    SAMPLE_TYPES,
    SAMPLE_TYPES_016,
    TAG_TYPES,
    Generation,
    SampleType,
    Tag,
    TiffType,
)
from .trailer import TimeAxis, Trailer, max_trailer_nbytes, parse_trailer

if TYPE_CHECKING:
    from collections.abc import Buffer, Callable, Sequence

HEAD_NBYTES = 1 << 16
"""Bytes worth reading first: the whole index of any file with fewer than ~5400 frames."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RumiFile:
    """Everything about one rumi file but its pixels."""

    generation: Generation
    grid: FrameGrid
    """Image size, tile size, band and time counts, frame order."""
    sample: SampleType
    frame_unit: int
    """The stored frame unit code (§5; 0.16: 0 tile, 1 cell)."""
    counts: np.ndarray = field(repr=False)
    """Compressed size of each frame (uint64, read-only)."""
    offsets: np.ndarray = field(repr=False)
    """Frame start offsets plus the end of the last frame (N + 1 values, read-only)."""
    georef: Georef
    band_texts: tuple[str, ...] | None = None
    """One text per band (0.25+), else ``None``."""
    time: TimeAxis | None = None
    """Time coordinates (0.18+ when recorded), else ``None``."""

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(T, B, L, W)``."""
        g = self.grid
        return g.times, g.bands, g.length, g.width

    @property
    def dtype(self) -> np.dtype:
        return self.sample.dtype

    @property
    def frame_count(self) -> int:
        return len(self.counts)

    @property
    def base_offset(self) -> int:
        return int(self.offsets[0])

    @property
    def data_end(self) -> int:
        return int(self.offsets[-1])

    def frame_range(self, k: int) -> tuple[int, int]:
        """``(offset, length)`` of frame k in the file."""
        return int(self.offsets[k]), int(self.counts[k])

    def frame_nbytes(self, k: int) -> int:
        """Decoded size of frame k."""
        return self.grid.frame_samples(k) * self.sample.nbytes

    def to_blob(self) -> bytes:
        """The canonical external header blob of this file (§10)."""
        return build_blob(self.generation, self.grid, self.sample, self.frame_unit, self.counts)


@dataclass(frozen=True, slots=True, eq=False)
class _Frames:
    """What the index or a blob says: the grid, the sample type and the frame sizes."""

    generation: Generation
    grid: FrameGrid
    sample: SampleType
    unit: int
    counts: np.ndarray

    @property
    def base(self) -> int:
        return base_frame_offset(self.generation, self.grid.bands, len(self.counts))

    def offsets(self) -> np.ndarray:
        offsets = np.empty(len(self.counts) + 1, np.uint64)
        offsets[0] = self.base
        np.cumsum(self.counts, out=offsets[1:])
        offsets[1:] += np.uint64(self.base)
        return offsets


def base_frame_offset(generation: Generation, bands: int, frames: int) -> int:
    """Offset of frame 0 (§3.1): the IFD end plus the out-of-line values."""
    external = 2 * (2 * bands if bands >= 5 else 0)
    external += (8 * frames if frames >= 2 else 0) + (4 * frames if frames >= 3 else 0)
    return generation.ifd_end + external + GEO_NBYTES


def container(head: Buffer) -> Generation:
    """Tell the container from a file's first 4 bytes (a ``RUMI`` file reports ``RUMI_TAIL``)."""
    head = bytes(memoryview(head)[:4])
    if len(head) < 4:
        raise RumiFormatError("could not read the 16-byte rumi file header")
    if head == RUMI_MAGIC:
        return Generation.RUMI_TAIL
    if head == BIGTIFF_MAGIC:
        return Generation.BIGTIFF
    if head[:2] == b"MM":
        raise RumiFormatError("rumi requires little-endian TIFF (II); file starts with 0x4D 0x4D")
    if head == b"II*\x00":
        raise RumiFormatError("rumi requires BigTIFF; file is classic TIFF")
    found = " ".join(f"0x{b:02X}" for b in head)
    raise RumiFormatError(f"not a rumi file: it starts with {found}, where rumi writes 'RUMI'")


# ---------------------------------------------------------------------------------------
# The index: file header, IFD, out-of-line values (§2, §3, §12)


@dataclass(frozen=True, slots=True)
class _Entry:
    tag: Tag
    type: TiffType
    count: int
    value: bytes
    """The 8-byte value field."""
    at: int
    """Offset of the value: inside the entry when inline, else the out-of-line position."""

    @property
    def nbytes(self) -> int:
        return self.count * self.type.nbytes

    @property
    def inline(self) -> bool:
        return self.nbytes <= 8

    def scalar(self) -> int:
        return int.from_bytes(self.value[: self.type.nbytes], "little")


def _parse_header(buf: memoryview) -> Generation:
    generation = container(buf)
    if len(buf) < FILE_HEADER.size:
        raise RumiFormatError("could not read the 16-byte rumi file header")
    if generation is Generation.BIGTIFF:
        _, version, size, reserved, ifd = BIGTIFF_HEADER.unpack_from(buf)
        if (version, size, reserved) != (43, 8, 0):
            raise RumiFormatError.mismatch(
                "BigTIFF header", expected=(43, 8, 0), found=(version, size, reserved), offset=2
            )
    else:
        _, version, reserved, ifd = FILE_HEADER.unpack_from(buf)
        if version != 1:
            raise RumiFormatError(f"rumi file version {version}, this reader implements 1")
        if reserved != 0:
            raise RumiFormatError(f"the reserved field of the file header is {reserved}, not 0")
    if ifd != IFD_OFFSET:
        raise RumiFormatError(f"rumi requires the IFD at byte 16; file puts it at {ifd}")
    return generation


def _parse_entries(buf: memoryview, generation: Generation) -> dict[Tag, _Entry]:
    """Check the IFD's structure and place every value; reads no out-of-line bytes."""
    tags = generation.ifd_tags
    if len(buf) < IFD_OFFSET + IFD_COUNT.size:
        raise RumiFormatError("could not read the IFD entry count")
    (count,) = IFD_COUNT.unpack_from(buf, IFD_OFFSET)
    if count != len(tags):
        raise RumiFormatError(f"rumi requires exactly {len(tags)} IFD tags; file has {count}")
    if len(buf) < generation.ifd_end:
        raise RumiFormatError("could not read the IFD entries")
    if int.from_bytes(buf[generation.ifd_end - 8 : generation.ifd_end], "little"):
        raise RumiFormatError("rumi requires a single IFD; the file chains another one")
    entries: dict[Tag, _Entry] = {}
    for i, want in enumerate(tags):
        at = IFD_OFFSET + IFD_COUNT.size + i * IFD_ENTRY.size
        tag, kind, n, value = IFD_ENTRY.unpack_from(buf, at)
        if tag != want:
            raise RumiFormatError(
                f"IFD entry {i} is tag {tag}, expected tag {want.value} in rising order"
            )
        if kind != TAG_TYPES[want]:
            raise RumiFormatError(
                f"tag {tag} has TIFF type {kind}, expected {TAG_TYPES[want].value}"
            )
        entries[want] = _Entry(want, TiffType(kind), n, value, at + 12)
    _check_counts(entries)
    pos = generation.ifd_end
    for entry in entries.values():
        if entry.inline:
            used = entry.nbytes
            if any(entry.value[used:]):
                raise RumiFormatError(
                    f"tag {entry.tag.value} fills {used} of its 8 inline bytes and byte {used} "
                    "of the rest is not zero"
                )
            continue
        pointer = int.from_bytes(entry.value, "little")
        if pointer != pos:
            raise RumiFormatError(
                f"tag {entry.tag.value} external value starts at {pointer}, expected {pos}"
            )
        entries[entry.tag] = _Entry(entry.tag, entry.type, entry.count, entry.value, pos)
        pos += entry.nbytes
    return entries


def _check_counts(entries: dict[Tag, _Entry]) -> None:
    bands = (
        entries[Tag.SAMPLES_PER_PIXEL].scalar() if entries[Tag.SAMPLES_PER_PIXEL].count == 1 else 0
    )
    fixed = {Tag.MODEL_TRANSFORMATION: 16, Tag.GEO_KEY_DIRECTORY: 16}
    for tag, entry in entries.items():
        if tag in (Tag.TILE_OFFSETS, Tag.TILE_BYTE_COUNTS):
            continue
        if tag in (Tag.BITS_PER_SAMPLE, Tag.SAMPLE_FORMAT):
            if entry.count != bands:
                raise RumiFormatError(
                    f"tag {tag.value} has {entry.count} entries, expected {bands}"
                )
        elif entry.count != fixed.get(tag, 1):
            raise RumiFormatError(
                f"tag {tag.value} has {entry.count} values, expected {fixed.get(tag, 1)}"
            )
    offsets, counts = entries[Tag.TILE_OFFSETS], entries[Tag.TILE_BYTE_COUNTS]
    if offsets.count == 0:
        raise RumiFormatError("TileOffsets has 0 entries; a rumi file has at least one frame")
    if counts.count != offsets.count:
        raise RumiFormatError(
            f"TileByteCounts has {counts.count} entries, TileOffsets {offsets.count}"
        )


def _grid_from_entries(entries: dict[Tag, _Entry], generation: Generation) -> tuple[FrameGrid, int]:
    """Image geometry and frame unit from the inline values; checks N before any allocation."""
    width, length = entries[Tag.IMAGE_WIDTH].scalar(), entries[Tag.IMAGE_LENGTH].scalar()
    bands = entries[Tag.SAMPLES_PER_PIXEL].scalar()
    tw, tl = entries[Tag.TILE_WIDTH].scalar(), entries[Tag.TILE_LENGTH].scalar()
    if width == 0 or length == 0:
        raise RumiFormatError("missing or zero image dimensions")
    if tw == 0 or tl == 0:
        raise RumiFormatError("file is not tiled (no TileWidth/TileLength)")
    if bands == 0:
        raise RumiFormatError("SamplesPerPixel is 0")
    n = entries[Tag.TILE_OFFSETS].count
    dims = {"length": length, "width": width, "tile_length": tl, "tile_width": tw, "bands": bands}
    if generation is Generation.BIGTIFF:
        cells = FrameGrid.from_unit(**dims, times=1, unit=0).cells
        if n not in (cells, cells * bands):
            raise RumiFormatError(
                f"TileOffsets has {n} entries, but a 0.16 file wants {cells} (cell) "
                f"or {cells * bands} (tile)"
            )
        unit = 1 if n == cells and bands > 1 else 0
        return FrameGrid.from_unit(**dims, times=1, unit=unit), unit
    unit, times = entries[Tag.FRAME_UNIT].scalar(), entries[Tag.TIME_COUNT].scalar()
    if times == 0:
        raise RumiFormatError("time_count is 0, which is not a usable count")
    grid = FrameGrid.from_unit(**dims, times=times, unit=unit)
    if grid.frame_count != n:
        raise RumiFormatError(
            f"TileOffsets has {n} entries, but frame_unit {unit} wants {grid.frame_count}"
        )
    return grid, unit


def _index(
    buf: memoryview, file_length: int
) -> tuple[Generation, dict[Tag, _Entry], FrameGrid, int]:
    generation = _parse_header(buf)
    entries = _parse_entries(buf, generation)
    grid, unit = _grid_from_entries(entries, generation)
    for entry in entries.values():
        if not entry.inline and entry.at + entry.nbytes > file_length:
            raise RumiFormatError(f"could not read the tag {entry.tag.value} array")
    return generation, entries, grid, unit


def index_nbytes(head: Buffer, file_length: int) -> int:
    """Bytes from the start of the file that hold the whole index (= the first frame's offset).

    ``head`` must hold at least the IFD (292 bytes; 252 for 0.16); :data:`HEAD_NBYTES` is
    a good first read.
    """
    generation, entries, grid, _ = _index(memoryview(head), file_length)
    return base_frame_offset(generation, grid.bands, entries[Tag.TILE_OFFSETS].count)


def _array(buf: memoryview, entry: _Entry) -> np.ndarray:
    data = entry.value if entry.inline else buf[entry.at : entry.at + entry.nbytes]
    if len(data) < entry.nbytes:
        raise RumiFormatError(f"could not read the tag {entry.tag.value} array")
    return np.frombuffer(data, f"<{entry.type.code}", count=entry.count)


def _sample_type(bits: np.ndarray, formats: np.ndarray, generation: Generation) -> SampleType:
    if np.any(bits != bits[0]):
        raise RumiFormatError("mixed BitsPerSample is not supported")
    if np.any(formats != formats[0]):
        raise RumiFormatError("mixed SampleFormat is not supported")
    return _lookup_sample(int(formats[0]), int(bits[0]), generation)


def _lookup_sample(sample_format: int, bits: int, generation: Generation) -> SampleType:
    table = SAMPLE_TYPES_016 if generation is Generation.BIGTIFF else SAMPLE_TYPES
    sample = table.get((sample_format, bits))
    if sample is None:
        raise RumiFormatError(
            f"unsupported (sample_format={sample_format}, bits_per_sample={bits}) pair"
        )
    return sample


def parse_index(prefix: Buffer, file_length: int) -> tuple[_Frames, Georef]:
    """Validate the header, IFD and out-of-line values held in ``prefix`` = file[0:base]."""
    buf = memoryview(prefix)
    generation, entries, grid, unit = _index(buf, file_length)
    bits = _array(buf, entries[Tag.BITS_PER_SAMPLE])
    sample = _sample_type(bits, _array(buf, entries[Tag.SAMPLE_FORMAT]), generation)
    counts = _array(buf, entries[Tag.TILE_BYTE_COUNTS]).astype(np.uint64)
    frames = _Frames(generation, grid, sample, unit, counts)
    _check_frame_size(frames)
    _check_offsets(_array(buf, entries[Tag.TILE_OFFSETS]), frames)
    geo = entries[Tag.MODEL_TRANSFORMATION].at
    if len(buf) < geo + GEO_NBYTES:
        raise RumiFormatError("could not read the tag 34735 array")
    georef = parse_georef(buf[geo : geo + GEO_NBYTES], geo)
    frames_end(frames, file_length)
    return frames, georef


def frames_end(frames: _Frames, file_length: int) -> int:
    """Where the last frame ends, checked against the file length (§3, §12, §15)."""
    end = frames.base + int(frames.counts.sum())
    if end > file_length:
        raise RumiFormatError(f"frame data needs {end} bytes, source has {file_length}")
    if frames.generation is Generation.BIGTIFF and end != file_length:
        raise RumiFormatError(
            f"frames end at {end} but the file is {file_length} bytes; "
            "it is truncated or has trailing bytes"
        )
    if frames.generation is not Generation.BIGTIFF and end == file_length:
        raise RumiFormatError(
            f"frames end at {end}, leaving no room for a trailer in a file of {file_length} bytes"
        )
    return end


def _check_offsets(offsets: np.ndarray, frames: _Frames) -> None:
    zero = np.flatnonzero(frames.counts == 0)
    if zero.size:
        raise RumiFormatError(f"frame {int(zero[0])} has a zero byte count")
    if int(offsets[0]) != frames.base:
        raise RumiFormatError(
            f"frame data starts at {int(offsets[0])}, the profile puts it at {frames.base}; "
            "the file has padding or a value out of place"
        )
    want = frames.offsets()[:-1]
    bad = np.flatnonzero(offsets != want)
    if bad.size:
        k = int(bad[0])
        raise RumiFormatError(
            f"frame {k} is not contiguous (expected {int(want[k])}, got {int(offsets[k])}); "
            "the file is band-interleaved or has framing between frames"
        )


def _check_frame_size(frames: _Frames) -> None:
    nbytes = frames.grid.max_frame_samples() * frames.sample.nbytes
    if nbytes > MAX_FRAME_BYTES:
        raise RumiFormatError(
            f"a decoded frame of {nbytes} bytes is past the size limit for this reader "
            f"({MAX_FRAME_BYTES})"
        )


def trailer_range(frames: _Frames, file_length: int) -> tuple[int, int] | None:
    """``(offset, length)`` of the trailer (``None`` for 0.16), bounded before it is read."""
    end = frames_end(frames, file_length)
    if frames.generation is Generation.BIGTIFF:
        return None
    length = file_length - end
    limit = max_trailer_nbytes(frames.grid.bands, frames.grid.times)
    if length > limit:
        raise RumiFormatError(
            f"the file has {length} bytes after its frames, more than a trailer for "
            f"{frames.grid.bands} bands and {frames.grid.times} time steps can hold ({limit})"
        )
    return end, length


def georef_range(frames: _Frames) -> tuple[int, int]:
    """``(offset, length)`` of the georeferencing values, the last bytes before frame 0."""
    return frames.base - GEO_NBYTES, GEO_NBYTES


# ---------------------------------------------------------------------------------------
# External header blobs (§10)


def parse_blob(
    blob: Buffer, *, generation: Generation | None = None, source_length: int | None = None
) -> _Frames:
    """Parse an external header blob.

    ``generation`` picks the 32-byte (0.18+) or 28-byte (0.15/0.16) layout; without it
    the layout is tried both ways and must fit exactly one. ``source_length``, when
    known, bounds the frame count before the counts are unpacked.
    """
    buf = memoryview(blob)
    if not len(buf):
        raise RumiFormatError("the header blob is empty")
    if generation is not None:
        return _parse_blob(buf, generation, source_length)
    try:
        return _parse_blob(buf, Generation.RUMI_TAIL, source_length)
    except RumiFormatError as current:
        try:
            return _parse_blob(buf, Generation.BIGTIFF, source_length)
        except RumiFormatError:
            raise current from None


def _parse_blob(buf: memoryview, generation: Generation, source_length: int | None) -> _Frames:
    layout = generation.blob_header
    if len(buf) < layout.size:
        raise RumiFormatError(f"blob shorter than header ({len(buf)} < {layout.size} bytes)")
    fields = layout.unpack_from(buf)
    if generation is Generation.BIGTIFF:
        magic, version, width, length, tw, tl, bands, bits, fmt, unit, count_min, count_bits = (
            fields
        )
        times = 1
    else:
        (
            magic,
            version,
            width,
            length,
            times,
            tw,
            tl,
            bands,
            bits,
            fmt,
            unit,
            count_min,
            count_bits,
        ) = fields
    if magic != BLOB_MAGIC:
        raise RumiFormatError.mismatch("blob magic", expected=BLOB_MAGIC, found=magic, offset=0)
    if version != 1:
        raise RumiFormatError.mismatch("blob version", expected=1, found=version, offset=4)
    if 0 in (width, length, tw, tl, bands, times) or max(width, length) > MAX_DIMENSION:
        raise RumiFormatError(
            f"invalid dimensions: {width}x{length} pixels, tile {tw}x{tl}, {bands} bands, {times} steps"
        )
    sample = _lookup_sample(fmt, bits, generation)
    grid_unit = unit
    if generation is Generation.BIGTIFF:
        if unit > 1:
            raise RumiFormatError.mismatch(
                "blob frame_unit", expected="0 (tile) or 1 (cell)", found=unit
            )
        grid_unit = 0 if bands == 1 else unit
    grid = FrameGrid.from_unit(
        length=length,
        width=width,
        tile_length=tl,
        tile_width=tw,
        bands=bands,
        times=times,
        unit=grid_unit,
    )
    n = grid.frame_count
    if n > 2**32 - 1:
        raise RumiFormatError(f"frame count overflows uint32 ({n} frames)")
    if count_bits > 32:
        raise RumiFormatError(f"count_bits above 32 ({count_bits})")
    if count_min == 0:
        raise RumiFormatError("frame byte count is zero")
    if len(buf) != layout.size + packed_nbytes(n, count_bits):
        raise RumiFormatError(
            f"blob size does not match frame count: {len(buf)} bytes for {n} frames of "
            f"{count_bits} bits (expected {layout.size + packed_nbytes(n, count_bits)})"
        )
    _check_blob_frames(
        n, count_min, base_frame_offset(generation, bands, n), source_length, count_bits
    )
    packed = buf[layout.size :]
    if not trailing_bits_zero(packed, n, count_bits):
        raise RumiFormatError("frame byte counts are not packed canonically")
    counts = unpack_bits(packed, n, count_bits) + np.uint64(count_min)
    if count_bits != int(counts.max() - count_min).bit_length() or int(counts.min()) != count_min:
        raise RumiFormatError("frame byte counts are not packed canonically")
    frames = _Frames(generation, grid, sample, unit, counts)
    _check_frame_size(frames)
    return frames


def _check_blob_frames(
    n: int, count_min: int, base: int, source_length: int | None, bits: int
) -> None:
    if source_length is not None and base + n * count_min > source_length:
        raise RumiFormatError(
            f"frame data needs at least {base + n * count_min} bytes, source has {source_length}"
        )
    if source_length is None and bits == 0 and n > MAX_BLOB_FRAMES:
        raise RumiFormatError(
            f"the blob declares {n} frames, more than the {MAX_BLOB_FRAMES} accepted"
        )


def build_blob(
    generation: Generation, grid: FrameGrid, sample: SampleType, unit: int, counts: np.ndarray
) -> bytes:
    """Canonical blob: minimum count, least bit width, zero padding (§10)."""
    counts = np.asarray(counts, np.uint64)
    count_min = int(counts.min())
    bits = int(counts.max() - count_min).bit_length()
    common = (grid.width, grid.length)
    tail = (
        grid.tile_width,
        grid.tile_length,
        grid.bands,
        sample.bits,
        sample.sample_format,
        unit,
        count_min,
        bits,
    )
    if generation is Generation.BIGTIFF:
        head = generation.blob_header.pack(BLOB_MAGIC, 1, *common, *tail)
    else:
        head = generation.blob_header.pack(BLOB_MAGIC, 1, *common, grid.times, *tail)
    return head + pack_bits(counts - np.uint64(count_min), bits)


# ---------------------------------------------------------------------------------------
# The description


def describe(frames: _Frames, georef: Georef, trailer: Trailer | None) -> RumiFile:
    """Assemble the description from the index (or blob), the georeferencing and the trailer."""
    generation = frames.generation if trailer is None else trailer.generation
    offsets = frames.offsets()
    counts = frames.counts.copy()
    for array in (offsets, counts):
        array.flags.writeable = False
    return RumiFile(
        generation=generation,
        grid=frames.grid,
        sample=frames.sample,
        frame_unit=frames.unit,
        counts=counts,
        offsets=offsets,
        georef=georef,
        band_texts=None if trailer is None else trailer.band_texts,
        time=None if trailer is None else trailer.time,
    )


def describe_source(
    size: int,
    read: Callable[[list[tuple[int, int]]], Sequence[Buffer]],
    header: Buffer | None = None,
) -> RumiFile:
    """Describe a source of ``size`` bytes whose ranges ``read`` returns.

    Without ``header``, the index and the trailer are read (two requests when the index
    fits in :data:`HEAD_NBYTES`); with the file's header blob, its first 4 bytes, then
    the georeferencing and the trailer in one batch.
    """
    if header is None:
        (head,) = read([(0, min(HEAD_NBYTES, size))])
        need = index_nbytes(head, size)
        if need > len(memoryview(head)):
            (rest,) = read([(len(memoryview(head)), need - len(memoryview(head)))])
            head = bytes(head) + bytes(rest)
        frames, georef = parse_index(head, size)
        ranges = []
    else:
        (magic,) = read([(0, min(4, size))])
        frames = parse_blob(header, generation=container(magic), source_length=size)
        ranges = [georef_range(frames)]
    where = trailer_range(frames, size)
    if where is not None:
        ranges.append(where)
    parts = list(read(ranges))
    if header is not None:
        georef = parse_georef(memoryview(parts.pop(0)), ranges[0][0])
    trailer = None
    if where is not None:
        grid = frames.grid
        trailer = parse_trailer(parts[0], bands=grid.bands, times=grid.times, offset=where[0])
    return describe(frames, georef, trailer)


def parse_bytes(data: Buffer, header: Buffer | None = None) -> RumiFile:
    """Describe a whole file held in memory (optionally through its header blob)."""
    buf = memoryview(data).cast("B")
    return describe_source(len(buf), lambda ranges: [buf[o : o + n] for o, n in ranges], header)
