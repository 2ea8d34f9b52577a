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
        msg = "could not read the 16-byte rumi file header"
        raise RumiFormatError.invalid(
            "file header", msg, offset=0, expected=FILE_HEADER.size, found=len(head)
        )
    if head == RUMI_MAGIC:
        return Generation.RUMI_TAIL
    if head == BIGTIFF_MAGIC:
        return Generation.BIGTIFF
    if head[:2] == b"MM":
        msg = "rumi requires little-endian TIFF (II); file starts with 0x4D 0x4D"
        raise RumiFormatError.invalid(
            "little-endian TIFF", msg, offset=0, expected=b"II", found=head[:2]
        )
    if head == b"II*\x00":
        msg = "rumi requires BigTIFF; file is classic TIFF"
        raise RumiFormatError.invalid("BigTIFF", msg, offset=0, expected=BIGTIFF_MAGIC, found=head)
    found = " ".join(f"0x{b:02X}" for b in head)
    msg = f"not a rumi file: it starts with {found}, where rumi writes 'RUMI'"
    raise RumiFormatError.invalid("rumi file", msg, offset=0, expected=RUMI_MAGIC, found=head)


@dataclass(slots=True)  # not frozen: 4x cheaper to make, and made ~16 times a parse
class _Entry:
    tag: Tag
    type: TiffType
    count: int
    value: bytes
    """The 8-byte value field."""
    at: int
    """Offset of the value: inside the entry when inline, else the out-of-line position."""
    nbytes: int
    """Size of the value: ``count`` times the type's size."""

    @property
    def inline(self) -> bool:
        return self.nbytes <= 8

    def scalar(self) -> int:
        return int.from_bytes(self.value[: self.type.nbytes], "little")


def _parse_header(buf: memoryview) -> Generation:
    generation = container(buf)
    if len(buf) < FILE_HEADER.size:
        msg = "could not read the 16-byte rumi file header"
        raise RumiFormatError.invalid(
            "file header", msg, offset=0, expected=FILE_HEADER.size, found=len(buf)
        )
    if generation is Generation.BIGTIFF:
        _, version, size, reserved, ifd = BIGTIFF_HEADER.unpack_from(buf)
        if (version, size, reserved) != (43, 8, 0):
            raise RumiFormatError.mismatch(
                "BigTIFF header", expected=(43, 8, 0), found=(version, size, reserved), offset=2
            )
    else:
        _, version, reserved, ifd = FILE_HEADER.unpack_from(buf)
        if version != 1:
            msg = f"rumi file version {version}, this reader implements 1"
            raise RumiFormatError.invalid("file version", msg, offset=4, expected=1, found=version)
        if reserved != 0:
            msg = f"the reserved field of the file header is {reserved}, not 0"
            raise RumiFormatError.invalid(
                "reserved field", msg, offset=6, expected=0, found=reserved
            )
    if ifd != IFD_OFFSET:
        msg = f"rumi requires the IFD at byte 16; file puts it at {ifd}"
        raise RumiFormatError.invalid("IFD", msg, offset=8, expected=IFD_OFFSET, found=ifd)
    return generation


