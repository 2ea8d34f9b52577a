"""``open_stack``: many grid-aligned rumi files as one lazy ``(n, band, y, x)`` Dataset.

Each file is described (index, or header blob, plus trailer: no pixels), checked
against the first one, and becomes one slice of a single dask array whose chunks are
the files' frames. Coordinates, attributes and encoding are those ``open_rumi`` gives
the first file, so a stack member looks exactly like the file opened on its own.
"""

from __future__ import annotations

import copy
import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from ..coords import CF_TIME_ENCODING, TIME_END_ATTRS
from ..decode import read_window, resolve_verify
from ..io import LocalReader
from ..sources import describe_sources, source_label
from ..spec import TimeKind

if TYPE_CHECKING:
    from collections.abc import Buffer, Hashable, Mapping, Sequence

    import dask.array
    import xarray as xr
    from dask.typing import Key

    from ..format import RumiFile
    from ..io import RangeReader

__all__ = ["open_stack"]

AGREE = (
    "shape",
    "dtype",
    "tile",
    "frame layout",
    "band_texts",
    "crs",
    "transform",
    "pixel_is_point",
)
"""What stacked files share with the first one (:data:`rumi_xarray.sources.FIELDS`)."""
_MAX_WORKERS = 32
"""Threads describing files at once (mostly waiting on I/O for remote sources)."""


def open_stack(
    sources: Sequence[Any],
    *,
    headers: Sequence[Buffer | None] | None = None,
    dim: str = "n",
    coords: Sequence[Any] | None = None,
    chunks: Mapping[Hashable, Any] | str | int = {},
    storage_options: dict[str, Any] | None = None,
    verify: bool | None = None,
) -> xr.Dataset:
    """Open grid-aligned rumi files as one lazy Dataset stacked along a new dimension.

    The variable ``band_data`` has dims ``(dim, band, y, x)``, or
    ``(dim, time, band, y, x)`` when the files hold several time steps. Opening reads
    each file's description only (in parallel threads); pixels are read when computed,
    one dask chunk per frame, as ``xr.open_dataset(path, engine="rumi", chunks={})``.

    Parameters
    ----------
    sources
        Local paths, fsspec URLs, bytes or binary file objects, as ``open_rumi`` takes.
        All must share shape, dtype, tile, frame layout, band texts, CRS and transform.
    headers
        One header blob per source (``None`` entries allowed): those files' indexes are
        not read, only their first 4 bytes, georeferencing and trailer.
    dim
        Name of the new dimension.
    coords
        One coordinate value per source. Default: each file's time, when every file
        holds exactly one time step (datetime64, with ``time_bounds`` for intervals);
        else ``0 .. len(sources) - 1``. Given ``coords``, single-step times stay as a
        ``time`` coordinate along ``dim``.
    chunks
        ``{}`` (default) gives one chunk per frame and source; anything else is passed
        to ``xarray.Dataset.chunk`` afterwards (e.g. ``{"n": 16}``).
    storage_options
        Passed to fsspec for URLs.
    verify
        Check every frame's OpenZL checksums when read; None (default) follows the
        environment variable ``RUMI_VERIFY``, off when unset (as ``open_rumi``).

    Returns
    -------
    xarray.Dataset
        With ``band``, ``x``, ``y``, ``spatial_ref`` (and ``time`` for multi-step files)
        from the first file. Multi-step files whose time axes differ get a
        ``file_time`` coordinate ``(dim, time)`` instead of a ``time`` index.

    Raises
    ------
    RumiVirtualError
        Naming the first source that differs from source 0, and the field (``index``,
        ``field``, ``expected``, ``found``).
    RumiFormatError
        From the first source that cannot be described; a note names the source.
    FileNotFoundError
        Likewise, for a missing file.
    """
    import xarray as xr

    from .entrypoint import VARIABLE, open_rumi

    sources = list(sources)
    check = resolve_verify(verify)
    _check_arguments(sources, dim, coords)
    described = describe_sources(
        sources, headers, storage_options, agree=AGREE, max_workers=_MAX_WORKERS
    )
    descs = [desc for desc, _ in described]
    if dim == "time" and descs[0].grid.times > 1:
        raise ValueError("the files have a time dimension; choose another dim than 'time'")
    header = headers[0] if headers else None
    with open_rumi(sources[0], header=header, storage_options=storage_options) as template:
        var = template[VARIABLE].variable
        file_coords = {name: c.variable for name, c in template.coords.items()}
        attrs = {**template.attrs, **_generation(descs)}
    encoding = dict(var.encoding)
    preferred = encoding.get("preferred_chunks", {})
    encoding["preferred_chunks"] = {dim: 1, **{d: preferred[d] for d in var.dims if d in preferred}}
    data = _stack_array(described, _token(sources, descs), check)
    ds = xr.Dataset(
        {VARIABLE: xr.Variable((dim, *var.dims), data, var.attrs, encoding)},
        coords=_coords(file_coords, descs, dim, coords),
        attrs=attrs,
    )
    return ds if chunks == {} else ds.chunk(chunks)


def _check_arguments(sources: list[Any], dim: str, coords: Sequence[Any] | None) -> None:
    """The arguments' own checks (``headers``' length: :func:`describe_sources`)."""
    if not sources:
        raise ValueError("open_stack needs at least one source")
    if coords is not None and len(coords) != len(sources):
        raise ValueError(f"{len(coords)} coords for {len(sources)} sources")
    if dim in ("band", "y", "x", "bnds"):
        raise ValueError(f"dim={dim!r} is already a dimension of each file; choose another name")


# ---------------------------------------------------------------------------------------
# The dask array


def _splits(length: int, chunk: int) -> list[slice]:
    return [slice(s, min(s + chunk, length)) for s in range(0, length, chunk)]


