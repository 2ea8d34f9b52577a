"""The rumi-eo side of ``benchmarks/read.py``: runs ONLY in rumi-eo's own isolated env.

rumi-eo is GPL and pins older geozl/openzl, so it is never imported into the project's
environment. ``read.py`` runs this file as a subprocess::

    uv run --isolated --no-project --with rumi-eo==0.26.1 --with numpy \\
        python benchmarks/_oracle.py write|read CONFIG.json

and reads one line of JSON from its standard output.

``write``: split the ``.npy`` image into frames, compress each with geozl, write the file
and its header blob. ``read``: time full reads and window reads, save the full array and a
few chips for the bit-for-bit check.
"""

from __future__ import annotations

import json
import os
import sys
import time
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


def read(cfg: dict[str, Any]) -> dict[str, Any]:
    if cfg["threads"]:
        rumi.set_num_threads(cfg["threads"])
    path = cfg["path"]
    with open(cfg["header"], "rb") as f:
        header = f.read()
    size = cfg["chip"]
    chips = [tuple(c) for c in cfg["chips"]]

    full = rumi.read(path, header)  # warm-up (page cache, thread pool, contexts)
    np.save(cfg["full_out"], full)
    full_times = []
    for _ in range(cfg["repeats"]):
        t0 = time.perf_counter()
        rumi.read(path, header)
        full_times.append(time.perf_counter() - t0)

    kept = {}
    for i, (y, x) in enumerate(chips[: cfg["warmup_chips"]]):
        chip = rumi.read(path, header, window=(y, x, size, size))
        if i < cfg["check_chips"]:
            kept[f"chip{i}"] = chip
    np.savez(cfg["chips_out"], **kept)
    chip_means = []
    for _ in range(cfg["chip_repeats"]):
        t0 = time.perf_counter()
        for y, x in chips:
            rumi.read(path, header, window=(y, x, size, size))
        chip_means.append((time.perf_counter() - t0) / len(chips))

    return {
        "version": version("rumi-eo"),
        "geozl": version("geozl"),
        "threads": rumi.get_num_threads(),
        "verify": rumi.get_checksum_verification(),
        "shape": list(full.shape),
        "full_s": full_times,
        "chip_s": chip_means,
    }


def main() -> None:
    command, config = sys.argv[1], sys.argv[2]
    with open(config) as f:
        cfg = json.load(f)
    result = {"write": write, "read": read}[command](cfg)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
