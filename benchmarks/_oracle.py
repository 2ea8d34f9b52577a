"""The rumi-eo side of the benchmarks: runs ONLY in rumi-eo's own isolated environment.

rumi-eo is GPL and pins older geozl/openzl, so it is never imported into the project's
environment. The benchmarks run this file as a subprocess (``protocol.oracle_argv``)::

    uv run --isolated --no-project --with rumi-eo==0.26.1 --with numpy \\
        python benchmarks/_oracle.py write|reader|writer CONFIG.json

and read JSON lines from its standard output. It imports only ``protocol`` (standard
library and NumPy) from beside it.

``write``: split the ``.npy`` image into frames, compress each with geozl, write the file
and its header blob. ``reader`` (for ``run.py``): rumi-eo's full reads, window reads and
``read_many`` as one of the suite's workers, timed here on request (``protocol.serve``),
so that the driver alternates them with the other contenders' (fair on a machine with
other load). ``writer`` (for ``write.py``): time rumi-eo's whole write pipeline on
request, and validate a file written by rumi-xarray.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import Any

import geozl
import numpy as np
import rumi
from protocol import Chip, serve


def write(cfg: dict[str, Any]) -> dict[str, Any]:
    image = np.load(cfg["image"])
    table = rumi.frames(image, cfg["pattern"], cfg["tile"])
    for frame in table:
        tile = frame.data
        frame.compressed = geozl.compress(tile, graph=geozl.graph(tile, cfg["recipe"]))
    tmp = cfg["path"] + ".tmp"
    _, header = rumi.write(
        tmp,
        table,
        bands=cfg["bands"],
        time=[cfg["time"]],
        transform=tuple(cfg["transform"]),
        crs=cfg["crs"],
    )
    with open(cfg["header"], "wb") as f:
        f.write(header)
    os.replace(tmp, cfg["path"])  # last, so a present file means a complete pair
    return {"frames": len(table), "file_bytes": os.path.getsize(cfg["path"])}


class Eo:
    """rumi-eo's reads at ``cfg["threads"]`` threads, with the files' header blobs."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        rumi.set_num_threads(cfg["threads"])
        self.path, self.header = cfg["path"], _read(cfg["header"])
        self.stack_paths = cfg["stack"]["rumi"]
        self.stack_headers = [_read(p) for p in cfg["stack"]["header"]]

    def full(self) -> np.ndarray:
        return rumi.read(self.path, self.header)

    def chip(self, chip: Chip) -> np.ndarray:
        y, x, size, b0, b1 = chip
        return rumi.read(self.path, self.header, window=(y, x, size, size), bands=(b0, b1))

    def stack(self) -> np.ndarray:
        return rumi.read_many(self.stack_paths, self.stack_headers)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def reader(cfg: dict[str, Any]) -> None:
    """rumi-eo as one of the suite's workers (``protocol.serve``)."""
    eo = Eo(cfg)
    info = {
        "contender": "rumi-eo",
        "version": version("rumi-eo"),
        "geozl": version("geozl"),
        "threads": rumi.get_num_threads(),
        "verify": rumi.get_checksum_verification(),
    }
    serve(eo, cfg, info)


def _eo_write(image: np.ndarray, cfg: dict[str, Any], pool: ThreadPoolExecutor | None) -> bytes:
    """rumi-eo's write of an in-memory image: frames, compress every frame, write; the header.

    With ``pool``, the frames are compressed on its threads (geozl releases the GIL).
    """
    recipe = cfg["recipe"]

    def compress(frame: Any) -> bytes:
        a = np.ascontiguousarray(frame.data)
        return geozl.compress(a, graph=geozl.graph(a, recipe))

    table = rumi.frames(image, cfg["pattern"], cfg["tile"])
    if pool is None:
        for frame in table:
            frame.compressed = compress(frame)
    else:
        for frame, data in zip(table, pool.map(compress, table), strict=True):
            frame.compressed = data
    _, header = rumi.write(
        cfg["path"],
        table,
        bands=cfg["bands"],
        time=[cfg["time"]],
        transform=tuple(cfg["transform"]),
        crs=cfg["crs"],
    )
    return header


def serve_write(cfg: dict[str, Any]) -> None:
    """Warm up, then time rumi-eo's write and check rumi-xarray's files, on request.

    Requests on standard input, one per line (one JSON line answers each):
    ``write N`` (N single-threaded writes: their seconds), ``write_mt N`` (the same with
    a pool of ``cfg["workers"]`` threads compressing), ``check PATH HEADER_PATH`` (is that
    file valid for rumi-eo, with that header, and does it read back as the image?),
    ``quit``.
    """
    image = np.load(cfg["image"])  # in memory, as rumi-xarray's side has it
    with ThreadPoolExecutor(cfg["workers"]) as pool:
        header = _eo_write(image, cfg, None)  # warm-ups: page cache, geozl, the pool
        _eo_write(image, cfg, pool)
        with open(cfg["header"], "wb") as f:
            f.write(header)
        _answer(
            {
                "version": version("rumi-eo"),
                "geozl": version("geozl"),
                "workers": cfg["workers"],
                "frames": rumi.info(header=header).frames,
                "file_bytes": os.path.getsize(cfg["path"]),
            }
        )
        for line in sys.stdin:
            request, *args = line.split()
            if request in ("write", "write_mt"):
                use = pool if request == "write_mt" else None
                times = []
                for _ in range(int(args[0])):
                    t0 = time.perf_counter()
                    _eo_write(image, cfg, use)
                    times.append(time.perf_counter() - t0)
                _answer(times)
            elif request == "check":
                _answer(_check(args[0], args[1], image))
            else:
                break


def _check(path: str, header_path: str, image: np.ndarray) -> dict[str, Any]:
    """rumi-eo's view of a file: valid with its header blob, equal to ``image``, metadata."""
    with open(header_path, "rb") as f:
        header = f.read()
    try:
        meta = rumi.info(source=path, header=header)
        read = rumi.read(path, header)
    except Exception as exc:  # report any refusal, as text
        return {"valid": False, "error": f"{type(exc).__name__}: {exc}"}
    return {
        "valid": True,
        "equal": read.dtype == image.dtype and bool(np.array_equal(read, image)),
        "shape": list(read.shape),
        "bands": list(meta.bands),
        "time": [t.isoformat() for t in meta.time],
        "transform": list(meta.transform),
        "crs": meta.crs,
        "pixel_is_point": meta.pixel_is_point,
    }


def _answer(value: object) -> None:
    print(json.dumps(value), flush=True)


def main() -> None:
    command, config = sys.argv[1], sys.argv[2]
    with open(config) as f:
        cfg = json.load(f)
    if command == "write":
        _answer(write(cfg))
    elif command == "writer":
        serve_write(cfg)
    else:
        reader(cfg)


if __name__ == "__main__":
    main()
