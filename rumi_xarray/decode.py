"""Read a description and pixel windows through a :class:`~rumi_xarray.io.RangeReader`.

A window is planned here: the frames it touches, the part of each that it takes
(:func:`read_window`), and the coalesced byte ranges that hold them (:func:`coalesce`).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from rumi_codec import decompress_into, known_width, parse_verify

from .cache import frame_cache
from .errors import OpenZLError, RumiFormatError
from .format import describe_source
from .io import LocalReader, close_reader, is_remote, open_reader

if TYPE_CHECKING:
    from collections.abc import Buffer, Hashable, Iterator, Mapping, Sequence

    from .format import RumiFile
    from .io import Range, RangeReader
    from .spec import SampleType

    Key = int | slice | np.ndarray
    Window = tuple[Key, Key, Key, Key]
    Selection = tuple[slice | np.ndarray, ...]
    Pending = tuple["Job", Hashable | None, dict[int, np.ndarray] | None]
    """A job left to decode, its reader's identity and where to keep its blocks."""
    Task = tuple[int, int]
    """(index into the pending jobs, frame index)."""

__all__ = [
    "Job",
    "Plan",
    "coalesce",
    "describe_file",
    "frame_widths",
    "header_blob",
    "plan_window",
    "read_description",
    "read_jobs",
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
        close_reader(reader)


def header_blob(source: Any, *, storage_options: dict[str, Any] | None = None) -> bytes:
    """The canonical external header blob of any rumi file (§10), read from its index.

    ``source`` is a local path, an fsspec URL (with ``storage_options``), bytes or a
    seekable binary file object. The blob is what ``to_rumi`` returns for the files it
    writes; ``xr.open_dataset(path, engine="rumi", header=blob)`` skips the index.
    """
    return describe_file(source, None, storage_options)[0].to_blob()


# ---------------------------------------------------------------------------------------
# Windows


class _Group(NamedTuple):
    """The part of one output axis that one frame (or grid row/column) fills."""

    key: int
    """Chunk index of the frames along the axis: tile row/column, band or step (0 when held)."""
    out: slice | np.ndarray
    """Positions along the output axis."""
    src: slice | np.ndarray
    """Positions along the decoded block's axis."""


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """What a window of one file takes: its output shape and, per frame, where it goes."""

    shape: tuple[int, ...]
    """The window's shape over all four ``(t, b, y, x)`` axes."""
    drop: tuple[int, ...]
    """Axes indexed by an integer, which the result drops."""
    frames: dict[int, tuple[Selection, Selection]]
    """Frame index -> (output selection, selection of its ``(t, b, h, w)`` block)."""
    sliced: bool
    """Whether every selection is a slice (else some are integer arrays)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Job:
    """One planned window of one file, to be filled into ``out`` (of the plan's shape)."""

    desc: RumiFile
    reader: RangeReader
    frames: Mapping[int, tuple[Selection, Selection]]
    out: np.ndarray
    sliced: bool = False
    """Whether every selection is a slice (the plan's)."""


def _compact(a: np.ndarray) -> slice | np.ndarray:
    """A slice for an increasing arithmetic progression, else the array."""
    if a.size == 1:
        return slice(int(a[0]), int(a[0]) + 1)
    step = int(a[1] - a[0])
    if step > 0 and np.all(np.diff(a) == step):
        return slice(int(a[0]), int(a[-1]) + 1, step)
    return a


def _axis(key: Key, n: int, tile: int) -> tuple[int, list[_Group]]:
    """The output length of one axis and its groups, ``tile`` positions per frame."""
    if isinstance(key, int | np.integer):
        i = int(key)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for an axis of length {n}")
        key = slice(i % n, i % n + 1)
    if isinstance(key, slice):
        start, stop, step = key.indices(n)
        if step == 1:
            owners = range(start // tile, (stop - 1) // tile + 1) if stop > start else range(0)
            return max(0, stop - start), [_span(o, start, stop, tile) for o in owners]
        idx = np.arange(start, stop, step, dtype=np.int64)
    else:
        idx = np.asarray(key, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"index out of range for an axis of length {n}")
        idx = np.where(idx < 0, idx + n, idx)
    owners_of = idx // tile
    groups = []
    for owner in np.unique(owners_of):
        where = np.flatnonzero(owners_of == owner)
        groups.append(_Group(int(owner), _compact(where), _compact(idx[where] - owner * tile)))
    return idx.size, groups


def _span(owner: int, start: int, stop: int, tile: int) -> _Group:
    """The group of frame ``owner`` in the contiguous positions ``start:stop``."""
    lo, hi = max(start, owner * tile), min(stop, (owner + 1) * tile)
    return _Group(owner, slice(lo - start, hi - start), slice(lo - owner * tile, hi - owner * tile))


def plan_window(desc: RumiFile, key: Window) -> Plan:
    """The frames ``key`` (outer indexing over ``(t, b, y, x)``) touches, and their parts."""
    grid = desc.grid
    axes = [_axis(k, n, c) for k, n, c in zip(key, desc.shape, grid.chunk_shape, strict=True)]
    shape = tuple(n for n, _ in axes)
    drop = tuple(a for a, k in enumerate(key) if isinstance(k, int | np.integer))
    frames: dict[int, tuple[Selection, Selection]] = {}
    if all(shape):
        st, sb, sy, sx = grid.index_strides()
        for t, b, y, x in itertools.product(*(groups for _, groups in axes)):
            k = t.key * st + b.key * sb + y.key * sy + x.key * sx
            frames[k] = ((t.out, b.out, y.out, x.out), (t.src, b.src, y.src, x.src))
    sliced = all(
        isinstance(g.out, slice) and isinstance(g.src, slice) for _, gs in axes for g in gs
    )
    return Plan(shape, drop, frames, sliced)


def _assign(job: Job, k: int, block: np.ndarray) -> None:
    """Copy frame k's part of its decoded ``(t, b, h, w)`` block into ``job.out``."""
    out_sel, src_sel = job.frames[k]
    if job.sliced:
        job.out[out_sel] = block[src_sel]
        return

    def arrays(sel: Selection, shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
        return np.ix_(
            *(
                np.arange(*s.indices(n)) if isinstance(s, slice) else s
                for s, n in zip(sel, shape, strict=True)
            )
        )

    job.out[arrays(out_sel, job.out.shape)] = block[arrays(src_sel, block.shape)]


def resolve_verify(verify: bool | None) -> bool:
    """``verify`` as given, or where it is None the environment variable ``RUMI_VERIFY``.

    ``RUMI_VERIFY`` accepts ``0, 1, false, true, off, on, no, yes``; unset is off.
    """
    return parse_verify(verify)


@functools.cache
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

    Decodes only the frames the window touches (:func:`read_jobs`). Integer keys drop
    their axis. Any frame that does not decode raises `RumiFormatError` naming its
    index and byte range.
    """
    plan = plan_window(desc, key)
    out = np.empty(plan.shape, desc.dtype)
    read_jobs([Job(desc, reader, plan.frames, out, plan.sliced)], verify=verify)
    return out.squeeze(axis=plan.drop)


def read_jobs(jobs: Sequence[Job], *, verify: bool = False) -> None:
    """Fill every job's ``out``: windows of one or many files, read as one batch.

    Frames held by the decoded-frame cache (:mod:`rumi_xarray.cache`) are copied from
    it, except with ``verify``, which always reads and checks every frame (and then
    caches it). The other frames of all jobs are split into contiguous shares of about
    equal decoded size, one per decoding thread (the calling thread takes one); each
    share reads adjacent frames of a file as one range and decodes them. Every frame's
    element width is checked; with ``verify`` also its OpenZL checksums.
    """
    cache = frame_cache()
    pending: list[Pending] = []
    for job in jobs:
        identity = job.reader.identity if cache.maxbytes else None
        frames = job.frames
        if identity is not None and not verify:
            frames = _from_cache(job, cache.get_many([(identity, k) for k in frames]))
        if frames:
            fresh: dict[int, np.ndarray] | None = None if identity is None else {}
            pending.append((dataclasses.replace(job, frames=frames), identity, fresh))
    _decode(pending, verify)
    for job, identity, fresh in pending:
        if fresh and job.reader.identity == identity:  # unchanged while it was read
            cache.put_many(((identity, k), block) for k, block in fresh.items())


def _from_cache(
    job: Job, blocks: list[np.ndarray | None]
) -> dict[int, tuple[Selection, Selection]]:
    """Fill ``job.out`` from the cached blocks; the frames not cached."""
    missing = {}
    for (k, sels), block in zip(job.frames.items(), blocks, strict=True):
        if block is None:
            missing[k] = sels
        else:
            _assign(job, k, block)
    return missing


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


_MIN_SHARE = 256 << 10
"""Decoded bytes below which a share is not worth handing to another thread."""


def _decode(pending: list[Pending], verify: bool) -> None:
    """Decode the pending frames, balanced over the pool; the caller decodes one share."""
    pending = _prefetched(pending)
    tasks = [(j, k) for j, (job, _, _) in enumerate(pending) for k in sorted(job.frames)]
    sizes = [pending[j][0].desc.frame_nbytes(k) for j, k in tasks]
    workers, pool, _ = _pools()
    shares = _shares(np.array(sizes, np.int64), min(workers, max(1, sum(sizes) // _MIN_SHARE)))
    futures = [
        pool.submit(_decode_share, pending, tasks[lo:hi], sizes[lo:hi], verify)
        for lo, hi in shares[1:]
    ]
    lo, hi = shares[0]
    try:
        _decode_share(pending, tasks[lo:hi], sizes[lo:hi], verify)
    except BaseException:
        for future in futures:
            future.cancel()
        wait(futures)
        raise
    for future in futures:
        future.result()


def _prefetched(pending: list[Pending]) -> list[Pending]:
    """Remote jobs with all their coalesced runs fetched at once, concurrently, off the decoders."""
    remote = [j for j, (job, _, _) in enumerate(pending) if is_remote(job.reader)]
    if not remote:
        return pending
    from .remote import prefetch

    requests = []
    for j in remote:
        job = pending[j][0]
        ranges = sorted(job.desc.frame_range(k) for k in job.frames)
        runs = coalesce(ranges, job.reader.max_gap, job.reader.max_run)
        requests.append((job.reader, [run for run, _ in runs]))
    out = list(pending)
    for j, reader in zip(remote, prefetch(requests), strict=True):
        job, identity, fresh = pending[j]
        out[j] = (dataclasses.replace(job, reader=reader), identity, fresh)
    return out


def _shares(sizes: np.ndarray, count: int) -> list[tuple[int, int]]:
    """Split ``sizes`` into at most ``count`` contiguous ``(lo, hi)`` parts of about equal sum."""
    if count <= 1 or sizes.size <= 1:
        return [(0, int(sizes.size))]
    ends = np.cumsum(sizes)
    cuts = np.searchsorted(ends, ends[-1] * np.arange(1, count) / count, side="left") + 1
    bounds = np.unique(np.concatenate([[0], np.minimum(cuts, sizes.size), [sizes.size]]))
    return [(int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds)]


def _decode_share(
    pending: list[Pending], tasks: Sequence[Task], sizes: Sequence[int], verify: bool
) -> None:
    """Read and decode consecutive frames (of decoded ``sizes``): adjacent ones as one range."""
    done = 0
    for j, ks in itertools.groupby(tasks, key=lambda task: task[0]):
        job, _, fresh = pending[j]
        frames = [k for _, k in ks]
        nbytes = sizes[done : done + len(frames)]
        done += len(frames)
        ranges = [job.desc.frame_range(k) for k in frames]
        runs = coalesce(ranges, job.reader.max_gap, job.reader.max_run)
        widths = frame_widths(job.desc.sample)
        for start, members, view, checked in _read_runs(job.reader, runs, ranges, widths):
            for i, known in zip(members, checked, strict=True):
                offset, stored = ranges[i]
                frame = view[offset - start : offset - start + stored]
                _place(job, frames[i], nbytes[i], frame, verify, fresh, known)


_AHEAD = ("read", "read ahead")
"""The two scratch buffers a decoding thread reads runs into, in turn."""


def _read_runs(
    reader: RangeReader,
    runs: Sequence[tuple[Range, list[int]]],
    ranges: Sequence[Range],
    widths: frozenset[int],
) -> Iterator[tuple[int, list[int], memoryview, list[bool]]]:
    """Each run's ``(offset, members, bytes, widths known)``, in order, in this thread's scratch.

    From a local file, when the decoding threads leave a core idle, the next run is
    read on a reading thread while the caller decodes this one (``pread`` releases the
    GIL), which also checks the element width of each of its frames whose skeleton is
    known (``True``: the decoder needs not). The first run is read here, with no
    hand-off added to a chip.
    """
    reading = _pools()[2] if isinstance(reader, LocalReader) else None
    ahead: Future[tuple[Buffer, list[bool]]] | None = None
    try:
        for n, ((start, length), members) in enumerate(runs):
            if ahead is None:
                buffer = _scratch(length, _AHEAD[n % 2] if reading is not None else "read")
                data, checked = reader.read_into(start, length, buffer), [False] * len(members)
            else:
                data, checked = ahead.result()
            ahead = None
            if reading is not None and n + 1 < len(runs):
                (at, nbytes), inside = runs[n + 1]
                spans = [ranges[i] for i in inside]
                buffer = _scratch(nbytes, _AHEAD[(n + 1) % 2])
                ahead = reading.submit(_read_ahead, reader, (at, nbytes), buffer, spans, widths)
            yield start, members, memoryview(data), checked
    finally:
        if ahead is not None:  # a read still writing into this thread's scratch
            wait([ahead])


def _read_ahead(
    reader: RangeReader,
    run: Range,
    buffer: np.ndarray,
    spans: list[Range],
    widths: frozenset[int],
) -> tuple[Buffer, list[bool]]:
    """Read a run into ``buffer``; whether each frame's element width is known to be right."""
    start, length = run
    data = reader.read_into(start, length, buffer)
    view = memoryview(data)
    return data, [known_width(view[o - start : o - start + n]) in widths for o, n in spans]


def _place(
    job: Job,
    k: int,
    nbytes: int,
    frame: Buffer,
    verify: bool,
    fresh: dict[int, np.ndarray] | None,
    checked: bool = False,
) -> None:
    """Decode frame k (``nbytes`` decoded) into its part of ``job.out``; keep it in ``fresh``.

    ``checked``: its element width is known to be right (else the decoder checks it).
    """
    keep = fresh is not None and nbytes <= frame_cache().maxbytes
    block = _decode_block(job.desc, k, nbytes, frame, verify, keep=keep, checked=checked)
    _assign(job, k, block)
    if keep and fresh is not None:
        block.flags.writeable = False
        fresh[k] = block


def _decode_block(
    desc: RumiFile,
    k: int,
    nbytes: int,
    frame: Buffer,
    verify: bool,
    *,
    keep: bool = False,
    checked: bool = False,
) -> np.ndarray:
    """Frame k (``nbytes`` decoded) as a ``(t, b, h, w)`` view of this thread's scratch.

    The view is valid until the thread decodes its next frame; with ``keep`` it views
    a buffer of its own instead. ``checked``: the element width needs no check.
    """
    raw = _aligned(nbytes) if keep else _scratch(nbytes, "frame")
    widths = None if checked else frame_widths(desc.sample)
    try:
        decompress_into(frame, raw, verify=verify, widths=widths)
    except OpenZLError as exc:
        offset, length = desc.frame_range(k)
        raise OpenZLError.of_frame(k, exc, offset=offset, nbytes=length) from exc
    if desc.sample.name == "bool" and raw.size and raw.max() > 1:
        offset, length = desc.frame_range(k)
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


_POOLS: tuple[int, int, ThreadPoolExecutor, ThreadPoolExecutor | None] | None = None
_POOLS_LOCK = threading.Lock()


def _pools() -> tuple[int, ThreadPoolExecutor, ThreadPoolExecutor | None]:
    """The decoding threads, their pool and the reading pool, one per process (recreated
    after a fork).

    ``RUMI_XARRAY_THREADS`` decoding threads, else ``min(32, usable cores)``, counting
    the calling thread, which decodes a share of every read itself. When they leave a
    core idle, as many reading threads read ahead of them (:func:`_read_runs`); else
    None (reading ahead would only take turns with decoding).
    """
    global _POOLS
    with _POOLS_LOCK:
        if _POOLS is None or _POOLS[0] != os.getpid():
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
            cores = cores or os.cpu_count() or 1
            workers = int(os.environ.get("RUMI_XARRAY_THREADS", 0)) or min(32, cores)
            decoding = ThreadPoolExecutor(max(1, workers - 1), thread_name_prefix="rumi-decode")
            reading = ThreadPoolExecutor(workers, "rumi-read") if workers < cores else None
            _POOLS = (os.getpid(), workers, decoding, reading)
        return _POOLS[1:]
