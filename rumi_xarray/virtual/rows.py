"""Catalog tables read in bulk: Arrow columns to :class:`~rumi_xarray.virtual.entries.Entries`.

Every row is checked as strictly as :func:`rumi_xarray.catalog.read_catalog` checks one
row alone, with array operations: header blobs by
:func:`~rumi_xarray.blob.parse_blobs` (one parse per layout, counts unpacked
together), values few rows differ in (generations, CRSs, band texts, time axes,
nodata) by the very functions that check one row, once per distinct value. A row
that fails any check is then checked alone, which raises its error (naming the row
and its path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..bits import distinct_rows
from ..blob import parse_blobs
from ..crs import parse_epsg_text
from ..errors import RumiFormatError
from ..layout import frame_offsets
from ..spec import Generation, TimeKind
from ..trailer import check_band_texts, time_faults
from .entries import Coded, Entries, Layout, Times

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..spec import SampleType

_TYPES: dict[str, pa.DataType] = {
    "path": pa.string(),
    "nbytes": pa.int64(),
    "generation": pa.string(),
    "header": pa.large_binary(),
    "shape": pa.list_(pa.int64()),
    "dtype": pa.string(),
    "crs": pa.string(),
    "transform": pa.list_(pa.float64()),
    "band_texts": pa.list_(pa.string()),
    "time_kind": pa.string(),
    "time": pa.list_(pa.int64()),
    "nodata": pa.float64(),
}
"""The type each column is read as; other types of the same family are cast to it."""


_BATCH = 1 << 17
"""Rows checked at once: bounds the temporaries of a million-row catalog."""


def table_entries(table: pa.Table, check_row: Callable[[int], object]) -> Entries:
    """Check and convert every row of a catalog table; ``check_row(i)`` raises row i's error.

    Rows go in batches of :data:`_BATCH`; the first batch with a failed row stops.
    """
    parts = []
    for start in range(0, max(1, table.num_rows), _BATCH):
        part, bad = _batch(table.slice(start, _BATCH))
        if bad.any():
            first = start + int(np.flatnonzero(bad)[0])
            check_row(first)
            raise RuntimeError(f"catalog row {first} passed its checks alone but not in bulk")
        parts.append(part)
    return Entries.concat(parts)


def _batch(table: pa.Table) -> tuple[Entries, np.ndarray]:
    """The entries of a batch of rows, and the rows that fail a check."""
    n = table.num_rows
    cols, bad = {}, np.zeros(n, bool)
    for name in _TYPES:
        cols[name], foreign = _column(table, name, n)
        bad |= foreign
    bad |= _is_null(cols["path"]) | _is_null(cols["header"]) | _is_null(cols["nbytes"])
    empty = pc.fill_null(pc.equal(pc.utf8_length(cols["path"]), 0), False)
    bad |= empty.to_numpy(zero_copy_only=False)
    nbytes = pc.fill_null(cols["nbytes"], 0).to_numpy()
    bad |= nbytes <= 0
    generation, wrong = _generations(cols["generation"])
    bad |= wrong
    layouts, layout, wrong = _layouts(cols, generation, nbytes)
    bad |= wrong
    georef = _georef(cols, table, n)
    bad |= georef.bad
    samples = [lay.frames.sample for lay in layouts]
    grids = [lay.frames.grid for lay in layouts]
    rows = _Rows(layout, np.asarray([g.bands for g in grids]), np.asarray([g.times for g in grids]))
    texts, wrong = _band_texts(cols["band_texts"], rows, generation)
    bad |= wrong
    times, wrong = _times(cols["time_kind"], cols["time"], rows, generation)
    bad |= wrong
    nodata, wrong = _nodata(cols["nodata"], layout, samples)
    bad |= wrong
    entries = Entries(
        urls=tuple(cols["path"].to_pylist()),
        nbytes=nbytes,
        layouts=tuple(layouts),
        layout=layout,
        transforms=georef.transforms,
        placed=georef.placed,
        epsg=georef.epsg,
        pixel_is_point=georef.pixel_is_point,
        band_texts=texts,
        times=times,
        nodata=nodata,
    )
    return entries, bad


# ---------------------------------------------------------------------------------------
# Columns


def _column(table: pa.Table, name: str, n: int) -> tuple[pa.Array, np.ndarray]:
    """A column cast to its type, and the rows it could not give (a foreign type)."""
    target = _TYPES[name]
    if name not in table.column_names:
        return pa.nulls(n, target), np.zeros(n, bool)
    column = table.column(name).combine_chunks()
    if _same_family(column.type, target):
        try:
            return column.cast(target, safe=name != "time"), np.zeros(n, bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return pa.nulls(n, target), ~_is_null(column)


def _same_family(found: pa.DataType, want: pa.DataType) -> bool:
    """Whether a column of type ``found`` holds what one of type ``want`` would."""
    t = pa.types
    if t.is_null(found) or found == want:
        return True
    if t.is_dictionary(found):
        return _same_family(found.value_type, want)
    if t.is_list(want):
        lists = t.is_list(found) or t.is_large_list(found) or t.is_fixed_size_list(found)
        return lists and _same_family(found.value_type, want.value_type)
    kinds = {
        "string": (t.is_string, t.is_large_string),
        "int64": (t.is_integer,),
        "large_binary": (t.is_binary, t.is_large_binary, t.is_fixed_size_binary),
        "double": (t.is_floating,) + ((t.is_integer,) if want == pa.float64() else ()),
    }
    return any(test(found) for test in kinds.get(str(want), ()))


def _is_null(array: pa.Array) -> np.ndarray:
    return np.asarray(array.is_null().to_numpy(zero_copy_only=False), bool)


def _distinct(array: pa.Array) -> tuple[np.ndarray, list[Any]]:
    """``(code of each row, -1 where null; the distinct values)``."""
    encoded = array.dictionary_encode()
    codes = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


@dataclass(frozen=True, slots=True)
class _Lists:
    """The rows of a list column holding lists of one length and no null value."""

    rows: np.ndarray
    at: np.ndarray
    """``(len(rows), length)`` positions of their values among the column's flat values."""


