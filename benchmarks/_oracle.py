"""The rumi-eo side of ``benchmarks/read.py``: runs ONLY in rumi-eo's own isolated env.

rumi-eo is GPL and pins older geozl/openzl, so it is never imported into the project's
environment. ``read.py`` runs this file as a subprocess::

    uv run --isolated --no-project --with rumi-eo==0.26.1 --with numpy \\
        python benchmarks/_oracle.py write|serve CONFIG.json

and reads JSON lines from its standard output.

``write``: split the ``.npy`` image into frames, compress each with geozl, write the file
and its header blob. ``serve``: save the full array and a few chips for the bit-for-bit
check, then time full reads and window reads on request, so that ``read.py`` can
alternate them with its own measurements (fair on a machine with other load).
``writer`` (for ``write.py``): time rumi-eo's whole write pipeline on request, and
validate a file written by rumi-xarray.
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


def serve(cfg: dict[str, Any]) -> None:
    """Warm up, save the arrays to check, then time reads on request (one JSON line each).

    Requests on standard input, one per line: ``full N`` (N full reads: their seconds),
    ``chips`` (one pass over every chip: mean seconds per chip), ``quit``.
    """
    if cfg["threads"]:
        rumi.set_num_threads(cfg["threads"])
    path = cfg["path"]
    with open(cfg["header"], "rb") as f:
        header = f.read()
    size = cfg["chip"]
    chips = [tuple(c) for c in cfg["chips"]]

    full = rumi.read(path, header)  # warm-up: page cache, thread pool, decoders
    if cfg.get("full_out"):
        np.save(cfg["full_out"], full)
    kept = {}
    for i, (y, x) in enumerate(chips[: cfg["warmup_chips"]]):
        chip = rumi.read(path, header, window=(y, x, size, size))
        if i < cfg["check_chips"]:
            kept[f"chip{i}"] = chip
    if cfg.get("chips_out"):
        np.savez(cfg["chips_out"], **kept)
    _answer(
        {
            "version": version("rumi-eo"),
            "geozl": version("geozl"),
            "threads": rumi.get_num_threads(),
            "verify": rumi.get_checksum_verification(),
            "shape": list(full.shape),
        }
    )
    del full

    for line in sys.stdin:
        request, *arg = line.split()
        if request == "full":
            times = []
            for _ in range(int(arg[0])):
                t0 = time.perf_counter()
                rumi.read(path, header)
                times.append(time.perf_counter() - t0)
            _answer(times)
        elif request == "chips":
            t0 = time.perf_counter()
            for y, x in chips:
                rumi.read(path, header, window=(y, x, size, size))
            _answer((time.perf_counter() - t0) / len(chips))
        else:
            break


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
        serve(cfg)


if __name__ == "__main__":
    main()
