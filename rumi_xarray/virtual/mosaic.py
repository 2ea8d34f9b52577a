"""Virtual mosaics: many grid-aligned rumi files as one Zarr dataset, no pixel copied.

Files are placed on one pixel grid by their transforms; dimensions beyond space come
from file names (a regex with named groups, as tifffile's ``TiffSequence``) or from
files' differing single time instants. Where files' edge frames fall inside the
mosaic the chunk grid is rectilinear; places no file covers are missing chunks, read
as the fill value.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..coords import area_or_point
from ..errors import RumiVirtualError
from ..layout import frame_chunks
from ..sources import FIELDS, check_agree, describe_sources, facts
from ..spec import TimeKind
from ..values import same_value, sample_value
from .file import VARIABLE, source_url
from .model import VirtualArray, VirtualDataset, frame_codecs, zarr_data_type

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Mapping, Sequence

    import xarray as xr

    from ..format import RumiFile
    from ..trailer import TimeAxis

_TOLERANCE = 1e-6
"""Largest misfit, in pixels, of a file origin on the mosaic's pixel grid."""
AGREE = tuple(field for field in FIELDS if field not in ("shape", "transform"))
"""What the files of a mosaic share: all :data:`~rumi_xarray.sources.FIELDS` but placement."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of a mosaic: where its bytes are and what they hold."""

    url: str
    desc: RumiFile
    nbytes: int | None = None
    """The file's length, when known."""
    nodata: int | float | None = None
    """The value the file's pixels use for "no data", when declared (a catalog column)."""


def mosaic(
    sources: Iterable[str] | Sequence[Entry],
    *,
    headers: Sequence[bytes] | None = None,
    pattern: str | None = None,
    categories: Mapping[str, Mapping[str, Any]] | None = None,
    nodata: int | float | None = None,
    fill_value: int | float | None = None,
    storage_options: dict[str, Any] | None = None,
    max_workers: int | None = None,
    progress: bool | None = None,
) -> VirtualDataset:
    """One virtual dataset from many grid-aligned rumi files.

    Parameters
    ----------
    sources
        File paths or URLs (their headers are read in parallel threads), or
        :class:`Entry` objects (e.g. from :func:`rumi_xarray.catalog.read_catalog`),
        which need no file I/O.
    headers
        The files' header blobs, in the order of ``sources``; opening then reads only
        each file's georeferencing and trailer.
    pattern
        A regex searched in each URL; each named group becomes a dimension whose
        coordinate is the sorted set of matched values (integers when all are digits).
        A group whose values and the files' own time instants index the same files
        one-to-one (a date in the file names) is their one dimension, with ``time``
        as a coordinate along it.
    categories
        Per named group, a mapping from matched text to coordinate value.
    nodata
        The files' nodata value, which becomes the data variable's ``_FillValue`` so
        that xarray's default decoding masks exactly it. Default: the entries' own
        ``nodata`` (a catalog column), which must agree.
    fill_value
        Value of places no file covers (Zarr's ``fill_value``). Default: ``nodata``
        when declared, else 0.
    progress
        Show a progress bar (default: when there are more than 1000 files).

    Returns
    -------
    VirtualDataset
        Write it with :func:`rumi_xarray.to_kerchunk` or :func:`rumi_xarray.to_icechunk`.
    """
    entries = describe_entries(sources, headers, storage_options, max_workers, progress, AGREE)
    if not entries:
        raise RumiVirtualError("a mosaic needs at least one file")
    first = entries[0].desc
    if first.georef.transform is None:
        raise RumiVirtualError(f"{entries[0].url} has no transform to place it in a mosaic")
    data_type = zarr_data_type(first.sample)
    nodata = _nodata(entries, nodata, data_type)
    if fill_value is None:
        fill_value = 0 if nodata is None else nodata
    fill_value = sample_value("fill_value", fill_value, np.dtype(data_type)).item()
    extra = _extra_dims(entries, pattern, categories)
    placed = _Placement.of(entries)
    return _build(entries, extra, placed, fill_value, nodata)


def _nodata(
    entries: Sequence[Entry], nodata: int | float | None, data_type: str
) -> int | float | bool | None:
    """The mosaic's nodata: given, or the entries' own, which must all agree."""
    if nodata is None:
        nodata = entries[0].nodata
        for entry in entries[1:]:
            if not same_value(entry.nodata, nodata):
                raise RumiVirtualError(
                    f"{entry.url} declares nodata {entry.nodata!r}, {entries[0].url} "
                    f"{nodata!r}: the files of one mosaic must agree (or give nodata=)"
                )
    return None if nodata is None else sample_value("nodata", nodata, np.dtype(data_type)).item()