def _stack_array(
    described: list[tuple[RumiFile, RangeReader]], token: str, verify: bool
) -> dask.array.Array:
    """One task per frame-sized block of each file; block ``i`` along the stack is file ``i``."""
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    first = described[0][0]
    grid = first.grid
    axes = [_splits(n, c) for n, c in zip(first.shape, grid.chunk_shape, strict=True)]
    if grid.times == 1:
        del axes[0]
    lead: tuple[int, ...] = () if grid.times > 1 else (0,)  # an int drops a single time step
    name = f"open_stack-{token}"
    blocks = list(itertools.product(*(range(len(a)) for a in axes)))
    graph: dict[Key, tuple[Any, ...]] = {}
    for i, (desc, reader) in enumerate(described):
        for block in blocks:
            window = (*lead, *(a[j] for a, j in zip(axes, block, strict=True)))
            graph[(name, i, *block)] = (_read_block, desc, reader, verify, *window)
    chunks = ((1,) * len(described), *(tuple(s.stop - s.start for s in a) for a in axes))
    meta = np.empty((0,) * len(chunks), first.dtype)
    return da.Array(HighLevelGraph.from_collections(name, graph, ()), name, chunks, meta=meta)  # type: ignore[no-untyped-call]


def _read_block(desc: RumiFile, reader: RangeReader, verify: bool, *window: Any) -> np.ndarray:
    """Read one block of one file, with a leading axis of length 1 for the stack."""
    if isinstance(reader, LocalReader):
        own = copy.copy(reader)  # an unopened handle for this task alone, closed right after
        try:
            return read_window(desc, own, window, verify=verify)[np.newaxis]
        finally:
            own.close()
    return read_window(desc, reader, window, verify=verify)[np.newaxis]


def _token(sources: list[Any], descs: list[RumiFile]) -> str:
    """A dask name for these files as they are now (frame sizes change with the pixels)."""
    from dask.base import tokenize

    return tokenize([source_label(s) for s in sources], np.concatenate([d.counts for d in descs]))


# ---------------------------------------------------------------------------------------
# Coordinates


_TIME_NAMES = ("time", "time_bounds", "time_end")
"""The per-file time coordinates, rebuilt along the stack's dimension."""


def _coords(
    coords: dict[Hashable, xr.Variable], descs: list[RumiFile], dim: str, values: Any
) -> dict[Hashable, xr.Variable]:
    """The first file's coordinates, with time and the new dimension's index per file."""
    import xarray as xr

    multi_step = descs[0].grid.times > 1
    if not multi_step or not all(_same_time(d, descs[0]) for d in descs):
        coords = {k: v for k, v in coords.items() if k not in _TIME_NAMES}
    if multi_step and "time" not in coords:
        coords.update(_file_times(descs, dim))
    if values is not None:
        coords[dim] = xr.Variable(dim, np.asarray(values))
    single = None if multi_step else _single_times(descs)
    name = dim if values is None else "time"
    if single is not None and name not in coords:
        starts, bounds = single
        attrs = {"standard_name": "time", "long_name": "time"}
        if bounds is not None:
            attrs["bounds"] = "time_bounds"
            coords["time_bounds"] = xr.Variable((dim, "bnds"), bounds)
            coords["time_end"] = xr.Variable(dim, bounds[:, 1], TIME_END_ATTRS)
        coords[name] = xr.Variable(dim, starts, attrs)
    if dim not in coords:
        coords[dim] = xr.Variable(dim, np.arange(len(descs)))
    for var in coords.values():
        if var.dtype.kind == "M":  # written with the one CF epoch (to_zarr, to_netcdf)
            var.encoding = {**var.encoding, **CF_TIME_ENCODING}
    return coords


def _single_times(descs: list[RumiFile]) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Each file's time and, when all are intervals, their bounds, as datetime64.

    ``None`` unless every file holds exactly one time step.
    """
    axes = [d.time for d in descs if d.grid.times == 1 and d.time is not None]
    if len(axes) != len(descs):
        return None
    starts = np.array([a.starts[0] for a in axes]).astype("datetime64[s]")
    if any(a.kind != TimeKind.INTERVAL for a in axes):
        return starts, None
    return starts, np.array([a.seconds[0] for a in axes]).astype("datetime64[s]")


def _same_time(a: RumiFile, b: RumiFile) -> bool:
    if a.time is None or b.time is None:
        return a.time is b.time
    return a.time.kind == b.time.kind and np.array_equal(a.time.seconds, b.time.seconds)


def _file_times(descs: list[RumiFile], dim: str) -> dict[Hashable, xr.Variable]:
    """``file_time (dim, time)`` (and its bounds) for multi-step files whose times differ."""
    import xarray as xr

    axes = [d.time for d in descs if d.time is not None]
    if len(axes) != len(descs):
        return {}
    attrs = {"standard_name": "time", "long_name": "time of each file's steps"}
    coords: dict[Hashable, xr.Variable] = {}
    if all(a.kind == TimeKind.INTERVAL for a in axes):
        attrs["bounds"] = "file_time_bounds"
        bounds = np.stack([a.seconds for a in axes]).astype("datetime64[s]")
        coords["file_time_bounds"] = xr.Variable((dim, "time", "bnds"), bounds)
        coords["file_time_end"] = xr.Variable((dim, "time"), bounds[..., 1], TIME_END_ATTRS)
    starts = np.stack([a.starts for a in axes]).astype("datetime64[s]")
    coords["file_time"] = xr.Variable((dim, "time"), starts, attrs)
    return coords


def _generation(descs: list[RumiFile]) -> dict[str, str]:
    """``rumi_generation``: one value, or every generation found, comma-separated."""
    found = dict.fromkeys(d.generation.value for d in descs)
    return {"rumi_generation": ", ".join(found)}
