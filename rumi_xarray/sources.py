"""Many rumi files at once: describe them in parallel and check that they agree.

Stacks (:func:`rumi_xarray.open_stack`), mosaics and catalogs describe their files with
:func:`describe_sources` (index, or header blob, plus trailer: no pixels), each checked
in order against the first over the :data:`FIELDS` the consumer needs; the first that
differs raises :meth:`RumiVirtualError.mismatch <rumi_xarray.errors.RumiVirtualError.mismatch>`
naming it, and a file that cannot be described raises its own error with a note naming it.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .coords import corner_transform
from .crs import check_crs, epsg_text
from .decode import read_description
from .errors import RumiVirtualError
from .format import blob_tail
from .io import close_reader, is_url, open_reader
from .values import same_value
from .virtual.entries import Entry

if TYPE_CHECKING:
    from collections.abc import Buffer, Iterable, Iterator, Sequence

    from .format import RumiFile
    from .io import RangeReader

FIELDS = (
    "shape",
    "dtype",
    "tile",
    "frame layout",
    "band count",
    "band_texts",
    "time steps",
    "time",
    "crs",
    "resolution",
    "rotation",
    "transform",
    "pixel_is_point",
)
"""Everything files may be asked to share, in the order a mismatch is reported.

``shape`` is ``(T, B, L, W)``; ``time`` the steps of multi-step files (``None`` for a
single step); ``crs`` the ``"EPSG:<code>"`` text; ``resolution`` and ``rotation`` the
transform's ``(a, e)`` and ``(b, d)``; ``transform`` that of the pixel corners."""


def facts(desc: RumiFile) -> dict[str, object]:
    """The value of each of :data:`FIELDS` for one file."""
    grid, georef, time = desc.grid, desc.georef, desc.time
    t = georef.transform
    return {
        "shape": desc.shape,
        "dtype": desc.sample.name,
        "tile": (grid.tile_length, grid.tile_width),
        "frame layout": grid.frame_axes + (f" by {grid.index_axes}" if grid.index_axes else ""),
        "band count": grid.bands,
        "band_texts": desc.band_texts,
        "time steps": grid.times,
        "time": None if time is None or grid.times == 1 else tuple(time.seconds.ravel().tolist()),
        "crs": epsg_text(georef.epsg),
        "resolution": None if t is None else (t[0], t[4]),
        "rotation": None if t is None else (t[1], t[3]),
        "transform": corner_transform(georef),
        "pixel_is_point": georef.pixel_is_point,
    }


def check_agree(
    index: int, label: str, desc: RumiFile, expected: dict[str, object], fields: Iterable[str]
) -> None:
    """Raise for the first of ``fields`` in which ``desc`` differs from ``expected``.

    ``expected`` is :func:`facts` of source 0; NaN transform coefficients are equal.

    Raises
    ------
    RumiVirtualError
        With ``index``, ``field``, ``expected`` and ``found`` set, naming ``label``.
    """
    found = facts(desc)
    for field in fields:
        if not same_value(found[field], expected[field]):
            raise RumiVirtualError.mismatch(
                index, label, field, expected=expected[field], found=found[field]
            )


def source_label(source: Any) -> str:
    """How a source is named in messages: its path or URL, ``<n bytes>``, or its file name."""
    if isinstance(source, Entry):
        return source.url
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    if isinstance(source, bytes | bytearray | memoryview):
        return f"<{len(memoryview(source).cast('B'))} bytes>"
    return str(getattr(source, "name", type(source).__name__))


def url_threads(max_workers: int | None = None) -> int:
    """Threads reading URLs at once: ``max_workers``, else the remote policy's
    ``concurrency`` (32 by default; :func:`rumi_xarray.set_remote`), since they wait on
    the network, not on the CPU."""
    from .remote import remote_policy

    return max_workers or remote_policy().concurrency


