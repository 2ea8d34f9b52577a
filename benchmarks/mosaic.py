"""Mosaic benchmark: virtual Zarr references over many small rumi files.

Run from the repository root::

    uv run python benchmarks/mosaic.py               # 10,000 files (first run writes them)
    uv run python benchmarks/mosaic.py --files 1000  # a smaller grid, for a quick look
    uv run python benchmarks/mosaic.py --rows 1000000  # a million-row catalog (mosaic_rows.py)

It writes (once, cached in ``benchmarks/_data/mosaic/``) a deterministic grid of small
rumi files with ``to_rumi``: by default 25 x 40 adjacent 128x128 scenes, 2 uint16
bands, tile 64 (one band per frame), EPSG:32633 with 10 m pixels, x 10 dates named
``T{row:02d}{col:02d}_{YYYYMMDD}.rumi``. The last column is 100 px wide and the last
row 90 px tall, so their edge frames are clipped and the mosaic's chunk grid is
rectilinear. Files are written by a pool of processes; a marker file records a
complete set, so later runs skip the writing.

Then, with a warm page cache, one row per measurement:

* references from the files: ``mosaic(paths, pattern=...)`` (header reads included)
  and ``to_kerchunk``;
* the catalog: ``catalog(paths)`` (header reads included), ``write_catalog``, its
  size, and its peak memory (RSS high-water mark and ``tracemalloc``);
* references from the catalog alone: ``read_catalog`` + ``mosaic(entries)`` +
  ``to_kerchunk`` (target: >= 5,000 files/s), with the split;
* JSON references (``write_references``) and an Icechunk repository (``to_icechunk``
  and commit): time to write and size on disk;
* open time of the mosaic from each (target: < 2 s from JSON);
* a 1024x1024 window spanning many files, read through dask from each, compared
  value for value with the same window stitched from the files read with
  ``engine="rumi"``;
* a linear extrapolation to 1,000,000 files from the measured per-file costs.

The exit code is 0 unless a check of values fails; the targets print PASS/FAIL.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data" / "mosaic"
PATTERN = r"_(?P<date>\d{8})\.rumi$"
REFS_TARGET = 5_000  # files/s, references from the catalog
OPEN_TARGET = 2.0  # seconds, open from JSON references
WINDOW = 1024

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


# ---------------------------------------------------------------------------------------
# The files


def grid_for(files: int) -> tuple[int, int]:
    """Rows and columns of scenes for about ``files`` files (25 x 40 for 10,000)."""
    scenes = max(1, files // len(PARAMS["dates"]))
    rows = max(1, round(math.sqrt(scenes * 5 / 8)))
    return rows, max(1, scenes // rows)


def scene_shape(r: int, c: int, rows: int, cols: int) -> tuple[int, int]:
    n = PARAMS["scene"]
    return (PARAMS["edge"][0] if r == rows - 1 else n, PARAMS["edge"][1] if c == cols - 1 else n)


def scene_path(folder: Path, r: int, c: int, d: int) -> Path:
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
    px, (x0, y0), n = PARAMS["pixel"], PARAMS["origin"], PARAMS["scene"]
    return (px, 0.0, x0 + c * n * px, 0.0, -px, y0 - r * n * px)


def _write_batch(folder: str, jobs: list[tuple[int, int, int]], rows: int, cols: int) -> int:
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


# ---------------------------------------------------------------------------------------
# Measuring


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (``VmHWM``) to its current RSS; False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def rss(field: str) -> int:
    """``VmRSS`` or ``VmHWM`` of this process, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(field)


def du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def add(self, what: str, value: str, note: str = "") -> None:
        self.rows.append((what, value, note))
        print(f"  {what:<58} {value:>10}  {note}", flush=True)

    def markdown(self) -> str:
        lines = ["| measurement | value | note |", "|---|---:|---|"]
        lines += [f"| {w} | {v} | {n} |" for w, v, n in self.rows]
        return "\n".join(lines)


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f} files/s"


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def rounds(fn: Any, n: int) -> tuple[Any, float, float]:
    """Run ``fn`` ``n`` times: its last result, the best and the median time."""
    times = []
    for _ in range(n):
        gc.collect()
        out, dt = timed(fn)
        times.append(dt)
    return out, min(times), statistics.median(times)


# ---------------------------------------------------------------------------------------
# The window, stitched from the files


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


