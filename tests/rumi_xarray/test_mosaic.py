"""Virtual mosaics: many files as one dataset, equal to the NumPy-stitched arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from _virtual import open_default, open_refs, through_icechunk, write

from rumi_xarray import RumiVirtualWarning, to_rumi
from rumi_xarray.coords import CF_TIME_UNITS
from rumi_xarray.decode import describe_file
from rumi_xarray.errors import RumiFormatError, RumiVirtualError
from rumi_xarray.virtual.entries import Entry
from rumi_xarray.virtual.file import source_url
from rumi_xarray.virtual.mosaic import FileGroup, mosaic
from rumi_xarray.virtual.outputs import to_icechunk, to_kerchunk

H, W = 150, 130  # not multiples of the tile: edge frames fall inside the mosaic


def _transform(i: int, j: int, h: int = H, w: int = W) -> tuple[float, ...]:
    return (10.0, 0.0, 500000.0 + j * w * 10, 0.0, -10.0, 4000000.0 - i * h * 10)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """A 2 x 3 grid of clipped files on 3 dates, one file missing, plus the stitched truth."""
    d = tmp_path_factory.mktemp("mosaic")
    truth = np.random.default_rng(0).integers(0, 5000, (3, 2, 2 * H, 3 * W), dtype=np.uint16)
    paths = []
    for t in range(3):
        for i in range(2):
            for j in range(3):
                if (t, i, j) == (1, 1, 2):
                    continue
                tile = truth[t, :, i * H : (i + 1) * H, j * W : (j + 1) * W]
                name = d / f"s2_{i}{j}_2024010{t + 1}.rumi"
                paths.append(write(name, tile, transform=_transform(i, j), frames="cell"))
    return paths, truth


def test_clipped_mosaic_equals_the_stitched_arrays(scenes):
    paths, truth = scenes
    vds = mosaic(paths, pattern=r"_(?P<date>\d{8})\.rumi$", fill_value=7)
    ds = open_refs(to_kerchunk(vds))
    want = truth.copy()
    want[1, :, H:, 2 * W :] = 7  # the missing file reads as the fill value
    np.testing.assert_array_equal(ds.band_data.values, want)
    assert ds.band_data.dims == ("date", "band", "y", "x")
    np.testing.assert_array_equal(ds.date.values, [20240101, 20240102, 20240103])
    assert ds.band_data.chunks[2] == (64, 64, 22, 64, 64, 22)
    single = xr.open_dataset(paths[0], engine="rumi")
    np.testing.assert_array_equal(ds.x.values[:W], single.x.values)
    np.testing.assert_array_equal(ds.y.values[:H], single.y.values)
    assert ds.spatial_ref.attrs["crs_wkt"] == single.spatial_ref.attrs["crs_wkt"]


def test_file_order_does_not_matter(scenes):
    paths, _ = scenes
    a = open_refs(to_kerchunk(mosaic(paths, pattern=r"_(?P<date>\d{8})")))
    b = open_refs(to_kerchunk(mosaic(paths[::-1], pattern=r"_(?P<date>\d{8})")))
    np.testing.assert_array_equal(a.band_data.values, b.band_data.values)


def test_categories_map_names_to_values(scenes):
    paths, truth = scenes
    days = {"20240101": "jan1", "20240102": "jan2", "20240103": "jan3"}
    ds = open_refs(to_kerchunk(mosaic(paths, pattern=r"_(?P<day>\d{8})", categories={"day": days})))
    assert list(ds.day.values) == ["jan1", "jan2", "jan3"]
    np.testing.assert_array_equal(ds.band_data.isel(day=2).values, truth[2])


def test_differing_instants_become_a_time_dimension(scenes):
    paths, _ = scenes
    ds = open_refs(to_kerchunk(mosaic(paths[:5])))  # date 1: files written with one time each
    assert ds.band_data.dims == ("band", "y", "x")  # same instant for all: scalar time
    rng = np.random.default_rng(5)
    data = rng.integers(0, 9, (2, 2, 64, 64), dtype=np.uint16)
    d = Path(paths[0]).parent
    dated = [
        write(d / f"t{k}.rumi", data[k], transform=_transform(0, 0), time=f"2023-0{k + 1}-01")
        for k in range(2)
    ]
    ds = open_refs(to_kerchunk(mosaic(dated)))
    assert ds.band_data.dims == ("time", "band", "y", "x")
    np.testing.assert_array_equal(ds.band_data.values, data)


def test_icechunk_virtual_references(scenes, tmp_path):
    icechunk = pytest.importorskip("icechunk")
    paths, truth = scenes
    root = str(Path(paths[0]).parent)
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(
        icechunk.VirtualChunkContainer(f"file://{root}/", icechunk.local_filesystem_store(root))
    )
    repo = icechunk.Repository.create(
        icechunk.local_filesystem_storage(str(tmp_path / "repo")),
        config,
        authorize_virtual_chunk_access={
            f"file://{root}/": icechunk.credentials.LocalFileSystemAccess
        },
    )
    session = repo.writable_session("main")
    to_icechunk(mosaic(paths, pattern=r"_(?P<date>\d{8})"), session.store)
    session.commit("mosaic")
    ds = xr.open_zarr(repo.readonly_session("main").store, consolidated=False, zarr_format=3)
    want = truth.copy()
    want[1, :, H:, 2 * W :] = 0
    np.testing.assert_array_equal(ds.band_data.values, want)


def test_aligned_mosaic_is_regular_and_has_v2_references(tmp_path):
    data = np.random.default_rng(1).integers(0, 99, (2, 128, 256), dtype=np.uint16)
    paths = [
        write(
            tmp_path / f"{j}.rumi",
            data[:, :, j * 128 : (j + 1) * 128],
            transform=_transform(0, j, 128, 128),
        )
        for j in range(2)
    ]
    vds = mosaic(paths)
    meta = json.loads(to_kerchunk(vds)["refs"]["band_data/zarr.json"])
    assert meta["chunk_grid"]["name"] == "regular"
    np.testing.assert_array_equal(open_refs(to_kerchunk(vds, 2), 2).band_data.values, data)


def test_rectilinear_mosaic_refuses_v2(scenes):
    with pytest.raises(RumiVirtualError, match="rectilinear"):
        to_kerchunk(mosaic(scenes[0][:5]), 2)


def test_mosaic_on_a_process_cluster(scenes):
    distributed = pytest.importorskip("distributed")
    paths, truth = scenes
    ds = open_refs(to_kerchunk(mosaic(paths[:6])))  # the first date, complete
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster),
    ):
        total = int(ds.band_data.astype("uint64").sum().compute())
    assert total == int(truth[0].astype("uint64").sum())


# ------------------------------------------------------------------- inconsistent inputs


def _pair(tmp_path, **second):
    data = np.zeros((2, 64, 64), np.uint16)
    a = write(tmp_path / "a.rumi", data, transform=_transform(0, 0, 64, 64))
    kw = {"transform": _transform(0, 1, 64, 64), **second}
    b = write(
        tmp_path / "b.rumi",
        second.pop("data", data),
        **{k: v for k, v in kw.items() if k != "data"},
    )
    return [a, b]


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({"crs": 32632}, "crs: 'EPSG:32632' != 'EPSG:32633'"),
        ({"transform": (20.0, 0, 500640.0, 0, -20.0, 4000000.0)}, "resolution"),
        ({"data": np.zeros((2, 64, 64), np.int16)}, "dtype"),
        ({"data": np.zeros((3, 64, 64), np.uint16)}, "band count"),
        ({"tile": 32}, "tile"),
        ({"frames": "cell"}, "frame layout"),
        ({"transform": (10.0, 0, 500645.0, 0, -10.0, 4000000.0)}, "misaligned"),
        ({"transform": (10.0, 0, 500320.0, 0, -10.0, 4000000.0)}, "misaligned"),
        ({"transform": _transform(0, 0, 64, 64)}, "overlaps"),
    ],
)
def test_inconsistent_files_are_rejected_naming_the_file(tmp_path, second, message):
    paths = _pair(tmp_path, **second)
    with pytest.raises(RumiVirtualError, match=message) as err:
        mosaic(paths)
    assert "b.rumi" in str(err.value)


def test_a_mismatch_is_structured_as_a_stack_s(tmp_path):
    paths = _pair(tmp_path, tile=32)
    with pytest.raises(RumiVirtualError) as info:
        mosaic(paths)
    err = info.value
    assert (err.index, err.field, err.expected, err.found) == (1, "tile", (64, 64), (32, 32))
    assert str(err) == (
        f"source 1 ('file://{paths[1]}') differs from source 0 in tile: (32, 32) != (64, 64)"
    )
    entries = [Entry(source_url(p), *describe_file(p, None, None)) for p in paths]
    with pytest.raises(RumiVirtualError, match=r"source 1 .*b\.rumi'\) differs .* in tile"):
        mosaic(entries)  # entries (from a catalog) are checked the same way


def test_a_file_that_cannot_be_described_keeps_its_error_with_a_note(tmp_path):
    paths = _pair(tmp_path)
    data = bytearray(Path(paths[1]).read_bytes())
    data[:4] = b"RIFF"
    Path(paths[1]).write_bytes(bytes(data))
    with pytest.raises(RumiFormatError) as info:
        mosaic(paths)
    assert "b.rumi" not in str(info.value)  # the file's own error, its attributes intact
    assert info.value.__notes__ == [f"while opening source 1 ('file://{paths[1]}') of the mosaic"]


def test_pattern_must_match(tmp_path):
    paths = _pair(tmp_path)
    with pytest.raises(RumiVirtualError, match=r"b\.rumi does not match"):
        mosaic(paths, pattern=r"/(?P<k>a)\.rumi")


# ------------------------------------------------------------------------------ nodata


def _masked(values: np.ndarray, nodata) -> np.ndarray:
    out = values.astype(np.float32)
    out[values == nodata] = np.nan
    return out


def test_declared_nodata_is_what_default_decoding_masks(scenes):
    paths, truth = scenes
    nodata = int(truth[0, 0, 0, 0])  # a value the files hold
    vds = mosaic(paths, pattern=r"_(?P<date>\d{8})\.rumi$", nodata=nodata)
    meta = json.loads(to_kerchunk(vds)["refs"]["band_data/zarr.json"])
    assert meta["fill_value"] == nodata  # the missing file reads as nodata
    ds = open_default(to_kerchunk(vds))
    want = truth.copy()
    want[1, :, H:, 2 * W :] = nodata
    np.testing.assert_array_equal(ds.band_data.values, _masked(want, nodata))
    assert ds.band_data.encoding["_FillValue"] == nodata


def test_fill_value_keeps_its_meaning_beside_nodata(scenes):
    paths, truth = scenes
    vds = mosaic(paths, pattern=r"_(?P<date>\d{8})\.rumi$", nodata=5000, fill_value=7)
    ds = open_default(to_kerchunk(vds))
    want = truth.copy()
    want[1, :, H:, 2 * W :] = 7  # truth < 5000: nothing else is masked
    np.testing.assert_array_equal(ds.band_data.values, want.astype(np.float32))


def test_nodata_through_icechunk(scenes, tmp_path):
    pytest.importorskip("icechunk")
    paths, truth = scenes
    vds = mosaic(paths, pattern=r"_(?P<date>\d{8})\.rumi$", nodata=0)
    ds = through_icechunk(
        lambda store: to_icechunk(vds, store), Path(paths[0]).parent, tmp_path / "repo"
    )
    want = truth.copy()
    want[1, :, H:, 2 * W :] = 0
    np.testing.assert_array_equal(ds.band_data.values, _masked(want, 0))


def _aligned(tmp_path, count=3):
    data = np.random.default_rng(6).integers(0, 9, (2, 64, 64 * count), dtype=np.uint16)
    paths = [
        write(
            tmp_path / f"{j}.rumi",
            data[:, :, j * 64 : (j + 1) * 64],
            transform=_transform(0, j, 64, 64),
        )
        for j in range(count)
    ]
    return paths, data


def test_nodata_in_zarr_v2_is_the_fill_value(tmp_path):
    paths, data = _aligned(tmp_path)
    vds = mosaic([paths[0], paths[2]], nodata=3)
    zarray = json.loads(to_kerchunk(vds, 2)["refs"]["band_data/.zarray"])
    assert zarray["fill_value"] == 3
    want = data.copy()
    want[:, :, 64:128] = 3
    np.testing.assert_array_equal(
        open_default(to_kerchunk(vds, 2), 2).band_data.values, _masked(want, 3)
    )


def test_zarr_v2_cannot_hold_nodata_and_another_fill_value(tmp_path):
    paths, _ = _aligned(tmp_path)
    vds = mosaic([paths[0], paths[2]], nodata=3, fill_value=0)
    with pytest.raises(RumiVirtualError, match="nodata 3 and fill_value 0"):
        to_kerchunk(vds, 2)
    to_kerchunk(mosaic(paths, nodata=3, fill_value=0), 2)  # nothing missing: no conflict


def test_zarr_v2_warns_that_a_fill_value_without_nodata_is_masked(tmp_path):
    paths, _ = _aligned(tmp_path)
    with pytest.warns(RumiVirtualWarning, match="nodata=7"):
        zarray = json.loads(
            to_kerchunk(mosaic([paths[0], paths[2]], fill_value=7), 2)["refs"]["band_data/.zarray"]
        )
    assert zarray["fill_value"] == 7
    zarray = json.loads(to_kerchunk(mosaic([paths[0], paths[2]]), 2)["refs"]["band_data/.zarray"])
    assert zarray["fill_value"] is None


@pytest.mark.parametrize(
    ("keyword", "value"),
    [("nodata", 70000), ("nodata", -1), ("nodata", 1.5), ("fill_value", float("nan"))],
)
def test_out_of_range_values_name_the_value_and_the_dtype(tmp_path, keyword, value):
    paths, _ = _aligned(tmp_path, 1)
    with pytest.raises(ValueError, match=rf"{keyword}={value!r} .*uint16"):
        mosaic(paths, **{keyword: value})


def test_entries_must_agree_on_nodata(tmp_path):
    paths, _ = _aligned(tmp_path)
    entries = [
        Entry(source_url(p), *describe_file(p, None, None), nodata=n)
        for p, n in zip(paths, (3, 3, 4), strict=True)
    ]
    with pytest.raises(RumiVirtualError, match=r"2\.rumi declares nodata 4"):
        mosaic(entries)
    assert mosaic(entries, nodata=4).array.nodata == 4  # given explicitly: no check
    assert mosaic(entries[:2]).array.nodata == 3


# ----------------------------------------------------------------- a date in the names


@pytest.fixture(scope="module")
def dated(tmp_path_factory):
    """The docs' example: a 2 x 2 grid of clipped scenes on 2 dates, in names and instants."""
    d = tmp_path_factory.mktemp("dated")
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 10_000, (2, 2, 600, 560), dtype=np.uint16)
    paths = []
    for t, day in enumerate(("2024-06-01", "2024-06-11")):
        for row in range(2):
            for col in range(2):
                pixels = truth[t, :, row * 300 : (row + 1) * 300, col * 280 : (col + 1) * 280]
                transform = (
                    10.0,
                    0.0,
                    400_000.0 + col * 2800.0,
                    0.0,
                    -10.0,
                    5_000_000.0 - row * 3000.0,
                )
                paths.append(
                    write(
                        d / f"T{row}{col}_{day.replace('-', '')}.rumi",
                        pixels,
                        transform=transform,
                        tile=128,
                        time=day,
                    )
                )
    return paths, truth


