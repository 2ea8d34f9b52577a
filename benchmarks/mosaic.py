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
import json
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from mosaic_files import DATA, PARAMS, ensure_files, grid_for, stitched_window
from mosaic_measure import Table, du, mb, rate, reset_peak_rss, rounds, rss, timed

if TYPE_CHECKING:
    import xarray as xr

HERE = Path(__file__).resolve().parent
PATTERN = r"_(?P<date>\d{8})\.rumi$"
REFS_TARGET = 5_000  # files/s, references from the catalog
OPEN_TARGET = 2.0  # seconds, open from JSON references
WINDOW = 1024


# ---------------------------------------------------------------------------------------
# Checks, and the memory children


def check_window(name: str, ds: Any, truth: tuple[np.ndarray, ...], at: tuple[int, ...]) -> float:
    """Read the window ``at`` from ``ds`` (date 0); check it against ``truth``; seconds."""
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


@dataclass
class Run:
    """What the steps share: the grid of files, the outputs folder, the rounds, the results."""

    rows: int
    cols: int
    folder: Path
    paths: list[Path]
    urls: list[str]
    work: Path
    slow: int
    """Rounds of the slow measurements."""
    fast: int
    """Rounds of the fast ones (one more)."""
    table: Table = field(default_factory=Table)
    found: dict[str, float] = field(default_factory=dict)
    """Times (s), sizes and peak memories (bytes) measured so far, by name."""

    @property
    def nfiles(self) -> int:
        """How many files."""
        return len(self.urls)

    @property
    def height(self) -> int:
        """Rows of pixels of the mosaic."""
        return int((self.rows - 1) * PARAMS["scene"] + (PARAMS["edge"][0] if self.rows > 0 else 0))

    @property
    def width(self) -> int:
        """Columns of pixels of the mosaic."""
        return int((self.cols - 1) * PARAMS["scene"] + PARAMS["edge"][1])

    @property
    def cat_path(self) -> Path:
        """The catalog's Parquet file."""
        return self.work / "catalog.parquet"

    @property
    def json_path(self) -> Path:
        """The JSON references."""
        return self.work / "mosaic.json"

    @property
    def repo_dir(self) -> Path:
        """The Icechunk repository."""
        return self.work / "icechunk"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: the benchmark's options and the children's hidden ones."""
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
    return parser.parse_args(argv)


def run_rows(args: argparse.Namespace) -> int:
    """``--rows``: the million-row catalog benchmark; ``--rows-child``: one of its stages."""
    sys.path.insert(0, str(HERE))
    import mosaic_rows

    if args.rows:
        return int(mosaic_rows.main(args.rows))
    stage, cat, out, rows = args.rows_child
    print(json.dumps(mosaic_rows.child(stage, Path(cat), Path(out), int(rows))))
    return 0


def prepare(args: argparse.Namespace) -> Run:
    """Write (or find) the files; set up Zarr, Icechunk and an empty outputs folder."""
    rows, cols = grid_for(args.files)
    folder, paths = ensure_files(rows, cols, args.workers)
    import icechunk
    import zarr

    zarr.config.set({"array.rectilinear_chunks": True})
    icechunk.set_logs_filter("error")
    work = DATA / "outputs"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    urls = [str(p) for p in paths]
    return Run(rows, cols, folder, paths, urls, work, args.rounds, args.rounds + 1)


def describe(run: Run) -> None:
    """Print what the files are: the grid, the clipped scenes, the mosaic, the bytes on disk."""
    n = PARAMS["scene"]
    clipped = (run.rows + run.cols - 1) / (run.rows * run.cols)
    print(
        f"{run.nfiles:,} files: {run.rows} x {run.cols} scenes of {n}x{n} px (last row "
        f"{PARAMS['edge'][0]} px tall, last column {PARAMS['edge'][1]} px wide: {clipped:.1%} "
        f"of the scenes clipped) x {len(PARAMS['dates'])} dates, {PARAMS['bands']} uint16 "
        f"bands, tile {PARAMS['tile']}; mosaic {run.height} x {run.width} px; "
        f"{mb(sum(map(du, run.paths)))} on disk; {os.cpu_count()} CPUs\n"
    )


def warm_up(run: Run) -> None:
    """Warm the page cache and the imports, so every measurement sees the same state."""
    import dask.array

    from rumi_xarray.virtual.catalog import catalog, read_catalog, write_catalog
    from rumi_xarray.virtual.mosaic import mosaic
    from rumi_xarray.virtual.outputs import to_kerchunk

    for p in run.paths:
        p.read_bytes()
    to_kerchunk(mosaic(run.urls[:16], pattern=PATTERN, progress=False))
    write_catalog(catalog(run.urls[:16], progress=False), str(run.work / "warm.parquet"))
    read_catalog(str(run.work / "warm.parquet"))
    dask.array.zeros(2, chunks=1).sum().compute()  # dask's first compute imports its scheduler


def measure_from_files(run: Run) -> dict[str, Any]:
    """References straight from the files, header reads included; the references."""
    from rumi_xarray.virtual.mosaic import mosaic
    from rumi_xarray.virtual.outputs import to_kerchunk

    urls = run.urls

    def from_files() -> tuple[Any, float, float]:
        vds, t_m = timed(mosaic, urls, pattern=PATTERN, progress=False)
        refs, t_k = timed(to_kerchunk, vds)
        return refs, t_m, t_k

    (refs, t_m, t_k), t_files, med = rounds(from_files, run.slow)
    run.table.add(
        "references from the files (mosaic + to_kerchunk)",
        f"{t_files:.2f} s",
        f"{rate(run.nfiles, t_files)} (median {med:.2f} s); split of the last round: "
        f"mosaic {t_m:.2f} s, to_kerchunk {t_k:.2f} s",
    )
    run.found["files"] = t_files
    return dict(refs)


def measure_catalog(run: Run) -> None:
    """``catalog(paths)``, ``write_catalog``, the Parquet file's size and the peak memory."""
    from rumi_xarray.virtual.catalog import catalog, write_catalog

    urls, nfiles, cat_path = run.urls, run.nfiles, run.cat_path
    table_, t_catalog, med = rounds(lambda: catalog(urls, progress=False), run.slow)
    run.table.add(
        "catalog(paths) (header reads included)",
        f"{t_catalog:.2f} s",
        f"{rate(nfiles, t_catalog)} (median {med:.2f} s)",
    )
    _, t_write_cat = timed(write_catalog, table_, str(cat_path))
    run.table.add(
        "write_catalog (Parquet)",
        f"{t_write_cat:.2f} s",
        f"{mb(du(cat_path))}, {du(cat_path) / nfiles:,.0f} B/file",
    )
    del table_
    gc.collect()
    catalog_rss, catalog_traced = memory_child("catalog", run.folder, cat_path)
    run.table.add(
        "catalog(paths) peak memory",
        mb(catalog_rss),
        f"peak RSS over the start, in a fresh process; tracemalloc peak {mb(catalog_traced)}",
    )
    run.found.update(catalog=t_catalog, catalog_rss=catalog_rss, catalog_traced=catalog_traced)


