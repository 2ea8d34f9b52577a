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
from typing import TYPE_CHECKING, Any

import numpy as np

from ..blob import parse_blob
from ..crs import epsg_text, parse_epsg_text
from ..errors import RumiFormatError
from ..format import describe
from ..georef import Georef
from ..spec import Generation, TimeKind
from ..trailer import TimeAxis, Trailer, check_band_texts, check_time
from ..values import sample_value
from .entries import Entries, Entry
from .mosaic import describe_entries

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import pyarrow as pa

    from ..format import RumiFile

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
)
"""Catalog columns; ``shape`` is ``(T, B, L, W)``, ``time`` POSIX seconds (flat for intervals).

``nodata`` (float64, null when not declared) is optional when reading, so catalogs
written before it existed still read."""
_OPTIONAL = ("nodata",)


def catalog(
    sources: Iterable[str | os.PathLike[str]],
    *,
    nodata: Nodata | Sequence[Nodata] = None,
    storage_options: dict[str, Any] | None = None,
    max_workers: int | None = None,
    progress: bool | None = None,
) -> pa.Table:
    """Scan files into a catalog table (headers read in parallel threads).

    ``nodata`` is the files' nodata value, one for all or one per source (``None``
    where not declared); :func:`rumi_xarray.mosaic.mosaic` uses it.
    """
    entries = describe_entries(
        list(sources), None, storage_options, max_workers, progress, agree=(), what="catalog"
    )
    return catalog_table(entries, nodata=nodata)


def catalog_table(
    entries: Sequence[Entry], *, nodata: Nodata | Sequence[Nodata] = None
) -> pa.Table:
    """The catalog rows of described files.

    ``nodata`` (one value, or one per entry) replaces the entries' own ``nodata``.
    Each value must be a sample of its file's dtype, exactly representable as float64.
    """
    import pyarrow as pa

    rows: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    values = _nodata_values(entries, nodata)
    for entry, value in zip(entries, values, strict=True):
        d = entry.desc
        t = d.georef.transform
        rows["path"].append(entry.url)
        rows["nbytes"].append(entry.nbytes)
        rows["generation"].append(d.generation.value)
        rows["header"].append(d.to_blob())
        rows["shape"].append(list(d.shape))
        rows["dtype"].append(d.sample.name)
        rows["crs"].append(epsg_text(d.georef.epsg))
        rows["transform"].append(None if t is None else list(t))
        rows["bounds"].append(_bounds(d))
        rows["pixel_is_point"].append(d.georef.pixel_is_point)
        rows["band_texts"].append(None if d.band_texts is None else list(d.band_texts))
        rows["time_kind"].append(None if d.time is None else d.time.kind.name.lower())
        rows["time"].append(None if d.time is None else d.time.seconds.ravel().tolist())
        rows["nodata"].append(check_nodata(value, d.dtype))
    schema = pa.schema(
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
        ]
    )
    return pa.table(rows, schema=schema)


def _nodata_values(entries: Sequence[Entry], nodata: Nodata | Sequence[Nodata]) -> list[Nodata]:
    if nodata is None:
        return [entry.nodata for entry in entries]
    if isinstance(nodata, int | float | np.number):
        return [nodata] * len(entries)
    values = list(nodata)
    if len(values) != len(entries):
        raise ValueError(f"{len(values)} nodata values for {len(entries)} files")
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


def write_catalog(table: pa.Table, path: str | os.PathLike[str]) -> None:
    """Write a catalog table as Parquet."""
    import pyarrow.parquet as pq

    pq.write_table(table, os.fspath(path))


def read_catalog(source: str | os.PathLike[str] | pa.Table) -> Entries:
    """Parse a catalog (a Parquet path or a table) into mosaic entries; no file is read.

    Every row is checked (in bulk, :mod:`rumi_xarray.virtual.rows`); the first row
    that fails raises a :class:`RumiFormatError` naming the row and its path.

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
        read = [c for c in COLUMNS if c in present and c != "bounds"]  # bounds: not read
        table: pa.Table = pq.read_table(os.fspath(source), columns=read)
    else:
        table, present = source, source.column_names
    missing = [c for c in COLUMNS if c not in present and c not in _OPTIONAL]
    if missing:
        msg = f"catalog lacks the columns {missing}"
        raise RumiFormatError.invalid(
            "columns", msg, expected=[c for c in COLUMNS if c not in _OPTIONAL], found=missing
        )
    entries = table_entries(table, lambda i: row_entry(table, i))
    if table is not source:
        del table
        pa.default_memory_pool().release_unused()  # the table's memory, back to the system
    return entries


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
