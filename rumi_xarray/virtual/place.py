"""Files on one pixel grid, and their frames in one chunk manifest, as array operations.

:func:`check_entries` checks that files agree (as :func:`rumi_xarray.sources.check_agree`
does file by file), :func:`place` puts every file's origin on the first file's pixel
grid, :func:`edges` cuts an axis into the chunks every file's frames need, and
:func:`fill_manifest` writes every frame's byte range into the chunk grid, layout by
layout (frame positions from :func:`rumi_xarray.layout.frame_chunks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..bits import distinct_rows
from ..errors import RumiVirtualError
from ..layout import frame_chunks
from ..sources import check_agree, facts
from ..values import same_value

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from .entries import Entries, Layout

_TOLERANCE = 1e-6
"""Largest misfit, in pixels, of a file origin on the mosaic's pixel grid."""
_BLOCK = 1 << 20
"""Frames placed at once (bounds the temporaries of a million-file manifest)."""


def check_entries(entries: Entries, fields: Sequence[str]) -> None:
    """Raise for the first entry that differs from entry 0 in one of ``fields``.

    Files alike in everything coded (layout, band texts, time, CRS, PixelIsPoint) are
    compared once; resolution and rotation row by row, as arrays.

    Raises
    ------
    RumiVirtualError
        As :func:`~rumi_xarray.sources.check_agree` raises it for that entry.
    """
    if len(entries) < 2 or not fields:
        return
    keys = np.column_stack(
        [
            entries.layout,
            entries.band_texts.codes,
            entries.times.codes(),
            entries.epsg,
            entries.pixel_is_point,
        ]
    )
    codes, firsts = distinct_rows(keys)
    expected = facts(entries.desc(0))
    coded = [f for f in fields if f not in ("resolution", "rotation")]
    differs = [
        any(not same_value(found[f], expected[f]) for f in coded)
        for found in (facts(entries.desc(int(i))) for i in firsts)
    ]
    bad = np.asarray(differs)[codes]
    t = entries.transforms
    for field, axes in (("resolution", [0, 4]), ("rotation", [1, 3])):
        if field in fields:
            same = (t[:, axes] == t[0, axes]) | (np.isnan(t[:, axes]) & np.isnan(t[0, axes]))
            bad |= ~same.all(axis=1) | (entries.placed != entries.placed[0])
    for i in np.flatnonzero(bad).tolist():
        check_agree(i, entries.urls[i], entries.desc(i), expected, fields)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where files lie on one pixel grid: the pixel of each origin, and each one's size."""

    rows: np.ndarray
    cols: np.ndarray
    lengths: np.ndarray
    widths: np.ndarray
    transform: tuple[float, float, float, float, float, float]
    """The affine of the grid's pixel (0, 0)."""

    @property
    def height(self) -> int:
        return int((self.rows + self.lengths).max())

    @property
    def width(self) -> int:
        return int((self.cols + self.widths).max())

    def part(self, start: int, stop: int) -> Placement:
        """The placement of files ``start:stop`` (one group of files placed with others)."""
        at = slice(start, stop)
        return Placement(
            self.rows[at], self.cols[at], self.lengths[at], self.widths[at], self.transform
        )


def place(groups: Sequence[Entries]) -> Placement:
    """Place the files of ``groups`` (in order) on the first file's pixel grid.

    Raises
    ------
    RumiVirtualError
        Naming the first file whose origin is not a whole number of pixels away.
    """
    urls = [url for entries in groups for url in entries.urls]
    transforms = np.concatenate([entries.transforms for entries in groups])
    a, e = float(transforms[0, 0]), float(transforms[0, 4])
    origin = transforms[:, [2, 5]]
    cols = _on_grid(urls, (origin[:, 0] - origin[0, 0]) / a, "x")
    rows = _on_grid(urls, (origin[:, 1] - origin[0, 1]) / e, "y")
    cols, rows = cols - cols.min(), rows - rows.min()
    sizes = []
    for entries in groups:
        grids = [layout.frames.grid for layout in entries.layouts]
        sizes.append(
            np.asarray([(g.length, g.width) for g in grids]).reshape(-1, 2)[entries.layout]
        )
    size = np.concatenate(sizes)
    c = float(origin[0, 0] - cols[0] * a)
    f = float(origin[0, 1] - rows[0] * e)
    return Placement(rows, cols, size[:, 0], size[:, 1], (a, 0.0, c, 0.0, e, f))


def _on_grid(urls: Sequence[str], offsets: np.ndarray, axis: str) -> np.ndarray:
    whole = np.round(offsets)
    bad = np.flatnonzero(np.abs(offsets - whole) > _TOLERANCE)
    if bad.size:
        i = int(bad[0])
        raise RumiVirtualError(
            f"{urls[i]} is misaligned: its {axis} origin is {offsets[i]:.6f} pixels "
            f"from {urls[0]}'s, not a whole number"
        )
    return whole.astype(np.int64)


