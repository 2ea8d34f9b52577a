"""The benchmark suite: reads, chips, stacks, opens and import, against rumi-eo, GDAL, tifffile.

Run from the repository root::

    uv run python benchmarks/run.py                # full run, 6 to 8 minutes on 2 cores
    uv run python benchmarks/run.py --quick        # fewer rounds and chips, under 2 minutes
    uv run python benchmarks/run.py --write-docs   # also the table and plot in docs/

The data (``scene.py``, cached in ``benchmarks/_data/``): a Sentinel-2-like 12-band
2048x2048 uint16 scene as rumi (tile 512, one band per frame, ``planar>zigzag>zstd``) and
as a GeoTIFF of the same pixels (tiled 512, one band per tile, ZSTD, predictor 2); 64
stack files of 4 x 512x512; 1,000 small files of 2 x 64x64 (rumi and GeoTIFF).

Every contender at every thread count is its own persistent worker process, set up
through its environment before it starts (``contenders.py``; rumi-eo's ``_oracle.py`` in
its own isolated environment), warmed up, then asked for one measurement at a time
(``protocol.py``) in alternating rounds: each round visits the thread counts and, within
a measurement, the contenders in a rotated order, so load from other processes hits them
all alike. Measured, with a warm page cache:

1. full reads: ours (``xr.open_dataset(path, engine="rumi").band_data.values``, frame
   cache off) vs rumi-eo ``rumi.read``, GDAL (rasterio ``open`` + ``read()``,
   ``GDAL_NUM_THREADS``), tifffile (``imread(maxworkers=)``) and raw geozl decode of
   every frame (bytes in memory) copied into one preallocated image;
2. cold chips (frame cache off, GDAL ``GDAL_CACHEMAX=0``): one pass over the same random
   256x256x12, 64x64x12 and 256x256x1 chips, ours ``.isel`` on an open dataset vs
   rumi-eo ``read(window=, bands=)`` vs GDAL ``read(window=)`` on an open dataset;
3. warm chips (our frame cache on at its default size, GDAL ``GDAL_CACHEMAX`` large and
   the dataset kept open): the same chips read twice, the second pass timed;
4. stacks: ``open_stack(paths, headers=blobs).band_data.values`` (frame cache off) vs
   rumi-eo ``read_many(paths, headers)``;
5. opens over 1,000 small files, with and without ``header=``, vs ``rasterio.open``; and
   ``import rumi_xarray`` in a fresh interpreter.

Every contender's results are checked bit for bit against the source arrays (whole
arrays: one full read, every chip of every set, one stack). The results go to
``benchmarks/results/*.json``; ``report.py`` prints them as a table with min, median and
ratios against targets, and plots them. The exit code is 0 unless a check fails.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import report
import scene
from protocol import Worker, oracle_argv, oracle_env


@dataclass(frozen=True)
class Settings:
    rounds: int
    """Rounds of full reads, chips and stacks; each visits every thread count."""
    full: int
    """Full reads per contender per round."""
    chips: int
    """Chips per set (one pass per contender per round)."""
    stack: int
    """Stack reads per contender per round."""
    open_rounds: int
    imports: int
    """Fresh interpreters per kind for the import time."""


FULL = Settings(rounds=5, full=2, chips=200, stack=2, open_rounds=3, imports=20)
QUICK = Settings(rounds=2, full=1, chips=50, stack=1, open_rounds=1, imports=5)

GDAL_CACHE_ON = "4096"  # MB: every block of the scene fits
BUSY = 0.3  # cores kept busy by others just before the run: above this, a warning
EXE = [sys.executable, str(scene.HERE / "contenders.py")]


@dataclass(frozen=True)
class Spec:
    """One worker per thread count: its contender, label, cache setting and requests."""

    name: str
    kind: str
    label: str
    cache: bool | None
    ops: tuple[str, ...]


SPECS = (
    Spec("ours", "ours", "ours", False, ("full", "chips", "stack", "opens")),
    Spec("ours-cached", "ours", "ours", True, ("warm",)),
    Spec("array", "ours_array", "ours, open_array", False, ("chips", "opens")),
    Spec("array-cached", "ours_array", "ours, open_array", True, ("warm",)),
    Spec("rumi-eo", "eo", "rumi-eo", None, ("full", "chips", "stack")),
    Spec("gdal", "gdal", "GDAL", False, ("chips", "opens")),
    Spec("gdal-cached", "gdal", "GDAL", True, ("full", "warm")),
    Spec("tifffile", "tifffile", "tifffile", None, ("full",)),
    Spec("raw", "raw", "raw decode + copy", None, ("full",)),
    Spec("xarray-floor", "xarray_floor", "xarray .isel floor", None, ("warm",)),
)


def environment(spec: Spec, threads: int) -> dict[str, str]:
    """The worker's environment: thread counts and caches, read once at their first use."""
    env = dict(os.environ)
    for name in ("RUMI_XARRAY_FRAME_CACHE", "GDAL_CACHEMAX", "RUMI_NUM_THREADS"):
        env.pop(name, None)
    if spec.kind.startswith("ours"):
        env.update(RUMI_XARRAY_THREADS=str(threads), DASK_NUM_WORKERS=str(threads))
        if not spec.cache:
            env["RUMI_XARRAY_FRAME_CACHE"] = "0"
    elif spec.kind == "gdal":
        env.update(GDAL_NUM_THREADS=str(threads),
                   GDAL_CACHEMAX=GDAL_CACHE_ON if spec.cache else "0")  # fmt: skip
    elif spec.kind == "eo":
        return oracle_env({"RUMI_NUM_THREADS": str(threads)})
    return env


