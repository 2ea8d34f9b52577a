"""Frame geometry (§3.1, §4, §5): the only source of frame indices, offsets, shapes and axes.

:class:`FrameGrid` is the tile grid and frame order of one image; :class:`FrameTable` adds
what an index or a header blob says about the frames (sample type, byte counts), from which
:func:`frame_offsets` places every frame in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil
from typing import TYPE_CHECKING, NamedTuple, cast

import numpy as np

from .errors import RumiFormatError
from .spec import FRAME_AXES, GEO_NBYTES, MAX_FRAME_BYTES

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from .spec import Generation, SampleType

Window = tuple[slice, slice, slice, slice]
"""``(t, b, y, x)`` slices of an image."""


class FrameKey(NamedTuple):
    """Where one frame sits: grid row and column, band and time (``None`` when held whole)."""

    row: int
    col: int
    band: int | None
    time: int | None


def unit_axes(unit: int, bands: int, times: int) -> tuple[str, str]:
    """Return ``(frame_axes, index_axes)`` of a frame unit for B bands and T steps (§5).

    ``frame_axes`` lists the axes one frame holds in decoded C order, among ``t b h w``
    (axes of extent 1 are left out); ``index_axes`` lists the axes the frame index walks
    inside a cell, outermost first.
    """
    present = "".join(a for a, n in (("b", bands), ("t", times)) if n > 1)
    if unit in (0, 9):
        if unit == 9 and present != "bt":
            msg = f"frame_unit 9 does not fit {bands} bands and {times} time steps"
            raise RumiFormatError.invalid("frame_unit", msg, found=unit)
        return "hw", present[::-1] if unit == 9 else present
    layouts = FRAME_AXES.get(unit)
    if layouts is None:
        msg = f"frame_unit is {unit}, which names no frame layout"
        raise RumiFormatError.invalid(
            "frame_unit", msg, expected=tuple(sorted({0, 9, *FRAME_AXES})), found=unit
        )
    if isinstance(layouts, tuple):
        if len(present) != 1:
            msg = f"frame_unit {unit} does not fit {bands} bands and {times} time steps"
            raise RumiFormatError.invalid("frame_unit", msg, found=unit)
        return layouts[0 if present == "b" else 1], ""
    if present != "bt":
        msg = f"frame_unit {unit} does not fit {bands} bands and {times} time steps"
        raise RumiFormatError.invalid("frame_unit", msg, found=unit)
    return layouts, ""


@dataclass(frozen=True, slots=True)
class FrameGrid:
    """The tile grid of one image and the order of its frames."""

    length: int
    """Image rows (L)."""
    width: int
    """Image columns (W)."""
    tile_length: int
    tile_width: int
    bands: int
    times: int
    frame_axes: str
    """Axes one frame holds, in decoded C order (e.g. ``"hwb"``)."""
    index_axes: str
    """Axes the frame index walks inside a cell, outermost first (e.g. ``"bt"``)."""

    @classmethod
    def from_unit(
        cls,
        *,
        length: int,
        width: int,
        tile_length: int,
        tile_width: int,
        bands: int,
        times: int,
        unit: int,
    ) -> FrameGrid:
        frame_axes, index_axes = unit_axes(unit, bands, times)
        return cls(length, width, tile_length, tile_width, bands, times, frame_axes, index_axes)

    @property
    def tiles_down(self) -> int:
        return ceil(self.length / self.tile_length)

    @property
    def tiles_across(self) -> int:
        return ceil(self.width / self.tile_width)

    @property
    def cells(self) -> int:
        return self.tiles_down * self.tiles_across

    @property
    def frames_per_cell(self) -> int:
        return self._extent("b" in self.index_axes, self.bands) * self._extent(
            "t" in self.index_axes, self.times
        )

    @property
    def frame_count(self) -> int:
        return self.cells * self.frames_per_cell

    @staticmethod
    def _extent(indexed: bool, n: int) -> int:
        return n if indexed else 1

    @property
    def band_in_frame(self) -> bool:
        """Whether one frame holds every band (else one band per frame, or B = 1)."""
        return "b" in self.frame_axes

    @property
    def time_in_frame(self) -> bool:
        return "t" in self.frame_axes

    @property
    def chunk_shape(self) -> tuple[int, int, int, int]:
        """The full ``(t, b, h, w)`` block one frame fills (edge frames are clipped)."""
        return (
            self.times if self.time_in_frame else 1,
            self.bands if self.band_in_frame else 1,
            self.tile_length,
            self.tile_width,
        )

    def max_frame_samples(self) -> int:
        """Samples of the largest (unclipped) frame."""
        return self.frame_samples(0)

    def tile_shape(self, row: int, col: int) -> tuple[int, int]:
        """Clipped ``(h, w)`` of the tile at grid ``(row, col)``."""
        tl, tw = self.tile_length, self.tile_width
        return min(tl, self.length - row * tl), min(tw, self.width - col * tw)

    def frame_index(self, row: int, col: int, band: int = 0, time: int = 0) -> int:
        """Frame index k of the frame holding (row, col, band, time)."""
        k = row * self.tiles_across + col
        for axis in self.index_axes:
            k = k * (self.bands if axis == "b" else self.times) + (band if axis == "b" else time)
        return k

    def index_strides(self) -> tuple[int, int, int, int]:
        """``(time, band, row, col)`` strides of :meth:`frame_index`, which is linear in them."""
        return (
            self.frame_index(0, 0, time=1),
            self.frame_index(0, 0, band=1),
            self.frame_index(1, 0),
            self.frame_index(0, 1),
        )

    def frame_key(self, k: int) -> FrameKey:
        """Invert :meth:`frame_index`."""
        band = time = None
        for axis in reversed(self.index_axes):
            n = self.bands if axis == "b" else self.times
            k, i = divmod(k, n)
            if axis == "b":
                band = i
            else:
                time = i
        row, col = divmod(k, self.tiles_across)
        if self.bands == 1:
            band = 0
        if self.times == 1:
            time = 0
        return FrameKey(row, col, band, time)

    def frame_shape(self, k: int) -> tuple[int, ...]:
        """Decoded dims of frame k, in ``frame_axes`` order (h and w clipped)."""
        key = self.frame_key(k)
        h, w = self.tile_shape(key.row, key.col)
        extent = {"b": self.bands, "t": self.times, "h": h, "w": w}
        return tuple(extent[a] for a in self.frame_axes)

    def block_shape(self, k: int) -> tuple[int, int, int, int]:
        """The ``(t, b, h, w)`` block frame k fills: :attr:`chunk_shape`, h and w clipped.

        Cells are outermost in the frame index (§5), so k's cell is ``k // frames_per_cell``.
        """
        row, col = divmod(k // self.frames_per_cell, self.tiles_across)
        t, b, tl, tw = self.chunk_shape
        return t, b, min(tl, self.length - row * tl), min(tw, self.width - col * tw)

    def frame_samples(self, k: int) -> int:
        t, b, h, w = self.block_shape(k)
        return t * b * h * w

    def to_block(self, k: int, samples: np.ndarray) -> np.ndarray:
        """Arrange frame k's decoded samples (flat, C order) as a ``(t, b, h, w)`` view.

        Axes the frame does not hold get extent 1.
        """
        return to_array_order(samples, self.block_shape(k), _block_order(self.frame_axes))

    def frame_window(self, k: int) -> Window:
        """The ``(t, b, y, x)`` slices of the image that frame k holds (the writer's cut)."""
        key = self.frame_key(k)
        h, w = self.tile_shape(key.row, key.col)
        y, x = key.row * self.tile_length, key.col * self.tile_width
        t = slice(None) if self.time_in_frame else slice(key.time, cast("int", key.time) + 1)
        b = slice(None) if self.band_in_frame else slice(key.band, cast("int", key.band) + 1)
        return t, b, slice(y, y + h), slice(x, x + w)

    def from_block(self, block: np.ndarray) -> np.ndarray:
        """Invert :meth:`to_block`: a frame's ``(t, b, h, w)`` block as its C-ordered samples.

        ``block`` is the image cut by :meth:`frame_window`; the result has the dims of
        :meth:`frame_shape`, in ``frame_axes`` order, and is C-contiguous.
        """
        held = block.transpose(frame_order(self, 4))
        return np.ascontiguousarray(held.reshape(held.shape[4 - len(self.frame_axes) :]))

    def cell_frames(self, row: int, col: int | None = None) -> range:
        """The frames of the cell at ``(row, col)``, or of tile row ``row``, in index order.

        A cell's frames are consecutive, and so are a tile row's (§5: cells outermost).
        """
        first = self.frame_index(row, 0 if col is None else col)
        cells = self.tiles_across if col is None else 1
        return range(first, first + cells * self.frames_per_cell)

    def cell_window(self, row: int, col: int | None = None) -> Window:
        """The ``(t, b, y, x)`` slices of the cell at ``(row, col)``, or of tile row ``row``."""
        h, w = self.tile_shape(row, 0 if col is None else col)
        y = slice(row * self.tile_length, row * self.tile_length + h)
        x = slice(None) if col is None else slice(col * self.tile_width, col * self.tile_width + w)
        return slice(None), slice(None), y, x

    def cut(
        self, block: np.ndarray, window: Window, frames: range
    ) -> Iterator[tuple[int, np.ndarray]]:
        """``(k, block of frame k)`` for ``frames``, out of the image's ``window`` in ``block``.

        ``window`` (a :meth:`cell_window`) holds every band and step of the frames' tiles.
        """
        y0, x0 = window[2].start, window[3].start or 0
        for k in frames:
            t, b, y, x = self.frame_window(k)
            yield k, block[t, b, y.start - y0 : y.stop - y0, x.start - x0 : x.stop - x0]


def to_array_order(samples: np.ndarray, shape: Sequence[int], order: Sequence[int]) -> np.ndarray:
    """View a frame's decoded samples (C order) as the array block of ``shape`` they fill.

    ``order`` lists the block's axes in the frame's decoded order (:func:`frame_order`);
    the ``rumi.openzl_grid`` codec places its chunks with this too.
    """
    return samples.reshape([shape[a] for a in order]).transpose(_inverse(tuple(order)))


@lru_cache(maxsize=64)
def _inverse(order: tuple[int, ...]) -> tuple[int, ...]:
    """The permutation undoing ``order``."""
    return tuple(int(i) for i in np.argsort(order))


def frame_order(grid: FrameGrid, ndim: int) -> list[int]:
    """The ``transpose`` order of a frame: array axes in the frame's decoded order.

    The array's last four axes are ``(t, b, y, x)`` (or its last three ``(b, y, x)``);
    axes a frame does not hold have extent 1 and come first.
    """
    return _axes_order(grid.frame_axes, ndim)


def _axes_order(frame_axes: str, ndim: int) -> list[int]:
    axis = {"w": ndim - 1, "h": ndim - 2, "b": ndim - 3, "t": ndim - 4}
    held = [axis[a] for a in frame_axes]
    return [i for i in range(ndim) if i not in held] + held


@lru_cache(maxsize=64)
def _block_order(frame_axes: str) -> tuple[int, ...]:
    """:func:`frame_order` of a ``(t, b, h, w)`` block, per frame layout."""
    return tuple(_axes_order(frame_axes, 4))


@lru_cache(maxsize=256)
def frame_chunks(grid: FrameGrid) -> np.ndarray:
    """``(N, 4)`` chunk index ``(t, b, row, col)`` of each frame inside its own file."""
    index = np.empty((grid.frame_count, 4), np.int64)
    for k in range(grid.frame_count):
        key = grid.frame_key(k)
        index[k] = (key.time or 0, key.band or 0, key.row, key.col)
    index.setflags(write=False)
    return index


def axis_chunks(n: int, size: int) -> tuple[int, ...]:
    """Chunk sizes cutting an axis of ``n`` into ``size`` steps, the last one clipped."""
    full, rest = divmod(n, size)
    return (size,) * full + ((rest,) if rest else ())


# ---------------------------------------------------------------------------------------
# Frames in the file (§3.1)


def base_frame_offset(generation: Generation, bands: int, frames: int) -> int:
    """Offset of frame 0 (§3.1): the IFD end plus the out-of-line values."""
    external = 2 * (2 * bands if bands >= 5 else 0)
    external += (8 * frames if frames >= 2 else 0) + (4 * frames if frames >= 3 else 0)
    return generation.ifd_end + external + GEO_NBYTES


def frame_offsets(base: int, counts: np.ndarray) -> np.ndarray:
    """Where each frame starts, then where the last one ends (N + 1 values, uint64, §3.1).

    ``counts`` may also be 2-D, one file's counts per row (files of one layout): then
    each row of the result holds that file's offsets.
    """
    counts = np.asarray(counts, np.uint64)
    offsets = np.empty((*counts.shape[:-1], counts.shape[-1] + 1), np.uint64)
    offsets[..., 0] = base
    np.cumsum(counts, axis=-1, out=offsets[..., 1:])
    offsets[..., 1:] += np.uint64(base)
    return offsets


@dataclass(frozen=True, slots=True, eq=False)
class FrameTable:
    """What the index or a header blob says: the grid, the sample type and the frame sizes."""

    generation: Generation
    grid: FrameGrid
    sample: SampleType
    unit: int
    """The stored frame unit code (§5; 0.16: 0 tile, 1 cell)."""
    counts: np.ndarray
    """Compressed size of each frame (uint64)."""

    @property
    def base(self) -> int:
        """Offset of frame 0."""
        return base_frame_offset(self.generation, self.grid.bands, len(self.counts))

    def offsets(self) -> np.ndarray:
        """Frame start offsets plus the end of the last frame (N + 1 values)."""
        return frame_offsets(self.base, self.counts)

    def check_frame_size(self) -> None:
        """Refuse frames that decode past :data:`~rumi_xarray.spec.MAX_FRAME_BYTES`."""
        nbytes = self.grid.max_frame_samples() * self.sample.nbytes
        if nbytes > MAX_FRAME_BYTES:
            msg = (
                f"a decoded frame of {nbytes} bytes is past the size limit for this reader "
                f"({MAX_FRAME_BYTES})"
            )
            raise RumiFormatError.invalid(
                "decoded frame", msg, expected=f"<= {MAX_FRAME_BYTES}", found=nbytes
            )
