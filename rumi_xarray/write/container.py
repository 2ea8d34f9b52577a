"""Write rumi 0.26.1 files (§15): validate, cut frames, compress them in parallel, write atomically.

Everything is checked by :func:`plan_write` before a byte is written. :func:`write_rumi`
then streams frames into a temporary file beside the target (their offsets depend only
on B and N, §3.1), writes the index and the trailer, and renames the file into place.
This module knows nothing of xarray: its input is a ``load(window)`` callback.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import numpy as np

from ..blob import build_blob
from ..georef import Georef, build_georef
from ..layout import FrameGrid, FrameKey, Window, base_frame_offset, frame_offsets, unit_axes
from ..spec import (
    FILE_HEADER,
    IFD_COUNT,
    IFD_ENTRY,
    IFD_OFFSET,
    MAX_DIMENSION,
    MAX_FRAME_BYTES,
    MAX_TIME_COUNT,
    RUMI_MAGIC,
    RUMI_TAGS,
    SAMPLE_TYPES,
    TAG_TYPES,
    Generation,
    SampleType,
    Tag,
)
from ..trailer import TimeAxis, build_trailer, check_band_texts, check_time

if TYPE_CHECKING:
    from collections.abc import Buffer, Generator, Iterator
    from concurrent.futures import Future

    from tqdm import tqdm

Loader = Callable[[Window], np.ndarray]
"""Returns the image samples in a window, shape ``(t, b, y, x)``, as a NumPy array."""
Encoder = Callable[[np.ndarray, FrameKey], bytes]
"""Compresses one frame's stored samples (frame dims, C order) into one OpenZL frame."""

GENERATION = Generation.RUMI_TAIL
MAX_HEADER_NBYTES = 2**32 - 1
MAX_FRAMES = 2**32 - 1
MAX_TILE = 65535
MAX_BANDS = 65535
BLOCK_NBYTES = 64 << 20
"""Samples loaded at once: a tile row when it fits, else a cell, else one frame."""
PROGRESS_FRAMES = 256
"""Show a progress bar (on a terminal) for files with more frames than this."""

FRAME_UNITS: dict[str, int] = {
    "band": 0,
    "tile": 0,
    "hw": 0,
    "time-band": 9,
    "cell": 1,
    "interleaved": 2,
    "bhw": 1,
    "thw": 1,
    "hwb": 2,
    "hwt": 2,
    "bthw": 3,
    "tbhw": 4,
    "bhwt": 5,
    "thwb": 6,
    "hwbt": 7,
    "hwtb": 8,
}
"""``frames=`` names (spaces in layout strings are ignored) and their frame_unit codes (§5)."""

_BY_DTYPE = {s.dtype: s for s in SAMPLE_TYPES.values() if s.name != "complex32"}
_BY_NAME = {s.name: s for s in SAMPLE_TYPES.values()}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class WritePlan:
    """A validated file: everything but the frames' compressed bytes."""

    grid: FrameGrid
    sample: SampleType
    unit: int
    """frame_unit code (§5)."""
    georef_bytes: bytes
    """ModelTransformationTag and GeoKeyDirectoryTag values (§7)."""
    trailer: bytes
    """The canonical ``TAIL`` trailer (§9)."""

    @property
    def base(self) -> int:
        return base_frame_offset(GENERATION, self.grid.bands, self.grid.frame_count)


# ---------------------------------------------------------------------------------------
# Validation


def sample_type(dtype: np.dtype | str | type, name: str | None = None) -> SampleType:
    """The rumi sample type storing ``dtype`` (§8); ``name`` picks one explicitly."""
    dtype = np.dtype(dtype)
    if dtype.byteorder == ">":
        dtype = dtype.newbyteorder("=")
    if name is not None:
        sample = _BY_NAME.get(name)
        if sample is None:
            raise ValueError(f"dtype={name!r} is not a rumi type; choose one of {sorted(_BY_NAME)}")
        if name == "complex32" and dtype.kind == "c":
            return sample
        if dtype != sample.dtype:
            raise ValueError(f"dtype={name!r} stores {sample.dtype} samples, not {dtype}")
        return sample
    sample = _BY_DTYPE.get(dtype)
    if sample is None:
        names = sorted(s.name for s in _BY_DTYPE.values())
        raise ValueError(f"dtype {dtype} cannot be stored in a rumi file; supported: {names}")
    return sample


