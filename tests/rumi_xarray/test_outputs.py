"""Writing a virtual dataset (``rumi_xarray.virtual.outputs``): Parquet references from the
manifest's arrays, and Icechunk in bulk, in one commit or in many; each read back whole."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from _virtual import open_refs, write

from rumi_xarray.errors import RumiVirtualError
from rumi_xarray.virtual.model import enable_rectilinear
from rumi_xarray.virtual.mosaic import mosaic
from rumi_xarray.virtual.outputs import (
    manifest_splitting,
    to_icechunk,
    to_kerchunk,
    write_references,
)

H = W = 64  # multiples of the tile: a regular grid, which Zarr v2 (Parquet) needs


@pytest.fixture(scope="module")
def aligned(tmp_path_factory):
    """A 2 x 3 grid of files on 2 dates (one file missing) and the stitched truth."""
    d = tmp_path_factory.mktemp("aligned")
    truth = np.random.default_rng(5).integers(0, 9999, (2, 2, 2 * H, 3 * W), dtype=np.uint16)
    paths = []
    for t in range(2):
        for i in range(2):
            for j in range(3):
                if (t, i, j) == (1, 0, 2):
                    truth[t, :, :H, 2 * W :] = 0
                    continue
                transform = (10.0, 0.0, 500000.0 + j * W * 10, 0.0, -10.0, 4000000.0 - i * H * 10)
                tile = truth[t, :, i * H : (i + 1) * H, j * W : (j + 1) * W]
                name = d / f"s_{i}{j}_2024010{t + 1}.rumi"
                paths.append(write(name, tile, transform=transform, tile=32))
    return d, mosaic(paths, pattern=r"_(?P<date>\d{8})\.rumi$"), truth


def _open_parquet(path) -> xr.Dataset:
    return xr.open_dataset(
        "reference://",
        engine="zarr",
        chunks={},
        consolidated=False,
        zarr_format=2,
        mask_and_scale=False,
        storage_options={"fo": str(path), "remote_protocol": "file"},
    )


@pytest.mark.parametrize("record_size", [100_000, 7])
def test_parquet_references_from_the_arrays_read_as_kerchunks(aligned, tmp_path, record_size):
    """Written from the manifest (records without a present chunk left out), they read as
    the references kerchunk's own writer makes of the same dataset, and as the files."""
    _, vds, truth = aligned
    write_references(vds, str(tmp_path / "ours"), format="parquet", record_size=record_size)
    refs = to_kerchunk(vds, 2)
    write_references(refs, str(tmp_path / "kerchunk"), format="parquet", record_size=record_size)
    ours, theirs = _open_parquet(tmp_path / "ours"), _open_parquet(tmp_path / "kerchunk")
    np.testing.assert_array_equal(ours.band_data.values, truth)
    xr.testing.assert_identical(ours.load(), theirs.load())
    xr.testing.assert_identical(ours, open_refs(refs, 2).load())
    records = sorted(p.name for p in (tmp_path / "ours" / "band_data").iterdir())
    assert len(records) == -(-vds.array.files.size // record_size)


def test_parquet_references_refuse_rectilinear_grids(tmp_path):
    clipped = write(tmp_path / "c.rumi", np.zeros((1, 40, 40), np.uint16), tile=32)
    with pytest.raises(RumiVirtualError, match="rectilinear"):
        write_references(mosaic([clipped]), str(tmp_path / "p"), format="parquet")


def test_json_references_of_a_dataset_are_to_kerchunks(aligned, tmp_path):
    _, vds, truth = aligned
    write_references(vds, str(tmp_path / "refs.json"))
    ds = open_refs(str(tmp_path / "refs.json"))
    np.testing.assert_array_equal(ds.band_data.values, truth)


def _repository(root, path, splitting=None):
    import icechunk

    prefix = f"file://{root.resolve()}/"
    config = icechunk.RepositoryConfig.default()
    if splitting is not None:
        config.manifest = icechunk.ManifestConfig(splitting=splitting)
    config.set_virtual_chunk_container(
        icechunk.VirtualChunkContainer(prefix, icechunk.local_filesystem_store(str(root)))
    )
    access = {prefix: icechunk.credentials.LocalFileSystemAccess}
    storage = icechunk.local_filesystem_storage(str(path))
    return icechunk.Repository.create(storage, config, authorize_virtual_chunk_access=access)


@pytest.mark.parametrize("chunks_per_commit", [None, 5, 24])
def test_icechunk_commits_from_a_repository(aligned, tmp_path, chunks_per_commit):
    """Into a repository: one commit, or one per slab of at most ``chunks_per_commit``
    chunk references (with manifests split to match); the same dataset either way."""
    root, vds, truth = aligned
    splitting = None if chunks_per_commit is None else manifest_splitting(vds, chunks_per_commit)
    repo = _repository(root, tmp_path / "repo", splitting)
    snapshot = to_icechunk(vds, repo, message="tiles", chunks_per_commit=chunks_per_commit)
    history = [s.message for s in repo.ancestry(branch="main")][::-1]
    assert snapshot == repo.lookup_branch("main")
    if chunks_per_commit is None:
        assert history[1:] == ["tiles"]
    else:  # at least chunks_per_commit references a commit, but the last
        present = int((vds.array.files >= 0).sum())
        assert 1 < len(history) - 1 <= -(-present // chunks_per_commit)
        assert history[1:] == [f"tiles (part {k})" for k in range(1, len(history))]
    enable_rectilinear()
    store = repo.readonly_session("main").store
    ds = xr.open_zarr(store, consolidated=False, zarr_format=3, chunks={})
    np.testing.assert_array_equal(ds.band_data.values, truth)
    np.testing.assert_array_equal(ds.date.values, [20240101, 20240102])


def test_commits_need_a_repository(aligned):
    _, vds, _ = aligned
    with pytest.raises(TypeError, match=r"icechunk\.Repository"):
        to_icechunk(vds, object(), chunks_per_commit=10)
