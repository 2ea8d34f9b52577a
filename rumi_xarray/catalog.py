"""Parquet catalogs of rumi files: one row per file with its header blob and georeferencing.

A catalog row holds everything a mosaic or a stack needs to know about a file, so
both can be built from the catalog alone, without any file I/O. Rows are untrusted:
each is parsed as strictly as the file itself, and an error names the row and path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import RumiFormatError
from .format import describe, parse_blob
from .georef import Georef
from .mosaic import Entry
from .spec import Generation, TimeKind
from .trailer import TimeAxis, Trailer, check_band_texts, check_time

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import pyarrow as pa

    from .format import RumiFile

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
)
"""Catalog columns; ``shape`` is ``(T, B, L, W)``, ``time`` POSIX seconds (flat for intervals)."""


def catalog(
    sources: Iterable[str],
    *,
    storage_options: dict[str, Any] | None = None,
    max_workers: int | None = None,
    progress: bool | None = None,
) -> pa.Table:
    """Scan files into a catalog table (headers read in parallel threads)."""
    from .mosaic import _entries

    entries = _entries(list(sources), None, storage_options, max_workers, progress)
    return catalog_table(entries)


def catalog_table(entries: Sequence[Entry]) -> pa.Table:
    """The catalog rows of described files."""
    import pyarrow as pa

    rows: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for entry in entries:
        d = entry.desc
        t = d.georef.transform
        rows["path"].append(entry.url)
        rows["nbytes"].append(entry.nbytes)
        rows["generation"].append(d.generation.value)
        rows["header"].append(d.to_blob())
        rows["shape"].append(list(d.shape))
        rows["dtype"].append(d.sample.name)
        rows["crs"].append(None if d.georef.epsg is None else f"EPSG:{d.georef.epsg}")
        rows["transform"].append(None if t is None else list(t))
        rows["bounds"].append(_bounds(d))
        rows["pixel_is_point"].append(d.georef.pixel_is_point)
        rows["band_texts"].append(None if d.band_texts is None else list(d.band_texts))
        rows["time_kind"].append(None if d.time is None else d.time.kind.name.lower())
        rows["time"].append(None if d.time is None else d.time.seconds.ravel().tolist())
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
        ]
    )
    return pa.table(rows, schema=schema)


def _bounds(desc: RumiFile) -> list[float] | None:
    """``[left, bottom, right, top]`` of the pixel corners, as rasterio reports them."""
    from .coords import corner_transform

    t = corner_transform(desc.georef)
    if t is None:
        return None
    a, b, c, d, e, f = t
    xs = [c + a * i + b * j for i in (0, desc.grid.width) for j in (0, desc.grid.length)]
    ys = [f + d * i + e * j for i in (0, desc.grid.width) for j in (0, desc.grid.length)]
    return [min(xs), min(ys), max(xs), max(ys)]


def write_catalog(table: pa.Table, path: str) -> None:
    """Write a catalog table as Parquet."""
    import pyarrow.parquet as pq

    pq.write_table(table, path)


def read_catalog(source: str | pa.Table) -> list[Entry]:
    """Parse a catalog (a Parquet path or a table) into mosaic entries; no file is read."""
    import pyarrow.parquet as pq

    table = pq.read_table(source) if isinstance(source, str) else source
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise RumiFormatError(f"catalog lacks the columns {missing}")
    columns = {name: table.column(name).to_pylist() for name in COLUMNS}
    entries = []
    for i in range(table.num_rows):
        row = {name: columns[name][i] for name in COLUMNS}
        try:
            entries.append(Entry(row["path"], _describe_row(row), row["nbytes"]))
        except (RumiFormatError, TypeError, ValueError, KeyError) as exc:
            raise RumiFormatError(f"catalog row {i} ({row['path']!r}): {exc}") from exc
    return entries


def _describe_row(row: dict[str, Any]) -> RumiFile:
    if not isinstance(row["path"], str) or not row["path"]:
        raise RumiFormatError("path must be a non-empty string")
    if not isinstance(row["header"], bytes):
        raise RumiFormatError("header must be the file's header blob")
    if not isinstance(row["nbytes"], int) or row["nbytes"] <= 0:
        raise RumiFormatError.mismatch("nbytes", expected="the file's length", found=row["nbytes"])
    generation = Generation(row["generation"])
    frames = parse_blob(row["header"], generation=generation, source_length=row["nbytes"])
    georef = _georef(row)
    trailer = _trailer(row, generation, frames.grid.bands, frames.grid.times)
    desc = describe(frames, georef, trailer)
    if row["shape"] != list(desc.shape) or row["dtype"] != desc.sample.name:
        raise RumiFormatError.mismatch(
            "shape and dtype", expected=(list(desc.shape), desc.sample.name),
            found=(row["shape"], row["dtype"]),
        )
    return desc


def _georef(row: dict[str, Any]) -> Georef:
    crs, transform = row["crs"], row["transform"]
    if crs is None or transform is None:
        if crs is not None or transform is not None:
            raise RumiFormatError("crs and transform must be given together")
        return Georef(None, None, bool(row["pixel_is_point"]))
    if not crs.startswith("EPSG:") or not crs[5:].isdigit():
        raise RumiFormatError.mismatch("crs", expected="'EPSG:<code>'", found=crs)
    if len(transform) != 6 or not all(np.isfinite(transform)):
        raise RumiFormatError.mismatch("transform", expected="6 finite numbers", found=transform)
    return Georef(tuple(transform), int(crs[5:]), bool(row["pixel_is_point"]))  # type: ignore[arg-type]


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