def check_window(name: str, ds: Any, truth: tuple[np.ndarray, ...], at: tuple[int, ...]) -> float:
    y0, x0, hy, wx = at
    t0 = time.perf_counter()
    win = ds.band_data.isel(date=0, y=slice(y0, y0 + hy), x=slice(x0, x0 + wx)).load()
    dt = time.perf_counter() - t0
    values, ys, xs = truth
    ok = (
        np.array_equal(win.values, values)
        and np.array_equal(win.y.values, ys)
        and np.array_equal(win.x.values, xs)
    )
    if not ok:
        raise AssertionError(f"the window read from {name} differs from the files' pixels")
    return dt


def memory_child(kind: str, folder: Path, cat_path: Path) -> tuple[int, int]:
    """Peak RSS growth and tracemalloc peak of one ``kind`` run in a fresh process."""
    cmd = [sys.executable, __file__, "--child", kind, str(folder), str(cat_path)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    found = json.loads(out.strip().splitlines()[-1])
    return found["rss"], found["traced"]


def child(kind: str, folder: Path, cat_path: Path) -> None:
    """In a fresh process, after warm-up: peak RSS growth, then tracemalloc peak, of one run."""
    from rumi_xarray.virtual.catalog import catalog, read_catalog
    from rumi_xarray.virtual.mosaic import mosaic
    from rumi_xarray.virtual.outputs import to_kerchunk

    urls = sorted(str(p) for p in folder.glob("*.rumi"))

    def run() -> None:
        if kind == "catalog":
            catalog(urls, progress=False)
        else:
            to_kerchunk(mosaic(read_catalog(str(cat_path)), pattern=PATTERN))

    if kind == "catalog":
        catalog(urls[:16], progress=False)
    else:
        to_kerchunk(mosaic(read_catalog(str(cat_path))[:16], pattern=PATTERN))
    gc.collect()
    if not reset_peak_rss():
        raise OSError("cannot reset the peak RSS here (/proc/self/clear_refs)")
    before = rss("VmRSS")
    run()
    grown = rss("VmHWM") - before
    gc.collect()
    tracemalloc.start()
    run()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"rss": grown, "traced": traced}))


