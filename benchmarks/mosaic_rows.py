"""The million-row catalog benchmark (``benchmarks/mosaic.py --rows 1000000``).

A Parquet catalog of ``rows`` files, as the 1,033,422-file earthbigdata set would give:
100 dates x a grid of tiles, each file 2 uint16 bands of 64 x 128 pixels in tiles of
64 (4 frames a file), EPSG:32633, 10 m pixels, one instant each, the date also in the
file name (``T{row}{col}_{YYYYMMDD}.rumi``). Files exist only where pixels are read
back: 16 real files (``benchmarks/_data/mosaic-rows/``, written once) are the rows of
a 4 x 4 block of tiles on date 0, at placements of their own; every other row names a
file that does not exist and carries the header blob of one of the real files (their
frame sizes differ, so the blobs do).

Stages, each in a fresh process (peak RSS = ``VmHWM`` of that process, interpreter and
imports included; "over imports" subtracts its RSS once everything is imported):

* build the catalog table and write it as Parquet (setup, for information);
* ``read_catalog`` + ``mosaic`` (the columnar path: no per-file object);
* the same + ``to_icechunk`` into a new repository, in commits of at most
  ``CHUNKS_PER_COMMIT`` references (manifest splits to match);
* the same + ``write_references(vds, ..., format="parquet")`` (kerchunk's layout).

Then, in this process: sizes on disk, open time of each store, and a window over the
real block read from each, compared value for value (and coordinate for coordinate)
with the real files read with ``engine="rumi"``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from mosaic_measure import rss

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data" / "mosaic-rows"
PATTERN = r"_(?P<date>\d{8})\.rumi$"
TARGET_SECONDS, TARGET_RSS = 30.0, 1.5e9
CHUNKS_PER_COMMIT = 250_000
PARAMS: dict[str, Any] = {
    "generator": 1,  # bump when the real files change
    "seed": 20261201,
    "shape": [2, 64, 128],  # bands, rows, columns of every file
    "tile": 64,
    "crs": 32633,
    "pixel": 10.0,
    "origin": [300_000.0, 5_100_000.0],
    "dates": 100,
    "first_date": "2024-01-01",
    "block": [4, 4],  # real files: a block of tiles on date 0
    "block_at": [10, 20],  # its first tile row and column
}


def real_files() -> list[Path]:
    """The 16 real files (written once): random uint16, each its own frame sizes."""
    from rumi_xarray import to_rumi

    folder = DATA / f"real-g{PARAMS['generator']}"
    rows, cols = PARAMS["block"]
    day = PARAMS["first_date"].replace("-", "")
    paths = [folder / f"R{r}{c}_{day}.rumi" for r in range(rows) for c in range(cols)]
    if all(p.exists() for p in paths):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(PARAMS["seed"])
    bands, h, w = PARAMS["shape"]
    for i, path in enumerate(paths):
        # noise of growing amplitude: every file compresses to its own frame sizes
        pixels = rng.integers(0, 64 << i % 8, (bands, h, w), dtype=np.uint16)
        to_rumi(
            pixels,
            path,
            tile=PARAMS["tile"],
            frames="band",
            transform=(PARAMS["pixel"], 0.0, 0.0, 0.0, -PARAMS["pixel"], 0.0),
            crs=PARAMS["crs"],
            time=[PARAMS["first_date"]],
            bands=[f"B{b + 1}" for b in range(bands)],
            progress=False,
        )
    return paths


def grid_for(rows: int) -> tuple[int, int]:
    """Tile rows and columns of one date for about ``rows`` catalog rows."""
    tiles = max(PARAMS["block"][0] * PARAMS["block"][1], rows // PARAMS["dates"])
    side = max(PARAMS["block_at"][0] + 4, round(tiles**0.5))
    return side, max(PARAMS["block_at"][1] + 4, tiles // side)


def build_catalog(rows: int, target: Path) -> dict[str, Any]:
    """Write the catalog of ``rows`` files as Parquet; return what it holds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rumi_xarray.virtual.catalog import catalog

    real = catalog(real_files(), progress=False)
    side, width = grid_for(rows)
    dates, n = PARAMS["dates"], PARAMS["dates"] * side * width
    i = np.arange(n)
    date, r, c = i // (side * width), i // width % side, i % width
    day = np.datetime64(PARAMS["first_date"], "D") + 10 * date
    names = np.char.replace(day.astype(str), "-", "")
    source = i % real.num_rows
    (r0, c0), (br, bc) = PARAMS["block_at"], PARAMS["block"]
    inside = (date == 0) & (r >= r0) & (r < r0 + br) & (c >= c0) & (c < c0 + bc)
    source[inside] = (r[inside] - r0) * bc + (c[inside] - c0)
    ghost = f"file://{DATA}/ghost/"
    paths = [
        f"{ghost}T{a:03d}{b:03d}_{d}.rumi"
        for a, b, d in zip(r.tolist(), c.tolist(), names.tolist(), strict=True)
    ]
    for k in np.flatnonzero(inside).tolist():
        paths[k] = real["path"][int(source[k])].as_py()
    _, h, w = PARAMS["shape"]
    px, (x0, y0) = PARAMS["pixel"], PARAMS["origin"]
    transform = np.zeros((n, 6))
    transform[:, 0], transform[:, 4] = px, -px
    transform[:, 2], transform[:, 5] = x0 + c * w * px, y0 - r * h * px
    left, top = transform[:, 2], transform[:, 5]
    bounds = np.column_stack([left, top - h * px, left + w * px, top])
    take = pa.array(source)
    seconds = day.astype("datetime64[s]").astype(np.int64)
    table = pa.table(
        {
            "path": pa.array(paths),
            **{k: real[k].take(take) for k in ("nbytes", "generation", "header", "shape", "dtype")},
            "crs": real["crs"].take(take),
            "transform": _lists(transform),
            "bounds": _lists(bounds),
            "pixel_is_point": pa.array(np.zeros(n, bool)),
            "band_texts": real["band_texts"].take(take),
            "time_kind": real["time_kind"].take(take),
            "time": _lists(seconds[:, None]),
            "nodata": pa.nulls(n, pa.float64()),
        }
    )
    pq.write_table(table, target)
    return {"files": n, "tiles": [side, width], "dates": dates}