def measure_from_catalog(run: Run, refs: dict[str, Any]) -> Any:
    """References from the catalog alone (no file is opened), checked; the virtual dataset."""
    from rumi_xarray.virtual.catalog import read_catalog
    from rumi_xarray.virtual.mosaic import mosaic
    from rumi_xarray.virtual.outputs import to_kerchunk

    cat_path = run.cat_path

    def from_catalog() -> tuple[Any, Any, float, float, float]:
        entries, t_r = timed(read_catalog, str(cat_path))
        vds, t_m = timed(mosaic, entries, pattern=PATTERN)
        refs, t_k = timed(to_kerchunk, vds)
        return vds, refs, t_r, t_m, t_k

    (vds, refs_cat, t_r, t_m, t_k), t_cat, med = rounds(from_catalog, run.fast)
    if refs_cat != refs:
        raise AssertionError("references from the catalog differ from those from the files")
    run.table.add(
        "references from the catalog (read+mosaic+kerchunk)",
        f"{t_cat:.2f} s",
        f"{rate(run.nfiles, t_cat)} (median {med:.2f} s); split of the last round: "
        f"read_catalog {t_r:.2f} s, mosaic {t_m:.2f} s, to_kerchunk {t_k:.2f} s; "
        f"{len(refs['refs']):,} keys",
    )
    del refs_cat
    gc.collect()
    cat_refs_rss, cat_refs_traced = memory_child("references", run.folder, cat_path)
    run.table.add(
        "references from the catalog, peak memory",
        mb(cat_refs_rss),
        f"the same; tracemalloc peak {mb(cat_refs_traced)}",
    )
    run.found.update(refs=t_cat, refs_rss=cat_refs_rss, refs_traced=cat_refs_traced)
    return vds