# ---------------------------------------------------------------------------------------
# The run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000, help="about how many files")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes writing the files (%(default)s)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="rounds of the slow measurements; fast ones get one more "
        "(%(default)s); times are the best round",
    )
    parser.add_argument(
        "--rows",
        type=int,
        help="instead: the million-row catalog benchmark with this many rows "
        "(benchmarks/mosaic_rows.py)",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--rows-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return 0
    if args.rows_child or args.rows:
        sys.path.insert(0, str(HERE))
        import mosaic_rows

        if args.rows:
            return mosaic_rows.main(args.rows)
        stage, cat, out, rows = args.rows_child
        print(json.dumps(mosaic_rows.child(stage, Path(cat), Path(out), int(rows))))
        return 0

    rows, cols = grid_for(args.files)
    folder, paths = ensure_files(rows, cols, args.workers)
    urls = [str(p) for p in paths]
    nfiles = len(urls)
    n = PARAMS["scene"]
    height = (rows - 1) * n + (PARAMS["edge"][0] if rows > 0 else 0)
    width = (cols - 1) * n + PARAMS["edge"][1]
    clipped = (rows + cols - 1) / (rows * cols)

    import dask.array
    import icechunk
    import xarray as xr
    import zarr

    from rumi_xarray.virtual.catalog import catalog, read_catalog, write_catalog
    from rumi_xarray.virtual.mosaic import mosaic
    from rumi_xarray.virtual.outputs import to_icechunk, to_kerchunk, write_references

    zarr.config.set({"array.rectilinear_chunks": True})
    icechunk.set_logs_filter("error")
    work = DATA / "outputs"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    print(
        f"{nfiles:,} files: {rows} x {cols} scenes of {n}x{n} px (last row {PARAMS['edge'][0]} "
        f"px tall, last column {PARAMS['edge'][1]} px wide: {clipped:.1%} of the scenes "
        f"clipped) x {len(PARAMS['dates'])} dates, {PARAMS['bands']} uint16 bands, tile "
        f"{PARAMS['tile']}; mosaic {height} x {width} px; {mb(sum(map(du, paths)))} on disk; "
        f"{os.cpu_count()} CPUs\n"
    )
    # Warm the page cache and the imports, so every row below sees the same state.
    for p in paths:
        p.read_bytes()
    warm = mosaic(urls[:16], pattern=PATTERN, progress=False)
    to_kerchunk(warm)
    write_catalog(catalog(urls[:16], progress=False), str(work / "warm.parquet"))
    read_catalog(str(work / "warm.parquet"))
    dask.array.zeros(2, chunks=1).sum().compute()  # dask's first compute imports its scheduler
    table = Table()
    slow, fast = args.rounds, args.rounds + 1

    # References straight from the files: header reads included.
    def from_files() -> tuple[Any, float, float]:
        vds, t_m = timed(mosaic, urls, pattern=PATTERN, progress=False)
        refs, t_k = timed(to_kerchunk, vds)
        return refs, t_m, t_k

    (refs, t_m, t_k), t_files, med = rounds(from_files, slow)
    table.add(
        "references from the files (mosaic + to_kerchunk)",
        f"{t_files:.2f} s",
        f"{rate(nfiles, t_files)} (median {med:.2f} s); split of the last round: "
        f"mosaic {t_m:.2f} s, to_kerchunk {t_k:.2f} s",
    )
    chunks = len(refs["refs"])

    # The catalog, its size and its peak memory.
    table_, t_catalog, med = rounds(lambda: catalog(urls, progress=False), slow)
    table.add(
        "catalog(paths) (header reads included)",
        f"{t_catalog:.2f} s",
        f"{rate(nfiles, t_catalog)} (median {med:.2f} s)",
    )
    cat_path = work / "catalog.parquet"
    _, t_write_cat = timed(write_catalog, table_, str(cat_path))
    table.add(
        "write_catalog (Parquet)",
        f"{t_write_cat:.2f} s",
        f"{mb(du(cat_path))}, {du(cat_path) / nfiles:,.0f} B/file",
    )
    del table_
    gc.collect()
    catalog_rss, catalog_traced = memory_child("catalog", folder, cat_path)
    table.add(
        "catalog(paths) peak memory",
        mb(catalog_rss),
        f"peak RSS over the start, in a fresh process; tracemalloc peak {mb(catalog_traced)}",
    )

    # References from the catalog alone: no file is opened.
    def from_catalog() -> tuple[Any, Any, float, float, float]:
        entries, t_r = timed(read_catalog, str(cat_path))
        vds, t_m = timed(mosaic, entries, pattern=PATTERN)
        refs, t_k = timed(to_kerchunk, vds)
        return vds, refs, t_r, t_m, t_k

    (vds, refs_cat, t_r, t_m, t_k), t_cat, med = rounds(from_catalog, fast)
    if refs_cat != refs:
        raise AssertionError("references from the catalog differ from those from the files")
    ok_refs = nfiles / t_cat >= REFS_TARGET
    table.add(
        "references from the catalog (read+mosaic+kerchunk)",
        f"{t_cat:.2f} s",
        f"{rate(nfiles, t_cat)} (median {med:.2f} s); split of the last round: "
        f"read_catalog {t_r:.2f} s, mosaic {t_m:.2f} s, to_kerchunk {t_k:.2f} s; "
        f"{chunks:,} keys",
    )
    del refs_cat
    gc.collect()
    cat_refs_rss, cat_refs_traced = memory_child("references", folder, cat_path)
    table.add(
        "references from the catalog, peak memory",
        mb(cat_refs_rss),
        f"the same; tracemalloc peak {mb(cat_refs_traced)}",
    )

    # JSON references and Icechunk.
    json_path = work / "mosaic.json"
    _, t_json, _ = rounds(lambda: write_references(refs, str(json_path)), fast)
    table.add("write_references (JSON)", f"{t_json:.2f} s", mb(du(json_path)))

    repo_dir = work / "icechunk"
    prefix = f"file://{folder}/"
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(
        icechunk.VirtualChunkContainer(prefix, icechunk.local_filesystem_store(str(folder)))
    )
    credentials = {prefix: icechunk.credentials.LocalFileSystemAccess}

    def write_icechunk() -> None:
        shutil.rmtree(repo_dir, ignore_errors=True)
        repo = icechunk.Repository.create(
            icechunk.local_filesystem_storage(str(repo_dir)),
            config,
            authorize_virtual_chunk_access=credentials,
        )
        session = repo.writable_session("main")
        to_icechunk(vds, session.store)
        session.commit("mosaic")

    _, t_ice, _ = rounds(write_icechunk, fast)
    table.add(
        "to_icechunk + commit (new repository)", f"{t_ice:.2f} s", f"{mb(du(repo_dir))} repository"
    )

    # Open, and read a window spanning many files.
    def open_json(chunks: Any = None) -> xr.Dataset:
        return xr.open_dataset(
            "reference://",
            engine="zarr",
            chunks=chunks or {},
            consolidated=False,
            storage_options={"fo": str(json_path)},
        )

    def open_icechunk(chunks: Any = None) -> xr.Dataset:
        repo = icechunk.Repository.open(
            icechunk.local_filesystem_storage(str(repo_dir)),
            authorize_virtual_chunk_access=credentials,
        )
        return xr.open_zarr(
            repo.readonly_session("main").store,
            consolidated=False,
            zarr_format=3,
            chunks=chunks or {},
        )

    ds_json, t_open_json, med = rounds(open_json, fast)
    ok_open = t_open_json < OPEN_TARGET
    table.add(
        "open from JSON references",
        f"{t_open_json:.2f} s",
        f"median {med:.2f} s; dims {dict(ds_json.sizes)}",
    )
    ds_ice, t_open_ice, med = rounds(open_icechunk, fast)
    table.add("open from Icechunk", f"{t_open_ice:.2f} s", f"median {med:.2f} s")
    if dict(ds_ice.sizes) != dict(ds_json.sizes):
        raise AssertionError(f"sizes differ: {dict(ds_ice.sizes)} != {dict(ds_json.sizes)}")

    hy, wx = min(WINDOW, height), min(WINDOW, width)
    y0, x0 = max(0, min(1000, height - hy)), max(0, min(2000, width - wx))
    spanned = len(range(y0 // n, min(rows, -(-(y0 + hy) // n)))) * len(
        range(x0 // n, min(cols, -(-(x0 + wx) // n)))
    )
    truth, t_stitch, med = rounds(lambda: stitched_window(folder, rows, cols, y0, x0, hy, wx), slow)
    where = f"y {y0}:{y0 + hy}, x {x0}:{x0 + wx}"
    table.add(
        f"{hy}x{wx} window stitched from the files (engine='rumi')",
        f"{t_stitch:.2f} s",
        f"{where}: {spanned} files of date 0, opened and read one by one",
    )
    big = {"y": WINDOW, "x": WINDOW}
    for name, ds in (
        ("JSON references", ds_json),
        ("Icechunk", ds_ice),
        (f"JSON references, dask chunks {WINDOW}", open_json(big)),
    ):
        first = check_window(name, ds, truth, (y0, x0, hy, wx))
        times = [check_window(name, ds, truth, (y0, x0, hy, wx)) for _ in range(slow)]
        dask_chunks = ds.band_data.data.chunksize
        table.add(
            f"{hy}x{wx} window from {name}",
            f"{min(times):.2f} s",
            f"first read {first:.2f} s; dask chunks {dask_chunks}; equal to the files",
        )
        ds.close()

    # Linear extrapolation to a million files.
    k = 1_000_000 / nfiles
    print(
        f"\nlinear extrapolation to 1,000,000 files from the per-file costs above "
        f"({os.cpu_count()} CPUs):"
    )
    print(f"  references from the files     {t_files * k / 60:7.1f} min")
    print(
        f"  catalog(paths)                {t_catalog * k / 60:7.1f} min, peak memory "
        f"{catalog_rss * k / 1e9:.1f} GB (RSS), {catalog_traced * k / 1e9:.1f} GB (traced)"
    )
    print(f"  catalog Parquet               {du(cat_path) * k / 1e9:7.2f} GB")
    print(
        f"  references from the catalog   {t_cat * k / 60:7.1f} min, peak memory "
        f"{cat_refs_rss * k / 1e9:.1f} GB (RSS), {cat_refs_traced * k / 1e9:.1f} GB (traced)"
    )
    print(
        f"  JSON references               {du(json_path) * k / 1e9:7.2f} GB, written in "
        f"{t_json * k / 60:.1f} min"
    )
    print(
        f"  open from JSON references     {t_open_json * k:7.0f} s (it parses every reference; "
        f"Icechunk opened in {t_open_ice:.2f} s here, reading only metadata)"
    )
    print(
        f"  Icechunk repository           {du(repo_dir) * k / 1e9:7.2f} GB, written in "
        f"{t_ice * k / 60:.1f} min"
    )

    print("\n" + table.markdown() + "\n")
    print(
        f"{'PASS' if ok_refs else 'FAIL'}: references from the catalog "
        f"{nfiles / t_cat:,.0f} files/s (target >= {REFS_TARGET:,})"
    )
    print(
        f"{'PASS' if ok_open else 'FAIL'}: open from JSON references {t_open_json:.2f} s "
        f"(target < {OPEN_TARGET:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