def _lists(values: np.ndarray) -> Any:
    import pyarrow as pa

    flat = pa.array(np.ascontiguousarray(values).ravel())
    return pa.FixedSizeListArray.from_arrays(flat, values.shape[1]).cast(pa.list_(flat.type))


# ---------------------------------------------------------------------------------------
# Stages, each in a fresh process


def child(stage: str, catalog_path: Path, out: Path, rows: int) -> dict[str, Any]:
    """Run one stage; its times, peak RSS and RSS once imported."""
    import icechunk
    import pyarrow.parquet  # noqa: F401  # imported before the baseline, as the others
    import xarray  # noqa: F401

    from rumi_xarray.virtual.catalog import read_catalog
    from rumi_xarray.virtual.mosaic import mosaic
    from rumi_xarray.virtual.outputs import manifest_splitting, to_icechunk, write_references

    icechunk.set_logs_filter("error")
    found: dict[str, Any] = {"imported": rss("VmRSS")}
    t0 = time.perf_counter()
    if stage == "build":
        found.update(build_catalog(rows, catalog_path))
        found["seconds"] = {"build": time.perf_counter() - t0}
        found["peak"] = rss("VmHWM")
        return found
    entries = read_catalog(catalog_path)
    t1 = time.perf_counter()
    vds = mosaic(entries, pattern=PATTERN, progress=False)
    t2 = time.perf_counter()
    seconds = {"read_catalog": t1 - t0, "mosaic": t2 - t1}
    found["built"] = rss("VmRSS")
    if stage == "icechunk":
        repo = _new_repository(out, manifest_splitting(vds, CHUNKS_PER_COMMIT))
        to_icechunk(vds, repo, message="benchmark", chunks_per_commit=CHUNKS_PER_COMMIT)
        seconds["to_icechunk"] = time.perf_counter() - t2
    elif stage == "parquet":
        write_references(vds, str(out), format="parquet")
        seconds["write_references"] = time.perf_counter() - t2
    found.update(seconds=seconds, peak=rss("VmHWM"), chunks=int(vds.array.files.size))
    found["dims"] = dict(zip(vds.array.dims, vds.array.shape, strict=True))
    return found