def describe_entries(
    sources: Iterable[str | os.PathLike[str]] | Sequence[Entry],
    headers: Sequence[bytes] | None = None,
    storage_options: dict[str, Any] | None = None,
    max_workers: int | None = None,
    progress: bool | None = None,
    agree: Sequence[str] = AGREE,
    what: str = "mosaic",
) -> list[Entry]:
    """The entries of files (described in parallel threads) or entries as given.

    Each is checked, in order, against the first over ``agree`` (by default what the
    files of a mosaic share; ``()`` checks nothing). ``progress`` shows a bar, by
    default for more than 1000 files; ``what`` the sources make, for error notes.

    Raises
    ------
    RumiVirtualError
        Naming the first entry that differs from the first one, and the field.
    """
    items: list[str | os.PathLike[str] | Entry] = list(sources)
    if items and all(isinstance(s, Entry) for s in items):
        entries = cast("list[Entry]", items)
        expected = facts(entries[0].desc)
        for i, entry in enumerate(entries[1:], 1):
            check_agree(i, entry.url, entry.desc, expected, agree)
        return entries
    urls = [source_url(s) for s in items]
    described = describe_sources(
        items,
        headers,
        storage_options,
        agree=agree,
        labels=urls,
        what=what,
        max_workers=max_workers or 8,
        progress=len(items) > 1000 if progress is None else progress,
    )
    return [Entry(url, desc, r.size) for url, (desc, r) in zip(urls, described, strict=True)]


# ---------------------------------------------------------------------------------------
# Extra dimensions


@dataclass(frozen=True, slots=True)
class _Extra:
    names: tuple[str, ...]
    coords: tuple[np.ndarray, ...]
    index: np.ndarray
    """``(files, dims)`` position of each file along the extra dimensions."""
    time_dim: str | None
    """The dimension along which the files' own instants vary, if any."""


def _extra_dims(
    entries: Sequence[Entry],
    pattern: str | None,
    categories: Mapping[str, Mapping[str, Any]] | None,
) -> _Extra:
    """Dimensions from the pattern's groups, then from the files' differing instants.

    The instants add a ``time`` dimension unless a group is named ``time``, or a
    group's values index the files one-to-one as the instants do: then that group's
    dimension is the one along which ``time`` varies.
    """
    names, values = _pattern_dims(entries, pattern, categories)
    instants = _instants(entries)
    time_dim = None
    if instants is not None and "time" not in names:
        time_dim = next(
            (n for n, v in zip(names, values, strict=True) if _one_to_one(v, instants)), "time"
        )
        if time_dim == "time":
            names.append("time")
            values.append(list(instants))
    coords, index = [], np.zeros((len(entries), len(names)), np.int64)
    for d, vals in enumerate(values):
        coord = np.unique(np.asarray(vals))
        coords.append(coord)
        index[:, d] = np.searchsorted(coord, np.asarray(vals))
    return _Extra(tuple(names), tuple(coords), index, time_dim)


def _one_to_one(values: list[Any], instants: np.ndarray) -> bool:
    """Whether each value goes with exactly one instant and each instant with one value."""
    pairs = set(zip(values, instants.tolist(), strict=True))
    return len(pairs) == len(set(values)) == len(set(instants.tolist()))


def _pattern_dims(
    entries: Sequence[Entry],
    pattern: str | None,
    categories: Mapping[str, Mapping[str, Any]] | None,
) -> tuple[list[str], list[list[Any]]]:
    """The pattern's group names and each file's value of each."""
    names: list[str] = []
    values: list[list[Any]] = []
    if pattern is not None:
        regex = re.compile(pattern)
        names = list(regex.groupindex)
        if not names:
            raise ValueError(f"pattern {pattern!r} has no named groups")
        matches = []
        for entry in entries:
            match = regex.search(entry.url)
            if match is None:
                raise RumiVirtualError(f"{entry.url} does not match pattern {pattern!r}")
            matches.append(match)
        for name in names:
            texts = [m.group(name) for m in matches]
            values.append(_coordinate_values(name, texts, (categories or {}).get(name)))
    return names, values


def _coordinate_values(name: str, texts: list[str], mapping: Mapping[str, Any] | None) -> list[Any]:
    if mapping is not None:
        missing = next((t for t in texts if t not in mapping), None)
        if missing is not None:
            raise RumiVirtualError(f"{name} value {missing!r} is not among its categories")
        return [mapping[t] for t in texts]
    if all(t.isdigit() for t in texts):
        return [int(t) for t in texts]
    return texts


