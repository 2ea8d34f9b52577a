"""Parquet catalogs of rumi files: one row per file with its header blob and georeferencing.

A catalog row holds everything a mosaic or a stack needs to know about a file, so
both can be built from the catalog alone, without any file I/O. Rows are untrusted:
each is parsed as strictly as the file itself, and an error names the row and path.
A blob's frame count is bounded before anything is allocated (``MAX_BLOB_FRAMES`` for
unpacked counts, the blob's own length otherwise), whatever the row's ``nbytes`` says.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..blob import parse_blob
from ..crs import parse_epsg_text
from ..errors import RumiFormatError, RumiScanWarning
from ..format import describe
from ..georef import Georef
from ..spec import Generation, TimeKind
from ..trailer import TimeAxis, Trailer, check_band_texts, check_time
from ..values import sample_value
from .entries import Entries, Entry

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import pyarrow as pa
    from distributed import Client

    from ..format import RumiFile
    from .scan import Errors, Scanned

Nodata = int | float | None

COLUMNS = (
    "path",
    "nbytes",
    "generation",
    "header",
    "shape",
    "dtype",
    "crs",
    "transform",
    "bounds",
    "pixel_is_point",
    "band_texts",
    "time_kind",
    "time",
    "nodata",
    "error",
)
"""Catalog columns; ``shape`` is ``(T, B, L, W)``, ``time`` POSIX seconds (flat for intervals).

``nodata`` (float64, null when not declared) and ``error`` (string: why the scan could not
read the file, whose other columns are then null; null for files read) are optional when
reading, so catalogs written before they existed still read."""
_OPTIONAL = ("nodata", "error")
_SCANNED = tuple(c for c in COLUMNS if c not in ("nodata", "error"))
"""The columns a scan reads from the file (:func:`rumi_xarray.virtual.scan.file_row`)."""


def catalog(
    sources: Iterable[str | os.PathLike[str]],
    *,
    nodata: Nodata | Sequence[Nodata] = None,
    storage_options: dict[str, Any] | None = None,
    client: Client | Literal[False] | None = None,
    batch_size: int | None = None,
    max_workers: int | None = None,
    progress: bool | None = None,
    errors: Errors = "report",
) -> pa.Table:
    """Scan files into a catalog table: headers read on a Dask cluster or in local threads.

    Parameters
    ----------
    sources
        Paths or URLs; rows keep their order.
    nodata
        The files' nodata value, one for all or one per source (``None`` where not
        declared); :func:`rumi_xarray.mosaic.mosaic` uses it.
    storage_options
        Passed to fsspec for URLs.
    client
        A ``distributed.Client`` to read the headers on its cluster, in batches of
        ``batch_size`` files per task (default: a few tasks per worker thread, at most
        500 files each). ``None`` takes the active client when ``distributed`` is
        imported and one is running; ``False`` reads here. Either way URLs are read in
        ``max_workers`` threads (default: the remote policy's ``concurrency``, 32; on a
        cluster, per task), local files one
        after the other (here: in the calling thread).
    progress
        Show a progress bar (files; default: when there are more than 1000 files).
    errors
        ``"report"``: a file that cannot be read becomes a row with its ``error`` (the
        other columns null) and a :class:`~rumi_xarray.errors.RumiScanWarning` names the
        failed files. ``"raise"``: the first failure found raises, naming its file.
    """
    from .file import source_url
    from .scan import scan

    urls = [source_url(s) for s in sources]
    scanned = scan(
        urls,
        storage_options=storage_options,
        client=client,
        batch_size=batch_size,
        max_workers=max_workers,
        progress=len(urls) > 1000 if progress is None else progress,
        errors=errors,
    )
    failed = tuple(f"{url}: {s.error}" for url, s in zip(urls, scanned, strict=True) if s.error)
    if failed:
        msg = f"{len(failed)} of {len(urls)} files could not be read (error rows): {_few(failed)}"
        warnings.warn(RumiScanWarning.of(msg, failed), stacklevel=2)
    values = _nodata_values([None] * len(urls), nodata)
    return _table(urls, scanned, values)


def catalog_table(
    entries: Sequence[Entry], *, nodata: Nodata | Sequence[Nodata] = None
) -> pa.Table:
    """The catalog rows of described files.

    ``nodata`` (one value, or one per entry) replaces the entries' own ``nodata``.
    Each value must be a sample of its file's dtype, exactly representable as float64.
    """
    from .scan import Scanned, file_row

    urls = [entry.url for entry in entries]
    scanned = [Scanned(file_row(e.url, e.desc, e.nbytes), e.desc.dtype) for e in entries]
    values = _nodata_values([entry.nodata for entry in entries], nodata)
    return _table(urls, scanned, values)


def _table(urls: Sequence[str], scanned: Sequence[Scanned], nodata: Sequence[Nodata]) -> pa.Table:
    """The table of scanned rows: a failed file's row holds its path and error only."""
    import pyarrow as pa

    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for url, s, value in zip(urls, scanned, nodata, strict=True):
        row = s.row or {"path": url}
        for name in _SCANNED:
            columns[name].append(row.get(name))
        columns["nodata"].append(None if s.dtype is None else check_nodata(value, s.dtype))
        columns["error"].append(s.error)
    return pa.table(columns, schema=_schema())


