"""The ``rumi-xarray`` command line, end to end."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from _fixtures import FIXTURES, assert_same_bits

from rumi_xarray.cli import main


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_demo_writes_reads_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png, kept = tmp_path / "q.png", tmp_path / "scene.rumi"
    assert main(["demo", "-o", str(png), "--size", "96", "--tile", "40", "--keep", str(kept)]) == 0
    out = capsys.readouterr().out
    assert "Read back bit for bit" in out and "B08, NIR, 842nm" in out
    assert _png_size(png) == (96, 96)
    ds = xr.open_dataset(kept, engine="rumi")
    assert ds["band_data"].shape == (6, 96, 96)
    assert ds["band_data"].rio.crs.to_epsg() == 32633


def test_console_script_demo(tmp_path: Path) -> None:
    script = shutil.which("rumi-xarray")
    assert script is not None, "the console script is installed with the package"
    done = subprocess.run(
        [script, "demo", "-o", str(tmp_path / "q.png"), "--size", "64"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Wrote an RGB quicklook" in done.stdout


def test_convert_rumi_to_rumi(tmp_path: Path) -> None:
    fixture = next(f for f in FIXTURES if f.name == "i16_t4_b3_19x21_u9_tb_tile")
    target, header = tmp_path / "out.rumi", tmp_path / "out.header"
    args = ["convert", str(fixture.path), str(target), "--tile", "16", "--frames", "tbhw", "-q"]
    assert main([*args, "--header", str(header)]) == 0
    with xr.open_dataset(target, engine="rumi", header=header.read_bytes()) as ds:
        assert_same_bits(ds["band_data"].values, fixture.expected())
        assert list(ds.band.values) == fixture.meta["bands"]


def test_convert_geotiff(tmp_path: Path) -> None:
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    data = np.arange(3 * 40 * 50, dtype=np.uint16).reshape(3, 40, 50)
    source = tmp_path / "scene.tif"
    profile = dict(
        driver="GTiff",
        width=50,
        height=40,
        count=3,
        dtype="uint16",
        crs="EPSG:32633",
        transform=from_origin(500000, 4000000, 10, 10),
    )
    with rasterio.open(source, "w", **profile) as dst:
        dst.write(data)
    target = tmp_path / "scene.rumi"
    assert main(["convert", str(source), str(target), "--time", "2024-05-01", "-q"]) == 0
    da = xr.open_dataset(target, engine="rumi")["band_data"]
    np.testing.assert_array_equal(da.values, data)
    assert da.rio.crs.to_epsg() == 32633
    assert tuple(da.rio.transform())[:6] == (10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)
    assert da.time.values == np.datetime64("2024-05-01")


def test_convert_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixture = FIXTURES[0]
    assert main(["convert", str(fixture.path), str(tmp_path / "x.rumi"), "--tile", "0"]) == 1
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "x.rumi").exists()
