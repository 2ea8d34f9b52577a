"""Describe rumi files and header blobs as an immutable :class:`RumiFile` (pure: bytes in).

A file is read in up to three byte ranges: the index ``[0, base)`` (parsed by
:mod:`~rumi_xarray.ifd`), the trailer ``[data_end, EOF)``, or, given an external header
blob (:mod:`~rumi_xarray.blob`), only the magic, the georeferencing values
``[base - 160, base)`` and the trailer; ranges near each other are read as one
(:func:`describe_source`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .blob import build_blob, parse_blob
from .errors import RumiFormatError
from .georef import Georef, parse_georef
from .ifd import container, georef_range, index_nbytes, parse_index, trailer_range
from .spec import Generation
from .trailer import TimeAxis, Trailer, max_trailer_nbytes, parse_trailer

if TYPE_CHECKING:
    from collections.abc import Buffer, Callable, Sequence

    import numpy as np

    from .io import Range
    from .layout import FrameGrid, FrameTable
    from .spec import SampleType

HEAD_NBYTES = 1 << 16
"""Bytes worth reading first: the whole index of any file with fewer than ~5400 frames."""

SUFFIX_NBYTES = 1 << 13
"""The file's last bytes worth asking along with its start when no header blob says where
the trailer lies: the whole trailer of files with short band texts (else it is read on its
own, once the index tells where)."""


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


def describe(frames: FrameTable, georef: Georef, trailer: Trailer | None) -> RumiFile:
    """Assemble the description from the index (or blob), the georeferencing and the trailer."""
    return with_frames(
        frames,
        frames.counts.copy(),
        frames.offsets(),
        georef,
        generation=frames.generation if trailer is None else trailer.generation,
        band_texts=None if trailer is None else trailer.band_texts,
        time=None if trailer is None else trailer.time,
    )


def with_frames(
    frames: FrameTable,
    counts: np.ndarray,
    offsets: np.ndarray,
    georef: Georef,
    *,
    generation: Generation | None = None,
    band_texts: tuple[str, ...] | None = None,
    time: TimeAxis | None = None,
) -> RumiFile:
    """The description of a file of ``frames``' layout with its own ``counts`` and ``offsets``.

    ``counts`` and ``offsets`` become read-only (callers pass arrays of their own);
    ``generation`` defaults to that of ``frames``.
    """
    for array in (offsets, counts):
        array.flags.writeable = False
    return RumiFile(
        generation=frames.generation if generation is None else generation,
        grid=frames.grid,
        sample=frames.sample,
        frame_unit=frames.unit,
        counts=counts,
        offsets=offsets,
        georef=georef,
        band_texts=band_texts,
        time=time,
    )


def describe_source(
    size: int,
    read: Callable[[list[Range]], Sequence[Buffer]],
    header: Buffer | None = None,
) -> RumiFile:
    """Describe a source of ``size`` bytes whose ranges ``read`` returns, in few reads.

    Without ``header``: the first :data:`HEAD_NBYTES` (the whole of a small file), then
    the rest of an index longer than that, and the trailer where the first read does
    not hold it. With the file's header blob: its magic, georeferencing and trailer,
    ranges closer than :data:`HEAD_NBYTES` read as one; so never more reads than without
    (one for a small file, two for a file whose index is near its start).
    """
    tail: Buffer | None = None
    if header is None:
        head = _read_index(size, read)
        frames, georef = parse_index(head, size)
        where = trailer_range(frames, size)
        if where is not None:
            tail = _within(head, where)
            if tail is None:
                (tail,) = read([where])
    else:
        frames, parts = _with_blob(header, size, read)
        where = trailer_range(frames, size)
        georef = parse_georef(parts[0], georef_range(frames)[0])
        tail = parts[1] if where is not None else None
    trailer = None
    if where is not None and tail is not None:
        grid = frames.grid
        trailer = parse_trailer(tail, bands=grid.bands, times=grid.times, offset=where[0])
    return describe(frames, georef, trailer)


def _read_index(size: int, read: Callable[[list[Range]], Sequence[Buffer]]) -> Buffer:
    """``[0, base)`` or more: one read of :data:`HEAD_NBYTES`, a second for a longer index."""
    (head,) = read([(0, min(HEAD_NBYTES, size))])
    have = len(memoryview(head))
    if have == size:  # the whole file: parse_index checks that it holds its index
        return head
    need = index_nbytes(head, size)
    if need <= have:
        return head
    (rest,) = read([(have, need - have)])
    return bytes(head) + bytes(rest)


def _within(head: Buffer, where: Range) -> memoryview | None:
    """The bytes of a range that ``head`` (the start of the source) holds, else None."""
    offset, length = where
    view = memoryview(head)
    return view[offset : offset + length] if offset + length <= len(view) else None


def _with_blob(
    header: Buffer, size: int, read: Callable[[list[Range]], Sequence[Buffer]]
) -> tuple[FrameTable, list[memoryview]]:
    """The blob's frame table and the bytes of the georeferencing and the trailer.

    The blob's own layout tells its container, so the magic is read along with the
    other ranges; an invalid blob, or one of the other container than the magic says,
    is parsed again for the container the magic names, for that error (or table).
    """
    guess: FrameTable | None
    try:
        guess = parse_blob(header, source_length=size)
        ranges = _blob_ranges(guess, size)
    except RumiFormatError:
        guess, ranges = None, []
    magic, *parts = _pieces([(0, min(4, size)), *ranges], read)
    generation = container(magic)
    if guess is not None and guess.generation is generation:
        return guess, parts
    frames = parse_blob(header, generation=generation, source_length=size)
    return frames, _pieces(_blob_ranges(frames, size), read)


def _blob_ranges(frames: FrameTable, size: int) -> list[Range]:
    """The georeferencing's range, then the trailer's (if the generation has one)."""
    where = trailer_range(frames, size)
    return [georef_range(frames), *([] if where is None else [where])]


def _pieces(
    ranges: list[Range], read: Callable[[list[Range]], Sequence[Buffer]]
) -> list[memoryview]:
    """The bytes of each range (rising, disjoint), with ranges less than :data:`HEAD_NBYTES`
    apart read as one span: a request costs more than reading that many bytes."""
    spans: list[list[int]] = []
    owners = []
    for offset, length in ranges:
        if spans and offset - spans[-1][1] <= HEAD_NBYTES:
            spans[-1][1] = offset + length
        else:
            spans.append([offset, offset + length])
        owners.append(len(spans) - 1)
    blobs = [memoryview(b) for b in read([(a, b - a) for a, b in spans])]
    out = []
    for (offset, length), i in zip(ranges, owners, strict=True):
        start = offset - spans[i][0]
        out.append(blobs[i][start : start + length])
    return out


def blob_tail(header: Buffer) -> Range | None:
    """Where a blob's file keeps its trailer, at most: ``(end of the frames, largest trailer)``.

    Known without the file's length, so that a remote reader can fetch it along with
    the file's start; None for a 0.16 blob (no trailer) or one that does not parse.
    """
    try:
        frames = parse_blob(header)
    except RumiFormatError:
        return None
    if frames.generation is Generation.BIGTIFF:
        return None
    end = frames.base + int(frames.counts.sum())
    return end, max_trailer_nbytes(frames.grid.bands, frames.grid.times)


def parse_bytes(data: Buffer, header: Buffer | None = None) -> RumiFile:
    """Describe a whole file held in memory (optionally through its header blob)."""
    buf = memoryview(data).cast("B")
    return describe_source(len(buf), lambda ranges: [buf[o : o + n] for o, n in ranges], header)
