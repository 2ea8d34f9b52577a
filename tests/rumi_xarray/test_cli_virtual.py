"""``rumi-xarray refs``, ``mosaic`` and ``catalog``, run as the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _virtual import open_refs, write

from rumi_xarray.virtual.model import enable_rectilinear

SCRIPT = shutil.which("rumi-xarray", path=str(Path(sys.executable).parent))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    data = np.random.default_rng(0).integers(0, 999, (2, 2, 100, 200), dtype=np.uint16)
    for t in range(2):
        for j in range(2):
            transform = (10.0, 0, 500000.0 + 1000 * j, 0, -10.0, 4000000.0)
            write(
                d / f"f{j}_2024010{t + 1}.rumi",
                data[t, :, :, 100 * j : 100 * (j + 1)],
                transform=transform,
            )
    return d, data


def test_refs_writes_references_that_read_back(grid):
    d, data = grid
    out = d / "one.json"
    result = run("refs", str(d / "f0_20240101.rumi"), "-o", str(out), "--zarr-format", "2")
    assert result.returncode == 0, result.stderr
    refs = json.loads(out.read_text())
    np.testing.assert_array_equal(open_refs(refs, 2).band_data.values, data[0, :, :, :100])


def test_catalog_then_mosaic_from_the_catalog(grid):
    d, data = grid
    assert run("catalog", str(d), "-o", str(d / "cat.parquet"), "-q").returncode == 0
    result = run(
        "mosaic",
        str(d / "cat.parquet"),
        "-o",
        str(d / "m.json"),
        "--pattern",
        r"_(?P<date>\d{8})\.rumi$",
    )
    assert result.returncode == 0, result.stderr
    ds = open_refs(json.loads((d / "m.json").read_text()))
    np.testing.assert_array_equal(ds.band_data.values, data)


def test_mosaic_of_a_catalog_as_parquet_references(tmp_path):
    import xarray as xr

    data = np.random.default_rng(1).integers(0, 999, (2, 64, 128), dtype=np.uint16)
    for j in range(2):
        transform = (10.0, 0, 500000.0 + 640 * j, 0, -10.0, 4000000.0)
        write(
            tmp_path / f"a{j}.rumi", data[:, :, 64 * j : 64 * (j + 1)], transform=transform, tile=32
        )
    assert run("catalog", str(tmp_path), "-o", str(tmp_path / "cat.parquet"), "-q").returncode == 0
    out = tmp_path / "refs.parq"
    result = run("mosaic", str(tmp_path / "cat.parquet"), "-o", str(out), "--parquet")
    assert result.returncode == 0, result.stderr
    ds = xr.open_dataset(
        "reference://",
        engine="zarr",
        consolidated=False,
        zarr_format=2,
        storage_options={"fo": str(out), "remote_protocol": "file"},
    )
    np.testing.assert_array_equal(ds.band_data.values, data)
    assert (
        run(
            "mosaic", str(tmp_path / "cat.parquet"), "-o", "x", "--parquet", "--icechunk"
        ).returncode
        == 2
    )


def test_mosaic_from_a_glob_into_icechunk(grid):
    pytest.importorskip("icechunk")
    import xarray as xr

    d, data = grid
    result = run("mosaic", str(d / "f*_20240102.rumi"), "-o", str(d / "repo"), "--icechunk", "-q")
    assert result.returncode == 0, result.stderr
    import icechunk

    repo = icechunk.Repository.open(
        icechunk.local_filesystem_storage(str(d / "repo")),
        authorize_virtual_chunk_access={f"file://{d}/": icechunk.credentials.LocalFileSystemAccess},
    )
    enable_rectilinear()
    ds = xr.open_zarr(repo.readonly_session("main").store, consolidated=False, zarr_format=3)
    np.testing.assert_array_equal(ds.band_data.values, data[1])


def test_errors_are_one_line_with_exit_code_1(grid, tmp_path):
    d, _ = grid
    result = run("mosaic", str(tmp_path / "nothing*.rumi"), "-o", str(tmp_path / "m.json"))
    assert result.returncode == 1
    assert result.stderr.startswith("rumi-xarray: error: no files match")
    assert result.stderr.count("\n") == 1
    bad = run("mosaic", str(d / "f*.rumi"), "-o", str(tmp_path / "m.json"))  # overlapping dates
    assert bad.returncode == 1 and "overlaps" in bad.stderr


# ---------------------------------------------------------------------------------------
# Papercuts: one line on stderr, a non-zero exit, nothing written


def _one_line(result: subprocess.CompletedProcess, start: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(start) and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_bad_pattern_is_one_line(grid, tmp_path):
    d, _ = grid
    result = run("mosaic", str(d / "f*.rumi"), "-o", str(tmp_path / "m.json"), "--pattern", "(")
    _one_line(
        result,
        "rumi-xarray: error: --pattern '(' is not a regular expression: "
        "missing ), unterminated subpattern at position 0",
    )
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("fill", ["70000", "-1", "0.5"])
def test_fill_value_out_of_range_for_the_dtype(grid, tmp_path, fill):
    d, _ = grid
    result = run(
        "mosaic", str(d / "f*_20240101.rumi"), "-o", str(tmp_path / "m.json"), "--fill-value", fill
    )
    value = int(fill) if float(fill).is_integer() else float(fill)
    why = "is not an integer, which uint16 needs" if fill == "0.5" else "is out of range for uint16"
    _one_line(result, f"rumi-xarray: error: --fill-value {value!r} {why}")
    assert not (tmp_path / "m.json").exists()


def test_a_file_that_cannot_be_described_is_named(grid, tmp_path):
    d, _ = grid
    bad = tmp_path / "f9_20240101.rumi"
    bad.write_bytes(b"RIFF" + (d / "f0_20240101.rumi").read_bytes()[4:])
    result = run("mosaic", str(tmp_path / "f*.rumi"), "-o", str(tmp_path / "m.json"))
    _one_line(result, "rumi-xarray: error: not a rumi file: it starts with 0x52 0x49 0x46 0x46")
    assert result.stderr.endswith(f"; while opening source 0 ('file://{bad}') of the mosaic\n")
    assert not (tmp_path / "m.json").exists()


def test_fill_value_in_range_is_written(grid, tmp_path):
    d, _ = grid
    out = tmp_path / "m.json"
    assert (
        run(
            "mosaic", str(d / "f*_20240101.rumi"), "-o", str(out), "--fill-value", "65535", "-q"
        ).returncode
        == 0
    )
    meta = json.loads(json.loads(out.read_text())["refs"]["band_data/zarr.json"])
    assert meta["fill_value"] == 65535


def test_parquet_with_zarr_v3_is_a_usage_error(grid, tmp_path):
    d, _ = grid
    source = str(d / "f0_20240101.rumi")
    bad = run("refs", source, "-o", str(tmp_path / "p"), "--parquet", "--zarr-format", "3")
    assert bad.returncode == 2 and "usage: rumi-xarray refs" in bad.stderr
    assert "--parquet writes Zarr v2 references" in bad.stderr and not (tmp_path / "p").exists()
    pytest.importorskip("fastparquet")
    good = run("refs", source, "-o", str(tmp_path / "p"), "--parquet")
    assert good.returncode == 0 and good.stdout.endswith("Zarr v2\n"), good.stderr


def test_library_keywords_become_flags(grid, tmp_path):
    d, _ = grid
    result = run(
        "refs",
        str(d / "f0_20240101.rumi"),
        "-o",
        str(tmp_path / "r.json"),
        "--zarr-format",
        "2",
        "--grid",
        "rectilinear",
    )
    _one_line(
        result, "rumi-xarray: error: Zarr v2 has no rectilinear chunk grids; use --zarr-format 3"
    )


def test_icechunk_logs_only_when_asked(grid, tmp_path):
    pytest.importorskip("icechunk")
    import os

    d, _ = grid
    files = str(d / "f*_20240101.rumi")
    quiet = run("mosaic", files, "-o", str(tmp_path / "a"), "--icechunk", "-q")
    assert quiet.returncode == 0 and quiet.stderr == ""
    loud = run("mosaic", files, "-o", str(tmp_path / "b"), "--icechunk", "-q", "-v")
    assert loud.returncode == 0 and "icechunk" in loud.stderr.lower()
    env = {**os.environ, "ICECHUNK_LOG": "warn"}
    args = [SCRIPT, "mosaic", files, "-o", str(tmp_path / "c"), "--icechunk", "-q"]
    asked = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert asked.returncode == 0 and "icechunk" in asked.stderr.lower()
