"""Write benchmark: rumi-xarray's ``to_rumi`` against rumi-eo's write.

Run from the repository root::

    uv run python benchmarks/write.py            # full run (under a minute on 2 cores)
    uv run python benchmarks/write.py --quick    # fewer repetitions

The image is the suite's (``scene.py``: same generator, same cache in ``benchmarks/_data/``): a
deterministic Sentinel-2-like 12-band 2048x2048 uint16 array, held in memory by both
sides. Both write it with tile 512, one band per frame, geozl ``planar>zigzag>zstd``,
and the same band texts, time, transform and CRS. rumi-eo is GPL, so it is never
imported here: it runs in its own isolated environment (``benchmarks/_oracle.py``
``writer``), times its own writes and answers in JSON lines.

Timed with a warm page cache, after warm-ups, in alternating rounds (so that load from
other processes hits every contender alike), reporting the best and the median:

* rumi-eo's write: ``rumi.frames(arr, "b (row h) (col w) -> row col b (h w)", 512)``,
  ``geozl.compress(a, graph=geozl.graph(a, recipe))`` of every frame in a Python loop
  (one thread), ``rumi.write(...)``; and, for information, the same compressing on a
  pool of ``os.cpu_count()`` threads;
* ours: ``rumi_xarray.to_rumi(arr, path, bands=..., time=..., transform=..., crs=...)``
  from the NumPy array (default ``max_workers``: ``os.cpu_count()`` threads); for
  information, from an ``xr.DataArray`` with band/x/y/time/spatial_ref coordinates (all
  metadata taken from them), and from the NumPy array with ``max_workers=1``.

Throughput is MB/s of uncompressed input. Ours writes a temporary file, fsyncs it and
renames it into place; rumi-eo writes the file in place without fsync (both included in
the times, as each library does them).

Memory: a fresh subprocess loads the array, warms up with a one-tile write, resets its
peak RSS to its current RSS (``/proc/self/clear_refs``), reads its RSS, writes the whole
image once and reads its peak RSS (``VmHWM``): "extra peak RSS" is that peak minus the RSS
just before the write, i.e. what the write itself adds on top of the loaded array, native
buffers included. (``ru_maxrss`` is no use here: a child inherits its parent's peak RSS
through fork and exec; it is the fallback where ``clear_refs`` is missing, and then an
upper bound.) It then writes once more under ``tracemalloc``: "tracemalloc peak" is the
peak of traced Python/NumPy allocations above those alive before (native buffers of
zstd/OpenZL are not traced).

Checks: rumi-eo validates our file (``rumi.info(source=path, header=blob)``) and reads
it back (``rumi.read(path, blob)``) bit for bit equal to the image, with the metadata we
gave; our file's size is compared with rumi-eo's, and our blob with rumi-eo's header.
The ratios are printed with PASS/FAIL against their targets; the exit code is always 0.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from mosaic_measure import reset_peak_rss, rss
from protocol import Worker, oracle_argv, oracle_env, timed
from scene import DATA, PARAMS, dataset_files

import rumi_xarray

if TYPE_CHECKING:
    from collections.abc import Callable

WORKERS = os.cpu_count() or 1

# Targets: write throughput ours/rumi-eo; the write's extra peak memory / array size;
# file size ours/rumi-eo within this fraction.
TARGET_VS_RUMI = 0.8
TARGET_MEMORY = 1.5
TARGET_SIZE = 0.03


@dataclass(frozen=True)
class Settings:
    rounds: int
    """Rounds of writes; each times every contender ``per_round`` times."""
    per_round: int


FULL = Settings(rounds=8, per_round=1)
QUICK = Settings(rounds=3, per_round=1)


# --------------------------------------------------------------------------- ours


def write_kwargs() -> dict[str, Any]:
    """The recipe and metadata rumi-eo's write gets too (``to_rumi`` keywords)."""
    return {
        "tile": PARAMS["tile"],
        "frames": "band",
        "compression": PARAMS["recipe"],
        "bands": PARAMS["bands"],
        "time": [PARAMS["time"]],
        "transform": PARAMS["transform"],
        "crs": PARAMS["crs"],
        "progress": False,
    }


def as_dataarray(image: np.ndarray) -> xr.DataArray:
    """The image with coordinates that carry every piece of metadata ``to_rumi`` needs."""
    import pyproj

    a, _, c, _, e, f = PARAMS["transform"]
    _, length, width = image.shape
    wkt = pyproj.CRS.from_user_input(PARAMS["crs"]).to_wkt()
    return xr.DataArray(
        image,
        dims=("band", "y", "x"),
        coords={
            "band": PARAMS["bands"],
            "y": f + e * (np.arange(length) + 0.5),  # pixel centres
            "x": c + a * (np.arange(width) + 0.5),
            "time": np.datetime64(PARAMS["time"], "s"),
            "spatial_ref": ((), 0, {"crs_wkt": wkt, "spatial_ref": wkt}),
        },
        name="band_data",
    )