def _instants(entries: Sequence[Entry]) -> np.ndarray | None:
    """Each file's time instant when files hold one each and they differ, else ``None``."""
    first = entries[0].desc
    if first.grid.times != 1 or first.time is None:
        return None
    starts = [e.desc.time.starts[0] if e.desc.time is not None else None for e in entries]
    if any(s is None for s in starts) or len(set(starts)) == 1:
        return None
    return np.asarray(starts, np.int64).astype("datetime64[s]")


# ---------------------------------------------------------------------------------------
# Placement on one pixel grid


@dataclass(frozen=True, slots=True)
class _Placement:
    """Pixel origin of every file and the mosaic's chunk edges along y and x."""

    rows: np.ndarray
    cols: np.ndarray
    y_edges: np.ndarray
    x_edges: np.ndarray
    transform: tuple[float, float, float, float, float, float]

    @classmethod
    def of(cls, entries: Sequence[Entry]) -> _Placement:
        first = entries[0].desc
        a, _, _, _, e, _ = first.georef.transform  # type: ignore[misc]
        origin = np.array([e.desc.georef.transform[2::3] for e in entries])  # type: ignore[index]
        cols = _on_grid(entries, (origin[:, 0] - origin[0, 0]) / a, "x")
        rows = _on_grid(entries, (origin[:, 1] - origin[0, 1]) / e, "y")
        cols, rows = cols - cols.min(), rows - rows.min()
        lengths = np.array([x.desc.grid.length for x in entries])
        widths = np.array([x.desc.grid.width for x in entries])
        g = first.grid
        y_edges = _edges(entries, rows, lengths, g.tile_length, "y")
        x_edges = _edges(entries, cols, widths, g.tile_width, "x")
        c = origin[0, 0] - cols[0] * a
        f = origin[0, 1] - rows[0] * e
        return cls(rows, cols, y_edges, x_edges, (a, 0.0, float(c), 0.0, e, float(f)))


def _on_grid(entries: Sequence[Entry], offsets: np.ndarray, axis: str) -> np.ndarray:
    whole = np.round(offsets)
    bad = np.flatnonzero(np.abs(offsets - whole) > _TOLERANCE)
    if bad.size:
        i = int(bad[0])
        raise RumiVirtualError(
            f"{entries[i].url} is misaligned: its {axis} origin is {offsets[i]:.6f} pixels "
            f"from {entries[0].url}'s, not a whole number"
        )
    return whole.astype(np.int64)