def _parse_entries(buf: memoryview, generation: Generation) -> dict[Tag, _Entry]:
    """Check the IFD's structure and place every value; reads no out-of-line bytes."""
    tags = generation.ifd_tags
    if len(buf) < (need := IFD_OFFSET + IFD_COUNT.size):
        msg = "could not read the IFD entry count"
        raise RumiFormatError.invalid(
            "IFD entry count", msg, offset=IFD_OFFSET, expected=need, found=len(buf)
        )
    (count,) = IFD_COUNT.unpack_from(buf, IFD_OFFSET)
    if count != len(tags):
        msg = f"rumi requires exactly {len(tags)} IFD tags; file has {count}"
        raise RumiFormatError.invalid(
            "IFD tags", msg, offset=IFD_OFFSET, expected=len(tags), found=count
        )
    if len(buf) < (end := generation.ifd_end):
        msg = "could not read the IFD entries"
        raise RumiFormatError.invalid("IFD entries", msg, offset=need, expected=end, found=len(buf))
    if next_ifd := int.from_bytes(buf[generation.ifd_end - 8 : generation.ifd_end], "little"):
        msg = "rumi requires a single IFD; the file chains another one"
        raise RumiFormatError.invalid(
            "single IFD", msg, offset=generation.ifd_end - 8, expected=0, found=next_ifd
        )
    entries: dict[Tag, _Entry] = {}
    for i, want in enumerate(tags):
        at = IFD_OFFSET + IFD_COUNT.size + i * IFD_ENTRY.size
        tag, kind, n, value = IFD_ENTRY.unpack_from(buf, at)
        if tag != want:
            msg = f"IFD entry {i} is tag {tag}, expected tag {want.value} in rising order"
            raise RumiFormatError.invalid(
                f"IFD entry {i}", msg, offset=at, expected=want.value, found=tag
            )
        if kind != (kind_type := TAG_TYPES[want]):
            msg = f"tag {tag} has TIFF type {kind}, expected {kind_type.value}"
            raise RumiFormatError.invalid(
                f"tag {tag}", msg, offset=at + 2, expected=kind_type.value, found=kind
            )
        entries[want] = _Entry(want, kind_type, n, value, at + 12, n * kind_type.nbytes)
    _check_counts(entries)
    pos = generation.ifd_end
    for entry in entries.values():
        if entry.inline:
            used = entry.nbytes
            if any(rest := entry.value[used:]):
                msg = (
                    f"tag {entry.tag.value} fills {used} of its 8 inline bytes and byte {used} "
                    "of the rest is not zero"
                )
                raise RumiFormatError.invalid(
                    f"tag {entry.tag.value}", msg, offset=entry.at + used, found=rest
                )
            continue
        pointer = int.from_bytes(entry.value, "little")
        if pointer != pos:
            msg = f"tag {entry.tag.value} external value starts at {pointer}, expected {pos}"
            raise RumiFormatError.invalid(
                f"tag {entry.tag.value}", msg, offset=entry.at, expected=pos, found=pointer
            )
        entries[entry.tag] = _Entry(
            entry.tag, entry.type, entry.count, entry.value, pos, entry.nbytes
        )
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
                msg = f"tag {tag.value} has {entry.count} entries, expected {bands}"
                raise RumiFormatError.invalid(
                    f"tag {tag.value}", msg, offset=entry.at - 8, expected=bands, found=entry.count
                )
        elif entry.count != (want := fixed.get(tag, 1)):
            msg = f"tag {tag.value} has {entry.count} values, expected {want}"
            raise RumiFormatError.invalid(
                f"tag {tag.value}", msg, offset=entry.at - 8, expected=want, found=entry.count
            )
    offsets, counts = entries[Tag.TILE_OFFSETS], entries[Tag.TILE_BYTE_COUNTS]
    if offsets.count == 0:
        msg = "TileOffsets has 0 entries; a rumi file has at least one frame"
        raise RumiFormatError.invalid(
            "TileOffsets", msg, offset=offsets.at - 8, expected="at least 1", found=0
        )
    if counts.count != offsets.count:
        msg = f"TileByteCounts has {counts.count} entries, TileOffsets {offsets.count}"
        raise RumiFormatError.invalid(
            "TileByteCounts", msg, offset=counts.at - 8, expected=offsets.count, found=counts.count
        )


def _count_at(generation: Generation, tag: Tag) -> int:
    """Offset of the count field of ``tag``'s IFD entry (§3)."""
    return IFD_OFFSET + IFD_COUNT.size + generation.ifd_tags.index(tag) * IFD_ENTRY.size + 4


