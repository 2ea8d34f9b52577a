"""Virtual mosaics: many grid-aligned rumi files as one Zarr dataset, no pixel copied.

Files are placed on one pixel grid by their transforms; dimensions beyond space come
from file names (a regex with named groups, as tifffile's ``TiffSequence``) or from
files' differing single time instants (:mod:`~rumi_xarray.virtual.dims`). Where files'
edge frames fall inside the mosaic the chunk grid is rectilinear; places no file
covers are missing chunks, read as the fill value. Several groups of files, each
with its own pattern, become the data variables of one dataset on one grid.

Everything runs on columns (:class:`~rumi_xarray.virtual.entries.Entries`): a
catalog's million rows are placed and written into the manifest as arrays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..coords import area_or_point
from ..errors import RumiVirtualError
from ..sources import FIELDS, describe_sources
from ..values import same_value, sample_value
from .dims import Extra, extra_dims
from .entries import Entries, Entry
from .file import VARIABLE, source_url
from .model import VirtualArray, VirtualDataset, frame_codecs, zarr_data_type
from .place import Placement, check_entries, edges, fill_manifest, place

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Sequence

    import xarray as xr

    from ..format import RumiFile

    Sources = Iterable[str] | Sequence[Entry]

AGREE = tuple(field for field in FIELDS if field not in ("shape", "transform"))
"""What the files of a mosaic share: all :data:`~rumi_xarray.sources.FIELDS` but placement."""
SPATIAL = ("crs", "resolution", "rotation", "pixel_is_point")
"""What the file groups of one dataset share: the pixel grid."""
MAX_CHUNKS = 1 << 31
"""Largest chunk grid of one data variable (its manifest takes 20 bytes a chunk)."""


@dataclass(frozen=True)
class FileGroup:
    """One data variable of a mosaic of several file groups (see :func:`mosaic`).

    The fields are :func:`mosaic`'s arguments of the same names, for this group.
    """

    sources: Sources
    pattern: str | None = None
    categories: Mapping[str, Mapping[str, Any]] | None = None
    nodata: int | float | None = None
    fill_value: int | float | None = None
    headers: Sequence[bytes] | None = None


def mosaic(
    sources: Sources | Mapping[str, FileGroup],
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
        :class:`Entry` objects, e.g. the :class:`~rumi_xarray.virtual.entries.Entries`
        of :func:`rumi_xarray.catalog.read_catalog`, which need no file I/O. Or a
        mapping from variable names to :class:`FileGroup`: each group becomes one data
        variable, all on one pixel grid, each with its own pattern and dimensions
        (dimensions of one name take the union of their values; missing files read
        as the fill value).
    headers
        The files' header blobs, in the order of ``sources``; opening then reads only
        each file's georeferencing and trailer.
    pattern
        A regex searched in each URL; each named group becomes a dimension whose
        coordinate is the sorted set of matched values (integers when all are digits).
        A group whose values and the files' own time instants index the same files
        one-to-one (a date in the file names) is their one dimension, with ``time``
        as a coordinate along it. A group that only restates where each file lies
        (a tile name: every place holds one value) is no dimension: folded into the
        placement when each value is one row or one column of files, else refused.
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
    if isinstance(sources, Mapping):
        given = (headers, pattern, categories, nodata, fill_value)
        if any(value is not None for value in given):
            raise TypeError("with file groups, give headers, pattern, ... per FileGroup")
        groups = dict(sources)
    else:
        groups = {VARIABLE: FileGroup(sources, pattern, categories, nodata, fill_value, headers)}
    if not groups:
        raise RumiVirtualError("a mosaic needs at least one group of files")
    described = {
        name: _entries(name, group, storage_options, max_workers, progress)
        for name, group in groups.items()
    }
    return _dataset(groups, described)


def _entries(
    name: str,
    group: FileGroup,
    storage_options: dict[str, Any] | None,
    max_workers: int | None,
    progress: bool | None,
) -> Entries:
    """The group's files as checked columns: each agrees with the first over :data:`AGREE`."""
    sources = group.sources
    if not isinstance(sources, Entries):
        items = list(sources)
        if all(isinstance(s, Entry) for s in items):
            sources = Entries.of(cast("list[Entry]", items))
        else:
            paths = cast("list[str]", items)
            sources = Entries.of(
                describe_entries(paths, group.headers, storage_options, max_workers, progress)
            )
    if not len(sources):
        what = "a mosaic" if name == VARIABLE else f"file group {name!r}"
        raise RumiVirtualError(f"{what} needs at least one file")
    check_entries(sources, AGREE)
    if not sources.placed[0]:
        raise RumiVirtualError(f"{sources.urls[0]} has no transform to place it in a mosaic")
    return sources


