"""``open_stack``: many grid-aligned rumi files as one lazy ``(n, band, y, x)`` Dataset.

Each file is described (index, or header blob, plus trailer: no pixels), checked
against the first one, and becomes one slice of a single lazy array
(:class:`StackBackendArray`), dask-chunked by frames on request. Coordinates, attributes and encoding are those ``open_rumi`` gives
the first file, so a stack member looks exactly like the file opened on its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from ..coords import CF_TIME_ENCODING, TIME_END_ATTRS
from ..decode import Job, plan_window, read_jobs, resolve_verify
from ..io import close_reader
from ..sources import describe_sources, source_label
from ..spec import TimeKind

if TYPE_CHECKING:
    from collections.abc import Buffer, Hashable, Sequence

    import xarray as xr

    from ..decode import Key, Window
    from ..format import RumiFile
    from ..io import RangeReader

__all__ = ["StackBackendArray", "open_stack"]

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


def open_stack(
    sources: Sequence[Any],
    *,
    headers: Sequence[Buffer | None] | None = None,
    dim: str = "n",
    coords: Sequence[Any] | None = None,
    chunks: Mapping[Hashable, Any] | str | int | None = None,
    storage_options: dict[str, Any] | None = None,
    verify: bool | None = None,
) -> xr.Dataset:
    """Open grid-aligned rumi files as one lazy Dataset stacked along a new dimension.

    The variable ``band_data`` has dims ``(dim, band, y, x)``, or
    ``(dim, time, band, y, x)`` when the files hold several time steps. Opening reads
    each file's description only (URLs in parallel threads); pixels are read when indexed or
    loaded, as ``xr.open_dataset(path, engine="rumi")`` does: a read decodes the frames
    it needs of all the files it selects at once, straight into the result.

    Parameters
    ----------
    sources
        Local paths, fsspec URLs, bytes, binary file objects or catalog rows
        (``read_catalog(...)``, opened with no read), as ``open_rumi`` takes.
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
        None (default): lazy NumPy-backed, no dask. ``{}``: dask, one chunk per frame
        and source (``encoding["preferred_chunks"]``); a dict changes some of those
        (e.g. ``{"n": 16}``); a string or int is passed to ``xarray.Variable.chunk``.
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
    described = describe_sources(sources, headers, storage_options, agree=AGREE)
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
    array = StackBackendArray(described, check)
    stacked = xr.Variable((dim, *var.dims), indexing.LazilyIndexedArray(array), var.attrs, encoding)
    ds = xr.Dataset(
        {VARIABLE: _chunked(stacked, chunks, _token(sources, descs))},
        coords=_coords(file_coords, descs, dim, coords),
        attrs=attrs,
    )
    ds.set_close(array.close)
    return ds


def _check_arguments(sources: list[Any], dim: str, coords: Sequence[Any] | None) -> None:
    """The arguments' own checks (``headers``' length: :func:`describe_sources`)."""
    if not sources:
        raise ValueError("open_stack needs at least one source")
    if coords is not None and len(coords) != len(sources):
        raise ValueError(f"{len(coords)} coords for {len(sources)} sources")
    if dim in ("band", "y", "x", "bnds"):
        raise ValueError(f"dim={dim!r} is already a dimension of each file; choose another name")


# ---------------------------------------------------------------------------------------
# The array


class StackBackendArray(BackendArray):
    """The stacked files' pixels, read on demand: outer indexing over ``(n, [time,] band, y, x)``.

    A read plans its window once (the files share their grid) and decodes the frames of
    every file it selects as one batch (:func:`~rumi_xarray.decode.read_jobs`), each
    straight into its place in the one result.
    """

    def __init__(self, described: list[tuple[RumiFile, RangeReader]], verify: bool) -> None:
        self.files = described
        self.verify = verify
        first = described[0][0]
        self.single_step = first.grid.times == 1
        """Files of one time step have no time axis (as ``open_rumi``)."""
        self.shape = (len(described), *first.shape[self.single_step :])
        self.dtype = first.dtype

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(  # type: ignore[no-any-return]  # xarray: -> Any
            key, self.shape, indexing.IndexingSupport.OUTER, self._getitem
        )

    def close(self) -> None:
        """Release every file's descriptor (a later read reopens it)."""
        for _, reader in self.files:
            close_reader(reader)

    def _getitem(self, key: tuple[Key, ...]) -> np.ndarray:
        which, *rest = key
        picks = np.arange(len(self.files))[which]
        window = cast("Window", ((0,) if self.single_step else ()) + tuple(rest))
        plan = plan_window(self.files[0][0], window)
        out = np.empty((np.size(picks), *plan.shape), self.dtype)
        jobs = []
        for j, i in enumerate(np.atleast_1d(picks).tolist()):
            desc, reader = self.files[i]
            jobs.append(Job(desc, reader, plan.frames, out[j], plan.sliced))
        read_jobs(jobs, verify=self.verify)
        out = out.squeeze(axis=tuple(a + 1 for a in plan.drop))
        return out[0] if np.ndim(picks) == 0 else out


def _chunked(
    var: xr.Variable, chunks: Mapping[Hashable, Any] | str | int | None, token: str
) -> xr.Variable:
    """``var`` as dask chunks: ``{}`` the preferred ones, a dict over them, else as given."""
    if chunks is None:
        return var
    if isinstance(chunks, Mapping):
        chunks = {**var.encoding["preferred_chunks"], **chunks}
    return var.chunk(chunks, name=f"open_stack-{token}")


def _token(sources: list[Any], descs: list[RumiFile]) -> str:
    """A dask name for these files as they are now (frame sizes change with the pixels)."""
    digest = hashlib.sha256("\0".join(source_label(s) for s in sources).encode())
    for desc in descs:
        digest.update(desc.counts.tobytes())
    return digest.hexdigest()[:32]


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