def test_a_date_group_and_the_instants_give_one_dimension(dated):
    paths, truth = dated
    ds = open_default(to_kerchunk(mosaic(paths, pattern=r"_(?P<date>\d{8})\.rumi$")))
    assert ds.band_data.dims == ("date", "band", "y", "x")
    np.testing.assert_array_equal(ds.date.values, [20240601, 20240611])
    assert ds.time.dims == ("date",)
    np.testing.assert_array_equal(
        ds.time.values, np.array(["2024-06-01", "2024-06-11"], "datetime64[ns]")
    )
    np.testing.assert_array_equal(ds.band_data.values, truth)
    one = xr.open_dataset(paths[-1], engine="rumi")
    np.testing.assert_array_equal(
        ds.band_data.isel(date=1, y=slice(300, 600), x=slice(280, 560)).values, one.band_data.values
    )


def test_a_group_that_restates_the_place_is_folded_into_it(dated):
    """Tile names (one value per place, one row or column per value) are no dimension."""
    paths, truth = dated
    vds = mosaic(paths, pattern=r"/T(?P<row>\d)(?P<col>\d)_")
    assert vds.array.dims == ("time", "band", "y", "x")
    assert to_kerchunk(vds) == to_kerchunk(mosaic(paths))
    ds = open_default(to_kerchunk(vds))
    assert ds.time.dims == ("time",)
    np.testing.assert_array_equal(ds.band_data.values, truth)