def describe_entries(
    sources: Iterable[str | os.PathLike[str]],
    headers: Sequence[bytes] | None = None,
    storage_options: dict[str, Any] | None = None,
    max_workers: int | None = None,
    progress: bool | None = None,
) -> list[Entry]:
    """The entries of a mosaic's files, described in parallel threads.

    Each is checked, in order, against the first over :data:`AGREE`. ``progress``
    shows a bar, by default for more than 1000 files.

    Raises
    ------
    RumiVirtualError
        Naming the first file that differs from the first one, and the field.
    """
    items = list(sources)
    urls = [source_url(s) for s in items]
    described = describe_sources(
        items,
        headers,
        storage_options,
        agree=AGREE,
        labels=urls,
        what="mosaic",
        max_workers=max_workers,
        progress=len(items) > 1000 if progress is None else progress,
    )
    return [Entry(url, desc, r.size) for url, (desc, r) in zip(urls, described, strict=True)]


# ---------------------------------------------------------------------------------------
# One dataset of one or several variables


@dataclass(frozen=True, slots=True)
class _Variable:
    entries: Entries
    placed: Placement
    extra: Extra
    first: RumiFile
    band: str
    """The name of its band dimension: ``band``, or ``<variable>_band`` where its band
    texts differ from the first variable's."""


def _dataset(groups: dict[str, FileGroup], described: dict[str, Entries]) -> VirtualDataset:
    _check_spatial(described)
    placed = place(list(described.values()))
    height, width = placed.height, placed.width
    from ..coords import band_coord

    variables, start, bands = {}, 0, None
    for name, entries in described.items():
        part = placed.part(start, start + len(entries))
        start += len(entries)
        group = groups[name]
        extra = extra_dims(entries, part, group.pattern, group.categories)
        desc = entries.desc(0)
        bands = band_coord(desc) if bands is None else bands
        band = "band" if _identical(band_coord(desc), bands) else f"{name}_band"
        variables[name] = _Variable(entries, part, extra, desc, band)
    union = _union_dims(variables)
    arrays = {
        name: _array(var, groups[name], union, height, width) for name, var in variables.items()
    }
    coords = _coords(variables, union, placed)
    (first, array), *others = arrays.items()
    files = sum(len(v.entries) for v in variables.values())
    return VirtualDataset(first, array, coords, {"rumi_mosaic_files": files}, dict(others))


def _check_spatial(described: dict[str, Entries]) -> None:
    """Every group's files lie on the first group's pixel grid (CRS, resolution, ...)."""
    from ..sources import facts

    (name0, first), *rest = described.items()
    expected = facts(first.desc(0))
    for name, entries in rest:
        found = facts(entries.desc(0))
        for field in SPATIAL:
            if not same_value(found[field], expected[field]):
                raise RumiVirtualError(
                    f"{entries.urls[0]} (file group {name!r}) differs from {first.urls[0]} "
                    f"(file group {name0!r}) in {field}: {found[field]!r} != "
                    f"{expected[field]!r}; the groups of one dataset share one pixel grid"
                )


def _union_dims(variables: dict[str, _Variable]) -> dict[str, np.ndarray]:
    """Each extra dimension's coordinate: the union of its values over the variables."""
    parts: dict[str, list[np.ndarray]] = {}
    for var in variables.values():
        for name, coord in zip(var.extra.names, var.extra.coords, strict=True):
            parts.setdefault(name, []).append(coord)
    union = {}
    for name, coords in parts.items():
        if len({c.dtype.kind for c in coords}) > 1:
            raise RumiVirtualError(
                f"dimension {name!r} has values of different kinds in different file groups: "
                f"{', '.join(sorted({str(c.dtype) for c in coords}))}"
            )
        union[name] = coords[0] if len(coords) == 1 else np.unique(np.concatenate(coords))
    return union