def _grid_from_entries(entries: dict[Tag, _Entry], generation: Generation) -> tuple[FrameGrid, int]:
    """Image geometry and frame unit from the inline values; checks N before any allocation."""
    width, length = entries[Tag.IMAGE_WIDTH].scalar(), entries[Tag.IMAGE_LENGTH].scalar()
    bands = entries[Tag.SAMPLES_PER_PIXEL].scalar()
    tw, tl = entries[Tag.TILE_WIDTH].scalar(), entries[Tag.TILE_LENGTH].scalar()
    if width == 0 or length == 0:
        at = entries[Tag.IMAGE_WIDTH if width == 0 else Tag.IMAGE_LENGTH].at
        msg = "missing or zero image dimensions"
        raise RumiFormatError.invalid("image dimensions", msg, offset=at, found=(width, length))
    if tw == 0 or tl == 0:
        at = entries[Tag.TILE_WIDTH if tw == 0 else Tag.TILE_LENGTH].at
        msg = "file is not tiled (no TileWidth/TileLength)"
        raise RumiFormatError.invalid("TileWidth/TileLength", msg, offset=at, found=(tw, tl))
    if bands == 0:
        at = entries[Tag.SAMPLES_PER_PIXEL].at
        msg = "SamplesPerPixel is 0"
        raise RumiFormatError.invalid(
            "SamplesPerPixel", msg, offset=at, expected="at least 1", found=0
        )
    n = entries[Tag.TILE_OFFSETS].count
    dims = {"length": length, "width": width, "tile_length": tl, "tile_width": tw, "bands": bands}
    if generation is Generation.BIGTIFF:
        cells = FrameGrid.from_unit(**dims, times=1, unit=0).cells
        if n not in (cells, cells * bands):
            at = _count_at(generation, Tag.TILE_OFFSETS)
            msg = (
                f"TileOffsets has {n} entries, but a 0.16 file wants {cells} (cell) "
                f"or {cells * bands} (tile)"
            )
            raise RumiFormatError.invalid(
                "TileOffsets", msg, offset=at, expected=(cells, cells * bands), found=n
            )
        unit = 1 if n == cells and bands > 1 else 0
        return FrameGrid.from_unit(**dims, times=1, unit=unit), unit
    unit, times = entries[Tag.FRAME_UNIT].scalar(), entries[Tag.TIME_COUNT].scalar()
    if times == 0:
        msg = "time_count is 0, which is not a usable count"
        raise RumiFormatError.invalid(
            "time_count", msg, offset=entries[Tag.TIME_COUNT].at, expected="at least 1", found=0
        )
    grid = FrameGrid.from_unit(**dims, times=times, unit=unit)
    if grid.frame_count != n:
        at = _count_at(generation, Tag.TILE_OFFSETS)
        msg = f"TileOffsets has {n} entries, but frame_unit {unit} wants {grid.frame_count}"
        raise RumiFormatError.invalid(
            "TileOffsets", msg, offset=at, expected=grid.frame_count, found=n
        )
    return grid, unit


def _index(
    buf: memoryview, file_length: int
) -> tuple[Generation, dict[Tag, _Entry], FrameGrid, int]:
    generation = _parse_header(buf)
    entries = _parse_entries(buf, generation)
    grid, unit = _grid_from_entries(entries, generation)
    for entry in entries.values():
        if not entry.inline and (end := entry.at + entry.nbytes) > file_length:
            msg = f"could not read the tag {entry.tag.value} array"
            raise RumiFormatError.invalid(
                f"tag {entry.tag.value}", msg, offset=entry.at, expected=end, found=file_length
            )
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
        msg = f"could not read the tag {entry.tag.value} array"
        raise RumiFormatError.invalid(
            f"tag {entry.tag.value}", msg, offset=entry.at, expected=entry.nbytes, found=len(data)
        )
    return np.frombuffer(data, f"<{entry.type.code}", count=entry.count)


def _sample_type(bits: np.ndarray, formats: np.ndarray, generation: Generation) -> SampleType:
    if np.any(bits != bits[0]):
        raise RumiFormatError.invalid(
            "BitsPerSample", "mixed BitsPerSample is not supported", found=tuple(bits.tolist())
        )
    if np.any(formats != formats[0]):
        raise RumiFormatError.invalid(
            "SampleFormat", "mixed SampleFormat is not supported", found=tuple(formats.tolist())
        )
    return lookup_sample(int(formats[0]), int(bits[0]), generation)