def ours_numpy(image: np.ndarray, path: Path, workers: int | None = None) -> bytes:
    """Ours: ``to_rumi`` of the NumPy array with the metadata as keywords; the blob."""
    return rumi_xarray.to_rumi(image, path, **write_kwargs(), max_workers=workers)


def ours_dataarray(da: xr.DataArray, path: Path) -> bytes:
    """Ours: ``to_rumi`` of the DataArray, metadata from its coordinates; the blob."""
    return rumi_xarray.to_rumi(da, path, tile=PARAMS["tile"], compression=PARAMS["recipe"],
                               progress=False)  # fmt: skip


# --------------------------------------------------------------------------- memory


def rss_bytes() -> int:
    """Current resident set size (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """Peak RSS: ``VmHWM`` of ``/proc/self/status``, else ``ru_maxrss``."""
    try:
        return rss("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_child(kind: str, image_path: str, out: str) -> None:
    """In a fresh process: the extra peak RSS and tracemalloc peak of one write."""
    image = np.load(image_path)  # fully in memory, like the timed writes
    obj: Any = image if kind == "numpy" else as_dataarray(image)

    def write(target: Any) -> None:
        if kind == "numpy":
            ours_numpy(target, Path(out))
        else:
            ours_dataarray(target, Path(out))

    # Warm-up on one tile: lazy imports, geozl graphs, the shared libraries' pages.
    write(obj[:, : PARAMS["tile"], : PARAMS["tile"]])
    reset = reset_peak_rss()
    rss_before = rss_bytes()
    write(obj)
    peak = peak_rss_bytes()
    rss_after = rss_bytes()

    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    write(obj)
    traced_peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    Path(out).unlink(missing_ok=True)
    print(json.dumps({
        "nbytes": image.nbytes,
        "reset": reset,
        "rss_before": rss_before,
        "peak": peak,
        "rss_after": rss_after,
        "traced_peak": traced_peak,
    }))  # fmt: skip


def measure_memory(kind: str, image_path: Path) -> dict[str, int]:
    """Run :func:`memory_child` for ``kind`` in a fresh process; its answer."""
    out = DATA / f"write-memory-{kind}-{os.getpid()}.rumi"
    proc = subprocess.run(
        [sys.executable, __file__, "--memory", kind, str(image_path), str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode:
        sys.exit(f"memory subprocess ({kind}) failed:\n{proc.stderr}")
    found: dict[str, int] = json.loads(proc.stdout.splitlines()[-1])
    return found


# --------------------------------------------------------------------------- timing

OURS_PATH, OURS_DA_PATH, OURS1_PATH = (
    DATA / f"write-{name}.rumi" for name in ("ours", "ours-dataarray", "ours-1")
)
EO_PATH, EO_HEADER = DATA / "write-rumi-eo.rumi", DATA / "write-rumi-eo.header"
OURS_HEADER = DATA / "write-ours.header"


@dataclass(frozen=True)
class Measured:
    """What the rounds of writes gave: the times, the blobs and files, rumi-eo's answers."""

    samples: dict[str, list[float]]
    """Seconds of every timed write, by contender."""
    first: float
    """Seconds of ours' first call in the process."""
    blob: bytes
    eo_blob: bytes
    ours_bytes: bytes
    eo_bytes: bytes
    da_same: bool
    """The DataArray input gave the same file and blob."""
    w1_same: bool
    """``max_workers=1`` gave the same file."""
    check: dict[str, Any]
    """rumi-eo's check of our file."""
    info: dict[str, Any]
    """rumi-eo's worker's first answer: versions, frames, threads."""

    @property
    def best(self) -> dict[str, float]:
        """The best time of each contender."""
        return {name: min(times) for name, times in self.samples.items()}