def test_a_place_group_that_disagrees_with_the_transforms_is_refused(dated):
    """One value per place, but each value at two rows and two columns: no tile name."""
    paths, _ = dated
    checker = {"00": "a", "11": "a", "01": "b", "10": "b"}
    with pytest.raises(
        RumiVirtualError,
        match=r"pattern group 'tile' only restates where the files lie .* 'a' \(e\.g\. "
        r".*T00_20240601\.rumi\) names files in 2 rows .*Drop the group from the pattern",
    ):
        mosaic(paths, pattern=r"/T(?P<tile>\d\d)_", categories={"tile": checker})


def test_mosaic_times_use_the_one_epoch(dated):
    refs = to_kerchunk(mosaic(dated[0]))["refs"]
    attrs = json.loads(refs["time/zarr.json"])["attributes"]
    assert attrs["units"] == CF_TIME_UNITS
    assert json.loads(refs["time/zarr.json"])["data_type"] == "int64"


# ------------------------------------------- several file groups: an earthbigdata-shaped set

TILE = r"(?P<lat>[NS]\d\d)(?P<lon>[EW]\d\d\d)_"
N = 20  # pixels per degree: one-degree tiles of 20 x 20 pixels in frames of 16 (clipped)
TILES = {(0, 0): "N01E010", (0, 1): "N01E011", (1, 0): "N00E010", (1, 1): "N00E011"}
MODES = {  # name of each file after its tile name, by mode; and the mode's sample type
    "COH": (
        [
            f"{s}_{p}_COH{k}"
            for s in ("summer", "winter")
            for p in ("vh", "vv")
            for k in ("12", "24")
        ],
        np.uint8,
    ),
    "AMP": ([f"{s}_{p}_AMP" for s in ("fall", "summer") for p in ("vh", "vv")], np.uint16),
    "inc": (["041_inc", "114_inc"], np.float32),
}
MISSING = ("N00E011_winter_vv_COH24", "N01E010_fall_vh_AMP", "N00E010_114_inc")