def edges(
    urls: Sequence[str],
    starts: np.ndarray,
    extents: np.ndarray,
    tile: int,
    axis: str,
    total: int,
) -> np.ndarray:
    """The chunk edges along one axis of ``total`` pixels: every file's frame edges.

    Places no file covers are chunks of their own (missing, read as the fill value).

    Raises
    ------
    RumiVirtualError
        Naming two files whose frame edges cut each other's tiles.
    """
    pairs = np.unique(starts * (int(extents.max()) + 1) + extents)  # the distinct spans
    spans = np.column_stack(np.divmod(pairs, int(extents.max()) + 1))
    cuts = [np.append(np.arange(s, s + n, tile), s + n) for s, n in spans.tolist()]
    found = np.unique(np.concatenate([*cuts, [0, total]]))
    inside = np.searchsorted(found, starts + extents) - np.searchsorted(found, starts, "right")
    bad = np.flatnonzero(inside != -(-extents // tile) - 1)
    if bad.size:
        i = int(bad[0])
        inner = found[(found > starts[i]) & (found < starts[i] + extents[i])]
        cut = int(inner[(inner - starts[i]) % tile != 0][0])
        own = (starts == cut) | (starts + extents == cut)
        own |= (starts < cut) & (cut < starts + extents) & ((cut - starts) % tile == 0)
        j = int(np.flatnonzero(own)[0])
        earlier, later = sorted((i, j))
        raise RumiVirtualError(
            f"{urls[later]} is misaligned with {urls[earlier]}: their tile "
            f"edges along {axis} cut each other's tiles (tile {tile}, edge at pixel {cut})"
        )
    return found


# ---------------------------------------------------------------------------------------
# The manifest


@dataclass(frozen=True, slots=True)
class Manifest:
    """Each chunk's file (-1: missing), offset and length, shaped like the chunk grid."""

    files: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray


def fill_manifest(
    entries: Entries, origin: np.ndarray, shape: tuple[int, ...], timed: bool
) -> Manifest:
    """Write every file's frames into a chunk grid of ``shape``, rejecting any overlap.

    ``origin`` is ``(files, ndim)``: each file's chunk position along every axis
    (its extra coordinates, then 0 for time and band, then its first row and column
    chunk); a frame adds its own ``(time, band, row, col)`` inside the file.
    """
    files = np.full(shape, -1, np.int32)
    offsets = np.zeros(shape, np.uint64)
    lengths = np.zeros(shape, np.uint64)
    placed = 0
    for layout, at, flat in _frames(entries, origin, shape, timed):
        files.flat[flat] = np.repeat(layout.rows[at], layout.counts.shape[1])
        offsets.flat[flat] = layout.offsets(at)[:, :-1].ravel()
        lengths.flat[flat] = layout.counts[at].ravel()
        placed += flat.size
    if np.count_nonzero(files >= 0) != placed:
        _raise_overlap(entries, origin, shape, timed)
    return Manifest(files, offsets, lengths)


def _frames(
    entries: Entries, origin: np.ndarray, shape: tuple[int, ...], timed: bool
) -> Iterator[tuple[Layout, slice, np.ndarray]]:
    """``(layout, block of its files, flat chunk index of their frames)``, block by block."""
    strides = np.cumprod((1, *shape[:0:-1]))[::-1].astype(np.int64)
    base = origin.astype(np.int64) @ strides
    for layout in entries.layouts:
        local = frame_chunks(layout.frames.grid)
        inside = np.zeros((len(local), len(shape)), np.int64)
        inside[:, -2:] = local[:, 2:]
        inside[:, -3] = local[:, 1]
        if timed:
            inside[:, -4] = local[:, 0]
        step = inside @ strides
        per = max(1, _BLOCK // len(local))
        for start in range(0, layout.rows.size, per):
            at = slice(start, start + per)
            yield layout, at, (base[layout.rows[at]][:, None] + step[None, :]).ravel()


def _raise_overlap(
    entries: Entries, origin: np.ndarray, shape: tuple[int, ...], timed: bool
) -> None:
    """Name the two files of the first chunk that two files claim."""
    found = list(_frames(entries, origin, shape, timed))
    flat = np.concatenate([f for _, _, f in found])
    owner = np.concatenate([np.repeat(lay.rows[at], lay.counts.shape[1]) for lay, at, _ in found])
    order = np.lexsort((owner, flat))
    flat, owner = flat[order], owner[order]
    clash = np.flatnonzero(flat[1:] == flat[:-1])
    later = owner[clash + 1]
    j = int(clash[np.argmin(later)])
    raise RumiVirtualError(
        f"{entries.urls[owner[j + 1]]} overlaps {entries.urls[owner[j]]} "
        "(same place and extra coordinates)"
    )
