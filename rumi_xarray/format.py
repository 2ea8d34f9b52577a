"""Describe rumi files and header blobs as an immutable :class:`RumiFile` (pure: bytes in).

A file is read in up to three byte ranges: the index ``[0, base)`` (parsed by
:mod:`~rumi_xarray.ifd`), the trailer ``[data_end, EOF)``, or, given an external header
blob (:mod:`~rumi_xarray.blob`), only the georeferencing values ``[base - 160, base)`` and
the trailer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .blob import build_blob, parse_blob
from .georef import Georef, parse_georef
from .ifd import container, georef_range, index_nbytes, parse_index, trailer_range
from .trailer import TimeAxis, Trailer, parse_trailer

if TYPE_CHECKING:
    from collections.abc import Buffer, Callable, Sequence

    import numpy as np

    from .layout import FrameGrid, FrameTable
    from .spec import Generation, SampleType

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


def describe(frames: FrameTable, georef: Georef, trailer: Trailer | None) -> RumiFile:
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
