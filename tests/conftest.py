"""pytest fixtures shared by every test module."""

from __future__ import annotations

import pytest
from _fixtures import FIXTURES, Fixture, fixture_id


@pytest.fixture(params=FIXTURES, ids=fixture_id)
def fixture(request: pytest.FixtureRequest) -> Fixture:
    """Each real file written by rumi-eo 0.26.1 and 0.16.0."""
    return request.param


@pytest.fixture(autouse=True)
def _empty_frame_cache() -> None:
    """Every test starts with an empty decoded-frame cache, whatever ran before it."""
    from rumi_xarray.cache import frame_cache

    frame_cache().clear()