def _lists(array: pa.Array, length: int) -> _Lists:
    """The rows of a list column holding ``length`` non-null values, and where those are."""
    offsets = array.offsets.to_numpy().astype(np.int64)
    rows = np.flatnonzero(~_is_null(array) & (np.diff(offsets) == length))
    at = offsets[rows][:, None] + np.arange(length)
    null = _is_null(array.values)[at].any(axis=1) if length else np.zeros(rows.size, bool)
    return _Lists(rows[~null], at[~null])


def _numbers(array: pa.Array) -> np.ndarray:
    """The flat values of a list column of numbers (nulls as 0)."""
    return np.asarray(pc.fill_null(array.values, 0).to_numpy(zero_copy_only=False))


def _lengths(array: pa.Array) -> np.ndarray:
    """The distinct lengths of a list column's lists."""
    sizes = np.diff(array.offsets.to_numpy())[~_is_null(array)]
    if sizes.size and sizes.max() < 1 << 12:  # counted, not sorted
        return np.flatnonzero(np.bincount(sizes))
    return np.unique(sizes)


# ---------------------------------------------------------------------------------------
# Generation and frames


def _generations(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(generation code of each row, -1 where unknown; rows naming no generation)``."""
    codes, values = _distinct(column)
    known = []
    for value in values:
        try:
            known.append(list(Generation).index(Generation(value)))
        except ValueError:
            known.append(-1)
    found = np.asarray([*known, -1], np.int64)[codes]
    return found, found < 0


def _layouts(
    cols: dict[str, pa.Array], generation: np.ndarray, nbytes: np.ndarray
) -> tuple[list[Layout], np.ndarray, np.ndarray]:
    """Parse the header blobs in bulk: ``(layouts, layout of each row, rows rejected)``."""
    n = len(generation)
    header = cols["header"]
    buffers = header.buffers()
    offsets = np.frombuffer(buffers[1], np.int64)[header.offset : header.offset + n + 1]
    data = np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None else np.empty(0, np.uint8)
    layout, bad = np.full(n, -1, np.int64), np.zeros(n, bool)
    layouts: list[Layout] = []
    shapes, dtypes = cols["shape"], _distinct(cols["dtype"])
    for code, gen in enumerate(Generation):
        rows = np.flatnonzero((generation == code) & ~_is_null(header))
        if not rows.size:
            continue
        starts = offsets[rows]
        groups, rejected = parse_blobs(data, starts, offsets[rows + 1] - starts, gen)
        bad[rows[rejected]] = True
        for group in groups:
            at = rows[group.rows]
            ends = frame_offsets(group.frames.base, group.counts)[:, -1]
            bad[at[ends.astype(np.int64) > nbytes[at]]] = True
            bad[at[~_shape_ok(shapes, at, group.frames.grid, group.frames.sample, dtypes)]] = True
            layout[at] = len(layouts)
            layouts.append(Layout(group.frames, at, group.counts))
    return layouts, layout, bad


def _shape_ok(
    shapes: pa.Array, rows: np.ndarray, grid: Any, sample: SampleType, dtypes: Any
) -> np.ndarray:
    """Whether each of ``rows`` states the shape ``(T, B, L, W)`` and dtype of its blob."""
    codes, values = dtypes
    named = np.asarray([v == sample.name for v in values] + [False])[codes[rows]]
    stated = shapes.take(pa.array(rows))
    given = _lists(stated, 4)
    ok = np.zeros(rows.size, bool)
    want = np.asarray([grid.times, grid.bands, grid.length, grid.width])
    ok[given.rows] = (_numbers(stated)[given.at] == want).all(axis=1)
    sound: np.ndarray = ok & named
    return sound


# ---------------------------------------------------------------------------------------
# Georeferencing


@dataclass(frozen=True, slots=True)
class _Georef:
    transforms: np.ndarray
    placed: np.ndarray
    epsg: np.ndarray
    pixel_is_point: np.ndarray
    bad: np.ndarray


def _georef(cols: dict[str, pa.Array], table: pa.Table, n: int) -> _Georef:
    """Transforms, EPSG codes and PixelIsPoint flags, as ``catalog._georef`` checks them."""
    crs, transform = cols["crs"], cols["transform"]
    placed = ~_is_null(transform)
    bad = placed != ~_is_null(crs)  # given together or not at all
    codes, values = _distinct(crs)
    epsg = []
    for value in values:
        try:
            epsg.append(parse_epsg_text(value))
        except RumiFormatError:
            epsg.append(-2)
    row_epsg = np.asarray([*epsg, -1], np.int64)[codes]
    bad |= row_epsg == -2
    six = _lists(transform, 6)
    transforms = np.full((n, 6), np.nan)
    transforms[six.rows] = _numbers(transform)[six.at]
    finite = np.zeros(n, bool)
    finite[six.rows] = np.isfinite(transforms[six.rows]).all(axis=1)
    bad |= placed & ~finite
    return _Georef(transforms, placed, row_epsg, _flags(table, n), bad)


def _flags(table: pa.Table, n: int) -> np.ndarray:
    """``bool(pixel_is_point)`` of every row, whatever the column's type."""
    if "pixel_is_point" not in table.column_names:
        return np.zeros(n, bool)
    column = table.column("pixel_is_point").combine_chunks()
    if pa.types.is_boolean(column.type):
        return np.asarray(pc.fill_null(column, False).to_numpy(zero_copy_only=False), bool)
    codes, values = _distinct(column)
    flags: np.ndarray = np.asarray([*(bool(v) for v in values), False])[codes]
    return flags


# ---------------------------------------------------------------------------------------
# The trailer: band texts and time


@dataclass(frozen=True, slots=True)
class _Rows:
    """Each row's layout, and each layout's band and step counts."""

    layout: np.ndarray
    bands: np.ndarray
    times: np.ndarray


def _band_texts(
    column: pa.Array, rows: _Rows, generation: np.ndarray
) -> tuple[Coded[tuple[str, ...] | None], np.ndarray]:
    """Band texts (``None`` for 0.15/0.16 files and null rows), checked per distinct value."""
    n = len(generation)
    codes, bad = np.zeros(n, np.int64), np.zeros(n, bool)
    values: list[tuple[str, ...] | None] = [None]
    trailed = (generation != list(Generation).index(Generation.BIGTIFF)) & (rows.layout >= 0)
    bad[trailed & ~_is_null(column) & ~_whole(column)] = True
    words = column.values.dictionary_encode()
    word_codes = pc.fill_null(words.indices, -1).to_numpy().astype(np.int64)
    vocabulary = words.dictionary.to_pylist()
    for length in _lengths(column).tolist():
        given = _lists(column, length)
        at = given.rows[trailed[given.rows]]
        keys = np.column_stack([word_codes[given.at[trailed[given.rows]]], rows.layout[at]])
        key_codes, firsts = distinct_rows(keys)
        for k, first in enumerate(firsts.tolist()):
            texts = tuple(vocabulary[w] for w in keys[first, :-1].tolist())
            try:
                check_band_texts(texts, int(rows.bands[keys[first, -1]]))
            except (TypeError, ValueError):
                bad[at[key_codes == k]] = True
                continue
            codes[at[key_codes == k]] = len(values)
            values.append(texts)
    return _merged(codes, values), bad


def _whole(column: pa.Array) -> np.ndarray:
    """Per row of a list column: whether it holds a list with no null value."""
    whole = np.zeros(len(column), bool)
    for length in _lengths(column).tolist():
        whole[_lists(column, length).rows] = True
    return whole


def _times(
    kinds: pa.Array, seconds: pa.Array, rows: _Rows, generation: np.ndarray
) -> tuple[Times, np.ndarray]:
    """Time axes (none where ``time_kind`` is null), checked as arrays (``time_faults``)."""
    kind_codes, kind_names = _distinct(kinds)
    kind_of = []
    for name in kind_names:
        try:
            kind_of.append(int(TimeKind[name.upper()]))
        except KeyError:
            kind_of.append(-2)
    kind = np.asarray([*kind_of, -1], np.int64)[kind_codes]
    trailed = (generation != list(Generation).index(Generation.BIGTIFF)) & (rows.layout >= 0)
    timed = trailed & (kind != -1)
    bad = timed & ((kind == -2) | ~_whole(seconds))
    flat = _numbers(seconds)
    for length in _lengths(seconds).tolist():
        given = _lists(seconds, length)
        keep = timed[given.rows] & ~bad[given.rows]
        at, values = given.rows[keep], flat[given.at[keep]]
        steps = rows.times[rows.layout[at]]
        for k, t in np.unique(np.column_stack([kind[at], steps]), axis=0).tolist():
            this = (kind[at] == k) & (steps == t)
            if k == TimeKind.INTERVAL and length % 2:
                bad[at[this]] = True  # no (start, end) pairs
                continue
            m = int(this.sum())
            shape = (m, length // 2, 2) if k == TimeKind.INTERVAL else (m, length)
            bad[at[this]] |= time_faults(TimeKind(k), values[this].reshape(shape), int(t))
    kept = np.where(timed & ~bad, kind, -1)
    offsets = seconds.offsets.to_numpy().astype(np.int64)
    sizes = np.where(kept >= 0, np.diff(offsets), 0)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    at = np.repeat(offsets[:-1] - starts[:-1], sizes) + np.arange(starts[-1])
    return Times(kept, starts, flat[at].astype(np.int64)), bad


def _merged(codes: np.ndarray, values: list[Any]) -> Coded[Any]:
    """A coded column whose equal values (from different layouts) share one code."""
    merged = Coded.of(values)
    return Coded(merged.codes[codes], merged.values)


# ---------------------------------------------------------------------------------------
# Nodata


def _nodata(
    column: pa.Array, layout: np.ndarray, samples: list[SampleType]
) -> tuple[Coded[int | float | None], np.ndarray]:
    """Each row's nodata as its dtype spells it, checked per distinct (value, dtype)."""
    from .catalog import row_nodata

    n = len(layout)
    values = pc.fill_null(column, 0.0).to_numpy()
    present = ~_is_null(column) & (layout >= 0)
    codes, bad = np.zeros(n, np.int64), np.zeros(n, bool)
    found: list[int | float | None] = [None]
    keys = np.column_stack([values.view(np.int64), layout])[present]
    at = np.flatnonzero(present)
    key_codes, firsts = distinct_rows(keys)
    for k, first in enumerate(firsts.tolist()):
        value, dtype = float(values[at[first]]), samples[int(layout[at[first]])].dtype
        try:
            spelled = row_nodata(value, dtype)
        except (TypeError, ValueError):
            bad[at[key_codes == k]] = True
            continue
        codes[at[key_codes == k]] = len(found)
        found.append(spelled)
    return Coded(codes, tuple(found)), bad