def lookup_sample(sample_format: int, bits: int, generation: Generation) -> SampleType:
    """The sample type of a (SampleFormat, BitsPerSample) pair in this generation (§8)."""
    table = SAMPLE_TYPES_016 if generation is Generation.BIGTIFF else SAMPLE_TYPES
    sample = table.get((sample_format, bits))
    if sample is None:
        msg = f"unsupported (sample_format={sample_format}, bits_per_sample={bits}) pair"
        raise RumiFormatError.invalid(
            "sample_format", msg, expected=tuple(sorted(table)), found=(sample_format, bits)
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
        msg = "could not read the tag 34735 array"
        raise RumiFormatError.invalid(
            "tag 34735", msg, offset=geo, expected=geo + GEO_NBYTES, found=len(buf)
        )
    georef = parse_georef(buf[geo : geo + GEO_NBYTES], geo)
    frames_end(frames, file_length)
    return frames, georef


def frames_end(frames: FrameTable, file_length: int) -> int:
    """Where the last frame ends, checked against the file length (§3, §12, §15)."""
    end = frames.base + int(frames.counts.sum())
    if end > file_length:
        msg = f"frame data needs {end} bytes, source has {file_length}"
        raise RumiFormatError.invalid(
            "frame data", msg, offset=frames.base, expected=end, found=file_length
        )
    if frames.generation is Generation.BIGTIFF and end != file_length:
        msg = (
            f"frames end at {end} but the file is {file_length} bytes; "
            "it is truncated or has trailing bytes"
        )
        raise RumiFormatError.invalid(
            "frames end", msg, offset=end, expected=end, found=file_length
        )
    if frames.generation is not Generation.BIGTIFF and end == file_length:
        msg = f"frames end at {end}, leaving no room for a trailer in a file of {file_length} bytes"
        raise RumiFormatError.invalid(
            "trailer", msg, offset=end, expected=f"more than {end} bytes", found=file_length
        )
    return end


def _check_offsets(offsets: np.ndarray, frames: FrameTable) -> None:
    zero = np.flatnonzero(frames.counts == 0)
    if zero.size:
        k = int(zero[0])
        raise RumiFormatError.invalid(
            f"frame {k}", f"frame {k} has a zero byte count", expected="at least 1", found=0
        )
    if int(offsets[0]) != frames.base:
        msg = (
            f"frame data starts at {int(offsets[0])}, the profile puts it at {frames.base}; "
            "the file has padding or a value out of place"
        )
        raise RumiFormatError.invalid(
            "frame data", msg, expected=frames.base, found=int(offsets[0])
        )
    want = frames.offsets()[:-1]
    bad = np.flatnonzero(offsets != want)
    if bad.size:
        k = int(bad[0])
        msg = (
            f"frame {k} is not contiguous (expected {int(want[k])}, got {int(offsets[k])}); "
            "the file is band-interleaved or has framing between frames"
        )
        raise RumiFormatError.invalid(
            f"frame {k}", msg, expected=int(want[k]), found=int(offsets[k])
        )


def trailer_range(frames: FrameTable, file_length: int) -> tuple[int, int] | None:
    """``(offset, length)`` of the trailer (``None`` for 0.16), bounded before it is read."""
    end = frames_end(frames, file_length)
    if frames.generation is Generation.BIGTIFF:
        return None
    length = file_length - end
    limit = max_trailer_nbytes(frames.grid.bands, frames.grid.times)
    if length > limit:
        msg = (
            f"the file has {length} bytes after its frames, more than a trailer for "
            f"{frames.grid.bands} bands and {frames.grid.times} time steps can hold ({limit})"
        )
        raise RumiFormatError.invalid(
            "trailer", msg, offset=end, expected=f"<= {limit}", found=length
        )
    return end, length


def georef_range(frames: FrameTable) -> tuple[int, int]:
    """``(offset, length)`` of the georeferencing values, the last bytes before frame 0."""
    return frames.base - GEO_NBYTES, GEO_NBYTES
