"""dask.distributed with worker processes: the backend array travels by pickle and reads there."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from _fixtures import FIXTURES

distributed = pytest.importorskip("distributed")


def test_local_cluster_reduction_equals_numpy() -> None:
    fixture = next(f for f in FIXTURES if f.name == "i16_t4_b3_19x21_u0_bt_tile")
    expected = fixture.expected().astype(np.int64)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        da = xr.open_dataset(fixture.path, engine="rumi", chunks={})["band_data"]
        assert da.data.npartitions == 4 * 3 * 3 * 3
        total = da.astype(np.int64).sum(dim=("y", "x")).compute()
        np.testing.assert_array_equal(total.values, expected.sum(axis=(2, 3)))
        maximum = da.max().compute()
        assert int(maximum) == expected.max()