def _container() -> tuple[str, Any]:
    import icechunk

    prefix = f"file://{DATA}/"
    return prefix, icechunk.VirtualChunkContainer(
        prefix, icechunk.local_filesystem_store(str(DATA))
    )


def _new_repository(path: Path, splitting: Any) -> Any:
    import icechunk

    shutil.rmtree(path, ignore_errors=True)
    prefix, container = _container()
    config = icechunk.RepositoryConfig.default()
    config.manifest = icechunk.ManifestConfig(splitting=splitting)
    config.set_virtual_chunk_container(container)
    return icechunk.Repository.create(
        icechunk.local_filesystem_storage(str(path)),
        config,
        authorize_virtual_chunk_access={prefix: icechunk.credentials.LocalFileSystemAccess},
    )


def run_stage(stage: str, catalog_path: Path, out: Path, rows: int) -> dict[str, Any]:
    """Run :func:`child` in a fresh process (``mosaic.py --rows-child``); its answer."""
    script = str(HERE / "mosaic.py")
    cmd = [sys.executable, script, "--rows-child", stage, str(catalog_path), str(out), str(rows)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------------------------------
# Reading back


def open_icechunk(path: Path) -> Any:
    import icechunk
    import xarray as xr

    prefix, _ = _container()
    repo = icechunk.Repository.open(
        icechunk.local_filesystem_storage(str(path)),
        authorize_virtual_chunk_access={prefix: icechunk.credentials.LocalFileSystemAccess},
    )
    store = repo.readonly_session("main").store
    return xr.open_dataset(store, engine="zarr", consolidated=False, zarr_format=3, chunks=None)


def open_parquet(path: Path) -> Any:
    import xarray as xr

    return xr.open_dataset(
        "reference://",
        engine="zarr",
        chunks=None,
        consolidated=False,
        zarr_format=2,
        storage_options={"fo": str(path), "remote_protocol": "file"},
    )


def the_block() -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[slice, slice]]:
    """The real files' pixels as the mosaic places them, their x and y, and where."""
    import xarray as xr

    (r0, c0), (br, bc) = PARAMS["block_at"], PARAMS["block"]
    bands, h, w = PARAMS["shape"]
    out = np.zeros((bands, br * h, bc * w), np.uint16)
    for k, path in enumerate(real_files()):
        a, b = divmod(k, bc)
        with xr.open_dataset(path, engine="rumi") as ds:
            out[:, a * h : (a + 1) * h, b * w : (b + 1) * w] = ds.band_data.values
    px, (x0, y0) = PARAMS["pixel"], PARAMS["origin"]
    xs = x0 + (np.arange(c0 * w, (c0 + bc) * w) + 0.5) * px
    ys = y0 - (np.arange(r0 * h, (r0 + br) * h) + 0.5) * px
    return out, xs, ys, (slice(r0 * h, (r0 + br) * h), slice(c0 * w, (c0 + bc) * w))


def check_block(name: str, ds: Any, block: tuple[Any, ...]) -> float:
    """Seconds to read the real block from ``ds``; raises unless equal to the files."""
    values, xs, ys, (y, x) = block
    t0 = time.perf_counter()
    win = ds.band_data.isel(date=0, y=y, x=x).load()
    dt = time.perf_counter() - t0
    same = np.array_equal(win.values, values)
    same &= np.array_equal(win.x.values, xs) and np.array_equal(win.y.values, ys)
    if not same:
        raise AssertionError(f"the block read from {name} differs from the real files")
    return dt