def _schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("path", pa.string()),
            ("nbytes", pa.int64()),
            ("generation", pa.string()),
            ("header", pa.binary()),
            ("shape", pa.list_(pa.int64())),
            ("dtype", pa.string()),
            ("crs", pa.string()),
            ("transform", pa.list_(pa.float64())),
            ("bounds", pa.list_(pa.float64())),
            ("pixel_is_point", pa.bool_()),
            ("band_texts", pa.list_(pa.string())),
            ("time_kind", pa.string()),
            ("time", pa.list_(pa.int64())),
            ("nodata", pa.float64()),
            ("error", pa.string()),
        ]
    )


def _few(items: Sequence[str], few: int = 3) -> str:
    """The first ``few`` of ``items``, then how many more."""
    shown = "; ".join(items[:few])
    return shown if len(items) <= few else f"{shown}; and {len(items) - few} more"


def _nodata_values(defaults: list[Nodata], nodata: Nodata | Sequence[Nodata]) -> list[Nodata]:
    if nodata is None:
        return defaults
    if isinstance(nodata, int | float | np.number):
        return [nodata] * len(defaults)
    values = list(nodata)
    if len(values) != len(defaults):
        raise ValueError(f"{len(values)} nodata values for {len(defaults)} files")
    return values


def check_nodata(value: Nodata, dtype: np.dtype) -> float | None:
    """A nodata value as the catalog stores it: float64, checked against the file's dtype."""
    if value is None:
        return None
    checked = sample_value("nodata", value, dtype).item()
    stored = float(checked.real)
    if stored != checked and not (math.isnan(stored) and not checked.imag):
        raise ValueError(f"nodata {value!r} is not exactly a float64, as the catalog stores it")
    return stored


def write_catalog(table: pa.Table, path: str | os.PathLike[str]) -> None:
    """Write a catalog table as Parquet."""
    import pyarrow.parquet as pq

    pq.write_table(table, os.fspath(path))