def parse_frames(frames: str | int, bands: int, times: int) -> int:
    """The frame_unit code of a ``frames=`` name, layout string or code, checked against B, T."""
    if isinstance(frames, bool) or not isinstance(frames, str | int):
        raise TypeError(f"frames must be a name or an int code 0..9, got {frames!r}")
    unit = frames if isinstance(frames, int) else FRAME_UNITS.get(frames.replace(" ", ""))
    if unit is None:
        raise ValueError(f"frames={frames!r} is not one of {sorted(FRAME_UNITS)} or 0..9")
    fitting = [name for name, code in FRAME_UNITS.items() if _fits(code, bands, times)]
    if not _fits(unit, bands, times):
        raise ValueError(
            f"frames={frames!r} (frame_unit {unit}) does not fit {bands} bands and {times} "
            f"time steps; choose one of {fitting}"
        )
    return unit


def _fits(unit: int, bands: int, times: int) -> bool:
    try:
        unit_axes(unit, bands, times)
    except ValueError:
        return False
    return True


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be {low}..{high}, got {value}")
    return int(value)


def plan_write(
    *,
    shape: tuple[int, int, int, int],
    sample: SampleType,
    tile: int,
    frames: str | int,
    band_texts: tuple[str, ...],
    time: TimeAxis,
    georef: Georef,
) -> WritePlan:
    """Check everything about a file of ``shape`` = (T, B, L, W) before it is written."""
    times, bands, length, width = shape
    _check_int("the time step count", times, 1, MAX_TIME_COUNT)
    _check_int("the band count", bands, 1, MAX_BANDS)
    _check_int("the image length", length, 1, MAX_DIMENSION)
    _check_int("the image width", width, 1, MAX_DIMENSION)
    tile = _check_int("tile", tile, 1, MAX_TILE)
    unit = parse_frames(frames, bands, times)
    grid = FrameGrid.from_unit(
        length=length,
        width=width,
        tile_length=tile,
        tile_width=tile,
        bands=bands,
        times=times,
        unit=unit,
    )
    if grid.frame_count > MAX_FRAMES:
        raise ValueError(f"{grid.frame_count} frames, more than the {MAX_FRAMES} rumi allows")
    base = base_frame_offset(GENERATION, bands, grid.frame_count)
    if base > MAX_HEADER_NBYTES:
        raise ValueError(f"the header would be {base} bytes, past what this writer builds")
    nbytes = grid.max_frame_samples() * sample.nbytes
    if nbytes > MAX_FRAME_BYTES:
        raise ValueError(
            f"a frame would decode to {nbytes} bytes, past the {MAX_FRAME_BYTES} readers accept;"
            " choose a smaller tile or a frame unit holding fewer bands or steps"
        )
    check_band_texts(band_texts, bands)
    check_time(time, times)
    return WritePlan(
        grid=grid,
        sample=sample,
        unit=unit,
        georef_bytes=build_georef(georef),
        trailer=build_trailer(band_texts, time),
    )


def parse_compression(compression: object, sample: SampleType) -> Encoder:
    """An :data:`Encoder` from a geozl recipe, ``{"graph": ...}`` options or a callable."""
    from rumi_codec import compress

    if callable(compression):
        return compression
    if compression is None or isinstance(compression, str):
        options: dict[str, Any] = {"recipe": compression} if compression else {}
    elif isinstance(compression, Mapping):
        unknown = set(compression) - {"recipe", "graph", "format_version", "checksum"}
        if unknown:
            raise ValueError(f"unknown compression options {sorted(unknown)}")
        options = {"recipe": None, **compression}
    else:
        raise TypeError(
            "compression must be a geozl recipe string, a dict such as {'graph': 'zstd'},"
            f" or a callable (samples, key) -> bytes; got {compression!r}"
        )
    probe = np.zeros((1, 1), sample.storage)
    try:
        compress(probe, **options)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"compression={compression!r} cannot encode {sample.name}: {exc}") from exc
    return lambda samples, key: compress(samples, **options)


# ---------------------------------------------------------------------------------------
# Bytes: index (§2, §3) and frame checks