def time_writes(image: np.ndarray, image_path: Path, settings: Settings) -> Measured:
    """Warm-ups, then alternating rounds of every contender; rumi-eo checks our file."""
    da = as_dataarray(image)
    samples: dict[str, list[float]] = {}

    def add(name: str, times: list[float]) -> None:
        samples.setdefault(name, []).extend(times)

    config = {**PARAMS, "image": str(image_path), "path": str(EO_PATH),
              "header": str(EO_HEADER), "workers": WORKERS}  # fmt: skip
    with Worker("rumi-eo writer", oracle_argv("writer"), config, DATA, oracle_env()) as eo:
        # Warm-ups: lazy imports (pyproj, openzl), geozl graphs, the page cache.
        first = timed(lambda: ours_numpy(image, OURS_PATH), 1)[0]
        blob = ours_numpy(image, OURS_PATH)
        blob_da = ours_dataarray(da, OURS_DA_PATH)
        ours_numpy(image, OURS1_PATH, workers=1)

        n = settings.per_round
        for _ in range(settings.rounds):
            add("eo", eo.ask(f"write {n}"))
            add("eo_n", eo.ask(f"write_mt {n}"))
            add("ours", timed(lambda: ours_numpy(image, OURS_PATH), n))
            add("ours_da", timed(lambda: ours_dataarray(da, OURS_DA_PATH), n))
            add("ours1", timed(lambda: ours_numpy(image, OURS1_PATH, workers=1), n))

        OURS_HEADER.write_bytes(blob)
        check = eo.ask(f"check {OURS_PATH} {OURS_HEADER}")
    ours_bytes, eo_bytes = OURS_PATH.read_bytes(), EO_PATH.read_bytes()
    measured = Measured(
        samples, first, blob, EO_HEADER.read_bytes(), ours_bytes, eo_bytes,
        da_same=blob_da == blob and OURS_DA_PATH.read_bytes() == ours_bytes,
        w1_same=OURS1_PATH.read_bytes() == ours_bytes, check=check, info=eo.info,
    )  # fmt: skip
    for p in (OURS_PATH, OURS_DA_PATH, OURS1_PATH, EO_PATH, EO_HEADER, OURS_HEADER):
        p.unlink(missing_ok=True)
    return measured


# --------------------------------------------------------------------------- report


def print_setup(m: Measured, image: np.ndarray, settings: Settings, load_before: float) -> None:
    """Print what was written, by whom, how it was timed and the load around it."""
    input_mb, info = image.nbytes / 1e6, m.info
    print()
    print(f"rumi-xarray write benchmark{' (--quick)' if settings is QUICK else ''}")
    print(
        f"  image   {'x'.join(map(str, image.shape))} uint16 ({input_mb:.1f} MB) in memory, "
        f"tile {PARAMS['tile']}, {PARAMS['recipe']}, one band per frame ({info['frames']} frames)"
    )
    print(
        f"  files   ours {len(m.ours_bytes) / 1e6:.3f} MB, rumi-eo's "
        f"{len(m.eo_bytes) / 1e6:.3f} MB ({input_mb / (len(m.eo_bytes) / 1e6):.2f}x compression)"
    )
    print(
        f"  rumi-eo {info['version']} (geozl {info['geozl']}): frames + compress loop + write; "
        "no fsync"
    )
    print(
        f"  ours    rumi-xarray to_rumi (geozl {_geozl_version()}), default max_workers = "
        f"{WORKERS} (os.cpu_count()); temporary file + fsync + rename"
    )
    print(
        f"  timing  {settings.rounds} rounds x {settings.per_round} writes per contender after "
        f"warm-ups; warm page cache; ours' first call in the process took {m.first:.2f} s"
    )
    print(
        f"  load    1-min load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
        f"({WORKERS} CPUs; other processes skew every timing)"
    )
    print()


def print_times(m: Measured, input_mb: float) -> None:
    """Print the best and median time and the throughput of every contender."""
    rows = [
        ("rumi-eo write, 1 thread (its pipeline)", "eo"),
        (f"rumi-eo write, compress on {m.info['workers']} thr. (info)", "eo_n"),
        ("ours to_rumi(ndarray)", "ours"),
        ("ours to_rumi(DataArray with coords) (info)", "ours_da"),
        ("ours to_rumi(ndarray, max_workers=1) (info)", "ours1"),
    ]
    best = m.best
    print(f"  {'write':<46}{'best ms':>9}{'median ms':>11}{'MB/s':>7}")
    for label, name in rows:
        print(
            f"  {label:<46}{best[name] * 1e3:9.1f}"
            f"{statistics.median(m.samples[name]) * 1e3:11.1f}{input_mb / best[name]:7.0f}"
        )
    print()


def print_memory(memory: dict[str, dict[str, int]]) -> None:
    """Print the memory of one write of each input, in a fresh process."""
    mb = 1e6
    reset = all(m["reset"] for m in memory.values())
    peak_kind = "VmHWM reset before" if reset else "ru_maxrss: upper bound"
    print(f"  {'memory of one write (fresh process), MB':<46}{'ndarray':>9}{'DataArray':>11}")
    rows: list[tuple[str, Callable[[dict[str, int]], int]]] = [
        ("array nbytes", lambda m: m["nbytes"]),
        ("RSS just before the write (array loaded)", lambda m: m["rss_before"]),
        (f"peak RSS during the write ({peak_kind})", lambda m: m["peak"]),
        ("extra peak RSS = peak - RSS before", _extra_rss),
        ("RSS after the write", lambda m: m["rss_after"]),
        ("tracemalloc peak above the start", lambda m: m["traced_peak"]),
    ]
    for label, value in rows:
        print(
            f"  {label:<46}{value(memory['numpy']) / mb:9.1f}{value(memory['dataarray']) / mb:11.1f}"
        )
    print()