def _array(
    var: _Variable, group: FileGroup, union: dict[str, np.ndarray], height: int, width: int
) -> VirtualArray:
    entries, extra, first, placed = var.entries, var.extra, var.first, var.placed
    g = first.grid
    timed = g.times > 1
    full = g.chunk_shape[not timed : -2]
    inner = tuple((c,) * (n // c) for c, n in zip(full, first.shape[not timed : -2], strict=True))
    y_edges = edges(entries.urls, placed.rows, placed.lengths, g.tile_length, "y", height)
    x_edges = edges(entries.urls, placed.cols, placed.widths, g.tile_width, "x", width)
    coords = [union[name] for name in extra.names]
    chunks = (
        *(((1,) * len(c)) for c in coords),
        *inner,
        tuple(np.diff(y_edges).tolist()),
        tuple(np.diff(x_edges).tolist()),
    )
    origin = np.zeros((len(entries), len(chunks)), np.int64)
    for d, (own, coord) in enumerate(zip(extra.coords, coords, strict=True)):
        origin[:, d] = np.searchsorted(coord, own)[extra.index[:, d]]
    origin[:, -2] = np.searchsorted(y_edges, placed.rows)
    origin[:, -1] = np.searchsorted(x_edges, placed.cols)
    shape = tuple(len(c) for c in chunks)
    if math.prod(shape) > MAX_CHUNKS:
        dims = dict(zip((*extra.names, *("time",) * timed, var.band, "y", "x"), shape, strict=True))
        raise RumiVirtualError(
            f"the mosaic's chunk grid would hold {math.prod(shape):,} chunks (more than "
            f"{MAX_CHUNKS:,}) for {len(entries):,} files: chunks {dims}; are its extra "
            "dimensions meant (every value of each makes a slab of the whole place)?"
        )
    manifest = fill_manifest(entries, origin, shape, timed)
    data_type = zarr_data_type(first.sample)
    nodata = _nodata(entries, group.nodata, data_type)
    fill = group.fill_value
    if fill is None:
        fill = 0 if nodata is None else nodata
    return VirtualArray(
        dims=(*extra.names, *("time",) * timed, var.band, "y", "x"),
        chunks=chunks,
        data_type=data_type,
        codecs=frame_codecs(g, len(chunks)),
        fill_value=sample_value("fill_value", fill, np.dtype(data_type)).item(),
        nodata=nodata,
        attrs={"AREA_OR_POINT": area_or_point(first.georef)},
        urls=entries.urls,
        files=manifest.files,
        offsets=manifest.offsets,
        lengths=manifest.lengths,
    )


def _nodata(
    entries: Entries, nodata: int | float | None, data_type: str
) -> int | float | bool | None:
    """The mosaic's nodata: given, or the entries' own, which must all agree."""
    if nodata is None:
        values = entries.nodata.values
        nodata = entries.nodata[0]
        agree = np.asarray([same_value(v, nodata) for v in values])[entries.nodata.codes]
        if not agree.all():
            i = int(np.flatnonzero(~agree)[0])
            raise RumiVirtualError(
                f"{entries.urls[i]} declares nodata {entries.nodata[i]!r}, {entries.urls[0]} "
                f"{nodata!r}: the files of one mosaic must agree (or give nodata=)"
            )
    return None if nodata is None else sample_value("nodata", nodata, np.dtype(data_type)).item()


# ---------------------------------------------------------------------------------------
# Coordinates


def _coords(
    variables: dict[str, _Variable], union: dict[str, np.ndarray], placed: Placement
) -> xr.Dataset:
    """The coordinates the variables share (each variable's band coordinate on its own
    band dimension)."""
    import xarray as xr

    from ..coords import band_coord, spatial_coords, time_coords
    from ..georef import Georef

    first = next(iter(variables.values())).first
    georef = Georef(placed.transform, first.georef.epsg, first.georef.pixel_is_point)
    merged: dict[str, xr.Variable] = dict(spatial_coords(georef, placed.height, placed.width))
    for name, var in variables.items():
        band = band_coord(var.first)
        coords = {var.band: xr.Variable(var.band, band.values, band.attrs)}
        extra = var.extra
        if "time" not in extra.names and extra.time_dim is None:
            coords.update(time_coords(var.first))
        for dim in extra.names:
            coords[dim] = xr.Variable(dim, union[dim])
        if extra.time_dim is not None:
            coords.update(_times_along(var, union))
        _merge(merged, coords, name)
    return xr.Dataset(coords=merged)


def _merge(merged: dict[str, xr.Variable], coords: dict[str, xr.Variable], name: str) -> None:
    """Add a variable's coordinates; times missing (NaT) in one are taken from the other."""
    for key, var in coords.items():
        have = merged.setdefault(key, var)
        if have is var or _identical(have, var):
            continue
        if have.dims == var.dims and have.shape == var.shape and var.dtype.kind == "M":
            both = ~np.isnat(have.values) & ~np.isnat(var.values)
            if (have.values[both] == var.values[both]).all():
                values = np.where(np.isnat(have.values), var.values, have.values)
                merged[key] = have.copy(data=values)
                continue
        raise RumiVirtualError(
            f"file group {name!r} disagrees with the groups before it on the coordinate "
            f"{key!r}; the groups of one dataset share their coordinates"
        )


def _identical(a: xr.Variable, b: xr.Variable) -> bool:
    return bool(a.identical(b))  # type: ignore[no-untyped-call]  # xarray: untyped


def _times_along(var: _Variable, union: dict[str, np.ndarray]) -> dict[str, xr.Variable]:
    """``time`` (and CF ``time_bounds`` for intervals) along the dimension the instants index.

    Every file holds one instant; places of the dimension no file of ``var`` covers
    (the union of several groups' values) hold NaT.
    """
    import xarray as xr

    from ..spec import TimeKind

    extra, times = var.extra, var.entries.times
    dim = str(extra.time_dim)
    d = extra.names.index(dim)
    at = np.searchsorted(union[dim], extra.coords[d])[extra.index[:, d]]
    seconds = times.first(2).astype("datetime64[s]")
    n = len(union[dim])
    starts = np.full(n, np.datetime64("NaT", "s"), "datetime64[s]")
    starts[at] = seconds[:, 0]
    attrs = {"standard_name": "time", "long_name": "time"}
    coords = {}
    if (times.kind == TimeKind.INTERVAL).all():
        bounds = np.full((n, 2), np.datetime64("NaT", "s"), "datetime64[s]")
        bounds[at] = seconds
        attrs["bounds"] = "time_bounds"
        coords["time_bounds"] = xr.Variable((dim, "bnds"), bounds)
    coords["time"] = xr.Variable(dim, starts, attrs)
    return coords
