"""kerchunk-style references for one rumi file: each frame a Zarr chunk at its byte range.

``references(path)`` returns version-1 references holding Zarr v3 metadata, the
coordinates inline and ``[url, offset, length]`` per frame. Open them with::

    xr.open_dataset("reference://", engine="zarr", chunks={},
                    storage_options={"fo": refs}, backend_kwargs={"consolidated": False})

Clipped edge frames get a rectilinear chunk grid (exact, Zarr v3 only). For consumers
that only know regular grids (Zarr v2, kerchunk Parquet, VirtualiZarr 2.8) the
``rumi.openzl_grid`` codec pads each edge frame to the full chunk instead.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..coords import area_or_point
from ..errors import RumiVirtualError
from ..layout import axis_chunks, frame_chunks, frame_order
from .model import (
    BYTES,
    VirtualArray,
    VirtualDataset,
    frame_codecs,
    openzl_codec,
    zarr_data_type,
)
from .outputs import to_kerchunk

if TYPE_CHECKING:
    from collections.abc import Buffer

    from ..format import RumiFile
    from ..io import RangeReader
    from .model import ZarrFormat

Grid = Literal["auto", "rectilinear", "regular"]
VARIABLE = "band_data"


def references(
    source: Any,
    *,
    header: Buffer | None = None,
    storage_options: dict[str, Any] | None = None,
    url: str | None = None,
    zarr_format: ZarrFormat = 3,
    grid: Grid = "auto",
) -> dict[str, Any]:
    """kerchunk references (JSON version 1) of one rumi file.

    Parameters
    ----------
    source
        A local path or fsspec URL (or bytes / a file object, with ``url``).
    header
        The file's header blob: then the file's index is not read.
    storage_options
        fsspec options for reading ``source``.
    url
        The URL the references point at; defaults to ``source`` (local paths become
        absolute ``file://`` URLs).
    zarr_format
        3 (default) or 2 (kerchunk's xarray engine, Parquet references, MultiZarrToZarr).
    grid
        ``"auto"``: rectilinear where edge frames are clipped (v3), else regular;
        ``"regular"``: always a regular grid, padding edge frames with ``rumi.openzl_grid``;
        ``"rectilinear"``: exact frame shapes (v3 only).
    """
    from ..decode import read_description
    from ..io import close_reader, open_reader

    reader = open_reader(source, storage_options)
    try:
        desc = read_description(reader, header)
        vds = file_dataset(
            desc, url or source_url(source), reader=reader, grid=grid, zarr_format=zarr_format
        )
    finally:
        close_reader(reader)
    return to_kerchunk(vds, zarr_format)


def source_url(source: Any) -> str:
    """The URL references name for a source: absolute ``file://`` for local paths."""
    if not isinstance(source, str | os.PathLike):
        raise TypeError(f"give url= for a {type(source).__name__} source")
    path = os.fspath(source)
    if "://" in path:
        return path
    return "file://" + os.path.abspath(path)


def file_dataset(
    desc: RumiFile,
    url: str,
    *,
    reader: RangeReader | None = None,
    grid: Grid = "auto",
    zarr_format: ZarrFormat = 3,
) -> VirtualDataset:
    """The virtual dataset of one described file whose bytes are at ``url``."""
    import xarray as xr

    from ..coords import band_coord, file_coords

    if grid == "rectilinear" and zarr_format == 2:
        raise RumiVirtualError("Zarr v2 has no rectilinear chunk grids; use zarr_format=3")
    array = file_array(desc, url, reader=reader, regular=grid == "regular" or zarr_format == 2)
    coords = xr.Dataset(coords={**file_coords(desc), "band": band_coord(desc)})
    return VirtualDataset(VARIABLE, array, coords, {"rumi_generation": desc.generation.value})


def file_array(
    desc: RumiFile, url: str, *, reader: RangeReader | None = None, regular: bool = False
) -> VirtualArray:
    """One file's frames as the chunks of a ``(band, y, x)`` or ``(time, band, y, x)`` array."""
    g = desc.grid
    data_type = zarr_data_type(desc.sample)
    timed = g.times > 1
    full = g.chunk_shape[not timed :]
    extents = desc.shape[not timed :]
    chunks = tuple(axis_chunks(n, c) for n, c in zip(extents, full, strict=True))
    order = frame_order(g, len(chunks))
    clipped = any(c[-1] != c[0] for c in chunks)
    if regular and (clipped or order != sorted(order)):
        codecs: tuple[dict[str, Any], ...] = (BYTES, grid_codec(desc, chunks, order, reader))
    elif regular:
        codecs = (BYTES, openzl_codec())
    else:
        codecs = frame_codecs(g, len(chunks))
    index = frame_chunks(g)[:, 4 - len(chunks) :]
    shape = tuple(len(c) for c in chunks)
    offsets = np.zeros(shape, np.uint64)
    lengths = np.zeros(shape, np.uint64)
    at = tuple(index.T)
    offsets[at] = desc.offsets[:-1]
    lengths[at] = desc.counts
    return VirtualArray(
        dims=("time",) * timed + ("band", "y", "x"),
        chunks=chunks,
        data_type=data_type,
        codecs=codecs,
        # Every chunk is present; the fill value shows only where a converter copies it
        # into a v2 _FillValue (VirtualiZarr), and NaN masks nothing there.
        fill_value=np.nan if data_type.startswith(("float", "complex")) else 0,
        padded=regular,
        attrs={"AREA_OR_POINT": area_or_point(desc.georef)},
        urls=(url,),
        files=np.zeros(shape, np.int32),
        offsets=offsets,
        lengths=lengths,
    )


def grid_codec(
    desc: RumiFile,
    chunks: tuple[tuple[int, ...], ...],
    order: list[int],
    reader: RangeReader | None,
) -> dict[str, Any]:
    """``rumi.openzl_grid`` for one file: pads clipped edge frames and puts axes in order.

    When a bottom-row frame and a right-column frame decode to the same size
    (``rh * tw == th * rw``) the configuration records which frame is which, so these
    frames are read once here (`_edge_digests`).
    """
    th, tw = chunks[-2][0], chunks[-1][0]
    rh, rw = (c[-1] if c[-1] != c[0] else 0 for c in chunks[-2:])
    config: dict[str, Any] = {
        "chunk_shape": [c[0] for c in chunks],
        "itemsize": desc.sample.nbytes,
        "frame_order": order,
        "edge": [rh, rw],
    }
    if rh and rw and rh * tw == th * rw:
        config.update(_edge_digests(desc, reader))
    return {"name": "rumi.openzl_grid", "configuration": config}


def _edge_digests(desc: RumiFile, reader: RangeReader | None) -> dict[str, list[str]]:
    """``wide``/``tall`` keys of the bottom-row and right-column frames.

    Skeleton keys where the two sets of frames have distinct skeletons (geozl frames
    record their row width), so every file written alike gets the same configuration
    and stacks of them combine (VirtualiZarr, MultiZarrToZarr); else one key per frame.
    """
    from rumi_codec import frame_key, skeleton_key

    if reader is None:
        raise RumiVirtualError(
            "this image's bottom-row and right-column frames decode to the same size, so "
            "a regular grid needs their bytes; give a reader, or use a rectilinear grid"
        )
    g = desc.grid
    index = frame_chunks(g)
    last_row, last_col = g.tiles_down - 1, g.tiles_across - 1
    wide = np.flatnonzero((index[:, 2] == last_row) & (index[:, 3] != last_col))
    tall = np.flatnonzero((index[:, 3] == last_col) & (index[:, 2] != last_row))
    ranges = [desc.frame_range(int(k)) for k in (*wide, *tall)]
    frames = [bytes(frame) for frame in reader.iter_ranges(ranges)]
    keys = [key for key in map(skeleton_key, frames) if key is not None]
    if len(keys) < len(frames) or set(keys[: len(wide)]) & set(keys[len(wide) :]):
        keys = [frame_key(frame) for frame in frames]
    return {"wide": sorted(set(keys[: len(wide)])), "tall": sorted(set(keys[len(wide) :]))}
