"""Read a description and pixel windows through a :class:`~rumi_xarray.io.RangeReader`.

A window is planned here: the frames it touches, the part of each that it takes
(:func:`read_window`), and the coalesced byte ranges that hold them (:func:`coalesce`).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rumi_codec import decompress_into, parse_verify

from .cache import frame_cache
from .errors import OpenZLError, RumiFormatError
from .format import describe_source
from .io import open_reader

if TYPE_CHECKING:
    from collections.abc import Buffer, Mapping, MutableMapping, Sequence

    from .format import RumiFile
    from .io import Range, RangeReader
    from .spec import SampleType

    Key = int | slice | np.ndarray
    Window = tuple[Key, Key, Key, Key]
    Selection = tuple[slice | np.ndarray, ...]

__all__ = [
    "coalesce",
    "describe_file",
    "frame_widths",
    "header_blob",
    "read_description",
    "read_window",
    "resolve_verify",
]

_ELEMENT_WIDTHS = frozenset((1, 2, 4, 8))


def read_description(reader: RangeReader, header: Buffer | None = None) -> RumiFile:
    """Parse a file's index and trailer, or, given its header blob, only georef and trailer."""
    return describe_source(reader.size, lambda ranges: list(reader.iter_ranges(ranges)), header)


def describe_file(
    source: Any, header: Buffer | None = None, storage_options: dict[str, Any] | None = None
) -> tuple[RumiFile, int]:
    """Open a source, describe it and close it again; returns the description and its length."""
    reader = open_reader(source, storage_options)
    try:
        return read_description(reader, header), reader.size
    finally:
        if hasattr(reader, "close"):
            reader.close()


def header_blob(source: Any, *, storage_options: dict[str, Any] | None = None) -> bytes:
    """The canonical external header blob of any rumi file (§10), read from its index.

    ``source`` is a local path, an fsspec URL (with ``storage_options``), bytes or a
    seekable binary file object. The blob is what ``to_rumi`` returns for the files it
    writes; ``xr.open_dataset(path, engine="rumi", header=blob)`` skips the index.
    """
    return describe_file(source, None, storage_options)[0].to_blob()


# ---------------------------------------------------------------------------------------
# Windows


@dataclass(frozen=True, slots=True)
class _Group:
    """The part of one output axis that one frame (or grid row/column) fills."""

    key: int
    """Chunk index of the frames along the axis: tile row/column, band or step (0 when held)."""
    out: slice | np.ndarray
    """Positions along the output axis."""
    src: slice | np.ndarray
    """Positions along the decoded block's axis."""


def _compact(a: np.ndarray) -> slice | np.ndarray:
    """A slice for an increasing arithmetic progression, else the array."""
    if a.size == 1:
        return slice(int(a[0]), int(a[0]) + 1)
    step = int(a[1] - a[0])
    if step > 0 and np.all(np.diff(a) == step):
        return slice(int(a[0]), int(a[-1]) + 1, step)
    return a


def _positions(key: Key, n: int) -> np.ndarray:
    if isinstance(key, slice):
        return np.arange(*key.indices(n), dtype=np.int64)
    idx = np.asarray(key, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"index out of range for an axis of length {n}")
    return np.where(idx < 0, idx + n, idx)


def _groups(idx: np.ndarray, *, tile: int) -> list[_Group]:
    """Split output positions by the frames that hold them, ``tile`` positions each."""
    owners = idx // tile
    groups = []
    for owner in np.unique(owners):
        where = np.flatnonzero(owners == owner)
        groups.append(_Group(int(owner), _compact(where), _compact(idx[where] - owner * tile)))
    return groups


