"""Codec benchmark: ``rumi.openzl`` against zarr's built-in ``zstd`` on a Zarr v3 array.

Run from the repository root::

    uv run python benchmarks/codec.py              # 6 bands x 2048 x 2048 uint16, ~30 s
    uv run python benchmarks/codec.py --size 1024  # quicker

The raster is ``rumi_xarray.demo.sample.synthetic_scene`` (deterministic, Sentinel-2-like
uint16 reflectances). Each contender writes it to a fresh Zarr v3 array in a temporary
directory with ``(1, 512, 512)`` chunks (one band per chunk), then reads it whole and
checks it bit for bit. Write and read are each timed 3 times and the best is kept;
throughput is MB/s of uncompressed data (10**6 bytes). "compressed" is the sum of the
chunk files. Not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import zarr
from zarr.codecs import ZstdCodec

from rumi_codec.zarr_ import OpenZLCodec
from rumi_xarray.demo.sample import synthetic_scene

if TYPE_CHECKING:
    from zarr.abc.codec import BytesBytesCodec

CHUNKS = (1, 512, 512)
ROUNDS = 3
CONTENDERS: dict[str, BytesBytesCodec] = {
    "rumi.openzl (planar>zigzag>zstd)": OpenZLCodec(),
    "rumi.openzl graph=zstd": OpenZLCodec(recipe=None, graph="zstd"),
    "zstd level 3": ZstdCodec(level=3),
    "zstd zarr default (level 0)": ZstdCodec(),
}


def write(path: Path, data: np.ndarray, codec: BytesBytesCodec) -> float:
    """Write ``data`` to a new array at ``path``; return the seconds taken."""
    shutil.rmtree(path, ignore_errors=True)
    start = time.perf_counter()
    array = zarr.create_array(
        path, shape=data.shape, chunks=CHUNKS, dtype=data.dtype, compressors=[codec]
    )
    array[...] = data
    return time.perf_counter() - start


def read(path: Path, data: np.ndarray) -> float:
    """Read the whole array at ``path``, check it, and return the seconds taken."""
    start = time.perf_counter()
    again = zarr.open_array(path, mode="r")[...]
    seconds = time.perf_counter() - start
    if not np.array_equal(again, data):
        raise AssertionError(f"{path} does not read back bit for bit")
    return seconds


def chunk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in (path / "c").rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="image height and width")
    size = parser.parse_args().size
    data = synthetic_scene(size, size).values
    megabytes = data.nbytes / 1e6
    print(
        f"{data.shape} {data.dtype} ({megabytes:.1f} MB), chunks {CHUNKS}, best of {ROUNDS};"
        f" {platform.machine()}, {os.cpu_count()} CPUs, zarr {zarr.__version__}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, codec in CONTENDERS.items():
            path = Path(tmp) / "array.zarr"
            write_s = min(write(path, data, codec) for _ in range(ROUNDS))
            read_s = min(read(path, data) for _ in range(ROUNDS))
            rows.append((name, chunk_bytes(path), write_s, read_s))
    zstd = dict((name, stored) for name, stored, *_ in rows)["zstd level 3"]
    print(
        "| codec | compressed bytes | ratio | write MB/s | read MB/s | size / zstd level 3 |\n"
        "|---|---:|---:|---:|---:|---:|"
    )
    for name, stored, write_s, read_s in rows:
        print(
            f"| {name} | {stored:,} | {data.nbytes / stored:.2f} | {megabytes / write_s:.0f}"
            f" | {megabytes / read_s:.0f} | {stored / zstd:.3f} |"
        )


if __name__ == "__main__":
    main()