def _tile_transform(r: int, c: int) -> tuple[float, ...]:
    return (1 / N, 0.0, 10.0 + c, 0.0, -1 / N, 2.0 - r)


@pytest.fixture(scope="module")
def ebd(tmp_path_factory):
    """2 x 2 one-degree tiles in EPSG:4326 named like earthbigdata's (N01E010, ...), in
    three modes with their own name patterns, sample types and dimensions; one file of
    each mode is missing. Returns the paths per mode and the pixels per file name."""
    d = tmp_path_factory.mktemp("ebd")
    rng = np.random.default_rng(11)
    paths: dict[str, list[str]] = {mode: [] for mode in MODES}
    truth: dict[str, np.ndarray] = {}
    for (r, c), tile in TILES.items():
        for mode, (kinds, dtype) in MODES.items():
            for kind in kinds:
                name = f"{tile}_{kind}"
                if name in MISSING:
                    continue  # reads as the fill value
                data = (rng.random((1, N, N)) * 200).astype(dtype)
                path = write(
                    d / f"{name}.rumi", data, transform=_tile_transform(r, c), crs=4326, tile=16
                )
                paths[mode].append(path)
                truth[name] = data[0]
    return paths, truth


def _ebd_groups(paths):
    return {
        "COH": FileGroup(
            paths["COH"],
            pattern=TILE + r"(?P<season>[a-z]+)_(?P<polarization>v[vh])_COH(?P<coherence>\d+)",
        ),
        "AMP": FileGroup(
            paths["AMP"], pattern=TILE + r"(?P<season>[a-z]+)_(?P<polarization>v[vh])_AMP"
        ),
        "inc": FileGroup(paths["inc"], pattern=TILE + r"(?P<orbit>\d+)_inc", fill_value=-1),
    }


