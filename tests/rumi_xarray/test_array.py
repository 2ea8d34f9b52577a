"""Tests for rumi_xarray.backend.array: ``open_array``, a file as a NumPy-style array."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import xarray as xr
from _fixtures import FIXTURES, Fixture, assert_same_bits

import rumi_xarray
from rumi_xarray import open_array
from rumi_xarray.backend.array import RumiArray


def test_full_read_equals_the_fixture(fixture: Fixture) -> None:
    with open_array(fixture.path) as array:
        expected = fixture.expected()
        with xr.open_dataset(fixture.path, engine="rumi", mask_and_scale=False) as ds:
            assert array.dims == ds["band_data"].dims
        assert array.shape == expected.shape and array.dtype == expected.dtype
        assert_same_bits(array[()], expected)
        assert_same_bits(np.asarray(array), expected)


KEYS = [
    (0,),
    (slice(None), slice(3, 11), slice(None, None, 2)),
    ([1, 0], np.array([5, 0, 9]), -1),
    (np.array([True, False]), slice(None), slice(2, 3)),
    (slice(0, 0),),
]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_outer_indexing_as_isel(key: tuple) -> None:
    fixture = next(f for f in FIXTURES if f.expected().ndim == 3 and f.expected().shape[0] == 2)
    expected = xr.DataArray(fixture.expected(), dims=("band", "y", "x"))
    array = open_array(fixture.path, header=fixture.header)
    isel = dict(zip(("band", "y", "x"), key, strict=False))
    np.testing.assert_array_equal(array[key], expected.isel(isel).values)
    np.testing.assert_array_equal(array.read(**isel), expected.isel(isel).values)
    array.close()


def test_time_axis_and_refusals() -> None:
    fixture = next(f for f in FIXTURES if f.expected().ndim == 4)
    array = open_array(fixture.path)
    assert array.dims == ("time", "band", "y", "x")
    np.testing.assert_array_equal(array[-1, :, 1:4], fixture.expected()[-1, :, 1:4])
    for bad in [(..., 0), (None,), (0, 0, 0, 0, 0), (np.zeros((2, 2), int),)]:
        with pytest.raises(IndexError):
            array[bad]
    with pytest.raises(IndexError, match="out of range"):
        array[array.shape[0]]
    with pytest.raises(ValueError, match="no dimension \\['z'\\]"):
        array.read(z=0)


def test_pickles_and_verifies() -> None:
    fixture = FIXTURES[0]
    array = pickle.loads(pickle.dumps(open_array(fixture.path, verify=True, lock=True)))
    assert isinstance(array, RumiArray) and array.verify
    assert_same_bits(array[()], fixture.expected())
    assert "RumiArray (" in repr(array)
    assert rumi_xarray.open_array is open_array
