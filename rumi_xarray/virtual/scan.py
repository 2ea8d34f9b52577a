"""Catalog scans: every file's header read into a catalog row, on local threads or a Dask cluster.

:func:`scan` reads each file's index and trailer (no pixels) and turns it into its
catalog row (:func:`file_row`: plain values, small and picklable), in order of the
sources. Without a cluster, URLs are read in a pool of threads (they wait on the
network) and local files in the calling thread (parsing, not waiting, is their cost).
With a ``distributed`` client (given, or the active one), files go to the cluster in
batches, one task per batch (:func:`scan_batch`, which reads as above), and results
are gathered as tasks complete. A file that cannot be read becomes a :class:`Scanned`
with its ``error`` (``"<ExceptionType>: <message>"``), unless errors are to be raised.
"""

from __future__ import annotations

import math
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

from ..crs import check_crs, epsg_text
from ..decode import read_description
from ..io import close_reader, is_url, open_reader
from ..sources import url_threads

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    import numpy as np
    from distributed import Client

    from ..format import RumiFile

Errors = Literal["report", "raise"]
BATCH_MAX = 500
"""Files per cluster task at most, by default: enough to outweigh a task's overhead."""
TASKS_PER_THREAD = 4
"""Cluster tasks per worker thread at least, by default (while batches stay above 1 file)."""


@dataclass(frozen=True, slots=True)
class Scanned:
    """One file's scan: its catalog row (every column but ``nodata``), or why it failed."""

    row: dict[str, Any] | None
    """The column values (:func:`file_row`), ``None`` when the file failed."""
    dtype: np.dtype | None
    """The NumPy dtype of its samples, to check a nodata value against."""
    error: str | None = None
    """``"<ExceptionType>: <message>"`` when the file could not be read."""


def file_row(url: str, desc: RumiFile, nbytes: int | None) -> dict[str, Any]:
    """The catalog columns of one described file, but ``nodata`` (and ``error``)."""
    t = desc.georef.transform
    return {
        "path": url,
        "nbytes": nbytes,
        "generation": desc.generation.value,
        "header": desc.to_blob(),
        "shape": list(desc.shape),
        "dtype": desc.sample.name,
        "crs": epsg_text(desc.georef.epsg),
        "transform": None if t is None else list(t),
        "bounds": _bounds(desc),
        "pixel_is_point": desc.georef.pixel_is_point,
        "band_texts": None if desc.band_texts is None else list(desc.band_texts),
        "time_kind": None if desc.time is None else desc.time.kind.name.lower(),
        "time": None if desc.time is None else desc.time.seconds.ravel().tolist(),
    }


def _bounds(desc: RumiFile) -> list[float] | None:
    """``[left, bottom, right, top]`` of the pixel corners, as rasterio reports them."""
    from ..coords import corner_transform

    t = corner_transform(desc.georef)
    if t is None:
        return None
    a, b, c, d, e, f = t
    xs = [c + a * i + b * j for i in (0, desc.grid.width) for j in (0, desc.grid.length)]
    ys = [f + d * i + e * j for i in (0, desc.grid.width) for j in (0, desc.grid.length)]
    return [min(xs), min(ys), max(xs), max(ys)]


def scan_file(
    index: int, url: str, storage_options: dict[str, Any] | None, errors: Errors
) -> Scanned:
    """Read one file's header into its row; a failure is reported, or raised naming the file.

    ``url`` is the file's catalog path (absolute ``file://`` for local files), so that
    every process reads, and names, the same file.
    """
    try:
        reader = open_reader(url, storage_options)
        try:
            desc = read_description(reader, None)
            if desc.georef.epsg is not None:
                check_crs(desc.georef.epsg, desc.georef.model)
            size = reader.size
        finally:
            close_reader(reader)
    except Exception as exc:
        if errors == "raise":
            exc.add_note(f"while opening source {index} ({url!r}) of the catalog")
            raise
        return Scanned(None, None, f"{type(exc).__name__}: {exc}")
    return Scanned(file_row(url, desc, size), desc.dtype)


def scan_batch(
    batch: Sequence[tuple[int, str]],
    storage_options: dict[str, Any] | None,
    errors: Errors,
    max_workers: int | None = None,
) -> list[Scanned]:
    """:func:`scan_file` of each ``(index, url)`` of a batch, in order: one cluster task.

    As locally, URLs are read in ``max_workers`` threads (of the task; default
    :func:`~rumi_xarray.sources.url_threads`), local files one after the other.
    """
    return _scan_items(batch, storage_options, max_workers, errors, _nothing)