def _stitched(truth, mode, dims, name, fill):
    """One mode's mosaic stitched with NumPy; ``name(*values)`` is a file's name after its tile."""
    shape = tuple(len(values) for values in dims)
    out = np.full((*shape, 1, 2 * N, 2 * N), fill, MODES[mode][1])
    for index in np.ndindex(*shape):
        kind = name(*(values[i] for values, i in zip(dims, index, strict=True)))
        for (r, c), tile in TILES.items():
            if f"{tile}_{kind}" in truth:
                where = (*index, 0, slice(r * N, (r + 1) * N), slice(c * N, (c + 1) * N))
                out[where] = truth[f"{tile}_{kind}"]
    return out


def test_file_groups_become_the_variables_of_one_dataset(ebd, tmp_path):
    """Each mode its own dimensions (shared ones take the union of their values), tile
    names folded into the placement, missing files as the fill value; one reference set
    and one Icechunk store, read whole and equal to the stitched files."""
    paths, truth = ebd
    vds = mosaic(_ebd_groups(paths))
    assert vds.arrays["COH"].dims == ("season", "polarization", "coherence", "band", "y", "x")
    assert vds.arrays["AMP"].dims == ("season", "polarization", "band", "y", "x")
    assert vds.arrays["inc"].dims == ("orbit", "band", "y", "x")
    assert vds.attrs["rumi_mosaic_files"] == sum(len(p) for p in paths.values())
    seasons, pols = ["fall", "summer", "winter"], ["vh", "vv"]  # seasons: COH's and AMP's
    want = {
        "COH": _stitched(truth, "COH", [seasons, pols, [12, 24]], "{}_{}_COH{}".format, 0),
        "AMP": _stitched(truth, "AMP", [seasons, pols], "{}_{}_AMP".format, 0),
        "inc": _stitched(truth, "inc", [[41, 114]], "{:03d}_inc".format, -1),
    }
    root = Path(paths["COH"][0]).parent
    for ds in (
        open_default(to_kerchunk(vds)),
        through_icechunk(lambda store: to_icechunk(vds, store), root, tmp_path / "repo"),
    ):
        assert set(ds.data_vars) == {"COH", "AMP", "inc"}
        assert ds.season.values.tolist() == seasons and ds.orbit.values.tolist() == [41, 114]
        np.testing.assert_allclose(ds.x.values, 10 + (np.arange(2 * N) + 0.5) / N)
        np.testing.assert_allclose(ds.y.values, 2 - (np.arange(2 * N) + 0.5) / N)
        for mode, values in want.items():
            np.testing.assert_array_equal(ds[mode].values, values, err_msg=mode)