def measure_json(run: Run, refs: dict[str, Any]) -> None:
    """``write_references`` to JSON: time and size."""
    from rumi_xarray.virtual.outputs import write_references

    json_path = run.json_path
    _, t_json, _ = rounds(lambda: write_references(refs, str(json_path)), run.fast)
    run.table.add("write_references (JSON)", f"{t_json:.2f} s", mb(du(json_path)))
    run.found["json"] = t_json


def icechunk_access(folder: Path) -> tuple[Any, dict[str, Any]]:
    """An Icechunk config with a virtual chunk container for the files, and its credentials."""
    import icechunk

    prefix = f"file://{folder}/"
    config = icechunk.RepositoryConfig.default()
    config.set_virtual_chunk_container(
        icechunk.VirtualChunkContainer(prefix, icechunk.local_filesystem_store(str(folder)))
    )
    return config, {prefix: icechunk.credentials.LocalFileSystemAccess}


def measure_icechunk(run: Run, vds: Any, config: Any, credentials: dict[str, Any]) -> None:
    """``to_icechunk`` and a commit into a new repository: time and size."""
    import icechunk

    from rumi_xarray.virtual.outputs import to_icechunk

    repo_dir = run.repo_dir

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

    _, t_ice, _ = rounds(write_icechunk, run.fast)
    run.table.add(
        "to_icechunk + commit (new repository)", f"{t_ice:.2f} s", f"{mb(du(repo_dir))} repository"
    )
    run.found["icechunk"] = t_ice


def open_json(json_path: Path, chunks: Any = None) -> xr.Dataset:
    """The mosaic opened from its JSON references."""
    import xarray as xr

    return xr.open_dataset(
        "reference://",
        engine="zarr",
        chunks=chunks or {},
        consolidated=False,
        storage_options={"fo": str(json_path)},
    )


def open_icechunk(repo_dir: Path, credentials: dict[str, Any], chunks: Any = None) -> xr.Dataset:
    """The mosaic opened from the Icechunk repository's ``main`` branch."""
    import icechunk
    import xarray as xr

    repo = icechunk.Repository.open(
        icechunk.local_filesystem_storage(str(repo_dir)),
        authorize_virtual_chunk_access=credentials,
    )
    ds: xr.Dataset = xr.open_zarr(
        repo.readonly_session("main").store,
        consolidated=False,
        zarr_format=3,
        chunks=chunks or {},
    )
    return ds


def measure_opens(run: Run, credentials: dict[str, Any]) -> tuple[xr.Dataset, xr.Dataset]:
    """Open times from JSON and from Icechunk, the same sizes checked; both datasets."""
    json_path, repo_dir = run.json_path, run.repo_dir
    ds_json, t_open_json, med = rounds(lambda: open_json(json_path), run.fast)
    run.table.add(
        "open from JSON references",
        f"{t_open_json:.2f} s",
        f"median {med:.2f} s; dims {dict(ds_json.sizes)}",
    )
    ds_ice, t_open_ice, med = rounds(lambda: open_icechunk(repo_dir, credentials), run.fast)
    run.table.add("open from Icechunk", f"{t_open_ice:.2f} s", f"median {med:.2f} s")
    if dict(ds_ice.sizes) != dict(ds_json.sizes):
        raise AssertionError(f"sizes differ: {dict(ds_ice.sizes)} != {dict(ds_json.sizes)}")
    run.found.update(open_json=t_open_json, open_icechunk=t_open_ice)
    return ds_json, ds_ice


def window_at(run: Run) -> tuple[int, int, int, int]:
    """``(y0, x0, hy, wx)`` of the window read back: up to 1024x1024, spanning many files."""
    hy, wx = min(WINDOW, run.height), min(WINDOW, run.width)
    y0, x0 = max(0, min(1000, run.height - hy)), max(0, min(2000, run.width - wx))
    return y0, x0, hy, wx


