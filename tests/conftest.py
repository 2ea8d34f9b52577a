"""pytest fixtures shared by every test module."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from _fixtures import FIXTURES, Fixture, fixture_id

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rumi_xarray.testing import FaultServer


@pytest.fixture(params=FIXTURES, ids=fixture_id)
def fixture(request: pytest.FixtureRequest) -> Fixture:
    """Each real file written by rumi-eo 0.26.1 and 0.16.0."""
    return request.param


@pytest.fixture(autouse=True)
def _empty_frame_cache() -> None:
    """Every test starts with an empty decoded-frame cache, whatever ran before it."""
    from rumi_xarray.cache import frame_cache

    frame_cache().clear()


@pytest.fixture(scope="module")
def remote_scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, np.ndarray, bytes]:
    """The file, pixels and header blob of a 2-band 1024² uint16 scene (tile 256, ~4 MB, so
    its trailer lies far past the first 64 KiB) that the remote tests serve."""
    import xarray as xr

    from rumi_xarray.write.to_rumi import to_rumi

    pixels = np.random.default_rng(7).integers(0, 60000, (2, 1024, 1024), dtype=np.uint16)
    path = tmp_path_factory.mktemp("remote") / "scene.rumi"
    blob = to_rumi(
        xr.DataArray(pixels, dims=("band", "y", "x")),
        path,
        tile=256,
        time=["2024-01-01"],
        bands=["red", "nir"],
        crs=32633,
        transform=(10, 0, 500000, 0, -10, 6000000),
    )
    return path.read_bytes(), pixels, blob


@pytest.fixture
def remote_srv(remote_scene: tuple[bytes, np.ndarray, bytes]) -> Iterator[FaultServer]:
    """:data:`remote_scene` served as ``scene.rumi`` by a fault-injecting local server."""
    from rumi_xarray.testing import serve

    with serve({"scene.rumi": remote_scene[0]}) as server:
        yield server


@pytest.fixture
def no_frame_cache() -> Iterator[None]:
    """The decoded-frame cache off during the test (every read decodes), its bound then restored."""
    from rumi_xarray.cache import set_frame_cache

    bound = set_frame_cache(0)
    yield
    set_frame_cache(bound)
