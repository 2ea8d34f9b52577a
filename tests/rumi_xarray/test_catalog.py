"""Parquet catalogs: scanned once, then mosaics built with no file I/O; hostile rows rejected."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from _virtual import open_default, open_refs, write

from rumi_xarray.errors import RumiFormatError, RumiScanWarning, RumiVirtualError
from rumi_xarray.spec import MAX_BLOB_FRAMES
from rumi_xarray.values import same_value
from rumi_xarray.virtual import rows
from rumi_xarray.virtual.catalog import (
    catalog,
    catalog_table,
    read_catalog,
    row_entry,
    write_catalog,
)
from rumi_xarray.virtual.entries import Entries
from rumi_xarray.virtual.mosaic import mosaic
from rumi_xarray.virtual.outputs import to_kerchunk


@pytest.fixture
def files(tmp_path):
    data = np.random.default_rng(0).integers(0, 999, (2, 2, 100, 170), dtype=np.uint16)
    paths = []
    for t in range(2):
        for j, (x0, x1) in enumerate(((0, 64), (64, 170))):
            transform = (10.0, 0, 500000.0 + 10 * x0, 0, -10.0, 4000000.0)
            paths.append(
                write(
                    tmp_path / f"f{j}_{t}.rumi",
                    data[t, :, :, x0:x1],
                    transform=transform,
                    time=f"2024-0{t + 1}-01",
                )
            )
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
    return table.set_column(
        table.column_names.index(column), column, pa.array(values, table.schema.field(column).type)
    )


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


def test_a_blob_claiming_billions_of_frames_is_refused_before_any_allocation(files):
    # 60000 x 60000 one-pixel tiles of uint8: 3.6e9 frames, every count 1 (count_bits 0),
    # and a row nbytes that would make room for them all.
    head = struct.pack("<4sHIIIHHHBBBIB", b"LOVE", 1, 60000, 60000, 1, 1, 1, 1, 8, 1, 0, 1, 0)
    table = _corrupt(_corrupt(catalog(files[0]), "header", head), "nbytes", 1 << 62)
    table = _corrupt(_corrupt(table, "shape", [1, 1, 60000, 60000]), "dtype", "uint8")
    start = time.perf_counter()
    with pytest.raises(RumiFormatError, match=rf"row 1 .*more than the {MAX_BLOB_FRAMES}"):
        read_catalog(table)
    assert time.perf_counter() - start < 0.5


def test_nbytes_must_hold_every_frame(files):
    table = catalog(files[0])
    end = int(read_catalog(table)[1].desc.offsets[-1])
    read_catalog(_corrupt(table, "nbytes", end))
    with pytest.raises(RumiFormatError, match=rf"row 1 .*nbytes: expected at least {end}"):
        read_catalog(_corrupt(table, "nbytes", end - 1))


def test_catalog_paths_accept_pathlike(files, tmp_path):
    paths, _ = files
    target = tmp_path / "cat.parquet"
    write_catalog(catalog([Path(p) for p in paths]), target)
    assert [e.url for e in read_catalog(target)] == [e.url for e in read_catalog(str(target))]
    assert read_catalog(target)[0].url == "file://" + str(Path(paths[0]).resolve())


# ------------------------------------------------------------------------------ nodata


def test_nodata_column_round_trips_and_reaches_the_mosaic(files, tmp_path):
    paths, data = files
    write_catalog(catalog(paths, nodata=int(data[0, 0, 0, 0])), tmp_path / "cat.parquet")
    table = pa.parquet.read_table(tmp_path / "cat.parquet")
    assert table.schema.field("nodata").type == pa.float64()
    entries = read_catalog(tmp_path / "cat.parquet")
    assert {e.nodata for e in entries} == {int(data[0, 0, 0, 0])}
    assert isinstance(entries[0].nodata, int)
    ds = open_default(to_kerchunk(mosaic(entries)))
    want = data.astype(np.float32)
    want[data == data[0, 0, 0, 0]] = np.nan
    np.testing.assert_array_equal(ds.band_data.values, want)


def test_nodata_per_file_must_agree_in_a_mosaic(files):
    paths, _ = files
    entries = read_catalog(catalog(paths, nodata=[0, 0, 1, None]))
    assert [e.nodata for e in entries] == [0, 0, 1, None]
    with pytest.raises(RumiVirtualError, match=r"f0_1\.rumi declares nodata 1"):
        mosaic(entries)
    assert mosaic(entries[:2]).array.nodata == 0


def test_no_nodata_is_null_and_old_catalogs_still_read(files):
    table = catalog(files[0])
    assert table.column("nodata").null_count == table.num_rows
    entries = read_catalog(table.drop_columns(["nodata"]))
    assert all(e.nodata is None for e in entries)


def test_error_rows_are_skipped_with_a_warning_naming_them(files, tmp_path):
    paths, _ = files
    sources = [paths[0], str(tmp_path / "gone.rumi"), *paths[1:]]
    with pytest.warns(RumiScanWarning, match=r"^1 of 5 files could not be read .*gone\.rumi"):
        table = catalog(sources, nodata=7)
    assert table.column("nodata").to_pylist() == [7.0, None, 7.0, 7.0, 7.0]
    write_catalog(table, tmp_path / "cat.parquet")
    for source in (table, tmp_path / "cat.parquet"):
        match = r"^skipped 1 catalog rows .*: file://.*gone\.rumi: FileNotFoundError"
        with pytest.warns(RumiScanWarning, match=match) as caught:
            entries = read_catalog(source)
        assert len(caught[0].message.items) == 1
        assert [e.url for e in entries] == table.column("path").to_pylist()[:1] + [
            e.url for e in read_catalog(catalog(paths[1:]))
        ]
    assert to_kerchunk(mosaic(entries)) == to_kerchunk(mosaic(paths, nodata=7))


def test_a_bad_row_after_error_rows_is_named_by_its_own_index(files, tmp_path):
    paths, _ = files
    with pytest.warns(RumiScanWarning):
        table = catalog([str(tmp_path / "gone.rumi"), *paths])
    table = _corrupt(table, "nbytes", 100)  # row 1: the first file read
    with pytest.warns(RumiScanWarning), pytest.raises(RumiFormatError, match="catalog row 1 "):
        read_catalog(table)


def test_catalogs_without_the_error_column_still_read(files):
    table = catalog(files[0])
    assert table.column("error").null_count == table.num_rows
    assert len(read_catalog(table.drop_columns(["error"]))) == len(files[0])


@pytest.mark.parametrize(
    ("nodata", "message"),
    [
        (70000, r"nodata=70000 is out of range for uint16"),
        (2.5, "nodata=2.5 is not an integer, which uint16"),
        ([1, 2], "2 nodata values"),
    ],
)
def test_bad_nodata_is_refused_when_writing(files, nodata, message):
    with pytest.raises(ValueError, match=message):
        catalog(files[0], nodata=nodata)


@pytest.mark.parametrize("value", [70000.0, 0.5])
def test_hostile_nodata_rows_are_rejected(files, value):
    table = _corrupt(catalog(files[0]), "nodata", value)
    with pytest.raises(RumiFormatError, match=r"row 1 .*nodata"):
        read_catalog(table)


def test_catalog_table_takes_nodata_from_the_entries(files):
    entries = read_catalog(catalog(files[0], nodata=9))
    assert read_catalog(catalog_table(entries))[3].nodata == 9
    assert read_catalog(catalog_table(entries, nodata=None))[0].nodata == 9
    assert read_catalog(catalog_table(entries, nodata=4))[0].nodata == 4


# ------------------------------------------------------------------------------ in bulk


def _assert_same_entry(got, want):
    assert (got.url, got.nbytes) == (want.url, want.nbytes)
    assert same_value(got.nodata, want.nodata) and type(got.nodata) is type(want.nodata)
    a, b = got.desc, want.desc
    assert (a.generation, a.grid, a.sample, a.frame_unit) == (
        b.generation,
        b.grid,
        b.sample,
        b.frame_unit,
    )
    assert (a.georef, a.band_texts) == (b.georef, b.band_texts)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert (a.time is None) == (b.time is None)
    if a.time is not None:
        assert a.time.kind == b.time.kind
        np.testing.assert_array_equal(a.time.seconds, b.time.seconds)


def test_read_catalog_gives_columns_equal_to_each_row_read_alone(files):
    table = catalog(files[0], nodata=[1, None, 2, 3])
    entries = read_catalog(table)
    assert isinstance(entries, Entries) and len(entries) == 4
    for i in range(4):
        _assert_same_entry(entries[i], row_entry(table, i))
    _assert_same_entry(entries[-1], entries[3])
    part = entries[1:3]
    assert isinstance(part, Entries) and len(part) == 2
    _assert_same_entry(part[1], entries[2])
    assert [e.url for e in Entries.of(list(entries))] == [e.url for e in entries]
    with pytest.raises(IndexError):
        entries[4]


@pytest.fixture(scope="module")
def fixture_catalog():
    """The catalog of every fixture file: both generations, 21 sample types, all layouts."""
    from _fixtures import FIXTURES

    return catalog([f.path for f in FIXTURES], progress=False)


def _hostile(rng, value, column):
    """A replacement for one cell: often hostile, sometimes harmless."""
    choices = {
        "path": ["", None, "file:///elsewhere.rumi"],
        "nbytes": [0, -5, 100, None, 1 << 40],
        "generation": ["9.9", None, "0.18-0.24", "0.15-0.16"],
        "shape": [[1, 2, 3], [9, 9, 9, 9], None, [1, None, 2, 3]],
        "dtype": ["int16", None, "uint8"],
        "crs": ["WGS84", None, "EPSG:0", "EPSG:4326"],
        "transform": [[1.0], None, [float("nan")] * 6, [1.0, 0, 0, 0, -1.0, 0], [1.0, None] * 3],
        "pixel_is_point": [None, True],
        "band_texts": [None, ["x"], ["a", "a"], ["a", None], []],
        "time_kind": ["sometimes", None, "interval", "none", "instant"],
        "time": [None, [], [1, 2, 3], [5, 4], [86400 * 19000]],
        "nodata": [0.5, 70000.0, None, float("nan"), 1.0],
    }
    if column == "header":
        blob = bytearray(value or b"LOVE")
        kind = rng.integers(4)
        if kind == 0 and len(blob) > 1:
            del blob[rng.integers(1, len(blob)) :]
        elif kind == 1:
            blob[rng.integers(len(blob))] ^= 1 << int(rng.integers(8))
        elif kind == 2:
            blob += b"\x00"
        return None if kind == 3 else bytes(blob)
    options = choices[column]
    return options[rng.integers(len(options))]


@pytest.mark.parametrize("seed", range(40))
def test_bulk_checks_reject_the_first_row_the_row_checks_reject(fixture_catalog, seed, monkeypatch):
    """Hostile cells anywhere: read_catalog raises the error of the first row that fails
    alone (in batches smaller than the table), or reads every row as alone."""
    monkeypatch.setattr(rows, "_BATCH", 16)
    rng = np.random.default_rng(seed)
    rows_taken = rng.integers(0, fixture_catalog.num_rows, 50)
    table = fixture_catalog.drop_columns(["error"]).take(rows_taken)  # error rows: tested apart
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    for _ in range(int(rng.integers(1, 4))):
        i, column = int(rng.integers(50)), list(columns)[rng.integers(len(columns))]
        if column != "bounds":
            columns[column][i] = _hostile(rng, columns[column][i], column)
    table = pa.table({k: pa.array(v, table.schema.field(k).type) for k, v in columns.items()})
    expected = None
    for i in range(table.num_rows):
        try:
            row_entry(table, i)
        except RumiFormatError as exc:
            expected = str(exc)
            break
    if expected is None:
        entries = read_catalog(table)
        for i in range(table.num_rows):
            _assert_same_entry(entries[i], row_entry(table, i))
    else:
        with pytest.raises(RumiFormatError) as caught:
            read_catalog(table)
        assert str(caught.value) == expected


def test_columns_of_related_types_read_as_their_own(files):
    """Large strings and binaries, narrower integers: cast, read as the catalog's types."""
    table = catalog(files[0])
    related = {
        "path": pa.large_string(),
        "header": pa.large_binary(),
        "nbytes": pa.int32(),
        "transform": pa.large_list(pa.float32()),
    }
    for name, kind in related.items():
        at = table.column_names.index(name)
        table = table.set_column(at, name, table.column(name).cast(kind))
    for got, want in zip(read_catalog(table), read_catalog(catalog(files[0])), strict=True):
        _assert_same_entry(got, want)


def test_a_column_of_a_foreign_type_names_the_first_row(files):
    table = catalog(files[0])
    at = table.column_names.index("nbytes")
    table = table.set_column(at, "nbytes", table.column("nbytes").cast(pa.string()))
    with pytest.raises(RumiFormatError, match=r"catalog row 0 .*nbytes"):
        read_catalog(table)


def test_an_empty_catalog_reads_as_no_entries():
    entries = read_catalog(catalog([]))
    assert isinstance(entries, Entries) and len(entries) == 0 and list(entries) == []
    with pytest.raises(RumiVirtualError, match="a mosaic needs at least one file"):
        mosaic(entries)