def measure_stitched(run: Run, at: tuple[int, int, int, int]) -> tuple[np.ndarray, ...]:
    """The window stitched from the files with ``engine="rumi"``: time; the truth to check."""
    y0, x0, hy, wx = at
    n, rows, cols, folder = PARAMS["scene"], run.rows, run.cols, run.folder
    spanned = len(range(y0 // n, min(rows, -(-(y0 + hy) // n)))) * len(
        range(x0 // n, min(cols, -(-(x0 + wx) // n)))
    )
    truth, t_stitch, _ = rounds(
        lambda: stitched_window(folder, rows, cols, y0, x0, hy, wx), run.slow
    )
    where = f"y {y0}:{y0 + hy}, x {x0}:{x0 + wx}"
    run.table.add(
        f"{hy}x{wx} window stitched from the files (engine='rumi')",
        f"{t_stitch:.2f} s",
        f"{where}: {spanned} files of date 0, opened and read one by one",
    )
    return tuple(truth)


def measure_windows(
    run: Run, at: tuple[int, int, int, int], truth: tuple[np.ndarray, ...], opened: tuple[Any, Any]
) -> None:
    """The window read through dask from each store (and dask chunks of 1024), checked."""
    _, _, hy, wx = at
    ds_json, ds_ice = opened
    big = {"y": WINDOW, "x": WINDOW}
    for name, ds in (
        ("JSON references", ds_json),
        ("Icechunk", ds_ice),
        (f"JSON references, dask chunks {WINDOW}", open_json(run.json_path, big)),
    ):
        first = check_window(name, ds, truth, at)
        times = [check_window(name, ds, truth, at) for _ in range(run.slow)]
        dask_chunks = ds.band_data.data.chunksize
        run.table.add(
            f"{hy}x{wx} window from {name}",
            f"{min(times):.2f} s",
            f"first read {first:.2f} s; dask chunks {dask_chunks}; equal to the files",
        )
        ds.close()


def print_extrapolation(run: Run) -> None:
    """Print the linear extrapolation to a million files of the per-file costs."""
    f, k = run.found, 1_000_000 / run.nfiles
    print(
        f"\nlinear extrapolation to 1,000,000 files from the per-file costs above "
        f"({os.cpu_count()} CPUs):"
    )
    print(f"  references from the files     {f['files'] * k / 60:7.1f} min")
    print(
        f"  catalog(paths)                {f['catalog'] * k / 60:7.1f} min, peak memory "
        f"{f['catalog_rss'] * k / 1e9:.1f} GB (RSS), {f['catalog_traced'] * k / 1e9:.1f} GB "
        "(traced)"
    )
    print(f"  catalog Parquet               {du(run.cat_path) * k / 1e9:7.2f} GB")
    print(
        f"  references from the catalog   {f['refs'] * k / 60:7.1f} min, peak memory "
        f"{f['refs_rss'] * k / 1e9:.1f} GB (RSS), {f['refs_traced'] * k / 1e9:.1f} GB (traced)"
    )
    print(
        f"  JSON references               {du(run.json_path) * k / 1e9:7.2f} GB, written in "
        f"{f['json'] * k / 60:.1f} min"
    )
    print(
        f"  open from JSON references     {f['open_json'] * k:7.0f} s (it parses every "
        f"reference; Icechunk opened in {f['open_icechunk']:.2f} s here, reading only metadata)"
    )
    print(
        f"  Icechunk repository           {du(run.repo_dir) * k / 1e9:7.2f} GB, written in "
        f"{f['icechunk'] * k / 60:.1f} min"
    )


def print_verdicts(run: Run) -> None:
    """Print the table as Markdown, then PASS/FAIL against the two targets."""
    print("\n" + run.table.markdown() + "\n")
    files_per_s, t_open_json = run.nfiles / run.found["refs"], run.found["open_json"]
    print(
        f"{'PASS' if files_per_s >= REFS_TARGET else 'FAIL'}: references from the catalog "
        f"{files_per_s:,.0f} files/s (target >= {REFS_TARGET:,})"
    )
    print(
        f"{'PASS' if t_open_json < OPEN_TARGET else 'FAIL'}: open from JSON references "
        f"{t_open_json:.2f} s (target < {OPEN_TARGET:.0f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or one of its children); 0 unless a check of values fails."""
    args = parse_args(argv)
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return 0
    if args.rows_child or args.rows:
        return run_rows(args)
    run = prepare(args)
    describe(run)
    warm_up(run)
    refs = measure_from_files(run)
    measure_catalog(run)
    vds = measure_from_catalog(run, refs)
    measure_json(run, refs)
    config, credentials = icechunk_access(run.folder)
    measure_icechunk(run, vds, config, credentials)
    opened = measure_opens(run, credentials)
    at = window_at(run)
    truth = measure_stitched(run, at)
    measure_windows(run, at, truth, opened)
    print_extrapolation(run)
    print_verdicts(run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
