"""The small rumi files of the mosaic benchmark (``mosaic.py``, ``scan.py``).

A deterministic grid of adjacent scenes x dates, written once with ``to_rumi`` by a pool
of processes and cached in ``benchmarks/_data/mosaic/``; a marker file records a complete
set, so later runs skip the writing. ``PARAMS`` says what the files are. Also a window
stitched from them file by file, the values the mosaic's reads are checked against.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data" / "mosaic"

# The files: any change here makes a new cached set.
PARAMS: dict[str, Any] = {
    "generator": 2,  # bump when make_scene changes
    "seed": 20240715,
    "scene": 128,  # pixels per side of a full scene
    "edge": [90, 100],  # height of the last row, width of the last column
    "tile": 64,
    "bands": 2,
    "crs": 32633,
    "pixel": 10.0,
    "origin": [300_000.0, 5_100_000.0],  # upper-left corner (x, y)
    "time": "2024-01-01",  # every file's time instant (the date is in its name)
    "dates": [
        "2024-01-01",
        "2024-01-11",
        "2024-01-21",
        "2024-01-31",
        "2024-02-10",
        "2024-02-20",
        "2024-03-01",
        "2024-03-11",
        "2024-03-21",
        "2024-03-31",
    ],
}


def grid_for(files: int) -> tuple[int, int]:
    """Rows and columns of scenes for about ``files`` files (25 x 40 for 10,000)."""
    scenes = max(1, files // len(PARAMS["dates"]))
    rows = max(1, round(math.sqrt(scenes * 5 / 8)))
    return rows, max(1, scenes // rows)


def scene_shape(r: int, c: int, rows: int, cols: int) -> tuple[int, int]:
    """``(height, width)`` of scene ``r, c``: the last row and column are clipped."""
    n = PARAMS["scene"]
    return (PARAMS["edge"][0] if r == rows - 1 else n, PARAMS["edge"][1] if c == cols - 1 else n)


def scene_path(folder: Path, r: int, c: int, d: int) -> Path:
    """The file of scene ``r, c`` on date ``d``: ``T{row:02d}{col:02d}_{YYYYMMDD}.rumi``."""
    return folder / f"T{r:02d}{c:02d}_{PARAMS['dates'][d].replace('-', '')}.rumi"


def make_scene(r: int, c: int, d: int, rows: int, cols: int) -> np.ndarray:
    """``(bands, h, w)`` uint16: a smooth field over the whole mosaic plus seeded noise."""
    n = PARAMS["scene"]
    h, w = scene_shape(r, c, rows, cols)
    y = (r * n + np.arange(h))[:, None].astype(np.float64)
    x = (c * n + np.arange(w))[None, :].astype(np.float64)
    field = np.sin(x / 310.0 + d * 0.3) * np.cos(y / 470.0) + 0.3 * np.sin((x + y) / 57.0)
    rng = np.random.default_rng([PARAMS["seed"], r, c, d])
    out = np.empty((PARAMS["bands"], h, w), np.uint16)
    for b in range(PARAMS["bands"]):
        noise = rng.integers(0, 24, (h, w))
        out[b] = np.clip(1500 + 400 * b + 700 * field + noise, 0, 65535).astype(np.uint16)
    return out


def scene_transform(r: int, c: int) -> tuple[float, ...]:
    """The affine transform (GDAL order) of scene ``r, c``."""
    px, (x0, y0), n = PARAMS["pixel"], PARAMS["origin"], PARAMS["scene"]
    return (px, 0.0, x0 + c * n * px, 0.0, -px, y0 - r * n * px)


def _write_batch(folder: str, jobs: list[tuple[int, int, int]], rows: int, cols: int) -> int:
    """Write the files of ``jobs`` not yet in ``folder`` (in a worker process); how many."""
    from rumi_xarray import to_rumi

    written = 0
    for r, c, d in jobs:
        path = scene_path(Path(folder), r, c, d)
        if path.exists():  # to_rumi renames a complete file into place
            continue
        to_rumi(
            make_scene(r, c, d, rows, cols),
            path,
            tile=PARAMS["tile"],
            frames="band",
            transform=scene_transform(r, c),
            crs=PARAMS["crs"],
            time=[PARAMS["time"]],
            bands=[f"B{b + 1}" for b in range(PARAMS["bands"])],
            progress=False,
            max_workers=1,
        )
        written += 1
    return written


def ensure_files(rows: int, cols: int, workers: int) -> tuple[Path, list[Path]]:
    """Write the files unless a marker says a complete set is cached; their paths."""
    dates = len(PARAMS["dates"])
    key = hashlib.sha256(json.dumps([PARAMS, rows, cols], sort_keys=True).encode())
    folder = DATA / f"r{rows}c{cols}d{dates}-{key.hexdigest()[:10]}"
    jobs = [(r, c, d) for d in range(dates) for r in range(rows) for c in range(cols)]
    paths = [scene_path(folder, r, c, d) for r, c, d in jobs]
    marker = folder / "COMPLETE"
    if marker.exists():
        return folder, paths
    folder.mkdir(parents=True, exist_ok=True)
    print(f"writing {len(jobs):,} files to {folder} with {workers} processes ...", flush=True)
    t0 = time.perf_counter()
    batches = [jobs[i : i + 100] for i in range(0, len(jobs), 100)]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_write_batch, str(folder), b, rows, cols) for b in batches]
        written = sum(f.result() for f in futures)
    marker.write_text(json.dumps({"params": PARAMS, "rows": rows, "cols": cols}))
    dt = time.perf_counter() - t0
    print(f"wrote {written:,} files in {dt:.1f} s ({written / dt:,.0f} files/s)\n", flush=True)
    return folder, paths


def stitched_window(
    folder: Path, rows: int, cols: int, y0: int, x0: int, hy: int, wx: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(bands, hy, wx)`` of date 0 read with ``engine="rumi"``, and its y and x coordinates."""
    import xarray as xr

    n = PARAMS["scene"]
    out = np.zeros((PARAMS["bands"], hy, wx), np.uint16)
    ys, xs = np.full(hy, np.nan), np.full(wx, np.nan)
    for r in range(y0 // n, min(rows, -(-(y0 + hy) // n))):
        for c in range(x0 // n, min(cols, -(-(x0 + wx) // n))):
            h, w = scene_shape(r, c, rows, cols)
            fy0, fy1 = max(y0, r * n), min(y0 + hy, r * n + h)
            fx0, fx1 = max(x0, c * n), min(x0 + wx, c * n + w)
            with xr.open_dataset(scene_path(folder, r, c, 0), engine="rumi") as ds:
                part = ds.band_data.isel(
                    y=slice(fy0 - r * n, fy1 - r * n), x=slice(fx0 - c * n, fx1 - c * n)
                )
                out[:, fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0] = part.values
                ys[fy0 - y0 : fy1 - y0] = part.y.values
                xs[fx0 - x0 : fx1 - x0] = part.x.values
    return out, ys, xs