def print_checks(m: Measured) -> None:
    """Print rumi-eo's checks of our file and our own comparisons of the files."""
    check = m.check
    meta_ok = check.get("valid") and (
        check["bands"] == PARAMS["bands"]
        and check["time"] == [PARAMS["time"] + "+00:00"]
        and check["transform"] == PARAMS["transform"]
        and f"EPSG:{check['crs']}" == PARAMS["crs"]
        and check["pixel_is_point"] is False
    )
    valid = "OK" if check.get("valid") else f"REFUSED: {check.get('error')}"
    checks = [
        ("check: rumi.info(source=ours, header=blob) validates", valid),
        ("check: rumi.read(ours, blob) == the image, bit for bit", _ok(check.get("equal", False))),
        ("check: metadata rumi-eo reads == what we passed", _ok(bool(meta_ok))),
        ("check: our blob == the header rumi-eo's write returns", _ok(m.blob == m.eo_blob)),
        ("check: DataArray input gives the same file and blob", _ok(m.da_same)),
        ("check: max_workers=1 gives the same file", _ok(m.w1_same)),
        ("(info) our file == rumi-eo's, byte for byte",
         "yes" if m.ours_bytes == m.eo_bytes else "no"),
    ]  # fmt: skip
    for label, result in checks:
        print(f"  {label:<56}{result}")
    print()


def print_ratios(m: Measured, memory: dict[str, dict[str, int]]) -> None:
    """Print the ratios, with PASS/FAIL against their targets."""
    best, n_eo = m.best, m.info["workers"]
    nbytes = memory["numpy"]["nbytes"]
    size_ratio = len(m.ours_bytes) / len(m.eo_bytes)
    ratios = [
        ("write throughput, ours / rumi-eo", best["eo"] / best["ours"], ">=", TARGET_VS_RUMI),
        ("extra peak RSS / array nbytes", _extra_rss(memory["numpy"]) / nbytes, "<=", TARGET_MEMORY),
        ("tracemalloc peak / array nbytes", memory["numpy"]["traced_peak"] / nbytes, "<=", TARGET_MEMORY),
        ("file size, ours / rumi-eo", size_ratio, "~", TARGET_SIZE),
        (f"(info) throughput, ours / rumi-eo {n_eo} thr.", best["eo_n"] / best["ours"], "", None),
        ("(info) throughput, DataArray / rumi-eo", best["eo"] / best["ours_da"], "", None),
        ("(info) throughput, max_workers=1 / rumi-eo", best["eo"] / best["ours1"], "", None),
        ("(info) extra peak RSS / nbytes, DataArray", _extra_rss(memory["dataarray"]) / nbytes, "", None),
    ]  # fmt: skip
    print(f"  {'ratio (times: of the best)':<46}{'value':>7}   target")
    for label, value, op, target in ratios:
        if target is None:
            print(f"  {label:<46}{value:7.2f}")
            continue
        if op == "~":
            passed, shown = abs(value - 1) <= target, f"1 +- {target:<4g}"
        else:
            passed, shown = (
                (value >= target if op == ">=" else value <= target),
                f"{op} {target:<5}",
            )
        print(f"  {label:<46}{value:7.3f}   {shown} {'PASS' if passed else 'FAIL'}")


def main() -> None:
    """Time and check the writes, measure their memory, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--memory", nargs=3, help=argparse.SUPPRESS)  # the memory child
    args = parser.parse_args()
    if args.memory:
        memory_child(*args.memory)
        return
    settings = QUICK if args.quick else FULL
    started = time.perf_counter()
    load_before = os.getloadavg()[0]

    image_path, _, _ = dataset_files()
    image = np.load(image_path)
    measured = time_writes(image, image_path, settings)
    memory = {kind: measure_memory(kind, image_path) for kind in ("numpy", "dataarray")}

    print_setup(measured, image, settings, load_before)
    print_times(measured, image.nbytes / 1e6)
    print_memory(memory)
    print_checks(measured)
    print_ratios(measured, memory)
    print(f"\n  total {time.perf_counter() - started:.0f} s")


def _extra_rss(m: dict[str, int]) -> int:
    """Extra peak RSS of one write: the peak minus the RSS just before."""
    return m["peak"] - m["rss_before"]


def _geozl_version() -> str:
    """The version of the geozl we write with."""
    import geozl

    return geozl.__version__


def _ok(flag: bool) -> str:
    """``OK`` or ``MISMATCH``."""
    return "OK" if flag else "MISMATCH"


if __name__ == "__main__":
    main()
