"""Frame geometry (§4, §5): the only place frame indices, clipped shapes and axes are computed."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import NamedTuple, cast

import numpy as np

from .errors import RumiFormatError
from .spec import FRAME_AXES


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
            raise RumiFormatError(f"frame_unit 9 does not fit {bands} bands and {times} time steps")
        return "hw", present[::-1] if unit == 9 else present
    layouts = FRAME_AXES.get(unit)
    if layouts is None:
        raise RumiFormatError(f"frame_unit is {unit}, which names no frame layout")
    if isinstance(layouts, tuple):
        if len(present) != 1:
            raise RumiFormatError(
                f"frame_unit {unit} does not fit {bands} bands and {times} time steps"
            )
        return layouts[0 if present == "b" else 1], ""
    if present != "bt":
        raise RumiFormatError(
            f"frame_unit {unit} does not fit {bands} bands and {times} time steps"
        )
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

    def frame_samples(self, k: int) -> int:
        n = 1
        for d in self.frame_shape(k):
            n *= d
        return n

    def to_block(self, k: int, samples: np.ndarray) -> np.ndarray:
        """Arrange frame k's decoded samples (flat, C order) as a ``(t, b, h, w)`` view.

        Axes the frame does not hold get extent 1.
        """
        present = [a for a in "tbhw" if a in self.frame_axes]
        order = tuple(self.frame_axes.index(a) for a in present)
        block = samples.reshape(self.frame_shape(k)).transpose(order)
        return np.expand_dims(block, tuple(i for i, a in enumerate("tbhw") if a not in present))

    def frame_window(self, k: int) -> tuple[slice, slice, slice, slice]:
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
        held = block[tuple(slice(None) if a in self.frame_axes else 0 for a in "tbhw")]
        present = [a for a in "tbhw" if a in self.frame_axes]
        return np.ascontiguousarray(held.transpose([present.index(a) for a in self.frame_axes]))
