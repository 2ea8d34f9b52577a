"""Remote-read benchmark: request counts and latency over a local latency-injecting server.

Run from the repository root (about 20 s)::

    uv run python benchmarks/remote.py

Everything is served by :func:`rumi_xarray.testing.serve` on 127.0.0.1 and counted there:

* **Request counts** for opening one scene and reading one 256x256 chip of every band,
  30 ms per request: ours without a header blob and with one (either way the first GET is
  multi-range: the file's start and its trailer; and with a blob and ``multirange=False``,
  what hosts that refuse several ranges get, such as S3 over HTTPS), and from a catalog row;
  GDAL
  ``/vsicurl/`` (rasterio) on a COG of the same pixels (tiled 512, zstd) with the usual
  cloud settings (``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR``, no cache of earlier runs).
* **Scattered frames**: 64 frames that no coalescing merges (the reader's ``max_gap`` set
  to 0, every other frame of a file), 100 ms per request, in alternating rounds against the
  same read limited to 2 requests in flight (what the 2 decoding threads gave before).

Each result is checked value for value against the array written.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR")
os.environ.setdefault("CPL_VSIL_CURL_USE_HEAD", "YES")

import numpy as np
import xarray as xr

from rumi_xarray.cache import set_frame_cache
from rumi_xarray.decode import describe_file, read_window
from rumi_xarray.io import open_reader
from rumi_xarray.remote import set_remote
from rumi_xarray.testing import FaultServer, serve
from rumi_xarray.virtual.entries import Entry
from rumi_xarray.write.to_rumi import to_rumi

SHAPE = (4, 2048, 2048)
CHIP = (slice(None), slice(768, 1024), slice(1280, 1536))
"""A 256x256 chip of every band, inside one 512 tile."""
TRANSFORM = (10.0, 0.0, 500000.0, 0.0, -10.0, 6000000.0)


def _pixels() -> np.ndarray:
    """Smooth-ish uint16 noise: compresses a little, like real reflectances."""
    rng = np.random.default_rng(12)
    base = rng.integers(0, 4000, SHAPE, dtype=np.uint16)
    return (base // 8 * 8 + np.arange(SHAPE[2], dtype=np.uint16) % 8).astype(np.uint16)


def _write(folder: Path, pixels: np.ndarray) -> tuple[bytes, bytes, bytes]:
    """The rumi file, its header blob, and a COG of the same pixels."""
    import rasterio
    from rasterio.transform import Affine

    da = xr.DataArray(pixels, dims=("band", "y", "x"))
    blob = to_rumi(
        da, folder / "scene.rumi", tile=512, time=["2024-06-01"], crs=32633, transform=TRANSFORM
    )
    profile = {
        "driver": "COG",
        "count": SHAPE[0],
        "height": SHAPE[1],
        "width": SHAPE[2],
        "dtype": "uint16",
        "crs": "EPSG:32633",
        "transform": Affine(*TRANSFORM),
        "blocksize": 512,
        "compress": "zstd",
        "overviews": "none",
    }
    with rasterio.open(folder / "scene.tif", "w", **profile) as dst:
        dst.write(pixels)
    return (folder / "scene.rumi").read_bytes(), blob, (folder / "scene.tif").read_bytes()


def _ours(
    srv: FaultServer, source: Any, header: bytes | None, **options: Any
) -> tuple[np.ndarray, int, int]:
    srv.reset()
    storage = {"rumi": options} if options else None
    with xr.open_dataset(source, engine="rumi", header=header, storage_options=storage) as ds:
        opened = srv.count()
        chip = ds.band_data[CHIP].values
    return chip, opened, srv.count()


def _gdal(srv: FaultServer, cog: bytes, name: str) -> tuple[np.ndarray, int, int]:
    """Under a new name each time: GDAL keeps what ``/vsicurl/`` read of a URL per process."""
    import rasterio
    from rasterio.windows import Window

    srv.put(name, cog)
    srv.reset()
    with rasterio.Env(GDAL_CACHEMAX=0), rasterio.open("/vsicurl/" + srv.url(name)) as src:
        opened = srv.count()
        y, x = CHIP[1], CHIP[2]
        chip = src.read(window=Window(x.start, y.start, x.stop - x.start, y.stop - y.start))
    return chip, opened, srv.count()


def request_counts(
    folder: Path, pixels: np.ndarray, rounds: int = 5
) -> list[tuple[str, int, int, int, float]]:
    """``(who, requests to open, requests in all, HEADs, min seconds)`` per way of reading.

    The ways alternate, round after round; the first round only warms up (imports,
    sessions, PROJ).
    """
    data, blob, cog = _write(folder, pixels)
    row = Entry("", describe_file(data)[0], len(data))
    names = iter(range(10**6))
    with serve({"scene.rumi": data}, latency=0.03) as srv:
        url = srv.url("scene.rumi")
        ways = {
            "rumi, no header blob": lambda: _ours(srv, url, None),
            "rumi, header blob": lambda: _ours(srv, url, blob),
            "rumi, header blob, one range a GET": lambda: _ours(srv, url, blob, multirange=False),
            "rumi, catalog row": lambda: _ours(srv, Entry(url, row.desc, row.nbytes), None),
            "GDAL /vsicurl/, COG": lambda: _gdal(srv, cog, f"scene-{next(names)}.tif"),
        }
        results: dict[str, tuple[int, int, int, list[float]]] = {}
        for round_ in range(rounds + 1):
            for who, way in ways.items():
                start = time.perf_counter()
                chip, opened, total = way()
                seconds = time.perf_counter() - start
                assert np.array_equal(chip, pixels[CHIP]), who
                times = results.get(who, (0, 0, 0, []))[3]
                results[who] = (opened, total, srv.count("HEAD"), times + [seconds] * (round_ > 0))
    return [(who, o, t, h, min(s)) for who, (o, t, h, s) in results.items()]


def scattered(folder: Path, rounds: int = 3) -> dict[str, list[float]]:
    """Seconds to read 64 uncoalesced frames at 100 ms a request: 32 in flight vs 2."""
    pixels = np.random.default_rng(3).integers(0, 65535, (128, 64, 64), dtype=np.uint16)
    to_rumi(
        xr.DataArray(pixels, dims=("band", "y", "x")),
        folder / "frames.rumi",
        tile=64,
        time=["2024-01-01"],
    )
    bands = np.arange(0, 128, 2)
    times: dict[str, list[float]] = {"32 in flight": [], "2 in flight": []}
    data = (folder / "frames.rumi").read_bytes()
    desc = describe_file(data)[0]
    with serve({"f.rumi": data}) as srv:
        for _ in range(rounds):
            for name, concurrency in (("32 in flight", 32), ("2 in flight", 2)):
                previous = set_remote(concurrency=concurrency)
                # sized, as from a catalog row: no bytes of the open held, every frame asked
                reader = open_reader(srv.url("f.rumi"), size=len(data), version="bench")
                reader.max_gap = 0
                srv.latency, srv_before = 0.1, srv.count()
                start = time.perf_counter()
                out = read_window(desc, reader, (0, bands, slice(None), slice(None)))
                times[name].append(time.perf_counter() - start)
                assert np.array_equal(out, pixels[bands]) and srv.count() - srv_before == 64
                set_remote(concurrency=previous.concurrency)
    return times


def main() -> None:
    set_frame_cache(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = request_counts(folder, _pixels())
        print("open + one 256x256 chip of 4 bands, 30 ms a request (min of 5 rounds)")
        print(f"{'':36} {'open':>5} {'total':>6} {'HEAD':>5} {'seconds':>8}")
        for who, opened, total, heads, seconds in rows:
            print(f"{who:36} {opened:5d} {total:6d} {heads:5d} {seconds:8.3f}")
        times = scattered(folder)
        print("\n64 uncoalesced frames, 100 ms a request (min / median of 3 rounds)")
        for name, values in times.items():
            print(f"{name:24} {min(values):.3f} / {statistics.median(values):.3f} s")
        ratio = statistics.median(times["2 in flight"]) / statistics.median(times["32 in flight"])
        print(f"{'speed-up':24} {ratio:.1f}x")


if __name__ == "__main__":
    main()