def _edges(
    entries: Sequence[Entry], starts: np.ndarray, extents: np.ndarray, tile: int, axis: str
) -> np.ndarray:
    """The mosaic's chunk edges along one axis: every file's frame edges, which must agree."""
    spans = np.unique(np.stack([starts, extents], axis=1), axis=0)
    edges = np.unique(
        np.concatenate([np.append(np.arange(s, s + n, tile), s + n) for s, n in spans])
    )
    inside = np.searchsorted(edges, starts + extents) - np.searchsorted(edges, starts, "right")
    bad = np.flatnonzero(inside != -(-extents // tile) - 1)
    if bad.size:
        i = int(bad[0])
        inner = edges[(edges > starts[i]) & (edges < starts[i] + extents[i])]
        cut = int(inner[(inner - starts[i]) % tile != 0][0])
        own = (starts == cut) | (starts + extents == cut)
        own |= (starts < cut) & (cut < starts + extents) & ((cut - starts) % tile == 0)
        j = int(np.flatnonzero(own)[0])
        earlier, later = sorted((i, j))
        raise RumiVirtualError(
            f"{entries[later].url} is misaligned with {entries[earlier].url}: their tile "
            f"edges along {axis} cut each other's tiles (tile {tile}, edge at pixel {cut})"
        )
    return edges


# ---------------------------------------------------------------------------------------
# The manifest


def _build(
    entries: Sequence[Entry],
    extra: _Extra,
    placed: _Placement,
    fill_value: int | float | bool,
    nodata: int | float | bool | None,
) -> VirtualDataset:
    first = entries[0].desc
    g = first.grid
    timed = g.times > 1
    full = g.chunk_shape[not timed : -2]
    inner = tuple((c,) * (n // c) for c, n in zip(full, first.shape[not timed : -2], strict=True))
    chunks = (
        *(((1,) * len(c)) for c in extra.coords),
        *inner,
        tuple(np.diff(placed.y_edges).tolist()),
        tuple(np.diff(placed.x_edges).tolist()),
    )
    grid_shape = tuple(len(c) for c in chunks)
    files = np.full(grid_shape, -1, np.int32)
    offsets = np.zeros(grid_shape, np.uint64)
    lengths = np.zeros(grid_shape, np.uint64)
    _fill(entries, extra, placed, timed, files, offsets, lengths)
    ndim = len(chunks)
    array = VirtualArray(
        dims=(*extra.names, *("time",) * timed, "band", "y", "x"),
        chunks=chunks,
        data_type=zarr_data_type(first.sample),
        codecs=frame_codecs(g, ndim),
        fill_value=fill_value,
        nodata=nodata,
        attrs={"AREA_OR_POINT": area_or_point(first.georef)},
        urls=tuple(e.url for e in entries),
        files=files,
        offsets=offsets,
        lengths=lengths,
    )
    coords = _coords(entries, extra, placed)
    return VirtualDataset(VARIABLE, array, coords, {"rumi_mosaic_files": len(entries)})


def _fill(
    entries: Sequence[Entry],
    extra: _Extra,
    placed: _Placement,
    timed: bool,
    files: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
) -> None:
    """Write every file's frames into the manifest, rejecting the first overlap."""
    row_chunk = np.searchsorted(placed.y_edges, placed.rows)
    col_chunk = np.searchsorted(placed.x_edges, placed.cols)
    groups: dict[Any, list[int]] = defaultdict(list)
    for i, entry in enumerate(entries):
        groups[entry.desc.grid].append(i)
    flat_all, owner_all = [], []
    for grid, members in groups.items():
        ids = np.asarray(members)
        local = frame_chunks(grid)
        index = [extra.index[ids, d][:, None] for d in range(extra.index.shape[1])]
        if timed:
            index.append(local[None, :, 0])
        index += [
            local[None, :, 1],
            row_chunk[ids][:, None] + local[None, :, 2],
            col_chunk[ids][:, None] + local[None, :, 3],
        ]
        broadcast = np.broadcast_arrays(*index)
        flat = np.ravel_multi_index(broadcast, files.shape).ravel()
        owner = np.repeat(ids, len(local))
        flat_all.append(flat)
        owner_all.append(owner)
        files.flat[flat] = owner
        offsets.flat[flat] = np.stack([entries[i].desc.offsets[:-1] for i in members]).ravel()
        lengths.flat[flat] = np.stack([entries[i].desc.counts for i in members]).ravel()
    _check_overlaps(entries, np.concatenate(flat_all), np.concatenate(owner_all))


def _check_overlaps(entries: Sequence[Entry], flat: np.ndarray, owner: np.ndarray) -> None:
    order = np.lexsort((owner, flat))
    flat, owner = flat[order], owner[order]
    clash = np.flatnonzero(flat[1:] == flat[:-1])
    if clash.size:
        later = owner[clash + 1]
        j = int(clash[np.argmin(later)])
        raise RumiVirtualError(
            f"{entries[owner[j + 1]].url} overlaps {entries[owner[j]].url} "
            "(same place and extra coordinates)"
        )


def _coords(entries: Sequence[Entry], extra: _Extra, placed: _Placement) -> xr.Dataset:
    import xarray as xr

    from ..coords import band_coord, spatial_coords, time_coords
    from ..georef import Georef

    first = entries[0].desc
    georef = Georef(placed.transform, first.georef.epsg, first.georef.pixel_is_point)
    height, width = int(placed.y_edges[-1]), int(placed.x_edges[-1])
    coords: dict[str, Any] = {**spatial_coords(georef, height, width), "band": band_coord(first)}
    if "time" not in extra.names and extra.time_dim is None:
        coords.update(time_coords(first))
    for name, values in zip(extra.names, extra.coords, strict=True):
        coords[name] = xr.Variable(name, values)
    if extra.time_dim is not None:
        coords.update(_times_along(entries, extra))
    return xr.Dataset(coords=coords)


def _times_along(entries: Sequence[Entry], extra: _Extra) -> dict[str, xr.Variable]:
    """``time`` (and CF ``time_bounds`` for intervals) along the dimension the instants index."""
    import xarray as xr

    dim = extra.time_dim
    d = extra.names.index(dim)
    n, at = len(extra.coords[d]), extra.index[:, d]
    axes = [cast("TimeAxis", e.desc.time) for e in entries]  # every file has one instant
    starts = np.empty(n, "datetime64[s]")
    starts[at] = [a.starts[0] for a in axes]
    attrs = {"standard_name": "time", "long_name": "time"}
    coords = {}
    if all(a.kind == TimeKind.INTERVAL for a in axes):
        bounds = np.empty((n, 2), "datetime64[s]")
        bounds[at] = [a.seconds[0] for a in axes]
        attrs["bounds"] = "time_bounds"
        coords["time_bounds"] = xr.Variable((dim, "bnds"), bounds)
    coords["time"] = xr.Variable(dim, starts, attrs)
    return coords
