"""Write a :class:`~rumi_xarray.virtual.VirtualDataset`: kerchunk JSON or Parquet, Icechunk.

Parquet references and Icechunk virtual chunks are written from the chunk manifest's
arrays (a million-file mosaic never becomes a dict of keys); JSON references are one
key per chunk by nature.
"""

from __future__ import annotations

import base64
import json
import re
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .model import VirtualDataset

if TYPE_CHECKING:
    from collections.abc import Iterator

    import icechunk

    from .model import VirtualArray, ZarrFormat

_METADATA_KEYS = ("zarr.json", ".zarray", ".zattrs", ".zgroup")


def to_kerchunk(vds: VirtualDataset, zarr_format: ZarrFormat = 3) -> dict[str, Any]:
    """kerchunk JSON version 1: metadata as text, coordinate chunks as base64, frames as ranges."""
    refs: dict[str, Any] = {}
    for key, value in vds.metadata(zarr_format).items():
        if key.rsplit("/", 1)[-1] in _METADATA_KEYS:
            refs[key] = value.decode()
        else:
            refs[key] = "base64:" + base64.b64encode(value).decode()
    refs.update(vds.chunk_refs(zarr_format))
    return {"version": 1, "refs": refs}


def write_references(
    refs: dict[str, Any] | VirtualDataset,
    target: str,
    *,
    format: Literal["json", "parquet"] = "json",
    record_size: int = 100_000,
) -> None:
    """Write references as one JSON file or as kerchunk's Parquet directory (Zarr v2 only).

    ``refs`` is a references dict (:func:`to_kerchunk`, :func:`rumi_xarray.references`)
    or a virtual dataset itself: its Parquet references are then written straight
    from its chunk manifest, ``record_size`` chunks to a file, in kerchunk's layout
    (``.zmetadata`` plus ``<variable>/refs.<n>.parq`` with ``path, offset, size, raw``),
    and its JSON references are those of ``to_kerchunk(refs)``.
    """
    if format not in ("json", "parquet"):
        raise ValueError(f"format must be 'json' or 'parquet', got {format!r}")
    if isinstance(refs, VirtualDataset):
        if format == "parquet":
            _write_parquet(refs, target, record_size)
            return
        refs = to_kerchunk(refs)
    if format == "json":
        import fsspec

        with fsspec.open(target, "w") as f:
            json.dump(refs, f, separators=(",", ":"))
        return
    if "zarr.json" in refs.get("refs", refs):
        raise ValueError(
            "kerchunk's Parquet references hold Zarr v2 only; build them with zarr_format=2"
        )
    from kerchunk.df import refs_to_dataframe

    refs_to_dataframe(refs, target, record_size=record_size)


