"""Many described files as columns: what mosaics are built from, with no object per file.

:class:`Entries` holds, for every file, its URL, length, georeferencing and nodata as
NumPy columns, and its frames by *layout*: files written alike (same generation, grid,
sample type and frame unit) share one :class:`Layout`, which holds their frame byte
counts as a 2-D array (offsets follow from them, §3.1). Values that few files differ in
(band texts, nodata) are coded: one small table of distinct values and a code per file;
time axes are columns of their own (:class:`Times`), as every file may differ in time.

It is a ``Sequence`` of :class:`Entry`: ``entries[i]`` builds one file's
:class:`Entry` (with its :class:`~rumi_xarray.format.RumiFile`) when asked, so code
written for lists of entries keeps working. :func:`rumi_xarray.catalog.read_catalog`
returns one, and :func:`rumi_xarray.mosaic.mosaic` works on its columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any, cast, overload

import numpy as np

from ..bits import distinct_rows
from ..format import RumiFile, with_frames
from ..georef import Georef
from ..layout import frame_offsets
from ..spec import TimeKind
from ..trailer import TimeAxis

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from ..layout import FrameTable

Affine = tuple[float, float, float, float, float, float]


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of a mosaic: where its bytes are and what they hold."""

    url: str
    desc: RumiFile
    nbytes: int | None = None
    """The file's length, when known."""
    nodata: int | float | None = None
    """The value the file's pixels use for "no data", when declared (a catalog column)."""


@dataclass(frozen=True, slots=True, eq=False)
class Coded[T]:
    """A column of few distinct values: the values once, and a code per row."""

    codes: np.ndarray
    """int64 index into ``values`` of each row."""
    values: tuple[T, ...]

    def __getitem__(self, i: int) -> T:
        return self.values[int(self.codes[i])]

    def take(self, rows: np.ndarray) -> Coded[T]:
        return Coded(self.codes[rows], self.values)

    @classmethod
    def concat(cls, parts: Sequence[Coded[T]], key: Any = None) -> Coded[T]:
        """The rows of ``parts``, one after the other, equal values sharing a code."""
        merged = cls.of((v for p in parts for v in p.values), key=key)
        starts = np.cumsum([0, *(len(p.values) for p in parts)])
        codes = [merged.codes[start + p.codes] for p, start in zip(parts, starts, strict=False)]
        return cls(np.concatenate(codes), merged.values)

    @classmethod
    def of(cls, items: Iterable[T], key: Any = None) -> Coded[T]:
        """Code ``items``, telling values apart by ``key(value)`` (default: the value)."""
        index: dict[Any, int] = {}
        values: list[T] = []
        codes = []
        for item in items:
            k = item if key is None else key(item)
            if k not in index:
                index[k] = len(values)
                values.append(item)
            codes.append(index[k])
        return cls(np.asarray(codes, np.int64), tuple(values))