def read_catalog(source: str | os.PathLike[str] | pa.Table) -> Entries:
    """Parse a catalog (a Parquet path or a table) into mosaic entries; no file is read.

    Every row is checked (in bulk, :mod:`rumi_xarray.virtual.rows`); the first row
    that fails raises a :class:`RumiFormatError` naming the row and its path. Rows
    of files the scan could not read (an ``error``) are skipped, with a
    :class:`~rumi_xarray.errors.RumiScanWarning` naming them.

    Returns
    -------
    Entries
        A columnar ``Sequence`` of :class:`Entry`, which
        :func:`rumi_xarray.mosaic.mosaic` takes as it is.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .rows import table_entries

    if isinstance(source, str | os.PathLike):
        present = pq.read_schema(os.fspath(source)).names
        columns = [c for c in COLUMNS if c in present and c != "bounds"]  # bounds: not read
        read: pa.Table = pq.read_table(os.fspath(source), columns=columns)
    else:
        read, present = source, source.column_names
    missing = [c for c in COLUMNS if c not in present and c not in _OPTIONAL]
    if missing:
        msg = f"catalog lacks the columns {missing}"
        raise RumiFormatError.invalid(
            "columns", msg, expected=[c for c in COLUMNS if c not in _OPTIONAL], found=missing
        )
    table, kept = _skip_errors(read)
    entries = table_entries(table, lambda i: row_entry(read, int(kept[i])))
    if table is not source:
        del table, read
        pa.default_memory_pool().release_unused()  # the table's memory, back to the system
    return entries


def _skip_errors(table: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """The rows of files read (``error`` null) and their indices; warns of the others."""
    import pyarrow.compute as pc

    if "error" not in table.column_names:
        return table, np.arange(table.num_rows)
    failed = pc.is_valid(table.column("error")).to_numpy(zero_copy_only=False)
    if not failed.any():
        return table, np.arange(table.num_rows)
    rows = np.flatnonzero(failed)
    paths = table.column("path").take(rows).to_pylist()
    causes = table.column("error").take(rows).to_pylist()
    items = tuple(f"{path}: {cause}" for path, cause in zip(paths, causes, strict=True))
    msg = f"skipped {len(items)} catalog rows of files the scan could not read: {_few(items)}"
    warnings.warn(RumiScanWarning.of(msg, items), stacklevel=3)
    kept = np.flatnonzero(~failed)
    return table.take(kept), kept


def row_entry(table: pa.Table, i: int) -> Entry:
    """Row ``i`` of a catalog table, checked alone: the rules :func:`read_catalog` applies."""
    row: dict[str, Any] = {
        name: table.column(name)[i].as_py() if name in table.column_names else None
        for name in COLUMNS
    }
    try:
        desc = _describe_row(row)
        value = row["nodata"]
        if value is not None and not isinstance(value, float):
            raise RumiFormatError.mismatch("nodata", expected="a float64 or null", found=value)
        return Entry(row["path"], desc, row["nbytes"], row_nodata(value, desc.dtype))
    except (RumiFormatError, TypeError, ValueError, KeyError) as exc:
        msg = f"catalog row {i} ({row['path']!r}): {exc}"
        raise RumiFormatError.invalid(
            f"catalog row {i}",
            msg,
            expected=getattr(exc, "expected", None),
            found=getattr(exc, "found", None),
        ) from exc


def _describe_row(row: dict[str, Any]) -> RumiFile:
    if not isinstance(row["path"], str) or not row["path"]:
        raise RumiFormatError.invalid(
            "path", "path must be a non-empty string", expected="a non-empty str", found=row["path"]
        )
    if not isinstance(row["header"], bytes):
        msg = "header must be the file's header blob"
        raise RumiFormatError.invalid(
            "header", msg, expected="bytes", found=type(row["header"]).__name__
        )
    nbytes = row["nbytes"]
    if not isinstance(nbytes, int) or nbytes <= 0:
        raise RumiFormatError.mismatch("nbytes", expected="the file's length", found=nbytes)
    generation = Generation(row["generation"])
    # Parsed as a blob alone: nbytes is unverified, so it must not bound the frame count.
    frames = parse_blob(row["header"], generation=generation)
    georef = _georef(row)
    trailer = _trailer(row, generation, frames.grid.bands, frames.grid.times)
    desc = describe(frames, georef, trailer)
    end = int(desc.offsets[-1])
    if end > nbytes:
        raise RumiFormatError.mismatch(
            "nbytes", expected=f"at least {end} (the end of the last frame)", found=nbytes
        )
    if row["shape"] != list(desc.shape) or row["dtype"] != desc.sample.name:
        raise RumiFormatError.mismatch(
            "shape and dtype",
            expected=(list(desc.shape), desc.sample.name),
            found=(row["shape"], row["dtype"]),
        )
    return desc


def row_nodata(value: float | None, dtype: np.dtype) -> int | float | None:
    """A catalog's nodata (float64 or null) as the file's samples spell it (int for integers)."""
    if value is None:
        return None
    checked = check_nodata(value, dtype)
    if checked is not None and dtype.kind in "iub" and not math.isnan(checked):
        return int(checked)
    return checked


def _georef(row: dict[str, Any]) -> Georef:
    crs, transform = row["crs"], row["transform"]
    if crs is None or transform is None:
        if crs is not None or transform is not None:
            msg = "crs and transform must be given together"
            raise RumiFormatError.invalid("crs and transform", msg, found=(crs, transform))
        return Georef(None, None, bool(row["pixel_is_point"]))
    epsg = parse_epsg_text(crs)
    if len(transform) != 6 or not all(np.isfinite(transform)):
        raise RumiFormatError.mismatch("transform", expected="6 finite numbers", found=transform)
    return Georef(tuple(transform), epsg, bool(row["pixel_is_point"]))


def _trailer(row: dict[str, Any], generation: Generation, bands: int, times: int) -> Trailer | None:
    if generation is Generation.BIGTIFF:
        return None
    texts = row["band_texts"]
    if texts is not None:
        texts = tuple(check_band_texts(texts, bands))
    time = None
    if row["time_kind"] is not None:
        kind = TimeKind[row["time_kind"].upper()]
        seconds = np.asarray(row["time"], np.int64)
        if kind == TimeKind.INTERVAL:
            seconds = seconds.reshape(-1, 2)
        time = TimeAxis(kind, seconds)
        check_time(time, times)
    return Trailer(generation, texts, time)
