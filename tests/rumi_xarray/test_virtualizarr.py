"""VirtualiZarr 2.8: RumiParser meets the parser protocol; v2 and v3 kerchunk and Icechunk."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr
from _fixtures import fixture_id
from _virtual import (
    SUPPORTED,
    assert_same_dataset,
    open_default,
    open_refs,
    through_icechunk,
    write,
)

from rumi_xarray import RumiVirtualWarning
from rumi_xarray.coords import CF_CALENDAR, CF_TIME_UNITS
from rumi_xarray.virtual.virtualizarr_ import RumiParser

virtualizarr = pytest.importorskip("virtualizarr")
obstore = pytest.importorskip("obstore")

# The parser warns about VirtualiZarr's Zarr v2 writer for most files; the tests of
# that warning record it, the others do not care.
pytestmark = pytest.mark.filterwarnings("ignore::rumi_xarray.RumiVirtualWarning")


@pytest.fixture(scope="module")
def registry():
    from obspec_utils.registry import ObjectStoreRegistry
    from obstore.store import LocalStore

    return ObjectStoreRegistry({"file://": LocalStore()})


def test_parser_meets_the_protocol():
    from virtualizarr.parsers.typing import Parser

    assert isinstance(RumiParser(), Parser)


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("fx", SUPPORTED, ids=fixture_id)
def test_every_fixture_round_trips_through_kerchunk(fx, registry, zarr_format):
    url = "file://" + str(fx.path.resolve())
    vds = virtualizarr.open_virtual_dataset(url, registry=registry, parser=RumiParser())
    refs = vds.vz.to_kerchunk(format="dict", zarr_format=zarr_format)
    assert_same_dataset(open_refs(refs, zarr_format), xr.open_dataset(fx.path, engine="rumi"))


def _parse(fx, registry):
    """The virtual dataset of a fixture and the RumiVirtualWarnings its parsing gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vds = virtualizarr.open_virtual_dataset(
            "file://" + str(fx.path.resolve()), registry=registry, parser=RumiParser()
        )
    return vds, [w for w in caught if issubclass(w.category, RumiVirtualWarning)]


def _written(vds, writer, fx, tmp_path, **kwargs):
    """Write ``vds`` with one of VirtualiZarr's writers; open it with ``kwargs`` decoding."""
    if writer == "icechunk":
        pytest.importorskip("icechunk")
        return through_icechunk(
            lambda store: vds.vz.to_icechunk(store), fx.path.parent, tmp_path / "repo"
        )
    if writer == "v2 parquet":
        vds.vz.to_kerchunk(str(tmp_path / "p"), format="parquet")
        fo, zarr_format, options = str(tmp_path / "p"), 2, {"remote_protocol": "file"}
    else:
        zarr_format = 3 if writer == "v3 json" else 2
        fo, options = vds.vz.to_kerchunk(format="dict", zarr_format=zarr_format), {}
    if not kwargs:
        return open_default(fo, zarr_format, **options)
    return xr.open_dataset(
        "reference://",
        engine="zarr",
        chunks={},
        consolidated=False,
        zarr_format=zarr_format,
        storage_options={"fo": fo, **options},
        **kwargs,
    )


@pytest.mark.parametrize("writer", ["v3 json", "icechunk", "v2 json", "v2 parquet"])
@pytest.mark.parametrize("fx", SUPPORTED, ids=fixture_id)
def test_default_decoding_is_exact_or_warned(fx, registry, writer, tmp_path):
    """Zarr v3 JSON and Icechunk are exact under xarray's default decoding; Zarr v2 is
    exact where the parser does not warn, and where it warns the fix it names works."""
    want = xr.open_dataset(fx.path, engine="rumi")
    vds, caught = _parse(fx, registry)
    scalars = any(not c.shape for c in want.coords.values())
    assert bool(caught) == (scalars or want.band_data.dtype.kind not in "fc")
    if caught:
        message = str(caught[0].message)
        assert "zarr_format=3" in message and "mask_and_scale=False" in message
    if writer.startswith("v2") and caught:
        assert_same_dataset(_written(vds, writer, fx, tmp_path, mask_and_scale=False), want)
    else:
        assert_same_dataset(_written(vds, writer, fx, tmp_path), want)


def test_equal_edge_remainders_through_virtualizarr(tmp_path, registry):
    data = np.random.default_rng(0).integers(0, 60000, (2, 100, 100), dtype=np.uint16)
    path = write(tmp_path / "a.rumi", data, tile=64)
    vds = virtualizarr.open_virtual_dataset(
        f"file://{path}", registry=registry, parser=RumiParser()
    )
    refs = vds.vz.to_kerchunk(format="dict", zarr_format=2)
    np.testing.assert_array_equal(open_refs(refs, 2).band_data.values, data)


def test_open_virtual_mfdataset_stacks_files(tmp_path, registry):
    stack = np.random.default_rng(1).integers(0, 999, (3, 2, 128, 128), dtype=np.uint16)
    urls = [
        f"file://{write(tmp_path / f'd{i}.rumi', stack[i], time=f'2024-01-0{i + 1}')}"
        for i in range(3)
    ]
    vds = virtualizarr.open_virtual_mfdataset(
        urls,
        registry=registry,
        parser=RumiParser(),
        combine="nested",
        concat_dim="time",
        coords="minimal",
        compat="override",
        loadable_variables=["time", "x", "y", "band", "spatial_ref"],
    )
    refs = vds.vz.to_kerchunk(format="dict", zarr_format=3)
    ds = open_default(refs)
    np.testing.assert_array_equal(ds.band_data.values, stack)
    assert ds.time.values.astype("datetime64[D]").astype(str).tolist() == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
    ]
    attrs = json.loads(refs["refs"]["time/zarr.json"])["attributes"]
    assert (attrs["units"], attrs["calendar"]) == (CF_TIME_UNITS, CF_CALENDAR)


def test_to_icechunk(tmp_path, registry):
    icechunk = pytest.importorskip("icechunk")
    data = np.random.default_rng(2).integers(0, 999, (2, 100, 100), dtype=np.uint16)
    path = write(tmp_path / "a.rumi", data, tile=64)
    vds = virtualizarr.open_virtual_dataset(
        f"file://{path}", registry=registry, parser=RumiParser()
    )
    root = f"file://{tmp_path}/"
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(
        icechunk.VirtualChunkContainer(root, icechunk.local_filesystem_store(str(tmp_path)))
    )
    repo = icechunk.Repository.create(
        icechunk.local_filesystem_storage(str(tmp_path / "repo")),
        config,
        authorize_virtual_chunk_access={root: icechunk.credentials.LocalFileSystemAccess},
    )
    session = repo.writable_session("main")
    vds.vz.to_icechunk(session.store)
    session.commit("one file")
    ds = xr.open_zarr(repo.readonly_session("main").store, consolidated=False, zarr_format=3)
    np.testing.assert_array_equal(ds.band_data.values, data)