def start(config: dict[str, Any], threads: list[int]) -> dict[tuple[str, int], Worker]:
    """Every worker, started at once; each warms up before its first answer."""
    workers = {}
    for t in threads:
        for spec in SPECS:
            argv = oracle_argv("reader") if spec.kind == "eo" else [*EXE, spec.kind]
            cfg = {**config, "threads": t, "ops": list(spec.ops)}
            name = f"{spec.name}-{t}"
            workers[spec.name, t] = Worker(name, argv, cfg, scene.DATA, environment(spec, t))
    for worker in workers.values():
        _ = worker.info  # wait for the warm-ups
    return workers


def rotated(items: list[Any], r: int) -> list[Any]:
    k = r % len(items)
    return items[k:] + items[:k]


def jobs(settings: Settings) -> list[tuple[str, str, str, str]]:
    """One round's measurements at one thread count: (measure, case, worker, request)."""
    out = []
    full = ["ours", "rumi-eo", "gdal-cached", "tifffile", "raw"]
    out += [("full", "", w, f"full {settings.full}") for w in full]
    for case in scene.CHIP_SETS:
        cold = ("ours", "array", "rumi-eo", "gdal")
        out += [("chips_cold", case, w, f"chips {case}") for w in cold]
        warm = ("ours-cached", "array-cached", "gdal-cached", "xarray-floor")
        out += [("chips_warm", case, w, f"warm {case}") for w in warm]
    out += [("stack", "", w, f"stack {settings.stack}") for w in ("ours", "rumi-eo")]
    return out


class Samples:
    """Seconds by (measure, case, contender label, threads)."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str, str, int], list[float]] = {}

    def add(self, key: tuple[str, str, str, int], value: float | list[float]) -> None:
        self.data.setdefault(key, []).extend(value if isinstance(value, list) else [value])

    def records(self) -> list[dict[str, Any]]:
        return [{"measure": m, "case": c, "contender": who, "threads": t, "seconds": s}
                for (m, c, who, t), s in self.data.items()]  # fmt: skip


def _progress(started: float, what: str) -> None:
    print(f"  {time.perf_counter() - started:5.0f} s  {what}", file=sys.stderr)


def measure(workers: dict[tuple[str, int], Worker], settings: Settings, threads: list[int],
            samples: Samples, started: float) -> None:  # fmt: skip
    """Alternating rounds: thread counts in turn, contenders of a measurement in turn."""
    labels = {spec.name: spec.label for spec in SPECS}
    round_jobs = jobs(settings)
    for r in range(settings.rounds):
        for t in rotated(threads, r):
            groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
            for m, case, w, request in round_jobs:
                groups.setdefault((m, case), []).append((w, request))
            for (m, case), group in groups.items():
                for w, request in rotated(group, r):
                    samples.add((m, case, labels[w], t), workers[w, t].ask(request))
        _progress(started, f"round {r + 1}/{settings.rounds}")
    t = min(threads)
    opens = [("no header", "ours", "opens paths"), ("header=", "ours", "opens header"),
             ("xarray floor", "ours", "opens floor"), ("no header", "array", "opens paths"),
             ("header=", "array", "opens header"), ("", "gdal", "opens tif")]  # fmt: skip
    for r in range(settings.open_rounds):
        for case, w, request in rotated(opens, r):
            samples.add(("opens", case, labels[w], t), workers[w, t].ask(request))
    _progress(started, "opens")


def import_times(n: int, threads: int, samples: Samples) -> None:
    """``import rumi_xarray`` in fresh interpreters: timed inside, and wall clock vs a bare one.

    With the bytecode an installed package has (pip and uv compile on install): a first
    import writes it even where ``PYTHONDONTWRITEBYTECODE`` is set.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", "import rumi_xarray"], check=True, env=env)
    inside = "from time import perf_counter as c; t = c(); import rumi_xarray; print(c() - t)"
    walls = (("bare interpreter (wall)", "pass"), ("with import (wall)", "import rumi_xarray"))
    for _ in range(n):
        for case, code in walls:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=env)
            samples.add(("import", case, "ours", threads), time.perf_counter() - t0)
        out = subprocess.run([sys.executable, "-c", inside], capture_output=True, text=True,
                             check=True, env=env).stdout  # fmt: skip
        samples.add(("import", "import rumi_xarray", "ours", threads), float(out))