def scan(
    urls: Sequence[str],
    *,
    storage_options: dict[str, Any] | None = None,
    client: Client | Literal[False] | None = None,
    batch_size: int | None = None,
    max_workers: int | None = None,
    progress: bool = False,
    errors: Errors = "report",
) -> list[Scanned]:
    """Scan every file, in order of ``urls``: on the cluster of ``client``, else on threads.

    ``client=None`` takes the active ``distributed`` client, if ``distributed`` is
    imported and one is running; ``False`` scans locally. ``batch_size`` is the
    files per cluster task (default :func:`default_batch`); ``max_workers`` the
    threads reading URLs, here or in each cluster task (default
    :func:`~rumi_xarray.sources.url_threads`); ``progress`` shows a tqdm bar
    (files).
    """
    if errors not in ("report", "raise"):
        raise ValueError(f"errors must be 'report' or 'raise', not {errors!r}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    cluster = active_client(client)
    with _bar(len(urls), progress) as advance:
        if cluster is not None and urls:
            batches = _batches(cluster, urls, batch_size)
            tasks = (storage_options, errors, url_threads(max_workers))
            return _on_cluster(cluster, batches, len(urls), tasks, advance)
        return _scan_items(list(enumerate(urls)), storage_options, max_workers, errors, advance)


def active_client(client: Client | Literal[False] | None) -> Client | None:
    """The client to scan on: ``client``, or the running default one when ``None``.

    ``distributed`` is never imported here: no client can run without it imported.
    """
    if client is False:
        return None
    if client is not None:
        return client
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        found: Client = distributed.default_client()
    except ValueError:  # no client is running
        return None
    return found


def default_batch(files: int, threads: int) -> int:
    """Files per cluster task: :data:`TASKS_PER_THREAD` tasks per thread, at most :data:`BATCH_MAX`."""
    return max(1, min(BATCH_MAX, math.ceil(files / (TASKS_PER_THREAD * max(1, threads)))))


def _scan_items(
    items: Sequence[tuple[int, str]],
    storage_options: dict[str, Any] | None,
    max_workers: int | None,
    errors: Errors,
    advance: Callable[[int], None],
) -> list[Scanned]:
    """Scan ``(index, url)`` items in order: URLs in threads, local files in this one."""

    def one(item: tuple[int, str]) -> Scanned:
        done = scan_file(item[0], item[1], storage_options, errors)
        advance(1)
        return done

    remote = sum(is_url(url) for _, url in items)
    if not remote:
        return [one(item) for item in items]
    pool = ThreadPoolExecutor(min(url_threads(max_workers), remote), thread_name_prefix="rumi-scan")
    try:
        return list(pool.map(one, items))
    finally:
        pool.shutdown(cancel_futures=True)  # a failure raised: the rest is not read


def _batches(
    client: Client, urls: Sequence[str], batch_size: int | None
) -> list[list[tuple[int, str]]]:
    """``(index, url)`` items in batches of ``batch_size`` (default :func:`default_batch`)."""
    threads = sum(client.nthreads().values())  # type: ignore[no-untyped-call]
    size = batch_size or default_batch(len(urls), threads)
    items = list(enumerate(urls))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _on_cluster(
    client: Client,
    batches: list[list[tuple[int, str]]],
    total: int,
    tasks: tuple[dict[str, Any] | None, Errors, int],
    advance: Callable[[int], None],
) -> list[Scanned]:
    """Batches as tasks (:func:`scan_batch` of ``tasks``: storage options, errors, threads),
    gathered as they complete, ordered back by source index.

    A task that fails as a whole (a worker lost) fails each of its files, when reported.
    """
    from distributed import as_completed

    storage_options, errors, max_workers = tasks
    futures = client.map(
        scan_batch,
        batches,
        storage_options=storage_options,
        errors=errors,
        max_workers=max_workers,
        pure=False,
    )
    of = {future.key: batch for future, batch in zip(futures, batches, strict=True)}
    scanned: list[Scanned | None] = [None] * total
    try:
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            batch = of[future.key]
            try:
                results = future.result()
            except Exception as exc:
                if errors == "raise":
                    raise
                results = [Scanned(None, None, f"{type(exc).__name__}: {exc}")] * len(batch)
            for (i, _), result in zip(batch, results, strict=True):
                scanned[i] = result
            advance(len(batch))
    finally:
        client.cancel(futures)  # type: ignore[no-untyped-call]
    return cast("list[Scanned]", scanned)


@contextmanager
def _bar(total: int, shown: bool) -> Iterator[Callable[[int], None]]:
    """``advance(n)`` of a tqdm bar of ``total`` files when ``shown``, else of nothing."""
    if not shown:
        yield _nothing
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, desc="headers", unit="file") as bar:
        yield bar.update


def _nothing(n: int) -> None:
    """An ``advance`` that shows nothing."""
