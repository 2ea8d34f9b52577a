"""``rumi_xarray.sources``: the one describe-many loop and "files agree" check of stacks,
mosaics and catalogs."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from rumi_xarray import to_rumi
from rumi_xarray.backend.stack import AGREE as STACK
from rumi_xarray.errors import RumiVirtualError
from rumi_xarray.sources import FIELDS, check_agree, describe_sources, facts, source_label
from rumi_xarray.virtual.mosaic import AGREE as MOSAIC

TRANSFORM = (10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)


def _write(path: Path, tile: int = 8, transform: tuple[float, ...] = TRANSFORM) -> Path:
    da = xr.DataArray(np.zeros((1, 16, 16), np.uint8), dims=("band", "y", "x"))
    to_rumi(da, path, tile=tile, transform=transform, crs=32633, time=["2024-01-01"])
    return path


def test_every_consumer_uses_the_one_set_of_field_names(tmp_path: Path) -> None:
    desc = describe_sources([_write(tmp_path / "a.rumi")])[0][0]
    assert tuple(facts(desc)) == FIELDS
    assert set(STACK) <= set(FIELDS) and set(MOSAIC) <= set(FIELDS)
    assert [f for f in FIELDS if f in STACK] == list(STACK)  # reported in one order
    assert [f for f in FIELDS if f in MOSAIC] == list(MOSAIC)


def test_the_first_differing_source_and_field_are_named(tmp_path: Path) -> None:
    moved = (10.0, 0.0, 500160.0, 0.0, -10.0, 4000000.0)
    paths = [
        _write(tmp_path / "a.rumi"),
        _write(tmp_path / "b.rumi", transform=moved),
        _write(tmp_path / "c.rumi", tile=16),
    ]
    assert len(describe_sources(paths, agree=MOSAIC[:1])) == 3  # dtype only
    with pytest.raises(RumiVirtualError) as info:
        describe_sources(paths, agree=FIELDS)
    err = info.value
    assert (err.index, err.field, err.expected, err.found) == (1, "transform", TRANSFORM, moved)
    with pytest.raises(RumiVirtualError, match=r"^source 2 \('c'\) differs from source 0 in tile"):
        describe_sources(paths, agree=MOSAIC, labels=["a", "b", "c"])


def test_check_agree_alone(tmp_path: Path) -> None:
    a, b = (
        describe_sources([_write(tmp_path / f"{n}.rumi", tile=t)])[0][0]
        for n, t in (("a", 8), ("b", 16))
    )
    check_agree(1, "b", b, facts(a), ("dtype", "crs"))
    with pytest.raises(RumiVirtualError, match=r"in tile: \(16, 16\) != \(8, 8\)"):
        check_agree(1, "b", b, facts(a), ("dtype", "tile"))


def test_arguments_and_labels(tmp_path: Path) -> None:
    assert describe_sources([]) == []
    with pytest.raises(ValueError, match="1 headers for 2 sources"):
        describe_sources(["a", "b"], [None])
    assert source_label(tmp_path / "x.rumi") == str(tmp_path / "x.rumi")
    assert source_label(b"1234") == "<4 bytes>"
    missing = tmp_path / "missing.rumi"
    with pytest.raises(FileNotFoundError) as info:
        describe_sources([_write(tmp_path / "a.rumi"), missing], what="catalog")
    assert info.value.__notes__ == [f"while opening source 1 ('{missing}') of the catalog"]


def test_local_files_in_the_calling_thread_urls_in_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsing is the cost of local files (no pool); URLs wait on the network (a pool)."""
    import fsspec

    import rumi_xarray.sources

    threads: list[int] = []
    real = rumi_xarray.sources.read_description

    def spy(*args: object, **kwargs: object) -> object:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rumi_xarray.sources, "read_description", spy)
    paths = [_write(tmp_path / f"{i}.rumi") for i in range(3)]
    local = describe_sources(paths)
    assert set(threads) == {threading.get_ident()}
    fs = fsspec.filesystem("memory")
    urls = []
    for path in paths:
        fs.pipe(f"/sources/{path.name}", path.read_bytes())
        urls.append(f"memory://sources/{path.name}")
    threads.clear()
    remote = describe_sources(urls)
    assert threading.get_ident() not in threads
    assert [d.counts.tolist() for d, _ in remote] == [d.counts.tolist() for d, _ in local]
