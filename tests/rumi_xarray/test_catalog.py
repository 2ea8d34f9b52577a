"""Parquet catalogs: scanned once, then mosaics built with no file I/O; hostile rows rejected."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from _virtual import open_refs, write

from rumi_xarray.catalog import catalog, read_catalog, write_catalog
from rumi_xarray.errors import RumiFormatError
from rumi_xarray.mosaic import mosaic
from rumi_xarray.outputs import to_kerchunk


@pytest.fixture
def files(tmp_path):
    data = np.random.default_rng(0).integers(0, 999, (2, 2, 100, 170), dtype=np.uint16)
    paths = []
    for t in range(2):
        for j, (x0, x1) in enumerate(((0, 64), (64, 170))):
            transform = (10.0, 0, 500000.0 + 10 * x0, 0, -10.0, 4000000.0)
            paths.append(write(tmp_path / f"f{j}_{t}.rumi", data[t, :, :, x0:x1],
                               transform=transform, time=f"2024-0{t + 1}-01"))
    return paths, data


def test_catalog_mosaic_equals_file_mosaic_without_reading_files(files, tmp_path):
    paths, data = files
    write_catalog(catalog(paths), str(tmp_path / "cat.parquet"))
    from_files = to_kerchunk(mosaic(paths))
    for path in paths:  # the catalog alone must be enough to build the references
        (tmp_path / path).rename(str(path) + ".moved")
    entries = read_catalog(str(tmp_path / "cat.parquet"))
    from_catalog = to_kerchunk(mosaic(entries))
    assert from_catalog == from_files
    for path in paths:
        (tmp_path / (str(path) + ".moved")).rename(path)
    np.testing.assert_array_equal(open_refs(from_catalog).band_data.values, data)


def test_catalog_columns(files):
    paths, _ = files
    table = catalog(paths)
    row = table.slice(0, 1).to_pylist()[0]
    assert row["shape"] == [1, 2, 100, 64]
    assert row["dtype"] == "uint16" and row["crs"] == "EPSG:32633"
    assert row["bounds"] == [500000.0, 3999000.0, 500640.0, 4000000.0]
    assert row["time_kind"] == "instant" and len(row["time"]) == 1
    assert row["nbytes"] == (pytest.importorskip("pathlib").Path(paths[0]).stat().st_size)


def _corrupt(table: pa.Table, column: str, value) -> pa.Table:
    values = table.column(column).to_pylist()
    values[1] = value
    return table.set_column(table.column_names.index(column), column,
                            pa.array(values, table.schema.field(column).type))


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("header", b"\x00" * 10, "header"),
        ("header", b"", "empty"),
        ("generation", "9.9", "row 1"),
        ("crs", "WGS84", "crs"),
        ("transform", [1.0, 2.0], "transform"),
        ("shape", [1, 2, 100, 65], "shape"),
        ("dtype", "int16", "dtype"),
        ("nbytes", 100, "row 1"),
        ("band_texts", ["only one"], "row 1"),
        ("time_kind", "sometimes", "row 1"),
        ("path", "", "path"),
    ],
)
def test_hostile_rows_are_rejected_naming_the_row(files, column, value, message):
    table = _corrupt(catalog(files[0]), column, value)
    with pytest.raises(RumiFormatError, match=message) as err:
        read_catalog(table)
    assert "row 1" in str(err.value)


def test_missing_columns_are_rejected(files):
    table = catalog(files[0]).drop_columns(["header"])
    with pytest.raises(RumiFormatError, match="header"):
        read_catalog(table)