def test_a_group_whose_tile_names_disagree_with_its_files_is_refused(ebd):
    paths, _ = ebd
    checker = {"N01E010": "a", "N01E011": "b", "N00E010": "b", "N00E011": "a"}
    groups = {
        **_ebd_groups(paths),
        "inc": FileGroup(
            paths["inc"], pattern=r"(?P<tile>[NS]\d\d[EW]\d+)_", categories={"tile": checker}
        ),
    }
    with pytest.raises(RumiVirtualError, match=r"pattern group 'tile' only restates where"):
        mosaic(groups)


def test_file_groups_must_share_the_pixel_grid(tmp_path):
    geographic = write(
        tmp_path / "g.rumi",
        np.zeros((1, N, N), np.float32),
        transform=_tile_transform(0, 0),
        crs=4326,
        tile=16,
    )
    projected = write(tmp_path / "p.rumi", np.zeros((1, N, N), np.uint16), tile=16)
    groups = {"inc": FileGroup([geographic]), "AMP": FileGroup([projected])}
    with pytest.raises(
        RumiVirtualError, match=r"p\.rumi \(file group 'AMP'\) differs from .* in crs"
    ):
        mosaic(groups)
    with pytest.raises(TypeError, match="per FileGroup"):
        mosaic(groups, pattern="x")


def test_a_group_with_other_band_texts_gets_its_own_band_dimension(tmp_path):
    da = xr.DataArray(np.arange(128, dtype=np.uint16).reshape(2, 8, 8), dims=("band", "y", "x"))
    transform = (10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)
    for name, bands in (("a", ["B1", "B2"]), ("b", ["VV", "VH"])):
        to_rumi(
            da,
            tmp_path / f"{name}.rumi",
            tile=8,
            transform=transform,
            crs=32633,
            bands=bands,
            time=["2024-01-01"],
        )
    groups = {
        "optical": FileGroup([str(tmp_path / "a.rumi")]),
        "radar": FileGroup([str(tmp_path / "b.rumi")]),
    }
    vds = mosaic(groups)
    assert vds.arrays["radar"].dims == ("radar_band", "y", "x")
    ds = open_default(to_kerchunk(vds))
    assert ds.band.values.tolist() == ["B1", "B2"] and ds.radar_band.values.tolist() == ["VV", "VH"]
    np.testing.assert_array_equal(ds.radar.values, da.values)
    np.testing.assert_array_equal(ds.optical.values, da.values)


def test_a_chunk_grid_past_the_limit_is_refused_naming_its_dimensions(dated, monkeypatch):
    import rumi_xarray.virtual.mosaic as module

    monkeypatch.setattr(module, "MAX_CHUNKS", 10)
    with pytest.raises(
        RumiVirtualError, match=r"would hold 144 chunks .*'time': 2, 'band': 2, 'y': 6"
    ):
        mosaic(dated[0])