def checks(workers: dict[tuple[str, int], Worker]) -> list[dict[str, Any]]:
    """Every worker's results, bit for bit against the sources (untimed, all workers at once)."""
    ops = {spec.name: spec.ops for spec in SPECS}
    asked = []
    for (name, t), worker in workers.items():
        whats = [op for op in ops[name] if op in ("full", "stack")]
        if {"chips", "warm"} & set(ops[name]):
            whats += list(scene.CHIP_SETS)
        for what in whats:
            worker.send(f"check {what}")
            asked.append((name, t, what, worker))
    return [{"worker": name, "threads": t, "what": what, "ok": bool(worker.receive())}
            for name, t, what, worker in asked]  # fmt: skip


def busy_cores(seconds: float = 1.0) -> float | None:
    """How many cores were busy (``/proc/stat``) over ``seconds``; None where unknown."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
        return sum(ticks), ticks[3] + ticks[4]  # all, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    cores = os.cpu_count() or 1
    return cores * (1 - (idle1 - idle0) / max(total1 - total0, 1))


def warnings(threads: list[int], busy: float | None) -> list[str]:
    """Warnings (also on stderr): fewer cores than threads requested, ``busy`` cores before."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    want = max(threads)
    out = []
    if cores is None or cores < want:
        out.append(f"only {cores} core(s) available (os.sched_getaffinity / os.cpu_count) for "
                   f"{want} threads: the {want}-thread figures measure oversubscription")  # fmt: skip
    if busy is not None and busy > BUSY:
        out.append(f"other processes kept {busy:.1f} core(s) busy in the second before the run: "
                   "they compete for the cores, the multi-threaded figures most")  # fmt: skip
    for message in out:
        print(f"warning: {message}", file=sys.stderr)
    return out


def prepare(chips: int) -> dict[str, Any]:
    """The data (made once, cached) and the workers' shared configuration."""
    image, path, header = scene.dataset_files()
    stack = scene.many_files(image, "stack")
    return {
        "image": str(image), "path": str(path), "header": str(header),
        "tif": str(scene.geotiff(image)), "shape": scene.PARAMS["shape"],
        "tile": scene.PARAMS["tile"], "chips": scene.chip_sets(chips), "stack": stack,
        "stack_image": stack["source"], "small": scene.many_files(image, "small"),
    }  # fmt: skip


def machine(threads: list[int], busy: float | None) -> dict[str, Any]:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"cpu_count": os.cpu_count(), "affinity": affinity, "threads": threads,
            "platform": platform.platform(), "python": platform.python_version(),
            "busy_before": busy, "load_before": os.getloadavg()[0]}  # fmt: skip


def run(settings: Settings, threads: list[int], quick: bool) -> dict[str, Any]:
    """The whole suite; its results as ``report.py`` reads them."""
    started = time.perf_counter()
    busy = busy_cores()
    results: dict[str, Any] = {"suite": "rumi-xarray benchmarks", "quick": quick,
                               "settings": asdict(settings), "machine": machine(threads, busy),
                               "warnings": warnings(threads, busy)}  # fmt: skip
    config = prepare(settings.chips)
    source = np.load(config["image"], mmap_mode="r")
    results["data"] = {
        "shape": list(source.shape), "dtype": str(source.dtype), "nbytes": source.nbytes,
        "rumi_bytes": Path(config["path"]).stat().st_size,
        "tif_bytes": Path(config["tif"]).stat().st_size, "chips": settings.chips,
        "stack_files": len(config["stack"]["rumi"]), "small_files": len(config["small"]["rumi"]),
    }  # fmt: skip
    samples = Samples()
    print(f"starting {len(SPECS) * len(threads)} workers (warm-ups)", file=sys.stderr)
    workers = start(config, threads)
    try:
        results["workers"] = {f"{n}-{t}": w.info for (n, t), w in workers.items()}
        _progress(started, "workers ready")
        measure(workers, settings, threads, samples, started)
        results["checks"] = checks(workers)
        _progress(started, "checks done")
    finally:
        for worker in workers.values():
            worker.close()
    import_times(settings.imports, min(threads), samples)
    results["samples"] = samples.records()
    results["machine"]["load_after"] = os.getloadavg()[0]
    results["when"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    results["elapsed"] = time.perf_counter() - started
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and chips")
    parser.add_argument("--threads", default="1,2", help="thread counts (default: 1,2)")
    parser.add_argument("--out", type=Path, help="default: results/full.json or quick.json")
    parser.add_argument("--write-docs", action="store_true",
                        help="also write the table and plot into docs/benchmarks.md")  # fmt: skip
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    threads = [int(t) for t in args.threads.split(",")]
    results = run(settings, threads, args.quick)
    out = args.out or report.RESULTS / f"{'quick' if args.quick else 'full'}.json"
    report.save(results, out)
    return report.publish(results, out, write_docs=args.write_docs)


if __name__ == "__main__":
    sys.exit(main())
