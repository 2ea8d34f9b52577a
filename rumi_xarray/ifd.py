"""The index of a rumi file: file header, IFD, out-of-line values (§2, §3, §12; pure: bytes in).

:func:`index_nbytes` says how long the index ``[0, base)`` is, :func:`parse_index` checks it
and returns the :class:`~rumi_xarray.layout.FrameTable` and the georeferencing it holds;
:func:`georef_range` and :func:`trailer_range` place the other two parts a reader may fetch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import RumiFormatError
from .georef import Georef, parse_georef
from .layout import FrameGrid, FrameTable, base_frame_offset
from .spec import (
    BIGTIFF_HEADER,
    BIGTIFF_MAGIC,
    FILE_HEADER,
    GEO_NBYTES,
    IFD_COUNT,
    IFD_ENTRY,
    IFD_OFFSET,
    RUMI_MAGIC,
    SAMPLE_TYPES,
    SAMPLE_TYPES_016,
    TAG_TYPES,
    Generation,
    SampleType,
    Tag,
    TiffType,
)
from .trailer import max_trailer_nbytes

if TYPE_CHECKING:
    from collections.abc import Buffer


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

    ``head`` must hold at least the IFD (292 bytes; 252 for 0.16);
    :data:`~rumi_xarray.format.HEAD_NBYTES` is a good first read.
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
    return lookup_sample(int(formats[0]), int(bits[0]), generation)


def lookup_sample(sample_format: int, bits: int, generation: Generation) -> SampleType:
    """The sample type of a (SampleFormat, BitsPerSample) pair in this generation (§8)."""
    table = SAMPLE_TYPES_016 if generation is Generation.BIGTIFF else SAMPLE_TYPES
    sample = table.get((sample_format, bits))
    if sample is None:
        raise RumiFormatError(
            f"unsupported (sample_format={sample_format}, bits_per_sample={bits}) pair"
        )
    return sample


def parse_index(prefix: Buffer, file_length: int) -> tuple[FrameTable, Georef]:
    """Validate the header, IFD and out-of-line values held in ``prefix`` = file[0:base]."""
    buf = memoryview(prefix)
    generation, entries, grid, unit = _index(buf, file_length)
    bits = _array(buf, entries[Tag.BITS_PER_SAMPLE])
    sample = _sample_type(bits, _array(buf, entries[Tag.SAMPLE_FORMAT]), generation)
    counts = _array(buf, entries[Tag.TILE_BYTE_COUNTS]).astype(np.uint64)
    frames = FrameTable(generation, grid, sample, unit, counts)
    frames.check_frame_size()
    _check_offsets(_array(buf, entries[Tag.TILE_OFFSETS]), frames)
    geo = entries[Tag.MODEL_TRANSFORMATION].at
    if len(buf) < geo + GEO_NBYTES:
        raise RumiFormatError("could not read the tag 34735 array")
    georef = parse_georef(buf[geo : geo + GEO_NBYTES], geo)
    frames_end(frames, file_length)
    return frames, georef


def frames_end(frames: FrameTable, file_length: int) -> int:
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


def _check_offsets(offsets: np.ndarray, frames: FrameTable) -> None:
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


def trailer_range(frames: FrameTable, file_length: int) -> tuple[int, int] | None:
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


def georef_range(frames: FrameTable) -> tuple[int, int]:
    """``(offset, length)`` of the georeferencing values, the last bytes before frame 0."""
    return frames.base - GEO_NBYTES, GEO_NBYTES