def describe_sources(
    sources: Sequence[Any],
    headers: Sequence[Buffer | None] | None = None,
    storage_options: dict[str, Any] | None = None,
    *,
    agree: Sequence[str] = (),
    labels: Sequence[str] | None = None,
    what: str = "stack",
    max_workers: int | None = None,
    progress: bool = False,
) -> list[tuple[RumiFile, RangeReader]]:
    """Describe every source in parallel threads, checking each, in order, against source 0.

    Parameters
    ----------
    sources
        Paths, URLs, bytes or binary file objects, as ``open_rumi`` takes.
    headers
        One header blob per source (``None`` entries allowed), else every index is read.
    storage_options
        Passed to fsspec for URLs.
    agree
        The :data:`FIELDS` every source must share with source 0 (none: no check).
    labels
        How sources are named in errors (default :func:`source_label`).
    what
        What the sources make (``"stack"``, ``"mosaic"``, ...), for notes.
    max_workers, progress
        Threads describing URLs at once (default :func:`url_threads`); whether to show a
        progress bar (tqdm).

    Returns
    -------
    list of (RumiFile, RangeReader)
        Each description with its reader. Local files stay in the process-wide cache
        of open descriptors (bounded: :func:`rumi_xarray.io.file_cache_maxsize`). A CRS
        is checked with PROJ (:func:`rumi_xarray.crs.check_crs`), as when coordinates
        are built. URLs are described in ``max_workers`` threads (they wait on the
        network); local files and in-memory sources in the calling thread, where
        parsing, not waiting, is the cost.
    """
    if headers is not None and len(headers) != len(sources):
        raise ValueError(f"{len(headers)} headers for {len(sources)} sources")
    if not sources:
        return []
    names = [source_label(s) for s in sources] if labels is None else labels

    def describe(i: int) -> tuple[RumiFile, RangeReader]:
        try:
            desc, reader = open_described(
                sources[i], headers[i] if headers else None, storage_options
            )
            if desc.georef.epsg is not None:
                check_crs(desc.georef.epsg, desc.georef.model)
        except Exception as exc:
            exc.add_note(f"while opening source {i} ({names[i]!r}) of the {what}")
            raise
        return desc, reader

    remote = sum(map(is_url, sources))
    threads = min(url_threads(max_workers), remote or 1)
    pool = ThreadPoolExecutor(threads, thread_name_prefix=f"rumi-{what}")
    mapped = pool.map if remote else map
    described: list[tuple[RumiFile, RangeReader]] = []
    expected: dict[str, object] = {}
    try:
        done = _shown(mapped(describe, range(len(sources))), len(sources), progress)
        for i, (desc, reader) in enumerate(done):
            if agree and i == 0:
                expected = facts(desc)
            elif agree:
                check_agree(i, names[i], desc, expected, agree)
            described.append((desc, reader))
    finally:
        pool.shutdown(cancel_futures=True)
    return described


def _shown(items: Iterator[Any], total: int, progress: bool) -> Iterator[Any]:
    """``items``, through a tqdm progress bar (``headers``, per file) when ``progress``."""
    if not progress:
        return items
    from tqdm.auto import tqdm

    return iter(tqdm(items, total=total, desc="headers", unit="file"))


def open_described(
    source: Any, header: Buffer | None = None, storage_options: dict[str, Any] | None = None
) -> tuple[RumiFile, RangeReader]:
    """A source's description and its reader; a catalog row (:class:`Entry`) costs no read.

    A row's reader knows the length from ``nbytes`` and names the content by the URL,
    the length and a hash of the row's header blob (:attr:`rumi_xarray.io.RangeReader.identity`).
    """
    if isinstance(source, Entry):
        version = hashlib.sha1(source.desc.to_blob(), usedforsecurity=False).hexdigest()
        return source.desc, open_reader(
            source.url, storage_options, size=source.nbytes, version=version
        )
    tail = None if header is None or not is_url(source) else blob_tail(header)
    reader = open_reader(source, storage_options, tail=tail)
    try:
        return read_description(reader, header), reader
    except BaseException:
        close_reader(reader)
        raise