def build_index(plan: WritePlan, counts: np.ndarray) -> bytes:
    """File header, 13-entry IFD and out-of-line values: the file's first ``base`` bytes."""
    grid, sample, base = plan.grid, plan.sample, plan.base
    offsets = frame_offsets(base, counts)[:-1]
    values: dict[Tag, object] = {
        Tag.IMAGE_WIDTH: [grid.width],
        Tag.IMAGE_LENGTH: [grid.length],
        Tag.BITS_PER_SAMPLE: [sample.bits] * grid.bands,
        Tag.SAMPLES_PER_PIXEL: [grid.bands],
        Tag.TILE_WIDTH: [grid.tile_width],
        Tag.TILE_LENGTH: [grid.tile_length],
        Tag.TILE_OFFSETS: offsets,
        Tag.TILE_BYTE_COUNTS: counts,
        Tag.SAMPLE_FORMAT: [sample.sample_format] * grid.bands,
        Tag.MODEL_TRANSFORMATION: np.frombuffer(plan.georef_bytes[:128], "<f8"),
        Tag.GEO_KEY_DIRECTORY: np.frombuffer(plan.georef_bytes[128:], "<u2"),
        Tag.FRAME_UNIT: [plan.unit],
        Tag.TIME_COUNT: [grid.times],
    }
    entries, external = [], bytearray()
    for tag in RUMI_TAGS:
        kind = TAG_TYPES[tag]
        raw = np.asarray(values[tag]).astype(f"<{kind.code}").tobytes()
        if len(raw) <= 8:
            field = raw.ljust(8, b"\0")
        else:
            field = (GENERATION.ifd_end + len(external)).to_bytes(8, "little")
            external += raw
        entries.append(IFD_ENTRY.pack(tag, kind, len(raw) // kind.nbytes, field))
    head = FILE_HEADER.pack(RUMI_MAGIC, 1, 0, IFD_OFFSET) + IFD_COUNT.pack(len(RUMI_TAGS))
    index = head + b"".join(entries) + bytes(8) + external
    assert len(index) == base, (len(index), base)
    return index


def _check_frame(frame: object, nbytes: int, k: int) -> bytes:
    """One OpenZL frame decoding to ``nbytes`` bytes (checked from its header only)."""
    from rumi_codec import decoded_nbytes

    from ..errors import OpenZLError

    try:
        data = bytes(cast("Buffer", frame))
    except TypeError:
        raise TypeError(
            f"frame {k}: compression returned {type(frame).__name__}, not bytes"
        ) from None
    if not 0 < len(data) <= 2**32 - 1:
        raise ValueError(f"frame {k}: compressed to {len(data)} bytes; rumi stores 1..2**32-1")
    try:
        decoded_nbytes(data, nbytes=nbytes)
    except OpenZLError as exc:
        raise ValueError(
            f"frame {k}: compression returned no OpenZL frame holding one numeric output of "
            f"{nbytes} bytes ({exc})"
        ) from None
    return data


def _stored(sample: SampleType, samples: np.ndarray) -> np.ndarray:
    """Samples as stored; a narrowing conversion (complex32) must be exact."""
    with np.errstate(all="ignore"):
        stored = sample.to_storage(samples)
        if samples.dtype == sample.dtype and sample.storage.itemsize == sample.dtype.itemsize:
            return stored
        back = sample.to_array(stored.reshape(-1).view(np.uint8)).reshape(samples.shape)
        exact = np.array_equal(back, samples, equal_nan=True)
    if not exact:
        raise ValueError(f"{samples.dtype} samples do not fit {sample.name} exactly")
    return stored


# ---------------------------------------------------------------------------------------
# Frames: cut in index order, compress in parallel


def _frame_blocks(grid: FrameGrid, load: Loader, itemsize: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(k, (t, b, h, w) block)`` in index order, loading a tile row, a cell or a frame at once."""
    for row in range(grid.tiles_down):
        window = grid.cell_window(row)
        if _nbytes(grid, window, itemsize) <= BLOCK_NBYTES:
            yield from grid.cut(load(window), window, grid.cell_frames(row))
            continue
        for col in range(grid.tiles_across):
            window, frames = grid.cell_window(row, col), grid.cell_frames(row, col)
            if len(frames) == 1 or _nbytes(grid, window, itemsize) <= BLOCK_NBYTES:
                yield from grid.cut(load(window), window, frames)
            else:
                for k in frames:
                    yield k, load(grid.frame_window(k))


def _nbytes(grid: FrameGrid, window: Window, itemsize: int) -> int:
    """Bytes of a :meth:`~rumi_xarray.layout.FrameGrid.cell_window` (every band and step)."""
    y, x = window[2].indices(grid.length), window[3].indices(grid.width)
    return grid.times * grid.bands * len(range(*y)) * len(range(*x)) * itemsize


def _compressed(
    plan: WritePlan, load: Loader, encode: Encoder, workers: int
) -> Generator[bytes, None, None]:
    """Compressed frames in index order; at most ``2 * workers`` frames in flight."""
    grid, sample = plan.grid, plan.sample

    def job(k: int, block: np.ndarray) -> bytes:
        stored = _stored(sample, grid.from_block(block))
        return _check_frame(encode(stored, grid.frame_key(k)), stored.nbytes, k)

    pool = ThreadPoolExecutor(workers, thread_name_prefix="rumi-write")
    pending: deque[Future[bytes]] = deque()
    try:
        for k, block in _frame_blocks(grid, load, sample.dtype.itemsize):
            pending.append(pool.submit(job, k, block))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _progress_bar(progress: bool | None, total: int) -> tqdm | None:
    show = (total > PROGRESS_FRAMES and sys.stderr.isatty()) if progress is None else progress
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", desc="rumi")


# ---------------------------------------------------------------------------------------
# Files


def write_rumi(
    plan: WritePlan,
    load: Loader,
    target: str | os.PathLike[str],
    *,
    encode: Encoder,
    progress: bool | None = None,
    max_workers: int | None = None,
    storage_options: dict[str, Any] | None = None,
) -> bytes:
    """Write a planned file to a path or fsspec URL; return its canonical header blob.

    Nothing is left at ``target`` unless the whole file was written: a local file is
    written to a temporary file beside it, synced and renamed into place; a URL is
    written to a local temporary file and then uploaded with ``fs.put_file``.
    """
    workers = (os.cpu_count() or 1) if max_workers is None else max_workers
    workers = _check_int("max_workers", workers, 1, 1 << 10)
    path = os.fspath(target)
    if "://" in path and not path.startswith("file://"):
        import fsspec

        fs, remote = fsspec.core.url_to_fs(path, **(storage_options or {}))
        with tempfile.TemporaryDirectory(prefix="rumi-") as scratch:
            local = os.path.join(scratch, "upload.rumi")
            try:
                blob = _write_local(plan, load, local, encode, progress, workers)
            except OSError as exc:
                if exc.filename != local:
                    raise
                raise _about(exc, path) from None
            fs.put_file(local, remote)
        return blob
    return _write_local(plan, load, path.removeprefix("file://"), encode, progress, workers)


def _write_local(
    plan: WritePlan, load: Loader, path: str, encode: Encoder, progress: bool | None, workers: int
) -> bytes:
    with _atomic(path) as f:
        counts = _write_stream(f, plan, load, encode, progress, workers)
    return build_blob(GENERATION, plan.grid, plan.sample, plan.unit, counts)


def _write_stream(
    f: BinaryIO, plan: WritePlan, load: Loader, encode: Encoder, progress: bool | None, workers: int
) -> np.ndarray:
    """Frames from ``base`` on, then the index before them and the trailer after them."""
    counts = np.empty(plan.grid.frame_count, np.uint64)
    bar = _progress_bar(progress, len(counts))
    f.seek(plan.base)
    try:
        with contextlib.closing(_compressed(plan, load, encode, workers)) as frames:
            for k, frame in enumerate(frames):
                f.write(frame)
                counts[k] = len(frame)
                if bar is not None:
                    bar.update()
    finally:
        if bar is not None:
            bar.close()
    f.seek(0)
    f.write(build_index(plan, counts))
    f.seek(0, os.SEEK_END)
    f.write(plan.trailer)
    return counts


@contextlib.contextmanager
def _atomic(path: str) -> Iterator[BinaryIO]:
    """A new file beside ``path`` that replaces it only once complete and synced.

    An ``OSError`` names ``path``, never the temporary file.
    """
    folder = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise _about(exc, path) from None
    try:
        with os.fdopen(fd, "w+b") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        if isinstance(exc, OSError) and temp in (exc.filename, exc.filename2):
            raise _about(exc, path) from None
        raise
    _sync_folder(folder)


def _about(exc: OSError, path: str) -> OSError:
    """The same error (same type and errno) about ``path``."""
    if exc.errno is None:
        return type(exc)(f"{path}: {exc}")
    return type(exc)(exc.errno, exc.strerror, path)


def _sync_folder(folder: str) -> None:
    """Make the rename durable where the platform allows syncing a directory."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