@dataclass(frozen=True, slots=True, eq=False)
class Times:
    """Each file's time axis as columns: its kind and its seconds, all files' end to end."""

    kind: np.ndarray
    """int64 :class:`~rumi_xarray.spec.TimeKind` of each file's axis, -1 where it has none."""
    offsets: np.ndarray
    """``(n + 1,)`` int64: file ``i``'s seconds are ``seconds[offsets[i]:offsets[i + 1]]``."""
    seconds: np.ndarray
    """int64 POSIX seconds, flat (intervals ``start, end, ...``)."""

    def __getitem__(self, i: int) -> TimeAxis | None:
        kind = int(self.kind[i])
        if kind < 0:
            return None
        values = self.seconds[self.offsets[i] : self.offsets[i + 1]].copy()
        if kind == TimeKind.INTERVAL:
            values = values.reshape(-1, 2)
        return TimeAxis(TimeKind(kind), values)

    def first(self, width: int = 1) -> np.ndarray:
        """``(n, width)``: the first ``width`` seconds of each file's axis (0 past its end)."""
        n = len(self.kind)
        out = np.zeros((n, width), np.int64)
        for j in range(width):
            inside = self.offsets[:-1] + j < self.offsets[1:]
            out[inside, j] = self.seconds[self.offsets[:-1][inside] + j]
        return out

    def codes(self) -> np.ndarray:
        """A code per file telling its axes apart: equal kinds and seconds, equal codes."""
        lengths = np.diff(self.offsets)
        codes = np.zeros(len(self.kind), np.int64)
        taken = 0
        for length in np.unique(lengths).tolist():
            rows = np.flatnonzero(lengths == length)
            at = self.offsets[rows][:, None] + np.arange(length)
            found, firsts = distinct_rows(np.column_stack([self.kind[rows], self.seconds[at]]))
            codes[rows] = taken + found
            taken += len(firsts)
        return codes

    def take(self, rows: np.ndarray) -> Times:
        lengths = np.diff(self.offsets)[rows]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        at = np.repeat(self.offsets[rows] - offsets[:-1], lengths) + np.arange(offsets[-1])
        return Times(self.kind[rows], offsets, self.seconds[at])

    @classmethod
    def concat(cls, parts: Sequence[Times]) -> Times:
        starts = np.cumsum([0, *(int(p.offsets[-1]) for p in parts)])
        offsets = [p.offsets[:-1] + start for p, start in zip(parts, starts.tolist(), strict=False)]
        return cls(
            np.concatenate([p.kind for p in parts]),
            np.concatenate([*offsets, starts[-1:]]).astype(np.int64),
            np.concatenate([p.seconds for p in parts]).astype(np.int64),
        )

    @classmethod
    def of(cls, axes: Sequence[TimeAxis | None]) -> Times:
        kind = np.asarray([-1 if a is None else int(a.kind) for a in axes], np.int64)
        flat = [np.empty(0, np.int64) if a is None else a.seconds.ravel() for a in axes]
        lengths = np.asarray([len(f) for f in flat], np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        seconds = np.concatenate([*flat, np.empty(0, np.int64)]).astype(np.int64)
        return cls(kind, offsets, seconds)


@dataclass(frozen=True, slots=True, eq=False)
class Layout:
    """Files written alike: one frame layout, and each file's frame byte ranges."""

    frames: FrameTable
    """Generation, grid, sample type and frame unit (its counts are one file's)."""
    rows: np.ndarray
    """Which entries have this layout (int64, ascending)."""
    counts: np.ndarray
    """``(len(rows), frames)`` uint64 compressed size of each frame."""

    def offsets(self, at: slice | np.ndarray | int = slice(None)) -> np.ndarray:
        """Frame starts, then the end of the last frame, of the files ``at`` (uint64)."""
        return frame_offsets(self.frames.base, self.counts[at])

    def take(self, rows: np.ndarray, renumber: np.ndarray) -> Layout | None:
        """The layout of the entries ``rows`` (ascending), renumbered by ``renumber``."""
        at = np.flatnonzero(np.isin(self.rows, rows))
        if not at.size:
            return None
        return Layout(self.frames, renumber[self.rows[at]], self.counts[at])


@dataclass(frozen=True, eq=False)
class Entries(Sequence[Entry]):
    """Described files as columns (see the module docstring); a ``Sequence[Entry]``."""

    urls: tuple[str, ...]
    nbytes: np.ndarray
    """int64 file length, -1 where unknown."""
    layouts: tuple[Layout, ...]
    layout: np.ndarray
    """int64 index into ``layouts`` of each file."""
    transforms: np.ndarray
    """``(n, 6)`` float64 affine of each file (rasterio order); NaN where it has none."""
    placed: np.ndarray
    """bool: whether each file has a transform."""
    epsg: np.ndarray
    """int64 EPSG code of each file, -1 where none."""
    pixel_is_point: np.ndarray
    band_texts: Coded[tuple[str, ...] | None]
    times: Times
    nodata: Coded[int | float | None]

    def __len__(self) -> int:
        return len(self.urls)

    @overload
    def __getitem__(self, i: int) -> Entry: ...
    @overload
    def __getitem__(self, i: slice) -> Entries: ...
    def __getitem__(self, i: int | slice) -> Entry | Entries:
        if isinstance(i, slice):
            return self.take(np.arange(len(self))[i])
        if not -len(self) <= i < len(self):
            raise IndexError(f"entry {i} out of range for {len(self)} entries")
        i %= len(self)
        nbytes = int(self.nbytes[i])
        return Entry(self.urls[i], self.desc(i), None if nbytes < 0 else nbytes, self.nodata[i])

    def __iter__(self) -> Iterator[Entry]:
        return (self[i] for i in range(len(self)))

    def desc(self, i: int) -> RumiFile:
        """The description of file ``i``, as reading its header would give it."""
        layout = self.layouts[int(self.layout[i])]
        at = int(np.searchsorted(layout.rows, i))
        return with_frames(
            layout.frames,
            layout.counts[at].copy(),
            layout.offsets(at),
            self.georef(i),
            band_texts=self.band_texts[i],
            time=self.times[i],
        )

    def georef(self, i: int) -> Georef:
        t = self.transforms[i]
        transform = cast("Affine", tuple(t.tolist())) if self.placed[i] else None
        epsg = int(self.epsg[i])
        return Georef(transform, None if epsg < 0 else epsg, bool(self.pixel_is_point[i]))

    def take(self, rows: np.ndarray) -> Entries:
        """The entries at ``rows`` (ascending positions), as columns."""
        rows = np.asarray(rows, np.int64)
        renumber = np.full(len(self), -1, np.int64)
        renumber[rows] = np.arange(rows.size)
        kept = [layout.take(rows, renumber) for layout in self.layouts]
        layouts = tuple(layout for layout in kept if layout is not None)
        new_index = np.cumsum([layout is not None for layout in kept]) - 1
        return Entries(
            urls=tuple(self.urls[i] for i in rows.tolist()),
            nbytes=self.nbytes[rows],
            layouts=layouts,
            layout=new_index[self.layout[rows]],
            transforms=self.transforms[rows],
            placed=self.placed[rows],
            epsg=self.epsg[rows],
            pixel_is_point=self.pixel_is_point[rows],
            band_texts=self.band_texts.take(rows),
            times=self.times.take(rows),
            nodata=self.nodata.take(rows),
        )

    @classmethod
    def concat(cls, parts: Sequence[Entries]) -> Entries:
        """The entries of ``parts``, one after the other (layouts alike are joined)."""
        if len(parts) == 1:
            return parts[0]
        starts = np.cumsum([0, *(len(p) for p in parts)]).tolist()
        joined: dict[Any, list[tuple[Layout, int]]] = {}
        codes = []
        for part, start in zip(parts, starts, strict=False):
            keys = [_layout_key(layout.frames) for layout in part.layouts]
            for layout, key in zip(part.layouts, keys, strict=True):
                joined.setdefault(key, []).append((layout, start))
            order = list(joined)
            codes.append(np.asarray([order.index(k) for k in keys], np.int64)[part.layout])
        layouts = tuple(
            Layout(
                found[0][0].frames,
                np.concatenate([lay.rows + start for lay, start in found]),
                np.concatenate([lay.counts for lay, _ in found]),
            )
            for found in joined.values()
        )
        return cls(
            urls=tuple(chain.from_iterable(part.urls for part in parts)),
            nbytes=np.concatenate([p.nbytes for p in parts]),
            layouts=layouts,
            layout=np.concatenate(codes),
            transforms=np.concatenate([p.transforms for p in parts]),
            placed=np.concatenate([p.placed for p in parts]),
            epsg=np.concatenate([p.epsg for p in parts]),
            pixel_is_point=np.concatenate([p.pixel_is_point for p in parts]),
            band_texts=Coded.concat([p.band_texts for p in parts]),
            times=Times.concat([p.times for p in parts]),
            nodata=Coded.concat([p.nodata for p in parts], key=_nodata_key),
        )

    @classmethod
    def of(cls, entries: Sequence[Entry]) -> Entries:
        """Columns of described files (each entry's description is taken as it is)."""
        if isinstance(entries, Entries):
            return entries
        from ..layout import FrameTable

        descs = [e.desc for e in entries]
        keys = Coded.of(descs, key=lambda d: (d.generation, d.grid, d.sample, d.frame_unit))
        layouts = []
        for code, d in enumerate(keys.values):
            rows = np.flatnonzero(keys.codes == code)
            counts = np.stack([descs[i].counts for i in rows.tolist()])
            frames = FrameTable(d.generation, d.grid, d.sample, d.frame_unit, counts[0])
            layouts.append(Layout(frames, rows, counts))
        nan = (np.nan,) * 6
        return cls(
            urls=tuple(e.url for e in entries),
            nbytes=np.asarray([-1 if e.nbytes is None else e.nbytes for e in entries], np.int64),
            layouts=tuple(layouts),
            layout=keys.codes,
            transforms=np.asarray([d.georef.transform or nan for d in descs], np.float64),
            placed=np.asarray([d.georef.transform is not None for d in descs], bool),
            epsg=np.asarray([-1 if d.georef.epsg is None else d.georef.epsg for d in descs]),
            pixel_is_point=np.asarray([d.georef.pixel_is_point for d in descs], bool),
            band_texts=Coded.of(d.band_texts for d in descs),
            times=Times.of([d.time for d in descs]),
            nodata=Coded.of((e.nodata for e in entries), key=_nodata_key),
        )


def _layout_key(frames: FrameTable) -> Any:
    return frames.generation, frames.grid, frames.sample, frames.unit


def _nodata_key(value: int | float | None) -> Any:
    """Nodata values told apart by type and value, NaN equal to NaN."""
    if isinstance(value, float) and value != value:
        return float, "nan"
    return type(value), value