def _write_parquet(vds: VirtualDataset, target: str, record_size: int) -> None:
    """kerchunk's Parquet references of ``vds`` (Zarr v2), from its arrays."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(target)
    keys = vds.metadata(2)
    meta = {k: json.loads(v) for k, v in keys.items() if k.rsplit("/", 1)[-1] in _METADATA_KEYS}
    fs.makedirs(root, exist_ok=True)
    zmetadata = {"metadata": meta, "record_size": record_size}
    fs.pipe(f"{root}/.zmetadata", json.dumps(zmetadata).encode())
    inline: dict[str, dict[int, bytes]] = {}
    for key, value in keys.items():
        if key not in meta:
            field, chunk = key.rsplit("/", 1)
            grid = _chunk_grid(meta[f"{field}/.zarray"])
            index = [int(i) for i in chunk.split(".")]
            inline.setdefault(field, {})[int(np.ravel_multi_index(index, grid))] = value
    for field, chunks in inline.items():
        for record in sorted({number // record_size for number in chunks}):
            raw: list[bytes | None] = [None] * record_size
            for number, value in chunks.items():
                if number // record_size == record:
                    raw[number % record_size] = value
            _write_record(fs, root, field, record, [None] * record_size, None, None, raw)
    for name, array in vds.arrays.items():
        _write_records(fs, root, name, array, record_size)


def _chunk_grid(zarray: dict[str, Any]) -> list[int]:
    """Chunks along each axis, as kerchunk's reader counts them (``[1]`` for a scalar)."""
    grid = [-(-s // c) for s, c in zip(zarray["shape"], zarray["chunks"], strict=True)]
    return grid or [1]


def _write_records(fs: Any, root: str, name: str, array: VirtualArray, record_size: int) -> None:
    """The records of one data variable's frames; records without a present chunk are left out."""
    files = array.files.ravel()
    offsets, lengths = array.offsets.ravel(), array.lengths.ravel()
    urls = np.empty(len(array.urls) + 1, object)
    urls[:-1], urls[-1] = array.urls, None
    for record in range(-(-files.size // record_size)):
        at = slice(record * record_size, (record + 1) * record_size)
        if not (files[at] >= 0).any():
            continue
        pad = record_size - files[at].size
        paths = urls[np.concatenate([files[at], np.full(pad, -1, np.int32)])].tolist()
        offset, size = (np.pad(a[at].astype(np.int64), (0, pad)) for a in (offsets, lengths))
        _write_record(fs, root, name, record, paths, offset, size, [None] * record_size)


def _write_record(
    fs: Any,
    root: str,
    field: str,
    record: int,
    paths: list[str | None],
    offsets: np.ndarray | None,
    sizes: np.ndarray | None,
    raw: list[bytes | None],
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(paths)
    schema = pa.schema(  # offset and size required and with statistics: fastparquet (kerchunk's
        # reader) then reads them as int64, not as float64 with room for nulls
        [
            ("path", pa.string()),
            pa.field("offset", pa.int64(), nullable=False),
            pa.field("size", pa.int64(), nullable=False),
            ("raw", pa.binary()),
        ]
    )
    columns = {
        "path": paths,
        "offset": np.zeros(n, np.int64) if offsets is None else offsets,
        "size": np.zeros(n, np.int64) if sizes is None else sizes,
        "raw": raw,
    }
    table = pa.table(columns, schema=schema)
    fs.makedirs(f"{root}/{field}", exist_ok=True)
    with fs.open(f"{root}/{field}/refs.{record}.parq", "wb") as f:
        pq.write_table(table, f, compression="zstd")


# ---------------------------------------------------------------------------------------
# Icechunk


def to_icechunk(
    vds: VirtualDataset,
    target: Any,
    *,
    group: str = "",
    branch: str = "main",
    message: str | None = None,
    chunks_per_commit: int | None = None,
) -> str | None:
    """Write a virtual dataset into Icechunk as virtual references.

    Metadata and coordinates are stored natively; each frame becomes a virtual chunk
    pointing at its file's byte range, set in bulk from the manifest's arrays. The
    files' URL prefixes must be registered as virtual chunk containers of the
    repository.

    Parameters
    ----------
    target
        A writable session's ``store`` (nothing is committed: commit the session
        afterwards), or an ``icechunk.Repository``: then the dataset is written into
        ``branch`` and committed with ``message``.
    chunks_per_commit
        With a repository, commit every this many chunk references (slabs along the
        outer axes), so that memory stays bounded however many files there are;
        give the repository :func:`manifest_splitting` so that each commit writes
        manifests of its own.

    Returns
    -------
    str or None
        The last snapshot's id, when ``target`` is a repository.
    """
    import icechunk

    prefix = f"{group.strip('/')}/" if group.strip("/") else ""
    if isinstance(target, icechunk.Repository):
        text = message or f"rumi-xarray: {len(vds.urls)} files"
        return _commit(vds, target, prefix, branch, text, chunks_per_commit)
    if chunks_per_commit is not None:
        raise TypeError("chunks_per_commit commits: give an icechunk.Repository, not a store")
    _write_metadata(vds, target, prefix)
    for name, array in vds.arrays.items():
        _set_refs(target, f"{prefix}{name}", array, ())
    return None


def _commit(
    vds: VirtualDataset,
    repo: icechunk.Repository,
    prefix: str,
    branch: str,
    message: str,
    limit: int | None,
) -> str:
    session = repo.writable_session(branch)
    _write_metadata(vds, session.store, prefix)
    pending, part, snapshot = 0, 1, None
    for name, array in vds.arrays.items():
        for where in _slabs(array.files.shape, limit or array.files.size):
            pending += _set_refs(session.store, f"{prefix}{name}", array, where)
            if limit and pending >= limit:
                snapshot = session.commit(f"{message} (part {part})")
                session, pending, part = repo.writable_session(branch), 0, part + 1
    if snapshot is None or session.has_uncommitted_changes:
        snapshot = session.commit(message if part == 1 else f"{message} (part {part})")
    return snapshot


def _write_metadata(vds: VirtualDataset, store: Any, prefix: str) -> None:
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    buffer = default_buffer_prototype().buffer
    for key, value in vds.metadata(3).items():
        sync(store.set(prefix + key, buffer.from_bytes(value)))


def _set_refs(store: Any, path: str, array: VirtualArray, where: tuple[slice, ...]) -> int:
    """Set the references of the block ``where`` of the chunk grid; how many are present."""
    files = array.files[where]
    start = tuple(s.start or 0 for s in where)
    failed = store.set_virtual_refs_arr(
        path,
        files.shape,
        array.locations(where),
        np.ascontiguousarray(array.offsets[where].ravel(), np.uint64),
        np.ascontiguousarray(array.lengths[where].ravel(), np.uint64),
        validate_containers=True,
        arr_offset=start if any(start) else None,
    )
    if failed:
        raise ValueError(
            f"{len(failed)} chunks point outside the repository's virtual chunk containers, "
            f"e.g. chunk {failed[0]}"
        )
    return int(np.count_nonzero(files >= 0))


def _slab_axis(shape: tuple[int, ...], limit: int) -> tuple[int, int]:
    """``(axis, step)``: slabs cut ``axis`` in steps of ``step`` (axes before it in 1s) and
    hold every chunk of the axes after it; ``(-1, 0)`` when the whole grid fits."""
    inner, axis = 1, len(shape)
    while axis and inner * shape[axis - 1] <= limit:
        axis -= 1
        inner *= shape[axis]
    return (axis - 1, max(1, limit // inner)) if axis else (-1, 0)


def _slabs(shape: tuple[int, ...], limit: int) -> Iterator[tuple[slice, ...]]:
    """Blocks of the chunk grid of at most ``limit`` chunks (at least one row of the last axis)."""
    axis, step = _slab_axis(shape, limit)
    if axis < 0:
        yield tuple(slice(0, n) for n in shape)
        return
    rest = tuple(slice(0, n) for n in shape[axis + 1 :])
    for lead in np.ndindex(*shape[:axis]):
        for start in range(0, shape[axis], step):
            yield (*(slice(i, i + 1) for i in lead), slice(start, start + step), *rest)


def manifest_splitting(
    vds: VirtualDataset, chunks_per_commit: int
) -> icechunk.ManifestSplittingConfig:
    """Icechunk manifest splits matching ``to_icechunk(..., chunks_per_commit=n)``'s slabs.

    Each commit then writes manifests of its own instead of rewriting those before it.
    Set it on the repository's configuration (``config.manifest``) before writing.
    """
    import icechunk

    axis_of = icechunk.ManifestSplitDimCondition.Axis
    splits: dict[Any, Any] = {}
    for name, array in vds.arrays.items():
        axis, step = _slab_axis(array.files.shape, chunks_per_commit)
        if axis >= 0:
            condition = icechunk.ManifestSplitCondition.name_matches(f"^{re.escape(name)}$")
            splits[condition] = {axis_of(i): 1 for i in range(axis)} | {axis_of(axis): step}
    return icechunk.ManifestSplittingConfig.from_dict(splits)