def du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def print_stages(found: dict[str, dict[str, Any]], cat: Path, work: Path) -> None:
    """Print the catalog's description and one line per stage: time, peak RSS, size."""
    built = found["build"]
    print(
        f"{built['files']:,} catalog rows: {built['dates']} dates x {built['tiles'][0]} x "
        f"{built['tiles'][1]} tiles of {PARAMS['shape'][1]}x{PARAMS['shape'][2]} px, "
        f"{PARAMS['shape'][0]} uint16 bands, tile {PARAMS['tile']} (4 frames a file); "
        f"{found['mosaic']['chunks']:,} chunks {found['mosaic']['dims']}\n"
    )
    lines = [("build the catalog (synthetic) + write Parquet", built, du(cat), "catalog")]
    lines += [("read_catalog + mosaic", found["mosaic"], 0, "")]
    lines += [
        (
            "read_catalog + mosaic + to_icechunk",
            found["icechunk"],
            du(work / "icechunk"),
            "repository",
        )
    ]
    lines += [
        (
            "read_catalog + mosaic + Parquet references",
            found["parquet"],
            du(work / "parquet"),
            "references",
        )
    ]
    for what, stage, size, kind in lines:
        total = sum(stage["seconds"].values())
        split = ", ".join(f"{k} {v:.2f} s" for k, v in stage["seconds"].items())
        extra = f"; {kind} {size / 1e6:,.1f} MB" if size else ""
        print(
            f"  {what:<48} {total:6.2f} s  peak RSS {stage['peak'] / 1e9:.2f} GB "
            f"({(stage['peak'] - stage['imported']) / 1e9:.2f} GB over imports, "
            f"{stage.get('built', stage['peak']) / 1e9:.2f} GB once built){extra}  [{split}]"
        )


def print_read_back(work: Path) -> None:
    """Open each store, read the real block twice, check it and print the times."""
    block = the_block()
    for name, opener, out in (
        ("Icechunk", open_icechunk, "icechunk"),
        ("Parquet refs", open_parquet, "parquet"),
    ):
        t0 = time.perf_counter()
        ds = opener(work / out)
        opened = time.perf_counter() - t0
        first = check_block(name, ds, block)
        again = check_block(name, ds, block)
        print(
            f"  open {name:<14} {opened:6.2f} s; the real block ({block[0].shape}) read in "
            f"{first:.2f} s (again {again:.2f} s), equal to the files"
        )


def print_verdicts(found: dict[str, dict[str, Any]]) -> None:
    """Print PASS/FAIL of each store's stage against the time and memory targets."""
    for stage in ("icechunk", "parquet"):
        total, peak = sum(found[stage]["seconds"].values()), found[stage]["peak"]
        ok = total < TARGET_SECONDS and peak < TARGET_RSS
        print(
            f"{'PASS' if ok else 'FAIL'}: catalog -> {stage} {total:.1f} s, peak RSS "
            f"{peak / 1e9:.2f} GB (targets < {TARGET_SECONDS:.0f} s, < {TARGET_RSS / 1e9} GB)"
        )


def main(rows: int) -> int:
    """Run every stage; print the table, PASS/FAIL against the targets."""
    import icechunk

    icechunk.set_logs_filter("error")
    work = DATA / "outputs"
    work.mkdir(parents=True, exist_ok=True)
    cat = work / f"catalog-{rows}.parquet"
    found = {
        s: run_stage(s, cat, work / s, rows) for s in ("build", "mosaic", "icechunk", "parquet")
    }
    print_stages(found, cat, work)
    print_read_back(work)
    print()
    print_verdicts(found)
    return 0
