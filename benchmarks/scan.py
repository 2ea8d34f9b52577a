"""Catalog scan benchmark: files/s of ``catalog(...)`` on local threads vs a 2-process LocalCluster.

Run from the repository root::

    uv run python benchmarks/scan.py                  # 2,000 local files
    uv run python benchmarks/scan.py --files 500      # a quick look
    uv run python benchmarks/scan.py --latency 20   # also over HTTP, 20 ms a request
    uv run python benchmarks/scan.py --url http://127.0.0.1:8000/  # also from a server of yours

The files are those of ``benchmarks/mosaic.py`` (cached in ``benchmarks/_data/mosaic/``,
written on the first run): small 2-band uint16 scenes, tile 64, one band per frame.
Each round scans every file into a catalog table with ``catalog(paths, client=False)``
(local files: read in the calling thread; URLs: in ``--threads`` threads) and with
``catalog(paths, client=client)`` on a ``LocalCluster(n_workers=2, threads_per_worker=1,
processes=True)`` started beforehand (its start-up time is reported apart), in
alternating rounds; the table reports best and median files/s and the cluster's ratio
to the threads. Both tables must be equal (exit code 1 otherwise).

``--latency MS`` also scans the same files over HTTP, served by
:func:`rumi_xarray.testing.serve` on 127.0.0.1 with that latency per request (to see
what the cluster buys when reads wait on the network); ``--url BASE`` from a server
of yours instead, each file ``<folder>/<name>`` as ``BASE/<name>``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from mosaic_files import ensure_files, grid_for  # noqa: E402  (a sibling script)


def measure(
    sources: list[str], client: Any, rounds: int, threads: int | None
) -> tuple[dict[str, list[float]], bool]:
    """Seconds of each round, per mode, and whether both modes gave the same table."""
    from rumi_xarray.virtual.catalog import catalog

    def scan(where: Any) -> Any:
        return catalog(sources, client=where, max_workers=threads, progress=False)

    times: dict[str, list[float]] = {"threads": [], "cluster": []}
    tables: dict[str, Any] = {}
    for _ in range(rounds):  # alternating, so load from elsewhere falls on both
        for mode, where in (("threads", False), ("cluster", client)):
            gc.collect()
            t0 = time.perf_counter()
            tables[mode] = scan(where)
            times[mode].append(time.perf_counter() - t0)
    return times, tables["threads"].equals(tables["cluster"])


def report(what: str, n: int, times: dict[str, list[float]], same: bool) -> None:
    """One line per mode: best and median files/s; then the cluster's ratio."""
    best = {mode: min(t) for mode, t in times.items()}
    for mode, t in times.items():
        print(
            f"  {what:<6} {mode:<8} {n / best[mode]:>9,.0f} files/s best"
            f" {n / statistics.median(t):>9,.0f} median  ({len(t)} rounds)"
        )
    ratio = best["threads"] / best["cluster"]
    print(f"  {what:<6} cluster / threads: {ratio:.2f}x; tables equal: {same}\n", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2_000, help="about how many files")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per mode (%(default)s)")
    parser.add_argument(
        "--threads", type=int, help="threads reading URLs (default: the remote concurrency, 32)"
    )
    parser.add_argument("--url", help="also scan the files served under this base URL")
    parser.add_argument(
        "--latency", type=float, help="also scan them over HTTP from a local server (ms/request)"
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes writing the files"
    )
    args = parser.parse_args(argv)

    folder, paths = ensure_files(*grid_for(args.files), args.workers)
    local = [str(p) for p in paths]
    for p in paths:  # a warm page cache for both modes
        p.read_bytes()
    print(f"{len(local):,} files in {folder}; {os.cpu_count()} CPUs\n", flush=True)

    from distributed import Client, LocalCluster

    from rumi_xarray.virtual.catalog import catalog

    catalog(local[:16], client=False, progress=False)  # imports, before timing
    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,  # no heartbeat tracebacks while it shuts down
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(catalog, local[:16], client=False, progress=False)  # the workers' imports
        print(f"  LocalCluster(2 processes) up and warm in {time.perf_counter() - t0:.2f} s\n")
        failed = not run_case("local", local, client, args)
        if args.url:
            base = args.url.rstrip("/")
            urls = [f"{base}/{p.relative_to(folder).as_posix()}" for p in paths]
            failed |= not run_case("http", urls, client, args)
        if args.latency is not None:
            names = [p.relative_to(folder).as_posix() for p in paths]
            with served(folder, args.latency / 1e3) as base:
                urls = [f"{base}/{name}" for name in names]
                failed |= not run_case(f"http, {args.latency:g} ms", urls, client, args)
    return 1 if failed else 0


@contextlib.contextmanager
def served(folder: Path, latency: float) -> Iterator[str]:
    """``folder`` served by :func:`rumi_xarray.testing.serve` in a process of its own
    (not competing for the scanning process's GIL); yields the base URL."""
    ctx = multiprocessing.get_context("spawn")
    urls, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(str(folder), latency, urls, stop), daemon=True)
    server.start()
    try:
        yield urls.get(timeout=60).rstrip("/")
    finally:
        stop.set()
        server.join(10)


def _serve(folder: str, latency: float, urls: Any, stop: Any) -> None:
    from rumi_xarray.testing import serve

    with serve(folder, latency=latency) as server:
        urls.put(server.url(""))
        stop.wait()


def run_case(what: str, sources: list[str], client: Any, args: argparse.Namespace) -> bool:
    """Measure and report one case; whether both modes gave the same table."""
    times, same = measure(sources, client, args.rounds, args.threads)
    report(what, len(sources), times, same)
    return same


if __name__ == "__main__":
    sys.exit(main())
