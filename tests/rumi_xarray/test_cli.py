"""The ``rumi-xarray`` command line, end to end."""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
import xarray as xr
from _fixtures import DATA, FIXTURES, Fixture, assert_same_bits, fixture_id

from rumi_xarray import header_blob
from rumi_xarray.cli.main import main
from rumi_xarray.format import parse_bytes


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


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script (on PATH, or beside this interpreter)."""
    script = shutil.which("rumi-xarray") or shutil.which(
        "rumi-xarray", path=str(Path(sys.executable).parent)
    )
    assert script is not None, "the console script is installed with the package"
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=120)


def test_console_script_demo(tmp_path: Path) -> None:
    done = _script("demo", "-o", str(tmp_path / "q.png"), "--size", "64", "-q")
    assert done.returncode == 0, done.stderr
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


# ---------------------------------------------------------------------------------------
# The installed console script, end to end


def _fixture(name: str) -> Fixture:
    return next(f for f in FIXTURES if f.name == name and f.folder == "rumi-0.26.1")


def test_help_lists_every_subcommand() -> None:
    done = _script("--help")
    assert done.returncode == 0
    for command in ("demo", "convert", "info"):
        assert f"    {command} " in done.stdout
    assert main(["info", "--help"]) == 0


def test_version() -> None:
    done = _script("--version")
    assert done.returncode == 0 and done.stdout.startswith("rumi-xarray ")


def test_python_m_runs_the_same_command() -> None:
    """``python -m rumi_xarray.cli`` is the console script; a bad flag is a usage error."""
    module = [sys.executable, "-m", "rumi_xarray.cli"]
    done = subprocess.run([*module, "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == _script("--version").stdout
    done = subprocess.run([*module, "info"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "rumi-xarray info: error: " in done.stderr


def test_info_human_summary() -> None:
    fixture = _fixture("i16_t4_b3_19x21_u0_bt_tile")
    done = _script("info", str(fixture.path))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("Driver: rumi 0.25-0.26\n")
    expected = [
        "Size is 21, 19; 3 bands, 4 time steps",
        "Data type: int16",
        "Tiles: 8x8 (3 across, 3 down, edges clipped)",
        "Frames: 108 (frame_unit 0): one tile per band and time step, samples in 'hw' order",
        "Coordinate system: EPSG:32618 (WGS 84 / UTM zone 18N)",
        "Transform: (10.0, 0.0, 499980.0, 0.0, -10.0, 4000020.0)  [pixel corners]",
        "Pixel size: (10.0, -10.0)",
        "Bounds: (499980.000000, 3999830.000000, 500190.000000, 4000020.000000)",
        "  Lower Right  (   500190.000000,   3999830.000000)",
        "Time: 4 instants: 2024-01-01T00:00:00, 2024-01-11T00:00:00, ",
        "\n    1  red\n",
    ]
    for line in expected:
        assert line in out, line
    assert f"({fixture.path.stat().st_size:,} bytes)" in out


def test_info_json_through_the_script() -> None:
    fixture = _fixture("u16_b3_50x33_cell_geo_pip")
    done = _script(
        "info", "--json", str(fixture.path), "--header", str(fixture.path.with_suffix(".header"))
    )
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    _check_facts(facts, fixture)
    assert facts["pixel_is_point"] is True
    assert facts["stored_transform"] == [0.25, 0.0, -75.0, 0.0, -0.25, 10.0]
    assert facts["transform"] == [0.25, 0.0, -75.125, 0.0, -0.25, 10.125]  # pixel corners
    assert facts["bounds"] == [-75.125, 10.125 - 50 * 0.25, -75.125 + 33 * 0.25, 10.125]
    assert facts["crs"] == {"epsg": 4326, "name": "WGS 84"}


def _check_facts(facts: dict, fixture: Fixture) -> None:
    meta = fixture.meta
    assert facts["driver"] == "rumi"
    assert facts["generation"] == ("0.15-0.16" if fixture.folder == "rumi-0.16.0" else "0.25-0.26")
    assert facts["file_nbytes"] == meta.get("file_size", fixture.path.stat().st_size)
    assert (facts["width"], facts["height"]) == (meta["image_width"], meta["image_length"])
    assert facts["bands"] == meta["shape"][-3]
    assert facts["times"] == meta.get("time_count", 1)
    assert facts["band_texts"] == meta["bands"]
    assert facts["numpy_dtype"] == fixture.expected().dtype.name
    if fixture.folder == "rumi-0.26.1":  # 0.16 names some types differently (cfloat32, ...)
        assert facts["dtype"] == meta["rumi_dtype"]
    assert facts["tile"] == meta["tile"]
    assert (facts["tiles_across"], facts["tiles_down"]) == (
        meta["tiles_across"],
        meta["tiles_down"],
    )
    assert facts["header_blob_nbytes"] == len(fixture.header)
    assert facts["frames_nbytes"] < facts["file_nbytes"]
    assert facts["compression_ratio"] == round(facts["decoded_nbytes"] / facts["frames_nbytes"], 3)
    assert facts["crs"] == (
        None if meta["crs"] is None else {"epsg": meta["crs"], "name": facts["crs"]["name"]}
    )
    assert facts["stored_transform"] == meta["transform"]
    assert facts["pixel_is_point"] == meta["pixel_is_point"]
    if meta["time"] is None:
        assert facts["time"] is None
    else:
        assert facts["time"]["kind"] == meta.get("time_kind", "instant")
        got = np.array(facts["time"]["values"], "datetime64[s]")
        want = np.array(np.char.replace(np.array(meta["time"], str), "+00:00", ""), "datetime64[s]")
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("fixture", FIXTURES, ids=fixture_id)
def test_info_json_facts(fixture: Fixture, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--json", str(fixture.path)]) == 0
    facts = json.loads(capsys.readouterr().out)
    _check_facts(facts, fixture)
    if "frame_count" in fixture.meta:
        assert facts["frame_count"] == fixture.meta["frame_count"]


def test_info_reads_storage_options(capsys: pytest.CaptureFixture[str]) -> None:
    fsspec = pytest.importorskip("fsspec")
    fixture = _fixture("u8_b1_37x45_t16_crs")
    with fsspec.open("memory://cli/scene.rumi", "wb") as f:
        f.write(fixture.path.read_bytes())
    args = [
        "info",
        "memory://cli/scene.rumi",
        "--json",
        "--storage-option",
        "skip_instance_cache=true",
    ]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["width"] == 45


def test_convert_with_output_option(tmp_path: Path) -> None:
    fixture = _fixture("i16_t4_b3_19x21_u9_tb_tile")
    target = tmp_path / "out.rumi"
    done = _script("convert", str(fixture.path), "-o", str(target), "--tile", "8", "-q")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {target}\n"
    with xr.open_dataset(target, engine="rumi") as ds:
        assert_same_bits(ds["band_data"].values, fixture.expected())
    facts = json.loads(_script("info", "--json", str(target)).stdout)
    assert (facts["tile"], facts["frame_unit"]) == ([8, 8], 9)  # the source's frame unit


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["info", "missing.rumi"], "rumi-xarray: error: [Errno 2] No such file or directory"),
        (
            ["info", str(DATA / "rumi-0.26.1" / "manifest.json")],
            "rumi-xarray: error: not a rumi file: it starts with 0x7B 0x0A",
        ),
        (
            [
                "info",
                str(DATA / "rumi-0.26.1/i8_b2_tile.rumi"),
                "--header",
                str(DATA / "rumi-0.26.1/c64_b2_cell.header"),
            ],
            "rumi-xarray: error: ",
        ),
        (["convert", "missing.tif", "out.rumi"], "rumi-xarray: error: "),
    ],
)
def test_bad_input_exits_1_with_one_line(args: list[str], message: str) -> None:
    done = _script(*args)
    assert done.returncode == 1
    assert done.stderr.startswith(message)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["info"],
        ["info", "x.rumi", "--storage-option", "no-equals-sign"],
        ["convert", "a.tif"],
        ["convert", "a.tif", "b.rumi", "-o", "c.rumi"],
        ["demo", "--size", "big"],
    ],
)
def test_bad_usage_exits_2(args: list[str]) -> None:
    done = _script(*args)
    assert done.returncode == 2
    assert "usage: rumi-xarray" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------------------------------
# convert keeps the stored dtype and names what it drops


def _described_geotiff(path: Path) -> np.ndarray:
    """uint16 with nodata, scale/offset, units, band descriptions and a tag, as GDAL writes."""
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    data = np.arange(3 * 40 * 50, dtype=np.uint16).reshape(3, 40, 50)
    profile = dict(
        driver="GTiff", width=50, height=40, count=3, dtype="uint16", nodata=0,
        crs="EPSG:32633", transform=from_origin(500000, 4000000, 10, 10),
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = ("B04 red", "B03 green", "B02 blue")
        dst.scales, dst.offsets = (0.0001,) * 3, (-0.1,) * 3
        dst.units = ("reflectance",) * 3
        dst.update_tags(mission="demo")
    return data


DROPPED = (
    "mission='demo'; _FillValue=0 (nodata); scale_factor=0.0001; add_offset=-0.1; "
    "units=('reflectance', 'reflectance', 'reflectance')"
)


def test_convert_geotiff_keeps_uint16_and_band_descriptions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _described_geotiff(tmp_path / "scene.tif")
    target = tmp_path / "scene.rumi"
    assert main(["convert", str(tmp_path / "scene.tif"), str(target), "--time", "2024-05-01"]) == 0
    out, err = capsys.readouterr()
    assert err == (
        f"rumi-xarray: warning: {target}: rumi files cannot hold 5 items of the input, written "
        f"without them: {DROPPED} (--strict makes this an error)\n"
    )
    assert out == f"wrote {target}\n"
    da = xr.open_dataset(target, engine="rumi")["band_data"]
    assert da.dtype == np.uint16 and list(da.band.values) == ["B04 red", "B03 green", "B02 blue"]
    np.testing.assert_array_equal(da.values, data)
    assert da.rio.crs.to_epsg() == 32633


def test_convert_strict_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _described_geotiff(tmp_path / "scene.tif")
    target = tmp_path / "scene.rumi"
    args = ["convert", str(tmp_path / "scene.tif"), str(target), "--time", "2024-05-01", "--strict"]
    assert main(args) == 1
    assert capsys.readouterr().err == (
        f"rumi-xarray: error: {target}: rumi files cannot hold 5 items of the input, so nothing "
        f"was written (--strict): {DROPPED}\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.tif"]


def test_convert_decode_writes_floats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _described_geotiff(tmp_path / "scene.tif")
    target = tmp_path / "f.rumi"
    assert main(["convert", str(tmp_path / "scene.tif"), str(target), "--time", "2024-05-01",
                 "--decode", "-q"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "scale_factor=0.0001 (in the encoding)" in err and err.count("\n") == 1
    da = xr.open_dataset(target, engine="rumi")["band_data"]
    assert da.dtype == np.float32
    np.testing.assert_allclose(da.values[:, 1:], data[:, 1:] * 0.0001 - 0.1, atol=1e-7)
    assert np.isnan(da.values[0, 0, 0])


def _zarr(path: Path, **variables: Any) -> Path:
    xr.Dataset(variables).to_zarr(path, zarr_format=2, consolidated=True)
    return path


@pytest.mark.parametrize(
    ("variables", "extra", "message"),
    [
        ({"a": (("y", "x"), np.zeros((2, 2))), "b": (("y", "x"), np.ones((2, 2)))}, [],
         "the Dataset holds data variables ['a', 'b']; choose one with --variable"),
        ({"a": (("y", "x"), np.zeros((2, 2)))}, [],
         "none was found: pass --time (one datetime per step, or one (start, end) pair per step)"),
        ({"a": (("y", "x"), np.zeros((2, 2)))}, ["--time", "2024-01-01", "--frames", "diagonal"],
         "--frames 'diagonal' is not one of"),
    ],
    ids=["variable", "time", "frames"],
)  # fmt: skip
def test_convert_errors_name_the_flags(
    variables: dict, extra: list[str], message: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    source = _zarr(tmp_path / "s.zarr", **variables)
    assert main(["convert", str(source), str(tmp_path / "o.rumi"), *extra]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rumi-xarray: error: ") and message in err and err.count("\n") == 1


def test_convert_repeatable_time_and_intervals(tmp_path: Path) -> None:
    source = _zarr(
        tmp_path / "t.zarr", v=(("time", "y", "x"), np.arange(8, dtype="i2").reshape(2, 2, 2))
    )
    target = tmp_path / "t.rumi"
    times = ["--time", "2024-01-01/2024-01-02", "--time", "2024-01-02T00:00:00/2024-01-04"]
    assert main(["convert", str(source), str(target), *times, "-q"]) == 0
    with xr.open_dataset(target, engine="rumi") as ds:
        np.testing.assert_array_equal(
            ds.time_end.values, np.array(["2024-01-02", "2024-01-04"], "M8[s]")
        )
        np.testing.assert_array_equal(ds["band_data"].values[:, 0], np.arange(8).reshape(2, 2, 2))
    assert main(["convert", str(source), str(tmp_path / "x.rumi"), "--time", "2024-01-01/"]) == 2


def test_convert_keeps_the_source_layout(tmp_path: Path) -> None:
    fixture = _fixture("i16_t4_b3_19x21_u9_tb_tile")
    target = tmp_path / "same.rumi"
    assert main(["convert", str(fixture.path), str(target), "-q"]) == 0
    assert target.read_bytes() != b"" and header_blob(target) != b""
    desc = parse_bytes(target.read_bytes())
    assert (desc.grid.tile_length, desc.frame_unit) == (8, 9)


# ---------------------------------------------------------------------------------------
# header, demo --keep


def test_header_writes_the_blob_beside_the_file(tmp_path: Path) -> None:
    fixture = _fixture("u16_b3_50x33_cell_geo_pip")
    source = tmp_path / "scene.rumi"
    source.write_bytes(fixture.path.read_bytes())
    done = _script("header", str(source))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "scene.header").read_bytes() == fixture.header
    assert done.stdout == f"wrote {tmp_path / 'scene.header'} ({len(fixture.header)} bytes)\n"
    assert main(["header", str(source), "-o", str(tmp_path / "other.blob")]) == 0
    assert (tmp_path / "other.blob").read_bytes() == fixture.header


def test_header_of_a_url(tmp_path: Path) -> None:
    fixture = _fixture("u8_b1_37x45_t16_crs")
    with fsspec.open("memory://cli-header/a.rumi", "wb") as f:
        f.write(fixture.path.read_bytes())
    assert main(["header", "memory://cli-header/a.rumi"]) == 0
    with fsspec.open("memory://cli-header/a.header", "rb") as f:
        assert f.read() == fixture.header
    assert main(["header", "memory://cli-header/a.rumi", "-o", str(tmp_path / "a.header")]) == 0
    assert (tmp_path / "a.header").read_bytes() == fixture.header


def test_demo_keep_writes_the_blob_and_the_readme_lines_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["demo", "--keep", "scene.rumi", "-o", "q.png", "--size", "64", "--tile", "32", "-q"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "scene.rumi" in out and "its header blob to scene.header" in out
    readme = (
        "import xarray as xr\n"
        'ds = xr.open_dataset("scene.rumi", engine="rumi", header=open("scene.header","rb").read())\n'
        'with open("scene.header", "rb") as f:\n'
        '    fast = xr.open_dataset("scene.rumi", engine="rumi", header=f.read())\n'
        "xr.testing.assert_identical(ds.load(), fast.load())\n"
        "print(ds.band_data.shape)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", readme], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "(6, 64, 64)\n"
    assert Path("scene.header").read_bytes() == header_blob("scene.rumi")


def test_demo_says_where_its_file_is(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["demo", "-o", str(tmp_path / "q.png"), "--size", "32", "--tile", "16", "-q"]) == 0
    out = capsys.readouterr().out
    assert "a temporary file, removed on exit; keep it with --keep PATH" in out


# ---------------------------------------------------------------------------------------
# Errors: one line, the URL or target, never the temporary file


@pytest.mark.parametrize("command", ["info", "header", "refs", "convert"])
def test_missing_remote_object_says_not_found(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "memory://nowhere/missing.rumi"
    extra = {"refs": ["-o", str(tmp_path / "r.json")], "convert": [str(tmp_path / "o.rumi")]}
    assert main([command, url, *extra.get(command, [])]) == 1
    assert capsys.readouterr().err == f"rumi-xarray: error: not found: {url}\n"


def test_write_errors_name_the_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "no" / "such" / "dir.rumi"
    assert main(["convert", str(_fixture("u8_b1_37x45_t16_crs").path), str(target), "-q"]) == 1
    err = capsys.readouterr().err
    assert err == f"rumi-xarray: error: [Errno 2] No such file or directory: '{target}'\n"


def test_unreachable_url_is_one_line() -> None:
    done = _script("info", "http://127.0.0.1:9/scene.rumi")
    assert done.returncode == 1 and done.stderr.startswith("rumi-xarray: error: ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


# ---------------------------------------------------------------------------------------
# docs/cli.md


def test_docs_list_every_subcommand_and_option() -> None:
    from rumi_xarray.cli.main import build_parser

    text = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(commands.choices) == {
        "demo",
        "convert",
        "info",
        "header",
        "refs",
        "mosaic",
        "catalog",
    }
    for name, sub in commands.choices.items():
        assert f"\n## {name}\n" in text, name
        section = text.split(f"\n## {name}\n")[1].split("\n## ")[0]
        for action in sub._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert f"`{option}" in section, (name, option)