def _assign(out: np.ndarray, out_sel: Selection, block: np.ndarray, src_sel: Selection) -> None:
    if all(isinstance(s, slice) for s in out_sel + src_sel):
        out[out_sel] = block[src_sel]
        return

    def arrays(sel: Selection, shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
        return np.ix_(
            *(
                np.arange(*s.indices(n)) if isinstance(s, slice) else s
                for s, n in zip(sel, shape, strict=True)
            )
        )

    out[arrays(out_sel, out.shape)] = block[arrays(src_sel, block.shape)]


def resolve_verify(verify: bool | None) -> bool:
    """``verify`` as given, or where it is None the environment variable ``RUMI_VERIFY``.

    ``RUMI_VERIFY`` accepts ``0, 1, false, true, off, on, no, yes``; unset is off.
    """
    return parse_verify(verify)


def frame_widths(sample: SampleType) -> frozenset[int]:
    """The OpenZL element widths a frame of these samples may decode to (FORMAT §6).

    The storage width, or for complex types also the component width; 16 is no
    OpenZL width, so complex128 frames hold 8-byte components.
    """
    widths = {sample.nbytes}
    if sample.storage.names is not None or sample.storage.kind == "c":
        widths.add(sample.nbytes // 2)
    return frozenset(widths & _ELEMENT_WIDTHS)


def read_window(
    desc: RumiFile,
    reader: RangeReader,
    key: Window,
    *,
    verify: bool = False,
) -> np.ndarray:
    """Read ``key`` (outer indexing over ``(t, b, y, x)``: ints, slices or int arrays).

    Decodes only the frames the window touches, reads adjacent frames as one range,
    and decodes frames in parallel threads. Integer keys drop their axis. Every
    frame's element width is checked; with ``verify`` also its OpenZL checksums.
    Frames held by the decoded-frame cache (:mod:`rumi_xarray.cache`) are copied from
    it instead, except with ``verify``, which always reads and checks every frame (and
    then caches it).
    Any frame that does not decode raises `RumiFormatError` naming its index and
    byte range.
    """
    grid = desc.grid
    idx = [_positions(k, n) for k, n in zip(key, desc.shape, strict=True)]
    out = np.empty(tuple(i.size for i in idx), desc.dtype)
    drop = tuple(a for a, k in enumerate(key) if isinstance(k, int | np.integer))
    if out.size == 0:
        return out.squeeze(axis=drop)
    t_groups, b_groups, y_groups, x_groups = (
        _groups(i, tile=n) for i, n in zip(idx, grid.chunk_shape, strict=True)
    )
    tasks = {}
    for t in t_groups:
        for b in b_groups:
            for y in y_groups:
                for x in x_groups:
                    tasks[grid.frame_index(y.key, x.key, b.key, t.key)] = (t, b, y, x)
    _run(desc, reader, out, tasks, verify)
    return out.squeeze(axis=drop)


def coalesce(
    ranges: Sequence[Range], max_gap: int, max_length: int
) -> list[tuple[Range, list[int]]]:
    """Merge sorted ranges closer than ``max_gap`` into reads of at most ``max_length``.

    Returns ``((offset, length), [indices of the ranges it holds])`` per read.
    """
    runs: list[tuple[Range, list[int]]] = []
    start = end = 0
    members: list[int] = []
    for i, (offset, length) in enumerate(ranges):
        if members and offset - end <= max_gap and offset + length - start <= max_length:
            end = max(end, offset + length)
            members.append(i)
            continue
        if members:
            runs.append(((start, end - start), members))
        start, end, members = offset, offset + length, [i]
    if members:
        runs.append(((start, end - start), members))
    return runs


def _run(
    desc: RumiFile,
    reader: RangeReader,
    out: np.ndarray,
    tasks: Mapping[int, Sequence[_Group]],
    verify: bool,
) -> None:
    """Copy cached frames, read and decode the others, and cache what they decoded."""
    cache = frame_cache()
    identity = reader.identity if cache.maxbytes else None
    if identity is None:
        _decode_runs(desc, reader, out, tasks, verify, None)
        return
    if not verify:
        tasks = _from_cache(out, tasks, cache.get_many([(identity, k) for k in tasks]))
    if not tasks:
        return
    fresh: dict[int, np.ndarray] = {}
    _decode_runs(desc, reader, out, tasks, verify, fresh)
    if fresh and reader.identity == identity:  # unchanged while it was read
        cache.put_many(((identity, k), block) for k, block in fresh.items())


def _from_cache(
    out: np.ndarray, tasks: Mapping[int, Sequence[_Group]], blocks: list[np.ndarray | None]
) -> dict[int, Sequence[_Group]]:
    """Fill ``out`` from the cached blocks; the tasks of the frames not cached."""
    missing = {}
    for (k, groups), block in zip(tasks.items(), blocks, strict=True):
        if block is None:
            missing[k] = groups
        else:
            _assign(out, tuple(g.out for g in groups), block, tuple(g.src for g in groups))
    return missing


def _decode_runs(
    desc: RumiFile,
    reader: RangeReader,
    out: np.ndarray,
    tasks: Mapping[int, Sequence[_Group]],
    verify: bool,
    fresh: MutableMapping[int, np.ndarray] | None,
) -> None:
    """Read coalesced runs of frames and decode them, one pool task per run.

    With ``fresh``, frames are decoded into new buffers, kept there read-only.
    """
    frames = sorted(tasks)
    ranges = [desc.frame_range(k) for k in frames]
    runs = [
        (run, [frames[i] for i in members])
        for run, members in coalesce(ranges, reader.max_gap, reader.max_run)
    ]
    if len(runs) == 1:
        _read_run(desc, reader, *runs[0], out, tasks, verify, fresh)
        return
    pending = [
        _pool().submit(_read_run, desc, reader, run, ks, out, tasks, verify, fresh)
        for run, ks in runs
    ]
    try:
        for future in pending:
            future.result()
    finally:
        for future in pending:
            future.cancel()


def _read_run(
    desc: RumiFile,
    reader: RangeReader,
    run: tuple[int, int],
    ks: list[int],
    out: np.ndarray,
    tasks: Mapping[int, Sequence[_Group]],
    verify: bool,
    fresh: MutableMapping[int, np.ndarray] | None,
) -> None:
    start, length = run
    view = memoryview(reader.read_into(start, length, _scratch(length, "read")))
    for k in ks:
        offset, nbytes = desc.frame_range(k)
        frame = view[offset - start : offset - start + nbytes]
        keep = fresh is not None and desc.frame_nbytes(k) <= frame_cache().maxbytes
        block = _decode_block(desc, k, frame, verify, keep=keep)
        groups: Sequence[_Group] = tasks[k]
        _assign(out, tuple(g.out for g in groups), block, tuple(g.src for g in groups))
        if keep and fresh is not None:
            block.flags.writeable = False
            fresh[k] = block


def _decode_block(
    desc: RumiFile, k: int, frame: Buffer, verify: bool, *, keep: bool = False
) -> np.ndarray:
    """Frame k as a ``(t, b, h, w)`` view of this thread's scratch buffer.

    The view is valid until the thread decodes its next frame; with ``keep`` it views
    a buffer of its own instead.
    """
    nbytes = desc.frame_nbytes(k)
    raw = _aligned(nbytes) if keep else _scratch(nbytes, "frame")
    offset, length = desc.frame_range(k)
    try:
        decompress_into(frame, raw, verify=verify, widths=frame_widths(desc.sample))
    except OpenZLError as exc:
        raise OpenZLError.of_frame(k, exc, offset=offset, nbytes=length) from exc
    if desc.sample.name == "bool" and raw.size and raw.max() > 1:
        bad = int(np.flatnonzero(raw > 1)[0])
        msg = (
            f"frame {k} (bytes {offset}..{offset + length}): byte {bad} of a decoded bool "
            f"frame is {int(raw[bad])}, neither 0 nor 1"
        )
        raise RumiFormatError.invalid(
            f"frame {k}", msg, offset=offset, expected=(0, 1), found=int(raw[bad])
        )
    return desc.grid.to_block(k, desc.sample.to_array(raw))


_LOCAL = threading.local()


def _aligned(nbytes: int) -> np.ndarray:
    """A new 8-byte-aligned buffer of ``nbytes`` uint8."""
    return np.empty(-(-nbytes // 8), np.uint64).view(np.uint8)[:nbytes]


def _scratch(nbytes: int, kind: str) -> np.ndarray:
    """This thread's reusable, 8-byte-aligned ``kind`` buffer, as ``nbytes`` uint8."""
    buffers: dict[str, np.ndarray] = _LOCAL.__dict__.setdefault("buffers", {})
    buf = buffers.get(kind)
    if buf is None or buf.nbytes < nbytes:
        buf = buffers[kind] = _aligned(nbytes)
    return buf[:nbytes]


_POOL: tuple[int, ThreadPoolExecutor] | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """One decoding pool per process (recreated after a fork)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != os.getpid():
            workers = int(os.environ.get("RUMI_XARRAY_THREADS", 0)) or min(32, os.cpu_count() or 1)
            _POOL = (os.getpid(), ThreadPoolExecutor(workers, thread_name_prefix="rumi-decode"))
        return _POOL[1]
